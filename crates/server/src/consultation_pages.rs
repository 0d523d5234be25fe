//! The consultation page a participant opens with their invitation link, `/join/<token>`
//! (issue #10, VC-INFO-1..3): the pre-join information (the organisation's text about video
//! consultation and data processing, the kind, with a group flagged, the planned participants by
//! role, the time), the acknowledgement, a camera and microphone check, and then, driven by
//! `/static/consultation.js` over the signalling socket, the waiting room, the call with its
//! roster (and, for a clinician, the waiting list with admit and deny), and the unmistakable
//! ended screen. The token is in the path only to open the page (the span shows `/join/…`); the
//! script sends it in the socket's first frame, never in a URL.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use trygg_app::rooms;
use trygg_core::Lang;

use crate::app::AppState;
use crate::pages::{render, LangQuery, Shell};

/// The page's own texts, in each language (each field is the text its name says).
#[allow(missing_docs)]
pub struct Texts {
    pub title: &'static str,
    pub invalid_title: &'static str,
    pub invalid_text: &'static str,
    pub with: &'static str,
    pub when: &'static str,
    pub minutes: &'static str,
    pub planned: &'static str,
    pub group_flag: &'static str,
    pub info_heading: &'static str,
    pub acknowledge: &'static str,
    pub personnel_hint: &'static str,
    pub check_heading: &'static str,
    pub check_button: &'static str,
    pub check_ok: &'static str,
    pub check_failed: &'static str,
    pub enter: &'static str,
    pub waiting: &'static str,
    pub roster_heading: &'static str,
    pub waiting_heading: &'static str,
    pub nobody_waiting: &'static str,
    pub admit: &'static str,
    pub deny: &'static str,
    pub assurance_label: &'static str,
    pub reason_label: &'static str,
    pub lock: &'static str,
    pub unlock: &'static str,
    pub leave: &'static str,
    pub end: &'static str,
    pub end_confirm: &'static str,
    pub ended_title: &'static str,
    pub ended_text: &'static str,
    pub denied_title: &'static str,
    pub left_title: &'static str,
    pub reconnecting: &'static str,
    pub refused: &'static str,
    pub needs_js: &'static str,
}

const NB: Texts = Texts {
    title: "Videokonsultasjon",
    invalid_title: "Invitasjonen virker ikke",
    invalid_text: "Lenken er ikke gyldig. Den kan være utløpt, trukket tilbake eller feilskrevet, eller konsultasjonen er over. Ta kontakt med den som inviterte deg for en ny lenke.",
    with: "hos",
    when: "Planlagt",
    minutes: "minutter",
    planned: "Planlagte deltakere",
    group_flag: "Dette er en gruppekonsultasjon: flere pasienter deltar, og de ser hverandres navn.",
    info_heading: "Informasjon før du går inn",
    acknowledge: "Jeg har lest informasjonen",
    personnel_hint: "Helsepersonell: logg inn først, så slipper du rett inn som vert.",
    check_heading: "Test kamera og mikrofon",
    check_button: "Test kamera og mikrofon",
    check_ok: "Kamera og mikrofon virker.",
    check_failed: "Fikk ikke tilgang til kamera eller mikrofon. Sjekk tillatelsene i nettleseren.",
    enter: "Gå til venterommet",
    waiting: "Du er på venterommet. Du slipper inn når den som leder samtalen lar deg komme inn.",
    roster_heading: "Deltakere nå",
    waiting_heading: "På venterommet",
    nobody_waiting: "Ingen venter.",
    admit: "Slipp inn",
    deny: "Avvis",
    assurance_label: "Identitet bekreftet ved",
    reason_label: "Grunn til avvisning",
    lock: "Lås rommet",
    unlock: "Lås opp rommet",
    leave: "Forlat",
    end: "Avslutt for alle",
    end_confirm: "Avslutte konsultasjonen for alle deltakerne?",
    ended_title: "Konsultasjonen er avsluttet",
    ended_text: "Samtalen er over for alle. Ingenting av lyd eller bilde er lagret. Du kan lukke vinduet.",
    denied_title: "Du ble ikke sluppet inn",
    left_title: "Du har forlatt konsultasjonen",
    reconnecting: "Forbindelsen ble brutt. Kobler til igjen …",
    refused: "Handlingen ble avvist",
    needs_js: "Videokonsultasjonen trenger JavaScript.",
};

const NN: Texts = Texts {
    title: "Videokonsultasjon",
    invalid_title: "Invitasjonen verkar ikkje",
    invalid_text: "Lenkja er ikkje gyldig. Ho kan vere utgått, trekt tilbake eller feilskriven, eller konsultasjonen er over. Ta kontakt med den som inviterte deg for ei ny lenkje.",
    with: "hos",
    when: "Planlagd",
    minutes: "minutt",
    planned: "Planlagde deltakarar",
    group_flag: "Dette er ei gruppekonsultasjon: fleire pasientar deltek, og dei ser namna til kvarandre.",
    info_heading: "Informasjon før du går inn",
    acknowledge: "Eg har lese informasjonen",
    personnel_hint: "Helsepersonell: logg inn først, så slepp du rett inn som vert.",
    check_heading: "Test kamera og mikrofon",
    check_button: "Test kamera og mikrofon",
    check_ok: "Kamera og mikrofon verkar.",
    check_failed: "Fekk ikkje tilgang til kamera eller mikrofon. Sjekk løyva i nettlesaren.",
    enter: "Gå til venterommet",
    waiting: "Du er på venterommet. Du slepp inn når den som leier samtalen lèt deg kome inn.",
    roster_heading: "Deltakarar no",
    waiting_heading: "På venterommet",
    nobody_waiting: "Ingen ventar.",
    admit: "Slepp inn",
    deny: "Avvis",
    assurance_label: "Identitet stadfesta ved",
    reason_label: "Grunn til avvising",
    lock: "Lås rommet",
    unlock: "Lås opp rommet",
    leave: "Forlat",
    end: "Avslutt for alle",
    end_confirm: "Avslutte konsultasjonen for alle deltakarane?",
    ended_title: "Konsultasjonen er avslutta",
    ended_text: "Samtalen er over for alle. Ingenting av lyd eller bilete er lagra. Du kan lukke vindauget.",
    denied_title: "Du vart ikkje sleppt inn",
    left_title: "Du har forlate konsultasjonen",
    reconnecting: "Sambandet vart brote. Koplar til igjen …",
    refused: "Handlinga vart avvist",
    needs_js: "Videokonsultasjonen treng JavaScript.",
};

const EN: Texts = Texts {
    title: "Video consultation",
    invalid_title: "The invitation does not work",
    invalid_text: "The link is not valid. It may have expired, been revoked or mistyped, or the consultation is over. Contact whoever invited you for a new link.",
    with: "at",
    when: "Planned",
    minutes: "minutes",
    planned: "Planned participants",
    group_flag: "This is a group consultation: several patients take part, and they see each other's names.",
    info_heading: "Information before you enter",
    acknowledge: "I have read the information",
    personnel_hint: "Health personnel: sign in first, and you enter at once as host.",
    check_heading: "Test camera and microphone",
    check_button: "Test camera and microphone",
    check_ok: "Camera and microphone work.",
    check_failed: "Could not use the camera or microphone. Check the browser's permissions.",
    enter: "Go to the waiting room",
    waiting: "You are in the waiting room. You will be let in when the person leading the consultation admits you.",
    roster_heading: "Taking part now",
    waiting_heading: "In the waiting room",
    nobody_waiting: "Nobody is waiting.",
    admit: "Admit",
    deny: "Deny",
    assurance_label: "Identity confirmed by",
    reason_label: "Reason for denying",
    lock: "Lock the room",
    unlock: "Unlock the room",
    leave: "Leave",
    end: "End for everyone",
    end_confirm: "End the consultation for every participant?",
    ended_title: "The consultation has ended",
    ended_text: "The conversation is over for everyone. Nothing of the sound or picture was stored. You may close this window.",
    denied_title: "You were not let in",
    left_title: "You have left the consultation",
    reconnecting: "The connection was lost. Reconnecting …",
    refused: "The action was refused",
    needs_js: "The video consultation needs JavaScript.",
};

/// The texts in `lang`.
pub fn texts(lang: Lang) -> &'static Texts {
    lang.pick(&NB, &NN, &EN)
}

/// A role's name in `lang`.
pub fn role_name(lang: Lang, role: &str) -> &'static str {
    match role {
        "patient" => lang.pick("Pasient", "Pasient", "Patient"),
        "clinician" => lang.pick("Behandler", "Behandlar", "Clinician"),
        "interpreter" => lang.pick("Tolk", "Tolk", "Interpreter"),
        "companion" => lang.pick(
            "Pårørende/ledsager",
            "Pårørande/følgje",
            "Relative/companion",
        ),
        _ => lang.pick("Annet personell", "Anna personell", "Other personnel"),
    }
}

/// A reason for denying entry, in `lang` (`trygg_core::signalling::DENY_REASONS`).
pub fn reason_name(lang: Lang, code: &str) -> &'static str {
    match code {
        "identity-not-confirmed" => lang.pick(
            "Identiteten kunne ikke bekreftes",
            "Identiteten kunne ikkje stadfestast",
            "The identity could not be confirmed",
        ),
        "wrong-person" => lang.pick(
            "Ikke den som var invitert",
            "Ikkje den som var invitert",
            "Not the person invited",
        ),
        "not-now" => lang.pick(
            "Ikke nå – du får ny tid",
            "Ikkje no – du får ny tid",
            "Not now – you will get a new time",
        ),
        _ => lang.pick("Annen grunn", "Anna grunn", "Another reason"),
    }
}

/// An identity assurance's name in `lang` (VC-AUTH-1/2).
pub fn assurance_name(lang: Lang, code: &str) -> &'static str {
    match code {
        "eid-high" => lang.pick("eID, nivå høyt", "eID, nivå høgt", "eID, level high"),
        "eid-substantial" => lang.pick(
            "eID, nivå betydelig",
            "eID, nivå betydeleg",
            "eID, level substantial",
        ),
        "id-document-shown" => lang.pick(
            "Viste legitimasjon",
            "Viste legitimasjon",
            "ID document shown",
        ),
        "known-visually" => lang.pick(
            "Kjent fra før (gjenkjent på video)",
            "Kjend frå før (attkjend på video)",
            "Known by sight",
        ),
        _ => lang.pick(
            "Virksomhetens enhet",
            "Verksemda si eining",
            "Organisation's device",
        ),
    }
}

#[derive(Template)]
#[template(path = "join.html")]
struct JoinPage {
    shell: Shell,
    t: &'static Texts,
    p: rooms::Preview,
    start: String,
    planned: Vec<&'static str>,
    group: bool,
    token: String,
    roles_json: String,
    assurances: Vec<(&'static str, &'static str)>,
    reasons: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "join_invalid.html")]
struct InvalidPage {
    shell: Shell,
    t: &'static Texts,
}

/// The routes: the participant's page, the personnel's list, and their scripts.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/join/{token}", get(join))
        .route("/personell/konsultasjoner", get(planner))
        .route("/static/consultation.js", get(script))
        .route("/static/planner.js", get(planner_script))
}

async fn planner_script() -> Response {
    crate::pages::asset(
        include_str!("../../../web/static/planner.js"),
        "text/javascript; charset=utf-8",
    )
}

/// The personnel's consultation page's texts.
#[allow(missing_docs)]
pub struct PlannerTexts {
    pub title: &'static str,
    pub upcoming: &'static str,
    pub none: &'static str,
    pub plan_heading: &'static str,
    pub patient_label: &'static str,
    pub patient_help: &'static str,
    pub interpreter_label: &'static str,
    pub interpreter_help: &'static str,
    pub start_label: &'static str,
    pub minutes_label: &'static str,
    pub create: &'static str,
    pub links_heading: &'static str,
    pub links_help: &'static str,
    pub enter: &'static str,
    pub end: &'static str,
    pub revoked: &'static str,
    pub forbidden: &'static str,
}

const PLANNER_NB: PlannerTexts = PlannerTexts {
    title: "Videokonsultasjoner",
    upcoming: "Dagens og kommende konsultasjoner",
    none: "Ingen planlagte konsultasjoner.",
    plan_heading: "Planlegg en konsultasjon",
    patient_label: "Pasient",
    patient_help: "Pasient-id eller fødselsnummer.",
    interpreter_label: "Tolk (valgfritt)",
    interpreter_help: "Tolkens personell-id.",
    start_label: "Start",
    minutes_label: "Varighet i minutter",
    create: "Planlegg",
    links_heading: "Invitasjonslenker",
    links_help: "Hver lenke er bare for sin person. Send den til dem og ingen andre.",
    enter: "Gå inn",
    end: "Avslutt eller avlys",
    revoked: "trukket tilbake",
    forbidden: "Du har ikke tilgang til videokonsultasjoner med denne innloggingen.",
};

const PLANNER_NN: PlannerTexts = PlannerTexts {
    title: "Videokonsultasjonar",
    upcoming: "Dagens og komande konsultasjonar",
    none: "Ingen planlagde konsultasjonar.",
    plan_heading: "Planlegg ei konsultasjon",
    patient_label: "Pasient",
    patient_help: "Pasient-id eller fødselsnummer.",
    interpreter_label: "Tolk (valfritt)",
    interpreter_help: "Personell-id-en til tolken.",
    start_label: "Start",
    minutes_label: "Varigheit i minutt",
    create: "Planlegg",
    links_heading: "Invitasjonslenkjer",
    links_help: "Kvar lenkje er berre for sin person. Send ho til dei og ingen andre.",
    enter: "Gå inn",
    end: "Avslutt eller avlys",
    revoked: "trekt tilbake",
    forbidden: "Du har ikkje tilgang til videokonsultasjonar med denne innlogginga.",
};

const PLANNER_EN: PlannerTexts = PlannerTexts {
    title: "Video consultations",
    upcoming: "Today's and coming consultations",
    none: "No consultations planned.",
    plan_heading: "Plan a consultation",
    patient_label: "Patient",
    patient_help: "Patient id or national identity number.",
    interpreter_label: "Interpreter (optional)",
    interpreter_help: "The interpreter's personnel id.",
    start_label: "Start",
    minutes_label: "Length in minutes",
    create: "Plan",
    links_heading: "Invitation links",
    links_help: "Each link is for its person only. Send it to them and nobody else.",
    enter: "Enter",
    end: "End or cancel",
    revoked: "revoked",
    forbidden: "Your login gives no access to video consultations.",
};

#[derive(Template)]
#[template(path = "consultations.html")]
struct PlannerPage {
    shell: Shell,
    t: &'static PlannerTexts,
    org: String,
    csrf: String,
    me: String,
    list: Vec<Row>,
    forbidden: bool,
}

/// One consultation as the page shows it.
struct Row {
    id: String,
    start: String,
    kind: String,
    state: String,
    people: Vec<(String, &'static str, bool)>,
    /// The signed-in person's own invitation id, to enter with a fresh link.
    mine: Option<String>,
    open: bool,
}

/// Today's and coming consultations, and a form to plan one (the host is the signed-in person).
async fn planner(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    principal: Result<crate::auth::Principal, crate::error::ApiError>,
) -> Response {
    use axum::response::IntoResponse;
    let lang = Lang::from_query(q.lang.as_deref());
    let Ok(p) = principal else {
        return axum::response::Redirect::to(&format!("/personell?lang={}", lang.tag()))
            .into_response();
    };
    let caller = p.caller();
    let org = caller.org.to_string();
    let now = state.now();
    let result = trygg_app::consultations::list(
        &state,
        trygg_app::consultations::Planner::Person(&caller),
        &org,
        now - time::Duration::hours(12),
        now + time::Duration::days(7),
        now,
    )
    .await;
    let fmt = time::macros::format_description!("[day].[month]. [hour]:[minute] UTC");
    let (list, forbidden) = match result {
        Ok(list) => (
            list.into_iter()
                .map(|c| Row {
                    id: c.id.to_string(),
                    start: c.start.format(&fmt).unwrap_or_default(),
                    kind: c.kind,
                    open: matches!(c.state.as_str(), "scheduled" | "open" | "in-progress"),
                    state: c.state,
                    mine: c
                        .participants
                        .iter()
                        .find(|x| x.person == caller.personnel_id && !x.revoked)
                        .map(|x| x.id.to_string()),
                    people: c
                        .participants
                        .into_iter()
                        .map(|x| (x.name, role_name(lang, &x.role), x.revoked))
                        .collect(),
                })
                .collect(),
            false,
        ),
        Err(e) if e.kind == trygg_app::ErrorKind::Forbidden => (Vec::new(), true),
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    render(
        &PlannerPage {
            shell: Shell::new(lang, "/personell/konsultasjoner"),
            t: lang.pick(&PLANNER_NB, &PLANNER_NN, &PLANNER_EN),
            org,
            csrf: p.csrf_token().to_owned(),
            me: caller.personnel_id.to_string(),
            list,
            forbidden,
        },
        if forbidden {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::OK
        },
    )
}

async fn script() -> Response {
    crate::pages::asset(
        include_str!("../../../web/static/consultation.js"),
        "text/javascript; charset=utf-8",
    )
}

async fn join(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    let t = texts(lang);
    // The page's own path in the language links would carry the token; the links keep it, as
    // the token is already in the address bar, and `no-referrer` keeps it from other sites.
    let path = format!("/join/{token}");
    let p = match rooms::preview(&state, &token, lang, state.now()).await {
        Ok(p) => p,
        Err(rooms::JoinError::Busy | rooms::JoinError::Unavailable) => {
            return render(
                &InvalidPage {
                    shell: Shell::new(lang, "/"),
                    t,
                },
                StatusCode::SERVICE_UNAVAILABLE,
            )
        }
        Err(_) => {
            return render(
                &InvalidPage {
                    shell: Shell::new(lang, "/"),
                    t,
                },
                StatusCode::NOT_FOUND,
            )
        }
    };
    let fmt = time::macros::format_description!("[day].[month].[year] [hour]:[minute] UTC");
    let start = p.start.format(&fmt).unwrap_or_default();
    let planned = p.planned.iter().map(|r| role_name(lang, r)).collect();
    let group = p.kind == "group";
    let roles: serde_json::Map<String, serde_json::Value> = [
        "patient",
        "clinician",
        "interpreter",
        "companion",
        "other-personnel",
    ]
    .iter()
    .map(|r| ((*r).to_owned(), role_name(lang, r).into()))
    .collect();
    let assurances = [
        "eid-high",
        "eid-substantial",
        "id-document-shown",
        "known-visually",
        "device",
    ]
    .iter()
    .map(|a| (*a, assurance_name(lang, a)))
    .collect();
    let roles_json = serde_json::Value::Object(roles).to_string();
    render(
        &JoinPage {
            shell: Shell::new(lang, &path),
            t,
            p,
            start,
            planned,
            group,
            token,
            roles_json,
            assurances,
            reasons: trygg_core::signalling::DENY_REASONS
                .iter()
                .map(|r| (*r, reason_name(lang, r)))
                .collect(),
        },
        StatusCode::OK,
    )
}
