//! Running the HTTP server for a ready [`trygg_app::App`]: bind the listener (HTTPS with rustls
//! when a certificate is configured, plain HTTP only on loopback), say where it listens, and shut
//! down gracefully on SIGTERM or SIGINT: in-flight requests finish, then every database is closed
//! cleanly. Both listeners get the same protection against slow and numerous clients (review
//! finding 6): a header-read timeout (HTTP/1), a TLS handshake timeout, an idle timeout and a
//! connection cap ([`crate::conn_limit`]).

use std::net::SocketAddr;
use std::time::Duration;

use crate::app::{router, AppState};

/// What to print once the server listens.
pub type OnListening = Box<dyn FnOnce(SocketAddr, &str) + Send>;

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The certificate or key could not be loaded.
    #[error("loading the TLS certificate {cert} and key {key}: {source}")]
    Tls {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Plain HTTP was asked for on an address that is not loopback (VC-ENC-1).
    #[error("plain HTTP is allowed only on a loopback address")]
    PlainHttpOffLoopback,
    /// The media server (SFU) could not start.
    #[error("starting the media server: {0}")]
    Media(#[from] trygg_media::StartError),
    /// The notice channels (SMTP, SMS gateway) could not be set up.
    #[error("setting up the notice channels: {0}")]
    Notices(#[from] trygg_app::notices::ChannelError),
    /// Binding or serving failed.
    #[error("serving on {addr}: {source}")]
    Serve {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// Serves `state` until SIGTERM or SIGINT, then shuts down gracefully and closes the store.
pub async fn serve(mut state: AppState, on_listening: OnListening) -> Result<(), ServeError> {
    let config = state.config.clone();
    // The media server (issue #11): its own UDP port and thread.
    let public_ip = config.media_public_ip.unwrap_or_else(|| {
        if config.media_listen.ip().is_unspecified() {
            std::net::IpAddr::from([127, 0, 0, 1])
        } else {
            config.media_listen.ip()
        }
    });
    let media =
        trygg_media::MediaServer::start(config.media_listen, SocketAddr::new(public_ip, 0))?;
    state.media = Some(media.clone());
    if let Some(addr) = config.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Serve { addr, source })?;
        tokio::spawn(crate::metrics::serve(listener, media, state.clone()));
    }
    // The notice outbox's worker (issue #12), when a channel is configured.
    let channels = trygg_app::notices::Channels::from_config(&config)?;
    let notices = channels
        .any()
        .then(|| tokio::spawn(trygg_app::notices::run_worker(state.clone(), channels)));
    // The message jobs (issue #12): retention (PC-STORE-1) and escalation of unread messages
    // (PC-READ-1), once a minute.
    let message_jobs = tokio::spawn(trygg_app::messages::run_jobs(
        state.clone(),
        Duration::from_secs(60),
    ));
    // The compliance jobs (issue #15): the incident watcher once a minute (PC-VENDOR-6), the
    // retention job at start and every hour (PC-STORE-1).
    let compliance_jobs = tokio::spawn(trygg_app::incidents::run_jobs(
        state.clone(),
        Duration::from_secs(60),
        60,
    ));
    // Open on use (issue #18): organisations unused for the idle time are closed.
    let closer = tokio::spawn({
        let store = state.store.clone();
        let every = Duration::from_secs(config.store_idle_close_secs)
            .div_f64(4.0)
            .clamp(Duration::from_millis(200), Duration::from_secs(15));
        async move {
            loop {
                tokio::time::sleep(every).await;
                store.close_idle().await;
            }
        }
    });
    // The node's status for `trygg status` (issue #18), every five seconds.
    let status = tokio::spawn({
        let app = state.clone();
        async move {
            loop {
                match trygg_app::node::status(&app, app.now()).await {
                    Ok(s) => {
                        if let Err(e) = trygg_app::node::write_status(&app.config.data_dir, &s) {
                            tracing::warn!(error = %e, "the status file could not be written");
                        }
                    }
                    Err(e) => tracing::warn!(code = e.code, "the node's status could not be read"),
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    });
    let store = state.store.clone();
    let flusher = state.clone();
    // Held-back cross-organisation probes are written once their window ends, even when no
    // further request comes (finding 7).
    let periodic = tokio::spawn({
        let app = state.clone();
        async move {
            let every = Duration::from_secs(trygg_app::access::PROBE_WINDOW_SECS.unsigned_abs());
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = trygg_app::access::flush_probes(&app, app.now(), false).await {
                    tracing::error!(code = e.code, "writing held-back probes failed");
                }
            }
        }
    });
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    // The signal handlers are installed here, before the address is announced, so a SIGTERM
    // right after the "listening" line stops the server gracefully instead of killing it.
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(not(unix))]
    let term = None::<()>;
    tokio::spawn(shutdown_on_signal(handle.clone(), term));
    let scheme = if config.tls() { "https" } else { "http" };
    let watch = handle.clone();
    tokio::spawn(async move {
        if let Some(addr) = watch.listening().await {
            on_listening(addr, scheme);
        }
    });
    let header_timeout = Duration::from_secs(config.header_read_timeout_secs);
    let limit = crate::conn_limit::LimitAcceptor::new(
        config.max_connections,
        Duration::from_secs(config.idle_timeout_secs),
    );
    let mut server = axum_server::bind(config.listen).handle(handle);
    server
        .http_builder()
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout);
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
            .await
            .map_err(|source| ServeError::Tls {
                cert: cert.display().to_string(),
                key: key.display().to_string(),
                source,
            })?;
        let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls)
            .handshake_timeout(header_timeout)
            .acceptor(limit);
        server
            .acceptor(acceptor)
            .serve(app)
            .await
            .map_err(|source| ServeError::Serve {
                addr: config.listen,
                source,
            })?;
    } else {
        if !config.listen.ip().is_loopback() {
            return Err(ServeError::PlainHttpOffLoopback);
        }
        tracing::warn!(
            "serving plain HTTP on loopback; put a TLS proxy in front or set tls_cert and tls_key (VC-ENC-1)"
        );
        server
            .acceptor(limit)
            .serve(app)
            .await
            .map_err(|source| ServeError::Serve {
                addr: config.listen,
                source,
            })?;
    }
    periodic.abort();
    closer.abort();
    status.abort();
    message_jobs.abort();
    compliance_jobs.abort();
    if let Some(n) = notices {
        n.abort();
    }
    if let Err(e) = trygg_app::access::flush_probes(&flusher, flusher.now(), true).await {
        tracing::error!(code = e.code, "writing held-back probes at shutdown failed");
    }
    store.close().await;
    tracing::info!("stopped; databases closed");
    Ok(())
}

#[cfg(unix)]
type TermSignal = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type TermSignal = Option<()>;

async fn shutdown_on_signal(handle: axum_server::Handle, term: TermSignal) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async move {
        match term {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = {
        let _ = term;
        std::future::pending::<()>()
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
    handle.graceful_shutdown(Some(Duration::from_secs(30)));
}
