//! Development aid: screens every word of a word list (one per line, e.g. Debian's
//! `wnorwegian` `/usr/share/dict/bokmaal`) and prints, per matched span, how many words it flags
//! and a few of them, to find terms that also match ordinary words.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use trygg_guard::{Channel, Context, Guard};

fn main() {
    let path = std::env::args().nth(1).expect("usage: wordcheck WORDLIST");
    let text = std::fs::read_to_string(&path).expect("word list");
    let guard = Guard::builtin().expect("lists load");
    let ctx = Context::default();
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for w in text.lines() {
        let s = guard.screen(Channel::Sms, w, &ctx);
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
