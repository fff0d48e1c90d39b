//! Saved plans: `tagdrift check --save-plan FILE` writes the writes it would make as a versioned JSON document,
//! and `tagdrift apply --plan FILE` writes exactly those, once the plan passed its checks and each resource was
//! read again and still carries the tags the plan saw.
//!
//! Pure: the caller reads and writes the file, computes the desired-state file's SHA-256 and passes `now`.
//!
//! `before` holds every tag the plan saw **except system tags** (`ignores.system_tags`; a system key the
//! desired state itself names is kept, as the engine keeps it). System tags belong to the cloud, may change on
//! their own and are never written, so a change to one must not make a plan stale; any other change, even to an
//! ignored key or an allowed extra tag, does, because a person or another tool made it after the plan.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Skip, SkipReason, Target, WritePlan};
use crate::config::{DesiredState, Selector};
use crate::drift::TagChange;
use crate::vocab::{Cloud, Observations, Outcome, ResourceRef, ResourceType, Tags};

/// The saved plan's `format_version`. Only versions in [`READABLE_VERSIONS`] are applied: a plan is an order
/// to write, so a field this build does not know could change its meaning.
pub const PLAN_FORMAT_VERSION: &str = "1.0";

/// The plan format versions this build applies.
pub const READABLE_VERSIONS: &[&str] = &[PLAN_FORMAT_VERSION];

/// The default `--max-plan-age`.
pub const DEFAULT_MAX_PLAN_AGE: Duration = Duration::from_secs(3600);

/// How far in the future a plan's `created` may lie (clocks of two machines differ a little).
const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// A saved plan. Unknown fields are refused: the file is an order to write, and a misspelt field must not be
/// silently dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPlan {
    pub format_version: String,
    /// When the plan was made (the end of its read), UTC.
    pub created: DateTime<Utc>,
    /// The tagdrift version that made it.
    pub tagdrift_version: String,
    pub desired_state: DesiredFile,
    /// The resources to write, in plan order.
    pub resources: Vec<SavedResource>,
}

/// The desired-state file a plan was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredFile {
    /// The path as given to `check` (for people; only the checksum is compared).
    pub path: String,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
}

/// One resource of a saved plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedResource {
    /// `cloud.account.region.type["id"]`, for people (the fields below are what is used).
    pub address: String,
    pub cloud: Cloud,
    pub account: String,
    pub region: String,
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    pub id: String,
    /// The cloud's own id when it differs from `id` (a Huawei secret's UUID).
    pub native_id: Option<String>,
    /// The key alias the cloud reported, so `--target name=alias/...` selects as it does without a plan.
    pub alias: Option<String>,
    /// The tags the plan saw, system tags left out (see the module docs).
    pub before: Tags,
    /// The `+ ~ -` changes to write, ordered by key.
    pub changes: Vec<TagChange>,
}

impl SavedResource {
    pub fn resource(&self) -> ResourceRef {
        ResourceRef {
            cloud: self.cloud,
            account: self.account.clone(),
            region: self.region.clone(),
            resource_type: self.resource_type,
            id: self.id.clone(),
        }
    }
}

/// Why a plan file is not applied. The caller names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("line {line}, column {column}: {message}")]
    Malformed {
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "unknown format_version '{version}' (this tagdrift applies {})",
        READABLE_VERSIONS.join(", ")
    )]
    UnknownVersion { version: String },
    #[error(
        "made from another desired-state file: the plan records sha256 {planned} (of {path}), the file now has \
         {actual}; save a new plan"
    )]
    OtherDesiredState {
        path: String,
        planned: String,
        actual: String,
    },
    #[error(
        "too old: created {created}, {} ago, more than --max-plan-age {}; save a new plan",
        format_duration(*age),
        format_duration(*max)
    )]
    TooOld {
        created: DateTime<Utc>,
        age: Duration,
        max: Duration,
    },
    #[error("created {created}, in the future (this machine's clock says {now}); save a new plan")]
    FromTheFuture {
        created: DateTime<Utc>,
        now: DateTime<Utc>,
    },
}

/// Builds the saved plan of `write` from the observations it was planned from. `sha256` is the desired-state
/// file's checksum, `path` its name.
pub fn save(
    write: &WritePlan,
    state: &DesiredState,
    observed: &Observations,
    desired_state: DesiredFile,
    created: DateTime<Utc>,
    tagdrift_version: &str,
) -> SavedPlan {
    let resources = write
        .targets
        .iter()
        .map(|t| {
            let seen = observed.resources.iter().find(|o| o.resource == t.resource);
            let before = match seen.map(|o| &o.outcome) {
                Some(Outcome::Found(tags)) => user_tags(state, t, tags),
                // A target was read (it drifted), so this is unreachable; an empty `before` would only make
                // the plan stale, never write blind.
                _ => Tags::new(),
            };
            let r = &t.resource;
            SavedResource {
                address: r.address(),
                cloud: r.cloud,
                account: r.account.clone(),
                region: r.region.clone(),
                resource_type: r.resource_type,
                id: r.id.clone(),
                native_id: t.native_id.clone(),
                alias: seen.and_then(|o| o.alias.clone()),
                before,
                changes: t.changes.clone(),
            }
        })
        .collect();
    SavedPlan {
        format_version: PLAN_FORMAT_VERSION.to_owned(),
        created,
        tagdrift_version: tagdrift_version.to_owned(),
        desired_state,
        resources,
    }
}

/// `tags` without the system tags of the target's cloud, except the keys the target changes.
fn user_tags(state: &DesiredState, target: &Target, tags: &Tags) -> Tags {
    let system = state.ignores.system_tags.get(&target.resource.cloud);
    let named: BTreeSet<&str> = target.changes.iter().map(|c| c.key.as_str()).collect();
    tags.iter()
        .filter(|(k, _)| {
            named.contains(k.as_str()) || !system.is_some_and(|globs| globs.iter().any(|g| g.is_match(k)))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Parses a plan file. The format version is checked first, so a plan of a newer format is refused as such
/// rather than as malformed.
pub fn parse(text: &str) -> Result<SavedPlan, PlanError> {
    let malformed = |e: serde_json::Error| {
        let full = e.to_string();
        // serde_json ends its message with the place, which the error shows first.
        let place = format!(" at line {} column {}", e.line(), e.column());
        PlanError::Malformed {
            line: e.line(),
            column: e.column(),
            message: full.strip_suffix(&place).unwrap_or(&full).to_owned(),
        }
    };
    #[derive(Deserialize)]
    struct Probe {
        format_version: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_str(text).map_err(malformed)?;
    match probe.format_version {
        Some(serde_json::Value::String(v)) if READABLE_VERSIONS.contains(&v.as_str()) => {}
        Some(serde_json::Value::String(version)) => return Err(PlanError::UnknownVersion { version }),
        Some(other) => {
            return Err(PlanError::UnknownVersion {
                version: other.to_string(),
            });
        }
        None => {
            return Err(PlanError::Malformed {
                line: 1,
                column: 1,
                message: "missing field `format_version`".to_owned(),
            });
        }
    }
    serde_json::from_str(text).map_err(malformed)
}

impl SavedPlan {
    /// Refuses a plan made from another desired-state file (`sha256` is the file's checksum now) or older than
    /// `max_age` at `now`.
    pub fn check(&self, sha256: &str, now: DateTime<Utc>, max_age: Duration) -> Result<(), PlanError> {
        if !self.desired_state.sha256.eq_ignore_ascii_case(sha256) {
            return Err(PlanError::OtherDesiredState {
                path: self.desired_state.path.clone(),
                planned: self.desired_state.sha256.clone(),
                actual: sha256.to_owned(),
            });
        }
        match (now - self.created).to_std() {
            Ok(age) if age > max_age => Err(PlanError::TooOld {
                created: self.created,
                age: Duration::from_secs(age.as_secs()),
                max: max_age,
            }),
            Ok(_) => Ok(()),
            Err(_)
                if (self.created - now)
                    .to_std()
                    .is_ok_and(|ahead| ahead > CLOCK_SKEW) =>
            {
                Err(PlanError::FromTheFuture {
                    created: self.created,
                    now,
                })
            }
            Err(_) => Ok(()),
        }
    }

    /// The plan's writes within `targets` (all when empty), as apply sends them.
    pub fn write_plan(&self, targets: &[Selector]) -> WritePlan {
        let targets = self
            .resources
            .iter()
            .filter(|r| {
                targets.is_empty()
                    || targets
                        .iter()
                        .any(|s| s.matches(&r.resource(), r.alias.as_deref()))
            })
            .map(|r| Target {
                resource: r.resource(),
                native_id: r.native_id.clone(),
                changes: r.changes.clone(),
                needs_value: Vec::new(),
            })
            .collect();
        WritePlan {
            targets,
            skipped: Vec::new(),
        }
    }

    /// Keeps the targets of `write` whose fresh read (`fresh`) still shows the tags the plan saw; the others
    /// move to `skipped`: `stale` (tags changed since the plan), `unknown` (cannot be read now) or `missing`.
    pub fn confirm(&self, state: &DesiredState, mut write: WritePlan, fresh: &Observations) -> WritePlan {
        let targets = std::mem::take(&mut write.targets);
        for t in targets {
            let saved = self.resources.iter().find(|r| r.resource() == t.resource);
            let seen = fresh.resources.iter().find(|o| o.resource == t.resource);
            let reason = match (saved, seen.map(|o| &o.outcome)) {
                (_, None) => Some(SkipReason::Unknown {
                    error: crate::vocab::ReadError::new(
                        crate::vocab::ErrorCode::Other,
                        "not read again before the write",
                    ),
                }),
                (_, Some(Outcome::Failed(error))) => Some(SkipReason::Unknown { error: error.clone() }),
                (_, Some(Outcome::NotFound)) => Some(SkipReason::Missing),
                (_, Some(Outcome::Untaggable { reason, .. })) => {
                    Some(SkipReason::Untaggable { cause: *reason })
                }
                (None, Some(Outcome::Found(_))) => Some(SkipReason::Stale { keys: Vec::new() }),
                (Some(saved), Some(Outcome::Found(tags))) => {
                    let now = user_tags(state, &t, tags);
                    let keys = differing_keys(&saved.before, &now);
                    (!keys.is_empty()).then_some(SkipReason::Stale { keys })
                }
            };
            match reason {
                Some(reason) => write.skipped.push(Skip {
                    resource: t.resource,
                    reason,
                }),
                None => write.targets.push(t),
            }
        }
        write
    }

    /// The plan as people read it: one block per resource with its `+ ~ -` lines, then a count.
    pub fn text(&self, write: &WritePlan) -> String {
        use std::fmt::Write as _;
        let mut out = format!(
            "Saved plan of {} (created {}, tagdrift {}):\n",
            crate::report::visible(&self.desired_state.path),
            self.created.format("%Y-%m-%d %H:%M:%S UTC"),
            crate::report::visible(&self.tagdrift_version)
        );
        for t in &write.targets {
            let _ = writeln!(out, "\n  {}", crate::report::visible(&t.resource.address()));
            for c in &t.changes {
                let show = |v: &Option<String>| {
                    v.as_deref().map_or_else(
                        || "null".to_owned(),
                        |v| format!("{:?}", crate::report::visible(v)),
                    )
                };
                let _ = writeln!(
                    out,
                    "    {} {:?} = {} -> {}",
                    c.action.symbol(),
                    crate::report::visible(&c.key),
                    show(&c.before),
                    show(&c.after)
                );
            }
        }
        out
    }
}

/// Keys whose presence or value differs between `a` and `b`, sorted.
fn differing_keys(a: &Tags, b: &Tags) -> Vec<String> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// Parses a duration such as `90s`, `15m`, `1h`, `1h30m` or `2d` (units `s`, `m`, `h`, `d`; a bare number is
/// seconds).
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let bad = || DurationError {
        text: text.to_owned(),
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = trimmed.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in trimmed.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// A `--max-plan-age` that is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration '{text}' (expected e.g. 30m, 1h, 1h30m or 2d)")]
pub struct DurationError {
    pub text: String,
}

/// `3725s` as `1h2m5s`.
pub fn format_duration(d: Duration) -> String {
    let mut s = d.as_secs();
    if s == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, name) in [(86_400, 'd'), (3600, 'h'), (60, 'm'), (1, 's')] {
        if s >= unit {
            out.push_str(&format!("{}{name}", s / unit));
            s %= unit;
        }
    }
    out
}

#[cfg(test)]
mod tests;
