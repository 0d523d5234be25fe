//! Development aid: screens the dev corpus's SMS in a loop for a few seconds (for a profiler).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::hint::black_box;
use std::time::{Duration, Instant};
use trygg_guard::eval::parse_jsonl;
use trygg_guard::{Channel, Context, Guard};
fn main() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/corpus/guard-dev.jsonl"
    ))
    .unwrap();
    let msgs = parse_jsonl(&text).unwrap();
    let guard = Guard::builtin().unwrap();
    let ctx = Context::default();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(3) {
        for m in msgs.iter().filter(|m| m.channel == Channel::Sms) {
            black_box(guard.screen(m.channel, &m.text, &ctx));
            n += 1;
        }
    }
    println!("{:.0} SMS/s", n as f64 / start.elapsed().as_secs_f64());
}
