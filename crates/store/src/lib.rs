//! Trygg's persistence: a control database with no personal data, and one database and one data
//! key per organisation (PC-VENDOR-4), with personal data sealed under that key.
//!
//! The store persists and encrypts; it has no rules about who may see what (that is decided above
//! it). Code reaches an organisation's data only through an [`OrgStore`] handle, obtained from
//! [`Store::org`] for one organisation: no method takes an organisation id next to a query, so no
//! query can reach another organisation's tables.
//!
//! Backends: SQLite files under the data directory (the embedded default). The backend sits behind
//! [`db::Db`], an enum, so PostgreSQL (one database per organisation) slots in as a second variant
//! without touching callers; SQL that differs between dialects is kept in `db.rs` and marked.
#![deny(missing_docs)]

pub mod access;
pub mod audit;
pub mod auth;
pub mod compliance;
pub mod consultations;
mod control;
pub mod crypto;
mod db;
pub mod devices;
mod error;
pub mod exit;
pub mod import;
pub mod messages;
pub mod notices;
mod open;
mod org;
pub mod patient_sessions;
pub mod register;
pub mod snooping;
pub mod writer;

pub use auth::{
    EnrolmentLink, LinkState, LoginAccount, NewSession, Notice, PasskeyInfo, Secret, SessionRecord,
    StoredPasskey, ThrottleRow,
};
pub use control::{ApiToken, Messaging, Organisation};
/// The key name of the deployment's document signatures.
pub const DOCUMENT_KEY_NAME: &str = "trygg-documents";

pub use compliance::{IncidentVersion, NewVersion, RoutineRecord};
pub use crypto::MasterKey;
pub use devices::DeviceRecord;
pub use error::StoreError;
pub use open::{
    OpenLimits, OpenStats, DEFAULT_IDLE_SECS, DEFAULT_MAX_OPEN, FILES_PER_ORG, READERS_PER_ORG,
};
pub use org::{NewPatient, NewPersonnel, OrgStore, OrgTx, Patient, Personnel};
pub use patient_sessions::PatientSessionRecord;
pub use writer::{WriteStats, DEFAULT_WRITE_QUEUE};

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use trygg_core::OrgSlug;
use uuid::Uuid;

/// Where and how to open the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The data directory: `control.sqlite`, `orgs/<id>.sqlite`, and in the embedded default
    /// `master.key`.
    pub data_dir: PathBuf,
    /// The host part of audit checkpoint origins (`<host>/audit/<org-slug>`).
    pub audit_host: String,
    /// How many units of work may wait per organisation before the next is refused with
    /// [`StoreError::Overloaded`] (issue #8).
    pub write_queue: usize,
    /// How many organisations may be open at once and for how long an unused one stays open
    /// (issue #18).
    pub open: OpenLimits,
    /// How long a finished notice keeps its content (`notice_retention_days`): when the message
    /// jobs next need a closed organisation follows from it.
    pub notice_keep: time::Duration,
}

/// The background jobs that visit organisations (issue #18): each visits the organisations open
/// now and those the control database says it is due at, so an idle organisation is not opened
/// every round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    /// The notice outbox's worker.
    Notices,
    /// The message jobs: expiry, escalation, emptying old notices.
    Messages,
    /// The incident watcher.
    Watch,
    /// The retention job.
    Retention,
    /// The nightly snooping detector.
    Snooping,
}

impl Job {
    /// Its name in the control database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Notices => "notices",
            Self::Messages => "messages",
            Self::Watch => "watch",
            Self::Retention => "retention",
            Self::Snooping => "snooping",
        }
    }

    /// The jobs whose next visit follows from the organisation's data: each records after a
    /// visit when it is next due ([`OrgStore::job_visited`]), and closing the organisation
    /// writes that down, or "at once" when something was committed since the visit.
    pub const FROM_DATA: [Job; 3] = [Job::Notices, Job::Messages, Job::Watch];
    /// The jobs that run by the calendar and set their next visit themselves
    /// ([`Store::set_job_wake`]).
    pub const BY_CALENDAR: [Job; 2] = [Job::Retention, Job::Snooping];
}

/// The whole store: the control database, the master key and the organisations' databases,
/// opened on use and closed when idle or to make room (issue #18, [`open`]).
pub struct Store {
    data_dir: PathBuf,
    control: control::ControlDb,
    master: MasterKey,
    audit_key: trygg_audit::Pkcs8Key,
    audit_host: String,
    write_queue: usize,
    notice_keep: time::Duration,
    open: Arc<open::OpenOrgs>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Refuses a data directory that other users can enter, read or write (review finding 7);
    /// a directory that does not exist yet passes (it is created private).
    pub fn check_data_dir(dir: &std::path::Path) -> Result<(), StoreError> {
        if dir.exists() {
            db::check_private_dir(dir)?;
        }
        Ok(())
    }

    /// Opens (and creates, with migrations) the control database in `config.data_dir`, with the
    /// given master key.
    ///
    /// The audit checkpoint signing key is `audit_key`; see [`audit::load_or_generate_signing_key`].
    pub async fn open(
        config: &StoreConfig,
        master: MasterKey,
        audit_key: trygg_audit::Pkcs8Key,
    ) -> Result<Self, StoreError> {
        db::ensure_private_dir(&config.data_dir)?;
        db::ensure_private_dir(&config.data_dir.join("orgs"))?;
        let control = control::ControlDb::open(&config.data_dir.join("control.sqlite")).await?;
        Ok(Self {
            data_dir: config.data_dir.clone(),
            control,
            master,
            audit_key,
            audit_host: config.audit_host.clone(),
            write_queue: config.write_queue,
            notice_keep: config.notice_keep,
            open: open::OpenOrgs::new(config.open),
        })
    }

    /// The key login ceremony tokens are sealed with (issue 17): HKDF of the master key with
    /// its own info, the same on every node that shares the master key.
    pub fn ceremony_key(&self) -> &[u8; 32] {
        self.master.ceremony_key()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Creates an organisation: a row in the control database, a fresh data key wrapped by the
    /// master key, and its own database file with migrations applied.
    pub async fn create_org(
        &self,
        slug: &OrgSlug,
        name: &str,
        now: time::OffsetDateTime,
    ) -> Result<Organisation, StoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(StoreError::Invalid(
                "an organisation's name has 1 to 200 characters",
            ));
        }
        if self.control.org_by_slug(slug).await?.is_some() {
            return Err(StoreError::Conflict(
                "an organisation with that short name exists",
            ));
        }
        let id = Uuid::new_v4();
        let data_key = crypto::DataKey::generate()?;
        let wrapped = self.master.wrap(id, &data_key)?;
        // Create the organisation's database first: a crash after this leaves an unused file, not
        // a control row pointing at nothing.
        let path = self.org_db_path(id);
        let db = db::Db::open_sqlite(&path, db::Migrations::Org).await?;
        db.close().await;
        let org = Organisation {
            id,
            slug: slug.clone(),
            name: name.to_owned(),
            created_at: now,
        };
        let origin = trygg_audit::origin_for(&self.audit_host, slug).map_err(audit::audit_err)?;
        let signer =
            trygg_audit::Signer::from_pkcs8(&origin, &self.audit_key).map_err(audit::audit_err)?;
        let empty_head = trygg_audit::LogWriter::new(&origin)
            .and_then(|w| w.checkpoint(&signer))
            .map_err(audit::audit_err)?;
        self.control
            .insert_org(&org, &wrapped, empty_head.text())
            .await?;
        Ok(org)
    }

    /// Signs a document with the deployment's Ed25519 key (the one that signs every audit
    /// checkpoint), under the key name `trygg-documents` and for `purpose` (issue #15: the
    /// compliance report). Returns the verifier key text and the signature.
    pub fn sign_document(
        &self,
        purpose: &str,
        document: &[u8],
    ) -> Result<(trygg_audit::VerifyingKey, Vec<u8>), StoreError> {
        let signer = trygg_audit::Signer::from_pkcs8(DOCUMENT_KEY_NAME, &self.audit_key)
            .map_err(audit::audit_err)?;
        let sig = signer
            .sign_document(purpose, document)
            .map_err(audit::audit_err)?;
        Ok((signer.verifying_key(), sig))
    }

    /// The key that verifies [`Store::sign_document`]'s signatures.
    pub fn document_key(&self) -> Result<trygg_audit::VerifyingKey, StoreError> {
        Ok(
            trygg_audit::Signer::from_pkcs8(DOCUMENT_KEY_NAME, &self.audit_key)
                .map_err(audit::audit_err)?
                .verifying_key(),
        )
    }

    /// Every organisation, by slug.
    pub async fn list_orgs(&self) -> Result<Vec<Organisation>, StoreError> {
        self.control.list_orgs().await
    }

    /// Marks an organisation as seeded by `trygg demo` (its developer login offers only these).
    pub async fn mark_demo(&self, org: &Organisation) -> Result<(), StoreError> {
        self.control.set_demo(org.id).await
    }

    /// Whether `trygg demo` seeded the organisation.
    pub async fn is_demo(&self, org: &Organisation) -> Result<bool, StoreError> {
        self.control.is_demo(org.id).await
    }

    /// One organisation by slug.
    pub async fn org_by_slug(&self, slug: &OrgSlug) -> Result<Option<Organisation>, StoreError> {
        self.control.org_by_slug(slug).await
    }

    /// The handle to one organisation's data for a request, opening its database if it is
    /// closed (and migrating it, issue #18). Refused with [`StoreError::AllInUse`] when as many
    /// organisations as allowed are open and all of them stay in use for a while.
    pub async fn org(&self, org: &Organisation) -> Result<Arc<OrgStore>, StoreError> {
        self.org_with(org, true).await
    }

    /// The handle to one organisation's data for a background job: like [`Store::org`], but the
    /// job's visit does not count as use, so it does not keep an idle organisation open.
    pub async fn org_for_job(&self, org: &Organisation) -> Result<Arc<OrgStore>, StoreError> {
        self.org_with(org, false).await
    }

    async fn org_with(&self, org: &Organisation, touch: bool) -> Result<Arc<OrgStore>, StoreError> {
        let deadline = tokio::time::Instant::now() + self.open.wait_for_room();
        loop {
            if tokio::time::Instant::now() >= deadline {
                self.open.note_refused();
                return Err(StoreError::AllInUse);
            }
            let changed = self.open.changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self.open.claim(org.id, touch) {
                open::Claim::Ready(h) => return Ok(h),
                open::Claim::Open(place, spare) => {
                    if let Some((victim, closing)) = spare {
                        tokio::spawn(close_org(victim, closing));
                    }
                    let h = Arc::new(self.open_org(org).await?);
                    place.finish(h.clone(), touch);
                    return Ok(h);
                }
                open::Claim::Close(victim, closing) => {
                    // In a task of its own: a caller cancelled meanwhile does not leave it half
                    // closed.
                    let _ = tokio::spawn(close_org(victim, closing)).await;
                }
                open::Claim::Wait => {
                    // A change of the table wakes the caller; a handle let go is no change, so
                    // it also looks again every few milliseconds.
                    let _ = tokio::time::timeout(open::RECHECK, changed).await;
                }
            }
        }
    }

    async fn open_org(&self, org: &Organisation) -> Result<OrgStore, StoreError> {
        let wrapped = self.control.wrapped_key(org.id).await?;
        let data_key = self.master.unwrap(org.id, &wrapped)?;
        let db = db::Db::open_sqlite(&self.org_db_path(org.id), db::Migrations::Org).await?;
        let origin =
            trygg_audit::origin_for(&self.audit_host, &org.slug).map_err(audit::audit_err)?;
        let signer =
            trygg_audit::Signer::from_pkcs8(&origin, &self.audit_key).map_err(audit::audit_err)?;
        let mut store = OrgStore::new(
            org.clone(),
            db,
            &data_key,
            signer,
            origin,
            self.control.clone(),
            self.write_queue,
        )
        .await?;
        // Once it opened, before anything can be committed: a crash while it is open leaves its
        // jobs due (an organisation that fails to open is not marked).
        let jobs: Vec<&'static str> = Job::FROM_DATA.iter().map(|j| j.as_str()).collect();
        let before = self.control.wake_on_open(org.id, &jobs).await?;
        store.remember_wakes(before);
        store.notice_keep = self.notice_keep;
        Ok(store)
    }

    /// Closes the organisations nobody has asked for in the idle time and nobody is using;
    /// returns how many. The server calls it every few seconds.
    pub async fn close_idle(&self) -> usize {
        let idle = self.open.take_idle(std::time::Instant::now());
        let n = idle.len();
        for (h, closing) in idle {
            let _ = tokio::spawn(close_org(h, closing)).await;
        }
        n
    }

    /// The organisations `job` should visit at `now`: those open now, and those the control
    /// database says it is due at (at most `limit` of these, earliest first).
    pub async fn job_orgs(
        &self,
        job: Job,
        now: time::OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Organisation>, StoreError> {
        let mut seen = HashSet::new();
        let mut out: Vec<Organisation> = Vec::new();
        for h in self.open.open_handles() {
            if seen.insert(h.org.id) {
                out.push(h.org.clone());
            }
        }
        // Open organisations are marked due at once while open, so they come first: ask for
        // that many more, and leave them out, so `limit` closed ones can still come.
        let open = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let mut closed = 0;
        for o in self
            .control
            .due(
                job.as_str(),
                now.unix_timestamp(),
                limit.saturating_add(open),
            )
            .await?
        {
            if closed < limit && seen.insert(o.id) {
                out.push(o);
                closed += 1;
            }
        }
        Ok(out)
    }

    /// Sets when a calendar job next needs the organisation ([`Job::BY_CALENDAR`]); `None`: not
    /// until it is opened again.
    pub async fn set_job_wake(
        &self,
        org: &Organisation,
        job: Job,
        due: Option<time::OffsetDateTime>,
    ) -> Result<(), StoreError> {
        self.control
            .set_wake(
                org.id,
                &[(job.as_str(), due.map(|t| t.unix_timestamp()), false)],
            )
            .await
    }

    /// Whether the organisation is open now.
    pub fn is_open(&self, org: &Organisation) -> bool {
        self.open.is_open(org.id)
    }

    /// How many organisations are open, the bound, and the counts of openings, closings and
    /// refusals since start.
    pub fn open_stats(&self) -> OpenStats {
        self.open.stats()
    }

    /// How many organisations exist.
    pub async fn count_orgs(&self) -> Result<u64, StoreError> {
        self.control.count_orgs().await
    }

    /// An organisation's messaging settings (sender name, own phones and domains).
    pub async fn messaging(&self, org: &Organisation) -> Result<Messaging, StoreError> {
        self.control.messaging(org.id).await
    }

    /// Replaces an organisation's messaging settings. Phone numbers must parse; domains are
    /// lower-cased host names.
    pub async fn set_messaging(&self, org: &Organisation, m: &Messaging) -> Result<(), StoreError> {
        for p in &m.phones {
            if trygg_core::PhoneNumber::parse(p).is_err() {
                return Err(StoreError::Invalid(
                    "a phone number is eight digits, or + and the country code",
                ));
            }
        }
        for d in &m.domains {
            let ok = !d.is_empty()
                && d.len() <= 253
                && d.contains('.')
                && d.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
                });
            if !ok {
                return Err(StoreError::Invalid(
                    "a domain is a lower-case host name such as normland.no",
                ));
            }
        }
        if m.sender_name
            .as_deref()
            .is_some_and(|n| n.trim().is_empty() || n.chars().count() > 11 * 8)
        {
            return Err(StoreError::Invalid("a sender name has 1 to 88 characters"));
        }
        self.control.set_messaging(org.id, m).await
    }

    /// Creates an API token for operators and integrations and returns it once; only its hash is
    /// kept.
    pub async fn create_api_token(
        &self,
        label: &str,
        now: time::OffsetDateTime,
    ) -> Result<(ApiToken, String), StoreError> {
        self.control.create_api_token(label, now).await
    }

    /// The live (not revoked) token with this secret, if any.
    pub async fn check_api_token(&self, secret: &str) -> Result<Option<ApiToken>, StoreError> {
        self.control.check_api_token(secret).await
    }

    /// The writers' counters summed over the organisations open now (issue #8): queue depth,
    /// batch sizes, commit latency.
    pub async fn write_stats(&self) -> WriteStats {
        let mut total = WriteStats::default();
        for h in self.open.open_handles() {
            total.add(&h.write_stats());
        }
        total
    }

    /// Whether the control database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.control.ping().await
    }

    /// Closes every database cleanly (WAL checkpointed), for shutdown.
    pub async fn close(&self) {
        if let Err(e) = self.control.flush_heads().await {
            tracing::warn!(error = %e, "audit checkpoints not yet copied to the control database stay behind; the next start copies them");
        }
        for (h, closing) in self.open.take_all() {
            close_org(h, closing).await;
        }
        // Closings begun in the background (to make room, or for idleness) end first.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.open.stats().open > 0 && std::time::Instant::now() < until {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.control.close().await;
    }

    /// Closes one organisation now if it is open and nobody is using it (the console's
    /// `trygg migrate`, one organisation at a time, and before a deletion).
    pub async fn close_org(&self, org: &Organisation) {
        self.close_org_now(org.id).await;
    }

    /// Closes one organisation if it is open (before its deletion).
    pub(crate) async fn close_org_now(&self, id: Uuid) {
        if let Some((h, closing)) = self.open.take(id) {
            close_org(h, closing).await;
        }
    }

    fn org_db_path(&self, id: Uuid) -> PathBuf {
        self.data_dir.join("orgs").join(format!("{id}.sqlite"))
    }
}

/// Closes an organisation taken out of the table: its jobs' next visits written down, its
/// writer's connection and its pool closed; then its place in the table is free.
async fn close_org(h: Arc<OrgStore>, closing: open::Closing) {
    match Arc::try_unwrap(h) {
        Ok(store) => store.close_owned().await,
        // Still in use (shutdown or deletion while a request runs): the pool is closed; the
        // writer's connection goes with the last handle.
        Err(h) => h.close().await,
    }
    drop(closing);
}
