//! How long to wait before a retry: exponential backoff with full jitter (a uniform draw between zero and the
//! exponential ceiling, so clients that failed together do not retry together), a larger base for
//! throttling, and the server's own `retry after` hint when it gives one.

use std::time::Duration;

use rand::Rng;

/// Backoff parameters. The ceiling before retry `n` (1-based) is `min(cap, base × 2^(n-1))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Base for 5xx, timeouts and dropped connections.
    pub base: Duration,
    /// Base for throttling answers, which need the quota window to pass.
    pub throttle_base: Duration,
    /// Upper bound of any single wait, the server's hint included.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            base: Duration::from_millis(200),
            throttle_base: Duration::from_secs(1),
            cap: Duration::from_secs(20),
        }
    }
}

impl Backoff {
    /// The exponential ceiling before retry number `retry` (1 = the first retry).
    pub fn ceiling(&self, retry: u32, throttled: bool) -> Duration {
        let base = if throttled { self.throttle_base } else { self.base };
        let factor = 1u32 << retry.saturating_sub(1).min(20);
        base.saturating_mul(factor).min(self.cap)
    }

    /// The wait before retry number `retry`. With a server hint (`x-acs-retry-after`, `Retry-After`) the wait
    /// is the hint plus a full-jitter draw over the base, so the retry lands after the hint but callers told
    /// the same hint spread out; without one it is a full-jitter draw over [`ceiling`](Backoff::ceiling).
    /// Never more than `cap`.
    pub fn delay(
        &self,
        retry: u32,
        throttled: bool,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Duration {
        let jitter = |ceiling: Duration, rng: &mut dyn rand::RngCore| {
            let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
            Duration::from_nanos(rng.random_range(0..=nanos))
        };
        match retry_after {
            Some(hint) => {
                let base = if throttled { self.throttle_base } else { self.base };
                hint.saturating_add(jitter(base, rng)).min(self.cap)
            }
            None => jitter(self.ceiling(retry, throttled), rng),
        }
    }
}

/// Parses the server's hint: Alibaba's `x-acs-retry-after` is milliseconds; the standard `Retry-After` (Huawei's
/// gateway on 429) is seconds. Only positive integers count (HTTP dates are not worth honouring here).
pub(super) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|n| *n > 0)
    };
    number("x-acs-retry-after")
        .map(Duration::from_millis)
        .or_else(|| number("retry-after").map(Duration::from_secs))
}
