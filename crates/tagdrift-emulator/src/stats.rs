//! Call counters: how many requests each cloud's APIs received, by outcome (`ok`, an error code, or a fault
//! label). Read at `GET /_emulator/stats`, cleared at `POST /_emulator/reset-stats`, logged at shutdown, so
//! tests and benchmarks can count API calls.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Counters since `since`.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    since: DateTime<Utc>,
    /// cloud label -> API -> outcome -> count.
    counts: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>,
}

/// The JSON served at `/_emulator/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StatsSnapshot {
    pub since: DateTime<Utc>,
    pub total: u64,
    pub clouds: BTreeMap<String, CloudStats>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CloudStats {
    pub total: u64,
    pub apis: BTreeMap<String, ApiStats>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ApiStats {
    pub total: u64,
    pub outcomes: BTreeMap<String, u64>,
}

impl StatsSnapshot {
    /// Calls of `api` in `cloud` (all outcomes).
    pub fn calls(&self, cloud: &str, api: &str) -> u64 {
        self.clouds
            .get(cloud)
            .and_then(|c| c.apis.get(api))
            .map_or(0, |a| a.total)
    }

    /// Calls of `api` in `cloud` that ended with `outcome`.
    pub fn outcome(&self, cloud: &str, api: &str, outcome: &str) -> u64 {
        self.clouds
            .get(cloud)
            .and_then(|c| c.apis.get(api))
            .and_then(|a| a.outcomes.get(outcome))
            .copied()
            .unwrap_or(0)
    }
}

impl Stats {
    pub(crate) fn new(since: DateTime<Utc>) -> Stats {
        Stats {
            since,
            counts: BTreeMap::new(),
        }
    }

    pub(crate) fn record(&mut self, cloud: &str, api: &str, outcome: &str) {
        // Look up before inserting so the common case allocates nothing.
        if let Some(n) = self
            .counts
            .get_mut(cloud)
            .and_then(|c| c.get_mut(api))
            .and_then(|a| a.get_mut(outcome))
        {
            *n += 1;
            return;
        }
        *self
            .counts
            .entry(cloud.to_owned())
            .or_default()
            .entry(api.to_owned())
            .or_default()
            .entry(outcome.to_owned())
            .or_default() += 1;
    }

    pub(crate) fn reset(&mut self, since: DateTime<Utc>) {
        self.since = since;
        self.counts.clear();
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let mut clouds = BTreeMap::new();
        let mut total = 0;
        for (cloud, apis) in &self.counts {
            let mut cloud_stats = CloudStats {
                total: 0,
                apis: BTreeMap::new(),
            };
            for (api, outcomes) in apis {
                let api_total: u64 = outcomes.values().sum();
                cloud_stats.total += api_total;
                cloud_stats.apis.insert(
                    api.clone(),
                    ApiStats {
                        total: api_total,
                        outcomes: outcomes.clone(),
                    },
                );
            }
            total += cloud_stats.total;
            clouds.insert(cloud.clone(), cloud_stats);
        }
        StatsSnapshot {
            since: self.since,
            total,
            clouds,
        }
    }

    /// One line per (cloud, API): `alibaba ListTagResources 12 (ok=10, Rejected.Throttling=2)`.
    pub(crate) fn summary_lines(&self) -> Vec<String> {
        let snap = self.snapshot();
        let mut lines = Vec::new();
        for (cloud, c) in &snap.clouds {
            for (api, a) in &c.apis {
                let outcomes: Vec<String> = a.outcomes.iter().map(|(o, n)| format!("{o}={n}")).collect();
                lines.push(format!("{cloud} {api} {} ({})", a.total, outcomes.join(", ")));
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_roll_up() {
        let t = DateTime::UNIX_EPOCH;
        let mut s = Stats::new(t);
        s.record("alibaba", "ListKeys", "ok");
        s.record("alibaba", "ListKeys", "ok");
        s.record("alibaba", "ListKeys", "Rejected.Throttling");
        s.record("huawei", "ShowKmsTags", "ok");
        let snap = s.snapshot();
        assert_eq!(snap.total, 4);
        assert_eq!(snap.calls("alibaba", "ListKeys"), 3);
        assert_eq!(snap.outcome("alibaba", "ListKeys", "Rejected.Throttling"), 1);
        assert_eq!(snap.clouds["huawei"].total, 1);
        assert_eq!(
            s.summary_lines(),
            [
                "alibaba ListKeys 3 (Rejected.Throttling=1, ok=2)",
                "huawei ShowKmsTags 1 (ok=1)"
            ]
        );
        s.reset(t);
        assert_eq!(s.snapshot().total, 0);
    }
}
