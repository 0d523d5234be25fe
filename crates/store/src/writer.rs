//! Group commit for one organisation's database (issue #8): many units of work, one durable
//! commit, each unit's audit entries committed with its data or not at all (PC-VENDOR-3). Each
//! [`crate::OrgTx`] is a unit: it runs on the organisation's one write connection inside its own
//! `SAVEPOINT`, so a failing unit rolls back alone; a unit that commits is
//! *released* into the open batch, and its caller waits. A flush task then appends the batch's
//! audit entries and tree nodes in a few multi-row statements, signs **one** checkpoint, commits
//! once (one fsync) and copies the checkpoint to the control database (coalesced with other
//! organisations' heads there); only then are the batch's callers answered. Units that arrive
//! while a batch is being written queue on the writer's FIFO lock and form the next batch, so the
//! batch grows with the load and a lone writer pays what it paid before: one commit.
//!
//! Cancellation-safe: a caller may be dropped at any await (a request timeout, a client that goes
//! away). Everything that must not stop halfway (preparing a batch, releasing a unit's savepoint
//! and the unit into its batch, the flush) runs in a task of its own; the connection a unit holds
//! is a [`Held`] whose drop marks the unit's savepoint (`u<n>`, a name never reused) for rollback
//! by the next holder and schedules a flush, so no abandoned transaction keeps SQLite's write
//! lock. An outside review found five ways to break this in the first version; each has its
//! regression test in `crates/store/tests/cancellation.rs`.
//!
//! Bounded: at most `limit` units wait per organisation; the next caller gets
//! [`StoreError::Overloaded`] at once (a 503 with `Retry-After` at the API), never an unbounded
//! wait. Reads outside a unit use the pool's own connections (WAL) and never wait for the writer.
//!
//! This is the SQLite backend's business; callers see only `begin` → work → `commit`. A
//! PostgreSQL backend keeps that contract and batches (or not) in its own way.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use sqlx::SqliteConnection;
use tokio::sync::{watch, Mutex, OwnedMutexGuard};
use trygg_audit::{Appended, LogWriter, Signer};
use uuid::Uuid;

use crate::audit;
use crate::control::ControlDb;
use crate::db::Db;
use crate::StoreError;

/// The default bound on units waiting per organisation.
pub const DEFAULT_WRITE_QUEUE: usize = 4096;

/// A batch stops waiting for more units at this many.
const MAX_BATCH: u64 = 1024;
/// A batch stops waiting for more units this long after its flush was scheduled.
const MAX_DELAY: std::time::Duration = std::time::Duration::from_millis(2);

/// What a batch's callers are told: nothing, or why nothing of the batch was kept.
pub(crate) type BatchOutcome = Option<Result<(), Arc<str>>>;

/// The writer of one organisation's database.
pub(crate) struct Writer {
    state: Arc<Mutex<WriterState>>,
    /// Units begun and not yet answered (waiting for the lock, running, or waiting for their
    /// batch to be durable).
    queued: AtomicUsize,
    limit: usize,
    signer: Signer,
    org_id: Uuid,
    control: ControlDb,
    /// The pool, for background WAL checkpoints.
    db: Db,
    /// Batches committed since the last WAL checkpoint began.
    since_checkpoint: AtomicU64,
    checkpointing: Arc<AtomicBool>,
    pub(crate) metrics: Metrics,
    /// Batches committed since the writer was made (issue #18: a job's visit is stale once
    /// this moved on).
    commits: AtomicU64,
    /// The runtime the store was opened on; flushes are spawned there.
    runtime: tokio::runtime::Handle,
}

/// Batches between background WAL checkpoints.
const CHECKPOINT_EVERY: u64 = 64;

/// What the writer's lock protects.
pub(crate) struct WriterState {
    pub(crate) conn: SqliteConnection,
    /// The log as committed (None: reload from the database before the next batch).
    log: Option<LogWriter>,
    /// The open batch: a transaction begun, units released into it, not yet committed.
    pub(crate) batch: Option<Batch>,
    /// A unit was dropped with this savepoint open: roll it back before anything else runs.
    unit_open: Option<u64>,
    /// The number of the next unit's savepoint (`u<n>`): a name never reused, so a savepoint
    /// left behind can never be mistaken for another unit's.
    next_savepoint: u64,
    /// A `BEGIN` was sent and no batch recorded (its caller was cancelled while it ran): roll
    /// back before beginning again.
    begun: bool,
}

/// Units released into one transaction, waiting for one commit.
pub(crate) struct Batch {
    /// The log after every released unit's entries.
    pub(crate) pending: LogWriter,
    /// The entries and tree nodes to write, in order.
    rows: Vec<Appended>,
    units: u64,
    done: watch::Sender<BatchOutcome>,
    flush_scheduled: bool,
}

/// A place in the organisation's write queue, given back when its unit is answered.
pub(crate) struct Slot(Arc<Writer>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.queued.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The write connection as one unit holds it, from `begin` to its end. Dropped without being
/// finished (an error, a caller cancelled, a panic), it marks the unit's savepoint for rollback
/// by whoever takes the connection next and schedules a flush, so no transaction is left holding
/// SQLite's write lock.
pub(crate) struct Held {
    pub(crate) st: OwnedMutexGuard<WriterState>,
    writer: Arc<Writer>,
    /// The unit's savepoint number, while it is open (or being opened).
    savepoint: Option<u64>,
    done: bool,
}

impl Held {
    /// The unit ended as it should: nothing to undo on drop.
    fn disarm(&mut self) {
        self.done = true;
    }

    /// The connection with this unit's savepoint open (opened at the first call). The savepoint
    /// is recorded before its statement goes out, so a caller cancelled meanwhile still leaves it
    /// marked for rollback.
    pub(crate) async fn conn(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        if self.savepoint.is_none() {
            let n = self.st.next_savepoint;
            self.st.next_savepoint = n.wrapping_add(1);
            self.savepoint = Some(n);
            sqlx::query(&format!("SAVEPOINT u{n}"))
                .persistent(false)
                .execute(&mut self.st.conn)
                .await?;
        }
        Ok(&mut self.st.conn)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(n) = self.savepoint {
            self.st.unit_open = Some(n);
        }
        self.writer.schedule(&mut self.st);
    }
}

impl Writer {
    pub(crate) fn new(
        conn: SqliteConnection,
        limit: usize,
        signer: Signer,
        org_id: Uuid,
        control: ControlDb,
        db: Db,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        Self {
            runtime,
            state: Arc::new(Mutex::new(WriterState {
                conn,
                log: None,
                batch: None,
                unit_open: None,
                next_savepoint: 0,
                begun: false,
            })),
            queued: AtomicUsize::new(0),
            limit: limit.max(1),
            signer,
            org_id,
            control,
            db,
            since_checkpoint: AtomicU64::new(0),
            checkpointing: Arc::new(AtomicBool::new(false)),
            metrics: Metrics::default(),
            commits: AtomicU64::new(0),
        }
    }

    /// Batches committed so far.
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Acquire)
    }

    /// Takes a place in the queue, or refuses at once when `limit` units are already waiting.
    pub(crate) fn enter(self: &Arc<Self>) -> Result<Slot, StoreError> {
        let before = self.queued.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(self.clone());
        if before >= self.limit {
            self.metrics.refused.fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::Overloaded);
        }
        Ok(slot)
    }

    /// Units waiting now.
    pub(crate) fn depth(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Makes the state usable for the next unit: rolls back a dropped unit, and opens a batch
    /// (`BEGIN IMMEDIATE`, log head checked) if none is open. Returns the log as it stands
    /// after the open batch.
    pub(crate) async fn prepare(
        &self,
        st: &mut WriterState,
        origin: &str,
    ) -> Result<LogWriter, StoreError> {
        settle(st).await;
        if st.batch.is_none() {
            // DIALECT: take SQLite's write lock at once, so two processes (the server and a CLI
            // command) cannot both read the log's head and then append after it.
            if st.begun {
                rollback(&mut st.conn).await;
            }
            st.begun = true;
            let fresh = match audit::begin_at_head(&mut st.conn, st.log.as_ref()).await {
                Ok(f) => f,
                Err(e) => {
                    // The BEGIN (another process held the lock past the busy timeout) or the
                    // read failed: end whatever began.
                    rollback(&mut st.conn).await;
                    st.begun = false;
                    return Err(e);
                }
            };
            // Another process may have appended since this one last wrote: then the cached
            // writer is stale and is rebuilt from the database.
            let log = if fresh {
                st.log.clone()
            } else {
                audit::resume_writer(&mut st.conn, origin).await.ok()
            };
            let Some(log) = log else {
                rollback(&mut st.conn).await;
                st.begun = false;
                st.log = None;
                return Err(StoreError::Audit(
                    "the audit log's head cannot be read: run `trygg audit verify`".into(),
                ));
            };
            st.log = Some(log.clone());
            let (done, _) = watch::channel(None);
            st.batch = Some(Batch {
                pending: log,
                rows: Vec::new(),
                units: 0,
                done,
                flush_scheduled: false,
            });
        }
        st.batch
            .as_ref()
            .map(|b| b.pending.clone())
            .ok_or(StoreError::Audit("no batch is open".into()))
    }

    /// Releases a finished unit into the open batch and returns what to wait on.
    pub(crate) fn release(
        self: &Arc<Self>,
        st: &mut WriterState,
        pending: LogWriter,
        rows: Vec<Appended>,
    ) -> Result<watch::Receiver<BatchOutcome>, StoreError> {
        let batch = st
            .batch
            .as_mut()
            .ok_or(StoreError::Audit("no batch is open".into()))?;
        batch.pending = pending;
        batch.rows.extend(rows);
        batch.units += 1;
        let rx = batch.done.subscribe();
        self.schedule(st);
        Ok(rx)
    }

    /// Makes sure a flush will come for the open batch (also for one whose units all went away,
    /// so the write lock is never kept by an abandoned transaction).
    pub(crate) fn schedule(self: &Arc<Self>, st: &mut WriterState) {
        let spawn = match st.batch.as_mut() {
            Some(b) if !b.flush_scheduled => {
                b.flush_scheduled = true;
                true
            }
            Some(_) => false,
            // No batch, but a BEGIN may have gone out (a cancelled or failed start) or a unit
            // left its savepoint: a flush ends that transaction.
            None => st.begun || st.unit_open.is_some(),
        };
        if spawn {
            // Through the runtime the store was opened on, so a unit dropped on a thread outside
            // it still gets its flush (a flag set without a flush would keep the batch open).
            self.runtime.spawn(flush(self.clone()));
        }
    }

    /// Takes the write connection for a unit and makes it ready (see [`Writer::prepare`]). The
    /// preparation runs in a task of its own, so a caller cancelled meanwhile cannot leave it
    /// half done: the task finishes, and the [`Held`] it returns to nobody cleans up on drop.
    pub(crate) async fn begin_unit(
        self: &Arc<Self>,
        origin: &str,
    ) -> Result<(Held, LogWriter), StoreError> {
        let st = self.state.clone().lock_owned().await;
        let mut held = Held {
            st,
            writer: self.clone(),
            savepoint: None,
            done: false,
        };
        if held.st.unit_open.is_none() {
            if let Some(b) = held.st.batch.as_ref() {
                // A batch is open and nothing to undo: nothing to wait for.
                let log = b.pending.clone();
                return Ok((held, log));
            }
        }
        let (w, origin) = (self.clone(), origin.to_owned());
        tokio::spawn(async move {
            let r = w.prepare(&mut held.st, &origin).await;
            r.map(|log| (held, log))
        })
        .await
        .map_err(|_| StoreError::Batch("the writer's task failed".into()))?
    }

    /// Ends a unit that commits: releases its savepoint and the unit into the open batch, in a
    /// task of its own (a caller cancelled meanwhile leaves the unit released, never half).
    /// Returns what to wait on.
    pub(crate) async fn finish_unit(
        self: &Arc<Self>,
        mut held: Held,
        pending: LogWriter,
        rows: Vec<Appended>,
    ) -> Result<watch::Receiver<BatchOutcome>, StoreError> {
        if held.savepoint.is_none() {
            // No SQL ran: nothing to wait for before the release.
            let rx = self.release(&mut held.st, pending, rows)?;
            held.disarm();
            return Ok(rx);
        }
        let w = self.clone();
        tokio::spawn(async move {
            if let Some(n) = held.savepoint {
                let released = sqlx::query(&format!("RELEASE u{n}"))
                    .persistent(false)
                    .execute(&mut held.st.conn)
                    .await;
                held.savepoint = None;
                if let Err(e) = released {
                    // SQLite rolled the transaction back under us: the whole batch is lost
                    // (dropping `held` then schedules a flush, which ends what is left).
                    fail_batch(
                        &mut held.st,
                        "the transaction failed; nothing of the batch was kept",
                    )
                    .await;
                    return Err(e.into());
                }
            }
            let rx = w.release(&mut held.st, pending, rows)?;
            held.disarm();
            Ok(rx)
        })
        .await
        .map_err(|_| StoreError::Batch("the writer's task failed".into()))?
    }

    /// Every [`CHECKPOINT_EVERY`] batches, starts a passive WAL checkpoint on a pool
    /// connection unless one is running.
    fn maybe_checkpoint(&self) {
        if self.since_checkpoint.fetch_add(1, Ordering::Relaxed) + 1 < CHECKPOINT_EVERY {
            return;
        }
        if self.checkpointing.swap(true, Ordering::AcqRel) {
            return;
        }
        self.since_checkpoint.store(0, Ordering::Relaxed);
        let (db, running) = (self.db.clone(), self.checkpointing.clone());
        self.runtime.spawn(async move {
            if let Err(e) = db.checkpoint().await {
                tracing::warn!(error = %e, "a background WAL checkpoint failed");
            }
            running.store(false, Ordering::Release);
        });
    }
}

/// Commits what is released and not yet written, now (for closing, issue #18).
pub(crate) async fn flush_now(w: &Arc<Writer>) {
    flush(w.clone()).await;
}

/// How long closing an organisation waits for its writer's last flush to let go.
const SHUTDOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Closes the writer's connection once nothing else holds the writer (issue #18): what is
/// open is flushed, a flush still running is waited for. If the writer
/// is still held after [`SHUTDOWN_WAIT`], its connection closes with its last holder.
pub(crate) async fn shutdown(mut w: Arc<Writer>) {
    // A batch released by callers that stopped waiting is committed, a transaction left begun
    // is ended: what a flush would do next.
    flush(w.clone()).await;
    let deadline = Instant::now() + SHUTDOWN_WAIT;
    let writer = loop {
        match Arc::try_unwrap(w) {
            Ok(writer) => break writer,
            Err(back) if Instant::now() < deadline => {
                w = back;
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            Err(_) => return,
        }
    };
    let Ok(state) = Arc::try_unwrap(writer.state) else {
        return;
    };
    let mut st = state.into_inner();
    if st.batch.is_some() || st.begun || st.unit_open.is_some() {
        fail_batch(&mut st, "the organisation was closed").await;
    }
    if let Err(e) = sqlx::Connection::close(st.conn).await {
        tracing::warn!(error = %e, "closing an organisation's write connection failed");
    }
}

/// Waits until a released unit's batch is durable.
pub(crate) async fn wait(mut rx: watch::Receiver<BatchOutcome>) -> Result<(), StoreError> {
    match rx.wait_for(Option::is_some).await {
        Ok(v) => match v.as_ref() {
            Some(Ok(())) => Ok(()),
            Some(Err(why)) => Err(StoreError::Batch(why.to_string())),
            None => Err(StoreError::Batch("the batch was lost".into())),
        },
        Err(_) => Err(StoreError::Batch(
            "the batch was lost before it was written".into(),
        )),
    }
}

/// Rolls back a unit that was dropped with its savepoint open. If the savepoint is gone, SQLite
/// rolled the whole transaction back (an I/O error, a full disk): the batch is then lost, and
/// its callers are told.
async fn settle(st: &mut WriterState) {
    let Some(n) = st.unit_open else {
        return;
    };
    let undone = sqlx::query(&format!("ROLLBACK TO u{n}"))
        .persistent(false)
        .execute(&mut st.conn)
        .await
        .is_ok()
        && sqlx::query(&format!("RELEASE u{n}"))
            .persistent(false)
            .execute(&mut st.conn)
            .await
            .is_ok();
    st.unit_open = None;
    if !undone {
        fail_batch(st, "the transaction failed; nothing of the batch was kept").await;
    }
}

/// Rolls back the open batch and tells its callers.
pub(crate) async fn fail_batch(st: &mut WriterState, why: &str) {
    // The state first, so that even an interrupted rollback leaves nothing that looks open:
    // `begun` makes the next start roll back again.
    st.log = None;
    st.begun = true;
    st.unit_open = None;
    if let Some(b) = st.batch.take() {
        b.done.send_replace(Some(Err(Arc::from(why))));
    }
    rollback(&mut st.conn).await;
    st.begun = false;
}

async fn rollback(conn: &mut SqliteConnection) {
    // Fails harmlessly when SQLite already rolled back.
    let _ = sqlx::query("ROLLBACK").execute(conn).await;
}

/// Writes the open batch: entries, nodes, one signed checkpoint, one commit; then the copy of
/// the checkpoint to the control database; then answers the batch's callers.
async fn flush(w: Arc<Writer>) {
    let scheduled = Instant::now();
    let mut st = w.state.lock().await;
    // Let units that are already queued for the lock join this batch first (PostgreSQL's
    // `commit_delay` with `commit_siblings`, decided by the queue instead of a timer): re-queue
    // behind them while any wait, up to a bound on the batch and on the delay. A lone writer
    // finds nobody waiting and is committed at once.
    while let Some(b) = st.batch.as_ref() {
        let others = w
            .depth()
            .saturating_sub(usize::try_from(b.units).unwrap_or(usize::MAX));
        if others == 0 || b.units >= MAX_BATCH || scheduled.elapsed() >= MAX_DELAY {
            break;
        }
        drop(st);
        tokio::task::yield_now().await;
        st = w.state.lock().await;
    }
    settle(&mut st).await;
    let Some(batch) = st.batch.take() else {
        if st.begun {
            // A start that went no further (cancelled or failed): end its transaction.
            rollback(&mut st.conn).await;
            st.begun = false;
        }
        return;
    };
    st.begun = false;
    let started = Instant::now();
    if batch.units == 0 {
        // Every unit went away: end the transaction so the write lock is free.
        rollback(&mut st.conn).await;
        batch.done.send_replace(Some(Ok(())));
        return;
    }
    let written = write(&mut st.conn, &batch, &w.signer).await;
    let head = match written {
        Ok(head) => {
            st.log = Some(batch.pending.clone());
            w.commits.fetch_add(1, Ordering::AcqRel);
            w.maybe_checkpoint();
            Ok(head)
        }
        Err(e) => {
            rollback(&mut st.conn).await;
            st.log = None;
            tracing::error!(error = %e, units = batch.units, "an audit batch could not be committed");
            Err(e)
        }
    };
    drop(st);
    let outcome = match head {
        Ok(head) => {
            if let Some(text) = head {
                // Best effort: the commit stands; a stale head in the control database only
                // weakens truncation detection until the next batch, and is logged.
                if let Err(e) = w
                    .control
                    .publish_audit_head(w.org_id, batch.pending.size(), &text)
                    .await
                {
                    tracing::warn!(error = %e, "could not copy the audit checkpoint to the control database");
                }
            }
            w.metrics
                .record(batch.units, batch.rows.len(), started.elapsed());
            Ok(())
        }
        Err(e) => {
            w.metrics.failed.fetch_add(1, Ordering::Relaxed);
            Err(Arc::from(e.to_string()))
        }
    };
    batch.done.send_replace(Some(outcome));
}

/// The batch's SQL: returns the signed checkpoint's text if the batch appended entries.
async fn write(
    conn: &mut SqliteConnection,
    batch: &Batch,
    signer: &Signer,
) -> Result<Option<String>, StoreError> {
    if batch.rows.is_empty() {
        sqlx::query("COMMIT").execute(&mut *conn).await?;
        return Ok(None);
    }
    audit::insert_batch(conn, &batch.rows).await?;
    Ok(Some(
        audit::checkpoint_and_commit(conn, &batch.pending, signer).await?,
    ))
}

/// Upper bounds of the batch-size histogram (units per commit).
pub const BATCH_BUCKETS: [u64; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024];
/// Upper bounds of the commit-latency histogram, in microseconds.
pub const LATENCY_BUCKETS_US: [u64; 10] = [
    250, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 1_000_000,
];

/// Counters of one organisation's writer (for the operator's metrics).
#[derive(Default)]
pub(crate) struct Metrics {
    batches: AtomicU64,
    units: AtomicU64,
    entries: AtomicU64,
    failed: AtomicU64,
    refused: AtomicU64,
    latency_us_sum: AtomicU64,
    batch_size: [AtomicU64; BATCH_BUCKETS.len() + 1],
    latency: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
}

fn bucket(bounds: &[u64], v: u64) -> usize {
    bounds.iter().position(|b| v <= *b).unwrap_or(bounds.len())
}

impl Metrics {
    fn record(&self, units: u64, entries: usize, took: std::time::Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.units.fetch_add(units, Ordering::Relaxed);
        self.entries.fetch_add(
            u64::try_from(entries).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.latency_us_sum.fetch_add(us, Ordering::Relaxed);
        if let Some(c) = self.batch_size.get(bucket(&BATCH_BUCKETS, units)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(c) = self.latency.get(bucket(&LATENCY_BUCKETS_US, us)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self, depth: usize) -> WriteStats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        WriteStats {
            queue_depth: u64::try_from(depth).unwrap_or(u64::MAX),
            batches: load(&self.batches),
            units: load(&self.units),
            entries: load(&self.entries),
            failed_batches: load(&self.failed),
            refused: load(&self.refused),
            commit_latency_us_sum: load(&self.latency_us_sum),
            batch_size: self.batch_size.iter().map(load).collect(),
            commit_latency_us: self.latency.iter().map(load).collect(),
        }
    }
}

/// A snapshot of the writers' counters: queue depth, batch sizes and commit latency (issue #8),
/// summed over organisations by [`crate::Store::write_stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Units waiting now (for the lock, running, or for their commit).
    pub queue_depth: u64,
    /// Batches committed.
    pub batches: u64,
    /// Units committed.
    pub units: u64,
    /// Audit entries committed.
    pub entries: u64,
    /// Batches that failed (every unit in them was told, none kept).
    pub failed_batches: u64,
    /// Units refused because the queue was full.
    pub refused: u64,
    /// Sum of commit latencies (flush start to durable), microseconds.
    pub commit_latency_us_sum: u64,
    /// Batches per size bucket ([`BATCH_BUCKETS`], then one for larger).
    pub batch_size: Vec<u64>,
    /// Batches per latency bucket ([`LATENCY_BUCKETS_US`], then one for slower).
    pub commit_latency_us: Vec<u64>,
}

fn add_buckets(mine: &mut Vec<u64>, theirs: &[u64]) {
    if mine.len() < theirs.len() {
        mine.resize(theirs.len(), 0);
    }
    for (m, t) in mine.iter_mut().zip(theirs) {
        *m += t;
    }
}

impl WriteStats {
    /// Adds another organisation's counters.
    pub fn add(&mut self, o: &WriteStats) {
        self.queue_depth += o.queue_depth;
        self.batches += o.batches;
        self.units += o.units;
        self.entries += o.entries;
        self.failed_batches += o.failed_batches;
        self.refused += o.refused;
        self.commit_latency_us_sum += o.commit_latency_us_sum;
        add_buckets(&mut self.batch_size, &o.batch_size);
        add_buckets(&mut self.commit_latency_us, &o.commit_latency_us);
    }

    /// The counters in the Prometheus text format (histograms cumulative, as it expects).
    pub fn to_prometheus(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, kind: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        counter(
            "trygg_store_write_queue_depth",
            "Units of work waiting to be written.",
            "gauge",
            self.queue_depth,
        );
        counter(
            "trygg_store_units_total",
            "Units of work committed.",
            "counter",
            self.units,
        );
        counter(
            "trygg_store_audit_entries_total",
            "Audit entries committed.",
            "counter",
            self.entries,
        );
        counter(
            "trygg_store_failed_batches_total",
            "Batches that could not be committed.",
            "counter",
            self.failed_batches,
        );
        counter(
            "trygg_store_refused_total",
            "Units refused because the write queue was full.",
            "counter",
            self.refused,
        );
        let mut histogram = |name: &str, help: &str, bounds: &[u64], counts: &[u64], sum: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            let mut acc = 0;
            for (i, c) in counts.iter().enumerate() {
                acc += c;
                match bounds.get(i) {
                    Some(b) => {
                        let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {acc}");
                    }
                    None => {
                        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {acc}");
                    }
                }
            }
            let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {acc}");
        };
        histogram(
            "trygg_store_batch_units",
            "Units of work per committed batch.",
            &BATCH_BUCKETS,
            &self.batch_size,
            self.units,
        );
        histogram(
            "trygg_store_commit_latency_microseconds",
            "Time from a batch's flush start to durable commit.",
            &LATENCY_BUCKETS_US,
            &self.commit_latency_us,
            self.commit_latency_us_sum,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_take_the_first_bound_at_or_above() {
        assert_eq!(bucket(&BATCH_BUCKETS, 1), 0);
        assert_eq!(bucket(&BATCH_BUCKETS, 3), 2);
        assert_eq!(bucket(&BATCH_BUCKETS, 256), 8);
        assert_eq!(bucket(&BATCH_BUCKETS, 5000), BATCH_BUCKETS.len());
    }

    #[test]
    fn prometheus_histograms_are_cumulative() {
        let m = Metrics::default();
        m.record(1, 1, std::time::Duration::from_micros(100));
        m.record(3, 3, std::time::Duration::from_micros(700));
        m.record(300, 300, std::time::Duration::from_millis(3));
        let mut total = WriteStats::default();
        total.add(&m.snapshot(7));
        total.add(&m.snapshot(0));
        let text = total.to_prometheus();
        assert!(text.contains("trygg_store_write_queue_depth 7\n"), "{text}");
        assert!(text.contains("trygg_store_units_total 608\n"), "{text}");
        assert!(
            text.contains("trygg_store_batch_units_bucket{le=\"1\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("trygg_store_batch_units_bucket{le=\"4\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains("trygg_store_batch_units_bucket{le=\"256\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains("trygg_store_batch_units_bucket{le=\"1024\"} 6\n"),
            "{text}"
        );
        assert!(text.contains("trygg_store_batch_units_count 6\n"), "{text}");
        assert!(
            text.contains("trygg_store_commit_latency_microseconds_bucket{le=\"500\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("trygg_store_commit_latency_microseconds_bucket{le=\"5000\"} 6\n"),
            "{text}"
        );
    }
}
