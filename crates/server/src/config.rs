//! Configuration: one strict table. Every setting is declared once in [`SETTINGS`] with its key,
//! environment variable, default, whether it is secret, and the recommended value for the
//! compliance report (VC-PBD-2). Values come from, in rising order: defaults, `trygg.toml` (or
//! `--config FILE`), `TRYGG_*` environment variables, and command-line flags. Unknown keys in the
//! file are rejected, with the key named.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// One declared setting.
#[derive(Debug)]
pub struct Setting {
    /// The key in `trygg.toml`.
    pub key: &'static str,
    /// What it does.
    pub doc: &'static str,
    /// The default, as text.
    pub default: &'static str,
    /// Whether the value is a secret (masked in every output).
    pub secret: bool,
    /// The recommended value for production, as text, where there is one.
    pub recommended: Option<&'static str>,
}

/// Every setting, in the order the README documents them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "listen",
        doc: "Address and port to listen on. Plain HTTP is refused unless this is a loopback address.",
        default: "127.0.0.1:8080",
        secret: false,
        recommended: None,
    },
    Setting {
        key: "data_dir",
        doc: "Directory for the control database, one database per organisation, and (embedded default) the master key.",
        default: "./trygg-data",
        secret: false,
        recommended: None,
    },
    Setting {
        key: "public_url",
        doc: "The URL people use to reach Trygg, for links in pages and notices. Defaults to the listen address.",
        default: "",
        secret: false,
        recommended: Some("https://<your host>"),
    },
    Setting {
        key: "tls_cert",
        doc: "PEM certificate chain. With tls_key, Trygg serves HTTPS (TLS 1.2 and 1.3 only).",
        default: "",
        secret: false,
        recommended: Some("set (VC-ENC-1)"),
    },
    Setting {
        key: "tls_key",
        doc: "PEM private key for tls_cert.",
        default: "",
        secret: false,
        recommended: Some("set (VC-ENC-1)"),
    },
    Setting {
        key: "master_key_file",
        doc: "File with the base64 master key that wraps every organisation's data key. Default: <data_dir>/master.key, generated on first start.",
        default: "",
        secret: false,
        recommended: Some("a file outside the data directory, on separate storage"),
    },
    Setting {
        key: "audit_key_file",
        doc: "File with the base64 PKCS#8 Ed25519 key that signs audit checkpoints. Default: <data_dir>/audit-signing.key, generated on first start.",
        default: "",
        secret: false,
        recommended: Some("a file outside the data directory, readable only by Trygg"),
    },
    Setting {
        key: "master_key",
        doc: "The base64 master key itself (use the environment variable TRYGG_MASTER_KEY, not the file).",
        default: "",
        secret: true,
        recommended: None,
    },
    Setting {
        key: "guard_terms_file",
        doc: "Extra term list for the confidentiality guard (the format of crates/guard/data), e.g. from a licensed ICPC-2 or FEST extract. Checked at start.",
        default: "",
        secret: false,
        recommended: None,
    },
    Setting {
        key: "body_limit_bytes",
        doc: "Largest request body accepted.",
        default: "1048576",
        secret: false,
        recommended: Some("1048576"),
    },
    Setting {
        key: "request_timeout_secs",
        doc: "Time limit for one HTTP request.",
        default: "30",
        secret: false,
        recommended: Some("30"),
    },
    Setting {
        key: "header_read_timeout_secs",
        doc: "Time a client has to send a request's headers (and a TLS handshake to finish); a slower client is disconnected.",
        default: "10",
        secret: false,
        recommended: Some("10"),
    },
    Setting {
        key: "idle_timeout_secs",
        doc: "A connection on which nothing is read or written for this long is closed (keep-alive included). At least request_timeout_secs.",
        default: "60",
        secret: false,
        recommended: Some("60"),
    },
    Setting {
        key: "max_connections",
        doc: "Most open client connections at once; a connection beyond it is closed at once.",
        default: "1024",
        secret: false,
        recommended: Some("1024, below the process's file limit"),
    },
    Setting {
        key: "trusted_proxies",
        doc: "Addresses or CIDR blocks of reverse proxies whose Forwarded / X-Forwarded-For header names the client (comma-separated in the environment). Empty: the TCP peer is the client.",
        default: "",
        secret: false,
        recommended: Some("the TLS proxy's address, if there is one"),
    },
    Setting {
        key: "session_idle_timeout_secs",
        doc: "A personnel session ends after this many seconds without a request.",
        default: "1800",
        secret: false,
        recommended: Some("1800 or less"),
    },
    Setting {
        key: "session_absolute_timeout_secs",
        doc: "A personnel session ends this many seconds after login, however active.",
        default: "43200",
        secret: false,
        recommended: Some("43200 or less"),
    },
    Setting {
        key: "login_max_failures",
        doc: "Failed logins of one account within login_lockout_secs that lock it (a client address gets four times as many).",
        default: "5",
        secret: false,
        recommended: Some("5"),
    },
    Setting {
        key: "login_lockout_secs",
        doc: "The first lock's length and the window failures are counted in; each further lock doubles, up to a day.",
        default: "300",
        secret: false,
        recommended: Some("300"),
    },
    Setting {
        key: "enrolment_link_ttl_secs",
        doc: "How long an enrolment link (passkey set-up for a new person) works; it works once.",
        default: "86400",
        secret: false,
        recommended: Some("86400 or less"),
    },
    Setting {
        key: "log_format",
        doc: "`text` or `json`. Logs never contain personal data.",
        default: "text",
        secret: false,
        recommended: Some("json"),
    },
];

/// The resolved configuration.
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// See [`SETTINGS`].
    pub listen: SocketAddr,
    /// See [`SETTINGS`].
    pub data_dir: PathBuf,
    /// See [`SETTINGS`].
    pub public_url: Option<String>,
    /// See [`SETTINGS`].
    pub tls_cert: Option<PathBuf>,
    /// See [`SETTINGS`].
    pub tls_key: Option<PathBuf>,
    /// See [`SETTINGS`].
    pub master_key_file: Option<PathBuf>,
    /// See [`SETTINGS`].
    pub audit_key_file: Option<PathBuf>,
    /// See [`SETTINGS`].
    pub master_key: Option<String>,
    /// See [`SETTINGS`].
    pub guard_terms_file: Option<PathBuf>,
    /// See [`SETTINGS`].
    pub body_limit_bytes: usize,
    /// See [`SETTINGS`].
    pub request_timeout_secs: u64,
    /// See [`SETTINGS`].
    pub header_read_timeout_secs: u64,
    /// See [`SETTINGS`].
    pub idle_timeout_secs: u64,
    /// See [`SETTINGS`].
    pub max_connections: usize,
    /// See [`SETTINGS`].
    pub trusted_proxies: Vec<crate::client_addr::IpNet>,
    /// See [`SETTINGS`].
    pub session_idle_timeout_secs: u64,
    /// See [`SETTINGS`].
    pub session_absolute_timeout_secs: u64,
    /// See [`SETTINGS`].
    pub login_max_failures: u32,
    /// See [`SETTINGS`].
    pub login_lockout_secs: u64,
    /// See [`SETTINGS`].
    pub enrolment_link_ttl_secs: u64,
    /// See [`SETTINGS`].
    pub log_format: LogFormat,
    /// Set only by `trygg demo`, never from the file or the environment: enables the developer
    /// login (which still needs a loopback listener).
    #[serde(skip)]
    pub demo: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("public_url", &self.public_url)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("master_key_file", &self.master_key_file)
            .field("audit_key_file", &self.audit_key_file)
            .field("master_key", &self.master_key.as_ref().map(|_| "***"))
            .field("guard_terms_file", &self.guard_terms_file)
            .field("body_limit_bytes", &self.body_limit_bytes)
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("header_read_timeout_secs", &self.header_read_timeout_secs)
            .field("idle_timeout_secs", &self.idle_timeout_secs)
            .field("max_connections", &self.max_connections)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("session_idle_timeout_secs", &self.session_idle_timeout_secs)
            .field(
                "session_absolute_timeout_secs",
                &self.session_absolute_timeout_secs,
            )
            .field("login_max_failures", &self.login_max_failures)
            .field("login_lockout_secs", &self.login_lockout_secs)
            .field("enrolment_link_ttl_secs", &self.enrolment_link_ttl_secs)
            .field("log_format", &self.log_format)
            .field("demo", &self.demo)
            .finish()
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./trygg-data"),
            public_url: None,
            tls_cert: None,
            tls_key: None,
            master_key_file: None,
            audit_key_file: None,
            master_key: None,
            guard_terms_file: None,
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 1024,
            trusted_proxies: Vec::new(),
            session_idle_timeout_secs: 1800,
            session_absolute_timeout_secs: 43200,
            login_max_failures: 5,
            login_lockout_secs: 300,
            enrolment_link_ttl_secs: 86400,
            log_format: LogFormat::Text,
            demo: false,
        }
    }
}

/// A configuration problem, naming the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file or a variable is not valid TOML or has a wrong key or type.
    #[error("configuration: {0}")]
    Invalid(String),
}

/// Command-line values that override the file and environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
}

impl Config {
    /// Loads defaults, then the file (the given one, or `./trygg.toml` if it exists), then the
    /// `TRYGG_*` variables from `env`, then the overrides.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let mut table = toml::Table::new();
        let default_file = Path::new("trygg.toml");
        let path = match file {
            Some(p) => Some(p),
            None if default_file.exists() => Some(default_file),
            None => None,
        };
        if let Some(path) = path {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            table = text
                .parse::<toml::Table>()
                .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?;
        }
        for (name, value) in env {
            let Some(key) = name.strip_prefix("TRYGG_") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            let Some(setting) = SETTINGS.iter().find(|s| s.key == key) else {
                // TRYGG_* variables that are not settings (e.g. for tests) are left alone.
                continue;
            };
            table.insert(setting.key.to_owned(), env_value(setting.key, &value));
        }
        if let Some(d) = &overrides.data_dir {
            table.insert(
                "data_dir".into(),
                toml::Value::String(d.display().to_string()),
            );
        }
        if let Some(l) = overrides.listen {
            table.insert("listen".into(), toml::Value::String(l.to_string()));
        }
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_owned()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "tls_cert and tls_key must be set together".into(),
            ));
        }
        if self.tls_cert.is_none() && !self.listen.ip().is_loopback() {
            return Err(ConfigError::Invalid(format!(
                "listen = {} is not a loopback address, and plain HTTP is allowed only on loopback: \
                 set tls_cert and tls_key, or listen on 127.0.0.1 behind a TLS proxy",
                self.listen
            )));
        }
        if self.body_limit_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "body_limit_bytes must be at least 1024".into(),
            ));
        }
        if self.request_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "request_timeout_secs must be at least 1".into(),
            ));
        }
        if self.header_read_timeout_secs == 0 || self.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "header_read_timeout_secs and max_connections must be at least 1".into(),
            ));
        }
        if self.idle_timeout_secs < self.request_timeout_secs {
            return Err(ConfigError::Invalid(
                "idle_timeout_secs must be at least request_timeout_secs, or slow requests would \
                 lose their connection before their answer"
                    .into(),
            ));
        }
        if self.session_idle_timeout_secs == 0
            || self.session_absolute_timeout_secs < self.session_idle_timeout_secs
        {
            return Err(ConfigError::Invalid(
                "session_idle_timeout_secs must be at least 1, and session_absolute_timeout_secs \
                 at least session_idle_timeout_secs"
                    .into(),
            ));
        }
        if self.login_max_failures == 0 || self.login_lockout_secs == 0 {
            return Err(ConfigError::Invalid(
                "login_max_failures and login_lockout_secs must be at least 1".into(),
            ));
        }
        if !(60..=7 * 86400).contains(&self.enrolment_link_ttl_secs) {
            return Err(ConfigError::Invalid(
                "enrolment_link_ttl_secs must be between 60 and 604800 (7 days)".into(),
            ));
        }
        if let Some(u) = &self.public_url {
            let ok = (u.starts_with("https://") || u.starts_with("http://"))
                && !u.trim_end_matches('/').contains(['?', '#', ' ']);
            if !ok {
                return Err(ConfigError::Invalid(format!(
                    "public_url = {u} must be an http(s) URL such as https://trygg.example.no"
                )));
            }
        }
        Ok(())
    }

    /// The host named in audit checkpoint origins: the host of `public_url`, else `trygg.local`.
    pub fn audit_host(&self) -> String {
        self.public_url
            .as_deref()
            .and_then(|u| u.split("://").nth(1))
            .and_then(|rest| rest.split(['/', ':']).next())
            .filter(|h| !h.is_empty())
            .unwrap_or("trygg.local")
            .to_owned()
    }

    /// Whether HTTPS is configured.
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some()
    }

    /// The current value of a setting as text, masked if secret, for the compliance report.
    pub fn display_value(&self, key: &str) -> String {
        let opt = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        match key {
            "listen" => self.listen.to_string(),
            "data_dir" => self.data_dir.display().to_string(),
            "public_url" => self.public_url.clone().unwrap_or_default(),
            "tls_cert" => opt(&self.tls_cert),
            "tls_key" => opt(&self.tls_key),
            "master_key_file" => opt(&self.master_key_file),
            "audit_key_file" => opt(&self.audit_key_file),
            "master_key" => self
                .master_key
                .as_ref()
                .map(|_| "***".to_owned())
                .unwrap_or_default(),
            "guard_terms_file" => opt(&self.guard_terms_file),
            "body_limit_bytes" => self.body_limit_bytes.to_string(),
            "request_timeout_secs" => self.request_timeout_secs.to_string(),
            "header_read_timeout_secs" => self.header_read_timeout_secs.to_string(),
            "idle_timeout_secs" => self.idle_timeout_secs.to_string(),
            "max_connections" => self.max_connections.to_string(),
            "trusted_proxies" => self
                .trusted_proxies
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
            "session_idle_timeout_secs" => self.session_idle_timeout_secs.to_string(),
            "session_absolute_timeout_secs" => self.session_absolute_timeout_secs.to_string(),
            "login_max_failures" => self.login_max_failures.to_string(),
            "login_lockout_secs" => self.login_lockout_secs.to_string(),
            "enrolment_link_ttl_secs" => self.enrolment_link_ttl_secs.to_string(),
            "log_format" => format!("{:?}", self.log_format).to_lowercase(),
            _ => String::new(),
        }
    }
}

/// Environment values are strings; numbers are given as numbers so the typed fields accept them.
fn env_value(key: &str, value: &str) -> toml::Value {
    match key {
        "body_limit_bytes"
        | "request_timeout_secs"
        | "header_read_timeout_secs"
        | "idle_timeout_secs"
        | "max_connections"
        | "session_idle_timeout_secs"
        | "session_absolute_timeout_secs"
        | "login_max_failures"
        | "login_lockout_secs"
        | "enrolment_link_ttl_secs" => value
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .unwrap_or_else(|_| toml::Value::String(value.to_owned())),
        "trusted_proxies" => toml::Value::Array(
            value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| toml::Value::String(v.to_owned()))
                .collect(),
        ),
        _ => toml::Value::String(value.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_private() {
        let c = Config::load(None, env(&[]), &Overrides::default()).unwrap();
        assert!(c.listen.ip().is_loopback());
        assert!(!c.tls());
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.toml");
        std::fs::write(&p, "listne = \"127.0.0.1:1\"\n").unwrap();
        let e = Config::load(Some(&p), env(&[]), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("listne"), "{e}");
    }

    #[test]
    fn env_overrides_file_and_flags_override_env() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.toml");
        std::fs::write(
            &p,
            "listen = \"127.0.0.1:1000\"\nrequest_timeout_secs = 5\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&p),
            env(&[
                ("TRYGG_LISTEN", "127.0.0.1:2000"),
                ("TRYGG_REQUEST_TIMEOUT_SECS", "7"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 2000);
        assert_eq!(c.request_timeout_secs, 7);
        let c = Config::load(
            Some(&p),
            env(&[("TRYGG_LISTEN", "127.0.0.1:2000")]),
            &Overrides {
                listen: Some("127.0.0.1:3000".parse().unwrap()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.listen.port(), 3000);
    }

    #[test]
    fn plain_http_off_loopback_is_refused() {
        let e = Config::load(
            None,
            env(&[("TRYGG_LISTEN", "0.0.0.0:8080")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("loopback"), "{e}");
    }

    #[test]
    fn trusted_proxies_come_from_the_environment_as_a_list() {
        let c = Config::load(
            None,
            env(&[(
                "TRYGG_TRUSTED_PROXIES",
                "10.0.0.1, 192.0.2.0/24,2001:db8::/32",
            )]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.trusted_proxies.len(), 3);
        assert_eq!(
            c.display_value("trusted_proxies"),
            "10.0.0.1/32,192.0.2.0/24,2001:db8::/32"
        );
        let e = Config::load(
            None,
            env(&[("TRYGG_TRUSTED_PROXIES", "10.0.0.1/33")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("10.0.0.1/33"), "{e}");
    }

    #[test]
    fn secrets_are_masked() {
        let c = Config::load(
            None,
            env(&[("TRYGG_MASTER_KEY", "c2VjcmV0")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.display_value("master_key"), "***");
        assert!(!format!("{c:?}").contains("c2VjcmV0"));
    }

    #[test]
    fn every_setting_has_a_display_value_arm() {
        let c = Config::default();
        for s in SETTINGS {
            if !s.secret && !s.default.is_empty() {
                assert!(!c.display_value(s.key).is_empty(), "{}", s.key);
            }
        }
    }
}
