//! The clock is an input (guide: "only the binary reads the real time"). Use cases, handlers and
//! timeout rules take `now` from one [`Clock`] held in the application state: the binary gives
//! them [`SystemClock`], tests a [`ManualClock`] they move forward, so that no timeout test sleeps.

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

/// Where the current time comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time (UTC).
    fn now(&self) -> OffsetDateTime;
}

/// The real clock: the operating system's time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until it is moved: for tests.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: OffsetDateTime) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    /// A clock starting at the real time now.
    pub fn starting_now() -> Self {
        Self::new(OffsetDateTime::now_utc())
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }

    /// Sets the clock.
    pub fn set(&self, at: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The real time plus an offset that tests move forward: time passes as usual, and a test can
/// jump over a timeout instead of sleeping through it. For tests that run a whole server, where
/// data written with the real time must stay in step with the server's clock.
#[derive(Debug, Clone, Default)]
pub struct ShiftedClock(Arc<Mutex<Duration>>);

impl ShiftedClock {
    /// A clock showing the real time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by` (cumulative).
    pub fn advance(&self, by: Duration) {
        let mut o = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *o += by;
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let c = ManualClock::new(start);
        assert_eq!(c.now(), start);
        c.advance(Duration::seconds(90));
        assert_eq!(c.now(), start + Duration::seconds(90));
        let shared: SharedClock = Arc::new(c.clone());
        c.advance(Duration::seconds(10));
        assert_eq!(shared.now(), start + Duration::seconds(100));
    }

    #[test]
    fn shifted_clock_runs_with_real_time_plus_its_offset() {
        let c = ShiftedClock::new();
        let before = OffsetDateTime::now_utc();
        assert!(c.now() >= before);
        c.advance(Duration::hours(2));
        let now = c.now();
        assert!(now >= before + Duration::hours(2));
        assert!(now < OffsetDateTime::now_utc() + Duration::hours(2) + Duration::seconds(5));
    }
}
