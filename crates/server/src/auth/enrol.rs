//! Issuing enrolment links at the HTTP edge (VC-DEV-2: credentials are issued by a fixed
//! procedure, by an authorised role, single use, short-lived, logged). The use cases and their
//! rules (who may issue a link for whom, first-administrator and command-line links) are
//! `trygg_app::credentials`'s, re-exported here; the handler reads the caller and the body,
//! calls, and builds the link's URL from the site's origin.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use time::OffsetDateTime;
use uuid::Uuid;

pub use trygg_app::credentials::{cli_link, first_admin_links, link_ttl, link_url, FirstAdminLink};

use super::origin::{expected_origin, site_origin};
use super::Principal;
use crate::app::{ApiJson, AppState};
use crate::error::ApiError;

/// The body of `POST /api/v1/auth/enrolment-links`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkIn {
    /// The person who gets a passkey.
    pub personnel_id: Uuid,
}

/// A link, shown once to the administrator who issued it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LinkOut {
    /// The person.
    pub personnel_id: Uuid,
    /// The link; it works once.
    pub url: String,
    /// When it stops working.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// `POST /api/v1/auth/enrolment-links`: a person with `credentials-manage` issues a link for a
/// person without a passkey ([`trygg_app::credentials::issue_link`]).
#[utoipa::path(post, path = "/api/v1/auth/enrolment-links", tag = "auth", request_body = LinkIn,
    responses((status = 201, body = LinkOut), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn issue_link(
    State(state): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    ApiJson(input): ApiJson<LinkIn>,
) -> Result<(StatusCode, ApiJson<LinkOut>), ApiError> {
    let (link, secret) = trygg_app::credentials::issue_link(
        &state,
        &p.org_store,
        &p.caller(),
        input.personnel_id,
        state.now(),
    )
    .await?;
    let base = match site_origin(&state.config, &headers) {
        Ok(o) => o.as_str(),
        Err(_) => expected_origin(&state.config, &headers).unwrap_or_default(),
    };
    Ok((
        StatusCode::CREATED,
        ApiJson(LinkOut {
            personnel_id: input.personnel_id,
            url: link_url(&base, p.org_store.organisation(), &secret),
            expires_at: link.expires_at,
        }),
    ))
}
