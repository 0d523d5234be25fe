//! Secure message threads, their attachments and the follow-up tasks of personnel (issue #12).
//! Subjects, bodies, attachment names and contents are sealed with the organisation's key; the
//! clear columns hold ids, times and codes. The store keeps the rules the database can keep
//! itself (a filed message is immutable, a deleted one has no content, a task is made once per
//! cause); who may read or write, and when a message escalates or expires, are `trygg-app`'s
//! `messages` and `trygg_core::message`.

use sqlx::Row as _;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::control::{fmt_time, parse_time, parse_uuid};
use crate::{OrgStore, OrgTx, StoreError};

/// A thread as listed: its subject opened (gone once every message's content expired).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ThreadRow {
    /// Stable id.
    pub id: Uuid,
    /// The patient it is with.
    pub patient: Uuid,
    /// The subject, `None` once deleted.
    pub subject: Option<String>,
    /// Who started it (an audit actor id).
    pub created_by: String,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Its newest message.
    #[serde(with = "time::serde::rfc3339")]
    pub last_at: OffsetDateTime,
    /// Messages from the patient no one in the care team has read yet.
    pub unread_from_patient: u32,
    /// Messages to the patient they have not read yet.
    pub unread_by_patient: u32,
}

/// An attachment's description (no content).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttachmentMeta {
    /// Stable id.
    pub id: Uuid,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its name, `None` once deleted.
    pub name: Option<String>,
}

/// A message as read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MessageRow {
    /// Stable id.
    pub id: Uuid,
    /// Its thread.
    pub thread: Uuid,
    /// Who wrote it (an audit actor id).
    pub author: String,
    /// Whether the patient wrote it.
    pub from_patient: bool,
    /// The text, `None` once its retention ran out.
    pub body: Option<String>,
    /// When sent.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The read receipt: when the other side first read it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub read_at: Option<OffsetDateTime>,
    /// What its escalation did, if it escalated.
    pub escalated: Option<String>,
    /// When it was filed to the journal (then immutable).
    #[serde(with = "time::serde::rfc3339::option")]
    pub filed_at: Option<OffsetDateTime>,
    /// When its unfiled content will be deleted.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// When its content was deleted.
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
    /// Its attachments.
    pub attachments: Vec<AttachmentMeta>,
}

/// An attachment to store.
#[derive(Clone, Copy)]
pub struct NewAttachment<'a> {
    /// Its checked media type.
    pub media_type: &'a str,
    /// Its checked name.
    pub name: &'a str,
    /// Its content.
    pub data: &'a [u8],
}

/// A message to store.
#[derive(Clone, Copy)]
pub struct NewMessage<'a> {
    /// The thread.
    pub thread: Uuid,
    /// The patient the thread is with.
    pub patient: Uuid,
    /// Who writes (an audit actor id).
    pub author: &'a str,
    /// Whether the patient writes.
    pub from_patient: bool,
    /// The checked text.
    pub body: &'a str,
    /// Its attachments.
    pub attachments: &'a [NewAttachment<'a>],
    /// The channel of the notice queued with it, if any.
    pub notified: Option<&'a str>,
    /// When it escalates if still unread (messages to the patient).
    pub escalate_at: Option<OffsetDateTime>,
    /// When its content is deleted unless filed.
    pub expires_at: OffsetDateTime,
}

/// An opened attachment.
pub struct Attachment {
    /// The message it belongs to.
    pub message: Uuid,
    /// The thread.
    pub thread: Uuid,
    /// The patient.
    pub patient: Uuid,
    /// Its media type.
    pub media_type: String,
    /// Its name.
    pub name: String,
    /// Its content.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("message", &self.message)
            .field("media_type", &self.media_type)
            .field("size", &self.data.len())
            .finish_non_exhaustive()
    }
}

/// A message whose escalation is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueEscalation {
    /// The message.
    pub id: Uuid,
    /// The patient.
    pub patient: Uuid,
    /// The channel of the notice queued with it, if any.
    pub notified: Option<String>,
    /// Whether the patient wrote it (then nobody in the care team has read it).
    pub from_patient: bool,
}

/// A follow-up task: phone the patient or send a letter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TaskRow {
    /// Stable id.
    pub id: Uuid,
    /// The patient.
    pub patient: Uuid,
    /// Why (a code: `unread-message`, or a notice's failure code).
    pub reason: String,
    /// The unread message, if that is the cause.
    pub message: Option<Uuid>,
    /// The notice that could not be delivered, if that is the cause.
    pub notice: Option<Uuid>,
    /// When made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When done.
    #[serde(with = "time::serde::rfc3339::option")]
    pub done_at: Option<OffsetDateTime>,
    /// Who did it (an audit actor id).
    pub done_by: Option<String>,
}

/// What a thread, message, attachment or task belongs to, read without the write connection:
/// the access decision needs the patient before its unit of work can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owned {
    /// A thread.
    Thread,
    /// A message.
    Message,
    /// An attachment (of a message whose content is still there).
    Attachment,
    /// A follow-up task.
    Task,
}

impl crate::OrgStore {
    /// The patient `id` (of the kind `what`) belongs to, from the read pool; `None` if unknown.
    /// Holds no lock: the caller's unit of work then reads the thing itself again.
    pub async fn owner(&self, what: Owned, id: Uuid) -> Result<Option<Uuid>, StoreError> {
        let sql = match what {
            Owned::Thread => "SELECT patient_id FROM threads WHERE id = ?",
            Owned::Message => "SELECT patient_id FROM messages WHERE id = ?",
            Owned::Attachment => {
                "SELECT m.patient_id FROM attachments a JOIN messages m ON m.id = a.message_id \
                 WHERE a.id = ? AND a.data_sealed IS NOT NULL"
            }
            Owned::Task => "SELECT patient_id FROM tasks WHERE id = ?",
        };
        let p: Option<String> = sqlx::query_scalar(sql)
            .bind(id.to_string())
            .fetch_optional(self.db.sqlite())
            .await?;
        p.as_deref().map(parse_uuid).transpose()
    }
}

fn opt_time(v: Option<String>) -> Result<Option<OffsetDateTime>, StoreError> {
    v.as_deref().map(parse_time).transpose()
}

fn count(v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt("bad count"))
}

impl OrgTx<'_> {
    /// Starts a thread with a patient.
    pub async fn create_thread(
        &mut self,
        patient: Uuid,
        subject: &str,
        created_by: &str,
        now: OffsetDateTime,
    ) -> Result<Uuid, StoreError> {
        self.personal = true;
        let id = Uuid::new_v4();
        let key = id.to_string();
        let sealed = self
            .store
            .sealer
            .seal("threads", "subject", &key, subject.as_bytes())?;
        let at = fmt_time(now)?;
        sqlx::query(
            "INSERT INTO threads (id, patient_id, subject_sealed, created_by, created_at, last_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&key)
        .bind(patient.to_string())
        .bind(sealed)
        .bind(created_by)
        .bind(&at)
        .bind(&at)
        .execute(self.conn().await?)
        .await?;
        Ok(id)
    }

    /// Adds a message (and its attachments) to a thread; returns its id.
    pub async fn add_message(
        &mut self,
        m: &NewMessage<'_>,
        now: OffsetDateTime,
    ) -> Result<Uuid, StoreError> {
        self.personal = true;
        let id = Uuid::new_v4();
        let key = id.to_string();
        let at = fmt_time(now)?;
        let body = self
            .store
            .sealer
            .seal("messages", "body", &key, m.body.as_bytes())?;
        sqlx::query(
            "INSERT INTO messages (id, thread_id, patient_id, author, from_patient, body_sealed, \
             created_at, notified, escalate_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&key)
        .bind(m.thread.to_string())
        .bind(m.patient.to_string())
        .bind(m.author)
        .bind(i64::from(m.from_patient))
        .bind(body)
        .bind(&at)
        .bind(m.notified)
        .bind(m.escalate_at.map(fmt_time).transpose()?)
        .bind(fmt_time(m.expires_at)?)
        .execute(self.conn().await?)
        .await?;
        for a in m.attachments {
            let aid = Uuid::new_v4().to_string();
            let s = &self.store.sealer;
            let name = s.seal("attachments", "name", &aid, a.name.as_bytes())?;
            let data = s.seal("attachments", "data", &aid, a.data)?;
            sqlx::query(
                "INSERT INTO attachments (id, message_id, media_type, size, name_sealed, \
                 data_sealed) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(&aid)
            .bind(&key)
            .bind(a.media_type)
            .bind(i64::try_from(a.data.len()).map_err(|_| StoreError::Invalid("too large"))?)
            .bind(name)
            .bind(data)
            .execute(self.conn().await?)
            .await?;
        }
        // The thread's `last_at` follows by trigger (migration 0017).
        Ok(id)
    }

    fn thread_row(&self, r: &sqlx::sqlite::SqliteRow) -> Result<ThreadRow, StoreError> {
        let key: String = r.try_get("id")?;
        let subject: Option<Vec<u8>> = r.try_get("subject_sealed")?;
        Ok(ThreadRow {
            id: parse_uuid(&key)?,
            patient: parse_uuid(r.try_get("patient_id")?)?,
            subject: subject
                .map(|s| self.store.sealer.open_text("threads", "subject", &key, &s))
                .transpose()?,
            created_by: r.try_get("created_by")?,
            created_at: parse_time(r.try_get("created_at")?)?,
            last_at: parse_time(r.try_get("last_at")?)?,
            unread_from_patient: count(r.try_get("unread_from_patient")?)?,
            unread_by_patient: count(r.try_get("unread_by_patient")?)?,
        })
    }

    const THREAD_SELECT: &'static str = "SELECT t.id, t.patient_id, t.subject_sealed, \
        t.created_by, t.created_at, t.last_at, \
        (SELECT COUNT(*) FROM messages m WHERE m.thread_id = t.id AND m.from_patient = 1 \
           AND m.read_at IS NULL AND m.deleted_at IS NULL) AS unread_from_patient, \
        (SELECT COUNT(*) FROM messages m WHERE m.thread_id = t.id AND m.from_patient = 0 \
           AND m.read_at IS NULL AND m.deleted_at IS NULL) AS unread_by_patient \
        FROM threads t";

    /// A patient's threads, newest first.
    pub async fn threads(&mut self, patient: Uuid) -> Result<Vec<ThreadRow>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(&format!(
            "{} WHERE t.patient_id = ? ORDER BY t.last_at DESC, t.id",
            Self::THREAD_SELECT
        ))
        .bind(patient.to_string())
        .fetch_all(self.conn().await?)
        .await?;
        rows.iter().map(|r| self.thread_row(r)).collect()
    }

    /// One thread.
    pub async fn thread(&mut self, id: Uuid) -> Result<Option<ThreadRow>, StoreError> {
        self.personal = true;
        let row = sqlx::query(&format!("{} WHERE t.id = ?", Self::THREAD_SELECT))
            .bind(id.to_string())
            .fetch_optional(self.conn().await?)
            .await?;
        row.map(|r| self.thread_row(&r)).transpose()
    }

    /// A thread's messages, oldest first, opened.
    pub async fn thread_messages(&mut self, thread: Uuid) -> Result<Vec<MessageRow>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(
            "SELECT id, thread_id, author, from_patient, body_sealed, created_at, read_at, \
             escalated, filed_at, expires_at, deleted_at FROM messages WHERE thread_id = ? \
             ORDER BY created_at, id",
        )
        .bind(thread.to_string())
        .fetch_all(self.conn().await?)
        .await?;
        let atts = sqlx::query(
            "SELECT a.id, a.message_id, a.media_type, a.size, a.name_sealed FROM attachments a \
             JOIN messages m ON m.id = a.message_id WHERE m.thread_id = ? ORDER BY a.rowid",
        )
        .bind(thread.to_string())
        .fetch_all(self.conn().await?)
        .await?;
        let s = &self.store.sealer;
        // Attachments by message, in one pass (not a walk of all of them per message).
        let mut by_message: std::collections::HashMap<String, Vec<&sqlx::sqlite::SqliteRow>> =
            std::collections::HashMap::new();
        for a in &atts {
            by_message
                .entry(a.try_get("message_id")?)
                .or_default()
                .push(a);
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let key: String = r.try_get("id")?;
            let body: Option<Vec<u8>> = r.try_get("body_sealed")?;
            let mut attachments = Vec::new();
            for a in by_message.get(&key).into_iter().flatten() {
                let aid: String = a.try_get("id")?;
                let name: Option<Vec<u8>> = a.try_get("name_sealed")?;
                let size: i64 = a.try_get("size")?;
                attachments.push(AttachmentMeta {
                    id: parse_uuid(&aid)?,
                    media_type: a.try_get("media_type")?,
                    size: u64::try_from(size).map_err(|_| StoreError::Corrupt("bad size"))?,
                    name: name
                        .map(|n| s.open_text("attachments", "name", &aid, &n))
                        .transpose()?,
                });
            }
            let from_patient: i64 = r.try_get("from_patient")?;
            out.push(MessageRow {
                id: parse_uuid(&key)?,
                thread: parse_uuid(r.try_get("thread_id")?)?,
                author: r.try_get("author")?,
                from_patient: from_patient == 1,
                body: body
                    .map(|b| s.open_text("messages", "body", &key, &b))
                    .transpose()?,
                created_at: parse_time(r.try_get("created_at")?)?,
                read_at: opt_time(r.try_get("read_at")?)?,
                escalated: r.try_get("escalated")?,
                filed_at: opt_time(r.try_get("filed_at")?)?,
                expires_at: parse_time(r.try_get("expires_at")?)?,
                deleted_at: opt_time(r.try_get("deleted_at")?)?,
                attachments,
            });
        }
        Ok(out)
    }

    /// Records the read receipt of a thread's unread messages from the other side (`from_patient`
    /// names whose messages are read); returns how many were newly read.
    pub async fn mark_read(
        &mut self,
        thread: Uuid,
        from_patient: bool,
        reader: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let r = sqlx::query(
            "UPDATE messages SET read_at = ?, read_by = ? WHERE thread_id = ? AND from_patient = ? \
             AND read_at IS NULL AND deleted_at IS NULL",
        )
        .bind(fmt_time(now)?)
        .bind(reader)
        .bind(thread.to_string())
        .bind(i64::from(from_patient))
        .execute(self.conn().await?)
        .await?;
        Ok(r.rows_affected())
    }

    /// An attachment, opened; `None` if unknown or its content was deleted.
    pub async fn attachment(&mut self, id: Uuid) -> Result<Option<Attachment>, StoreError> {
        self.personal = true;
        let row = sqlx::query(
            "SELECT a.id, a.message_id, a.media_type, a.name_sealed, a.data_sealed, m.thread_id, \
             m.patient_id FROM attachments a JOIN messages m ON m.id = a.message_id WHERE a.id = ?",
        )
        .bind(id.to_string())
        .fetch_optional(self.conn().await?)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let aid: String = r.try_get("id")?;
        let name: Option<Vec<u8>> = r.try_get("name_sealed")?;
        let data: Option<Vec<u8>> = r.try_get("data_sealed")?;
        let (Some(name), Some(data)) = (name, data) else {
            return Ok(None);
        };
        let s = &self.store.sealer;
        Ok(Some(Attachment {
            message: parse_uuid(r.try_get("message_id")?)?,
            thread: parse_uuid(r.try_get("thread_id")?)?,
            patient: parse_uuid(r.try_get("patient_id")?)?,
            media_type: r.try_get("media_type")?,
            name: s.open_text("attachments", "name", &aid, &name)?,
            data: s.open("attachments", "data", &aid, &data)?,
        }))
    }

    /// Files a message to the journal (PC-RIGHTS-2): from now on immutable. A message already
    /// filed, or whose content was deleted, is a conflict.
    pub async fn file_message(
        &mut self,
        id: Uuid,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.personal = true;
        let r = sqlx::query(
            "UPDATE messages SET filed_at = ?, filed_by = ? WHERE id = ? AND filed_at IS NULL \
             AND deleted_at IS NULL",
        )
        .bind(fmt_time(now)?)
        .bind(by)
        .bind(id.to_string())
        .execute(self.conn().await?)
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::Conflict(
                "the message is filed already, or its content was deleted",
            ));
        }
        Ok(())
    }

    /// Unfiled messages whose retention ran out by `now`, oldest first: (message, patient). A
    /// patient's message nobody in the care team has read is kept (its escalation made a task).
    pub async fn expired_messages(
        &mut self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, patient_id FROM messages WHERE deleted_at IS NULL AND filed_at IS NULL \
             AND expires_at <= ? AND NOT (from_patient = 1 AND read_at IS NULL) \
             ORDER BY expires_at, id LIMIT ?",
        )
        .bind(fmt_time(now)?)
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

    /// Deletes an unfiled message's content (PC-STORE-1): its text, its attachments' names and
    /// contents, and the thread's subject once no message in it keeps content. The row stays,
    /// empty, as the trace that a message was there. Returns whether it changed.
    pub async fn expire_message(
        &mut self,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.personal = true;
        let key = id.to_string();
        let r = sqlx::query(
            "UPDATE messages SET body_sealed = NULL, deleted_at = ? WHERE id = ? \
             AND filed_at IS NULL AND deleted_at IS NULL",
        )
        .bind(fmt_time(now)?)
        .bind(&key)
        .execute(self.conn().await?)
        .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE attachments SET name_sealed = NULL, data_sealed = NULL WHERE message_id = ?",
        )
        .bind(&key)
        .execute(self.conn().await?)
        .await?;
        sqlx::query(
            "UPDATE threads SET subject_sealed = NULL WHERE id = (SELECT thread_id FROM messages \
             WHERE id = ?) AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.thread_id = threads.id \
             AND m.deleted_at IS NULL)",
        )
        .bind(&key)
        .execute(self.conn().await?)
        .await?;
        Ok(true)
    }

    /// Messages to patients still unread at their escalation time.
    pub async fn due_escalations(
        &mut self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<DueEscalation>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, patient_id, notified, from_patient FROM messages WHERE read_at IS NULL \
             AND escalated IS NULL AND deleted_at IS NULL AND escalate_at <= ? \
             ORDER BY escalate_at, id LIMIT ?",
        )
        .bind(fmt_time(now)?)
        .bind(i64::from(limit))
        .fetch_all(self.conn().await?)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DueEscalation {
                    id: parse_uuid(r.try_get("id")?)?,
                    patient: parse_uuid(r.try_get("patient_id")?)?,
                    notified: r.try_get("notified")?,
                    from_patient: r.try_get::<i64, _>("from_patient")? == 1,
                })
            })
            .collect()
    }

    /// Records what a message's escalation did (once).
    pub async fn mark_escalated(&mut self, id: Uuid, what: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE messages SET escalated = ? WHERE id = ? AND escalated IS NULL")
            .bind(what)
            .bind(id.to_string())
            .execute(self.conn().await?)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Makes a follow-up task (once per message or notice); returns its id, or `None` if that
    /// cause has one already.
    pub async fn create_task(
        &mut self,
        patient: Uuid,
        reason: &str,
        message: Option<Uuid>,
        notice: Option<Uuid>,
        now: OffsetDateTime,
    ) -> Result<Option<Uuid>, StoreError> {
        let id = Uuid::new_v4();
        let r = sqlx::query(
            "INSERT OR IGNORE INTO tasks (id, patient_id, reason, message_id, notice_id, \
             created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(patient.to_string())
        .bind(reason)
        .bind(message.map(|m| m.to_string()))
        .bind(notice.map(|n| n.to_string()))
        .bind(fmt_time(now)?)
        .execute(self.conn().await?)
        .await?;
        Ok((r.rows_affected() == 1).then_some(id))
    }

    fn task_row(r: &sqlx::sqlite::SqliteRow) -> Result<TaskRow, StoreError> {
        let message: Option<String> = r.try_get("message_id")?;
        let notice: Option<String> = r.try_get("notice_id")?;
        Ok(TaskRow {
            id: parse_uuid(r.try_get("id")?)?,
            patient: parse_uuid(r.try_get("patient_id")?)?,
            reason: r.try_get("reason")?,
            message: message.as_deref().map(parse_uuid).transpose()?,
            notice: notice.as_deref().map(parse_uuid).transpose()?,
            created_at: parse_time(r.try_get("created_at")?)?,
            done_at: opt_time(r.try_get("done_at")?)?,
            done_by: r.try_get("done_by")?,
        })
    }

    /// Follow-up tasks, open ones only unless `all`, oldest first.
    pub async fn tasks(&mut self, all: bool, limit: u32) -> Result<Vec<TaskRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, patient_id, reason, message_id, notice_id, created_at, done_at, done_by \
             FROM tasks WHERE (? OR done_at IS NULL) ORDER BY created_at, id LIMIT ?",
        )
        .bind(all)
        .bind(i64::from(limit))
        .fetch_all(self.conn().await?)
        .await?;
        rows.iter().map(Self::task_row).collect()
    }

    /// One task.
    pub async fn task(&mut self, id: Uuid) -> Result<Option<TaskRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, patient_id, reason, message_id, notice_id, created_at, done_at, done_by \
             FROM tasks WHERE id = ?",
        )
        .bind(id.to_string())
        .fetch_optional(self.conn().await?)
        .await?;
        row.as_ref().map(Self::task_row).transpose()
    }

    /// Marks a task done (once).
    pub async fn finish_task(
        &mut self,
        id: Uuid,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE tasks SET done_at = ?, done_by = ? WHERE id = ? AND done_at IS NULL",
        )
        .bind(fmt_time(now)?)
        .bind(by)
        .bind(id.to_string())
        .execute(self.conn().await?)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

impl OrgStore {
    /// When the message jobs next have work here (issue #18): the earliest expiry of an unfiled
    /// message, escalation of an unread one, or end of a finished notice's content (`keep`
    /// after its last change). Read outside a unit: times only.
    pub async fn next_message_job_due(
        &self,
        keep: time::Duration,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT MIN(expires_at) FROM messages WHERE deleted_at IS NULL \
             AND filed_at IS NULL AND NOT (from_patient = 1 AND read_at IS NULL)) AS expiry, \
             (SELECT MIN(escalate_at) FROM messages WHERE read_at IS NULL AND escalated IS NULL \
             AND deleted_at IS NULL) AS escalation, \
             (SELECT MIN(updated_at) FROM notices WHERE status IN \
             ('sent', 'delivered', 'undeliverable', 'dead') AND length(body_sealed) > 0) AS notice",
        )
        .fetch_one(self.db.sqlite())
        .await?;
        let mut due: Option<OffsetDateTime> = None;
        for (col, after) in [
            ("expiry", time::Duration::ZERO),
            ("escalation", time::Duration::ZERO),
            ("notice", keep),
        ] {
            let t: Option<String> = row.try_get(col)?;
            if let Some(t) = t.as_deref().map(parse_time).transpose()? {
                // A second later than the earliest stored time: stored times may differ in
                // their fraction's length, so text order is right only to the second.
                let t = t + after + time::Duration::SECOND;
                due = Some(due.map_or(t, |d| d.min(t)));
            }
        }
        Ok(due)
    }
}
