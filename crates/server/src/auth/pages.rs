//! The login pages: `/personell` (sign in with a passkey, or the signed-in page with sign-out),
//! `/enrol/<token>` (create a passkey from an enrolment link), and the sign-out form. The
//! ceremonies run in `web/static/passkey.js` against [`super::webauthn`]; without JavaScript the
//! pages say so. Over a loopback IP address (no `public_url`) both redirect to `localhost`, the
//! only loopback name passkeys work on ([`super::origin`]).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};

use trygg_app::ErrorKind;

use super::dev::{self, Choice};
use super::origin::{localhost_redirect, same_origin};
use super::session::{clear_cookie, current, with_cookie, Current};
use super::{AuthRuntime, ClientIp};
use crate::app::AppState;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::{render, LangQuery, Shell};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    shell: Shell,
    session_ended: bool,
    dev_choices: Vec<Choice>,
    /// HelseID is set up (issue #13).
    helseid: bool,
    /// The deployment's own provider for personnel, by name, if set up.
    oidc_name: Option<String>,
}

#[derive(Template)]
#[template(path = "signed_in.html")]
struct SignedInPage {
    shell: Shell,
}

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage {
    shell: Shell,
    org_name: String,
    token: String,
    needs_name: bool,
}

#[derive(Template)]
#[template(path = "link_invalid.html")]
struct LinkInvalidPage {
    shell: Shell,
}

fn with_lang(path: &str, lang: Lang) -> String {
    if lang == Lang::Nb {
        path.to_owned()
    } else {
        format!("{path}?lang={}", lang.tag())
    }
}

/// `GET /personell`: the login page, or the signed-in page.
pub async fn login_page(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    ip: ClientIp,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    if let Some(to) = localhost_redirect(&state.config, &headers, &with_lang("/personell", lang)) {
        return Redirect::to(&to).into_response();
    }
    let shell = Shell::new(lang, "/personell");
    let now = state.now();
    let cur = match current(&state, &headers, ip.0, now).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    match cur {
        Current::Live(p) => {
            let shell = Shell::signed_in(&state, &p, lang, "/personell").await;
            render(&SignedInPage { shell }, StatusCode::OK)
        }
        other => {
            let dev_choices = if dev::offered(&state.config, ip.0, &headers) {
                match dev::choices(&state, lang).await {
                    Ok(c) => c,
                    Err(e) => return e.into_response(),
                }
            } else {
                Vec::new()
            };
            let ended = matches!(other, Current::Expired(_));
            let res = render(
                &LoginPage {
                    shell,
                    session_ended: ended,
                    dev_choices,
                    helseid: state.config.helseid_issuer.is_some(),
                    oidc_name: state
                        .config
                        .personnel_oidc_issuer
                        .as_ref()
                        .map(|_| state.config.personnel_oidc_name.clone()),
                },
                StatusCode::OK,
            );
            // A cookie that names no live session is of no use any more.
            if ended {
                with_cookie(res, clear_cookie(&state.config))
            } else {
                res
            }
        }
    }
}

/// The sign-out form.
#[derive(Debug, serde::Deserialize)]
pub struct LogoutIn {
    /// The session's CSRF token.
    pub csrf: String,
}

/// A personnel page form's session: live, same-origin and carrying the session's CSRF token
/// ([`trygg_app::sessions::check_request`], which logs a refusal as a security event for the
/// operator); otherwise the response to give — `gone` when no session is live, 403 else.
pub async fn form_session(
    state: &AppState,
    headers: &HeaderMap,
    ip: ClientIp,
    csrf: &str,
    gone: Response,
) -> Result<Box<trygg_app::sessions::Session>, Response> {
    let p = match current(state, headers, ip.0, state.now()).await {
        Ok(Current::Live(p)) => p,
        Ok(_) => return Err(gone),
        Err(e) => return Err(e.into_response()),
    };
    let same = same_origin(&state.config, headers);
    if trygg_app::sessions::check_request(&p, same, csrf).is_err() {
        return Err((
            StatusCode::FORBIDDEN,
            "the request does not come from this site",
        )
            .into_response());
    }
    Ok(p)
}

/// `POST /personell/logout`: ends the session (same-origin, with the CSRF token) and returns to
/// the login page.
pub async fn logout_form(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(input): Form<LogoutIn>,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    let back = || Redirect::to(&with_lang("/personell", lang)).into_response();
    let now = state.now();
    let gone = with_cookie(back(), clear_cookie(&state.config));
    let p = match form_session(&state, &headers, ip, &input.csrf, gone).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    match trygg_app::sessions::end_session(&p, now).await {
        Ok(()) => with_cookie(back(), clear_cookie(&state.config)),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `GET /enrol/<token>`: the page that creates a passkey. An unusable link gets a page that says
/// so (410), and a security event.
pub async fn enrol_page(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<AuthRuntime>>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    ip: ClientIp,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    let path = format!("/enrol/{token}");
    if let Some(to) = localhost_redirect(&state.config, &headers, &with_lang(&path, lang)) {
        return Redirect::to(&to).into_response();
    }
    let shell = Shell::new(lang, &path);
    let now = state.now();
    match trygg_app::login::open_link(&state, &rt.addresses, &token, ip.0, now).await {
        Ok(l) => render(
            &EnrolPage {
                shell,
                org_name: l.org.organisation().name.clone(),
                token,
                needs_name: l.link.personnel_id.is_none(),
            },
            StatusCode::OK,
        ),
        Err(e) if e.kind == ErrorKind::Gone => render(&LinkInvalidPage { shell }, StatusCode::GONE),
        Err(e) => ApiError::from(e).into_response(),
    }
}
