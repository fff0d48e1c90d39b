//! From a drift [`Plan`] to the tag writes that restore the desired state (`tagdrift apply`), and from what the
//! writes and a second read returned to the verdict on each resource.
//!
//! Pure, like the engine: [`select`] picks what may be written (drifted, declared resources within the
//! `--target` selectors; their `+ ~ -` changes and nothing else), [`batch`] groups the changes into the fewest
//! calls the clouds' APIs allow without ever mixing resources whose changes differ, and [`verify`] judges each
//! written resource against a fresh plan. [`Streaks`] decides what the daemon's self-healing may write after a
//! check. The cloud crate sends the batches; the binary orchestrates.
//!
//! [`saved`] turns a [`WritePlan`] into a plan file (`check --save-plan`) and back (`apply --plan`), and
//! skips as `stale` a resource whose tags changed since the plan was saved.

mod batch;
mod heal;
mod outcome;
pub mod saved;
mod target;
#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::drift::{Action, Plan, ResourcePlan, Status, TagChange, Violation};
use crate::vocab::{ReadError, ResourceRef, Tags, Untaggable};

pub use batch::{Batch, Member, Op, batch, limits};
pub use heal::{Blocked, Decision, Streaks};
pub use outcome::{Applied, ApplyStatus, ApplySummary, FORMAT_VERSION, ResourceResult, WriteFailure, verify};
pub use target::{TargetError, parse_target};

/// What `apply` will write and what it leaves alone, in plan order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WritePlan {
    /// Resources with changes to write.
    pub targets: Vec<Target>,
    /// Resources within the selectors that are not in sync and are not (fully) written, with the reason.
    pub skipped: Vec<Skip>,
}

impl WritePlan {
    /// Tag changes to write (each `+`, `~` and `-` counts once): what `--max-changes` bounds.
    pub fn change_count(&self) -> usize {
        self.targets.iter().map(|t| t.changes.len()).sum()
    }

    /// Refuses a plan with more tag changes than `max`.
    pub fn check_limit(&self, max: usize) -> Result<(), LimitError> {
        let changes = self.change_count();
        if changes > max {
            return Err(LimitError { changes, max });
        }
        Ok(())
    }
}

/// `--max-changes` refused the plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the plan holds {changes} tag changes, more than --max-changes {max}; nothing was written")]
pub struct LimitError {
    pub changes: usize,
    pub max: usize,
}

/// One resource to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub resource: ResourceRef,
    /// The cloud's id when it differs from `resource.id` (a Huawei secret's UUID): what the write API takes.
    pub native_id: Option<String>,
    /// The plan's `+ ~ -` changes, ordered by key, each with its `before` value.
    pub changes: Vec<TagChange>,
    /// Rule violations that need a value the desired state does not give; left alone.
    pub needs_value: Vec<Violation>,
}

impl Target {
    /// The tags to create or overwrite: every add and change, with its new value.
    pub fn set(&self) -> Tags {
        self.changes
            .iter()
            .filter(|c| c.action != Action::Remove)
            .filter_map(|c| Some((c.key.clone(), c.after.clone()?)))
            .collect()
    }

    /// The keys to remove, sorted.
    pub fn unset(&self) -> Vec<String> {
        self.changes
            .iter()
            .filter(|c| c.action == Action::Remove)
            .map(|c| c.key.clone())
            .collect()
    }
}

/// A resource `apply` does not write, or writes only in part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skip {
    pub resource: ResourceRef,
    #[serde(flatten)]
    pub reason: SkipReason,
}

/// Why a resource is not written. Serialized flat as `"reason": "...", ...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// The read failed: what it holds is unknown, so nothing is written blind.
    Unknown { error: ReadError },
    /// Declared but the cloud says it does not exist; tagdrift never creates keys or secrets.
    Missing,
    /// The cloud refuses tags on it (`cause`: pending deletion, a Huawei default master key).
    Untaggable { cause: Untaggable },
    /// Found by discovery, not declared: only declared resources are written.
    Unmanaged,
    /// Rule violations only need values the desired state does not give (a required key, an allowed value).
    NeedsValue { violations: Vec<Violation> },
    /// A saved plan's resource whose tags changed after the plan was saved (`keys` differ now): never
    /// overwrite a change made after the plan.
    Stale { keys: Vec<String> },
}

impl SkipReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            SkipReason::Unknown { .. } => "unknown",
            SkipReason::Missing => "missing",
            SkipReason::Untaggable { .. } => "untaggable",
            SkipReason::Unmanaged => "unmanaged",
            SkipReason::NeedsValue { .. } => "needs_value",
            SkipReason::Stale { .. } => "stale",
        }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            SkipReason::Unknown { error } => format!("could not be read ({}): {}", error.code, error.message),
            SkipReason::Missing => "does not exist in the cloud; tagdrift never creates resources".to_owned(),
            SkipReason::Untaggable { cause } => format!("cannot carry tags ({})", cause.describe()),
            SkipReason::Unmanaged => "not declared in the desired state (found by discovery)".to_owned(),
            SkipReason::NeedsValue { violations } => {
                let keys: Vec<String> = violations
                    .iter()
                    .map(|v| format!("{} ({}: {})", v.key, v.rule, v.kind.as_str()))
                    .collect();
                format!(
                    "needs a value the desired state does not give: {}",
                    keys.join(", ")
                )
            }
            SkipReason::Stale { keys } => format!(
                "stale: its tags changed since the plan was saved ({}); not written, save a new plan",
                keys.join(", ")
            ),
        }
    }
}

/// Picks what `apply` writes from `plan`: the changes of declared, drifted resources that match any of
/// `targets` (all resources when `targets` is empty). Everything else not in sync within the targets is
/// listed in [`WritePlan::skipped`].
///
/// The plan's changes already leave out system tags, ignored keys and the extra tags of a resource with
/// `allow_extra_tags` (the engine never plans them), so nothing here filters keys again.
pub fn select(plan: &Plan, targets: &[crate::config::Selector]) -> WritePlan {
    let mut out = WritePlan {
        targets: Vec::new(),
        skipped: Vec::new(),
    };
    let wanted = |r: &ResourcePlan| {
        targets.is_empty() || targets.iter().any(|s| s.matches(&r.resource, r.alias.as_deref()))
    };
    for r in plan.not_in_sync().filter(|r| wanted(r)) {
        let skip = |reason| Skip {
            resource: r.resource.clone(),
            reason,
        };
        match r.status {
            Status::Unknown => out.skipped.push(skip(SkipReason::Unknown {
                error: r
                    .error
                    .clone()
                    .unwrap_or_else(|| ReadError::new(crate::vocab::ErrorCode::Other, "not read")),
            })),
            Status::Missing => out.skipped.push(skip(match r.reason {
                Some(cause) => SkipReason::Untaggable { cause },
                None => SkipReason::Missing,
            })),
            Status::Unmanaged => out.skipped.push(skip(SkipReason::Unmanaged)),
            Status::Drifted | Status::InSync if !r.managed => out.skipped.push(skip(SkipReason::Unmanaged)),
            Status::Drifted | Status::InSync => {
                if !r.violations.is_empty() {
                    out.skipped.push(skip(SkipReason::NeedsValue {
                        violations: r.violations.clone(),
                    }));
                }
                if !r.changes.is_empty() {
                    out.targets.push(Target {
                        resource: r.resource.clone(),
                        native_id: r.native_id.clone(),
                        changes: r.changes.clone(),
                        needs_value: r.violations.clone(),
                    });
                }
            }
        }
    }
    out
}
