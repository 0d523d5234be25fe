//! The storage of snooping cases (issue #16): one row per person, patient and day (or a whole
//! day for a spike), with the score and reason codes, no names; the outcome set once (trigger in
//! `0023_snoop_cases.sql`). Who may read and decide is the application's rule.

use sqlx::Row as _;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::control::{fmt_time, parse_time, parse_uuid};
use crate::{OrgTx, StoreError};

/// A case as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnoopCase {
    /// Id.
    pub id: Uuid,
    /// The day (`YYYY-MM-DD`).
    pub day: String,
    /// The person who looked.
    pub actor: Uuid,
    /// The patient (none for a spike).
    pub patient: Option<Uuid>,
    /// The score.
    pub score: u32,
    /// Reason codes, comma-separated.
    pub reasons: String,
    /// How many accesses.
    pub accesses: u32,
    /// When found.
    pub created_at: OffsetDateTime,
    /// `explained`, `warned` or `confirmed`, once decided.
    pub outcome: Option<String>,
}

fn case_of(r: &sqlx::sqlite::SqliteRow) -> Result<SnoopCase, StoreError> {
    let patient: Option<String> = r.try_get("patient")?;
    let score: i64 = r.try_get("score")?;
    let accesses: i64 = r.try_get("accesses")?;
    Ok(SnoopCase {
        id: parse_uuid(r.try_get("id")?)?,
        day: r.try_get("day")?,
        actor: parse_uuid(r.try_get("actor")?)?,
        patient: patient.as_deref().map(parse_uuid).transpose()?,
        score: u32::try_from(score).map_err(|_| StoreError::Corrupt("a score is negative"))?,
        reasons: r.try_get("reasons")?,
        accesses: u32::try_from(accesses)
            .map_err(|_| StoreError::Corrupt("a count is negative"))?,
        created_at: parse_time(r.try_get("created_at")?)?,
        outcome: r.try_get("outcome")?,
    })
}

const SELECT: &str = "SELECT id, day, actor, patient, score, reasons, accesses, created_at, outcome FROM snoop_cases";

impl OrgTx<'_> {
    /// Saves a case unless that person, patient and day has one. Returns whether it was new.
    #[allow(clippy::too_many_arguments)]
    pub async fn save_snoop_case(
        &mut self,
        day: &str,
        actor: Uuid,
        patient: Option<Uuid>,
        score: u32,
        reasons: &str,
        accesses: u32,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.personal = true;
        // A day judged again (after a partial run, or with more facts) updates an undecided
        // case with what the fuller run found; a decided case stays as it was decided.
        sqlx::query(
            "UPDATE snoop_cases SET score = ?, reasons = ?, accesses = ? \
             WHERE day = ? AND actor = ? AND COALESCE(patient, '') = COALESCE(?, '') \
             AND outcome IS NULL AND (accesses < ? OR score < ? OR reasons <> ?)",
        )
        .bind(i64::from(score))
        .bind(reasons)
        .bind(i64::from(accesses))
        .bind(day)
        .bind(actor.to_string())
        .bind(patient.map(|p| p.to_string()))
        .bind(i64::from(accesses))
        .bind(i64::from(score))
        .bind(reasons)
        .execute(self.conn().await?)
        .await?;
        let r = sqlx::query(
            "INSERT OR IGNORE INTO snoop_cases (id, day, actor, patient, score, reasons, accesses, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(day)
        .bind(actor.to_string())
        .bind(patient.map(|p| p.to_string()))
        .bind(i64::from(score))
        .bind(reasons)
        .bind(i64::from(accesses))
        .bind(fmt_time(now)?)
        .execute(self.conn().await?)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The open cases (no outcome), highest score first, at most `limit`.
    pub async fn open_snoop_cases(&mut self, limit: u32) -> Result<Vec<SnoopCase>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE outcome IS NULL ORDER BY score DESC, day DESC LIMIT ?"
        ))
        .bind(i64::from(limit))
        .fetch_all(self.conn().await?)
        .await?;
        rows.iter().map(case_of).collect()
    }

    /// One case.
    pub async fn snoop_case(&mut self, id: Uuid) -> Result<Option<SnoopCase>, StoreError> {
        self.personal = true;
        let row = sqlx::query(&format!("{SELECT} WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(self.conn().await?)
            .await?;
        row.as_ref().map(case_of).transpose()
    }

    /// Sets a case's outcome, once. Returns whether it was still open.
    pub async fn decide_snoop_case(
        &mut self,
        id: Uuid,
        outcome: &str,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.personal = true;
        let r = sqlx::query(
            "UPDATE snoop_cases SET outcome = ?, outcome_by = ?, outcome_at = ? WHERE id = ? AND outcome IS NULL",
        )
        .bind(outcome)
        .bind(by)
        .bind(fmt_time(now)?)
        .bind(id.to_string())
        .execute(self.conn().await?)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records that log control judged `day` (once per day; a day judged again updates it).
    pub async fn record_snoop_run(
        &mut self,
        day: &str,
        explained: u64,
        unexplained: u64,
        cases: u64,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO snoop_runs (day, at, explained, unexplained, cases) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (day) DO UPDATE SET at = excluded.at, explained = excluded.explained, \
             unexplained = excluded.unexplained, cases = excluded.cases",
        )
        .bind(day)
        .bind(fmt_time(now)?)
        .bind(n(explained))
        .bind(n(unexplained))
        .bind(n(cases))
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// The cases about `patient` log control found unjustified (warned or confirmed): (the
    /// person who looked, the day).
    pub async fn unjustified_snoop_cases_for(
        &mut self,
        patient: Uuid,
    ) -> Result<Vec<(Uuid, String)>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(
            "SELECT actor, day FROM snoop_cases WHERE patient = ? AND outcome IN ('warned', 'confirmed')",
        )
        .bind(patient.to_string())
        .fetch_all(self.conn().await?)
        .await?;
        rows.iter()
            .map(|r| Ok((parse_uuid(r.try_get("actor")?)?, r.try_get("day")?)))
            .collect()
    }
}

impl crate::OrgStore {
    /// Whether log control has judged `day` (`YYYY-MM-DD`).
    pub async fn snoop_day_judged(&self, day: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM snoop_runs WHERE day = ?")
            .bind(day)
            .fetch_one(self.db.sqlite())
            .await?;
        Ok(n > 0)
    }
}
