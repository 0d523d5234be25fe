//! The use cases' one error type. It says what kind of failure happened, with a stable
//! failure-site code (`TR-` and four characters) and a detail that is safe to show (no personal
//! data); the HTTP edge maps the kind to a status and renders RFC 9457 problem+json, the CLI prints
//! the detail. Causes meant only for the operator's log travel separately ([`AppError::log`]).

use trygg_audit::Assurance;
use trygg_store::StoreError;

/// What kind of failure: the HTTP edge maps each to one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed (400).
    BadRequest,
    /// Well-formed, but a value breaks a rule (422).
    Invalid,
    /// No such resource, or one the caller may not know exists (404).
    NotFound,
    /// No valid credentials (401).
    Unauthorized,
    /// Authenticated, but not allowed (403).
    Forbidden,
    /// The request conflicts with what exists (409).
    Conflict,
    /// Used up, expired or revoked, and will not come back (410).
    Gone,
    /// Too many attempts; try again after this many seconds (429).
    TooManyRequests(u64),
    /// Too busy now; try again after this many seconds (503), e.g. a full write queue
    /// (issue #8). Nothing was done.
    Unavailable(u64),
    /// Something went wrong inside (500).
    Internal,
}

/// A failed use case.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct AppError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// Stable failure-site code.
    pub code: &'static str,
    /// Short, fixed summary of the problem type.
    pub title: &'static str,
    /// What went wrong in this case, safe to show (no personal data).
    pub detail: String,
    /// For a refusal because the session's assurance is too low: the level needed (PC-AUTHN-3).
    pub required_assurance: Option<Assurance>,
    /// The cause, for the operator's log only.
    pub log: Option<String>,
}

impl AppError {
    /// A new error.
    pub fn new(
        kind: ErrorKind,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            code,
            title,
            detail: detail.into(),
            required_assurance: None,
            log: None,
        }
    }

    /// The request is malformed.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, code, "Bad request", detail)
    }

    /// Well-formed, but a value breaks a rule.
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, "Invalid value", detail)
    }

    /// No such resource, or one the caller may not know exists.
    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, code, "Not found", detail)
    }

    /// No valid credentials.
    pub fn unauthorized(code: &'static str) -> Self {
        Self::new(
            ErrorKind::Unauthorized,
            code,
            "Unauthorized",
            "valid credentials are needed for this request",
        )
    }

    /// Not allowed.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, code, "Forbidden", detail)
    }

    /// Conflicts with what exists.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, "Conflict", detail)
    }

    /// Something went wrong inside; `cause` goes to the log only.
    pub fn internal(code: &'static str, cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            ErrorKind::Internal,
            code,
            "Internal error",
            "Something went wrong. Quote the request id to the operator.",
        );
        e.log = Some(cause.to_string());
        e
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Self::conflict("TR-S409", what),
            StoreError::Invalid(what) => Self::invalid("TR-S422", what),
            StoreError::NotFound(what) => Self::not_found("TR-S404", what),
            StoreError::Overloaded => Self::new(
                ErrorKind::Unavailable(1),
                "TR-S503",
                "Busy",
                "too many writes are waiting for this organisation; nothing was done, try again shortly",
            ),
            StoreError::AllInUse => Self::new(
                ErrorKind::Unavailable(1),
                "TR-S503",
                "Busy",
                "the server has as many organisations open as it may, all in use; nothing was done, try again shortly",
            ),
            other => Self::internal("TR-S500", other),
        }
    }
}
