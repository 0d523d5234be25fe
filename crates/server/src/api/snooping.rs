//! HTTP handlers for the snooping case queue (issue #16): the open cases, one case and its
//! outcome, for the organisation's log-control role (`log-control`). The rules are
//! [`trygg_app::snooping`]'s.

use axum::extract::{Path, State};
use trygg_app::snooping::{CaseView, OutcomeIn};
use uuid::Uuid;

use crate::app::{ApiJson, AppState};
use crate::auth::Principal;
use crate::error::ApiError;

fn case_id(s: &str) -> Result<Uuid, trygg_app::error::AppError> {
    Uuid::try_parse(s).map_err(|_| trygg_app::error::AppError::not_found("TR-X404", "no such case"))
}

/// The open cases, highest score first (`log-control`; the read is logged).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/snooping/cases", params(("org" = String, Path)),
    responses((status = 200, body = [CaseView]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn cases(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
) -> Result<ApiJson<Vec<CaseView>>, ApiError> {
    Ok(ApiJson(
        trygg_app::snooping::cases(&state, &p.caller(), &org, state.now()).await?,
    ))
}

/// One case (`log-control`; the read is logged, in the patient's log too).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/snooping/cases/{case}",
    params(("org" = String, Path), ("case" = Uuid, Path)),
    responses((status = 200, body = CaseView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn case(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id)): Path<(String, String)>,
) -> Result<ApiJson<CaseView>, ApiError> {
    let id = case_id(&id)?;
    Ok(ApiJson(
        trygg_app::snooping::case(&state, &p.caller(), &org, id, state.now()).await?,
    ))
}

/// A case's outcome, once: explained, warned or confirmed (which opens an incident).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/snooping/cases/{case}/outcome",
    params(("org" = String, Path), ("case" = Uuid, Path)), request_body = OutcomeIn,
    responses((status = 200, body = CaseView), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn decide(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id)): Path<(String, String)>,
    ApiJson(input): ApiJson<OutcomeIn>,
) -> Result<ApiJson<CaseView>, ApiError> {
    let id = case_id(&id)?;
    Ok(ApiJson(
        trygg_app::snooping::decide(&state, &p.caller(), &org, id, input, state.now()).await?,
    ))
}
