//! The daemon's Prometheus metrics, exactly as docs/metrics.md specifies them, in a registry of their own (no
//! process-global state, so every test gets a fresh one). Per-check drift gauges are built at scrape time from
//! the last completed check by a custom [`Collector`], so a resource or scope that left the plan leaves
//! `/metrics` too; counters, check health, API calls and reloads are ordinary registered metrics.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

use tagdrift_cloud::CallObserver;
use tagdrift_core::config::DesiredState;
use tagdrift_core::drift::{Action, Plan, Scope, Status};
use tagdrift_core::vocab::{Cloud, ErrorCode, ResourceType};

mod reconcile;
#[cfg(test)]
mod tests;

/// Every name below gets this prefix from the registry.
const PREFIX: &str = "tagdrift";

const SCOPE_LABELS: [&str; 4] = ["cloud", "account", "region", "resource_type"];

/// The `change` label values of `tagdrift_drifted_tags`.
const CHANGES: [&str; 4] = ["add", "update", "remove", "violation"];

/// Latency buckets for one cloud API attempt, in seconds: the clouds answer in tens of milliseconds, throttled
/// or slow answers take seconds, and the request timeout bounds the rest.
const API_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The revision label of `tagdrift_build_info`: set `TAGDRIFT_REVISION` when building (the container build
/// passes the git commit), else `unknown`.
pub const REVISION: &str = match option_env!("TAGDRIFT_REVISION") {
    Some(r) => r,
    None => "unknown",
};

/// What `/metrics` exports about one check. Built by the scheduler when a check completes.
#[derive(Debug, Clone)]
pub struct CheckRecord {
    pub finished: DateTime<Utc>,
    pub duration: Duration,
    pub success: bool,
}

/// All of tagdrift's metrics and the registry that serves them.
pub struct Metrics {
    registry: Registry,
    drift: Arc<DriftCollector>,
    check: CheckMetrics,
    api: ApiMetrics,
    reload: ReloadMetrics,
    reconcile: reconcile::ReconcileMetrics,
    /// Held for writing while a check is recorded and for reading while a scrape gathers. The registry gathers
    /// its collectors in no fixed order (a hash map's), so without it a scrape could read the drift gauges
    /// before a check is recorded and the check counter after: the new check counted with the old drift.
    recording: RwLock<()>,
}

/// The scheduler's view of checks: when they ran, how long, how often, and whether they succeeded.
struct CheckMetrics {
    last_success: Gauge,
    last: Gauge,
    last_successful: IntGauge,
    duration: Gauge,
    interval: Gauge,
    running: IntGauge,
    checks: IntCounter,
    failures: IntCounter,
    skipped_ticks: IntCounter,
}

/// Every cloud API attempt, by cloud and operation.
struct ApiMetrics {
    requests: IntCounterVec,
    errors: IntCounterVec,
    retries: IntCounterVec,
    duration: HistogramVec,
}

/// Loads and reloads of the desired state.
struct ReloadMetrics {
    successful: IntGauge,
    success_time: Gauge,
    reloads: IntCounter,
    failures: IntCounter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// A fresh registry with every metric registered. `state` is the desired state loaded at startup: its
    /// scopes are exported at 0 until the first check completes.
    pub fn new(state: Arc<DesiredState>) -> Metrics {
        let registry =
            Registry::new_custom(Some(PREFIX.to_owned()), None).expect("the prefix is a valid metric name");
        let drift = Arc::new(DriftCollector::new(state));
        let m = Metrics {
            drift: drift.clone(),
            check: CheckMetrics::new(),
            api: ApiMetrics::new(),
            reload: ReloadMetrics::new(),
            reconcile: reconcile::ReconcileMetrics::new(),
            registry,
            recording: RwLock::new(()),
        };
        let mut collectors: Vec<Box<dyn Collector>> =
            vec![Box::new(DriftHandle(drift)), Box::new(build_info())];
        collectors.extend(m.check.collectors());
        collectors.extend(m.api.collectors());
        collectors.extend(m.reload.collectors());
        collectors.extend(m.reconcile.collectors());
        for c in collectors {
            m.registry
                .register(c)
                .expect("metric names and labels are unique");
        }
        m
    }

    /// The text exposition format of every metric, as `/metrics` serves it.
    pub fn render(&self) -> String {
        let families = {
            let _recorded = self.recording.read().unwrap_or_else(|e| e.into_inner());
            self.registry.gather()
        };
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&families, &mut out)
            .expect("encoding into memory cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }

    /// The content type of [`Metrics::render`].
    pub fn content_type(&self) -> &'static str {
        "text/plain; version=0.0.4; charset=utf-8"
    }

    /// A check completed (successfully or not): its plan becomes what the drift gauges show.
    pub fn record_check(&self, record: &CheckRecord, plan: Arc<Plan>, state: Arc<DesiredState>) {
        // A scrape sees all of this check or none of it.
        let _recording = self.recording.write().unwrap_or_else(|e| e.into_inner());
        self.drift.set_plan(plan, state);
        let finished = unix_seconds(record.finished);
        self.check.last.set(finished);
        if record.success {
            self.check.last_success.set(finished);
        } else {
            self.check.failures.inc();
        }
        self.check.last_successful.set(i64::from(record.success));
        self.check.duration.set(record.duration.as_secs_f64());
        self.check.checks.inc();
    }

    pub fn set_running(&self, running: bool) {
        self.check.running.set(i64::from(running));
    }

    pub fn skipped_tick(&self) {
        self.check.skipped_ticks.inc();
    }

    pub fn set_interval(&self, interval: Option<Duration>) {
        self.check.interval.set(interval.map_or(0.0, |d| d.as_secs_f64()));
    }

    /// The initial load or a reload succeeded with `state`.
    pub fn config_loaded(&self, state: Arc<DesiredState>, at: DateTime<Utc>, reload: bool) {
        if reload {
            self.reload.reloads.inc();
        }
        self.reload.successful.set(1);
        self.reload.success_time.set(unix_seconds(at));
        self.reconcile.configure(&state);
        self.drift.set_state(state);
    }

    /// A reload was rejected; the last good desired state stays in force.
    pub fn config_rejected(&self) {
        self.reload.reloads.inc();
        self.reload.failures.inc();
        self.reload.successful.set(0);
    }
}

/// Self-healing (src/heal.rs).
impl Metrics {
    /// One resource's writes in a self-healing round: applied (with its tag changes) or failed.
    pub fn reconcile_written(
        &self,
        resource: &tagdrift_core::vocab::ResourceRef,
        applied: bool,
        changes: usize,
    ) {
        self.reconcile.written(resource, applied, changes);
    }

    /// A self-healing round decided at `at`; `blocked` when the change limit held every write back.
    pub fn reconcile_decided(&self, at: DateTime<Utc>, blocked: bool) {
        self.reconcile.decided(at, blocked);
    }

    /// A self-healing round is over.
    pub fn reconcile_finished(&self) {
        self.reconcile.finished();
    }

    /// Self-healing is off for the last check.
    pub fn reconcile_off(&self) {
        self.reconcile.off();
    }
}

impl CallObserver for Metrics {
    fn attempt(
        &self,
        cloud: Cloud,
        operation: &'static str,
        retry: bool,
        error: Option<ErrorCode>,
        elapsed: Duration,
    ) {
        let labels = [cloud.as_str(), operation];
        self.api.requests.with_label_values(&labels).inc();
        if retry {
            self.api.retries.with_label_values(&labels).inc();
        }
        if let Some(code) = error {
            self.api
                .errors
                .with_label_values(&[cloud.as_str(), operation, code.as_str()])
                .inc();
        }
        self.api
            .duration
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }
}

/// The `build_info` gauge, set once: the version and revision never change while the process runs.
fn build_info() -> GaugeVec {
    let build_info = GaugeVec::new(
        Opts::new("build_info", "The running build (always 1)."),
        &["version", "revision"],
    )
    .expect("valid metric");
    build_info
        .with_label_values(&[env!("CARGO_PKG_VERSION"), REVISION])
        .set(1.0);
    build_info
}

fn gauge(name: &str, help: &str) -> Gauge {
    Gauge::new(name, help).expect("valid metric")
}

fn int_gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::new(name, help).expect("valid metric")
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help).expect("valid metric")
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
}

impl CheckMetrics {
    fn new() -> CheckMetrics {
        CheckMetrics {
            last_success: gauge(
                "check_last_success_timestamp_seconds",
                "Unix time at which the last successful check finished (0 until one has).",
            ),
            last: gauge(
                "check_last_timestamp_seconds",
                "Unix time at which the last check finished, successful or not.",
            ),
            last_successful: int_gauge(
                "check_last_successful",
                "1 when the last check completed and read every resource and listing, else 0.",
            ),
            duration: gauge("check_duration_seconds", "Wall time of the last check."),
            interval: gauge(
                "check_interval_seconds",
                "Seconds between two ticks of the configured schedule.",
            ),
            running: int_gauge("check_running", "1 while a check runs."),
            checks: counter("checks_total", "Checks finished."),
            failures: counter("check_failures_total", "Checks that were not successful."),
            skipped_ticks: counter(
                "check_skipped_ticks_total",
                "Schedule ticks skipped because the previous check was still running.",
            ),
        }
    }

    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.last_success.clone()),
            Box::new(self.last.clone()),
            Box::new(self.last_successful.clone()),
            Box::new(self.duration.clone()),
            Box::new(self.interval.clone()),
            Box::new(self.running.clone()),
            Box::new(self.checks.clone()),
            Box::new(self.failures.clone()),
            Box::new(self.skipped_ticks.clone()),
        ]
    }
}

impl ApiMetrics {
    fn new() -> ApiMetrics {
        ApiMetrics {
            requests: counter_vec(
                "api_requests_total",
                "HTTP requests sent to a cloud, retries included.",
                &["cloud", "operation"],
            ),
            errors: counter_vec(
                "api_request_errors_total",
                "Cloud requests that failed, by error code.",
                &["cloud", "operation", "error"],
            ),
            retries: counter_vec(
                "api_retries_total",
                "Cloud requests that were a retry of an earlier failed one.",
                &["cloud", "operation"],
            ),
            duration: HistogramVec::new(
                HistogramOpts::new(
                    "api_request_duration_seconds",
                    "Cloud request latency, per attempt.",
                )
                .buckets(API_BUCKETS.to_vec()),
                &["cloud", "operation"],
            )
            .expect("valid metric"),
        }
    }

    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.requests.clone()),
            Box::new(self.errors.clone()),
            Box::new(self.retries.clone()),
            Box::new(self.duration.clone()),
        ]
    }
}

impl ReloadMetrics {
    fn new() -> ReloadMetrics {
        ReloadMetrics {
            successful: int_gauge(
                "config_last_reload_successful",
                "1 when the last (re)load of the desired state succeeded.",
            ),
            success_time: gauge(
                "config_last_reload_success_timestamp_seconds",
                "Unix time of the last successful (re)load of the desired state.",
            ),
            reloads: counter("config_reloads_total", "Reload attempts (file change or SIGHUP)."),
            failures: counter(
                "config_reload_failures_total",
                "Reload attempts rejected; the last good desired state stays in force.",
            ),
        }
    }

    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.successful.clone()),
            Box::new(self.success_time.clone()),
            Box::new(self.reloads.clone()),
            Box::new(self.failures.clone()),
        ]
    }
}

fn unix_seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// What the drift gauges are computed from: the last completed check's plan and the desired state it ran
/// against (or, before the first check, the loaded desired state, so every scope shows 0).
struct DriftInput {
    plan: Option<Arc<Plan>>,
    /// The desired state whose scopes are pre-created at 0 and whose `max_resource_series` caps the
    /// per-resource series.
    state: Arc<DesiredState>,
}

struct DriftCollector {
    input: RwLock<DriftInput>,
    descs: Vec<Desc>,
}

/// Registers the shared collector; the registry wants to own a `Box<dyn Collector>`.
struct DriftHandle(Arc<DriftCollector>);

impl Collector for DriftHandle {
    fn desc(&self) -> Vec<&Desc> {
        self.0.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.0.collect()
    }
}

/// The drift gauges of one scrape, created fresh so series absent from the plan are absent from the output.
struct DriftVecs {
    resources: GaugeVec,
    drifted_tags: GaugeVec,
    resource_drift: GaugeVec,
    dropped: Gauge,
    scope_failed: GaugeVec,
    left_out: GaugeVec,
    read_plan: GaugeVec,
}

impl DriftVecs {
    fn new() -> DriftVecs {
        fn with(extra: &'static str) -> Vec<&'static str> {
            let mut l = SCOPE_LABELS.to_vec();
            l.push(extra);
            l
        }
        DriftVecs {
            resources: GaugeVec::new(
                Opts::new("resources", "Resources by status in the last completed check."),
                &with("status"),
            )
            .expect("valid metric"),
            drifted_tags: GaugeVec::new(
                Opts::new(
                    "drifted_tags",
                    "Tag changes that would restore the desired state, and rule violations, in the last check.",
                ),
                &with("change"),
            )
            .expect("valid metric"),
            resource_drift: GaugeVec::new(
                Opts::new(
                    "resource_drift",
                    "One series (value 1) per resource not in sync in the last check, up to max_resource_series.",
                ),
                &["cloud", "account", "region", "resource_type", "resource", "status"],
            )
            .expect("valid metric"),
            dropped: Gauge::new(
                "resource_series_dropped",
                "Resources not in sync left out of tagdrift_resource_drift because of the cap.",
            )
            .expect("valid metric"),
            scope_failed: GaugeVec::new(
                Opts::new(
                    "scope_read_failed",
                    "A listing failed in the last check, so undeclared resources there could not be discovered.",
                ),
                &with("error"),
            )
            .expect("valid metric"),
            left_out: GaugeVec::new(
                Opts::new(
                    "discovery_left_out",
                    "Resources discovery left out in the last check because they cannot carry tags, by reason.",
                ),
                &with("reason"),
            )
            .expect("valid metric"),
            read_plan: GaugeVec::new(
                Opts::new(
                    "read_plan",
                    "One series (value 1) per Huawei scope: how its tags were read in the last check (plan batch \
                     or per_resource) and why (configured, verified, differs, refused, unverified).",
                ),
                &["cloud", "account", "region", "resource_type", "plan", "reason"],
            )
            .expect("valid metric"),
        }
    }

    fn collectors(&self) -> [&dyn Collector; 7] {
        [
            &self.resources,
            &self.drifted_tags,
            &self.resource_drift,
            &self.dropped,
            &self.scope_failed,
            &self.left_out,
            &self.read_plan,
        ]
    }
}

impl DriftCollector {
    fn new(state: Arc<DesiredState>) -> DriftCollector {
        let descs = DriftVecs::new()
            .collectors()
            .iter()
            .flat_map(|c| c.desc().into_iter().cloned())
            .collect();
        DriftCollector {
            input: RwLock::new(DriftInput { plan: None, state }),
            descs,
        }
    }

    fn set_plan(&self, plan: Arc<Plan>, state: Arc<DesiredState>) {
        let mut input = self.input.write().unwrap_or_else(|e| e.into_inner());
        *input = DriftInput {
            plan: Some(plan),
            state,
        };
    }

    /// A new desired state only replaces the pre-created scopes while no check has completed; afterwards the
    /// gauges describe the last check and the state it ran against.
    fn set_state(&self, state: Arc<DesiredState>) {
        let mut input = self.input.write().unwrap_or_else(|e| e.into_inner());
        if input.plan.is_none() {
            input.state = state;
        }
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let input = self.input.read().unwrap_or_else(|e| e.into_inner());
        let vecs = DriftVecs::new();
        for scope in scopes(&input.state) {
            let labels = scope_labels(&scope);
            for status in Status::ALL {
                vecs.resources
                    .with_label_values(&with_label(&labels, status.as_str()))
                    .set(0.0);
            }
            for change in CHANGES {
                vecs.drifted_tags
                    .with_label_values(&with_label(&labels, change))
                    .set(0.0);
            }
        }
        let mut dropped = 0usize;
        if let Some(plan) = &input.plan {
            for (scope, counts) in plan.breakdown().scopes {
                let labels = scope_labels(&scope);
                for (status, n) in counts.resources {
                    vecs.resources
                        .with_label_values(&with_label(&labels, status.as_str()))
                        .set(n as f64);
                }
                for (action, n) in counts.tag_changes {
                    vecs.drifted_tags
                        .with_label_values(&with_label(&labels, change_label(action)))
                        .set(n as f64);
                }
                let violations: usize = counts.violations.values().sum();
                vecs.drifted_tags
                    .with_label_values(&with_label(&labels, "violation"))
                    .set(violations as f64);
                if let Some(code) = counts.scope_failure {
                    vecs.scope_failed
                        .with_label_values(&with_label(&labels, code.as_str()))
                        .set(1.0);
                }
            }
            for l in &plan.left_out {
                vecs.left_out
                    .with_label_values(&with_label(&scope_labels(&l.scope), l.reason.as_str()))
                    .set(l.count as f64);
            }
            for p in &plan.read_plans {
                vecs.read_plan
                    .with_label_values(&[
                        p.cloud.as_str(),
                        &p.account,
                        &p.region,
                        p.resource_type.as_str(),
                        if p.batch { "batch" } else { "per_resource" },
                        p.reason.as_str(),
                    ])
                    .set(1.0);
            }
            let cap = input.state.daemon.max_resource_series;
            for (i, r) in plan.not_in_sync().enumerate() {
                if i >= cap {
                    dropped += 1;
                    continue;
                }
                let res = &r.resource;
                vecs.resource_drift
                    .with_label_values(&[
                        res.cloud.as_str(),
                        &res.account,
                        &res.region,
                        res.resource_type.as_str(),
                        &res.id,
                        r.status.as_str(),
                    ])
                    .set(1.0);
            }
        }
        vecs.dropped.set(dropped as f64);
        vecs.collectors().iter().flat_map(|c| c.collect()).collect()
    }
}

/// Every (cloud, account, region, type) the desired state reads.
fn scopes(state: &DesiredState) -> Vec<Scope> {
    let mut out = Vec::new();
    for account in &state.accounts {
        for region in &account.regions {
            for resource_type in ResourceType::ALL {
                out.push(Scope {
                    cloud: account.cloud,
                    account: account.name.clone(),
                    region: region.name.clone(),
                    resource_type,
                });
            }
        }
    }
    out
}

fn scope_labels(scope: &Scope) -> [&str; 4] {
    [
        scope.cloud.as_str(),
        &scope.account,
        &scope.region,
        scope.resource_type.as_str(),
    ]
}

fn with_label<'a>(labels: &[&'a str; 4], extra: &'a str) -> [&'a str; 5] {
    [labels[0], labels[1], labels[2], labels[3], extra]
}

/// The metric says `update` where the plan says `change` (Prometheus readers know add/update/remove).
fn change_label(action: Action) -> &'static str {
    match action {
        Action::Add => "add",
        Action::Change => "update",
        Action::Remove => "remove",
    }
}
