//! The log-control role's page of the snooping case queue (issue #16, PC-ACL-1 "kontroll av
//! logg"): `/admin/loggkontroll` lists the open cases (day, the person who looked by name, score,
//! reasons in words, accesses, outcome; never the patient), and `/admin/loggkontroll/{case}`
//! opens one (the read is logged by the use case, in the patient's log too) with the patient,
//! the reasons in the page's language and the form that records the outcome once (explained,
//! warned, confirmed, which opens an incident). Everything comes from `trygg_app::snooping`'s
//! `cases`, `case` and `decide` (through the API, by `web/static/admin.js`), so the access rule
//! and the audit entries are theirs: a caller without `log-control` gets the 403 page, one
//! signed in too weakly the same answer as the compliance pages, nobody a case about themselves.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use axum::routing::get;
use axum::Router;
use trygg_app::snooping::CaseView;
use trygg_core::snooping::Reason;

use crate::access::Caller;
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::{render, LangQuery, Shell};

/// The queue's path.
pub const PATH: &str = "/admin/loggkontroll";

/// The texts of the log-control pages.
pub struct LStrings {
    /// Page title.
    pub title: &'static str,
    /// Its lead.
    pub lead: &'static str,
    /// The table's name.
    pub open_cases: &'static str,
    /// No open cases.
    pub none: &'static str,
    /// Column and fact.
    pub day: &'static str,
    /// Column and fact.
    pub who: &'static str,
    /// Fact.
    pub patient: &'static str,
    /// A case about a whole day, no one patient.
    pub whole_day: &'static str,
    /// Column and fact.
    pub score: &'static str,
    /// Column.
    pub reasons: &'static str,
    /// Column and fact.
    pub accesses: &'static str,
    /// Column, fact and legend.
    pub outcome: &'static str,
    /// Column.
    pub case_col: &'static str,
    /// Link to a case.
    pub open: &'static str,
    /// A case's title.
    pub case_title: &'static str,
    /// Back link.
    pub back: &'static str,
    /// The read is logged.
    pub read_logged: &'static str,
    /// Reasons heading.
    pub why: &'static str,
    /// Decide heading.
    pub decide: &'static str,
    /// Once.
    pub once: &'static str,
    /// Option, long.
    pub explained_long: &'static str,
    /// Option, long.
    pub warned_long: &'static str,
    /// Option, long.
    pub confirmed_long: &'static str,
    /// Submit.
    pub record: &'static str,
    /// Decided.
    pub decided: &'static str,
    /// A confirmed case opened an incident.
    pub incident_opened: &'static str,
    /// Link to the register.
    pub to_register: &'static str,
    /// Not decided.
    pub undecided: &'static str,
}

/// The texts in `lang`.
pub fn strings(lang: Lang) -> LStrings {
    let p = |nb, nn, en| lang.pick(nb, nn, en);
    LStrings {
        title: p("Loggkontroll", "Loggkontroll", "Log control"),
        lead: p(
            "Tilganger i loggen som dataene ikke forklarer, samlet til saker per person, pasient og dag. Listen viser ikke pasienten; saken gjør det når du åpner den, og det står i pasientens logg. Saker om deg selv ser du aldri.",
            "Tilgangar i loggen som dataa ikkje forklarer, samla til saker per person, pasient og dag. Lista viser ikkje pasienten; saka gjer det når du opnar ho, og det står i loggen til pasienten. Saker om deg sjølv ser du aldri.",
            "Accesses in the audit log that the data does not explain, gathered into cases per person, patient and day. The list does not show the patient; the case does when you open it, and that is recorded in the patient's log. You never see cases about yourself.",
        ),
        open_cases: p("Åpne saker", "Opne saker", "Open cases"),
        none: p("Ingen åpne saker.", "Ingen opne saker.", "No open cases."),
        day: p("Dag", "Dag", "Day"),
        who: p("Hvem så", "Kven såg", "Who looked"),
        patient: p("Pasient", "Pasient", "Patient"),
        whole_day: p(
            "Ingen enkelt pasient: hele dagens tilganger",
            "Ingen einskild pasient: alle tilgangane den dagen",
            "No one patient: the whole day's accesses",
        ),
        score: p("Poeng", "Poeng", "Score"),
        reasons: p("Grunner", "Grunnar", "Reasons"),
        accesses: p("Antall tilganger", "Tal på tilgangar", "Accesses"),
        outcome: p("Utfall", "Utfall", "Outcome"),
        case_col: p("Sak", "Sak", "Case"),
        open: p("Åpne saken", "Opne saka", "Open the case"),
        case_title: p("Sak i loggkontrollen", "Sak i loggkontrollen", "Log control case"),
        back: p("Tilbake til sakene", "Tilbake til sakene", "Back to the cases"),
        read_logged: p(
            "Du har åpnet saken. Det er logget, også i pasientens egen logg.",
            "Du har opna saka. Det er logga, også i loggen til pasienten.",
            "You have opened the case. That is logged, in the patient's own log too.",
        ),
        why: p("Hvorfor saken ble funnet", "Kvifor saka vart funnen", "Why the case was found"),
        decide: p("Avgjør saken", "Avgjer saka", "Decide the case"),
        once: p(
            "Utfallet kan settes én gang og ikke endres etterpå.",
            "Utfallet kan setjast éin gong og ikkje endrast etterpå.",
            "The outcome can be recorded once and not changed afterwards.",
        ),
        explained_long: p(
            "Forklart: tilgangen hadde en tjenstlig grunn",
            "Forklart: tilgangen hadde ein tenestleg grunn",
            "Explained: the access had a work reason",
        ),
        warned_long: p(
            "Advart: personen har fått en advarsel",
            "Åtvara: personen har fått ei åtvaring",
            "Warned: the person has been given a warning",
        ),
        confirmed_long: p(
            "Bekreftet urettmessig innsyn: et avvik opprettes i avviksregisteret",
            "Stadfesta urettmessig innsyn: eit avvik blir oppretta i avviksregisteret",
            "Confirmed unjustified access: an incident is opened in the incident register",
        ),
        record: p("Lagre utfallet", "Lagre utfallet", "Record the outcome"),
        decided: p(
            "Saken er avgjort, og utfallet kan ikke endres.",
            "Saka er avgjord, og utfallet kan ikkje endrast.",
            "The case is decided, and its outcome cannot be changed.",
        ),
        incident_opened: p(
            "Et avvik ble opprettet i avviksregisteret med pasienten som berørt.",
            "Eit avvik vart oppretta i avviksregisteret med pasienten som råka.",
            "An incident was opened in the incident register with the patient as affected.",
        ),
        to_register: p("Til avviksregisteret", "Til avviksregisteret", "To the incident register"),
        undecided: p("Ikke avgjort", "Ikkje avgjord", "Not decided"),
    }
}

/// An outcome in words.
fn outcome_words(outcome: Option<&str>, lang: Lang) -> &'static str {
    match outcome {
        Some("explained") => lang.pick("Forklart", "Forklart", "Explained"),
        Some("warned") => lang.pick("Advart", "Åtvara", "Warned"),
        Some("confirmed") => lang.pick(
            "Bekreftet urettmessig innsyn",
            "Stadfesta urettmessig innsyn",
            "Confirmed unjustified access",
        ),
        _ => strings(lang).undecided,
    }
}

/// A case as the pages show it: words, never codes.
pub struct CaseLine {
    id: String,
    day: String,
    day_words: String,
    who: String,
    patient: String,
    score: u32,
    reasons: Vec<String>,
    accesses: u32,
    outcome: &'static str,
    decided: bool,
    confirmed: bool,
}

fn line(c: &CaseView, lang: Lang, t: &LStrings) -> CaseLine {
    CaseLine {
        id: c.id.to_string(),
        day: c.day.clone(),
        day_words: trygg_core::words::day_text(&c.day, lang),
        who: c.actor_name.clone().unwrap_or_else(|| c.actor.to_string()),
        patient: match (&c.patient_name, c.patient) {
            (Some(name), _) => name.clone(),
            (None, Some(id)) => id.to_string(),
            (None, None) => t.whole_day.to_owned(),
        },
        score: c.score,
        reasons: c
            .reasons
            .iter()
            .map(|r| Reason::from_code(r).map_or_else(|| r.clone(), |r| r.words(lang).to_owned()))
            .collect(),
        accesses: c.accesses,
        outcome: outcome_words(c.outcome.as_deref(), lang),
        decided: c.outcome.is_some(),
        confirmed: c.outcome.as_deref() == Some("confirmed"),
    }
}

#[derive(Template)]
#[template(path = "admin_snooping.html")]
struct QueuePage {
    shell: Shell,
    t: LStrings,
    lines: Vec<CaseLine>,
}

#[derive(Template)]
#[template(path = "admin_snoop_case.html")]
struct CasePage {
    shell: Shell,
    t: LStrings,
    a: &'static crate::admin::AdminStrings,
    org: String,
    csrf: String,
    case: CaseLine,
    /// The person may open the incident register (the navigation offers it).
    register: bool,
}

/// The log-control routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PATH, get(queue))
        .route("/admin/loggkontroll/{case}", get(case))
}

/// The page's language, the signed-in person, their `Caller` and organisation; or the login
/// page (nobody signed in, an ended or forged session).
fn signed_in(
    q: &LangQuery,
    principal: Result<Principal, ApiError>,
) -> Result<(Lang, Principal, Caller, String), Redirect> {
    let lang = Lang::from_query(q.lang.as_deref());
    let p = principal.map_err(|_| crate::admin::login_redirect(lang))?;
    let caller = Caller::from(&p);
    let org = caller.org.to_string();
    Ok((lang, p, caller, org))
}

async fn queue(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    principal: Result<Principal, ApiError>,
) -> Result<Response, Redirect> {
    let (lang, p, caller, org) = signed_in(&q, principal)?;
    Ok(
        match trygg_app::snooping::cases(&state, &caller, &org, state.now()).await {
            Ok(list) => {
                let t = strings(lang);
                let lines = list.iter().map(|c| line(c, lang, &t)).collect();
                render(
                    &QueuePage {
                        shell: Shell::signed_in(&state, &p, lang, PATH).await,
                        t,
                        lines,
                    },
                    StatusCode::OK,
                )
            }
            Err(e) => crate::admin::refused(&state.config, &org, lang, PATH, e.into()),
        },
    )
}

async fn case(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    principal: Result<Principal, ApiError>,
) -> Result<Response, Redirect> {
    let (lang, p, caller, org) = signed_in(&q, principal)?;
    // A hostile id is not found, like an unknown one (and is not echoed).
    let got = match uuid::Uuid::try_parse(&id) {
        Ok(uid) => trygg_app::snooping::case(&state, &caller, &org, uid, state.now()).await,
        Err(_) => Err(trygg_app::error::AppError::not_found(
            "TR-X404",
            "no such case",
        )),
    };
    Ok(match got {
        Ok(c) => {
            let t = strings(lang);
            let shell = Shell::signed_in(&state, &p, lang, &format!("{PATH}/{}", c.id)).await;
            let register = shell
                .nav
                .as_ref()
                .is_some_and(|n| n.links.iter().any(|l| l.href.starts_with("/admin/avvik?")));
            render(
                &CasePage {
                    shell,
                    case: line(&c, lang, &t),
                    t,
                    a: crate::admin::strings(lang),
                    org,
                    csrf: p.csrf_token().to_owned(),
                    register,
                },
                StatusCode::OK,
            )
        }
        Err(e) => crate::admin::refused(&state.config, &org, lang, PATH, e.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(outcome: Option<&str>) -> CaseView {
        CaseView {
            id: uuid::Uuid::nil(),
            day: "2026-12-03".into(),
            actor: uuid::Uuid::nil(),
            actor_name: Some("Kari Nordmann".into()),
            patient: None,
            patient_name: None,
            about_a_patient: true,
            score: 55,
            reasons: vec!["SameSurname".into(), "SearchThenOpen".into()],
            accesses: 2,
            outcome: outcome.map(str::to_owned),
        }
    }

    #[test]
    fn a_case_reads_in_words_in_each_language_never_in_codes() {
        // PC-ACL-1: the log-control role reads reasons and outcomes as sentences.
        for lang in Lang::ALL {
            let t = strings(lang);
            for outcome in [None, Some("explained"), Some("warned"), Some("confirmed")] {
                let l = line(&view(outcome), lang, &t);
                assert_eq!(l.who, "Kari Nordmann");
                assert_eq!(l.reasons.len(), 2);
                for r in &l.reasons {
                    assert!(!r.contains("SameSurname") && !r.contains("SearchThenOpen"));
                }
                assert!(!l.outcome.is_empty() && !l.day_words.contains("2026-12"));
                assert_eq!(l.decided, outcome.is_some());
                assert_eq!(l.confirmed, outcome == Some("confirmed"));
            }
        }
        let l = line(&view(None), Lang::Nn, &strings(Lang::Nn));
        assert_eq!(
            l.reasons[0],
            Reason::SameSurname.words(trygg_core::Lang::Nn)
        );
        // An unknown code is shown as it is, not dropped.
        let mut odd = view(None);
        odd.reasons = vec!["Later".into()];
        assert_eq!(line(&odd, Lang::En, &strings(Lang::En)).reasons, ["Later"]);
    }
}
