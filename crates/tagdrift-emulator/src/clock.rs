//! The emulator's notion of "now": the system clock for real runs, a manual clock tests set and advance
//! (in process, or in `tagdrift emulate --manual-clock` through `POST /_emulator/clock`). Signature timestamp
//! checks, nonce expiry, token and credential expiry and the rate limiter all read it, so a test can replay a
//! documented request at the documented instant. Sleeps (latency, hangs) are real time.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};

/// A source of the current UTC time.
#[derive(Debug, Clone)]
pub enum Clock {
    /// Wall-clock time at start plus monotonic elapsed time, so the rate limiter never sees time go back.
    System { base_utc: DateTime<Utc>, base: Instant },
    /// A fixed instant that only moves when told to.
    Manual(Arc<Mutex<DateTime<Utc>>>),
}

/// Why a clock could not be moved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error("the emulator runs on the system clock (start it with --manual-clock to move time)")]
    SystemClock,
    #[error("moving the clock by {ms} ms from {from} leaves the representable range")]
    OutOfRange { from: DateTime<Utc>, ms: i64 },
}

impl ClockError {
    pub fn code(&self) -> &'static str {
        match self {
            ClockError::SystemClock => "system_clock",
            ClockError::OutOfRange { .. } => "clock_out_of_range",
        }
    }
}

impl Clock {
    pub fn system() -> Clock {
        Clock::System {
            base_utc: Utc::now(),
            base: Instant::now(),
        }
    }

    pub fn manual(at: DateTime<Utc>) -> Clock {
        Clock::Manual(Arc::new(Mutex::new(at)))
    }

    pub fn is_manual(&self) -> bool {
        matches!(self, Clock::Manual(_))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System { base_utc, base } => {
                let elapsed = TimeDelta::from_std(base.elapsed()).unwrap_or(TimeDelta::zero());
                *base_utc + elapsed
            }
            Clock::Manual(at) => *at.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Moves a manual clock to `at`; ignored by the system clock.
    pub fn set(&self, at: DateTime<Utc>) {
        let _ = self.try_set(at);
    }

    /// Moves a manual clock forward by `by` (back when negative); ignored by the system clock.
    pub fn advance(&self, by: TimeDelta) {
        if let Clock::Manual(cell) = self {
            let mut at = cell.lock().unwrap_or_else(PoisonError::into_inner);
            *at += by;
        }
    }

    /// Moves a manual clock to `at` and returns it; the system clock refuses.
    pub fn try_set(&self, at: DateTime<Utc>) -> Result<DateTime<Utc>, ClockError> {
        let Clock::Manual(cell) = self else {
            return Err(ClockError::SystemClock);
        };
        *cell.lock().unwrap_or_else(PoisonError::into_inner) = at;
        Ok(at)
    }

    /// Moves a manual clock by `ms` milliseconds (back when negative) and returns the new time; the system
    /// clock refuses, and so does a move past the range of dates (nothing changes then).
    pub fn try_advance_ms(&self, ms: i64) -> Result<DateTime<Utc>, ClockError> {
        let Clock::Manual(cell) = self else {
            return Err(ClockError::SystemClock);
        };
        let mut at = cell.lock().unwrap_or_else(PoisonError::into_inner);
        let moved = TimeDelta::try_milliseconds(ms)
            .and_then(|by| at.checked_add_signed(by))
            .ok_or(ClockError::OutOfRange { from: *at, ms })?;
        *at = moved;
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = Clock::manual(t("2025-01-02T03:04:05Z"));
        assert!(clock.is_manual());
        assert_eq!(clock.now(), t("2025-01-02T03:04:05Z"));
        assert_eq!(clock.try_advance_ms(1_500), Ok(t("2025-01-02T03:04:06.5Z")));
        assert_eq!(clock.try_advance_ms(-86_400_000), Ok(t("2025-01-01T03:04:06.5Z")));
        assert_eq!(
            clock.try_set(t("2030-06-01T00:00:00Z")),
            Ok(t("2030-06-01T00:00:00Z"))
        );
        assert_eq!(clock.now(), t("2030-06-01T00:00:00Z"));
        let err = clock.try_advance_ms(i64::MAX).unwrap_err();
        assert_eq!(err.code(), "clock_out_of_range");
        assert_eq!(
            clock.now(),
            t("2030-06-01T00:00:00Z"),
            "a refused move changes nothing"
        );
    }

    #[test]
    fn system_clock_refuses_to_move() {
        let clock = Clock::system();
        assert!(!clock.is_manual());
        let before = clock.now();
        assert_eq!(clock.try_advance_ms(3_600_000), Err(ClockError::SystemClock));
        assert_eq!(
            clock.try_set(t("2000-01-01T00:00:00Z")).map_err(|e| e.code()),
            Err("system_clock")
        );
        let after = clock.now();
        assert!(after >= before && after - before < TimeDelta::minutes(1));
    }
}
