//! Signed checkpoints: the tree size and root of an organisation's log, signed with Ed25519, in the
//! C2SP `tlog-checkpoint` format wrapped in a C2SP `signed-note`.
//!
//! ```text
//! trygg.example.no/audit/normland-legesenter
//! 42
//! 3q2+7w3q2+7w3q2+7w3q2+7w3q2+7w3q2+7w3q0=
//!
//! — trygg.example.no/audit/normland-legesenter Ab3xY...base64(key id || signature)...
//! ```
//!
//! The note text is the origin line, the tree size in decimal, the base64 root hash and optional
//! extension lines, each ending in a newline. Then a blank line and one signature line per signer:
//! an em dash, a space, the key name, a space and base64 of the 4-byte key id followed by the
//! 64-byte Ed25519 signature over the note text. The key id is the first four bytes of
//! `SHA-256(key name || 0x0A || 0x01 || public key)`. Signatures by unknown keys are ignored, as
//! the signed-note spec asks; a signature by a trusted key that does not verify is an error.
//!
//! Keys: a [`Signer`] holds the private key (PKCS#8, loaded through aws-lc-rs) and never prints it;
//! a [`VerifyingKey`] holds the public key and reads and writes the signed-note verifier key text
//! `<name>+<hex key id>+<base64(0x01 || public key)>`.

use std::fmt;

use aws_lc_rs::rand::SecureRandom;
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use trygg_core::OrgSlug;

use crate::merkle::Hash;

/// The signed-note signature type byte of Ed25519.
const ED25519_TYPE: u8 = 0x01;
/// The longest checkpoint text accepted.
pub const MAX_TEXT: usize = 16 * 1024;
/// The most signature lines accepted on one note.
const MAX_SIGNATURES: usize = 100;

/// Why a checkpoint, key or signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The origin or host is empty or holds whitespace, control characters or `+`.
    #[error("an origin is non-empty printable text without spaces or '+'")]
    Origin,
    /// A key name is empty or holds whitespace or `+`.
    #[error("a key name is non-empty text without spaces or '+'")]
    KeyName,
    /// The text is longer than [`MAX_TEXT`].
    #[error("checkpoint text is too long")]
    TooLong,
    /// The text holds a control character other than newline.
    #[error("checkpoint text holds a control character")]
    ControlCharacter,
    /// No blank line separates the note from its signatures, or the note does not end in a
    /// newline.
    #[error("no blank line between the checkpoint and its signatures")]
    NoSignatureBlock,
    /// A line of the checkpoint body is missing or empty.
    #[error("checkpoint line {0} is missing or empty")]
    MissingLine(usize),
    /// The tree size is not a decimal number without leading zeros.
    #[error("checkpoint tree size is not a decimal number")]
    Size,
    /// The root hash is not base64 of 32 bytes.
    #[error("checkpoint root hash is not base64 of 32 bytes")]
    RootHash,
    /// A signature line is malformed.
    #[error("signature line {0} is malformed")]
    SignatureLine(usize),
    /// More than 100 signature lines.
    #[error("too many signatures")]
    TooManySignatures,
    /// A signature from a trusted key does not verify.
    #[error("the signature by {0} does not verify")]
    BadSignature(String),
    /// No signature from any trusted key.
    #[error("no signature by a trusted key")]
    NoTrustedSignature,
    /// A private key that aws-lc-rs does not accept as Ed25519 PKCS#8.
    #[error("not an Ed25519 PKCS#8 private key")]
    PrivateKey,
    /// A public key or verifier key text that is not valid.
    #[error("not a valid Ed25519 verifier key")]
    PublicKey,
    /// Key generation or signing failed in aws-lc-rs.
    #[error("the crypto library failed")]
    Crypto,
}

fn valid_origin(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '+')
}

/// The origin line of an organisation's log: `<host>/audit/<org>`, e.g.
/// `trygg.example.no/audit/normland-legesenter`. `host` names the deployment.
pub fn origin_for(host: &str, org: &OrgSlug) -> Result<String, CheckpointError> {
    let o = format!("{host}/audit/{org}");
    if !valid_origin(host) || !valid_origin(&o) {
        return Err(CheckpointError::Origin);
    }
    Ok(o)
}

/// An unsigned checkpoint: the log's origin, its size and its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint of a log.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        if !valid_origin(origin) {
            return Err(CheckpointError::Origin);
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// The origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// Extension lines (Trygg writes none; a parsed checkpoint may carry some).
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The note text that is signed, ending in a newline.
    pub fn body(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root.as_bytes())
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses a note text (as returned by [`Checkpoint::body`]).
    pub fn parse_body(body: &str) -> Result<Self, CheckpointError> {
        let Some(inner) = body.strip_suffix('\n') else {
            return Err(CheckpointError::NoSignatureBlock);
        };
        let mut lines = inner.split('\n');
        let mut line = |n: usize| match lines.next() {
            Some(l) if !l.is_empty() => Ok(l),
            _ => Err(CheckpointError::MissingLine(n)),
        };
        let origin = line(1)?;
        if !valid_origin(origin) {
            return Err(CheckpointError::Origin);
        }
        let size_text = line(2)?;
        if !size_text.bytes().all(|b| b.is_ascii_digit())
            || (size_text.len() > 1 && size_text.starts_with('0'))
        {
            return Err(CheckpointError::Size);
        }
        let size: u64 = size_text.parse().map_err(|_| CheckpointError::Size)?;
        let root_bytes = B64
            .decode(line(3)?)
            .map_err(|_| CheckpointError::RootHash)?;
        let root = Hash::from_slice(&root_bytes).map_err(|_| CheckpointError::RootHash)?;
        let mut extensions = Vec::new();
        for (i, l) in lines.enumerate() {
            if l.is_empty() {
                return Err(CheckpointError::MissingLine(i + 4));
            }
            extensions.push(l.to_owned());
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

/// One signature line of a signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key id.
    pub key_id: u32,
    /// The signature bytes (after the key id).
    pub signature: Vec<u8>,
}

/// A checkpoint with its signature lines, as stored and printed. Holds the exact text it was
/// parsed from, so verifying never depends on re-encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    text: String,
    body_len: usize,
    signatures: Vec<NoteSignature>,
}

impl SignedCheckpoint {
    /// Parses a signed checkpoint. Checks the form only; [`SignedCheckpoint::verify`] checks
    /// signatures.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        if text.len() > MAX_TEXT {
            return Err(CheckpointError::TooLong);
        }
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(CheckpointError::ControlCharacter);
        }
        let Some(split) = text.find("\n\n") else {
            return Err(CheckpointError::NoSignatureBlock);
        };
        let body_len = split + 1;
        let body = text
            .get(..body_len)
            .ok_or(CheckpointError::NoSignatureBlock)?;
        let checkpoint = Checkpoint::parse_body(body)?;
        let sigs_text = text
            .get(body_len + 1..)
            .ok_or(CheckpointError::NoSignatureBlock)?;
        let Some(sigs_inner) = sigs_text.strip_suffix('\n') else {
            return Err(CheckpointError::SignatureLine(1));
        };
        let mut signatures = Vec::new();
        for (i, line) in sigs_inner.split('\n').enumerate() {
            if signatures.len() >= MAX_SIGNATURES {
                return Err(CheckpointError::TooManySignatures);
            }
            signatures
                .push(parse_signature_line(line).ok_or(CheckpointError::SignatureLine(i + 1))?);
        }
        Ok(Self {
            checkpoint,
            text: text.to_owned(),
            body_len,
            signatures,
        })
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The full text: what the store keeps and `trygg audit checkpoint` prints.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Verifies that a key in `trusted` signed this checkpoint.
    pub fn verify(&self, trusted: &[VerifyingKey]) -> Result<(), CheckpointError> {
        let body = self
            .text
            .get(..self.body_len)
            .ok_or(CheckpointError::NoSignatureBlock)?;
        for sig in &self.signatures {
            for key in trusted {
                if sig.name == key.name && sig.key_id == key.key_id {
                    UnparsedPublicKey::new(&signature::ED25519, &key.public)
                        .verify(body.as_bytes(), &sig.signature)
                        .map_err(|_| CheckpointError::BadSignature(key.name.clone()))?;
                    return Ok(());
                }
            }
        }
        Err(CheckpointError::NoTrustedSignature)
    }
}

impl fmt::Display for SignedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_signature_line(line: &str) -> Option<NoteSignature> {
    let rest = line.strip_prefix("\u{2014} ")?;
    let (name, b64) = rest.split_once(' ')?;
    if !valid_key_name(name) {
        return None;
    }
    let raw = B64.decode(b64).ok()?;
    if raw.len() < 5 {
        return None;
    }
    let (id, sig) = raw.split_at(4);
    let key_id = u32::from_be_bytes(id.try_into().ok()?);
    Some(NoteSignature {
        name: name.to_owned(),
        key_id,
        signature: sig.to_vec(),
    })
}

fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| !c.is_whitespace() && c != '+' && !c.is_control())
}

fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    let h = Hash::sha256(&[name.as_bytes(), b"\n", &[ED25519_TYPE], public]);
    let b = h.as_bytes();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// A public key that verifies checkpoints, with its signed-note name and key id.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    name: String,
    key_id: u32,
    public: [u8; 32],
}

impl VerifyingKey {
    /// From a key name and a raw 32-byte Ed25519 public key.
    pub fn new(name: &str, public: &[u8]) -> Result<Self, CheckpointError> {
        if !valid_key_name(name) {
            return Err(CheckpointError::KeyName);
        }
        let public: [u8; 32] = public.try_into().map_err(|_| CheckpointError::PublicKey)?;
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, &public),
            public,
        })
    }

    /// Parses signed-note verifier key text: `<name>+<hex key id>+<base64(0x01 || key)>`.
    pub fn parse_vkey(text: &str) -> Result<Self, CheckpointError> {
        // The name holds no '+'; the base64 key may.
        let mut parts = text.trim_end().splitn(3, '+');
        let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CheckpointError::PublicKey);
        };
        let raw = B64.decode(b64).map_err(|_| CheckpointError::PublicKey)?;
        let Some((&ED25519_TYPE, public)) = raw.split_first() else {
            return Err(CheckpointError::PublicKey);
        };
        let key = Self::new(name, public)?;
        if id_hex.len() != 8 || format!("{:08x}", key.key_id) != id_hex {
            return Err(CheckpointError::PublicKey);
        }
        Ok(key)
    }

    /// The verifier key text.
    pub fn to_vkey(&self) -> String {
        let mut raw = vec![ED25519_TYPE];
        raw.extend_from_slice(&self.public);
        format!("{}+{:08x}+{}", self.name, self.key_id, B64.encode(raw))
    }

    /// Whether `signature` is this key's signature of `document` for `purpose`
    /// ([`Signer::sign_document`]).
    pub fn verify_document(&self, purpose: &str, document: &[u8], signature: &[u8]) -> bool {
        let msg = document_message(purpose, document);
        aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, &self.public)
            .verify(&msg, signature)
            .is_ok()
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The raw public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_vkey())
    }
}

/// A private key in PKCS#8 form, for the store to keep (sealed). `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkcs8Key(Vec<u8>);

impl Pkcs8Key {
    /// Wraps PKCS#8 DER bytes.
    pub fn from_der(der: Vec<u8>) -> Self {
        Self(der)
    }

    /// The DER bytes. Handle as a secret.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Pkcs8Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pkcs8Key(<secret>)")
    }
}

/// Signs checkpoints with an Ed25519 key. `Debug` shows the key name and key id only.
pub struct Signer {
    name: String,
    key_id: u32,
    pair: Ed25519KeyPair,
}

impl Signer {
    /// Generates a new private key.
    pub fn generate_pkcs8(rng: &dyn SecureRandom) -> Result<Pkcs8Key, CheckpointError> {
        let doc = Ed25519KeyPair::generate_pkcs8(rng).map_err(|_| CheckpointError::Crypto)?;
        Ok(Pkcs8Key(doc.as_ref().to_vec()))
    }

    /// Loads a private key; `name` is the key name in signature lines (the log's origin is a
    /// good choice).
    pub fn from_pkcs8(name: &str, key: &Pkcs8Key) -> Result<Self, CheckpointError> {
        if !valid_key_name(name) {
            return Err(CheckpointError::KeyName);
        }
        let pair = Ed25519KeyPair::from_pkcs8(&key.0).map_err(|_| CheckpointError::PrivateKey)?;
        let public: [u8; 32] = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| CheckpointError::PrivateKey)?;
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, &public),
            pair,
        })
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        let mut public = [0u8; 32];
        public.copy_from_slice(self.pair.public_key().as_ref());
        VerifyingKey {
            name: self.name.clone(),
            key_id: self.key_id,
            public,
        }
    }

    /// Signs a document that is not a checkpoint (a compliance report, issue #15): the signed
    /// message is `trygg-document:<purpose>\n` followed by the SHA-256 of the document, so a
    /// document's signature can never pass for a checkpoint's (a note body starts with an
    /// origin line, which holds no colon) nor for another purpose's.
    pub fn sign_document(
        &self,
        purpose: &str,
        document: &[u8],
    ) -> Result<Vec<u8>, CheckpointError> {
        let msg = document_message(purpose, document);
        let sig = self
            .pair
            .try_sign(&msg)
            .map_err(|_| CheckpointError::Crypto)?;
        Ok(sig.as_ref().to_vec())
    }

    /// Signs a checkpoint.
    pub fn sign(&self, checkpoint: &Checkpoint) -> Result<SignedCheckpoint, CheckpointError> {
        let body = checkpoint.body();
        let sig = self
            .pair
            .try_sign(body.as_bytes())
            .map_err(|_| CheckpointError::Crypto)?;
        let mut raw = self.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(sig.as_ref());
        let text = format!("{body}\n\u{2014} {} {}\n", self.name, B64.encode(&raw));
        Ok(SignedCheckpoint {
            checkpoint: checkpoint.clone(),
            body_len: body.len(),
            signatures: vec![NoteSignature {
                name: self.name.clone(),
                key_id: self.key_id,
                signature: sig.as_ref().to_vec(),
            }],
            text,
        })
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

/// The message a document signature signs: `trygg-document:<purpose>\n || SHA-256(document)`.
fn document_message(purpose: &str, document: &[u8]) -> Vec<u8> {
    let mut msg = format!("trygg-document:{purpose}\n").into_bytes();
    msg.extend_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, document).as_ref());
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;

    const ORIGIN: &str = "trygg.local/audit/normland-legesenter";

    fn signer(name: &str) -> (Signer, Pkcs8Key) {
        let key = Signer::generate_pkcs8(&SystemRandom::new()).unwrap();
        (Signer::from_pkcs8(name, &key).unwrap(), key)
    }

    fn root() -> Hash {
        crate::merkle::leaf_hash(b"x")
    }

    #[test]
    fn origin_is_built_from_host_and_org() {
        let org = OrgSlug::parse("normland-legesenter").unwrap();
        assert_eq!(origin_for("trygg.local", &org).unwrap(), ORIGIN);
        assert_eq!(origin_for("bad host", &org), Err(CheckpointError::Origin));
        assert_eq!(origin_for("", &org), Err(CheckpointError::Origin));
    }

    #[test]
    fn sign_parse_verify_round_trip() {
        let (s, _) = signer(ORIGIN);
        let cp = Checkpoint::new(ORIGIN, 42, root()).unwrap();
        let signed = s.sign(&cp).unwrap();
        let text = signed.text().to_owned();
        assert!(text.starts_with(&format!("{ORIGIN}\n42\n")));
        assert!(text.contains(&format!("\n\n\u{2014} {ORIGIN} ")));
        let parsed = SignedCheckpoint::parse(&text).unwrap();
        assert_eq!(parsed, signed);
        assert_eq!(parsed.checkpoint().size(), 42);
        assert_eq!(parsed.checkpoint().root(), root());
        parsed.verify(&[s.verifying_key()]).unwrap();
    }

    #[test]
    fn key_id_follows_signed_note() {
        // Key id = first 4 bytes of SHA-256(name || "\n" || 0x01 || public key), here computed
        // independently of `key_id`.
        let (s, _) = signer("example.com/log");
        let vk = s.verifying_key();
        let mut buf = b"example.com/log\n\x01".to_vec();
        buf.extend_from_slice(vk.public_key());
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &buf);
        assert_eq!(vk.key_id().to_be_bytes(), d.as_ref()[..4]);
        // The signature line starts with the key id.
        let signed = s
            .sign(&Checkpoint::new("example.com/log", 1, root()).unwrap())
            .unwrap();
        assert_eq!(signed.signatures()[0].key_id, vk.key_id());
        assert_eq!(signed.signatures()[0].signature.len(), 64);
    }

    #[test]
    fn vkey_round_trips() {
        let (s, _) = signer(ORIGIN);
        let vk = s.verifying_key();
        let text = vk.to_vkey();
        assert_eq!(VerifyingKey::parse_vkey(&text).unwrap(), vk);
        let tampered = text.replacen(&format!("{:08x}", vk.key_id()), "00000000", 1);
        assert_eq!(
            VerifyingKey::parse_vkey(&tampered),
            Err(CheckpointError::PublicKey)
        );
    }

    #[test]
    fn forged_and_foreign_checkpoints_fail() {
        let (s, _) = signer(ORIGIN);
        let (other, _) = signer(ORIGIN);
        let signed = s
            .sign(&Checkpoint::new(ORIGIN, 42, root()).unwrap())
            .unwrap();
        // Edit the size: the signature no longer covers the text.
        let edited = signed.text().replacen("\n42\n", "\n43\n", 1);
        let parsed = SignedCheckpoint::parse(&edited).unwrap();
        assert_eq!(
            parsed.verify(&[s.verifying_key()]),
            Err(CheckpointError::BadSignature(ORIGIN.to_owned()))
        );
        // Same name, different key: the key id differs, so the signature is not trusted.
        assert_eq!(
            signed.verify(&[other.verifying_key()]),
            Err(CheckpointError::NoTrustedSignature)
        );
        // An attacker signs with their own key under the right name.
        let forged = other
            .sign(&Checkpoint::new(ORIGIN, 42, root()).unwrap())
            .unwrap();
        assert_eq!(
            forged.verify(&[s.verifying_key()]),
            Err(CheckpointError::NoTrustedSignature)
        );
        // Key rotation: any trusted key suffices.
        signed
            .verify(&[other.verifying_key(), s.verifying_key()])
            .unwrap();
    }

    #[test]
    fn malformed_text_is_rejected_with_reasons() {
        let (s, _) = signer(ORIGIN);
        let good = s
            .sign(&Checkpoint::new(ORIGIN, 7, root()).unwrap())
            .unwrap();
        let t = good.text();
        let cases: Vec<(String, CheckpointError)> = vec![
            (
                t.replacen("\n\n", "\n", 1),
                CheckpointError::NoSignatureBlock,
            ),
            (t.replacen("\n7\n", "\n07\n", 1), CheckpointError::Size),
            (t.replacen("\n7\n", "\n-7\n", 1), CheckpointError::Size),
            (
                t.replacen("\n7\n", "\n\n", 1),
                CheckpointError::MissingLine(2),
            ),
            (
                t.replacen(&B64.encode(root().as_bytes()), "AAAA", 1),
                CheckpointError::RootHash,
            ),
            (
                t.replacen('\u{2014}', "-", 1),
                CheckpointError::SignatureLine(1),
            ),
            (t.trim_end().to_owned(), CheckpointError::SignatureLine(1)),
            (
                t.replacen(ORIGIN, "a\u{7}b", 1),
                CheckpointError::ControlCharacter,
            ),
            ("x".repeat(MAX_TEXT + 1), CheckpointError::TooLong),
        ];
        for (text, want) in cases {
            assert_eq!(SignedCheckpoint::parse(&text), Err(want), "{text:?}");
        }
    }

    #[test]
    fn extension_lines_are_kept_and_signed() {
        let (s, _) = signer(ORIGIN);
        let body = format!(
            "{ORIGIN}\n3\n{}\nwitnessed-by example\n",
            B64.encode(root().as_bytes())
        );
        let cp = Checkpoint::parse_body(&body).unwrap();
        assert_eq!(cp.extensions(), ["witnessed-by example".to_owned()]);
        let signed = s.sign(&cp).unwrap();
        assert!(signed.text().starts_with(&body));
        SignedCheckpoint::parse(signed.text())
            .unwrap()
            .verify(&[s.verifying_key()])
            .unwrap();
    }

    #[test]
    fn debug_never_prints_key_material() {
        let (s, key) = signer(ORIGIN);
        let dbg = format!("{s:?} {key:?}");
        assert!(dbg.contains(ORIGIN));
        assert!(!dbg.contains(&hex::encode(key.expose())));
        assert!(!dbg.contains(&B64.encode(key.expose())));
        assert!(dbg.contains("<secret>"));
        // The PKCS#8 bytes reload to the same key.
        let again = Signer::from_pkcs8(ORIGIN, &key).unwrap();
        assert_eq!(again.verifying_key(), s.verifying_key());
        assert_eq!(
            Signer::from_pkcs8(ORIGIN, &Pkcs8Key::from_der(vec![1, 2, 3])).map(|_| ()),
            Err(CheckpointError::PrivateKey)
        );
    }
}
