//! HTTP handlers for secure message threads, their attachments, the follow-up tasks of
//! personnel, and the SMS gateway's inbound replies (issue #12); the use cases, with the access
//! rule and the audit entries, are in [`trygg_app::messages`] and [`trygg_app::notices`].
//! Attachments are served inline with `Cache-Control: no-store` (PC-AVAIL-1). The patient's side
//! of threads is served by the portal (issue #13) through the same use cases.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use trygg_app::messages::{self, MessageIn, Posted, ThreadIn, ThreadOut, ThreadsOut, Who};
use trygg_core::Lang;
use uuid::Uuid;

use crate::app::{ApiJson, AppState};
use crate::auth::Principal;
use crate::error::ApiError;

/// An id from the path; anything else is "no such …".
fn id(s: &str, code: &'static str, what: &'static str) -> Result<Uuid, trygg_app::error::AppError> {
    Uuid::parse_str(s).map_err(|_| trygg_app::error::AppError::not_found(code, what))
}

/// The language of the texts every view carries.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LangQuery {
    /// `nb` (default), `nn` or `en`.
    #[serde(default)]
    pub lang: Option<String>,
}

/// A patient's threads, with the urgent line and the channel statement (`health-read`).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/patients/{patient}/threads",
    params(("org" = String, Path, description = "organisation short name"), ("patient" = Uuid, Path, description = "patient id"), LangQuery),
    responses((status = 200, body = ThreadsOut), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn threads(
    State(state): State<AppState>,
    p: Principal,
    Path((org, patient)): Path<(String, String)>,
    Query(q): Query<LangQuery>,
) -> Result<ApiJson<ThreadsOut>, ApiError> {
    let patient = id(&patient, "TR-M010", "no such patient")?;
    let caller = p.caller();
    let lang = Lang::from_query(q.lang.as_deref());
    Ok(ApiJson(
        messages::threads(
            &state,
            Who::Person(&caller),
            &org,
            patient,
            lang,
            state.now(),
        )
        .await?,
    ))
}

/// Starts a thread with a patient (`health-write`); the patient gets a "new message" notice if
/// they consented to one.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/patients/{patient}/threads", request_body = ThreadIn,
    params(("org" = String, Path, description = "organisation short name"), ("patient" = Uuid, Path, description = "patient id")),
    responses((status = 201, body = Posted), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn start_thread(
    State(state): State<AppState>,
    p: Principal,
    Path((org, patient)): Path<(String, String)>,
    ApiJson(input): ApiJson<ThreadIn>,
) -> Result<(StatusCode, ApiJson<Posted>), ApiError> {
    let patient = id(&patient, "TR-M010", "no such patient")?;
    let caller = p.caller();
    let out = messages::start_thread(
        &state,
        Who::Person(&caller),
        &org,
        patient,
        input,
        state.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(out)))
}

/// Reads a thread (`health-read`, logged); the patient's unread messages get their read receipt.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/threads/{thread}",
    params(("org" = String, Path, description = "organisation short name"), ("thread" = Uuid, Path, description = "thread id"), LangQuery),
    responses((status = 200, body = ThreadOut), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn read_thread(
    State(state): State<AppState>,
    p: Principal,
    Path((org, thread)): Path<(String, String)>,
    Query(q): Query<LangQuery>,
) -> Result<ApiJson<ThreadOut>, ApiError> {
    let thread = id(&thread, "TR-T004", "no such thread")?;
    let caller = p.caller();
    let lang = Lang::from_query(q.lang.as_deref());
    Ok(ApiJson(
        messages::read_thread(
            &state,
            Who::Person(&caller),
            &org,
            thread,
            lang,
            state.now(),
        )
        .await?,
    ))
}

/// Posts a message in a thread (`health-write`).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/threads/{thread}/messages", request_body = MessageIn,
    params(("org" = String, Path, description = "organisation short name"), ("thread" = Uuid, Path, description = "thread id")),
    responses((status = 201, body = Posted), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn post(
    State(state): State<AppState>,
    p: Principal,
    Path((org, thread)): Path<(String, String)>,
    ApiJson(input): ApiJson<MessageIn>,
) -> Result<(StatusCode, ApiJson<Posted>), ApiError> {
    let thread = id(&thread, "TR-T004", "no such thread")?;
    let caller = p.caller();
    let out = messages::post(
        &state,
        Who::Person(&caller),
        &org,
        thread,
        input,
        state.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(out)))
}

/// An attachment, shown inline in the browser and never cached (PC-AVAIL-1): `health-read`,
/// logged.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/attachments/{attachment}",
    params(("org" = String, Path, description = "organisation short name"), ("attachment" = Uuid, Path, description = "attachment id")),
    responses((status = 200, description = "the attachment's content"), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn attachment(
    State(state): State<AppState>,
    p: Principal,
    Path((org, attachment)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let attachment = id(&attachment, "TR-T005", "no such attachment")?;
    let caller = p.caller();
    let a =
        messages::attachment(&state, Who::Person(&caller), &org, attachment, state.now()).await?;
    let mut headers = HeaderMap::new();
    // The media type is one of four stored by Trygg itself, never the sender's string.
    let ct = HeaderValue::from_str(&a.media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, ct);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let encoded: String = url_escape(&a.name);
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename*=UTF-8''{encoded}")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok((StatusCode::OK, headers, a.data).into_response())
}

/// RFC 5987 percent-encoding of a file name.
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Files a message to the journal (`health-write`): it is then immutable and kept
/// (PC-RIGHTS-2, PC-STORE-1).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/messages/{message}/file",
    params(("org" = String, Path, description = "organisation short name"), ("message" = Uuid, Path, description = "message id")),
    responses((status = 204), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn file(
    State(state): State<AppState>,
    p: Principal,
    Path((org, message)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let message = id(&message, "TR-T006", "no such message")?;
    let caller = p.caller();
    messages::file(&state, &caller, &org, message, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which tasks to list.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TaskQuery {
    /// Done ones too.
    #[serde(default)]
    pub all: Option<bool>,
}

/// The follow-up tasks: patients to phone or write to (an unread message, a notice that could
/// not be delivered). `patient-read`, logged.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/tasks",
    params(("org" = String, Path, description = "organisation short name"), TaskQuery),
    responses((status = 200, body = [Object]), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn tasks(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
    Query(q): Query<TaskQuery>,
) -> Result<ApiJson<Vec<trygg_store::messages::TaskRow>>, ApiError> {
    let caller = p.caller();
    Ok(ApiJson(
        messages::tasks(&state, &caller, &org, q.all.unwrap_or(false), state.now()).await?,
    ))
}

/// Marks a task done (`patient-read` on its patient).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/tasks/{task}/done",
    params(("org" = String, Path, description = "organisation short name"), ("task" = Uuid, Path, description = "task id")),
    responses((status = 200, body = Object), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn finish_task(
    State(state): State<AppState>,
    p: Principal,
    Path((org, task)): Path<(String, String)>,
) -> Result<ApiJson<trygg_store::messages::TaskRow>, ApiError> {
    let task = id(&task, "TR-T007", "no such task")?;
    let caller = p.caller();
    Ok(ApiJson(
        messages::finish_task(&state, &caller, &org, task, state.now()).await?,
    ))
}

/// An inbound SMS from the gateway, signed like a delivery report (`X-Trygg-Dlr-Signature`):
/// `{from, text, key}`. JA or NEI to an appointment change confirms or cancels it; anything else
/// gets one automatic answer. The text is never stored.
#[utoipa::path(post, path = "/api/v1/notices/inbound-sms",
    request_body(content = Object, description = "The gateway's inbound message"),
    responses((status = 204), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn inbound_sms(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let signature = headers
        .get("x-trygg-dlr-signature")
        .and_then(|v| v.to_str().ok());
    trygg_app::notices::inbound_sms(&state, &body, signature).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_names_are_escaped() {
        assert_eq!(super::url_escape("svar æ.pdf"), "svar%20%C3%A6.pdf");
        assert_eq!(super::url_escape("a\";b"), "a%22%3Bb");
    }
}
