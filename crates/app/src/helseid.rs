//! Personnel's login through HelseID (issue #13; VC-AUTH-1, PC-AUTHN-1/2): the authorization
//! request pushed first (PAR, RFC 9126) with a `private_key_jwt` client assertion, the code
//! exchanged with a DPoP proof (RFC 9449) so the token is bound to a key of this login, the ID
//! token checked by [`trygg_identity::oidc`] (HelseID's security level as the assurance, its HPR
//! number), and the person found by that HPR number in the organisation the login began at. A
//! person whose employment has ended is refused here as everywhere. The session is the personnel
//! session every other login opens (`sessions::open_session`), with the method `helseid` and the
//! level HelseID vouched for; a refusal is a failed-login security event in the organisation's
//! log. The provider's keys and the logins in progress are [`crate::portal::Logins`]'.

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
use crate::portal::{body, unavailable, Callback};

fn client(state: &App, redirect_uri: &str) -> Result<Client, AppError> {
    let c = &state.config;
    let (Some(id), Some(file)) = (&c.helseid_client_id, &c.helseid_key_file) else {
        return Err(AppError::not_found(
            "TR-O404",
            "login with HelseID is not set up on this server",
        ));
    };
    let text = std::fs::read_to_string(file)
        .map_err(|_| AppError::internal("TR-O520", "the HelseID key file cannot be read"))?;
    let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text.trim())
        .map_err(|_| AppError::internal("TR-O521", "the HelseID key file is not base64"))?;
    let key = SigningKey::from_pkcs8(&der, id)
        .map_err(|_| AppError::internal("TR-O522", "the HelseID key is not a P-256 PKCS#8 key"))?;
    Ok(Client {
        profile: Profile::HelseId,
        client_id: id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope: "openid profile".into(),
        auth: ClientAuth::PrivateKeyJwt(key),
        par: true,
        dpop: true,
    })
}

/// Begins a HelseID login for a person of `org`: pushes the authorization request (PAR) and
/// returns the URL to send the browser to. Always at level high (health personnel).
pub async fn start(state: &App, org: &str, redirect_uri: &str) -> Result<String, AppError> {
    let now = state.now();
    let t = now.unix_timestamp();
    let client = client(state, redirect_uri)?;
    let slug = OrgSlug::parse(org)
        .ok()
        .ok_or_else(|| AppError::not_found("TR-A404", "no such organisation"))?;
    if state.store.org_by_slug(&slug).await?.is_none() {
        return Err(AppError::not_found("TR-A404", "no such organisation"));
    }
    let (meta, _) = state.logins.known(state, Profile::HelseId, t).await?;
    let par = meta
        .par_endpoint
        .clone()
        .ok_or(OidcError::Malformed("HelseID names no PAR endpoint"))?;
    let (pending, mut params) = oidc::begin(&client, Assurance::High, t, false)?;
    // The request names the client once; the assertion adds its own `client_id`.
    params.extend(
        oidc::client_auth_params(&client, &meta.issuer, t)?
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
        .map_err(|_| unavailable("HelseID did not answer; try again shortly"))?;
    let request_uri = oidc::par_request_uri(&body(r).await?)?;
    state
        .logins
        .put(pending, slug, redirect_uri.to_owned(), t)?;
    Ok(oidc::authorization_url(
        &meta,
        &[
            ("client_id".into(), client.client_id.clone()),
            ("request_uri".into(), request_uri),
        ],
    ))
}

/// Finishes a HelseID login at the callback: a personnel session for the person with the HPR
/// number HelseID vouches for, at its level.
pub async fn finish(
    state: &App,
    cb: &Callback<'_>,
    address: Option<IpAddr>,
) -> Result<Opened, AppError> {
    let now = state.now();
    let (pending, org, redirect) = state.logins.take_for(cb.state, Profile::HelseId)?;
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
    let client = client(state, redirect_uri)?;
    // A key of this login's own binds the token (DPoP); Trygg calls no API with it.
    let (dpop_key, _) = SigningKey::generate("dpop")?;
    let identity = crate::portal::identify(state, &client, cb, pending, t, Some(&dpop_key)).await?;
    let hpr = identity
        .hpr_number
        .as_deref()
        .ok_or(OidcError::Claim("hpr_number"))?;
    let h = crate::portal::org_handle(state, org).await?;
    let mut tx = h.begin().await?;
    let Some(person) = tx.personnel_by_hpr(hpr).await? else {
        return Err(AppError::forbidden(
            "TR-O407",
            "no one on the staff here has this HPR number; ask an administrator",
        ));
    };
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
        AuthMethod::Oidc(OidcProvider::HelseId),
        identity.assurance,
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
    let actor = Actor::system(crate::operator::CONSOLE);
    let e = event(
        &org.organisation().slug,
        &actor,
        Did {
            category: Category::Administration,
            operation: Operation::PersonnelHprSet,
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
