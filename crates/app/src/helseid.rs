//! Personnel's login through HelseID (issue #13; VC-AUTH-1, PC-AUTHN-1/2): the authorization
//! request pushed first (PAR, RFC 9126) with a `private_key_jwt` client assertion, the code
//! exchanged with a DPoP proof (RFC 9449) so the token is bound to a key of this login, the ID
//! token checked by [`trygg_identity::oidc`] (HelseID's security level as the assurance, its HPR
//! number), and the person found by that HPR number in the organisation the login began at. A
//! person whose employment has ended is refused here as everywhere. The session is the personnel
//! session every other login opens (`sessions::open_session`), with the method `helseid` and the
//! level HelseID vouched for; a refusal is a failed-login security event in the organisation's
//! log. The provider's keys and the logins in progress are [`crate::portal::Logins`]'.
//!
//! The deployment's own OpenID provider for personnel (an organisation's Entra ID,
//! `personnel_oidc_*`) takes the same path with the authorization code, PKCE and a client
//! secret: the person is the one linked to the provider's issuer and subject (a keyed hash, set
//! with `trygg personnel oidc-subject`), and the session's level is the one the deployment
//! assigned to the provider (method `oidc`).

use std::net::IpAddr;

use time::OffsetDateTime;
use trygg_audit::{Action, Assurance, Category, Outcome};
use trygg_core::{Operation, OrgSlug};
use trygg_identity::oidc::{self, Client, ClientAuth, OidcError, Profile, SigningKey};
use trygg_identity::session::{AuthMethod, OidcProvider};

use crate::audit::{event, Actor, Did};
use crate::context::App;
use crate::error::AppError;
use crate::login::Opened;
use crate::portal::Callback;

fn client(state: &App, redirect_uri: &str) -> Result<Client, AppError> {
    let c = &state.config;
    let (Some(id), Some(file)) = (&c.helseid_client_id, &c.helseid_key_file) else {
        return Err(AppError::not_found(
            "TR-O404",
            "login with HelseID is not set up on this server",
        ));
    };
    Ok(Client {
        profile: Profile::HelseId,
        client_id: id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope: "openid profile".into(),
        auth: ClientAuth::PrivateKeyJwt(crate::portal::key_from_file(file, id, "HelseID")?),
        par: true,
        dpop: true,
    })
}

/// The deployment's own provider for personnel (`personnel_oidc_*`): authorization code with
/// PKCE, `client_secret_post`.
fn generic_client(state: &App, redirect_uri: &str) -> Result<Client, AppError> {
    let c = &state.config;
    let (Some(id), Some(secret)) = (&c.personnel_oidc_client_id, &c.personnel_oidc_client_secret)
    else {
        return Err(AppError::not_found(
            "TR-O404",
            "this login is not set up on this server",
        ));
    };
    Ok(Client {
        profile: Profile::Generic,
        client_id: id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope: "openid".into(),
        auth: ClientAuth::Secret(secret.clone()),
        par: false,
        dpop: false,
    })
}

/// The level the deployment assigned to its own provider (`personnel_oidc_assurance`).
fn generic_level(state: &App) -> Assurance {
    Assurance::from_code(&state.config.personnel_oidc_assurance).unwrap_or(Assurance::Low)
}

async fn known_org(state: &App, org: &str) -> Result<OrgSlug, AppError> {
    let slug = OrgSlug::parse(org)
        .ok()
        .ok_or_else(|| AppError::not_found("TR-A404", "no such organisation"))?;
    if state.store.org_by_slug(&slug).await?.is_none() {
        return Err(AppError::not_found("TR-A404", "no such organisation"));
    }
    Ok(slug)
}

/// Begins a HelseID login for a person of `org`: pushes the authorization request (PAR) and
/// returns the URL to send the browser to. Always at level high (health personnel); `fresh`
/// asks HelseID to authenticate again (a step-up).
pub async fn start(
    state: &App,
    org: &str,
    redirect_uri: &str,
    fresh: bool,
) -> Result<String, AppError> {
    let client = client(state, redirect_uri)?;
    let slug = known_org(state, org).await?;
    crate::portal::begin_login(state, &client, slug, Assurance::High, fresh).await
}

/// Begins a login through the deployment's own provider for a person of `org`.
pub async fn start_generic(state: &App, org: &str, redirect_uri: &str) -> Result<String, AppError> {
    let client = generic_client(state, redirect_uri)?;
    let slug = known_org(state, org).await?;
    crate::portal::begin_login(state, &client, slug, generic_level(state), false).await
}

/// Finishes a HelseID login at the callback: a personnel session for the person with the HPR
/// number HelseID vouches for, at its level.
pub async fn finish(
    state: &App,
    cb: &Callback<'_>,
    address: Option<IpAddr>,
) -> Result<Opened, AppError> {
    finish_with(state, cb, address, Profile::HelseId).await
}

/// Finishes a login through the deployment's own provider: a personnel session for the person
/// mapped to the provider's subject, at the level the deployment assigned.
pub async fn finish_generic(
    state: &App,
    cb: &Callback<'_>,
    address: Option<IpAddr>,
) -> Result<Opened, AppError> {
    finish_with(state, cb, address, Profile::Generic).await
}

async fn finish_with(
    state: &App,
    cb: &Callback<'_>,
    address: Option<IpAddr>,
    profile: Profile,
) -> Result<Opened, AppError> {
    let now = state.now();
    let (pending, org, redirect) = state.logins.take_for(cb.state, profile)?;
    match finish_found(state, cb, &pending, &org, &redirect, now, address).await {
        Ok(done) => Ok(done),
        Err(e) => {
            let agent = trygg_audit::AgentKind::Personnel;
            Err(crate::portal::refused_login(state, &org, agent, e, address, now).await)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn finish_found(
    state: &App,
    cb: &Callback<'_>,
    pending: &oidc::Pending,
    org: &OrgSlug,
    redirect_uri: &str,
    now: OffsetDateTime,
    address: Option<IpAddr>,
) -> Result<Opened, AppError> {
    let t = now.unix_timestamp();
    let h = crate::portal::org_handle(state, org).await?;
    let (person, method, assurance) = match pending.profile {
        Profile::HelseId => {
            let client = client(state, redirect_uri)?;
            // A key of this login's own binds the token (DPoP); Trygg calls no API with it.
            let (dpop_key, _) = SigningKey::generate("dpop")?;
            let identity =
                crate::portal::identify(state, &client, cb, pending, t, Some(&dpop_key)).await?;
            let hpr = identity
                .hpr_number
                .as_deref()
                .ok_or(OidcError::Claim("hpr_number"))?;
            let mut tx = h.begin().await?;
            let person = tx.personnel_by_hpr(hpr).await?;
            drop(tx);
            let unknown = AppError::forbidden(
                "TR-O407",
                "no one on the staff here has this HPR number; ask an administrator",
            );
            (
                person.ok_or(unknown)?,
                OidcProvider::HelseId,
                identity.assurance,
            )
        }
        _ => {
            let client = generic_client(state, redirect_uri)?;
            let identity = crate::portal::identify(state, &client, cb, pending, t, None).await?;
            let issuer = state
                .config
                .personnel_oidc_issuer
                .as_deref()
                .unwrap_or_default();
            let mut tx = h.begin().await?;
            let person = tx
                .personnel_by_oidc_subject(issuer, &identity.subject)
                .await?;
            drop(tx);
            let unknown = AppError::forbidden(
                "TR-O407",
                "no one on the staff here is linked to this login; ask an administrator",
            );
            (
                person.ok_or(unknown)?,
                OidcProvider::Generic,
                identity.assurance,
            )
        }
    };
    let mut tx = h.begin().await?;
    if tx
        .employment_end(person)
        .await?
        .flatten()
        .is_some_and(|end| end <= t)
    {
        return Err(AppError::forbidden(
            "TR-O408",
            "your employment here has ended",
        ));
    }
    let (_, secret) = crate::sessions::open_session(
        &mut tx,
        org,
        person,
        AuthMethod::Oidc(method),
        assurance,
        address,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Opened {
        org: org.clone(),
        secret,
    })
}

/// Links a person on the staff to their subject at the deployment's own provider
/// (`trygg personnel oidc-subject`, by the operator at the console on the organisation's word);
/// logged as an administration event. Only a keyed hash of issuer and subject is kept.
pub async fn set_oidc_subject_by_console(
    config: &crate::config::Config,
    org: &trygg_store::OrgStore,
    personnel: uuid::Uuid,
    subject: &str,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let Some(issuer) = config.personnel_oidc_issuer.as_deref() else {
        return Err(AppError::bad_request(
            "TR-O412",
            "personnel_oidc_issuer is not set: there is no provider to link people to",
        ));
    };
    let subject = subject.trim();
    if subject.is_empty() || subject.len() > 255 || subject.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "TR-O413",
            "the subject must be 1 to 255 characters without control characters",
        ));
    }
    let mut tx = org.begin().await?;
    if !tx
        .set_personnel_oidc_subject(personnel, issuer, subject)
        .await?
    {
        return Err(AppError::not_found(
            "TR-O409",
            "no such person on the staff",
        ));
    }
    console_commit(tx, org, Operation::PersonnelOidcSubjectSet, personnel, now).await
}

/// Appends the console's administration event about a person and commits.
async fn console_commit(
    mut tx: trygg_store::OrgTx<'_>,
    org: &trygg_store::OrgStore,
    operation: Operation,
    personnel: uuid::Uuid,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let actor = Actor::system(crate::operator::CONSOLE);
    let e = event(
        &org.organisation().slug,
        &actor,
        Did {
            category: Category::Administration,
            operation,
            action: Action::Update,
            outcome: Outcome::Success,
            entity: ("Practitioner", Some(personnel.to_string())),
            patient: None,
            basis: trygg_audit::Basis::Administration,
            detail: None,
        },
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(())
}

/// Records the HPR number a HelseID login finds a person by (`trygg personnel hpr`, by the
/// operator at the console on the organisation's word); logged as an administration event.
pub async fn set_hpr_by_console(
    org: &trygg_store::OrgStore,
    personnel: uuid::Uuid,
    hpr: &str,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let mut tx = org.begin().await?;
    if !tx.set_personnel_hpr(personnel, hpr.trim()).await? {
        return Err(AppError::not_found(
            "TR-O409",
            "no such person on the staff",
        ));
    }
    console_commit(tx, org, Operation::PersonnelHprSet, personnel, now).await
}

/// A new P-256 key for Trygg's client assertions (`trygg oidc key`): its base64 PKCS#8 form to
/// keep in `helseid_key_file`, and its public JWK to register with HelseID.
pub fn new_client_key(kid: &str) -> Result<(String, serde_json::Value), AppError> {
    let (key, der) = SigningKey::generate(kid)
        .map_err(|_| AppError::internal("TR-O523", "a key could not be made"))?;
    Ok((
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der),
        key.public_jwk(),
    ))
}
