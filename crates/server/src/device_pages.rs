//! Pages for organisation-owned devices (issue #13; VC-DEV-1/2, VC-AUTH-4): the administrators'
//! list of devices with the form that issues an enrolment code (shown once) and the revoke
//! buttons (`/admin/devices`, calling the API with the session's CSRF token, so authorisation
//! and audit are the API's), and the page a device at a fixed place opens to enrol (`/enhet`):
//! its browser makes a non-extractable ECDSA P-256 key pair, keeps it in IndexedDB and
//! registers the public key with the code (`web/static/device.js`). The join page signs the
//! server's challenge with that key (`web/static/device-key.js`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use trygg_app::devices::DeviceOut;

use crate::access::Caller;
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::{render, Shell};

/// The texts of the device pages.
pub struct DeviceStrings {
    /// The administrators' page title.
    pub admin_title: &'static str,
    /// What the administrators' page is for.
    pub admin_intro: &'static str,
    /// Issue heading.
    pub issue_heading: &'static str,
    /// Place label.
    pub place: &'static str,
    /// Place hint.
    pub place_hint: &'static str,
    /// Patient id label.
    pub patient: &'static str,
    /// Patient id hint.
    pub patient_hint: &'static str,
    /// Issue button.
    pub issue_button: &'static str,
    /// The code, shown once.
    pub code_shown: &'static str,
    /// Where the device enrols.
    pub code_where: &'static str,
    /// Column: state.
    pub state: &'static str,
    /// Column: last used.
    pub last_used: &'static str,
    /// Column: home of a patient.
    pub home_of: &'static str,
    /// Revoke button.
    pub revoke: &'static str,
    /// No devices yet.
    pub none: &'static str,
    /// State names: waiting, expired, enrolled, revoked.
    pub states: [&'static str; 4],
    /// Devices (navigation).
    pub nav: &'static str,
    /// The device page's title.
    pub enrol_title: &'static str,
    /// What the device page does.
    pub enrol_intro: &'static str,
    /// Organisation label.
    pub org: &'static str,
    /// Code label.
    pub code: &'static str,
    /// Enrol button.
    pub enrol_button: &'static str,
    /// Working.
    pub working: &'static str,
    /// Enrolled as.
    pub enrolled_as: &'static str,
    /// Failed.
    pub failed: &'static str,
    /// The browser cannot.
    pub unsupported: &'static str,
    /// Too many tries.
    pub too_many: &'static str,
}

const NB: DeviceStrings = DeviceStrings {
    admin_title: "Utstyr",
    admin_intro: "Virksomhetens utstyr på faste steder, for eksempel et behandlingsrom eller hjemme hos en pasient. Utstyret lager et eget nøkkelpar og bruker det ved hver videokonsultasjon.",
    issue_heading: "Registrer nytt utstyr",
    place: "Sted",
    place_hint: "For eksempel «Behandlingsrom 2».",
    patient: "Pasient-ID (valgfritt)",
    patient_hint: "Bare for utstyr hjemme hos én pasient: da står utstyret for pasientens identitet i pasientens egne konsultasjoner.",
    issue_button: "Lag registreringskode",
    code_shown: "Registreringskode (vises bare nå):",
    code_where: "Åpne /enhet i nettleseren på utstyret og skriv inn koden. Den virker én gang, og bare en kort stund.",
    state: "Status",
    last_used: "Sist brukt",
    home_of: "Hjemme hos pasient",
    revoke: "Ta ut av bruk",
    none: "Ingen utstyr er registrert.",
    states: ["venter på registrering", "koden er utløpt", "i bruk", "tatt ut av bruk"],
    nav: "Utstyr",
    enrol_title: "Registrer dette utstyret",
    enrol_intro: "Skriv inn virksomhetens kortnavn og registreringskoden du har fått av administratoren. Utstyret lager en nøkkel som aldri forlater det.",
    org: "Virksomhet (kortnavn)",
    code: "Registreringskode",
    enrol_button: "Registrer utstyret",
    working: "Registrerer …",
    enrolled_as: "Dette utstyret er registrert som:",
    failed: "Registreringen lyktes ikke. Sjekk koden, eller be om en ny.",
    unsupported: "Denne nettleseren kan ikke lage en sikker nøkkel. Bruk en oppdatert nettleser.",
    too_many: "For mange forsøk. Vent litt og prøv igjen.",
};

const NN: DeviceStrings = DeviceStrings {
    admin_title: "Utstyr",
    admin_intro: "Verksemda sitt utstyr på faste stader, til dømes eit behandlingsrom eller heime hos ein pasient. Utstyret lagar eit eige nøkkelpar og brukar det ved kvar videokonsultasjon.",
    issue_heading: "Registrer nytt utstyr",
    place: "Stad",
    place_hint: "Til dømes «Behandlingsrom 2».",
    patient: "Pasient-ID (valfritt)",
    patient_hint: "Berre for utstyr heime hos éin pasient: då står utstyret for identiteten til pasienten i konsultasjonane til pasienten.",
    issue_button: "Lag registreringskode",
    code_shown: "Registreringskode (blir berre vist no):",
    code_where: "Opne /enhet i nettlesaren på utstyret og skriv inn koden. Han verkar éin gong, og berre ei kort stund.",
    state: "Status",
    last_used: "Sist brukt",
    home_of: "Heime hos pasient",
    revoke: "Ta ut av bruk",
    none: "Ikkje noko utstyr er registrert.",
    states: ["ventar på registrering", "koden har gått ut", "i bruk", "teke ut av bruk"],
    nav: "Utstyr",
    enrol_title: "Registrer dette utstyret",
    enrol_intro: "Skriv inn kortnamnet til verksemda og registreringskoden du har fått av administratoren. Utstyret lagar ein nøkkel som aldri forlèt det.",
    org: "Verksemd (kortnamn)",
    code: "Registreringskode",
    enrol_button: "Registrer utstyret",
    working: "Registrerer …",
    enrolled_as: "Dette utstyret er registrert som:",
    failed: "Registreringa lukkast ikkje. Sjekk koden, eller be om ein ny.",
    unsupported: "Denne nettlesaren kan ikkje lage ein sikker nøkkel. Bruk ein oppdatert nettlesar.",
    too_many: "For mange forsøk. Vent litt og prøv igjen.",
};

const EN: DeviceStrings = DeviceStrings {
    admin_title: "Equipment",
    admin_intro: "The organisation's equipment at fixed places, such as a treatment room or a patient's home. The equipment makes its own key pair and uses it at every video consultation.",
    issue_heading: "Register new equipment",
    place: "Place",
    place_hint: "For example \u{201c}Treatment room 2\u{201d}.",
    patient: "Patient id (optional)",
    patient_hint: "Only for equipment in one patient's home: the equipment then stands for the patient's identity in the patient's own consultations.",
    issue_button: "Make an enrolment code",
    code_shown: "Enrolment code (shown only now):",
    code_where: "Open /enhet in the equipment's browser and type the code. It works once, for a short while.",
    state: "State",
    last_used: "Last used",
    home_of: "In the home of patient",
    revoke: "Take out of use",
    none: "No equipment is registered.",
    states: ["waiting for enrolment", "code expired", "in use", "taken out of use"],
    nav: "Equipment",
    enrol_title: "Register this equipment",
    enrol_intro: "Type the organisation's short name and the enrolment code the administrator gave you. The equipment makes a key that never leaves it.",
    org: "Organisation (short name)",
    code: "Enrolment code",
    enrol_button: "Register the equipment",
    working: "Registering …",
    enrolled_as: "This equipment is registered as:",
    failed: "The registration did not succeed. Check the code, or ask for a new one.",
    unsupported: "This browser cannot make a secure key. Use an up-to-date browser.",
    too_many: "Too many tries. Wait a little and try again.",
};

fn strings(lang: Lang) -> &'static DeviceStrings {
    match lang {
        Lang::Nb => &NB,
        Lang::Nn => &NN,
        Lang::En => &EN,
    }
}

/// A device as the list shows it.
struct Line {
    id: String,
    label: String,
    state: &'static str,
    state_text: &'static str,
    patient: Option<String>,
    last_used: String,
}

fn line(d: DeviceOut, s: &'static DeviceStrings) -> Line {
    let state_text = match d.state {
        "waiting" => s.states[0],
        "expired" => s.states[1],
        "enrolled" => s.states[2],
        _ => s.states[3],
    };
    Line {
        id: d.id.to_string(),
        label: d.label,
        state: d.state,
        state_text,
        patient: d.patient_id.map(|p| p.to_string()),
        last_used: d
            .last_used_at
            .map(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            })
            .unwrap_or_else(|| "–".to_owned()),
    }
}

#[derive(Template)]
#[template(path = "admin_devices.html")]
struct AdminDevicesPage {
    shell: Shell,
    d: &'static DeviceStrings,
    a: &'static crate::admin::AdminStrings,
    org: String,
    csrf: String,
    lines: Vec<Line>,
}

#[derive(Template)]
#[template(path = "device_enrol.html")]
struct EnrolPage {
    shell: Shell,
    d: &'static DeviceStrings,
    org: String,
}

/// The page's query: the language, and on `/enhet` the organisation to fill in.
#[derive(Debug, Default, serde::Deserialize)]
pub struct DeviceQuery {
    lang: Option<String>,
    org: Option<String>,
}

/// The device routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/devices", get(admin_devices))
        .route("/enhet", get(enrol_page))
        .route(
            "/static/device.js",
            get(|| script(include_str!("../../../web/static/device.js"))),
        )
        .route(
            "/static/device-key.js",
            get(|| script(include_str!("../../../web/static/device-key.js"))),
        )
}

async fn script(body: &'static str) -> Response {
    crate::pages::asset(body, "text/javascript; charset=utf-8")
}

async fn admin_devices(
    State(state): State<AppState>,
    Query(q): Query<DeviceQuery>,
    principal: Result<Principal, ApiError>,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    let Ok(p) = principal else {
        return Redirect::to(&format!("/personell?lang={}", lang.tag())).into_response();
    };
    let caller = Caller::from(&p);
    let org = caller.org.to_string();
    let d = strings(lang);
    match trygg_app::devices::list(&state, &caller, &org, state.now())
        .await
        .map_err(ApiError::from)
    {
        Ok(list) => render(
            &AdminDevicesPage {
                shell: Shell::signed_in(&state, &p, lang, "/admin/devices").await,
                d,
                a: crate::admin::strings(lang),
                org,
                csrf: p.csrf_token().to_owned(),
                lines: list.into_iter().map(|x| line(x, d)).collect(),
            },
            StatusCode::OK,
        ),
        Err(e) => crate::admin::refused(&state.config, &org, lang, "/admin/devices", e),
    }
}

async fn enrol_page(Query(q): Query<DeviceQuery>) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    // Only a well-formed short name is filled in (it is shown in the form).
    let org = q
        .org
        .as_deref()
        .and_then(|o| trygg_core::OrgSlug::parse(o).ok())
        .map(|o| o.to_string())
        .unwrap_or_default();
    render(
        &EnrolPage {
            shell: Shell::new(lang, "/enhet"),
            d: strings(lang),
            org,
        },
        StatusCode::OK,
    )
}
