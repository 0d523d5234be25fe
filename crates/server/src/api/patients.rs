//! HTTP handlers for one organisation's patients: each calls its use case in
//! [`trygg_app::patients`] (national IDs checked, returned only redacted; a duplicate is an
//! audited probe) with the state's clock.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use trygg_app::patients;

pub use trygg_app::patients::{PatientIn, PatientOut};

use crate::app::{ApiJson, AppState};
use crate::auth::Principal;
use crate::error::ApiError;

/// Registers a patient.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/patients", request_body = PatientIn,
    params(("org" = String, Path, description = "organisation short name")),
    responses((status = 201, body = PatientOut), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_patient(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
    ApiJson(input): ApiJson<PatientIn>,
) -> Result<(StatusCode, ApiJson<PatientOut>), ApiError> {
    let out = patients::create_patient(&state, &p.caller(), &org, input, state.now()).await?;
    Ok((StatusCode::CREATED, ApiJson(out)))
}

/// Lists an organisation's patients.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/patients", 
    params(("org" = String, Path, description = "organisation short name")),
    responses((status = 200, body = [PatientOut]), (status = 404, body = crate::error::Problem)))]
pub async fn list_patients(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
) -> Result<ApiJson<Vec<PatientOut>>, ApiError> {
    Ok(ApiJson(
        patients::list_patients(&state, &p.caller(), &org, state.now()).await?,
    ))
}

/// Reads one patient.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/patients/{id}", 
    params(("org" = String, Path, description = "organisation short name"), ("id" = Uuid, Path, description = "patient id")),
    responses((status = 200, body = PatientOut), (status = 404, body = crate::error::Problem)))]
pub async fn get_patient(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id)): Path<(String, String)>,
) -> Result<ApiJson<PatientOut>, ApiError> {
    Ok(ApiJson(
        patients::get_patient(&state, &p.caller(), &org, &id, state.now()).await?,
    ))
}
