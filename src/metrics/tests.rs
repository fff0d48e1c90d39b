use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};

use super::*;
use tagdrift_core::drift::fixtures::{Desired, Obs, ali_key, ali_secret, date, hw_key, hw_secret};
use tagdrift_core::drift::{self, Plan};
use tagdrift_core::vocab::{Cloud, ErrorCode, PlanReason, Untaggable};

/// The exposition lines of `metric` (exact name, so `tagdrift_resources` does not match
/// `tagdrift_resources_total`), without HELP/TYPE.
fn lines(text: &str, metric: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            l.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .map(str::to_owned)
        .collect()
}

fn fixture() -> (Arc<tagdrift_core::config::DesiredState>, Arc<Plan>) {
    let state = Desired::new()
        .declare(&ali_key("key-a"), &[("owner", "payments"), ("env", "prod")])
        .declare(&ali_secret("db"), &[("owner", "payments")])
        .declare(&hw_secret("api-token"), &[("owner", "web")])
        .declare(&hw_key("k-1"), &[("owner", "platform")])
        .build();
    let obs = Obs::new()
        .found(
            &ali_key("key-a"),
            &[("owner", "payments"), ("env", "staging"), ("tmp", "1")],
        )
        .found(&ali_secret("db"), &[("owner", "payments")])
        .not_found(&hw_secret("api-token"))
        .failed(&hw_key("k-1"), ErrorCode::Throttled, "throttled after 3 attempts")
        .build();
    let plan = drift::plan(&state, &obs, date("2026-03-15"));
    (Arc::new(state), Arc::new(plan))
}

fn record(success: bool) -> CheckRecord {
    CheckRecord {
        finished: Utc.with_ymd_and_hms(2026, 3, 15, 8, 0, 0).unwrap(),
        duration: Duration::from_millis(2500),
        success,
    }
}

#[test]
fn before_the_first_check_every_scope_and_status_is_zero_and_nothing_else_is_per_resource() {
    let (state, _) = fixture();
    let m = Metrics::new(state);
    let text = m.render();
    let resources = lines(&text, "tagdrift_resources");
    // 2 accounts x 1 region x 2 types x 5 statuses.
    assert_eq!(resources.len(), 20, "{resources:#?}");
    assert!(resources.iter().all(|l| l.ends_with(" 0")), "{resources:#?}");
    assert_eq!(lines(&text, "tagdrift_drifted_tags").len(), 16);
    assert!(lines(&text, "tagdrift_resource_drift").is_empty());
    assert_eq!(
        lines(&text, "tagdrift_resource_series_dropped"),
        ["tagdrift_resource_series_dropped 0"]
    );
    assert_eq!(
        lines(&text, "tagdrift_check_last_success_timestamp_seconds"),
        ["tagdrift_check_last_success_timestamp_seconds 0"]
    );
    assert_eq!(lines(&text, "tagdrift_checks_total"), ["tagdrift_checks_total 0"]);
    let build = lines(&text, "tagdrift_build_info");
    assert_eq!(build.len(), 1);
    assert!(
        build[0].contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))),
        "{build:?}"
    );
}

#[test]
fn a_check_exports_counts_per_scope_per_resource_series_and_health() {
    let (state, plan) = fixture();
    let m = Metrics::new(state.clone());
    m.record_check(&record(false), plan, state);
    let text = m.render();
    let has = |line: &str| {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    };
    has(
        r#"tagdrift_resources{account="ali-prod",cloud="alibaba",region="cn-hangzhou",resource_type="key",status="drifted"} 1"#,
    );
    has(
        r#"tagdrift_resources{account="ali-prod",cloud="alibaba",region="cn-hangzhou",resource_type="secret",status="in_sync"} 1"#,
    );
    has(
        r#"tagdrift_resources{account="hw-prod",cloud="huawei",region="cn-north-4",resource_type="secret",status="missing"} 1"#,
    );
    has(
        r#"tagdrift_resources{account="hw-prod",cloud="huawei",region="cn-north-4",resource_type="key",status="unknown"} 1"#,
    );
    has(
        r#"tagdrift_drifted_tags{account="ali-prod",change="update",cloud="alibaba",region="cn-hangzhou",resource_type="key"} 1"#,
    );
    has(
        r#"tagdrift_drifted_tags{account="ali-prod",change="remove",cloud="alibaba",region="cn-hangzhou",resource_type="key"} 1"#,
    );
    has(
        r#"tagdrift_drifted_tags{account="ali-prod",change="add",cloud="alibaba",region="cn-hangzhou",resource_type="key"} 0"#,
    );
    let per_resource = lines(&text, "tagdrift_resource_drift");
    assert_eq!(
        per_resource,
        [
            r#"tagdrift_resource_drift{account="ali-prod",cloud="alibaba",region="cn-hangzhou",resource="key-a",resource_type="key",status="drifted"} 1"#,
            r#"tagdrift_resource_drift{account="hw-prod",cloud="huawei",region="cn-north-4",resource="api-token",resource_type="secret",status="missing"} 1"#,
            r#"tagdrift_resource_drift{account="hw-prod",cloud="huawei",region="cn-north-4",resource="k-1",resource_type="key",status="unknown"} 1"#,
        ]
    );
    has("tagdrift_check_last_successful 0");
    has("tagdrift_check_last_timestamp_seconds 1773561600");
    has("tagdrift_check_last_success_timestamp_seconds 0");
    has("tagdrift_check_duration_seconds 2.5");
    has("tagdrift_checks_total 1");
    has("tagdrift_check_failures_total 1");
}

#[test]
fn the_cap_drops_per_resource_series_and_counts_them() {
    let (state, plan) = fixture();
    let mut capped = (*state).clone();
    capped.daemon.max_resource_series = 1;
    let m = Metrics::new(state);
    m.record_check(&record(true), plan, Arc::new(capped));
    let text = m.render();
    assert_eq!(lines(&text, "tagdrift_resource_drift").len(), 1);
    assert_eq!(
        lines(&text, "tagdrift_resource_series_dropped"),
        ["tagdrift_resource_series_dropped 2"]
    );
    assert!(
        text.lines()
            .any(|l| l == "tagdrift_check_last_success_timestamp_seconds 1773561600")
    );
}

// See: issue 12, point 9.
#[test]
fn discovery_left_outs_are_counted_per_scope_and_reason_and_vanish_with_the_plan() {
    let (state, plan) = fixture();
    let m = Metrics::new(state.clone());
    let left = drift::plan(
        &state,
        &Obs::new()
            .left_out(&hw_key("x"), Untaggable::DefaultKey, 1)
            .left_out(&hw_key("x"), Untaggable::PendingDeletion, 2)
            .build(),
        date("2026-03-15"),
    );
    m.record_check(&record(true), Arc::new(left), state.clone());
    let text = m.render();
    assert_eq!(
        lines(&text, "tagdrift_discovery_left_out"),
        [
            r#"tagdrift_discovery_left_out{account="hw-prod",cloud="huawei",reason="default_key",region="cn-north-4",resource_type="key"} 1"#,
            r#"tagdrift_discovery_left_out{account="hw-prod",cloud="huawei",reason="pending_deletion",region="cn-north-4",resource_type="key"} 2"#,
        ]
    );
    m.record_check(&record(true), plan, state);
    assert!(lines(&m.render(), "tagdrift_discovery_left_out").is_empty());
}

// See: issue 14, point 1.
#[test]
fn each_huawei_scope_exports_its_read_plan_and_why() {
    let (state, plan) = fixture();
    let m = Metrics::new(state.clone());
    let read = drift::plan(
        &state,
        &Obs::new()
            .read_plan(&hw_key("x"), true, PlanReason::Verified)
            .read_plan(&hw_secret("x"), false, PlanReason::Differs)
            .build(),
        date("2026-03-15"),
    );
    m.record_check(&record(true), Arc::new(read), state.clone());
    assert_eq!(
        lines(&m.render(), "tagdrift_read_plan"),
        [
            r#"tagdrift_read_plan{account="hw-prod",cloud="huawei",plan="batch",reason="verified",region="cn-north-4",resource_type="key"} 1"#,
            r#"tagdrift_read_plan{account="hw-prod",cloud="huawei",plan="per_resource",reason="differs",region="cn-north-4",resource_type="secret"} 1"#,
        ]
    );
    m.record_check(&record(true), plan, state);
    assert!(lines(&m.render(), "tagdrift_read_plan").is_empty());
}

#[test]
fn series_of_resources_and_failed_scopes_vanish_when_the_next_plan_lacks_them() {
    let (state, plan) = fixture();
    let m = Metrics::new(state.clone());
    let failing = drift::plan(
        &state,
        &Obs::new()
            .scope_failed(&hw_key("x"), ErrorCode::Auth, "forbidden")
            .build(),
        date("2026-03-15"),
    );
    m.record_check(&record(false), Arc::new(failing), state.clone());
    let text = m.render();
    assert_eq!(
        lines(&text, "tagdrift_scope_read_failed"),
        [
            r#"tagdrift_scope_read_failed{account="hw-prod",cloud="huawei",error="auth",region="cn-north-4",resource_type="key"} 1"#
        ]
    );
    m.record_check(&record(true), plan, state);
    let text = m.render();
    assert!(lines(&text, "tagdrift_scope_read_failed").is_empty(), "{text}");
    assert_eq!(lines(&text, "tagdrift_resource_drift").len(), 3);
}

#[test]
fn api_calls_reloads_and_skips_are_counted() {
    let (state, _) = fixture();
    let m = Metrics::new(state.clone());
    m.attempt(Cloud::Alibaba, "ListKeys", false, None, Duration::from_millis(20));
    m.attempt(
        Cloud::Alibaba,
        "ListKeys",
        true,
        Some(ErrorCode::Throttled),
        Duration::from_millis(40),
    );
    m.config_loaded(state, Utc.with_ymd_and_hms(2026, 3, 15, 8, 0, 0).unwrap(), false);
    m.config_rejected();
    m.skipped_tick();
    m.set_interval(Some(Duration::from_secs(600)));
    let text = m.render();
    for line in [
        r#"tagdrift_api_requests_total{cloud="alibaba",operation="ListKeys"} 2"#,
        r#"tagdrift_api_retries_total{cloud="alibaba",operation="ListKeys"} 1"#,
        r#"tagdrift_api_request_errors_total{cloud="alibaba",error="throttled",operation="ListKeys"} 1"#,
        r#"tagdrift_api_request_duration_seconds_bucket{cloud="alibaba",operation="ListKeys",le="0.025"} 1"#,
        r#"tagdrift_api_request_duration_seconds_count{cloud="alibaba",operation="ListKeys"} 2"#,
        "tagdrift_config_last_reload_successful 0",
        "tagdrift_config_last_reload_success_timestamp_seconds 1773561600",
        "tagdrift_config_reloads_total 1",
        "tagdrift_config_reload_failures_total 1",
        "tagdrift_check_skipped_ticks_total 1",
        "tagdrift_check_interval_seconds 600",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
}

/// Prints how long one scrape takes for a large check (100,000 declared resources, 5% drifted), and how big it
/// is, with the per-resource series at the default cap and without one. Run with
/// `cargo test --release -p tagdrift --lib -- --ignored measure_scrape --nocapture`.
#[test]
#[ignore]
fn measure_scrape_of_a_large_check() {
    let mut desired = Desired::new();
    let mut obs = Obs::new();
    for i in 0..100_000 {
        let r = if i % 2 == 0 {
            ali_secret(&format!("secret-{i:06}"))
        } else {
            hw_key(&format!("key-{i:06}"))
        };
        desired = desired.declare(&r, &[("owner", "payments")]);
        let owner = if i % 20 == 0 { "web" } else { "payments" };
        obs = obs.found(&r, &[("owner", owner)]);
    }
    let state = Arc::new(desired.build());
    let plan = Arc::new(drift::plan(&state, &obs.build(), date("2026-03-15")));
    for cap in [1000, 1_000_000] {
        let mut capped = (*state).clone();
        capped.daemon.max_resource_series = cap;
        let m = Metrics::new(state.clone());
        m.record_check(&record(true), plan.clone(), Arc::new(capped));
        let began = std::time::Instant::now();
        let text = m.render();
        println!(
            "max_resource_series {cap}: one scrape of 100,000 resources (5,000 drifted) took {:?}, {} bytes",
            began.elapsed(),
            text.len()
        );
    }
}
