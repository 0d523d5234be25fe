//! HTTP handlers for organisation-owned devices (issue #13; VC-DEV-1/2, VC-AUTH-4): an
//! administrator issues an enrolment code, lists and revokes devices; a device registers its
//! public key with the code (no login: the code is the authority, and the route spends the
//! client's request budget). The rules are [`trygg_app::devices`]'s.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use trygg_app::devices::{DeviceOut, Enrolled};
use uuid::Uuid;

use crate::app::{ApiJson, AppState};
use crate::auth::{ClientIp, Principal};
use crate::error::ApiError;

/// The body of `POST /api/v1/orgs/{org}/devices`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceIn {
    /// The place (e.g. "Behandlingsrom 2"), 1 to 80 characters.
    pub label: String,
    /// The patient whose home the device is in: it then stands in for their identity at their
    /// consultations (VC-AUTH-4).
    #[serde(default)]
    pub patient_id: Option<Uuid>,
}

/// A device with its enrolment code, shown once to the administrator.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct IssuedOut {
    /// The device.
    pub device: DeviceOut,
    /// The code to type on the device (`XXXX-XXXX-XXXX`); it works once, until
    /// `device.code_expires_at`.
    pub code: String,
}

/// The body of `POST /api/v1/device-enrolment`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolIn {
    /// The organisation's short name.
    pub org: String,
    /// The enrolment code.
    pub code: String,
    /// The device's public key: an uncompressed P-256 point, base64url.
    pub public_key: String,
    /// The device's signature of `trygg-device-enrol/v1\n{org}\n{code}` (code normalised),
    /// base64url, 64 bytes.
    pub proof: String,
}

/// Issues an enrolment code for a device (`credentials-manage`).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/devices", params(("org" = String, Path)), request_body = DeviceIn,
    responses((status = 201, body = IssuedOut), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn issue(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
    ApiJson(input): ApiJson<DeviceIn>,
) -> Result<(StatusCode, ApiJson<IssuedOut>), ApiError> {
    let out = trygg_app::devices::issue(
        &state,
        &p.caller(),
        &org,
        &input.label,
        input.patient_id,
        state.now(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(IssuedOut {
            device: out.device,
            code: out.code,
        }),
    ))
}

/// Lists the organisation's devices (`credentials-manage`).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/devices", params(("org" = String, Path)),
    responses((status = 200, body = [DeviceOut]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
) -> Result<ApiJson<Vec<DeviceOut>>, ApiError> {
    Ok(ApiJson(
        trygg_app::devices::list(&state, &p.caller(), &org, state.now()).await?,
    ))
}

/// Revokes a device for good (`credentials-manage`).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/devices/{device}/revoke",
    params(("org" = String, Path), ("device" = Uuid, Path)),
    responses((status = 200, body = DeviceOut), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    p: Principal,
    Path((org, device)): Path<(String, String)>,
) -> Result<ApiJson<DeviceOut>, ApiError> {
    let id = Uuid::try_parse(&device).map_err(|_| {
        ApiError::from(trygg_app::error::AppError::not_found(
            "TR-D005",
            "no such device",
        ))
    })?;
    Ok(ApiJson(
        trygg_app::devices::revoke(&state, &p.caller(), &org, id, state.now()).await?,
    ))
}

/// A device registers its public key with its enrolment code (no login).
#[utoipa::path(post, path = "/api/v1/device-enrolment", request_body = EnrolIn,
    responses((status = 201, body = Enrolled), (status = 400, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn enrol(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(input): ApiJson<EnrolIn>,
) -> Result<(StatusCode, ApiJson<Enrolled>), ApiError> {
    let out = trygg_app::devices::enrol(
        &state,
        &input.org,
        &input.code,
        &input.public_key,
        &input.proof,
        ip,
        state.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(out)))
}
