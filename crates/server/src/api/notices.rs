//! The HTTP handler for the SMS gateway's delivery reports (issue #12); the use case is
//! [`trygg_app::notices::delivery_report`]. The gateway is not a user: it proves itself with an
//! HMAC of the body (`X-Trygg-Dlr-Signature`) under the shared `sms_dlr_secret`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use crate::app::AppState;
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
