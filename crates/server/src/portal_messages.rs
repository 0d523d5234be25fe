//! The patient's messages in the portal (issue #13 over issue #12's use cases): one thread with
//! its messages and a reply form, and a form to write to the care team. Health data, so at
//! level *high* only (PC-AUTHN-2): a portal session below it is sent back to the portal, which
//! asks for a step-up. Every read and post is `trygg_app::messages`' with `Who::Patient`, so the
//! patient reaches their own threads only, and each is in their access log. The urgent line is
//! on every view with a compose form (PC-EMERG-1). Forms are same-origin with the session's CSRF
//! token; a refused message keeps what was typed.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use trygg_app::messages::{self as m, Who};
use trygg_audit::Assurance;

use crate::app::AppState;
use crate::auth::ClientIp;
use crate::i18n::Lang;
use crate::pages::{render, Shell};
use crate::portal_pages::{form_caller, no_store, page_caller};

/// The texts of the portal's message pages.
pub struct Texts {
    pub(crate) back: &'static str,
    pub(crate) you: &'static str,
    pub(crate) team: &'static str,
    pub(crate) read: &'static str,
    pub(crate) deleted: &'static str,
    pub(crate) reply: &'static str,
    pub(crate) send: &'static str,
    pub(crate) sent: &'static str,
    pub(crate) new_heading: &'static str,
    pub(crate) subject: &'static str,
    pub(crate) body: &'static str,
}

const NB: Texts = Texts {
    back: "Tilbake til oversikten",
    you: "Du",
    team: "Behandlingsteamet",
    read: "Lest",
    deleted: "Innholdet er slettet etter oppbevaringstiden.",
    reply: "Svar",
    send: "Send",
    sent: "Meldingen er sendt.",
    new_heading: "Skriv til behandlingsteamet",
    subject: "Emne",
    body: "Melding",
};

const NN: Texts = Texts {
    back: "Tilbake til oversikta",
    you: "Du",
    team: "Behandlingsteamet",
    read: "Lese",
    deleted: "Innhaldet er sletta etter oppbevaringstida.",
    reply: "Svar",
    send: "Send",
    sent: "Meldinga er send.",
    new_heading: "Skriv til behandlingsteamet",
    subject: "Emne",
    body: "Melding",
};

const EN: Texts = Texts {
    back: "Back to the overview",
    you: "You",
    team: "Your care team",
    read: "Read",
    deleted: "The content was deleted after its retention period.",
    reply: "Reply",
    send: "Send",
    sent: "The message was sent.",
    new_heading: "Write to your care team",
    subject: "Subject",
    body: "Message",
};

/// The texts in a language.
pub fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Nb => &NB,
        Lang::Nn => &NN,
        Lang::En => &EN,
    }
}

/// One message as the patient sees it.
struct Line {
    mine: bool,
    time: String,
    datetime: String,
    body: Option<String>,
    read: bool,
}

#[derive(Template)]
#[template(path = "portal_thread.html")]
struct ThreadPage {
    shell: Shell,
    t: &'static Texts,
    org: String,
    thread: String,
    subject: String,
    lines: Vec<Line>,
    urgent: &'static str,
    csrf: String,
    sent: bool,
    error: Option<String>,
    draft: String,
}

/// The page's query.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PageQuery {
    lang: Option<String>,
    sent: Option<String>,
}

/// The routes.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/portal/{org}/thread/{thread}",
            get(thread_page).post(reply),
        )
        .route("/portal/{org}/threads", post(start))
}

fn to_portal(org: &str) -> Response {
    no_store(Redirect::to(&format!("/portal/{org}")).into_response())
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Renders a thread for `caller` (reading it is logged and marks the team's messages read).
#[allow(clippy::too_many_arguments)]
async fn show(
    state: &AppState,
    caller: &m::PatientCaller,
    csrf: String,
    org: &str,
    thread: uuid::Uuid,
    lang: Lang,
    sent: bool,
    refused: Option<(String, String)>,
) -> Response {
    let out =
        match m::read_thread(state, Who::Patient(caller), org, thread, lang, state.now()).await {
            Ok(o) => o,
            Err(e) => return crate::error::ApiError::from(e).into_response(),
        };
    let t = texts(lang);
    let (error, draft) = refused.unzip();
    let page = ThreadPage {
        shell: Shell::new(lang, &format!("/portal/{org}/thread/{thread}")),
        t,
        org: org.to_owned(),
        thread: thread.to_string(),
        subject: out.thread.subject.unwrap_or_else(|| "–".to_owned()),
        lines: out
            .messages
            .into_iter()
            .map(|msg| Line {
                mine: msg.from_patient,
                time: trygg_core::words::when(msg.created_at, lang, state.config.zone()),
                datetime: rfc3339(msg.created_at),
                body: msg.body,
                read: msg.read_at.is_some(),
            })
            .collect(),
        urgent: out.notices.emergency,
        csrf,
        sent,
        error,
        draft: draft.unwrap_or_default(),
    };
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    no_store(render(&page, status))
}

/// `GET /portal/{org}/thread/{thread}`: one of the patient's threads, at high.
async fn thread_page(
    State(state): State<AppState>,
    Path((org, thread)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
    ip: ClientIp,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    let (caller, csrf) = match page_caller(&state, &org, ip, &headers).await {
        Ok(Some((c, csrf))) if c.assurance >= Assurance::High => (c, csrf),
        Ok(_) => return to_portal(&org),
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let Ok(thread) = uuid::Uuid::try_parse(&thread) else {
        return to_portal(&org);
    };
    show(
        &state,
        &caller,
        csrf,
        &org,
        thread,
        lang,
        q.sent.is_some(),
        None,
    )
    .await
}

/// The reply form.
#[derive(Debug, serde::Deserialize)]
pub struct ReplyForm {
    body: String,
    csrf: String,
    lang: Option<String>,
}

/// `POST /portal/{org}/thread/{thread}`: the patient's reply; back to the thread
/// (post/redirect/get), or the thread with the refusal and what was typed.
async fn reply(
    State(state): State<AppState>,
    Path((org, thread)): Path<(String, String)>,
    ip: ClientIp,
    headers: HeaderMap,
    axum::Form(f): axum::Form<ReplyForm>,
) -> Response {
    let caller = match form_caller(&state, &org, ip, &headers, &f.csrf).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let lang = Lang::from_query(f.lang.as_deref());
    let Ok(thread) = uuid::Uuid::try_parse(&thread) else {
        return to_portal(&org);
    };
    let input = m::MessageIn {
        body: f.body.clone(),
        attachments: Vec::new(),
    };
    match m::post(
        &state,
        Who::Patient(&caller),
        &org,
        thread,
        input,
        state.now(),
    )
    .await
    {
        Ok(_) => no_store(
            Redirect::to(&format!(
                "/portal/{org}/thread/{thread}?lang={}&sent=1",
                lang.tag()
            ))
            .into_response(),
        ),
        Err(e) if e.kind == trygg_app::ErrorKind::Invalid => {
            let refused = Some((e.detail, f.body));
            show(&state, &caller, f.csrf, &org, thread, lang, false, refused).await
        }
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

/// The new-message form.
#[derive(Debug, serde::Deserialize)]
pub struct StartForm {
    subject: String,
    body: String,
    csrf: String,
    lang: Option<String>,
}

/// `POST /portal/{org}/threads`: the patient writes to the care team; on to the new thread.
async fn start(
    State(state): State<AppState>,
    Path(org): Path<String>,
    ip: ClientIp,
    headers: HeaderMap,
    axum::Form(f): axum::Form<StartForm>,
) -> Response {
    let caller = match form_caller(&state, &org, ip, &headers, &f.csrf).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let lang = Lang::from_query(f.lang.as_deref());
    let input = m::ThreadIn {
        subject: f.subject,
        body: f.body,
        attachments: Vec::new(),
    };
    let patient = caller.patient;
    match m::start_thread(
        &state,
        Who::Patient(&caller),
        &org,
        patient,
        input,
        state.now(),
    )
    .await
    {
        Ok(p) => no_store(
            Redirect::to(&format!(
                "/portal/{org}/thread/{}?lang={}&sent=1",
                p.thread,
                lang.tag()
            ))
            .into_response(),
        ),
        Err(e) if e.kind == trygg_app::ErrorKind::Invalid => no_store(
            Redirect::to(&format!(
                "/portal/{org}?lang={}&error=message#messages",
                lang.tag()
            ))
            .into_response(),
        ),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}
