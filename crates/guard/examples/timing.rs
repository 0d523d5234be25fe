//! Development aid: how long screening takes for long hostile messages (many hits, one long
//! sentence, many sentences), to check that the cost grows with the length, not its square.
//! `cargo run --release -p trygg-guard --example timing`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;
use trygg_guard::{Channel, Context, Guard};

fn main() {
    let guard = Guard::builtin().expect("lists load");
    let ctx = Context::new().with_sender_name("Normland legesenter");
    let cases: Vec<(&str, String)> = vec![
        ("hiv x16k", "hiv ".repeat(16_000)),
        (
            "unit heads and organs",
            format!(
                "Avdeling for psykiatri øyeblikk senter {}",
                "hiv ".repeat(16_000)
            ),
        ),
        (
            "one policy sentence",
            format!("Har du {}må du avbestille", "vondt ".repeat(10_000)),
        ),
        ("many sentences", "Hiv. Prøven var fin. ".repeat(3_000)),
        ("numbers", "rom B12 kode T90 22 11 33 44 ".repeat(2_000)),
        ("sender name", "Normland legesenter astma ".repeat(2_500)),
        ("dotted codes", "A1.".repeat(21_000)),
        ("dotted diagnosis codes", "F32.1.".repeat(10_000)),
    ];
    for (name, text) in cases {
        let start = Instant::now();
        let s = guard.screen(Channel::Sms, &text, &ctx);
        println!(
            "{name:>24}: {:>6} bytes, {:>5} findings, {:?}",
            text.len(),
            s.findings.len(),
            start.elapsed()
        );
    }
}
