//! The acceptance criteria on the dev corpus (PC-CONF-1; guide risk scenarios 1–3, 9, 31):
//! no `block` or `review` message judged `allow`, at most 3 % of `allow` messages flagged, and the
//! exact verdict right for at least 95 %.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use trygg_guard::eval::{evaluate, parse_jsonl, Report};
use trygg_guard::Guard;

mod support;

fn report() -> Report {
    let path = support::dev_corpus_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the guard's dev corpus is missing at {} ({e}); set TRYGG_GUARD_CORPUS or restore crates/guard/corpus/guard-dev.jsonl",
            path.display()
        )
    });
    let corpus = parse_jsonl(&text).expect("the corpus parses");
    assert!(
        corpus.len() >= 100,
        "the corpus looks truncated: {} messages",
        corpus.len()
    );
    let guard = Guard::builtin().expect("built-in lists load");
    let r = evaluate(&guard, &corpus);
    println!("{r}");
    r
}

#[test]
fn pc_conf_1_no_block_or_review_message_is_allowed() {
    let r = report();
    let missed: Vec<_> = r
        .mismatches
        .iter()
        .filter(|m| m.actual == trygg_guard::Verdict::Allow)
        .map(|m| m.id.as_str())
        .collect();
    assert_eq!(r.missed, 0, "block/review judged allow: {missed:?}");
}

#[test]
fn pc_conf_1_at_most_three_percent_of_allow_messages_flagged() {
    let r = report();
    assert!(r.allow_messages > 0);
    assert!(
        r.allow_flag_rate <= 0.03,
        "{} of {} allow messages flagged",
        r.allow_flagged,
        r.allow_messages
    );
}

#[test]
fn pc_conf_1_exact_verdict_for_at_least_95_percent() {
    let r = report();
    assert!(
        r.accuracy >= 0.95,
        "exact verdict {}/{}",
        r.exact,
        r.messages
    );
}
