//! Development aid: screens each line of standard input as an SMS and prints the verdict, the
//! reasons and the flagged spans.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::BufRead;
use trygg_guard::{Channel, Context, Guard};

fn main() {
    let guard = Guard::builtin().expect("lists load");
    let ctx = Context::default();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("utf-8 input");
        let s = guard.screen(Channel::Sms, &line, &ctx);
        let spans: Vec<&str> = s
            .findings
            .iter()
            .map(|f| line.get(f.start..f.end).unwrap_or("?"))
            .collect();
        println!("{:?} {:?} {spans:?} | {line}", s.verdict, s.reasons);
    }
}
