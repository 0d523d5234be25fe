//! The storage of an organisation's compliance evidence (issue #15): its retention policy and
//! the runs of the retention job (PC-STORE-1), the routine checklist (owner and document sealed),
//! and the incident register (PC-DEV-1): an incident's reference and origin, then one version
//! per change with its facts sealed (triggers in `0022_compliance.sql` refuse to rewrite a
//! version and keep a closed incident five years by the database's own clock). The deletions
//! the retention job makes are here too, each bounded per call. The rules (limits, states,
//! deadlines) are `trygg_core`'s; who may do what is the application's.

use sqlx::Row as _;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::control::{fmt_time, parse_time, parse_uuid};
use crate::{OrgStore, OrgTx, StoreError};

/// One routine of the checklist as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct RoutineRecord {
    /// The routine's key (`trygg_core::compliance::ROUTINES`).
    pub key: String,
    /// Who owns it (opened).
    pub owner: String,
    /// Where the organisation's own document is (opened).
    pub document: String,
    /// The next review date, `YYYY-MM-DD`.
    pub next_review: Option<String>,
    /// When it last changed.
    pub changed_at: OffsetDateTime,
}

impl std::fmt::Debug for RoutineRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutineRecord")
            .field("key", &self.key)
            .field("next_review", &self.next_review)
            .finish_non_exhaustive()
    }
}

/// One version of an incident.
#[derive(Clone, PartialEq, Eq)]
pub struct IncidentVersion {
    /// The incident.
    pub id: Uuid,
    /// Its reference (`AVV-2026-014`).
    pub reference: String,
    /// Where it came from (`person`, `security-event`, `processor-notice`).
    pub source: String,
    /// For a draft from security events, the watcher's rule.
    pub rule: Option<String>,
    /// The version's number, from 1.
    pub version: u32,
    /// Its state's code.
    pub state: String,
    /// When it occurred, if known.
    pub occurred_at: Option<OffsetDateTime>,
    /// When it was discovered.
    pub discovered_at: OffsetDateTime,
    /// When the organisation became aware (the 72-hour clock's start).
    pub aware_at: OffsetDateTime,
    /// The facts as JSON (opened).
    pub facts: String,
    /// Who made this version (an actor id).
    pub by: String,
    /// When.
    pub at: OffsetDateTime,
}

impl std::fmt::Debug for IncidentVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncidentVersion")
            .field("reference", &self.reference)
            .field("version", &self.version)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// A new version's fields.
pub struct NewVersion<'a> {
    /// State code.
    pub state: &'a str,
    /// Occurred.
    pub occurred_at: Option<OffsetDateTime>,
    /// Discovered.
    pub discovered_at: OffsetDateTime,
    /// Aware.
    pub aware_at: OffsetDateTime,
    /// Facts JSON (sealed here).
    pub facts: &'a str,
    /// The actor id.
    pub by: &'a str,
}

const VERSION_SELECT: &str = "SELECT i.id, i.reference, i.source, i.rule, v.version, v.state, \
     v.occurred_at, v.discovered_at, v.aware_at, v.facts_sealed, v.by_actor, v.at \
     FROM incidents i JOIN incident_versions v ON v.incident_id = i.id";

fn opt_time(s: Option<String>) -> Result<Option<OffsetDateTime>, StoreError> {
    s.as_deref().map(parse_time).transpose()
}

fn version_of(
    store: &OrgStore,
    r: &sqlx::sqlite::SqliteRow,
) -> Result<IncidentVersion, StoreError> {
    let id: String = r.try_get("id")?;
    let version: i64 = r.try_get("version")?;
    let sealed: Vec<u8> = r.try_get("facts_sealed")?;
    let cell = format!("{id}:{version}");
    Ok(IncidentVersion {
        facts: store
            .sealer
            .open_text("incident_versions", "facts", &cell, &sealed)?,
        id: parse_uuid(&id)?,
        reference: r.try_get("reference")?,
        source: r.try_get("source")?,
        rule: r.try_get("rule")?,
        version: u32::try_from(version)
            .map_err(|_| StoreError::Corrupt("a version is negative"))?,
        state: r.try_get("state")?,
        occurred_at: opt_time(r.try_get("occurred_at")?)?,
        discovered_at: parse_time(r.try_get("discovered_at")?)?,
        aware_at: parse_time(r.try_get("aware_at")?)?,
        by: r.try_get("by_actor")?,
        at: parse_time(r.try_get("at")?)?,
    })
}

fn retention_rows(rows: &[sqlx::sqlite::SqliteRow]) -> Result<Vec<(String, u32)>, StoreError> {
    rows.iter()
        .map(|r| {
            let v: i64 = r.try_get("value")?;
            Ok((
                r.try_get("class")?,
                u32::try_from(v).map_err(|_| StoreError::Corrupt("a retention is negative"))?,
            ))
        })
        .collect()
}

impl OrgStore {
    /// The stored retention values (`(class code, value)`), read from the pool.
    pub async fn retention_values(&self) -> Result<Vec<(String, u32)>, StoreError> {
        let rows = sqlx::query("SELECT class, value FROM retention_policy ORDER BY class")
            .fetch_all(self.db.sqlite())
            .await?;
        retention_rows(&rows)
    }

    /// The latest retention run: (finished, counts JSON).
    pub async fn last_retention_run(&self) -> Result<Option<(OffsetDateTime, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT finished_at, counts FROM retention_runs ORDER BY finished_at DESC LIMIT 1",
        )
        .fetch_optional(self.db.sqlite())
        .await?;
        row.map(|r| Ok((parse_time(r.try_get("finished_at")?)?, r.try_get("counts")?)))
            .transpose()
    }

    /// Whether any row of the table is there (the compliance checks' look at the schema).
    pub async fn trigger_exists(&self, name: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?")
            .bind(name)
            .fetch_optional(self.db.sqlite())
            .await?;
        Ok(row.is_some())
    }

    /// Where the security-event watcher got to in the audit log.
    pub async fn watch_position(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT next_seq FROM incident_watch WHERE id = 1")
            .fetch_optional(self.db.sqlite())
            .await?;
        let n: i64 = match row {
            Some(r) => r.try_get("next_seq")?,
            None => 0,
        };
        u64::try_from(n).map_err(|_| StoreError::Corrupt("a watch position is negative"))
    }
}

impl OrgTx<'_> {
    /// The stored retention values, read inside the unit (on its write connection), so a check
    /// of a change sees every change committed or queued before it.
    pub async fn retention_values_in_unit(&mut self) -> Result<Vec<(String, u32)>, StoreError> {
        let rows = sqlx::query("SELECT class, value FROM retention_policy ORDER BY class")
            .fetch_all(self.conn().await?)
            .await?;
        retention_rows(&rows)
    }

    /// Sets one class's retention value.
    pub async fn set_retention(
        &mut self,
        class: &str,
        value: u32,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO retention_policy (class, value, changed_at) VALUES (?, ?, ?) \
             ON CONFLICT (class) DO UPDATE SET value = excluded.value, changed_at = excluded.changed_at",
        )
        .bind(class)
        .bind(i64::from(value))
        .bind(fmt_time(now)?)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// Records a run of the retention job.
    pub async fn record_retention_run(
        &mut self,
        started: OffsetDateTime,
        finished: OffsetDateTime,
        counts: &str,
    ) -> Result<Uuid, StoreError> {
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO retention_runs (id, started_at, finished_at, counts) VALUES (?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(fmt_time(started)?)
        .bind(fmt_time(finished)?)
        .bind(counts)
        .execute(self.conn().await?)
        .await?;
        Ok(id)
    }

    /// Removes the payloads (salt, event, patient) of audit entries past their retention, at most
    /// `limit`; the commitments, the tree and every checkpoint stay, so the log still verifies
    /// (PC-STORE-1, PC-VENDOR-3). An entry goes only when both its committed end
    /// (`retain_until`) and the policy stored now (`audit_ms` or, for a security event,
    /// `security_ms` after it was recorded) have passed: the commitment is a floor nobody can
    /// shorten, the policy may only lengthen it. Before a payload is cleared it must still match
    /// its commitment: one that does not is kept (the evidence of tampering) and its sequence
    /// number returned.
    pub async fn remove_due_audit_payloads(
        &mut self,
        now: OffsetDateTime,
        audit_ms: i64,
        security_ms: i64,
        limit: u32,
    ) -> Result<(u64, Vec<u64>), StoreError> {
        let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000)
            .map_err(|_| StoreError::Invalid("a time is out of range"))?;
        let rows = sqlx::query(
            "SELECT seq, commitment, salt, event, recorded FROM audit_entry WHERE event IS NOT NULL \
             AND retain_until IS NOT NULL AND retain_until <= ? ORDER BY seq LIMIT ?",
        )
        .bind(now_ms)
        .bind(i64::from(limit).saturating_mul(5))
        .fetch_all(self.conn().await?)
        .await?;
        let mut due = Vec::new();
        let mut tampered = Vec::new();
        for r in rows {
            if due.len() >= limit as usize {
                break;
            }
            let seq: i64 = r.try_get("seq")?;
            let useq = u64::try_from(seq).map_err(|_| StoreError::Corrupt("negative audit seq"))?;
            let commitment: Vec<u8> = r.try_get("commitment")?;
            let salt: Option<Vec<u8>> = r.try_get("salt")?;
            let event: Vec<u8> = r.try_get("event")?;
            let recorded: i64 = r.try_get("recorded")?;
            let intact = salt
                .as_deref()
                .and_then(|s| trygg_audit::Salt::from_slice(s).ok())
                .is_some_and(|s| {
                    trygg_audit::commitment(&s, &event).as_bytes().as_slice()
                        == commitment.as_slice()
                });
            let decoded = trygg_audit::AuditEvent::from_canonical(&event).ok();
            let (Some(e), true) = (decoded, intact) else {
                tampered.push(useq);
                continue;
            };
            let keep_ms = if e.category.is_security_event() {
                security_ms
            } else {
                audit_ms
            };
            if recorded.saturating_add(keep_ms) <= now_ms {
                due.push(seq);
            }
        }
        let mut removed = 0;
        for seq in due {
            removed += sqlx::query(
                "UPDATE audit_entry SET salt = NULL, event = NULL, patient = NULL WHERE seq = ?",
            )
            .bind(seq)
            .execute(self.conn().await?)
            .await?
            .rows_affected();
        }
        Ok((removed, tampered))
    }

    /// Deletes records of grants that ended (valid to, or revoked) at or before `cutoff`, and at
    /// least five years ago by the database's own clock (the trigger's floor), at most `limit`.
    pub async fn delete_ended_grants(
        &mut self,
        cutoff: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let end =
            "(CASE WHEN revoked_at IS NULL THEN valid_to WHEN valid_to IS NULL THEN revoked_at \
                   ELSE min(revoked_at, valid_to) END)";
        let r = sqlx::query(&format!(
            "DELETE FROM grants WHERE id IN (SELECT id FROM grants WHERE {end} IS NOT NULL \
             AND {end} <= ? AND unixepoch('now') - {end} >= 157788000 LIMIT ?)"
        ))
        .bind(cutoff.unix_timestamp())
        .bind(i64::from(limit))
        .execute(self.conn().await?)
        .await?;
        Ok(r.rows_affected())
    }

    /// Unfiled messages with content in threads whose last message is at or before `cutoff`, at
    /// most `limit`: (message, patient). A message its recipient has not read is kept, whichever
    /// way it went (a patient's message nobody in the care team read made a task; one to the
    /// patient escalated), so even a retention of 0 months deletes only what was read.
    pub async fn messages_of_quiet_threads(
        &mut self,
        cutoff: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.id, m.patient_id FROM messages m JOIN threads t ON t.id = m.thread_id \
             WHERE m.deleted_at IS NULL AND m.filed_at IS NULL AND unixepoch(t.last_at) <= ? \
             AND m.read_at IS NOT NULL ORDER BY t.last_at, m.id LIMIT ?",
        )
        .bind(cutoff.unix_timestamp())
        .bind(i64::from(limit))
        .fetch_all(self.conn().await?)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    parse_uuid(r.try_get("id")?)?,
                    parse_uuid(r.try_get("patient_id")?)?,
                ))
            })
            .collect()
    }

    /// Deletes incidents closed at or before `cutoff` (and five years ago by the database's
    /// clock), with all their versions, at most `limit`. Returns how many.
    pub async fn delete_closed_incidents(
        &mut self,
        cutoff: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.personal = true;
        let rows = sqlx::query(
            "SELECT incident_id FROM incident_versions WHERE state = 'closed' AND unixepoch(at) <= ? \
             AND unixepoch('now') - unixepoch(at) >= 157788000 GROUP BY incident_id LIMIT ?",
        )
        .bind(cutoff.unix_timestamp())
        .bind(i64::from(limit))
        .fetch_all(self.conn().await?)
        .await?;
        let mut n = 0;
        for r in rows {
            let id: String = r.try_get("incident_id")?;
            sqlx::query("DELETE FROM incident_versions WHERE incident_id = ?")
                .bind(&id)
                .execute(self.conn().await?)
                .await?;
            sqlx::query("DELETE FROM incidents WHERE id = ?")
                .bind(&id)
                .execute(self.conn().await?)
                .await?;
            n += 1;
        }
        Ok(n)
    }

    /// The routine checklist as stored (opened).
    pub async fn routines(&mut self) -> Result<Vec<RoutineRecord>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(
            "SELECT key, owner_sealed, document_sealed, next_review, changed_at FROM routines \
             ORDER BY key",
        )
        .fetch_all(self.conn().await?)
        .await?;
        let sealer = &self.store.sealer;
        rows.iter()
            .map(|r| {
                let key: String = r.try_get("key")?;
                let open = |col: &str, name: &str| -> Result<String, StoreError> {
                    let v: Option<Vec<u8>> = r.try_get(col)?;
                    v.map(|b| sealer.open_text("routines", name, &key, &b))
                        .transpose()
                        .map(Option::unwrap_or_default)
                };
                Ok(RoutineRecord {
                    owner: open("owner_sealed", "owner")?,
                    document: open("document_sealed", "document")?,
                    next_review: r.try_get("next_review")?,
                    changed_at: parse_time(r.try_get("changed_at")?)?,
                    key,
                })
            })
            .collect()
    }

    /// Sets one routine's owner, document and next review date.
    pub async fn set_routine(
        &mut self,
        key: &str,
        owner: &str,
        document: &str,
        next_review: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.personal = true;
        let owner = self
            .store
            .sealer
            .seal("routines", "owner", key, owner.as_bytes())?;
        let document = self
            .store
            .sealer
            .seal("routines", "document", key, document.as_bytes())?;
        sqlx::query(
            "INSERT INTO routines (key, owner_sealed, document_sealed, next_review, changed_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET owner_sealed = excluded.owner_sealed, \
             document_sealed = excluded.document_sealed, next_review = excluded.next_review, \
             changed_at = excluded.changed_at",
        )
        .bind(key)
        .bind(owner)
        .bind(document)
        .bind(next_review)
        .bind(fmt_time(now)?)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// Opens a new incident with its first version; its number is the next of `year`.
    pub async fn create_incident(
        &mut self,
        year: i32,
        source: &str,
        rule: Option<&str>,
        first: &NewVersion<'_>,
        now: OffsetDateTime,
        reference: impl Fn(u32) -> String,
    ) -> Result<IncidentVersion, StoreError> {
        self.personal = true;
        let row = sqlx::query("SELECT COALESCE(MAX(number), 0) AS n FROM incidents WHERE year = ?")
            .bind(year)
            .fetch_one(self.conn().await?)
            .await?;
        let n: i64 = row.try_get("n")?;
        let number = u32::try_from(n + 1).map_err(|_| StoreError::Corrupt("incident number"))?;
        let id = Uuid::new_v4();
        let reference = reference(number);
        sqlx::query(
            "INSERT INTO incidents (id, reference, year, number, source, rule, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(&reference)
        .bind(year)
        .bind(i64::from(number))
        .bind(source)
        .bind(rule)
        .bind(fmt_time(now)?)
        .execute(self.conn().await?)
        .await?;
        self.add_incident_version(id, 1, first, now).await?;
        self.incident(id)
            .await?
            .ok_or(StoreError::Corrupt("an incident just made is not there"))
    }

    /// Adds version `version` of an incident (the next one: the primary key refuses a version
    /// another writer took).
    pub async fn add_incident_version(
        &mut self,
        id: Uuid,
        version: u32,
        v: &NewVersion<'_>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.personal = true;
        let sid = id.to_string();
        let cell = format!("{sid}:{version}");
        let sealed =
            self.store
                .sealer
                .seal("incident_versions", "facts", &cell, v.facts.as_bytes())?;
        sqlx::query(
            "INSERT INTO incident_versions (incident_id, version, state, occurred_at, \
             discovered_at, aware_at, facts_sealed, by_actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&sid)
        .bind(i64::from(version))
        .bind(v.state)
        .bind(v.occurred_at.map(fmt_time).transpose()?)
        .bind(fmt_time(v.discovered_at)?)
        .bind(fmt_time(v.aware_at)?)
        .bind(sealed)
        .bind(v.by)
        .bind(fmt_time(now)?)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// The latest version of an incident.
    pub async fn incident(&mut self, id: Uuid) -> Result<Option<IncidentVersion>, StoreError> {
        self.personal = true;
        let row = sqlx::query(&format!(
            "{VERSION_SELECT} WHERE i.id = ? ORDER BY v.version DESC LIMIT 1"
        ))
        .bind(id.to_string())
        .fetch_optional(self.conn().await?)
        .await?;
        row.map(|r| version_of(self.store, &r)).transpose()
    }

    /// Every version of an incident, oldest first.
    pub async fn incident_history(&mut self, id: Uuid) -> Result<Vec<IncidentVersion>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(&format!(
            "{VERSION_SELECT} WHERE i.id = ? ORDER BY v.version"
        ))
        .bind(id.to_string())
        .fetch_all(self.conn().await?)
        .await?;
        rows.iter().map(|r| version_of(self.store, r)).collect()
    }

    /// The latest version of every incident, newest first (at most `limit`).
    pub async fn incidents(&mut self, limit: u32) -> Result<Vec<IncidentVersion>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(&format!(
            "{VERSION_SELECT} WHERE v.version = (SELECT MAX(version) FROM incident_versions w \
             WHERE w.incident_id = i.id) ORDER BY i.created_at DESC LIMIT ?"
        ))
        .bind(i64::from(limit))
        .fetch_all(self.conn().await?)
        .await?;
        rows.iter().map(|r| version_of(self.store, r)).collect()
    }

    /// Incidents the watcher's `rule` opened at or after `since` (open or closed): a burst that
    /// began before a draft was made is that draft's.
    pub async fn open_drafts_of(
        &mut self,
        rule: &str,
        since: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        // Compared as times, not as text: RFC 3339 strings with and without a fraction of a
        // second do not sort as the times they name.
        let rows = sqlx::query("SELECT created_at FROM incidents WHERE rule = ?")
            .bind(rule)
            .fetch_all(self.conn().await?)
            .await?;
        let mut n = 0;
        for r in rows {
            if parse_time(r.try_get("created_at")?)? >= since {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The newest incident the watcher's `rule` opened that is not closed, at its latest version.
    pub async fn open_draft_of(
        &mut self,
        rule: &str,
    ) -> Result<Option<IncidentVersion>, StoreError> {
        self.personal = true;
        let row = sqlx::query(&format!(
            "{VERSION_SELECT} WHERE i.rule = ? AND v.version = (SELECT MAX(version) FROM \
             incident_versions w WHERE w.incident_id = i.id) AND v.state != 'closed' \
             ORDER BY i.created_at DESC LIMIT 1"
        ))
        .bind(rule)
        .fetch_optional(self.conn().await?)
        .await?;
        row.map(|r| version_of(self.store, &r)).transpose()
    }

    /// Moves the watcher's position.
    pub async fn set_watch_position(&mut self, next_seq: u64) -> Result<(), StoreError> {
        let n = i64::try_from(next_seq).map_err(|_| StoreError::Invalid("position"))?;
        sqlx::query(
            "INSERT INTO incident_watch (id, next_seq) VALUES (1, ?) \
             ON CONFLICT (id) DO UPDATE SET next_seq = excluded.next_seq",
        )
        .bind(n)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }
}
