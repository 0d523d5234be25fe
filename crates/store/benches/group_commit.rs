//! Durable audited appends under concurrency (issue #8), side by side in one run with two peers
//! on the same disk: (a) a plain SQLite insert of the same event bytes committed one per fsync,
//! and (b) plain SQLite inserts batched per fsync by a committer that takes whatever is waiting
//! (the practical ceiling). For 1, 16 and 256 writers on one organisation and on ten; every
//! operation is answered only when durable (WAL, `synchronous = FULL`). Prints one JSON object;
//! `bench/store/run.sh` turns it into `bench/RESULTS.md`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions as _, Connection as _, SqliteConnection};
use tokio::sync::{mpsc, oneshot, Mutex};
use trygg_core::OrgSlug;
use trygg_store::{MasterKey, OrgStore, Store, StoreConfig};

fn seconds() -> f64 {
    std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0)
}

/// What one scenario measured.
struct Run {
    ops: u64,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Run {
    fn json(&self) -> String {
        format!(
            "{{\"per_s\":{:.0},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"ops\":{}}}",
            self.ops as f64 / self.secs,
            self.p50_ms,
            self.p99_ms,
            self.ops
        )
    }
}

/// Runs `writers` tasks for the configured time, each calling `op(writer index)` in a loop, and
/// collects every operation's latency.
async fn drive<F, Fut>(writers: usize, op: F) -> Run
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(seconds());
    let mut tasks = Vec::new();
    for w in 0..writers {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < until {
                let t = Instant::now();
                op(w).await;
                lat.push(t.elapsed().as_micros() as u32);
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    Run {
        ops: all.len() as u64,
        secs,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

async fn open_plain(path: &Path) -> SqliteConnection {
    let mut c = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .connect()
        .await
        .unwrap();
    sqlx::query("CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, event BLOB NOT NULL)")
        .execute(&mut c)
        .await
        .unwrap();
    c
}

/// Peer (a): each insert its own transaction, one fsync each; writers of one database take
/// turns on its connection.
async fn peer_per_fsync(dir: &Path, orgs: usize, writers: usize, bytes: Arc<Vec<u8>>) -> Run {
    let mut conns = Vec::new();
    for i in 0..orgs {
        conns.push(Arc::new(Mutex::new(
            open_plain(&dir.join(format!("peer-a-{writers}-{i}.sqlite"))).await,
        )));
    }
    drive(writers, move |w| {
        let c = conns[w % conns.len()].clone();
        let bytes = bytes.clone();
        async move {
            let mut c = c.lock().await;
            let mut tx = c.begin().await.unwrap();
            sqlx::query("INSERT INTO log (event) VALUES (?)")
                .bind(bytes.as_slice())
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    })
    .await
}

/// Peer (b): writers hand their row to a committer per database, which inserts whatever is
/// waiting in one transaction (one fsync) and then answers them all.
async fn peer_batched(dir: &Path, orgs: usize, writers: usize, bytes: Arc<Vec<u8>>) -> Run {
    let mut senders = Vec::new();
    for i in 0..orgs {
        let (tx, mut rx) = mpsc::channel::<oneshot::Sender<()>>(4096);
        let mut c = open_plain(&dir.join(format!("peer-b-{writers}-{i}.sqlite"))).await;
        let bytes = bytes.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut waiting = vec![first];
                while let Ok(more) = rx.try_recv() {
                    waiting.push(more);
                }
                let mut t = c.begin().await.unwrap();
                for chunk in waiting.chunks(32) {
                    let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO log (event) ");
                    q.push_values(chunk, |mut b, _| {
                        b.push_bind(bytes.as_slice());
                    });
                    q.build().execute(&mut *t).await.unwrap();
                }
                t.commit().await.unwrap();
                for w in waiting {
                    let _ = w.send(());
                }
            }
        });
        senders.push(tx);
    }
    drive(writers, move |w| {
        let s = senders[w % senders.len()].clone();
        async move {
            let (tx, rx) = oneshot::channel();
            s.send(tx).await.unwrap();
            rx.await.unwrap();
        }
    })
    .await
}

/// Trygg: each operation is a unit that appends one audit event and commits (durable, in the
/// Merkle tree, under a signed checkpoint copied to the control database).
async fn trygg(store: &Store, tag: &str, orgs: usize, writers: usize) -> Run {
    let mut handles: Vec<(Arc<OrgStore>, trygg_audit::AuditEvent)> = Vec::new();
    for i in 0..orgs {
        let slug = OrgSlug::parse(&format!("{tag}{i}")).unwrap();
        let org = store
            .create_org(&slug, "Bench", time::OffsetDateTime::now_utc())
            .await
            .unwrap();
        let mut event = trygg_audit::testing::sample_event(1_800_000_000_000, "p-1").unwrap();
        event.agent.organisation = Some(slug);
        handles.push((store.org(&org).await.unwrap(), event));
    }
    let handles = Arc::new(handles);
    drive(writers, move |w| {
        let handles = handles.clone();
        async move {
            let (h, event) = &handles[w % handles.len()];
            let mut tx = h.begin().await.unwrap();
            tx.audit(event).await.unwrap();
            tx.commit().await.unwrap();
        }
    })
    .await
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut sample = trygg_audit::testing::sample_event(1_800_000_000_000, "p-1").unwrap();
        sample.agent.organisation = Some(OrgSlug::parse("bench").unwrap());
        let bytes = Arc::new(sample.to_canonical().unwrap());
        let mut rows = Vec::new();
        let (mut batches, mut units) = (0u64, 0u64);
        for orgs in [1usize, 10] {
            for writers in [1usize, 16, 256] {
                // BENCH_ONLY=trygg:1x256 runs one system and case (for profiling).
                let only = std::env::var("BENCH_ONLY").ok();
                if only.as_deref().is_some_and(|o| o != format!("trygg:{orgs}x{writers}")) {
                    continue;
                }
                let tag = format!("o{orgs}w{writers}x");
                // Each case on a store of its own, as the peers get files of their own.
                let case = dir.path().join(&tag);
                let store = open_store(&case).await;
                let t = trygg(&store, &tag, orgs, writers).await;
                let st = store.write_stats().await;
                store.close().await;
                batches += st.batches;
                units += st.units;
                if only.is_some() {
                    eprintln!(
                        "trygg {:.0}/s p99 {:.2} ms; {} batches, {:.0} units per batch, {:.0} us per commit",
                        t.ops as f64 / t.secs,
                        t.p99_ms,
                        st.batches,
                        st.units as f64 / st.batches.max(1) as f64,
                        st.commit_latency_us_sum as f64 / st.batches.max(1) as f64
                    );
                    continue;
                }
                let a = peer_per_fsync(dir.path(), orgs, writers, bytes.clone()).await;
                let b = peer_batched(dir.path(), orgs, writers, bytes.clone()).await;
                eprintln!(
                    "orgs {orgs} writers {writers}: trygg {:.0}/s p99 {:.2} ms, per-fsync {:.0}/s, batched {:.0}/s",
                    t.ops as f64 / t.secs,
                    t.p99_ms,
                    a.ops as f64 / a.secs,
                    b.ops as f64 / b.secs
                );
                rows.push(format!(
                    "{{\"orgs\":{orgs},\"writers\":{writers},\"trygg\":{},\"peer_per_fsync\":{},\"peer_batched\":{}}}",
                    t.json(),
                    a.json(),
                    b.json()
                ));
            }
        }
        println!(
            "{{\"seconds\":{},\"rows\":[{}],\"batches\":{},\"units\":{}}}",
            seconds(),
            rows.join(","),
            batches,
            units
        );
    });
}

/// A fresh store in `dir`.
async fn open_store(dir: &Path) -> Store {
    std::fs::create_dir_all(dir).unwrap();
    let (key, _) = MasterKey::load_or_generate(&dir.join("master.key")).unwrap();
    let (audit_key, _) =
        trygg_store::audit::load_or_generate_signing_key(&dir.join("audit.key")).unwrap();
    Store::open(
        &StoreConfig {
            data_dir: dir.join("data"),
            audit_host: "bench.local".into(),
            write_queue: 4096,
            open: trygg_store::OpenLimits::default(),
            notice_keep: time::Duration::days(30),
        },
        key,
        audit_key,
    )
    .await
    .unwrap()
}
