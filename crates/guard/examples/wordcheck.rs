//! Development aid: screens every word of a word list (one per line, UTF-8, e.g. Debian's
//! `wnorwegian` `/usr/share/dict/bokmaal` converted with `iconv -f latin1 -t utf-8`) and prints,
//! per matched span, how many words it flags and a few of them, to find terms that also match
//! ordinary words. With `--words` it prints every flagged word and its reasons instead, one per
//! line, so that two versions of the lists can be compared with `comm`.
//!
//! `cargo run --release -p trygg-guard --example wordcheck -- [--words] WORDLIST`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use trygg_guard::{Channel, Context, Guard};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words_only = args.iter().any(|a| a == "--words");
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .expect("usage: wordcheck [--words] WORDLIST");
    let text = std::fs::read_to_string(path).expect("word list");
    let guard = Guard::builtin().expect("lists load");
    let ctx = Context::default();
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for w in text.lines() {
        let s = guard.screen(Channel::Sms, w, &ctx);
        if words_only {
            if !s.findings.is_empty() {
                let r: Vec<String> = s.reasons.iter().map(|r| r.to_string()).collect();
                println!("{w}\t{}", r.join(","));
            }
            continue;
        }
        for f in &s.findings {
            let span = w.get(f.start..f.end).unwrap_or("").to_lowercase();
            groups
                .entry(format!("{} {}", f.reason, span))
                .or_default()
                .push(w.to_string());
        }
    }
    for (k, words) in groups {
        let sample: Vec<&String> = words.iter().take(8).collect();
        println!("{:>6} {k}: {sample:?}", words.len());
    }
}
