//! The developer login of `trygg demo`: pick a demo person and get a session without a passkey,
//! to try the roles quickly.
//!
//! # Rules
//! - It **exists only in `trygg demo`** ([`Config::demo`], which no file or environment variable
//!   can set); elsewhere its route answers 404 like any unknown page.
//! - It is **refused unless everything is loopback**: the listener, the client's address (when
//!   known) and the `Host` the browser used. A demo reached through a proxy or a tunnel gets 403:
//!   a request carrying `Forwarded`, `X-Forwarded-*` or `Via` came through one, whatever its
//!   `Host` says (review finding 7).
//! - It offers and accepts only **organisations `trygg demo` seeded** (marked in the control
//!   database), never another organisation in the same data directory.
//! - It is same-origin only (login CSRF), opens a session with method `developer` and assurance
//!   `low`, and is logged like every login. The page marks it as a developer login.

use std::net::IpAddr;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use trygg_audit::Assurance;
use trygg_core::{BuiltinRole, OrgSlug};
use uuid::Uuid;

use super::origin::{is_loopback_host, same_origin};
use super::session::{open_session_from, set_cookie, with_cookie};
use super::{AuthMethod, ClientIp};
use crate::app::AppState;
use crate::config::Config;
use crate::i18n::Lang;
use crate::pages::LangQuery;

/// Why the developer login is not available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not `trygg demo`: the login does not exist.
    NotDemo,
    /// Something is not loopback.
    NotLoopback,
    /// The request came through a proxy.
    Forwarded,
}

/// Whether a request names a proxy hop: `Forwarded`, any `X-Forwarded-*`, or `Via`.
pub fn through_proxy(headers: &HeaderMap) -> bool {
    headers.keys().any(|k| {
        let n = k.as_str();
        n == "forwarded" || n == "via" || n.starts_with("x-forwarded-")
    })
}

/// Whether the developer login may be used by this request.
pub fn allowed(config: &Config, client: Option<IpAddr>, host: Option<&str>) -> Result<(), Refusal> {
    if !config.demo {
        return Err(Refusal::NotDemo);
    }
    let listener = config.listen.ip().is_loopback();
    let client = client.is_none_or(|ip| ip.is_loopback());
    let host = host.is_some_and(is_loopback_host);
    if listener && client && host {
        Ok(())
    } else {
        Err(Refusal::NotLoopback)
    }
}

fn host(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|v| v.to_str().ok())
}

/// Whether this request may use the developer login: [`allowed`], and not through a proxy.
pub fn allowed_request(
    config: &Config,
    client: Option<IpAddr>,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    allowed(config, client, host(headers))?;
    if through_proxy(headers) {
        return Err(Refusal::Forwarded);
    }
    Ok(())
}

/// Whether the login page should offer the developer login.
pub fn offered(config: &Config, client: Option<IpAddr>, headers: &HeaderMap) -> bool {
    allowed_request(config, client, headers).is_ok()
}

/// One person to pick, without their name: organisation, role and a number.
#[derive(Debug, Clone)]
pub struct Choice {
    /// `<org-slug>:<personnel id>`.
    pub value: String,
    /// What the list shows.
    pub label: String,
}

/// Everyone who can be picked, by organisation and role (names are not read): only in the
/// organisations `trygg demo` seeded.
pub async fn choices(state: &AppState) -> Result<Vec<Choice>, crate::error::ApiError> {
    let mut out = Vec::new();
    for org in state.store.list_orgs().await? {
        if !state.store.is_demo(&org).await? {
            continue;
        }
        let h = state.store.org(&org).await?;
        let mut tx = h.begin().await?;
        for role in BuiltinRole::ALL {
            let ids = tx.personnel_ids_with_role(role).await?;
            let many = ids.len() > 1;
            for (i, id) in ids.into_iter().enumerate() {
                let n = if many {
                    format!(" {}", i + 1)
                } else {
                    String::new()
                };
                out.push(Choice {
                    value: format!("{}:{id}", org.slug),
                    label: format!("{}: {}{n}", org.name, role.as_str()),
                });
            }
        }
    }
    Ok(out)
}

/// The developer login form.
#[derive(Debug, serde::Deserialize)]
pub struct DevIn {
    /// `<org-slug>:<personnel id>`.
    pub person: String,
}

fn refused(status: StatusCode, text: &'static str) -> Response {
    (status, text).into_response()
}

/// `POST /personell/dev-login`.
pub async fn dev_login(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(input): Form<DevIn>,
) -> Response {
    match allowed_request(&state.config, ip.0, &headers) {
        Err(Refusal::NotDemo) => return refused(StatusCode::NOT_FOUND, "not found"),
        Err(Refusal::Forwarded) => {
            tracing::warn!(
                event = "security",
                code = "TR-E702",
                "developer login through a proxy refused"
            );
            return refused(
                StatusCode::FORBIDDEN,
                "the developer login does not work through a proxy",
            );
        }
        Err(Refusal::NotLoopback) => {
            tracing::warn!(
                event = "security",
                code = "TR-L014",
                "developer login off loopback refused"
            );
            return refused(
                StatusCode::FORBIDDEN,
                "the developer login works only on a loopback address",
            );
        }
        Ok(()) => {}
    }
    if !same_origin(&state.config, &headers) {
        return refused(
            StatusCode::FORBIDDEN,
            "the request does not come from this site",
        );
    }
    let now = state.now();
    let parsed = input
        .person
        .split_once(':')
        .and_then(|(o, p)| Some((OrgSlug::parse(o).ok()?, Uuid::parse_str(p).ok()?)));
    let Some((slug, pid)) = parsed else {
        return refused(StatusCode::BAD_REQUEST, "no such person");
    };
    let r = async {
        let org = state
            .store
            .org_by_slug(&slug)
            .await?
            .ok_or_else(|| crate::error::ApiError::not_found("TR-L012", "no such person"))?;
        if !state.store.is_demo(&org).await? {
            tracing::warn!(
                event = "security",
                code = "TR-E703",
                "developer login into an organisation the demo did not seed refused"
            );
            return Err(crate::error::ApiError::not_found(
                "TR-E703",
                "no such person",
            ));
        }
        let h = state.store.org(&org).await?;
        let mut tx = h.begin().await?;
        if tx.personnel_role(pid).await?.is_none() {
            return Err(crate::error::ApiError::not_found(
                "TR-L012",
                "no such person",
            ));
        }
        let (_, secret) = open_session_from(
            &mut tx,
            &slug,
            pid,
            AuthMethod::Developer,
            Assurance::Low,
            ip.0,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(secret)
    };
    match r.await {
        Ok(secret) => with_cookie(
            Redirect::to(&match Lang::from_query(q.lang.as_deref()) {
                Lang::Nb => "/personell".to_owned(),
                l => format!("/personell?lang={}", l.tag()),
            })
            .into_response(),
            set_cookie(&state.config, &slug, &secret),
        ),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_in_the_demo_and_only_on_loopback() {
        let lo: Option<IpAddr> = Some("127.0.0.1".parse().unwrap());
        let mut c = Config::default();
        assert_eq!(
            allowed(&c, lo, Some("localhost:8080")),
            Err(Refusal::NotDemo)
        );
        c.demo = true;
        assert_eq!(allowed(&c, lo, Some("localhost:8080")), Ok(()));
        assert_eq!(allowed(&c, None, Some("127.0.0.1:8080")), Ok(()));
        assert_eq!(
            allowed(
                &c,
                Some("192.0.2.7".parse().unwrap()),
                Some("localhost:8080")
            ),
            Err(Refusal::NotLoopback)
        );
        assert_eq!(
            allowed(&c, lo, Some("demo.example.no")),
            Err(Refusal::NotLoopback)
        );
        assert_eq!(allowed(&c, lo, None), Err(Refusal::NotLoopback));
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(allowed_request(&c, lo, &h), Ok(()));
        for name in ["forwarded", "x-forwarded-for", "x-forwarded-host", "via"] {
            let mut h = h.clone();
            h.insert(name, "1.1 proxy".parse().unwrap());
            assert_eq!(
                allowed_request(&c, lo, &h),
                Err(Refusal::Forwarded),
                "{name}"
            );
        }
        c.listen = "0.0.0.0:8443".parse().unwrap();
        assert_eq!(
            allowed(&c, lo, Some("localhost:8443")),
            Err(Refusal::NotLoopback)
        );
    }
}
