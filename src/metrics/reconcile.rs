//! The self-healing metrics (`tagdrift_reconcile_*`, docs/metrics.md): what the daemon wrote after its checks,
//! whether the change limit held it back, when it last decided, and the mode in force. Ordinary registered
//! metrics: writes are counted as they happen, the gauges describe the last round.

use chrono::{DateTime, Utc};
use prometheus::core::Collector;
use prometheus::{Gauge, GaugeVec, IntCounter, IntCounterVec, IntGauge, Opts};

use tagdrift_core::config::{DesiredState, ReconcileMode};
use tagdrift_core::vocab::ResourceRef;

/// The `result` label values of `tagdrift_reconcile_writes_total`.
const RESULTS: [&str; 2] = ["applied", "failed"];

pub(super) struct ReconcileMetrics {
    writes: IntCounterVec,
    tag_changes: IntCounterVec,
    blocked: IntGauge,
    last: Gauge,
    mode: GaugeVec,
    runs: IntCounter,
}

impl ReconcileMetrics {
    pub(super) fn new() -> ReconcileMetrics {
        let m = ReconcileMetrics {
            writes: IntCounterVec::new(
                Opts::new(
                    "reconcile_writes_total",
                    "Resources the daemon's self-healing wrote, by result (applied or failed).",
                ),
                &["cloud", "account", "result"],
            )
            .expect("valid metric"),
            tag_changes: IntCounterVec::new(
                Opts::new(
                    "reconcile_tag_changes_total",
                    "Tag changes (each add, change and removal) the daemon's self-healing applied.",
                ),
                &["cloud", "account"],
            )
            .expect("valid metric"),
            blocked: IntGauge::new(
                "reconcile_blocked",
                "1 when the last check's due tag changes exceeded reconcile.max_changes_per_check, so nothing \
                 was written.",
            )
            .expect("valid metric"),
            last: Gauge::new(
                "reconcile_last_timestamp_seconds",
                "Unix time at which self-healing last decided after a check (0 until it has, or when off).",
            )
            .expect("valid metric"),
            mode: GaugeVec::new(
                Opts::new(
                    "reconcile_mode",
                    "The reconcile mode in force: 1 for it, 0 for the others.",
                ),
                &["mode"],
            )
            .expect("valid metric"),
            runs: IntCounter::new(
                "reconcile_runs_total",
                "Self-healing rounds finished (one after each check unless the mode is off).",
            )
            .expect("valid metric"),
        };
        m.set_mode(ReconcileMode::Off);
        m
    }

    pub(super) fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.writes.clone()),
            Box::new(self.tag_changes.clone()),
            Box::new(self.blocked.clone()),
            Box::new(self.last.clone()),
            Box::new(self.mode.clone()),
            Box::new(self.runs.clone()),
        ]
    }

    /// Shows `state`'s mode and creates its accounts' write series at 0, so a first failure is an increase.
    pub(super) fn configure(&self, state: &DesiredState) {
        self.set_mode(state.reconcile.mode);
        if state.reconcile.mode == ReconcileMode::Off {
            return;
        }
        for account in &state.accounts {
            let cloud = account.cloud.as_str();
            for result in RESULTS {
                self.writes.with_label_values(&[cloud, &account.name, result]);
            }
            self.tag_changes.with_label_values(&[cloud, &account.name]);
        }
    }

    fn set_mode(&self, mode: ReconcileMode) {
        for m in ReconcileMode::ALL {
            self.mode
                .with_label_values(&[m.as_str()])
                .set(if m == mode { 1.0 } else { 0.0 });
        }
    }

    /// One resource's writes in a round: applied (with its tag changes) or failed.
    pub(super) fn written(&self, resource: &ResourceRef, applied: bool, changes: usize) {
        let cloud = resource.cloud.as_str();
        let result = if applied { "applied" } else { "failed" };
        self.writes
            .with_label_values(&[cloud, &resource.account, result])
            .inc();
        if applied {
            self.tag_changes
                .with_label_values(&[cloud, &resource.account])
                .inc_by(changes as u64);
        }
    }

    /// A round decided at `at`; `blocked` when the change limit held every write back.
    pub(super) fn decided(&self, at: DateTime<Utc>, blocked: bool) {
        self.blocked.set(i64::from(blocked));
        self.last.set(super::unix_seconds(at));
    }

    /// A round is over: its writes are done and the next check may start.
    pub(super) fn finished(&self) {
        self.runs.inc();
    }

    /// Self-healing is off: nothing is held back.
    pub(super) fn off(&self) {
        self.blocked.set(0);
    }
}
