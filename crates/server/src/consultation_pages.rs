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
    /// Messages the script shows, as `(key, text)`.
    pub script: &'static [(&'static str, &'static str)],
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
    personnel_hint: "Du leder denne konsultasjonen: logg inn først, så slipper du rett inn.",
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
    leave: "Gå ut av samtalen",
    end: "Avslutt for alle",
    end_confirm: "Avslutte konsultasjonen for alle deltakerne?",
    ended_title: "Konsultasjonen er avsluttet",
    ended_text: "Samtalen er over for alle. Verken lyd eller bilde er tatt opp eller lagret. Du kan lukke vinduet.",
    denied_title: "Du ble ikke sluppet inn",
    left_title: "Du har forlatt konsultasjonen",
    reconnecting: "Forbindelsen ble brutt. Kobler til igjen …",
    refused: "Handlingen ble avvist",
    needs_js: "Videokonsultasjonen trenger JavaScript.",
    script: &[
        ("joined", "kom inn"),
        ("left", "gikk ut"),
        ("you", "deg"),
        ("by-link", "kom via lenke, ikke innlogget"),
        ("signed-in", "innlogget med"),
        ("choose", "Velg …"),
        ("waiting-count", "venter på venterommet"),
        ("minutes", "min"),
        ("host", "leder"),
        ("locked", "Rommet er låst akkurat nå. Prøv igjen om litt, eller ta kontakt med dem som inviterte deg."),
        ("busy", "Tjenesten er opptatt. Vi prøver igjen …"),
        ("unavailable", "Konsultasjonen kan ikke nås akkurat nå. Vi prøver igjen …"),
        ("not-allowed", "Du har ikke lov til å gjøre dette."),
        ("not-arrivable", "Du kan ikke komme inn med denne lenken nå."),
        ("already-connected", "Lenken er allerede i bruk i et annet vindu eller på en annen enhet."),
        ("unproven-assurance", "eID-nivå kan bare velges for den som har logget inn med eID."),
        ("session-ended", "Innloggingen din er utløpt. Logg inn på nytt."),
        ("acknowledge-first", "Bekreft at du har lest informasjonen først."),
        ("device-refused", "Dette utstyret er ikke godkjent for denne konsultasjonen. Kontakt virksomheten."),
        ("mute", "Slå av mikrofonen"),
        ("unmute", "Slå på mikrofonen"),
        ("camera-stop", "Slå av kameraet"),
        ("camera-start", "Slå på kameraet"),
        ("share", "Del skjermen"),
        ("share-stop", "Slutt å dele skjermen"),
        ("share-title", "Vil du dele dette?"),
        ("share-text", "Slik ser de andre skjermen din. Ingenting er delt ennå."),
        ("share-confirm", "Del dette"),
        ("share-cancel", "Avbryt"),
        ("speaker", "Vis den som snakker"),
        ("grid", "Vis alle like store"),
        ("mic-off", "mikrofon av"),
        ("camera-off", "kamera av"),
        ("sharing", "deler skjermen"),
        ("quality", "forbindelse"),
        ("quality-good", "god"),
        ("quality-fair", "middels"),
        ("quality-poor", "dårlig"),
        ("quality-none", "ingen bilde"),
        ("e2ee-on", "ende-til-ende-kryptert"),
        ("e2ee-pending", "venter på nøkkel"),
        ("e2ee-off", "ikke ende-til-ende-kryptert"),
        ("security-code", "Sikkerhetskode"),
        ("security-hint", "Sammenlign koden muntlig: er den lik hos alle, kan ingen andre se eller høre samtalen."),
        ("media-reconnecting", "Bilde og lyd kobles til igjen …"),
        ("no-devices", "Fikk ikke tilgang til kamera eller mikrofon. Sjekk tillatelsene i nettleseren."),
        ("e2ee-unsupported", "Denne nettleseren kan ikke kryptere samtalen ende til ende, og det kreves her. Bruk en nyere Chrome, Edge, Firefox eller Safari."),
        ("e2ee-required", "Denne nettleseren kan ikke kryptere samtalen ende til ende, og det kreves her. Bruk en nyere Chrome, Edge, Firefox eller Safari."),
        ("media-refused", "Bilde og lyd kunne ikke kobles til."),
    ],
};

const NN: Texts = Texts {
    title: "Videokonsultasjon",
    invalid_title: "Invitasjonen verkar ikkje",
    invalid_text: "Lenkja er ikkje gyldig. Ho kan vere utgått, trekt tilbake eller feilskriven, eller konsultasjonen er over. Ta kontakt med den som inviterte deg for ei ny lenkje.",
    with: "hos",
    when: "Planlagd",
    minutes: "minutt",
    planned: "Planlagde deltakarar",
    group_flag: "Dette er ein gruppekonsultasjon: fleire pasientar deltek, og dei ser namna til kvarandre.",
    info_heading: "Informasjon før du går inn",
    acknowledge: "Eg har lese informasjonen",
    personnel_hint: "Du leier denne konsultasjonen: logg inn først, så slepp du rett inn.",
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
    leave: "Gå ut av samtalen",
    end: "Avslutt for alle",
    end_confirm: "Avslutte konsultasjonen for alle deltakarane?",
    ended_title: "Konsultasjonen er avslutta",
    ended_text: "Samtalen er over for alle. Verken lyd eller bilete er teke opp eller lagra. Du kan lukke vindauget.",
    denied_title: "Du vart ikkje sleppt inn",
    left_title: "Du har forlate konsultasjonen",
    reconnecting: "Sambandet vart brote. Koplar til igjen …",
    refused: "Handlinga vart avvist",
    needs_js: "Videokonsultasjonen treng JavaScript.",
    script: &[
        ("joined", "kom inn"),
        ("left", "gjekk ut"),
        ("you", "deg"),
        ("by-link", "kom via lenkje, ikkje innlogga"),
        ("signed-in", "innlogga med"),
        ("choose", "Vel …"),
        ("waiting-count", "ventar på venterommet"),
        ("minutes", "min"),
        ("host", "leier"),
        ("locked", "Rommet er låst akkurat no. Prøv igjen om litt, eller ta kontakt med dei som inviterte deg."),
        ("busy", "Tenesta er oppteken. Vi prøver igjen …"),
        ("unavailable", "Konsultasjonen kan ikkje nåast akkurat no. Vi prøver igjen …"),
        ("not-allowed", "Du har ikkje lov til å gjere dette."),
        ("not-arrivable", "Du kan ikkje kome inn med denne lenkja no."),
        ("already-connected", "Lenkja er allereie i bruk i eit anna vindauge eller på ei anna eining."),
        ("unproven-assurance", "eID-nivå kan berre veljast for den som har logga inn med eID."),
        ("session-ended", "Innlogginga di har gått ut. Logg inn på nytt."),
        ("acknowledge-first", "Stadfest at du har lese informasjonen først."),
        ("device-refused", "Dette utstyret er ikkje godkjent for denne konsultasjonen. Kontakt verksemda."),
        ("mute", "Slå av mikrofonen"),
        ("unmute", "Slå på mikrofonen"),
        ("camera-stop", "Slå av kameraet"),
        ("camera-start", "Slå på kameraet"),
        ("share", "Del skjermen"),
        ("share-stop", "Slutt å dele skjermen"),
        ("share-title", "Vil du dele dette?"),
        ("share-text", "Slik ser dei andre skjermen din. Ingenting er delt enno."),
        ("share-confirm", "Del dette"),
        ("share-cancel", "Avbryt"),
        ("speaker", "Vis den som snakkar"),
        ("grid", "Vis alle like store"),
        ("mic-off", "mikrofon av"),
        ("camera-off", "kamera av"),
        ("sharing", "deler skjermen"),
        ("quality", "samband"),
        ("quality-good", "godt"),
        ("quality-fair", "middels"),
        ("quality-poor", "dårleg"),
        ("quality-none", "inkje bilete"),
        ("e2ee-on", "ende-til-ende-kryptert"),
        ("e2ee-pending", "ventar på nøkkel"),
        ("e2ee-off", "ikkje ende-til-ende-kryptert"),
        ("security-code", "Tryggleikskode"),
        ("security-hint", "Samanlikn koden munnleg: er han lik hos alle, kan ingen andre sjå eller høyre samtalen."),
        ("media-reconnecting", "Bilete og lyd vert kopla til igjen …"),
        ("no-devices", "Fekk ikkje tilgang til kamera eller mikrofon. Sjekk løyva i nettlesaren."),
        ("e2ee-unsupported", "Denne nettlesaren kan ikkje kryptere samtalen ende til ende, og det krevst her. Bruk ein nyare Chrome, Edge, Firefox eller Safari."),
        ("e2ee-required", "Denne nettlesaren kan ikkje kryptere samtalen ende til ende, og det krevst her. Bruk ein nyare Chrome, Edge, Firefox eller Safari."),
        ("media-refused", "Bilete og lyd kunne ikkje koplast til."),
    ],
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
    personnel_hint: "You lead this consultation: sign in first, and you enter at once.",
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
    leave: "Leave the consultation",
    end: "End for everyone",
    end_confirm: "End the consultation for every participant?",
    ended_title: "The consultation has ended",
    ended_text: "The conversation is over for everyone. No sound or video was recorded or stored. You may close this window.",
    denied_title: "You were not let in",
    left_title: "You have left the consultation",
    reconnecting: "The connection was lost. Reconnecting …",
    refused: "The action was refused",
    needs_js: "The video consultation needs JavaScript.",
    script: &[
        ("joined", "joined"),
        ("left", "left"),
        ("you", "you"),
        ("by-link", "came with the link, not signed in"),
        ("signed-in", "signed in with"),
        ("choose", "Choose …"),
        ("waiting-count", "waiting in the waiting room"),
        ("minutes", "min"),
        ("host", "leads"),
        ("locked", "The room is locked just now. Try again in a moment, or contact whoever invited you."),
        ("busy", "The service is busy. Trying again …"),
        ("unavailable", "The consultation cannot be reached just now. Trying again …"),
        ("not-allowed", "You are not allowed to do this."),
        ("not-arrivable", "You cannot come in with this link now."),
        ("already-connected", "The link is in use in another window or on another device."),
        ("unproven-assurance", "An eID level can only be chosen for someone who signed in with eID."),
        ("session-ended", "Your login has expired. Sign in again."),
        ("acknowledge-first", "Confirm that you have read the information first."),
        ("device-refused", "This equipment is not approved for this consultation. Contact the organisation."),
        ("mute", "Mute microphone"),
        ("unmute", "Unmute microphone"),
        ("camera-stop", "Turn camera off"),
        ("camera-start", "Turn camera on"),
        ("share", "Share screen"),
        ("share-stop", "Stop sharing"),
        ("share-title", "Share this?"),
        ("share-text", "This is what the others will see. Nothing is shared yet."),
        ("share-confirm", "Share this"),
        ("share-cancel", "Cancel"),
        ("speaker", "Show who is speaking"),
        ("grid", "Show everyone equally"),
        ("mic-off", "microphone off"),
        ("camera-off", "camera off"),
        ("sharing", "sharing the screen"),
        ("quality", "connection"),
        ("quality-good", "good"),
        ("quality-fair", "fair"),
        ("quality-poor", "poor"),
        ("quality-none", "no picture"),
        ("e2ee-on", "end-to-end encrypted"),
        ("e2ee-pending", "waiting for key"),
        ("e2ee-off", "not end-to-end encrypted"),
        ("security-code", "Security code"),
        ("security-hint", "Compare the code aloud: if everyone sees the same, nobody else can see or hear the call."),
        ("media-reconnecting", "Reconnecting sound and picture …"),
        ("no-devices", "Could not use the camera or microphone. Check the browser's permissions."),
        ("e2ee-unsupported", "This browser cannot encrypt the call end to end, which is required here. Use a recent Chrome, Edge, Firefox or Safari."),
        ("e2ee-required", "This browser cannot encrypt the call end to end, which is required here. Use a recent Chrome, Edge, Firefox or Safari."),
        ("media-refused", "Sound and picture could not be connected."),
    ],
};

/// The texts in `lang`.
pub fn texts(lang: Lang) -> &'static Texts {
    lang.pick(&NB, &NN, &EN)
}

/// Every role's name in `lang`, as the JSON object the pages' scripts read (`data-roles`).
fn roles_json(lang: Lang) -> String {
    let names: serde_json::Map<String, serde_json::Value> = trygg_core::consultation::Role::ALL
        .iter()
        .map(|r| (r.code().to_owned(), role_name(lang, r.code()).into()))
        .collect();
    serde_json::Value::Object(names).to_string()
}

/// A consultation kind's name in `lang` (VC-INFO-2, VC-CONF-3: a group is shown as one).
pub fn kind_name(lang: Lang, kind: &str) -> &'static str {
    match kind {
        "one-to-one" => lang.pick("Samtale", "Samtale", "One to one"),
        "group" => lang.pick("Gruppe", "Gruppe", "Group"),
        "clinician-only" => lang.pick(
            "Behandlere uten pasienten",
            "Behandlarar utan pasienten",
            "Clinicians without the patient",
        ),
        "with-interpreter" => lang.pick("Med tolk", "Med tolk", "With interpreter"),
        _ => lang.pick(
            "Flere behandlere",
            "Fleire behandlarar",
            "Several clinicians",
        ),
    }
}

/// A consultation state's name in `lang`.
pub fn state_name(lang: Lang, state: &str) -> &'static str {
    match state {
        "scheduled" => lang.pick("Planlagt", "Planlagd", "Planned"),
        "open" => lang.pick("Noen venter", "Nokon ventar", "Someone is waiting"),
        "in-progress" => lang.pick("Pågår", "Pågår", "In progress"),
        "ended" => lang.pick("Avsluttet", "Avslutta", "Ended"),
        _ => lang.pick("Avlyst", "Avlyst", "Cancelled"),
    }
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
            "Virksomhetens utstyr (f.eks. nettbrett hos pasienten)",
            "Utstyret til verksemda (t.d. nettbrett hos pasienten)",
            "The organisation's device (e.g. a tablet at the patient's home)",
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
    msgs_json: String,
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
        .route(
            "/static/consultation.js",
            get(|| script_asset(include_str!("../../../web/static/consultation.js"))),
        )
        .route(
            "/static/call.js",
            get(|| script_asset(include_str!("../../../web/static/call.js"))),
        )
        .route(
            "/static/e2ee-worker.js",
            get(|| script_asset(include_str!("../../../web/static/e2ee-worker.js"))),
        )
        .route(
            "/static/e2ee-common.js",
            get(|| script_asset(include_str!("../../../web/static/e2ee-common.js"))),
        )
        .route(
            "/static/planner.js",
            get(|| script_asset(include_str!("../../../web/static/planner.js"))),
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
    pub links_once: &'static str,
    pub end_confirm: &'static str,
    /// Messages for the API's refusals, by problem code, as `(code, text)`.
    pub problems: &'static [(&'static str, &'static str)],
    pub enter: &'static str,
    pub end: &'static str,
    pub renew: &'static str,
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
        links_once: "Lenkene vises bare nå. Trengs en ny, velg «Ny lenke» ved personen i listen (den gamle slutter å virke).",
    end_confirm: "Avslutte (eller avlyse) konsultasjonen for alle deltakerne?",
    problems: &[
        (
            "TR-K002",
            "Skriv pasientens id eller et gyldig fødselsnummer.",
        ),
        ("TR-K404", "Fant ingen slik pasient eller konsultasjon."),
        ("TR-K405", "Fant ingen slik ansatt."),
        ("TR-K406", "Denne personens ansettelse er avsluttet."),
        (
            "TR-K009",
            "Verten må ha rett til å lede videokonsultasjoner.",
        ),
        (
            "TR-K013",
            "Personen har ikke den rollen konsultasjonen trenger.",
        ),
        ("TR-K005", "Varigheten må være mellom 5 og 480 minutter."),
        (
            "TR-K006",
            "Starttidspunktet må være innen de neste 400 dagene.",
        ),
        ("TR-K411", "Konsultasjonen er over."),
        ("TR-Z403", "Du har ikke lov til å gjøre dette."),
        ("TR-P701", "Dette krever en sterkere innlogging."),
    ],
    enter: "Gå inn",
    end: "Avslutt eller avlys",
    renew: "Ny lenke",
    revoked: "trukket tilbake",
    forbidden: "Du har ikke tilgang til videokonsultasjoner med denne innloggingen.",
};

const PLANNER_NN: PlannerTexts = PlannerTexts {
    title: "Videokonsultasjonar",
    upcoming: "Dagens og komande konsultasjonar",
    none: "Ingen planlagde konsultasjonar.",
    plan_heading: "Planlegg ein konsultasjon",
    patient_label: "Pasient",
    patient_help: "Pasient-id eller fødselsnummer.",
    interpreter_label: "Tolk (valfritt)",
    interpreter_help: "Personell-id-en til tolken.",
    start_label: "Start",
    minutes_label: "Varigheit i minutt",
    create: "Planlegg",
    links_heading: "Invitasjonslenkjer",
    links_help: "Kvar lenkje er berre for sin person. Send ho til dei og ingen andre.",
    links_once: "Lenkjene blir viste berre no. Trengst ei ny, vel «Ny lenkje» ved personen i lista (den gamle sluttar å verke).",
    end_confirm: "Avslutte (eller avlyse) konsultasjonen for alle deltakarane?",
    problems: &[
        ("TR-K002", "Skriv id-en til pasienten eller eit gyldig fødselsnummer."),
        ("TR-K404", "Fann ingen slik pasient eller konsultasjon."),
        ("TR-K405", "Fann ingen slik tilsett."),
        ("TR-K406", "Tilsetjinga til denne personen er avslutta."),
        ("TR-K009", "Verten må ha rett til å leie videokonsultasjonar."),
        ("TR-K013", "Personen har ikkje den rolla konsultasjonen treng."),
        ("TR-K005", "Varigheita må vere mellom 5 og 480 minutt."),
        ("TR-K006", "Starttidspunktet må vere innan dei neste 400 dagane."),
        ("TR-K411", "Konsultasjonen er over."),
        ("TR-Z403", "Du har ikkje lov til å gjere dette."),
        ("TR-P701", "Dette krev ei sterkare innlogging."),
    ],
    enter: "Gå inn",
    end: "Avslutt eller avlys",
    renew: "Ny lenkje",
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
        links_once: "The links are shown only now. If one is needed again, choose “New link” by the person in the list (the old one stops working).",
    end_confirm: "End (or cancel) the consultation for every participant?",
    problems: &[
        (
            "TR-K002",
            "Give the patient's id or a valid national identity number.",
        ),
        ("TR-K404", "No such patient or consultation."),
        ("TR-K405", "No such person on the staff."),
        ("TR-K406", "This person's employment has ended."),
        (
            "TR-K009",
            "The host must hold the right to lead video consultations.",
        ),
        (
            "TR-K013",
            "The person does not have the role the consultation needs.",
        ),
        ("TR-K005", "The length must be between 5 and 480 minutes."),
        ("TR-K006", "The start must be within the next 400 days."),
        ("TR-K411", "The consultation is over."),
        ("TR-Z403", "You are not allowed to do this."),
        ("TR-P701", "This needs a stronger login."),
    ],
    enter: "Enter",
    end: "End or cancel",
    renew: "New link",
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
    roles_json: String,
    msgs_json: String,
    list: Vec<Row>,
    forbidden: bool,
}

/// One consultation as the page shows it.
struct Row {
    id: String,
    start: String,
    kind: &'static str,
    state_name: &'static str,
    /// (invitation id, name, role, revoked)
    people: Vec<(String, String, &'static str, bool)>,
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

    let result = result.map_err(crate::error::ApiError::from);
    if let Err(e) = &result {
        if let Some(to) = crate::auth::step_up(&state.config, e, &org) {
            return to;
        }
    }
    let (list, forbidden) = match result {
        Ok(list) => (
            list.into_iter()
                .map(|c| Row {
                    id: c.id.to_string(),
                    start: trygg_core::words::when(c.start, lang, state.config.zone()),
                    kind: kind_name(lang, &c.kind),
                    state_name: state_name(lang, &c.state),
                    open: matches!(c.state.as_str(), "scheduled" | "open" | "in-progress"),
                    mine: c
                        .participants
                        .iter()
                        .find(|x| x.person == caller.personnel_id && !x.revoked)
                        .map(|x| x.id.to_string()),
                    people: c
                        .participants
                        .into_iter()
                        .map(|x| {
                            (
                                x.id.to_string(),
                                x.name,
                                role_name(lang, &x.role),
                                x.revoked,
                            )
                        })
                        .collect(),
                })
                .collect(),
            false,
        ),
        Err(e) if e.status == StatusCode::FORBIDDEN => (Vec::new(), true),
        Err(e) => return e.into_response(),
    };
    render(
        &PlannerPage {
            shell: Shell::signed_in(&state, &p, lang, "/personell/konsultasjoner").await,
            t: lang.pick(&PLANNER_NB, &PLANNER_NN, &PLANNER_EN),
            org,
            csrf: p.csrf_token().to_owned(),
            me: caller.personnel_id.to_string(),
            roles_json: roles_json(lang),
            msgs_json: {
                let t = lang.pick(&PLANNER_NB, &PLANNER_NN, &PLANNER_EN);
                let mut m: serde_json::Map<String, serde_json::Value> = t
                    .problems
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).into()))
                    .collect();
                m.insert("end-confirm".into(), t.end_confirm.into());
                serde_json::Value::Object(m).to_string()
            },
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

/// One of the consultation pages' scripts, embedded in the binary.
async fn script_asset(body: &'static str) -> Response {
    crate::pages::asset(body, "text/javascript; charset=utf-8")
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
    let start = trygg_core::words::when(p.start, lang, state.config.zone());
    let planned = p.planned.iter().map(|r| role_name(lang, r)).collect();
    let group = p.kind == "group";
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
    let roles_json = roles_json(lang);
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
            msgs_json: serde_json::Value::Object(
                t.script
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).into()))
                    .collect(),
            )
            .to_string(),
            assurances,
            reasons: trygg_core::signalling::DENY_REASONS
                .iter()
                .map(|r| (*r, reason_name(lang, r)))
                .collect(),
        },
        StatusCode::OK,
    )
}
