//! Lockout per account and a throttle per client address after failed logins (guide risk
//! scenario 17, review finding 5). Sans-IO: the rules take the state and `now` and change the
//! state; the caller stores it (per account in the organisation's database, per address in
//! memory). The numbers come in as [`LoginLimits`], so the rules know nothing of the
//! configuration file.
//!
//! # Account rules (lock)
//! - Only **real credential failures** count against an account: an assertion that does not
//!   verify against the account's passkey (wrong key, unknown credential, failed user
//!   verification, replayed challenge). Bogus, unknown or expired enrolment links and malformed
//!   requests never reach an account.
//! - Failures are counted in a **window** of `login_lockout_secs` that starts at the first failure
//!   after the last window ended. A failure outside the window starts a new one.
//! - The `max`-th failure within one window **locks** for `login_lockout_secs × 2^level`, at most
//!   one day, and raises `level`; the count starts again at zero.
//! - While locked, an attempt is **refused without being checked** (HTTP 429 with `Retry-After`,
//!   and a security event); it does not extend the lock, so the owner gets back in on time.
//! - A **successful** login resets the account's state, `level` included.
//! - `level` falls back to zero when a new window starts more than a day after the last lock
//!   ended. `max` is `login_max_failures` (default 5).
//!
//! # Address rules (throttle, never a lock)
//! An address is never locked out: behind NAT or a proxy one address is a whole clinic, and a lock
//! an attacker can trigger with bogus links is a denial of service. Instead every failure from an
//! address (a failed login, a passkey of no known account, a bogus, unknown or expired enrolment
//! link, a ceremony that does not exist) spends one unit of the address's **budget**, a token
//! bucket in its GCRA form (one timestamp per address):
//! - the budget holds `burst` = 4 × `login_max_failures` failures (several people can share an
//!   address) and refills one unit every `login_lockout_secs / burst` (15 s by default);
//! - with the budget spent, attempts from the address are refused unchecked with 429 and a
//!   `Retry-After` of the time until the next unit, **at most one refill interval**; a success
//!   does not refill it (an attacker with one valid account must not clear the budget it guesses
//!   others' under);
//! - IPv6 addresses count per /64, the block one client usually holds; at most
//!   [`MAX_ADDRESSES`] are tracked, and when full, addresses whose budget is whole are dropped
//!   first, then the fullest budgets.
//!
//! # Account state machine
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
//!     └── success: Open(0), level 0
//! ```
//!
//! # Address budget
//! ```text
//!   tat = when the budget is whole again (≤ now: whole)      T = refill interval, B = burst
//!
//!   failure:  tat := max(tat, now) + T
//!   gate:     tat − now ≤ (B−1)·T  → Open
//!             otherwise            → Slowed(until = tat − (B−1)·T), Retry-After ≤ T
//! ```

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// The longest single lock.
const MAX_LOCK: Duration = Duration::days(1);
/// After this long without a lock, the back-off level starts again at zero.
const LEVEL_RESET: Duration = Duration::days(1);
/// The most client addresses tracked at once.
pub const MAX_ADDRESSES: usize = 10_000;

/// The two settings the rules are built from (`login_max_failures`, `login_lockout_secs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Real credential failures within one window that lock an account.
    pub max_failures: u32,
    /// The window length and the first lock's length, in seconds.
    pub lockout_secs: u64,
}

impl Default for LoginLimits {
    /// The configuration's defaults: 5 failures, 300 seconds.
    fn default() -> Self {
        Self {
            max_failures: 5,
            lockout_secs: 300,
        }
    }
}

/// One account's failure state: what the caller stores per account between attempts (the store's
/// `login_accounts` row holds the same four fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountState {
    /// Failures in the current window.
    pub failures: u32,
    /// When the current window began (the first failure in it).
    pub window_start: Option<OffsetDateTime>,
    /// Locked until this time.
    pub locked_until: Option<OffsetDateTime>,
    /// How many locks in a row (the back-off doubles with each).
    pub lock_level: u32,
}

/// The limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures within one window that lock.
    pub max_failures: u32,
    /// The window length and the first lock's length.
    pub lockout: Duration,
}

impl Policy {
    /// The account policy from the settings.
    pub fn account(limits: LoginLimits) -> Self {
        Self {
            max_failures: limits.max_failures,
            lockout: Duration::seconds(i64::try_from(limits.lockout_secs).unwrap_or(300)),
        }
    }
}

/// The per-address budget: `burst` failures at once, one more every `refill`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Failures an address may make at once.
    pub burst: u32,
    /// The time one unit of the budget takes to come back.
    pub refill: Duration,
}

impl Budget {
    /// From the settings: four times the account's failures, refilled over
    /// `login_lockout_secs`.
    pub fn address(limits: LoginLimits) -> Self {
        let burst = limits.max_failures.saturating_mul(4).max(1);
        let window_ms = i64::try_from(limits.lockout_secs.saturating_mul(1000)).unwrap_or(300_000);
        Self {
            burst,
            refill: Duration::milliseconds((window_ms / i64::from(burst)).max(100)),
        }
    }

    /// The per-client request budget of the unauthenticated login routes (issue 17): 60
    /// requests at once, 20 a second after that. Far above what a clinic behind one address
    /// needs at the start of the day, far below what fills a log or a CPU.
    pub fn requests() -> Self {
        Self {
            burst: 60,
            refill: Duration::milliseconds(50),
        }
    }

    fn tolerance(self) -> Duration {
        self.refill
            .saturating_mul(i32::try_from(self.burst.saturating_sub(1)).unwrap_or(i32::MAX))
    }
}

/// Whether an attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Check the attempt.
    Open,
    /// The account is locked: refuse it unchecked until this time.
    Locked(OffsetDateTime),
    /// The address's budget is spent: refuse it unchecked until this time (at most one refill
    /// interval away).
    Slowed(OffsetDateTime),
}

impl Gate {
    /// Seconds until the lock ends (at least 1), for `Retry-After`.
    pub fn retry_after_secs(self, now: OffsetDateTime) -> Option<i64> {
        match self {
            Gate::Open => None,
            Gate::Locked(until) | Gate::Slowed(until) => {
                let ms = (until - now).whole_milliseconds();
                // Rounded up, so a client that waits this long is let through.
                Some(i64::try_from((ms + 999) / 1000).unwrap_or(i64::MAX).max(1))
            }
        }
    }
}

/// Whether the state lets an attempt through at `now`.
pub fn gate(t: &AccountState, now: OffsetDateTime) -> Gate {
    match t.locked_until {
        Some(until) if now < until => Gate::Locked(until),
        _ => Gate::Open,
    }
}

/// Records a failure; returns the new lock's end if this failure locked.
pub fn on_failure(t: &mut AccountState, p: Policy, now: OffsetDateTime) -> Option<OffsetDateTime> {
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
pub fn on_success(t: &mut AccountState) {
    *t = AccountState::default();
}

/// The key an address is counted under: IPv4 as is, IPv6 by its /64.
pub fn address_key(ip: IpAddr) -> IpAddr {
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

/// Whether an address with budget state `tat` may try at `now`.
pub fn budget_gate(tat: OffsetDateTime, b: Budget, now: OffsetDateTime) -> Gate {
    let until = tat - b.tolerance();
    if now < until {
        Gate::Slowed(until)
    } else {
        Gate::Open
    }
}

/// Spends one unit of an address's budget: the new `tat`. A spent budget is not overdrawn, so
/// the address is never refused for longer than one refill interval.
pub fn budget_spend(tat: Option<OffsetDateTime>, b: Budget, now: OffsetDateTime) -> OffsetDateTime {
    let most = now + b.tolerance() + b.refill;
    (tat.map_or(now, |t| t.max(now)) + b.refill).min(most)
}

/// The failure budgets of client addresses, in memory (per process).
#[derive(Debug, Default)]
pub struct AddressThrottle {
    map: Mutex<HashMap<IpAddr, OffsetDateTime>>,
}

impl AddressThrottle {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<IpAddr, OffsetDateTime>) -> R) -> R {
        // A poisoned lock only means another request panicked mid-update; the budgets are
        // still usable.
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut map)
    }

    /// Whether an attempt from `ip` may go ahead (always, for an unknown address).
    pub fn gate(&self, ip: Option<IpAddr>, b: Budget, now: OffsetDateTime) -> Gate {
        let Some(ip) = ip else { return Gate::Open };
        self.with(|m| {
            m.get(&address_key(ip))
                .map_or(Gate::Open, |t| budget_gate(*t, b, now))
        })
    }

    /// Spends one unit of `ip`'s budget for a failure; returns whether the budget is now spent.
    pub fn failure(&self, ip: Option<IpAddr>, b: Budget, now: OffsetDateTime) -> bool {
        let Some(ip) = ip.map(address_key) else {
            return false;
        };
        self.with(|m| {
            if m.len() >= MAX_ADDRESSES && !m.contains_key(&ip) {
                m.retain(|_, t| *t > now);
                if m.len() >= MAX_ADDRESSES {
                    // Still full: forget the address closest to a whole budget. Memory stays
                    // bounded; an attacker with this many addresses gains a little budget.
                    if let Some(k) = m.iter().min_by_key(|(_, t)| **t).map(|(k, _)| *k) {
                        m.remove(&k);
                    }
                }
            }
            let tat = budget_spend(m.get(&ip).copied(), b, now);
            m.insert(ip, tat);
            matches!(budget_gate(tat, b, now), Gate::Slowed(_))
        })
    }

    /// A request from `ip` against its request budget (issue 17): spends one unit and answers
    /// [`Gate::Open`], or, with the budget spent, spends nothing and answers [`Gate::Slowed`]
    /// with when to come back. An unknown address always passes. Each address has its own
    /// budget, so one client's flood never refuses another's request; memory is bounded as for
    /// failures.
    pub fn request(&self, ip: Option<IpAddr>, b: Budget, now: OffsetDateTime) -> Gate {
        let gate = self.gate(ip, b, now);
        if gate == Gate::Open {
            self.failure(ip, b, now);
        }
        gate
    }

    /// How many addresses are tracked.
    pub fn len(&self) -> usize {
        self.with(|m| m.len())
    }

    /// Whether no address is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        let mut t = AccountState::default();
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
        let mut t = AccountState::default();
        let now = t0();
        on_failure(&mut t, P, now);
        on_failure(&mut t, P, now + Duration::seconds(1));
        assert_eq!(on_failure(&mut t, P, now + Duration::seconds(61)), None);
        assert_eq!(t.failures, 1);
    }

    #[test]
    fn success_resets_and_level_decays() {
        let mut t = AccountState::default();
        let now = t0();
        for i in 0..3 {
            on_failure(&mut t, P, now + Duration::seconds(i));
        }
        assert_eq!(t.lock_level, 1);
        on_success(&mut t);
        assert_eq!(t, AccountState::default());
        for i in 0..3 {
            on_failure(&mut t, P, now + Duration::seconds(i));
        }
        let later = now + Duration::days(2);
        on_failure(&mut t, P, later);
        assert_eq!(t.lock_level, 0);
    }

    #[test]
    fn lock_length_is_capped() {
        let mut t = AccountState {
            lock_level: 40,
            ..AccountState::default()
        };
        let now = t0();
        for i in 0..2 {
            on_failure(&mut t, P, now + Duration::seconds(i));
        }
        let until = on_failure(&mut t, P, now + Duration::seconds(2)).unwrap();
        assert_eq!(until - (now + Duration::seconds(2)), MAX_LOCK);
    }

    const B: Budget = Budget {
        burst: 3,
        refill: Duration::seconds(10),
    };

    #[test]
    fn addresses_count_ipv6_per_64() {
        let a = AddressThrottle::default();
        let now = t0();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        a.failure(ip("2001:db8::1"), B, now);
        a.failure(ip("2001:db8::2"), B, now);
        a.failure(ip("2001:db8::3"), B, now);
        assert!(matches!(
            a.gate(ip("2001:db8::ffff"), B, now),
            Gate::Slowed(_)
        ));
        assert_eq!(a.gate(ip("2001:db9::1"), B, now), Gate::Open);
        assert_eq!(a.gate(None, B, now), Gate::Open);
    }

    #[test]
    fn finding_5_an_address_is_slowed_never_locked() {
        let a = AddressThrottle::default();
        let ip = Some("192.0.2.1".parse::<IpAddr>().unwrap());
        let now = t0();
        // The burst goes through, then the budget is spent.
        assert!(!a.failure(ip, B, now));
        assert!(!a.failure(ip, B, now));
        assert!(a.failure(ip, B, now));
        let g = a.gate(ip, B, now);
        assert_eq!(g, Gate::Slowed(now + Duration::seconds(10)));
        assert_eq!(g.retry_after_secs(now), Some(10));
        // A flood of failures does not overdraw the budget: the address is refused for at most
        // one refill interval after the flood, never for minutes.
        let mut t = now;
        for i in 0..1000 {
            t = now + Duration::milliseconds(i);
            a.failure(ip, B, t);
            assert!(a.gate(ip, B, t).retry_after_secs(t).unwrap() <= 10);
        }
        assert_eq!(a.gate(ip, B, t + Duration::seconds(10)), Gate::Open);
        // A quiet address gets its whole burst back.
        let fresh = AddressThrottle::default();
        fresh.failure(ip, B, now);
        fresh.failure(ip, B, now);
        fresh.failure(ip, B, now);
        let t = now + Duration::seconds(30);
        assert_eq!(fresh.gate(ip, B, t), Gate::Open);
        assert!(!fresh.failure(ip, B, t));
        assert!(!fresh.failure(ip, B, t));
        assert!(fresh.failure(ip, B, t));
    }

    #[test]
    fn issue_17_one_client_spending_its_request_budget_leaves_others_alone() {
        let t = AddressThrottle::default();
        let b = Budget::requests();
        let now = t0();
        let flood: IpAddr = "198.51.100.9".parse().unwrap();
        let other: IpAddr = "198.51.100.10".parse().unwrap();
        let open = (0..10_000)
            .filter(|_| t.request(Some(flood), b, now) == Gate::Open)
            .count();
        assert_eq!(open, b.burst as usize);
        let g = t.request(Some(flood), b, now);
        assert_eq!(g.retry_after_secs(now), Some(1));
        assert_eq!(t.request(Some(other), b, now), Gate::Open);
        assert_eq!(t.request(Some(flood), b, now + b.refill), Gate::Open);
        assert_eq!(t.request(None, b, now), Gate::Open);
    }

    #[test]
    fn the_address_map_is_bounded() {
        let a = AddressThrottle::default();
        let now = t0();
        for i in 0..(MAX_ADDRESSES as u32 + 50) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            a.failure(Some(ip), B, now);
        }
        assert!(a.len() <= MAX_ADDRESSES);
    }

    #[test]
    fn the_default_budget_refills_in_seconds() {
        let b = Budget::address(LoginLimits::default());
        assert_eq!(b.burst, 20);
        assert_eq!(b.refill, Duration::seconds(15));
    }
}
