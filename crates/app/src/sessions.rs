//! Sessions as use cases (VC-AUTH-3, PC-AUTHN-1, PC-ACL-1; guide risk scenario 16): looking a
//! session up and applying its timeouts ([`current`]), the CSRF check of a state-changing request
//! ([`check_request`]), opening a session after any login ([`open_session`]: passkey,
//! enrolment, developer, and OIDC later) and ending it ([`end_session`]), each with its audit
//! entry. The rules without storage (methods and assurance codes, the idle and absolute
//! timeouts, the end of employment, the CSRF token) are `trygg_identity::session`, re-exported
//! here. The HTTP edge only reads the cookie and the headers into plain values, calls these, and
//! maps the answer (status, `Set-Cookie`, problem).
//!
//! # Lifecycle
//! ```text
//!   login/enrolment ──► Live ──(request within idle timeout)──► Live (last_seen = now,
//!                        │                                    written at most once a minute)
//!                        │
//!                        ├─ no request for session_idle_timeout_secs ──► Ended("idle")
//!                        ├─ session_absolute_timeout_secs after login ──► Ended("absolute")
//!                        ├─ the person's employment has ended ─────────► Ended("employment-ended")
//!                        └─ logout ───────────────────────────────────► Ended("logout")
//! ```
//! An ended session never comes back; the person logs in again.

use std::net::IpAddr;
use std::sync::Arc;

use time::OffsetDateTime;
use trygg_audit::{Action, Assurance, AuditEvent, Category, Outcome};
use trygg_core::{BuiltinRole, Operation, OrgSlug};
use trygg_store::{NewSession, OrgStore, OrgTx, Secret, SessionRecord};
use uuid::Uuid;

pub use trygg_identity::session::{
    assurance_code, parse_assurance, AuthMethod, Expiry, OidcProvider, SessionTimes, Timeouts,
};

use crate::access::Caller;
use crate::audit::Actor;
use crate::auth_events::{build, AuthEvent, Who};
use crate::config::Config;
use crate::context::App;
use crate::error::{AppError, ErrorKind};

/// A person on the staff with a live session. It carries the handle to the person's own
/// organisation's data, so a use case reached through it touches no other organisation
/// (PC-VENDOR-4).
#[derive(Clone)]
pub struct Session {
    /// The person's organisation.
    pub org: OrgSlug,
    /// The handle to that organisation's data.
    pub org_store: Arc<OrgStore>,
    /// The person (personnel id).
    pub personnel_id: Uuid,
    /// Their built-in role given at registration (shown only; access is decided on grants).
    pub role: BuiltinRole,
    /// How they authenticated.
    pub method: AuthMethod,
    /// At which assurance level (PC-AUTHN-1).
    pub assurance: Assurance,
    /// The session id (opaque; safe in logs and audit events).
    pub session_id: Uuid,
    /// When they logged in.
    pub authenticated_at: OffsetDateTime,
    /// The client's address for this request, recorded on every audit entry.
    pub address: Option<IpAddr>,
    csrf: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("org", &self.org)
            .field("personnel_id", &self.personnel_id)
            .field("role", &self.role)
            .field("method", &self.method)
            .field("assurance", &self.assurance)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The session's CSRF token, for forms and `X-CSRF-Token`.
    pub fn csrf_token(&self) -> &str {
        &self.csrf
    }

    /// Whether `given` is the session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, given: &str) -> bool {
        trygg_identity::session::csrf_eq(&self.csrf, given)
    }

    /// This session's person as access control sees them.
    pub fn caller(&self) -> Caller {
        Caller {
            org: self.org.clone(),
            personnel_id: self.personnel_id,
            method: self.method.code(),
            assurance: self.assurance,
            address: self.address,
            home: Some(self.org_store.clone()),
        }
    }

    /// The actor for audit events: the person in their role, with this session's method and
    /// assurance (PC-AUTHN-1) and the client's address.
    pub fn actor(&self) -> Actor {
        let mut a = Actor::personnel(self.personnel_id, self.role);
        a.authentication = Some((self.method.code(), self.assurance));
        a.address = self.address;
        a
    }

    /// Adds this session's authentication (method and assurance) and address to an event
    /// (PC-AUTHN-1: every entry shows how the person logged in).
    pub fn stamp(&self, mut e: AuditEvent) -> AuditEvent {
        if let Ok(method) = trygg_audit::Code::new(self.method.code()) {
            e.agent.authentication = Some(trygg_audit::Authentication {
                method,
                assurance: Some(self.assurance),
            });
        }
        e.source.address = self.address;
        e
    }
}

/// The CSRF token of a session: hex SHA-256 of a fixed label and the secret
/// ([`trygg_identity::session::csrf_token`]).
pub fn csrf_token(secret: &Secret) -> String {
    trygg_identity::session::csrf_token(secret.expose())
}

/// The configured session timeouts.
pub fn timeouts(config: &Config) -> Timeouts {
    Timeouts::from_secs(
        config.session_idle_timeout_secs,
        config.session_absolute_timeout_secs,
    )
}

/// Applies the timeouts and the end of employment to a session record at `now`
/// ([`trygg_identity::session::check_times`]; guide risk scenario 16).
pub fn check_times(
    rec: &SessionRecord,
    config: &Config,
    now: OffsetDateTime,
) -> Result<(), Expiry> {
    trygg_identity::session::check_times(
        &SessionTimes {
            created_at: rec.created_at,
            last_seen_at: rec.last_seen_at,
            ended: rec.ended_at.is_some(),
            employment_end: rec.employment_end,
        },
        timeouts(config),
        now,
    )
}

/// The outcome of looking at a request's session.
#[derive(Debug)]
pub enum Current {
    /// A live session.
    Live(Box<Session>),
    /// No cookie, or one that names no session.
    None,
    /// A session that has just timed out or ended.
    Expired(Expiry),
}

/// Finds the live session named by a cookie's organisation and secret (no CSRF check: for reads
/// and pages) at `now`, ends it if it has just timed out (or the person's employment has ended),
/// and notes its use. `address` is the client's, for the audit entries made through it.
pub async fn current(
    app: &App,
    cookie: Option<(OrgSlug, Secret)>,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<Current, AppError> {
    let Some((slug, secret)) = cookie else {
        return Ok(Current::None);
    };
    let Some(org) = app.store.org_by_slug(&slug).await? else {
        return Ok(Current::None);
    };
    let h = app.store.org(&org).await?;
    let Some(rec) = h.session_by_secret(&secret).await? else {
        return Ok(Current::None);
    };
    if let Err(why) = check_times(&rec, &app.config, now) {
        let reason = match why {
            Expiry::Idle => Some("idle"),
            Expiry::Absolute => Some("absolute"),
            Expiry::EmploymentEnded => Some("employment-ended"),
            Expiry::Ended => None,
        };
        if let Some(reason) = reason {
            h.expire_session(rec.id, reason, now).await?;
        }
        return Ok(Current::Expired(why));
    }
    let (Some(method), Some(assurance)) = (
        AuthMethod::parse(&rec.method),
        parse_assurance(&rec.assurance),
    ) else {
        return Err(AppError::internal(
            "TR-L502",
            "a stored session has an unknown method or assurance",
        ));
    };
    // No write per signed-in request (issue 17): last-seen moves at most once a minute (a tenth
    // of a shorter idle timeout), so the idle timeout is accurate to that and a request that only
    // reads writes nothing.
    if now - rec.last_seen_at >= last_seen_resolution(&app.config) {
        h.touch_session(rec.id, now).await?;
    }
    Ok(Current::Live(Box::new(Session {
        org: slug,
        org_store: h,
        personnel_id: rec.personnel_id,
        role: rec.role,
        method,
        assurance,
        session_id: rec.id,
        authenticated_at: rec.created_at,
        address,
        csrf: csrf_token(&secret),
    })))
}

/// How stale a session's stored last-seen time may be before a request writes it again (issue
/// 17): the idle timeout is accurate to this.
pub const LAST_SEEN_RESOLUTION: time::Duration = time::Duration::minutes(1);

/// [`LAST_SEEN_RESOLUTION`], or a tenth of the idle timeout when that is shorter.
pub fn last_seen_resolution(config: &Config) -> time::Duration {
    let tenth = i64::try_from(config.session_idle_timeout_secs / 10).unwrap_or(i64::MAX);
    LAST_SEEN_RESOLUTION.min(time::Duration::seconds(tenth))
}

/// A live session, or the 401 that says why there is none: `TR-L001` (no session), `TR-L002`
/// (ended after a period without activity), `TR-L003` (ended otherwise).
pub fn require(cur: Current) -> Result<Session, AppError> {
    match cur {
        Current::Live(s) => Ok(*s),
        Current::None => Err(AppError::unauthorized("TR-L001")),
        Current::Expired(Expiry::Idle) => Err(AppError::new(
            ErrorKind::Unauthorized,
            "TR-L002",
            "Unauthorized",
            "the session ended after a period without activity; log in again",
        )),
        Current::Expired(_) => Err(AppError::new(
            ErrorKind::Unauthorized,
            "TR-L003",
            "Unauthorized",
            "the session has ended; log in again",
        )),
    }
}

/// The CSRF rule for a state-changing request made with a session: it must be same-origin
/// (`TR-L004`) and carry the session's CSRF token (`TR-L005`). `same_origin` is the origin
/// rules' answer over the request's headers; `given` the token it carried.
pub fn check_request(s: &Session, same_origin: bool, given: &str) -> Result<(), AppError> {
    if !same_origin {
        tracing::warn!(
            event = "security",
            code = "TR-L004",
            "cross-origin request refused"
        );
        return Err(AppError::forbidden(
            "TR-L004",
            "the request does not come from this site",
        ));
    }
    if !s.csrf_matches(given) {
        tracing::warn!(
            event = "security",
            code = "TR-L005",
            "CSRF token missing or wrong"
        );
        return Err(AppError::forbidden(
            "TR-L005",
            "the request lacks this session's CSRF token (header X-CSRF-Token)",
        ));
    }
    Ok(())
}

/// Opens a session for a person who has just authenticated, in the caller's transaction, and
/// appends the `login` event with the method, the assurance and the client's address
/// (VC-AUTH-3, PC-AUTHN-1). Every login path (passkey, enrolment, developer, and OIDC later)
/// comes through here.
pub async fn open_session(
    tx: &mut OrgTx<'_>,
    org: &OrgSlug,
    personnel_id: Uuid,
    method: AuthMethod,
    assurance: Assurance,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<(SessionRecord, Secret), AppError> {
    let (rec, secret) = tx
        .create_session(
            &NewSession {
                personnel_id,
                method: method.code().to_owned(),
                assurance: assurance_code(assurance).to_owned(),
            },
            now,
        )
        .await?;
    let e = build(
        org,
        Who::Person(personnel_id, rec.role),
        AuthEvent {
            category: Category::Authentication,
            operation: Operation::Login,
            action: Action::Execute,
            outcome: Outcome::Success,
            entity: ("session", Some(rec.id.to_string())),
            auth: Some((method.code(), assurance)),
            address,
        },
        now,
    )?;
    tx.audit(&e).await?;
    Ok((rec, secret))
}

/// Ends the session at `now` and logs the logout.
pub async fn end_session(s: &Session, now: OffsetDateTime) -> Result<(), AppError> {
    let mut tx = s.org_store.begin().await?;
    tx.end_session(s.session_id, "logout", now).await?;
    let e = build(
        &s.org,
        Who::Person(s.personnel_id, s.role),
        AuthEvent {
            category: Category::Authentication,
            operation: Operation::Logout,
            action: Action::Execute,
            outcome: Outcome::Success,
            entity: ("session", Some(s.session_id.to_string())),
            auth: Some((s.method.code(), s.assurance)),
            address: s.address,
        },
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(())
}

/// The current session, as the person sees it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SessionOut {
    /// Organisation short name.
    pub org: String,
    /// Personnel id.
    pub personnel_id: Uuid,
    /// Role.
    pub role: &'static str,
    /// Authentication method.
    pub method: &'static str,
    /// Assurance level.
    pub assurance: &'static str,
    /// When the person logged in.
    #[serde(with = "time::serde::rfc3339")]
    pub authenticated_at: OffsetDateTime,
    /// The CSRF token to send as `X-CSRF-Token`.
    pub csrf_token: String,
    /// Security notices not yet acknowledged (e.g. a passkey was added), oldest first;
    /// acknowledge with `POST /api/v1/auth/notices/acknowledge`.
    pub notices: Vec<NoticeOut>,
}

/// A security notice, as the person sees it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct NoticeOut {
    /// What happened: a code (`passkey-added`).
    pub kind: String,
    /// A sentence for the person.
    pub text: String,
    /// The opaque id of what it is about (the passkey).
    pub entity: Option<String>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The notice sentence for a kind.
fn notice_text(kind: &str, at: OffsetDateTime) -> String {
    let when = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    match kind {
        "passkey-added" => format!("a passkey was added on {when}"),
        other => format!("{other} on {when}"),
    }
}

/// Who is logged in, how, the CSRF token, and the person's open security notices (finding 2:
/// a passkey added to the account shows in every session until acknowledged).
pub async fn session_info(s: &Session) -> Result<SessionOut, AppError> {
    let notices = s
        .org_store
        .open_notices(s.personnel_id)
        .await?
        .into_iter()
        .map(|n| NoticeOut {
            text: notice_text(&n.kind, n.at),
            kind: n.kind,
            entity: n.entity,
            at: n.at,
        })
        .collect();
    Ok(SessionOut {
        org: s.org.to_string(),
        personnel_id: s.personnel_id,
        role: s.role.as_str(),
        method: s.method.code(),
        assurance: assurance_code(s.assurance),
        authenticated_at: s.authenticated_at,
        csrf_token: s.csrf.clone(),
        notices,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn timeouts_and_the_end_of_employment() {
        let c = Config {
            session_idle_timeout_secs: 60,
            session_absolute_timeout_secs: 600,
            ..Config::default()
        };
        let t = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20000);
        let mut rec = SessionRecord {
            id: Uuid::new_v4(),
            personnel_id: Uuid::new_v4(),
            role: BuiltinRole::Doctor,
            method: "passkey".into(),
            assurance: "substantial".into(),
            created_at: t,
            last_seen_at: t,
            ended_at: None,
            employment_end: None,
        };
        let s = time::Duration::seconds;
        assert_eq!(check_times(&rec, &c, t + s(59)), Ok(()));
        assert_eq!(check_times(&rec, &c, t + s(60)), Err(Expiry::Idle));
        rec.last_seen_at = t + s(590);
        assert_eq!(check_times(&rec, &c, t + s(599)), Ok(()));
        assert_eq!(check_times(&rec, &c, t + s(600)), Err(Expiry::Absolute));
        rec.employment_end = Some((t + s(595)).unix_timestamp());
        assert_eq!(
            check_times(&rec, &c, t + s(594)),
            Ok(()),
            "a future end ends nothing"
        );
        assert_eq!(
            check_times(&rec, &c, t + s(595)),
            Err(Expiry::EmploymentEnded),
            "finding 1: refused at the end of employment"
        );
        rec.ended_at = Some(t);
        assert_eq!(check_times(&rec, &c, t), Err(Expiry::Ended));
    }

    #[test]
    fn no_session_and_ended_sessions_answer_their_codes() {
        assert_eq!(require(Current::None).unwrap_err().code, "TR-L001");
        assert_eq!(
            require(Current::Expired(Expiry::Idle)).unwrap_err().code,
            "TR-L002"
        );
        for e in [Expiry::Absolute, Expiry::EmploymentEnded, Expiry::Ended] {
            let err = require(Current::Expired(e)).unwrap_err();
            assert_eq!((err.code, err.kind), ("TR-L003", ErrorKind::Unauthorized));
        }
    }
}
