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
/// data written with the real time must stay in step with the server's clock. A test whose
/// outcome must not depend on how fast the machine is can [`ShiftedClock::freeze`] it.
#[derive(Debug, Clone, Default)]
pub struct ShiftedClock(Arc<Mutex<Shift>>);

#[derive(Debug, Default)]
struct Shift {
    offset: Duration,
    frozen: Option<OffsetDateTime>,
}

impl ShiftedClock {
    /// A clock showing the real time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by` (cumulative).
    pub fn advance(&self, by: Duration) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        s.offset += by;
        if let Some(t) = s.frozen.as_mut() {
            *t += by;
        }
    }

    /// Stops the clock where it is: from now on it moves only when advanced.
    pub fn freeze(&self) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if s.frozen.is_none() {
            s.frozen = Some(OffsetDateTime::now_utc() + s.offset);
        }
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> OffsetDateTime {
        let s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        s.frozen
            .unwrap_or_else(|| OffsetDateTime::now_utc() + s.offset)
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
        c.freeze();
        let frozen = c.now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(c.now(), frozen, "a frozen clock stands still");
        c.advance(Duration::seconds(1));
        assert_eq!(c.now(), frozen + Duration::seconds(1));
    }
}
