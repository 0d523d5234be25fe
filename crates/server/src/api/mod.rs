//! The HTTP API under `/api/v1`: JSON in and out, problem+json errors, an OpenAPI document at
//! `/api/v1/openapi.json`. Handlers are thin: extract, call the store, map the error.

pub mod access;
pub mod guard;
mod health;
mod orgs;
mod patients;

use axum::routing::{get, post};
use axum::Router;
use utoipa::OpenApi;

use crate::app::AppState;

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Trygg API", description = "Secure video consultation and patient messaging for Norwegian health organisations."),
    paths(
        health::healthz,
        health::readyz,
        orgs::list_orgs,
        orgs::create_org,
        patients::create_patient,
        patients::get_patient,
        patients::list_patients,
        access::list_personnel,
        access::create_personnel,
        access::end_employment,
        access::list_grants,
        access::create_grant,
        access::revoke_grant,
        access::rights_review,
        access::attest_review,
        access::create_care,
        access::end_care,
        access::emergency_access,
        access::access_log,
        access::audit_search,
        access::assurance_settings,
        crate::auth::passkeys::list_person,
        crate::auth::passkeys::revoke_person,
        guard::screen,
    ),
    components(schemas(crate::error::Problem, orgs::OrgOut, orgs::OrgIn, patients::PatientIn, patients::PatientOut,
        access::PersonnelOut, access::PersonnelIn, access::EmploymentEndIn, access::GrantOut, access::GrantIn,
        access::RevokeIn, access::ReviewReport, access::ReviewPerson, access::ReviewOut, access::EmergencyFlag, access::ReviewIn,
        access::CareIn, access::CareOut, access::EmergencyIn, access::EmergencyOut, access::AccessLogLine,
        access::AuditLine, access::AssuranceOut, crate::auth::passkeys::PasskeyOut,
        crate::auth::passkeys::RevokedOut, guard::ScreenIn, guard::ScreenOut)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every API route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/orgs", get(orgs::list_orgs).post(orgs::create_org))
        .route(
            "/api/v1/orgs/{org}/patients",
            post(patients::create_patient).get(patients::list_patients),
        )
        .route(
            "/api/v1/orgs/{org}/patients/{id}",
            get(patients::get_patient),
        )
        .route(
            "/api/v1/orgs/{org}/patients/{id}/access-log",
            get(access::access_log),
        )
        .route(
            "/api/v1/orgs/{org}/patients/{id}/emergency-access",
            post(access::emergency_access),
        )
        .route(
            "/api/v1/orgs/{org}/personnel",
            get(access::list_personnel).post(access::create_personnel),
        )
        .route(
            "/api/v1/orgs/{org}/personnel/{id}/employment-end",
            post(access::end_employment),
        )
        .route(
            "/api/v1/orgs/{org}/personnel/{id}/grants",
            get(access::list_grants),
        )
        .route(
            "/api/v1/orgs/{org}/personnel/{id}/passkeys",
            get(crate::auth::passkeys::list_person),
        )
        .route(
            "/api/v1/orgs/{org}/personnel/{id}/passkeys/revoke",
            post(crate::auth::passkeys::revoke_person),
        )
        .route(
            "/api/v1/orgs/{org}/assurance",
            get(access::assurance_settings),
        )
        .route("/api/v1/orgs/{org}/grants", post(access::create_grant))
        .route(
            "/api/v1/orgs/{org}/grants/{id}/revoke",
            post(access::revoke_grant),
        )
        .route(
            "/api/v1/orgs/{org}/rights-review",
            get(access::rights_review).post(access::attest_review),
        )
        .route(
            "/api/v1/orgs/{org}/care-relationships",
            post(access::create_care),
        )
        .route(
            "/api/v1/orgs/{org}/care-relationships/{id}/end",
            post(access::end_care),
        )
        .route("/api/v1/orgs/{org}/audit", get(access::audit_search))
        .route("/api/v1/guard/screen", post(guard::screen))
}

async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
