//! Trygg's server: the axum application (API, pages), configuration, the command line and the
//! `trygg` binary's entry points. This is the only crate that knows HTTP; the crates it uses are
//! tested without sockets.

pub mod access;
pub mod admin;
pub mod api;
pub mod app;
pub mod audit_events;
pub mod auth;
pub mod cli;
pub mod client_addr;
pub use trygg_app::config;
pub mod conn_limit;
pub mod demo;
pub mod error;
pub mod i18n;
pub mod pages;
pub mod serve;

/// Sets up logging to stderr. `RUST_LOG` filters (default `info`). Logs carry methods, paths,
/// statuses, request ids and codes, never personal data.
pub fn init_logging(format: config::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: a log file or collector gets plain fields.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        config::LogFormat::Json => builder.json().try_init(),
        config::LogFormat::Text => builder.try_init(),
    };
}
