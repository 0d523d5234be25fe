//! The axum application: state, router and the layers every request passes through (request id,
//! trace span without personal data or secrets, the client's address, security headers, body
//! limit, timeout, and problem+json for every API error, including the framework's own).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, PROBLEM_JSON};

/// What every handler can reach: the use cases' [`trygg_app::App`] (store, configuration,
/// guard and the clock, the one place handlers read the time).
pub type AppState = trygg_app::App;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the router with every layer.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.body_limit_bytes;
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    let tls = state.config.tls();
    let proxies: Arc<[crate::client_addr::IpNet]> = state.config.trusted_proxies.clone().into();
    // One login runtime for the login pages and the login API (ceremonies, address budgets).
    let auth_runtime = Arc::new(crate::auth::AuthRuntime::default());
    Router::new()
        .merge(crate::pages::routes())
        .merge(crate::api::routes())
        .merge(crate::admin::routes())
        .merge(crate::device_pages::routes())
        .merge(crate::compliance_pages::routes())
        .merge(crate::snooping_pages::routes())
        .merge(crate::message_pages::routes())
        .merge(crate::my_consultations::routes())
        .merge(crate::portal_pages::routes())
        .merge(crate::portal_messages::routes())
        .merge(crate::auth::routes())
        .merge(crate::signalling::routes())
        .merge(crate::consultation_pages::routes())
        .layer(axum::Extension(auth_runtime.clone()))
        .fallback(fallback)
        .with_state(state.clone())
        // Per-client request budget of the unauthenticated login routes (issue 17); inside the
        // client-address layer, so the budget is keyed by the address `trusted_proxies` gives.
        .layer(middleware::from_fn(move |req, next| {
            crate::auth::rate_limit(state.clone(), auth_runtime.clone(), req, next)
        }))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(body_limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        // Outside the limit and timeout layers, so their answers become problems too.
        .layer(middleware::from_fn(problem_for_api_errors))
        .layer(middleware::from_fn(move |req, next| {
            security_headers(tls, req, next)
        }))
        .layer(middleware::from_fn(move |req, next| {
            client_address(proxies.clone(), req, next)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
                // Only the method, the path without its secrets and the request id: never the
                // query string, headers or body, which can hold personal data.
                let id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                let path = redacted_path(req.uri().path());
                tracing::info_span!("request", method = %req.method(), path = %path, request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// Paths whose last segment is a secret (an enrolment or invitation token): the span shows `…`
/// instead.
const SECRET_PATHS: &[&str] = &["/enrol/", "/join/"];

/// The path as the request span records it: secret segments replaced by `…` (review finding 7;
/// VC-DEV-2: an enrolment link is a credential and must not reach the logs).
pub fn redacted_path(path: &str) -> std::borrow::Cow<'_, str> {
    for prefix in SECRET_PATHS {
        if let Some(rest) = path.strip_prefix(prefix) {
            if !rest.is_empty() {
                return format!("{prefix}…").into();
            }
        }
    }
    path.into()
}

/// Resolves the client's address once per request (`trusted_proxies`, see
/// [`crate::client_addr`]) and stores it as [`crate::auth::ClientIp`] for the extractors.
async fn client_address(
    proxies: Arc<[crate::client_addr::IpNet]>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = peer.map(|p| crate::client_addr::resolve(p, req.headers(), &proxies));
    req.extensions_mut().insert(crate::auth::ClientIp(ip));
    next.run(req).await
}

async fn fallback(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        ApiError::from_status(StatusCode::NOT_FOUND).into_response()
    } else {
        crate::pages::not_found(&req).into_response()
    }
}

/// The Content-Security-Policy of every response: nothing from another origin, no inline script
/// or style, no framing (VC-STORE-2: no third-party requests from any page).
/// The Cache-Control of every page and API answer (PC-AVAIL-1: nothing is kept on the
/// patient's device; static assets have their own).
pub const CACHE_CONTROL: &str = "no-store";

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

async fn security_headers(tls: bool, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(
            "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), usb=(), interest-cohort=()",
        ),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        // PC-AVAIL-1: nothing personal is left in a browser cache.
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        );
    }
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    res
}

/// Turns every error response under `/api/` that is not already a problem (from the router, the
/// body limit, the timeout) into problem+json, so clients see one error shape.
async fn problem_for_api_errors(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    let status = res.status();
    if !is_api || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        return res;
    }
    ApiError::from_status(status).into_response()
}

/// JSON body extractor whose rejections are problems: 400 for malformed JSON, 422 for a missing
/// or wrong-typed field, 413 for a body over the limit, 415 for another content type.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::JsonRejection;
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::bad_request(
                "TR-J001",
                format!("the body is not valid JSON: {}", e.body_text()),
            )),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::invalid(
                "TR-J002",
                format!("the JSON does not fit: {}", e.body_text()),
            )),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE))
            }
            Err(JsonRejection::BytesRejection(e)) => Err(ApiError::from_status(e.status())),
            Err(e) => Err(ApiError::bad_request("TR-J003", e.body_text())),
        }
    }
}

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// An operator or integration authenticated with an API token (`Authorization: Bearer …`).
/// Personnel sessions with roles replace this for people (see the access-control issue).
#[derive(Debug)]
pub struct Operator(pub trygg_store::ApiToken);

impl Operator {
    /// The operator as the use cases see them.
    pub fn app(&self) -> trygg_app::orgs::Operator {
        trygg_app::orgs::Operator {
            token_id: self.0.id,
        }
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secret = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("TR-A001"))?;
        match state.store.check_api_token(secret.trim()).await? {
            Some(t) => Ok(Self(t)),
            None => {
                tracing::warn!(
                    event = "security",
                    "API request with an unknown or revoked token"
                );
                Err(ApiError::unauthorized("TR-A002"))
            }
        }
    }
}
