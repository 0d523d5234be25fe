//! Start-up: open the store with its master key and audit signing key (refusing keys and a data
//! directory others can read), compile the confidentiality guard, and put the application
//! together for the HTTP server or a command.

use std::sync::Arc;

use trygg_app::config::Config;
use trygg_store::crypto::MasterKeySource;
use trygg_store::{MasterKey, Store, StoreConfig};

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
            write_queue: config.store_write_queue,
            open: trygg_store::OpenLimits {
                max_open: config.store_max_open_orgs,
                idle: std::time::Duration::from_secs(config.store_idle_close_secs),
            },
            notice_keep: time::Duration::days(i64::from(config.notice_retention_days)),
        },
        key,
        audit_key,
    )
    .await?;
    Ok(store)
}

/// Raises the process's soft limit on open files to its hard limit (issue #18), as a server
/// that may hold many organisations' databases should, and warns when the settings allow more
/// descriptors than that (`trygg_app::node::descriptor_bound`).
pub fn raise_file_limit(config: &Config) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let limit = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(_) => soft,
        },
        Ok((soft, _)) => soft,
        Err(_) => return,
    };
    let bound = trygg_app::node::descriptor_bound(config);
    if bound > limit {
        tracing::warn!(
            bound,
            limit,
            "the settings allow more open files than the process may hold: raise LimitNOFILE, or lower store_max_open_orgs or max_connections"
        );
    }
}

/// The lock a running server holds on its data directory (`serve.lock`, an advisory lock the
/// operating system releases when the process ends): a second server on the same directory
/// is refused, and so is `trygg org delete` while a server runs (issue #16: the server would
/// keep the organisation's database open and write to it).
pub fn hold_server_lock(config: &Config) -> anyhow::Result<std::fs::File> {
    let path = config.data_dir.join("serve.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another Trygg server runs on the data directory {}",
            config.data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            anyhow::bail!("{}: {e}", path.display())
        }
    }
}

/// Whether a server runs on the data directory (holds its `serve.lock`).
pub fn server_running(config: &Config) -> bool {
    let path = config.data_dir.join("serve.lock");
    let Ok(f) = std::fs::OpenOptions::new().write(true).open(&path) else {
        return false;
    };
    matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

/// Compiles the confidentiality guard: the built-in term lists and, if configured, the
/// deployment's extra list (checked at start; a bad line stops the server with its file and line).
pub fn load_guard(config: &Config) -> anyhow::Result<trygg_guard::Guard> {
    Ok(trygg_app::context::load_guard(config)?)
}

/// The application over an opened store, with the real clock.
pub fn app(config: &Config, store: Arc<Store>) -> anyhow::Result<trygg_app::App> {
    app_with_clock(config, store, Arc::new(trygg_app::SystemClock))
}

/// The application with the given clock (tests give one they can move).
pub fn app_with_clock(
    config: &Config,
    store: Arc<Store>,
    clock: trygg_app::SharedClock,
) -> anyhow::Result<trygg_app::App> {
    Ok(trygg_app::App::new(
        store,
        Arc::new(config.clone()),
        Arc::new(load_guard(config)?),
        clock,
    ))
}
