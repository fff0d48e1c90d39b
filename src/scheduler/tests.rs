use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use tokio::sync::watch;

use super::*;
use crate::check::BoxFuture;
use crate::metrics::Metrics;
use tagdrift_core::config::DesiredState;
use tagdrift_core::drift::Status;
use tagdrift_core::drift::fixtures::{Desired, Obs, ali_key};
use tagdrift_core::vocab::{ErrorCode, Observations};

/// Answers every read with the same observations after `delay`, and records how many reads overlap.
struct Slow {
    observations: Observations,
    delay: Duration,
    active: AtomicUsize,
    max_active: AtomicUsize,
    reads: AtomicUsize,
}

impl Slow {
    fn new(observations: Observations, delay: Duration) -> Arc<Slow> {
        Arc::new(Slow {
            observations,
            delay,
            active: AtomicUsize::new(0),
            max_active: AtomicUsize::new(0),
            reads: AtomicUsize::new(0),
        })
    }
}

struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Source for Slow {
    fn read<'a>(&'a self, _: &'a DesiredState) -> BoxFuture<'a, Observations> {
        Box::pin(async move {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
            let _leave = Leave(&self.active);
            self.max_active.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            self.observations.clone()
        })
    }
}

fn state(timeout: Duration) -> DesiredState {
    let mut s = Desired::new()
        .declare(&ali_key("key-a"), &[("owner", "payments")])
        .build();
    s.schedule.check_timeout = timeout;
    s
}

fn checker(state: DesiredState, source: Arc<Slow>) -> Arc<Checker> {
    let state = Arc::new(state);
    Checker::new(
        Active {
            state: state.clone(),
            source,
            path: "desired.yaml".to_owned(),
            loaded_at: Utc::now(),
        },
        Arc::new(Metrics::new(state)),
    )
}

#[tokio::test(start_paused = true)]
async fn ticks_while_a_check_runs_are_skipped_and_checks_never_overlap() {
    let obs = Obs::new()
        .found(&ali_key("key-a"), &[("owner", "payments")])
        .build();
    let source = Slow::new(obs, Duration::from_secs(10));
    let checker = checker(state(Duration::from_secs(60)), source.clone());
    let (cancel, cancelled) = watch::channel(false);
    let runner = tokio::spawn(checker.clone().run(cancelled));

    assert!(checker.tick(), "the first tick queues a check");
    // Every second for 25 s: the 10 s checks leave room for about 3 checks; every other tick is skipped.
    let mut queued = 1;
    for _ in 0..25 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if checker.tick() {
            queued += 1;
        }
    }
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(
        source.max_active.load(Ordering::SeqCst),
        1,
        "two checks ran at once"
    );
    assert_eq!(source.reads.load(Ordering::SeqCst), queued);
    assert!(
        (2..=4).contains(&queued),
        "{queued} checks for 25 s of 10 s checks"
    );
    let text = checker.metrics().render();
    let skipped = 26 - queued;
    assert!(
        text.lines()
            .any(|l| l == format!("tagdrift_check_skipped_ticks_total {skipped}")),
        "{text}"
    );
    let last = checker.last().expect("a check completed");
    assert!(last.success);
    assert_eq!(last.plan.summary.in_sync, 1);

    cancel.send(true).unwrap();
    runner.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_check_past_its_deadline_is_unsuccessful_and_everything_is_unknown() {
    let source = Slow::new(Observations::default(), Duration::from_secs(100));
    let checker = checker(state(Duration::from_secs(5)), source);
    let snapshot = checker.check().await;
    assert!(snapshot.timed_out);
    assert!(!snapshot.success);
    let r = &snapshot.plan.resources[0];
    assert_eq!(r.status, Status::Unknown);
    assert_eq!(r.error.as_ref().map(|e| e.code), Some(ErrorCode::Timeout));
    // 2 accounts x 1 region x 2 types, each listing reported as not done.
    assert_eq!(snapshot.plan.scope_failures.len(), 4);
}

#[tokio::test(start_paused = true)]
async fn cancelling_abandons_the_check_in_flight_without_publishing_it() {
    let source = Slow::new(Observations::default(), Duration::from_secs(3600));
    let checker = checker(state(Duration::from_secs(7200)), source.clone());
    let (cancel, cancelled) = watch::channel(false);
    let runner = tokio::spawn(checker.clone().run(cancelled));
    checker.tick();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(checker.busy());
    cancel.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(1), runner)
        .await
        .expect("the runner stops at once")
        .unwrap();
    assert!(checker.last().is_none());
    assert_eq!(source.active.load(Ordering::SeqCst), 0, "the read was dropped");
    assert!(!checker.tick(), "no checks after shutdown");
}

#[test]
fn the_interval_is_the_gap_between_the_next_two_ticks() {
    let now = Utc.with_ymd_and_hms(2026, 3, 15, 8, 0, 3).unwrap();
    assert_eq!(
        interval_from("0 */10 * * * *", now),
        Some(Duration::from_secs(600))
    );
    assert_eq!(
        interval_from("*/10 * * * * *", now),
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        interval_from("0 0 3 * * *", now),
        Some(Duration::from_secs(86_400))
    );
    assert_eq!(interval_from("not cron", now), None);
}

#[tokio::test(start_paused = true)]
async fn a_read_that_returns_after_the_deadline_is_kept_but_the_check_is_unsuccessful() {
    let obs = Obs::new()
        .found(&ali_key("key-a"), &[("owner", "payments")])
        .build();
    let source = Slow::new(obs, Duration::from_secs(6));
    let checker = checker(state(Duration::from_secs(5)), source);
    let snapshot = checker.check().await;
    assert!(snapshot.timed_out);
    assert!(!snapshot.success);
    assert_eq!(snapshot.plan.summary.in_sync, 1, "what was read is kept");
}
