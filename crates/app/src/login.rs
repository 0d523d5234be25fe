//! Logging in as use cases (VC-AUTH-3, PC-AUTHN-1, PC-ACL-1, VC-DEV-2; guide risk scenarios 16
//! and 17): the passkey login and the passkey enrolment through a link (each a `start` and a
//! `finish`), opening an enrolment link, and the developer login of `trygg demo`. Each takes the
//! application, the request's facts as plain values ([`Attempt`]: the client's address, whether
//! the request is same-origin, the site origin), the input and `now`; the gates, the account
//! lookup, the employment check, the lock and throttle bookkeeping, the session and the audit
//! entries are all here. The HTTP edge reads cookies, headers and JSON into these values, calls,
//! and maps the answer (status, `Set-Cookie`, problem).
//!
//! # Rules
//! - **Personal accounts only** (PC-ACL-1). A passkey belongs to one person on the staff and
//!   reaches that person's account only through a link issued for them ([`enrol_finish`]); a
//!   credential id seen before is refused. A person gets their first passkey only through an
//!   enrolment link (VC-DEV-2), single use and short-lived ([`crate::credentials`]).
//! - Both ceremonies require **user verification**, and registration a discoverable credential
//!   (VC-AUTH-3): a passkey is two factors in one, and login needs no user name. The user
//!   handle's first 8 bytes name the organisation, so one login page serves every organisation.
//! - **No ceremony state on the server** (issue 17): `start` seals the ceremony's state into a
//!   ceremony token ([`trygg_identity::ceremony`]: AES-256-GCM under a key derived from the
//!   master key, bound to the RP ID and origin, the kind of ceremony and an expiry
//!   [`trygg_identity::CEREMONY_TTL`] away) that the client sends back with `finish`. A login's
//!   token is accepted once: once the user is known its id is recorded in the organisation's
//!   database, and a replay conflicts (`TR-L008`); an enrolment's is single use through its
//!   link. No anonymous request leaves state behind, and any node with the same keys and data
//!   finishes what another started.
//! - **Per-client request budget** ([`rate_limit`], issue 17): every unauthenticated login
//!   route spends the client address's request budget; a spent one answers 429 `TR-N701` with
//!   `Retry-After`, for that client only.
//! - `start` and `finish` are refused unless same-origin (login CSRF, `TR-L004`) and unless the
//!   client's address has failure budget left (`TR-L007`, a throttle, never a lock); `finish` of
//!   a login also checks the account's lock before it verifies anything. Only an assertion that
//!   does not verify counts against an account; bogus links, unknown, expired, tampered or
//!   replayed ceremony tokens and passkeys of no known account spend only that address's
//!   budget (review finding 5).
//! - A failed login is a `security` / `failed-login` event in the organisation's log with the
//!   client address; a refused attempt against a locked account a `rate-limited` one; a login
//!   to an organisation that cannot be identified is a `security` log line (guide risk
//!   scenario 17).
//! - **End of employment** (finding 1, guide risk scenario 16): a passkey login, and opening or
//!   using a link, are refused when the person's employment end is at or before now (a security
//!   event, `TR-P703`), even if the link itself has not expired.
//! - Registering a passkey leaves a `passkey-added` notice that the person's sessions show
//!   until acknowledged (finding 2).
//! - **Developer login** ([`developer_gate`], [`developer_login`]): only in `trygg demo`, only
//!   when the listener, the client and the `Host` are loopback and no proxy header is present,
//!   only into organisations the demo seeded; assurance `low`, method `developer`.
//!
//! The WebAuthn verification itself is behind [`Passkeys`], which the HTTP edge implements with
//! webauthn-rs (the only place its RustCrypto signatures are used): a use case gets from it the
//! user handle and credential id a browser's answer names, and whether the answer verifies
//! against the stored passkey, and decides everything else.

use std::net::IpAddr;
use std::sync::Arc;

use time::OffsetDateTime;
use trygg_audit::{Action, Assurance, Category, Outcome, SecurityKind};
use trygg_core::access::{decide, Permission};
use trygg_core::{BuiltinRole, Employment, Operation, OrgSlug, PersonName};
use trygg_identity::ceremony::{self, CeremonyKey, CeremonyKind};
use trygg_identity::lockout::{self, AccountState, AddressThrottle, Budget, Gate, LoginLimits};
use trygg_identity::origin::{is_loopback_host, OriginError, SiteOrigin};
use trygg_identity::session::employment_ended;
use trygg_store::{EnrolmentLink, LinkState, NewPersonnel, OrgStore, Secret, ThrottleRow};
use uuid::Uuid;

use crate::auth_events::{build, log_event, AuthEvent, Who};
use crate::config::Config;
use crate::context::App;
use crate::credentials::admin_has_passkey;
use crate::error::{AppError, ErrorKind};
use crate::sessions::{open_session, AuthMethod};

/// The limits from the configuration (`login_max_failures`, `login_lockout_secs`).
pub fn limits(config: &Config) -> LoginLimits {
    LoginLimits {
        max_failures: config.login_max_failures,
        lockout_secs: config.login_lockout_secs,
    }
}

/// The per-address budget from the configuration.
pub fn address_budget(config: &Config) -> Budget {
    Budget::address(limits(config))
}

/// The rules' state of a stored account.
pub fn state_of(row: &ThrottleRow) -> AccountState {
    AccountState {
        failures: row.failures,
        window_start: row.window_start,
        locked_until: row.locked_until,
        lock_level: row.lock_level,
    }
}

/// The stored form of an account's state.
pub fn row_of(s: &AccountState) -> ThrottleRow {
    ThrottleRow {
        failures: s.failures,
        window_start: s.window_start,
        locked_until: s.locked_until,
        lock_level: s.lock_level,
    }
}

/// The WebAuthn relying party, as the use cases need it: the HTTP edge implements it with
/// webauthn-rs. Options go to the browser as JSON; stored passkeys are the bytes the store
/// keeps sealed.
pub trait Passkeys {
    /// A login's challenge state between start and finish (sealed into the ceremony token).
    type LoginState: serde::Serialize + serde::de::DeserializeOwned;
    /// A registration's challenge state between start and finish (sealed into the token).
    type RegisterState: serde::Serialize + serde::de::DeserializeOwned;
    /// The browser's answer to a login.
    type Assertion;
    /// The browser's answer to a registration.
    type Attestation;

    /// A discoverable-credential login challenge with user verification: the options for
    /// `navigator.credentials.get` and the state to keep.
    fn start_login(
        &self,
        site: &SiteOrigin,
    ) -> Result<(serde_json::Value, Self::LoginState), AppError>;

    /// The user handle and credential id an answer names, if it names them.
    fn identify(
        &self,
        site: &SiteOrigin,
        answer: &Self::Assertion,
    ) -> Result<Option<(Uuid, Vec<u8>)>, AppError>;

    /// Verifies an answer against its challenge and the stored passkey: the updated stored
    /// passkey (its counter) if it verifies, `None` if it does not.
    fn finish_login(
        &self,
        site: &SiteOrigin,
        answer: &Self::Assertion,
        state: Self::LoginState,
        stored: &[u8],
    ) -> Result<Option<Vec<u8>>, AppError>;

    /// Registration options for a discoverable credential with user verification, excluding the
    /// person's existing credentials, and the state to keep.
    fn start_registration(
        &self,
        site: &SiteOrigin,
        user_handle: Uuid,
        label: &str,
        exclude: Vec<Vec<u8>>,
    ) -> Result<(serde_json::Value, Self::RegisterState), AppError>;

    /// Checks a new credential against its challenge: its credential id and stored form, or
    /// `None` if it is refused.
    fn finish_registration(
        &self,
        site: &SiteOrigin,
        answer: &Self::Attestation,
        state: &Self::RegisterState,
    ) -> Option<(Vec<u8>, Vec<u8>)>;
}

/// A registration's state between start and finish, sealed into its ceremony token.
#[derive(serde::Serialize, serde::Deserialize)]
struct EnrolState<R> {
    org: String,
    link_id: Uuid,
    /// The person; `None` when the link creates the first administrator.
    personnel_id: Option<Uuid>,
    new_name: Option<String>,
    user_handle: Uuid,
    reg: R,
}

/// The in-memory part of login, per process: per-address failure budgets (an address is
/// throttled, never locked: behind NAT it is a whole clinic) and per-address request budgets of
/// the unauthenticated routes. Both are bounded and keyed by address, so no client's requests
/// use up another's. Ceremonies are not here: they travel sealed with the client (issue 17).
pub struct LoginRuntime<P: Passkeys> {
    /// Failure budgets per client address.
    pub addresses: AddressThrottle,
    /// Request budgets per client address (issue 17).
    pub requests: AddressThrottle,
    _passkeys: std::marker::PhantomData<fn() -> P>,
}

impl<P: Passkeys> Default for LoginRuntime<P> {
    fn default() -> Self {
        Self {
            addresses: AddressThrottle::default(),
            requests: AddressThrottle::default(),
            _passkeys: std::marker::PhantomData,
        }
    }
}

impl<P: Passkeys> std::fmt::Debug for LoginRuntime<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRuntime")
            .field("addresses", &self.addresses.len())
            .field("requests", &self.requests.len())
            .finish_non_exhaustive()
    }
}

/// Spends one unit of the client's request budget of the unauthenticated login routes (issue
/// 17; guide risk scenario 17): a spent budget answers 429 `TR-N701` with the seconds to wait.
/// Keyed by the client address as `trusted_proxies` defines it; other clients are not affected.
pub fn rate_limit<P: Passkeys>(
    rt: &LoginRuntime<P>,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    match rt
        .requests
        .request(address, Budget::requests(), now)
        .retry_after_secs(now)
    {
        None => Ok(()),
        Some(secs) => Err(AppError::new(
            ErrorKind::TooManyRequests(u64::try_from(secs).unwrap_or(1)),
            "TR-N701",
            "Too many requests",
            format!("too many login requests from this address; try again in {secs} seconds"),
        )),
    }
}

/// What a login request brings, as plain values read by the HTTP edge.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The client's address (behind `trusted_proxies`, the one they name), if known.
    pub address: Option<IpAddr>,
    /// Whether the request is same-origin (`Sec-Fetch-Site`, `Origin`; login CSRF).
    pub same_origin: bool,
    /// The site origin for WebAuthn, or why there is none for this request.
    pub site: Result<SiteOrigin, OriginError>,
}

/// A ceremony started: its sealed token and the options for `navigator.credentials`.
#[derive(Debug)]
pub struct Started {
    /// The ceremony token: send this back with `finish`.
    pub ceremony: String,
    /// The options (`{"publicKey": …}`), binary fields as base64url.
    pub options: serde_json::Value,
}

/// A session opened by a login: the cookie's organisation and secret.
#[derive(Debug)]
pub struct Opened {
    /// The organisation.
    pub org: OrgSlug,
    /// The session secret (only its keyed hash is stored).
    pub secret: Secret,
}

/// 429 with the seconds to wait (`TR-L007`).
pub fn locked(secs: i64) -> AppError {
    AppError::new(
        ErrorKind::TooManyRequests(u64::try_from(secs.max(1)).unwrap_or(1)),
        "TR-L007",
        "Too many attempts",
        format!("too many failed attempts; try again in {secs} seconds"),
    )
}

fn login_failed() -> AppError {
    AppError::new(
        ErrorKind::Unauthorized,
        "TR-L006",
        "Login failed",
        "the passkey was not accepted",
    )
}

fn ceremony_unknown() -> AppError {
    AppError::bad_request(
        "TR-L008",
        "the login took too long or was finished already; start again",
    )
}

fn link_invalid() -> AppError {
    AppError::new(
        ErrorKind::Gone,
        "TR-L009",
        "Link not valid",
        "this enrolment link is used, expired or unknown; ask an administrator for a new one",
    )
}

fn employment_over() -> AppError {
    AppError::forbidden("TR-P703", "this person's employment has ended")
}

/// Refuses an address whose failure budget is spent (`TR-L007`, 429 with the wait).
pub fn check_address(
    app: &App,
    addresses: &AddressThrottle,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let budget = address_budget(&app.config);
    if let Some(secs) = addresses.gate(address, budget, now).retry_after_secs(now) {
        tracing::warn!(
            event = "security",
            code = "TR-L007",
            "login attempt from a throttled address refused"
        );
        return Err(locked(secs));
    }
    Ok(())
}

/// Spends one unit of the client address's failure budget (never locks the address).
pub fn address_failure(
    app: &App,
    addresses: &AddressThrottle,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) {
    if addresses.failure(address, address_budget(&app.config), now) {
        tracing::warn!(
            event = "security",
            code = "TR-L007",
            "a client address has spent its failure budget and is slowed down"
        );
    }
}

/// What every ceremony request must pass: same origin, an unthrottled address, a usable site
/// origin.
fn precheck(
    app: &App,
    addresses: &AddressThrottle,
    at: &Attempt,
    now: OffsetDateTime,
) -> Result<SiteOrigin, AppError> {
    if !at.same_origin {
        tracing::warn!(
            event = "security",
            code = "TR-L004",
            "cross-origin login request refused"
        );
        return Err(AppError::forbidden(
            "TR-L004",
            "the request does not come from this site",
        ));
    }
    check_address(app, addresses, at.address, now)?;
    at.site
        .clone()
        .map_err(|e| AppError::bad_request("TR-L015", e.to_string()))
}

fn ceremony_key(app: &App) -> Result<CeremonyKey, AppError> {
    CeremonyKey::new(app.store.ceremony_key()).map_err(|e| AppError::internal("TR-N702", e))
}

/// Seals a new ceremony's state into its token (nothing is kept on the server).
fn begin(
    app: &App,
    site: &SiteOrigin,
    kind: CeremonyKind,
    state: &impl serde::Serialize,
    now: OffsetDateTime,
) -> Result<String, AppError> {
    let bytes = serde_json::to_vec(state).map_err(|e| AppError::internal("TR-N703", e))?;
    ceremony::seal(&ceremony_key(app)?, site, kind, &bytes, now)
        .map(|s| s.token)
        .map_err(|e| AppError::internal("TR-N702", e))
}

/// Opens a ceremony token; an unknown, expired, tampered or foreign one spends the address's
/// failure budget (its own, no one else's) and answers `TR-L008`.
fn take<S: serde::de::DeserializeOwned>(
    app: &App,
    rt_addresses: &AddressThrottle,
    at: &Attempt,
    token: &str,
    site: &SiteOrigin,
    kind: CeremonyKind,
    now: OffsetDateTime,
) -> Result<(ceremony::Opened, S), AppError> {
    let refuse = || {
        address_failure(app, rt_addresses, at.address, now);
        ceremony_unknown()
    };
    let opened =
        ceremony::open(&ceremony_key(app)?, site, kind, token, now).map_err(|_| refuse())?;
    let state = serde_json::from_slice(&opened.state).map_err(|_| refuse())?;
    Ok((opened, state))
}

/// Starts a passkey login: a discoverable-credential challenge (VC-AUTH-3).
pub fn login_start<P: Passkeys>(
    app: &App,
    rt: &LoginRuntime<P>,
    passkeys: &P,
    at: &Attempt,
    now: OffsetDateTime,
) -> Result<Started, AppError> {
    let site = precheck(app, &rt.addresses, at, now)?;
    let (mut options, state) = passkeys.start_login(&site)?;
    // The page asks in a modal dialog, not through autofill.
    if let Some(o) = options.as_object_mut() {
        o.remove("mediation");
    }
    let ceremony = begin(app, &site, CeremonyKind::Login, &state, now)?;
    Ok(Started { ceremony, options })
}

/// Finishes a passkey login: finds the account the answer names, refuses it if the person's
/// employment has ended or the account is locked, verifies the answer, counts a failure against
/// the account and the address or resets the account's count, and opens a `substantial`
/// session (PC-AUTHN-1), each step with its audit entry.
pub async fn login_finish<P: Passkeys>(
    app: &App,
    rt: &LoginRuntime<P>,
    passkeys: &P,
    at: &Attempt,
    ceremony: &str,
    answer: &P::Assertion,
    now: OffsetDateTime,
) -> Result<Opened, AppError> {
    let site = precheck(app, &rt.addresses, at, now)?;
    let (opened, state): (_, P::LoginState) = take(
        app,
        &rt.addresses,
        at,
        ceremony,
        &site,
        CeremonyKind::Login,
        now,
    )?;
    let ip = at.address;
    let unknown = || {
        address_failure(app, &rt.addresses, ip, now);
        tracing::warn!(
            event = "security",
            code = "TR-L006",
            "login with a passkey of no known organisation"
        );
        login_failed()
    };
    let Some((handle, cred_id)) = passkeys.identify(&site, answer)? else {
        return Err(unknown());
    };
    let Some(org) = app.store.org_for_user_handle(handle).await? else {
        return Err(unknown());
    };
    let h: Arc<OrgStore> = app.store.org(&org).await?;
    let slug = org.slug.clone();
    let mut tx = h.begin().await?;
    let Some(account) = tx.login_account_by_handle(handle).await? else {
        drop(tx);
        address_failure(app, &rt.addresses, ip, now);
        log_event(
            &h,
            &slug,
            Who::Unknown,
            AuthEvent::security(
                SecurityKind::FailedLogin,
                Operation::Login,
                Outcome::AuthenticationFailed,
                ip,
            ),
            now,
        )
        .await?;
        return Err(login_failed());
    };
    // The user is known: the ceremony is used now, once (issue 17). A replayed token conflicts.
    if !tx.use_ceremony(opened.id, opened.expires, now).await? {
        drop(tx);
        address_failure(app, &rt.addresses, ip, now);
        tracing::warn!(
            event = "security",
            code = "TR-L008",
            "replayed login ceremony refused"
        );
        return Err(ceremony_unknown());
    }
    let who = Who::Person(account.personnel_id, account.role);
    // Refused before verification: the refusal is logged in the same transaction as the used
    // ceremony, so the token stays used up, and the address's budget pays for the attempt.
    if employment_ended(account.employment_end, now) {
        let mut e = AuthEvent::security(
            SecurityKind::AccessDenied,
            Operation::Login,
            Outcome::Denied,
            ip,
        );
        e.entity = ("Practitioner", Some(account.personnel_id.to_string()));
        tx.audit(&build(&slug, who, e, now)?).await?;
        tx.commit().await?;
        address_failure(app, &rt.addresses, ip, now);
        return Err(employment_over());
    }
    if let Gate::Locked(until) = lockout::gate(&state_of(&account.throttle), now) {
        let e = AuthEvent::security(
            SecurityKind::RateLimited,
            Operation::Login,
            Outcome::Denied,
            ip,
        );
        tx.audit(&build(&slug, who, e, now)?).await?;
        tx.commit().await?;
        address_failure(app, &rt.addresses, ip, now);
        return Err(locked((until - now).whole_seconds().max(1)));
    }
    let stored = tx
        .passkey_by_credential_id(&cred_id)
        .await?
        .filter(|p| p.personnel_id == account.personnel_id);
    let verified = match &stored {
        Some(s) => passkeys
            .finish_login(&site, answer, state, &s.credential)?
            .map(|updated| (s.id, updated)),
        None => None,
    };
    let mut lock = state_of(&account.throttle);
    let Some((passkey_id, updated)) = verified else {
        // Wrong key, unknown credential, failed user verification, replayed or foreign
        // challenge: one failure for the account and the address, and a security event.
        let locked_until = lockout::on_failure(
            &mut lock,
            lockout::Policy::account(limits(&app.config)),
            now,
        );
        tx.set_login_throttle(account.personnel_id, &row_of(&lock))
            .await?;
        tx.audit(&build(
            &slug,
            who,
            AuthEvent::security(
                SecurityKind::FailedLogin,
                Operation::Login,
                Outcome::AuthenticationFailed,
                ip,
            ),
            now,
        )?)
        .await?;
        if locked_until.is_some() {
            tx.audit(&build(
                &slug,
                who,
                AuthEvent::security(
                    SecurityKind::RateLimited,
                    Operation::AccountLocked,
                    Outcome::Denied,
                    ip,
                ),
                now,
            )?)
            .await?;
        }
        tx.commit().await?;
        address_failure(app, &rt.addresses, ip, now);
        return Err(login_failed());
    };
    tx.update_passkey(passkey_id, &updated, now).await?;
    lockout::on_success(&mut lock);
    tx.set_login_throttle(account.personnel_id, &row_of(&lock))
        .await?;
    let (_, secret) = open_session(
        &mut tx,
        &slug,
        account.personnel_id,
        AuthMethod::Passkey,
        Assurance::Substantial,
        ip,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Opened { org: slug, secret })
}

/// An enrolment link token as it appears in the link: `<org-slug>.<secret>`
/// ([`trygg_identity::link::parse_link_token`]).
pub fn parse_link_token(token: &str) -> Option<(OrgSlug, Secret)> {
    trygg_identity::link::parse_link_token(token)
        .map(|(org, secret)| (org, Secret::from_client(secret)))
}

/// A usable enrolment link, opened.
#[derive(Debug)]
pub struct OpenLink {
    /// The organisation's data.
    pub org: Arc<OrgStore>,
    /// The organisation.
    pub slug: OrgSlug,
    /// The link's record.
    pub link: EnrolmentLink,
}

/// Looks an enrolment link up (VC-DEV-2). A malformed, unknown, used, expired or revoked link
/// answers 410 `TR-L009` and spends the address's budget (review finding 5), and when its
/// organisation is known is a security event there; a link for a person whose employment has
/// ended answers `TR-P703`, and a link whose issuer may no longer issue links (employment ended,
/// `credentials-manage` revoked) answers `TR-P706` (finding 1).
pub async fn resolve_link(
    app: &App,
    addresses: &AddressThrottle,
    token: &str,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<OpenLink, AppError> {
    let invalid = || {
        address_failure(app, addresses, address, now);
        link_invalid()
    };
    let Some((slug, secret)) = parse_link_token(token) else {
        tracing::warn!(
            event = "security",
            code = "TR-L009",
            "malformed enrolment link"
        );
        return Err(invalid());
    };
    let Some(org) = app.store.org_by_slug(&slug).await? else {
        tracing::warn!(
            event = "security",
            code = "TR-L009",
            "enrolment link for no organisation"
        );
        return Err(invalid());
    };
    let h = app.store.org(&org).await?;
    let mut tx = h.begin().await?;
    let link = tx.enrolment_link(&secret).await?;
    let ended = match link.as_ref().and_then(|l| l.personnel_id) {
        Some(p) => employment_ended(tx.employment_end(p).await?.flatten(), now),
        None => false,
    };
    // A link carries its issuer's authority: once the issuer's employment has ended or their
    // right to issue credentials is gone, their open links stop working too, so a departing or
    // demoted administrator cannot keep a link in a drawer (review finding 1).
    let issuer_lost = match link.as_ref().map(|l| issuer_of(&l.issued_by)) {
        Some(Some(issuer)) => match tx.subject(issuer).await? {
            Some(s) => decide(
                &s,
                Permission::CredentialsManage,
                None,
                now.unix_timestamp(),
            )
            .is_err(),
            None => true,
        },
        _ => false,
    };
    drop(tx);
    // Refused links are security events naming the link, never the person holding it.
    let refusal = match (&link, issuer_lost, ended) {
        (Some(l), true, _) => Some((
            l.id,
            AppError::forbidden(
                "TR-P706",
                "the person who issued this link may no longer issue links; ask an administrator \
                 for a new one",
            ),
        )),
        (Some(l), false, true) => Some((l.id, employment_over())),
        _ => None,
    };
    if let Some((link_id, err)) = refusal {
        let mut e = AuthEvent::security(
            SecurityKind::AccessDenied,
            Operation::EnrolmentLinkUse,
            Outcome::Denied,
            address,
        );
        e.entity = ("enrolment-link", Some(link_id.to_string()));
        log_event(&h, &slug, Who::Unknown, e, now).await?;
        tracing::warn!(
            event = "security",
            code = err.code,
            "enrolment link refused"
        );
        return Err(err);
    }
    match link {
        Some(l) if l.state(now) == LinkState::Valid => Ok(OpenLink {
            org: h,
            slug,
            link: l,
        }),
        other => {
            // Whoever holds a used, expired or revoked link is not identified by it.
            let mut e = AuthEvent::security(
                SecurityKind::InvalidToken,
                Operation::EnrolmentLinkUse,
                Outcome::Rejected,
                address,
            );
            e.entity = ("enrolment-link", other.map(|l| l.id.to_string()));
            log_event(&h, &slug, Who::Unknown, e, now).await?;
            Err(invalid())
        }
    }
}

/// The person who issued a link, when a person did (`personnel:<id>`); links Trygg or the console
/// issued (`trygg:first-admin`, `trygg:cli`) have no personal issuer.
fn issuer_of(issued_by: &str) -> Option<Uuid> {
    issued_by
        .strip_prefix("personnel:")
        .and_then(|id| Uuid::parse_str(id).ok())
}

/// Opens the enrolment page's link: refused while the address is throttled, then
/// [`resolve_link`].
pub async fn open_link(
    app: &App,
    addresses: &AddressThrottle,
    token: &str,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<OpenLink, AppError> {
    check_address(app, addresses, address, now)?;
    resolve_link(app, addresses, token, address, now).await
}

/// Starts a registration through a link: for the link's person (their existing passkeys
/// excluded), or for a first-administrator link a new administrator named `name` (`TR-L016`
/// if the name is not one, `TR-L017` once the organisation has an administrator with a
/// passkey). Opening the link reads the person's name for their authenticator's list, and is
/// logged.
pub async fn enrol_start<P: Passkeys>(
    app: &App,
    rt: &LoginRuntime<P>,
    passkeys: &P,
    at: &Attempt,
    token: &str,
    name: Option<&str>,
    now: OffsetDateTime,
) -> Result<Started, AppError> {
    let site = precheck(app, &rt.addresses, at, now)?;
    let OpenLink { org: h, slug, link } =
        resolve_link(app, &rt.addresses, token, at.address, now).await?;
    let mut tx = h.begin().await?;
    let (personnel_id, user_handle, name, new_name, exclude) = match link.personnel_id {
        Some(pid) => {
            let account = tx.ensure_login_account(pid, now).await?;
            let name = tx.personnel_name(pid).await?.ok_or_else(link_invalid)?;
            let exclude = tx.passkey_credential_ids(pid).await?;
            (Some(pid), account.user_handle, name, None, exclude)
        }
        None => {
            if admin_has_passkey(&mut tx).await? {
                return Err(AppError::conflict(
                    "TR-L017",
                    "this organisation has an administrator already; ask them for a link",
                ));
            }
            let name = PersonName::parse(name.unwrap_or(""))
                .map_err(|e| AppError::invalid("TR-L016", e.to_string()))?;
            let handle = trygg_store::auth::new_user_handle(h.organisation().id)?;
            (None, handle, name.clone(), Some(name), Vec::new())
        }
    };
    let (mut options, reg) =
        passkeys.start_registration(&site, user_handle, name.expose(), exclude)?;
    trygg_identity::ceremony::require_resident_key(&mut options);
    let who = match personnel_id {
        Some(p) => Who::Person(
            p,
            tx.personnel_role(p).await?.unwrap_or(BuiltinRole::System),
        ),
        None => Who::Unknown,
    };
    tx.audit(&build(
        &slug,
        who,
        AuthEvent {
            category: Category::Authorisation,
            operation: Operation::EnrolmentLinkOpen,
            action: Action::Read,
            outcome: Outcome::Success,
            entity: ("enrolment-link", Some(link.id.to_string())),
            auth: None,
            address: at.address,
        },
        now,
    )?)
    .await?;
    tx.commit().await?;
    let ceremony = begin(
        app,
        &site,
        CeremonyKind::Enrol,
        &EnrolState {
            org: slug.as_str().to_owned(),
            link_id: link.id,
            personnel_id,
            new_name: new_name.map(|n| n.expose().to_owned()),
            user_handle,
            reg,
        },
        now,
    )?;
    Ok(Started { ceremony, options })
}

/// Finishes a registration through a link: checks the new credential (`TR-L010`), creates the
/// first administrator if the link is for one, uses up the link, stores the passkey for the
/// link's person only (PC-ACL-1), leaves the `passkey-added` notice (finding 2), and opens a
/// `substantial` session, all in one transaction with its audit entries (VC-DEV-2).
#[allow(clippy::too_many_arguments)]
pub async fn enrol_finish<P: Passkeys>(
    app: &App,
    rt: &LoginRuntime<P>,
    passkeys: &P,
    at: &Attempt,
    ceremony: &str,
    token: &str,
    answer: &P::Attestation,
    now: OffsetDateTime,
) -> Result<Opened, AppError> {
    let site = precheck(app, &rt.addresses, at, now)?;
    let (_, st): (_, EnrolState<P::RegisterState>) = take(
        app,
        &rt.addresses,
        at,
        ceremony,
        &site,
        CeremonyKind::Enrol,
        now,
    )?;
    let ip = at.address;
    let OpenLink { org: h, slug, link } = resolve_link(app, &rt.addresses, token, ip, now).await?;
    if link.id != st.link_id || slug.as_str() != st.org {
        return Err(ceremony_unknown());
    }
    let Some((cred_id, stored)) = passkeys.finish_registration(&site, answer, &st.reg) else {
        return Err(AppError::bad_request(
            "TR-L010",
            "the new passkey was not accepted; try again",
        ));
    };
    let mut tx = h.begin().await?;
    let new_name = match st.new_name.as_deref().map(PersonName::parse) {
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return Err(ceremony_unknown()),
        None => None,
    };
    let (personnel_id, role) = match (st.personnel_id, new_name) {
        (Some(pid), _) => {
            let role = tx.personnel_role(pid).await?.ok_or_else(link_invalid)?;
            (pid, role)
        }
        (None, Some(name)) => {
            if admin_has_passkey(&mut tx).await? {
                return Err(link_invalid());
            }
            let p = tx
                .create_personnel(
                    &NewPersonnel {
                        name,
                        email: None,
                        role: BuiltinRole::OrgAdmin,
                        employment: Employment::Employee,
                    },
                    now,
                )
                .await?;
            tx.create_login_account(p.id, st.user_handle, now).await?;
            tx.audit(&build(
                &slug,
                Who::System("first-admin"),
                AuthEvent {
                    category: Category::Authorisation,
                    operation: Operation::PersonnelCreate,
                    action: Action::Create,
                    outcome: Outcome::Success,
                    entity: ("Practitioner", Some(p.id.to_string())),
                    auth: None,
                    address: ip,
                },
                now,
            )?)
            .await?;
            (p.id, p.role)
        }
        (None, None) => return Err(link_invalid()),
    };
    tx.use_enrolment_link(link.id, now)
        .await
        .map_err(|_| link_invalid())?;
    let passkey_id = tx.add_passkey(personnel_id, &cred_id, &stored, now).await?;
    // The person's live sessions (and this new one) show it until acknowledged (finding 2).
    tx.add_notice(
        personnel_id,
        "passkey-added",
        Some(&passkey_id.to_string()),
        now,
    )
    .await?;
    let who = Who::Person(personnel_id, role);
    tx.audit(&build(
        &slug,
        who,
        AuthEvent {
            category: Category::Authorisation,
            operation: Operation::EnrolmentLinkUse,
            action: Action::Update,
            outcome: Outcome::Success,
            entity: ("enrolment-link", Some(link.id.to_string())),
            auth: None,
            address: ip,
        },
        now,
    )?)
    .await?;
    tx.audit(&build(
        &slug,
        who,
        AuthEvent {
            category: Category::Authorisation,
            operation: Operation::PasskeyRegister,
            action: Action::Create,
            outcome: Outcome::Success,
            entity: ("passkey", Some(passkey_id.to_string())),
            auth: Some(("enrolment-link", Assurance::Substantial)),
            address: ip,
        },
        now,
    )?)
    .await?;
    let (_, secret) = open_session(
        &mut tx,
        &slug,
        personnel_id,
        AuthMethod::Passkey,
        Assurance::Substantial,
        ip,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Opened { org: slug, secret })
}

/// What a developer-login request brings, as plain values read by the HTTP edge.
#[derive(Debug, Clone, Default)]
pub struct DevRequest {
    /// The client's address, if known.
    pub address: Option<IpAddr>,
    /// The `Host` the browser used.
    pub host: Option<String>,
    /// Whether the request names a proxy hop (`Forwarded`, `X-Forwarded-*`, `Via`).
    pub through_proxy: bool,
    /// Whether the request is same-origin.
    pub same_origin: bool,
}

/// Whether the developer login may be used at all from where the request comes: only in
/// `trygg demo` (404 otherwise, like any unknown page), and only when the listener, the client
/// (when known) and the `Host` are loopback (403 `TR-L014`) and no proxy header is present
/// (403 `TR-E702`, review finding 7).
pub fn developer_allowed(config: &Config, req: &DevRequest) -> Result<(), AppError> {
    if !config.demo {
        return Err(AppError::not_found("TR-L019", "not found"));
    }
    let listener = config.listen.ip().is_loopback();
    let client = req.address.is_none_or(|ip| ip.is_loopback());
    let host = req.host.as_deref().is_some_and(is_loopback_host);
    if !(listener && client && host) {
        tracing::warn!(
            event = "security",
            code = "TR-L014",
            "developer login off loopback refused"
        );
        return Err(AppError::forbidden(
            "TR-L014",
            "the developer login works only on a loopback address",
        ));
    }
    if req.through_proxy {
        tracing::warn!(
            event = "security",
            code = "TR-E702",
            "developer login through a proxy refused"
        );
        return Err(AppError::forbidden(
            "TR-E702",
            "the developer login does not work through a proxy",
        ));
    }
    Ok(())
}

/// The gate of a developer login ([`developer_allowed`], then same-origin, login CSRF,
/// `TR-L004`) and its input: `<org-slug>:<personnel id>` (400 `TR-L020` if it is not one).
pub fn developer_gate(
    config: &Config,
    req: &DevRequest,
    person: &str,
) -> Result<(OrgSlug, Uuid), AppError> {
    developer_allowed(config, req)?;
    if !req.same_origin {
        return Err(AppError::forbidden(
            "TR-L004",
            "the request does not come from this site",
        ));
    }
    person
        .split_once(':')
        .and_then(|(o, p)| Some((OrgSlug::parse(o).ok()?, Uuid::parse_str(p).ok()?)))
        .ok_or_else(|| AppError::bad_request("TR-L020", "no such person"))
}

/// The developer login (VC-DEV-2's one exception, loopback-only): a session with method
/// `developer` and assurance `low` for a person of an organisation `trygg demo` seeded
/// (`TR-E703` for any other), logged like every login. Call [`developer_gate`] first.
pub async fn developer_login(
    app: &App,
    org: &OrgSlug,
    person: Uuid,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<Opened, AppError> {
    let o = app
        .store
        .org_by_slug(org)
        .await?
        .ok_or_else(|| AppError::not_found("TR-L012", "no such person"))?;
    if !app.store.is_demo(&o).await? {
        tracing::warn!(
            event = "security",
            code = "TR-E703",
            "developer login into an organisation the demo did not seed refused"
        );
        return Err(AppError::not_found("TR-E703", "no such person"));
    }
    let h = app.store.org(&o).await?;
    let mut tx = h.begin().await?;
    if tx.personnel_role(person).await?.is_none() {
        return Err(AppError::not_found("TR-L012", "no such person"));
    }
    let (_, secret) = open_session(
        &mut tx,
        org,
        person,
        AuthMethod::Developer,
        Assurance::Low,
        address,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Opened {
        org: org.clone(),
        secret,
    })
}

/// One person to pick for the developer login, without their name: organisation, role and a
/// number.
#[derive(Debug, Clone)]
pub struct Choice {
    /// `<org-slug>:<personnel id>`.
    pub value: String,
    /// What the list shows.
    pub label: String,
}

/// Everyone who can be picked for the developer login, by organisation and role in `lang`'s
/// words (names are not read): only in the organisations `trygg demo` seeded.
pub async fn developer_choices(app: &App, lang: trygg_core::Lang) -> Result<Vec<Choice>, AppError> {
    let mut out = Vec::new();
    for org in app.store.list_orgs().await? {
        if !app.store.is_demo(&org).await? {
            continue;
        }
        let h = app.store.org(&org).await?;
        let mut tx = h.begin().await?;
        for role in BuiltinRole::ALL {
            let ids = tx.personnel_ids_with_role(role).await?;
            let many = ids.len() > 1;
            for (i, id) in ids.into_iter().enumerate() {
                let n = if many {
                    format!(" {}", i + 1)
                } else {
                    String::new()
                };
                out.push(Choice {
                    value: format!("{}:{id}", org.slug),
                    label: format!("{}: {}{n}", org.name, trygg_core::words::role(role, lang)),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_configuration_defaults_are_the_rules_defaults() {
        assert_eq!(limits(&Config::default()), LoginLimits::default());
        let b = address_budget(&Config::default());
        assert_eq!(b.burst, 20);
        assert_eq!(b.refill, time::Duration::seconds(15));
    }

    #[test]
    fn account_state_round_trips_through_the_row() {
        let t = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20000);
        let s = AccountState {
            failures: 3,
            window_start: Some(t),
            locked_until: Some(t + time::Duration::minutes(5)),
            lock_level: 2,
        };
        assert_eq!(state_of(&row_of(&s)), s);
    }

    #[test]
    fn a_lock_answers_429_with_the_wait() {
        let e = locked(42);
        assert_eq!(
            (e.code, e.kind),
            ("TR-L007", ErrorKind::TooManyRequests(42))
        );
    }

    fn lo() -> Option<IpAddr> {
        Some("127.0.0.1".parse().unwrap())
    }

    fn req(address: Option<IpAddr>, host: Option<&str>) -> DevRequest {
        DevRequest {
            address,
            host: host.map(str::to_owned),
            through_proxy: false,
            same_origin: true,
        }
    }

    #[test]
    fn developer_login_only_in_the_demo_and_only_on_loopback() {
        let code = |c: &Config, r: &DevRequest| developer_allowed(c, r).err().map(|e| e.code);
        let mut c = Config::default();
        assert_eq!(
            code(&c, &req(lo(), Some("localhost:8080"))),
            Some("TR-L019")
        );
        c.demo = true;
        assert_eq!(code(&c, &req(lo(), Some("localhost:8080"))), None);
        assert_eq!(code(&c, &req(None, Some("127.0.0.1:8080"))), None);
        let far = Some("192.0.2.7".parse().unwrap());
        assert_eq!(code(&c, &req(far, Some("localhost:8080"))), Some("TR-L014"));
        assert_eq!(
            code(&c, &req(lo(), Some("demo.example.no"))),
            Some("TR-L014")
        );
        assert_eq!(code(&c, &req(lo(), None)), Some("TR-L014"));
        let mut proxied = req(lo(), Some("127.0.0.1:8080"));
        proxied.through_proxy = true;
        assert_eq!(code(&c, &proxied), Some("TR-E702"));
        let mut cross = req(lo(), Some("localhost:8080"));
        cross.same_origin = false;
        assert_eq!(
            developer_gate(&c, &cross, "normland:x").unwrap_err().code,
            "TR-L004"
        );
        let ok = req(lo(), Some("localhost:8080"));
        assert_eq!(
            developer_gate(&c, &ok, "normland:not-a-uuid")
                .unwrap_err()
                .code,
            "TR-L020"
        );
        let id = Uuid::new_v4();
        assert_eq!(
            developer_gate(&c, &ok, &format!("normland:{id}"))
                .unwrap()
                .1,
            id
        );
        c.listen = "0.0.0.0:8443".parse().unwrap();
        assert_eq!(
            code(&c, &req(lo(), Some("localhost:8443"))),
            Some("TR-L014")
        );
    }
}
