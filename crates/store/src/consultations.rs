//! Persistence for planned video consultations and their invitations (issue #10, VC-CONF-1,
//! VC-LOG-1/2). A consultation row holds its plan (kind, start, length) and, once over, its state
//! and sealed journal note; a participant row binds one invitation to one person of the
//! personnel or patient register. Invitation tokens are random 256-bit [`Secret`]s kept only as
//! keyed hashes, like enrolment links. The live room (who waits, who is admitted) is not stored:
//! it is `trygg_core::consultation::Room`, run by `trygg-app`; its every transition is an audit
//! entry instead.
//!
//! The store has no rules: whether an invitation may be used is
//! `trygg_identity::invitation::check`, who may plan or admit is the access rule in
//! `trygg-app`.

use sqlx::Row as _;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Secret;
use crate::control::{fmt_time, parse_time, parse_uuid};
use crate::{OrgStore, OrgTx, StoreError};

const INVITATION_KIND: &str = "invitation-token";

/// Who fills a participant's place: a person on the staff or in the patient register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Person {
    /// A personnel id.
    Personnel(Uuid),
    /// A patient id (the patient, or a companion registered as a person).
    Patient(Uuid),
}

/// A planned participant with their invitation's state (never its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantRow {
    /// Stable id of the invitation.
    pub id: Uuid,
    /// The consultation.
    pub consultation: Uuid,
    /// The room's participant number (`p<number>`).
    pub number: u32,
    /// Role code (`trygg_core::consultation::Role::code`).
    pub role: String,
    /// Host.
    pub host: bool,
    /// Who.
    pub person: Person,
    /// When invited (or last re-invited).
    pub invited_at: OffsetDateTime,
    /// When the invitation expires.
    pub expires_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

/// A consultation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultationRow {
    /// Stable id.
    pub id: Uuid,
    /// Kind code (`trygg_core::consultation::ConsultationKind::code`).
    pub kind: String,
    /// The patient it is about.
    pub patient: Uuid,
    /// Planned start.
    pub starts_at: OffsetDateTime,
    /// Planned length in minutes.
    pub minutes: u32,
    /// Who planned it (an audit actor id).
    pub created_by: String,
    /// When.
    pub created_at: OffsetDateTime,
    /// `scheduled`, `ended` or `cancelled`.
    pub state: String,
    /// When it ended or was cancelled.
    pub ended_at: Option<OffsetDateTime>,
}

/// A consultation to plan.
#[derive(Debug, Clone)]
pub struct NewConsultation {
    /// Kind code.
    pub kind: String,
    /// The patient it is about.
    pub patient: Uuid,
    /// Planned start.
    pub starts_at: OffsetDateTime,
    /// Planned length in minutes (5 to 480).
    pub minutes: u32,
    /// Who plans it (an audit actor id).
    pub created_by: String,
}

/// A participant to invite.
#[derive(Debug, Clone, Copy)]
pub struct NewParticipant<'a> {
    /// Role code.
    pub role: &'a str,
    /// Host.
    pub host: bool,
    /// Who.
    pub person: Person,
}

pub(crate) const CONSULTATION_SELECT: &str =
    "SELECT id, kind, patient_id, starts_at, minutes, created_by, created_at, \
     state, ended_at FROM consultations";
const PARTICIPANT_SELECT: &str = "SELECT id, consultation_id, number, role, host, personnel_id, \
     patient_id, invited_at, expires_at, revoked_at FROM consultation_participants";

pub(crate) fn consultation_from_row(
    r: &sqlx::sqlite::SqliteRow,
) -> Result<ConsultationRow, StoreError> {
    let minutes: i64 = r.try_get("minutes")?;
    let ended: Option<String> = r.try_get("ended_at")?;
    Ok(ConsultationRow {
        id: parse_uuid(r.try_get("id")?)?,
        kind: r.try_get("kind")?,
        patient: parse_uuid(r.try_get("patient_id")?)?,
        starts_at: parse_time(r.try_get("starts_at")?)?,
        minutes: u32::try_from(minutes).map_err(|_| StoreError::Corrupt("bad minutes"))?,
        created_by: r.try_get("created_by")?,
        created_at: parse_time(r.try_get("created_at")?)?,
        state: r.try_get("state")?,
        ended_at: ended.as_deref().map(parse_time).transpose()?,
    })
}

fn participant_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<ParticipantRow, StoreError> {
    let number: i64 = r.try_get("number")?;
    let host: i64 = r.try_get("host")?;
    let personnel: Option<String> = r.try_get("personnel_id")?;
    let patient: Option<String> = r.try_get("patient_id")?;
    let person = match (personnel, patient) {
        (Some(p), None) => Person::Personnel(parse_uuid(&p)?),
        (None, Some(p)) => Person::Patient(parse_uuid(&p)?),
        _ => return Err(StoreError::Corrupt("a participant is not one person")),
    };
    let revoked: Option<String> = r.try_get("revoked_at")?;
    Ok(ParticipantRow {
        id: parse_uuid(r.try_get("id")?)?,
        consultation: parse_uuid(r.try_get("consultation_id")?)?,
        number: u32::try_from(number).map_err(|_| StoreError::Corrupt("bad number"))?,
        role: r.try_get("role")?,
        host: host != 0,
        person,
        invited_at: parse_time(r.try_get("invited_at")?)?,
        expires_at: parse_time(r.try_get("expires_at")?)?,
        revoked_at: revoked.as_deref().map(parse_time).transpose()?,
    })
}

impl OrgTx<'_> {
    /// Plans a consultation (its participants are added with [`OrgTx::add_participant`]).
    pub async fn create_consultation(
        &mut self,
        c: &NewConsultation,
        now: OffsetDateTime,
    ) -> Result<ConsultationRow, StoreError> {
        self.personal = true;
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO consultations (id, kind, patient_id, starts_at, minutes, created_by, \
             created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(&c.kind)
        .bind(c.patient.to_string())
        .bind(fmt_time(c.starts_at)?)
        .bind(i64::from(c.minutes))
        .bind(&c.created_by)
        .bind(fmt_time(now)?)
        .execute(self.conn().await?)
        .await?;
        Ok(ConsultationRow {
            id,
            kind: c.kind.clone(),
            patient: c.patient,
            starts_at: c.starts_at,
            minutes: c.minutes,
            created_by: c.created_by.clone(),
            created_at: now,
            state: "scheduled".to_owned(),
            ended_at: None,
        })
    }

    /// Adds a participant with a fresh invitation valid until `expires_at`, and returns its
    /// token once. The same person twice in one consultation is a conflict.
    pub async fn add_participant(
        &mut self,
        consultation: Uuid,
        p: NewParticipant<'_>,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(ParticipantRow, Secret), StoreError> {
        self.personal = true;
        let existing = self.participants(consultation).await?;
        if existing.iter().any(|e| e.person == p.person) {
            return Err(StoreError::Conflict(
                "this person is a participant of the consultation already",
            ));
        }
        if existing.len() >= 64 {
            return Err(StoreError::Invalid(
                "a consultation has at most 64 participants",
            ));
        }
        let number = existing.iter().map(|e| e.number).max().unwrap_or(0) + 1;
        let id = Uuid::new_v4();
        let secret = Secret::generate()?;
        let (personnel, patient) = match p.person {
            Person::Personnel(u) => (Some(u.to_string()), None),
            Person::Patient(u) => (None, Some(u.to_string())),
        };
        sqlx::query(
            "INSERT INTO consultation_participants (id, consultation_id, number, role, host, \
             personnel_id, patient_id, token_hash, invited_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(consultation.to_string())
        .bind(i64::from(number))
        .bind(p.role)
        .bind(i64::from(p.host))
        .bind(personnel)
        .bind(patient)
        .bind(
            self.store
                .sealer
                .lookup_hash(INVITATION_KIND, secret.expose()),
        )
        .bind(fmt_time(now)?)
        .bind(fmt_time(expires_at)?)
        .execute(self.conn().await?)
        .await?;
        Ok((
            ParticipantRow {
                id,
                consultation,
                number,
                role: p.role.to_owned(),
                host: p.host,
                person: p.person,
                invited_at: now,
                expires_at,
                revoked_at: None,
            },
            secret,
        ))
    }

    /// Gives a participant a new invitation token (the old one stops working at once) valid
    /// until `expires_at`, lifting an earlier revocation.
    pub async fn reissue_invitation(
        &mut self,
        participant: Uuid,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Secret, StoreError> {
        self.personal = true;
        let secret = Secret::generate()?;
        let r = sqlx::query(
            "UPDATE consultation_participants SET token_hash = ?, invited_at = ?, expires_at = ?, \
             revoked_at = NULL WHERE id = ?",
        )
        .bind(
            self.store
                .sealer
                .lookup_hash(INVITATION_KIND, secret.expose()),
        )
        .bind(fmt_time(now)?)
        .bind(fmt_time(expires_at)?)
        .bind(participant.to_string())
        .execute(self.conn().await?)
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::NotFound("no such participant"));
        }
        Ok(secret)
    }

    /// Revokes a participant's invitation (at once; a later [`OrgTx::reissue_invitation`] gives
    /// them a new one).
    pub async fn revoke_invitation(
        &mut self,
        participant: Uuid,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.personal = true;
        let r = sqlx::query(
            "UPDATE consultation_participants SET revoked_at = ? WHERE id = ? \
             AND revoked_at IS NULL",
        )
        .bind(fmt_time(now)?)
        .bind(participant.to_string())
        .execute(self.conn().await?)
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::Conflict(
                "the invitation is revoked already, or there is no such participant",
            ));
        }
        Ok(())
    }

    /// One consultation.
    pub async fn consultation(&mut self, id: Uuid) -> Result<Option<ConsultationRow>, StoreError> {
        self.personal = true;
        let row = sqlx::query(&format!("{CONSULTATION_SELECT} WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(self.conn().await?)
            .await?;
        row.as_ref().map(consultation_from_row).transpose()
    }

    /// The consultations planned to start in `[from, to)`, earliest first, at most 500.
    pub async fn consultations_between(
        &mut self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<ConsultationRow>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(&format!(
            "{CONSULTATION_SELECT} WHERE starts_at >= ? AND starts_at < ? \
             ORDER BY starts_at, id LIMIT 500"
        ))
        .bind(fmt_time(from)?)
        .bind(fmt_time(to)?)
        .fetch_all(self.conn().await?)
        .await?;
        rows.iter().map(consultation_from_row).collect()
    }

    /// The consultations a person of the patient register takes part in (as the patient or a
    /// companion) that start in `[from, to)`, earliest first, at most 50, each with their own
    /// place in it.
    pub async fn consultations_of_patient(
        &mut self,
        patient: Uuid,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<(ConsultationRow, ParticipantRow)>, StoreError> {
        self.consultations_of(Person::Patient(patient), from, to)
            .await
    }

    /// The consultations a person of either register takes part in that start in `[from,
    /// to)`, earliest first, at most 50, each with their own place in it.
    pub async fn consultations_of(
        &mut self,
        person: Person,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<(ConsultationRow, ParticipantRow)>, StoreError> {
        self.personal = true;
        let (column, id) = match person {
            Person::Patient(p) => ("patient_id", p),
            Person::Personnel(p) => ("personnel_id", p),
        };
        let rows = sqlx::query(&format!(
            "{PARTICIPANT_SELECT} WHERE {column} = ? AND consultation_id IN \
             (SELECT id FROM consultations WHERE starts_at >= ? AND starts_at < ?) LIMIT 50"
        ))
        .bind(id.to_string())
        .bind(fmt_time(from)?)
        .bind(fmt_time(to)?)
        .fetch_all(self.conn().await?)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let p = participant_from_row(r)?;
            if let Some(c) = self.consultation(p.consultation).await? {
                out.push((c, p));
            }
        }
        out.sort_by_key(|(c, _)| (c.starts_at, c.id));
        Ok(out)
    }

    /// A consultation's participants, by number.
    pub async fn participants(
        &mut self,
        consultation: Uuid,
    ) -> Result<Vec<ParticipantRow>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(&format!(
            "{PARTICIPANT_SELECT} WHERE consultation_id = ? ORDER BY number"
        ))
        .bind(consultation.to_string())
        .fetch_all(self.conn().await?)
        .await?;
        rows.iter().map(participant_from_row).collect()
    }

    /// Marks a consultation ended (`ended`) or cancelled (`cancelled`) by `by`, with its sealed
    /// journal note. Only a scheduled consultation can end; a second end is a conflict.
    pub async fn finish_consultation(
        &mut self,
        id: Uuid,
        state: &str,
        by: &str,
        journal: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.personal = true;
        let row = id.to_string();
        let sealed = journal
            .map(|j| {
                self.store
                    .sealer
                    .seal("consultations", "journal", &row, j.as_bytes())
            })
            .transpose()?;
        let r = sqlx::query(
            "UPDATE consultations SET state = ?, ended_at = ?, ended_by = ?, journal_sealed = ? \
             WHERE id = ? AND state = 'scheduled'",
        )
        .bind(state)
        .bind(fmt_time(now)?)
        .bind(by)
        .bind(sealed)
        .bind(&row)
        .execute(self.conn().await?)
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::Conflict("the consultation is over already"));
        }
        Ok(())
    }

    /// Keeps the journal note of a consultation that took place but was marked over elsewhere
    /// (ended at the console while its room ran): it is then `ended`, with the note, unless it
    /// has a note already.
    pub async fn attach_journal(
        &mut self,
        id: Uuid,
        journal: Option<&str>,
    ) -> Result<(), StoreError> {
        self.personal = true;
        let row = id.to_string();
        let Some(j) = journal else { return Ok(()) };
        let sealed = self
            .store
            .sealer
            .seal("consultations", "journal", &row, j.as_bytes())?;
        sqlx::query(
            "UPDATE consultations SET state = 'ended', journal_sealed = ? \
             WHERE id = ? AND journal_sealed IS NULL",
        )
        .bind(sealed)
        .bind(&row)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// The journal note of an ended consultation (JSON, as the app wrote it), if it has one.
    pub async fn consultation_journal(&mut self, id: Uuid) -> Result<Option<String>, StoreError> {
        self.personal = true;
        let row = id.to_string();
        let r = sqlx::query("SELECT journal_sealed FROM consultations WHERE id = ?")
            .bind(&row)
            .fetch_optional(self.conn().await?)
            .await?;
        let Some(r) = r else { return Ok(None) };
        let sealed: Option<Vec<u8>> = r.try_get("journal_sealed")?;
        sealed
            .map(|s| {
                self.store
                    .sealer
                    .open_text("consultations", "journal", &row, &s)
            })
            .transpose()
    }
}

impl OrgStore {
    /// The invitation with this token and its consultation, read outside a unit of work: the
    /// rows hold ids, roles and times only (no name, no contact data), like a session's, so the
    /// lookup every socket's `hello` makes does not queue behind the organisation's writes.
    pub async fn invitation_by_token(
        &self,
        token: &Secret,
    ) -> Result<Option<(ParticipantRow, ConsultationRow)>, StoreError> {
        let row = sqlx::query(&format!("{PARTICIPANT_SELECT} WHERE token_hash = ?"))
            .bind(self.sealer.lookup_hash(INVITATION_KIND, token.expose()))
            .fetch_optional(self.db.sqlite())
            .await?;
        let Some(p) = row.as_ref().map(participant_from_row).transpose()? else {
            return Ok(None);
        };
        let c = sqlx::query(&format!("{CONSULTATION_SELECT} WHERE id = ?"))
            .bind(p.consultation.to_string())
            .fetch_optional(self.db.sqlite())
            .await?
            .as_ref()
            .map(consultation_from_row)
            .transpose()?
            .ok_or(StoreError::Corrupt(
                "an invitation without its consultation",
            ))?;
        Ok(Some((p, c)))
    }

    /// The state of a consultation's invitations, `(number, invited_at, revoked)` (no personal
    /// data; read outside a unit of work). A live room asks on every tick, so that a revocation
    /// or a renewal made elsewhere (the console, another node) disconnects the old link's holder.
    pub async fn invitation_states(
        &self,
        id: Uuid,
    ) -> Result<Vec<(u32, OffsetDateTime, bool)>, StoreError> {
        let rows = sqlx::query(
            "SELECT number, invited_at, revoked_at IS NOT NULL AS revoked \
             FROM consultation_participants WHERE consultation_id = ?",
        )
        .bind(id.to_string())
        .fetch_all(self.db.sqlite())
        .await?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get("number")?;
                let revoked: bool = r.try_get("revoked")?;
                Ok((
                    u32::try_from(n).map_err(|_| StoreError::Corrupt("bad number"))?,
                    parse_time(r.try_get("invited_at")?)?,
                    revoked,
                ))
            })
            .collect()
    }

    /// A consultation's state (`scheduled`, `ended`, `cancelled`), read outside a unit of work:
    /// no personal data, so no log entry. A live room asks it on every tick, so that an end
    /// ordered elsewhere (the console, another node) reaches it.
    pub async fn consultation_state(&self, id: Uuid) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT state FROM consultations WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(self.db.sqlite())
                .await?,
        )
    }
}

impl OrgStore {
    /// The organisation's information text about video consultation in `lang` (VC-INFO-1), if
    /// it set one. No personal data: read outside a unit of work.
    pub async fn consultation_info(&self, lang: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT text FROM consultation_info WHERE lang = ?")
                .bind(lang)
                .fetch_optional(self.db.sqlite())
                .await?,
        )
    }

    /// Whether the organisation requires end-to-end encrypted call media (VC-ENC-2); `None`:
    /// it left it to the deployment's default. No personal data: read outside a unit of work.
    pub async fn e2ee_required(&self) -> Result<Option<bool>, StoreError> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT e2ee_required FROM media_policy WHERE id = 1")
                .fetch_optional(self.db.sqlite())
                .await?;
        Ok(v.map(|v| v != 0))
    }
}

impl OrgTx<'_> {
    /// Sets whether the organisation requires end-to-end encrypted call media (the caller
    /// audits the change).
    pub async fn set_e2ee_required(
        &mut self,
        required: bool,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO media_policy (id, e2ee_required, updated_at, updated_by) VALUES (1, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET e2ee_required = excluded.e2ee_required, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(i64::from(required))
        .bind(fmt_time(now)?)
        .bind(by)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// Sets the organisation's information text in `lang` (the caller audits the change).
    pub async fn set_consultation_info(
        &mut self,
        lang: &str,
        text: &str,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO consultation_info (lang, text, updated_at, updated_by) VALUES (?, ?, ?, ?) \
             ON CONFLICT (lang) DO UPDATE SET text = excluded.text, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(lang)
        .bind(text)
        .bind(fmt_time(now)?)
        .bind(by)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }
}
