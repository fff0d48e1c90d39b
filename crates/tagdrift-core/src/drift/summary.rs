//! Counts over a plan: the [`Summary`] reports print and the per-scope [`Breakdown`] metrics export.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Action, ExpiredIgnore, Plan, ResourcePlan, Status, UnknownScope};
use crate::vocab::{Cloud, ErrorCode, ResourceRef, ResourceType};

/// Totals over one plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Resources judged: declared ones plus discovered ones (scopes are not resources).
    pub total: usize,
    pub in_sync: usize,
    pub drifted: usize,
    pub missing: usize,
    pub unmanaged: usize,
    /// Resources that could not be read.
    pub unknown: usize,
    /// Scopes whose listing failed (undeclared resources there were not checked).
    pub unknown_scopes: usize,
    /// Planned tag changes by action, over all resources.
    pub tag_changes: ActionCounts,
    /// Rule violations not hidden by an ignore.
    pub violations: usize,
    /// Changes and violations hidden by active ignores.
    pub ignored: usize,
    /// Ignores whose `until` has passed.
    pub expired_ignores: usize,
}

/// Tag changes by action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ActionCounts {
    pub add: usize,
    pub change: usize,
    pub remove: usize,
}

impl ActionCounts {
    pub fn get(&self, action: Action) -> usize {
        match action {
            Action::Add => self.add,
            Action::Change => self.change,
            Action::Remove => self.remove,
        }
    }

    pub fn total(&self) -> usize {
        self.add + self.change + self.remove
    }

    fn bump(&mut self, action: Action) {
        match action {
            Action::Add => self.add += 1,
            Action::Change => self.change += 1,
            Action::Remove => self.remove += 1,
        }
    }
}

/// The overall outcome of a check, for exit codes and headlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing drifted, nothing is missing, everything was read (unmanaged resources may exist).
    NoDrift,
    /// Some resource drifted or is missing.
    Drift,
    /// No drift was found, but some resource or scope could not be read, so drift may be hiding there.
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::NoDrift => "no_drift",
            Verdict::Drift => "drift",
            Verdict::Unknown => "unknown",
        }
    }
}

impl Summary {
    pub(super) fn of(resources: &[ResourcePlan], scopes: &[UnknownScope], expired: &[ExpiredIgnore]) -> Self {
        let mut s = Summary {
            total: resources.len(),
            unknown_scopes: scopes.len(),
            expired_ignores: expired.len(),
            ..Summary::default()
        };
        for r in resources {
            *s.count_mut(r.status) += 1;
            for c in &r.changes {
                s.tag_changes.bump(c.action);
            }
            s.violations += r.violations.len();
            s.ignored += r.ignored.len();
        }
        s
    }

    /// The number of resources with `status`.
    pub fn count(&self, status: Status) -> usize {
        match status {
            Status::InSync => self.in_sync,
            Status::Drifted => self.drifted,
            Status::Missing => self.missing,
            Status::Unmanaged => self.unmanaged,
            Status::Unknown => self.unknown,
        }
    }

    fn count_mut(&mut self, status: Status) -> &mut usize {
        match status {
            Status::InSync => &mut self.in_sync,
            Status::Drifted => &mut self.drifted,
            Status::Missing => &mut self.missing,
            Status::Unmanaged => &mut self.unmanaged,
            Status::Unknown => &mut self.unknown,
        }
    }

    /// Drift wins over unknown: a drifted resource is drift whatever else could not be read. Unknown wins over
    /// no drift: a failed read must never look compliant.
    pub fn verdict(&self) -> Verdict {
        if self.drifted > 0 || self.missing > 0 {
            Verdict::Drift
        } else if self.unknown > 0 || self.unknown_scopes > 0 {
            Verdict::Unknown
        } else {
            Verdict::NoDrift
        }
    }
}

/// One account, region and resource type of one cloud: the unit of listing and of metric labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Scope {
    pub cloud: Cloud,
    pub account: String,
    pub region: String,
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
}

impl Scope {
    pub fn of(r: &ResourceRef) -> Self {
        Scope {
            cloud: r.cloud,
            account: r.account.clone(),
            region: r.region.clone(),
            resource_type: r.resource_type,
        }
    }
}

/// Counts per scope, for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Breakdown {
    pub scopes: BTreeMap<Scope, ScopeCounts>,
}

/// Counts for one scope. `resources` and `tag_changes` hold every status and action, zeros included, so a
/// metric series drops to zero instead of vanishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeCounts {
    pub resources: BTreeMap<Status, usize>,
    pub tag_changes: BTreeMap<Action, usize>,
    /// Violations not hidden by an ignore, per rule name.
    pub violations: BTreeMap<String, usize>,
    pub ignored: usize,
    /// Set when the scope's listing failed.
    pub scope_failure: Option<ErrorCode>,
}

impl Default for ScopeCounts {
    fn default() -> Self {
        ScopeCounts {
            resources: Status::ALL.into_iter().map(|s| (s, 0)).collect(),
            tag_changes: Action::ALL.into_iter().map(|a| (a, 0)).collect(),
            violations: BTreeMap::new(),
            ignored: 0,
            scope_failure: None,
        }
    }
}

impl Plan {
    /// Counts per (cloud, account, region, type): resources per status, tag changes per action, violations per
    /// rule, ignored items, and failed listings. Every scope with a resource or a failure appears.
    pub fn breakdown(&self) -> Breakdown {
        let mut scopes: BTreeMap<Scope, ScopeCounts> = BTreeMap::new();
        for r in &self.resources {
            let counts = scopes.entry(Scope::of(&r.resource)).or_default();
            *counts.resources.entry(r.status).or_default() += 1;
            for c in &r.changes {
                *counts.tag_changes.entry(c.action).or_default() += 1;
            }
            for v in &r.violations {
                *counts.violations.entry(v.rule.clone()).or_default() += 1;
            }
            counts.ignored += r.ignored.len();
        }
        for f in &self.scope_failures {
            let counts = scopes.entry(f.scope.clone()).or_default();
            counts.scope_failure.get_or_insert(f.code);
        }
        Breakdown { scopes }
    }
}
