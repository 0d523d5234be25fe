//! The rules of a session, apart from cookies and storage: how a person authenticated
//! ([`AuthMethod`]) and at which assurance level, as stable codes stored on the session and
//! written to every audit event (PC-AUTHN-1); when a session stops being live ([`check_times`]:
//! ended, end of employment, absolute and idle timeouts); and the CSRF token derived from the
//! session secret ([`csrf_token`], compared in constant time by [`csrf_eq`]).
//!
//! # Lifecycle
//! ```text
//!   login/enrolment ──► Live ──(request within idle timeout)──► Live (last_seen = now)
//!                        │
//!                        ├─ no request for the idle timeout ──────► Ended("idle")
//!                        ├─ the absolute timeout after login ─────► Ended("absolute")
//!                        ├─ employment end at or before now ──────► Ended("employment-ended")
//!                        └─ logout ───────────────────────────────► Ended("logout")
//! ```
//! An ended session never comes back; the person logs in again.

use time::{Duration, OffsetDateTime};
use trygg_audit::Assurance;

/// An OpenID Connect identity provider (a later issue; the session already has room for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OidcProvider {
    /// HelseID, for health personnel.
    HelseId,
    /// ID-porten, for citizens and personnel without HelseID.
    IdPorten,
    /// The deployment's own OpenID provider for personnel (an organisation's Entra ID).
    Generic,
}

/// How a person authenticated. Stored on the session and carried into every audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// A WebAuthn passkey with user verification.
    Passkey,
    /// An OpenID Connect login; the assurance level comes from the provider's `acr`.
    Oidc(OidcProvider),
    /// The demo's developer login (no credential at all; `trygg demo` on loopback only).
    Developer,
}

impl AuthMethod {
    /// The stable code stored on the session and written to the audit log.
    pub fn code(self) -> &'static str {
        match self {
            Self::Passkey => "passkey",
            Self::Oidc(OidcProvider::HelseId) => "helseid",
            Self::Oidc(OidcProvider::IdPorten) => "idporten",
            Self::Oidc(OidcProvider::Generic) => "oidc",
            Self::Developer => "developer",
        }
    }

    /// Parses a stored code.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Passkey,
            Self::Oidc(OidcProvider::HelseId),
            Self::Oidc(OidcProvider::IdPorten),
            Self::Oidc(OidcProvider::Generic),
            Self::Developer,
        ]
        .into_iter()
        .find(|m| m.code() == s)
    }
}

/// The stable code of an assurance level.
pub fn assurance_code(a: Assurance) -> &'static str {
    match a {
        Assurance::Low => "low",
        Assurance::Substantial => "substantial",
        Assurance::High => "high",
    }
}

/// Parses a stable assurance code.
pub fn parse_assurance(s: &str) -> Option<Assurance> {
    [Assurance::Low, Assurance::Substantial, Assurance::High]
        .into_iter()
        .find(|a| assurance_code(*a) == s)
}

/// The CSRF token of a session: hex SHA-256 of a fixed label and the session secret. Bound to the
/// session, and reveals nothing of the secret.
pub fn csrf_token(secret: &str) -> String {
    let input = format!("trygg-csrf-v1\0{secret}");
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input.as_bytes()).as_ref())
}

/// Whether `given` equals the session's CSRF token `expected`, compared in constant time (for
/// equal lengths; the length of a token is no secret).
pub fn csrf_eq(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a session is not live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// No request for the idle timeout.
    Idle,
    /// The absolute timeout passed.
    Absolute,
    /// Ended already (logout or an earlier expiry).
    Ended,
    /// The person's employment has ended (finding 1).
    EmploymentEnded,
}

/// The session timeouts (`session_idle_timeout_secs`, `session_absolute_timeout_secs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The longest time without a request.
    pub idle: Duration,
    /// The longest time after login.
    pub absolute: Duration,
}

impl Timeouts {
    /// From seconds (a value too large for a duration means "never").
    pub fn from_secs(idle: u64, absolute: u64) -> Self {
        let secs = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX));
        Self {
            idle: secs(idle),
            absolute: secs(absolute),
        }
    }
}

/// What the timeouts look at in a stored session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    /// When the person logged in.
    pub created_at: OffsetDateTime,
    /// The last request.
    pub last_seen_at: OffsetDateTime,
    /// Whether the session has been ended (logout or an earlier expiry).
    pub ended: bool,
    /// The end of the person's employment (Unix seconds), if set.
    pub employment_end: Option<i64>,
}

/// Whether an employment end (Unix seconds) is at or before `now` (finding 1).
pub fn employment_ended(end: Option<i64>, now: OffsetDateTime) -> bool {
    end.is_some_and(|e| e <= now.unix_timestamp())
}

/// Applies the timeouts to a session at `now`: live, or why not.
pub fn check_times(s: &SessionTimes, t: Timeouts, now: OffsetDateTime) -> Result<(), Expiry> {
    if s.ended {
        return Err(Expiry::Ended);
    }
    if employment_ended(s.employment_end, now) {
        return Err(Expiry::EmploymentEnded);
    }
    if now - s.created_at >= t.absolute {
        return Err(Expiry::Absolute);
    }
    if now - s.last_seen_at >= t.idle {
        return Err(Expiry::Idle);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn methods_round_trip() {
        for m in [
            AuthMethod::Passkey,
            AuthMethod::Oidc(OidcProvider::HelseId),
            AuthMethod::Oidc(OidcProvider::IdPorten),
            AuthMethod::Developer,
        ] {
            assert_eq!(AuthMethod::parse(m.code()), Some(m));
        }
        assert_eq!(AuthMethod::parse("password"), None);
        for a in [Assurance::Low, Assurance::Substantial, Assurance::High] {
            assert_eq!(parse_assurance(assurance_code(a)), Some(a));
        }
        assert_eq!(parse_assurance("very-high"), None);
    }

    #[test]
    fn csrf_token_is_bound_to_the_secret() {
        let a = csrf_token("secret-a");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, csrf_token("secret-a"));
        assert_ne!(a, csrf_token("secret-b"));
        assert!(!a.contains("secret"));
        assert!(csrf_eq(&a, &csrf_token("secret-a")));
        assert!(!csrf_eq(&a, &csrf_token("secret-b")));
        assert!(!csrf_eq(&a, ""));
        assert!(!csrf_eq(&a, &a[..63]));
    }

    #[test]
    fn timeouts() {
        let c = Timeouts::from_secs(60, 600);
        let t = OffsetDateTime::UNIX_EPOCH + Duration::days(20000);
        let mut rec = SessionTimes {
            created_at: t,
            last_seen_at: t,
            ended: false,
            employment_end: None,
        };
        let s = Duration::seconds;
        assert_eq!(check_times(&rec, c, t + s(59)), Ok(()));
        assert_eq!(check_times(&rec, c, t + s(60)), Err(Expiry::Idle));
        rec.last_seen_at = t + s(590);
        assert_eq!(check_times(&rec, c, t + s(599)), Ok(()));
        assert_eq!(check_times(&rec, c, t + s(600)), Err(Expiry::Absolute));
        rec.employment_end = Some((t + s(595)).unix_timestamp());
        assert_eq!(
            check_times(&rec, c, t + s(594)),
            Ok(()),
            "a future end ends nothing"
        );
        assert_eq!(
            check_times(&rec, c, t + s(595)),
            Err(Expiry::EmploymentEnded),
            "finding 1: refused at the end of employment"
        );
        rec.ended = true;
        assert_eq!(check_times(&rec, c, t), Err(Expiry::Ended));
    }

    #[test]
    fn huge_timeouts_mean_never() {
        let c = Timeouts::from_secs(u64::MAX, u64::MAX);
        let t = OffsetDateTime::UNIX_EPOCH;
        let rec = SessionTimes {
            created_at: t,
            last_seen_at: t,
            ended: false,
            employment_end: None,
        };
        assert_eq!(check_times(&rec, c, t + Duration::days(36500)), Ok(()));
    }
}
