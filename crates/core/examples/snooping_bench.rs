//! The snooping detector's benchmark (issue #16, `bench/snooping/run.sh`): a deterministic
//! synthetic hospital day (`trygg_core::snooping::workload`, one planted kind per rule, with
//! innocent look-alikes of each) judged by the detector, against a peer run side by side on the
//! same log: random sampling with the same review budget (what hospitals do today), and, for
//! speed, a plain pass that only counts each person's distinct patients. Prints one JSON line:
//! entries per minute, per rule the recall (planted snoopers of its kind found with its reason)
//! and precision (cases with its reason whose person is a planted snooper), false alarms per
//! 1,000 explained accesses, and the look-alikes that got a case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use trygg_core::snooping::workload::{hospital, Plant, Rng};
use trygg_core::snooping::{day, Case, Reason, Settings};

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
    let with =
        |r: Reason| -> Vec<&Case> { d.cases.iter().filter(|c| c.reasons.contains(&r)).collect() };
    let precision = |cases: &[&Case]| {
        let right = cases
            .iter()
            .filter(|c| snoopers.contains_key(&c.actor))
            .count();
        if cases.is_empty() {
            0.0
        } else {
            right as f64 / cases.len() as f64
        }
    };
    let mut kinds = Vec::new();
    for p in Plant::ALL {
        let planted: Vec<u32> = w
            .snoopers
            .iter()
            .filter(|s| s.1 == p)
            .map(|s| s.0)
            .collect();
        let cases = with(p.reason());
        let found = planted
            .iter()
            .filter(|a| cases.iter().any(|c| c.actor == **a))
            .count();
        kinds.push(serde_json::json!({
            "kind": format!("{p:?}"),
            "reason": format!("{:?}", p.reason()),
            "planted": planted.len(),
            "recall": found as f64 / planted.len().max(1) as f64,
            "precision": precision(&cases),
            "cases": cases.len(),
        }));
    }
    // What is left when no rule applies: no plant of its own, never a case alone.
    let cases = with(Reason::Unexplained);
    kinds.push(serde_json::json!({
        "kind": "–",
        "reason": "Unexplained",
        "planted": null,
        "recall": null,
        "precision": if cases.is_empty() { serde_json::Value::Null } else { precision(&cases).into() },
        "cases": cases.len(),
    }));
    let false_alarms = d
        .cases
        .iter()
        .filter(|c| !snoopers.contains_key(&c.actor))
        .count();
    let lookalikes: HashSet<u32> = w.lookalikes.iter().map(|l| l.0).collect();
    let lookalikes_alerting = lookalikes
        .iter()
        .filter(|l| d.cases.iter().any(|c| c.actor == **l))
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
            "lookalikes": lookalikes.len(),
            "lookalikes_alerting": lookalikes_alerting,
            "sampling_snoopers_found": sampled.len(),
            "review_budget": budget,
            "per_kind": kinds,
        })
    );
}
