//! Self-healing in the daemon (`reconcile:` in the desired state, issue 13): after each published check, the
//! runner asks [`Streaks`] what is due under the guards (the `match` selectors, `min_consecutive_checks`,
//! `max_changes_per_check`) and, in `apply` mode, writes it with the same batching, writers and audit events
//! as `tagdrift apply` ([`apply::send`]). `dry_run` logs and reports what it would write and writes nothing.
//!
//! There is no second read: the next scheduled check shows whether a write took. A resource whose write failed
//! is tried again at the next check (its change set is still due), never twice in one round. Once shutdown
//! began no new write is started; one in flight may complete.
//!
//! The last result per resource and a summary of the last round are kept for `/report.json` and the page.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;

use tagdrift_core::config::ReconcileMode;
use tagdrift_core::drift::TagChange;
use tagdrift_core::reconcile::{self, Blocked, Streaks, Target};
use tagdrift_core::report;
use tagdrift_core::vocab::ResourceRef;

use crate::apply;
use crate::metrics::Metrics;
use crate::scheduler::{Active, Snapshot};

/// The daemon's self-healing state: the streaks between checks and what the last rounds did.
#[derive(Default)]
pub struct Healer {
    streaks: Mutex<Streaks>,
    status: RwLock<Arc<Status>>,
}

/// What `/report.json` and the page show about self-healing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// The last round, if self-healing has run since the daemon started.
    pub last: Option<Round>,
    /// The last result of every resource self-healing wrote or would write, by address.
    pub resources: Vec<Record>,
}

/// One round: what self-healing decided and did after one check.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub mode: ReconcileMode,
    /// When the check the round followed finished.
    pub check_finished: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    /// Resources due (seen drifted with the same changes in `min_consecutive_checks` checks in a row).
    pub due: usize,
    /// Their tag changes.
    pub changes: usize,
    pub applied: usize,
    pub failed: usize,
    /// Drifted resources within `match` still waiting for enough consecutive checks.
    pub waiting: usize,
    /// The due changes exceeded `max_changes_per_check`: nothing was written.
    pub blocked: Option<Blocked>,
    /// Shutdown began before every due write was sent.
    pub interrupted: bool,
}

/// The last self-healing result of one resource.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub address: String,
    pub resource: ResourceRef,
    pub at: DateTime<Utc>,
    pub result: RecordResult,
    /// The changes written, or that would have been.
    pub changes: Vec<TagChange>,
    /// The cloud's request ids of the accepted writes.
    pub request_ids: Vec<String>,
    /// Why the write failed (a fixed code and the cloud's message made visible).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RecordError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordResult {
    Applied,
    Failed,
    /// `dry_run`: written in `apply` mode.
    WouldWrite,
    /// Due, but the change limit held every write of the round back.
    Blocked,
}

impl RecordResult {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordResult::Applied => "applied",
            RecordResult::Failed => "failed",
            RecordResult::WouldWrite => "would_write",
            RecordResult::Blocked => "blocked",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RecordError {
    pub code: String,
    pub message: String,
}

impl Healer {
    /// What the last rounds did.
    pub fn status(&self) -> Arc<Status> {
        self.status.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A check with self-healing off. Streaks are not kept while off: turning it on starts every count from
    /// zero.
    pub fn off(&self, metrics: &Metrics) {
        *self.streaks.lock().unwrap_or_else(|e| e.into_inner()) = Streaks::default();
        metrics.reconcile_off();
    }

    /// The round after `snapshot`, the check just published. `active` is what is in force now: if a reload
    /// replaced the desired state since the check, nothing is decided (the next check will). Returns the
    /// round, `None` when self-healing is off or skipped.
    pub async fn after_check(
        &self,
        snapshot: &Snapshot,
        active: &Active,
        metrics: &Metrics,
        stopped: &(dyn Fn() -> bool + Sync),
    ) -> Option<Round> {
        let policy = &snapshot.state.reconcile;
        if policy.mode == ReconcileMode::Off {
            self.off(metrics);
            return None;
        }
        if !Arc::ptr_eq(&active.state, &snapshot.state) {
            tracing::info!(
                "the desired state was reloaded since the check; self-healing waits for the next check"
            );
            return None;
        }
        let decision = self
            .streaks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .decide(&snapshot.plan, policy);
        let decided = Utc::now();
        metrics.reconcile_decided(decided, decision.blocked.is_some());
        let mut records = Vec::new();
        let due = if decision.blocked.is_some() {
            &decision.held
        } else {
            &decision.write
        };
        let mut round = Round {
            mode: policy.mode,
            check_finished: snapshot.finished,
            finished: decided,
            due: due.targets.len(),
            changes: due.change_count(),
            applied: 0,
            failed: 0,
            waiting: decision.waiting.len(),
            blocked: decision.blocked,
            interrupted: false,
        };
        for (resource, seen) in &decision.waiting {
            tracing::info!(
                target: "tagdrift::audit",
                resource = %resource.address(),
                seen = *seen,
                needed = policy.min_consecutive_checks,
                "drift seen; waiting for more consecutive checks before writing"
            );
        }
        if let Some(blocked) = decision.blocked {
            tracing::warn!(
                target: "tagdrift::audit",
                changes = blocked.changes,
                max = blocked.max,
                resources = decision.held.targets.len(),
                "self-healing blocked: {blocked}"
            );
            for target in &decision.held.targets {
                records.push(record(target, decided, RecordResult::Blocked));
            }
        } else if policy.mode == ReconcileMode::DryRun {
            for target in &decision.write.targets {
                let [added, changed, removed] = apply::audit_fields(target, |_| true);
                tracing::info!(
                    target: "tagdrift::audit",
                    resource = %target.resource.address(),
                    added = ?added,
                    changed = ?changed,
                    removed = ?removed,
                    result = "dry_run",
                    "tags would be written (reconcile.mode is dry_run)"
                );
                records.push(record(target, decided, RecordResult::WouldWrite));
            }
        } else if !decision.write.targets.is_empty() {
            let write = &decision.write;
            let batches = reconcile::batch(&write.targets);
            let sent = apply::send(active.source.as_ref(), &snapshot.state, write, &batches, stopped).await;
            let at = Utc::now();
            for target in &write.targets {
                let failure = sent.failures.get(&target.resource);
                let accepted = sent.request_ids.get(&target.resource);
                let mut r = match (failure, accepted) {
                    (Some(f), _) => {
                        let mut r = record(target, at, RecordResult::Failed);
                        r.error = Some(RecordError {
                            code: f.cloud_code.clone().unwrap_or_else(|| f.code.as_str().to_owned()),
                            message: report::visible(&f.message).into_owned(),
                        });
                        r
                    }
                    (None, Some(_)) => record(target, at, RecordResult::Applied),
                    // Never sent: shutdown began first.
                    (None, None) => {
                        round.interrupted = true;
                        continue;
                    }
                };
                r.request_ids = accepted.cloned().unwrap_or_default();
                let applied = r.result == RecordResult::Applied;
                metrics.reconcile_written(&target.resource, applied, target.changes.len());
                if applied {
                    round.applied += 1;
                } else {
                    round.failed += 1;
                }
                records.push(r);
            }
            round.finished = at;
            tracing::info!(
                applied = round.applied,
                failed = round.failed,
                interrupted = round.interrupted,
                calls = sent.calls,
                "self-healing wrote tags"
            );
        }
        self.keep(snapshot, round.clone(), records);
        Some(round)
    }

    /// Stores `round` and `records`, and forgets resources the check no longer has.
    fn keep(&self, snapshot: &Snapshot, round: Round, records: Vec<Record>) {
        let previous = self.status();
        let mut by: BTreeMap<ResourceRef, Record> = previous
            .resources
            .iter()
            .map(|r| (r.resource.clone(), r.clone()))
            .collect();
        for r in records {
            by.insert(r.resource.clone(), r);
        }
        let present: std::collections::BTreeSet<&ResourceRef> =
            snapshot.plan.resources.iter().map(|r| &r.resource).collect();
        by.retain(|r, _| present.contains(r));
        let status = Status {
            last: Some(round),
            resources: by.into_values().collect(),
        };
        *self.status.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(status);
    }
}

fn record(target: &Target, at: DateTime<Utc>, result: RecordResult) -> Record {
    Record {
        address: target.resource.address(),
        resource: target.resource.clone(),
        at,
        result,
        changes: target.changes.clone(),
        request_ids: Vec::new(),
        error: None,
    }
}

/// Adds `"reconcile": {"mode", "last", "resources"}` to a `/report.json` document (an additive key, which
/// readers that do not know it ignore).
pub fn with_json(mut report: String, mode: ReconcileMode, status: &Status) -> String {
    #[derive(Serialize)]
    struct Section<'a> {
        mode: ReconcileMode,
        #[serde(flatten)]
        status: &'a Status,
    }
    let Ok(section) = serde_json::to_string(&Section { mode, status }) else {
        return report;
    };
    let trimmed = report.trim_end().len();
    if !report[..trimmed].ends_with('}') {
        return report;
    }
    let tail = report.split_off(trimmed - 1);
    let empty = report.trim_end().ends_with('{');
    if !empty {
        report.push(',');
    }
    report.push_str("\"reconcile\":");
    report.push_str(&section);
    report.push_str(&tail);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reconcile_section_is_added_to_the_report_json() {
        let status = Status::default();
        for report in ["{\n  \"a\": 1\n}\n", "{}"] {
            let json: serde_json::Value =
                serde_json::from_str(&with_json(report.to_owned(), ReconcileMode::DryRun, &status)).unwrap();
            assert_eq!(json["reconcile"]["mode"], "dry_run");
            assert!(json["reconcile"]["last"].is_null());
            assert_eq!(json["reconcile"]["resources"], serde_json::json!([]));
        }
        let json: serde_json::Value =
            serde_json::from_str(&with_json("{\"a\":1}".to_owned(), ReconcileMode::Off, &status)).unwrap();
        assert_eq!(json["a"], 1);
    }
}
