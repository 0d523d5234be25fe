//! Liveness and readiness for load balancers and orchestrators. Neither says anything about the
//! data it holds.

use axum::extract::State;
use axum::Json;

use crate::app::AppState;
use crate::error::ApiError;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "alive")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the control database answers.
#[utoipa::path(get, path = "/readyz", responses((status = 200, description = "ready"), (status = 500, body = crate::error::Problem)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    state.store.ping().await?;
    Ok(Json(serde_json::json!({ "status": "ready" })))
}
