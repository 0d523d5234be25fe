//! Personnel login at the HTTP edge: passkeys (WebAuthn), enrolment links, sessions, CSRF
//! protection and lockout (VC-AUTH-3, PC-AUTHN-1, PC-ACL-1, VC-DEV-2; guide risk scenarios 16
//! and 17).
//!
//! # Where the logic is
//! No handler here contains business logic (review item 9). The use cases are `trygg-app`'s:
//! `trygg_app::login` (passkey login and enrolment ceremonies, opening a link, the developer
//! login, the lock and throttle bookkeeping), `trygg_app::sessions` (session lookup and
//! timeouts, the CSRF rule, opening and ending sessions, what a session shows) and
//! `trygg_app::credentials` (enrolment links, own and other people's passkeys, notices), with
//! their audit events in `trygg_app::auth_events`; the rules without IO are `trygg-identity`'s.
//! The handlers and extractors here read cookies, headers and bodies into plain values
//! (client address, same-origin, site origin, `Host`, proxy headers), call a use case with the
//! application's clock, and map the answer (status, `Set-Cookie`, redirect, problem). The one
//! thing a use case asks back is the WebAuthn verification ([`webauthn::WebauthnRs`], which
//! implements `trygg_app::login::Passkeys` with webauthn-rs). The test
//! `review_item_9_no_handler_contains_business_logic` fails if a file of this crate opens a
//! transaction, appends to the audit log or decides an access.
//!
//! # Rules
//! - **Personal accounts only** (PC-ACL-1). A passkey belongs to one person on the staff; there is
//!   no shared or role login. A person gets their first passkey only through an **enrolment link**
//!   (VC-DEV-2): random, single use, valid for `enrolment_link_ttl_secs` (default 24 h), issued by
//!   an administrator (or, for an organisation's first administrator, printed by `trygg serve` /
//!   `trygg demo`), stored only as a keyed hash, and logged when issued and when used. A newer
//!   link for the same person revokes the older one.
//! - **Login** is a discoverable-credential WebAuthn ceremony with user verification required:
//!   no user name is typed. The user handle's first 8 bytes name the organisation
//!   (`trygg_store::auth::new_user_handle`), so one login page serves every organisation.
//! - **Sessions** ([`session`]): a random 256-bit secret in a cookie (`HttpOnly`,
//!   `SameSite=Strict`, `Path=/`; on TLS also `Secure` with the `__Host-` name prefix), only its
//!   keyed hash stored. A session ends after `session_idle_timeout_secs` without a request, after
//!   `session_absolute_timeout_secs` in all, or at logout. It records the authentication method and
//!   assurance level ([`AuthMethod`], [`trygg_audit::Assurance`]), which every audit event of the
//!   person carries (PC-AUTHN-1).
//! - **CSRF** ([`session`]): a state-changing request (`POST`, `PUT`, `PATCH`, `DELETE`) must be
//!   same-origin ([`origin::same_origin`]: `Sec-Fetch-Site`, if sent, is `same-origin`; `Origin`,
//!   if sent and not `null`, is this site's; at least one of them is sent) and carry
//!   the session's CSRF token in `X-CSRF-Token` (forms: field `csrf`). The token is derived from
//!   the session secret (SHA-256 with a fixed label), so it is bound to the session and reveals
//!   nothing of the secret. `SameSite=Strict` is a third, independent barrier.
//! - **Lockout and throttle** ([`lockout`]): real credential failures are counted per account (in
//!   the organisation's database); past the limit the account is locked with a doubling back-off.
//!   Every failure (bogus enrolment links included) spends the client address's budget (in
//!   memory); a spent budget slows the address down for seconds but never locks it (review
//!   finding 5). The address is the TCP peer, or the client a `trusted_proxies` entry names
//!   ([`crate::client_addr`]). Every failed login and every refused attempt is a security
//!   event in the organisation's audit log when the organisation is known, and a `security` log
//!   line otherwise (guide risk scenario 17).
//! - **Assurance.** A passkey with user verification, enrolled through an administrator's link,
//!   is `substantial` (eIDAS; Norwegian level 3): the link, not the passkey, is the identity
//!   proof. `high` comes with HelseID/ID-porten (OIDC, a later issue: it adds an
//!   [`AuthMethod::Oidc`] session through `trygg_app::sessions::open_session`, and nothing else here changes).
//! - **Developer login** ([`dev`]): only in `trygg demo`, only when the listener, the client and the
//!   `Host` are loopback and no proxy header is present, only into organisations the demo seeded;
//!   assurance `low`, method `developer`, clearly marked on the page.
//!
//! # WebAuthn relying party
//! With `public_url` set, its host is the RP ID and its origin the only accepted origin. Without
//! it (the loopback default), the RP ID is `localhost` and the origin `http(s)://localhost:<port>`
//! from the request's `Host`: browsers treat `http://localhost` as a secure context, but an IP
//! address is not a valid RP ID, so the login and enrolment pages redirect `127.0.0.1` and `[::1]`
//! to `localhost`.
//!
//! # State
//! Ceremony state (the challenge between "start" and "finish") is kept by nobody but the client:
//! it travels sealed in the ceremony token (`trygg_identity::ceremony`, issue 17), so any node
//! with the same master key finishes a ceremony another started, and no anonymous request makes
//! the server hold anything. A login's token is used once (its id is recorded in the
//! organisation's database). Per-address failure and request budgets are kept in memory
//! ([`AuthRuntime`], `trygg_app::login::LoginRuntime`, bounded, per process); every
//! unauthenticated login route spends the client's request budget ([`rate_limit`]; 429 with
//! `Retry-After`, for that client only). Sessions, passkeys, links and per-account counters are
//! in the organisation's database; a session's last-seen time is written at most once a minute.

pub mod audit;
pub mod dev;
pub mod enrol;
pub mod lockout;
pub mod origin;
pub mod pages;
pub mod passkeys;
pub mod session;
pub mod webauthn;

use std::net::IpAddr;

use axum::routing::{get, post};
use axum::Router;

use crate::app::AppState;

pub use session::{AuthMethod, OidcProvider, Principal};

/// The in-memory part of login: per-address failure and request budgets
/// (`trygg_app::login::LoginRuntime`, with webauthn-rs as the relying party).
pub type AuthRuntime = trygg_app::login::LoginRuntime<webauthn::WebauthnRs>;

/// The login pages under `/personell` and `/enrol`. The JSON API under `/api/v1/auth` is in the
/// one route table ([`crate::api::table`]); `app::router` adds the [`AuthRuntime`] extension to
/// both, so pages and API share the address budgets.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/personell", get(pages::login_page))
        .route("/personell/logout", post(pages::logout_form))
        .route("/personell/dev-login", post(dev::dev_login))
        .route("/enrol/{token}", get(pages::enrol_page))
}

/// The unauthenticated routes whose requests spend the client's request budget (issue 17): the
/// login and enrolment ceremonies, the enrolment and consultation pages (they take a token) and
/// the developer login; and the patient portal's login and its callback (issue #13: each start
/// keeps a login in progress and may reach ID-porten); and a device's enrolment (its code is the
/// only authority, so guessing is throttled).
pub fn rate_limited_path(path: &str) -> bool {
    path.starts_with("/login/")
        || path.starts_with("/personell/login/")
        || (path.starts_with("/portal/") && path.ends_with("/login"))
        || path.starts_with("/api/v1/auth/login/")
        || path.starts_with("/api/v1/auth/enrol/")
        || path.starts_with("/enrol/")
        || path.starts_with("/join/")
        || path == "/personell/dev-login"
        || path == "/api/v1/device-enrolment"
}

/// The per-client rate limit of the unauthenticated login routes ([`rate_limited_path`];
/// `trygg_app::login::rate_limit`, issue 17, guide risk scenario 17): a client past its
/// request budget gets 429 with `Retry-After` (a problem under `/api/`, plain text on a page);
/// the client is the address `trusted_proxies` resolves ([`ClientIp`]), and no other client is
/// affected.
pub async fn rate_limit(
    state: AppState,
    rt: std::sync::Arc<AuthRuntime>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let path = req.uri().path();
    if !rate_limited_path(path) {
        return next.run(req).await;
    }
    let ip = req.extensions().get::<ClientIp>().and_then(|c| c.0);
    match trygg_app::login::rate_limit(&rt, ip, state.now()) {
        Ok(()) => next.run(req).await,
        Err(e) if req.uri().path().starts_with("/api/") => {
            crate::error::ApiError::from(e).into_response()
        }
        Err(e) => {
            let secs = match e.kind {
                trygg_app::ErrorKind::TooManyRequests(s) => s,
                _ => 1,
            };
            (
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                [(axum::http::header::RETRY_AFTER, secs.to_string())],
                e.detail,
            )
                .into_response()
        }
    }
}

/// The client's address, if the server was started with connection info
/// (`into_make_service_with_connect_info::<SocketAddr>()`); `None` otherwise, and then only the
/// per-account limits apply. Behind a proxy listed in `trusted_proxies` it is the address the
/// proxy names in `Forwarded` / `X-Forwarded-For` ([`crate::client_addr`], review finding 5);
/// the router's layer resolves it once per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    /// The address resolved for this request (or the TCP peer, if the router's layer did not
    /// run).
    pub fn of(parts: &axum::http::request::Parts) -> Self {
        if let Some(ip) = parts.extensions.get::<ClientIp>() {
            return *ip;
        }
        Self(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        )
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts))
    }
}

/// PC-AUTHN-3, issue #13: where a personnel page was refused only because the login's level is
/// below what the page needs (a 403 naming `required_assurance`), the way to a login at that
/// level: HelseID, asked to authenticate again, or the deployment's own provider when the level
/// it counts as is enough. `None` when no provider here gives that level (the page then says
/// the person has no access with this login).
pub fn step_up(
    config: &trygg_app::config::Config,
    e: &crate::error::ApiError,
    org: &str,
) -> Option<axum::response::Response> {
    use axum::response::IntoResponse;
    if e.status != axum::http::StatusCode::FORBIDDEN {
        return None;
    }
    let needed = e
        .extension("required_assurance")
        .and_then(|v| v.as_str())
        .and_then(trygg_audit::Assurance::from_code)?;
    let org = trygg_core::OrgSlug::parse(org).ok()?;
    let to = if config.helseid_issuer.is_some() {
        format!("/personell/login/helseid?org={org}&step_up=true")
    } else if config.personnel_oidc_issuer.is_some()
        && trygg_audit::Assurance::from_code(&config.personnel_oidc_assurance)
            .is_some_and(|l| l >= needed)
    {
        format!("/personell/login/oidc?org={org}")
    } else {
        return None;
    };
    Some(axum::response::Redirect::to(&to).into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// Every `.rs` file under `dir`.
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// Review item 9: no handler contains business logic. The HTTP edge extracts, calls a use
    /// case of `trygg-app` and maps the answer; it never opens an organisation's transaction,
    /// appends to the audit log or decides an access itself (PC-ACL-1, VC-DEV-2: authorisation
    /// and audit are inside the use cases, so the API, the pages, the CLI and the signalling
    /// socket share them).
    #[test]
    fn review_item_9_no_handler_contains_business_logic() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        assert!(files.len() > 10, "the sources were found");
        // Spelt in two parts so that this test does not find itself.
        let forbidden = [
            concat!(".be", "gin()"),
            concat!(".au", "dit("),
            concat!("Org", "Tx"),
            concat!("autho", "rize("),
            concat!("access::", "decide"),
        ];
        let mut found = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for needle in forbidden {
                if text.contains(needle) {
                    found.push(format!("{}: {needle}", f.display()));
                }
            }
        }
        assert!(
            found.is_empty(),
            "business logic at the HTTP edge: {found:#?}"
        );
    }
}
