//! Configuration: every setting is declared once, in the [`settings!`] invocation below, with
//! its type, default, documentation, whether it is secret, and the recommended value for the
//! compliance report (VC-PBD-2). The macro makes the [`Config`] struct, its defaults, the
//! table the CLI and README document ([`settings`]), the masked display and the parsing of
//! `TRYGG_*` environment variables from that one declaration. Values come from, in rising order:
//! defaults, `trygg.toml` (or `--config FILE`), `TRYGG_*` environment variables, and command-line
//! flags. Unknown keys in the file are rejected, with the key named.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use trygg_core::net::IpNet;

/// One declared setting, as documented and reported.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The key in `trygg.toml`.
    pub key: &'static str,
    /// What it does.
    pub doc: &'static str,
    /// The default, as text.
    pub default: String,
    /// Whether the value is a secret (masked in every output).
    pub secret: bool,
    /// The recommended value for production, as text, where there is one.
    pub recommended: Option<&'static str>,
}

/// How a setting's type is shown and read from an environment variable.
pub trait SettingValue {
    /// The value as text (empty for "not set").
    fn show(&self) -> String;
    /// An environment variable's text as a TOML value of this type.
    fn from_env(text: &str) -> toml::Value {
        toml::Value::String(text.to_owned())
    }
}

macro_rules! integer_setting {
    ($($t:ty),*) => {$(
        impl SettingValue for $t {
            fn show(&self) -> String {
                self.to_string()
            }
            fn from_env(text: &str) -> toml::Value {
                text.trim()
                    .parse::<i64>()
                    .map(toml::Value::Integer)
                    .unwrap_or_else(|_| toml::Value::String(text.to_owned()))
            }
        }
    )*};
}
integer_setting!(u32, u64, usize);

impl SettingValue for SocketAddr {
    fn show(&self) -> String {
        self.to_string()
    }
}

impl SettingValue for std::net::IpAddr {
    fn show(&self) -> String {
        self.to_string()
    }
}

impl SettingValue for bool {
    fn show(&self) -> String {
        self.to_string()
    }
    fn from_env(text: &str) -> toml::Value {
        match text.trim() {
            "true" => toml::Value::Boolean(true),
            "false" => toml::Value::Boolean(false),
            other => toml::Value::String(other.to_owned()),
        }
    }
}

impl SettingValue for PathBuf {
    fn show(&self) -> String {
        self.display().to_string()
    }
}

impl SettingValue for String {
    fn show(&self) -> String {
        self.clone()
    }
}

impl<T: SettingValue> SettingValue for Option<T> {
    fn show(&self) -> String {
        self.as_ref().map(T::show).unwrap_or_default()
    }
    fn from_env(text: &str) -> toml::Value {
        T::from_env(text)
    }
}

impl SettingValue for IpNet {
    fn show(&self) -> String {
        self.to_string()
    }
}

/// A list setting: comma-separated in the environment, an array in the file.
impl<T: SettingValue> SettingValue for Vec<T> {
    fn show(&self) -> String {
        self.iter().map(T::show).collect::<Vec<_>>().join(",")
    }
    fn from_env(text: &str) -> toml::Value {
        toml::Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        )
    }
}

impl SettingValue for LogFormat {
    fn show(&self) -> String {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
        .to_owned()
    }
}

/// Declares every setting once. Each entry: its documentation, `[secret, recommended]`, then
/// `key: Type = default;`.
macro_rules! settings {
    ($( $(#[doc = $doc:literal])+ [$secret:literal, $rec:expr] $key:ident : $ty:ty = $default:expr; )*) => {
        /// The resolved configuration. Each field is documented in [`settings`].
        #[derive(Clone, serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Config {
            $( $(#[doc = $doc])+ pub $key: $ty, )*
            /// Set only by `trygg demo`, never from the file or the environment: enables the
            /// developer login (which still needs a loopback listener).
            #[serde(skip)]
            pub demo: bool,
        }

        impl Default for Config {
            fn default() -> Self {
                Self { $( $key: $default, )* demo: false }
            }
        }

        /// Every setting, in the order the README documents them.
        pub fn settings() -> Vec<Setting> {
            let d = Config::default();
            vec![$(
                Setting {
                    key: stringify!($key),
                    doc: concat!($($doc, )+).trim_start(),
                    default: SettingValue::show(&d.$key),
                    secret: $secret,
                    recommended: $rec,
                },
            )*]
        }

        impl Config {
            /// The current value of a setting as text, masked if secret, for the compliance
            /// report and `trygg config`.
            pub fn display_value(&self, key: &str) -> String {
                match key {
                    $( stringify!($key) => mask($secret, SettingValue::show(&self.$key)), )*
                    _ => String::new(),
                }
            }

            /// An environment variable's value as the TOML value of the setting's type.
            fn env_value(key: &str, text: &str) -> Option<toml::Value> {
                match key {
                    $( stringify!($key) => Some(<$ty as SettingValue>::from_env(text)), )*
                    _ => None,
                }
            }
        }
    };
}

fn mask(secret: bool, shown: String) -> String {
    if secret && !shown.is_empty() {
        "***".to_owned()
    } else {
        shown
    }
}

settings! {
    /// Address and port to listen on. Plain HTTP is refused unless this is a loopback address.
    [false, None]
    listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080));
    /// Directory for the control database, one database per organisation, and (embedded
    /// default) the master key.
    [false, None]
    data_dir: PathBuf = PathBuf::from("./trygg-data");
    /// The URL people use to reach Trygg, for links in pages and notices. Defaults to the listen
    /// address.
    [false, Some("https://<your host>")]
    public_url: Option<String> = None;
    /// PEM certificate chain. With tls_key, Trygg serves HTTPS (TLS 1.2 and 1.3 only).
    [false, Some("set (VC-ENC-1)")]
    tls_cert: Option<PathBuf> = None;
    /// PEM private key for tls_cert.
    [false, Some("set (VC-ENC-1)")]
    tls_key: Option<PathBuf> = None;
    /// File with the base64 master key that wraps every organisation's data key. Default:
    /// <data_dir>/master.key, generated on first start.
    [false, Some("a file outside the data directory, on separate storage")]
    master_key_file: Option<PathBuf> = None;
    /// File with the base64 PKCS#8 Ed25519 key that signs audit checkpoints. Default:
    /// <data_dir>/audit-signing.key, generated on first start.
    [false, Some("a file outside the data directory, readable only by Trygg")]
    audit_key_file: Option<PathBuf> = None;
    /// The base64 master key itself (use the environment variable TRYGG_MASTER_KEY, not the
    /// file).
    [true, None]
    master_key: Option<String> = None;
    /// Extra term list for the confidentiality guard (the format of crates/guard/data), e.g. from
    /// a licensed ICPC-2 or FEST extract. Checked at start.
    [false, None]
    guard_terms_file: Option<PathBuf> = None;
    /// Largest request body accepted.
    [false, Some("1048576")]
    body_limit_bytes: usize = 1024 * 1024;
    /// Time limit for one HTTP request.
    [false, Some("30")]
    request_timeout_secs: u64 = 30;
    /// Time a client has to send a request's headers (and a TLS handshake to finish); a slower
    /// client is disconnected.
    [false, Some("10")]
    header_read_timeout_secs: u64 = 10;
    /// A connection on which nothing is read or written for this long is closed (keep-alive
    /// included). At least request_timeout_secs.
    [false, Some("60")]
    idle_timeout_secs: u64 = 60;
    /// Most open client connections at once; a connection beyond it is closed at once.
    [false, Some("1024, below the process's file limit")]
    max_connections: usize = 1024;
    /// Addresses or CIDR blocks of reverse proxies whose Forwarded / X-Forwarded-For header
    /// names the client (comma-separated in the environment). Empty: the TCP peer is the client.
    [false, Some("the TLS proxy's address, if there is one")]
    trusted_proxies: Vec<IpNet> = Vec::new();
    /// A personnel session ends after this many seconds without a request.
    [false, Some("1800 or less")]
    session_idle_timeout_secs: u64 = 1800;
    /// A personnel session ends this many seconds after login, however active.
    [false, Some("43200 or less")]
    session_absolute_timeout_secs: u64 = 43200;
    /// Failed logins of one account within login_lockout_secs that lock it.
    [false, Some("5")]
    login_max_failures: u32 = 5;
    /// The first lock's length and the window failures are counted in; each further lock
    /// doubles, up to a day.
    [false, Some("300")]
    login_lockout_secs: u64 = 300;
    /// How long an enrolment link (passkey set-up for a new person) works; it works once.
    [false, Some("86400 or less")]
    enrolment_link_ttl_secs: u64 = 86400;
    /// The time zone pages show times in (an IANA name; issue #14). Stored and logged times stay
    /// in UTC.
    [false, Some("Europe/Oslo")]
    time_zone: String = "Europe/Oslo".to_owned();
    /// How long a device's enrolment code works (VC-DEV-2: short-lived); it works once.
    [false, Some("900")]
    device_code_ttl_secs: u64 = 900;
    /// Units of work that may wait to be written per organisation (issue #8); one more is
    /// refused with 503 and Retry-After instead of waiting without bound.
    [false, Some("4096")]
    store_write_queue: usize = 4096;
    /// How many organisations' databases may be open at once (issue #18); to open one more, the
    /// least recently used one nobody is using is closed. Each open organisation holds at most
    /// 11 file descriptors. A live consultation keeps its organisation open: keep this above
    /// the number of organisations with calls at the same time.
    [false, None]
    store_max_open_orgs: usize = 256;
    /// An organisation's database is closed after this many seconds without a request
    /// (issue #18); its next request opens it again.
    [false, None]
    store_idle_close_secs: u64 = 300;
    /// `text` or `json`. Logs never contain personal data.
    [false, Some("json")]
    log_format: LogFormat = LogFormat::Text;
    /// UDP address of the media server (SFU, issue #11): every participant's audio and video
    /// on one port. Port 0 picks a free port (fine on one machine; set a fixed port when a
    /// firewall or NAT is in front).
    [false, Some("0.0.0.0:3479")]
    media_listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
    /// The IP address browsers send media to (the SFU's ICE candidate). Default: the address
    /// of media_listen, or 127.0.0.1 when that is unspecified.
    [false, Some("the server's public IP address")]
    media_public_ip: Option<std::net::IpAddr> = None;
    /// Only browsers that encrypt media end to end are admitted to a call (VC-ENC-2); a browser
    /// that cannot is told why. The most private setting is the default.
    [false, Some("true")]
    e2ee_required: bool = true;
    /// TURN servers given to browsers behind strict NATs (coturn, `turn:host:3478`), with
    /// time-limited credentials from turn_secret. Empty: no relay.
    [false, None]
    turn_urls: Vec<String> = Vec::new();
    /// The secret shared with coturn (`static-auth-secret` with `use-auth-secret`). Use the
    /// environment variable TRYGG_TURN_SECRET.
    [true, None]
    turn_secret: Option<String> = None;
    /// How long a TURN credential works, in seconds.
    [false, Some("3600")]
    turn_ttl_secs: u64 = 3600;
    /// Address of the Prometheus metrics endpoint (`/metrics`) for operators: counts only, no
    /// personal data. Unset: no endpoint. Keep it on loopback or an operations network.
    [false, Some("127.0.0.1:9464")]
    metrics_listen: Option<SocketAddr> = None;
    /// The SMTP server e-mail notices go through (issue #12), `smtp://host:port`. STARTTLS is
    /// always required: a server that does not offer it gets nothing. Unset: no e-mail notices.
    [false, Some("smtp://smtp.example.no:587")]
    smtp_url: Option<String> = None;
    /// The address e-mail notices come from (the organisation's neutral name is shown with it).
    [false, Some("ikke-svar@example.no")]
    smtp_from: Option<String> = None;
    /// SMTP user name, when the server wants one.
    [false, None]
    smtp_user: Option<String> = None;
    /// SMTP password. Use the environment variable TRYGG_SMTP_PASSWORD.
    [true, None]
    smtp_password: Option<String> = None;
    /// A PEM file of a certificate authority to trust for the SMTP server, besides the system's.
    [false, None]
    smtp_ca_file: Option<PathBuf> = None;
    /// The SMS gateway's base URL (https; plain http only to a loopback address). Unset: no SMS
    /// notices.
    [false, Some("https://sms.example.no")]
    sms_gateway_url: Option<String> = None;
    /// The gateway's API: `generic` (`POST /sms`, JSON, bearer token, Idempotency-Key) or `link`
    /// (LINK Mobility's `POST /sms/send`, basic authentication, refId).
    [false, Some("generic")]
    sms_gateway_shape: String = "generic".to_owned();
    /// The gateway's credential: a bearer token (generic) or `user:password` (link). Use the
    /// environment variable TRYGG_SMS_GATEWAY_TOKEN.
    [true, None]
    sms_gateway_token: Option<String> = None;
    /// LINK Mobility's platformId.
    [false, None]
    sms_link_platform_id: Option<String> = None;
    /// LINK Mobility's platformPartnerId.
    [false, None]
    sms_link_platform_partner_id: Option<String> = None;
    /// LINK Mobility's delivery report gate id (reports are then asked for).
    [false, None]
    sms_link_dlr_gate: Option<String> = None;
    /// How long one request to the SMS gateway may take, in seconds.
    [false, Some("10")]
    sms_timeout_secs: u64 = 10;
    /// The key delivery reports are signed with (HMAC-SHA256 of the body, header
    /// `X-Trygg-Dlr-Signature`). Unset: reports are refused. Use the environment variable
    /// TRYGG_SMS_DLR_SECRET.
    [true, None]
    sms_dlr_secret: Option<String> = None;
    /// The contact and reservation register (KRR, Digdir's Kontakt- og reservasjonsregisteret):
    /// base URL of its REST API v2 (`POST /rest/v2/personer`); https, plain http only to
    /// loopback. Set: each notice goes to the contact data KRR holds, and a patient who has
    /// reserved against digital notices, or cannot be notified, gets none (the notice is `dead`
    /// with the reason, for personnel to send a letter or phone). Unset: the registered contact
    /// data.
    [false, Some("https://kontaktregisteret.no")]
    krr_url: Option<String> = None;
    /// The access token for KRR (from Maskinporten in production). Use the environment variable
    /// TRYGG_KRR_TOKEN.
    [true, None]
    krr_token: Option<String> = None;
    /// How long a KRR answer is reused, in seconds.
    [false, Some("86400")]
    krr_cache_secs: u64 = 86_400;
    /// How long the notice worker holds a notice it is sending, in seconds, before another
    /// attempt may take it (after a crash mid-attempt the notice waits this long).
    [false, Some("60")]
    notice_lease_secs: u64 = 60;
    /// How many days an unfiled secure message keeps its content (PC-STORE-1): then the
    /// retention job deletes it (text, attachments, and the thread's subject once nothing in it
    /// remains; the audit log records the deletion). A message filed to the journal is kept.
    /// 1 to 3650.
    [false, Some("180")]
    message_retention_days: u32 = 180;
    /// How many days a notice keeps its content (recipient, subject, text) after it reached a
    /// final state (sent, delivered, undeliverable, dead) (PC-STORE-1): long enough for a late
    /// delivery report or a reply; then only its codes remain. 1 to 365.
    [false, Some("30")]
    notice_retention_days: u32 = 30;
    /// How many hours a message to a patient may stay unread before it escalates (PC-READ-1):
    /// a notice on another channel the patient consented to, or else a task for personnel to
    /// phone or send a letter. 1 to 720.
    [false, Some("72")]
    message_escalate_after_hours: u32 = 72;
    /// ID-porten's issuer, for patients' login to the portal (issue #13), e.g.
    /// `https://idporten.no` (https; plain http only to a loopback address, a test provider).
    /// Unset: no patient login.
    [false, Some("https://idporten.no")]
    idporten_issuer: Option<String> = None;
    /// The client id Trygg is registered with at ID-porten (its redirect URI is
    /// `<public_url>/login/idporten/callback`).
    [false, None]
    idporten_client_id: Option<String> = None;
    /// The client secret at ID-porten (`client_secret_post`). Use the environment variable
    /// TRYGG_IDPORTEN_CLIENT_SECRET. Not needed with `idporten_key_file`.
    [true, None]
    idporten_client_secret: Option<String> = None;
    /// File with the base64 PKCS#8 P-256 key for `private_key_jwt` client authentication at
    /// ID-porten (`trygg oidc key --out FILE`); when set it is used instead of the secret.
    [false, Some("a file outside the data directory, readable only by Trygg")]
    idporten_key_file: Option<PathBuf> = None;
    /// Push ID-porten's authorization request first (PAR, RFC 9126), so that its parameters
    /// never pass through the browser.
    [false, Some("true")]
    idporten_par: bool = false;
    /// HelseID's issuer, for personnel's login (issue #13), e.g. `https://helseid-sts.nhn.no`
    /// (https; plain http only to a loopback address, a test provider). Unset: no HelseID login.
    [false, Some("https://helseid-sts.nhn.no")]
    helseid_issuer: Option<String> = None;
    /// The client id Trygg is registered with at HelseID (redirect URI
    /// `<public_url>/login/helseid/callback`; PAR, `private_key_jwt`, DPoP).
    [false, None]
    helseid_client_id: Option<String> = None;
    /// File with the base64 PKCS#8 P-256 key Trygg signs its client assertions with at HelseID
    /// (`trygg oidc key --out FILE` makes one and prints the public JWK to register).
    [false, Some("a file outside the data directory, readable only by Trygg")]
    helseid_key_file: Option<PathBuf> = None;
    /// The issuer of the deployment's own OpenID provider for personnel (issue #13), e.g. an
    /// organisation's Entra ID `https://login.microsoftonline.com/<tenant>/v2.0` (https; plain
    /// http only to a loopback address). People are mapped by the provider's subject
    /// (`trygg personnel oidc-subject`). Unset: no such login.
    [false, None]
    personnel_oidc_issuer: Option<String> = None;
    /// The client id at that provider (redirect URI `<public_url>/login/oidc/callback`).
    [false, None]
    personnel_oidc_client_id: Option<String> = None;
    /// The client secret at that provider (`client_secret_post`). Use the environment variable
    /// TRYGG_PERSONNEL_OIDC_CLIENT_SECRET.
    [true, None]
    personnel_oidc_client_secret: Option<String> = None;
    /// The assurance level a login through that provider counts as (`low`, `substantial`,
    /// `high`): it states no eIDAS level itself, so the organisation decides from how the
    /// provider authenticates (e.g. `substantial` for two factors).
    [false, Some("low unless the provider requires two factors")]
    personnel_oidc_assurance: String = "low".to_owned();
    /// The provider's name on the login page, e.g. `Entra ID`.
    [false, None]
    personnel_oidc_name: String = "organisasjonens pålogging".to_owned();
    /// A patient's portal session ends after this many seconds without a request.
    [false, Some("900 or less")]
    patient_session_idle_timeout_secs: u64 = 900;
    /// A patient's portal session ends this many seconds after login, however active.
    [false, Some("3600 or less")]
    patient_session_absolute_timeout_secs: u64 = 3600;
}

impl Config {
    /// The time zone pages show times in (`time_zone`, checked when the configuration loads).
    pub fn zone(&self) -> trygg_core::words::Zone {
        trygg_core::words::Zone::parse(&self.time_zone).unwrap_or_default()
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Config");
        for s in settings() {
            d.field(s.key, &self.display_value(s.key));
        }
        d.field("demo", &self.demo).finish()
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
            // TRYGG_* variables that are not settings (e.g. for tests) are left alone.
            if let Some(v) = Self::env_value(&key, &value) {
                table.insert(key, v);
            }
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
        if !(1..=100_000).contains(&self.store_max_open_orgs) {
            return Err(ConfigError::Invalid(
                "store_max_open_orgs is 1 to 100000".into(),
            ));
        }
        if !(1..=86_400).contains(&self.store_idle_close_secs) {
            return Err(ConfigError::Invalid(
                "store_idle_close_secs is 1 to 86400".into(),
            ));
        }
        // Issue #11: the media settings that would silently do the wrong thing.
        if !(1..=3650).contains(&self.message_retention_days) {
            return Err(ConfigError::Invalid(
                "message_retention_days is 1 to 3650".into(),
            ));
        }
        if !(1..=365).contains(&self.notice_retention_days) {
            return Err(ConfigError::Invalid(
                "notice_retention_days is 1 to 365".into(),
            ));
        }
        if !(1..=720).contains(&self.message_escalate_after_hours) {
            return Err(ConfigError::Invalid(
                "message_escalate_after_hours is 1 to 720".into(),
            ));
        }
        // Notices (issue #12): TLS only, and nothing half-configured.
        if let Some(u) = &self.sms_gateway_url {
            let https = u.starts_with("https://");
            let local_http = u.starts_with("http://") && crate::notices::is_loopback_url(u);
            if !(https || local_http) {
                return Err(ConfigError::Invalid(
                    "sms_gateway_url must be https (plain http only to a loopback address)".into(),
                ));
            }
        }
        if !matches!(self.sms_gateway_shape.as_str(), "generic" | "link") {
            return Err(ConfigError::Invalid(
                "sms_gateway_shape is generic or link".into(),
            ));
        }
        if self.sms_gateway_url.as_deref().is_some_and(|u| {
            u.split("://")
                .nth(1)
                .and_then(|r| r.split(['/', '?', '#']).next())
                .is_some_and(|a| a.contains('@'))
        }) {
            return Err(ConfigError::Invalid(
                "sms_gateway_url must not carry user information (give the credential as \
                 sms_gateway_token)"
                    .into(),
            ));
        }
        if let Some(u) = &self.krr_url {
            let https = u.starts_with("https://");
            let local_http = u.starts_with("http://") && crate::notices::is_loopback_url(u);
            let userinfo = u
                .split("://")
                .nth(1)
                .and_then(|r| r.split(['/', '?', '#']).next())
                .is_some_and(|a| a.contains('@'));
            if !(https || local_http) || userinfo {
                return Err(ConfigError::Invalid(
                    "krr_url must be https (plain http only to a loopback address), without user \
                     information"
                        .into(),
                ));
            }
        }
        if let Some(u) = &self.idporten_issuer {
            let https = u.starts_with("https://");
            let local_http = u.starts_with("http://") && crate::notices::is_loopback_url(u);
            if !(https || local_http) {
                return Err(ConfigError::Invalid(
                    "idporten_issuer must be https (plain http only to a loopback address)".into(),
                ));
            }
            if self.idporten_client_id.is_none()
                || (self.idporten_client_secret.is_none() && self.idporten_key_file.is_none())
            {
                return Err(ConfigError::Invalid(
                    "idporten_issuer needs idporten_client_id and idporten_client_secret or \
                     idporten_key_file"
                        .into(),
                ));
            }
        }
        if let Some(u) = &self.personnel_oidc_issuer {
            let https = u.starts_with("https://");
            let local_http = u.starts_with("http://") && crate::notices::is_loopback_url(u);
            if !(https || local_http) {
                return Err(ConfigError::Invalid(
                    "personnel_oidc_issuer must be https (plain http only to a loopback address)"
                        .into(),
                ));
            }
            if self.personnel_oidc_client_id.is_none()
                || self.personnel_oidc_client_secret.is_none()
            {
                return Err(ConfigError::Invalid(
                    "personnel_oidc_issuer needs personnel_oidc_client_id and \
                     personnel_oidc_client_secret"
                        .into(),
                ));
            }
        }
        if trygg_audit::Assurance::from_code(&self.personnel_oidc_assurance).is_none() {
            return Err(ConfigError::Invalid(
                "personnel_oidc_assurance must be low, substantial or high".into(),
            ));
        }
        let name = self.personnel_oidc_name.trim();
        if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
            return Err(ConfigError::Invalid(
                "personnel_oidc_name must be 1 to 60 characters".into(),
            ));
        }
        if let Some(u) = &self.helseid_issuer {
            let https = u.starts_with("https://");
            let local_http = u.starts_with("http://") && crate::notices::is_loopback_url(u);
            if !(https || local_http) {
                return Err(ConfigError::Invalid(
                    "helseid_issuer must be https (plain http only to a loopback address)".into(),
                ));
            }
            if self.helseid_client_id.is_none() || self.helseid_key_file.is_none() {
                return Err(ConfigError::Invalid(
                    "helseid_issuer needs helseid_client_id and helseid_key_file".into(),
                ));
            }
        }
        if self.sms_dlr_secret.as_deref().is_some_and(|k| k.len() < 32) {
            return Err(ConfigError::Invalid(
                "sms_dlr_secret must be at least 32 characters (anyone who knows it can sign \
                 delivery reports)"
                    .into(),
            ));
        }
        if self.smtp_user.is_some() != self.smtp_password.is_some() {
            return Err(ConfigError::Invalid(
                "smtp_user and smtp_password go together".into(),
            ));
        }
        if self.sms_gateway_url.is_some() && self.sms_gateway_shape == "link" {
            let pair = self.sms_gateway_token.as_deref().is_some_and(|t| {
                t.split_once(':')
                    .is_some_and(|(u, p)| !u.is_empty() && !p.is_empty())
            });
            if !pair
                || self.sms_link_platform_id.is_none()
                || self.sms_link_platform_partner_id.is_none()
            {
                return Err(ConfigError::Invalid(
                    "the link shape needs sms_gateway_token as user:password, \
                     sms_link_platform_id and sms_link_platform_partner_id"
                        .into(),
                ));
            }
        }
        if self.smtp_url.is_some() && self.smtp_from.is_none() {
            return Err(ConfigError::Invalid(
                "smtp_url is set but smtp_from is not: give the address notices come from".into(),
            ));
        }
        if self
            .smtp_url
            .as_deref()
            .is_some_and(|u| !u.starts_with("smtp://"))
        {
            return Err(ConfigError::Invalid(
                "smtp_url is smtp://host:port (STARTTLS is always required)".into(),
            ));
        }
        if !self.turn_urls.is_empty() && self.turn_secret.is_none() {
            return Err(ConfigError::Invalid(
                "turn_urls is set but turn_secret is not: give the secret shared with coturn \
                 (TRYGG_TURN_SECRET), or leave turn_urls empty"
                    .into(),
            ));
        }
        if self.turn_urls.iter().any(|u| {
            !(u.starts_with("turn:") || u.starts_with("turns:"))
                || u.chars().any(char::is_whitespace)
        }) {
            return Err(ConfigError::Invalid(
                "turn_urls must be turn: or turns: URLs".into(),
            ));
        }
        if self.media_listen.ip().is_unspecified() && self.media_public_ip.is_none() {
            return Err(ConfigError::Invalid(format!(
                "media_listen = {} listens on every address: set media_public_ip to the address \
                 browsers reach",
                self.media_listen
            )));
        }
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
        if trygg_core::words::Zone::parse(&self.time_zone).is_none() {
            return Err(ConfigError::Invalid(
                "time_zone must be an IANA time zone name, e.g. Europe/Oslo".into(),
            ));
        }
        if !(60..=86400).contains(&self.device_code_ttl_secs) {
            return Err(ConfigError::Invalid(
                "device_code_ttl_secs must be between 60 and 86400 (a day)".into(),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_settings_that_would_silently_misbehave_are_refused() {
        let refused = [
            vec![("TRYGG_TURN_URLS", "turn:127.0.0.1:3478")],
            vec![("TRYGG_TURN_URLS", "http://x"), ("TRYGG_TURN_SECRET", "s")],
            vec![("TRYGG_MEDIA_LISTEN", "0.0.0.0:3479")],
        ];
        for pairs in refused {
            let e = Config::load(None, env(&pairs), &Overrides::default());
            assert!(e.is_err(), "{pairs:?}");
        }
        let ok = Config::load(
            None,
            env(&[
                ("TRYGG_MEDIA_LISTEN", "0.0.0.0:3479"),
                ("TRYGG_MEDIA_PUBLIC_IP", "192.0.2.7"),
                ("TRYGG_TURN_URLS", "turn:192.0.2.8:3478?transport=udp"),
                ("TRYGG_TURN_SECRET", "s"),
                ("TRYGG_E2EE_REQUIRED", "false"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(ok.media_public_ip, "192.0.2.7".parse().ok());
        assert!(!ok.e2ee_required);
        assert_eq!(ok.display_value("turn_secret"), "***");
    }

    #[test]
    fn notice_settings_that_would_leak_or_half_work_are_refused() {
        let long = "0123456789abcdef0123456789abcdef";
        let refused = [
            // Plain HTTP off loopback, and the review's disguised hosts.
            vec![("TRYGG_SMS_GATEWAY_URL", "http://sms.example.no")],
            vec![("TRYGG_SMS_GATEWAY_URL", "http://localhost:80@evil.example/")],
            vec![("TRYGG_SMS_GATEWAY_URL", "https://user:pw@sms.example.no")],
            vec![("TRYGG_SMS_GATEWAY_URL", "ftp://sms.example.no")],
            vec![("TRYGG_SMS_GATEWAY_SHAPE", "smpp")],
            // A delivery-report key anyone could guess.
            vec![("TRYGG_SMS_DLR_SECRET", "")],
            vec![("TRYGG_SMS_DLR_SECRET", "short")],
            // Half an SMTP login, an SMTP URL without a sender or with another scheme.
            vec![("TRYGG_SMTP_USER", "u")],
            vec![("TRYGG_SMTP_URL", "smtp://mail.example.no:587")],
            vec![
                ("TRYGG_SMTP_URL", "smtps://mail.example.no"),
                ("TRYGG_SMTP_FROM", "a@b.no"),
            ],
            // LINK without its account fields.
            vec![
                ("TRYGG_SMS_GATEWAY_URL", "https://sms.example.no"),
                ("TRYGG_SMS_GATEWAY_SHAPE", "link"),
                ("TRYGG_SMS_GATEWAY_TOKEN", "no-colon"),
            ],
            // ID-porten over plain http to another host, or without its client (issue #13).
            vec![
                ("TRYGG_IDPORTEN_ISSUER", "http://idporten.example.no"),
                ("TRYGG_IDPORTEN_CLIENT_ID", "c"),
                ("TRYGG_IDPORTEN_CLIENT_SECRET", "s"),
            ],
            vec![("TRYGG_IDPORTEN_ISSUER", "https://idporten.no")],
            // The personnel provider likewise, and a level that is none.
            vec![
                ("TRYGG_PERSONNEL_OIDC_ISSUER", "http://login.example.no"),
                ("TRYGG_PERSONNEL_OIDC_CLIENT_ID", "c"),
                ("TRYGG_PERSONNEL_OIDC_CLIENT_SECRET", "s"),
            ],
            vec![("TRYGG_PERSONNEL_OIDC_ISSUER", "https://login.example.no")],
            vec![("TRYGG_PERSONNEL_OIDC_ASSURANCE", "very-high")],
            vec![("TRYGG_TIME_ZONE", "Europe/Atlantis")],
        ];
        for pairs in refused {
            let e = Config::load(None, env(&pairs), &Overrides::default());
            assert!(e.is_err(), "{pairs:?}");
        }
        let ok = Config::load(
            None,
            env(&[
                ("TRYGG_SMS_GATEWAY_URL", "http://127.0.0.1:9000"),
                ("TRYGG_SMS_GATEWAY_TOKEN", "t"),
                ("TRYGG_SMS_DLR_SECRET", long),
                ("TRYGG_SMTP_URL", "smtp://mail.example.no:587"),
                ("TRYGG_SMTP_FROM", "ikke-svar@example.no"),
                ("TRYGG_SMTP_USER", "u"),
                ("TRYGG_SMTP_PASSWORD", "p"),
                ("TRYGG_IDPORTEN_ISSUER", "https://idporten.no"),
                ("TRYGG_IDPORTEN_CLIENT_ID", "c"),
                ("TRYGG_IDPORTEN_CLIENT_SECRET", "s"),
                ("TRYGG_PERSONNEL_OIDC_ISSUER", "https://login.example.no"),
                ("TRYGG_PERSONNEL_OIDC_CLIENT_ID", "c"),
                ("TRYGG_PERSONNEL_OIDC_CLIENT_SECRET", "s"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        for secret in [
            "sms_gateway_token",
            "sms_dlr_secret",
            "smtp_password",
            "idporten_client_secret",
            "personnel_oidc_client_secret",
        ] {
            assert_eq!(ok.display_value(secret), "***", "{secret}");
        }
    }

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
        for s in settings() {
            if !s.secret && !s.default.is_empty() {
                assert!(!c.display_value(s.key).is_empty(), "{}", s.key);
            }
        }
    }

    #[test]
    fn the_readme_documents_every_setting() {
        let readme = include_str!("../../../README.md");
        for s in settings() {
            assert!(
                readme.contains(&format!("`{}`", s.key)),
                "README lacks `{}`",
                s.key
            );
        }
    }

    #[test]
    fn lists_come_from_the_environment_comma_separated() {
        assert_eq!(
            <Vec<IpNet> as SettingValue>::from_env("a, b,,c"),
            toml::Value::Array(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            <u64 as SettingValue>::from_env("12"),
            toml::Value::Integer(12)
        );
    }
}
