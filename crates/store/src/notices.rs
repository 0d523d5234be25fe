//! The outbox of notices to patients (issue #12): SMS and e-mail queued in the same unit of work
//! as the event that causes them, claimed by a worker with a lease, and recorded as sent, retried,
//! given up or reported delivered. Recipient, subject and text are sealed like every other piece
//! of personal data; what the status columns hold is codes. The store has no rules: what may be
//! sent, when to retry and what a report means are `trygg_core::notice` and `trygg-app`'s
//! `notices`.

use sqlx::Row as _;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::control::{fmt_time, parse_time, parse_uuid};
use crate::{OrgStore, OrgTx, StoreError};

/// A notice to queue.
#[derive(Debug, Clone)]
pub struct NewNotice<'a> {
    /// The patient it goes to, when it goes to a registered patient.
    pub patient: Option<Uuid>,
    /// `sms` or `email`.
    pub channel: &'a str,
    /// The kind's code (`trygg_core::notice::Kind`).
    pub kind: &'a str,
    /// Phone number (E.164) or e-mail address. Personal data.
    pub recipient: &'a str,
    /// E-mail subject.
    pub subject: Option<&'a str>,
    /// The text. Personal data.
    pub body: &'a str,
    /// The organisation's neutral sender name.
    pub sender: &'a str,
    /// Who confirmed a text the guard held for review, and their reason (sealed).
    pub review: Option<(&'a str, &'a str)>,
    /// The consultation a two-way notice (an appointment change) is about: the patient's JA or
    /// NEI reaches it.
    pub regarding: Option<Uuid>,
}

/// A notice as the worker needs it: opened.
#[derive(Clone)]
pub struct OutgoingNotice {
    /// Stable id (with the organisation's slug, the idempotency key).
    pub id: Uuid,
    /// The patient, if any.
    pub patient: Option<Uuid>,
    /// `sms` or `email`.
    pub channel: String,
    /// The kind's code.
    pub kind: String,
    /// Phone number or e-mail address.
    pub recipient: String,
    /// E-mail subject.
    pub subject: Option<String>,
    /// The text.
    pub body: String,
    /// The sender name.
    pub sender: String,
    /// This attempt's number (1 for the first).
    pub attempt: u32,
}

impl std::fmt::Debug for OutgoingNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingNotice")
            .field("id", &self.id)
            .field("channel", &self.channel)
            .field("kind", &self.kind)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

/// A notice's state, without its content: what personnel see in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NoticeRow {
    /// Stable id.
    pub id: Uuid,
    /// The patient, if any.
    pub patient: Option<Uuid>,
    /// `sms` or `email`.
    pub channel: String,
    /// The kind's code.
    pub kind: String,
    /// Status code (`trygg_core::notice::Status`).
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt may start, or the current one's lease ends.
    #[serde(with = "time::serde::rfc3339")]
    pub next_at: OffsetDateTime,
    /// Why the last attempt failed (a code).
    pub last_error: Option<String>,
    /// The gateway's id for it.
    pub gateway_id: Option<String>,
    /// When queued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// An attempt's outcome, for [`OrgTx::notice_outcome`].
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    /// `sent`, `queued` (a retry) or `dead`.
    pub status: &'a str,
    /// When the retry may start (for `queued`).
    pub next_at: OffsetDateTime,
    /// The failure's code.
    pub error: Option<&'a str>,
    /// The gateway's id for the notice.
    pub gateway_id: Option<&'a str>,
}

/// A delivery report, for [`OrgTx::notice_report`].
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// The channel the report is about (a notice of another is left alone).
    pub channel: &'a str,
    /// `delivered` or `undeliverable`.
    pub status: &'a str,
    /// The statuses a report may change.
    pub from: &'a [&'a str],
    /// The gateway's id for the notice.
    pub gateway_id: Option<&'a str>,
    /// The failure's code.
    pub error: Option<&'a str>,
}

const SELECT: &str =
    "SELECT id, patient_id, channel, kind, status, attempts, next_at, last_error, \
     gateway_id, created_at, updated_at FROM notices";

fn row(r: &sqlx::sqlite::SqliteRow) -> Result<NoticeRow, StoreError> {
    let patient: Option<String> = r.try_get("patient_id")?;
    let attempts: i64 = r.try_get("attempts")?;
    Ok(NoticeRow {
        id: parse_uuid(r.try_get("id")?)?,
        patient: patient.as_deref().map(parse_uuid).transpose()?,
        channel: r.try_get("channel")?,
        kind: r.try_get("kind")?,
        status: r.try_get("status")?,
        attempts: u32::try_from(attempts).map_err(|_| StoreError::Corrupt("bad attempts"))?,
        next_at: parse_time(r.try_get("next_at")?)?,
        last_error: r.try_get("last_error")?,
        gateway_id: r.try_get("gateway_id")?,
        created_at: parse_time(r.try_get("created_at")?)?,
        updated_at: parse_time(r.try_get("updated_at")?)?,
    })
}

/// A two-way notice as a reply needs it.
#[derive(Clone)]
pub struct Answerable {
    /// The patient.
    pub patient: Option<Uuid>,
    /// The channel's code.
    pub channel: String,
    /// The kind's code.
    pub kind: String,
    /// The phone number or address it went to. Personal data.
    pub recipient: String,
    /// The consultation it is about.
    pub regarding: Option<Uuid>,
    /// `yes` or `no` once answered.
    pub answered: Option<String>,
}

impl std::fmt::Debug for Answerable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answerable")
            .field("kind", &self.kind)
            .field("regarding", &self.regarding)
            .field("answered", &self.answered)
            .finish_non_exhaustive()
    }
}

impl OrgTx<'_> {
    /// A notice as a reply to it needs it (recipient opened).
    pub async fn answerable(&mut self, id: Uuid) -> Result<Option<Answerable>, StoreError> {
        self.personal = true;
        let key = id.to_string();
        let row = sqlx::query(
            "SELECT patient_id, channel, kind, recipient_sealed, regarding, answered FROM notices \
             WHERE id = ?",
        )
        .bind(&key)
        .fetch_optional(self.conn().await?)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let sealed: Vec<u8> = r.try_get("recipient_sealed")?;
        if sealed.is_empty() {
            // Its content was deleted after its retention: nothing to answer.
            return Ok(None);
        }
        let patient: Option<String> = r.try_get("patient_id")?;
        let regarding: Option<String> = r.try_get("regarding")?;
        Ok(Some(Answerable {
            patient: patient.as_deref().map(parse_uuid).transpose()?,
            channel: r.try_get("channel")?,
            kind: r.try_get("kind")?,
            recipient: self
                .store
                .sealer
                .open_text("notices", "recipient", &key, &sealed)?,
            regarding: regarding.as_deref().map(parse_uuid).transpose()?,
            answered: r.try_get("answered")?,
        }))
    }

    /// Deletes the content of notices that reached a final state (`delivered`, `undeliverable`,
    /// `dead`, or `sent` with no report) before `before` (PC-STORE-1): recipient, subject, text
    /// and review reason. The row stays with its codes (the outbox's history, the audit log's
    /// references). Returns how many were emptied; at most `limit` per call.
    pub async fn purge_notices(
        &mut self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let r = sqlx::query(
            "UPDATE notices SET recipient_sealed = X'', body_sealed = X'', subject_sealed = NULL, \
             review_reason_sealed = NULL WHERE id IN (SELECT id FROM notices WHERE status IN \
             ('sent', 'delivered', 'undeliverable', 'dead') AND updated_at < ? \
             AND length(body_sealed) > 0 LIMIT ?)",
        )
        .bind(fmt_time(before)?)
        .bind(i64::from(limit))
        .execute(self.conn().await?)
        .await?;
        Ok(r.rows_affected())
    }

    /// For each channel: whether the patient's consent in force for `purpose` is given, and a
    /// notice of `kind` still waiting there, if any; in **one** statement (a unit holds the write
    /// connection while it runs). The same answers as [`OrgTx::consent`] and
    /// [`OrgTx::pending_notice`] channel by channel.
    pub async fn notice_state(
        &mut self,
        patient: Uuid,
        purpose: &str,
        kind: &str,
        channels: &[&str],
    ) -> Result<Vec<(bool, Option<Uuid>)>, StoreError> {
        self.personal = true;
        let mut out = Vec::with_capacity(channels.len());
        if channels.is_empty() {
            return Ok(out);
        }
        let list = serde_json::to_string(channels)
            .map_err(|_| StoreError::Invalid("a channel list that is not text"))?;
        let rows = sqlx::query(
            "SELECT c.key AS i, \
               (SELECT granted FROM consents WHERE patient_id = ?1 AND purpose = ?2 \
                  AND channel = c.value ORDER BY seq DESC LIMIT 1) AS granted, \
               (SELECT id FROM notices WHERE patient_id = ?1 AND kind = ?3 AND channel = c.value \
                  AND status IN ('queued', 'sending') LIMIT 1) AS pending \
             FROM json_each(?4) c ORDER BY c.key",
        )
        .bind(patient.to_string())
        .bind(purpose)
        .bind(kind)
        .bind(list)
        .fetch_all(self.conn().await?)
        .await?;
        for r in &rows {
            let granted: Option<i64> = r.try_get("granted")?;
            let pending: Option<String> = r.try_get("pending")?;
            out.push((
                granted == Some(1),
                pending.as_deref().map(parse_uuid).transpose()?,
            ));
        }
        if out.len() != channels.len() {
            return Err(StoreError::Corrupt(
                "a channel went missing from the notice state",
            ));
        }
        Ok(out)
    }

    /// A notice of `kind` on `channel` to `patient` still waiting to go (queued or sending), if
    /// any: a second "new message" while the first has not left adds nothing but another SMS.
    pub async fn pending_notice(
        &mut self,
        patient: Uuid,
        kind: &str,
        channel: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM notices WHERE patient_id = ? AND kind = ? AND channel = ? \
             AND status IN ('queued', 'sending') LIMIT 1",
        )
        .bind(patient.to_string())
        .bind(kind)
        .bind(channel)
        .fetch_optional(self.conn().await?)
        .await?;
        id.as_deref().map(parse_uuid).transpose()
    }

    /// Records a two-way notice's answer (`yes`, `no`, or `auto` for the automatic answer to
    /// anything else, which a later `yes` or `no` may still replace); returns whether it changed.
    pub async fn answer_notice(&mut self, id: Uuid, answer: &str) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE notices SET answered = ? WHERE id = ? AND (answered IS NULL OR answered = 'auto')",
        )
            .bind(answer)
            .bind(id.to_string())
            .execute(self.conn().await?)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records that the patient confirmed a scheduled consultation.
    pub async fn confirm_consultation(
        &mut self,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE consultations SET confirmed_at = ? WHERE id = ? AND state = 'scheduled'",
        )
        .bind(fmt_time(now)?)
        .bind(id.to_string())
        .execute(self.conn().await?)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Queues a notice, due at once. Commit it with the event that causes it.
    pub async fn queue_notice(
        &mut self,
        n: &NewNotice<'_>,
        now: OffsetDateTime,
    ) -> Result<Uuid, StoreError> {
        self.personal = true;
        let id = Uuid::new_v4();
        let key = id.to_string();
        let s = &self.store.sealer;
        let recipient = s.seal("notices", "recipient", &key, n.recipient.as_bytes())?;
        let subject = n
            .subject
            .map(|v| s.seal("notices", "subject", &key, v.as_bytes()))
            .transpose()?;
        let body = s.seal("notices", "body", &key, n.body.as_bytes())?;
        let reason = n
            .review
            .map(|(_, r)| s.seal("notices", "review_reason", &key, r.as_bytes()))
            .transpose()?;
        let at = fmt_time(now)?;
        sqlx::query(
            "INSERT INTO notices (id, patient_id, channel, kind, recipient_sealed, subject_sealed, \
             body_sealed, sender, status, attempts, next_at, created_at, updated_at, \
             reviewed_by, review_reason_sealed, regarding) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&key)
        .bind(n.patient.map(|p| p.to_string()))
        .bind(n.channel)
        .bind(n.kind)
        .bind(recipient)
        .bind(subject)
        .bind(body)
        .bind(n.sender)
        .bind(&at)
        .bind(&at)
        .bind(&at)
        .bind(n.review.map(|(by, _)| by))
        .bind(reason)
        .bind(n.regarding.map(|r| r.to_string()))
        .execute(self.conn().await?)
        .await?;
        Ok(id)
    }

    /// Claims up to `limit` notices that are due (queued and due, or sending with an expired
    /// lease: a worker that died mid-attempt), leases them until `lease_until` and counts the
    /// attempt. Returns them opened. The caller appends an audit entry per notice in this unit.
    pub async fn claim_notices(
        &mut self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutgoingNotice>, StoreError> {
        self.personal = true;
        let at = fmt_time(now)?;
        let lease = fmt_time(lease_until)?;
        // One statement: the due notices in claim order, leased and counted, returned (the
        // partial index gives the order; no row is read twice).
        let rows = sqlx::query(
            "UPDATE notices SET status = 'sending', attempts = attempts + 1, next_at = ?, \
             updated_at = ? WHERE id IN (SELECT id FROM notices INDEXED BY notices_pending \
             WHERE status IN ('queued', 'sending') AND next_at <= ? ORDER BY next_at, id LIMIT ?) \
             RETURNING id, patient_id, channel, kind, recipient_sealed, subject_sealed, \
             body_sealed, sender, attempts",
        )
        .bind(&lease)
        .bind(&at)
        .bind(&at)
        .bind(i64::from(limit))
        .fetch_all(self.conn().await?)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let key: String = r.try_get("id")?;
            let s = &self.store.sealer;
            let recipient =
                s.open_text("notices", "recipient", &key, r.try_get("recipient_sealed")?)?;
            let subject: Option<Vec<u8>> = r.try_get("subject_sealed")?;
            let subject = subject
                .map(|v| s.open_text("notices", "subject", &key, &v))
                .transpose()?;
            let body = s.open_text("notices", "body", &key, r.try_get("body_sealed")?)?;
            let attempts: i64 = r.try_get("attempts")?;
            let attempt =
                u32::try_from(attempts).map_err(|_| StoreError::Corrupt("bad attempts"))?;
            let patient: Option<String> = r.try_get("patient_id")?;
            out.push(OutgoingNotice {
                id: parse_uuid(&key)?,
                patient: patient.as_deref().map(parse_uuid).transpose()?,
                channel: r.try_get("channel")?,
                kind: r.try_get("kind")?,
                recipient,
                subject,
                body,
                sender: r.try_get("sender")?,
                attempt,
            });
        }
        Ok(out)
    }

    /// Records attempt `attempt`'s outcome: `status` (`sent`, `queued` for a retry at `next_at`,
    /// or `dead`), the error code, the gateway's id. Only a notice still `sending` in that attempt
    /// changes (a delivery report that arrived first is not overwritten, nor a later attempt's
    /// lease taken over by an earlier one). Returns whether it changed.
    pub async fn notice_outcome(
        &mut self,
        id: Uuid,
        attempt: u32,
        o: &Outcome<'_>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE notices SET status = ?, next_at = ?, last_error = ?, \
             gateway_id = COALESCE(?, gateway_id), updated_at = ? \
             WHERE id = ? AND status = 'sending' AND attempts = ?",
        )
        .bind(o.status)
        .bind(fmt_time(o.next_at)?)
        .bind(o.error)
        .bind(o.gateway_id)
        .bind(fmt_time(now)?)
        .bind(id.to_string())
        .bind(i64::from(attempt))
        .execute(self.conn().await?)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// A delivery report about a notice of `channel`: the notice becomes `status` (`delivered` or
    /// `undeliverable`) if it is in one of `from` (the statuses a report may change). Returns the
    /// notice as it is now, or `None` for an unknown id or a notice of another channel.
    pub async fn notice_report(
        &mut self,
        id: Uuid,
        r: &Report<'_>,
        now: OffsetDateTime,
    ) -> Result<Option<NoticeRow>, StoreError> {
        let Some(current) = self.notice_in_unit(id).await? else {
            return Ok(None);
        };
        if current.channel != r.channel {
            return Ok(None);
        }
        if r.from.contains(&current.status.as_str()) {
            sqlx::query(
                "UPDATE notices SET status = ?, last_error = ?, \
                 gateway_id = COALESCE(gateway_id, ?), updated_at = ? WHERE id = ?",
            )
            .bind(r.status)
            .bind(r.error)
            .bind(r.gateway_id)
            .bind(fmt_time(now)?)
            .bind(id.to_string())
            .execute(self.conn().await?)
            .await?;
        }
        self.notice_in_unit(id).await
    }

    async fn notice_in_unit(&mut self, id: Uuid) -> Result<Option<NoticeRow>, StoreError> {
        sqlx::query(&format!("{SELECT} WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(self.conn().await?)
            .await?
            .as_ref()
            .map(row)
            .transpose()
    }
}

impl OrgStore {
    /// The newest notices (state only, no content), newest first, optionally of one status.
    pub async fn notices(
        &self,
        status: Option<&str>,
        limit: u32,
    ) -> Result<Vec<NoticeRow>, StoreError> {
        let rows = match status {
            Some(s) => {
                sqlx::query(&format!(
                    "{SELECT} WHERE status = ? ORDER BY created_at DESC, id LIMIT ?"
                ))
                .bind(s)
                .bind(i64::from(limit))
                .fetch_all(self.db.sqlite())
                .await?
            }
            None => {
                sqlx::query(&format!("{SELECT} ORDER BY created_at DESC, id LIMIT ?"))
                    .bind(i64::from(limit))
                    .fetch_all(self.db.sqlite())
                    .await?
            }
        };
        rows.iter().map(row).collect()
    }

    /// One notice's state.
    pub async fn notice(&self, id: Uuid) -> Result<Option<NoticeRow>, StoreError> {
        sqlx::query(&format!("{SELECT} WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(self.db.sqlite())
            .await?
            .as_ref()
            .map(row)
            .transpose()
    }

    /// How many notices are in each status.
    pub async fn notice_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM notices GROUP BY status")
            .fetch_all(self.db.sqlite())
            .await?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get("n")?;
                Ok((r.try_get("status")?, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }

    /// The earliest time a notice is due, if any is waiting.
    pub async fn next_notice_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        let t: Option<String> = sqlx::query_scalar(
            "SELECT MIN(next_at) FROM notices INDEXED BY notices_pending \
             WHERE status IN ('queued', 'sending')",
        )
        .fetch_one(self.db.sqlite())
        .await?;
        t.as_deref().map(parse_time).transpose()
    }
}

/// A consent as recorded (PC-CONSENT-1/2).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConsentRow {
    /// The patient.
    pub patient: Uuid,
    /// The purpose's code (`trygg_core::notice::Purpose`).
    pub purpose: String,
    /// `sms` or `email`.
    pub channel: String,
    /// Given (true) or withdrawn (false).
    pub granted: bool,
    /// The version of the consent text the patient was shown.
    pub text_version: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
    /// Who recorded it (an audit actor id).
    pub recorded_by: String,
}

fn consent_row(r: &sqlx::sqlite::SqliteRow) -> Result<ConsentRow, StoreError> {
    let granted: i64 = r.try_get("granted")?;
    Ok(ConsentRow {
        patient: parse_uuid(r.try_get("patient_id")?)?,
        purpose: r.try_get("purpose")?,
        channel: r.try_get("channel")?,
        granted: granted == 1,
        text_version: r.try_get("text_version")?,
        recorded_at: parse_time(r.try_get("recorded_at")?)?,
        recorded_by: r.try_get("recorded_by")?,
    })
}

const CONSENT_SELECT: &str = "SELECT patient_id, purpose, channel, granted, text_version, \
     recorded_at, recorded_by FROM consents";

impl OrgTx<'_> {
    /// Records a consent given or withdrawn (a new row: the history is kept).
    pub async fn record_consent(&mut self, c: &ConsentRow) -> Result<(), StoreError> {
        self.personal = true;
        sqlx::query(
            "INSERT INTO consents (id, patient_id, purpose, channel, granted, text_version, \
             recorded_at, recorded_by, seq) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM consents))",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(c.patient.to_string())
        .bind(&c.purpose)
        .bind(&c.channel)
        .bind(i64::from(c.granted))
        .bind(&c.text_version)
        .bind(fmt_time(c.recorded_at)?)
        .bind(&c.recorded_by)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// The consent in force for a patient, purpose and channel: the newest record, or `None`
    /// when the patient was never asked.
    pub async fn consent(
        &mut self,
        patient: Uuid,
        purpose: &str,
        channel: &str,
    ) -> Result<Option<ConsentRow>, StoreError> {
        self.personal = true;
        sqlx::query(&format!(
            "{CONSENT_SELECT} WHERE patient_id = ? AND purpose = ? AND channel = ? \
             ORDER BY seq DESC LIMIT 1"
        ))
        .bind(patient.to_string())
        .bind(purpose)
        .bind(channel)
        .fetch_optional(self.conn().await?)
        .await?
        .as_ref()
        .map(consent_row)
        .transpose()
    }

    /// Every consent record of a patient, oldest first: the history the patient may see.
    pub async fn consent_history(&mut self, patient: Uuid) -> Result<Vec<ConsentRow>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(&format!(
            "{CONSENT_SELECT} WHERE patient_id = ? ORDER BY seq"
        ))
        .bind(patient.to_string())
        .fetch_all(self.conn().await?)
        .await?;
        rows.iter().map(consent_row).collect()
    }
}
