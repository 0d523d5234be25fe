//! Sessions: the cookie, the timeouts, the CSRF check, and [`Principal`], the extractor every
//! handler for personnel uses. The rules without HTTP or storage (methods and assurance codes,
//! the timeouts, the CSRF token) are `trygg_identity::session`, re-exported here; this module
//! reads cookies and headers, loads and updates the stored session, and reads the time from the
//! application's clock.
//!
//! # Cookie
//! `trygg_session` on plain HTTP (loopback only), `__Host-trygg_session` with `Secure` on HTTPS or
//! behind an `https` public URL; always `HttpOnly; SameSite=Strict; Path=/`, and `Max-Age` equal
//! to the absolute timeout. The value is `<org-slug>.<secret>`: the slug picks the organisation's
//! database, the secret (256 random bits) is looked up by its keyed hash there.
//!
//! # Lifecycle
//! ```text
//!   login/enrolment ──► Live ──(request within idle timeout)──► Live (last_seen = now)
//!                        │
//!                        ├─ no request for session_idle_timeout_secs ──► Ended("idle")
//!                        ├─ session_absolute_timeout_secs after login ──► Ended("absolute")
//!                        └─ logout ───────────────────────────────────► Ended("logout")
//! ```
//! An ended session never comes back; the person logs in again.
//!
//! # CSRF
//! For `POST`, `PUT`, `PATCH` and `DELETE` the [`Principal`] extractor requires both a same-origin
//! request ([`super::origin::same_origin`]) and the header `X-CSRF-Token` equal to the session's
//! token ([`csrf_token`]: SHA-256 of a fixed label and the secret, hex). Pages put the token in a
//! form field (`csrf`) and in `<meta name="csrf-token">`; `GET /api/v1/auth/session` returns it.

use std::sync::Arc;
use trygg_core::Operation;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use trygg_audit::{Action, Assurance, Category, Outcome};
use trygg_core::{BuiltinRole, OrgSlug};
use trygg_store::{NewSession, OrgStore, OrgTx, Secret, SessionRecord};
use uuid::Uuid;

use super::audit::{build, AuthEvent, Who};
use super::origin::{same_origin, secure_cookies};
use crate::app::{ApiJson, AppState};
use crate::config::Config;
use crate::error::ApiError;

pub use trygg_identity::session::{
    assurance_code, parse_assurance, AuthMethod, Expiry, OidcProvider, SessionTimes, Timeouts,
};

/// A person on the staff with a live session: what a handler for personnel extracts. It carries
/// the handle to the person's own organisation's data, so a handler reaches no other
/// organisation (PC-VENDOR-4).
#[derive(Clone)]
pub struct Principal {
    /// The person's organisation.
    pub org: OrgSlug,
    /// The handle to that organisation's data.
    pub org_store: Arc<OrgStore>,
    /// The person (personnel id).
    pub personnel_id: Uuid,
    /// Their built-in role now (the access-control work replaces this with grants).
    pub role: BuiltinRole,
    /// How they authenticated.
    pub method: AuthMethod,
    /// At which assurance level (PC-AUTHN-1).
    pub assurance: Assurance,
    /// The session id (opaque; safe in logs and audit events).
    pub session_id: Uuid,
    /// When they logged in.
    pub authenticated_at: OffsetDateTime,
    /// The client's address for this request (set by the extractor; `None` where the session
    /// was only looked up), recorded on every audit entry.
    pub address: Option<std::net::IpAddr>,
    csrf: String,
    clock: trygg_app::SharedClock,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("org", &self.org)
            .field("personnel_id", &self.personnel_id)
            .field("role", &self.role)
            .field("method", &self.method)
            .field("assurance", &self.assurance)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl Principal {
    /// The current time, from the application's clock (handlers that take only a `Principal`
    /// read it here, never from the system).
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The session's CSRF token, for forms and `X-CSRF-Token`.
    pub fn csrf_token(&self) -> &str {
        &self.csrf
    }

    /// The actor for audit events: the person in their role, with this session's method and
    /// assurance (PC-AUTHN-1).
    pub fn actor(&self) -> crate::audit_events::Actor {
        let mut a = crate::audit_events::Actor::personnel(self.personnel_id, self.role);
        a.authentication = Some((self.method.code(), self.assurance));
        a.address = self.address;
        a
    }

    /// Adds this session's authentication (method and assurance) to an event built for
    /// [`Self::actor`] (PC-AUTHN-1: every entry shows how the person logged in).
    pub fn stamp(&self, mut e: trygg_audit::AuditEvent) -> trygg_audit::AuditEvent {
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

/// The cookie's name: with the `__Host-` prefix when it is `Secure`.
pub fn cookie_name(config: &Config) -> &'static str {
    if secure_cookies(config) {
        "__Host-trygg_session"
    } else {
        "trygg_session"
    }
}

/// The `Set-Cookie` value that stores a session.
pub fn set_cookie(config: &Config, org: &OrgSlug, secret: &Secret) -> Option<HeaderValue> {
    let secure = if secure_cookies(config) {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{}={}.{}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        cookie_name(config),
        org,
        secret.expose(),
        config.session_absolute_timeout_secs,
    ))
    .ok()
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(config: &Config) -> Option<HeaderValue> {
    let secure = if secure_cookies(config) {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}",
        cookie_name(config)
    ))
    .ok()
}

/// Reads the session cookie: the organisation and the secret.
pub fn read_cookie(config: &Config, headers: &HeaderMap) -> Option<(OrgSlug, Secret)> {
    let name = cookie_name(config);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| {
            let (org, secret) = v.split_once('.')?;
            let ok = !secret.is_empty()
                && secret.len() <= 64
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            ok.then_some(())?;
            Some((OrgSlug::parse(org).ok()?, Secret::from_client(secret)))
        })
}

/// The CSRF token of a session: hex SHA-256 of a fixed label and the secret
/// ([`trygg_identity::session::csrf_token`]).
pub fn csrf_token(secret: &Secret) -> String {
    trygg_identity::session::csrf_token(secret.expose())
}

/// Whether `given` is the session's CSRF token (compared in constant time).
pub fn csrf_matches(principal: &Principal, given: &str) -> bool {
    trygg_identity::session::csrf_eq(&principal.csrf, given)
}

/// The configured session timeouts.
pub fn timeouts(config: &Config) -> Timeouts {
    Timeouts::from_secs(
        config.session_idle_timeout_secs,
        config.session_absolute_timeout_secs,
    )
}

/// Applies the timeouts to a session record at `now`
/// ([`trygg_identity::session::check_times`]).
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
    Live(Box<Principal>),
    /// No cookie, or one that names no session.
    None,
    /// A session that has just timed out or ended.
    Expired(Expiry),
}

/// Finds the request's live session (no CSRF check: for reads and pages), and notes its use.
pub async fn current(
    state: &AppState,
    headers: &HeaderMap,
    now: OffsetDateTime,
) -> Result<Current, ApiError> {
    let Some((slug, secret)) = read_cookie(&state.config, headers) else {
        return Ok(Current::None);
    };
    let Some(org) = state.store.org_by_slug(&slug).await? else {
        return Ok(Current::None);
    };
    let h = state.store.org(&org).await?;
    let Some(rec) = h.session_by_secret(&secret).await? else {
        return Ok(Current::None);
    };
    if let Err(why) = check_times(&rec, &state.config, now) {
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
        return Err(ApiError::internal(
            "TR-L502",
            "a stored session has an unknown method or assurance",
        ));
    };
    h.touch_session(rec.id, now).await?;
    Ok(Current::Live(Box::new(Principal {
        org: slug,
        org_store: h,
        personnel_id: rec.personnel_id,
        role: rec.role,
        method,
        assurance,
        session_id: rec.id,
        authenticated_at: rec.created_at,
        address: None,
        csrf: csrf_token(&secret),
        clock: state.clock.clone(),
    })))
}

fn forbidden(code: &'static str, detail: &'static str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, "Forbidden", detail)
}

/// Whether a method changes state (and so needs the CSRF check).
pub fn is_unsafe(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let now = state.now();
        let mut p = match current(state, &parts.headers, now).await? {
            Current::Live(p) => *p,
            Current::None => return Err(ApiError::unauthorized("TR-L001")),
            Current::Expired(Expiry::Idle) => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "TR-L002",
                    "Unauthorized",
                    "the session ended after a period without activity; log in again",
                ))
            }
            Current::Expired(_) => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "TR-L003",
                    "Unauthorized",
                    "the session has ended; log in again",
                ))
            }
        };
        if is_unsafe(&parts.method) {
            if !same_origin(&state.config, &parts.headers) {
                tracing::warn!(
                    event = "security",
                    code = "TR-L004",
                    "cross-origin request refused"
                );
                return Err(forbidden(
                    "TR-L004",
                    "the request does not come from this site",
                ));
            }
            let given = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !csrf_matches(&p, given) {
                tracing::warn!(
                    event = "security",
                    code = "TR-L005",
                    "CSRF token missing or wrong"
                );
                return Err(forbidden(
                    "TR-L005",
                    "the request lacks this session's CSRF token (header X-CSRF-Token)",
                ));
            }
        }
        p.address = crate::auth::ClientIp::of(parts).0;
        Ok(p)
    }
}

/// Opens a session for a person who has just authenticated, in the caller's transaction, and
/// appends the `login` event with the method and assurance (VC-AUTH-3, PC-AUTHN-1). Every login
/// path (passkey, enrolment, developer, and OIDC later) comes through here.
pub async fn open_session(
    tx: &mut OrgTx<'_>,
    org: &OrgSlug,
    personnel_id: Uuid,
    method: AuthMethod,
    assurance: Assurance,
    now: OffsetDateTime,
) -> Result<(SessionRecord, Secret), ApiError> {
    open_session_from(tx, org, personnel_id, method, assurance, None, now).await
}

/// [`open_session`] for a login over HTTP: the `login` event records the client's address.
pub async fn open_session_from(
    tx: &mut OrgTx<'_>,
    org: &OrgSlug,
    personnel_id: Uuid,
    method: AuthMethod,
    assurance: Assurance,
    address: Option<std::net::IpAddr>,
    now: OffsetDateTime,
) -> Result<(SessionRecord, Secret), ApiError> {
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

/// Ends the principal's session and logs the logout.
pub async fn end_session(p: &Principal, now: OffsetDateTime) -> Result<(), ApiError> {
    let mut tx = p.org_store.begin().await?;
    tx.end_session(p.session_id, "logout", now).await?;
    let e = build(
        &p.org,
        Who::Person(p.personnel_id, p.role),
        AuthEvent {
            category: Category::Authentication,
            operation: Operation::Logout,
            action: Action::Execute,
            outcome: Outcome::Success,
            entity: ("session", Some(p.session_id.to_string())),
            auth: Some((p.method.code(), p.assurance)),
            address: p.address,
        },
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(())
}

/// Appends one event (usually a security event) to an organisation's log in a transaction of
/// its own.
pub async fn log_event(
    h: &OrgStore,
    org: &OrgSlug,
    who: Who,
    e: AuthEvent,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let mut tx = h.begin().await?;
    tx.audit(&build(org, who, e, now)?).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds a `Set-Cookie` header to a response.
pub fn with_cookie(mut res: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// The current session, as the API shows it.
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

/// `GET /api/v1/auth/session`: who is logged in, how, the CSRF token, and open notices.
#[utoipa::path(get, path = "/api/v1/auth/session", tag = "auth",
    responses((status = 200, body = SessionOut), (status = 401, body = crate::error::Problem)))]
pub async fn session_info(p: Principal) -> Result<ApiJson<SessionOut>, ApiError> {
    let notices = p
        .org_store
        .open_notices(p.personnel_id)
        .await?
        .into_iter()
        .map(|n| NoticeOut {
            text: notice_text(&n.kind, n.at),
            kind: n.kind,
            entity: n.entity,
            at: n.at,
        })
        .collect();
    Ok(ApiJson(SessionOut {
        org: p.org.to_string(),
        personnel_id: p.personnel_id,
        role: p.role.as_str(),
        method: p.method.code(),
        assurance: assurance_code(p.assurance),
        authenticated_at: p.authenticated_at,
        csrf_token: p.csrf.clone(),
        notices,
    }))
}

/// `POST /api/v1/auth/logout` (and `DELETE /api/v1/auth/session`): ends the session.
#[utoipa::path(delete, path = "/api/v1/auth/session", tag = "auth",
    responses((status = 204, description = "signed out; clears the session cookie"), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn logout(State(state): State<AppState>, p: Principal) -> Result<Response, ApiError> {
    end_session(&p, state.now()).await?;
    Ok(with_cookie(
        StatusCode::NO_CONTENT.into_response(),
        clear_cookie(&state.config),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cookies_are_strict_and_host_prefixed_on_tls() {
        let plain = Config::default();
        let secret = Secret::generate().unwrap();
        let org = OrgSlug::parse("normland").unwrap();
        let c = set_cookie(&plain, &org, &secret).unwrap();
        let c = c.to_str().unwrap();
        assert!(c.starts_with("trygg_session=normland."));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/"));
        assert!(!c.contains("Secure"));
        let tls = Config {
            public_url: Some("https://trygg.example.no".into()),
            ..Config::default()
        };
        let c = set_cookie(&tls, &org, &secret).unwrap();
        let c = c.to_str().unwrap();
        assert!(c.starts_with("__Host-trygg_session=") && c.contains("; Secure"));
        assert!(!c.contains("Domain"));
    }

    #[test]
    fn cookie_parsing_is_strict() {
        let c = Config::default();
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; trygg_session=normland.abc_DEF-1"),
        );
        let (org, secret) = read_cookie(&c, &h).unwrap();
        assert_eq!(org.as_str(), "normland");
        assert_eq!(secret.expose(), "abc_DEF-1");
        for bad in [
            "trygg_session=normland",
            "trygg_session=Bad.abc",
            "trygg_session=normland.a%20b",
            "__Host-trygg_session=normland.abc",
        ] {
            h.insert(header::COOKIE, HeaderValue::from_static(bad));
            assert!(read_cookie(&c, &h).is_none(), "{bad}");
        }
    }

    #[test]
    fn timeouts() {
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
}
