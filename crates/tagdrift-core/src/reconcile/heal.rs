//! The daemon's guards on self-healing (`reconcile:` in the desired state), decided after each check: which of
//! the selected writes ([`select`](super::select) with the `match` selectors) have been seen long enough to be
//! written, and whether the check's pending changes are few enough to write at all.
//!
//! A resource is written only once [`min_consecutive_checks`](crate::config::Reconcile) checks in a row found
//! it drifted with the identical change set. [`Streaks`] remembers each resource's change set between checks;
//! a different set, or a check where the resource was in sync, unknown or out of `match`, starts it again, so
//! a tag someone is still editing is not fought over and one bad read never causes a write.

use std::collections::BTreeMap;

use super::{WritePlan, select};
use crate::config::Reconcile;
use crate::drift::{Action, Plan, TagChange};
use crate::vocab::ResourceRef;

/// What one change looks like for the streak: its key, action and values, not why it is planned (a renamed
/// rule does not make a new change).
type Fingerprint = Vec<(String, Action, Option<String>, Option<String>)>;

fn fingerprint(changes: &[TagChange]) -> Fingerprint {
    changes
        .iter()
        .map(|c| (c.key.clone(), c.action, c.before.clone(), c.after.clone()))
        .collect()
}

/// Each drifted resource's change set and in how many consecutive checks it was seen. Lives in the daemon
/// from check to check; starts empty.
#[derive(Debug, Default)]
pub struct Streaks {
    seen: BTreeMap<ResourceRef, (Fingerprint, u32)>,
}

/// What a check allows the daemon to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The writes due now, in plan order; empty when [`blocked`](Decision::blocked).
    pub write: WritePlan,
    /// Due resources held back because the check's pending changes exceeded the limit.
    pub held: WritePlan,
    /// Selected drifted resources not yet seen in enough consecutive checks, with the count so far.
    pub waiting: Vec<(ResourceRef, u32)>,
    /// The pending changes exceeded `max_changes_per_check`: nothing is written.
    pub blocked: Option<Blocked>,
}

/// Too many tag changes were due in one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[error(
    "{changes} tag changes are due, more than reconcile.max_changes_per_check {max}; nothing was written"
)]
pub struct Blocked {
    pub changes: usize,
    pub max: usize,
}

impl Streaks {
    /// Records `plan` as the latest check and decides what to write after it under `policy`.
    pub fn decide(&mut self, plan: &Plan, policy: &Reconcile) -> Decision {
        let selected = select(plan, &policy.selectors);
        let mut seen = BTreeMap::new();
        let mut due = Vec::new();
        let mut waiting = Vec::new();
        for target in selected.targets {
            let print = fingerprint(&target.changes);
            let count = match self.seen.remove(&target.resource) {
                Some((before, n)) if before == print => n.saturating_add(1),
                _ => 1,
            };
            seen.insert(target.resource.clone(), (print, count));
            if count >= policy.min_consecutive_checks {
                due.push(target);
            } else {
                waiting.push((target.resource, count));
            }
        }
        // Whatever was not drifted (within match) this time starts from zero next time.
        self.seen = seen;
        let due = WritePlan {
            targets: due,
            skipped: selected.skipped,
        };
        let changes = due.change_count();
        let empty = || WritePlan {
            targets: Vec::new(),
            skipped: Vec::new(),
        };
        if changes > policy.max_changes_per_check {
            return Decision {
                write: empty(),
                held: due,
                waiting,
                blocked: Some(Blocked {
                    changes,
                    max: policy.max_changes_per_check,
                }),
            };
        }
        Decision {
            write: due,
            held: empty(),
            waiting,
            blocked: None,
        }
    }

    /// How many consecutive checks have shown `resource`'s current change set (0 when it is not drifted).
    pub fn count(&self, resource: &ResourceRef) -> u32 {
        self.seen.get(resource).map_or(0, |(_, n)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ReconcileMode;
    use crate::drift::fixtures::*;
    use crate::drift::plan;
    use crate::reconcile::parse_target;

    fn policy(min: u32, max: usize, targets: &[&str]) -> Reconcile {
        Reconcile {
            mode: ReconcileMode::Apply,
            selectors: targets.iter().map(|t| parse_target(t).unwrap()).collect(),
            max_changes_per_check: max,
            min_consecutive_checks: min,
        }
    }

    fn check(observed: &[(&str, &[(&str, &str)])]) -> Plan {
        let mut desired = Desired::new();
        let mut obs = Obs::new();
        for (id, tags) in observed {
            desired = desired.declare(&ali_key(id), &[("owner", "a"), ("env", "prod")]);
            obs = obs.found(&ali_key(id), tags);
        }
        plan(&desired.build(), &obs.build(), date("2026-06-01"))
    }

    fn ids(w: &WritePlan) -> Vec<&str> {
        w.targets.iter().map(|t| t.resource.id.as_str()).collect()
    }

    #[test]
    fn a_change_set_is_written_after_the_configured_number_of_identical_checks() {
        let mut streaks = Streaks::default();
        let p = policy(2, 50, &[]);
        let drifted = check(&[
            ("k1", &[("owner", "b"), ("env", "prod")]),
            ("k2", &[("owner", "a"), ("env", "prod")]),
        ]);
        let first = streaks.decide(&drifted, &p);
        assert!(first.write.targets.is_empty());
        assert_eq!(first.waiting, vec![(ali_key("k1"), 1)]);
        let second = streaks.decide(&drifted, &p);
        assert_eq!(ids(&second.write), ["k1"]);
        assert!(second.waiting.is_empty());
        // Until the write shows, every check keeps it due (a failed write is tried again next check).
        assert_eq!(ids(&streaks.decide(&drifted, &p).write), ["k1"]);
        assert_eq!(streaks.count(&ali_key("k1")), 3);
    }

    #[test]
    fn a_different_change_set_or_a_check_in_sync_starts_the_count_again() {
        let mut streaks = Streaks::default();
        let p = policy(2, 50, &[]);
        let a = check(&[("k1", &[("owner", "b"), ("env", "prod")])]);
        let b = check(&[("k1", &[("owner", "c"), ("env", "prod")])]);
        let synced = check(&[("k1", &[("owner", "a"), ("env", "prod")])]);
        streaks.decide(&a, &p);
        let changed = streaks.decide(&b, &p);
        assert!(changed.write.targets.is_empty());
        assert_eq!(changed.waiting, vec![(ali_key("k1"), 1)]);
        assert!(streaks.decide(&synced, &p).waiting.is_empty());
        assert_eq!(streaks.count(&ali_key("k1")), 0);
        assert!(streaks.decide(&b, &p).write.targets.is_empty());
        assert_eq!(ids(&streaks.decide(&b, &p).write), ["k1"]);
    }

    #[test]
    fn only_resources_within_match_are_counted_or_written() {
        let mut streaks = Streaks::default();
        let p = policy(1, 50, &["name=k2"]);
        let drifted = check(&[("k1", &[("owner", "b")]), ("k2", &[("owner", "b")])]);
        let d = streaks.decide(&drifted, &p);
        assert_eq!(ids(&d.write), ["k2"]);
        assert_eq!(streaks.count(&ali_key("k1")), 0);
    }

    #[test]
    fn more_due_changes_than_the_limit_writes_nothing() {
        let mut streaks = Streaks::default();
        // k1: ~owner +env (2 changes); k2: +env (1 change).
        let drifted = check(&[("k1", &[("owner", "b")]), ("k2", &[("owner", "a")])]);
        let d = streaks.decide(&drifted, &policy(1, 2, &[]));
        assert!(d.write.targets.is_empty());
        assert_eq!(ids(&d.held), ["k1", "k2"]);
        assert_eq!(d.blocked, Some(Blocked { changes: 3, max: 2 }));
        assert_eq!(
            d.blocked.unwrap().to_string(),
            "3 tag changes are due, more than reconcile.max_changes_per_check 2; nothing was written"
        );
        // Changes still waiting for their streak do not count towards the limit.
        let mut streaks = Streaks::default();
        let d = streaks.decide(&drifted, &policy(2, 2, &[]));
        assert_eq!((d.blocked, d.waiting.len()), (None, 2));
        let d = streaks.decide(&drifted, &policy(2, 3, &[]));
        assert_eq!((d.blocked, ids(&d.write)), (None, vec!["k1", "k2"]));
    }
}
