//! The storage of OpenID Connect logins (issue #13): patients' portal sessions, opened after an
//! ID-porten login, found by the cookie's secret (stored only as a keyed hash, like personnel
//! sessions), ended at logout or timeout; and the HPR number a HelseID login finds a person by
//! (also a keyed hash). The rules (timeouts, which level a page needs) are the application's.

use sqlx::Row as _;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Secret;
use crate::control::{fmt_time, parse_time, parse_uuid};
use crate::{OrgStore, OrgTx, StoreError};

const KIND: &str = "patient-session-secret";
const OIDC_SUBJECT_KIND: &str = "personnel-oidc-subject";

/// A patient's session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientSessionRecord {
    /// Id (opaque; safe in logs and audit entries).
    pub id: Uuid,
    /// The patient.
    pub patient_id: Uuid,
    /// How they authenticated (`idporten`, or `developer` in the demo).
    pub method: String,
    /// At which level (`substantial`, `high`).
    pub assurance: String,
    /// When it was opened.
    pub created_at: OffsetDateTime,
    /// When it was last used.
    pub last_seen_at: OffsetDateTime,
    /// Whether it has ended.
    pub ended: bool,
}

fn record(r: &sqlx::sqlite::SqliteRow) -> Result<PatientSessionRecord, StoreError> {
    let ended: Option<String> = r.try_get("ended_at")?;
    Ok(PatientSessionRecord {
        id: parse_uuid(r.try_get("id")?)?,
        patient_id: parse_uuid(r.try_get("patient_id")?)?,
        method: r.try_get("method")?,
        assurance: r.try_get("assurance")?,
        created_at: parse_time(r.try_get("created_at")?)?,
        last_seen_at: parse_time(r.try_get("last_seen_at")?)?,
        ended: ended.is_some(),
    })
}

const SELECT: &str = "SELECT id, patient_id, method, assurance, created_at, last_seen_at, \
     ended_at FROM patient_sessions";

impl OrgTx<'_> {
    /// Opens a session for a patient who has just authenticated; the secret goes to the patient's
    /// browser once.
    pub async fn create_patient_session(
        &mut self,
        patient: Uuid,
        method: &str,
        assurance: &str,
        now: OffsetDateTime,
    ) -> Result<(PatientSessionRecord, Secret), StoreError> {
        self.personal = true;
        let secret = Secret::generate()?;
        let id = Uuid::new_v4();
        let at = fmt_time(now)?;
        sqlx::query(
            "INSERT INTO patient_sessions (id, secret_hash, patient_id, method, assurance, \
             created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(self.store.sealer.lookup_hash(KIND, secret.expose()))
        .bind(patient.to_string())
        .bind(method)
        .bind(assurance)
        .bind(&at)
        .bind(&at)
        .execute(self.conn().await?)
        .await?;
        Ok((
            PatientSessionRecord {
                id,
                patient_id: patient,
                method: method.to_owned(),
                assurance: assurance.to_owned(),
                created_at: now,
                last_seen_at: now,
                ended: false,
            },
            secret,
        ))
    }

    /// Ends a patient's session (logout, timeout); false if it had ended already.
    pub async fn end_patient_session(
        &mut self,
        id: Uuid,
        reason: &'static str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.personal = true;
        let r = sqlx::query(
            "UPDATE patient_sessions SET ended_at = ?, end_reason = ? \
             WHERE id = ? AND ended_at IS NULL",
        )
        .bind(fmt_time(now)?)
        .bind(reason)
        .bind(id.to_string())
        .execute(self.conn().await?)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

impl OrgStore {
    /// The session a cookie's secret names, ended or not (read pool).
    pub async fn patient_session_by_secret(
        &self,
        secret: &Secret,
    ) -> Result<Option<PatientSessionRecord>, StoreError> {
        let row = sqlx::query(&format!("{SELECT} WHERE secret_hash = ?"))
            .bind(self.sealer.lookup_hash(KIND, secret.expose()))
            .fetch_optional(self.db.sqlite())
            .await?;
        row.as_ref().map(record).transpose()
    }

    /// Notes that a live patient session was used now (for the idle timeout).
    pub async fn touch_patient_session(
        &self,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE patient_sessions SET last_seen_at = ? WHERE id = ? AND ended_at IS NULL",
        )
        .bind(fmt_time(now)?)
        .bind(id.to_string())
        .execute(tx.conn().await?)
        .await?;
        tx.commit().await
    }
}

const HPR_KIND: &str = "hpr-number";

impl OrgTx<'_> {
    /// Records a person's HPR number (one to nine digits); `false` if there is no such person.
    pub async fn set_personnel_hpr(
        &mut self,
        personnel: Uuid,
        hpr: &str,
    ) -> Result<bool, StoreError> {
        if hpr.is_empty() || hpr.len() > 9 || !hpr.bytes().all(|b| b.is_ascii_digit()) {
            return Err(StoreError::Invalid("an HPR number is one to nine digits"));
        }
        let hash = self.store.sealer.lookup_hash(HPR_KIND, hpr);
        let taken = "another person has that HPR number";
        self.set_login_key(personnel, "hpr_hash", hash, taken).await
    }

    /// The person with this HPR number, if any.
    pub async fn personnel_by_hpr(&mut self, hpr: &str) -> Result<Option<Uuid>, StoreError> {
        let hash = self.store.sealer.lookup_hash(HPR_KIND, hpr);
        self.personnel_by_login_key("hpr_hash", hash).await
    }

    /// Links a person to their subject at an OpenID provider (`issuer`); `false` if there is no
    /// such person.
    pub async fn set_personnel_oidc_subject(
        &mut self,
        personnel: Uuid,
        issuer: &str,
        subject: &str,
    ) -> Result<bool, StoreError> {
        let hash = self.oidc_subject_hash(issuer, subject);
        let taken = "another person is linked to that login";
        self.set_login_key(personnel, "oidc_subject_hash", hash, taken)
            .await
    }

    /// The person linked to this subject at `issuer`, if any.
    pub async fn personnel_by_oidc_subject(
        &mut self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        let hash = self.oidc_subject_hash(issuer, subject);
        self.personnel_by_login_key("oidc_subject_hash", hash).await
    }

    fn oidc_subject_hash(&self, issuer: &str, subject: &str) -> String {
        let value = format!("{}\n{subject}", issuer.trim_end_matches('/'));
        self.store.sealer.lookup_hash(OIDC_SUBJECT_KIND, &value)
    }

    /// Sets one of the personnel table's login lookup columns (a constant name) to `hash`.
    async fn set_login_key(
        &mut self,
        personnel: Uuid,
        column: &'static str,
        hash: String,
        taken: &'static str,
    ) -> Result<bool, StoreError> {
        self.personal = true;
        let r = sqlx::query(&format!("UPDATE personnel SET {column} = ? WHERE id = ?"))
            .bind(hash)
            .bind(personnel.to_string())
            .execute(self.conn().await?)
            .await;
        match r {
            Ok(r) => Ok(r.rows_affected() == 1),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict(taken))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn personnel_by_login_key(
        &mut self,
        column: &'static str,
        hash: String,
    ) -> Result<Option<Uuid>, StoreError> {
        self.personal = true;
        let id: Option<String> =
            sqlx::query_scalar(&format!("SELECT id FROM personnel WHERE {column} = ?"))
                .bind(hash)
                .fetch_optional(self.conn().await?)
                .await?;
        id.as_deref().map(parse_uuid).transpose()
    }
}
