//! What every use case can reach: the store, the configuration, the compiled confidentiality
//! guard and the clock. The HTTP edge keeps one [`App`] as its state; the CLI builds one for a
//! command; tests build one with a [`crate::ManualClock`].

use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use trygg_store::Store;

use crate::access::{ProbeWindows, PROBE_KEYS_MAX};
use crate::clock::SharedClock;
use crate::config::Config;

/// The application: shared, cheap to clone.
#[derive(Clone)]
pub struct App {
    /// The store.
    pub store: Arc<Store>,
    /// The configuration.
    pub config: Arc<Config>,
    /// The confidentiality guard, compiled once at start (PC-CONF-1).
    pub guard: Arc<trygg_guard::Guard>,
    /// Where the time comes from: the only place a use case reads it.
    pub clock: SharedClock,
    /// Cross-organisation probes being aggregated (finding 7), bounded.
    pub probes: Arc<Mutex<ProbeWindows>>,
    /// The consultation rooms live on this node (issue #10).
    pub rooms: crate::rooms::Rooms,
    /// The media server (SFU, issue #11), started by the server; `None` in the command-line
    /// tools, which carry no calls.
    pub media: Option<trygg_media::MediaServer>,
    /// Patients' logins through ID-porten in progress, and what the provider said of itself
    /// (issue #13).
    pub logins: Arc<crate::portal::Logins>,
}

impl App {
    /// An application over these parts.
    pub fn new(
        store: Arc<Store>,
        config: Arc<Config>,
        guard: Arc<trygg_guard::Guard>,
        clock: SharedClock,
    ) -> Self {
        // More than one TLS provider is compiled in (through dependencies), so rustls cannot
        // pick one: Trygg's is aws-lc-rs, installed once for every client it makes (SMTP, the
        // SMS gateway, KRR, ID-porten). An error means one is installed already.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        Self {
            store,
            config,
            guard,
            clock,
            probes: Arc::new(Mutex::new(ProbeWindows::new(PROBE_KEYS_MAX))),
            rooms: crate::rooms::Rooms::new(),
            media: None,
            logins: Arc::new(crate::portal::Logins::default()),
        }
    }

    /// The current time, from the application's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }
}

/// Compiles the confidentiality guard: the built-in term lists and, if configured, the
/// deployment's extra list (a bad line names its file and line).
pub fn load_guard(config: &Config) -> Result<trygg_guard::Guard, trygg_guard::LoadError> {
    let mut b = trygg_guard::Guard::builder();
    if let Some(f) = &config.guard_terms_file {
        b = b.extra_terms_file(f);
    }
    b.build()
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &self.config)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}
