//! The HTTP API under `/api/v1`: JSON in and out, problem+json errors, an OpenAPI document at
//! `/api/v1/openapi.json`. Handlers are thin: extract, call the store, map the error.
//!
//! # The route table
//! [`table`] is the one list of every `/api/` and health route (review item 10): each entry is a
//! handler's `#[utoipa::path]` declaration (method and path) together with the handler itself
//! (`utoipa_axum::routes!`). The router ([`routes`]), the OpenAPI document ([`openapi`]) and the
//! authorisation matrix (`tests/it/matrix.rs`, through [`route_list`]) are all built from it, so
//! a route cannot be served without being documented and checked, nor documented without being
//! served (PC-ACL-1: every route has an expected answer for every kind of caller). The login
//! API under `/api/v1/auth` is in the table too; the login and enrolment *pages* stay on
//! [`crate::auth::routes`].

pub mod access;
pub mod compliance;
pub mod consultations;
pub mod devices;
pub mod guard;
mod health;
pub mod messages;
pub mod notices;
mod orgs;
mod patients;
pub mod snooping;

use std::sync::OnceLock;

use axum::extract::State;
use axum::response::Response;
use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::{enrol, passkeys, session, webauthn, Principal};
use crate::error::ApiError;

/// The OpenAPI document's fixed part: information, shared schemas and security schemes. Its
/// paths come only from [`table`].
#[derive(OpenApi)]
#[openapi(
    info(title = "Trygg API", description = "Secure video consultation and patient messaging for Norwegian health organisations."),
    components(schemas(crate::error::Problem, orgs::OrgOut, orgs::OrgIn, patients::PatientIn, patients::PatientOut,
        access::PersonnelOut, access::PersonnelIn, access::EmploymentEndIn, access::GrantOut, access::GrantIn,
        access::RevokeIn, access::ReviewReport, access::ReviewPerson, access::ReviewOut, access::EmergencyFlag, access::ReviewIn,
        access::CareIn, access::CareOut, access::EmergencyIn, access::EmergencyOut, access::AccessLogLine,
        access::AuditLine, access::AssuranceOut, crate::auth::passkeys::PasskeyOut,
        crate::auth::passkeys::RevokedOut, guard::ScreenIn, guard::ScreenOut,
        consultations::ConsultationIn, consultations::ConsultationOut, consultations::Created,
        consultations::InvitationOut, consultations::ParticipantIn, consultations::ParticipantOut,
        consultations::InviteIn, consultations::EndOut, trygg_app::notices::SendIn, trygg_app::notices::ConsentIn,
        trygg_app::notices::Queued, devices::DeviceIn, devices::IssuedOut, devices::EnrolIn,
        trygg_app::devices::DeviceOut, trygg_app::devices::Enrolled,
        trygg_app::compliance::RoutineRow, trygg_app::compliance::RoutineIn, trygg_app::retention::ClassOut,
        trygg_app::retention::RetentionIn, trygg_app::incidents::IncidentOut, trygg_app::incidents::IncidentIn,
        trygg_app::snooping::CaseView, trygg_app::snooping::OutcomeIn)),
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

/// The one route table: every `/api/` and health route, each from its handler's
/// `#[utoipa::path]` (one entry per path; the handlers of one path share an entry). Add a route
/// here and nowhere else; the matrix test then asks for its row in `authz-matrix.txt`.
pub fn table() -> Vec<UtoipaMethodRouter<AppState>> {
    vec![
        routes!(health::healthz),
        routes!(health::readyz),
        routes!(openapi_json),
        routes!(orgs::list_orgs, orgs::create_org),
        routes!(patients::list_patients, patients::create_patient),
        routes!(patients::get_patient),
        routes!(consultations::list, consultations::create),
        routes!(consultations::invite),
        routes!(consultations::revoke),
        routes!(consultations::end),
        routes!(consultations::journal),
        routes!(access::access_log),
        routes!(access::emergency_access),
        routes!(access::list_personnel, access::create_personnel),
        routes!(access::end_employment),
        routes!(access::list_grants),
        routes!(passkeys::list_person),
        routes!(passkeys::revoke_person),
        routes!(access::assurance_settings),
        routes!(access::create_grant),
        routes!(access::revoke_grant),
        routes!(access::rights_review, access::attest_review),
        routes!(access::create_care),
        routes!(access::end_care),
        routes!(access::audit_search),
        routes!(guard::screen),
        routes!(notices::delivery_report),
        routes!(notices::send),
        routes!(notices::consents, notices::set_consent),
        routes!(messages::inbound_sms),
        routes!(messages::threads, messages::start_thread),
        routes!(messages::read_thread),
        routes!(messages::post),
        routes!(messages::attachment),
        routes!(messages::file),
        routes!(messages::tasks),
        routes!(messages::finish_task),
        routes!(webauthn::login_start),
        routes!(webauthn::login_finish),
        routes!(webauthn::enrol_start),
        routes!(webauthn::enrol_finish),
        routes!(session::session_info, session::logout),
        routes!(logout),
        routes!(enrol::issue_link),
        routes!(devices::list, devices::issue),
        routes!(devices::revoke),
        routes!(devices::enrol),
        routes!(compliance::report),
        routes!(compliance::routines, compliance::set_routine),
        routes!(compliance::retention, compliance::set_retention),
        routes!(compliance::incidents, compliance::create_incident),
        routes!(compliance::incident, compliance::update_incident),
        routes!(compliance::notification_report),
        routes!(snooping::cases),
        routes!(snooping::case),
        routes!(snooping::decide),
        routes!(passkeys::list_own),
        routes!(passkeys::revoke_own),
        routes!(passkeys::acknowledge_notices),
    ]
}

/// The table as an `OpenApiRouter`: the axum routes and the OpenAPI document side by side.
pub fn api_routes() -> OpenApiRouter<AppState> {
    table()
        .into_iter()
        .fold(OpenApiRouter::with_openapi(ApiDoc::openapi()), |r, e| {
            r.routes(e)
        })
}

/// Every API route, for the application's router. The login routes under `/api/v1/auth` need
/// the [`crate::auth::AuthRuntime`] extension, which `app::router` adds for them and the login
/// pages together.
pub fn routes() -> Router<AppState> {
    api_routes().into()
}

/// The OpenAPI document, built from [`table`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().into_openapi()
}

/// One route of the table: an HTTP method (upper case) and a path (`{name}` for a parameter).
pub type Route = (String, String);

/// Every (method, path) of [`table`], as declared by the handlers' `#[utoipa::path]`.
pub fn route_list() -> Vec<Route> {
    let mut out = Vec::new();
    for (_, paths, _) in table() {
        for (path, item) in paths.paths {
            let ops = [
                ("GET", item.get.is_some()),
                ("PUT", item.put.is_some()),
                ("POST", item.post.is_some()),
                ("DELETE", item.delete.is_some()),
                ("OPTIONS", item.options.is_some()),
                ("HEAD", item.head.is_some()),
                ("PATCH", item.patch.is_some()),
                ("TRACE", item.trace.is_some()),
            ];
            for (m, present) in ops {
                if present {
                    out.push((m.to_owned(), path.clone()));
                }
            }
        }
    }
    out
}

/// The OpenAPI document.
#[utoipa::path(get, path = "/api/v1/openapi.json",
    responses((status = 200, description = "this document (OpenAPI 3.1)", body = Object)))]
async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    axum::Json(DOC.get_or_init(openapi).clone())
}

/// `POST /api/v1/auth/logout`: the same as `DELETE /api/v1/auth/session`, for forms and
/// `navigator.sendBeacon` ([`session::logout`]).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "signed out; clears the session cookie"), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
async fn logout(state: State<AppState>, p: Principal) -> Result<Response, ApiError> {
    session::logout(state, p).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeSet;

    use super::*;

    /// Review item 10: the OpenAPI document has exactly the routes of the table (method and
    /// path), the login API included.
    #[test]
    fn openapi_has_exactly_the_routes_of_the_table() {
        let table: BTreeSet<Route> = route_list().into_iter().collect();
        assert_eq!(
            table.len(),
            route_list().len(),
            "a route is in the table twice"
        );
        let doc = serde_json::to_value(openapi()).unwrap();
        let mut in_doc = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (m, _) in item.as_object().unwrap() {
                if [
                    "get", "put", "post", "delete", "options", "head", "patch", "trace",
                ]
                .contains(&m.as_str())
                {
                    in_doc.insert((m.to_uppercase(), path.clone()));
                }
            }
        }
        assert_eq!(in_doc, table);
        for route in [
            ("POST", "/api/v1/auth/login/start"),
            ("POST", "/api/v1/auth/logout"),
            ("DELETE", "/api/v1/auth/session"),
            ("GET", "/healthz"),
            ("GET", "/api/v1/openapi.json"),
        ] {
            assert!(
                table.contains(&(route.0.to_owned(), route.1.to_owned())),
                "{route:?} missing"
            );
        }
        assert!(
            table
                .iter()
                .all(|(_, p)| p.starts_with("/api/") || p == "/healthz" || p == "/readyz"),
            "only API and health routes belong in the table"
        );
    }
}
