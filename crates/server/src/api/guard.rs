//! The HTTP handler for screening a draft with the confidentiality guard (PC-CONF-1); the use
//! case is [`trygg_app::screening`].

use axum::extract::State;

pub use trygg_app::screening::{channel, context_for, ScreenIn, ScreenOut};

use crate::app::{ApiJson, AppState};
use crate::auth::Principal;
use crate::error::ApiError;

/// Screens a draft SMS or e-mail.
#[utoipa::path(post, path = "/api/v1/guard/screen", request_body = ScreenIn,
    responses((status = 200, body = ScreenOut), (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn screen(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(input): ApiJson<ScreenIn>,
) -> Result<ApiJson<ScreenOut>, ApiError> {
    Ok(ApiJson(
        trygg_app::screening::screen(&state, &p.caller(), input).await?,
    ))
}
