//! The drift engine: compares the validated [`DesiredState`] with what the clients observed and returns a
//! [`Plan`], the change that would restore the desired state plus everything that could not be judged.
//!
//! The engine is pure: no I/O, no clock, no logging. The one date it needs (to tell live ignores from expired
//! ones) is passed in, so the same inputs always give the same plan, in the same order (cloud, account, region,
//! type, id). Reports, metrics and the HTTP surface consume the plan; they never re-derive drift themselves.

mod evaluate;
mod select;
mod summary;

// Builders for tests here and in the crates above (feature `fixtures`); not part of the API.
#[cfg(any(test, feature = "fixtures"))]
#[doc(hidden)]
pub mod fixtures;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::config::{DesiredState, Ignore};
use crate::vocab::{
    ErrorCode, Observations, Observed, ReadError, ReadPlan, ResourceRef, ScopeFailure, Tags, Untaggable,
};

pub use summary::{ActionCounts, Breakdown, Scope, ScopeCounts, Summary, Verdict};

/// The outcome of one check: every declared resource, every discovered one, and what could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// One entry per declared resource and per discovered resource, ordered by [`ResourceRef`].
    pub resources: Vec<ResourcePlan>,
    /// Listings that failed for a whole scope, ordered by scope.
    pub scope_failures: Vec<UnknownScope>,
    /// Resources discovery left out because they cannot carry tags, one entry per scope and reason, ordered.
    pub left_out: Vec<LeftOutScope>,
    /// Ignores whose `until` has passed, in file order. Their drift shows again.
    pub expired_ignores: Vec<ExpiredIgnore>,
    /// How the scopes where the reader chose a plan were read (Huawei `batch_tag_read`), ordered by scope.
    pub read_plans: Vec<ReadPlan>,
    pub summary: Summary,
}

impl Plan {
    /// Resources whose status is not [`Status::InSync`], in plan order.
    pub fn not_in_sync(&self) -> impl Iterator<Item = &ResourcePlan> {
        self.resources.iter().filter(|r| r.status != Status::InSync)
    }
}

/// The verdict on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePlan {
    pub resource: ResourceRef,
    /// The cloud's own identifier when it differs from `resource.id` (a Huawei secret's UUID).
    pub native_id: Option<String>,
    /// A friendly name the cloud reported (a key alias).
    pub alias: Option<String>,
    pub status: Status,
    /// Declared in the desired state (true) or found by discovery (false).
    pub managed: bool,
    /// Tag changes that would restore the desired state, ordered by key.
    pub changes: Vec<TagChange>,
    /// Rule violations left after the changes, ordered by key then rule.
    pub violations: Vec<Violation>,
    /// Changes and violations an active ignore hides; they do not count as drift.
    pub ignored: Vec<IgnoredItem>,
    /// Expired ignores that would have hidden some of `changes` or `violations`.
    pub expired_ignores: Vec<ExpiredMatch>,
    /// Observed tags that stay as they are and are not named by a change, violation or ignored item
    /// (the "N unchanged tags hidden" of a report). System tags are never counted.
    pub unchanged: usize,
    /// The effective desired tags: matching defaults in file order, then the resource's own tags on top
    /// (defaults only, for discovered resources). Keys a matching rule forbids are dropped from the defaults.
    pub desired: Tags,
    /// Why the resource could not be read; set exactly when `status` is [`Status::Unknown`].
    pub error: Option<ReadError>,
    /// Why a [`Status::Missing`] resource still listed by the cloud counts as gone; `None` when the cloud says
    /// it does not exist.
    pub reason: Option<Untaggable>,
}

impl ResourcePlan {
    /// A plan with no changes for `resource`; the evaluation fills in the rest.
    fn new(resource: ResourceRef, status: Status, managed: bool) -> Self {
        ResourcePlan {
            resource,
            native_id: None,
            alias: None,
            status,
            managed,
            changes: Vec::new(),
            violations: Vec::new(),
            ignored: Vec::new(),
            expired_ignores: Vec::new(),
            unchanged: 0,
            desired: Tags::new(),
            error: None,
            reason: None,
        }
    }

    fn with_observation(mut self, observed: &Observed) -> Self {
        self.native_id = observed.native_id.clone();
        self.alias = observed.alias.clone();
        self
    }
}

/// The status of one resource. The snake_case names appear alike in JSON, metric labels and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The tags match the desired state (or all drift is ignored).
    InSync,
    /// Some tag differs from the desired state or breaks a rule.
    Drifted,
    /// Declared, but the cloud says it does not exist or it cannot carry tags
    /// ([`ResourcePlan::reason`] says why).
    Missing,
    /// Found by discovery, not declared, breaks no rule, and discovery asked to report it.
    Unmanaged,
    /// The read failed (or never happened): whether it drifted is unknown. Never counts as in sync.
    Unknown,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::InSync,
        Status::Drifted,
        Status::Missing,
        Status::Unmanaged,
        Status::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::InSync => "in_sync",
            Status::Drifted => "drifted",
            Status::Missing => "missing",
            Status::Unmanaged => "unmanaged",
            Status::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a tag change does to the cloud's tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Add,
    Change,
    Remove,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Add, Action::Change, Action::Remove];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Change => "change",
            Action::Remove => "remove",
        }
    }

    /// The Terraform-style symbol: `+`, `~` or `-`.
    pub fn symbol(self) -> char {
        match self {
            Action::Add => '+',
            Action::Change => '~',
            Action::Remove => '-',
        }
    }
}

/// Why a change is planned. Serialized flat into the change as `"cause": "forbidden", "rule": "..."`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum Cause {
    /// The resource declares this tag itself.
    Declared,
    /// A matching `defaults` entry supplies this tag.
    Default,
    /// The tag is on the resource but the desired state does not declare it (and extra tags are not allowed).
    Undeclared,
    /// A rule forbids the key.
    Forbidden { rule: String },
}

impl Cause {
    pub fn as_str(&self) -> &'static str {
        match self {
            Cause::Declared => "declared",
            Cause::Default => "default",
            Cause::Undeclared => "undeclared",
            Cause::Forbidden { .. } => "forbidden",
        }
    }
}

/// One tag change that would restore the desired state. `before` is `None` for an add, `after` for a remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagChange {
    pub key: String,
    pub action: Action,
    pub before: Option<String>,
    pub after: Option<String>,
    #[serde(flatten)]
    pub cause: Cause,
}

/// A rule the resource would still break once the planned changes are made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The rule's name.
    pub rule: String,
    /// The tag key as it appears on the resource (for a missing required key, as the rule spells it).
    pub key: String,
    #[serde(flatten)]
    pub kind: ViolationKind,
}

/// How a rule is broken. Serialized flat into the violation as `"kind": "...", ...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ViolationKind {
    /// A required key is absent.
    MissingRequired,
    /// The value is not one of the allowed values.
    ValueNotAllowed { value: String, allowed: Vec<String> },
    /// The value does not match the rule's regex.
    PatternMismatch { value: String, pattern: String },
    /// The rule forbids the key, but the resource declares it itself: the desired state contradicts itself.
    ForbiddenDeclared,
}

impl ViolationKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ViolationKind::MissingRequired => "missing_required",
            ViolationKind::ValueNotAllowed { .. } => "value_not_allowed",
            ViolationKind::PatternMismatch { .. } => "pattern_mismatch",
            ViolationKind::ForbiddenDeclared => "forbidden_declared",
        }
    }

    /// The offending value, when the violation is about a value.
    pub fn value(&self) -> Option<&str> {
        match self {
            ViolationKind::ValueNotAllowed { value, .. } | ViolationKind::PatternMismatch { value, .. } => {
                Some(value)
            }
            ViolationKind::MissingRequired | ViolationKind::ForbiddenDeclared => None,
        }
    }

    /// Orders kinds inside one key so output stays stable.
    fn rank(&self) -> u8 {
        match self {
            ViolationKind::MissingRequired => 0,
            ViolationKind::ValueNotAllowed { .. } => 1,
            ViolationKind::PatternMismatch { .. } => 2,
            ViolationKind::ForbiddenDeclared => 3,
        }
    }
}

/// A change or violation that an active ignore hides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IgnoredItem {
    /// The ignore's reason.
    pub reason: String,
    /// The ignore's last day, if it has one.
    pub until: Option<NaiveDate>,
    /// What is hidden. Serialized flat as `"change": {..}` or `"violation": {..}`.
    #[serde(flatten)]
    pub item: Ignored,
}

impl IgnoredItem {
    pub fn key(&self) -> &str {
        match &self.item {
            Ignored::Change(c) => &c.key,
            Ignored::Violation(v) => &v.key,
        }
    }
}

/// The thing an ignore hides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ignored {
    Change(TagChange),
    Violation(Violation),
}

/// An expired ignore that matches a resource and would have hidden some of its drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpiredMatch {
    /// 0-based position of the ignore in the desired state's `ignores` list.
    pub position: usize,
    pub reason: String,
    pub until: NaiveDate,
    /// The tag keys whose drift shows again, sorted.
    pub keys: Vec<String>,
}

/// An ignore whose `until` has passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpiredIgnore {
    /// 0-based position of the ignore in the desired state's `ignores` list.
    pub position: usize,
    /// The selector, described as in [`crate::config::Selector::describe`].
    pub selector: String,
    /// Key globs as written; empty means the whole resource.
    pub keys: Vec<String>,
    pub reason: String,
    pub until: NaiveDate,
    /// How many resources have drift this ignore would have hidden.
    pub resurfaced: usize,
}

/// A listing that failed for a whole scope: undeclared resources there were not checked.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct UnknownScope {
    #[serde(flatten)]
    pub scope: Scope,
    pub code: ErrorCode,
    pub message: String,
}

/// Resources a discovery listing left out in one scope because they cannot carry tags.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LeftOutScope {
    #[serde(flatten)]
    pub scope: Scope,
    pub reason: Untaggable,
    pub count: usize,
}

/// Compares `desired` with `observed` and plans the tag changes that would restore the desired state.
///
/// `today` (UTC) decides which ignores are active; nothing else depends on the date.
pub fn plan(desired: &DesiredState, observed: &Observations, today: NaiveDate) -> Plan {
    let ctx = evaluate::Context::new(desired, today);

    // The first report of a resource wins, so a client that repeats itself cannot make the plan depend on
    // anything but input order.
    let mut by_ref: BTreeMap<&ResourceRef, &Observed> = BTreeMap::new();
    for o in &observed.resources {
        by_ref.entry(&o.resource).or_insert(o);
    }

    let mut resources = Vec::new();
    let mut declared = BTreeSet::new();
    for d in &desired.resources {
        let resource = ResourceRef {
            cloud: d.cloud,
            account: d.account.clone(),
            region: d.region.clone(),
            resource_type: d.resource_type,
            id: d.id.clone(),
        };
        if !declared.insert(resource.clone()) {
            continue;
        }
        let rp = match by_ref.get(&resource) {
            Some(o) => ctx.declared(d, o),
            None => {
                let error = scope_failure(observed, &resource)
                    .map(|f| f.error.clone())
                    .unwrap_or_else(|| ReadError::new(ErrorCode::Other, "not read"));
                ctx.unread(d, resource, error)
            }
        };
        resources.push(rp);
    }

    for o in by_ref.values() {
        if declared.contains(&o.resource) {
            continue;
        }
        if let Some(rp) = ctx.discovered(o) {
            resources.push(rp);
        }
    }
    resources.sort_by(|a, b| a.resource.cmp(&b.resource));

    let mut scope_failures: Vec<UnknownScope> = observed
        .scope_failures
        .iter()
        .map(|f| UnknownScope {
            scope: Scope {
                cloud: f.cloud,
                account: f.account.clone(),
                region: f.region.clone(),
                resource_type: f.resource_type,
            },
            code: f.error.code,
            message: f.error.message.clone(),
        })
        .collect();
    scope_failures.sort();
    scope_failures.dedup();

    // A scope read twice (or a provider that reports in parts) adds up rather than listing the scope twice.
    let mut left_out: BTreeMap<(Scope, Untaggable), usize> = BTreeMap::new();
    for l in &observed.left_out {
        let scope = Scope {
            cloud: l.cloud,
            account: l.account.clone(),
            region: l.region.clone(),
            resource_type: l.resource_type,
        };
        *left_out.entry((scope, l.reason)).or_default() += l.count;
    }
    let left_out = left_out
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .map(|((scope, reason), count)| LeftOutScope { scope, reason, count })
        .collect();

    let expired_ignores = expired(&desired.ignores.entries, today, &resources);
    let summary = Summary::of(&resources, &scope_failures, &expired_ignores);
    let mut read_plans = observed.read_plans.clone();
    read_plans.sort();
    Plan {
        resources,
        scope_failures,
        left_out,
        expired_ignores,
        read_plans,
        summary,
    }
}

fn scope_failure<'a>(observed: &'a Observations, r: &ResourceRef) -> Option<&'a ScopeFailure> {
    observed.scope_failures.iter().find(|f| {
        f.cloud == r.cloud
            && f.account == r.account
            && f.region == r.region
            && f.resource_type == r.resource_type
    })
}

fn expired(entries: &[Ignore], today: NaiveDate, resources: &[ResourcePlan]) -> Vec<ExpiredIgnore> {
    entries
        .iter()
        .enumerate()
        .filter_map(|(position, ignore)| {
            let until = ignore.until.filter(|_| !ignore.active_on(today))?;
            let resurfaced = resources
                .iter()
                .filter(|r| r.expired_ignores.iter().any(|m| m.position == position))
                .count();
            Some(ExpiredIgnore {
                position,
                selector: ignore.selector.describe(),
                keys: ignore.keys.iter().map(|g| g.pattern.clone()).collect(),
                reason: ignore.reason.clone(),
                until,
                resurfaced,
            })
        })
        .collect()
}
