//! Organisation-owned devices' identity, sans-IO (VC-DEV-1/2, VC-AUTH-4): the enrolment code an
//! administrator hands to a device at a fixed place, the public key the device's browser
//! registers with it, and the signatures the device makes with its private key (a WebCrypto
//! ECDSA P-256 key the browser made non-extractable, so it never leaves the device).
//!
//! # Rules
//! - An enrolment code is 12 characters of Crockford's base32 (60 bits from the system's secure
//!   random source), shown as `XXXX-XXXX-XXXX`; typed back, case, dashes and spaces do not
//!   matter and `O`/`I`/`L` read as `0`/`1`/`1`. Anything else (other scripts, look-alikes,
//!   control characters) is no code. It is single use and short-lived; the store keeps only a
//!   keyed hash of the normalised form.
//! - The public key is an uncompressed P-256 point (65 bytes, `0x04 ‖ X ‖ Y`), as WebCrypto's
//!   `exportKey("raw")` gives it. At enrolment the device signs [`enrol_message`] with the new
//!   key (proof that it holds the private key, and a check that the point is valid); at every
//!   join it signs [`join_message`] over a fresh server nonce. Signatures are WebCrypto's fixed
//!   64-byte `r ‖ s` form.
//! - Each signed message starts with its purpose and version, so a signature made for one
//!   purpose is never valid for another.

use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use base64::Engine as _;
use uuid::Uuid;

/// Crockford's base32 alphabet (no I, L, O, U).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters in an enrolment code (without its dashes).
pub const CODE_LEN: usize = 12;

/// Why a device's code, key or signature is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The system's random source failed.
    #[error("no secure random source")]
    Random,
    /// The public key is not an uncompressed P-256 point in base64url.
    #[error("the public key is not an uncompressed P-256 point")]
    PublicKey,
    /// The signature is not 64 bytes of base64url, or does not verify.
    #[error("the signature does not verify")]
    Signature,
}

/// A fresh enrolment code, formatted `XXXX-XXXX-XXXX`.
pub fn new_code() -> Result<String, DeviceError> {
    let mut raw = [0u8; 8];
    aws_lc_rs::rand::fill(&mut raw).map_err(|_| DeviceError::Random)?;
    let bits = u64::from_be_bytes(raw);
    let mut out = String::with_capacity(CODE_LEN + 2);
    for i in 0..CODE_LEN {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        let shift = 5 * (CODE_LEN - 1 - i);
        let idx = usize::try_from((bits >> shift) & 31).unwrap_or(0);
        out.push(char::from(ALPHABET[idx]));
    }
    Ok(out)
}

/// The normalised form of a typed code (12 characters of the alphabet), or `None` if it is no
/// code.
pub fn normalize_code(typed: &str) -> Option<String> {
    if typed.len() > 40 {
        return None;
    }
    let mut out = String::with_capacity(CODE_LEN);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == CODE_LEN).then_some(out)
}

/// What a device signs at enrolment: its organisation and the normalised code.
pub fn enrol_message(org: &str, code: &str) -> Vec<u8> {
    format!("trygg-device-enrol/v1\n{org}\n{code}").into_bytes()
}

/// What a device signs at a join: its organisation, its id and the server's nonce.
pub fn join_message(org: &str, device: Uuid, nonce: &str) -> Vec<u8> {
    format!(
        "trygg-device-join/v1\n{org}\n{}\n{nonce}",
        device.hyphenated()
    )
    .into_bytes()
}

fn b64(s: &str) -> Option<Vec<u8>> {
    if s.len() > 256 {
        return None;
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
}

/// The public key from its base64url form: 65 bytes starting with `0x04`.
pub fn parse_public_key(b64url: &str) -> Result<Vec<u8>, DeviceError> {
    let raw = b64(b64url).ok_or(DeviceError::PublicKey)?;
    if raw.len() != 65 || raw[0] != 4 {
        return Err(DeviceError::PublicKey);
    }
    Ok(raw)
}

/// Checks `signature` (base64url, 64 bytes) of `message` by `public_key` (65 bytes).
pub fn verify(public_key: &[u8], message: &[u8], signature: &str) -> Result<(), DeviceError> {
    let sig = b64(signature)
        .filter(|s| s.len() == 64)
        .ok_or(DeviceError::Signature)?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key)
        .verify(message, &sig)
        .map_err(|_| DeviceError::Signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};

    fn b64e(b: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    }

    fn key() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).unwrap()
    }

    fn sign(k: &EcdsaKeyPair, m: &[u8]) -> String {
        b64e(k.sign(&SystemRandom::new(), m).unwrap().as_ref())
    }

    #[test]
    fn codes_are_twelve_characters_of_the_alphabet_and_read_back_leniently() {
        let c = new_code().unwrap();
        assert_eq!(c.len(), 14);
        assert_eq!(c.matches('-').count(), 2);
        let n = normalize_code(&c).unwrap();
        assert_eq!(n.len(), CODE_LEN);
        assert_ne!(new_code().unwrap(), c, "random");
        assert_eq!(
            normalize_code(" abcd-efgh-jkmn ").as_deref(),
            Some("ABCDEFGHJKMN")
        );
        assert_eq!(
            normalize_code("O0IL-0000-0000").as_deref(),
            Some("001100000000")
        );
        for bad in [
            "",
            "ABCD-EFGH-JKM",
            "ABCD-EFGH-JKMNP",
            "ABCD-EFGH-JKMU",
            "ΑBCD-EFGH-JKMN", // a Greek capital alpha
            "ABCD\u{200b}EFGH-JKMN",
            "ABCD\u{202e}EFGH-JKMN",
            "ABCD-EFGH-JKM\n",
            &"A".repeat(100),
        ] {
            assert_eq!(normalize_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_signature_verifies_only_for_its_key_and_message() {
        let k = key();
        let pk = parse_public_key(&b64e(k.public_key().as_ref())).unwrap();
        let id = Uuid::new_v4();
        let m = join_message("legekontoret", id, "nonce-1");
        let sig = sign(&k, &m);
        assert_eq!(verify(&pk, &m, &sig), Ok(()));
        // Another nonce, another device, another organisation, another purpose.
        for other in [
            join_message("legekontoret", id, "nonce-2"),
            join_message("legekontoret", Uuid::new_v4(), "nonce-1"),
            join_message("andre", id, "nonce-1"),
            enrol_message("legekontoret", "nonce-1"),
        ] {
            assert_eq!(verify(&pk, &other, &sig), Err(DeviceError::Signature));
        }
        let other_key = parse_public_key(&b64e(key().public_key().as_ref())).unwrap();
        assert_eq!(verify(&other_key, &m, &sig), Err(DeviceError::Signature));
        for bad in ["", "a+b/", &"A".repeat(86), &sig[..sig.len() - 2]] {
            assert_eq!(verify(&pk, &m, bad), Err(DeviceError::Signature));
        }
    }

    #[test]
    fn a_public_key_is_an_uncompressed_point() {
        let raw = key().public_key().as_ref().to_vec();
        assert_eq!(parse_public_key(&b64e(&raw)), Ok(raw.clone()));
        let mut compressed = raw[..33].to_vec();
        compressed[0] = 2;
        let mut not_on_curve = raw.clone();
        not_on_curve[64] ^= 1;
        for bad in [
            b64e(&compressed),
            b64e(&raw[1..]),
            "a+b/".into(),
            "x".repeat(300),
        ] {
            assert_eq!(parse_public_key(&bad), Err(DeviceError::PublicKey));
        }
        // A point off the curve parses as bytes but no signature ever verifies with it.
        let k = key();
        let m = enrol_message("o", "c");
        let pk = parse_public_key(&b64e(&not_on_curve)).unwrap();
        assert_eq!(verify(&pk, &m, &sign(&k, &m)), Err(DeviceError::Signature));
    }
}
