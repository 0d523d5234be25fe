//! Running the server: open the store with its master key, bind the listener (HTTPS with rustls
//! when a certificate is configured, plain HTTP only on loopback), print where to go, and shut
//! down gracefully on SIGTERM or SIGINT: in-flight requests finish, then every database is closed
//! cleanly. Both listeners get the same protection against slow and numerous clients (review
//! finding 6): a header-read timeout (HTTP/1), a TLS handshake timeout, an idle timeout and a
//! connection cap ([`crate::conn_limit`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use trygg_store::crypto::MasterKeySource;
use trygg_store::{MasterKey, Store, StoreConfig};

use crate::app::{router, AppState};
use crate::config::Config;

/// Opens the store named by the configuration, resolving the master key: the `master_key` value
/// (environment), else `master_key_file`, else `<data_dir>/master.key`, generated if missing.
///
/// Refuses to start when the data directory or the audit signing key can be read by other users,
/// as it does for the master key file (review finding 7).
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::check_data_dir(&config.data_dir)?;
    let (key, source) = if let Some(v) = &config.master_key {
        (MasterKey::from_base64(v)?, MasterKeySource::Value)
    } else if let Some(f) = &config.master_key_file {
        (MasterKey::from_file(f)?, MasterKeySource::File)
    } else {
        MasterKey::load_or_generate(&config.data_dir.join("master.key"))?
    };
    if source == MasterKeySource::Generated {
        let msg = format!(
            "WARNING: generated a new master key in {}. Anyone with this file and a copy of the \
             databases can read all personal data. For production, keep the master key on separate \
             storage (master_key_file) or in the environment (TRYGG_MASTER_KEY), and back it up: \
             without it the data cannot be read.",
            config.data_dir.join("master.key").display()
        );
        tracing::warn!("{msg}");
    }
    let key_path = config
        .audit_key_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("audit-signing.key"));
    let (audit_key, generated) = trygg_store::audit::load_or_generate_signing_key(&key_path)?;
    if generated {
        tracing::warn!(
            "generated a new audit checkpoint signing key in {}; keep it apart from the databases \
             (audit_key_file) so that whoever can edit a database cannot re-sign its log",
            key_path.display()
        );
    }
    let store = Store::open(
        &StoreConfig {
            data_dir: config.data_dir.clone(),
            audit_host: config.audit_host(),
        },
        key,
        audit_key,
    )
    .await?;
    Ok(store)
}

/// Compiles the confidentiality guard: the built-in term lists and, if configured, the
/// deployment's extra list (checked at start; a bad line stops the server with its file and line).
pub fn load_guard(config: &Config) -> anyhow::Result<trygg_guard::Guard> {
    let mut b = trygg_guard::Guard::builder();
    if let Some(f) = &config.guard_terms_file {
        b = b.extra_terms_file(f);
    }
    Ok(b.build()?)
}

/// What to print once the server listens.
pub type OnListening = Box<dyn FnOnce(SocketAddr, &str) + Send>;

/// Serves until SIGTERM or SIGINT, then shuts down gracefully, with the system clock.
pub async fn serve(
    config: Config,
    store: Arc<Store>,
    on_listening: OnListening,
) -> anyhow::Result<()> {
    serve_with_clock(
        config,
        store,
        Arc::new(trygg_app::SystemClock),
        on_listening,
    )
    .await
}

/// Serves like [`serve`], reading the time from `clock` (tests give a [`trygg_app::ManualClock`]).
pub async fn serve_with_clock(
    config: Config,
    store: Arc<Store>,
    clock: trygg_app::SharedClock,
    on_listening: OnListening,
) -> anyhow::Result<()> {
    let state = AppState::new(
        store.clone(),
        Arc::new(config.clone()),
        Arc::new(load_guard(&config)?),
        clock,
    );
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    tokio::spawn(shutdown_on_signal(handle.clone()));
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
            .with_context(|| {
                format!(
                    "loading the TLS certificate {} and key {}",
                    cert.display(),
                    key.display()
                )
            })?;
        let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls)
            .handshake_timeout(header_timeout)
            .acceptor(limit);
        server
            .acceptor(acceptor)
            .serve(app)
            .await
            .with_context(|| format!("serving on {}", config.listen))?;
    } else {
        if !config.listen.ip().is_loopback() {
            anyhow::bail!("plain HTTP is allowed only on a loopback address");
        }
        tracing::warn!(
            "serving plain HTTP on loopback; put a TLS proxy in front or set tls_cert and tls_key (VC-ENC-1)"
        );
        server
            .acceptor(limit)
            .serve(app)
            .await
            .with_context(|| format!("serving on {}", config.listen))?;
    }
    store.close().await;
    tracing::info!("stopped; databases closed");
    Ok(())
}

async fn shutdown_on_signal(handle: axum_server::Handle) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
    handle.graceful_shutdown(Some(Duration::from_secs(30)));
}
