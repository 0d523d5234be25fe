//! Signed documents (issue #15's compliance report, issue #16's export manifest and deletion
//! certificate): a JSON value signed with the deployment's Ed25519 document key for one purpose,
//! written as `{<field>: value, "signature": {purpose, key, sha256, ed25519}}`, pretty-printed
//! with sorted keys and a final newline. Opening one requires the file byte for byte as written
//! (so a changed byte anywhere fails, blank space included), exactly these keys, the purpose,
//! the hash of the value's canonical (compact) JSON and a valid signature by the expected key.

use base64::Engine as _;
use trygg_audit::VerifyingKey;

use crate::error::AppError;
use crate::App;

/// The canonical bytes of a value: compact JSON with sorted keys (serde_json's map is sorted).
pub fn canonical(v: &serde_json::Value) -> Result<Vec<u8>, AppError> {
    serde_json::to_vec(v).map_err(|e| AppError::internal("TR-F790", e))
}

/// A value signed for `purpose` under `field`: the file's text and the value's SHA-256.
pub fn seal(
    state: &App,
    purpose: &str,
    field: &str,
    value: serde_json::Value,
) -> Result<(String, String), AppError> {
    let bytes = canonical(&value)?;
    let sha256 = trygg_store::crypto::sha256_hex(&bytes);
    let (key, sig) = state.store.sign_document(purpose, &bytes)?;
    let mut envelope = serde_json::Map::new();
    envelope.insert(field.to_owned(), value);
    envelope.insert(
        "signature".to_owned(),
        serde_json::json!({
            "purpose": purpose,
            "key": key.to_vkey(),
            "sha256": sha256,
            "ed25519": base64::engine::general_purpose::STANDARD.encode(sig),
        }),
    );
    let text = serde_json::to_string_pretty(&serde_json::Value::Object(envelope))
        .map_err(|e| AppError::internal("TR-F792", e))?
        + "\n";
    Ok((text, sha256))
}

/// Which key must have signed.
#[derive(Debug, Clone, Copy)]
pub enum Signer<'a> {
    /// This key (the deployment's own, or one the reader trusts).
    Key(&'a VerifyingKey),
    /// The key the file names (for a reader on another deployment, who compares the key's text
    /// with what the signer published).
    Named,
}

/// An opened document: the value, its SHA-256 and the key that signed it.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The signed value.
    pub value: serde_json::Value,
    /// Its SHA-256 (of the canonical JSON).
    pub sha256: String,
    /// The key that signed it.
    pub key: VerifyingKey,
}

/// Opens a signed document, or says in words what is wrong with it.
pub fn open(text: &str, purpose: &str, field: &str, signer: Signer<'_>) -> Result<Opened, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|_| "the file is not JSON".to_owned())?;
    let again = serde_json::to_string_pretty(&v).map_err(|_| "the file does not read back")? + "\n";
    if again != text {
        return Err("the file is not as Trygg wrote it: its bytes were changed".into());
    }
    let keys = |x: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = x
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    };
    let mut want = vec![field.to_owned(), "signature".to_owned()];
    want.sort();
    if keys(&v) != want {
        return Err(format!(
            "the file holds more or less than the {field} and its signature"
        ));
    }
    let value = v.get(field).cloned().unwrap_or_default();
    let sig = v.get("signature").cloned().unwrap_or_default();
    if keys(&sig) != ["ed25519", "key", "purpose", "sha256"] {
        return Err("the signature holds more or less than Trygg writes".into());
    }
    let s = |k: &str| {
        sig.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    if s("purpose") != purpose {
        return Err(format!("the signature is not for a {purpose}"));
    }
    let bytes = canonical(&value).map_err(|_| "the file does not read back".to_owned())?;
    let sha256 = trygg_store::crypto::sha256_hex(&bytes);
    if sha256 != s("sha256") {
        return Err(format!("the {field}'s hash does not match: it was changed"));
    }
    let named = VerifyingKey::parse_vkey(&s("key"))
        .map_err(|_| "the signature's key is not a key".to_owned())?;
    let key = match signer {
        Signer::Key(k) if *k != named => {
            return Err(format!(
                "the {field} was signed with another key than this deployment's"
            ))
        }
        Signer::Key(k) => k.clone(),
        Signer::Named => named,
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(s("ed25519"))
        .map_err(|_| "the signature is not base64".to_owned())?;
    if !key.verify_document(purpose, &bytes, &raw) {
        return Err(format!(
            "the signature does not verify: the {field} was changed"
        ));
    }
    Ok(Opened { value, sha256, key })
}
