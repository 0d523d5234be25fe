//! Throughput and accuracy of the guard on the dev corpus, single thread, as one JSON line.
//!
//! `cargo bench -p trygg-guard --bench throughput -- [--corpus PATH] [--seconds N]
//! [--export-terms PATH]`. The corpus defaults to `TRYGG_GUARD_CORPUS` or
//! the crate's copy, `corpus/guard-dev.jsonl`. `--export-terms` writes the built-in
//! term lists as JSON for the Presidio comparison (`bench/guard/run.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use trygg_guard::eval::{evaluate, parse_jsonl, LabelledMessage};
use trygg_guard::normalize::{needs_normalising, Normalized};
use trygg_guard::{Channel, Context, Guard};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Screens the messages round-robin in windows of about 0.2 s for at least `seconds` in all;
/// returns the median and the best window's rate (messages per second). The best window is
/// the least disturbed by other work on the machine; both are reported.
fn rate(guard: &Guard, msgs: &[&LabelledMessage], seconds: f64) -> (f64, f64) {
    let ctx = Context::default();
    rate_of(msgs.len(), seconds, || {
        for m in msgs {
            black_box(guard.screen(m.channel, black_box(&m.text), &ctx));
        }
    })
}

/// Runs `round` (which handles `per_round` messages) in windows of about 0.2 s for at least
/// `seconds`; the median and the best window's rate, as [`rate`].
fn rate_of(per_round: usize, seconds: f64, mut round: impl FnMut()) -> (f64, f64) {
    // Warm up.
    for _ in 0..(10_000 / per_round.max(1)).max(1) {
        round();
    }
    let total = Instant::now();
    let mut rates = Vec::new();
    while total.elapsed() < Duration::from_secs_f64(seconds) || rates.len() < 5 {
        let start = Instant::now();
        let mut n: u64 = 0;
        while start.elapsed() < Duration::from_millis(200) {
            round();
            n += per_round as u64;
        }
        rates.push(n as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    let best = rates[rates.len() - 1];
    (median, best)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let guard = Guard::builtin().expect("built-in lists load");
    if let Some(path) = arg(&args, "--export-terms") {
        let terms: Vec<serde_json::Value> = trygg_guard::builtin_terms()
            .expect("built-in lists load")
            .iter()
            .map(|t| {
                serde_json::json!({
                    "list": t.kind.section(),
                    "term": t.original,
                    "free_start": t.free_start,
                    "free_end": t.free_end,
                    "case_sensitive": t.case_sensitive,
                })
            })
            .collect();
        std::fs::write(&path, serde_json::to_string(&terms).unwrap()).expect("write terms");
    }
    let corpus = arg(&args, "--corpus")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("TRYGG_GUARD_CORPUS").map(PathBuf::from))
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/guard-dev.jsonl")
        });
    let seconds: f64 = arg(&args, "--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let text = std::fs::read_to_string(&corpus)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", corpus.display()));
    let msgs = parse_jsonl(&text).expect("corpus parses");
    let report = evaluate(&guard, &msgs);
    let all: Vec<&LabelledMessage> = msgs.iter().collect();
    let sms: Vec<&LabelledMessage> = msgs.iter().filter(|m| m.channel == Channel::Sms).collect();
    let all_rate = rate(&guard, &all, seconds);
    let sms_rate = rate(&guard, &sms, seconds);
    let bytes: usize = msgs.iter().map(|m| m.text.len()).sum();
    // The cost of Unicode normalisation (issue #9): the same SMS with a no-break space for
    // their first space, so that every one is normalised before screening, and the
    // normalisation alone.
    let unicode: Vec<LabelledMessage> = sms
        .iter()
        .map(|m| LabelledMessage {
            text: m.text.replacen(' ', "\u{A0}", 1),
            ..(*m).clone()
        })
        .collect();
    let unicode_refs: Vec<&LabelledMessage> = unicode.iter().collect();
    let unicode_rate = rate(&guard, &unicode_refs, seconds);
    let mut scratch = Normalized::default();
    let normalise_rate = rate_of(unicode.len(), seconds, || {
        for m in &unicode {
            scratch.build(black_box(&m.text));
            black_box(&scratch.text);
        }
    });
    let needing = msgs.iter().filter(|m| needs_normalising(&m.text)).count();
    let out = serde_json::json!({
        "tool": "trygg-guard",
        "patterns": guard.pattern_count(),
        "messages": msgs.len(),
        "mean_bytes": bytes as f64 / msgs.len() as f64,
        "messages_per_sec": all_rate.0,
        "messages_per_sec_best": all_rate.1,
        "sms_per_sec": sms_rate.0,
        "sms_per_sec_best": sms_rate.1,
        "normalised_sms_per_sec": unicode_rate.0,
        "normalised_sms_per_sec_best": unicode_rate.1,
        "normalise_only_per_sec": normalise_rate.0,
        "messages_needing_normalisation": needing,
        "report": report,
    });
    println!("{out}");
}
