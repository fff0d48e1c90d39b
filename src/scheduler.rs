//! When and how the daemon checks: one check at start, then one per tick of the configured cron (with
//! seconds, UTC) through tokio-cron-scheduler. Checks never overlap: a single runner task performs them and a
//! tick that finds one running or pending is skipped and counted. A check reads the clouds through a
//! [`Source`] and plans ([`check`]), and publishes a [`Snapshot`] that the HTTP surface and the metrics
//! read. After a check, the runner lets self-healing write ([`Healer`]) before the next check may start.
//! Shutdown cancels the check in flight by dropping its read; it starts no new write.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use uuid::Uuid;

use crate::check::{self, Source};
use crate::heal::Healer;
use crate::metrics::{CheckRecord, Metrics};
use tagdrift_core::config::{DesiredState, ReconcileMode};
use tagdrift_core::drift::Plan;

#[cfg(test)]
mod tests;

/// The desired state in force and the source built for it. Replaced as a whole on reload, so a check always
/// reads with the source that matches its desired state.
pub struct Active {
    pub state: Arc<DesiredState>,
    pub source: Arc<dyn Source>,
    /// Where the desired state was read from, for reports.
    pub path: String,
    pub loaded_at: DateTime<Utc>,
}

/// One completed check.
#[derive(Clone)]
pub struct Snapshot {
    pub plan: Arc<Plan>,
    /// The desired state the check ran against.
    pub state: Arc<DesiredState>,
    pub path: String,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub duration: Duration,
    /// Finished before the deadline with every resource and listing read.
    pub success: bool,
    /// The deadline (`schedule.check_timeout_seconds`) passed before the read finished.
    pub timed_out: bool,
}

/// The state every part of the daemon shares: what is in force, what the last check found, the metrics.
pub struct Checker {
    active: RwLock<Arc<Active>>,
    last: RwLock<Option<Arc<Snapshot>>>,
    last_success: RwLock<Option<DateTime<Utc>>>,
    /// True from when the runner takes a tick until its check is recorded or cancelled.
    busy: AtomicBool,
    metrics: Arc<Metrics>,
    ticks: mpsc::Sender<()>,
    pending: std::sync::Mutex<Option<mpsc::Receiver<()>>>,
    /// Self-healing after each check (`reconcile:`).
    healer: Healer,
}

impl Checker {
    pub fn new(active: Active, metrics: Arc<Metrics>) -> Arc<Checker> {
        // Capacity 1: one pending tick is enough; more would be overlapping checks in waiting.
        let (ticks, pending) = mpsc::channel(1);
        Arc::new(Checker {
            active: RwLock::new(Arc::new(active)),
            last: RwLock::new(None),
            last_success: RwLock::new(None),
            busy: AtomicBool::new(false),
            metrics,
            ticks,
            pending: std::sync::Mutex::new(Some(pending)),
            healer: Healer::default(),
        })
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Self-healing: what its last rounds did.
    pub fn healer(&self) -> &Healer {
        &self.healer
    }

    pub fn active(&self) -> Arc<Active> {
        self.active.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Puts a reloaded desired state and its source in force; the next check uses them.
    pub fn set_active(&self, active: Active) {
        *self.active.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(active);
    }

    /// The last completed check, if any.
    pub fn last(&self) -> Option<Arc<Snapshot>> {
        self.last.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// When the last successful check finished.
    pub fn last_success(&self) -> Option<DateTime<Utc>> {
        *self.last_success.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a check is running or about to.
    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }

    /// A schedule tick: queues a check unless one is running or already queued, in which case the tick is
    /// skipped and counted. Returns whether a check was queued.
    pub fn tick(&self) -> bool {
        if self.busy() {
            self.skip("a check is still running");
            return false;
        }
        match self.ticks.try_send(()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(())) => {
                self.skip("a check is already queued");
                false
            }
            // The runner has stopped: the daemon is shutting down.
            Err(mpsc::error::TrySendError::Closed(())) => false,
        }
    }

    fn skip(&self, why: &str) {
        self.metrics.skipped_tick();
        tracing::warn!(reason = why, "schedule tick skipped");
    }

    /// Performs the queued checks one after the other until `cancel` turns true; a check in flight then is
    /// abandoned. Call once.
    pub async fn run(self: Arc<Self>, mut cancel: watch::Receiver<bool>) {
        let Some(mut pending) = self.pending.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            tracing::error!("the check runner was started twice");
            return;
        };
        loop {
            let tick = tokio::select! {
                biased;
                _ = cancel.wait_for(|c| *c) => None,
                tick = pending.recv() => tick,
            };
            if tick.is_none() {
                break;
            }
            self.busy.store(true, Ordering::Release);
            self.metrics.set_running(true);
            let done = tokio::select! {
                biased;
                _ = cancel.wait_for(|c| *c) => None,
                snapshot = self.check() => Some(snapshot),
            };
            self.metrics.set_running(false);
            let Some(snapshot) = done else {
                self.busy.store(false, Ordering::Release);
                tracing::info!("check cancelled by shutdown");
                break;
            };
            if snapshot.state.reconcile.mode == ReconcileMode::Off {
                self.busy.store(false, Ordering::Release);
                self.publish(snapshot);
                self.healer.off(&self.metrics);
                continue;
            }
            // Self-healing writes after the check is published and before the next check may start: the
            // runner stays busy, so ticks meanwhile are skipped as during a check.
            self.publish(snapshot);
            let stopped = || *cancel.borrow();
            if let Some(snapshot) = self.last().filter(|_| !stopped()) {
                let active = self.active();
                self.healer
                    .after_check(&snapshot, &active, &self.metrics, &stopped)
                    .await;
            }
            self.busy.store(false, Ordering::Release);
            self.metrics.reconcile_finished();
        }
    }

    /// Runs one check against the desired state in force now. Cancel-safe: dropping it abandons the read.
    pub async fn check(&self) -> Snapshot {
        let active = self.active();
        let read = check::read(&active.state, active.source.as_ref()).await;
        read.log_refused_accounts();
        let checked = check::plan(&active.state, read);
        Snapshot {
            plan: Arc::new(checked.plan),
            state: active.state.clone(),
            path: active.path.clone(),
            started: checked.started,
            finished: checked.finished,
            duration: checked.duration,
            success: checked.success,
            timed_out: checked.timed_out,
        }
    }

    /// Makes `snapshot` the last completed check: metrics, reports and the page show it from now on.
    pub fn publish(&self, snapshot: Snapshot) {
        let s = &snapshot.plan.summary;
        tracing::info!(
            success = snapshot.success,
            timed_out = snapshot.timed_out,
            duration_seconds = snapshot.duration.as_secs_f64(),
            verdict = s.verdict().as_str(),
            resources = s.total,
            in_sync = s.in_sync,
            drifted = s.drifted,
            missing = s.missing,
            unmanaged = s.unmanaged,
            unknown = s.unknown,
            unknown_scopes = s.unknown_scopes,
            tags_to_add = s.tag_changes.add,
            tags_to_change = s.tag_changes.change,
            tags_to_remove = s.tag_changes.remove,
            violations = s.violations,
            "check finished"
        );
        self.metrics.record_check(
            &CheckRecord {
                finished: snapshot.finished,
                duration: snapshot.duration,
                success: snapshot.success,
            },
            snapshot.plan.clone(),
            snapshot.state.clone(),
        );
        if snapshot.success {
            *self.last_success.write().unwrap_or_else(|e| e.into_inner()) = Some(snapshot.finished);
        }
        *self.last.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(snapshot));
    }
}

/// Why the schedule could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("cannot start the job scheduler")]
    Start(#[source] JobSchedulerError),
    #[error("cannot schedule cron expression {cron:?}")]
    Cron {
        cron: String,
        #[source]
        source: JobSchedulerError,
    },
}

impl ScheduleError {
    pub fn code(&self) -> &'static str {
        match self {
            ScheduleError::Start(_) => "scheduler_start",
            ScheduleError::Cron { .. } => "schedule_invalid",
        }
    }
}

/// The cron job that ticks the [`Checker`], replaceable when a reload changes the schedule.
pub struct Schedule {
    scheduler: JobScheduler,
    job: Uuid,
    cron: String,
    checker: Arc<Checker>,
}

impl Schedule {
    /// Starts ticking `checker` on `cron` (six or seven fields, seconds first, UTC).
    pub async fn start(cron: &str, checker: Arc<Checker>) -> Result<Schedule, ScheduleError> {
        let scheduler = JobScheduler::new().await.map_err(ScheduleError::Start)?;
        let job = add_job(&scheduler, cron, &checker).await?;
        scheduler.start().await.map_err(ScheduleError::Start)?;
        checker.metrics().set_interval(interval(cron));
        Ok(Schedule {
            scheduler,
            job,
            cron: cron.to_owned(),
            checker,
        })
    }

    /// Switches to `cron` if it differs from the current expression.
    pub async fn update(&mut self, cron: &str) -> Result<(), ScheduleError> {
        if cron == self.cron {
            return Ok(());
        }
        let job = add_job(&self.scheduler, cron, &self.checker).await?;
        if let Err(err) = self.scheduler.remove(&self.job).await {
            tracing::warn!(error = %err, "cannot remove the previous schedule");
        }
        self.job = job;
        self.cron = cron.to_owned();
        self.checker.metrics().set_interval(interval(cron));
        tracing::info!(cron, "schedule changed");
        Ok(())
    }

    /// Stops ticking.
    pub async fn shutdown(mut self) {
        if let Err(err) = self.scheduler.shutdown().await {
            tracing::warn!(error = %err, "the job scheduler did not shut down cleanly");
        }
    }
}

async fn add_job(
    scheduler: &JobScheduler,
    cron: &str,
    checker: &Arc<Checker>,
) -> Result<Uuid, ScheduleError> {
    let checker = checker.clone();
    let job = Job::new_async(cron, move |_, _| {
        checker.tick();
        Box::pin(async {})
    })
    .map_err(|source| ScheduleError::Cron {
        cron: cron.to_owned(),
        source,
    })?;
    scheduler.add(job).await.map_err(|source| ScheduleError::Cron {
        cron: cron.to_owned(),
        source,
    })
}

/// Seconds between the next two ticks of `cron` from now, parsed as the scheduler parses it. `None` when the
/// expression has fewer than two future ticks.
pub fn interval(cron: &str) -> Option<Duration> {
    interval_from(cron, Utc::now())
}

fn interval_from(cron: &str, now: DateTime<Utc>) -> Option<Duration> {
    let parsed = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(cron)
        .ok()?;
    let first = parsed.find_next_occurrence(&now, false).ok()?;
    let second = parsed.find_next_occurrence(&first, false).ok()?;
    (second - first).to_std().ok()
}
