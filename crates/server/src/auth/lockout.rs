//! Lockout and back-off after failed logins, per account and per client address (guide risk
//! scenario 17). Sans-IO: the rules take the state and `now` and change the state; the caller
//! stores it (per account in the organisation's database, per address in memory).
//!
//! # Rules
//! - Failures are counted in a **window** of `login_lockout_secs` that starts at the first failure
//!   after the last window ended. A failure outside the window starts a new one.
//! - The `max`-th failure within one window **locks** for `login_lockout_secs × 2^level`, at most
//!   one day, and raises `level`; the count starts again at zero.
//! - While locked, an attempt is **refused without being checked** (HTTP 429 with `Retry-After`,
//!   and a security event); it does not extend the lock, so the owner gets back in on time.
//! - A **successful** login resets the account's state, `level` included. It does not reset the
//!   address's state: an attacker with one valid account must not clear the counter it guesses
//!   others' under.
//! - `level` falls back to zero when a new window starts more than a day after the last lock
//!   ended.
//! - Per account, `max` is `login_max_failures` (default 5); per address it is four times that,
//!   since several people can share one address (a clinic behind NAT). IPv6 addresses count per
//!   /64, the block one client usually holds.
//!
//! # State machine
//! ```text
//!                 failure, count+1 < max
//!               ┌────────────────────────┐
//!               ▼                        │
//!   ┌─────────────────────┐  failure, count+1 = max   ┌──────────────────────────────┐
//!   │ Open(count, window) │ ────────────────────────► │ Locked(until, level+1)       │
//!   └─────────────────────┘                           │ attempts refused, not counted│
//!     ▲   ▲   │ window over: count = 0                └──────────────────────────────┘
//!     │   │   └──────────────┘                                      │ now ≥ until
//!     │   └─────────────────────────────────────────────────────────┘ Open(0), level kept
//!     └── success (account only): Open(0), level 0
//! ```

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};
use trygg_store::ThrottleRow;

/// The longest single lock.
const MAX_LOCK: Duration = Duration::days(1);
/// After this long without a lock, the back-off level starts again at zero.
const LEVEL_RESET: Duration = Duration::days(1);
/// The most client addresses tracked at once; beyond it, unlocked entries are dropped.
const MAX_ADDRESSES: usize = 10_000;

/// The limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures within one window that lock.
    pub max_failures: u32,
    /// The window length and the first lock's length.
    pub lockout: Duration,
}

impl Policy {
    /// The account policy from the configuration.
    pub fn account(config: &crate::config::Config) -> Self {
        Self {
            max_failures: config.login_max_failures,
            lockout: Duration::seconds(i64::try_from(config.login_lockout_secs).unwrap_or(300)),
        }
    }

    /// The address policy: four times the account's failures.
    pub fn address(config: &crate::config::Config) -> Self {
        let a = Self::account(config);
        Self {
            max_failures: a.max_failures.saturating_mul(4),
            ..a
        }
    }
}

/// Whether an attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Check the attempt.
    Open,
    /// Refuse it unchecked until this time.
    Locked(OffsetDateTime),
}

impl Gate {
    /// Seconds until the lock ends (at least 1), for `Retry-After`.
    pub fn retry_after_secs(self, now: OffsetDateTime) -> Option<i64> {
        match self {
            Gate::Open => None,
            Gate::Locked(until) => Some((until - now).whole_seconds().max(1)),
        }
    }
}

/// Whether the state lets an attempt through at `now`.
pub fn gate(t: &ThrottleRow, now: OffsetDateTime) -> Gate {
    match t.locked_until {
        Some(until) if now < until => Gate::Locked(until),
        _ => Gate::Open,
    }
}

/// Records a failure; returns the new lock's end if this failure locked.
pub fn on_failure(t: &mut ThrottleRow, p: Policy, now: OffsetDateTime) -> Option<OffsetDateTime> {
    if let Gate::Locked(_) = gate(t, now) {
        return None;
    }
    let window_over = t.window_start.is_none_or(|start| now - start >= p.lockout);
    if window_over {
        if t.locked_until.is_some_and(|u| now - u >= LEVEL_RESET) {
            t.lock_level = 0;
        }
        t.failures = 0;
        t.window_start = Some(now);
    }
    t.failures = t.failures.saturating_add(1);
    if t.failures < p.max_failures {
        return None;
    }
    let factor = 1i32.checked_shl(t.lock_level.min(20)).unwrap_or(i32::MAX);
    let length = p.lockout.saturating_mul(factor).min(MAX_LOCK);
    let until = now + length;
    t.locked_until = Some(until);
    t.lock_level = t.lock_level.saturating_add(1);
    t.failures = 0;
    t.window_start = None;
    Some(until)
}

/// Records a successful login of the account: everything starts again.
pub fn on_success(t: &mut ThrottleRow) {
    *t = ThrottleRow::default();
}

/// The key an address is counted under: IPv4 as is, IPv6 by its /64.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Failure counters per client address, in memory.
#[derive(Debug, Default)]
pub struct AddressThrottle {
    map: Mutex<HashMap<IpAddr, ThrottleRow>>,
}

impl AddressThrottle {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<IpAddr, ThrottleRow>) -> R) -> R {
        // A poisoned lock only means another request panicked mid-update; the counters are
        // still usable.
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut map)
    }

    /// Whether an attempt from `ip` may go ahead (always, for an unknown address).
    pub fn gate(&self, ip: Option<IpAddr>, now: OffsetDateTime) -> Gate {
        let Some(ip) = ip else { return Gate::Open };
        self.with(|m| m.get(&address_key(ip)).map_or(Gate::Open, |t| gate(t, now)))
    }

    /// Records a failure from `ip`; returns the lock's end if it locked.
    pub fn failure(
        &self,
        ip: Option<IpAddr>,
        p: Policy,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        let ip = address_key(ip?);
        self.with(|m| {
            if m.len() >= MAX_ADDRESSES && !m.contains_key(&ip) {
                m.retain(|_, t| matches!(gate(t, now), Gate::Locked(_)));
            }
            if m.len() >= MAX_ADDRESSES && !m.contains_key(&ip) {
                // Every tracked address is locked: do not grow without bound.
                return None;
            }
            on_failure(m.entry(ip).or_default(), p, now)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t0() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(20000)
    }

    const P: Policy = Policy {
        max_failures: 3,
        lockout: Duration::seconds(60),
    };

    #[test]
    fn locks_after_max_failures_in_a_window_and_doubles() {
        let mut t = ThrottleRow::default();
        let now = t0();
        assert_eq!(on_failure(&mut t, P, now), None);
        assert_eq!(on_failure(&mut t, P, now + Duration::seconds(1)), None);
        let until = on_failure(&mut t, P, now + Duration::seconds(2)).unwrap();
        assert_eq!(until, now + Duration::seconds(62));
        assert_eq!(gate(&t, now + Duration::seconds(61)), Gate::Locked(until));
        // Refused attempts while locked are not counted and do not extend the lock.
        assert_eq!(on_failure(&mut t, P, now + Duration::seconds(30)), None);
        assert_eq!(gate(&t, until), Gate::Open);
        // The second lock is twice as long.
        for i in 0..2 {
            assert_eq!(on_failure(&mut t, P, until + Duration::seconds(i)), None);
        }
        let until2 = on_failure(&mut t, P, until + Duration::seconds(2)).unwrap();
        assert_eq!(until2, until + Duration::seconds(2 + 120));
    }

    #[test]
    fn failures_outside_the_window_start_again() {
        let mut t = ThrottleRow::default();
        let now = t0();
        on_failure(&mut t, P, now);
        on_failure(&mut t, P, now + Duration::seconds(1));
        assert_eq!(on_failure(&mut t, P, now + Duration::seconds(61)), None);
        assert_eq!(t.failures, 1);
    }

    #[test]
    fn success_resets_and_level_decays() {
        let mut t = ThrottleRow::default();
        let now = t0();
        for i in 0..3 {
            on_failure(&mut t, P, now + Duration::seconds(i));
        }
        assert_eq!(t.lock_level, 1);
        on_success(&mut t);
        assert_eq!(t, ThrottleRow::default());
        for i in 0..3 {
            on_failure(&mut t, P, now + Duration::seconds(i));
        }
        let later = now + Duration::days(2);
        on_failure(&mut t, P, later);
        assert_eq!(t.lock_level, 0);
    }

    #[test]
    fn lock_length_is_capped() {
        let mut t = ThrottleRow {
            lock_level: 40,
            ..ThrottleRow::default()
        };
        let now = t0();
        for i in 0..2 {
            on_failure(&mut t, P, now + Duration::seconds(i));
        }
        let until = on_failure(&mut t, P, now + Duration::seconds(2)).unwrap();
        assert_eq!(until - (now + Duration::seconds(2)), MAX_LOCK);
    }

    #[test]
    fn addresses_count_ipv6_per_64() {
        let a = AddressThrottle::default();
        let now = t0();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        a.failure(ip("2001:db8::1"), P, now);
        a.failure(ip("2001:db8::2"), P, now);
        a.failure(ip("2001:db8::3"), P, now);
        assert!(matches!(a.gate(ip("2001:db8::ffff"), now), Gate::Locked(_)));
        assert_eq!(a.gate(ip("2001:db9::1"), now), Gate::Open);
        assert_eq!(a.gate(None, now), Gate::Open);
    }
}
