//! HTTP handlers for organisations (operators only); the use cases are [`trygg_app::orgs`].

use axum::extract::State;
use axum::http::StatusCode;

pub use trygg_app::orgs::{OrgIn, OrgOut};

use crate::app::{ApiJson, AppState, Operator};
use crate::error::ApiError;

/// Lists organisations.
#[utoipa::path(get, path = "/api/v1/orgs", security(("token" = [])),
    responses((status = 200, body = [OrgOut]), (status = 401, body = crate::error::Problem)))]
pub async fn list_orgs(
    State(state): State<AppState>,
    op: Operator,
) -> Result<ApiJson<Vec<OrgOut>>, ApiError> {
    Ok(ApiJson(
        trygg_app::orgs::list_orgs(&state, &op.app()).await?,
    ))
}

/// Creates an organisation with its own database and data key (PC-VENDOR-4).
#[utoipa::path(post, path = "/api/v1/orgs", security(("token" = [])), request_body = OrgIn,
    responses((status = 201, body = OrgOut), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_org(
    State(state): State<AppState>,
    op: Operator,
    ApiJson(input): ApiJson<OrgIn>,
) -> Result<(StatusCode, ApiJson<OrgOut>), ApiError> {
    let out = trygg_app::orgs::create_org(&state, &op.app(), input, state.now()).await?;
    Ok((StatusCode::CREATED, ApiJson(out)))
}
