//! Screens each line of standard input (or the arguments) and prints the screening as JSON.
//! `cargo run -p trygg-guard --example screen -- [--email] "text"`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::BufRead;
use trygg_guard::{Channel, Context, Guard};

fn main() {
    let guard = Guard::builtin().expect("built-in lists load");
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let channel = if args.first().map(String::as_str) == Some("--email") {
        args.remove(0);
        Channel::Email
    } else {
        Channel::Sms
    };
    let show = |t: &str| {
        let s = guard.screen(channel, t, &Context::default());
        let spans: Vec<String> = s
            .findings
            .iter()
            .map(|f| format!("{}:{:?}", f.reason, t.get(f.start..f.end).unwrap_or("")))
            .collect();
        println!(
            "{:<6} {} | {}",
            s.verdict.as_str(),
            spans.join(" "),
            t.replace('\n', "⏎")
        );
    };
    if args.is_empty() {
        for line in std::io::stdin().lock().lines() {
            show(&line.unwrap().replace("\\n", "\n"));
        }
    } else {
        for a in &args {
            show(a);
        }
    }
}
