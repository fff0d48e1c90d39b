//! Injected faults and rate-limit settings, changeable at run time (`POST /_emulator/faults`): added latency,
//! the probability of each fault kind per admitted request, how long a hang lasts, and per-group rate limits.
//! Also owns how a success body is corrupted for the "malformed" fault. Cloud-neutral: each cloud shapes its
//! own throttling and 5xx answers (see `Flavor`).

use std::collections::BTreeMap;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use tagdrift_core::config::API_GROUPS;
use tagdrift_core::vocab::Cloud;

/// The current fault and limit settings. Probabilities are per admitted cloud request and must add up to at
/// most 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// Added to every cloud request before it is handled.
    pub latency_ms: u64,
    /// A uniformly random extra delay of up to this many milliseconds on top of `latency_ms`.
    pub latency_jitter_ms: u64,
    /// Answer with the cloud's 5xx error.
    pub server_error: f64,
    /// Answer with the cloud's throttling error (independent of the rate limits).
    pub throttle: f64,
    /// Never answer; the connection is reset after `hang_ms` (or at shutdown).
    pub hang: f64,
    /// Drop the connection without a response (TCP reset).
    pub reset: f64,
    /// Answer 200 with a corrupted body (truncated JSON or a field of the wrong type).
    pub malformed: f64,
    /// How long a hung request is held before its connection is reset.
    pub hang_ms: u64,
    /// Whether per-group rate limits are enforced.
    pub rate_limits_enabled: bool,
    /// Overrides of the documented limits, `"<cloud>.<group>"` -> requests per second per account and region.
    pub rate_limits: BTreeMap<String, f64>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            latency_jitter_ms: 0,
            server_error: 0.0,
            throttle: 0.0,
            hang: 0.0,
            reset: 0.0,
            malformed: 0.0,
            hang_ms: 60_000,
            rate_limits_enabled: true,
            rate_limits: BTreeMap::new(),
        }
    }
}

/// A partial update of [`Faults`]: fields present replace the current value, absent ones are kept. In
/// `rate_limits`, a `null` value removes an override.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsPatch {
    pub latency_ms: Option<u64>,
    pub latency_jitter_ms: Option<u64>,
    pub server_error: Option<f64>,
    pub throttle: Option<f64>,
    pub hang: Option<f64>,
    pub reset: Option<f64>,
    pub malformed: Option<f64>,
    pub hang_ms: Option<u64>,
    pub rate_limits_enabled: Option<bool>,
    pub rate_limits: Option<BTreeMap<String, Option<f64>>>,
}

/// Why a fault setting was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultsError {
    #[error("fault probability {name} = {value} is out of range (expected 0.0 to 1.0)")]
    Probability { name: &'static str, value: f64 },
    #[error("fault probabilities add up to {0} (expected at most 1.0)")]
    Sum(f64),
    #[error("unknown rate-limit group '{0}' (expected <cloud>.<group>, e.g. alibaba.kms_read)")]
    UnknownGroup(String),
    #[error("rate limit {group} = {value} is invalid (expected a positive number of requests per second)")]
    Limit { group: String, value: f64 },
}

impl FaultsError {
    pub fn code(&self) -> &'static str {
        match self {
            FaultsError::Probability { .. } => "fault_probability",
            FaultsError::Sum(_) => "fault_sum",
            FaultsError::UnknownGroup(_) => "unknown_group",
            FaultsError::Limit { .. } => "invalid_limit",
        }
    }
}

/// What happens to one admitted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    ServerError,
    Throttle,
    Hang,
    Reset,
    Malformed,
}

impl Fault {
    /// The outcome label counted in the stats.
    pub fn outcome(self) -> &'static str {
        match self {
            Fault::ServerError => "fault_5xx",
            Fault::Throttle => "fault_throttle",
            Fault::Hang => "fault_hang",
            Fault::Reset => "fault_reset",
            Fault::Malformed => "fault_malformed",
        }
    }
}

/// Splits a `"<cloud>.<group>"` name into a cloud and a group known to `config::API_GROUPS`.
pub(crate) fn parse_group(name: &str) -> Option<(Cloud, &'static str)> {
    let (cloud, group) = name.split_once('.')?;
    API_GROUPS
        .iter()
        .find(|g| g.cloud.as_str() == cloud && g.name == group)
        .map(|g| (g.cloud, g.name))
}

impl Faults {
    /// Checks every probability and limit.
    pub fn validate(&self) -> Result<(), FaultsError> {
        let probabilities = [
            ("server_error", self.server_error),
            ("throttle", self.throttle),
            ("hang", self.hang),
            ("reset", self.reset),
            ("malformed", self.malformed),
        ];
        for (name, value) in probabilities {
            if !(0.0..=1.0).contains(&value) {
                return Err(FaultsError::Probability { name, value });
            }
        }
        let sum: f64 = probabilities.iter().map(|(_, v)| v).sum();
        if sum > 1.0 + 1e-9 {
            return Err(FaultsError::Sum(sum));
        }
        for (group, &value) in &self.rate_limits {
            if parse_group(group).is_none() {
                return Err(FaultsError::UnknownGroup(group.clone()));
            }
            if !(value.is_finite() && value > 0.0) {
                return Err(FaultsError::Limit {
                    group: group.clone(),
                    value,
                });
            }
        }
        Ok(())
    }

    /// Applies a patch and validates the result; on error `self` is unchanged.
    pub fn apply(&mut self, patch: FaultsPatch) -> Result<(), FaultsError> {
        let mut next = self.clone();
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = patch.$field { next.$field = v; } )* };
        }
        set!(
            latency_ms,
            latency_jitter_ms,
            server_error,
            throttle,
            hang,
            reset,
            malformed,
            hang_ms,
            rate_limits_enabled
        );
        if let Some(limits) = patch.rate_limits {
            for (group, value) in limits {
                match value {
                    Some(v) => {
                        next.rate_limits.insert(group, v);
                    }
                    None => {
                        next.rate_limits.remove(&group);
                    }
                }
            }
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// The requests per second allowed for `group` of `cloud`: the override if any, else the documented
    /// quota; `None` when unlimited (limits disabled or no such group).
    pub fn limit_for(&self, cloud: Cloud, group: &str) -> Option<f64> {
        if !self.rate_limits_enabled {
            return None;
        }
        let key = format!("{}.{group}", cloud.as_str());
        if let Some(&v) = self.rate_limits.get(&key) {
            return Some(v);
        }
        API_GROUPS
            .iter()
            .find(|g| g.cloud == cloud && g.name == group)
            .map(|g| g.documented_qps)
    }

    /// The delay to add to one request.
    pub fn latency(&self, rng: &mut impl Rng) -> Duration {
        let jitter = if self.latency_jitter_ms > 0 {
            rng.random_range(0..=self.latency_jitter_ms)
        } else {
            0
        };
        Duration::from_millis(self.latency_ms.saturating_add(jitter))
    }

    /// Draws the fault (if any) for one request.
    pub fn draw(&self, rng: &mut impl Rng) -> Option<Fault> {
        let total = self.server_error + self.throttle + self.hang + self.reset + self.malformed;
        if total <= 0.0 {
            return None;
        }
        let mut u: f64 = rng.random();
        for (p, fault) in [
            (self.reset, Fault::Reset),
            (self.hang, Fault::Hang),
            (self.server_error, Fault::ServerError),
            (self.throttle, Fault::Throttle),
            (self.malformed, Fault::Malformed),
        ] {
            if u < p {
                return Some(fault);
            }
            u -= p;
        }
        None
    }
}

/// Corrupts a JSON success body: either cuts the serialized text in the middle, or replaces one string
/// value with a number / one array with an object, so that a strict parser fails on types.
pub(crate) fn malform_json(value: &serde_json::Value, rng: &mut impl Rng) -> Vec<u8> {
    if rng.random_bool(0.5) {
        let mut altered = value.clone();
        if wrong_type(&mut altered) {
            return serde_json::to_vec(&altered).unwrap_or_default();
        }
    }
    truncate(serde_json::to_vec(value).unwrap_or_default(), rng)
}

/// Cuts a body to a strict prefix (at least one byte is removed, at least one kept when possible).
pub(crate) fn truncate(mut body: Vec<u8>, rng: &mut impl Rng) -> Vec<u8> {
    if body.len() > 1 {
        let cut = rng.random_range(1..body.len());
        body.truncate(cut);
    } else {
        body.clear();
    }
    body
}

/// Changes the type of the first array (to an object) or, failing that, the first string (to a number),
/// depth first in key order. False when the value holds neither.
fn wrong_type(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Array(_) => {
            *value = Value::Object(serde_json::Map::new());
            true
        }
        Value::String(_) => {
            *value = Value::from(12345);
            true
        }
        Value::Object(map) => {
            // Arrays first: a list turned into an object breaks every client, a string turned into a number
            // may be coerced by lenient ones.
            for v in map.values_mut() {
                if matches!(v, Value::Array(_)) || matches!(v, Value::Object(_)) && contains_array(v) {
                    return wrong_type(v);
                }
            }
            map.values_mut().any(wrong_type)
        }
        _ => false,
    }
}

fn contains_array(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Array(_) => true,
        serde_json::Value::Object(map) => map.values().any(contains_array),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use serde_json::json;

    use super::*;

    #[test]
    fn patch_merges_and_validates() {
        let mut f = Faults::default();
        f.apply(FaultsPatch {
            server_error: Some(0.25),
            rate_limits: Some(BTreeMap::from([("alibaba.kms_read".to_owned(), Some(5.0))])),
            ..FaultsPatch::default()
        })
        .unwrap();
        assert_eq!(f.server_error, 0.25);
        assert_eq!(f.limit_for(Cloud::Alibaba, "kms_read"), Some(5.0));
        assert_eq!(f.limit_for(Cloud::Alibaba, "kms_write"), Some(30.0));
        assert_eq!(f.limit_for(Cloud::Alibaba, "nope"), None);

        let bad = [
            FaultsPatch {
                hang: Some(1.5),
                ..FaultsPatch::default()
            },
            FaultsPatch {
                throttle: Some(0.9),
                ..FaultsPatch::default()
            },
            FaultsPatch {
                rate_limits: Some(BTreeMap::from([("aws.x".to_owned(), Some(1.0))])),
                ..FaultsPatch::default()
            },
            FaultsPatch {
                rate_limits: Some(BTreeMap::from([("huawei.key_tags".to_owned(), Some(0.0))])),
                ..FaultsPatch::default()
            },
        ];
        let codes: Vec<&str> = bad.into_iter().map(|p| f.apply(p).unwrap_err().code()).collect();
        assert_eq!(
            codes,
            ["fault_probability", "fault_sum", "unknown_group", "invalid_limit"]
        );
        // Failed patches leave the settings untouched.
        assert_eq!(f.server_error, 0.25);
        assert_eq!(f.hang, 0.0);

        f.apply(FaultsPatch {
            rate_limits: Some(BTreeMap::from([("alibaba.kms_read".to_owned(), None)])),
            rate_limits_enabled: Some(false),
            ..FaultsPatch::default()
        })
        .unwrap();
        assert!(f.rate_limits.is_empty());
        assert_eq!(f.limit_for(Cloud::Alibaba, "kms_read"), None);
    }

    #[test]
    fn draw_respects_certain_and_impossible_faults() {
        let mut rng = StdRng::seed_from_u64(7);
        let none = Faults::default();
        assert!((0..100).all(|_| none.draw(&mut rng).is_none()));
        for (faults, want) in [
            (
                Faults {
                    reset: 1.0,
                    ..Faults::default()
                },
                Fault::Reset,
            ),
            (
                Faults {
                    hang: 1.0,
                    ..Faults::default()
                },
                Fault::Hang,
            ),
            (
                Faults {
                    server_error: 1.0,
                    ..Faults::default()
                },
                Fault::ServerError,
            ),
            (
                Faults {
                    throttle: 1.0,
                    ..Faults::default()
                },
                Fault::Throttle,
            ),
            (
                Faults {
                    malformed: 1.0,
                    ..Faults::default()
                },
                Fault::Malformed,
            ),
        ] {
            assert!((0..50).all(|_| faults.draw(&mut rng) == Some(want)), "{want:?}");
        }
        let half = Faults {
            server_error: 0.5,
            ..Faults::default()
        };
        let hits = (0..2000).filter(|_| half.draw(&mut rng).is_some()).count();
        assert!((800..1200).contains(&hits), "{hits}");
    }

    #[test]
    fn malformed_bodies_do_not_parse_as_the_original() {
        let body = json!({"RequestId": "x", "TagResources": {"TagResource": [{"TagKey": "a"}]}});
        let mut rng = StdRng::seed_from_u64(3);
        let mut kinds = (0, 0);
        for _ in 0..64 {
            let bytes = malform_json(&body, &mut rng);
            match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Err(_) => kinds.0 += 1,
                Ok(v) => {
                    assert_ne!(v, body);
                    assert!(v["TagResources"]["TagResource"].is_object());
                    kinds.1 += 1;
                }
            }
        }
        assert!(kinds.0 > 0 && kinds.1 > 0, "{kinds:?}");
    }
}
