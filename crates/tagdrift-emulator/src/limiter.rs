//! Token-bucket rate limiting per (cloud, account, region, API group), the way both clouds meter their
//! gateways: each bucket holds up to one second of requests and refills continuously at the group's rate.
//! Time comes from the emulator clock, so a manual clock gives fully deterministic throttling in tests.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use tagdrift_core::vocab::Cloud;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last_ms: i64,
}

/// All buckets. A bucket is created full on first use.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    buckets: HashMap<(Cloud, String, String, &'static str), Bucket>,
}

impl Limiter {
    /// Takes one token for `key` at `now` under a limit of `qps` requests per second. `Err` carries how long
    /// until a token is available (the `x-acs-retry-after` / `Retry-After` hint).
    pub(crate) fn take(
        &mut self,
        key: (Cloud, &str, &str, &'static str),
        qps: f64,
        now: DateTime<Utc>,
    ) -> Result<(), Duration> {
        let capacity = qps.max(1.0);
        let now_ms = now.timestamp_millis();
        let (cloud, account, region, group) = key;
        let bucket = self
            .buckets
            .entry((cloud, account.to_owned(), region.to_owned(), group))
            .or_insert(Bucket {
                tokens: capacity,
                last_ms: now_ms,
            });
        let elapsed = (now_ms - bucket.last_ms).max(0) as f64 / 1000.0;
        bucket.tokens = (bucket.tokens + elapsed * qps).min(capacity);
        bucket.last_ms = bucket.last_ms.max(now_ms);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / qps;
            Err(Duration::from_secs_f64(wait).max(Duration::from_millis(1)))
        }
    }

    /// Forgets every bucket (all start full again).
    pub(crate) fn clear(&mut self) {
        self.buckets.clear();
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_refills() {
        let mut l = Limiter::default();
        let t0 = DateTime::parse_from_rfc3339("2025-01-02T03:04:05Z")
            .unwrap()
            .to_utc();
        let key = (Cloud::Alibaba, "acct", "cn-hangzhou", "kms_read");
        for _ in 0..50 {
            assert!(l.take(key, 50.0, t0).is_ok());
        }
        let wait = l.take(key, 50.0, t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(20));
        // Other regions and groups have their own buckets.
        assert!(
            l.take((Cloud::Alibaba, "acct", "cn-shanghai", "kms_read"), 50.0, t0)
                .is_ok()
        );
        assert!(
            l.take((Cloud::Alibaba, "acct", "cn-hangzhou", "kms_write"), 30.0, t0)
                .is_ok()
        );
        // 100 ms later five tokens are back.
        let t1 = t0 + TimeDelta::milliseconds(100);
        for _ in 0..5 {
            assert!(l.take(key, 50.0, t1).is_ok());
        }
        assert!(l.take(key, 50.0, t1).is_err());
    }
}
