//! Server-rendered pages (askama templates in `web/templates/`) and the embedded static assets
//! (`web/static/`). Pages work without JavaScript; scripts are ES modules from this origin only,
//! with no inline script or style, so the CSP can forbid both.

use askama::Template;
use axum::extract::{Query, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::app::AppState;
use crate::i18n::{Lang, Strings};

/// The `?lang=` query every page accepts.
#[derive(Debug, Default, serde::Deserialize)]
pub struct LangQuery {
    /// `nb`, `nn` or `en`.
    pub lang: Option<String>,
}

/// What the layout needs on every page.
pub struct Shell {
    /// The page's language.
    pub lang: Lang,
    /// Its texts.
    pub s: &'static Strings,
    /// The path of this page, for the language links.
    pub path: String,
    /// The signed-in person's header and navigation (issue #14), on personnel pages.
    pub nav: Option<crate::nav::Nav>,
}

impl Shell {
    /// The shell of the page at `path` in `lang`.
    pub fn new(lang: Lang, path: &str) -> Self {
        Self {
            lang,
            s: crate::i18n::strings(lang),
            path: path.to_owned(),
            nav: None,
        }
    }

    /// The shell of a signed-in person's page: with their header and navigation.
    pub async fn signed_in(
        state: &crate::app::AppState,
        p: &trygg_app::sessions::Session,
        lang: Lang,
        path: &str,
    ) -> Self {
        let mut shell = Self::new(lang, path);
        shell.nav = Some(crate::nav::nav(state, p, lang, path).await);
        shell
    }

    /// The languages for the language control: (tag, name, is current).
    pub fn languages(&self) -> Vec<(&'static str, &'static str, bool)> {
        Lang::ALL
            .iter()
            .map(|l| (l.tag(), l.name(), *l == self.lang))
            .collect()
    }
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    shell: Shell,
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    shell: Shell,
}

/// The page routes and static assets.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/static/trygg.css", get(css))
        .route("/static/trygg.js", get(js))
        .route("/static/passkey.js", get(passkey_js))
        .route("/static/admin.js", get(admin_js))
        .route("/static/favicon.svg", get(favicon))
}

/// Renders a template as an HTML response, or a 500 problem if rendering fails.
pub fn render(t: &impl Template, status: StatusCode) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => crate::error::ApiError::internal("TR-W500", e).into_response(),
    }
}

async fn index(Query(q): Query<LangQuery>) -> Response {
    let lang = Lang::from_query(q.lang.as_deref());
    render(
        &IndexPage {
            shell: Shell::new(lang, "/"),
        },
        StatusCode::OK,
    )
}

/// The not-found page, in the language the request asked for.
pub fn not_found(req: &Request) -> Response {
    let lang = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("lang=")))
        .map(|v| Lang::from_query(Some(v)))
        .unwrap_or_default();
    render(
        &NotFoundPage {
            shell: Shell::new(lang, "/"),
        },
        StatusCode::NOT_FOUND,
    )
}

pub(crate) fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

async fn css() -> Response {
    asset(
        include_str!("../../../web/static/trygg.css"),
        "text/css; charset=utf-8",
    )
}

async fn js() -> Response {
    asset(
        include_str!("../../../web/static/trygg.js"),
        "text/javascript; charset=utf-8",
    )
}

async fn passkey_js() -> Response {
    asset(
        include_str!("../../../web/static/passkey.js"),
        "text/javascript; charset=utf-8",
    )
}

async fn admin_js() -> Response {
    asset(
        include_str!("../../../web/static/admin.js"),
        "text/javascript; charset=utf-8",
    )
}

async fn favicon() -> Response {
    asset(
        include_str!("../../../web/static/favicon.svg"),
        "image/svg+xml",
    )
}
