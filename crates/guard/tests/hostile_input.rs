//! Outside input never panics the guard: message texts are whatever personnel type, term lists
//! and corpora come from files. Arbitrary strings (any Unicode, digits, separators) go through
//! every entry point; findings always lie on character boundaries inside the text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use proptest::prelude::*;
use trygg_guard::{Channel, Context, Guard};

/// Compiling the built-in lists takes a while: once for all cases.
fn guard() -> &'static Guard {
    static GUARD: OnceLock<Guard> = OnceLock::new();
    GUARD.get_or_init(|| Guard::builtin().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn screening_never_panics_and_spans_are_valid(text in "(\\PC|[0-9 .:/@+\\-\\n]){0,300}") {
        let guard = guard();
        let ctx = Context::new()
            .with_own_phone("22 11 33 44")
            .with_own_domain("normland.no")
            .with_sender_name("Normland legesenter")
            .with_one_way(true);
        for channel in [Channel::Sms, Channel::Email] {
            for c in [&Context::default(), &ctx] {
                let s = guard.screen(channel, &text, c);
                for f in &s.findings {
                    prop_assert!(f.start <= f.end && f.end <= text.len());
                    prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
                }
            }
        }
    }

    #[test]
    fn term_lists_and_corpora_from_files_never_panic(text in "\\PC{0,400}") {
        let _ = Guard::builder().without_builtin().extra_terms("fuzz.txt", &text).build();
        let _ = trygg_guard::eval::parse_jsonl(&text);
    }
}
