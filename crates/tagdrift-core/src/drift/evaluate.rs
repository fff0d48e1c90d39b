//! Evaluation of one resource: effective desired tags, the tag diff, rules on the state after the diff, and
//! ignores. Everything here is a function of the desired state, one observation and the date.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::{
    Action, Cause, ExpiredMatch, Ignored, IgnoredItem, ResourcePlan, Status, TagChange, Violation,
    ViolationKind,
};
use crate::config::{DeclaredResource, DesiredState, Glob, Ignore, Rule};
use crate::vocab::{Observed, Outcome, ReadError, ResourceRef, Tags};

/// The desired state and the date, shared by every resource of one plan.
pub(super) struct Context<'a> {
    desired: &'a DesiredState,
    today: NaiveDate,
}

/// A desired tag value and where it comes from.
struct Want<'a> {
    value: &'a str,
    cause: Cause,
}

impl<'a> Context<'a> {
    pub(super) fn new(desired: &'a DesiredState, today: NaiveDate) -> Self {
        Context { desired, today }
    }

    /// A declared resource the clients reported.
    pub(super) fn declared(&self, d: &DeclaredResource, o: &Observed) -> ResourcePlan {
        let resource = o.resource.clone();
        let alias = o.alias.as_deref();
        let base = ResourcePlan::new(resource, Status::Unknown, true).with_observation(o);
        match &o.outcome {
            Outcome::Failed(e) => ResourcePlan {
                desired: self.effective(&base.resource, alias, Some(&d.tags)).0,
                error: Some(e.clone()),
                ..base
            },
            Outcome::NotFound => ResourcePlan {
                status: Status::Missing,
                desired: self.effective(&base.resource, alias, Some(&d.tags)).0,
                ..base
            },
            // Nothing can be planned on a resource that refuses tags: it is as good as gone.
            Outcome::Untaggable { reason, .. } => ResourcePlan {
                status: Status::Missing,
                desired: self.effective(&base.resource, alias, Some(&d.tags)).0,
                reason: Some(*reason),
                ..base
            },
            Outcome::Found(tags) => {
                let mut rp = self.compare(base, alias, Some(d), tags);
                rp.status = if rp.changes.is_empty() && rp.violations.is_empty() {
                    Status::InSync
                } else {
                    Status::Drifted
                };
                rp
            }
        }
    }

    /// A declared resource no client reported: unknown, never in sync.
    pub(super) fn unread(
        &self,
        d: &DeclaredResource,
        resource: ResourceRef,
        error: ReadError,
    ) -> ResourcePlan {
        let desired = self.effective(&resource, None, Some(&d.tags)).0;
        ResourcePlan {
            desired,
            error: Some(error),
            ..ResourcePlan::new(resource, Status::Unknown, true)
        }
    }

    /// An observation the desired state does not declare. `None` when no discovery entry selects it, the
    /// cloud says it does not exist, or it cannot carry tags (the scanners count those instead).
    pub(super) fn discovered(&self, o: &Observed) -> Option<ResourcePlan> {
        let alias = o.alias.as_deref();
        let entries: Vec<_> = self
            .desired
            .discovery
            .iter()
            .filter(|d| d.selector.matches(&o.resource, alias))
            .collect();
        if entries.is_empty() {
            return None;
        }
        let base = ResourcePlan::new(o.resource.clone(), Status::Unknown, false).with_observation(o);
        match &o.outcome {
            Outcome::NotFound | Outcome::Untaggable { .. } => None,
            Outcome::Failed(e) => Some(ResourcePlan {
                desired: self.effective(&base.resource, alias, None).0,
                error: Some(e.clone()),
                ..base
            }),
            Outcome::Found(tags) => {
                let mut rp = self.compare(base, alias, None, tags);
                rp.status = if !rp.changes.is_empty() || !rp.violations.is_empty() {
                    Status::Drifted
                } else if entries.iter().any(|d| d.report_unmanaged) {
                    Status::Unmanaged
                } else {
                    Status::InSync
                };
                Some(rp)
            }
        }
    }

    fn rules(&self, resource: &ResourceRef, alias: Option<&str>) -> Vec<&'a Rule> {
        self.desired
            .rules
            .iter()
            .filter(|r| r.selector.matches(resource, alias))
            .collect()
    }

    /// The effective desired tags and their causes: matching defaults in file order (later wins), minus keys a
    /// matching rule forbids, then the resource's own tags on top.
    fn effective(
        &self,
        resource: &ResourceRef,
        alias: Option<&str>,
        own: Option<&'a Tags>,
    ) -> (Tags, BTreeMap<&'a str, Want<'a>>) {
        let forbidden = forbidden_globs(&self.rules(resource, alias));
        let mut want: BTreeMap<&'a str, Want<'a>> = BTreeMap::new();
        for d in self
            .desired
            .defaults
            .iter()
            .filter(|d| d.selector.matches(resource, alias))
        {
            for (k, v) in &d.tags {
                // A rule is stronger than a broad default: a forbidden default key is simply not wanted.
                if forbidden.iter().any(|(_, g)| g.is_match(k)) {
                    continue;
                }
                want.insert(
                    k,
                    Want {
                        value: v,
                        cause: Cause::Default,
                    },
                );
            }
        }
        for (k, v) in own.into_iter().flatten() {
            want.insert(
                k,
                Want {
                    value: v,
                    cause: Cause::Declared,
                },
            );
        }
        let tags = want
            .iter()
            .map(|(k, w)| ((*k).to_owned(), w.value.to_owned()))
            .collect();
        (tags, want)
    }

    /// Diffs found tags against the desired state and applies rules and ignores. Leaves `status` to the caller.
    fn compare(
        &self,
        mut rp: ResourcePlan,
        alias: Option<&str>,
        declared: Option<&'a DeclaredResource>,
        found: &Tags,
    ) -> ResourcePlan {
        let resource = rp.resource.clone();
        let rules = self.rules(&resource, alias);
        let forbidden = forbidden_globs(&rules);
        let own = declared.map(|d| &d.tags);
        let (desired, want) = self.effective(&resource, alias, own);
        // Discovered resources only inherit defaults; their other tags are not drift.
        let allow_extra = declared.is_none_or(|d| d.allow_extra_tags);

        let system = self.desired.ignores.system_tags.get(&resource.cloud);
        // System tags are never shown, unless the desired state names the key itself (then the user asked for
        // it, and filtering it out would plan an add forever).
        let observed: BTreeMap<&str, &str> = found
            .iter()
            .filter(|(k, _)| {
                want.contains_key(k.as_str())
                    || !system.is_some_and(|globs| globs.iter().any(|g| g.is_match(k)))
            })
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();

        let mut changes = Vec::new();
        for (k, w) in &want {
            match observed.get(k) {
                None => changes.push(TagChange {
                    key: (*k).to_owned(),
                    action: Action::Add,
                    before: None,
                    after: Some(w.value.to_owned()),
                    cause: w.cause.clone(),
                }),
                Some(v) if *v != w.value => changes.push(TagChange {
                    key: (*k).to_owned(),
                    action: Action::Change,
                    before: Some((*v).to_owned()),
                    after: Some(w.value.to_owned()),
                    cause: w.cause.clone(),
                }),
                Some(_) => {}
            }
        }
        for (k, v) in &observed {
            if want.contains_key(k) {
                continue;
            }
            let cause = match forbidden.iter().find(|(_, g)| g.is_match(k)) {
                Some((rule, _)) => Cause::Forbidden {
                    rule: (*rule).to_owned(),
                },
                None if allow_extra => continue,
                None => Cause::Undeclared,
            };
            changes.push(TagChange {
                key: (*k).to_owned(),
                action: Action::Remove,
                before: Some((*v).to_owned()),
                after: None,
                cause,
            });
        }
        changes.sort_by(|a, b| a.key.cmp(&b.key));

        // The state the resource would have once the changes are made; rules judge that state.
        let mut after: BTreeMap<&str, &str> = observed.clone();
        for c in &changes {
            match &c.after {
                Some(v) => after.insert(&c.key, v),
                None => after.remove(c.key.as_str()),
            };
        }

        let mut violations = Vec::new();
        for (rule, glob) in &forbidden {
            for k in own.into_iter().flat_map(|t| t.keys()) {
                if glob.is_match(k) {
                    violations.push(Violation {
                        rule: (*rule).to_owned(),
                        key: k.clone(),
                        kind: ViolationKind::ForbiddenDeclared,
                    });
                }
            }
        }
        for rule in &rules {
            check_rule(rule, &after, &mut violations);
        }
        violations.sort_by(|a, b| (&a.key, &a.rule, a.kind.rank()).cmp(&(&b.key, &b.rule, b.kind.rank())));
        violations.dedup();

        self.apply_ignores(&mut rp, alias, changes, violations);

        let named: BTreeSet<&str> = rp
            .changes
            .iter()
            .map(|c| c.key.as_str())
            .chain(rp.violations.iter().map(|v| v.key.as_str()))
            .chain(rp.ignored.iter().map(IgnoredItem::key))
            .collect();
        rp.unchanged = observed.keys().filter(|k| !named.contains(*k)).count();
        rp.desired = desired;
        rp
    }

    /// Moves changes and violations hidden by an active ignore to `ignored`, and notes expired ignores that
    /// would have hidden some of what remains.
    fn apply_ignores(
        &self,
        rp: &mut ResourcePlan,
        alias: Option<&str>,
        changes: Vec<TagChange>,
        violations: Vec<Violation>,
    ) {
        let matching: Vec<(usize, &Ignore)> = self
            .desired
            .ignores
            .entries
            .iter()
            .enumerate()
            .filter(|(_, i)| i.selector.matches(&rp.resource, alias))
            .collect();
        let active = |key: &str| {
            matching
                .iter()
                .map(|(_, i)| *i)
                .find(|i| i.active_on(self.today) && covers(i, key))
        };
        let hide = |ignore: &Ignore, item: Ignored| IgnoredItem {
            reason: ignore.reason.clone(),
            until: ignore.until,
            item,
        };

        for c in changes {
            match active(&c.key) {
                Some(i) => rp.ignored.push(hide(i, Ignored::Change(c))),
                None => rp.changes.push(c),
            }
        }
        for v in violations {
            match active(&v.key) {
                Some(i) => rp.ignored.push(hide(i, Ignored::Violation(v))),
                None => rp.violations.push(v),
            }
        }

        for (position, ignore) in &matching {
            let Some(until) = ignore.until.filter(|_| !ignore.active_on(self.today)) else {
                continue;
            };
            let keys: BTreeSet<&str> = rp
                .changes
                .iter()
                .map(|c| c.key.as_str())
                .chain(rp.violations.iter().map(|v| v.key.as_str()))
                .filter(|k| covers(ignore, k))
                .collect();
            if !keys.is_empty() {
                rp.expired_ignores.push(ExpiredMatch {
                    position: *position,
                    reason: ignore.reason.clone(),
                    until,
                    keys: keys.into_iter().map(str::to_owned).collect(),
                });
            }
        }
    }
}

/// Whether an ignore's key globs cover `key` (no globs: every key).
fn covers(ignore: &Ignore, key: &str) -> bool {
    ignore.keys.is_empty() || ignore.keys.iter().any(|g| g.is_match(key))
}

/// The forbidden key globs of `rules`, each with its rule's name, in rule order.
fn forbidden_globs<'a>(rules: &[&'a Rule]) -> Vec<(&'a str, &'a Glob)> {
    rules
        .iter()
        .flat_map(|r| r.forbidden.iter().map(|g| (r.name.as_str(), g)))
        .collect()
}

/// Checks required keys, allowed values and patterns of one rule against the after-state.
fn check_rule(rule: &Rule, after: &BTreeMap<&str, &str>, out: &mut Vec<Violation>) {
    let ci = rule.case_insensitive;
    let key_eq = |a: &str, b: &str| {
        if ci {
            a.to_lowercase() == b.to_lowercase()
        } else {
            a == b
        }
    };
    let violation = |key: &str, kind| Violation {
        rule: rule.name.clone(),
        key: key.to_owned(),
        kind,
    };

    for req in &rule.required {
        if !after.keys().any(|k| key_eq(k, req)) {
            out.push(violation(req, ViolationKind::MissingRequired));
        }
    }
    for (rk, allowed) in &rule.allowed_values {
        for (k, v) in after.iter().filter(|(k, _)| key_eq(k, rk)) {
            if !allowed.iter().any(|a| key_eq(a, v)) {
                out.push(violation(
                    k,
                    ViolationKind::ValueNotAllowed {
                        value: (*v).to_owned(),
                        allowed: allowed.clone(),
                    },
                ));
            }
        }
    }
    for (rk, pattern) in &rule.patterns {
        for (k, v) in after.iter().filter(|(k, _)| key_eq(k, rk)) {
            if !pattern.regex.is_match(v) {
                out.push(violation(
                    k,
                    ViolationKind::PatternMismatch {
                        value: (*v).to_owned(),
                        pattern: pattern.source.clone(),
                    },
                ));
            }
        }
    }
}
