//! The personnel's messages page (issue #12): a patient's threads, one thread with its messages,
//! read receipts, attachments and the compose form, and the follow-up tasks (patients to phone
//! or write to). Every compose view carries the urgent line (PC-EMERG-1: urgent matters are
//! phoned, never left to a message). The page calls the same use cases as the API, so the access
//! rule and the audit entries are the API's; its forms are sent to the API by
//! `web/static/messages.js` with the session's CSRF token. The patient's side is the portal's
//! (issue #13).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use trygg_app::messages::{self as m, Who};
use uuid::Uuid;

use crate::access::Caller;
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::{render, Shell};

/// The texts of the messages page.
pub struct MessageStrings {
    title: &'static str,
    tasks: &'static str,
    no_tasks: &'static str,
    reason: &'static str,
    patient: &'static str,
    created: &'static str,
    done: &'static str,
    threads: &'static str,
    no_threads: &'static str,
    unread: &'static str,
    new_thread: &'static str,
    subject: &'static str,
    body: &'static str,
    send: &'static str,
    from_patient: &'static str,
    from_personnel: &'static str,
    read: &'static str,
    not_read: &'static str,
    filed: &'static str,
    file: &'static str,
    deleted: &'static str,
    expires: &'static str,
    attachments: &'static str,
    back: &'static str,
    forbidden: &'static str,
}

const NB: MessageStrings = MessageStrings {
    title: "Meldinger",
    tasks: "Oppfølging: ring eller skriv brev",
    no_tasks: "Ingen åpne oppgaver.",
    reason: "Årsak",
    patient: "Pasient",
    created: "Opprettet",
    done: "Utført",
    threads: "Samtaler",
    no_threads: "Ingen samtaler.",
    unread: "uleste",
    new_thread: "Ny samtale",
    subject: "Emne",
    body: "Melding",
    send: "Send",
    from_patient: "Pasienten",
    from_personnel: "Helsepersonell",
    read: "Lest",
    not_read: "Ikke lest ennå",
    filed: "Ført i journal",
    file: "Før i journal",
    deleted: "Slettet etter lagringstiden",
    expires: "Slettes",
    attachments: "Vedlegg",
    back: "Tilbake til samtalene",
    forbidden:
        "Du har ikke tilgang til denne pasientens meldinger (det krever et behandlingsforhold).",
};

const NN: MessageStrings = MessageStrings {
    title: "Meldingar",
    tasks: "Oppfølging: ring eller skriv brev",
    no_tasks: "Ingen opne oppgåver.",
    reason: "Årsak",
    patient: "Pasient",
    created: "Oppretta",
    done: "Utført",
    threads: "Samtalar",
    no_threads: "Ingen samtalar.",
    unread: "ulesne",
    new_thread: "Ny samtale",
    subject: "Emne",
    body: "Melding",
    send: "Send",
    from_patient: "Pasienten",
    from_personnel: "Helsepersonell",
    read: "Lesen",
    not_read: "Ikkje lesen enno",
    filed: "Ført i journal",
    file: "Før i journal",
    deleted: "Sletta etter lagringstida",
    expires: "Blir sletta",
    attachments: "Vedlegg",
    back: "Tilbake til samtalane",
    forbidden:
        "Du har ikkje tilgang til meldingane til denne pasienten (det krev eit behandlingsforhold).",
};

const EN: MessageStrings = MessageStrings {
    title: "Messages",
    tasks: "Follow-up: phone or write a letter",
    no_tasks: "No open tasks.",
    reason: "Reason",
    patient: "Patient",
    created: "Created",
    done: "Done",
    threads: "Conversations",
    no_threads: "No conversations.",
    unread: "unread",
    new_thread: "New conversation",
    subject: "Subject",
    body: "Message",
    send: "Send",
    from_patient: "The patient",
    from_personnel: "Health personnel",
    read: "Read",
    not_read: "Not read yet",
    filed: "Filed in the record",
    file: "File in the record",
    deleted: "Deleted after its storage time",
    expires: "Deleted",
    attachments: "Attachments",
    back: "Back to the conversations",
    forbidden: "You have no access to this patient's messages (it needs a care relationship).",
};

fn strings(lang: Lang) -> &'static MessageStrings {
    lang.pick(&NB, &NN, &EN)
}

/// One message as shown.
struct MessageView {
    id: String,
    from_patient: bool,
    at: String,
    body: Option<String>,
    read_at: Option<String>,
    filed: bool,
    deleted: bool,
    expires: String,
    attachments: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "messages.html")]
struct MessagesPage {
    shell: Shell,
    t: &'static MessageStrings,
    org: String,
    csrf: String,
    emergency: &'static str,
    /// The follow-up tasks (no patient chosen).
    tasks: Option<Vec<trygg_store::messages::TaskRow>>,
    /// The patient's threads: (id, subject, last, unread from patient).
    patient: Option<String>,
    threads: Vec<(String, String, String, u32)>,
    /// One thread.
    thread: Option<(String, String)>,
    messages: Vec<MessageView>,
    forbidden: bool,
}

/// What the page shows.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    lang: Option<String>,
    patient: Option<String>,
    thread: Option<String>,
}

/// The messages page.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/personell/meldinger", get(page))
        .route(
            "/static/messages.js",
            get(|| async {
                crate::pages::asset(
                    include_str!("../../../web/static/messages.js"),
                    "text/javascript; charset=utf-8",
                )
            }),
        )
}

fn time_text(t: time::OffsetDateTime, lang: Lang, zone: trygg_core::words::Zone) -> String {
    trygg_core::words::when(t, lang, zone)
}

async fn page(
    State(state): State<AppState>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
    principal: Result<Principal, ApiError>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let lang = Lang::from_query(q.lang.as_deref());
    let Ok(p) = principal else {
        return Redirect::to(&format!("/personell?lang={}", lang.tag())).into_response();
    };
    let caller = Caller::from(&p);
    let org = caller.org.to_string();
    let now = state.now();
    let zone = state.config.zone();
    let core_lang = match lang {
        Lang::Nb => trygg_core::Lang::Nb,
        Lang::Nn => trygg_core::Lang::Nn,
        Lang::En => trygg_core::Lang::En,
    };
    let mut page = MessagesPage {
        shell: Shell::signed_in(&state, &p, lang, "/personell/meldinger").await,
        t: strings(lang),
        org: org.clone(),
        csrf: p.csrf_token().to_owned(),
        emergency: trygg_core::message::emergency_notice(core_lang),
        tasks: None,
        patient: None,
        threads: Vec::new(),
        thread: None,
        messages: Vec::new(),
        forbidden: false,
    };
    let parse = |s: &Option<String>| s.as_deref().and_then(|s| Uuid::parse_str(s).ok());
    let result: Result<(), ApiError> = async {
        if let Some(thread) = parse(&q.thread) {
            let out =
                m::read_thread(&state, Who::Person(&caller), &org, thread, core_lang, now).await?;
            page.patient = Some(out.thread.patient.to_string());
            page.thread = Some((
                out.thread.id.to_string(),
                out.thread.subject.clone().unwrap_or_default(),
            ));
            page.messages = out
                .messages
                .into_iter()
                .map(|x| MessageView {
                    id: x.id.to_string(),
                    from_patient: x.from_patient,
                    at: time_text(x.created_at, lang, zone),
                    body: x.body,
                    read_at: x.read_at.map(|t| time_text(t, lang, zone)),
                    filed: x.filed_at.is_some(),
                    deleted: x.deleted_at.is_some(),
                    expires: time_text(x.expires_at, lang, zone),
                    attachments: x
                        .attachments
                        .into_iter()
                        .filter_map(|a| a.name.map(|n| (a.id.to_string(), n)))
                        .collect(),
                })
                .collect();
        } else if let Some(patient) = parse(&q.patient) {
            let out =
                m::threads(&state, Who::Person(&caller), &org, patient, core_lang, now).await?;
            page.patient = Some(patient.to_string());
            page.threads = out
                .threads
                .into_iter()
                .map(|t| {
                    (
                        t.id.to_string(),
                        t.subject.unwrap_or_default(),
                        time_text(t.last_at, lang, zone),
                        t.unread_from_patient,
                    )
                })
                .collect();
        } else {
            page.tasks = Some(m::tasks(&state, &caller, &org, false, now).await?);
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => render(&page, StatusCode::OK),
        Err(e) if e.status == StatusCode::FORBIDDEN => {
            if let Some(to) = crate::auth::step_up(&state.config, &e, &org) {
                return to;
            }
            page.forbidden = true;
            render(&page, StatusCode::FORBIDDEN)
        }
        Err(e) => e.into_response(),
    }
}
