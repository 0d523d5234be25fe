//! The patient portal at the HTTP edge (issue #13): login through ID-porten
//! (`/portal/{org}/login` → the provider → `/login/idporten/callback`), the patient's session
//! cookie, the portal's home with the patient's own message threads (the same use cases as the
//! personnel's API, called as [`Who::Patient`]) and logout. The protocol and the session rules are
//! `trygg_app::portal`'s; this reads the query and the cookie, and writes the redirect, the cookie
//! and the page.
//!
//! # Cookie
//! `trygg_patient` on plain HTTP (loopback only), `__Host-trygg_patient` with `Secure` on HTTPS;
//! `HttpOnly; SameSite=Lax; Path=/` (Lax, not Strict: the login ends with a redirect chain that
//! began at the provider's site, and a Strict cookie would not come with its last step). Its
//! value is `<org-slug>.<secret>`, looked up by keyed hash in that organisation's database. Apart
//! from the personnel's cookie, so a patient's session is never taken for a staff member's.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use trygg_app::messages::{self as m, Who};
use trygg_app::portal;
use trygg_audit::Assurance;

use crate::app::AppState;
use crate::auth::origin::{expected_origin, same_origin, secure_cookies};
use crate::auth::ClientIp;
use crate::config::Config;
use crate::i18n::Lang;
use crate::pages::{render, Shell};

/// The portal's texts.
pub struct PortalStrings {
    title: &'static str,
    signed_in: &'static str,
    via_idporten: &'static str,
    via_test: &'static str,
    high: &'static str,
    substantial: &'static str,
    messages: &'static str,
    no_messages: &'static str,
    consultations: &'static str,
    no_consultations: &'static str,
    bad_message: &'static str,
    join: &'static str,
    minutes: &'static str,
    unread: &'static str,
    logout: &'static str,
    login: &'static str,
    login_text: &'static str,
    step_up: &'static str,
    access: &'static str,
    access_lead: &'static str,
    when: &'static str,
    who: &'static str,
    what: &'static str,
    basis: &'static str,
    emergency: &'static str,
    /// An access log control found unjustified (issue #16).
    unjustified: &'static str,
    consents: &'static str,
    consents_lead: &'static str,
    first_info: &'static str,
    given: &'static str,
    not_given: &'static str,
    give: &'static str,
    withdraw: &'static str,
    saved: &'static str,
    contact: &'static str,
    contact_lead: &'static str,
    phone: &'static str,
    email: &'static str,
    save: &'static str,
    bad_phone: &'static str,
    bad_email: &'static str,
    export: &'static str,
    export_lead: &'static str,
    test_title: &'static str,
    test_warning: &'static str,
    test_who: &'static str,
    test_level: &'static str,
    test_submit: &'static str,
    test_link: &'static str,
    refused_title: &'static str,
    again: &'static str,
    r_state: &'static str,
    r_level: &'static str,
    r_unknown: &'static str,
    r_provider: &'static str,
    r_other: &'static str,
    r_unavailable: &'static str,
    r_staff_unknown: &'static str,
    r_ended: &'static str,
}

const NB: PortalStrings = PortalStrings {
    title: "Din side",
    signed_in: "Du er logget inn",
    via_idporten: "med ID-porten, sikkerhetsnivå",
    via_test: "med Tryggs testleverandør (demo, ikke ID-porten), sikkerhetsnivå",
    high: "høyt",
    substantial: "betydelig",
    messages: "Meldinger",
    consultations: "Videokonsultasjoner",
    bad_message: "Meldingen ble ikke sendt: emnet må ha 1 til 200 tegn og meldingen 1 til 20 000 tegn, uten skjulte tegn.",
    no_consultations: "Du har ingen planlagte videokonsultasjoner.",
    join: "Gå til konsultasjonen",
    minutes: "minutter",
    no_messages: "Du har ingen meldinger.",
    unread: "uleste",
    logout: "Logg ut",
    login: "Logg inn med ID-porten",
    login_text:
        "Logg inn med BankID eller en annen elektronisk ID på høyt nivå for å se meldingene dine.",
    step_up: "Meldingene dine krever innlogging på høyt nivå. Logg inn på nytt med BankID.",
    access: "Hvem har sett opplysningene dine",
    access_lead: "Alle som har åpnet eller endret opplysninger om deg her, med rolle og grunnlag. Nødtilgang er uthevet.",
    when: "Når",
    who: "Hvem",
    what: "Hva",
    basis: "Grunnlag",
    emergency: "Nødtilgang",
    unjustified: "Funnet urettmessig ved kontroll av loggen",
    consents: "Varsler på SMS og e-post",
    consents_lead: "Du bestemmer om vi kan varsle deg på SMS eller e-post, og om hva. Varslene sier bare at noe venter her, aldri hva det gjelder. Du kan trekke et samtykke tilbake når som helst her, og det gjelder straks. Meldingene her krever ikke samtykke.",
    first_info: "Før du begynner: vi sender ingen SMS eller e-post uten at du har sagt ja til det nedenfor. Du kan endre dette når du vil.",
    given: "Ja",
    not_given: "Nei",
    give: "Si ja",
    withdraw: "Trekk tilbake",
    saved: "Endringen er lagret.",
    contact: "Kontaktopplysningene dine",
    contact_lead: "Rett dem om de er feil. Et tomt felt fjerner opplysningen.",
    phone: "Mobilnummer",
    email: "E-postadresse",
    save: "Lagre",
    bad_phone: "Mobilnummeret må ha åtte sifre, eller + og landskode. Ingenting ble endret.",
    bad_email: "E-postadressen er ikke gyldig. Ingenting ble endret.",
    export: "Last ned opplysningene dine",
    export_lead: "Alt vi har om deg her, som en fil (JSON): registreringen, samtykkene, meldingene og hvem som har sett opplysningene.",
    test_title: "Testinnlogging for demo",
    test_warning: "Dette er Tryggs innebygde testleverandør, ikke ID-porten. Den finnes bare i demoen, på denne maskinen.",
    test_who: "Logg inn som",
    test_level: "Sikkerhetsnivå",
    test_submit: "Logg inn (test)",
    test_link: "Testinnlogging (demo, ikke ID-porten)",
    refused_title: "Innloggingen ble ikke fullført",
    again: "Prøv igjen",
    r_state: "Innloggingen tok for lang tid, eller lenken er brukt før. Start på nytt.",
    r_level: "Denne tjenesten krever innlogging på høyt sikkerhetsnivå, for eksempel med BankID.",
    r_unknown: "Du er ikke registrert som pasient her. Ta kontakt med legekontoret.",
    r_provider: "Innloggingen ble avbrutt eller avvist i ID-porten.",
    r_other: "Innloggingen kunne ikke kontrolleres. Start på nytt.",
    r_unavailable: "ID-porten svarer ikke akkurat nå. Prøv igjen om litt.",
    r_staff_unknown: "Ingen ansatt her er registrert med HPR-nummeret ditt. Kontakt en administrator.",
    r_ended: "Ansettelsen din her er avsluttet.",
};

const NN: PortalStrings = PortalStrings {
    title: "Di side",
    signed_in: "Du er logga inn",
    via_idporten: "med ID-porten, tryggleiksnivå",
    via_test: "med testleverandøren til Trygg (demo, ikkje ID-porten), tryggleiksnivå",
    high: "høgt",
    substantial: "betydeleg",
    messages: "Meldingar",
    consultations: "Videokonsultasjonar",
    bad_message: "Meldinga vart ikkje send: emnet må ha 1 til 200 teikn og meldinga 1 til 20 000 teikn, utan skjulte teikn.",
    no_consultations: "Du har ingen planlagde videokonsultasjonar.",
    join: "Gå til konsultasjonen",
    minutes: "minutt",
    no_messages: "Du har ingen meldingar.",
    unread: "ulesne",
    logout: "Logg ut",
    login: "Logg inn med ID-porten",
    login_text:
        "Logg inn med BankID eller ein annan elektronisk ID på høgt nivå for å sjå meldingane dine.",
    step_up: "Meldingane dine krev innlogging på høgt nivå. Logg inn på nytt med BankID.",
    access: "Kven har sett opplysningane dine",
    access_lead: "Alle som har opna eller endra opplysningar om deg her, med rolle og grunnlag. Naudtilgang er utheva.",
    when: "Når",
    who: "Kven",
    what: "Kva",
    basis: "Grunnlag",
    emergency: "Naudtilgang",
    unjustified: "Funne urettmessig ved kontroll av loggen",
    consents: "Varsel på SMS og e-post",
    consents_lead: "Du bestemmer om vi kan varsle deg på SMS eller e-post, og om kva. Varsla seier berre at noko ventar her, aldri kva det gjeld. Du kan trekkje eit samtykke tilbake når som helst her, og det gjeld straks. Meldingane her krev ikkje samtykke.",
    first_info: "Før du byrjar: vi sender ingen SMS eller e-post utan at du har sagt ja til det nedanfor. Du kan endre dette når du vil.",
    given: "Ja",
    not_given: "Nei",
    give: "Sei ja",
    withdraw: "Trekk tilbake",
    saved: "Endringa er lagra.",
    contact: "Kontaktopplysningane dine",
    contact_lead: "Rett dei om dei er feil. Eit tomt felt fjernar opplysninga.",
    phone: "Mobilnummer",
    email: "E-postadresse",
    save: "Lagre",
    bad_phone: "Mobilnummeret må ha åtte siffer, eller + og landskode. Ingenting vart endra.",
    bad_email: "E-postadressa er ikkje gyldig. Ingenting vart endra.",
    export: "Last ned opplysningane dine",
    export_lead: "Alt vi har om deg her, som ei fil (JSON): registreringa, samtykka, meldingane og kven som har sett opplysningane.",
    test_title: "Testinnlogging for demo",
    test_warning: "Dette er den innebygde testleverandøren til Trygg, ikkje ID-porten. Han finst berre i demoen, på denne maskina.",
    test_who: "Logg inn som",
    test_level: "Tryggleiksnivå",
    test_submit: "Logg inn (test)",
    test_link: "Testinnlogging (demo, ikkje ID-porten)",
    refused_title: "Innlogginga vart ikkje fullført",
    again: "Prøv igjen",
    r_state: "Innlogginga tok for lang tid, eller lenka er brukt før. Start på nytt.",
    r_level: "Denne tenesta krev innlogging på høgt tryggleiksnivå, til dømes med BankID.",
    r_unknown: "Du er ikkje registrert som pasient her. Ta kontakt med legekontoret.",
    r_provider: "Innlogginga vart avbroten eller avvist i ID-porten.",
    r_other: "Innlogginga kunne ikkje kontrollerast. Start på nytt.",
    r_unavailable: "ID-porten svarar ikkje akkurat no. Prøv igjen om litt.",
    r_staff_unknown: "Ingen tilsette her er registrerte med HPR-nummeret ditt. Kontakt ein administrator.",
    r_ended: "Tilsetjinga di her er avslutta.",
};

const EN: PortalStrings = PortalStrings {
    title: "Your page",
    signed_in: "You are logged in",
    via_idporten: "with ID-porten, assurance level",
    via_test: "with Trygg's test provider (demo, not ID-porten), assurance level",
    high: "high",
    substantial: "substantial",
    messages: "Messages",
    consultations: "Video consultations",
    bad_message: "The message was not sent: the subject must be 1 to 200 characters and the message 1 to 20,000, without hidden characters.",
    no_consultations: "You have no planned video consultations.",
    join: "Go to the consultation",
    minutes: "minutes",
    no_messages: "You have no messages.",
    unread: "unread",
    logout: "Log out",
    login: "Log in with ID-porten",
    login_text: "Log in with BankID or another electronic ID at level high to see your messages.",
    step_up: "Your messages need a login at level high. Log in again with BankID.",
    access: "Who has seen your information",
    access_lead: "Everyone who opened or changed information about you here, with role and basis. Emergency access is highlighted.",
    when: "When",
    who: "Who",
    what: "What",
    basis: "Basis",
    emergency: "Emergency access",
    unjustified: "Found unjustified when the log was checked",
    consents: "Notices by text message and e-mail",
    consents_lead: "You decide whether we may notify you by text message or e-mail, and about what. A notice only says that something is waiting here, never what it is about. You can withdraw a consent here at any time, and it applies at once. The messages here need no consent.",
    first_info: "Before you start: we send no text message or e-mail unless you say yes to it below. You can change this whenever you like.",
    given: "Yes",
    not_given: "No",
    give: "Say yes",
    withdraw: "Withdraw",
    saved: "Your change is saved.",
    contact: "Your contact details",
    contact_lead: "Correct them if they are wrong. An empty field removes the detail.",
    phone: "Mobile number",
    email: "E-mail address",
    save: "Save",
    bad_phone: "The mobile number has eight digits, or + and the country code. Nothing was changed.",
    bad_email: "The e-mail address is not valid. Nothing was changed.",
    export: "Download your data",
    export_lead: "Everything we hold about you here, as a file (JSON): your registration, consents, messages and who has seen your information.",
    test_title: "Test login for the demo",
    test_warning: "This is Trygg's built-in test provider, not ID-porten. It exists only in the demo, on this machine.",
    test_who: "Log in as",
    test_level: "Assurance level",
    test_submit: "Log in (test)",
    test_link: "Test login (demo, not ID-porten)",
    refused_title: "The login was not completed",
    again: "Try again",
    r_state: "The login took too long, or its link was used before. Start again.",
    r_level: "This service needs a login at assurance level high, for example with BankID.",
    r_unknown: "You are not registered as a patient here. Please contact the clinic.",
    r_provider: "The login was cancelled or refused at ID-porten.",
    r_other: "The login could not be verified. Start again.",
    r_unavailable: "ID-porten is not answering right now. Try again shortly.",
    r_staff_unknown: "No one on the staff here is registered with your HPR number. Contact an administrator.",
    r_ended: "Your employment here has ended.",
};

fn strings(lang: Lang) -> &'static PortalStrings {
    match lang {
        Lang::Nb => &NB,
        Lang::Nn => &NN,
        Lang::En => &EN,
    }
}

/// What the home shows a signed-in patient.
pub struct PatientView {
    /// "with ID-porten" or "with the demo's test provider".
    method: &'static str,
    level: &'static str,
    /// Id, subject (or a dash) and unread count, newest first.
    threads: Vec<(String, String, u32)>,
    /// The patient's consultations: id, start as text, its RFC 3339 form, length, joinable.
    consultations: Vec<(String, String, String, u32, bool)>,
    /// Logged in below high: health data needs a login at high first (PC-AUTHN-2).
    step_up: bool,
    /// Who has accessed the patient's data, newest first (PC-RIGHTS-1).
    access: Vec<AccessView>,
    /// The consents in force, per purpose and channel (PC-CONSENT-1/2).
    consents: Vec<ConsentView>,
    /// No consent was ever recorded: the first login, when the information about consent and
    /// how to withdraw it is shown first (PC-CONSENT-2).
    first: bool,
    /// The CSRF token for the portal's forms.
    csrf: String,
    /// The contact data as registered (PC-RIGHTS-2).
    phone: String,
    email: String,
}

/// One purpose on one channel, as the patient sees and changes it.
pub struct ConsentView {
    purpose: &'static str,
    purpose_text: &'static str,
    channel: &'static str,
    channel_text: &'static str,
    granted: bool,
}

/// The version of the consent text the portal shows (recorded with every consent given or
/// withdrawn, PC-CONSENT-1).
pub const CONSENT_TEXT_VERSION: &str = "portal-2026-12";

/// One line of the access log as the patient reads it.
pub struct AccessView {
    datetime: String,
    time: String,
    who: String,
    role: &'static str,
    what: String,
    basis: String,
    emergency: bool,
    unjustified: bool,
}

fn role_text(lang: Lang, code: Option<&str>) -> &'static str {
    let (nb, nn, en) = match code {
        Some("doctor") => ("lege", "lege", "doctor"),
        Some("nurse") => ("sykepleier", "sjukepleiar", "nurse"),
        Some("psychologist") => ("psykolog", "psykolog", "psychologist"),
        Some("physiotherapist") => ("fysioterapeut", "fysioterapeut", "physiotherapist"),
        Some("secretary") => ("sekretær", "sekretær", "secretary"),
        Some("interpreter") => ("tolk", "tolk", "interpreter"),
        Some("org-admin") => ("administrator", "administrator", "administrator"),
        Some(_) => ("annen rolle", "anna rolle", "other role"),
        None => ("", "", ""),
    };
    lang.pick(nb, nn, en)
}

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalPage {
    shell: Shell,
    t: &'static PortalStrings,
    /// The message pages' texts (the new-message form).
    mt: &'static crate::portal_messages::Texts,
    org: String,
    patient: Option<PatientView>,
    /// Which channels the organisation answers on (PC-CHAN-1).
    channels: &'static str,
    /// Urgent matters are phoned (PC-EMERG-1).
    urgent: &'static str,
    /// A change was just saved (post/redirect/get).
    saved: bool,
    /// A change was refused: why, in the page's words.
    error: Option<&'static str>,
    /// The demo's test provider is offered here (demo, loopback).
    test_login: bool,
}

#[derive(Template)]
#[template(path = "portal_test_login.html")]
struct TestLoginPage {
    shell: Shell,
    t: &'static PortalStrings,
    org: String,
    patients: Vec<(uuid::Uuid, String)>,
}

#[derive(Template)]
#[template(path = "portal_refused.html")]
struct RefusedPage {
    shell: Shell,
    t: &'static PortalStrings,
    reason: &'static str,
    org: Option<String>,
}

/// The portal's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/portal/{org}", get(home))
        .route("/portal/{org}/login", get(login))
        .route("/portal/{org}/logout", post(logout))
        .route("/portal/{org}/consent", post(consent))
        .route("/portal/{org}/contact", post(contact))
        .route("/portal/{org}/join/{consultation}", post(join))
        .route("/portal/{org}/export", get(export))
        .route(
            "/portal/{org}/test-login",
            get(test_login_page).post(test_login),
        )
        .route("/login/idporten/callback", get(callback))
        .route("/personell/login/helseid", get(helseid_login))
        .route("/personell/login/oidc", get(oidc_login))
        .route("/login/oidc/callback", get(oidc_callback))
        .route("/login/helseid/callback", get(helseid_callback))
}

/// The query of the portal's pages.
#[derive(Debug, serde::Deserialize)]
pub struct PortalQuery {
    lang: Option<String>,
    level: Option<String>,
    saved: Option<String>,
    error: Option<String>,
    /// From a session at a lower level: authenticate again at the provider.
    step_up: Option<String>,
}

/// The query ID-porten sends back.
#[derive(Debug, serde::Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn cookie_name(config: &Config) -> &'static str {
    if secure_cookies(config) {
        "__Host-trygg_patient"
    } else {
        "trygg_patient"
    }
}

fn cookie(config: &Config, value: &str, max_age: u64) -> Option<HeaderValue> {
    let secure = if secure_cookies(config) {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
        cookie_name(config)
    ))
    .ok()
}

/// The patient cookie's organisation and secret.
pub(crate) fn read_cookie(
    config: &Config,
    headers: &HeaderMap,
) -> Option<(trygg_core::OrgSlug, trygg_store::Secret)> {
    crate::auth::session::read_org_cookie(cookie_name(config), headers)
}

/// After a login: the patient's cookie, and on to `to`.
fn signed_in(config: &Config, done: &portal::LoggedIn, to: &str) -> Response {
    let value = format!("{}.{}", done.org, done.secret.expose());
    let mut res = Redirect::to(to).into_response();
    if let Some(c) = cookie(config, &value, config.patient_session_absolute_timeout_secs) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    no_store(res)
}

pub(crate) fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn callback_url(config: &Config, headers: &HeaderMap) -> Option<String> {
    expected_origin(config, headers).map(|o| format!("{o}/login/idporten/callback"))
}

async fn home(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Query(q): Query<PortalQuery>,
    ip: ClientIp,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    let t = strings(lang);
    let shell = Shell::new(lang, &format!("/portal/{org}"));
    if trygg_core::OrgSlug::parse(&org).is_err() {
        return crate::pages::render(
            &RefusedPage {
                shell,
                t,
                reason: t.r_other,
                org: None,
            },
            StatusCode::NOT_FOUND,
        );
    }
    let cookie = read_cookie(&state.config, &headers).filter(|(o, _)| o.to_string() == org);
    let csrf = cookie
        .as_ref()
        .map(|(_, secret)| trygg_identity::session::csrf_token(secret.expose()));
    let caller = match &cookie {
        Some((o, secret)) => portal::current(&state, o, secret, ip.0).await,
        None => Ok(None),
    };
    let patient = match caller {
        Ok(Some(c)) if c.assurance < Assurance::High => {
            let (consents, first) = match consent_views(&state, &c, &org, lang).await {
                Ok(v) => v,
                Err(e) => return crate::error::ApiError::from(e).into_response(),
            };
            let contact = match portal::contact(&state, &c, state.now()).await {
                Ok(v) => v,
                Err(e) => return crate::error::ApiError::from(e).into_response(),
            };
            Some(PatientView {
                method: if c.method == "idporten" {
                    t.via_idporten
                } else {
                    t.via_test
                },
                level: t.substantial,
                threads: Vec::new(),
                consultations: Vec::new(),
                step_up: true,
                access: Vec::new(),
                consents,
                first,
                csrf: csrf.clone().unwrap_or_default(),
                phone: contact.phone.unwrap_or_default(),
                email: contact.email.unwrap_or_default(),
            })
        }
        Ok(Some(c)) => {
            let threads =
                m::threads(&state, Who::Patient(&c), &org, c.patient, lang, state.now()).await;
            let threads = match threads {
                Ok(out) => out
                    .threads
                    .into_iter()
                    .map(|th| {
                        (
                            th.id.to_string(),
                            th.subject.unwrap_or_else(|| "–".to_owned()),
                            th.unread_by_patient,
                        )
                    })
                    .collect(),
                Err(e) => return crate::error::ApiError::from(e).into_response(),
            };
            let now = state.now();
            let consultations = match portal::my_consultations(&state, &c, now).await {
                Ok(list) => list
                    .into_iter()
                    .map(|k| {
                        (
                            k.id.to_string(),
                            trygg_core::words::when(k.start, lang, state.config.zone()),
                            k.start
                                .format(&time::format_description::well_known::Rfc3339)
                                .unwrap_or_default(),
                            k.minutes,
                            k.joinable,
                        )
                    })
                    .collect(),
                Err(e) => return crate::error::ApiError::from(e).into_response(),
            };
            let access = match trygg_app::rights::own_access_log(&state, &c, lang, now).await {
                Ok(lines) => lines
                    .into_iter()
                    .rev()
                    .map(|l| {
                        let at = time::OffsetDateTime::parse(
                            &l.time,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .ok();
                        AccessView {
                            time: at
                                .map(|t| trygg_core::words::when(t, lang, state.config.zone()))
                                .unwrap_or_default(),
                            datetime: l.time,
                            who: l.who,
                            role: role_text(lang, l.role.as_deref()),
                            what: l.what,
                            basis: l.basis,
                            emergency: l.emergency,
                            unjustified: l.unjustified,
                        }
                    })
                    .collect(),
                Err(e) => return crate::error::ApiError::from(e).into_response(),
            };
            let (consents, first) = match consent_views(&state, &c, &org, lang).await {
                Ok(v) => v,
                Err(e) => return crate::error::ApiError::from(e).into_response(),
            };
            let contact = match portal::contact(&state, &c, state.now()).await {
                Ok(v) => v,
                Err(e) => return crate::error::ApiError::from(e).into_response(),
            };
            Some(PatientView {
                method: if c.method == "idporten" {
                    t.via_idporten
                } else {
                    t.via_test
                },
                level: t.high,
                threads,
                consultations,
                step_up: false,
                access,
                consents,
                first,
                csrf: csrf.clone().unwrap_or_default(),
                phone: contact.phone.unwrap_or_default(),
                email: contact.email.unwrap_or_default(),
            })
        }
        Ok(None) => None,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    no_store(render(
        &PortalPage {
            shell,
            t,
            mt: crate::portal_messages::texts(lang),
            org,
            patient,
            channels: trygg_core::message::channel_statement(lang),
            urgent: trygg_core::message::emergency_notice(lang),
            saved: q.saved.is_some(),
            test_login: crate::auth::dev::offered(&state.config, ip.0, &headers),
            error: match q.error.as_deref() {
                Some("phone") => Some(t.bad_phone),
                Some("email") => Some(t.bad_email),
                Some("message") => Some(t.bad_message),
                Some(_) => Some(t.r_other),
                None => None,
            },
        },
        StatusCode::OK,
    ))
}

async fn login(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Query(q): Query<PortalQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    let t = strings(lang);
    // Health data needs high (PC-AUTHN-2); substantial is for what needs no more.
    let level = match q.level.as_deref() {
        Some("substantial") => Assurance::Substantial,
        _ => Assurance::High,
    };
    let Some(redirect) = callback_url(&state.config, &headers) else {
        return refused_page(lang, t.r_other, None, StatusCode::BAD_REQUEST);
    };
    let fresh = q.step_up.is_some();
    match portal::start(&state, &org, level, &redirect, fresh).await {
        Ok(url) => no_store(Redirect::to(&url).into_response()),
        Err(e) => {
            let status = crate::error::ApiError::from(e);
            let reason = if status.status == StatusCode::SERVICE_UNAVAILABLE {
                t.r_unavailable
            } else {
                t.r_other
            };
            refused_page(lang, reason, None, status.status)
        }
    }
}

fn refused_page(
    lang: Lang,
    reason: &'static str,
    org: Option<String>,
    status: StatusCode,
) -> Response {
    no_store(render(
        &RefusedPage {
            shell: Shell::new(lang, "/"),
            t: strings(lang),
            reason,
            org,
        },
        status,
    ))
}

async fn callback(
    State(state): State<AppState>,
    Query(q): Query<CallbackQuery>,
    ip: ClientIp,
    headers: HeaderMap,
) -> Response {
    let cb = portal::Callback {
        code: q.code.as_deref(),
        state: q.state.as_deref(),
        error: q.error.as_deref(),
    };
    match portal::finish(&state, &cb, ip.0).await {
        Ok(done) => {
            // The session this browser had (a step-up leaves one at the lower level) ends now:
            // one live session per browser.
            if let Some((o, old)) = read_cookie(&state.config, &headers) {
                if let Err(e) = portal::logout(&state, &o, &old, ip.0).await {
                    tracing::warn!(
                        code = e.code,
                        "a replaced portal session could not be ended"
                    );
                }
            }
            signed_in(&state.config, &done, &format!("/portal/{}", done.org))
        }
        Err(e) => {
            let reason = refusal_reason(strings(Lang::Nb), e.code);
            let status = crate::error::ApiError::from(e).status;
            refused_page(Lang::Nb, reason, None, status)
        }
    }
}

/// A state-changing request from another site: refused (the forms also carry the session's CSRF
/// token).
fn cross_site(config: &Config, headers: &HeaderMap) -> Option<Response> {
    (!same_origin(config, headers)).then(|| {
        // As the personnel rule (`sessions::check_request`): a security event for the operator.
        tracing::warn!(
            event = "security",
            code = "TR-L004",
            "cross-origin portal form refused"
        );
        (
            StatusCode::FORBIDDEN,
            "the request does not come from this site",
        )
            .into_response()
    })
}

/// A form without the session's CSRF token: refused.
fn wrong_token(secret: &trygg_store::Secret, given: &str) -> Option<Response> {
    let token = trygg_identity::session::csrf_token(secret.expose());
    (!trygg_identity::session::csrf_eq(&token, given)).then(|| {
        tracing::warn!(
            event = "security",
            code = "TR-L005",
            "portal form without its CSRF token"
        );
        (
            StatusCode::FORBIDDEN,
            "the form lacks this session's token; reload the page",
        )
            .into_response()
    })
}

/// The logout form.
#[derive(Debug, serde::Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    Path(org): Path<String>,
    ip: ClientIp,
    headers: HeaderMap,
    axum::Form(f): axum::Form<LogoutForm>,
) -> Response {
    if let Some(refused) = cross_site(&state.config, &headers) {
        return refused;
    }
    if let Some((o, secret)) = read_cookie(&state.config, &headers) {
        if let Some(refused) = wrong_token(&secret, &f.csrf) {
            return refused;
        }
        if o.to_string() == org {
            if let Err(e) = portal::logout(&state, &o, &secret, ip.0).await {
                return crate::error::ApiError::from(e).into_response();
            }
        }
    }
    let mut res = Redirect::to(&format!("/portal/{org}")).into_response();
    if let Some(c) = cookie(&state.config, "", 0) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    no_store(res)
}

/// The patient's consents in force (the newest record per purpose and channel), and whether none
/// was ever recorded.
async fn consent_views(
    state: &AppState,
    c: &trygg_app::messages::PatientCaller,
    org: &str,
    lang: Lang,
) -> Result<(Vec<ConsentView>, bool), trygg_app::error::AppError> {
    use trygg_app::notices::By;
    let history =
        trygg_app::notices::consents(state, By::Patient(c), org, c.patient, state.now()).await?;
    let mut out = Vec::new();
    for purpose in trygg_core::notice::Purpose::ALL {
        for (channel, channel_text) in [
            ("sms", lang.pick("SMS", "SMS", "Text message")),
            ("email", lang.pick("E-post", "E-post", "E-mail")),
        ] {
            let granted = history
                .iter()
                .rev()
                .find(|r| r.purpose == purpose.as_str() && r.channel == channel)
                .is_some_and(|r| r.granted);
            out.push(ConsentView {
                purpose: purpose.as_str(),
                purpose_text: purpose_text(lang, purpose),
                channel,
                channel_text,
                granted,
            });
        }
    }
    Ok((out, history.is_empty()))
}

fn purpose_text(lang: Lang, p: trygg_core::notice::Purpose) -> &'static str {
    use trygg_core::notice::Purpose;
    match p {
        Purpose::Appointments => lang.pick(
            "Påminnelser og endringer om timer",
            "Påminningar og endringar om timar",
            "Appointment reminders and changes",
        ),
        Purpose::PortalNotices => lang.pick(
            "Varsel om at en melding venter her",
            "Varsel om at ei melding ventar her",
            "Notice that a message is waiting here",
        ),
        Purpose::Information => lang.pick(
            "Generell informasjon (åpningstider, flytting)",
            "Generell informasjon (opningstider, flytting)",
            "General information (opening hours, moving)",
        ),
    }
}

/// A consent given or withdrawn in the portal.
#[derive(Debug, serde::Deserialize)]
pub struct ConsentForm {
    purpose: String,
    channel: String,
    granted: String,
    csrf: String,
    lang: Option<String>,
}

/// `POST /portal/{org}/consent`: the patient gives or withdraws one consent (PC-CONSENT-1/2);
/// same-origin, with the session's CSRF token; back to the portal (post/redirect/get).
async fn consent(
    State(state): State<AppState>,
    Path(org): Path<String>,
    ip: ClientIp,
    headers: HeaderMap,
    axum::Form(f): axum::Form<ConsentForm>,
) -> Response {
    let caller = match form_caller(&state, &org, ip, &headers, &f.csrf).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let input = trygg_app::notices::ConsentIn {
        purpose: f.purpose,
        channel: f.channel,
        granted: f.granted == "true",
        text_version: CONSENT_TEXT_VERSION.to_owned(),
    };
    let by = trygg_app::notices::By::Patient(&caller);
    match trygg_app::notices::set_consent(&state, by, &org, caller.patient, input, state.now())
        .await
    {
        Ok(_) => back(&org, f.lang.as_deref(), "saved=1", "consents"),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

/// The form of "go to the consultation".
#[derive(Debug, serde::Deserialize)]
pub struct JoinForm {
    csrf: String,
}

/// `POST /portal/{org}/join/{consultation}`: the patient, at high, joins one of their own
/// consultations from the portal (issue #13): a fresh invitation for their place (the link they
/// were sent stops working; logged), and on to its page. Their portal login then gives them
/// their eID level in the waiting room (VC-AUTH-2).
async fn join(
    State(state): State<AppState>,
    Path((org, consultation)): Path<(String, String)>,
    ip: ClientIp,
    headers: HeaderMap,
    axum::Form(f): axum::Form<JoinForm>,
) -> Response {
    let caller = match form_caller(&state, &org, ip, &headers, &f.csrf).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let Ok(id) = uuid::Uuid::try_parse(&consultation) else {
        return crate::error::ApiError::from(trygg_app::error::AppError::not_found(
            "TR-T011",
            "no such consultation of yours to join",
        ))
        .into_response();
    };
    match portal::join_from_portal(&state, &caller, id, state.now()).await {
        Ok(token) => no_store(Redirect::to(&format!("/join/{token}")).into_response()),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

/// The contact form.
#[derive(Debug, serde::Deserialize)]
pub struct ContactForm {
    phone: Option<String>,
    email: Option<String>,
    csrf: String,
    lang: Option<String>,
}

/// `POST /portal/{org}/contact`: the patient corrects their contact data (PC-RIGHTS-2); back to
/// the portal with the outcome (post/redirect/get).
async fn contact(
    State(state): State<AppState>,
    Path(org): Path<String>,
    ip: ClientIp,
    headers: HeaderMap,
    axum::Form(f): axum::Form<ContactForm>,
) -> Response {
    let caller = match form_caller(&state, &org, ip, &headers, &f.csrf).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let input = portal::ContactIn {
        phone: f.phone,
        email: f.email,
    };
    let outcome = match portal::set_contact(&state, &caller, &input, state.now()).await {
        Ok(()) => "saved=1",
        Err(e) if e.code == "TR-O410" => "error=phone",
        Err(e) if e.code == "TR-O411" => "error=email",
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    back(&org, f.lang.as_deref(), outcome, "contact")
}

/// Back to the portal after a form, with its outcome in the query (post/redirect/get) and the
/// section to show.
fn back(org: &str, lang: Option<&str>, outcome: &str, section: &str) -> Response {
    let lang = Lang::from_query(lang);
    no_store(
        Redirect::to(&format!(
            "/portal/{org}?lang={}&{outcome}#{section}",
            lang.tag()
        ))
        .into_response(),
    )
}

/// The patient of this organisation's portal whose live session the request's cookie names,
/// with the session's CSRF token for the page's forms; `None` without one.
pub(crate) async fn page_caller(
    state: &AppState,
    org: &str,
    ip: ClientIp,
    headers: &HeaderMap,
) -> Result<Option<(trygg_app::messages::PatientCaller, String)>, trygg_app::error::AppError> {
    let Some((o, secret)) =
        read_cookie(&state.config, headers).filter(|(o, _)| o.to_string() == org)
    else {
        return Ok(None);
    };
    let caller = portal::current(state, &o, &secret, ip.0).await?;
    Ok(caller.map(|c| (c, trygg_identity::session::csrf_token(secret.expose()))))
}

/// A form's caller: same-origin, the session's CSRF token, a live session of this organisation;
/// otherwise the response to give.
pub(crate) async fn form_caller(
    state: &AppState,
    org: &str,
    ip: ClientIp,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<trygg_app::messages::PatientCaller, Response> {
    if let Some(refused) = cross_site(&state.config, headers) {
        return Err(refused);
    }
    let Some((o, secret)) =
        read_cookie(&state.config, headers).filter(|(o, _)| o.to_string() == org)
    else {
        return Err(no_store(
            Redirect::to(&format!("/portal/{org}")).into_response(),
        ));
    };
    if let Some(refused) = wrong_token(&secret, csrf) {
        return Err(refused);
    }
    match portal::current(state, &o, &secret, ip.0).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(no_store(
            Redirect::to(&format!("/portal/{org}")).into_response(),
        )),
        Err(e) => Err(crate::error::ApiError::from(e).into_response()),
    }
}

/// `GET /portal/{org}/export`: everything about the patient here as a JSON file (PC-RIGHTS-1),
/// at level high; not cached.
async fn export(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Query(q): Query<PortalQuery>,
    ip: ClientIp,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    let caller = match page_caller(&state, &org, ip, &headers).await {
        Ok(Some((c, _))) => c,
        Ok(None) => return no_store(Redirect::to(&format!("/portal/{org}")).into_response()),
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    match portal::export(&state, &caller, lang, state.now()).await {
        Ok(v) => {
            let mut res = axum::Json(v).into_response();
            res.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"mine-opplysninger.json\""),
            );
            no_store(res)
        }
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

/// `GET /portal/{org}/test-login`: the demo's test provider (only `trygg demo` on loopback;
/// 404 everywhere else).
async fn test_login_page(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Query(q): Query<PortalQuery>,
    ip: ClientIp,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    if let Some(refused) = test_gate(&state, ip, &headers) {
        return refused;
    }
    let Ok(slug) = trygg_core::OrgSlug::parse(&org) else {
        return refused_page(lang, strings(lang).r_other, None, StatusCode::NOT_FOUND);
    };
    match portal::test_patients(&state, &slug, state.now()).await {
        Ok(patients) => no_store(render(
            &TestLoginPage {
                shell: Shell::new(lang, &format!("/portal/{org}/test-login")),
                t: strings(lang),
                org,
                patients,
            },
            StatusCode::OK,
        )),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

/// The test provider's gate: only in `trygg demo`, on loopback, for a loopback client (as the
/// personnel's developer login); 404 elsewhere.
fn test_gate(state: &AppState, ip: ClientIp, headers: &HeaderMap) -> Option<Response> {
    let req = crate::auth::dev::request(&state.config, ip.0, headers);
    trygg_app::login::developer_allowed(&state.config, &req)
        .err()
        .map(|e| crate::error::ApiError::from(e).into_response())
}

/// The test provider's form.
#[derive(Debug, serde::Deserialize)]
pub struct TestLoginForm {
    patient: String,
    level: String,
    lang: Option<String>,
}

/// `POST /portal/{org}/test-login`: signs the chosen demo patient in at the chosen level, with
/// the method `developer` (same gate as the page, and same-origin).
async fn test_login(
    State(state): State<AppState>,
    Path(org): Path<String>,
    ip: ClientIp,
    headers: HeaderMap,
    axum::Form(f): axum::Form<TestLoginForm>,
) -> Response {
    if let Some(refused) = test_gate(&state, ip, &headers) {
        return refused;
    }
    if let Some(refused) = cross_site(&state.config, &headers) {
        return refused;
    }
    let (Ok(slug), Ok(patient)) = (
        trygg_core::OrgSlug::parse(&org),
        uuid::Uuid::parse_str(&f.patient),
    ) else {
        return (StatusCode::BAD_REQUEST, "no such patient").into_response();
    };
    let level = if f.level == "substantial" {
        Assurance::Substantial
    } else {
        Assurance::High
    };
    match portal::test_login(&state, &slug, patient, level, ip.0, state.now()).await {
        Ok(done) => {
            let lang = Lang::from_query(f.lang.as_deref());
            let to = format!("/portal/{}?lang={}", done.org, lang.tag());
            signed_in(&state.config, &done, &to)
        }
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

/// The query of a personnel login through a provider.
#[derive(Debug, serde::Deserialize)]
pub struct StaffLoginQuery {
    org: String,
    /// Authenticate again (a step-up from a weaker login; HelseID only).
    #[serde(default)]
    step_up: bool,
}

/// The two providers personnel log in through.
#[derive(Debug, Clone, Copy)]
enum Staff {
    HelseId,
    Generic,
}

impl Staff {
    fn callback(self) -> &'static str {
        match self {
            Self::HelseId => "/login/helseid/callback",
            Self::Generic => "/login/oidc/callback",
        }
    }
}

/// `GET /personell/login/helseid?org=ORG`: personnel's login through HelseID (PAR,
/// `private_key_jwt`, DPoP; issue #13).
async fn helseid_login(
    State(state): State<AppState>,
    Query(q): Query<StaffLoginQuery>,
    headers: HeaderMap,
) -> Response {
    staff_login(state, q, headers, Staff::HelseId).await
}

/// `GET /personell/login/oidc?org=ORG`: personnel's login through the deployment's own
/// provider (an organisation's Entra ID; issue #13).
async fn oidc_login(
    State(state): State<AppState>,
    Query(q): Query<StaffLoginQuery>,
    headers: HeaderMap,
) -> Response {
    staff_login(state, q, headers, Staff::Generic).await
}

async fn staff_login(
    state: AppState,
    q: StaffLoginQuery,
    headers: HeaderMap,
    provider: Staff,
) -> Response {
    let t = strings(Lang::Nb);
    let Some(redirect) =
        expected_origin(&state.config, &headers).map(|o| format!("{o}{}", provider.callback()))
    else {
        return refused_page(Lang::Nb, t.r_other, None, StatusCode::BAD_REQUEST);
    };
    let started = match provider {
        Staff::HelseId => trygg_app::helseid::start(&state, &q.org, &redirect, q.step_up).await,
        Staff::Generic => trygg_app::helseid::start_generic(&state, &q.org, &redirect).await,
    };
    match started {
        Ok(url) => no_store(Redirect::to(&url).into_response()),
        Err(e) => {
            let status = crate::error::ApiError::from(e).status;
            let reason = if status == StatusCode::SERVICE_UNAVAILABLE {
                t.r_unavailable
            } else {
                t.r_other
            };
            refused_page(Lang::Nb, reason, None, status)
        }
    }
}

/// `GET /login/helseid/callback`: the personnel session cookie, and on to `/personell`.
async fn helseid_callback(
    State(state): State<AppState>,
    Query(q): Query<CallbackQuery>,
    ip: ClientIp,
) -> Response {
    staff_callback(state, q, ip, Staff::HelseId).await
}

/// `GET /login/oidc/callback`: likewise for the deployment's own provider.
async fn oidc_callback(
    State(state): State<AppState>,
    Query(q): Query<CallbackQuery>,
    ip: ClientIp,
) -> Response {
    staff_callback(state, q, ip, Staff::Generic).await
}

async fn staff_callback(
    state: AppState,
    q: CallbackQuery,
    ip: ClientIp,
    provider: Staff,
) -> Response {
    let cb = portal::Callback {
        code: q.code.as_deref(),
        state: q.state.as_deref(),
        error: q.error.as_deref(),
    };
    let finished = match provider {
        Staff::HelseId => trygg_app::helseid::finish(&state, &cb, ip.0).await,
        Staff::Generic => trygg_app::helseid::finish_generic(&state, &cb, ip.0).await,
    };
    match finished {
        Ok(o) => {
            let mut res = Redirect::to("/personell").into_response();
            if let Some(c) = crate::auth::session::set_cookie(&state.config, &o.org, &o.secret) {
                res.headers_mut().append(header::SET_COOKIE, c);
            }
            no_store(res)
        }
        Err(e) => {
            let t = strings(Lang::Nb);
            let reason = match e.code {
                "TR-O407" => t.r_staff_unknown,
                "TR-O408" => t.r_ended,
                code => refusal_reason(t, code),
            };
            let status = crate::error::ApiError::from(e).status;
            refused_page(Lang::Nb, reason, None, status)
        }
    }
}

/// The page's words for a refused login's code.
fn refusal_reason(t: &'static PortalStrings, code: &str) -> &'static str {
    match code {
        "TR-O401" => t.r_state,
        "TR-O402" => t.r_level,
        "TR-O403" => t.r_unknown,
        "TR-O405" => t.r_provider,
        "TR-O503" => t.r_unavailable,
        _ => t.r_other,
    }
}
