//! Writing an organisation's records back from its export (issue #16): rows with the ids, times
//! and actors they had, personal data sealed under this organisation's key like any other
//! write. The checks of what is imported (names, numbers, codes) are the app's; here every row
//! goes in inside the caller's unit of work, so an import is whole or nothing. Invitations,
//! device enrolment codes, sessions and passkeys are secrets of the old deployment and are not
//! carried: people enrol again, and a device keeps its registered public key.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::access::{CareRecord, GrantRecord};
use crate::consultations::ConsultationRow;
use crate::control::fmt_time;
use crate::notices::ConsentRow;
use crate::{IncidentVersion, OrgTx, RoutineRecord, StoreError};

/// A patient to write back.
#[derive(Clone)]
pub struct PatientIn {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// National identity number (checked by the caller).
    pub nid: String,
    /// Mobile number.
    pub phone: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// When registered.
    pub created_at: OffsetDateTime,
}

/// A person on the staff to write back.
#[derive(Clone)]
pub struct PersonnelIn {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Work e-mail.
    pub email: Option<String>,
    /// Built-in role code.
    pub role: String,
    /// Employment code.
    pub employment: String,
    /// When registered.
    pub created_at: OffsetDateTime,
    /// End of employment (Unix seconds).
    pub employment_end: Option<i64>,
}

/// A message to write back, with its thread's facts.
#[derive(Clone)]
pub struct MessageIn {
    /// Id.
    pub id: Uuid,
    /// Its thread.
    pub thread: Uuid,
    /// The thread's patient.
    pub patient: Uuid,
    /// The thread's subject.
    pub subject: Option<String>,
    /// Author (an actor id).
    pub author: String,
    /// Whether the patient wrote it.
    pub from_patient: bool,
    /// Its text, if kept.
    pub body: Option<String>,
    /// Sent.
    pub created_at: OffsetDateTime,
    /// Read by the other side.
    pub read_at: Option<OffsetDateTime>,
    /// Filed to the journal.
    pub filed_at: Option<OffsetDateTime>,
    /// When its unfiled content is deleted.
    pub expires_at: OffsetDateTime,
    /// Attachments: media type, name, content.
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

/// A device to write back.
#[derive(Clone)]
pub struct DeviceIn {
    /// Id.
    pub id: Uuid,
    /// The place's label.
    pub label: String,
    /// The patient it stands in for, if any.
    pub patient: Option<Uuid>,
    /// Its registered key.
    pub public_key: Option<Vec<u8>>,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// Everything an import writes.
#[derive(Clone, Default)]
pub struct ImportRows {
    /// Patients.
    pub patients: Vec<PatientIn>,
    /// Staff.
    pub personnel: Vec<PersonnelIn>,
    /// The organisation's own roles: name, comma-separated permissions.
    pub roles: Vec<(String, String)>,
    /// Grants.
    pub grants: Vec<GrantRecord>,
    /// Care relationships.
    pub care: Vec<CareRecord>,
    /// Consents, in their order.
    pub consents: Vec<ConsentRow>,
    /// Consultations with their journal notes.
    pub consultations: Vec<(ConsultationRow, Option<String>)>,
    /// Messages, in order.
    pub messages: Vec<MessageIn>,
    /// Devices.
    pub devices: Vec<DeviceIn>,
    /// Incidents, every version.
    pub incidents: Vec<IncidentVersion>,
    /// Routines.
    pub routines: Vec<RoutineRecord>,
    /// Retention policy: class, value.
    pub retention: Vec<(String, u32)>,
}

fn opt_time(t: Option<OffsetDateTime>) -> Result<Option<String>, StoreError> {
    t.map(fmt_time).transpose()
}

impl OrgTx<'_> {
    /// Writes the rows of an import (see the module's doc). The caller appends the audit entry.
    pub async fn import_rows(
        &mut self,
        d: &ImportRows,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.personal = true;
        let at = fmt_time(now)?;
        for p in &d.patients {
            let row = p.id.to_string();
            let s = &self.store.sealer;
            let phone = p
                .phone
                .as_ref()
                .map(|v| s.seal("patients", "phone", &row, v.as_bytes()))
                .transpose()?;
            let email = p
                .email
                .as_ref()
                .map(|v| s.seal("patients", "email", &row, v.as_bytes()))
                .transpose()?;
            let q = sqlx::query(
                "INSERT INTO patients (id, nid_hash, nid_sealed, name_sealed, phone_sealed, email_sealed, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&row)
            .bind(s.lookup_hash(crate::org::NID_KIND, &p.nid))
            .bind(s.seal("patients", "nid", &row, p.nid.as_bytes())?)
            .bind(s.seal("patients", "name", &row, p.name.as_bytes())?)
            .bind(phone)
            .bind(email)
            .bind(fmt_time(p.created_at)?);
            q.execute(self.conn().await?).await?;
        }
        for p in &d.personnel {
            let row = p.id.to_string();
            let s = &self.store.sealer;
            let email = p
                .email
                .as_ref()
                .map(|v| s.seal("personnel", "email", &row, v.as_bytes()))
                .transpose()?;
            let q = sqlx::query(
                "INSERT INTO personnel (id, name_sealed, email_sealed, role, employment, created_at, employment_end) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&row)
            .bind(s.seal("personnel", "name", &row, p.name.as_bytes())?)
            .bind(email)
            .bind(&p.role)
            .bind(&p.employment)
            .bind(fmt_time(p.created_at)?)
            .bind(p.employment_end);
            q.execute(self.conn().await?).await?;
        }
        for (name, perms) in &d.roles {
            sqlx::query("INSERT INTO roles (name, permissions) VALUES (?, ?)")
                .bind(name)
                .bind(perms)
                .execute(self.conn().await?)
                .await?;
        }
        for g in &d.grants {
            sqlx::query(
                "INSERT INTO grants (id, personnel_id, role, valid_from, valid_to, granted_by, granted_at, \
                 revoked_at, revoked_by, revoke_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(g.id.to_string())
            .bind(g.personnel_id.to_string())
            .bind(&g.role)
            .bind(g.valid_from)
            .bind(g.valid_to)
            .bind(&g.granted_by)
            .bind(g.granted_at)
            .bind(g.revoked_at)
            .bind(&g.revoked_by)
            .bind(&g.revoke_reason)
            .execute(self.conn().await?)
            .await?;
        }
        for c in &d.care {
            sqlx::query(
                "INSERT INTO care_relationships (id, personnel_id, patient_id, reason, valid_from, valid_to, \
                 created_by, created_at, ended_at, self_declared, attested_at) \
                 VALUES (?, ?, ?, ?, ?, ?, 'trygg:import', ?, ?, ?, CASE WHEN ? = 1 THEN ? END)",
            )
            .bind(c.id.to_string())
            .bind(c.personnel_id.to_string())
            .bind(c.patient_id.to_string())
            .bind(&c.reason)
            .bind(c.valid_from)
            .bind(c.valid_to)
            .bind(c.valid_from)
            .bind(c.ended_at)
            .bind(i64::from(c.self_declared))
            .bind(i64::from(c.self_declared))
            .bind(now.unix_timestamp())
            .execute(self.conn().await?)
            .await?;
        }
        for (i, c) in d.consents.iter().enumerate() {
            sqlx::query(
                "INSERT INTO consents (id, patient_id, purpose, channel, granted, text_version, recorded_at, recorded_by, seq) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(Uuid::new_v4().to_string())
            .bind(c.patient.to_string())
            .bind(&c.purpose)
            .bind(&c.channel)
            .bind(i64::from(c.granted))
            .bind(&c.text_version)
            .bind(fmt_time(c.recorded_at)?)
            .bind(&c.recorded_by)
            .bind(i64::try_from(i).unwrap_or(i64::MAX) + 1)
            .execute(self.conn().await?)
            .await?;
        }
        for (c, journal) in &d.consultations {
            let row = c.id.to_string();
            let sealed = journal
                .as_ref()
                .map(|j| {
                    self.store
                        .sealer
                        .seal("consultations", "journal", &row, j.as_bytes())
                })
                .transpose()?;
            sqlx::query(
                "INSERT INTO consultations (id, kind, patient_id, starts_at, minutes, created_by, created_at, \
                 state, ended_at, journal_sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&row)
            .bind(&c.kind)
            .bind(c.patient.to_string())
            .bind(fmt_time(c.starts_at)?)
            .bind(i64::from(c.minutes))
            .bind(&c.created_by)
            .bind(fmt_time(c.created_at)?)
            .bind(&c.state)
            .bind(opt_time(c.ended_at)?)
            .bind(sealed)
            .execute(self.conn().await?)
            .await?;
        }
        let mut threads: std::collections::HashSet<Uuid> = std::collections::HashSet::new();
        let mut last_of: std::collections::HashMap<Uuid, OffsetDateTime> = Default::default();
        for m in &d.messages {
            let e = last_of.entry(m.thread).or_insert(m.created_at);
            *e = (*e).max(m.created_at);
        }
        for m in &d.messages {
            let s = &self.store.sealer;
            if threads.insert(m.thread) {
                let key = m.thread.to_string();
                let subject = m
                    .subject
                    .as_ref()
                    .map(|v| s.seal("threads", "subject", &key, v.as_bytes()))
                    .transpose()?;
                let last = last_of.get(&m.thread).copied().unwrap_or(m.created_at);
                let q = sqlx::query(
                    "INSERT INTO threads (id, patient_id, subject_sealed, created_by, created_at, last_at) VALUES (?, ?, ?, ?, ?, ?)",
                )
                .bind(&key)
                .bind(m.patient.to_string())
                .bind(subject)
                .bind(&m.author)
                .bind(fmt_time(m.created_at)?)
                .bind(fmt_time(last)?);
                q.execute(self.conn().await?).await?;
            }
            let key = m.id.to_string();
            let s = &self.store.sealer;
            let body = m
                .body
                .as_ref()
                .map(|b| s.seal("messages", "body", &key, b.as_bytes()))
                .transpose()?;
            let deleted = if m.body.is_none() && m.filed_at.is_none() {
                Some(at.clone())
            } else {
                None
            };
            let q = sqlx::query(
                "INSERT INTO messages (id, thread_id, patient_id, author, from_patient, body_sealed, created_at, \
                 read_at, filed_at, filed_by, expires_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&key)
            .bind(m.thread.to_string())
            .bind(m.patient.to_string())
            .bind(&m.author)
            .bind(i64::from(m.from_patient))
            .bind(body)
            .bind(fmt_time(m.created_at)?)
            .bind(opt_time(m.read_at)?)
            .bind(opt_time(m.filed_at)?)
            .bind(m.filed_at.map(|_| "trygg:import"))
            .bind(fmt_time(m.expires_at)?)
            .bind(deleted);
            q.execute(self.conn().await?).await?;
            for (media_type, name, data) in &m.attachments {
                let aid = Uuid::new_v4().to_string();
                let s = &self.store.sealer;
                let q = sqlx::query(
                    "INSERT INTO attachments (id, message_id, media_type, size, name_sealed, data_sealed) VALUES (?, ?, ?, ?, ?, ?)",
                )
                .bind(&aid)
                .bind(&key)
                .bind(media_type)
                .bind(i64::try_from(data.len()).unwrap_or(i64::MAX))
                .bind(s.seal("attachments", "name", &aid, name.as_bytes())?)
                .bind(s.seal("attachments", "data", &aid, data)?);
                q.execute(self.conn().await?).await?;
            }
        }
        for dv in &d.devices {
            let sid = dv.id.to_string();
            let label = self
                .store
                .sealer
                .seal("devices", "label", &sid, dv.label.as_bytes())?;
            sqlx::query(
                "INSERT INTO devices (id, label_sealed, patient_id, code_hash, code_expires_at, issued_by, created_at, \
                 public_key, enrolled_at, revoked_at, revoked_by) VALUES (?, ?, ?, NULL, ?, 'trygg:import', ?, ?, ?, ?, ?)",
            )
            .bind(&sid)
            .bind(label)
            .bind(dv.patient.map(|p| p.to_string()))
            .bind(&at)
            .bind(&at)
            .bind(dv.public_key.clone())
            .bind(dv.public_key.as_ref().map(|_| at.clone()))
            .bind(dv.revoked.then(|| at.clone()))
            .bind(dv.revoked.then_some("trygg:import"))
            .execute(self.conn().await?)
            .await?;
        }
        let mut seen: std::collections::HashSet<Uuid> = std::collections::HashSet::new();
        for v in &d.incidents {
            if seen.insert(v.id) {
                let mut parts = v.reference.split('-').skip(1);
                let year: i64 =
                    parts
                        .next()
                        .and_then(|y| y.parse().ok())
                        .ok_or(StoreError::Invalid(
                            "an incident's reference is AVV-YYYY-NNN",
                        ))?;
                let number: i64 =
                    parts
                        .next()
                        .and_then(|n| n.parse().ok())
                        .ok_or(StoreError::Invalid(
                            "an incident's reference is AVV-YYYY-NNN",
                        ))?;
                sqlx::query(
                    "INSERT INTO incidents (id, reference, year, number, source, rule, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(v.id.to_string())
                .bind(&v.reference)
                .bind(year)
                .bind(number)
                .bind(&v.source)
                .bind(&v.rule)
                .bind(fmt_time(v.at)?)
                .execute(self.conn().await?)
                .await?;
            }
            let cell = format!("{}:{}", v.id, v.version);
            let facts =
                self.store
                    .sealer
                    .seal("incident_versions", "facts", &cell, v.facts.as_bytes())?;
            sqlx::query(
                "INSERT INTO incident_versions (incident_id, version, state, occurred_at, discovered_at, aware_at, \
                 facts_sealed, by_actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(v.id.to_string())
            .bind(i64::from(v.version))
            .bind(&v.state)
            .bind(opt_time(v.occurred_at)?)
            .bind(fmt_time(v.discovered_at)?)
            .bind(fmt_time(v.aware_at)?)
            .bind(facts)
            .bind(&v.by)
            .bind(fmt_time(v.at)?)
            .execute(self.conn().await?)
            .await?;
        }
        for r in &d.routines {
            let s = &self.store.sealer;
            let q = sqlx::query(
                "INSERT INTO routines (key, owner_sealed, document_sealed, next_review, changed_at) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&r.key)
            .bind(s.seal("routines", "owner", &r.key, r.owner.as_bytes())?)
            .bind(s.seal("routines", "document", &r.key, r.document.as_bytes())?)
            .bind(&r.next_review)
            .bind(fmt_time(r.changed_at)?);
            q.execute(self.conn().await?).await?;
        }
        for (class, value) in &d.retention {
            sqlx::query(
                "INSERT INTO retention_policy (class, value, changed_at) VALUES (?, ?, ?) \
                 ON CONFLICT (class) DO UPDATE SET value = excluded.value, changed_at = excluded.changed_at",
            )
            .bind(class)
            .bind(i64::from(*value))
            .bind(&at)
            .execute(self.conn().await?)
            .await?;
        }
        Ok(())
    }
}

impl OrgTx<'_> {
    /// Writes back the rows of one table the export carried generically
    /// ([`OrgTx::dump_table`]): only a table this schema has that is neither typed nor left out
    /// (`crate::exit`), only columns it has; a column stored sealed (`<name>_sealed`) is sealed
    /// again under this organisation's key, keyed by the row's `id`. In the caller's unit.
    pub async fn import_table(
        &mut self,
        table: &str,
        rows: &[serde_json::Map<String, serde_json::Value>],
    ) -> Result<(), StoreError> {
        use base64::Engine as _;
        use serde_json::Value;
        use sqlx::Row as _;
        self.personal = true;
        let known = self.table_names().await?;
        if !known.iter().any(|t| t == table)
            || crate::exit::TYPED_TABLES.contains(&table)
            || crate::exit::NOT_EXPORTED.iter().any(|(n, _)| *n == table)
        {
            return Err(StoreError::Invalid(
                "the export names a table Trygg does not import",
            ));
        }
        let cols: Vec<String> =
            sqlx::query(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .fetch_all(self.conn().await?)
                .await?
                .iter()
                .map(|r| r.try_get("name"))
                .collect::<Result<_, _>>()?;
        for row in rows {
            let key = row.get("id").and_then(Value::as_str).map(str::to_owned);
            let mut names = Vec::new();
            let mut values: Vec<Option<Vec<u8>>> = Vec::new();
            let mut kinds: Vec<&Value> = Vec::new();
            for (name, v) in row {
                let sealed = format!("{name}_sealed");
                if cols.contains(&sealed) {
                    let Some(k) = &key else {
                        return Err(StoreError::Invalid(
                            "a sealed column in a row without an id",
                        ));
                    };
                    let plain = match v {
                        Value::Null => None,
                        Value::String(t) => Some(t.clone().into_bytes()),
                        _ => return Err(StoreError::Invalid("a sealed value is text")),
                    };
                    let cell = plain
                        .map(|p| self.store.sealer.seal(table, name, k, &p))
                        .transpose()?;
                    names.push(sealed);
                    values.push(cell);
                    kinds.push(&Value::Null);
                } else if cols.contains(name) {
                    names.push(name.clone());
                    values.push(None);
                    kinds.push(v);
                } else {
                    return Err(StoreError::Invalid(
                        "the export names a column Trygg does not have",
                    ));
                }
            }
            let sql = format!(
                "INSERT INTO \"{table}\" ({}) VALUES ({})",
                names
                    .iter()
                    .map(|n| format!("\"{n}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
                vec!["?"; names.len()].join(", ")
            );
            let mut q = sqlx::query(&sql);
            for (sealed, v) in values.into_iter().zip(kinds) {
                q = match (sealed, v) {
                    (Some(b), _) => q.bind(b),
                    (None, Value::Null) => q.bind(None::<String>),
                    (None, Value::Bool(b)) => q.bind(i64::from(*b)),
                    (None, Value::Number(n)) if n.is_i64() => q.bind(n.as_i64()),
                    (None, Value::Number(n)) => q.bind(n.as_f64()),
                    (None, Value::String(t)) => q.bind(t.clone()),
                    (None, other) => {
                        q.bind(base64::engine::general_purpose::STANDARD.encode(other.to_string()))
                    }
                };
            }
            q.execute(self.conn().await?).await?;
        }
        Ok(())
    }
}
