use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Instant;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};

use tagdrift_core::vocab::Cloud;

use super::*;
use crate::router::redacted_query;
use crate::state::NonceCache;

struct TestFlavor;

impl Flavor for TestFlavor {
    fn rate_limited(&self, _: &RequestCtx, _: &Call, limit: f64, retry_after: Duration) -> Response {
        (
            StatusCode::TOO_MANY_REQUESTS,
            format!("limit={limit} retry_ms={}", retry_after.as_millis()),
        )
            .into_response()
    }
    fn injected_throttle(&self, _: &RequestCtx, _: &Call) -> Response {
        (StatusCode::TOO_MANY_REQUESTS, "injected").into_response()
    }
    fn injected_server_error(&self, _: &RequestCtx, _: &Call) -> Response {
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-01-02T03:04:05Z")
        .unwrap()
        .to_utc()
}

fn state_with(faults: Faults) -> Arc<State> {
    let inv = Inventory::parse(include_str!("../../../config/emulator-inventory.yaml"), "sample").unwrap();
    State::new(
        Store::from_inventory(inv.clone()).unwrap(),
        Options::default(),
        faults,
        Clock::manual(t0()),
    )
}

fn call() -> Call {
    Call {
        cloud: Cloud::Alibaba,
        account: "ali-demo".into(),
        region: "cn-hangzhou".into(),
        group: "kms_read",
        api: "ListKeys",
    }
}

fn ctx() -> RequestCtx {
    RequestCtx { id: 1, conn: None }
}

async fn body_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn rate_limit_answers_with_the_flavor_until_the_clock_moves() {
    let state = state_with(Faults {
        rate_limits: BTreeMap::from([("alibaba.kms_read".to_owned(), 2.0)]),
        ..Faults::default()
    });
    for _ in 0..2 {
        assert!(state.admit(&ctx(), &call(), &TestFlavor).await.is_ok());
    }
    let refused = state.admit(&ctx(), &call(), &TestFlavor).await.unwrap_err();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let rec = refused.extensions().get::<CallRecord>().unwrap().clone();
    assert_eq!(rec.outcome, "throttled");
    assert_eq!(body_text(refused).await, "limit=2 retry_ms=500");
    // A different region has its own bucket; time refills this one.
    let other = Call {
        region: "cn-shanghai".into(),
        ..call()
    };
    assert!(state.admit(&ctx(), &other, &TestFlavor).await.is_ok());
    state.clock().advance(TimeDelta::milliseconds(500));
    assert!(state.admit(&ctx(), &call(), &TestFlavor).await.is_ok());
    // Disabling limits lets everything through.
    state
        .update_faults(FaultsPatch {
            rate_limits_enabled: Some(false),
            ..FaultsPatch::default()
        })
        .unwrap();
    for _ in 0..10 {
        assert!(state.admit(&ctx(), &call(), &TestFlavor).await.is_ok());
    }
}

#[tokio::test]
async fn each_fault_is_answered_and_labelled() {
    let cases = [
        (
            FaultsPatch {
                server_error: Some(1.0),
                ..FaultsPatch::default()
            },
            StatusCode::SERVICE_UNAVAILABLE,
            "fault_5xx",
        ),
        (
            FaultsPatch {
                throttle: Some(1.0),
                ..FaultsPatch::default()
            },
            StatusCode::TOO_MANY_REQUESTS,
            "fault_throttle",
        ),
        (
            FaultsPatch {
                reset: Some(1.0),
                ..FaultsPatch::default()
            },
            StatusCode::BAD_GATEWAY,
            "fault_reset",
        ),
    ];
    for (patch, status, outcome) in cases {
        let state = state_with(Faults::default());
        state.update_faults(patch).unwrap();
        let response = state.admit(&ctx(), &call(), &TestFlavor).await.unwrap_err();
        assert_eq!(response.status(), status, "{outcome}");
        assert_eq!(
            response.extensions().get::<CallRecord>().unwrap().outcome,
            outcome
        );
    }

    let state = state_with(Faults {
        malformed: 1.0,
        ..Faults::default()
    });
    let admission = state.admit(&ctx(), &call(), &TestFlavor).await.unwrap();
    assert!(admission.is_malformed());
    let value = serde_json::json!({"Keys": {"Key": [{"KeyId": "k"}]}, "RequestId": "r"});
    let response = admission.reply(
        "ok",
        StatusCode::OK,
        content_type(JSON_UTF8),
        Payload::Json(value.clone()),
    );
    assert_eq!(
        response.extensions().get::<CallRecord>().unwrap().outcome,
        "fault_malformed"
    );
    let text = body_text(response).await;
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).ok() != Some(value),
        "{text}"
    );
    // Errors are never corrupted.
    let admission = state.admit(&ctx(), &call(), &TestFlavor).await.unwrap();
    let response = admission.reply(
        "Forbidden.KeyNotFound",
        StatusCode::NOT_FOUND,
        content_type(JSON_UTF8),
        Payload::Json(serde_json::json!({"Code": "Forbidden.KeyNotFound"})),
    );
    assert_eq!(
        response.extensions().get::<CallRecord>().unwrap().outcome,
        "Forbidden.KeyNotFound"
    );
    assert_eq!(body_text(response).await, r#"{"Code":"Forbidden.KeyNotFound"}"#);
}

#[tokio::test]
async fn hang_is_counted_at_once_and_ends_at_its_bound_or_shutdown() {
    let state = state_with(Faults {
        hang: 1.0,
        hang_ms: 30,
        ..Faults::default()
    });
    let started = Instant::now();
    let response = state.admit(&ctx(), &call(), &TestFlavor).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(30));
    assert!(response.extensions().get::<CallRecord>().unwrap().counted);
    assert_eq!(state.stats().outcome("alibaba", "ListKeys", "fault_hang"), 1);

    let state = state_with(Faults {
        hang: 1.0,
        hang_ms: 600_000,
        ..Faults::default()
    });
    let s2 = state.clone();
    let pending = tokio::spawn(async move { s2.admit(&ctx(), &call(), &TestFlavor).await.is_err() });
    tokio::time::sleep(Duration::from_millis(20)).await;
    state.begin_shutdown();
    let ended = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .unwrap()
        .unwrap();
    assert!(ended);
}

#[test]
fn nonces_are_single_use_within_the_window() {
    let state = state_with(Faults::default());
    assert!(state.check_nonce(Cloud::Alibaba, "testid", "n1"));
    assert!(!state.check_nonce(Cloud::Alibaba, "testid", "n1"));
    assert!(state.check_nonce(Cloud::Alibaba, "other", "n1"));
    assert!(state.check_nonce(Cloud::Huawei, "testid", "n1"));
    state.clock().advance(TimeDelta::minutes(16));
    assert!(state.check_nonce(Cloud::Alibaba, "testid", "n1"));

    let mut cache = NonceCache {
        seen: HashSet::new(),
        order: VecDeque::new(),
    };
    for k in 0..10 {
        assert!(cache.check_and_insert(k, t0(), TimeDelta::minutes(15), 4));
    }
    assert_eq!(cache.seen.len(), 4);
}

#[test]
fn issued_credentials_and_tokens_expire_with_the_clock() {
    let state = state_with(Faults::default());
    let cred = state.issue_credential(Cloud::Alibaba, 0, "STS.", "CAIS", Duration::from_secs(900));
    assert!(cred.access_key_id.starts_with("STS."));
    assert_eq!(cred.expiration, t0() + TimeDelta::seconds(900));
    let owner = state.credential(Cloud::Alibaba, &cred.access_key_id).unwrap();
    assert_eq!(owner.secret, cred.secret);
    assert_eq!(owner.security_token.as_ref(), Some(&cred.security_token));
    assert!(state.credential(Cloud::Huawei, &cred.access_key_id).is_none());
    assert!(!format!("{cred:?}").contains(cred.secret.expose()));

    let token = state.issue_token("imds", "role", Duration::from_secs(60));
    assert_eq!(state.token_subject("imds", &token).as_deref(), Some("role"));
    assert_eq!(state.token_subject("other", &token), None);
    state.clock().advance(TimeDelta::seconds(61));
    assert_eq!(state.token_subject("imds", &token), None);
}

#[test]
fn lifetime_option_overrides_requested_duration() {
    let inv = Inventory::default();
    let state = State::new(
        Store::from_inventory(inv.clone()).unwrap(),
        Options {
            temp_credential_lifetime: Some(Duration::from_secs(5)),
            ..Options::default()
        },
        Faults::default(),
        Clock::manual(t0()),
    );
    let cred = state.issue_credential(Cloud::Alibaba, 0, "STS.", "CAIS", Duration::from_secs(3600));
    assert_eq!(cred.expiration, t0() + TimeDelta::seconds(5));
}

#[test]
fn request_ids_and_redaction() {
    let ctx = RequestCtx {
        id: 0x0082_7261_20b7_4562_83f2_4df3_9876_a45a,
        conn: None,
    };
    assert_eq!(ctx.request_id(), "00827261-20B7-4562-83F2-4DF39876A45A");
    assert_eq!(ctx.request_id_hex(), "0082726120b7456283f24df39876a45a");
    assert_eq!(
        redacted_query(Some("Action=X&Signature=abc%3D&SecurityToken=t&AccessKeyId=id")),
        "Action=X&Signature=<redacted>&SecurityToken=<redacted>&AccessKeyId=id"
    );
    assert_eq!(redacted_query(None), "");
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
}

#[tokio::test]
async fn control_endpoints_over_http() {
    let state = state_with(Faults::default());
    let running = start(state.clone(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let base = running.endpoint();

    let health = client
        .get(format!("{base}/_emulator/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");

    // An unknown path is a 404 counted under "other".
    let r = client.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let stats: StatsSnapshot = client
        .get(format!("{base}/_emulator/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats.outcome("other", "unrouted", "404"), 1);
    assert_eq!(stats.total, 1);

    let r = client
        .post(format!("{base}/_emulator/faults"))
        .body(r#"{"server_error": 0.5, "rate_limits": {"alibaba.kms_write": 3}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let faults: Faults = r.json().await.unwrap();
    assert_eq!(faults.server_error, 0.5);
    assert_eq!(state.faults().rate_limits["alibaba.kms_write"], 3.0);

    for (body, code) in [
        (r#"{"server_error": 2}"#, "fault_probability"),
        (r#"{"colour": 1}"#, "invalid_json"),
        (r#"{"rate_limits": {"aws.s3": 1}}"#, "unknown_group"),
    ] {
        let r = client
            .post(format!("{base}/_emulator/faults"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["code"], code, "{body}");
    }
    assert_eq!(state.faults().server_error, 0.5);

    let r = client
        .post(format!("{base}/_emulator/reset-stats"))
        .send()
        .await
        .unwrap();
    let stats: StatsSnapshot = r.json().await.unwrap();
    assert_eq!(stats.total, 0);
    running.stop().await.unwrap();
}

async fn post_json(client: &reqwest::Client, url: &str, body: &str) -> (u16, serde_json::Value) {
    let r = client.post(url).body(body.to_owned()).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn clock_endpoint_moves_a_manual_clock() {
    let state = state_with(Faults::default());
    let running = start(state.clone(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/_emulator/clock", running.endpoint());

    let now: serde_json::Value = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        now,
        serde_json::json!({"now": "2025-01-02T03:04:05Z", "manual": true})
    );

    let (status, v) = post_json(&client, &url, r#"{"advance_ms": 1500}"#).await;
    assert_eq!(
        (status, &v["now"]),
        (200, &serde_json::json!("2025-01-02T03:04:06.500Z"))
    );
    let (status, v) = post_json(&client, &url, r#"{"advance_ms": -3600000}"#).await;
    assert_eq!(
        (status, &v["now"]),
        (200, &serde_json::json!("2025-01-02T02:04:06.500Z"))
    );
    assert_eq!(state.now(), t0() - TimeDelta::milliseconds(3_598_500));
    let (status, v) = post_json(&client, &url, r#"{"set": "2026-01-01T08:00:00+08:00"}"#).await;
    assert_eq!(
        (status, &v["now"]),
        (200, &serde_json::json!("2026-01-01T00:00:00Z"))
    );
    assert_eq!(state.now().to_rfc3339(), "2026-01-01T00:00:00+00:00");

    for (body, code) in [
        (r#"{}"#, "invalid_clock_move"),
        (
            r#"{"set": "2026-01-01T00:00:00Z", "advance_ms": 1}"#,
            "invalid_clock_move",
        ),
        (r#"{"set": "tomorrow"}"#, "invalid_json"),
        (r#"{"advance_ms": 1.5}"#, "invalid_json"),
        (r#"{"advance": 1}"#, "invalid_json"),
        (r#"{"advance_ms": 9223372036854775807}"#, "clock_out_of_range"),
    ] {
        let (status, v) = post_json(&client, &url, body).await;
        assert_eq!((status, v["code"].as_str()), (400, Some(code)), "{body}: {v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
    assert_eq!(state.now().to_rfc3339(), "2026-01-01T00:00:00+00:00");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn clock_endpoint_refuses_to_move_the_system_clock() {
    let inv = Inventory::parse(include_str!("../../../config/emulator-inventory.yaml"), "sample").unwrap();
    let state = State::new(
        Store::from_inventory(inv).unwrap(),
        Options::default(),
        Faults::default(),
        Clock::system(),
    );
    let running = start(state.clone(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/_emulator/clock", running.endpoint());

    let got: serde_json::Value = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["manual"], false);
    let reported = DateTime::parse_from_rfc3339(got["now"].as_str().unwrap()).unwrap();
    assert!(
        (Utc::now() - reported.to_utc()).abs() < TimeDelta::minutes(1),
        "{got}"
    );

    for body in [r#"{"advance_ms": 60000}"#, r#"{"set": "2000-01-01T00:00:00Z"}"#] {
        let (status, v) = post_json(&client, &url, body).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (409, Some("system_clock")),
            "{body}: {v}"
        );
        assert!(v["error"].as_str().unwrap().contains("--manual-clock"), "{v}");
    }
    assert!((Utc::now() - state.now()).abs() < TimeDelta::minutes(1));
    running.stop().await.unwrap();
}

#[tokio::test]
async fn inventory_summary_counts_resources_and_tag_rows_per_scope() {
    let state = state_with(Faults::default());
    let running = start(state.clone(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let v: serde_json::Value = reqwest::get(format!("{}/_emulator/inventory", running.endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let scopes = v["scopes"].as_array().unwrap();
    let find = |cloud: &str, region: &str, t: &str| {
        scopes
            .iter()
            .find(|s| s["cloud"] == cloud && s["region"] == region && s["type"] == t)
            .unwrap_or_else(|| panic!("no scope {cloud} {region} {t} in {v}"))
    };
    // cn-hangzhou keys in the sample: two with 2 tags, one without any.
    let keys = find("alibaba", "cn-hangzhou", "key");
    assert_eq!(keys["account"], "ali-demo");
    assert_eq!(keys["resources"], 3);
    assert_eq!(keys["tagged"], 2);
    assert_eq!(keys["tag_rows"], 4);
    assert_eq!(keys["by_tag_count"], serde_json::json!({"0": 1, "2": 2}));
    assert!(keys.get("project_id").is_none());
    let secrets = find("alibaba", "cn-hangzhou", "secret");
    assert_eq!(secrets["tag_rows"], 3);
    assert_eq!(secrets["by_tag_count"], serde_json::json!({"1": 1, "2": 1}));
    let hw = find("huawei", "cn-north-4", "key");
    assert_eq!(hw["project_id"], "0123456789abcdef0123456789abcdef");
    // Every table of the store is listed, and the totals agree with the store.
    let total: u64 = scopes.iter().map(|s| s["resources"].as_u64().unwrap()).sum();
    let expected: usize = state.store().summary().iter().map(|s| s.resources).sum();
    assert_eq!(total as usize, expected);
    assert!(total >= 6);
    // A control endpoint: not counted as a cloud call.
    assert_eq!(state.stats().total, 0);
    running.stop().await.unwrap();
}
