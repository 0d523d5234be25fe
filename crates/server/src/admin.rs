//! Pages for organisation administrators (PC-ACL-1): the people and their grants, with grant,
//! revoke and end-of-employment actions; the rights review with its attestation; the roles and
//! their permissions; and the audit search. The pages call the same handlers as the API, so
//! authorisation and audit are the API's; actions are forms that `web/static/admin.js` sends to
//! the API with the session's CSRF token.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use trygg_core::access::builtin_permissions;
use trygg_core::BuiltinRole;

use crate::access::Caller;
use crate::api::access::{AuditLine, AuditQuery, ReviewReport};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::{render, LangQuery, Shell};

/// The texts of the administration pages.
pub struct AdminStrings {
    /// Page title.
    pub title: &'static str,
    /// Navigation label.
    pub nav: &'static str,
    /// The devices page (navigation).
    pub devices: &'static str,
    /// People heading.
    pub people: &'static str,
    /// Column: name.
    pub name: &'static str,
    /// Column: role.
    pub role: &'static str,
    /// Column: employment.
    pub employment: &'static str,
    /// Column: permissions now.
    pub permissions_now: &'static str,
    /// Column: grants.
    pub grants: &'static str,
    /// Care relationships in force.
    pub care_live: &'static str,
    /// Grant heading.
    pub grant_heading: &'static str,
    /// Valid to label.
    pub valid_to: &'static str,
    /// Grant button.
    pub grant_button: &'static str,
    /// Revoke button.
    pub revoke: &'static str,
    /// End employment button.
    pub end_employment: &'static str,
    /// Review heading.
    pub review_heading: &'static str,
    /// Review text.
    pub review_text: &'static str,
    /// Approve button.
    pub approve: &'static str,
    /// Changes needed button.
    pub changes_needed: &'static str,
    /// Last reviews.
    pub last_reviews: &'static str,
    /// Roles heading.
    pub roles_heading: &'static str,
    /// Audit heading.
    pub audit_heading: &'static str,
    /// Only security events.
    pub only_security: &'static str,
    /// Search button.
    pub search: &'static str,
    /// Column: time.
    pub time: &'static str,
    /// Column: who.
    pub who: &'static str,
    /// Column: what.
    pub what: &'static str,
    /// Column: outcome.
    pub outcome: &'static str,
    /// Not allowed text.
    pub forbidden: &'static str,
    /// Needs JavaScript.
    pub needs_js: &'static str,
    /// An action was carried out (shown after the page reloads).
    pub saved: &'static str,
    /// Ended.
    pub ended: &'static str,
    /// Live.
    pub live: &'static str,
}

const NB: AdminStrings = AdminStrings {
    devices: "Utstyr",
    title: "Administrasjon",
    nav: "Administrasjon",
    people: "Personer og tilganger",
    name: "Navn",
    role: "Rolle",
    employment: "Tilknytning",
    permissions_now: "Tillatelser nå",
    grants: "Tildelinger",
    care_live: "Gjeldende tjenstlige behov",
    grant_heading: "Gi en rolle",
    valid_to: "Gyldig til (valgfritt)",
    grant_button: "Gi rolle",
    revoke: "Trekk tilbake",
    end_employment: "Avslutt arbeidsforhold",
    review_heading: "Periodisk kontroll av tilganger",
    review_text: "Gå gjennom tildelingene over og bekreft at de er riktige, eller at de må endres.",
    approve: "Bekreft: tilgangene er riktige",
    changes_needed: "Tilgangene må endres",
    last_reviews: "Tidligere kontroller",
    roles_heading: "Roller og tillatelser",
    audit_heading: "Søk i loggen",
    only_security: "Bare sikkerhetshendelser",
    search: "Søk",
    time: "Tid",
    who: "Hvem",
    what: "Hva",
    outcome: "Utfall",
    forbidden: "Du har ikke tilgang til denne siden.",
    needs_js: "Handlingene på denne siden trenger JavaScript.",
    saved: "Endringen er lagret.",
    ended: "avsluttet",
    live: "gjeldende",
};

const NN: AdminStrings = AdminStrings {
    devices: "Utstyr",
    title: "Administrasjon",
    nav: "Administrasjon",
    people: "Personar og tilgangar",
    name: "Namn",
    role: "Rolle",
    employment: "Tilknyting",
    permissions_now: "Løyve no",
    grants: "Tildelingar",
    care_live: "Gjeldande tenestlege behov",
    grant_heading: "Gje ei rolle",
    valid_to: "Gyldig til (valfritt)",
    grant_button: "Gje rolle",
    revoke: "Trekk tilbake",
    end_employment: "Avslutt arbeidsforhold",
    review_heading: "Periodisk kontroll av tilgangar",
    review_text:
        "Gå gjennom tildelingane over og stadfest at dei er rette, eller at dei må endrast.",
    approve: "Stadfest: tilgangane er rette",
    changes_needed: "Tilgangane må endrast",
    last_reviews: "Tidlegare kontrollar",
    roles_heading: "Roller og løyve",
    audit_heading: "Søk i loggen",
    only_security: "Berre tryggingshendingar",
    search: "Søk",
    time: "Tid",
    who: "Kven",
    what: "Kva",
    outcome: "Utfall",
    forbidden: "Du har ikkje tilgang til denne sida.",
    needs_js: "Handlingane på denne sida treng JavaScript.",
    saved: "Endringa er lagra.",
    ended: "avslutta",
    live: "gjeldande",
};

const EN: AdminStrings = AdminStrings {
    devices: "Equipment",
    title: "Administration",
    nav: "Administration",
    people: "People and access",
    name: "Name",
    role: "Role",
    employment: "Employment",
    permissions_now: "Permissions now",
    grants: "Grants",
    care_live: "Care relationships in force",
    grant_heading: "Grant a role",
    valid_to: "Valid to (optional)",
    grant_button: "Grant role",
    revoke: "Revoke",
    end_employment: "End employment",
    review_heading: "Periodic review of access rights",
    review_text:
        "Go through the grants above and confirm that they are right, or that they need changes.",
    approve: "Confirm: the access rights are right",
    changes_needed: "The access rights need changes",
    last_reviews: "Earlier reviews",
    roles_heading: "Roles and permissions",
    audit_heading: "Search the log",
    only_security: "Security events only",
    search: "Search",
    time: "Time",
    who: "Who",
    what: "What",
    outcome: "Outcome",
    forbidden: "You do not have access to this page.",
    needs_js: "The actions on this page need JavaScript.",
    saved: "The change was saved.",
    ended: "ended",
    live: "in force",
};

pub(crate) fn strings(lang: Lang) -> &'static AdminStrings {
    match lang {
        Lang::Nb => &NB,
        Lang::Nn => &NN,
        Lang::En => &EN,
    }
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    shell: Shell,
    a: &'static AdminStrings,
    w: crate::nav::Words,
    org: String,
    csrf: String,
    report: ReviewReport,
    roles: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "admin_roles.html")]
struct RolesPage {
    shell: Shell,
    a: &'static AdminStrings,
    roles: Vec<(&'static str, Vec<&'static str>)>,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    shell: Shell,
    a: &'static AdminStrings,
    w: crate::nav::Words,
    lines: Vec<AuditLine>,
    security: bool,
}

#[derive(Template)]
#[template(path = "admin_forbidden.html")]
struct ForbiddenPage {
    shell: Shell,
    a: &'static AdminStrings,
}

/// The administration pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(overview))
        .route("/admin/roles", get(roles))
        .route("/admin/audit", get(audit))
}

/// The login page in `lang`: where a page sends someone not signed in.
pub(crate) fn login_redirect(lang: Lang) -> Redirect {
    Redirect::to(&format!("/personell?lang={}", lang.tag()))
}

fn to_login(lang: Lang) -> Response {
    login_redirect(lang).into_response()
}

pub(crate) fn refused(
    config: &trygg_app::config::Config,
    org: &str,
    lang: Lang,
    path: &str,
    e: ApiError,
) -> Response {
    if let Some(to) = crate::auth::step_up(config, &e, org) {
        return to;
    }
    if e.status == StatusCode::FORBIDDEN {
        return render(
            &ForbiddenPage {
                shell: Shell::new(lang, path),
                a: strings(lang),
            },
            StatusCode::FORBIDDEN,
        );
    }
    e.into_response()
}

async fn overview(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    principal: Result<Principal, ApiError>,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    let Ok(p) = principal else {
        return to_login(lang);
    };
    let caller = Caller::from(&p);
    let org = caller.org.to_string();
    match trygg_app::rights::rights_review(&state, &caller, &org, state.now())
        .await
        .map_err(ApiError::from)
    {
        Ok(report) => render(
            &AdminPage {
                shell: Shell::signed_in(&state, &p, lang, "/admin").await,
                a: strings(lang),
                w: crate::nav::Words(lang, state.config.zone()),
                org,
                csrf: p.csrf_token().to_owned(),
                report,
                roles: BuiltinRole::ALL.iter().map(|r| r.as_str()).collect(),
            },
            StatusCode::OK,
        ),
        Err(e) => refused(&state.config, &org, lang, "/admin", e),
    }
}

async fn roles(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    principal: Result<Principal, ApiError>,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    let Ok(p) = principal else {
        return to_login(lang);
    };
    // Words, not codes (issue #14): each role and what it allows in the page's language.
    let core = lang;
    let roles = BuiltinRole::ALL
        .iter()
        .map(|r| {
            (
                trygg_core::words::role(*r, core),
                builtin_permissions(*r)
                    .iter()
                    .map(|p| trygg_core::words::permission(*p, core))
                    .collect(),
            )
        })
        .collect();
    render(
        &RolesPage {
            shell: Shell::signed_in(&state, &p, lang, "/admin/roles").await,
            a: strings(lang),
            roles,
        },
        StatusCode::OK,
    )
}

/// The audit search's query: the API's filters plus the language.
#[derive(Debug, Default, serde::Deserialize)]
pub struct AuditPageQuery {
    lang: Option<String>,
    security: Option<String>,
}

async fn audit(
    State(state): State<AppState>,
    Query(q): Query<AuditPageQuery>,
    principal: Result<Principal, ApiError>,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    let Ok(p) = principal else {
        return to_login(lang);
    };
    let caller = Caller::from(&p);
    let org = caller.org.to_string();
    let security = q.security.as_deref() == Some("on");
    let query = AuditQuery {
        security: security.then_some(true),
        limit: Some(200),
        ..Default::default()
    };
    match trygg_app::rights::audit_search(&state, &caller, &org, query, state.now())
        .await
        .map_err(ApiError::from)
    {
        Ok(lines) => render(
            &AuditPage {
                shell: Shell::signed_in(&state, &p, lang, "/admin/audit").await,
                a: strings(lang),
                w: crate::nav::Words(lang, state.config.zone()),
                lines,
                security,
            },
            StatusCode::OK,
        ),
        Err(e) => refused(&state.config, &org, lang, "/admin/audit", e),
    }
}
