//! The operator's view of one node (issue #18): how many organisations exist, how many are
//! open, the bound on that, the file descriptors the process holds against the bound they
//! imply and the process's own limit. The server writes it every few seconds to
//! `status.json` in the data directory (owner-only, counts only: no organisation is named) and
//! shows it on the metrics endpoint; `trygg status` reads the file.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::config::Config;
use crate::context::App;
use crate::error::AppError;

/// Descriptors the process holds besides the organisations' databases and the clients'
/// connections: the control database, listeners, the media socket, the runtime's own.
pub const BASE_FILES: u64 = 64;

/// The file the server writes its status to, in the data directory.
pub const STATUS_FILE: &str = "status.json";

/// One node's state, counts only.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeStatus {
    /// When it was taken.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The server's process id.
    pub pid: u32,
    /// Organisations that exist.
    pub orgs: u64,
    /// Organisations open now (or being opened or closed).
    pub open: u64,
    /// The bound on open organisations (`store_max_open_orgs`).
    pub max_open: u64,
    /// The idle time after which an organisation is closed, in seconds.
    pub idle_secs: u64,
    /// Openings since start.
    pub opened: u64,
    /// Closings since start.
    pub closed: u64,
    /// Requests told the store was busy because every open organisation was in use.
    pub refused: u64,
    /// File descriptors the process holds now (where the system tells).
    pub descriptors: Option<u64>,
    /// The most it should hold: the open organisations' bound times their descriptors each,
    /// plus the client connections' bound, plus [`BASE_FILES`].
    pub descriptor_bound: u64,
    /// The process's soft limit on open files (where the system tells).
    pub file_limit: Option<u64>,
    /// Consultation rooms live on this node.
    pub rooms_live: u64,
}

/// The most descriptors the process should hold under `config`.
pub fn descriptor_bound(config: &Config) -> u64 {
    let orgs = u64::try_from(config.store_max_open_orgs).unwrap_or(u64::MAX);
    let per_org = u64::try_from(trygg_store::FILES_PER_ORG).unwrap_or(u64::MAX);
    let conns = u64::try_from(config.max_connections).unwrap_or(u64::MAX);
    orgs.saturating_mul(per_org)
        .saturating_add(conns)
        .saturating_add(BASE_FILES)
}

/// The descriptors this process holds now (Linux: `/proc/self/fd`).
pub fn open_descriptors() -> Option<u64> {
    let n = std::fs::read_dir("/proc/self/fd").ok()?.count();
    // The directory read holds one itself.
    u64::try_from(n.saturating_sub(1)).ok()
}

/// The process's soft limit on open files (Linux: `/proc/self/limits`).
pub fn file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The node's state now.
pub async fn status(app: &App, now: OffsetDateTime) -> Result<NodeStatus, AppError> {
    let open = app.store.open_stats();
    let to = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    Ok(NodeStatus {
        at: now,
        pid: std::process::id(),
        orgs: app.store.count_orgs().await?,
        open: to(open.open),
        max_open: to(open.max_open),
        idle_secs: open.idle_secs,
        opened: open.opened,
        closed: open.closed,
        refused: open.refused,
        descriptors: open_descriptors(),
        descriptor_bound: descriptor_bound(&app.config),
        file_limit: file_limit(),
        rooms_live: to(app.rooms.live_count()),
    })
}

impl NodeStatus {
    /// The Prometheus text of the counts.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, kind: &str, v: Option<u64>| {
            if let Some(v) = v {
                out.push_str(&format!(
                    "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
                ));
            }
        };
        gauge(
            "trygg_orgs",
            "Organisations that exist.",
            "gauge",
            Some(self.orgs),
        );
        gauge(
            "trygg_orgs_open",
            "Organisations whose database is open now.",
            "gauge",
            Some(self.open),
        );
        gauge(
            "trygg_orgs_open_max",
            "The bound on open organisations (store_max_open_orgs).",
            "gauge",
            Some(self.max_open),
        );
        gauge(
            "trygg_orgs_opened_total",
            "Organisations opened since start.",
            "counter",
            Some(self.opened),
        );
        gauge(
            "trygg_orgs_closed_total",
            "Organisations closed since start.",
            "counter",
            Some(self.closed),
        );
        gauge(
            "trygg_orgs_refused_total",
            "Requests refused because every open organisation was in use.",
            "counter",
            Some(self.refused),
        );
        gauge(
            "trygg_open_files",
            "File descriptors the process holds.",
            "gauge",
            self.descriptors,
        );
        gauge(
            "trygg_open_files_bound",
            "The most file descriptors the settings allow the process.",
            "gauge",
            Some(self.descriptor_bound),
        );
        gauge(
            "trygg_open_files_limit",
            "The process's soft limit on open files.",
            "gauge",
            self.file_limit,
        );
        out
    }

    /// The text `trygg status` prints.
    pub fn to_text(&self) -> String {
        let or_unknown = |v: Option<u64>| v.map_or_else(|| "unknown".to_owned(), |v| v.to_string());
        let mut out = format!(
            "organisations:      {}\n\
             open now:           {} (at most {}; closed after {} s unused)\n\
             opened, closed:     {}, {} since start; {} requests refused as busy\n\
             file descriptors:   {} (bound {}; the process's limit {})\n\
             live rooms:         {}\n\
             taken at:           {} by process {}\n",
            self.orgs,
            self.open,
            self.max_open,
            self.idle_secs,
            self.opened,
            self.closed,
            self.refused,
            or_unknown(self.descriptors),
            self.descriptor_bound,
            or_unknown(self.file_limit),
            self.rooms_live,
            self.at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            self.pid,
        );
        if let Some(limit) = self.file_limit {
            if self.descriptor_bound > limit {
                out.push_str(&format!(
                    "warning: the bound ({}) is above the process's limit ({limit}): raise \
                     LimitNOFILE or lower store_max_open_orgs or max_connections\n",
                    self.descriptor_bound
                ));
            }
        }
        out
    }
}

/// The status file's path in `data_dir`.
pub fn status_path(data_dir: &Path) -> PathBuf {
    data_dir.join(STATUS_FILE)
}

/// Writes the status file whole (a new file renamed over the old, owner-only).
pub fn write_status(data_dir: &Path, s: &NodeStatus) -> std::io::Result<()> {
    use std::io::Write as _;
    let path = status_path(data_dir);
    let tmp = data_dir.join(format!("{STATUS_FILE}.tmp"));
    let text = serde_json::to_vec_pretty(s).map_err(std::io::Error::other)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).write(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(&text)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &path)
}

/// Reads the status file, if there is one that parses.
pub fn read_status(data_dir: &Path) -> Option<NodeStatus> {
    let text = std::fs::read(status_path(data_dir)).ok()?;
    serde_json::from_slice(&text).ok()
}
