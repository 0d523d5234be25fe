//! Audit appends with durable commits, side by side with a plain durable SQLite insert of the same
//! event bytes (the peer: what logging costs without the Merkle tree, the checkpoint signature and
//! the copy to the control database), plus inclusion-proof verification. Prints one JSON object;
//! `bench/audit/run.sh` turns it into `bench/RESULTS.md`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use sqlx::Connection as _;
use trygg_core::OrgSlug;
use trygg_store::{MasterKey, Store, StoreConfig};

const SECONDS: f64 = 3.0;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = MasterKey::load_or_generate(&dir.path().join("master.key")).unwrap();
    let (audit_key, _) =
        trygg_store::audit::load_or_generate_signing_key(&dir.path().join("audit.key")).unwrap();
    let store = Store::open(
        &StoreConfig {
            data_dir: dir.path().to_owned(),
            audit_host: "bench.local".into(),
            write_queue: trygg_store::DEFAULT_WRITE_QUEUE,
            open: trygg_store::OpenLimits::default(),
            notice_keep: time::Duration::days(30),
        },
        key,
        audit_key,
    )
    .await
    .unwrap();
    let org = store
        .create_org(
            &OrgSlug::parse("bench").unwrap(),
            "Bench",
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    let h = store.org(&org).await.unwrap();
    let mut event = trygg_audit::testing::sample_event(1_800_000_000_000, "p-1").unwrap();
    event.agent.organisation = Some(org.slug.clone());
    let bytes = event.to_canonical().unwrap();

    // Trygg: one audited commit per event (the default: a checkpoint signed in every commit).
    let start = Instant::now();
    let mut trygg_n = 0u64;
    while start.elapsed() < Duration::from_secs_f64(SECONDS) {
        let mut tx = h.begin().await.unwrap();
        tx.audit(&event).await.unwrap();
        tx.commit().await.unwrap();
        trygg_n += 1;
    }
    let trygg_rate = trygg_n as f64 / start.elapsed().as_secs_f64();

    // Peer: the same bytes inserted into a plain table in WAL mode with synchronous = FULL, one
    // commit per row.
    let peer_path = dir.path().join("peer.sqlite");
    let mut c =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", peer_path.display()))
            .await
            .unwrap();
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query("PRAGMA synchronous = FULL")
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE log (seq INTEGER PRIMARY KEY, event BLOB NOT NULL)")
        .execute(&mut c)
        .await
        .unwrap();
    let start = Instant::now();
    let mut peer_n = 0u64;
    while start.elapsed() < Duration::from_secs_f64(SECONDS) {
        let mut tx = c.begin().await.unwrap();
        sqlx::query("INSERT INTO log (event) VALUES (?)")
            .bind(&bytes)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        peer_n += 1;
    }
    let peer_rate = peer_n as f64 / start.elapsed().as_secs_f64();

    // Whole-log verification rate over what Trygg wrote.
    let start = Instant::now();
    let sum = h
        .verify_audit_at(time::OffsetDateTime::now_utc())
        .await
        .unwrap()
        .unwrap();
    let verify_rate = sum.entries as f64 / start.elapsed().as_secs_f64();

    // Inclusion proofs: build and verify for every 7th entry, from an in-memory tree.
    let mut nodes = trygg_audit::MemoryNodes::new();
    let mut frontier = trygg_audit::Frontier::new();
    let mut leaves = Vec::new();
    for i in 0..100_000u32 {
        let leaf = trygg_audit::merkle::leaf_hash(&i.to_be_bytes());
        leaves.push(leaf);
        for n in frontier.append(leaf).unwrap() {
            nodes.insert(n);
        }
    }
    let size = frontier.size();
    let root = frontier.root();
    let proofs: Vec<_> = (0..size)
        .step_by(7)
        .map(|i| {
            (
                i,
                trygg_audit::merkle::inclusion_proof(&nodes, i, size).unwrap(),
            )
        })
        .collect();
    let start = Instant::now();
    let mut verified = 0u64;
    while start.elapsed() < Duration::from_secs_f64(SECONDS) {
        for (i, p) in &proofs {
            let ok =
                trygg_audit::merkle::verify_inclusion(&leaves[*i as usize], *i, size, p, &root);
            assert!(ok.is_ok());
            verified += 1;
        }
    }
    let proof_rate = verified as f64 / start.elapsed().as_secs_f64();

    println!(
        "{}",
        serde_json::json!({
            "trygg_audited_commits_per_s": trygg_rate,
            "peer_plain_commits_per_s": peer_rate,
            "ratio_trygg_to_peer": trygg_rate / peer_rate,
            "trygg_entries_written": trygg_n,
            "verify_entries_per_s": verify_rate,
            "inclusion_proofs_verified_per_s": proof_rate,
        })
    );
    store.close().await;
}
