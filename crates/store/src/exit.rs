//! What an organisation's exit needs of the store (issue #16, VC-DPA-1, PC-VENDOR-4): whole-table
//! reads for the export (every care relationship, consultation and role; the audit log's rows and
//! checkpoints as the offline verifier reads them), and the deletion of an organisation —
//! its wrapped data key (crypto-shredding: without it nothing sealed in its database or in a
//! copy of one can be opened), its head and settings in the control database, and its database
//! files. What the deletion did is returned as facts for the signed certificate the app writes.

use std::path::PathBuf;

use sqlx::Row as _;
use trygg_audit::{EntryRow, StoredCheckpoint};

use crate::access::CareRecord;
use crate::consultations::ConsultationRow;
use crate::{OrgStore, OrgTx, Organisation, Store, StoreError};

impl OrgTx<'_> {
    /// Every care relationship, ended ones too, oldest first.
    pub async fn all_care_relationships(&mut self) -> Result<Vec<CareRecord>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(
            "SELECT id, personnel_id, patient_id, reason, valid_from, valid_to, ended_at, \
             self_declared FROM care_relationships ORDER BY created_at, id",
        )
        .fetch_all(self.conn().await?)
        .await?;
        rows.iter().map(crate::access::care_from_row).collect()
    }

    /// Every consultation, oldest planned start first.
    pub async fn all_consultations(&mut self) -> Result<Vec<ConsultationRow>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(&format!(
            "{} ORDER BY starts_at, id",
            crate::consultations::CONSULTATION_SELECT
        ))
        .fetch_all(self.conn().await?)
        .await?;
        rows.iter()
            .map(crate::consultations::consultation_from_row)
            .collect()
    }

    /// The organisation's own roles: name and permission codes (comma-separated as stored).
    pub async fn roles(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT name, permissions FROM roles ORDER BY name")
            .fetch_all(self.conn().await?)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get("permissions")?)))
            .collect()
    }
}

impl OrgStore {
    /// The whole audit log as the offline verifier reads it: every row in `seq` order (payloads
    /// deleted at retention end are `None`) and every signed checkpoint. Read in one read
    /// transaction, so rows and checkpoints belong to the same moment.
    pub async fn audit_archive(
        &self,
    ) -> Result<(Vec<EntryRow>, Vec<StoredCheckpoint>), StoreError> {
        crate::audit::archive(self.db.sqlite()).await
    }

    /// The size of the audit log now.
    pub async fn audit_size(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_entry")
            .fetch_one(self.db.sqlite())
            .await?;
        u64::try_from(n).map_err(|_| StoreError::Corrupt("negative audit size"))
    }
}

/// What [`Store::delete_org`] did, for the deletion certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// The files removed, relative to the data directory, with their sizes in bytes.
    pub files: Vec<(String, u64)>,
    /// The control database's rows removed (table names), the wrapped data key among them.
    pub control_rows: Vec<&'static str>,
}

impl Store {
    /// Deletes an organisation (issue #16): closes its database if it is open here, removes its
    /// row (with the wrapped data key), its audit head and its settings from the control database
    /// with SQLite's `secure_delete` (freed pages are overwritten with zeros) and checkpoints
    /// and vacuums that database so no copy of the key stays in its WAL or free pages, then
    /// overwrites the organisation's database file with its WAL and shared-memory files with
    /// zeros and removes them. (On copy-on-write or flash storage the old blocks may survive the
    /// overwrite: what is sealed in them stays unreadable without the destroyed key.)
    ///
    /// The key goes first: once it is gone, what might survive of the files on the disk (or in
    /// a backup) cannot be opened. A crash between the steps leaves files that nothing can read,
    /// which a second run removes (`files_left`).
    pub async fn delete_org(&self, org: &Organisation) -> Result<Deleted, StoreError> {
        self.close_org_now(org.id).await;
        if self.is_open(org) {
            return Err(StoreError::Conflict(
                "the organisation is in use; nothing was deleted",
            ));
        }
        // A queued copy of the log's head must not be written back after the row is gone.
        self.control.flush_heads().await?;
        let control_rows = self.control.delete_org(org.id).await?;
        let mut files = Vec::new();
        for path in self.org_files(org.id) {
            if let Ok(meta) = std::fs::metadata(&path) {
                // What is not sealed in the file (times, codes, the audit log's payloads) is
                // overwritten before the file goes, so the blocks it leaves hold zeros.
                overwrite(&path, meta.len()).map_err(|source| StoreError::Io {
                    what: "overwriting the organisation's database".into(),
                    source,
                })?;
                std::fs::remove_file(&path).map_err(|source| StoreError::Io {
                    what: "removing the organisation's database".into(),
                    source,
                })?;
                let rel = path
                    .strip_prefix(&self.data_dir)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                files.push((rel, meta.len()));
            }
        }
        Ok(Deleted {
            files,
            control_rows,
        })
    }

    /// The organisation's files still in the data directory (none after a deletion).
    pub fn files_left(&self, id: uuid::Uuid) -> Vec<PathBuf> {
        self.org_files(id)
            .into_iter()
            .filter(|p| p.exists())
            .collect()
    }

    fn org_files(&self, id: uuid::Uuid) -> Vec<PathBuf> {
        let db = self.org_db_path(id);
        let mut out = vec![db.clone()];
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut p = db.clone().into_os_string();
            p.push(suffix);
            out.push(PathBuf::from(p));
        }
        out
    }
}

/// Overwrites a file's `len` bytes with zeros in place and flushes them to the disk.
fn overwrite(path: &std::path::Path, len: u64) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    let zeros = vec![0u8; 1 << 16];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(zeros.len() as u64)).unwrap_or(zeros.len());
        f.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    f.sync_all()
}

/// The tables the export writes as FHIR resources or typed records (the app's `exit` module),
/// and the audit log's own tables (exported with their checkpoints for offline verification).
pub const TYPED_TABLES: [&str; 18] = [
    "patients",
    "personnel",
    "grants",
    "roles",
    "care_relationships",
    "consents",
    "consultations",
    "threads",
    "messages",
    "attachments",
    "devices",
    "incidents",
    "incident_versions",
    "routines",
    "retention_policy",
    "audit_entry",
    "audit_node",
    "audit_checkpoint",
];

/// The tables an export leaves out on purpose, and why: credentials and this deployment's own
/// bookkeeping, not the organisation's records (people enrol again after an import).
pub const NOT_EXPORTED: [(&str, &str); 8] = [
    (
        "login_accounts",
        "login state of this deployment (lock-out counters)",
    ),
    ("passkeys", "credentials: people enrol again"),
    ("enrolment_links", "credentials: single-use links"),
    ("sessions", "credentials: signed-in sessions"),
    ("patient_sessions", "credentials: patients' portal sessions"),
    (
        "used_ceremonies",
        "replay protection of this deployment's logins",
    ),
    (
        "incident_watch",
        "the watcher's position in this deployment's log",
    ),
    ("_sqlx_migrations", "the schema's version"),
];

impl OrgTx<'_> {
    /// Every table of the organisation's database, by name.
    pub async fn table_names(&mut self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(self.conn().await?)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("name")?)).collect()
    }

    /// Every row of one table as JSON objects, sealed columns (`*_sealed`, keyed by the row's
    /// `id`) opened to text (or base64 when not text), other blobs base64 (issue #16: the
    /// export's records of the tables it has no typed form for).
    pub async fn dump_table(
        &mut self,
        table: &str,
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, StoreError> {
        use base64::Engine as _;
        use serde_json::Value;
        use sqlx::{Column as _, TypeInfo as _, ValueRef as _};
        if !table
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(StoreError::Invalid("a table's name is a-z, 0-9 and _"));
        }
        self.personal = true;
        let rows = sqlx::query(&format!("SELECT * FROM \"{table}\""))
            .fetch_all(self.conn().await?)
            .await?;
        let b64 = |b: &[u8]| Value::String(base64::engine::general_purpose::STANDARD.encode(b));
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let key: Option<String> = r.try_get("id").ok();
            let mut m = serde_json::Map::new();
            for (i, c) in r.columns().iter().enumerate() {
                let name = c.name().to_owned();
                let raw = r.try_get_raw(i)?;
                let v = if raw.is_null() {
                    Value::Null
                } else {
                    match raw.type_info().name() {
                        "INTEGER" => Value::from(r.try_get::<i64, _>(i)?),
                        "REAL" => Value::from(r.try_get::<f64, _>(i)?),
                        "TEXT" => Value::String(r.try_get::<String, _>(i)?),
                        _ => {
                            let bytes: Vec<u8> = r.try_get(i)?;
                            match (name.strip_suffix("_sealed"), &key) {
                                (Some(col), Some(k)) => {
                                    let plain = self.store.sealer.open(table, col, k, &bytes)?;
                                    match String::from_utf8(plain) {
                                        Ok(t) => Value::String(t),
                                        Err(e) => b64(e.as_bytes()),
                                    }
                                }
                                (Some(_), None) => {
                                    return Err(StoreError::Invalid(
                                        "a sealed column in a table without an id",
                                    ))
                                }
                                _ => b64(&bytes),
                            }
                        }
                    }
                };
                let name = name
                    .strip_suffix("_sealed")
                    .map_or(name.clone(), str::to_owned);
                m.insert(name, v);
            }
            out.push(m);
        }
        Ok(out)
    }
}
