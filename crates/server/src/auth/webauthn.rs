//! The WebAuthn ceremonies at the HTTP edge: passkey login and passkey registration through an
//! enrolment link, each a `start` that returns options for `navigator.credentials` and a
//! `finish` that checks the browser's answer. The use cases (gates, account lookup, employment
//! check, lock and throttle bookkeeping, session, audit; VC-AUTH-3, PC-ACL-1, VC-DEV-2, guide
//! risk scenarios 16 and 17) are `trygg_app::login`'s; the handlers here read the client's
//! address, the origin facts and the JSON body, call them with the application's clock, and
//! map the answer (status, `Set-Cookie`, problem with `Retry-After` on a 429).
//!
//! [`WebauthnRs`] is the relying party the use cases ask ([`trygg_app::login::Passkeys`]): it
//! runs webauthn-rs, the one place its RustCrypto signature checks are used. Both ceremonies
//! require user verification; registration asks for a discoverable credential.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use trygg_app::login::{self, Attempt, Opened, Passkeys};
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Webauthn, WebauthnBuilder,
};

use super::origin::{same_origin, site_origin, SiteOrigin};
use super::session::{set_cookie, with_cookie};
use super::{AuthRuntime, ClientIp};
use crate::app::{ApiJson, AppState};
use crate::error::ApiError;

pub use trygg_app::login::parse_link_token;
pub use trygg_identity::ceremony::{require_resident_key, CEREMONY_TTL};
pub use trygg_identity::session::employment_ended;

/// The relying party of webauthn-rs, for the use cases.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebauthnRs;

fn webauthn_for(o: &SiteOrigin) -> Result<Webauthn, trygg_app::AppError> {
    WebauthnBuilder::new(&o.rp_id, &o.origin)
        .and_then(|b| b.rp_name("Trygg").build())
        .map_err(|e| trygg_app::AppError::internal("TR-L503", e))
}

fn to_json(v: &impl serde::Serialize) -> Result<serde_json::Value, trygg_app::AppError> {
    serde_json::to_value(v).map_err(|e| trygg_app::AppError::internal("TR-L504", e))
}

impl Passkeys for WebauthnRs {
    type LoginState = DiscoverableAuthentication;
    type RegisterState = PasskeyRegistration;
    type Assertion = PublicKeyCredential;
    type Attestation = RegisterPublicKeyCredential;

    fn start_login(
        &self,
        site: &SiteOrigin,
    ) -> Result<(serde_json::Value, Self::LoginState), trygg_app::AppError> {
        let (rcr, st) = webauthn_for(site)?
            .start_discoverable_authentication()
            .map_err(|e| trygg_app::AppError::internal("TR-L505", e))?;
        Ok((to_json(&rcr)?, st))
    }

    fn identify(
        &self,
        site: &SiteOrigin,
        answer: &PublicKeyCredential,
    ) -> Result<Option<(Uuid, Vec<u8>)>, trygg_app::AppError> {
        Ok(webauthn_for(site)?
            .identify_discoverable_authentication(answer)
            .ok()
            .map(|(handle, cred_id)| (handle, cred_id.to_vec())))
    }

    fn finish_login(
        &self,
        site: &SiteOrigin,
        answer: &PublicKeyCredential,
        state: DiscoverableAuthentication,
        stored: &[u8],
    ) -> Result<Option<Vec<u8>>, trygg_app::AppError> {
        let wa = webauthn_for(site)?;
        let mut passkey: Passkey = serde_json::from_slice(stored)
            .map_err(|e| trygg_app::AppError::internal("TR-L506", e))?;
        let Ok(res) = wa.finish_discoverable_authentication_v2(answer, state, &passkey) else {
            return Ok(None);
        };
        passkey.update_credential(&res);
        serde_json::to_vec(&passkey)
            .map(Some)
            .map_err(|e| trygg_app::AppError::internal("TR-L504", e))
    }

    fn start_registration(
        &self,
        site: &SiteOrigin,
        user_handle: Uuid,
        label: &str,
        exclude: Vec<Vec<u8>>,
    ) -> Result<(serde_json::Value, PasskeyRegistration), trygg_app::AppError> {
        let (ccr, reg) = webauthn_for(site)?
            .start_passkey_registration(
                user_handle,
                label,
                label,
                (!exclude.is_empty()).then_some(exclude),
            )
            .map_err(|e| trygg_app::AppError::internal("TR-L505", e))?;
        Ok((to_json(&ccr)?, reg))
    }

    fn finish_registration(
        &self,
        site: &SiteOrigin,
        answer: &RegisterPublicKeyCredential,
        state: &PasskeyRegistration,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let wa = webauthn_for(site).ok()?;
        let passkey = wa
            .finish_passkey_registration(answer, state)
            .map_err(|e| {
                tracing::warn!(event = "security", code = "TR-L010", error = %e, "passkey registration refused");
            })
            .ok()?;
        let stored = serde_json::to_vec(&passkey).ok()?;
        Some((passkey.cred_id().to_vec(), stored))
    }
}

/// The request's facts for a login use case: client address, same-origin, site origin.
fn attempt(state: &AppState, ip: ClientIp, headers: &HeaderMap) -> Attempt {
    Attempt {
        address: ip.0,
        same_origin: same_origin(&state.config, headers),
        site: site_origin(&state.config, headers),
    }
}

/// What `start` returns: the ceremony token and the options for `navigator.credentials`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StartOut {
    /// The sealed ceremony token (issue 17): send it back with `finish`; valid for five
    /// minutes, once.
    pub ceremony: String,
    /// The options (`{"publicKey": …}`), binary fields as base64url.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// Where the browser goes after a finished ceremony.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct FinishOut {
    /// The page to open.
    pub redirect: &'static str,
}

fn started(r: Result<login::Started, trygg_app::AppError>) -> Response {
    match r {
        Ok(s) => ApiJson(StartOut {
            ceremony: s.ceremony,
            options: s.options,
        })
        .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The answer to a finished ceremony: the session cookie and where to go next, or the error.
fn signed_in(state: &AppState, r: Result<Opened, trygg_app::AppError>) -> Response {
    match r {
        Ok(o) => with_cookie(
            ApiJson(FinishOut {
                redirect: "/personell",
            })
            .into_response(),
            set_cookie(&state.config, &o.org, &o.secret),
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `POST /api/v1/auth/login/start`: a discoverable-credential challenge.
#[utoipa::path(post, path = "/api/v1/auth/login/start", tag = "auth",
    responses((status = 200, body = StartOut), (status = 403, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn login_start(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<AuthRuntime>>,
    ip: ClientIp,
    headers: HeaderMap,
) -> Response {
    let at = attempt(&state, ip, &headers);
    started(login::login_start(
        &state,
        &rt,
        &WebauthnRs,
        &at,
        state.now(),
    ))
}

/// The body of `POST /api/v1/auth/login/finish`.
#[derive(Debug, serde::Deserialize)]
pub struct LoginFinishIn {
    /// The ceremony token from `start`.
    pub ceremony: String,
    /// The browser's `PublicKeyCredential`, binary fields as base64url.
    pub credential: PublicKeyCredential,
}

/// `POST /api/v1/auth/login/finish`: verifies the assertion and opens a session.
#[utoipa::path(post, path = "/api/v1/auth/login/finish", tag = "auth",
    request_body(content = Object, description = "`{\"ceremony\": string, \"credential\": PublicKeyCredential}`, binary fields as base64url"),
    responses((status = 200, body = FinishOut, description = "signed in; sets the session cookie"), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn login_finish(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<AuthRuntime>>,
    ip: ClientIp,
    headers: HeaderMap,
    ApiJson(input): ApiJson<LoginFinishIn>,
) -> Response {
    let at = attempt(&state, ip, &headers);
    let r = login::login_finish(
        &state,
        &rt,
        &WebauthnRs,
        &at,
        &input.ceremony,
        &input.credential,
        state.now(),
    )
    .await;
    signed_in(&state, r)
}

/// The body of `POST /api/v1/auth/enrol/start`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolStartIn {
    /// The token from the link (`<org>.<secret>`).
    pub token: String,
    /// The new administrator's full name (only for a first-administrator link).
    pub name: Option<String>,
}

/// `POST /api/v1/auth/enrol/start`: registration options for the link's person.
#[utoipa::path(post, path = "/api/v1/auth/enrol/start", tag = "auth", request_body = EnrolStartIn,
    responses((status = 200, body = StartOut), (status = 410, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn enrol_start(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<AuthRuntime>>,
    ip: ClientIp,
    headers: HeaderMap,
    ApiJson(input): ApiJson<EnrolStartIn>,
) -> Response {
    let at = attempt(&state, ip, &headers);
    started(
        login::enrol_start(
            &state,
            &rt,
            &WebauthnRs,
            &at,
            &input.token,
            input.name.as_deref(),
            state.now(),
        )
        .await,
    )
}

/// The body of `POST /api/v1/auth/enrol/finish`.
#[derive(Debug, serde::Deserialize)]
pub struct EnrolFinishIn {
    /// The ceremony token from `start`.
    pub ceremony: String,
    /// The token from the link.
    pub token: String,
    /// The browser's new credential, binary fields as base64url.
    pub credential: RegisterPublicKeyCredential,
}

/// `POST /api/v1/auth/enrol/finish`: stores the passkey, uses up the link, opens a session.
#[utoipa::path(post, path = "/api/v1/auth/enrol/finish", tag = "auth",
    request_body(content = Object, description = "`{\"token\": string, \"credential\": RegisterPublicKeyCredential}`, binary fields as base64url"),
    responses((status = 200, body = FinishOut, description = "enrolled and signed in; sets the session cookie"), (status = 400, body = crate::error::Problem), (status = 410, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn enrol_finish(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<AuthRuntime>>,
    ip: ClientIp,
    headers: HeaderMap,
    ApiJson(input): ApiJson<EnrolFinishIn>,
) -> Response {
    let at = attempt(&state, ip, &headers);
    let r = login::enrol_finish(
        &state,
        &rt,
        &WebauthnRs,
        &at,
        &input.ceremony,
        &input.token,
        &input.credential,
        state.now(),
    )
    .await;
    signed_in(&state, r)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use trygg_store::Secret;

    #[test]
    fn link_tokens_are_strict() {
        let s = Secret::generate().unwrap();
        let t = format!("normland.{}", s.expose());
        let (org, secret) = parse_link_token(&t).unwrap();
        assert_eq!(org.as_str(), "normland");
        assert_eq!(secret, s);
        assert!(parse_link_token("normland.short").is_none());
        assert!(parse_link_token(&format!("Normland.{}", s.expose())).is_none());
        assert!(parse_link_token(s.expose()).is_none());
    }
}
