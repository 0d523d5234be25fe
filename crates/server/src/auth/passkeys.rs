//! Passkeys as their owner and administrators manage them (finding 2 of the access review;
//! PC-ACL-1, VC-DEV-2): list and revoke one's own passkeys, acknowledge security notices, and,
//! for a person holding `credentials-manage`, list or revoke another person's passkeys.
//!
//! # Rules
//! - A listing shows the passkey's id, when it was registered and when it was last used, never
//!   key material or credential ids.
//! - Revoking one's own passkey ends one's other sessions (a passkey someone else added may have
//!   opened one); the current session stays.
//! - An administrator's listing and revocation go through [`crate::access::authorize`] with
//!   [`Permission::CredentialsManage`] (live grant, employment, assurance) and are
//!   `authorisation` events naming the person. Revoking a person's passkeys ends all their
//!   sessions, and is the only way to let them enrol again through a link: a link is never issued
//!   for a person who has a passkey (`TR-P702`), so an administrator cannot quietly add their own
//!   authenticator to a clinician's account.
//! - Every change is audited in its own transaction; nothing here reads a name.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use time::OffsetDateTime;
use trygg_audit::{Action, Basis, Category, Outcome};
use trygg_core::access::Permission;
use trygg_core::Operation;
use trygg_store::PasskeyInfo;
use uuid::Uuid;

use super::Principal;
use crate::access::{audit_commit, authorize_at, org_for, Caller};
use crate::app::{ApiJson, AppState};
use crate::audit_events::{event, Did};
use crate::error::ApiError;

/// A passkey, as listed.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PasskeyOut {
    /// Id (to revoke it).
    pub id: Uuid,
    /// When it was registered (RFC 3339).
    pub created_at: String,
    /// When it was last used to log in (RFC 3339).
    pub last_used_at: Option<String>,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn out(p: PasskeyInfo) -> PasskeyOut {
    PasskeyOut {
        id: p.id,
        created_at: rfc3339(p.created_at),
        last_used_at: p.last_used_at.map(rfc3339),
    }
}

fn did(operation: Operation, action: Action, person: Uuid, basis: Basis) -> Did {
    Did {
        category: Category::Authorisation,
        operation,
        action,
        outcome: Outcome::Success,
        entity: ("Practitioner", Some(person.to_string())),
        patient: None,
        basis,
    }
}

/// Appends the principal's own event and commits.
async fn own_commit(
    p: &Principal,
    mut tx: trygg_store::OrgTx<'_>,
    d: Did,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let e = event(&p.org, &p.actor(), d, now)?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(())
}

/// `GET /api/v1/auth/passkeys`: one's own passkeys.
#[utoipa::path(get, path = "/api/v1/auth/passkeys", tag = "auth",
    responses((status = 200, body = [PasskeyOut]), (status = 401, body = crate::error::Problem)))]
pub async fn list_own(p: Principal) -> Result<ApiJson<Vec<PasskeyOut>>, ApiError> {
    let now = p.now();
    let mut tx = p.org_store.begin().await?;
    let list = tx.passkeys_of(p.personnel_id).await?;
    own_commit(
        &p,
        tx,
        did(
            Operation::PasskeyList,
            Action::Read,
            p.personnel_id,
            Basis::None,
        ),
        now,
    )
    .await?;
    Ok(ApiJson(list.into_iter().map(out).collect()))
}

/// `DELETE /api/v1/auth/passkeys/{id}`: revokes one of one's own passkeys and ends one's other
/// sessions.
#[utoipa::path(delete, path = "/api/v1/auth/passkeys/{id}", tag = "auth", params(("id" = Uuid, Path)),
    responses((status = 204, description = "revoked"), (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn revoke_own(p: Principal, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let now = p.now();
    let unknown = || ApiError::not_found("TR-P705", "no such passkey");
    let id = Uuid::parse_str(&id).map_err(|_| unknown())?;
    let mut tx = p.org_store.begin().await?;
    if !tx.revoke_passkey(p.personnel_id, id).await? {
        return Err(unknown());
    }
    tx.end_sessions_of(p.personnel_id, Some(p.session_id), "passkey-revoked", now)
        .await?;
    let mut d = did(
        Operation::PasskeyRevoke,
        Action::Delete,
        p.personnel_id,
        Basis::None,
    );
    d.entity = ("passkey", Some(id.to_string()));
    own_commit(&p, tx, d, now).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/auth/notices/acknowledge`: one's open notices are read.
#[utoipa::path(post, path = "/api/v1/auth/notices/acknowledge", tag = "auth",
    responses((status = 204, description = "acknowledged"), (status = 401, body = crate::error::Problem)))]
pub async fn acknowledge_notices(p: Principal) -> Result<StatusCode, ApiError> {
    let now = p.now();
    let mut tx = p.org_store.begin().await?;
    tx.acknowledge_notices(p.personnel_id, now).await?;
    own_commit(
        &p,
        tx,
        did(
            Operation::NoticeAcknowledge,
            Action::Update,
            p.personnel_id,
            Basis::None,
        ),
        now,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn person_id(s: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s).map_err(|_| ApiError::not_found("TR-Q404", "no such person"))
}

/// Lists a person's passkeys as `caller` at `now` (through the access decision).
pub async fn list_for(
    org: &trygg_store::OrgStore,
    caller: &Caller,
    person: Uuid,
    now: OffsetDateTime,
) -> Result<Vec<PasskeyInfo>, ApiError> {
    let (mut tx, ok) = authorize_at(org, caller, Permission::CredentialsManage, None, now).await?;
    if !tx.personnel_exists(person).await? {
        return Err(ApiError::not_found("TR-Q404", "no such person"));
    }
    let list = tx.passkeys_of(person).await?;
    audit_commit(
        tx,
        org,
        &ok.actor,
        did(Operation::PasskeyList, Action::Read, person, ok.basis),
        now,
    )
    .await?;
    Ok(list)
}

/// What revoking a person's passkeys did.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RevokedOut {
    /// The passkeys revoked.
    pub revoked: Vec<Uuid>,
    /// How many of their sessions ended.
    pub sessions_ended: u64,
}

/// Revokes every passkey of a person as `caller` at `now` (through the access decision), and
/// ends their sessions.
pub async fn revoke_for(
    org: &trygg_store::OrgStore,
    caller: &Caller,
    person: Uuid,
    now: OffsetDateTime,
) -> Result<RevokedOut, ApiError> {
    let (mut tx, ok) = authorize_at(org, caller, Permission::CredentialsManage, None, now).await?;
    if !tx.personnel_exists(person).await? {
        return Err(ApiError::not_found("TR-Q404", "no such person"));
    }
    let revoked = tx.revoke_all_passkeys(person).await?;
    let sessions_ended = tx
        .end_sessions_of(person, None, "passkeys-revoked", now)
        .await?;
    audit_commit(
        tx,
        org,
        &ok.actor,
        did(
            Operation::PasskeyRevokeAll,
            Action::Delete,
            person,
            ok.basis,
        ),
        now,
    )
    .await?;
    tracing::warn!(
        event = "credentials",
        revoked = revoked.len(),
        "a person's passkeys were revoked by an administrator"
    );
    Ok(RevokedOut {
        revoked,
        sessions_ended,
    })
}

/// A person's passkeys (for an administrator).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/personnel/{id}/passkeys", params(("org" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = [PasskeyOut]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn list_person(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id)): Path<(String, String)>,
) -> Result<ApiJson<Vec<PasskeyOut>>, ApiError> {
    let caller = p.caller();
    let org = org_for(&state, &caller, &org).await?;
    let id = person_id(&id)?;
    let list = list_for(&org, &caller, id, state.now()).await?;
    Ok(ApiJson(list.into_iter().map(out).collect()))
}

/// Revokes every passkey of a person and ends their sessions (for an administrator); the way to
/// let them enrol again.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/personnel/{id}/passkeys/revoke", params(("org" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = RevokedOut), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn revoke_person(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id)): Path<(String, String)>,
) -> Result<ApiJson<RevokedOut>, ApiError> {
    let caller = p.caller();
    let org = org_for(&state, &caller, &org).await?;
    let id = person_id(&id)?;
    Ok(ApiJson(revoke_for(&org, &caller, id, state.now()).await?))
}
