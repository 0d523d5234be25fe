//! Outside input never panics the audit crate's parsers: checkpoints come from files and other
//! deployments, event bytes from a database someone may have edited. Each parser is fed arbitrary
//! bytes and mutations of valid input (a stable-toolchain stand-in for a coverage-guided fuzzer).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use trygg_audit::{AuditEvent, SignedCheckpoint, VerifyingKey};

/// A signed checkpoint and the key that verifies it.
fn valid_checkpoint() -> (String, VerifyingKey) {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let key = trygg_audit::Signer::generate_pkcs8(&rng).unwrap();
    let signer = trygg_audit::Signer::from_pkcs8("test.local/audit/a", &key).unwrap();
    let cp =
        trygg_audit::Checkpoint::new("test.local/audit/a", 3, trygg_audit::merkle::empty_root())
            .unwrap();
    let text = signer.sign(&cp).unwrap().text().to_owned();
    let parsed = SignedCheckpoint::parse(&text).unwrap();
    assert!(parsed.verify(&[signer.verifying_key()]).is_ok());
    (text, signer.verifying_key())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn checkpoint_parse_never_panics(s in "\\PC{0,300}") {
        let _ = SignedCheckpoint::parse(&s);
        let _ = VerifyingKey::parse_vkey(&s);
    }

    #[test]
    fn mutated_checkpoints_never_panic_and_never_verify(pos in 0usize..400, byte in any::<u8>()) {
        let (text, key) = valid_checkpoint();
        let mut bytes = text.into_bytes();
        let i = pos % bytes.len();
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        if let Ok(s) = String::from_utf8(bytes) {
            if let Ok(cp) = SignedCheckpoint::parse(&s) {
                // Anything changed that still parses no longer verifies under the signing key.
                prop_assert!(cp.verify(&[key]).is_err(), "a changed checkpoint verified: {s:?}");
            }
        }
    }

    #[test]
    fn event_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = AuditEvent::from_canonical(&bytes);
    }

    #[test]
    fn mutated_events_never_panic(pos in 0usize..2000, byte in any::<u8>()) {
        let e = trygg_audit::testing::sample_event(1_800_000_000_000, "p-1").unwrap();
        let mut bytes = e.to_canonical().unwrap();
        let i = pos % bytes.len();
        bytes[i] = byte;
        if let Ok(back) = AuditEvent::from_canonical(&bytes) {
            // Canonical decoding: what decodes re-encodes to exactly the same bytes.
            prop_assert_eq!(back.to_canonical().unwrap(), bytes);
        }
    }
}
