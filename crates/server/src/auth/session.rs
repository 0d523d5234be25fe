//! Sessions at the HTTP edge: the cookie, and [`Principal`], the extractor every handler for
//! personnel uses. The use cases (looking the session up and applying its timeouts, the CSRF
//! rule, opening and ending a session, what the session shows) are `trygg_app::sessions`, and
//! the rules without storage `trygg_identity::session`, both re-exported here; this module reads
//! the cookie and the headers into plain values, calls them with the application's clock, and
//! writes `Set-Cookie`.
//!
//! # Cookie
//! `trygg_session` on plain HTTP (loopback only), `__Host-trygg_session` with `Secure` on HTTPS or
//! behind an `https` public URL; always `HttpOnly; SameSite=Strict; Path=/`, and `Max-Age` equal
//! to the absolute timeout. The value is `<org-slug>.<secret>`: the slug picks the organisation's
//! database, the secret (256 random bits) is looked up by its keyed hash there.
//!
//! # CSRF
//! For `POST`, `PUT`, `PATCH` and `DELETE` the [`Principal`] extractor requires both a same-origin
//! request ([`super::origin::same_origin`]) and the header `X-CSRF-Token` equal to the session's
//! token ([`csrf_token`]: SHA-256 of a fixed label and the secret, hex)
//! ([`trygg_app::sessions::check_request`]). Pages put the token in a form field (`csrf`) and in
//! `<meta name="csrf-token">`; `GET /api/v1/auth/session` returns it.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use trygg_core::OrgSlug;
use trygg_store::Secret;

use super::origin::{same_origin, secure_cookies};
use crate::app::{ApiJson, AppState};
use crate::config::Config;
use crate::error::ApiError;

pub use trygg_app::sessions::{
    assurance_code, check_times, csrf_token, parse_assurance, timeouts, AuthMethod, Current,
    Expiry, NoticeOut, OidcProvider, Session, SessionOut, SessionTimes, Timeouts,
};

/// A person on the staff with a live session: what a handler for personnel extracts. It is the
/// use cases' [`Session`] (fields reachable through `Deref`) with the application's clock, so a
/// handler that takes only a `Principal` reads the time from the same clock as everything else.
#[derive(Clone)]
pub struct Principal {
    session: Session,
    clock: trygg_app::SharedClock,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.session.fmt(f)
    }
}

impl std::ops::Deref for Principal {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}

impl std::ops::DerefMut for Principal {
    fn deref_mut(&mut self) -> &mut Session {
        &mut self.session
    }
}

impl Principal {
    /// A principal for a live session, on the application's clock.
    pub fn new(session: Session, state: &AppState) -> Self {
        Self {
            session,
            clock: state.clock.clone(),
        }
    }

    /// The current time, from the application's clock (handlers that take only a `Principal`
    /// read it here, never from the system).
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The use cases' session.
    pub fn session(&self) -> &Session {
        &self.session
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
    read_org_cookie(cookie_name(config), headers)
}

/// Reads a cookie of the form `<org-slug>.<secret>` (a personnel or a patient session): the
/// organisation and the secret, if both are well-formed.
pub fn read_org_cookie(name: &str, headers: &HeaderMap) -> Option<(OrgSlug, Secret)> {
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

/// Whether `given` is the principal's CSRF token (compared in constant time).
pub fn csrf_matches(principal: &Principal, given: &str) -> bool {
    principal.csrf_matches(given)
}

/// Finds the request's live session (no CSRF check: for reads and pages) through
/// [`trygg_app::sessions::current`], and notes its use.
pub async fn current(
    state: &AppState,
    headers: &HeaderMap,
    address: Option<std::net::IpAddr>,
    now: OffsetDateTime,
) -> Result<Current, ApiError> {
    let cookie = read_cookie(&state.config, headers);
    Ok(trygg_app::sessions::current(state, cookie, address, now).await?)
}

/// Whether a method changes state (and so needs the CSRF check).
pub fn is_unsafe(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let now = state.now();
        let address = crate::auth::ClientIp::of(parts).0;
        let cur = current(state, &parts.headers, address, now).await?;
        let session = trygg_app::sessions::require(cur)?;
        if is_unsafe(&parts.method) {
            let given = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            trygg_app::sessions::check_request(
                &session,
                same_origin(&state.config, &parts.headers),
                given,
            )?;
        }
        Ok(Principal::new(session, state))
    }
}

/// Adds a `Set-Cookie` header to a response.
pub fn with_cookie(mut res: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// `GET /api/v1/auth/session`: who is logged in, how, the CSRF token, and open notices.
#[utoipa::path(get, path = "/api/v1/auth/session", tag = "auth",
    responses((status = 200, body = SessionOut), (status = 401, body = crate::error::Problem)))]
pub async fn session_info(p: Principal) -> Result<ApiJson<SessionOut>, ApiError> {
    Ok(ApiJson(trygg_app::sessions::session_info(&p).await?))
}

/// `POST /api/v1/auth/logout` (and `DELETE /api/v1/auth/session`): ends the session.
#[utoipa::path(delete, path = "/api/v1/auth/session", tag = "auth",
    responses((status = 204, description = "signed out; clears the session cookie"), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn logout(State(state): State<AppState>, p: Principal) -> Result<Response, ApiError> {
    trygg_app::sessions::end_session(&p, state.now()).await?;
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
}
