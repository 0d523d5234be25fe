//! HTTP handlers for the organisation's compliance evidence (issue #15): the signed compliance
//! report, the routine checklist, the retention policy and the incident register, all under
//! `compliance-manage`. The rules are [`trygg_app::compliance`], [`trygg_app::retention`] and
//! [`trygg_app::incidents`]'s; the report's edge facts (CSP, Cache-Control, the pages' outside
//! addresses) come from [`crate::compliance_pages::edge_facts`].

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use trygg_app::compliance::{By, RoutineIn, RoutineRow};
use trygg_app::incidents::{IncidentIn, IncidentOut};
use trygg_app::retention::{ClassOut, RetentionIn};
use uuid::Uuid;

use crate::app::{ApiJson, AppState};
use crate::auth::Principal;
use crate::error::ApiError;

fn incident_id(s: &str) -> Result<Uuid, trygg_app::error::AppError> {
    Uuid::try_parse(s)
        .map_err(|_| trygg_app::error::AppError::not_found("TR-V404", "no such incident"))
}

/// The signed compliance report (canonical JSON with its signature; `trygg compliance verify`
/// checks a saved copy). Its SHA-256 is appended to the audit log.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/compliance/report", params(("org" = String, Path)),
    responses((status = 200, description = "The signed report", content_type = "application/json"),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn report(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
) -> Result<Response, ApiError> {
    let caller = p.caller();
    let edge = crate::compliance_pages::edge_facts();
    let signed =
        trygg_app::compliance::report(&state, By::Person(&caller), &org, &edge, state.now())
            .await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        signed.json,
    )
        .into_response())
}

/// The routine checklist.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/compliance/routines", params(("org" = String, Path)),
    responses((status = 200, body = [RoutineRow]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn routines(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
) -> Result<ApiJson<Vec<RoutineRow>>, ApiError> {
    let caller = p.caller();
    Ok(ApiJson(
        trygg_app::compliance::routines(&state, By::Person(&caller), &org, state.now()).await?,
    ))
}

/// Sets one routine's owner, document and next review date.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/compliance/routines", params(("org" = String, Path)), request_body = RoutineIn,
    responses((status = 200, body = [RoutineRow]), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn set_routine(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
    ApiJson(input): ApiJson<RoutineIn>,
) -> Result<ApiJson<Vec<RoutineRow>>, ApiError> {
    let caller = p.caller();
    Ok(ApiJson(
        trygg_app::compliance::set_routine(&state, By::Person(&caller), &org, input, state.now())
            .await?,
    ))
}

/// The retention policy per data class (PC-STORE-1).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/retention", params(("org" = String, Path)),
    responses((status = 200, body = [ClassOut]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn retention(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
) -> Result<ApiJson<Vec<ClassOut>>, ApiError> {
    let caller = p.caller();
    Ok(ApiJson(
        trygg_app::retention::policy(&state, By::Person(&caller), &org, state.now()).await?,
    ))
}

/// Changes one class's retention within its limits.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/retention", params(("org" = String, Path)), request_body = RetentionIn,
    responses((status = 200, body = [ClassOut]), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn set_retention(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
    ApiJson(input): ApiJson<RetentionIn>,
) -> Result<ApiJson<Vec<ClassOut>>, ApiError> {
    let caller = p.caller();
    Ok(ApiJson(
        trygg_app::retention::set(&state, By::Person(&caller), &org, input, state.now()).await?,
    ))
}

/// The incident register: every incident's latest version with its clock.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/incidents", params(("org" = String, Path)),
    responses((status = 200, body = [IncidentOut]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn incidents(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
) -> Result<ApiJson<Vec<IncidentOut>>, ApiError> {
    let caller = p.caller();
    Ok(ApiJson(
        trygg_app::incidents::list(&state, By::Person(&caller), &org, state.now()).await?,
    ))
}

/// Registers an incident (PC-DEV-1).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/incidents", params(("org" = String, Path)), request_body = IncidentIn,
    responses((status = 201, body = IncidentOut), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_incident(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
    ApiJson(input): ApiJson<IncidentIn>,
) -> Result<(StatusCode, ApiJson<IncidentOut>), ApiError> {
    let caller = p.caller();
    let out =
        trygg_app::incidents::create(&state, By::Person(&caller), &org, input, state.now()).await?;
    Ok((StatusCode::CREATED, ApiJson(out)))
}

/// One incident with every version, oldest first.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/incidents/{incident}",
    params(("org" = String, Path), ("incident" = Uuid, Path)),
    responses((status = 200, body = [IncidentOut]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn incident(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id)): Path<(String, String)>,
) -> Result<ApiJson<Vec<IncidentOut>>, ApiError> {
    let caller = p.caller();
    let id = incident_id(&id)?;
    Ok(ApiJson(
        trygg_app::incidents::get(&state, By::Person(&caller), &org, id, state.now()).await?,
    ))
}

/// A new version of an incident: its state one step on (or the same) and the whole new facts.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/incidents/{incident}",
    params(("org" = String, Path), ("incident" = Uuid, Path)), request_body = IncidentIn,
    responses((status = 200, body = IncidentOut), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn update_incident(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id)): Path<(String, String)>,
    ApiJson(input): ApiJson<IncidentIn>,
) -> Result<ApiJson<IncidentOut>, ApiError> {
    let caller = p.caller();
    let id = incident_id(&id)?;
    Ok(ApiJson(
        trygg_app::incidents::update(&state, By::Person(&caller), &org, id, input, state.now())
            .await?,
    ))
}

/// The language of a notification report.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct ReportLang {
    /// `nb` (default) or `en`.
    pub lang: Option<String>,
}

/// The report for the notification to Datatilsynet, as text, in bokmål or English.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/incidents/{incident}/report",
    params(("org" = String, Path), ("incident" = Uuid, Path), ReportLang),
    responses((status = 200, description = "The report as text", content_type = "text/plain"),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn notification_report(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id)): Path<(String, String)>,
    Query(q): Query<ReportLang>,
) -> Result<Response, ApiError> {
    let caller = p.caller();
    let id = incident_id(&id)?;
    let lang = match q.lang.as_deref() {
        Some("en") => trygg_core::Lang::En,
        _ => trygg_core::Lang::Nb,
    };
    let text = trygg_app::incidents::notification_report(
        &state,
        By::Person(&caller),
        &org,
        id,
        lang,
        state.now(),
    )
    .await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response())
}
