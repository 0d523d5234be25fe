//! Passkeys as their owner and administrators manage them, at the HTTP edge (finding 2 of the
//! access review; PC-ACL-1, VC-DEV-2): list and revoke one's own passkeys, acknowledge security
//! notices, and, for a person holding `credentials-manage`, list or revoke another person's
//! passkeys. The use cases, with their access decision and audit entries, are
//! `trygg_app::credentials`'s; these handlers extract, call and map.

use axum::extract::{Path, State};
use axum::http::StatusCode;

pub use trygg_app::credentials::{PasskeyOut, RevokedOut};

use super::Principal;
use crate::app::{ApiJson, AppState};
use crate::error::ApiError;

/// `GET /api/v1/auth/passkeys`: one's own passkeys.
#[utoipa::path(get, path = "/api/v1/auth/passkeys", tag = "auth",
    responses((status = 200, body = [PasskeyOut]), (status = 401, body = crate::error::Problem)))]
pub async fn list_own(p: Principal) -> Result<ApiJson<Vec<PasskeyOut>>, ApiError> {
    Ok(ApiJson(
        trygg_app::credentials::list_own(&p, p.now()).await?,
    ))
}

/// `DELETE /api/v1/auth/passkeys/{id}`: revokes one of one's own passkeys and ends one's other
/// sessions.
#[utoipa::path(delete, path = "/api/v1/auth/passkeys/{id}", tag = "auth", params(("id" = Uuid, Path)),
    responses((status = 204, description = "revoked"), (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn revoke_own(p: Principal, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    trygg_app::credentials::revoke_own(&p, &id, p.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/auth/notices/acknowledge`: one's open notices are read.
#[utoipa::path(post, path = "/api/v1/auth/notices/acknowledge", tag = "auth",
    responses((status = 204, description = "acknowledged"), (status = 401, body = crate::error::Problem)))]
pub async fn acknowledge_notices(p: Principal) -> Result<StatusCode, ApiError> {
    trygg_app::credentials::acknowledge_notices(&p, p.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A person's passkeys (for an administrator).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/personnel/{id}/passkeys", params(("org" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = [PasskeyOut]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn list_person(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id)): Path<(String, String)>,
) -> Result<ApiJson<Vec<PasskeyOut>>, ApiError> {
    let list =
        trygg_app::credentials::list_for(&state, &p.caller(), &org, &id, state.now()).await?;
    Ok(ApiJson(list))
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
    let out =
        trygg_app::credentials::revoke_for(&state, &p.caller(), &org, &id, state.now()).await?;
    Ok(ApiJson(out))
}
