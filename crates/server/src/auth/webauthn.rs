//! The WebAuthn ceremonies (webauthn-rs): passkey login and passkey registration through an
//! enrolment link, each a `start` that returns options for `navigator.credentials` and a
//! `finish` that checks the browser's answer.
//!
//! # Rules
//! - Both ceremonies require **user verification** (PIN or biometrics on the device): a passkey is
//!   two factors in one (VC-AUTH-3). Registration asks for a **discoverable** credential, so login
//!   needs no user name.
//! - A ceremony's state (its challenge) stays on the server, in memory, for at most
//!   [`CEREMONY_TTL`]; `finish` takes it out, so each challenge is answered once. The state is
//!   bound to the origin it started under.
//! - `start` and `finish` are refused unless same-origin (login CSRF) and unless the client's
//!   address has failure budget left (a throttle, never a lock); `finish` of a login also checks
//!   the account's lock before it verifies anything ([`super::lockout`]). Only an assertion that
//!   does not verify counts against an account; bogus links, unknown ceremonies and passkeys of
//!   no known account spend only the address's budget (review finding 5).
//! - A failed login is a `security` / `failed-login` event in the organisation's log with the
//!   client address; a refused attempt against a locked account a `rate-limited` one; a login to
//!   an organisation that cannot be identified is logged as a `security` log line (there is no
//!   organisation log to write it to).
//! - A passkey registered through a link is bound to the link's person, and to no one else's
//!   account: a credential id seen before is refused. Registering it leaves a `passkey-added`
//!   notice that the person's sessions show until acknowledged (finding 2).
//! - **End of employment** (finding 1): a passkey login, and opening or using a link, are refused
//!   when the person's employment end is at or before now (a security event, `TR-P703`), even if
//!   the link itself has not expired.
//!
//! The ceremony state's rules (single use, expiry, origin binding, bound), the link token's
//! syntax and the registration options' tweak are `trygg_identity` ([`trygg_identity::ceremony`],
//! [`trygg_identity::link`]); this module runs webauthn-rs, the store and the audit log, and reads
//! the time from the application's clock, so a ceremony expires on the same clock as everything
//! else.

use std::sync::Arc;
use trygg_core::Operation;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use time::OffsetDateTime;
use trygg_audit::{Action, Assurance, Category, Outcome, SecurityKind};
use trygg_core::{BuiltinRole, Employment, OrgSlug, PersonName};
use trygg_store::{LinkState, NewPersonnel, OrgStore, Secret};
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Webauthn, WebauthnBuilder,
};

use super::audit::{build, AuthEvent, Who};
use super::lockout::{self, Gate};
use super::origin::{same_origin, site_origin, SiteOrigin};
use super::session::{log_event, open_session_from, set_cookie, with_cookie};
use super::{AuthRuntime, ClientIp};
use crate::app::{ApiJson, AppState};
use crate::error::ApiError;

pub use trygg_identity::ceremony::{require_resident_key, CEREMONY_TTL};
pub use trygg_identity::session::employment_ended;

/// One ceremony's server-side state: webauthn-rs's challenge state.
pub enum Kind {
    /// A login (discoverable credential).
    Login(DiscoverableAuthentication),
    /// A registration through an enrolment link.
    Enrol(Box<EnrolState>),
}

/// A registration's state between start and finish.
pub struct EnrolState {
    org: OrgSlug,
    link_id: Uuid,
    /// The person; `None` when the link creates the first administrator.
    personnel_id: Option<Uuid>,
    new_name: Option<PersonName>,
    user_handle: Uuid,
    reg: PasskeyRegistration,
}

/// The ceremonies in flight, by id ([`trygg_identity::Ceremonies`]).
pub type Ceremonies = trygg_identity::Ceremonies<Kind>;

/// Keeps a new ceremony (`TR-L018` when too many are in flight).
fn begin_ceremony(
    rt: &AuthRuntime,
    origin: SiteOrigin,
    kind: Kind,
    now: OffsetDateTime,
) -> Result<Uuid, ApiError> {
    rt.ceremonies.insert(origin, kind, now).map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "TR-L018",
            "Service unavailable",
            "too many logins in progress; try again in a minute",
        )
    })
}

fn webauthn_for(o: &SiteOrigin) -> Result<Webauthn, ApiError> {
    WebauthnBuilder::new(&o.rp_id, &o.origin)
        .and_then(|b| b.rp_name("Trygg").build())
        .map_err(|e| ApiError::internal("TR-L503", e))
}

/// Checks what every ceremony request must pass: same origin, an unlocked address, a usable site
/// origin.
fn precheck(
    state: &AppState,
    rt: &AuthRuntime,
    headers: &HeaderMap,
    ip: ClientIp,
    now: OffsetDateTime,
) -> Result<SiteOrigin, ApiError> {
    if !same_origin(&state.config, headers) {
        tracing::warn!(
            event = "security",
            code = "TR-L004",
            "cross-origin login request refused"
        );
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "TR-L004",
            "Forbidden",
            "the request does not come from this site",
        ));
    }
    let budget = lockout::address_budget(&state.config);
    if let Some(secs) = rt.addresses.gate(ip.0, budget, now).retry_after_secs(now) {
        tracing::warn!(
            event = "security",
            code = "TR-L007",
            "login attempt from a throttled address refused"
        );
        return Err(locked(secs));
    }
    site_origin(&state.config, headers).map_err(|e| ApiError::bad_request("TR-L015", e.to_string()))
}

/// 429 with `Retry-After`, as an error the handler returns.
pub fn locked(secs: i64) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "TR-L007",
        "Too many attempts",
        format!("too many failed attempts; try again in {secs} seconds"),
    )
}

/// Renders an error, adding `Retry-After` to a 429.
pub fn error_response(e: ApiError) -> Response {
    let retry = (e.status == StatusCode::TOO_MANY_REQUESTS)
        .then(|| {
            e.detail
                .split_whitespace()
                .find_map(|w| w.parse::<u64>().ok())
        })
        .flatten();
    let mut res = e.into_response();
    if let Some(secs) = retry {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    res
}

fn login_failed() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "TR-L006",
        "Login failed",
        "the passkey was not accepted",
    )
}

fn ceremony_unknown() -> ApiError {
    ApiError::bad_request(
        "TR-L008",
        "the login took too long or was finished already; start again",
    )
}

fn link_invalid() -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "TR-L009",
        "Link not valid",
        "this enrolment link is used, expired or unknown; ask an administrator for a new one",
    )
}

/// What `start` returns: the ceremony id and the options for `navigator.credentials`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StartOut {
    /// Send this back with `finish`.
    pub ceremony: Uuid,
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

fn to_json(v: &impl serde::Serialize) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::internal("TR-L504", e))
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
    let now = state.now();
    let r = async {
        let origin = precheck(&state, &rt, &headers, ip, now)?;
        let wa = webauthn_for(&origin)?;
        let (rcr, st) = wa
            .start_discoverable_authentication()
            .map_err(|e| ApiError::internal("TR-L505", e))?;
        let mut options = to_json(&rcr)?;
        // The page asks in a modal dialog, not through autofill.
        if let Some(o) = options.as_object_mut() {
            o.remove("mediation");
        }
        let ceremony = begin_ceremony(&rt, origin, Kind::Login(st), now)?;
        Ok::<_, ApiError>(ApiJson(StartOut { ceremony, options }))
    };
    match r.await {
        Ok(out) => out.into_response(),
        Err(e) => error_response(e),
    }
}

/// The answer to a finished ceremony: the session cookie and where to go next, or the error.
fn signed_in(state: &AppState, r: Result<(OrgSlug, Secret), ApiError>) -> Response {
    match r {
        Ok((org, secret)) => with_cookie(
            ApiJson(FinishOut {
                redirect: "/personell",
            })
            .into_response(),
            set_cookie(&state.config, &org, &secret),
        ),
        Err(e) => error_response(e),
    }
}

/// The body of `POST /api/v1/auth/login/finish`.
#[derive(Debug, serde::Deserialize)]
pub struct LoginFinishIn {
    /// From `start`.
    pub ceremony: Uuid,
    /// The browser's `PublicKeyCredential`, binary fields as base64url.
    pub credential: PublicKeyCredential,
}

/// `POST /api/v1/auth/login/finish`: verifies the assertion and opens a session.
#[utoipa::path(post, path = "/api/v1/auth/login/finish", tag = "auth",
    request_body(content = Object, description = "`{\"ceremony\": uuid, \"credential\": PublicKeyCredential}`, binary fields as base64url"),
    responses((status = 200, body = FinishOut, description = "signed in; sets the session cookie"), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn login_finish(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<AuthRuntime>>,
    ip: ClientIp,
    headers: HeaderMap,
    ApiJson(input): ApiJson<LoginFinishIn>,
) -> Response {
    let now = state.now();
    signed_in(
        &state,
        finish_login(&state, &rt, ip, &headers, input, now).await,
    )
}

/// Spends one unit of the client address's failure budget (never locks the address).
pub fn address_failure(state: &AppState, rt: &AuthRuntime, ip: ClientIp, now: OffsetDateTime) {
    if rt
        .addresses
        .failure(ip.0, lockout::address_budget(&state.config), now)
    {
        tracing::warn!(
            event = "security",
            code = "TR-L007",
            "a client address has spent its failure budget and is slowed down"
        );
    }
}

async fn finish_login(
    state: &AppState,
    rt: &AuthRuntime,
    ip: ClientIp,
    headers: &HeaderMap,
    input: LoginFinishIn,
    now: OffsetDateTime,
) -> Result<(OrgSlug, Secret), ApiError> {
    let origin = precheck(state, rt, headers, ip, now)?;
    let pending = rt
        .ceremonies
        .take(input.ceremony, &origin, now)
        .ok_or_else(|| {
            address_failure(state, rt, ip, now);
            ceremony_unknown()
        })?;
    let Kind::Login(st) = pending else {
        return Err(ceremony_unknown());
    };
    let wa = webauthn_for(&origin)?;
    let cred = input.credential;
    let unknown = || {
        address_failure(state, rt, ip, now);
        tracing::warn!(
            event = "security",
            code = "TR-L006",
            "login with a passkey of no known organisation"
        );
        login_failed()
    };
    let Ok((handle, cred_id)) = wa.identify_discoverable_authentication(&cred) else {
        return Err(unknown());
    };
    let Some(org) = state.store.org_for_user_handle(handle).await? else {
        return Err(unknown());
    };
    let h: Arc<OrgStore> = state.store.org(&org).await?;
    let slug = org.slug.clone();
    let mut tx = h.begin().await?;
    let Some(account) = tx.login_account_by_handle(handle).await? else {
        drop(tx);
        address_failure(state, rt, ip, now);
        log_event(
            &h,
            &slug,
            Who::Unknown,
            AuthEvent::security(
                SecurityKind::FailedLogin,
                Operation::Login,
                Outcome::AuthenticationFailed,
                ip.0,
            ),
            now,
        )
        .await?;
        return Err(login_failed());
    };
    let who = Who::Person(account.personnel_id, account.role);
    if employment_ended(account.employment_end, now) {
        drop(tx);
        let mut e = AuthEvent::security(
            SecurityKind::AccessDenied,
            Operation::Login,
            Outcome::Denied,
            ip.0,
        );
        e.entity = ("Practitioner", Some(account.personnel_id.to_string()));
        log_event(&h, &slug, who, e, now).await?;
        return Err(employment_over());
    }
    if let Gate::Locked(until) = lockout::account_gate(&account.throttle, now) {
        drop(tx);
        log_event(
            &h,
            &slug,
            who,
            AuthEvent::security(
                SecurityKind::RateLimited,
                Operation::Login,
                Outcome::Denied,
                ip.0,
            ),
            now,
        )
        .await?;
        return Err(locked((until - now).whole_seconds().max(1)));
    }
    let stored = tx
        .passkey_by_credential_id(cred_id)
        .await?
        .filter(|p| p.personnel_id == account.personnel_id);
    let verified = match &stored {
        Some(s) => {
            let passkey: Passkey = serde_json::from_slice(&s.credential)
                .map_err(|e| ApiError::internal("TR-L506", e))?;
            wa.finish_discoverable_authentication_v2(&cred, st, &passkey)
                .ok()
                .map(|res| (s.id, passkey, res))
        }
        None => None,
    };
    let Some((passkey_id, mut passkey, res)) = verified else {
        // Wrong key, unknown credential, failed user verification, replayed or foreign
        // challenge: one failure for the account and the address, and a security event.
        let mut lock = lockout::state_of(&account.throttle);
        let locked_until =
            lockout::on_failure(&mut lock, lockout::account_policy(&state.config), now);
        tx.set_login_throttle(account.personnel_id, &lockout::row_of(&lock))
            .await?;
        tx.audit(&build(
            &slug,
            who,
            AuthEvent::security(
                SecurityKind::FailedLogin,
                Operation::Login,
                Outcome::AuthenticationFailed,
                ip.0,
            ),
            now,
        )?)
        .await?;
        if locked_until.is_some() {
            tx.audit(&build(
                &slug,
                who,
                AuthEvent::security(
                    SecurityKind::RateLimited,
                    Operation::AccountLocked,
                    Outcome::Denied,
                    ip.0,
                ),
                now,
            )?)
            .await?;
        }
        tx.commit().await?;
        address_failure(state, rt, ip, now);
        return Err(login_failed());
    };
    passkey.update_credential(&res);
    let json = serde_json::to_vec(&passkey).map_err(|e| ApiError::internal("TR-L504", e))?;
    tx.update_passkey(passkey_id, &json, now).await?;
    let mut lock = lockout::state_of(&account.throttle);
    lockout::on_success(&mut lock);
    tx.set_login_throttle(account.personnel_id, &lockout::row_of(&lock))
        .await?;
    let (_, secret) = open_session_from(
        &mut tx,
        &slug,
        account.personnel_id,
        super::AuthMethod::Passkey,
        Assurance::Substantial,
        ip.0,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((slug, secret))
}

fn employment_over() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "TR-P703",
        "Forbidden",
        "this person's employment has ended",
    )
}

/// An enrolment token as it appears in the link: `<org-slug>.<secret>`
/// ([`trygg_identity::link::parse_link_token`]).
pub fn parse_link_token(token: &str) -> Option<(OrgSlug, Secret)> {
    trygg_identity::link::parse_link_token(token)
        .map(|(org, secret)| (org, Secret::from_client(secret)))
}

/// Whether any administrator of the organisation has a passkey (then a first-administrator
/// link is void).
pub async fn admin_has_passkey(tx: &mut trygg_store::OrgTx<'_>) -> Result<bool, ApiError> {
    for id in tx.personnel_ids_with_role(BuiltinRole::OrgAdmin).await? {
        if tx.passkey_count(id).await? > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Looks an enrolment link up and logs an unusable one as a security event. Returns the
/// organisation's handle and the link.
pub async fn resolve_link(
    state: &AppState,
    rt: &AuthRuntime,
    token: &str,
    ip: ClientIp,
    now: OffsetDateTime,
) -> Result<(Arc<OrgStore>, OrgSlug, trygg_store::EnrolmentLink), ApiError> {
    let invalid = || {
        address_failure(state, rt, ip, now);
        link_invalid()
    };
    let Some((slug, secret)) = parse_link_token(token) else {
        tracing::warn!(
            event = "security",
            code = "TR-L009",
            "malformed enrolment link"
        );
        return Err(invalid());
    };
    let Some(org) = state.store.org_by_slug(&slug).await? else {
        tracing::warn!(
            event = "security",
            code = "TR-L009",
            "enrolment link for no organisation"
        );
        return Err(invalid());
    };
    let h = state.store.org(&org).await?;
    let mut tx = h.begin().await?;
    let link = tx.enrolment_link(&secret).await?;
    let ended = match link.as_ref().and_then(|l| l.personnel_id) {
        Some(p) => employment_ended(tx.employment_end(p).await?.flatten(), now),
        None => false,
    };
    drop(tx);
    if let (Some(l), true) = (&link, ended) {
        let mut e = AuthEvent::security(
            SecurityKind::AccessDenied,
            Operation::EnrolmentLinkUse,
            Outcome::Denied,
            ip.0,
        );
        e.entity = ("enrolment-link", Some(l.id.to_string()));
        log_event(&h, &slug, Who::Unknown, e, now).await?;
        return Err(employment_over());
    }
    match link {
        Some(l) if l.state(now) == LinkState::Valid => Ok((h, slug, l)),
        other => {
            // Whoever holds a used, expired or revoked link is not identified by it.
            let mut e = AuthEvent::security(
                SecurityKind::InvalidToken,
                Operation::EnrolmentLinkUse,
                Outcome::Rejected,
                ip.0,
            );
            e.entity = ("enrolment-link", other.map(|l| l.id.to_string()));
            log_event(&h, &slug, Who::Unknown, e, now).await?;
            Err(invalid())
        }
    }
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
    let now = state.now();
    let r = async {
        let origin = precheck(&state, &rt, &headers, ip, now)?;
        let (h, slug, link) = resolve_link(&state, &rt, &input.token, ip, now).await?;
        let mut tx = h.begin().await?;
        let (personnel_id, user_handle, name, new_name, exclude) = match link.personnel_id {
            Some(pid) => {
                let account = tx.ensure_login_account(pid, now).await?;
                let name = tx.personnel_name(pid).await?.ok_or_else(link_invalid)?;
                let exclude = tx.passkey_credential_ids(pid).await?;
                (Some(pid), account.user_handle, name, None, exclude)
            }
            None => {
                if admin_has_passkey(&mut tx).await? {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "TR-L017",
                        "Conflict",
                        "this organisation has an administrator already; ask them for a link",
                    ));
                }
                let name = PersonName::parse(input.name.as_deref().unwrap_or(""))
                    .map_err(|e| ApiError::invalid("TR-L016", e.to_string()))?;
                let handle = trygg_store::auth::new_user_handle(h.organisation().id)?;
                (None, handle, name.clone(), Some(name), Vec::new())
            }
        };
        let wa = webauthn_for(&origin)?;
        let label = name.expose();
        let (ccr, reg) = wa
            .start_passkey_registration(
                user_handle,
                label,
                label,
                (!exclude.is_empty()).then_some(exclude),
            )
            .map_err(|e| ApiError::internal("TR-L505", e))?;
        let mut options = to_json(&ccr)?;
        require_resident_key(&mut options);
        // Opening the link read the person's name (for their authenticator's list): logged.
        let who = match personnel_id {
            Some(p) => Who::Person(
                p,
                tx.personnel_role(p).await?.unwrap_or(BuiltinRole::System),
            ),
            None => Who::Unknown,
        };
        tx.audit(&build(
            &slug,
            who,
            AuthEvent {
                category: Category::Authorisation,
                operation: Operation::EnrolmentLinkOpen,
                action: Action::Read,
                outcome: Outcome::Success,
                entity: ("enrolment-link", Some(link.id.to_string())),
                auth: None,
                address: ip.0,
            },
            now,
        )?)
        .await?;
        tx.commit().await?;
        let ceremony = begin_ceremony(
            &rt,
            origin,
            Kind::Enrol(Box::new(EnrolState {
                org: slug,
                link_id: link.id,
                personnel_id,
                new_name,
                user_handle,
                reg,
            })),
            now,
        )?;
        Ok::<_, ApiError>(ApiJson(StartOut { ceremony, options }))
    };
    match r.await {
        Ok(out) => out.into_response(),
        Err(e) => error_response(e),
    }
}

/// The body of `POST /api/v1/auth/enrol/finish`.
#[derive(Debug, serde::Deserialize)]
pub struct EnrolFinishIn {
    /// From `start`.
    pub ceremony: Uuid,
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
    let now = state.now();
    signed_in(
        &state,
        finish_enrol(&state, &rt, ip, &headers, input, now).await,
    )
}

async fn finish_enrol(
    state: &AppState,
    rt: &AuthRuntime,
    ip: ClientIp,
    headers: &HeaderMap,
    input: EnrolFinishIn,
    now: OffsetDateTime,
) -> Result<(OrgSlug, Secret), ApiError> {
    let origin = precheck(state, rt, headers, ip, now)?;
    let pending = rt
        .ceremonies
        .take(input.ceremony, &origin, now)
        .ok_or_else(|| {
            address_failure(state, rt, ip, now);
            ceremony_unknown()
        })?;
    let Kind::Enrol(st) = pending else {
        return Err(ceremony_unknown());
    };
    let (h, slug, link) = resolve_link(state, rt, &input.token, ip, now).await?;
    if link.id != st.link_id || slug != st.org {
        return Err(ceremony_unknown());
    }
    let wa = webauthn_for(&origin)?;
    let passkey = wa
        .finish_passkey_registration(&input.credential, &st.reg)
        .map_err(|e| {
            tracing::warn!(event = "security", code = "TR-L010", error = %e, "passkey registration refused");
            ApiError::bad_request(
                "TR-L010",
                "the new passkey was not accepted; try again",
            )
        })?;
    let mut tx = h.begin().await?;
    let (personnel_id, role) = match (st.personnel_id, st.new_name) {
        (Some(pid), _) => {
            let role = tx.personnel_role(pid).await?.ok_or_else(link_invalid)?;
            (pid, role)
        }
        (None, Some(name)) => {
            if admin_has_passkey(&mut tx).await? {
                return Err(link_invalid());
            }
            let p = tx
                .create_personnel(
                    &NewPersonnel {
                        name,
                        email: None,
                        role: BuiltinRole::OrgAdmin,
                        employment: Employment::Employee,
                    },
                    now,
                )
                .await?;
            tx.create_login_account(p.id, st.user_handle, now).await?;
            tx.audit(&build(
                &slug,
                Who::System("first-admin"),
                AuthEvent {
                    category: Category::Authorisation,
                    operation: Operation::PersonnelCreate,
                    action: Action::Create,
                    outcome: Outcome::Success,
                    entity: ("Practitioner", Some(p.id.to_string())),
                    auth: None,
                    address: ip.0,
                },
                now,
            )?)
            .await?;
            (p.id, p.role)
        }
        (None, None) => return Err(link_invalid()),
    };
    tx.use_enrolment_link(link.id, now)
        .await
        .map_err(|_| link_invalid())?;
    let json = serde_json::to_vec(&passkey).map_err(|e| ApiError::internal("TR-L504", e))?;
    let passkey_id = tx
        .add_passkey(personnel_id, passkey.cred_id().as_slice(), &json, now)
        .await?;
    // The person's live sessions (and this new one) show it until acknowledged (finding 2).
    tx.add_notice(
        personnel_id,
        "passkey-added",
        Some(&passkey_id.to_string()),
        now,
    )
    .await?;
    let who = Who::Person(personnel_id, role);
    tx.audit(&build(
        &slug,
        who,
        AuthEvent {
            category: Category::Authorisation,
            operation: Operation::EnrolmentLinkUse,
            action: Action::Update,
            outcome: Outcome::Success,
            entity: ("enrolment-link", Some(link.id.to_string())),
            auth: None,
            address: ip.0,
        },
        now,
    )?)
    .await?;
    tx.audit(&build(
        &slug,
        who,
        AuthEvent {
            category: Category::Authorisation,
            operation: Operation::PasskeyRegister,
            action: Action::Create,
            outcome: Outcome::Success,
            entity: ("passkey", Some(passkey_id.to_string())),
            auth: Some(("enrolment-link", Assurance::Substantial)),
            address: ip.0,
        },
        now,
    )?)
    .await?;
    let (_, secret) = open_session_from(
        &mut tx,
        &slug,
        personnel_id,
        super::AuthMethod::Passkey,
        Assurance::Substantial,
        ip.0,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((slug, secret))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
