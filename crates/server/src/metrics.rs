//! The operators' Prometheus endpoint (issue #11): `GET /metrics` on its own listener
//! (`metrics_listen`), with the media server's counters and the live consultation rooms. Only
//! counts: no organisation, consultation, participant, address or name is ever a label.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// Serves `/metrics` on `listener` until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    media: trygg_media::MediaServer,
    rooms: trygg_app::rooms::Rooms,
) {
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let media = media.clone();
            let rooms = rooms.clone();
            async move { render(&media, &rooms) }
        }),
    );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "the metrics endpoint stopped");
    }
}

fn render(media: &trygg_media::MediaServer, rooms: &trygg_app::rooms::Rooms) -> impl IntoResponse {
    let mut body = media.metrics().render();
    body.push_str("# HELP trygg_consultation_rooms_live Consultation rooms live on this node.\n");
    body.push_str("# TYPE trygg_consultation_rooms_live gauge\n");
    body.push_str(&format!(
        "trygg_consultation_rooms_live {}\n",
        rooms.live_count()
    ));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}
