//! Property tests for national identity numbers in messages (PC-CONF-1, guide risk scenario 9):
//! any valid synthetic number inserted into an allowed corpus message makes it `review` (SMS) or
//! `block` (e-mail); an 11-digit number with a wrong control digit (that also fails the 2032 rule)
//! changes nothing. Also: screening never panics on any input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;

mod support;
use std::sync::OnceLock;
use trygg_guard::eval::parse_jsonl;
use trygg_guard::{Channel, Context, Guard, Reason, Verdict};

fn guard() -> &'static Guard {
    static G: OnceLock<Guard> = OnceLock::new();
    G.get_or_init(|| Guard::builtin().expect("built-in lists load"))
}

/// The allowed messages of the dev corpus (the test fails if the corpus is missing).
fn allowed() -> &'static Vec<String> {
    static A: OnceLock<Vec<String>> = OnceLock::new();
    A.get_or_init(|| {
        let path = support::dev_corpus_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the guard's dev corpus is missing at {} ({e})",
                path.display()
            )
        });
        let msgs: Vec<String> = parse_jsonl(&text)
            .expect("corpus parses")
            .into_iter()
            .filter(|m| m.verdict == Verdict::Allow)
            .map(|m| m.text)
            .collect();
        assert!(msgs.len() >= 50, "too few allowed messages");
        msgs
    })
}

const K1: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
const K2: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/// Today's control digit over `digits`, or `None` when it would be 10.
fn control(digits: &[u8], weights: &[u32]) -> Option<u8> {
    let sum: u32 = digits
        .iter()
        .zip(weights)
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        k => Some(k as u8),
    }
}

/// A synthetic number (month + 80, and day + 40 for a D-number) with valid control digits.
fn synthetic(day: u8, month: u8, yy: u8, ind: u16, d_number: bool) -> Option<[u8; 11]> {
    let dd = if d_number { day + 40 } else { day };
    let mm = month + 80;
    let mut d = vec![dd / 10, dd % 10, mm / 10, mm % 10, yy / 10, yy % 10];
    d.extend([(ind / 100) as u8, (ind / 10 % 10) as u8, (ind % 10) as u8]);
    let k1 = control(&d, &K1)?;
    d.push(k1);
    let k2 = control(&d, &K2)?;
    d.push(k2);
    d.try_into().ok()
}

fn render(d: &[u8; 11], spaced: bool) -> String {
    let s: String = d.iter().map(|x| char::from(b'0' + x)).collect();
    if spaced {
        format!("{} {}", &s[..6], &s[6..])
    } else {
        s
    }
}

/// Inserts ` word ` at the `pick`-th space of `text` (or appends it).
fn insert(text: &str, word: &str, pick: usize) -> String {
    let spaces: Vec<usize> = text.match_indices(' ').map(|(i, _)| i).collect();
    match spaces.get(pick % (spaces.len() + 1)) {
        Some(&i) => format!("{} {word} {}", &text[..i], &text[i + 1..]),
        None => format!("{text} {word}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn valid_synthetic_ids_make_allowed_messages_review_or_block(
        msg in 0usize..1000,
        pick in 0usize..1000,
        day in 1u8..=28,
        month in 1u8..=12,
        yy in 0u8..100,
        ind in 0u16..1000,
        d_number: bool,
        spaced: bool,
    ) {
        let digits = synthetic(day, month, yy, ind, d_number);
        prop_assume!(digits.is_some());
        let id = render(&digits.unwrap(), spaced);
        let msgs = allowed();
        let text = insert(&msgs[msg % msgs.len()], &id, pick);
        let sms = guard().screen(Channel::Sms, &text, &Context::default());
        prop_assert_eq!(sms.verdict, Verdict::Review, "{}: {:?}", text, sms.reasons);
        prop_assert_eq!(&sms.reasons, &vec![Reason::NationalId]);
        let email = guard().screen(Channel::Email, &text, &Context::default());
        prop_assert_eq!(email.verdict, Verdict::Block);
    }

    #[test]
    fn wrong_control_digits_change_nothing(
        msg in 0usize..1000,
        pick in 0usize..1000,
        day in 1u8..=28,
        month in 1u8..=12,
        yy in 0u8..100,
        ind in 0u16..1000,
        d_number: bool,
        spaced: bool,
        which in 9usize..11,
        delta in 1u8..10,
    ) {
        let digits = synthetic(day, month, yy, ind, d_number);
        prop_assume!(digits.is_some());
        let mut d = digits.unwrap();
        d[which] = (d[which] + delta) % 10;
        prop_assume!(!trygg_guard::nid::is_national_id(&d));
        let msgs = allowed();
        let base = &msgs[msg % msgs.len()];
        let text = insert(base, &render(&d, spaced), pick);
        let before = guard().screen(Channel::Email, base, &Context::default());
        let after = guard().screen(Channel::Email, &text, &Context::default());
        prop_assert_eq!(before.verdict, Verdict::Allow);
        prop_assert_eq!(after.verdict, Verdict::Allow, "{}: {:?}", text, after.reasons);
    }

    #[test]
    fn screening_never_panics(text in "\\PC{0,200}") {
        let s = guard().screen(Channel::Sms, &text, &Context::new().with_one_way(true).with_own_domain("normland.no"));
        for f in &s.findings {
            prop_assert!(f.start <= f.end && f.end <= text.len());
            prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        }
    }

    #[test]
    fn screening_never_panics_on_digit_heavy_text(text in "[0-9 .,+/:A-Za-zæøå-]{0,120}") {
        let s = guard().screen(Channel::Email, &text, &Context::default());
        for f in &s.findings {
            prop_assert!(f.end <= text.len());
        }
    }
}
