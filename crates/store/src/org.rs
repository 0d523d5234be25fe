//! One organisation's data, reached only through an [`OrgStore`] bound to that organisation
//! (PC-VENDOR-4). Names, national identity numbers and contact data are sealed per cell; the
//! national identity number is also kept as a keyed hash for lookup. Every access goes through
//! an [`OrgTx`], which commits only with an audit entry (PC-VENDOR-3).

use sqlx::Row as _;
use time::OffsetDateTime;
use trygg_core::{BuiltinRole, EmailAddress, Employment, NationalId, PersonName, PhoneNumber};
use uuid::Uuid;

use std::sync::Arc;

use trygg_audit::{Appended, AuditEvent, LogWriter, Signer, VerifyingKey};

use crate::audit;
use crate::control::{fmt_time, parse_time, parse_uuid, ControlDb, Organisation};
use crate::crypto::{DataKey, Sealer};
use crate::db::Db;
use crate::writer::{self, Held, Slot, WriteStats, Writer};
use crate::StoreError;
use trygg_core::retention::{DataClass, Policy};

/// The handle to one organisation's database, keys and audit log.
pub struct OrgStore {
    pub(crate) org: Organisation,
    pub(crate) db: Db,
    pub(crate) sealer: Sealer,
    /// The one write connection and its group commit (issue #8).
    writer: Arc<Writer>,
    verifying_key: VerifyingKey,
    origin: String,
    control: ControlDb,
    /// The audit log's and the security events' retention in years (the organisation's policy,
    /// issue #15), committed into each entry's leaf as it is appended.
    audit_years: std::sync::atomic::AtomicU32,
    security_years: std::sync::atomic::AtomicU32,
    /// Each data-driven job's last visit (issue #18): the writer's commit count it saw and when
    /// it is next due (Unix seconds). Written to the control database when the organisation closes.
    visits: std::sync::Mutex<std::collections::HashMap<crate::Job, (u64, Option<i64>)>>,
    /// What the control database said of the data-driven jobs before this opening: put back
    /// at the close if nothing was committed meanwhile.
    wakes_before: std::sync::Mutex<Vec<(&'static str, Option<i64>)>>,
    /// A security event was appended while it was open (the watcher's work).
    security_logged: std::sync::atomic::AtomicBool,
    /// How long a finished notice keeps its content (the message jobs' due time).
    pub(crate) notice_keep: time::Duration,
}

impl std::fmt::Debug for OrgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgStore")
            .field("org", &self.org.slug)
            .finish_non_exhaustive()
    }
}

/// A patient to register.
#[derive(Debug, Clone)]
pub struct NewPatient {
    /// Full name.
    pub name: PersonName,
    /// National identity number (checked).
    pub national_id: NationalId,
    /// Mobile number for notices, if known.
    pub phone: Option<PhoneNumber>,
    /// E-mail address for notices, if known.
    pub email: Option<EmailAddress>,
}

/// A patient as read back (decrypted).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Patient {
    /// Stable id, not derived from personal data.
    pub id: Uuid,
    /// Full name.
    pub name: PersonName,
    /// National identity number, redacted to the birth date for display.
    pub national_id_redacted: String,
    /// Mobile number.
    pub phone: Option<PhoneNumber>,
    /// E-mail address.
    pub email: Option<EmailAddress>,
    /// When registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A person on the staff to register.
#[derive(Debug, Clone)]
pub struct NewPersonnel {
    /// Full name.
    pub name: PersonName,
    /// Work e-mail.
    pub email: Option<EmailAddress>,
    /// Role.
    pub role: BuiltinRole,
    /// Employment relation.
    pub employment: Employment,
}

/// A person on the staff as read back.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Personnel {
    /// Stable id.
    pub id: Uuid,
    /// Full name.
    pub name: PersonName,
    /// Work e-mail.
    pub email: Option<EmailAddress>,
    /// Role.
    pub role: BuiltinRole,
    /// Employment relation.
    pub employment: Employment,
    /// When registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

pub(crate) const NID_KIND: &str = "national-id";

impl OrgStore {
    pub(crate) async fn new(
        org: Organisation,
        db: Db,
        key: &DataKey,
        signer: Signer,
        origin: String,
        control: ControlDb,
        write_queue: usize,
    ) -> Result<Self, StoreError> {
        let sealer = Sealer::new(org.id, key)?;
        let conn = db.writer_connection().await?;
        let verifying_key = signer.verifying_key();
        let writer = Arc::new(Writer::new(
            conn,
            write_queue,
            signer,
            org.id,
            control.clone(),
            db.clone(),
            tokio::runtime::Handle::current(),
        ));
        let me = Self {
            org,
            db,
            sealer,
            writer,
            verifying_key,
            origin,
            control,
            audit_years: std::sync::atomic::AtomicU32::new(DataClass::AuditLog.default_value()),
            security_years: std::sync::atomic::AtomicU32::new(
                DataClass::SecurityEvents.default_value(),
            ),
            visits: std::sync::Mutex::new(std::collections::HashMap::new()),
            wakes_before: std::sync::Mutex::new(Vec::new()),
            security_logged: std::sync::atomic::AtomicBool::new(false),
            notice_keep: time::Duration::days(30),
        };
        let policy = Policy::from_stored(&me.retention_values().await?);
        me.use_retention(&policy);
        Ok(me)
    }

    /// The organisation this handle is bound to.
    pub fn organisation(&self) -> &Organisation {
        &self.org
    }

    /// Starts a unit of work. Every access to personal data goes through one, and the unit
    /// commits only if it also appended an audit entry (PC-VENDOR-3). Units of one organisation
    /// run one at a time on its write connection, each in its own savepoint, and are committed
    /// together in batches (issue #8, [`crate::writer`]).
    ///
    /// Refused at once with [`StoreError::Overloaded`] when the organisation's write queue is
    /// full.
    pub async fn begin(&self) -> Result<OrgTx<'_>, StoreError> {
        let slot = self.writer.enter()?;
        let (held, pending) = self.writer.begin_unit(&self.origin).await?;
        Ok(OrgTx {
            store: self,
            held: Some(held),
            slot: Some(slot),
            pending,
            rows: Vec::new(),
            personal: false,
        })
    }

    /// The writer's counters now: queue depth, batch sizes, commit latency.
    pub fn write_stats(&self) -> WriteStats {
        self.writer.metrics.snapshot(self.writer.depth())
    }

    /// Uses the organisation's retention policy for entries appended from now on (call after the
    /// change that set it committed).
    pub fn use_retention(&self, policy: &Policy) {
        use std::sync::atomic::Ordering;
        self.audit_years
            .store(policy.get(DataClass::AuditLog), Ordering::Relaxed);
        self.security_years
            .store(policy.get(DataClass::SecurityEvents), Ordering::Relaxed);
    }

    /// The retention end of an event appended now.
    fn retain_until(&self, event: &AuditEvent) -> trygg_audit::Timestamp {
        use std::sync::atomic::Ordering;
        let (class, years) = if event.category.is_security_event() {
            (
                DataClass::SecurityEvents,
                self.security_years.load(Ordering::Relaxed),
            )
        } else {
            (
                DataClass::AuditLog,
                self.audit_years.load(Ordering::Relaxed),
            )
        };
        trygg_audit::Timestamp::from_unix_millis(
            event
                .recorded
                .unix_millis()
                .saturating_add(class.millis(years)),
        )
    }

    /// The origin line of this organisation's audit checkpoints.
    pub fn audit_origin(&self) -> &str {
        &self.origin
    }

    /// The public key that verifies this organisation's checkpoints.
    pub fn audit_verifying_key(&self) -> VerifyingKey {
        self.verifying_key.clone()
    }

    /// Verifies the whole audit log against its signed checkpoints and the copy of the latest one
    /// in the control database, with every stored column and tree node (PC-VENDOR-3), with the
    /// clock at `now`: a payload may be missing only if its retention ended at or before `now`.
    /// The outer error is a failure to read; the inner one names the first bad entry.
    pub async fn verify_audit_at(
        &self,
        now: OffsetDateTime,
    ) -> Result<audit::Verification, StoreError> {
        let now = trygg_audit::Timestamp::from_datetime(now).map_err(audit::audit_err)?;
        let head = self.control.audit_head(self.org.id).await?;
        audit::verify(
            self.db.sqlite(),
            &self.origin,
            &self.verifying_key,
            head,
            now,
        )
        .await
    }

    /// The audit events, optionally only those about one patient (opaque id). Reading them is
    /// itself an access to log: callers append an export event in a transaction.
    pub async fn audit_events(
        &self,
        patient: Option<&str>,
    ) -> Result<Vec<(u64, AuditEvent)>, StoreError> {
        audit::events(self.db.sqlite(), patient).await
    }

    /// Up to `limit` audit events from sequence number `from` on, in order (the incident
    /// watcher's read, issue #15). Entries whose payload was removed are left out.
    pub async fn audit_events_from(
        &self,
        from: u64,
        limit: u32,
    ) -> Result<Vec<(u64, AuditEvent)>, StoreError> {
        audit::events_from(self.db.sqlite(), from, limit).await
    }

    /// The newest signed checkpoint, if the log has any entry.
    pub async fn audit_checkpoint(&self) -> Result<Option<String>, StoreError> {
        audit::latest_checkpoint(self.db.sqlite()).await
    }

    /// Closes the database.
    pub(crate) async fn close(&self) {
        self.db.close().await;
    }

    /// Whether its writer has nothing queued (issue #18: only then may it be closed).
    pub(crate) fn quiet(&self) -> bool {
        self.writer.depth() == 0
    }

    /// How many batches its writer has committed since it was opened: a job reads it before
    /// working out when it is next due, so a commit after that read is known to be unseen.
    pub fn generation(&self) -> u64 {
        self.writer.commits()
    }

    /// Records a data-driven job's visit (issue #18): `seen` is [`OrgStore::generation`] read
    /// before `due`, the job's next due moment, was worked out from the data. When the
    /// organisation closes, `due` is written down if nothing was committed since; otherwise the
    /// job is due at once.
    pub fn job_visited(&self, job: crate::Job, seen: u64, due: Option<OffsetDateTime>) {
        self.visits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(job, (seen, due.map(OffsetDateTime::unix_timestamp)));
    }

    pub(crate) fn remember_wakes(&self, before: Vec<(&'static str, Option<i64>)>) {
        *self
            .wakes_before
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = before;
    }

    /// When a data-driven job next has work here, from the data (issue #18); `before`, what
    /// the control database said before this opening.
    async fn due_from_data(&self, job: crate::Job, before: Option<i64>) -> Option<i64> {
        let at_once = Some(0);
        match job {
            crate::Job::Notices => match self.next_notice_due().await {
                Ok(t) => t.map(OffsetDateTime::unix_timestamp),
                Err(_) => at_once,
            },
            crate::Job::Messages => match self.next_message_job_due(self.notice_keep).await {
                Ok(t) => t.map(OffsetDateTime::unix_timestamp),
                Err(_) => at_once,
            },
            // The watcher drafts from security events only: one logged since it last read
            // makes it due.
            crate::Job::Watch => {
                if self
                    .security_logged
                    .load(std::sync::atomic::Ordering::Relaxed)
                {
                    at_once
                } else {
                    before
                }
            }
            crate::Job::Retention | crate::Job::Snooping => before,
        }
    }

    /// Closes the organisation for good (issue #18): writes down when each job next needs it,
    /// closes the writer's connection, then the pool (checkpointing the WAL).
    pub(crate) async fn close_owned(self) {
        // What is released and not yet written is committed first, so the due times below see
        // it (a unit whose caller stopped waiting still commits).
        crate::writer::flush_now(&self.writer).await;
        let now_gen = self.generation();
        let mut wakes: Vec<(&str, Option<i64>, bool)> = Vec::new();
        let (visits, before) = {
            let visits = self
                .visits
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            let before = self
                .wakes_before
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            (visits, before)
        };
        let before_of = |job: crate::Job| {
            before
                .iter()
                .find(|(j, _)| *j == job.as_str())
                .and_then(|(_, due)| *due)
        };
        for job in crate::Job::FROM_DATA {
            let due = match visits.get(&job) {
                // The job's own word, if nothing was committed after its visit.
                Some((seen, due)) if *seen == now_gen => *due,
                // Nothing committed while it was open: as before the opening.
                _ if now_gen == 0 => before_of(job),
                // Otherwise worked out from the data now ("at once" if that fails).
                _ => self.due_from_data(job, before_of(job)).await,
            };
            wakes.push((job.as_str(), due, false));
        }
        // A calendar job that has not visited it yet comes a day after its creation (a new
        // organisation has nothing to delete or judge before then).
        let first = self.org.created_at.unix_timestamp() + 86_400;
        for job in crate::Job::BY_CALENDAR {
            wakes.push((job.as_str(), Some(first), true));
        }
        if let Err(e) = self.control.set_wake(self.org.id, &wakes).await {
            tracing::warn!(error = %e, "could not record when the jobs next need a closed organisation; they look at it at the next start");
        }
        let Self { writer, db, .. } = self;
        crate::writer::shutdown(writer).await;
        db.close().await;
    }
}

/// A unit of work on one organisation's database. Data methods mark it as touching personal
/// data; [`OrgTx::commit`] then refuses unless [`OrgTx::audit`] appended at least one entry.
/// Dropping it without commit rolls everything back, audit entries included.
///
/// The unit holds the organisation's write connection until it commits or is dropped; its SQL
/// runs inside a savepoint opened at its first statement, and its audit entries are kept in
/// memory until its batch is written (issue #8).
pub struct OrgTx<'a> {
    pub(crate) store: &'a OrgStore,
    /// The write connection; dropping it unfinished rolls the unit back.
    held: Option<Held>,
    slot: Option<Slot>,
    /// The log after this unit's entries.
    pending: LogWriter,
    /// This unit's entries and the tree nodes they closed.
    rows: Vec<Appended>,
    /// Set by every method that reads or writes personal data.
    pub(crate) personal: bool,
}

impl std::fmt::Debug for OrgTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgTx")
            .field("org", &self.store.org.slug)
            .field("appended", &self.rows.len())
            .finish_non_exhaustive()
    }
}

impl OrgTx<'_> {
    /// The write connection, with this unit's savepoint open (opened at the first statement, so
    /// a unit that only appends audit entries costs no round trip).
    pub(crate) async fn conn(&mut self) -> Result<&mut sqlx::SqliteConnection, StoreError> {
        self.held
            .as_mut()
            .ok_or(StoreError::Audit("the unit has ended".into()))?
            .conn()
            .await
    }

    /// Appends an audit event in this unit; returns its sequence number. The entry is written
    /// with the unit's batch.
    pub async fn audit(&mut self, event: &AuditEvent) -> Result<u64, StoreError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let until = self.store.retain_until(event);
        let appended = self
            .pending
            .append_until(event, &rng, until)
            .map_err(audit::audit_err)?;
        let seq = appended.row.seq;
        self.rows.push(appended);
        if event.category.is_security_event() {
            // The incident watcher has something to read (issue #18).
            self.store
                .security_logged
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(seq)
    }

    /// Commits: releases the unit's savepoint into the open batch and waits until the batch is
    /// durable (its entries, tree nodes and one signed checkpoint committed, the checkpoint copied
    /// to the control database). An error means nothing of the unit was kept; a caller cancelled
    /// while it waits leaves the unit to be committed with its batch.
    pub async fn commit(self) -> Result<(), StoreError> {
        let OrgTx {
            store,
            held,
            slot,
            pending,
            rows,
            personal,
        } = self;
        if personal && rows.is_empty() {
            // Dropping `held` rolls the unit back.
            return Err(StoreError::Unaudited);
        }
        let held = held.ok_or(StoreError::Audit("the unit has ended".into()))?;
        let rx = store.writer.finish_unit(held, pending, rows).await?;
        let r = writer::wait(rx).await;
        drop(slot);
        r
    }

    /// Registers a patient. A second patient with the same national identity number is a
    /// conflict.
    pub async fn create_patient(
        &mut self,
        p: &NewPatient,
        now: OffsetDateTime,
    ) -> Result<Patient, StoreError> {
        self.personal = true;
        let id = Uuid::new_v4();
        let row = id.to_string();
        let nid = p.national_id.expose();
        let s = &self.store.sealer;
        let phone = p
            .phone
            .as_ref()
            .map(|v| s.seal("patients", "phone", &row, v.expose().as_bytes()))
            .transpose()?;
        let email = p
            .email
            .as_ref()
            .map(|v| s.seal("patients", "email", &row, v.expose().as_bytes()))
            .transpose()?;
        let r = sqlx::query(
            "INSERT INTO patients (id, nid_hash, nid_sealed, name_sealed, phone_sealed, email_sealed, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&row)
        .bind(s.lookup_hash(NID_KIND, &nid))
        .bind(s.seal("patients", "nid", &row, nid.as_bytes())?)
        .bind(s.seal("patients", "name", &row, p.name.expose().as_bytes())?)
        .bind(phone)
        .bind(email)
        .bind(fmt_time(now)?)
        .execute(self.conn().await?)
        .await;
        match r {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(
                    "a patient with that national identity number exists",
                ))
            }
            Err(e) => return Err(e.into()),
        }
        Ok(Patient {
            id,
            name: p.name.clone(),
            national_id_redacted: p.national_id.redacted(),
            phone: p.phone.clone(),
            email: p.email.clone(),
            created_at: now,
        })
    }

    /// Replaces a patient's contact data (PC-RIGHTS-2: the patient corrects it); `None` removes
    /// it. Sealed as at registration. Returns whether the patient exists.
    pub async fn set_patient_contact(
        &mut self,
        id: Uuid,
        phone: Option<&trygg_core::PhoneNumber>,
        email: Option<&trygg_core::EmailAddress>,
    ) -> Result<bool, StoreError> {
        self.personal = true;
        let row = id.to_string();
        let s = &self.store.sealer;
        let phone = phone
            .map(|v| s.seal("patients", "phone", &row, v.expose().as_bytes()))
            .transpose()?;
        let email = email
            .map(|v| s.seal("patients", "email", &row, v.expose().as_bytes()))
            .transpose()?;
        let r = sqlx::query("UPDATE patients SET phone_sealed = ?, email_sealed = ? WHERE id = ?")
            .bind(phone)
            .bind(email)
            .bind(&row)
            .execute(self.conn().await?)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// One patient by id.
    pub async fn patient(&mut self, id: Uuid) -> Result<Option<Patient>, StoreError> {
        self.personal = true;
        let row = sqlx::query(&format!("{PATIENT_SELECT} WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(self.conn().await?)
            .await?;
        row.map(|r| patient_from_row(&self.store.sealer, &r))
            .transpose()
    }

    /// A patient's national identity number, in full (for a register lookup such as KRR: the
    /// caller logs the disclosure in this unit).
    pub async fn patient_national_id(
        &mut self,
        id: Uuid,
    ) -> Result<Option<NationalId>, StoreError> {
        self.personal = true;
        let row = sqlx::query("SELECT nid_sealed FROM patients WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(self.conn().await?)
            .await?;
        let Some(r) = row else { return Ok(None) };
        let key = id.to_string();
        let nid = self
            .store
            .sealer
            .open_text("patients", "nid", &key, r.try_get("nid_sealed")?)?;
        NationalId::parse(&nid)
            .map(Some)
            .map_err(|_| StoreError::Corrupt("a stored national identity number is invalid"))
    }

    /// One patient by national identity number, through the keyed hash.
    pub async fn patient_by_national_id(
        &mut self,
        nid: &NationalId,
    ) -> Result<Option<Patient>, StoreError> {
        self.personal = true;
        let row = sqlx::query(&format!("{PATIENT_SELECT} WHERE nid_hash = ?"))
            .bind(self.store.sealer.lookup_hash(NID_KIND, &nid.expose()))
            .fetch_optional(self.conn().await?)
            .await?;
        row.map(|r| patient_from_row(&self.store.sealer, &r))
            .transpose()
    }

    /// Every patient, oldest first.
    pub async fn list_patients(&mut self) -> Result<Vec<Patient>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(&format!("{PATIENT_SELECT} ORDER BY created_at, id"))
            .fetch_all(self.conn().await?)
            .await?;
        rows.iter()
            .map(|r| patient_from_row(&self.store.sealer, r))
            .collect()
    }

    /// Registers a person on the staff.
    pub async fn create_personnel(
        &mut self,
        p: &NewPersonnel,
        now: OffsetDateTime,
    ) -> Result<Personnel, StoreError> {
        self.personal = true;
        let id = Uuid::new_v4();
        let row = id.to_string();
        let s = &self.store.sealer;
        let email = p
            .email
            .as_ref()
            .map(|v| s.seal("personnel", "email", &row, v.expose().as_bytes()))
            .transpose()?;
        sqlx::query(
            "INSERT INTO personnel (id, name_sealed, email_sealed, role, employment, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&row)
        .bind(s.seal("personnel", "name", &row, p.name.expose().as_bytes())?)
        .bind(email)
        .bind(p.role.as_str())
        .bind(p.employment.as_str())
        .bind(fmt_time(now)?)
        .execute(self.conn().await?)
        .await?;
        // The role given at registration is the first entry in the authorisation register,
        // open-ended until an administrator limits or revokes it.
        sqlx::query(
            "INSERT INTO grants (id, personnel_id, role, valid_from, granted_by, granted_at) \
             VALUES (?, ?, ?, ?, 'registration', ?)",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(&row)
        .bind(p.role.as_str())
        .bind(now.unix_timestamp())
        .bind(now.unix_timestamp())
        .execute(self.conn().await?)
        .await?;
        Ok(Personnel {
            id,
            name: p.name.clone(),
            email: p.email.clone(),
            role: p.role,
            employment: p.employment,
            created_at: now,
        })
    }

    /// Every person on the staff, oldest first.
    pub async fn list_personnel(&mut self) -> Result<Vec<Personnel>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(
            "SELECT id, name_sealed, email_sealed, role, employment, created_at FROM personnel \
             ORDER BY created_at, id",
        )
        .fetch_all(self.conn().await?)
        .await?;
        let s = &self.store.sealer;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let name = s.open_text("personnel", "name", &id, r.try_get("name_sealed")?)?;
                let email: Option<Vec<u8>> = r.try_get("email_sealed")?;
                let email = email
                    .map(|e| s.open_text("personnel", "email", &id, &e))
                    .transpose()?;
                let role: String = r.try_get("role")?;
                let employment: String = r.try_get("employment")?;
                Ok(Personnel {
                    id: parse_uuid(&id)?,
                    name: PersonName::parse(&name)
                        .map_err(|_| StoreError::Corrupt("a stored name is invalid"))?,
                    email: email
                        .map(|e| EmailAddress::parse(&e))
                        .transpose()
                        .map_err(|_| StoreError::Corrupt("a stored e-mail address is invalid"))?,
                    role: BuiltinRole::parse(&role)
                        .ok_or(StoreError::Corrupt("a stored role is unknown"))?,
                    employment: Employment::parse(&employment)
                        .ok_or(StoreError::Corrupt("a stored employment is unknown"))?,
                    created_at: parse_time(r.try_get("created_at")?)?,
                })
            })
            .collect()
    }
}

fn patient_from_row(s: &Sealer, r: &sqlx::sqlite::SqliteRow) -> Result<Patient, StoreError> {
    let id: String = r.try_get("id")?;
    let nid = s.open_text("patients", "nid", &id, r.try_get("nid_sealed")?)?;
    let nid = NationalId::parse(&nid)
        .map_err(|_| StoreError::Corrupt("a stored national identity number is invalid"))?;
    let name = s.open_text("patients", "name", &id, r.try_get("name_sealed")?)?;
    let phone: Option<Vec<u8>> = r.try_get("phone_sealed")?;
    let email: Option<Vec<u8>> = r.try_get("email_sealed")?;
    Ok(Patient {
        id: parse_uuid(&id)?,
        name: PersonName::parse(&name)
            .map_err(|_| StoreError::Corrupt("a stored name is invalid"))?,
        national_id_redacted: nid.redacted(),
        phone: phone
            .map(|v| s.open_text("patients", "phone", &id, &v))
            .transpose()?
            .map(|v| PhoneNumber::parse(&v))
            .transpose()
            .map_err(|_| StoreError::Corrupt("a stored phone number is invalid"))?,
        email: email
            .map(|v| s.open_text("patients", "email", &id, &v))
            .transpose()?
            .map(|v| EmailAddress::parse(&v))
            .transpose()
            .map_err(|_| StoreError::Corrupt("a stored e-mail address is invalid"))?,
        created_at: parse_time(r.try_get("created_at")?)?,
    })
}

const PATIENT_SELECT: &str =
    "SELECT id, nid_sealed, name_sealed, phone_sealed, email_sealed, created_at FROM patients";
