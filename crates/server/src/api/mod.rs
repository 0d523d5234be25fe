//! The HTTP API under `/api/v1`: JSON in and out, problem+json errors, an OpenAPI document at
//! `/api/v1/openapi.json`. Handlers are thin: extract, call the store, map the error.

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
    ),
    components(schemas(crate::error::Problem, orgs::OrgOut, orgs::OrgIn, patients::PatientIn, patients::PatientOut)),
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
}

async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
