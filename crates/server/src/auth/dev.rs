//! The developer login of `trygg demo` at the HTTP edge: pick a demo person and get a session
//! without a passkey, to try the roles quickly. The rules (only in `trygg demo`, only when
//! everything is loopback and no proxy header is present, only into organisations the demo
//! seeded, assurance `low`, logged like every login; VC-DEV-2, review finding 7) are
//! `trygg_app::login`'s ([`trygg_app::login::developer_gate`],
//! [`trygg_app::login::developer_login`]); this module reads the request's facts (client
//! address, `Host`, proxy headers, same-origin), calls, and answers: a refusal by the gate is a
//! plain-text page (404 where the login does not exist), a session a redirect with its cookie.

use std::net::IpAddr;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use trygg_app::login::{self, DevRequest};

pub use trygg_app::login::Choice;

use super::origin::same_origin;
use super::session::{set_cookie, with_cookie};
use super::ClientIp;
use crate::app::AppState;
use crate::config::Config;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::LangQuery;

/// Whether a request names a proxy hop: `Forwarded`, any `X-Forwarded-*`, or `Via`.
pub fn through_proxy(headers: &HeaderMap) -> bool {
    headers.keys().any(|k| {
        let n = k.as_str();
        n == "forwarded" || n == "via" || n.starts_with("x-forwarded-")
    })
}

/// The developer-login facts of a request.
pub fn request(config: &Config, client: Option<IpAddr>, headers: &HeaderMap) -> DevRequest {
    DevRequest {
        address: client,
        host: headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        through_proxy: through_proxy(headers),
        same_origin: same_origin(config, headers),
    }
}

/// Whether the login page should offer the developer login.
pub fn offered(config: &Config, client: Option<IpAddr>, headers: &HeaderMap) -> bool {
    login::developer_allowed(config, &request(config, client, headers)).is_ok()
}

/// Everyone who can be picked ([`trygg_app::login::developer_choices`]).
pub async fn choices(state: &AppState, lang: crate::i18n::Lang) -> Result<Vec<Choice>, ApiError> {
    Ok(login::developer_choices(state, lang).await?)
}

/// The developer login form.
#[derive(Debug, serde::Deserialize)]
pub struct DevIn {
    /// `<org-slug>:<personnel id>`.
    pub person: String,
}

/// `POST /personell/dev-login`.
pub async fn dev_login(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(input): Form<DevIn>,
) -> Response {
    let req = request(&state.config, ip.0, &headers);
    let (slug, pid) = match login::developer_gate(&state.config, &req, &input.person) {
        Ok(v) => v,
        Err(e) => {
            let status = ApiError::from(e);
            return (status.status, status.detail).into_response();
        }
    };
    match login::developer_login(&state, &slug, pid, ip.0, state.now()).await {
        Ok(o) => with_cookie(
            Redirect::to(&match Lang::from_query(q.lang.as_deref()) {
                Lang::Nb => "/personell".to_owned(),
                l => format!("/personell?lang={}", l.tag()),
            })
            .into_response(),
            set_cookie(&state.config, &o.org, &o.secret),
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn proxy_headers_are_seen() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(!through_proxy(&h));
        for name in ["forwarded", "x-forwarded-for", "x-forwarded-host", "via"] {
            let mut h = h.clone();
            h.insert(name, "1.1 proxy".parse().unwrap());
            assert!(through_proxy(&h), "{name}");
        }
        let mut c = Config {
            demo: true,
            ..Config::default()
        };
        c.listen = "127.0.0.1:8080".parse().unwrap();
        let lo = Some("127.0.0.1".parse().unwrap());
        assert!(offered(&c, lo, &h));
        h.insert("via", "1.1 proxy".parse().unwrap());
        assert!(!offered(&c, lo, &h));
    }
}
