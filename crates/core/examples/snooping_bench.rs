//! The snooping detector's benchmark (issue #16, `bench/snooping/run.sh`): a deterministic
//! synthetic hospital day (`trygg_core::snooping::workload`) judged by the detector, against a
//! peer run side by side on the same log: random sampling with the same review budget (what
//! hospitals do today), and, for speed, a plain pass that only counts each person's distinct
//! patients. Prints one JSON line: entries per minute, precision and recall per planted kind and
//! per reason, false alarms per 1,000 explained accesses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use trygg_core::snooping::workload::{hospital, Plant, Rng};
use trygg_core::snooping::{day, Reason, Settings};

fn hour(t: i64) -> usize {
    usize::try_from(t.rem_euclid(86_400) / 3600).unwrap_or(0)
}

fn main() {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let clinicians = args.first().copied().unwrap_or(2_000);
    let accesses = args.get(1).copied().unwrap_or(2_000_000);
    let w = hospital(42, clinicians, clinicians * 100, accesses, 20);
    let n = w.accesses.len() as f64;

    // The peer for speed: one pass counting distinct patients per person.
    let t = Instant::now();
    let mut plain: HashMap<u32, HashSet<u32>> = HashMap::new();
    for a in &w.accesses {
        plain.entry(a.actor).or_default().insert(a.patient);
    }
    let plain_s = t.elapsed().as_secs_f64();
    std::hint::black_box(&plain);

    let t = Instant::now();
    let d = day(
        &w.accesses,
        &w.facts,
        &w.baselines,
        Settings::default(),
        hour,
    );
    let detector_s = t.elapsed().as_secs_f64();

    let snoopers: HashMap<u32, Plant> = w.snoopers.iter().copied().collect();
    let expected = |p: Plant| match p {
        Plant::Colleague => Reason::Colleague,
        Plant::Relative => Reason::SameSurname,
        Plant::Celebrity => Reason::Protected,
        Plant::Spree => Reason::Spike,
    };
    let mut kinds = serde_json::Map::new();
    for p in [
        Plant::Colleague,
        Plant::Relative,
        Plant::Celebrity,
        Plant::Spree,
    ] {
        let planted: Vec<u32> = w
            .snoopers
            .iter()
            .filter(|s| s.1 == p)
            .map(|s| s.0)
            .collect();
        let found = planted
            .iter()
            .filter(|a| {
                d.cases
                    .iter()
                    .any(|c| c.actor == **a && c.reasons.contains(&expected(p)))
            })
            .count();
        let with_reason: Vec<_> = d
            .cases
            .iter()
            .filter(|c| c.reasons.contains(&expected(p)))
            .collect();
        let right = with_reason
            .iter()
            .filter(|c| snoopers.get(&c.actor) == Some(&p))
            .count();
        kinds.insert(
            format!("{p:?}"),
            serde_json::json!({
                "reason": format!("{:?}", expected(p)),
                "planted": planted.len(),
                "recall": found as f64 / planted.len().max(1) as f64,
                "precision": if with_reason.is_empty() { 0.0 } else { right as f64 / with_reason.len() as f64 },
            }),
        );
    }
    let false_alarms = d
        .cases
        .iter()
        .filter(|c| !snoopers.contains_key(&c.actor))
        .count();
    // The peer for finding: as many randomly sampled accesses as the detector raised cases.
    let budget = d.cases.len().max(1);
    let mut rng = Rng::new(7);
    let mut sampled = HashSet::new();
    for _ in 0..budget {
        let a = &w.accesses[rng.below(w.accesses.len() as u32) as usize];
        if snoopers.contains_key(&a.actor) {
            sampled.insert(a.actor);
        }
    }
    let all_found: HashSet<u32> = d
        .cases
        .iter()
        .filter(|c| snoopers.contains_key(&c.actor))
        .map(|c| c.actor)
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "entries": w.accesses.len(),
            "clinicians": clinicians,
            "entries_per_minute": n / detector_s * 60.0,
            "plain_entries_per_minute": n / plain_s * 60.0,
            "ratio_to_plain": plain_s / detector_s,
            "explained": d.explained,
            "unexplained": d.unexplained,
            "cases": d.cases.len(),
            "false_alarms": false_alarms,
            "false_alarms_per_1000_explained": false_alarms as f64 * 1000.0 / d.explained.max(1) as f64,
            "snoopers": snoopers.len(),
            "snoopers_found": all_found.len(),
            "sampling_snoopers_found": sampled.len(),
            "review_budget": budget,
            "per_kind": kinds,
        })
    );
}
