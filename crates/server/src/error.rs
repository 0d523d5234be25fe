//! The one mapping from errors to HTTP: RFC 9457 problem details (`application/problem+json`).
//!
//! Every failure site has a stable `code` (`TR-` and four characters) that operators can search
//! for. What a person sees (`title`, `detail`) is kept apart from what is logged: a 5xx says only
//! "Something went wrong" and the request id, while the cause is logged inside the request's span
//! with no personal data (store errors never carry it).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use trygg_store::StoreError;

/// The content type of a problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An API error, rendered as problem+json.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable failure-site code.
    pub code: &'static str,
    /// Short, fixed summary of the problem type.
    pub title: &'static str,
    /// What went wrong in this case, safe to show (no personal data).
    pub detail: String,
    /// The cause, for the log only.
    log: Option<String>,
    /// Extension members (RFC 9457 section 3.2), e.g. `required_assurance`.
    extensions: serde_json::Map<String, serde_json::Value>,
    /// For a 429: the seconds to wait, sent as `Retry-After` (RFC 9110 section 10.2.3).
    retry_after: Option<u64>,
}

/// The body of a problem response (RFC 9457), as documented in the OpenAPI document.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this case.
    pub detail: String,
    /// Stable failure-site code.
    pub code: String,
    /// Extension members of this problem type, e.g. `required_assurance` on a 403 refused for
    /// the login's assurance level.
    #[serde(flatten, default, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(value_type = Object)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    /// A new error.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            title,
            detail: detail.into(),
            log: None,
            extensions: serde_json::Map::new(),
            retry_after: None,
        }
    }

    /// Adds an extension member to the problem (RFC 9457 section 3.2).
    pub fn with_extension(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extensions.insert(name.to_owned(), value.into());
        self
    }

    /// An extension member, if set (e.g. `required_assurance`).
    pub fn extension(&self, name: &str) -> Option<&serde_json::Value> {
        self.extensions.get(name)
    }

    /// 400: the request is malformed.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "Bad request", detail)
    }

    /// 422: well-formed, but a value breaks a rule.
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            "Invalid value",
            detail,
        )
    }

    /// 404: no such resource, or one the caller may not know exists.
    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, "Not found", detail)
    }

    /// 401: no valid credentials.
    pub fn unauthorized(code: &'static str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code,
            "Unauthorized",
            "valid credentials are needed for this request",
        )
    }

    /// 500 with a cause for the log.
    pub fn internal(code: &'static str, cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code,
            "Internal error",
            "Something went wrong. Quote the request id to the operator.",
        );
        e.log = Some(cause.to_string());
        e
    }

    /// Renders a problem response for a status alone (used to turn framework errors into
    /// problems).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, title, detail) = match status {
            StatusCode::NOT_FOUND => ("TR-H404", "Not found", "no such resource"),
            StatusCode::METHOD_NOT_ALLOWED => (
                "TR-H405",
                "Method not allowed",
                "this resource does not accept that method",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => (
                "TR-H413",
                "Payload too large",
                "the request body is larger than this server accepts",
            ),
            StatusCode::REQUEST_TIMEOUT => {
                ("TR-H408", "Request timeout", "the request took too long")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "TR-H415",
                "Unsupported media type",
                "send the body as application/json",
            ),
            s if s.is_server_error() => (
                "TR-H500",
                "Internal error",
                "Something went wrong. Quote the request id to the operator.",
            ),
            _ => ("TR-H400", "Bad request", "the request could not be handled"),
        };
        Self::new(status, code, title, detail)
    }
}

impl From<trygg_app::AppError> for ApiError {
    fn from(e: trygg_app::AppError) -> Self {
        use trygg_app::ErrorKind;
        let status = match e.kind {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Gone => StatusCode::GONE,
            ErrorKind::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut out = Self::new(status, e.code, e.title, e.detail);
        out.log = e.log;
        if let Some(level) = e.required_assurance {
            // PC-AUTHN-3: the 403 names the level needed.
            out = out.with_extension("required_assurance", level.code());
        }
        if let ErrorKind::TooManyRequests(secs) | ErrorKind::Unavailable(secs) = e.kind {
            out = out.with_extension("retry_after", secs);
            out.retry_after = Some(secs);
        }
        out
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Overloaded | StoreError::AllInUse => trygg_app::AppError::from(e).into(),
            StoreError::Conflict(what) => {
                Self::new(StatusCode::CONFLICT, "TR-S409", "Conflict", what)
            }
            StoreError::Invalid(what) => Self::invalid("TR-S422", what),
            StoreError::NotFound(what) => Self::not_found("TR-S404", what),
            other => Self::internal("TR-S500", other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.log {
            tracing::error!(code = self.code, cause = %cause, "request failed");
        }
        let body = Problem {
            type_: format!("/problems/{}", self.code.to_ascii_lowercase()),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_owned(),
            extensions: self.extensions,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut res = (self.status, bytes).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_use_case_429_carries_retry_after() {
        let e = trygg_app::AppError::new(
            trygg_app::ErrorKind::TooManyRequests(7),
            "TR-L007",
            "Too many attempts",
            "too many failed attempts; try again in 7 seconds",
        );
        let res = ApiError::from(e).into_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[header::RETRY_AFTER], "7");
        let gone = trygg_app::AppError::new(trygg_app::ErrorKind::Gone, "TR-L009", "Gone", "x");
        let res = ApiError::from(gone).into_response();
        assert_eq!(res.status(), StatusCode::GONE);
        assert!(res.headers().get(header::RETRY_AFTER).is_none());
    }

    #[test]
    fn a_full_write_queue_is_a_503_with_retry_after() {
        let res = ApiError::from(StoreError::Overloaded).into_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[header::RETRY_AFTER], "1");
        assert_eq!(res.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }

    #[test]
    fn every_open_organisation_in_use_is_a_503_with_retry_after() {
        // Issue #18: the bound on open organisations reached, none free within the wait.
        let res = ApiError::from(StoreError::AllInUse).into_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[header::RETRY_AFTER], "1");
        assert_eq!(res.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }
}
