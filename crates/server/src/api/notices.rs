//! HTTP handlers for notices to patients (issue #12): queueing one, a patient's consent per
//! purpose and channel, and the SMS gateway's delivery reports; the use cases are in
//! [`trygg_app::notices`]. The gateway is not a user: it proves itself with an HMAC of the body
//! (`X-Trygg-Dlr-Signature`) under the shared `sms_dlr_secret`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use trygg_app::notices::{By, ConsentIn, SendIn};

use crate::app::{ApiJson, AppState};
use crate::auth::Principal;
use crate::error::ApiError;

/// A delivery report from the SMS gateway: the generic shape `{id, key, status}` or LINK
/// Mobility's `{id, refId, resultCode}`. A report for an unknown notice is answered like any
/// other (the gateway learns nothing), and a repeated one changes nothing.
#[utoipa::path(post, path = "/api/v1/notices/delivery-report",
    request_body(content = Object, description = "The gateway's report"),
    responses((status = 204), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn delivery_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let signature = headers
        .get("x-trygg-dlr-signature")
        .and_then(|v| v.to_str().ok());
    trygg_app::notices::delivery_report(&state, &body, signature).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Queues a notice (SMS or e-mail) to a patient from a template: the guard, the patient's consent
/// and contact data decide whether it goes; the outbox's worker delivers it.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/patients/{patient}/notices", request_body = SendIn,
    params(("org" = String, Path, description = "organisation short name"), ("patient" = Uuid, Path, description = "patient id")),
    responses((status = 201, body = trygg_app::notices::Queued), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn send(
    State(state): State<AppState>,
    p: Principal,
    Path((org, patient)): Path<(String, String)>,
    ApiJson(input): ApiJson<SendIn>,
) -> Result<(StatusCode, ApiJson<trygg_app::notices::Queued>), ApiError> {
    let patient = patient_id(&patient).ok_or_else(no_patient)?;
    let caller = p.caller();
    let out = trygg_app::notices::send(
        &state,
        By::Person(&caller),
        &org,
        patient,
        input,
        state.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(out)))
}

/// Records a patient's consent to notices for a purpose on a channel, given or withdrawn, on the
/// patient's word (PC-CONSENT-1/2). A withdrawal stops notices already queued.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/patients/{patient}/consents", request_body = ConsentIn,
    params(("org" = String, Path, description = "organisation short name"), ("patient" = Uuid, Path, description = "patient id")),
    responses((status = 201, body = Object), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn set_consent(
    State(state): State<AppState>,
    p: Principal,
    Path((org, patient)): Path<(String, String)>,
    ApiJson(input): ApiJson<ConsentIn>,
) -> Result<(StatusCode, ApiJson<trygg_store::notices::ConsentRow>), ApiError> {
    let patient = patient_id(&patient).ok_or_else(no_patient)?;
    let caller = p.caller();
    let out = trygg_app::notices::set_consent(
        &state,
        By::Person(&caller),
        &org,
        patient,
        input,
        state.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(out)))
}

/// A patient's consent history, oldest first.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/patients/{patient}/consents",
    params(("org" = String, Path, description = "organisation short name"), ("patient" = Uuid, Path, description = "patient id")),
    responses((status = 200, body = [Object]), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn consents(
    State(state): State<AppState>,
    p: Principal,
    Path((org, patient)): Path<(String, String)>,
) -> Result<ApiJson<Vec<trygg_store::notices::ConsentRow>>, ApiError> {
    let patient = patient_id(&patient).ok_or_else(no_patient)?;
    let caller = p.caller();
    let out = trygg_app::notices::consents(&state, By::Person(&caller), &org, patient, state.now())
        .await?;
    Ok(ApiJson(out))
}

/// A patient id from the path.
fn patient_id(s: &str) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(s).ok()
}

/// Anything that is not a patient id is "no such patient".
fn no_patient() -> ApiError {
    trygg_app::error::AppError::not_found("TR-M010", "no such patient").into()
}
