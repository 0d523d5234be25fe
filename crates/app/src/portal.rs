//! Patients' login to the portal through ID-porten, and their sessions (issue #13; VC-AUTH-1,
//! PC-AUTHN-1..3). The rules of the protocol are [`trygg_identity::oidc`]'s; this is its IO: the
//! provider's discovery document and keys (fetched once, the keys again when a token names a key
//! they lack: rotation), the logins in progress (kept here, never in the browser, found once by
//! their `state`, bounded, gone after ten minutes), the token request, and the patient found by
//! the national identity number ID-porten vouches for, in the organisation whose portal the login
//! began at. Every login and every refused callback is in that organisation's audit log with the
//! method and level (PC-AUTHN-1); a refusal names its rule, never a token or a person.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use time::OffsetDateTime;
use trygg_audit::{Action, Assurance, Category, Outcome, SecurityKind};
use trygg_core::{Operation, OrgSlug};
use trygg_identity::oidc::{
    self, Client, ClientAuth, Expect, Jwks, OidcError, Pending, Profile, ProviderMeta,
};
use trygg_store::Secret;

use crate::audit::{event, Did};
use crate::context::App;
use crate::error::{AppError, ErrorKind};
use crate::messages::PatientCaller;

/// Logins in progress at once; one more is refused (429) until some finish or expire.
pub const MAX_PENDING: usize = 10_000;
/// The shortest time between two fetches of the provider's keys (a flood of tokens naming
/// unknown keys must not become a flood of requests to the provider).
pub const JWKS_REFETCH_SECS: i64 = 60;
/// Time limit of one request to the provider.
const PROVIDER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The portal's login state: what the provider said of itself, and the logins in progress.
#[derive(Default)]
pub struct Logins {
    pending: Mutex<HashMap<String, (Pending, OrgSlug, String)>>,
    providers: tokio::sync::Mutex<HashMap<Profile, Known>>,
    http: tokio::sync::OnceCell<reqwest::Client>,
}

impl std::fmt::Debug for Logins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logins").finish_non_exhaustive()
    }
}

struct Known {
    meta: ProviderMeta,
    jwks: Jwks,
    jwks_at: i64,
}

/// A finished login: the organisation and the session secret for the patient's cookie.
#[derive(Debug)]
pub struct LoggedIn {
    /// The organisation whose portal it is.
    pub org: OrgSlug,
    /// The session's secret (the cookie's value after the organisation).
    pub secret: Secret,
}

pub(crate) fn refused(code: &'static str, why: &str) -> AppError {
    AppError::new(ErrorKind::Unauthorized, code, "Unauthorized", why)
}

pub(crate) fn unavailable(why: &str) -> AppError {
    AppError::new(
        ErrorKind::Unavailable(30),
        "TR-O503",
        "Service Unavailable",
        why,
    )
}

impl From<OidcError> for AppError {
    fn from(e: OidcError) -> Self {
        let code = match e {
            OidcError::State | OidcError::LoginExpired => "TR-O401",
            OidcError::AcrMissing | OidcError::AcrUnknown | OidcError::AcrTooLow => "TR-O402",
            OidcError::Provider(_) => "TR-O405",
            _ => "TR-O400",
        };
        refused(code, &e.to_string())
    }
}

fn client(state: &App, redirect_uri: &str) -> Result<Client, AppError> {
    let c = &state.config;
    let not_set_up = || {
        AppError::not_found(
            "TR-O404",
            "login with ID-porten is not set up on this server",
        )
    };
    let id = c.idporten_client_id.as_ref().ok_or_else(not_set_up)?;
    // `private_key_jwt` when a key is configured, else the client secret.
    let auth = match (&c.idporten_key_file, &c.idporten_client_secret) {
        (Some(file), _) => ClientAuth::PrivateKeyJwt(key_from_file(file, id, "ID-porten")?),
        (None, Some(secret)) => ClientAuth::Secret(secret.clone()),
        (None, None) => return Err(not_set_up()),
    };
    Ok(Client {
        profile: Profile::IdPorten,
        client_id: id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope: "openid profile".into(),
        auth,
        par: c.idporten_par,
        dpop: false,
    })
}

/// The client assertion key kept in `file` (base64 PKCS#8 P-256, as `trygg oidc key` writes it),
/// named by the client id.
pub(crate) fn key_from_file(
    file: &std::path::Path,
    client_id: &str,
    provider: &str,
) -> Result<oidc::SigningKey, AppError> {
    let text = std::fs::read_to_string(file).map_err(|_| {
        tracing::warn!(
            event = "oidc",
            provider,
            "the client key file cannot be read"
        );
        AppError::internal("TR-O520", "the client key file cannot be read")
    })?;
    let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text.trim())
        .map_err(|_| AppError::internal("TR-O521", "the client key file is not base64"))?;
    oidc::SigningKey::from_pkcs8(&der, client_id)
        .map_err(|_| AppError::internal("TR-O522", "the client key is not a P-256 PKCS#8 key"))
}

/// Begins a login with `client` for a person of `org` at `level`: the authorization request,
/// pushed first when the client uses PAR (RFC 9126; the browser then carries only the client id
/// and the `request_uri`), and the login kept until its callback. The URL to send the browser to.
pub(crate) async fn begin_login(
    state: &App,
    client: &Client,
    org: OrgSlug,
    level: Assurance,
    fresh: bool,
) -> Result<String, AppError> {
    let t = state.now().unix_timestamp();
    let (meta, _) = state.logins.known(state, client.profile, t).await?;
    let (pending, mut params) = oidc::begin(client, level, t, fresh)?;
    let url = if client.par {
        let par = meta
            .par_endpoint
            .clone()
            .ok_or(OidcError::Malformed("the provider names no PAR endpoint"))?;
        // The request names the client once; the client's authentication adds its own.
        params.extend(
            oidc::client_auth_params(client, &meta.issuer, t)?
                .into_iter()
                .filter(|(k, _)| k != "client_id"),
        );
        let r = state
            .logins
            .http()
            .await?
            .post(&par)
            .form(&params)
            .send()
            .await
            .map_err(|_| unavailable("the login provider did not answer; try again shortly"))?;
        let request_uri = oidc::par_request_uri(&body(r).await?)?;
        oidc::authorization_url(
            &meta,
            &[
                ("client_id".into(), client.client_id.clone()),
                ("request_uri".into(), request_uri),
            ],
        )
    } else {
        oidc::authorization_url(&meta, &params)
    };
    state
        .logins
        .put(pending, org, client.redirect_uri.clone(), t)?;
    Ok(url)
}

impl Logins {
    pub(crate) async fn http(&self) -> Result<&reqwest::Client, AppError> {
        self.http
            .get_or_try_init(|| async {
                reqwest::Client::builder()
                    .timeout(PROVIDER_TIMEOUT)
                    .connect_timeout(PROVIDER_TIMEOUT)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|_| unavailable("the HTTP client could not be made"))
            })
            .await
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, AppError> {
        let r = self
            .http()
            .await?
            .get(url)
            .send()
            .await
            .map_err(|_| unavailable("ID-porten did not answer; try again shortly"))?;
        body(r).await
    }

    /// A provider's metadata and keys, fetched at first use.
    pub(crate) async fn known(
        &self,
        state: &App,
        profile: Profile,
        now: i64,
    ) -> Result<(ProviderMeta, Jwks), AppError> {
        let issuer = match profile {
            Profile::IdPorten => state.config.idporten_issuer.as_deref(),
            Profile::HelseId => state.config.helseid_issuer.as_deref(),
            Profile::Generic => state.config.personnel_oidc_issuer.as_deref(),
        }
        .ok_or_else(|| AppError::not_found("TR-O404", "this login is not set up on this server"))?;
        let mut k = self.providers.lock().await;
        if let Some(known) = k.get(&profile) {
            return Ok((known.meta.clone(), known.jwks.clone()));
        }
        let doc = self
            .get(&format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            ))
            .await?;
        let meta = ProviderMeta::from_discovery(&doc, issuer)?;
        let jwks = Jwks::parse(&self.get(&meta.jwks_uri).await?)?;
        k.insert(
            profile,
            Known {
                meta: meta.clone(),
                jwks: jwks.clone(),
                jwks_at: now,
            },
        );
        Ok((meta, jwks))
    }

    /// The keys fetched again (a token named a key they lack), at most once a minute.
    pub(crate) async fn refetch_keys(
        &self,
        profile: Profile,
        now: i64,
    ) -> Result<Option<Jwks>, AppError> {
        let mut k = self.providers.lock().await;
        let Some(known) = k.get_mut(&profile) else {
            return Ok(None);
        };
        if now - known.jwks_at < JWKS_REFETCH_SECS {
            return Ok(None);
        }
        let uri = known.meta.jwks_uri.clone();
        known.jwks_at = now;
        let jwks = Jwks::parse(&self.get(&uri).await?)?;
        known.jwks = jwks.clone();
        Ok(Some(jwks))
    }

    pub(crate) fn put(
        &self,
        p: Pending,
        org: OrgSlug,
        redirect: String,
        now: i64,
    ) -> Result<(), AppError> {
        let mut m = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= MAX_PENDING {
            m.retain(|_, (p, _, _)| p.check_time(now).is_ok());
        }
        if m.len() >= MAX_PENDING {
            return Err(AppError::new(
                ErrorKind::TooManyRequests(60),
                "TR-O429",
                "Too Many Requests",
                "too many logins are in progress; try again in a minute",
            ));
        }
        m.insert(p.state.clone(), (p, org, redirect));
        Ok(())
    }

    /// Takes the login of `profile` a callback's `state` names (once), or refuses the callback.
    pub(crate) fn take_for(
        &self,
        state: Option<&str>,
        profile: Profile,
    ) -> Result<(Pending, OrgSlug, String), AppError> {
        match state.and_then(|s| self.take(s)) {
            Some(found) if found.0.profile == profile => Ok(found),
            _ => {
                tracing::warn!(
                    event = "security",
                    kind = "oidc-state",
                    "a login callback named no login in progress"
                );
                Err(OidcError::State.into())
            }
        }
    }

    /// Takes the login a `state` names: once, and only while it is in time.
    pub(crate) fn take(&self, state: &str) -> Option<(Pending, OrgSlug, String)> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(state)
    }
}

pub(crate) async fn body(r: reqwest::Response) -> Result<Vec<u8>, AppError> {
    if r.content_length()
        .is_some_and(|l| l > oidc::MAX_DOCUMENT_BYTES as u64)
    {
        return Err(refused("TR-O400", "ID-porten's answer is too large"));
    }
    let b = r
        .bytes()
        .await
        .map_err(|_| unavailable("ID-porten's answer was cut off; try again"))?;
    if b.len() > oidc::MAX_DOCUMENT_BYTES {
        return Err(refused("TR-O400", "ID-porten's answer is too large"));
    }
    Ok(b.to_vec())
}

/// Begins a patient's login at `org`'s portal at `level` (substantial or high): the URL to send
/// the browser to. `redirect_uri` is this site's `/login/idporten/callback`, as registered.
/// `fresh` asks ID-porten to authenticate again (a step-up from substantial to high: its own
/// session is at the lower level).
pub async fn start(
    state: &App,
    org: &str,
    level: Assurance,
    redirect_uri: &str,
    fresh: bool,
) -> Result<String, AppError> {
    let client = client(state, redirect_uri)?;
    let slug = OrgSlug::parse(org)
        .ok()
        .ok_or_else(|| AppError::not_found("TR-A404", "no such organisation"))?;
    if state.store.org_by_slug(&slug).await?.is_none() {
        return Err(AppError::not_found("TR-A404", "no such organisation"));
    }
    let level = level.max(Assurance::Substantial);
    begin_login(state, &client, slug, level, fresh).await
}

/// What came back to the callback.
#[derive(Debug, Default)]
pub struct Callback<'a> {
    /// `code`.
    pub code: Option<&'a str>,
    /// `state`.
    pub state: Option<&'a str>,
    /// `error`, when the provider refused or the person cancelled.
    pub error: Option<&'a str>,
}

/// Finishes a login at the callback: the login found by `state` (once), the code exchanged, the
/// ID token checked, the patient found, a session opened and logged. A refusal after the login
/// was found is a security event in the organisation's audit log.
pub async fn finish(
    state: &App,
    cb: &Callback<'_>,
    address: Option<IpAddr>,
) -> Result<LoggedIn, AppError> {
    let now = state.now();
    let (pending, org, redirect) = state.logins.take_for(cb.state, Profile::IdPorten)?;
    match finish_found(state, cb, &pending, &org, &redirect, now, address).await {
        Ok(done) => Ok(done),
        Err(e) => {
            let agent = trygg_audit::AgentKind::Patient;
            Err(refused_login(state, &org, agent, e, address, now).await)
        }
    }
}

/// The callback's identity: the provider's error (its code only), the login's time, the code
/// exchanged at the token endpoint (with a DPoP proof when `dpop` is given), and the ID token
/// checked against the provider's keys (fetched again once when it names a new one).
pub(crate) async fn identify(
    state: &App,
    client: &Client,
    cb: &Callback<'_>,
    pending: &Pending,
    t: i64,
    dpop: Option<&oidc::SigningKey>,
) -> Result<oidc::Identity, AppError> {
    if let Some(e) = cb.error {
        let code: String = e
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return Err(OidcError::Provider(code).into());
    }
    pending.check_time(t)?;
    let code = cb
        .code
        .ok_or(OidcError::Malformed("the callback has no code"))?;
    let profile = client.profile;
    let (meta, jwks) = state.logins.known(state, profile, t).await?;
    // A provider may ask for a DPoP nonce first (RFC 9449, section 8: `use_dpop_nonce` with the
    // nonce in `DPoP-Nonce`): then once more with it, and a fresh client assertion (its `jti` is
    // single-use).
    let mut nonce: Option<String> = None;
    let mut answer = Vec::new();
    for _ in 0..2 {
        let form = oidc::token_form(client, &meta, pending, code, t)?;
        let mut req = state.logins.http().await?.post(&meta.token_endpoint);
        if let Some(key) = dpop {
            let proof = oidc::dpop_proof(key, "POST", &meta.token_endpoint, t, nonce.as_deref())?;
            req = req.header("DPoP", proof);
        }
        let r = req
            .form(&form)
            .send()
            .await
            .map_err(|_| unavailable("the login service did not answer; try again shortly"))?;
        let asked = r
            .headers()
            .get("DPoP-Nonce")
            .and_then(|v| v.to_str().ok())
            .filter(|n| !n.is_empty() && n.len() <= 512)
            .map(str::to_owned);
        answer = body(r).await?;
        match (dpop, asked, nonce.is_none()) {
            (Some(_), Some(n), true) if oidc::asks_dpop_nonce(&answer) => nonce = Some(n),
            _ => break,
        }
    }
    let r = answer;
    let tokens = oidc::read_tokens(&r, client.dpop)?;
    let expect = Expect {
        issuer: &meta.issuer,
        client_id: &client.client_id,
        pending,
        now: t,
    };
    Ok(
        match oidc::validate_id_token(&tokens.id_token, &jwks, &expect) {
            Err(OidcError::UnknownKey) => match state.logins.refetch_keys(profile, t).await? {
                Some(fresh) => oidc::validate_id_token(&tokens.id_token, &fresh, &expect)?,
                None => return Err(OidcError::UnknownKey.into()),
            },
            other => other?,
        },
    )
}

async fn finish_found(
    state: &App,
    cb: &Callback<'_>,
    pending: &Pending,
    org: &OrgSlug,
    redirect_uri: &str,
    now: OffsetDateTime,
    address: Option<IpAddr>,
) -> Result<LoggedIn, AppError> {
    let t = now.unix_timestamp();
    let client = client(state, redirect_uri)?;
    let identity = identify(state, &client, cb, pending, t, None).await?;
    let nid = identity
        .national_id
        .as_ref()
        .ok_or(OidcError::Claim("pid"))?;
    let h = org_handle(state, org).await?;
    let mut tx = h.begin().await?;
    let Some(patient) = tx.patient_by_national_id(nid).await? else {
        return Err(AppError::forbidden(
            "TR-O403",
            "you are not registered as a patient here; contact the clinic",
        ));
    };
    let (rec, secret) = tx
        .create_patient_session(
            patient.id,
            Profile::IdPorten.code(),
            identity.assurance.code(),
            now,
        )
        .await?;
    let caller = PatientCaller {
        org: org.clone(),
        patient: patient.id,
        method: Profile::IdPorten.code(),
        assurance: identity.assurance,
        address,
    };
    let e = login_event(&caller, rec.id, None, now)?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(LoggedIn {
        org: org.clone(),
        secret,
    })
}

/// A refused login after its login in progress was found: logged as a security event (unless
/// the provider could not be reached), and handed back.
pub(crate) async fn refused_login(
    state: &App,
    org: &OrgSlug,
    agent: trygg_audit::AgentKind,
    e: AppError,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) -> AppError {
    if e.code != "TR-O503" {
        tracing::warn!(event = "security", code = e.code, "a login was refused");
        log_refusal(state, org, agent, e.code, address, now).await;
    }
    e
}

/// A refused login in the organisation's audit log: a security event with the refusal's code
/// (never a token or a person), by an unknown `agent` (a patient or a person on the staff).
pub(crate) async fn log_refusal(
    state: &App,
    org: &OrgSlug,
    agent: trygg_audit::AgentKind,
    code: &'static str,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) {
    let r = async {
        let h = org_handle(state, org).await?;
        let who = if agent == trygg_audit::AgentKind::Patient {
            "patient:unknown"
        } else {
            "personnel:unknown"
        };
        let actor = crate::audit::Actor {
            kind: agent,
            id: who.into(),
            role: None,
            authentication: None,
            address,
        };
        let e = event(
            org,
            &actor,
            Did {
                category: Category::Security(SecurityKind::FailedLogin),
                operation: Operation::Login,
                action: Action::Execute,
                outcome: Outcome::Denied,
                entity: ("patient-session", None),
                patient: None,
                basis: trygg_audit::Basis::None,
                detail: Some(code.to_ascii_lowercase()),
            },
            now,
        )?;
        let mut tx = h.begin().await?;
        tx.audit(&e).await?;
        tx.commit().await?;
        Ok::<(), AppError>(())
    }
    .await;
    if let Err(e) = r {
        tracing::error!(code = e.code, "a refused patient login could not be logged");
    }
}

/// The patient a portal cookie names, if its session is live: ended at once when it has been
/// idle or open too long.
pub async fn current(
    state: &App,
    slug: &OrgSlug,
    secret: &Secret,
    address: Option<IpAddr>,
) -> Result<Option<PatientCaller>, AppError> {
    let now = state.now();
    let Some(h) = org_if_any(state, slug).await? else {
        return Ok(None);
    };
    let Some(rec) = h.patient_session_by_secret(secret).await? else {
        return Ok(None);
    };
    if rec.ended {
        return Ok(None);
    }
    let c = &state.config;
    let idle = i64::try_from(c.patient_session_idle_timeout_secs).unwrap_or(i64::MAX);
    let absolute = i64::try_from(c.patient_session_absolute_timeout_secs).unwrap_or(i64::MAX);
    let reason = if (now - rec.last_seen_at).whole_seconds() >= idle {
        Some("idle")
    } else if (now - rec.created_at).whole_seconds() >= absolute {
        Some("absolute")
    } else {
        None
    };
    if let Some(reason) = reason {
        let mut tx = h.begin().await?;
        tx.end_patient_session(rec.id, reason, now).await?;
        // Not an event of its own: the login was logged; a timeout changes no access.
        tx.audit(&end_event(slug, &rec, reason, address, now)?)
            .await?;
        tx.commit().await?;
        return Ok(None);
    }
    if (now - rec.last_seen_at).whole_seconds() >= 60 {
        h.touch_patient_session(rec.id, now).await?;
    }
    let assurance = trygg_identity::session::parse_assurance(&rec.assurance)
        .ok_or_else(|| AppError::internal("TR-O502", "a stored session has an unknown level"))?;
    let method = match rec.method.as_str() {
        "idporten" => "idporten",
        "developer" => "developer",
        _ => {
            return Err(AppError::internal(
                "TR-O501",
                "a stored session has an unknown method",
            ))
        }
    };
    Ok(Some(PatientCaller {
        org: slug.clone(),
        patient: rec.patient_id,
        method,
        assurance,
        address,
    }))
}

fn end_event(
    org: &OrgSlug,
    rec: &trygg_store::PatientSessionRecord,
    reason: &str,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<trygg_audit::AuditEvent, AppError> {
    let actor = crate::audit::Actor {
        kind: trygg_audit::AgentKind::Patient,
        id: format!("patient:{}", rec.patient_id),
        role: None,
        authentication: None,
        address,
    };
    event(
        org,
        &actor,
        Did {
            category: Category::Authentication,
            operation: Operation::Logout,
            action: Action::Execute,
            outcome: Outcome::Success,
            entity: ("patient-session", Some(rec.id.to_string())),
            patient: Some(rec.patient_id),
            basis: trygg_audit::Basis::None,
            detail: Some(reason.to_owned()),
        },
        now,
    )
}

/// Ends the patient's session named by the cookie (logout), logged.
pub async fn logout(
    state: &App,
    slug: &OrgSlug,
    secret: &Secret,
    address: Option<IpAddr>,
) -> Result<(), AppError> {
    let now = state.now();
    let Some(h) = org_if_any(state, slug).await? else {
        return Ok(());
    };
    let Some(rec) = h.patient_session_by_secret(secret).await? else {
        return Ok(());
    };
    let mut tx = h.begin().await?;
    if tx.end_patient_session(rec.id, "logout", now).await? {
        tx.audit(&end_event(slug, &rec, "logout", address, now)?)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// An organisation's handle, if it exists.
pub(crate) async fn org_if_any(
    state: &App,
    slug: &OrgSlug,
) -> Result<Option<std::sync::Arc<trygg_store::OrgStore>>, AppError> {
    match state.store.org_by_slug(slug).await? {
        Some(o) => Ok(Some(state.store.org(&o).await?)),
        None => Ok(None),
    }
}

/// An organisation's handle, or "no such organisation".
pub(crate) async fn org_handle(
    state: &App,
    slug: &OrgSlug,
) -> Result<std::sync::Arc<trygg_store::OrgStore>, AppError> {
    org_if_any(state, slug)
        .await?
        .ok_or_else(|| AppError::not_found("TR-A404", "no such organisation"))
}

/// The patient's contact data as they correct it: an empty field removes it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ContactIn {
    /// Mobile number (eight digits, or + and the country code).
    pub phone: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
}

/// The patient corrects their contact data (PC-RIGHTS-2): administrative, so at substantial or
/// high (PC-AUTHN-3); logged. A bad number or address is refused with the field named, and
/// nothing is changed.
pub async fn set_contact(
    state: &App,
    p: &PatientCaller,
    input: &ContactIn,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    if p.assurance < Assurance::Substantial {
        return Err(AppError::forbidden(
            "TR-O406",
            "contact data is changed after a login at substantial or high",
        ));
    }
    fn field(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
    let phone = field(&input.phone)
        .map(trygg_core::PhoneNumber::parse)
        .transpose()
        .map_err(|_| {
            AppError::invalid(
                "TR-O410",
                "the mobile number is eight digits, or + and the country code",
            )
        })?;
    let email = field(&input.email)
        .map(trygg_core::EmailAddress::parse)
        .transpose()
        .map_err(|_| AppError::invalid("TR-O411", "the e-mail address is not one"))?;
    let h = org_handle(state, &p.org).await?;
    let mut tx = h.begin().await?;
    if !tx
        .set_patient_contact(p.patient, phone.as_ref(), email.as_ref())
        .await?
    {
        return Err(AppError::not_found("TR-P404", "no such patient"));
    }
    let e = self_event(p, Operation::PatientContactUpdate, Action::Update, now)?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(())
}

fn self_event(
    p: &PatientCaller,
    op: Operation,
    action: Action,
    now: OffsetDateTime,
) -> Result<trygg_audit::AuditEvent, AppError> {
    event(
        &p.org,
        &p.actor(),
        Did {
            category: Category::Access,
            operation: op,
            action,
            outcome: Outcome::Success,
            entity: ("Patient", Some(p.patient.to_string())),
            patient: Some(p.patient),
            basis: trygg_audit::Basis::PatientSelf,
            detail: None,
        },
        now,
    )
}

/// Everything Trygg holds about the patient at this organisation, as JSON (PC-RIGHTS-1): their
/// registration, consents, message threads with their messages (content while it is kept) and
/// attachments' names, and who has accessed their data. Health data, so at high only; logged.
/// Nothing is marked read by it.
pub async fn export(
    state: &App,
    p: &PatientCaller,
    lang: trygg_core::Lang,
    now: OffsetDateTime,
) -> Result<serde_json::Value, AppError> {
    use serde_json::json;
    if p.assurance < Assurance::High {
        return Err(AppError::forbidden(
            "TR-T003",
            "your data is downloaded after a login of assurance high (ID-porten)",
        ));
    }
    let h = org_handle(state, &p.org).await?;
    let mut tx = h.begin().await?;
    let Some(me) = tx.patient(p.patient).await? else {
        return Err(AppError::not_found("TR-P404", "no such patient"));
    };
    let consents = tx.consent_history(p.patient).await?;
    let inputs = crate::rights::log_inputs(&mut tx, p.patient).await?;
    let mut threads = Vec::new();
    for t in tx.threads(p.patient).await? {
        let messages: Vec<serde_json::Value> = tx
            .thread_messages(t.id)
            .await?
            .into_iter()
            .map(|m| {
                let from = if m.from_patient {
                    lang.pick("Du", "Du", "You").to_owned()
                } else {
                    inputs
                        .names
                        .get(&m.author)
                        .cloned()
                        .unwrap_or_else(|| lang.pick("Helsepersonell", "Helsepersonell", "Staff").to_owned())
                };
                json!({
                    "from": from,
                    "sent": m.created_at.format(&time::format_description::well_known::Rfc3339).ok(),
                    "text": m.body,
                    "read": m.read_at.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
                    "filed_to_journal": m.filed_at.is_some(),
                    "attachments": m.attachments.iter().map(|a| json!({"name": a.name, "type": a.media_type, "bytes": a.size})).collect::<Vec<_>>(),
                })
            })
            .collect();
        threads.push(json!({
            "subject": t.subject,
            "started": t.created_at.format(&time::format_description::well_known::Rfc3339).ok(),
            "messages": messages,
        }));
    }
    let e = self_event(p, Operation::PatientExport, Action::Read, now)?;
    tx.audit(&e).await?;
    tx.commit().await?;
    let access = crate::rights::log_lines(&h, p.patient, &inputs, lang).await?;
    Ok(json!({
        "format": "trygg-patient-export-1",
        "exported_at": now.format(&time::format_description::well_known::Rfc3339).ok(),
        "organisation": {"name": h.organisation().name, "id": h.organisation().slug.to_string()},
        "you": {
            "name": me.name.expose(),
            "national_id": me.national_id_redacted,
            "phone": me.phone.as_ref().map(|v| v.expose().to_owned()),
            "email": me.email.as_ref().map(|v| v.expose().to_owned()),
            "registered": me.created_at.format(&time::format_description::well_known::Rfc3339).ok(),
        },
        "consents": consents.iter().map(|c| json!({
            "purpose": c.purpose, "channel": c.channel, "given": c.granted,
            "text_version": c.text_version,
            "recorded": c.recorded_at.format(&time::format_description::well_known::Rfc3339).ok(),
        })).collect::<Vec<_>>(),
        "message_threads": threads,
        "who_has_seen_your_data": access,
    }))
}

/// A consultation as the patient's portal lists it (issue #13: "my consultations").
#[derive(Debug, Clone, serde::Serialize)]
pub struct MyConsultation {
    /// Id (to join it).
    pub id: uuid::Uuid,
    /// Planned start.
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    /// Planned length, minutes.
    pub minutes: u32,
    /// The kind's code.
    pub kind: String,
    /// The patient's role in it (`patient`, `companion`).
    pub role: String,
    /// Whether it can be joined now: planned, not over, the place not withdrawn.
    pub joinable: bool,
}

/// How far back and ahead the portal lists consultations.
const LISTED_BEFORE: time::Duration = time::Duration::hours(12);
const LISTED_AHEAD: time::Duration = time::Duration::days(90);

/// The consultations the patient takes part in, from twelve hours ago to three months ahead
/// (health data: at high; one audited read).
pub async fn my_consultations(
    state: &App,
    p: &PatientCaller,
    now: OffsetDateTime,
) -> Result<Vec<MyConsultation>, AppError> {
    if p.assurance < Assurance::High {
        return Err(AppError::forbidden(
            "TR-T010",
            "your consultations are shown after a login of assurance high (ID-porten)",
        ));
    }
    let h = org_handle(state, &p.org).await?;
    let mut tx = h.begin().await?;
    let rows = tx
        .consultations_of_patient(p.patient, now - LISTED_BEFORE, now + LISTED_AHEAD)
        .await?;
    let e = self_event(p, Operation::ConsultationRead, Action::Read, now)?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(c, part)| MyConsultation {
            id: c.id,
            start: c.starts_at,
            minutes: c.minutes,
            kind: c.kind,
            role: part.role,
            joinable: c.state == "scheduled"
                && part.revoked_at.is_none()
                && c.starts_at + time::Duration::minutes(i64::from(c.minutes)) + LISTED_BEFORE
                    > now,
        })
        .collect())
}

/// A fresh invitation for the patient's own place in `consultation`, to join from the portal
/// (at high; logged as an invitation the patient took). The link they were sent stops working,
/// as with any renewed invitation; its expiry is kept. The token, `<org>.<secret>`.
pub async fn join_from_portal(
    state: &App,
    p: &PatientCaller,
    consultation: uuid::Uuid,
    now: OffsetDateTime,
) -> Result<String, AppError> {
    let mine = my_consultations(state, p, now).await?;
    let not_yours = || AppError::not_found("TR-T011", "no such consultation of yours to join");
    let c = mine
        .iter()
        .find(|c| c.id == consultation && c.joinable)
        .ok_or_else(not_yours)?;
    let h = org_handle(state, &p.org).await?;
    let mut tx = h.begin().await?;
    let part = tx
        .participants(c.id)
        .await?
        .into_iter()
        .find(|r| {
            r.person == trygg_store::consultations::Person::Patient(p.patient)
                && r.revoked_at.is_none()
        })
        .ok_or_else(not_yours)?;
    let secret = tx
        .reissue_invitation(part.id, part.expires_at.max(now), now)
        .await?;
    let e = event(
        &p.org,
        &p.actor(),
        Did {
            category: Category::Consultation,
            operation: Operation::ConsultationInvite,
            action: Action::Update,
            outcome: Outcome::Success,
            entity: ("Encounter", Some(format!("{}/{}", c.id, part.number))),
            patient: Some(p.patient),
            basis: trygg_audit::Basis::PatientSelf,
            detail: None,
        },
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(format!("{}.{}", p.org, secret.expose()))
}

/// The patient's contact data as registered (for the form that corrects it); an audited read.
pub async fn contact(
    state: &App,
    p: &PatientCaller,
    now: OffsetDateTime,
) -> Result<ContactIn, AppError> {
    let h = org_handle(state, &p.org).await?;
    let mut tx = h.begin().await?;
    let Some(me) = tx.patient(p.patient).await? else {
        return Err(AppError::not_found("TR-P404", "no such patient"));
    };
    let e = self_event(p, Operation::PatientRead, Action::Read, now)?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(ContactIn {
        phone: me.phone.map(|v| v.expose().to_owned()),
        email: me.email.map(|v| v.expose().to_owned()),
    })
}

/// The demo's built-in **test** identity provider for patients (issue #13, the embedded
/// default): the demo's patients by name, to choose one and a level. Only in `trygg demo`, on a
/// loopback listener, for a loopback client, in an organisation the demo seeded (the caller
/// checks [`crate::login::developer_allowed`] first); the listing is logged.
pub async fn test_patients(
    state: &App,
    org: &OrgSlug,
    now: OffsetDateTime,
) -> Result<Vec<(uuid::Uuid, String)>, AppError> {
    let h = demo_org(state, org).await?;
    let mut tx = h.begin().await?;
    let list = tx.list_patients().await?;
    let e = event(
        org,
        &test_idp_actor(),
        Did {
            category: Category::Access,
            operation: Operation::PatientList,
            action: Action::Read,
            outcome: Outcome::Success,
            entity: ("Patient", None),
            patient: None,
            basis: trygg_audit::Basis::System,
            detail: Some("demo-test-provider".into()),
        },
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(list
        .into_iter()
        .map(|p| (p.id, p.name.expose().to_owned()))
        .collect())
}

/// A login through the demo's test provider: a portal session for `patient` at `level`, with the
/// method `developer` in the session and the audit log (never taken for ID-porten).
pub async fn test_login(
    state: &App,
    org: &OrgSlug,
    patient: uuid::Uuid,
    level: Assurance,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<LoggedIn, AppError> {
    let h = demo_org(state, org).await?;
    let mut tx = h.begin().await?;
    if tx.patient(patient).await?.is_none() {
        return Err(AppError::not_found("TR-P404", "no such patient"));
    }
    let level = level.max(Assurance::Substantial);
    let (rec, secret) = tx
        .create_patient_session(patient, "developer", level.code(), now)
        .await?;
    let caller = PatientCaller {
        org: org.clone(),
        patient,
        method: "developer",
        assurance: level,
        address,
    };
    let e = login_event(&caller, rec.id, Some("demo-test-provider"), now)?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(LoggedIn {
        org: org.clone(),
        secret,
    })
}

fn test_idp_actor() -> crate::audit::Actor {
    crate::audit::Actor {
        kind: trygg_audit::AgentKind::System,
        id: "system:demo-test-provider".into(),
        role: None,
        authentication: None,
        address: None,
    }
}

/// An organisation the demo seeded (the test provider serves no other).
async fn demo_org(
    state: &App,
    org: &OrgSlug,
) -> Result<std::sync::Arc<trygg_store::OrgStore>, AppError> {
    let h = org_handle(state, org).await?;
    if !state.store.is_demo(h.organisation()).await? {
        return Err(AppError::not_found("TR-E703", "no such organisation"));
    }
    Ok(h)
}

/// The organisation a signed-in patient names in a request: their own only (any other answers
/// like an unknown one).
pub(crate) async fn patient_org(
    state: &App,
    p: &PatientCaller,
    slug: &str,
) -> Result<std::sync::Arc<trygg_store::OrgStore>, AppError> {
    let own = OrgSlug::parse(slug)
        .ok()
        .filter(|s| *s == p.org)
        .ok_or_else(|| AppError::not_found("TR-A404", "no such organisation"))?;
    org_handle(state, &own).await
}

/// The audit event of a patient's login: the method and level in the actor (PC-AUTHN-1).
fn login_event(
    caller: &PatientCaller,
    session: uuid::Uuid,
    detail: Option<&str>,
    now: OffsetDateTime,
) -> Result<trygg_audit::AuditEvent, AppError> {
    event(
        &caller.org,
        &caller.actor(),
        Did {
            category: Category::Authentication,
            operation: Operation::Login,
            action: Action::Execute,
            outcome: Outcome::Success,
            entity: ("patient-session", Some(session.to_string())),
            patient: Some(caller.patient),
            basis: trygg_audit::Basis::None,
            detail: detail.map(str::to_owned),
        },
        now,
    )
}
