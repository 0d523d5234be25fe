//! Throughput of the audit log's pure parts: appends (canonical encoding, salted commitment,
//! frontier update) with and without a signed checkpoint per append, proof verification, checkpoint
//! verification and whole-log verification. Durable commits are measured in `trygg-store`.
//!
//! Run with `cargo bench -p trygg-audit`. `AUDIT_BENCH_N` sets the log size (default 100 000).

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use trygg_audit::merkle::{self, MemoryNodes};
use trygg_audit::testing::sample_event;
use trygg_audit::{
    verify_log, LogWriter, SignedCheckpoint, Signer, StoredCheckpoint, VerifyOptions,
};

const ORIGIN: &str = "trygg.local/audit/bench";

fn report(what: &str, n: u64, took: Duration) {
    let per_sec = n as f64 / took.as_secs_f64();
    let us = took.as_secs_f64() * 1e6 / n as f64;
    println!("{what:<52} {per_sec:>12.0} /s  {us:>8.2} µs each  (n = {n})");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::var("AUDIT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rng = SystemRandom::new();
    let signer = Signer::from_pkcs8(ORIGIN, &Signer::generate_pkcs8(&rng)?)?;
    let keys = [signer.verifying_key()];
    let events: Vec<_> = (0..1000)
        .map(|i| sample_event(1_700_000_000_000 + i, &format!("p-{i}")))
        .collect::<Option<_>>()
        .ok_or("sample event")?;

    // Appends without signing: encoding, random salt, commitment, frontier, node list.
    let mut w = LogWriter::new(ORIGIN)?;
    let mut rows = Vec::with_capacity(n as usize);
    let mut nodes = MemoryNodes::new();
    let t = Instant::now();
    for i in 0..n {
        let a = w.append(&events[(i % 1000) as usize], &rng)?;
        nodes.extend(a.nodes);
        rows.push(a.row);
    }
    report("append (no checkpoint)", n, t.elapsed());
    let mut cps = vec![StoredCheckpoint::from(&w.checkpoint(&signer)?)];

    // Appends with a signed checkpoint each (one append per commit).
    let m = n.min(20_000);
    let mut w2 = LogWriter::new(ORIGIN)?;
    let t = Instant::now();
    for i in 0..m {
        let a = w2.append(&events[(i % 1000) as usize], &rng)?;
        black_box(a);
        black_box(w2.checkpoint(&signer)?);
    }
    report("append + signed checkpoint per append", m, t.elapsed());

    // Checkpoint parse + signature verification.
    let text = cps[0].text.clone();
    let t = Instant::now();
    for _ in 0..m {
        let c = SignedCheckpoint::parse(black_box(&text))?;
        c.verify(&keys)?;
    }
    report("checkpoint parse + Ed25519 verify", m, t.elapsed());

    // Inclusion proofs against the final root.
    let root = w.root();
    let k = 20_000u64;
    let proofs: Vec<_> = (0..k)
        .map(|i| {
            let idx = (i * 7919) % n;
            merkle::inclusion_proof(&nodes, idx, n).map(|p| (idx, p))
        })
        .collect::<Result<_, _>>()?;
    let t = Instant::now();
    for _ in 0..k {
        let idx = (black_box(123_457u64)) % n;
        black_box(merkle::inclusion_proof(&nodes, idx, n)?);
    }
    report(
        "inclusion proof generation (in-memory nodes)",
        k,
        t.elapsed(),
    );
    let t = Instant::now();
    for (idx, p) in &proofs {
        let leaf = rows[*idx as usize].leaf_hash();
        merkle::verify_inclusion(&leaf, *idx, n, p, &root)?;
    }
    report("inclusion proof verification", k, t.elapsed());

    // Consistency proofs from random older sizes to the final size.
    let old_roots: Vec<_> = (0..k)
        .map(|i| {
            let old = 1 + (i * 104_729) % n;
            let r = rows[(old - 1) as usize].root_after;
            merkle::consistency_proof(&nodes, old, n).map(|p| (old, r, p))
        })
        .collect::<Result<_, _>>()?;
    let t = Instant::now();
    for (old, r, p) in &old_roots {
        merkle::verify_consistency(*old, n, r, &root, p)?;
    }
    report("consistency proof verification", k, t.elapsed());

    // Whole-log verification, as `trygg audit verify` does it (one checkpoint at the end).
    let t = Instant::now();
    let s = verify_log(ORIGIN, &keys, &rows, cps.clone(), VerifyOptions::default())?;
    report(
        "verify log (payload + root per entry)",
        s.entries,
        t.elapsed(),
    );

    // The same with a checkpoint per entry.
    cps.clear();
    let mut w3 = LogWriter::new(ORIGIN)?;
    let mut rows3 = Vec::with_capacity(m as usize);
    for i in 0..m {
        let a = w3.append(&events[(i % 1000) as usize], &rng)?;
        rows3.push(a.row);
        cps.push(StoredCheckpoint::from(&w3.checkpoint(&signer)?));
    }
    let t = Instant::now();
    let s = verify_log(ORIGIN, &keys, &rows3, cps, VerifyOptions::default())?;
    report(
        "verify log with a checkpoint per entry",
        s.entries,
        t.elapsed(),
    );
    Ok(())
}
