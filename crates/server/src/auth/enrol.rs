//! Issuing enrolment links (VC-DEV-2: credentials are issued by a fixed procedure, by an
//! authorised role, single use, short-lived, logged).
//!
//! # Rules
//! - A person holding `credentials-manage` (administrators), in force now, employed, at the
//!   organisation's minimum assurance for it (by default *substantial*, so never the demo's
//!   developer login), issues a link for one existing, still employed person on the staff
//!   (`POST /api/v1/auth/enrolment-links`). The decision is [`crate::access::authorize`]'s, like
//!   every personnel action; a refusal is a security event (finding 1).
//! - A link reaches no account silently (finding 2): a person who has any passkey gets no link
//!   from the API (409 `TR-P702`); an administrator first revokes their passkeys
//!   (`POST /api/v1/orgs/{org}/personnel/{id}/passkeys/revoke`, logged, which also ends their
//!   sessions). Every passkey added leaves a notice in the person's sessions.
//! - The **first administrator** of an organisation gets a link printed by `trygg serve` and
//!   `trygg demo` at start, for as long as no administrator of the organisation has a passkey: for
//!   the oldest administrator without one, or, when the organisation has none, a link that
//!   creates one (the page asks for the name). The command line can issue a link for anyone
//!   (`trygg personnel enrol-link`); it runs with the operator's access to the data directory.
//! - A new link for a person revokes their older unused ones. Issuing is an `authorisation`
//!   event naming the issuer and the person; opening and using the link are logged too
//!   ([`super::webauthn`]).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use time::OffsetDateTime;
use trygg_audit::{Action, Category, Outcome};
use trygg_core::BuiltinRole;
use trygg_core::Operation;
use trygg_store::{OrgStore, Organisation, Secret, Store};
use uuid::Uuid;

use super::audit::{build, AuthEvent, Who};
use super::origin::{expected_origin, site_origin};
use super::Principal;
use crate::app::{ApiJson, AppState};
use crate::config::Config;
use crate::error::ApiError;

/// The link a person opens: `<base>/enrol/<org-slug>.<secret>`.
pub fn link_url(base: &str, org: &Organisation, secret: &Secret) -> String {
    format!(
        "{}/enrol/{}.{}",
        base.trim_end_matches('/'),
        org.slug,
        secret.expose()
    )
}

/// How long links live, from the configuration.
pub fn link_ttl(config: &Config) -> time::Duration {
    time::Duration::seconds(i64::try_from(config.enrolment_link_ttl_secs).unwrap_or(86_400))
}

/// Issues a link in its own transaction and logs it. `issuer` is who asked.
async fn issue(
    h: &OrgStore,
    personnel_id: Option<Uuid>,
    issuer: Who,
    issuer_id: &str,
    stamp: Option<&Principal>,
    ttl: time::Duration,
    now: OffsetDateTime,
) -> Result<(trygg_store::EnrolmentLink, Secret), ApiError> {
    let org = h.organisation().slug.clone();
    let mut tx = h.begin().await?;
    let (link, secret) = tx
        .issue_enrolment_link(personnel_id, issuer_id, now, ttl)
        .await?;
    let mut e = build(
        &org,
        issuer,
        AuthEvent {
            category: Category::Authorisation,
            operation: Operation::EnrolmentLinkIssue,
            action: Action::Create,
            outcome: Outcome::Success,
            entity: match personnel_id {
                Some(p) => ("Practitioner", Some(p.to_string())),
                None => ("enrolment-link", Some(link.id.to_string())),
            },
            auth: None,
            address: None,
        },
        now,
    )?;
    if let Some(p) = stamp {
        e = p.stamp(e);
    }
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok((link, secret))
}

/// A first-administrator link to print at start.
#[derive(Debug)]
pub struct FirstAdminLink {
    /// The organisation.
    pub org: Organisation,
    /// Whether the link is for an existing administrator (else it creates one).
    pub existing: bool,
    /// The secret part of the link.
    pub secret: Secret,
}

impl FirstAdminLink {
    /// The full link under `base` (e.g. `http://localhost:8080`).
    pub fn url(&self, base: &str) -> String {
        link_url(base, &self.org, &self.secret)
    }
}

/// For every organisation where no administrator has a passkey yet: a fresh set-up link (older
/// ones revoked), logged as issued by Trygg.
pub async fn first_admin_links(
    store: &Store,
    ttl: time::Duration,
    now: OffsetDateTime,
) -> Result<Vec<FirstAdminLink>, ApiError> {
    let mut out = Vec::new();
    for org in store.list_orgs().await? {
        let h = store.org(&org).await?;
        let mut tx = h.begin().await?;
        if super::webauthn::admin_has_passkey(&mut tx).await? {
            continue;
        }
        let admins = tx.personnel_ids_with_role(BuiltinRole::OrgAdmin).await?;
        drop(tx);
        let target = admins.first().copied();
        let (_, secret) = issue(
            &h,
            target,
            Who::System("first-admin"),
            "trygg:first-admin",
            None,
            ttl,
            now,
        )
        .await?;
        out.push(FirstAdminLink {
            org,
            existing: target.is_some(),
            secret,
        });
    }
    Ok(out)
}

/// Issues a link for one person from the command line.
pub async fn cli_link(
    h: &OrgStore,
    personnel_id: Uuid,
    ttl: time::Duration,
    now: OffsetDateTime,
) -> Result<Secret, ApiError> {
    let mut tx = h.begin().await?;
    if tx.personnel_role(personnel_id).await?.is_none() {
        return Err(ApiError::not_found(
            "TR-L012",
            "no such person on the staff",
        ));
    }
    drop(tx);
    let (_, secret) = issue(
        h,
        Some(personnel_id),
        Who::System("cli"),
        "trygg:cli",
        None,
        ttl,
        now,
    )
    .await?;
    Ok(secret)
}

/// The body of `POST /api/v1/auth/enrolment-links`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkIn {
    /// The person who gets a passkey.
    pub personnel_id: Uuid,
}

/// A link, shown once to the administrator who issued it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LinkOut {
    /// The person.
    pub personnel_id: Uuid,
    /// The link; it works once.
    pub url: String,
    /// When it stops working.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Why a link cannot be issued for a person through the API.
fn refuse_target(
    exists: bool,
    employment_end: Option<i64>,
    passkeys: u64,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    if !exists {
        return Err(ApiError::not_found(
            "TR-L012",
            "no such person on the staff",
        ));
    }
    if employment_end.is_some_and(|end| end <= now.unix_timestamp()) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "TR-P703",
            "Conflict",
            "this person's employment has ended",
        ));
    }
    if passkeys > 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "TR-P702",
            "Conflict",
            "this person has a passkey already; revoke their passkeys first",
        ));
    }
    Ok(())
}

/// Issues a link for `target` as `caller` at `now`: authorised with `credentials-manage`
/// (live grant, employment, assurance), refused for a person who has a passkey or whose
/// employment has ended, issued and logged in the authorising transaction. A plain function of
/// (caller, input, now).
pub async fn issue_for(
    org: &OrgStore,
    caller: &crate::access::Caller,
    target: Uuid,
    ttl: time::Duration,
    now: OffsetDateTime,
) -> Result<(trygg_store::EnrolmentLink, Secret), ApiError> {
    let (mut tx, ok) = crate::access::authorize_at(
        org,
        caller,
        trygg_core::access::Permission::CredentialsManage,
        None,
        now,
    )
    .await?;
    let end = tx.employment_end(target).await?;
    let passkeys = match end {
        Some(_) => tx.passkey_count(target).await?,
        None => 0,
    };
    refuse_target(end.is_some(), end.flatten(), passkeys, now)?;
    let (link, secret) = tx
        .issue_enrolment_link(Some(target), &ok.actor.id, now, ttl)
        .await?;
    crate::access::audit_commit(
        tx,
        org,
        &ok.actor,
        crate::audit_events::Did {
            category: Category::Authorisation,
            operation: Operation::EnrolmentLinkIssue,
            action: Action::Create,
            outcome: Outcome::Success,
            entity: ("Practitioner", Some(target.to_string())),
            patient: None,
            basis: ok.basis,
        },
        now,
    )
    .await?;
    Ok((link, secret))
}

/// `POST /api/v1/auth/enrolment-links`: a person with `credentials-manage` issues a link for a
/// person without a passkey.
#[utoipa::path(post, path = "/api/v1/auth/enrolment-links", tag = "auth", request_body = LinkIn,
    responses((status = 201, body = LinkOut), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn issue_link(
    State(state): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    ApiJson(input): ApiJson<LinkIn>,
) -> Result<(StatusCode, ApiJson<LinkOut>), ApiError> {
    let now = state.now();
    let caller = crate::access::Caller::from(&p);
    let (link, secret) = issue_for(
        &p.org_store,
        &caller,
        input.personnel_id,
        link_ttl(&state.config),
        now,
    )
    .await?;
    let base = match site_origin(&state.config, &headers) {
        Ok(o) => o.as_str(),
        Err(_) => expected_origin(&state.config, &headers).unwrap_or_default(),
    };
    Ok((
        StatusCode::CREATED,
        ApiJson(LinkOut {
            personnel_id: input.personnel_id,
            url: link_url(&base, p.org_store.organisation(), &secret),
            expires_at: link.expires_at,
        }),
    ))
}
