//! Persistence for personnel login: WebAuthn login accounts and passkeys, enrolment links,
//! sessions, and the per-account failed-login state (VC-AUTH-3, VC-DEV-2, PC-AUTHN-1).
//!
//! The store keeps and protects these records; the rules (who may issue a link, when a session
//! has expired, when an account is locked) live in `trygg-identity` and `trygg-app`, which pass
//! the time in.
//!
//! - **Secrets are never stored.** Session secrets and enrolment tokens are random 256-bit values
//!   ([`Secret`]); only their keyed hash (HMAC under the organisation's lookup key) is kept, so a
//!   copy of the database cannot be turned into a working cookie or link.
//! - **Passkeys are sealed** with the organisation's key like personal data: a public key swapped
//!   into the file fails to open rather than letting an attacker in.
//! - **Credential writes are audited.** Issuing, using and revoking enrolment links, registering a
//!   passkey and opening or ending a session through an [`OrgTx`] mark the transaction, so it
//!   commits only with an audit entry (VC-DEV-2: credentials are issued by a logged procedure).
//!   The hot path of every request, looking a session up and noting its last use, reads no
//!   personal data and goes through [`OrgStore::session_by_secret`] and
//!   [`OrgStore::touch_session`] without a log entry.

use base64::Engine as _;
use sqlx::Row as _;
use time::OffsetDateTime;
use trygg_core::{BuiltinRole, PersonName};
use uuid::Uuid;

use crate::control::{fmt_time, parse_time, parse_uuid, Organisation};
use crate::crypto::fill_random;
use crate::{OrgStore, OrgTx, Store, StoreError};

const SESSION_KIND: &str = "session-secret";
const LINK_KIND: &str = "enrolment-token";

/// How long a used ceremony's record outlives its token (seconds): a margin for nodes whose
/// clocks disagree, and for a clock stepped back (issue 17, found in review).
pub const USED_CEREMONY_GRACE_SECS: i64 = 300;
/// A random 256-bit secret (session cookie or enrolment token) as URL-safe base64. Its `Debug`
/// never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A fresh secret from the system's secure random source.
    pub fn generate() -> Result<Self, StoreError> {
        let mut raw = [0u8; 32];
        fill_random(&mut raw)?;
        Ok(Self(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw),
        ))
    }

    /// Wraps a secret received from a client (not checked here: an unknown one finds nothing).
    pub fn from_client(s: &str) -> Self {
        Self(s.to_owned())
    }

    /// The secret, to hand to its owner once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A person who can log in, as the login needs them: no name, no contact data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginAccount {
    /// The person (personnel id).
    pub personnel_id: Uuid,
    /// Their role.
    pub role: BuiltinRole,
    /// The WebAuthn user handle stored in their passkeys.
    pub user_handle: Uuid,
    /// The failed-login state.
    pub throttle: ThrottleRow,
    /// When their employment ends or ended (Unix seconds), if set: login is refused from then.
    pub employment_end: Option<i64>,
}

/// The stored failed-login state of one account; the rules that read and change it are the
/// server's (`auth::lockout`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThrottleRow {
    /// Failures in the current window.
    pub failures: u32,
    /// When the current window began (the first failure in it).
    pub window_start: Option<OffsetDateTime>,
    /// Locked until this time.
    pub locked_until: Option<OffsetDateTime>,
    /// How many locks in a row (the back-off doubles with each).
    pub lock_level: u32,
}

/// A registered passkey, opened.
#[derive(Clone)]
pub struct StoredPasskey {
    /// Row id.
    pub id: Uuid,
    /// Whose it is.
    pub personnel_id: Uuid,
    /// The credential as the WebAuthn library serialised it (JSON; public key and counter).
    pub credential: Vec<u8>,
}

impl std::fmt::Debug for StoredPasskey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredPasskey")
            .field("id", &self.id)
            .field("personnel_id", &self.personnel_id)
            .finish_non_exhaustive()
    }
}

/// An enrolment link's record (never its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentLink {
    /// Row id.
    pub id: Uuid,
    /// For whom; `None` for a link that creates the organisation's first administrator.
    pub personnel_id: Option<Uuid>,
    /// Who issued it: an opaque actor id (`personnel:<id>`, `trygg:first-admin`, `trygg:cli`).
    pub issued_by: String,
    /// When it was issued.
    pub created_at: OffsetDateTime,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
    /// When it was used, if it was.
    pub used_at: Option<OffsetDateTime>,
    /// When it was revoked (by a newer link for the same person), if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

/// Whether an enrolment link can be used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Usable.
    Valid,
    /// Past its expiry.
    Expired,
    /// Already used.
    Used,
    /// Replaced by a newer link.
    Revoked,
}

impl EnrolmentLink {
    /// The link's state at `now`.
    pub fn state(&self, now: OffsetDateTime) -> LinkState {
        if self.used_at.is_some() {
            LinkState::Used
        } else if self.revoked_at.is_some() {
            LinkState::Revoked
        } else if now >= self.expires_at {
            LinkState::Expired
        } else {
            LinkState::Valid
        }
    }
}

/// A session to open.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Who logged in.
    pub personnel_id: Uuid,
    /// How (a stable code, e.g. `passkey`).
    pub method: String,
    /// At which assurance level (a stable code, e.g. `substantial`).
    pub assurance: String,
}

/// A session as stored (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Session id.
    pub id: Uuid,
    /// Who.
    pub personnel_id: Uuid,
    /// Their role now.
    pub role: BuiltinRole,
    /// How they authenticated (stable code).
    pub method: String,
    /// Assurance level (stable code).
    pub assurance: String,
    /// When it was opened (for the absolute timeout).
    pub created_at: OffsetDateTime,
    /// When it was last used (for the idle timeout).
    pub last_seen_at: OffsetDateTime,
    /// When it ended, if it did.
    pub ended_at: Option<OffsetDateTime>,
    /// When the person's employment ends or ended (Unix seconds), if set: the session is refused
    /// from then (PC-ACL-1, guide risk scenario 16).
    pub employment_end: Option<i64>,
}

/// A passkey as its owner and administrators see it: never key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    /// Row id.
    pub id: Uuid,
    /// Whose it is.
    pub personnel_id: Uuid,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// When it was last used to log in.
    pub last_used_at: Option<OffsetDateTime>,
}

/// A security notice for a person (e.g. `passkey-added`), shown in their sessions until they
/// acknowledge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Id.
    pub id: Uuid,
    /// A code: what happened.
    pub kind: String,
    /// The opaque id of what it is about (a passkey's row id).
    pub entity: Option<String>,
    /// When.
    pub at: OffsetDateTime,
}

fn opt_time(v: Option<String>) -> Result<Option<OffsetDateTime>, StoreError> {
    v.as_deref().map(parse_time).transpose()
}

fn opt_fmt(v: Option<OffsetDateTime>) -> Result<Option<String>, StoreError> {
    v.map(fmt_time).transpose()
}

fn parse_role(s: &str) -> Result<BuiltinRole, StoreError> {
    BuiltinRole::parse(s).ok_or(StoreError::Corrupt("a stored role is unknown"))
}

fn to_u32(v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt("a stored counter is out of range"))
}

/// The credential id as stored: URL-safe base64 without padding.
fn cred_key(credential_id: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(credential_id)
}

/// A WebAuthn user handle for a person of `org`: the organisation id's first 8 bytes, then 8
/// random bytes. A discoverable login learns the user handle before it knows the organisation;
/// the prefix names the organisation without a table outside the organisation's database.
pub fn new_user_handle(org: Uuid) -> Result<Uuid, StoreError> {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&org.as_bytes()[..8]);
    fill_random(&mut b[8..])?;
    Ok(Uuid::from_bytes(b))
}

impl Store {
    /// The organisation a WebAuthn user handle belongs to (by its 8-byte prefix), if any.
    pub async fn org_for_user_handle(
        &self,
        handle: Uuid,
    ) -> Result<Option<Organisation>, StoreError> {
        let prefix = &handle.as_bytes()[..8];
        Ok(self
            .list_orgs()
            .await?
            .into_iter()
            .find(|o| &o.id.as_bytes()[..8] == prefix))
    }
}

const SESSION_SELECT: &str = "SELECT s.id, s.personnel_id, p.role, s.method, s.assurance, \
     s.created_at, s.last_seen_at, s.ended_at, p.employment_end FROM sessions s \
     JOIN personnel p ON p.id = s.personnel_id";

fn session_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id: parse_uuid(r.try_get("id")?)?,
        personnel_id: parse_uuid(r.try_get("personnel_id")?)?,
        role: parse_role(r.try_get("role")?)?,
        method: r.try_get("method")?,
        assurance: r.try_get("assurance")?,
        created_at: parse_time(r.try_get("created_at")?)?,
        last_seen_at: parse_time(r.try_get("last_seen_at")?)?,
        ended_at: opt_time(r.try_get("ended_at")?)?,
        employment_end: r.try_get("employment_end")?,
    })
}

impl OrgStore {
    /// A person's notices not yet acknowledged, oldest first. Codes and opaque ids only (no
    /// personal data), read on the session's hot path like the session itself.
    pub async fn open_notices(&self, personnel_id: Uuid) -> Result<Vec<Notice>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, entity, at FROM personnel_notices WHERE personnel_id = ? \
             AND acknowledged_at IS NULL ORDER BY at, id LIMIT 50",
        )
        .bind(personnel_id.to_string())
        .fetch_all(self.db.sqlite())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Notice {
                    id: parse_uuid(r.try_get("id")?)?,
                    kind: r.try_get("kind")?,
                    entity: r.try_get("entity")?,
                    at: parse_time(r.try_get("at")?)?,
                })
            })
            .collect()
    }

    /// The session with this secret (ended or not; the caller applies the timeouts). Reads no
    /// personal data, so it needs no transaction or log entry.
    pub async fn session_by_secret(
        &self,
        secret: &Secret,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(&format!("{SESSION_SELECT} WHERE s.secret_hash = ?"))
            .bind(self.sealer.lookup_hash(SESSION_KIND, secret.expose()))
            .fetch_optional(self.db.sqlite())
            .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// How many login ceremonies are recorded as used (issue 17; for tests and monitoring).
    pub async fn count_used_ceremonies(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM used_ceremonies")
            .fetch_one(self.db.sqlite())
            .await?)
    }

    /// Notes that a live session was used now (for the idle timeout). A unit of its own on the
    /// writer (issue #8), so it never contends with a batch for SQLite's write lock.
    pub async fn touch_session(&self, id: Uuid, now: OffsetDateTime) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE id = ? AND ended_at IS NULL")
            .bind(fmt_time(now)?)
            .bind(id.to_string())
            .execute(tx.conn().await?)
            .await?;
        tx.commit().await
    }

    /// Ends a session that timed out. Not logged as an event: the login that opened it was, and
    /// the end reason stays on the row.
    pub async fn expire_session(
        &self,
        id: Uuid,
        reason: &'static str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
        )
        .bind(fmt_time(now)?)
        .bind(reason)
        .bind(id.to_string())
        .execute(tx.conn().await?)
        .await?;
        tx.commit().await
    }
}

impl OrgTx<'_> {
    /// The login account of a person, if they have one.
    pub async fn login_account(
        &mut self,
        personnel_id: Uuid,
    ) -> Result<Option<LoginAccount>, StoreError> {
        let row = sqlx::query(&format!("{ACCOUNT_SELECT} WHERE a.personnel_id = ?"))
            .bind(personnel_id.to_string())
            .fetch_optional(self.conn().await?)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    /// The login account with this WebAuthn user handle, if any.
    pub async fn login_account_by_handle(
        &mut self,
        handle: Uuid,
    ) -> Result<Option<LoginAccount>, StoreError> {
        let row = sqlx::query(&format!("{ACCOUNT_SELECT} WHERE a.user_handle = ?"))
            .bind(handle.to_string())
            .fetch_optional(self.conn().await?)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    /// The person's login account, created (with a fresh user handle) if missing. Fails with
    /// [`StoreError::Invalid`] if no such person exists.
    pub async fn ensure_login_account(
        &mut self,
        personnel_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<LoginAccount, StoreError> {
        if let Some(a) = self.login_account(personnel_id).await? {
            return Ok(a);
        }
        if self.personnel_role(personnel_id).await?.is_none() {
            return Err(StoreError::Invalid("no such person on the staff"));
        }
        let handle = new_user_handle(self.store.org.id)?;
        self.create_login_account(personnel_id, handle, now).await?;
        self.login_account(personnel_id)
            .await?
            .ok_or(StoreError::Corrupt(
                "a login account just created is missing",
            ))
    }

    /// Creates a person's login account with a user handle from [`new_user_handle`] (chosen
    /// before the person existed, for a first administrator's registration).
    pub async fn create_login_account(
        &mut self,
        personnel_id: Uuid,
        user_handle: Uuid,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if user_handle.as_bytes()[..8] != self.store.org.id.as_bytes()[..8] {
            return Err(StoreError::Invalid(
                "a user handle must start with its organisation's id",
            ));
        }
        sqlx::query(
            "INSERT INTO login_accounts (personnel_id, user_handle, created_at) VALUES (?, ?, ?)",
        )
        .bind(personnel_id.to_string())
        .bind(user_handle.to_string())
        .bind(fmt_time(now)?)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// A person's name, to show in their own passkey (an access to personal data: audit it).
    pub async fn personnel_name(
        &mut self,
        personnel_id: Uuid,
    ) -> Result<Option<PersonName>, StoreError> {
        self.personal = true;
        let id = personnel_id.to_string();
        let row = sqlx::query("SELECT name_sealed FROM personnel WHERE id = ?")
            .bind(&id)
            .fetch_optional(self.conn().await?)
            .await?;
        row.map(|r| {
            let name =
                self.store
                    .sealer
                    .open_text("personnel", "name", &id, r.try_get("name_sealed")?)?;
            PersonName::parse(&name).map_err(|_| StoreError::Corrupt("a stored name is invalid"))
        })
        .transpose()
    }

    /// A person's role, without reading their name or contact data.
    pub async fn personnel_role(
        &mut self,
        personnel_id: Uuid,
    ) -> Result<Option<BuiltinRole>, StoreError> {
        let row = sqlx::query("SELECT role FROM personnel WHERE id = ?")
            .bind(personnel_id.to_string())
            .fetch_optional(self.conn().await?)
            .await?;
        row.map(|r| parse_role(r.try_get("role")?)).transpose()
    }

    /// The ids of every person with this role, oldest first (no names).
    pub async fn personnel_ids_with_role(
        &mut self,
        role: BuiltinRole,
    ) -> Result<Vec<Uuid>, StoreError> {
        let rows = sqlx::query("SELECT id FROM personnel WHERE role = ? ORDER BY created_at, id")
            .bind(role.as_str())
            .fetch_all(self.conn().await?)
            .await?;
        rows.iter().map(|r| parse_uuid(r.try_get("id")?)).collect()
    }

    /// Stores an account's failed-login state.
    pub async fn set_login_throttle(
        &mut self,
        personnel_id: Uuid,
        t: &ThrottleRow,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE login_accounts SET failures = ?, window_start = ?, locked_until = ?, \
             lock_level = ? WHERE personnel_id = ?",
        )
        .bind(i64::from(t.failures))
        .bind(opt_fmt(t.window_start)?)
        .bind(opt_fmt(t.locked_until)?)
        .bind(i64::from(t.lock_level))
        .bind(personnel_id.to_string())
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// Registers a passkey for a person. A credential id registered before (to anyone) is a
    /// conflict.
    pub async fn add_passkey(
        &mut self,
        personnel_id: Uuid,
        credential_id: &[u8],
        credential: &[u8],
        now: OffsetDateTime,
    ) -> Result<Uuid, StoreError> {
        self.personal = true;
        let id = Uuid::new_v4();
        let row = id.to_string();
        let sealed = self
            .store
            .sealer
            .seal("passkeys", "passkey", &row, credential)?;
        let r = sqlx::query(
            "INSERT INTO passkeys (id, personnel_id, credential_id, passkey_sealed, created_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&row)
        .bind(personnel_id.to_string())
        .bind(cred_key(credential_id))
        .bind(sealed)
        .bind(fmt_time(now)?)
        .execute(self.conn().await?)
        .await;
        match r {
            Ok(_) => Ok(id),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict("this passkey is registered already"))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The passkey with this credential id, opened.
    pub async fn passkey_by_credential_id(
        &mut self,
        credential_id: &[u8],
    ) -> Result<Option<StoredPasskey>, StoreError> {
        let row = sqlx::query(
            "SELECT id, personnel_id, passkey_sealed FROM passkeys WHERE credential_id = ?",
        )
        .bind(cred_key(credential_id))
        .fetch_optional(self.conn().await?)
        .await?;
        row.map(|r| {
            let id: String = r.try_get("id")?;
            let credential =
                self.store
                    .sealer
                    .open("passkeys", "passkey", &id, r.try_get("passkey_sealed")?)?;
            Ok(StoredPasskey {
                id: parse_uuid(&id)?,
                personnel_id: parse_uuid(r.try_get("personnel_id")?)?,
                credential,
            })
        })
        .transpose()
    }

    /// The credential ids of a person's passkeys (to exclude them from a new registration).
    pub async fn passkey_credential_ids(
        &mut self,
        personnel_id: Uuid,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let rows = sqlx::query("SELECT credential_id FROM passkeys WHERE personnel_id = ?")
            .bind(personnel_id.to_string())
            .fetch_all(self.conn().await?)
            .await?;
        rows.iter()
            .map(|r| {
                let s: String = r.try_get("credential_id")?;
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(s)
                    .map_err(|_| StoreError::Corrupt("a stored credential id is not base64"))
            })
            .collect()
    }

    /// How many passkeys a person has.
    pub async fn passkey_count(&mut self, personnel_id: Uuid) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM passkeys WHERE personnel_id = ?")
            .bind(personnel_id.to_string())
            .fetch_one(self.conn().await?)
            .await?;
        let n: i64 = row.try_get("n")?;
        u64::try_from(n).map_err(|_| StoreError::Corrupt("negative count"))
    }

    /// Replaces a passkey's stored credential (its signature counter moved) and notes its use.
    pub async fn update_passkey(
        &mut self,
        id: Uuid,
        credential: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let row = id.to_string();
        let sealed = self
            .store
            .sealer
            .seal("passkeys", "passkey", &row, credential)?;
        sqlx::query("UPDATE passkeys SET passkey_sealed = ?, last_used_at = ? WHERE id = ?")
            .bind(sealed)
            .bind(fmt_time(now)?)
            .bind(&row)
            .execute(self.conn().await?)
            .await?;
        Ok(())
    }

    /// Issues an enrolment link for a person (or, with `None`, for the organisation's first
    /// administrator) and returns its token once. Every earlier unused link for the same person
    /// is revoked, so at most one works at a time.
    pub async fn issue_enrolment_link(
        &mut self,
        personnel_id: Option<Uuid>,
        issued_by: &str,
        now: OffsetDateTime,
        ttl: time::Duration,
    ) -> Result<(EnrolmentLink, Secret), StoreError> {
        self.personal = true;
        let now_s = fmt_time(now)?;
        match personnel_id {
            Some(p) => {
                sqlx::query(
                    "UPDATE enrolment_links SET revoked_at = ? WHERE personnel_id = ? \
                     AND used_at IS NULL AND revoked_at IS NULL",
                )
                .bind(&now_s)
                .bind(p.to_string())
                .execute(self.conn().await?)
                .await?;
            }
            None => {
                sqlx::query(
                    "UPDATE enrolment_links SET revoked_at = ? WHERE personnel_id IS NULL \
                     AND used_at IS NULL AND revoked_at IS NULL",
                )
                .bind(&now_s)
                .execute(self.conn().await?)
                .await?;
            }
        }
        let secret = Secret::generate()?;
        let link = EnrolmentLink {
            id: Uuid::new_v4(),
            personnel_id,
            issued_by: issued_by.to_owned(),
            created_at: now,
            expires_at: now + ttl,
            used_at: None,
            revoked_at: None,
        };
        sqlx::query(
            "INSERT INTO enrolment_links (id, token_hash, personnel_id, issued_by, created_at, \
             expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(link.id.to_string())
        .bind(self.store.sealer.lookup_hash(LINK_KIND, secret.expose()))
        .bind(personnel_id.map(|p| p.to_string()))
        .bind(issued_by)
        .bind(&now_s)
        .bind(fmt_time(link.expires_at)?)
        .execute(self.conn().await?)
        .await?;
        Ok((link, secret))
    }

    /// The enrolment link with this token, in whatever state it is.
    pub async fn enrolment_link(
        &mut self,
        token: &Secret,
    ) -> Result<Option<EnrolmentLink>, StoreError> {
        let row = sqlx::query(
            "SELECT id, personnel_id, issued_by, created_at, expires_at, used_at, revoked_at \
             FROM enrolment_links WHERE token_hash = ?",
        )
        .bind(self.store.sealer.lookup_hash(LINK_KIND, token.expose()))
        .fetch_optional(self.conn().await?)
        .await?;
        row.map(|r| {
            let p: Option<String> = r.try_get("personnel_id")?;
            Ok(EnrolmentLink {
                id: parse_uuid(r.try_get("id")?)?,
                personnel_id: p.as_deref().map(parse_uuid).transpose()?,
                issued_by: r.try_get("issued_by")?,
                created_at: parse_time(r.try_get("created_at")?)?,
                expires_at: parse_time(r.try_get("expires_at")?)?,
                used_at: opt_time(r.try_get("used_at")?)?,
                revoked_at: opt_time(r.try_get("revoked_at")?)?,
            })
        })
        .transpose()
    }

    /// Marks a link used. Fails with [`StoreError::Conflict`] if it was used or revoked in the
    /// meantime, so a link works once even under concurrent use.
    pub async fn use_enrolment_link(
        &mut self,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.personal = true;
        let r = sqlx::query(
            "UPDATE enrolment_links SET used_at = ? WHERE id = ? AND used_at IS NULL \
             AND revoked_at IS NULL",
        )
        .bind(fmt_time(now)?)
        .bind(id.to_string())
        .execute(self.conn().await?)
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::Conflict("the enrolment link was used already"));
        }
        Ok(())
    }

    /// Records a passkey login's ceremony as used (issue 17): `false` if it was used already (a
    /// replayed ceremony token). Records are dropped [`USED_CEREMONY_GRACE_SECS`] after their
    /// token's expiry, so the table holds at most the logins of the last few minutes, and a node
    /// whose clock runs behind another's still finds a record while it would open the token.
    pub async fn use_ceremony(
        &mut self,
        id: Uuid,
        expires: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        sqlx::query("DELETE FROM used_ceremonies WHERE expires_at <= ?")
            .bind(now.unix_timestamp() - USED_CEREMONY_GRACE_SECS)
            .execute(self.conn().await?)
            .await?;
        let r = sqlx::query(
            "INSERT INTO used_ceremonies (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(expires.unix_timestamp())
        .execute(self.conn().await?)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// When a person's employment ends or ended: `None` if no such person, `Some(None)` if no
    /// end is set.
    pub async fn employment_end(
        &mut self,
        personnel_id: Uuid,
    ) -> Result<Option<Option<i64>>, StoreError> {
        let row = sqlx::query("SELECT employment_end FROM personnel WHERE id = ?")
            .bind(personnel_id.to_string())
            .fetch_optional(self.conn().await?)
            .await?;
        row.map(|r| Ok(r.try_get("employment_end")?)).transpose()
    }

    /// Revokes every open (unused, unrevoked) enrolment link for a person; returns how many.
    pub async fn revoke_open_links(
        &mut self,
        personnel_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.personal = true;
        let r = sqlx::query(
            "UPDATE enrolment_links SET revoked_at = ? WHERE personnel_id = ? \
             AND used_at IS NULL AND revoked_at IS NULL",
        )
        .bind(fmt_time(now)?)
        .bind(personnel_id.to_string())
        .execute(self.conn().await?)
        .await?;
        Ok(r.rows_affected())
    }

    /// A person's passkeys, oldest first (no key material).
    pub async fn passkeys_of(
        &mut self,
        personnel_id: Uuid,
    ) -> Result<Vec<PasskeyInfo>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(
            "SELECT id, personnel_id, created_at, last_used_at FROM passkeys \
             WHERE personnel_id = ? ORDER BY created_at, id",
        )
        .bind(personnel_id.to_string())
        .fetch_all(self.conn().await?)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PasskeyInfo {
                    id: parse_uuid(r.try_get("id")?)?,
                    personnel_id: parse_uuid(r.try_get("personnel_id")?)?,
                    created_at: parse_time(r.try_get("created_at")?)?,
                    last_used_at: opt_time(r.try_get("last_used_at")?)?,
                })
            })
            .collect()
    }

    /// Revokes (deletes) one of a person's passkeys; returns whether there was one. The audit
    /// entry of the revocation is the record that it existed.
    pub async fn revoke_passkey(
        &mut self,
        personnel_id: Uuid,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        self.personal = true;
        let r = sqlx::query("DELETE FROM passkeys WHERE id = ? AND personnel_id = ?")
            .bind(id.to_string())
            .bind(personnel_id.to_string())
            .execute(self.conn().await?)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Revokes (deletes) every passkey of a person; returns the ids revoked.
    pub async fn revoke_all_passkeys(
        &mut self,
        personnel_id: Uuid,
    ) -> Result<Vec<Uuid>, StoreError> {
        let ids: Vec<Uuid> = self
            .passkeys_of(personnel_id)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect();
        sqlx::query("DELETE FROM passkeys WHERE personnel_id = ?")
            .bind(personnel_id.to_string())
            .execute(self.conn().await?)
            .await?;
        Ok(ids)
    }

    /// Ends every live session of a person except `keep`; returns how many ended.
    pub async fn end_sessions_of(
        &mut self,
        personnel_id: Uuid,
        keep: Option<Uuid>,
        reason: &'static str,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.personal = true;
        let r = sqlx::query(
            "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE personnel_id = ? \
             AND ended_at IS NULL AND id IS NOT ?",
        )
        .bind(fmt_time(now)?)
        .bind(reason)
        .bind(personnel_id.to_string())
        .bind(keep.map(|k| k.to_string()))
        .execute(self.conn().await?)
        .await?;
        Ok(r.rows_affected())
    }

    /// Adds a security notice for a person (shown in their sessions until acknowledged).
    pub async fn add_notice(
        &mut self,
        personnel_id: Uuid,
        kind: &str,
        entity: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Uuid, StoreError> {
        self.personal = true;
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO personnel_notices (id, personnel_id, kind, entity, at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(personnel_id.to_string())
        .bind(kind)
        .bind(entity)
        .bind(fmt_time(now)?)
        .execute(self.conn().await?)
        .await?;
        Ok(id)
    }

    /// Acknowledges every open notice of a person; returns how many.
    pub async fn acknowledge_notices(
        &mut self,
        personnel_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.personal = true;
        let r = sqlx::query(
            "UPDATE personnel_notices SET acknowledged_at = ? WHERE personnel_id = ? \
             AND acknowledged_at IS NULL",
        )
        .bind(fmt_time(now)?)
        .bind(personnel_id.to_string())
        .execute(self.conn().await?)
        .await?;
        Ok(r.rows_affected())
    }

    /// Opens a session and returns its secret once.
    pub async fn create_session(
        &mut self,
        s: &NewSession,
        now: OffsetDateTime,
    ) -> Result<(SessionRecord, Secret), StoreError> {
        self.personal = true;
        let role = self
            .personnel_role(s.personnel_id)
            .await?
            .ok_or(StoreError::Invalid("no such person on the staff"))?;
        let employment_end = self.employment_end(s.personnel_id).await?.flatten();
        let secret = Secret::generate()?;
        let id = Uuid::new_v4();
        let now_s = fmt_time(now)?;
        sqlx::query(
            "INSERT INTO sessions (id, secret_hash, personnel_id, method, assurance, created_at, \
             last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(self.store.sealer.lookup_hash(SESSION_KIND, secret.expose()))
        .bind(s.personnel_id.to_string())
        .bind(&s.method)
        .bind(&s.assurance)
        .bind(&now_s)
        .bind(&now_s)
        .execute(self.conn().await?)
        .await?;
        Ok((
            SessionRecord {
                id,
                personnel_id: s.personnel_id,
                role,
                method: s.method.clone(),
                assurance: s.assurance.clone(),
                created_at: now,
                last_seen_at: now,
                ended_at: None,
                employment_end,
            },
            secret,
        ))
    }

    /// Ends a session (logout). Returns whether it was live.
    pub async fn end_session(
        &mut self,
        id: Uuid,
        reason: &'static str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.personal = true;
        let r = sqlx::query(
            "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
        )
        .bind(fmt_time(now)?)
        .bind(reason)
        .bind(id.to_string())
        .execute(self.conn().await?)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

const ACCOUNT_SELECT: &str = "SELECT a.personnel_id, p.role, a.user_handle, a.failures, \
     a.window_start, a.locked_until, a.lock_level, p.employment_end FROM login_accounts a \
     JOIN personnel p ON p.id = a.personnel_id";

fn account_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<LoginAccount, StoreError> {
    Ok(LoginAccount {
        personnel_id: parse_uuid(r.try_get("personnel_id")?)?,
        role: parse_role(r.try_get("role")?)?,
        user_handle: parse_uuid(r.try_get("user_handle")?)?,
        throttle: ThrottleRow {
            failures: to_u32(r.try_get("failures")?)?,
            window_start: opt_time(r.try_get("window_start")?)?,
            locked_until: opt_time(r.try_get("locked_until")?)?,
            lock_level: to_u32(r.try_get("lock_level")?)?,
        },
        employment_end: r.try_get("employment_end")?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn secrets_are_random_and_redacted() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43);
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn user_handles_name_their_organisation() {
        let org = Uuid::new_v4();
        let h = new_user_handle(org).unwrap();
        assert_eq!(&h.as_bytes()[..8], &org.as_bytes()[..8]);
        assert_ne!(h, new_user_handle(org).unwrap());
    }

    #[test]
    fn link_states() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1000);
        let mut l = EnrolmentLink {
            id: Uuid::new_v4(),
            personnel_id: None,
            issued_by: "trygg:cli".into(),
            created_at: now,
            expires_at: now + time::Duration::hours(1),
            used_at: None,
            revoked_at: None,
        };
        assert_eq!(l.state(now), LinkState::Valid);
        assert_eq!(l.state(now + time::Duration::hours(1)), LinkState::Expired);
        l.revoked_at = Some(now);
        assert_eq!(l.state(now), LinkState::Revoked);
        l.used_at = Some(now);
        assert_eq!(l.state(now), LinkState::Used);
    }
}
