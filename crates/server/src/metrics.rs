//! The operators' Prometheus endpoint (issue #11): `GET /metrics` on its own listener
//! (`metrics_listen`), with the media server's counters, the live consultation rooms and the
//! node's organisations and descriptors (issue #18). Only counts: no organisation,
//! consultation, participant, address or name is ever a label.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// Serves `/metrics` on `listener` until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    media: trygg_media::MediaServer,
    state: trygg_app::App,
) {
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let media = media.clone();
            let state = state.clone();
            async move { render(&media, &state).await }
        }),
    );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "the metrics endpoint stopped");
    }
}

async fn render(media: &trygg_media::MediaServer, state: &trygg_app::App) -> impl IntoResponse {
    let mut body = media.metrics().render();
    body.push_str("# HELP trygg_consultation_rooms_live Consultation rooms live on this node.\n");
    body.push_str("# TYPE trygg_consultation_rooms_live gauge\n");
    body.push_str(&format!(
        "trygg_consultation_rooms_live {}\n",
        state.rooms.live_count()
    ));
    match trygg_app::node::status(state, state.now()).await {
        Ok(s) => body.push_str(&s.to_prometheus()),
        Err(e) => tracing::warn!(code = e.code, "the node's status could not be read"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}
