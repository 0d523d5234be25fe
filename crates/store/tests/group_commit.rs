//! Group commit (issue #8) against real SQLite files: concurrent units share commits and one
//! checkpoint per batch, a failing unit rolls back alone, the queue is bounded, readers never wait
//! for the writer, an abandoned unit never keeps the write lock from another process, and the
//! log still verifies entry by entry (PC-VENDOR-3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection as _;
use trygg_store::{Store, StoreError};

mod support;

use support::{event, now, org, patient};

async fn store(dir: &std::path::Path, write_queue: usize) -> Store {
    support::store_with_queue(dir, write_queue).await
}

async fn verified_entries(h: &trygg_store::OrgStore) -> u64 {
    h.verify_audit_at(now())
        .await
        .unwrap()
        .expect("the log verifies")
        .entries
}

/// 120 concurrent units: every third writes a patient and then fails (dropped without commit),
/// every fifth of the rest writes a patient and forgets its audit entry (refused as unaudited);
/// the others commit. Exactly the committed units are there, each with its entry, and they
/// shared commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_units_share_commits_and_a_failing_unit_rolls_back_alone() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), 4096).await;
    let o = org(&s, "a").await;
    let h = s.org(&o).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..120u32 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = h.begin().await?;
            let p = tx.create_patient(&patient(i), now()).await?;
            if i % 3 == 0 {
                drop(tx);
                return Ok::<_, StoreError>(None);
            }
            if i % 5 != 0 {
                tx.audit(&event("a", &p.id.to_string())).await?;
            }
            tx.commit().await?;
            Ok(Some(p.id))
        }));
    }
    let mut committed = Vec::new();
    let mut unaudited = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(Some(id)) => committed.push(id),
            Ok(None) => assert_eq!(i % 3, 0),
            Err(StoreError::Unaudited) => {
                assert_eq!(i % 5, 0);
                unaudited += 1;
            }
            Err(e) => panic!("unit {i}: {e}"),
        }
    }
    assert_eq!(committed.len(), 64, "120 - 40 dropped - 16 unaudited");
    assert_eq!(unaudited, 16);
    // Exactly the committed patients are there, and the log has one entry for each.
    let mut tx = h.begin().await.unwrap();
    let mut listed: Vec<_> = tx
        .list_patients()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    tx.audit(&event("a", "p-list")).await.unwrap();
    tx.commit().await.unwrap();
    listed.sort();
    committed.sort();
    assert_eq!(listed, committed);
    let events = h.audit_events(None).await.unwrap();
    let mut logged: Vec<_> = events
        .iter()
        .filter_map(|(_, e)| e.patient.as_ref().map(|p| p.as_str().to_owned()))
        .filter(|p| p != "p-list")
        .collect();
    logged.sort();
    let committed_text: Vec<_> = committed.iter().map(|u| u.to_string()).collect();
    assert_eq!(logged, committed_text);
    assert_eq!(verified_entries(&h).await, 65);
    // They were grouped: fewer commits than units, and the counters add up.
    let stats = h.write_stats();
    assert_eq!(stats.entries, 65);
    assert_eq!(stats.queue_depth, 0);
    assert!(
        stats.batches < stats.units,
        "no grouping: {} batches for {} units",
        stats.batches,
        stats.units
    );
    assert!(
        stats.batch_size.iter().skip(1).sum::<u64>() > 0,
        "{stats:?}"
    );
    // One checkpoint per batch that appended, not one per unit.
    let text = h.audit_checkpoint().await.unwrap().unwrap();
    assert!(text.contains("\n65\n"), "{text}");
}

/// With a queue of 4, the fifth unit waiting is refused at once with `Overloaded`; the four
/// finish when the writer is free, and the refusal is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_write_queue_refuses_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), 4).await;
    let o = org(&s, "q").await;
    let h = s.org(&o).await.unwrap();
    // A unit that holds the write connection (it ran SQL), and three that wait for it.
    let mut held = h.begin().await.unwrap();
    held.create_patient(&patient(900), now()).await.unwrap();
    held.audit(&event("q", "p-held")).await.unwrap();
    let mut waiting = Vec::new();
    for i in 0..3 {
        let h = h.clone();
        waiting.push(tokio::spawn(async move {
            let mut tx = h.begin().await?;
            tx.create_patient(&patient(i), now()).await?;
            tx.audit(&event("q", &format!("p-{i}"))).await?;
            tx.commit().await
        }));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while h.write_stats().queue_depth < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the waiters never queued"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let refused = tokio::time::timeout(Duration::from_secs(1), h.begin())
        .await
        .expect("a full queue answers at once");
    assert!(matches!(refused, Err(StoreError::Overloaded)));
    held.commit().await.unwrap();
    for w in waiting {
        w.await.unwrap().unwrap();
    }
    let stats = h.write_stats();
    assert_eq!(stats.refused, 1);
    assert_eq!(stats.queue_depth, 0);
    assert_eq!(verified_entries(&h).await, 4);
}

/// Reading the log and verifying it use the pool's connections: they finish while a unit holds
/// the writer (and SQLite's write lock) open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_wait_for_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), 4096).await;
    let o = org(&s, "r").await;
    let h = s.org(&o).await.unwrap();
    let mut tx = h.begin().await.unwrap();
    tx.audit(&event("r", "p-1")).await.unwrap();
    tx.commit().await.unwrap();
    let mut open = h.begin().await.unwrap();
    open.create_patient(&patient(1), now()).await.unwrap();
    let read = tokio::time::timeout(Duration::from_secs(2), async {
        (
            h.audit_events(None).await.unwrap().len(),
            verified_entries(&h).await,
        )
    })
    .await
    .expect("reads do not wait for the writer");
    assert_eq!(read, (1, 1));
    drop(open);
}

/// A unit dropped without commit (as a cancelled request would) does not keep SQLite's write
/// lock: another process's store (the CLI) writes within the busy timeout, and the server's next
/// unit sees that entry and appends after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_unit_frees_the_write_lock_and_another_process_appends_between_batches() {
    let dir = tempfile::tempdir().unwrap();
    let server = store(dir.path(), 4096).await;
    let o = org(&server, "x").await;
    let hs = server.org(&o).await.unwrap();
    let mut tx = hs.begin().await.unwrap();
    tx.create_patient(&patient(2), now()).await.unwrap();
    tx.audit(&event("x", "p-abandoned")).await.unwrap();
    drop(tx);
    let cli = store(dir.path(), 4096).await;
    let hc = cli.org(&o).await.unwrap();
    let mut tx = tokio::time::timeout(Duration::from_secs(3), hc.begin())
        .await
        .expect("the abandoned unit's lock was freed")
        .unwrap();
    tx.audit(&event("x", "p-cli")).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = hs.begin().await.unwrap();
    tx.audit(&event("x", "p-server")).await.unwrap();
    tx.commit().await.unwrap();
    let patients: Vec<_> = hs
        .audit_events(None)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|(_, e)| e.patient.map(|p| p.as_str().to_owned()))
        .collect();
    assert_eq!(patients, ["p-cli", "p-server"]);
    assert_eq!(verified_entries(&hs).await, 2);
    cli.close().await;
}

/// Ten organisations written at once: each log verifies on its own and the control database
/// holds each one's latest head (the copies are coalesced, none is lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_organisations_keep_their_own_logs_and_heads() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(store(dir.path(), 4096).await);
    let mut handles = Vec::new();
    for i in 0..10 {
        let o = org(&s, &format!("org{i}")).await;
        handles.push((format!("org{i}"), s.org(&o).await.unwrap()));
    }
    let mut tasks = Vec::new();
    for (slug, h) in &handles {
        for j in 0..20 {
            let (slug, h) = (slug.clone(), h.clone());
            tasks.push(tokio::spawn(async move {
                let mut tx = h.begin().await?;
                tx.audit(&event(&slug, &format!("p-{j}"))).await?;
                tx.commit().await
            }));
        }
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    for (_, h) in &handles {
        // Verification compares the log with the head in the control database.
        assert_eq!(verified_entries(h).await, 20);
    }
    assert_eq!(s.write_stats().await.entries, 200);
}

/// Callers cancelled at any await (a client that goes away mid-request): whatever each unit got
/// to, the database holds whole units only (every patient with its entry, every entry with its
/// patient), the log verifies, and the writer goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_callers_never_leave_half_a_unit() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), 4096).await;
    let o = org(&s, "c").await;
    let h = s.org(&o).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let h = h.clone();
        let task = tokio::spawn(async move {
            let mut tx = h.begin().await?;
            let p = tx.create_patient(&patient(i), now()).await?;
            tokio::task::yield_now().await;
            tx.audit(&event("c", &p.id.to_string())).await?;
            tx.commit().await
        });
        tasks.push(task);
        if i % 2 == 0 {
            // Abort every other unit after a few scheduler turns, wherever it is by then.
            for _ in 0..(i % 7) {
                tokio::task::yield_now().await;
            }
            tasks.last().unwrap().abort();
        }
    }
    let mut ok = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(())) => ok += 1,
            Ok(Err(e)) => panic!("a unit that was not cancelled failed: {e}"),
            Err(e) => assert!(e.is_cancelled()),
        }
    }
    assert!(ok >= 100, "only {ok} units committed");
    assert!(ok < 200, "no unit was cancelled: the test tests nothing");
    let mut tx = h.begin().await.unwrap();
    let mut patients: Vec<String> = tx
        .list_patients()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id.to_string())
        .collect();
    tx.audit(&event("c", "p-list")).await.unwrap();
    tx.commit().await.unwrap();
    let mut logged: Vec<String> = h
        .audit_events(None)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|(_, e)| e.patient.map(|p| p.as_str().to_owned()))
        .filter(|p| p != "p-list")
        .collect();
    patients.sort();
    logged.sort();
    assert_eq!(patients, logged, "a unit was half-kept");
    assert!(patients.len() >= ok, "a committed unit is missing");
    assert_eq!(
        verified_entries(&h).await,
        u64::try_from(patients.len()).unwrap() + 1
    );
}

/// Two processes (the server and a CLI command) writing one organisation's log at once, each
/// with concurrent units, some with SQL: a batch built in memory on a head the other process has
/// since moved is appended again on the stored head, so nobody gets an error, nothing is lost,
/// and the log verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_writing_at_once_lose_nothing_and_fail_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let a = store(dir.path(), 4096).await;
    let o = org(&a, "two").await;
    let b = store(dir.path(), 4096).await;
    let (ha, hb) = (a.org(&o).await.unwrap(), b.org(&o).await.unwrap());
    let mut tasks = Vec::new();
    for i in 0..120u32 {
        let h = if i % 2 == 0 { ha.clone() } else { hb.clone() };
        tasks.push(tokio::spawn(async move {
            let mut tx = h.begin().await?;
            tx.audit(&event("two", &format!("p-{i}"))).await?;
            if i % 3 == 0 {
                // Some units also touch data, which begins their batch's transaction early.
                tx.create_patient(&patient(i), now()).await?;
            }
            tx.commit().await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let mut logged: Vec<String> = ha
        .audit_events(None)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|(_, e)| e.patient.map(|p| p.as_str().to_owned()))
        .collect();
    logged.sort();
    let mut expected: Vec<String> = (0..120).map(|i| format!("p-{i}")).collect();
    expected.sort();
    assert_eq!(logged, expected);
    assert_eq!(verified_entries(&ha).await, 120);
    assert_eq!(verified_entries(&hb).await, 120);
    b.close().await;
}

/// After concurrent units written in many batches, every entry's inclusion proof (built from the
/// stored tree nodes) verifies against the log's root, and every earlier tree (after each entry)
/// is proved consistent with the final one: the batch appends the same tree a unit at a time
/// would (issue #8, PC-VENDOR-3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_verify_for_every_entry_written_in_batches() {
    use sqlx::Row as _;
    use trygg_audit::merkle::{
        consistency_proof, inclusion_proof, verify_consistency, verify_inclusion,
    };
    use trygg_audit::{EntryRow, Hash, MemoryNodes, Node, NodeId, Timestamp};

    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), 4096).await;
    let o = org(&s, "proofs").await;
    let h = s.org(&o).await.unwrap();
    // Three waves of 50 concurrent units, so there are several batches of several units.
    for wave in 0..3u32 {
        let mut tasks = Vec::new();
        for i in wave * 50..(wave + 1) * 50 {
            let h = h.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = h.begin().await?;
                tx.audit(&event("proofs", &format!("p-{i}"))).await?;
                if i % 4 == 0 {
                    tx.audit(&event("proofs", &format!("q-{i}"))).await?;
                }
                tx.commit().await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    }
    let stats = h.write_stats();
    assert!(
        stats.batches >= 3 && stats.batches < stats.units,
        "several batches of several units: {stats:?}"
    );
    // Read the stored rows and nodes straight from the file.
    let file = dir.path().join("orgs").join(format!("{}.sqlite", o.id));
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    let rows = sqlx::query(
        "SELECT seq, commitment, recorded, retain_until, root_after FROM audit_entry ORDER BY seq",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    let mut leaves = Vec::new();
    let mut roots = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.get::<i64, _>("seq"), i64::try_from(i).unwrap());
        let row = EntryRow {
            seq: u64::try_from(i).unwrap(),
            commitment: Hash::from_slice(r.get::<&[u8], _>("commitment")).unwrap(),
            payload: None,
            root_after: Hash::from_slice(r.get::<&[u8], _>("root_after")).unwrap(),
            recorded: Timestamp::from_unix_millis(r.get("recorded")),
            retain_until: r
                .get::<Option<i64>, _>("retain_until")
                .map(Timestamp::from_unix_millis),
            patient: None,
        };
        leaves.push(row.leaf_hash());
        roots.push(row.root_after);
    }
    let size = u64::try_from(leaves.len()).unwrap();
    assert_eq!(size, 150 + 38);
    let mut nodes = MemoryNodes::new();
    for r in sqlx::query("SELECT level, idx, hash FROM audit_node")
        .fetch_all(&mut c)
        .await
        .unwrap()
    {
        nodes.insert(Node {
            id: NodeId {
                level: u8::try_from(r.get::<i64, _>("level")).unwrap(),
                index: u64::try_from(r.get::<i64, _>("idx")).unwrap(),
            },
            hash: Hash::from_slice(r.get::<&[u8], _>("hash")).unwrap(),
        });
    }
    let root = *roots.last().unwrap();
    for (i, leaf) in leaves.iter().enumerate() {
        let i = u64::try_from(i).unwrap();
        let proof = inclusion_proof(&nodes, i, size).unwrap();
        verify_inclusion(leaf, i, size, &proof, &root)
            .unwrap_or_else(|e| panic!("inclusion of entry {i}: {e:?}"));
        let old = i + 1;
        let proof = consistency_proof(&nodes, old, size).unwrap();
        verify_consistency(
            old,
            size,
            &roots[usize::try_from(i).unwrap()],
            &root,
            &proof,
        )
        .unwrap_or_else(|e| panic!("consistency from size {old}: {e:?}"));
    }
}
