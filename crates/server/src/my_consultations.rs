//! A staff member's own video consultations (issue #14: the interpreter's page): the
//! consultations they take part in, with "go in" for each one open now, which gives a fresh link
//! for their own place (`trygg_app::consultations::my_place`/`my_link`, under
//! `consultation-join`). For people who join but do not plan; planners have the planner.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use crate::app::AppState;
use crate::auth::{ClientIp, Principal};
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::{render, LangQuery, Shell};

/// The page's path.
pub const PATH: &str = "/personell/mine-konsultasjoner";

/// One consultation as the list shows it.
struct Line {
    id: String,
    when: String,
    datetime: String,
    minutes: u32,
    role: &'static str,
    open: bool,
}

#[derive(Template)]
#[template(path = "my_consultations.html")]
struct Page {
    shell: Shell,
    title: &'static str,
    none: &'static str,
    go_in: &'static str,
    minutes: &'static str,
    csrf: String,
    lines: Vec<Line>,
}

/// The routes.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(PATH, get(page))
        .route("/personell/mine-konsultasjoner/{id}", post(go_in))
}

async fn page(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    principal: Result<Principal, ApiError>,
) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    let Ok(p) = principal else {
        return Redirect::to(&format!("/personell?lang={}", lang.tag())).into_response();
    };
    let caller = p.caller();
    let org = caller.org.to_string();
    let now = state.now();
    let list = match trygg_app::consultations::my_places(&state, &caller, &org, now).await {
        Ok(l) => l,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let lines = list
        .into_iter()
        .map(|c| Line {
            id: c.id.to_string(),
            when: trygg_core::words::when(c.start, lang, state.config.zone()),
            datetime: c
                .start
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            minutes: c.minutes,
            role: crate::consultation_pages::role_name(lang, &c.role),
            open: c.open,
        })
        .collect();
    render(
        &Page {
            shell: Shell::signed_in(&state, &p, lang, PATH).await,
            title: lang.pick(
                "Mine videokonsultasjoner",
                "Mine videokonsultasjonar",
                "My video consultations",
            ),
            none: lang.pick(
                "Du er ikke med i noen planlagte videokonsultasjoner.",
                "Du er ikkje med i nokon planlagde videokonsultasjonar.",
                "You take part in no planned video consultations.",
            ),
            go_in: lang.pick("Gå inn", "Gå inn", "Go in"),
            minutes: lang.pick("minutter", "minutt", "minutes"),
            csrf: p.csrf_token().to_owned(),
            lines,
        },
        StatusCode::OK,
    )
}

/// The "go in" form.
#[derive(Debug, serde::Deserialize)]
pub struct GoIn {
    csrf: String,
}

/// `POST /personell/mine-konsultasjoner/{id}`: a fresh link for one's own place, and on to it.
async fn go_in(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<GoIn>,
) -> Response {
    let now = state.now();
    let gone = Redirect::to("/personell").into_response();
    let p = match crate::auth::pages::form_session(&state, &headers, ip, &f.csrf, gone).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let no = || {
        ApiError::from(trygg_app::error::AppError::not_found(
            "TR-K020",
            "no such consultation of yours",
        ))
        .into_response()
    };
    let Ok(id) = uuid::Uuid::try_parse(&id) else {
        return no();
    };
    let caller = p.caller();
    let org = caller.org.to_string();
    match trygg_app::consultations::my_link(&state, &caller, &org, id, now).await {
        Ok(token) => Redirect::to(&format!("/join/{token}")).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
