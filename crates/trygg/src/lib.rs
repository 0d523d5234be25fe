//! The `trygg` binary's library: the command line ([`cli`]), start-up ([`startup`]: keys, store,
//! guard, the application), the demo data ([`demo`]) and logging. The only crate that uses
//! `anyhow` and reads the real time: everything below it takes the time from a clock.

pub mod cli;
pub mod demo;
pub mod startup;

/// Libraries whose verbose levels would log message payloads; held at `info` however verbose
/// `RUST_LOG` is.
const QUIET: &[&str] = &[
    "tungstenite=info",
    "tokio_tungstenite=info",
    // The media stack's debug output names addresses and ICE credentials (issue #11).
    "str0m=info",
    "str0m_proto=info",
    "is=info",
    "dimpl=info",
];

/// Sets up logging to stderr. `RUST_LOG` filters (default `info`). Logs carry methods, paths,
/// statuses, request ids and codes, never personal data.
pub fn init_logging(format: trygg_app::config::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // The WebSocket library logs every frame's payload at debug and trace: signalling frames
    // carry invitation tokens and the roster's names, which must never reach a log, whatever
    // RUST_LOG asks for (issue #10).
    let filter = QUIET
        .iter()
        .filter_map(|d| d.parse().ok())
        .fold(filter, EnvFilter::add_directive);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: a log file or collector gets plain fields.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        trygg_app::config::LogFormat::Json => builder.json().try_init(),
        trygg_app::config::LogFormat::Text => builder.try_init(),
    };
}
