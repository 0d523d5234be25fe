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
pub use org::{NewPatient, NewPersonnel, OrgStore, OrgTx, Patient, Personnel};
pub use patient_sessions::PatientSessionRecord;
pub use writer::{WriteStats, DEFAULT_WRITE_QUEUE};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::RwLock;
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
}

/// The whole store: the control database, the master key and the organisations' databases,
/// opened on first use and kept open.
pub struct Store {
    data_dir: PathBuf,
    control: control::ControlDb,
    master: MasterKey,
    audit_key: trygg_audit::Pkcs8Key,
    audit_host: String,
    write_queue: usize,
    orgs: RwLock<HashMap<Uuid, Arc<OrgStore>>>,
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
            orgs: RwLock::new(HashMap::new()),
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

    /// The handle to one organisation's data, opening its database on first use.
    pub async fn org(&self, org: &Organisation) -> Result<Arc<OrgStore>, StoreError> {
        if let Some(h) = self.orgs.read().await.get(&org.id) {
            return Ok(h.clone());
        }
        let mut orgs = self.orgs.write().await;
        if let Some(h) = orgs.get(&org.id) {
            return Ok(h.clone());
        }
        let wrapped = self.control.wrapped_key(org.id).await?;
        let data_key = self.master.unwrap(org.id, &wrapped)?;
        let db = db::Db::open_sqlite(&self.org_db_path(org.id), db::Migrations::Org).await?;
        let origin =
            trygg_audit::origin_for(&self.audit_host, &org.slug).map_err(audit::audit_err)?;
        let signer =
            trygg_audit::Signer::from_pkcs8(&origin, &self.audit_key).map_err(audit::audit_err)?;
        let handle = Arc::new(
            OrgStore::new(
                org.clone(),
                db,
                &data_key,
                signer,
                origin,
                self.control.clone(),
                self.write_queue,
            )
            .await?,
        );
        orgs.insert(org.id, handle.clone());
        Ok(handle)
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
        for h in self.orgs.read().await.values() {
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
        let orgs: Vec<_> = self.orgs.write().await.drain().collect();
        for (_, h) in orgs {
            h.close().await;
        }
        self.control.close().await;
    }

    fn org_db_path(&self, id: Uuid) -> PathBuf {
        self.data_dir.join("orgs").join(format!("{id}.sqlite"))
    }
}
