//! Self-healing in the daemon (issue 13, `reconcile:`): the in-process daemon reads and writes a real
//! `tagdrift emulate` over HTTP through the real reader and writers. Checks are driven with `checker.tick()`
//! and every step waits for a metric (`tagdrift_reconcile_runs_total` counts finished rounds), never for time;
//! the emulator's call counts show what was written.

use std::time::Duration;

use serde_json::Value;

use super::harness::{Daemon, FIXTURE, Scripted, metric_lines, start, start_cloud};
use crate::util::cli::Emulator;

const INVENTORY: &str = r#"
alibaba:
  - name: ali
    access_key_id: testid
    access_key_secret: testsecret
    regions:
      cn-hangzhou:
        keys:
          - {id: key-a001, tags: {owner: payments}}
          - {id: key-a002, tags: {owner: payments}}
          - {id: key-a003, tags: {owner: platform}}
        secrets:
          - {name: db-password, tags: {owner: payments}, deny: [write]}
"#;

/// Every declared resource wants `owner: platform`: two keys and the secret (whose writes the emulator
/// denies) have drifted, key-a003 is in sync. The cron never fires during a test; checks are ticked.
const DESIRED: &str = r#"version: 1
accounts:
  - name: ali
    cloud: alibaba
    regions: [cn-hangzhou]
    endpoint: "{endpoint}"
    credentials:
      type: access_key
      access_key_id: {env: T_ALI_ID}
      access_key_secret: {env: T_ALI_SECRET}
schedule:
  cron: "0 0 0 1 1 *"
resources:
  - {account: ali, region: cn-hangzhou, type: key, id: key-a001, tags: {owner: platform}}
  - {account: ali, region: cn-hangzhou, type: key, id: key-a002, tags: {owner: platform}}
  - {account: ali, region: cn-hangzhou, type: key, id: key-a003, tags: {owner: platform}}
  - {account: ali, region: cn-hangzhou, type: secret, name: db-password, tags: {owner: platform}}
"#;

const WAIT: Duration = Duration::from_secs(20);

async fn daemon(emu: &Emulator, reconcile: &str) -> Daemon {
    let yaml = format!("{DESIRED}reconcile:\n{reconcile}").replace("{endpoint}", &emu.endpoint());
    start_cloud(&yaml).await
}

/// Tag writes the emulator received (TagResources and UntagResources, keys and secrets).
fn writes(emu: &Emulator) -> u64 {
    let stats = emu.stats();
    emu.total(&stats, "alibaba", "TagResources") + emu.total(&stats, "alibaba", "UntagResources")
}

/// Waits until `n` self-healing rounds have finished (each after one check).
async fn rounds(d: &Daemon, n: u64) -> String {
    d.wait_metric(&format!("tagdrift_reconcile_runs_total {n}"), WAIT)
        .await
}

/// The value of the one series of `metric` whose labels contain every `labels` pair.
fn value(body: &str, metric: &str, labels: &[&str]) -> f64 {
    let lines: Vec<String> = metric_lines(body, metric)
        .into_iter()
        .filter(|l| labels.iter().all(|p| l.contains(p)))
        .collect();
    assert_eq!(lines.len(), 1, "one {metric} series with {labels:?}:\n{body}");
    lines[0].rsplit(' ').next().unwrap().parse().unwrap()
}

async fn reconcile_json(d: &Daemon) -> Value {
    let json: Value = d.get("/report.json").await.json().await.unwrap();
    json["reconcile"].clone()
}

fn results(reconcile: &Value) -> Vec<(String, String)> {
    reconcile["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["resource"]["id"].as_str().unwrap().to_owned(),
                r["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Ticks one check, retrying while the runner is still finishing the previous round (a tick then is skipped).
async fn tick(d: &Daemon) {
    while !d.checker.tick() {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_writes_nothing_and_reports_what_it_would_write() {
    let emu = Emulator::start(INVENTORY, &[]);
    let d = daemon(&emu, "  mode: dry_run\n  min_consecutive_checks: 1\n").await;
    let body = rounds(&d, 1).await;
    assert_eq!(value(&body, "tagdrift_reconcile_mode", &["dry_run"]), 1.0);
    assert_eq!(value(&body, "tagdrift_reconcile_mode", &["\"apply\""]), 0.0);
    assert_eq!(value(&body, "tagdrift_reconcile_blocked", &[]), 0.0);
    assert_eq!(writes(&emu), 0, "dry_run sends no write");

    let reconcile = reconcile_json(&d).await;
    assert_eq!(reconcile["mode"], "dry_run");
    assert_eq!(reconcile["last"]["due"], 3);
    assert_eq!(
        results(&reconcile),
        [
            ("key-a001".to_owned(), "would_write".to_owned()),
            ("key-a002".to_owned(), "would_write".to_owned()),
            ("db-password".to_owned(), "would_write".to_owned()),
        ]
    );
    let change = &reconcile["resources"][0]["changes"][0];
    assert_eq!(
        (&change["key"], &change["before"], &change["after"]),
        (
            &Value::from("owner"),
            &Value::from("payments"),
            &Value::from("platform")
        )
    );
    let (_, page) = d.text("/").await;
    assert!(page.contains("id=\"reconcile-mode\">dry_run<"), "{page}");
    assert!(page.contains("would be written (dry run)"), "{page}");

    tick(&d).await;
    rounds(&d, 2).await;
    assert_eq!(writes(&emu), 0, "still nothing written");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_repairs_drift_within_match_only_after_min_consecutive_checks() {
    let emu = Emulator::start(INVENTORY, &[]);
    let d = daemon(
        &emu,
        "  mode: apply\n  match: [{type: key}]\n  min_consecutive_checks: 2\n",
    )
    .await;
    let body = rounds(&d, 1).await;
    assert_eq!(
        writes(&emu),
        0,
        "the first check that sees the drift writes nothing"
    );
    assert_eq!(value(&body, "tagdrift_reconcile_writes_total", &["applied"]), 0.0);
    assert_eq!(reconcile_json(&d).await["last"]["waiting"], 2);

    tick(&d).await;
    let body = d
        .wait_metrics("two keys applied", WAIT, |b| {
            metric_lines(b, "tagdrift_reconcile_runs_total") == ["tagdrift_reconcile_runs_total 2"]
        })
        .await;
    assert_eq!(value(&body, "tagdrift_reconcile_writes_total", &["applied"]), 2.0);
    assert_eq!(value(&body, "tagdrift_reconcile_writes_total", &["failed"]), 0.0);
    assert_eq!(value(&body, "tagdrift_reconcile_tag_changes_total", &[]), 2.0);
    assert!(value(&body, "tagdrift_reconcile_last_timestamp_seconds", &[]) > 0.0);
    // Both keys need the same change: one TagResources call carries them. The secret is outside match.
    assert_eq!(writes(&emu), 1);
    let reconcile = reconcile_json(&d).await;
    assert_eq!(
        results(&reconcile),
        [
            ("key-a001".to_owned(), "applied".to_owned()),
            ("key-a002".to_owned(), "applied".to_owned()),
        ]
    );
    assert!(reconcile["resources"][0]["at"].as_str().unwrap().ends_with('Z'));

    // The next check confirms: the keys are in sync, only the secret (outside match) still drifts.
    tick(&d).await;
    rounds(&d, 3).await;
    let json: Value = d.get("/report.json").await.json().await.unwrap();
    assert_eq!(json["summary"]["drifted"], 1, "{json}");
    assert_eq!(writes(&emu), 1, "nothing more to write");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_due_changes_than_the_limit_writes_nothing_and_sets_blocked() {
    let emu = Emulator::start(INVENTORY, &[]);
    let d = daemon(
        &emu,
        "  mode: apply\n  match: [{account: ali}]\n  min_consecutive_checks: 1\n  max_changes_per_check: 2\n",
    )
    .await;
    let body = rounds(&d, 1).await;
    assert_eq!(value(&body, "tagdrift_reconcile_blocked", &[]), 1.0);
    assert_eq!(writes(&emu), 0);
    let reconcile = reconcile_json(&d).await;
    assert_eq!(reconcile["last"]["blocked"]["changes"], 3);
    assert_eq!(reconcile["last"]["blocked"]["max"], 2);
    assert!(results(&reconcile).iter().all(|(_, r)| r == "blocked"));
    let (_, page) = d.text("/").await;
    assert!(page.contains("blocked, 3 tag changes are due"), "{page}");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_write_is_counted_failed_and_tried_once_per_check() {
    let emu = Emulator::start(INVENTORY, &[]);
    let d = daemon(
        &emu,
        "  mode: apply\n  match: [{type: secret}]\n  min_consecutive_checks: 1\n",
    )
    .await;
    let body = rounds(&d, 1).await;
    assert_eq!(value(&body, "tagdrift_reconcile_writes_total", &["failed"]), 1.0);
    assert_eq!(value(&body, "tagdrift_reconcile_writes_total", &["applied"]), 0.0);
    assert_eq!(writes(&emu), 1, "one attempt in the first round");
    let reconcile = reconcile_json(&d).await;
    assert_eq!(
        results(&reconcile),
        [("db-password".to_owned(), "failed".to_owned())]
    );
    assert_eq!(
        reconcile["resources"][0]["error"]["code"],
        "Forbidden.NoPermission"
    );

    for round in 2..=3 {
        tick(&d).await;
        let body = rounds(&d, round).await;
        assert_eq!(
            value(&body, "tagdrift_reconcile_writes_total", &["failed"]),
            round as f64
        );
        assert_eq!(writes(&emu), round, "one attempt per check");
    }
    d.stop().await;
}

/// Shutdown during a round: the write in flight completes, the next one is never started, and the daemon
/// stops cleanly. The scripted source holds the first write until `/readyz` shows shutdown began.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_the_write_in_flight_finish_and_starts_no_other() {
    let source = Scripted::fixture();
    // Two drifted resources of one scope with different changes: two calls, one after the other.
    source.answers.lock().unwrap().insert(
        "db-password".to_owned(),
        tagdrift_core::vocab::Outcome::Found(super::harness::tags(&[("owner", "web")])),
    );
    let gate = std::sync::Arc::new(tokio::sync::Notify::new());
    *source.write_gate.lock().unwrap() = Some(gate.clone());
    let yaml = format!(
        "{FIXTURE}reconcile:\n  mode: apply\n  match: [{{account: ali-prod}}]\n  min_consecutive_checks: 1\n"
    );
    let mut d = start(&yaml, source.clone()).await;
    let deadline = std::time::Instant::now() + WAIT;
    while source.writes.lock().unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no write started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    d.begin_stop();
    while d.text("/readyz").await.0 != 503 {
        assert!(std::time::Instant::now() < deadline, "shutdown did not begin");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A permit, not a wake-up: the write may not be waiting yet.
    gate.notify_one();
    d.stop().await;
    assert_eq!(
        source.writes.lock().unwrap().len(),
        1,
        "no write started after shutdown began"
    );
}
