//! Issue #9's harmless corpus: ordinary Norwegian messages (appointments without a reason,
//! opening hours, weather, school, work, invoices, deliveries), in bokmål and nynorsk, SMS and
//! e-mail, with the Unicode phones and word processors produce. Written for the issue, apart from
//! the dev corpus; the guard may flag at most 1 % of them (PC-CONF-1 without crying wolf: a guard
//! that flags ordinary messages gets switched off).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use trygg_guard::eval::{evaluate, parse_jsonl};

mod support;
use trygg_guard::{Guard, Verdict};

#[test]
fn at_most_one_percent_of_ordinary_messages_are_flagged() {
    let path = support::corpus("harmless.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the harmless corpus is missing at {}: {e}", path.display()));
    let corpus = parse_jsonl(&text).expect("the harmless corpus parses");
    assert!(corpus.len() >= 300, "only {} messages", corpus.len());
    assert!(
        corpus.iter().all(|m| m.verdict == Verdict::Allow),
        "every message of the harmless corpus is labelled allow"
    );
    let guard = Guard::builtin().expect("built-in lists load");
    let r = evaluate(&guard, &corpus);
    let flagged: Vec<_> = r
        .mismatches
        .iter()
        .filter(|m| m.actual != Verdict::Allow)
        .map(|m| (m.id.as_str(), &m.actual_reasons))
        .collect();
    assert_eq!(r.allow_messages, corpus.len());
    assert!(
        r.allow_flagged * 100 <= r.allow_messages,
        "{} of {} ordinary messages flagged: {flagged:?}",
        r.allow_flagged,
        r.allow_messages
    );
}
