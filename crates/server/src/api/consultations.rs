//! HTTP handlers for planning consultations (issue #10): each calls its use case in
//! [`trygg_app::consultations`] (the access rule and the audit entry are there) with the
//! state's clock. Invitation links are built on the site's origin and returned once.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use time::OffsetDateTime;
use trygg_app::consultations::{self, Invitee, Planner};
use uuid::Uuid;

pub use trygg_app::consultations::{
    ConsultationIn, ConsultationOut, Created, InvitationOut, ParticipantIn, ParticipantOut,
};

use crate::app::{ApiJson, AppState};
use crate::auth::origin::{expected_origin, site_origin};
use crate::auth::Principal;
use crate::error::ApiError;

fn base(state: &AppState, headers: &HeaderMap) -> String {
    match site_origin(&state.config, headers) {
        Ok(o) => o.as_str().to_owned(),
        Err(_) => expected_origin(&state.config, headers).unwrap_or_default(),
    }
}

fn uuid(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s).ok()
}

fn missing() -> ApiError {
    trygg_app::AppError::not_found("TR-K404", "no such consultation or invitation").into()
}

/// Plans a consultation and returns one invitation link per participant (VC-CONF-1).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/consultations", request_body = ConsultationIn,
    params(("org" = String, Path, description = "organisation short name")),
    responses((status = 201, body = Created), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    Path(org): Path<String>,
    ApiJson(input): ApiJson<ConsultationIn>,
) -> Result<(StatusCode, ApiJson<Created>), ApiError> {
    let caller = p.caller();
    let base = base(&state, &headers);
    let out = consultations::create(
        &state,
        Planner::Person(&caller),
        &org,
        input,
        &base,
        state.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(out)))
}

/// The period to list.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// From (RFC 3339); default twelve hours ago.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub from: Option<OffsetDateTime>,
    /// To (RFC 3339); default seven days on.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub to: Option<OffsetDateTime>,
}

/// Lists the consultations planned in a period, with their participants.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/consultations",
    params(("org" = String, Path, description = "organisation short name"), Period),
    responses((status = 200, body = [ConsultationOut]), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
    Query(period): Query<Period>,
) -> Result<ApiJson<Vec<ConsultationOut>>, ApiError> {
    let caller = p.caller();
    let now = state.now();
    let from = period.from.unwrap_or(now - time::Duration::hours(12));
    let to = period.to.unwrap_or(now + time::Duration::days(7));
    Ok(ApiJson(
        consultations::list(&state, Planner::Person(&caller), &org, from, to, now).await?,
    ))
}

/// Whom to invite: a new participant, or `renew` an invitation's link.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteIn {
    /// A new participant's role.
    #[serde(default)]
    pub role: Option<String>,
    /// A new participant (personnel id, patient id or national identity number).
    #[serde(default)]
    pub person: Option<String>,
    /// The id of an invitation to give a new link.
    #[serde(default)]
    pub renew: Option<Uuid>,
}

/// Invites one more participant, or renews an invitation's link.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/consultations/{consultation}/invitations",
    request_body = InviteIn,
    params(("org" = String, Path, description = "organisation short name"),
        ("consultation" = Uuid, Path, description = "consultation id")),
    responses((status = 201, body = InvitationOut), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn invite(
    State(state): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    Path((org, id)): Path<(String, String)>,
    ApiJson(input): ApiJson<InviteIn>,
) -> Result<(StatusCode, ApiJson<InvitationOut>), ApiError> {
    let who = match (input.role, input.person, input.renew) {
        (Some(role), Some(person), None) => Invitee::New(ParticipantIn { role, person }),
        (None, None, Some(r)) => Invitee::Renew(r),
        _ => {
            return Err(trygg_app::AppError::invalid(
                "TR-K012",
                "give either role and person, or renew",
            )
            .into())
        }
    };
    let caller = p.caller();
    let base = base(&state, &headers);
    let out = consultations::invite(
        &state,
        Planner::Person(&caller),
        &org,
        uuid(&id).ok_or_else(missing)?,
        who,
        &base,
        state.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(out)))
}

/// Revokes an invitation at once; its holder is disconnected if connected.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/consultations/{consultation}/invitations/{invitation}/revoke",
    params(("org" = String, Path, description = "organisation short name"),
        ("consultation" = Uuid, Path, description = "consultation id"),
        ("invitation" = Uuid, Path, description = "invitation id")),
    responses((status = 204), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id, invitation)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let caller = p.caller();
    consultations::revoke(
        &state,
        Planner::Person(&caller),
        &org,
        uuid(&id).ok_or_else(missing)?,
        uuid(&invitation).ok_or_else(missing)?,
        state.now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What ending did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EndOut {
    /// `ended` (a live room, ended for everyone) or `cancelled` (it never started).
    pub state: String,
}

/// Ends a consultation for everyone (or cancels one that never started).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/consultations/{consultation}/end",
    params(("org" = String, Path, description = "organisation short name"),
        ("consultation" = Uuid, Path, description = "consultation id")),
    responses((status = 200, body = EndOut), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn end(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id)): Path<(String, String)>,
) -> Result<ApiJson<EndOut>, ApiError> {
    let caller = p.caller();
    let state_out = consultations::end(
        &state,
        Planner::Person(&caller),
        &org,
        uuid(&id).ok_or_else(missing)?,
        state.now(),
    )
    .await?;
    Ok(ApiJson(EndOut { state: state_out }))
}

/// The draft journal note of an ended consultation, as text and FHIR R4 Encounter (VC-LOG-1);
/// health data: needs `health-read` with a care relationship.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/consultations/{consultation}/journal",
    params(("org" = String, Path, description = "organisation short name"),
        ("consultation" = Uuid, Path, description = "consultation id")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn journal(
    State(state): State<AppState>,
    p: Principal,
    Path((org, id)): Path<(String, String)>,
) -> Result<ApiJson<serde_json::Value>, ApiError> {
    let caller = p.caller();
    Ok(ApiJson(
        consultations::journal(
            &state,
            Planner::Person(&caller),
            &org,
            uuid(&id).ok_or_else(missing)?,
            state.now(),
        )
        .await?,
    ))
}
