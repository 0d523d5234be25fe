//! Outside input never panics the login rules: ceremony tokens from request bodies (issue 17),
//! enrolment tokens from URLs, `Host`, `Origin`
//! and `Sec-Fetch-Site` from request headers, method and assurance codes from stored sessions.
//! Arbitrary and mutated strings go through every parser; what is accepted has the promised shape.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use trygg_identity::ceremony::{open, seal, CeremonyKey, CeremonyKind};
use trygg_identity::link::parse_link_token;
use trygg_identity::origin::{host_name, is_loopback_host, valid_host, Site};
use trygg_identity::session::{csrf_eq, csrf_token, parse_assurance};
use trygg_identity::AuthMethod;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn ceremony_tokens_never_panic_and_only_sealed_ones_open(
        token in "[A-Za-z0-9_\\-]{0,200}|\\PC{0,80}",
        flip in 0usize..200,
        state in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let key = CeremonyKey::new(&[7u8; 32]).unwrap();
        let site = trygg_identity::SiteOrigin {
            origin: webauthn_rs::prelude::Url::parse("https://trygg.example").unwrap(),
            rp_id: "trygg.example".into(),
        };
        let now = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20000);
        prop_assert!(open(&key, &site, CeremonyKind::Login, &token, now).is_err());
        let sealed = seal(&key, &site, CeremonyKind::Login, &state, now).unwrap();
        let opened = open(&key, &site, CeremonyKind::Login, &sealed.token, now).unwrap();
        prop_assert_eq!(opened.state, state);
        let mut bytes = sealed.token.into_bytes();
        let i = flip % bytes.len();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let mutated = String::from_utf8(bytes).unwrap();
        // A changed character is refused, except when it only changes the unused low bits of
        // the last base64 character (decoders that accept those decode the same bytes).
        if i + 1 < mutated.len() {
            prop_assert!(open(&key, &site, CeremonyKind::Login, &mutated, now).is_err());
        }
    }

    #[test]
    fn link_tokens_never_panic_and_accepted_ones_are_strict(
        token in "(\\PC|[a-z0-9.\\-_]){0,80}",
        slug in "[a-z][a-z0-9\\-]{0,20}",
        secret in "[A-Za-z0-9_\\-]{43}",
    ) {
        if let Some((_, s)) = parse_link_token(&token) {
            prop_assert_eq!(s.len(), 43);
            prop_assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
        let good = format!("{slug}.{secret}");
        if let Some((org, s)) = parse_link_token(&good) {
            prop_assert_eq!(org.as_str(), slug.as_str());
            prop_assert_eq!(s, secret.as_str());
        }
    }

    #[test]
    fn origin_decisions_never_panic(
        host in "(\\PC|[\\[\\]:.0-9a-z]){0,60}",
        origin in "\\PC{0,60}",
        public in proptest::option::of("\\PC{0,40}"),
        tls in any::<bool>(),
        fetch in proptest::option::of("[a-z\\-]{0,12}"),
    ) {
        let site = Site { public_url: public.as_deref(), tls };
        let h = valid_host(&host).then_some(host.as_str());
        let _ = host_name(&host);
        let _ = is_loopback_host(&host);
        let _ = site.secure_cookies();
        let _ = site.expected_origin(h);
        if let Ok(o) = site.site_origin(h) {
            prop_assert!(!o.rp_id.is_empty());
        }
        if let Some(to) = site.localhost_redirect(h, "/personell") {
            prop_assert!(to.starts_with("http://localhost") || to.starts_with("https://localhost"));
        }
        let same = site.same_origin(h, fetch.as_deref().map(str::as_bytes), Some(&origin));
        if fetch.as_deref().is_some_and(|f| f != "same-origin") {
            prop_assert!(!same);
        }
    }

    #[test]
    fn stored_codes_and_csrf_tokens_never_panic(code in "\\PC{0,30}", given in "\\PC{0,70}") {
        if let Some(m) = AuthMethod::parse(&code) {
            prop_assert_eq!(m.code(), code.as_str());
        }
        let _ = parse_assurance(&code);
        let token = csrf_token(&code);
        prop_assert!(csrf_eq(&token, &token.clone()));
        prop_assert_eq!(csrf_eq(&token, &given), token == given);
    }
}
