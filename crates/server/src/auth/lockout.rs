//! The account lock and the client-address throttle at the HTTP edge. The rules and their state
//! machines are `trygg_identity::lockout` (sans-IO, guide risk scenario 17, review finding 5),
//! re-exported here; this module adds what ties them to this server: the limits from the one
//! settings table, and the conversion between the rules' [`AccountState`] and the store's
//! `login_accounts` row ([`ThrottleRow`]), which the store keeps so that it need not depend on
//! the rules.

use time::OffsetDateTime;
use trygg_store::ThrottleRow;

pub use trygg_identity::lockout::*;

use crate::config::Config;

/// The limits from the configuration (`login_max_failures`, `login_lockout_secs`).
pub fn limits(config: &Config) -> LoginLimits {
    LoginLimits {
        max_failures: config.login_max_failures,
        lockout_secs: config.login_lockout_secs,
    }
}

/// The account policy from the configuration.
pub fn account_policy(config: &Config) -> Policy {
    Policy::account(limits(config))
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

/// Whether a stored account lets an attempt through at `now`.
pub fn account_gate(row: &ThrottleRow, now: OffsetDateTime) -> Gate {
    gate(&state_of(row), now)
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
}
