//! The emulator's notion of "now": the system clock for real runs, a manual clock tests set and advance.
//! Signature timestamp checks, nonce expiry, token and credential expiry and the rate limiter all read it, so
//! a test can replay a documented request at the documented instant. Sleeps (latency, hangs) are real time.

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
        if let Clock::Manual(cell) = self {
            *cell.lock().unwrap_or_else(PoisonError::into_inner) = at;
        }
    }

    /// Moves a manual clock forward by `by`; ignored by the system clock.
    pub fn advance(&self, by: TimeDelta) {
        if let Clock::Manual(cell) = self {
            let mut at = cell.lock().unwrap_or_else(PoisonError::into_inner);
            *at += by;
        }
    }
}
