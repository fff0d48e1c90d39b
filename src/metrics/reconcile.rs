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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
    use tagdrift_core::config::ReconcileMode;
    use tagdrift_core::drift::fixtures::{Desired, ali_key};

    use crate::metrics::Metrics;

    fn series(text: &str, prefix: &str) -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn mode_write_series_at_zero_then_counts_and_blocked() {
        let off = Arc::new(Desired::new().build());
        let m = Metrics::new(off.clone());
        let text = m.render();
        assert_eq!(
            series(&text, "tagdrift_reconcile_mode{"),
            [
                "tagdrift_reconcile_mode{mode=\"apply\"} 0",
                "tagdrift_reconcile_mode{mode=\"dry_run\"} 0",
                "tagdrift_reconcile_mode{mode=\"off\"} 1",
            ]
        );
        assert!(series(&text, "tagdrift_reconcile_writes_total{").is_empty());

        let mut on = (*off).clone();
        on.reconcile.mode = ReconcileMode::Apply;
        m.config_loaded(Arc::new(on), Utc::now(), true);
        let key = ali_key("k1");
        m.reconcile_written(&key, true, 3);
        m.reconcile_written(&key, false, 1);
        m.reconcile_written(&key, false, 1);
        m.reconcile_decided(Utc.with_ymd_and_hms(2026, 3, 15, 8, 0, 0).unwrap(), true);
        m.reconcile_finished();
        let text = m.render();
        let writes = series(&text, "tagdrift_reconcile_writes_total{");
        assert!(
            writes.contains(&"tagdrift_reconcile_writes_total{account=\"ali-prod\",cloud=\"alibaba\",result=\"applied\"} 1".to_owned()),
            "{writes:?}"
        );
        assert!(writes.contains(&"tagdrift_reconcile_writes_total{account=\"ali-prod\",cloud=\"alibaba\",result=\"failed\"} 2".to_owned()));
        // Every account of the desired state has its series, at 0 until it writes.
        assert!(
            writes.contains(
                &"tagdrift_reconcile_writes_total{account=\"hw-prod\",cloud=\"huawei\",result=\"failed\"} 0"
                    .to_owned()
            )
        );
        assert!(
            text.contains("tagdrift_reconcile_tag_changes_total{account=\"ali-prod\",cloud=\"alibaba\"} 3\n")
        );
        assert!(text.contains("tagdrift_reconcile_blocked 1\n"));
        assert!(text.contains("tagdrift_reconcile_last_timestamp_seconds 1773561600\n"));
        assert!(text.contains("tagdrift_reconcile_mode{mode=\"apply\"} 1\n"));
        assert!(text.contains("tagdrift_reconcile_runs_total 1\n"));
        m.reconcile_off();
        assert!(m.render().contains("tagdrift_reconcile_blocked 0\n"));
    }
}
