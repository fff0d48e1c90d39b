//! The `reconcile` section: whether the daemon writes tags back after a check, and the guards on it. Optional;
//! its absence means `mode: off`. In `apply` mode `match` is required and must name at least one selector, so
//! that turning self-healing on never means "write anything anywhere" by omission.

use super::{Bounds, Validator};
use crate::config::model::{Reconcile, ReconcileMode};
use crate::yaml::{Node, Value, field, item};

pub(in crate::config) const RECONCILE: &[&str] =
    &["mode", "match", "max_changes_per_check", "min_consecutive_checks"];

/// Defaults, as documented in docs/configuration.md.
pub(super) const DEFAULT_MAX_CHANGES_PER_CHECK: u64 = 50;
pub(super) const DEFAULT_MIN_CONSECUTIVE_CHECKS: u64 = 2;
/// Bounds (inclusive), stated by the JSON Schema too.
pub(in crate::config) const MAX_CHANGES_PER_CHECK: Bounds = (1, 100_000);
pub(in crate::config) const MIN_CONSECUTIVE_CHECKS: Bounds = (1, 100);

impl Validator<'_> {
    pub(super) fn reconcile(&mut self, node: Option<&Node>) -> Option<Reconcile> {
        let path = "reconcile";
        let Some(node) = node else {
            return Some(Reconcile::default());
        };
        let before = self.c.count();
        let f = self.c.object(node, path, RECONCILE)?;
        let mode = match f.get("mode") {
            None => Some(ReconcileMode::Off),
            Some(n) => {
                let options: Vec<(&str, ReconcileMode)> =
                    ReconcileMode::ALL.iter().map(|m| (m.as_str(), *m)).collect();
                self.choice(n, &field(path, "mode"), "reconcile mode", &options)
            }
        };
        let match_path = field(path, "match");
        let selectors = match f.get("match") {
            None => Some(Vec::new()),
            Some(n) => self.c.sequence(n, &match_path).map(|items| {
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, n)| self.selector_at(n, &item(&match_path, i)))
                    .collect::<Vec<_>>()
            }),
        };
        if mode == Some(ReconcileMode::Apply) {
            match f.get("match") {
                None => self.c.at(
                    node,
                    &match_path,
                    "required when mode is apply: list the selectors of the resources the daemon may write \
                     (e.g. match: [{account: ali-prod, type: secret}])",
                ),
                Some(n) if matches!(&n.value, Value::Sequence(items) if items.is_empty()) => self.c.at(
                    n,
                    &match_path,
                    "must name at least one selector when mode is apply (an empty list would write nothing)",
                ),
                Some(_) => {}
            }
        }
        let max_changes = self.number(
            Some(&f),
            path,
            "max_changes_per_check",
            DEFAULT_MAX_CHANGES_PER_CHECK,
            MAX_CHANGES_PER_CHECK,
        );
        let min_checks = self.number(
            Some(&f),
            path,
            "min_consecutive_checks",
            DEFAULT_MIN_CONSECUTIVE_CHECKS,
            MIN_CONSECUTIVE_CHECKS,
        );
        if self.c.count() > before {
            return None;
        }
        Some(Reconcile {
            mode: mode?,
            selectors: selectors?,
            max_changes_per_check: usize::try_from(max_changes?).ok()?,
            min_consecutive_checks: u32::try_from(min_checks?).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{ReconcileMode, from_bytes};

    const HEAD: &str =
        "version: 1\naccounts:\n  - {name: ali-prod, cloud: alibaba, regions: [cn-hangzhou]}\n";

    #[test]
    fn absent_means_off_with_the_documented_limits() {
        let state = from_bytes(HEAD.into(), "d.yaml").unwrap();
        assert_eq!(state.reconcile.mode, ReconcileMode::Off);
        assert!(state.reconcile.selectors.is_empty());
        assert_eq!(state.reconcile.max_changes_per_check, 50);
        assert_eq!(state.reconcile.min_consecutive_checks, 2);
    }

    #[test]
    fn dry_run_needs_no_match_and_apply_keeps_its_selectors() {
        let dry = format!("{HEAD}reconcile: {{mode: dry_run}}\n");
        let state = from_bytes(dry.into_bytes(), "d.yaml").unwrap();
        assert_eq!(state.reconcile.mode, ReconcileMode::DryRun);

        let apply = format!(
            "{HEAD}reconcile:\n  mode: apply\n  match: [{{account: ali-prod, type: secret}}, {{name: 'prod/*'}}]\n  \
             max_changes_per_check: 7\n  min_consecutive_checks: 1\n"
        );
        let state = from_bytes(apply.into_bytes(), "d.yaml").unwrap();
        let r = &state.reconcile;
        assert_eq!(r.mode, ReconcileMode::Apply);
        assert_eq!(r.selectors.len(), 2);
        assert_eq!(r.selectors[1].name.as_ref().unwrap().pattern, "prod/*");
        assert_eq!((r.max_changes_per_check, r.min_consecutive_checks), (7, 1));
    }
}
