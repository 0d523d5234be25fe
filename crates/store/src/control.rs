//! The control database: organisations (with their wrapped data keys) and API tokens. It holds no
//! personal data (PC-VENDOR-4).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sqlx::Row as _;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use trygg_core::OrgSlug;
use uuid::Uuid;

use crate::crypto::{fill_random, sha256_hex};
use crate::db::{Db, Migrations};
use crate::StoreError;

/// An organisation (tenant), as the control database knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Organisation {
    /// Stable id; also the name of its database file.
    pub id: Uuid,
    /// Short name for paths and the CLI.
    pub slug: OrgSlug,
    /// Display name.
    pub name: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// How an organisation's outbound SMS and e-mail present it, for the confidentiality guard
/// (PC-CONF-1): the neutral sender name, and its own phone numbers and domains (a number or link
/// that is the organisation's own is flagged; another's is not).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Messaging {
    /// The neutral sender name, e.g. "Normland legesenter"; the organisation's name when empty.
    pub sender_name: Option<String>,
    /// The organisation's own phone numbers.
    pub phones: Vec<String>,
    /// The organisation's own web and e-mail domains.
    pub domains: Vec<String>,
}

/// An API token's record (never its secret).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiToken {
    /// Stable id.
    pub id: Uuid,
    /// What it is for.
    pub label: String,
}

#[derive(Debug, Clone)]
pub(crate) struct ControlDb {
    db: Db,
    heads: Arc<HeadQueue>,
}

/// Checkpoints waiting to be copied to `audit_heads`, the connection of the one copy under way
/// (opened at the first copy), and whether a background retry runs.
#[derive(Debug, Default)]
struct HeadQueue {
    queued: std::sync::Mutex<HashMap<Uuid, (i64, String)>>,
    writing: tokio::sync::Mutex<Option<sqlx::SqliteConnection>>,
    retrying: AtomicBool,
}

/// An organisation's queued head: its tree size and signed checkpoint text.
type QueuedHead = (Uuid, (i64, String));

impl HeadQueue {
    /// Queues heads, keeping the larger tree size per organisation.
    fn queue(&self, heads: impl IntoIterator<Item = QueuedHead>) -> Result<(), StoreError> {
        let mut queued = self
            .queued
            .lock()
            .map_err(|_| StoreError::Audit("the head queue is poisoned".into()))?;
        for (org, (size, text)) in heads {
            if queued.get(&org).is_none_or(|(s, _)| *s < size) {
                queued.insert(org, (size, text));
            }
        }
        Ok(())
    }

    /// Whether no head waits.
    fn is_empty(&self) -> bool {
        self.queued.lock().map(|q| q.is_empty()).unwrap_or(true)
    }

    /// Takes every queued head.
    fn take(&self) -> Result<Vec<QueuedHead>, StoreError> {
        Ok(self
            .queued
            .lock()
            .map_err(|_| StoreError::Audit("the head queue is poisoned".into()))?
            .drain()
            .collect())
    }
}

/// Checkpoints the WAL into the database and truncates it to nothing, waiting (up to ten
/// seconds) while another connection holds a read that stops it; refused if it cannot.
async fn truncate_wal(conn: &mut sqlx::SqliteConnection) -> Result<(), StoreError> {
    for _ in 0..100 {
        let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut *conn)
            .await?;
        let busy: i64 = row.try_get(0)?;
        if busy == 0 {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(StoreError::Conflict(
        "the control database is in use by another process: its log could not be emptied; stop every Trygg process and delete again",
    ))
}

pub(crate) fn fmt_time(t: OffsetDateTime) -> Result<String, StoreError> {
    t.format(&Rfc3339)
        .map_err(|_| StoreError::Invalid("a time could not be formatted"))
}

pub(crate) fn parse_time(s: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|_| StoreError::Corrupt("a stored time is invalid"))
}

pub(crate) fn parse_uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|_| StoreError::Corrupt("a stored id is invalid"))
}

impl ControlDb {
    pub(crate) async fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            db: Db::open_sqlite(path, Migrations::Control).await?,
            heads: Arc::default(),
        })
    }

    /// Records a new organisation, and in the same transaction its log's first head: the
    /// signed checkpoint of the empty tree. So a log always has an outside head, and a later copy
    /// lost to a power cut (they are written without an fsync of their own) leaves an older head,
    /// never none.
    pub(crate) async fn insert_org(
        &self,
        org: &Organisation,
        wrapped_key: &[u8],
        empty_head: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.sqlite().begin().await?;
        let r = sqlx::query(
            "INSERT INTO organisations (id, slug, name, wrapped_key, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(org.id.to_string())
        .bind(org.slug.as_str())
        .bind(&org.name)
        .bind(wrapped_key)
        .bind(fmt_time(org.created_at)?)
        .execute(&mut *tx)
        .await;
        let r = match r {
            Ok(_) => {
                sqlx::query(
                    "INSERT INTO audit_heads (org_id, tree_size, checkpoint) VALUES (?, 0, ?)",
                )
                .bind(org.id.to_string())
                .bind(empty_head)
                .execute(&mut *tx)
                .await
            }
            Err(e) => Err(e),
        };
        match r {
            Ok(_) => Ok(tx.commit().await?),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                "an organisation with that short name exists",
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn list_orgs(&self) -> Result<Vec<Organisation>, StoreError> {
        let rows =
            sqlx::query("SELECT id, slug, name, created_at FROM organisations ORDER BY slug")
                .fetch_all(self.db.sqlite())
                .await?;
        rows.iter().map(org_from_row).collect()
    }

    pub(crate) async fn org_by_slug(
        &self,
        slug: &OrgSlug,
    ) -> Result<Option<Organisation>, StoreError> {
        let row =
            sqlx::query("SELECT id, slug, name, created_at FROM organisations WHERE slug = ?")
                .bind(slug.as_str())
                .fetch_optional(self.db.sqlite())
                .await?;
        row.as_ref().map(org_from_row).transpose()
    }

    /// Removes an organisation's rows (its head, then its row with the wrapped data key) with
    /// `secure_delete` on, then checkpoints the WAL to nothing and vacuums, so no copy of the
    /// key stays in the WAL or in a free page (issue #16, crypto-shredding). Returns the tables
    /// it removed rows from.
    pub(crate) async fn delete_org(&self, id: Uuid) -> Result<Vec<&'static str>, StoreError> {
        let mut conn = self.db.sqlite().acquire().await?;
        sqlx::query("PRAGMA secure_delete = ON")
            .execute(&mut *conn)
            .await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let heads = sqlx::query("DELETE FROM audit_heads WHERE org_id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let wakes = sqlx::query("DELETE FROM org_wake WHERE org_id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let orgs = sqlx::query("DELETE FROM organisations WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if orgs.rows_affected() == 0 {
            return Err(StoreError::NotFound("no such organisation"));
        }
        tx.commit().await?;
        truncate_wal(&mut conn).await?;
        sqlx::query("VACUUM").execute(&mut *conn).await?;
        truncate_wal(&mut conn).await?;
        sqlx::query("PRAGMA secure_delete = OFF")
            .execute(&mut *conn)
            .await?;
        let mut out =
            vec!["organisations (with the wrapped data key, messaging settings, demo mark)"];
        if heads.rows_affected() > 0 {
            out.push("audit_heads");
        }
        if wakes.rows_affected() > 0 {
            out.push("org_wake (when background jobs next need it)");
        }
        Ok(out)
    }

    /// Marks the store-computed jobs of an organisation being opened as due at once (issue #18),
    /// so a crash while it is open leaves it to be looked at after the restart.
    /// Returns what the rows said before, to be put back if nothing is committed while it is open.
    pub(crate) async fn wake_on_open(
        &self,
        id: Uuid,
        jobs: &[&'static str],
    ) -> Result<Vec<(&'static str, Option<i64>)>, StoreError> {
        // Read first, outside the transaction: a read that becomes a write in SQLite fails at
        // once when another write came between (no busy wait). Only this opening writes these
        // rows meanwhile.
        let mut before = Vec::with_capacity(jobs.len());
        for job in jobs {
            let due: Option<i64> =
                sqlx::query_scalar("SELECT due_at FROM org_wake WHERE org_id = ? AND job = ?")
                    .bind(id.to_string())
                    .bind(*job)
                    .fetch_optional(self.db.sqlite())
                    .await?;
            before.push((*job, due));
        }
        let mut tx = self.db.sqlite().begin().await?;
        for job in jobs {
            sqlx::query(
                "INSERT INTO org_wake (org_id, job, due_at) VALUES (?, ?, 0) \
                 ON CONFLICT (org_id, job) DO UPDATE SET due_at = 0",
            )
            .bind(id.to_string())
            .bind(*job)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(before)
    }

    /// Sets when `job` next needs the organisation (Unix seconds), or that it does not (`None`);
    /// with `keep`, a row already there is left as it is.
    pub(crate) async fn set_wake(
        &self,
        id: Uuid,
        wakes: &[(&str, Option<i64>, bool)],
    ) -> Result<(), StoreError> {
        let mut tx = self.db.sqlite().begin().await?;
        for (job, due, keep) in wakes {
            let Some(t) = due else {
                sqlx::query("DELETE FROM org_wake WHERE org_id = ? AND job = ?")
                    .bind(id.to_string())
                    .bind(*job)
                    .execute(&mut *tx)
                    .await?;
                continue;
            };
            let sql = if *keep {
                "INSERT INTO org_wake (org_id, job, due_at) VALUES (?, ?, ?) \
                 ON CONFLICT (org_id, job) DO NOTHING"
            } else {
                "INSERT INTO org_wake (org_id, job, due_at) VALUES (?, ?, ?) \
                 ON CONFLICT (org_id, job) DO UPDATE SET due_at = excluded.due_at"
            };
            sqlx::query(sql)
                .bind(id.to_string())
                .bind(*job)
                .bind(*t)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The organisations whose `job` is due at `now` (Unix seconds), earliest first, at most
    /// `limit`.
    pub(crate) async fn due(
        &self,
        job: &str,
        now: i64,
        limit: u32,
    ) -> Result<Vec<Organisation>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.id, o.slug, o.name, o.created_at FROM org_wake w \
             JOIN organisations o ON o.id = w.org_id \
             WHERE w.job = ? AND w.due_at <= ? ORDER BY w.due_at LIMIT ?",
        )
        .bind(job)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(self.db.sqlite())
        .await?;
        rows.iter().map(org_from_row).collect()
    }

    /// How many organisations exist.
    pub(crate) async fn count_orgs(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organisations")
            .fetch_one(self.db.sqlite())
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub(crate) async fn wrapped_key(&self, id: Uuid) -> Result<Vec<u8>, StoreError> {
        let row = sqlx::query("SELECT wrapped_key FROM organisations WHERE id = ?")
            .bind(id.to_string())
            .fetch_one(self.db.sqlite())
            .await?;
        Ok(row.try_get("wrapped_key")?)
    }

    pub(crate) async fn create_api_token(
        &self,
        label: &str,
        now: OffsetDateTime,
    ) -> Result<(ApiToken, String), StoreError> {
        let label = label.trim();
        if label.is_empty() || label.len() > 100 {
            return Err(StoreError::Invalid(
                "a token's label has 1 to 100 characters",
            ));
        }
        let mut raw = [0u8; 32];
        fill_random(&mut raw)?;
        let secret = format!("trygg_{}", hex::encode(raw));
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO api_tokens (id, label, token_hash, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(label)
        .bind(sha256_hex(secret.as_bytes()))
        .bind(fmt_time(now)?)
        .execute(self.db.sqlite())
        .await?;
        Ok((
            ApiToken {
                id,
                label: label.to_owned(),
            },
            secret,
        ))
    }

    pub(crate) async fn check_api_token(
        &self,
        secret: &str,
    ) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(
            "SELECT id, label FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
        )
        .bind(sha256_hex(secret.as_bytes()))
        .fetch_optional(self.db.sqlite())
        .await?;
        row.map(|r| {
            Ok(ApiToken {
                id: parse_uuid(r.try_get("id")?)?,
                label: r.try_get("label")?,
            })
        })
        .transpose()
    }

    /// Records an organisation's latest audit checkpoint, keeping the larger tree size. Heads
    /// published while another write is under way are written together in the next transaction
    /// (group commit for the control database, issue #8): a caller returns once a transaction
    /// that started after its head was queued has ended. A head that could not be written is
    /// queued again and retried in the background (with back-off) until it is, so it is never
    /// dropped; the error is returned for the log.
    pub(crate) async fn publish_audit_head(
        &self,
        org: Uuid,
        tree_size: u64,
        text: &str,
    ) -> Result<(), StoreError> {
        let size = i64::try_from(tree_size).map_err(|_| StoreError::Invalid("tree too large"))?;
        self.heads.queue([(org, (size, text.to_owned()))])?;
        if self.heads.retrying.load(Ordering::Acquire) {
            // The control database could not be written a moment ago: the retrier takes this
            // head along, and the caller (whose commit is durable) does not wait for it.
            return Ok(());
        }
        let written = self.write_heads().await;
        if written.is_err() {
            self.retry_heads_later();
        }
        written
    }

    /// Writes every queued head in one transaction; on failure puts them back.
    async fn write_heads(&self) -> Result<(), StoreError> {
        let mut writing = self.heads.writing.lock().await;
        let heads: Vec<QueuedHead> = self.heads.take()?;
        if heads.is_empty() {
            // The previous writer took ours along (it held the lock until its commit ended,
            // and puts back what it could not write).
            return Ok(());
        }
        if writing.is_none() {
            match self.db.head_connection().await {
                Ok(c) => *writing = Some(c),
                Err(e) => {
                    self.heads.queue(heads)?;
                    return Err(e);
                }
            }
        }
        let Some(conn) = writing.as_mut() else {
            self.heads.queue(heads)?;
            return Err(StoreError::Audit("no connection for audit heads".into()));
        };
        // One round trip: the lock, every queued head, the commit. If the insert fails, the
        // transaction is rolled back here.
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "BEGIN IMMEDIATE; INSERT INTO audit_heads (org_id, tree_size, checkpoint) ",
        );
        q.push_values(&heads, |mut b, (org, (size, text))| {
            b.push_bind(org.to_string())
                .push_bind(*size)
                .push_bind(text.clone());
        });
        q.push(
            " ON CONFLICT (org_id) DO UPDATE SET tree_size = excluded.tree_size, \
             checkpoint = excluded.checkpoint WHERE excluded.tree_size > audit_heads.tree_size; \
             COMMIT",
        );
        let written = q
            .build()
            .persistent(heads.len() <= 4)
            .execute(&mut *conn)
            .await;
        if let Err(e) = written {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            self.heads.queue(heads)?;
            return Err(e.into());
        }
        Ok(())
    }

    /// Writes the heads still queued (at shutdown, so none is left behind in memory).
    pub(crate) async fn flush_heads(&self) -> Result<(), StoreError> {
        self.write_heads().await
    }

    /// Retries the queued heads in the background, once a second at first and then less
    /// often, until they are written (one retrier at a time).
    fn retry_heads_later(&self) {
        if self.heads.retrying.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.heads.retrying.store(false, Ordering::Release);
            return;
        };
        let me = self.clone();
        rt.spawn(async move {
            let mut delay = std::time::Duration::from_secs(1);
            loop {
                tokio::time::sleep(delay).await;
                match me.write_heads().await {
                    Ok(()) => {
                        me.heads.retrying.store(false, Ordering::Release);
                        // A head queued between the write and the line above would wait for
                        // the next write of any organisation: take it now.
                        if me.heads.is_empty() || me.heads.retrying.swap(true, Ordering::AcqRel) {
                            break;
                        }
                        delay = std::time::Duration::from_millis(1);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "still cannot copy audit checkpoints to the control database");
                        delay = (delay * 2).min(std::time::Duration::from_secs(30));
                    }
                }
            }
        });
    }

    /// An organisation's latest audit checkpoint as kept here.
    pub(crate) async fn audit_head(&self, org: Uuid) -> Result<Option<(u64, String)>, StoreError> {
        let row = sqlx::query("SELECT tree_size, checkpoint FROM audit_heads WHERE org_id = ?")
            .bind(org.to_string())
            .fetch_optional(self.db.sqlite())
            .await?;
        row.map(|r| {
            let size: i64 = r.try_get("tree_size")?;
            let size =
                u64::try_from(size).map_err(|_| StoreError::Corrupt("negative tree size"))?;
            Ok((size, r.try_get("checkpoint")?))
        })
        .transpose()
    }

    /// An organisation's messaging settings.
    pub(crate) async fn messaging(&self, org: Uuid) -> Result<Messaging, StoreError> {
        let text: String = sqlx::query_scalar("SELECT messaging FROM organisations WHERE id = ?")
            .bind(org.to_string())
            .fetch_one(self.db.sqlite())
            .await?;
        serde_json::from_str(&text)
            .map_err(|_| StoreError::Corrupt("an organisation's messaging settings are invalid"))
    }

    /// Replaces an organisation's messaging settings.
    pub(crate) async fn set_messaging(&self, org: Uuid, m: &Messaging) -> Result<(), StoreError> {
        let text = serde_json::to_string(m)
            .map_err(|_| StoreError::Invalid("messaging settings cannot be stored"))?;
        sqlx::query("UPDATE organisations SET messaging = ? WHERE id = ?")
            .bind(text)
            .bind(org.to_string())
            .execute(self.db.sqlite())
            .await?;
        Ok(())
    }

    pub(crate) async fn set_demo(&self, org: Uuid) -> Result<(), StoreError> {
        sqlx::query("UPDATE organisations SET demo = 1 WHERE id = ?")
            .bind(org.to_string())
            .execute(self.db.sqlite())
            .await?;
        Ok(())
    }

    pub(crate) async fn is_demo(&self, org: Uuid) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT demo FROM organisations WHERE id = ?")
            .bind(org.to_string())
            .fetch_optional(self.db.sqlite())
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<i64, _>("demo")? == 1,
            None => false,
        })
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.db.sqlite()).await?;
        Ok(())
    }

    pub(crate) async fn close(&self) {
        self.db.close().await;
    }
}

fn org_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<Organisation, StoreError> {
    Ok(Organisation {
        id: parse_uuid(r.try_get("id")?)?,
        slug: OrgSlug::parse(r.try_get("slug")?)
            .map_err(|_| StoreError::Corrupt("a stored organisation slug is invalid"))?,
        name: r.try_get("name")?,
        created_at: parse_time(r.try_get("created_at")?)?,
    })
}
