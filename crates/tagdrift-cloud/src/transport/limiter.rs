//! Client-side token buckets, one per (cloud, account, region, API group), so tagdrift stays under the
//! clouds' per-account quotas instead of discovering them through throttling errors. A bucket holds one
//! second's worth of tokens (the burst the clouds tolerate) and refills at the configured rate. Callers that
//! find it empty reserve a token in the future and sleep until then, so waiters are served in arrival order
//! and the rate holds under any concurrency. Time is tokio's, so tests run it with paused time.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tokio::time::{Duration, Instant};

use crate::Cloud;
use tagdrift_core::config::default_rate_limit;

type BucketKey = (Cloud, String, String, &'static str);

#[derive(Default)]
pub(super) struct Limiter {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// `rate_limits` of each configured account.
    overrides: HashMap<(Cloud, String), BTreeMap<String, f64>>,
    buckets: HashMap<BucketKey, Arc<Mutex<Bucket>>>,
}

struct Bucket {
    rate: f64,
    /// May go negative: tokens reserved by callers now sleeping.
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64) -> Bucket {
        Bucket {
            rate,
            tokens: capacity(rate),
            last: Instant::now(),
        }
    }

    /// Takes a token and returns how long the caller must wait for it.
    fn reserve(&mut self) -> Duration {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(capacity(self.rate));
        self.last = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// One second of burst, at least one token.
fn capacity(rate: f64) -> f64 {
    rate.max(1.0)
}

impl State {
    fn rate(&self, cloud: Cloud, account: &str, group: &str) -> Option<f64> {
        self.overrides
            .get(&(cloud, account.to_owned()))
            .and_then(|rates| rates.get(group).copied())
            .or_else(|| default_rate_limit(cloud, group))
            .filter(|rate| rate.is_finite() && *rate > 0.0)
    }
}

impl Limiter {
    pub(super) fn configure(&self, cloud: Cloud, account: &str, rates: &BTreeMap<String, f64>) {
        let mut state = self.state.lock().expect("limiter lock");
        state.overrides.insert((cloud, account.to_owned()), rates.clone());
        let keys: Vec<BucketKey> = state
            .buckets
            .keys()
            .filter(|(c, a, _, _)| *c == cloud && a == account)
            .cloned()
            .collect();
        for key in keys {
            let rate = state.rate(cloud, account, key.3);
            match rate {
                Some(rate) => {
                    let bucket = &state.buckets[&key];
                    let mut bucket = bucket.lock().expect("bucket lock");
                    bucket.rate = rate;
                    bucket.tokens = bucket.tokens.min(capacity(rate));
                }
                None => {
                    state.buckets.remove(&key);
                }
            }
        }
    }

    /// Waits until a request of `group` may go to `account`/`region`. Groups without a known rate pass.
    pub(super) async fn acquire(&self, cloud: Cloud, account: &str, region: &str, group: &'static str) {
        let wait = {
            let mut state = self.state.lock().expect("limiter lock");
            let Some(rate) = state.rate(cloud, account, group) else {
                return;
            };
            let bucket = state
                .buckets
                .entry((cloud, account.to_owned(), region.to_owned(), group))
                .or_insert_with(|| Arc::new(Mutex::new(Bucket::new(rate))))
                .clone();
            drop(state);
            bucket.lock().expect("bucket lock").reserve()
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}
