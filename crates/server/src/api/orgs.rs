//! Organisations: list and create (operators only).

use axum::extract::State;
use axum::http::StatusCode;
use trygg_core::OrgSlug;

use crate::app::{ApiJson, AppState, Operator};
use crate::error::ApiError;

/// An organisation.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct OrgOut {
    /// Short name.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// When created (RFC 3339).
    pub created_at: String,
}

impl From<&trygg_store::Organisation> for OrgOut {
    fn from(o: &trygg_store::Organisation) -> Self {
        Self {
            slug: o.slug.to_string(),
            name: o.name.clone(),
            created_at: o
                .created_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }
    }
}

/// A new organisation.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgIn {
    /// Display name.
    pub name: String,
    /// Short name; derived from the name when left out.
    pub slug: Option<String>,
}

/// Lists organisations.
#[utoipa::path(get, path = "/api/v1/orgs", security(("token" = [])),
    responses((status = 200, body = [OrgOut]), (status = 401, body = crate::error::Problem)))]
pub async fn list_orgs(
    State(state): State<AppState>,
    _op: Operator,
) -> Result<ApiJson<Vec<OrgOut>>, ApiError> {
    let orgs = state.store.list_orgs().await?;
    Ok(ApiJson(orgs.iter().map(OrgOut::from).collect()))
}

/// Creates an organisation with its own database and data key (PC-VENDOR-4).
#[utoipa::path(post, path = "/api/v1/orgs", security(("token" = [])), request_body = OrgIn,
    responses((status = 201, body = OrgOut), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_org(
    State(state): State<AppState>,
    _op: Operator,
    ApiJson(input): ApiJson<OrgIn>,
) -> Result<(StatusCode, ApiJson<OrgOut>), ApiError> {
    let slug = match &input.slug {
        Some(s) => OrgSlug::parse(s),
        None => OrgSlug::from_name(&input.name),
    }
    .map_err(|e| ApiError::invalid("TR-O001", e.to_string()))?;
    let org = state
        .store
        .create_org(&slug, &input.name, time::OffsetDateTime::now_utc())
        .await?;
    Ok((StatusCode::CREATED, ApiJson(OrgOut::from(&org))))
}
