//! Open on use (issue #18, PC-VENDOR-4 at a vendor's scale): organisations are opened by their
//! first request and closed when idle or to make room, the bound on open organisations and on
//! their file descriptors holds under requests to more organisations than it allows, an
//! organisation closed for idleness reopens transparently mid-traffic, and a closed
//! organisation is visited by a background job only when the job is due there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use trygg_store::{Job, OpenLimits, Organisation, Store, StoreError, FILES_PER_ORG};

mod support;

async fn store(dir: &std::path::Path, max_open: usize, idle: Duration) -> Store {
    support::store_with(
        dir,
        trygg_store::DEFAULT_WRITE_QUEUE,
        OpenLimits { max_open, idle },
    )
    .await
}

/// The descriptors this process holds on files of `dir`'s organisations (other tests' files
/// are elsewhere, so they do not count).
fn org_descriptors(dir: &std::path::Path) -> usize {
    let orgs = dir.join("orgs");
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(&orgs))
        .count()
}

/// Waits up to five seconds for the descriptors on `dir`'s organisations to go (sqlx closes a
/// connection's file on its worker thread, a moment after the close returns); returns how many
/// are left.
async fn descriptors_after_closing(dir: &std::path::Path) -> usize {
    let until = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let n = org_descriptors(dir);
        if n == 0 || std::time::Instant::now() >= until {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One request's worth of work: a patient registered, with its audit entry.
async fn register(s: &Store, o: &Organisation, i: u32) {
    let h = s.org(o).await.unwrap();
    let mut tx = h.begin().await.unwrap();
    tx.create_patient(&support::patient(i), support::now())
        .await
        .unwrap();
    tx.audit(&support::event(o.slug.as_str(), "p-1"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn patients(s: &Store, o: &Organisation) -> usize {
    let h = s.org(o).await.unwrap();
    let mut tx = h.begin().await.unwrap();
    let n = tx.list_patients().await.unwrap().len();
    drop(tx);
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_bound_holds_under_requests_to_more_organisations_than_it_allows() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(store(dir.path(), 3, Duration::from_secs(60)).await);
    let mut orgs = Vec::new();
    for i in 0..10 {
        orgs.push(support::org(&s, &format!("org-{i}")).await);
    }
    // Creating them opened none.
    assert_eq!(s.open_stats().open, 0);
    assert_eq!(descriptors_after_closing(dir.path()).await, 0);
    let bound = 3 * FILES_PER_ORG;
    // One after another, three rounds over all ten: never more than three open.
    for round in 0..3u32 {
        for o in &orgs {
            register(&s, o, round).await;
            let open = s.open_stats().open;
            assert!(open <= 3, "{open} open");
            let fds = org_descriptors(dir.path());
            assert!(fds <= bound, "{fds} descriptors, bound {bound}");
        }
    }
    // Twenty callers at once, spread over all ten: each waits for room, none fails.
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..20u32 {
        let (s, orgs) = (s.clone(), orgs.clone());
        tasks.spawn(async move {
            for k in 0..5u32 {
                let o = &orgs[((t + k) % 10) as usize];
                register(&s, o, 100 + t * 5 + k).await;
            }
        });
    }
    let watcher = {
        let (s, path) = (s.clone(), dir.path().to_owned());
        tokio::spawn(async move {
            let mut most = (0, 0);
            for _ in 0..400 {
                most.0 = most.0.max(s.open_stats().open);
                most.1 = most.1.max(org_descriptors(&path));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            most
        })
    };
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let (most_open, most_fds) = watcher.await.unwrap();
    assert!(most_open <= 3, "{most_open} open at once");
    assert!(most_fds <= bound, "{most_fds} descriptors at once");
    let stats = s.open_stats();
    assert!(stats.closed >= 7, "{stats:?}");
    assert_eq!(stats.refused, 0, "{stats:?}");
    // Nothing was lost in the closing and reopening: 3 + 10 patients in each.
    for o in &orgs {
        assert_eq!(patients(&s, o).await, 13, "{}", o.slug);
        let h = s.org(o).await.unwrap();
        assert!(h.verify_audit_at(support::now()).await.unwrap().is_ok());
    }
    s.close().await;
    assert_eq!(
        descriptors_after_closing(dir.path()).await,
        0,
        "closed at shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_organisation_closed_for_idleness_reopens_transparently_mid_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(store(dir.path(), 8, Duration::from_millis(30)).await);
    let o = support::org(&s, "idle").await;
    register(&s, &o, 0).await;
    assert!(s.is_open(&o));
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(s.close_idle().await, 1);
    assert!(!s.is_open(&o));
    assert_eq!(
        org_descriptors(dir.path()),
        0,
        "an idle organisation holds no file"
    );
    // Traffic with pauses longer than the idle time, while the closer runs all along.
    let closer = {
        let s = s.clone();
        tokio::spawn(async move {
            loop {
                s.close_idle().await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    for i in 1..=40u32 {
        register(&s, &o, i).await;
        if i % 4 == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    closer.abort();
    let stats = s.open_stats();
    assert!(
        stats.closed >= 5,
        "it should have been closed mid-traffic: {stats:?}"
    );
    assert_eq!(patients(&s, &o).await, 41);
    let h = s.org(&o).await.unwrap();
    assert!(h.verify_audit_at(support::now()).await.unwrap().is_ok());
}

#[tokio::test]
async fn when_every_open_organisation_is_in_use_the_next_waits_then_is_told_busy() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(store(dir.path(), 1, Duration::from_secs(60)).await);
    let a = support::org(&s, "a").await;
    let b = support::org(&s, "b").await;
    let held = s.org(&a).await.unwrap();
    // B waits for room while A is in use...
    let waiting = {
        let (s, b) = (s.clone(), b.clone());
        tokio::spawn(async move { s.org(&b).await.map(|_| ()) })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "B must wait while A is in use");
    // ...and gets it once A is let go (A is then closed to make room).
    drop(held);
    waiting.await.unwrap().unwrap();
    assert!(!s.is_open(&a));
    // Held for longer than a caller waits: told the store is busy, nothing opened.
    let held = s.org(&b).await.unwrap();
    let r = s.org(&a).await;
    assert!(matches!(r, Err(StoreError::AllInUse)), "{r:?}");
    assert_eq!(s.open_stats().refused, 1);
    assert!(!s.is_open(&a));
    drop(held);
    register(&s, &a, 1).await;
}

#[tokio::test]
async fn a_closed_organisation_is_visited_by_a_job_only_when_it_is_due() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), 4, Duration::from_millis(1)).await;
    let o = support::org(&s, "jobs").await;
    let ids = |v: Vec<Organisation>| v.into_iter().map(|o| o.id).collect::<Vec<_>>();
    let now = support::now();
    let later = now + time::Duration::hours(2);
    // Never opened: no job has anything to do there.
    assert!(s.job_orgs(Job::Notices, now, 10).await.unwrap().is_empty());

    // Opened: every job visits it while it is open.
    let h = s.org(&o).await.unwrap();
    assert_eq!(ids(s.job_orgs(Job::Watch, now, 10).await.unwrap()), [o.id]);
    // The notice job found its next notice an hour away; nothing was committed after.
    h.job_visited(
        Job::Notices,
        h.generation(),
        Some(now + time::Duration::hours(1)),
    );
    h.job_visited(Job::Messages, h.generation(), None);
    h.job_visited(Job::Watch, h.generation(), None);
    drop(h);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(s.close_idle().await, 1);
    // Closed: the notice job comes back when its notice is due, not before; the others not at
    // all; the calendar jobs, which never visited, a day after the creation.
    assert!(s.job_orgs(Job::Notices, now, 10).await.unwrap().is_empty());
    assert_eq!(
        ids(s.job_orgs(Job::Notices, later, 10).await.unwrap()),
        [o.id]
    );
    assert!(s
        .job_orgs(Job::Messages, later, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(s.job_orgs(Job::Watch, later, 10).await.unwrap().is_empty());
    let next_day = now + time::Duration::days(1) + time::Duration::minutes(1);
    assert!(s
        .job_orgs(Job::Retention, now, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ids(s.job_orgs(Job::Retention, next_day, 10).await.unwrap()),
        [o.id]
    );
    s.set_job_wake(&o, Job::Retention, Some(next_day + time::Duration::days(1)))
        .await
        .unwrap();
    assert!(s
        .job_orgs(Job::Retention, next_day, 10)
        .await
        .unwrap()
        .is_empty());

    // Committed after the job's visit: an ordinary access leaves the watcher nothing to do...
    let h = s.org(&o).await.unwrap();
    h.job_visited(Job::Watch, h.generation(), None);
    drop(h);
    register(&s, &o, 1).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(s.close_idle().await, 1);
    assert!(s.job_orgs(Job::Watch, later, 10).await.unwrap().is_empty());
    // ...a security event makes it due at once after the close.
    let h = s.org(&o).await.unwrap();
    h.job_visited(Job::Watch, h.generation(), None);
    let mut tx = h.begin().await.unwrap();
    let mut e = support::event("jobs", "p-1");
    e.category = trygg_audit::Category::Security(trygg_audit::SecurityKind::FailedLogin);
    tx.audit(&e).await.unwrap();
    tx.commit().await.unwrap();
    drop(h);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(s.close_idle().await, 1);
    assert_eq!(ids(s.job_orgs(Job::Watch, now, 10).await.unwrap()), [o.id]);
    // A job's visit does not count as use: it opens the organisation and lets it close; with
    // nothing committed meanwhile, the jobs need it as they did before.
    let h = s.org_for_job(&o).await.unwrap();
    drop(h);
    assert_eq!(s.close_idle().await, 1);
    assert_eq!(ids(s.job_orgs(Job::Watch, now, 10).await.unwrap()), [o.id]);
    let h = s.org_for_job(&o).await.unwrap();
    h.job_visited(Job::Watch, h.generation(), None);
    drop(h);
    assert_eq!(s.close_idle().await, 1);
    assert!(s.job_orgs(Job::Watch, later, 10).await.unwrap().is_empty());
    let h = s.org_for_job(&o).await.unwrap();
    drop(h);
    assert_eq!(s.close_idle().await, 1);
    assert!(s.job_orgs(Job::Watch, later, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_job_finds_the_closed_organisations_due_however_many_are_open() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), 8, Duration::from_secs(60)).await;
    let now = support::now();
    let due = support::org(&s, "due").await;
    let h = s.org(&due).await.unwrap();
    h.job_visited(
        Job::Notices,
        h.generation(),
        Some(now - time::Duration::hours(1)),
    );
    drop(h);
    s.close_org(&due).await;
    assert!(!s.is_open(&due));
    // Three others open, each marked due at once while it is open: they do not use up the
    // job's allowance for closed ones.
    let mut held = Vec::new();
    for i in 0..3 {
        let o = support::org(&s, &format!("open-{i}")).await;
        held.push(s.org(&o).await.unwrap());
    }
    let orgs = s.job_orgs(Job::Notices, now, 1).await.unwrap();
    assert_eq!(orgs.len(), 4, "{orgs:?}");
    assert!(orgs.iter().any(|o| o.id == due.id), "{orgs:?}");

    // An organisation whose database does not open is not marked due by the attempt.
    let broken = support::org(&s, "broken").await;
    std::fs::write(
        dir.path()
            .join("orgs")
            .join(format!("{}.sqlite", broken.id)),
        b"not a database, not at all, not even close to one",
    )
    .unwrap();
    assert!(s.org(&broken).await.is_err());
    assert!(!s.is_open(&broken));
    let later = now + time::Duration::days(365);
    assert!(!s
        .job_orgs(Job::Watch, later, 100)
        .await
        .unwrap()
        .iter()
        .any(|o| o.id == broken.id));
}
