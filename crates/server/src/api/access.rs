//! HTTP handlers for managing who may do what (PC-ACL-1, PC-ACL-2): personnel, role grants,
//! end of employment, care relationships, emergency access, the rights review, audit search,
//! minimum assurance, and the patient's access log (PC-RIGHTS-1). Each handler extracts the
//! request, calls its use case in [`trygg_app::rights`] (which authorises and audits) with the
//! state's clock, and maps the answer.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use trygg_app::rights;
#[allow(unused_imports)]
use uuid::Uuid;

pub use trygg_app::rights::{
    AccessLogLine, AssuranceOut, AuditLine, AuditQuery, CareIn, CareOut, EmergencyFlag,
    EmergencyIn, EmergencyOut, EmploymentEndIn, GrantIn, GrantOut, LangQuery, PersonnelIn,
    PersonnelOut, ReviewIn, ReviewOut, ReviewPerson, ReviewReport, RevokeIn,
};

use crate::app::{ApiJson, AppState};
use crate::auth::Principal;
use crate::error::ApiError;

/// Lists the organisation's personnel.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/personnel", params(("org" = String, Path)),
    responses((status = 200, body = [PersonnelOut]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn list_personnel(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
) -> Result<ApiJson<Vec<PersonnelOut>>, ApiError> {
    Ok(ApiJson(
        rights::list_personnel(&state, &p.caller(), &org, state.now()).await?,
    ))
}

/// Registers a person on the staff, with their first role grant.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/personnel", params(("org" = String, Path)), request_body = PersonnelIn,
    responses((status = 201, body = PersonnelOut), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_personnel(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
    ApiJson(input): ApiJson<PersonnelIn>,
) -> Result<(StatusCode, ApiJson<PersonnelOut>), ApiError> {
    let out = rights::create_personnel(&state, &p.caller(), &org, input, state.now()).await?;
    Ok((StatusCode::CREATED, ApiJson(out)))
}

/// Ends a person's employment: every access stops at that time (guide risk scenario 16).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/personnel/{id}/employment-end", params(("org" = String, Path), ("id" = Uuid, Path)),
    request_body = EmploymentEndIn, responses((status = 204), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn end_employment(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id)): Path<(String, String)>,
    ApiJson(input): ApiJson<EmploymentEndIn>,
) -> Result<StatusCode, ApiError> {
    rights::end_employment(&state, &p.caller(), &org, &id, input, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A person's grants, newest first.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/personnel/{id}/grants", params(("org" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = [GrantOut]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn list_grants(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id)): Path<(String, String)>,
) -> Result<ApiJson<Vec<GrantOut>>, ApiError> {
    Ok(ApiJson(
        rights::list_grants(&state, &p.caller(), &org, &id, state.now()).await?,
    ))
}

/// Grants a role for a time.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/grants", params(("org" = String, Path)), request_body = GrantIn,
    responses((status = 201, body = GrantOut), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_grant(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
    ApiJson(input): ApiJson<GrantIn>,
) -> Result<(StatusCode, ApiJson<GrantOut>), ApiError> {
    let out = rights::create_grant(&state, &p.caller(), &org, input, state.now()).await?;
    Ok((StatusCode::CREATED, ApiJson(out)))
}

/// Revokes a grant; it stops working at once and stays in the register.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/grants/{id}/revoke", params(("org" = String, Path), ("id" = Uuid, Path)), request_body = RevokeIn,
    responses((status = 200, body = GrantOut), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn revoke_grant(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id)): Path<(String, String)>,
    ApiJson(input): ApiJson<RevokeIn>,
) -> Result<ApiJson<GrantOut>, ApiError> {
    Ok(ApiJson(
        rights::revoke_grant(&state, &p.caller(), &org, &id, input, state.now()).await?,
    ))
}

/// The report for the periodic control of granted rights (routine "periodisk kontroll").
#[utoipa::path(get, path = "/api/v1/orgs/{org}/rights-review", params(("org" = String, Path)),
    responses((status = 200, body = ReviewReport), (status = 403, body = crate::error::Problem)))]
pub async fn rights_review(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
) -> Result<ApiJson<ReviewReport>, ApiError> {
    Ok(ApiJson(
        rights::rights_review(&state, &p.caller(), &org, state.now()).await?,
    ))
}

/// Records that the rights were reviewed: who, when, result.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/rights-review", params(("org" = String, Path)), request_body = ReviewIn,
    responses((status = 201, body = ReviewOut), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn attest_review(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
    ApiJson(input): ApiJson<ReviewIn>,
) -> Result<(StatusCode, ApiJson<ReviewOut>), ApiError> {
    let out = rights::attest_review(&state, &p.caller(), &org, input, state.now()).await?;
    Ok((StatusCode::CREATED, ApiJson(out)))
}

/// Establishes a care relationship (need to know), always with an end.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/care-relationships", params(("org" = String, Path)), request_body = CareIn,
    responses((status = 201, body = CareOut), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_care(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
    ApiJson(input): ApiJson<CareIn>,
) -> Result<(StatusCode, ApiJson<CareOut>), ApiError> {
    let out = rights::create_care(&state, &p.caller(), &org, input, state.now()).await?;
    Ok((StatusCode::CREATED, ApiJson(out)))
}

/// Ends a care relationship now.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/care-relationships/{id}/end", params(("org" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = CareOut), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn end_care(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id)): Path<(String, String)>,
) -> Result<ApiJson<CareOut>, ApiError> {
    Ok(ApiJson(
        rights::end_care(&state, &p.caller(), &org, &id, state.now()).await?,
    ))
}

/// Takes emergency access to a patient's health data: mandatory reason, four hours, flagged
/// for review, shown to the patient.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/patients/{id}/emergency-access", params(("org" = String, Path), ("id" = Uuid, Path)), request_body = EmergencyIn,
    responses((status = 201, body = EmergencyOut), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn emergency_access(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id)): Path<(String, String)>,
    ApiJson(input): ApiJson<EmergencyIn>,
) -> Result<(StatusCode, ApiJson<EmergencyOut>), ApiError> {
    let out = rights::emergency_access(&state, &p.caller(), &org, &id, input, state.now()).await?;
    Ok((StatusCode::CREATED, ApiJson(out)))
}

/// Who has accessed one patient's data, when, with what role and on what basis (PC-RIGHTS-1),
/// in the patient's language. For the patient portal; personnel with a care relationship can
/// read it to help the patient. Reading it is itself logged.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/patients/{id}/access-log", params(("org" = String, Path), ("id" = Uuid, Path), ("lang" = Option<String>, Query)),
    responses((status = 200, body = [AccessLogLine]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn access_log(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id)): Path<(String, String)>,
    Query(q): Query<LangQuery>,
) -> Result<ApiJson<Vec<AccessLogLine>>, ApiError> {
    Ok(ApiJson(
        rights::access_log(&state, &p.caller(), &org, &id, q, state.now()).await?,
    ))
}

/// Searches the organisation's audit log for control (section 4: searchable by the organisation).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/audit", params(("org" = String, Path), AuditQuery),
    responses((status = 200, body = [AuditLine]), (status = 403, body = crate::error::Problem)))]
pub async fn audit_search(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
    Query(q): Query<AuditQuery>,
) -> Result<ApiJson<Vec<AuditLine>>, ApiError> {
    Ok(ApiJson(
        rights::audit_search(&state, &p.caller(), &org, q, state.now()).await?,
    ))
}

/// The minimum login assurance of every permission (PC-AUTHN-3). Set with
/// `trygg org assurance --org <org> --permission <p> --level <level>`.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/assurance", params(("org" = String, Path)),
    responses((status = 200, body = [AssuranceOut]), (status = 403, body = crate::error::Problem)))]
pub async fn assurance_settings(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
) -> Result<ApiJson<Vec<AssuranceOut>>, ApiError> {
    Ok(ApiJson(
        rights::assurance_settings(&state, &p.caller(), &org, state.now()).await?,
    ))
}
