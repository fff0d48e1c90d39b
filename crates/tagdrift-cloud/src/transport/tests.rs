//! Transport tests: backoff bounds, failure classification, the attempt loop and the rate limiter under
//! paused tokio time, and real HTTP exchanges with a local server (re-signing, timeouts, resets).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use reqwest::header::{HeaderMap, HeaderValue};

use super::classify::{self, Failure};
use super::*;
use crate::{CallObserver, Cloud, ErrorCode};

/// One reported attempt: cloud, operation, retry, error.
type Seen = (Cloud, &'static str, bool, Option<ErrorCode>);

/// Records every attempt the transport reports.
#[derive(Default)]
pub(crate) struct Recorder {
    pub attempts: Mutex<Vec<Seen>>,
}

impl CallObserver for Recorder {
    fn attempt(
        &self,
        cloud: Cloud,
        operation: &'static str,
        retry: bool,
        error: Option<ErrorCode>,
        _: Duration,
    ) {
        self.attempts
            .lock()
            .unwrap()
            .push((cloud, operation, retry, error));
    }
}

fn transport(max_attempts: u32) -> (Transport, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let mut options = TransportOptions::new(recorder.clone());
    options.max_attempts = max_attempts;
    options.request_timeout = Duration::from_millis(500);
    options.backoff = Backoff {
        base: Duration::from_millis(10),
        throttle_base: Duration::from_millis(50),
        cap: Duration::from_secs(2),
    };
    (Transport::new(options).unwrap(), recorder)
}

/// Always the same credential: the transport's own stand-in for a provider, so that its tests do not reach up
/// into the credential providers, which are built on the transport.
struct Fixed(Credential);

impl CredentialSource for Fixed {
    fn credential(
        &self,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Credential, CredentialError>> + Send + '_>> {
        Box::pin(std::future::ready(Ok(self.0.clone())))
    }

    fn refused<'a>(&'a self, _: &'a Credential) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(std::future::ready(()))
    }
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_static(value));
    }
    map
}

// ---- backoff ----

#[test]
fn backoff_ceiling_doubles_from_the_base_and_stops_at_the_cap() {
    let backoff = Backoff::default();
    assert_eq!(backoff.ceiling(1, false), Duration::from_millis(200));
    assert_eq!(backoff.ceiling(2, false), Duration::from_millis(400));
    assert_eq!(backoff.ceiling(4, false), Duration::from_millis(1600));
    assert_eq!(backoff.ceiling(1, true), Duration::from_secs(1));
    assert_eq!(backoff.ceiling(3, true), Duration::from_secs(4));
    assert_eq!(backoff.ceiling(10, true), Duration::from_secs(20));
    assert_eq!(backoff.ceiling(u32::MAX, false), Duration::from_secs(20));
}

#[test]
fn full_jitter_spreads_delays_over_zero_to_the_ceiling() {
    let backoff = Backoff::default();
    let mut rng = StdRng::seed_from_u64(7);
    for retry in 1..=8 {
        for throttled in [false, true] {
            let ceiling = backoff.ceiling(retry, throttled);
            let delays: Vec<Duration> = (0..2000)
                .map(|_| backoff.delay(retry, throttled, None, &mut rng))
                .collect();
            assert!(
                delays.iter().all(|d| *d <= ceiling),
                "retry {retry}: above {ceiling:?}"
            );
            // Full jitter: the draws reach both ends of the range, not just the upper half.
            assert!(
                delays.iter().any(|d| *d < ceiling / 10),
                "retry {retry}: nothing near zero"
            );
            assert!(
                delays.iter().any(|d| *d > ceiling * 9 / 10),
                "retry {retry}: nothing near the ceiling"
            );
        }
    }
}

#[test]
fn a_retry_after_hint_is_waited_out_plus_jitter_and_capped() {
    let backoff = Backoff::default();
    let mut rng = StdRng::seed_from_u64(1);
    let hint = Duration::from_millis(1500);
    for _ in 0..500 {
        let delay = backoff.delay(1, true, Some(hint), &mut rng);
        assert!(
            delay >= hint && delay <= hint + backoff.throttle_base,
            "{delay:?}"
        );
    }
    let huge = backoff.delay(1, true, Some(Duration::from_secs(3600)), &mut rng);
    assert_eq!(huge, backoff.cap);
}

#[test]
fn retry_after_reads_alibaba_milliseconds_and_standard_seconds() {
    assert_eq!(
        retry::retry_after(&headers(&[("x-acs-retry-after", "1500")])),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        retry::retry_after(&headers(&[("retry-after", "3")])),
        Some(Duration::from_secs(3))
    );
    assert_eq!(retry::retry_after(&headers(&[("x-acs-retry-after", "0")])), None);
    assert_eq!(retry::retry_after(&headers(&[("x-acs-retry-after", "-5")])), None);
    assert_eq!(
        retry::retry_after(&headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")])),
        None
    );
    assert_eq!(retry::retry_after(&HeaderMap::new()), None);
}

// ---- classification ----

fn classify_alibaba(status: u16, hdrs: &[(&'static str, &'static str)], body: &str) -> Failure {
    classify::answer(Cloud::Alibaba, status, &headers(hdrs), body.as_bytes(), None)
}

fn classify_huawei(status: u16, hdrs: &[(&'static str, &'static str)], body: &str) -> Failure {
    classify::answer(Cloud::Huawei, status, &headers(hdrs), body.as_bytes(), None)
}

#[test]
fn alibaba_throttling_in_both_shapes_is_retryable_and_keeps_the_hint() {
    let kms = classify_alibaba(
        429,
        &[("x-acs-retry-after", "250")],
        r#"{"HttpStatus":429,"Code":"Rejected.Throttling","Message":"QPS Limit Exceeded","RequestId":"r-1"}"#,
    );
    assert_eq!(kms.code, ErrorCode::Throttled);
    assert!(kms.retryable);
    assert_eq!(kms.retry_after, Some(Duration::from_millis(250)));
    assert_eq!(kms.request_id.as_deref(), Some("r-1"));
    assert_eq!(kms.cloud_code.as_deref(), Some("Rejected.Throttling"));

    for code in ["Throttling", "Throttling.User", "Throttling.Api"] {
        let body = format!(r#"{{"RequestId":"r","HostId":"kms","Code":"{code}","Message":"denied"}}"#);
        let gateway = classify_alibaba(400, &[], &body);
        assert_eq!(gateway.code, ErrorCode::Throttled, "{code}");
        assert!(gateway.retryable, "{code}");
    }
}

#[test]
fn alibaba_auth_failures_are_never_retried() {
    for (status, code) in [
        (400, "SignatureDoesNotMatch"),
        (404, "InvalidAccessKeyId.NotFound"),
        (400, "InvalidSecurityToken.Expired"),
        (400, "InvalidSecurityToken.MismatchWithAccessKey"),
        (400, "IllegalTimestamp"),
        (400, "InvalidTimeStamp.Expired"),
        (403, "SomethingElse"),
        (403, "Forbidden.KmsServiceNotEnabled"),
        (401, "Forbidden.NoPermission"),
    ] {
        let body = format!(r#"{{"RequestId":"r","Code":"{code}","Message":"m"}}"#);
        let failure = classify_alibaba(status, &[], &body);
        assert_eq!(failure.code, ErrorCode::Auth, "{code}");
        assert!(!failure.retryable, "{code}");
    }
}

/// Authentication is not authorization: a policy refusing one call (one key, one listing) is
/// `permission_denied`, never retried, never a refused credential; the credential's own refusal (and any 401)
/// stays `auth`. A 403 without a code either cloud documents for a permission stays `auth` too: it proves
/// nothing about the signature.
#[test]
fn permission_refusals_are_not_credential_refusals() {
    let classify = |cloud: Cloud, status: u16, code: &str| {
        let body = match cloud {
            Cloud::Alibaba if code.is_empty() => String::new(),
            Cloud::Alibaba => format!(r#"{{"RequestId":"r","Code":"{code}","Message":"m"}}"#),
            Cloud::Huawei if code.is_empty() => String::new(),
            Cloud::Huawei if code.starts_with("APIG") => {
                format!(r#"{{"error_code":"{code}","error_msg":"m"}}"#)
            }
            Cloud::Huawei => format!(r#"{{"error":{{"error_code":"{code}","error_msg":"m"}}}}"#),
        };
        classify::answer(cloud, status, &HeaderMap::new(), body.as_bytes(), None)
    };
    use ErrorCode::{Auth, PermissionDenied};
    for (cloud, status, code, expected) in [
        (Cloud::Alibaba, 403, "Forbidden.NoPermission", PermissionDenied),
        (Cloud::Alibaba, 403, "Forbidden.RAM", PermissionDenied),
        (Cloud::Alibaba, 400, "Forbidden.RAM", PermissionDenied),
        (Cloud::Alibaba, 403, "NoPermission", PermissionDenied),
        (Cloud::Alibaba, 401, "Forbidden.NoPermission", Auth),
        (Cloud::Alibaba, 400, "SignatureDoesNotMatch", Auth),
        (Cloud::Alibaba, 404, "InvalidAccessKeyId.NotFound", Auth),
        (Cloud::Alibaba, 403, "Forbidden.AccessKeyDisabled", Auth),
        (Cloud::Alibaba, 403, "", Auth),
        (Cloud::Huawei, 403, "KMS.0306", PermissionDenied),
        (Cloud::Huawei, 400, "KMS.0306", PermissionDenied),
        (Cloud::Huawei, 403, "KMS.0303", PermissionDenied),
        (Cloud::Huawei, 403, "CSMS.0403", PermissionDenied),
        (Cloud::Huawei, 403, "APIGW.0302", PermissionDenied),
        (Cloud::Huawei, 403, "APIG.0304", PermissionDenied),
        (Cloud::Huawei, 403, "APIGW.0306", PermissionDenied),
        (Cloud::Huawei, 401, "KMS.0306", Auth),
        (Cloud::Huawei, 401, "APIGW.0301", Auth),
        (Cloud::Huawei, 401, "APIGW.0303", Auth),
        (Cloud::Huawei, 401, "APIGW.0305", Auth),
        (Cloud::Huawei, 401, "APIGW.0307", Auth),
        (Cloud::Huawei, 403, "IAM.0002", Auth),
        (Cloud::Huawei, 403, "", Auth),
        (Cloud::Huawei, 400, "KMS.0303", ErrorCode::Http4xx),
    ] {
        let failure = classify(cloud, status, code);
        assert_eq!(failure.code, expected, "{cloud} {status} {code}");
        assert!(!failure.retryable, "{cloud} {status} {code}");
        if expected == PermissionDenied {
            assert!(!failure.credential_refused, "{cloud} {status} {code}");
        }
    }
}

#[test]
fn only_refusals_of_the_credential_itself_make_the_provider_fetch_anew() {
    let refused = |cloud: Cloud, status: u16, code: &str| {
        let body = match cloud {
            Cloud::Alibaba => format!(r#"{{"Code":"{code}"}}"#),
            Cloud::Huawei => format!(r#"{{"error_code":"{code}"}}"#),
        };
        classify::answer(cloud, status, &HeaderMap::new(), body.as_bytes(), None).credential_refused
    };
    assert!(refused(Cloud::Alibaba, 400, "SignatureDoesNotMatch"));
    assert!(refused(Cloud::Alibaba, 404, "InvalidAccessKeyId.NotFound"));
    assert!(refused(Cloud::Alibaba, 400, "InvalidSecurityToken.Expired"));
    assert!(refused(Cloud::Huawei, 401, "APIGW.0301"));
    assert!(refused(Cloud::Huawei, 401, "IAM.0011"));
    assert!(
        !refused(Cloud::Alibaba, 403, "Forbidden.NoPermission"),
        "a permission, not the key"
    );
    assert!(!refused(Cloud::Huawei, 403, "KMS.0303"));
    assert!(!refused(Cloud::Alibaba, 429, "Rejected.Throttling"));
}

#[test]
fn alibaba_5xx_retries_and_other_4xx_do_not() {
    let server = classify_alibaba(
        503,
        &[],
        r#"{"Code":"ServiceUnavailableTemporary","RequestId":"r"}"#,
    );
    assert_eq!((server.code, server.retryable), (ErrorCode::Http5xx, true));
    let missing = classify_alibaba(
        404,
        &[("x-acs-request-id", "hdr-id")],
        r#"{"Code":"InvalidResourceId.NotFound","Message":"The specified ResourceId is not found.","RequestId":"body-id"}"#,
    );
    assert_eq!((missing.code, missing.retryable), (ErrorCode::Http4xx, false));
    assert_eq!(missing.request_id.as_deref(), Some("hdr-id"), "the header wins");
    assert_eq!(
        missing.detail,
        "HTTP 404 InvalidResourceId.NotFound: The specified ResourceId is not found."
    );
}

#[test]
fn alibaba_xml_errors_are_read() {
    let failure = classify_alibaba(
        429,
        &[],
        "<?xml version='1.0' encoding='UTF-8'?><Error><RequestId>x-1</RequestId><Code>Rejected.Throttling</Code><Message>QPS Limit Exceeded</Message></Error>",
    );
    assert_eq!(failure.code, ErrorCode::Throttled);
    assert_eq!(failure.cloud_code.as_deref(), Some("Rejected.Throttling"));
    assert_eq!(failure.request_id.as_deref(), Some("x-1"));
}

/// Live gateways answer `APIGW.xxxx`, the documentation's tables print `APIG.xxxx`: the code decides alike in
/// both spellings, also where the status alone would not (a 400 or 403 is neither throttling nor a refused
/// key by status).
#[test]
fn huawei_gateway_codes_are_read_in_both_spellings() {
    for prefix in ["APIGW", "APIG"] {
        let body = |n: &str| format!(r#"{{"error_code":"{prefix}.{n}","error_msg":"m","request_id":"r"}}"#);
        let throttled = classify_huawei(400, &[], &body("0308"));
        assert_eq!(
            (throttled.code, throttled.retryable),
            (ErrorCode::Throttled, true),
            "{prefix}"
        );
        let refused = classify_huawei(403, &[], &body("0301"));
        assert_eq!(refused.code, ErrorCode::Auth, "{prefix}");
        assert!(refused.credential_refused, "{prefix}");
        let project = classify_huawei(403, &[], &body("0302"));
        assert_eq!(project.code, ErrorCode::PermissionDenied, "{prefix}");
        assert!(!project.credential_refused, "{prefix}");
    }
    // Not a gateway code: a prefix that merely starts alike.
    let other = classify_huawei(400, &[], r#"{"error_code":"APIGX.0308"}"#);
    assert_eq!(other.code, ErrorCode::Http4xx);
}

#[test]
fn huawei_shapes_map_to_codes() {
    let throttled = classify_huawei(
        429,
        &[("x-request-id", "req-9")],
        r#"{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached","request_id":"body"}"#,
    );
    assert_eq!(
        (throttled.code, throttled.retryable),
        (ErrorCode::Throttled, true)
    );
    assert_eq!(throttled.request_id.as_deref(), Some("req-9"));

    let auth = classify_huawei(
        401,
        &[],
        r#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: verify aksk signature fail"}"#,
    );
    assert_eq!((auth.code, auth.retryable), (ErrorCode::Auth, false));

    let nested = classify_huawei(
        400,
        &[],
        r#"{"error":{"error_code":"CSMS.0005","error_msg":"The resource does not exist."}}"#,
    );
    assert_eq!((nested.code, nested.retryable), (ErrorCode::Http4xx, false));
    assert_eq!(nested.cloud_code.as_deref(), Some("CSMS.0005"));

    let bare = classify_huawei(502, &[], "<html>bad gateway</html>");
    assert_eq!(
        (bare.code, bare.retryable, bare.cloud_code),
        (ErrorCode::Http5xx, true, None)
    );

    let plain_429 = classify_huawei(429, &[("retry-after", "2")], "");
    assert_eq!(plain_429.code, ErrorCode::Throttled);
    assert_eq!(plain_429.retry_after, Some(Duration::from_secs(2)));
}

#[test]
fn messages_never_carry_the_string_to_sign_or_credentials() {
    let credential = Credential::new("STS.id", "the-secret-value", Some("CAIS.secret-token".into()));
    let body = r#"{"RequestId":"r","Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3DSTS.id%26SecurityToken%3DCAIS.secret-token"}"#;
    let failure = classify::answer(
        Cloud::Alibaba,
        400,
        &HeaderMap::new(),
        body.as_bytes(),
        Some(&credential),
    );
    assert!(
        !failure.detail.contains("CAIS.secret-token"),
        "{}",
        failure.detail
    );
    assert!(!failure.detail.contains("AccessKeyId%3D"), "{}", failure.detail);
    assert!(failure.detail.contains("SignatureDoesNotMatch"));

    let echoed =
        r#"{"Code":"InvalidParameter","Message":"bad value the-secret-value and CAIS.secret-token"}"#;
    let failure = classify::answer(
        Cloud::Alibaba,
        400,
        &HeaderMap::new(),
        echoed.as_bytes(),
        Some(&credential),
    );
    assert_eq!(
        failure.detail,
        "HTTP 400 InvalidParameter: bad value <redacted> and <redacted>"
    );
}

// ---- the attempt loop, paused time ----

fn failure(code: ErrorCode, retryable: bool, cloud_code: Option<&str>) -> Failure {
    Failure {
        code,
        retryable,
        retry_after: None,
        status: Some(500),
        cloud_code: cloud_code.map(str::to_owned),
        request_id: Some("rid".into()),
        credential_refused: false,
        detail: format!("HTTP 500 {}", cloud_code.unwrap_or("")),
    }
}

fn ok_response() -> Response {
    Response {
        status: 200,
        headers: HeaderMap::new(),
        body: b"{}".to_vec(),
        request_id: None,
        operation: Operation::AlibabaDescribeKey,
    }
}

/// Runs the loop over scripted outcomes; returns the result and the attempt count.
async fn scripted(
    transport: &Transport,
    call: &Call<'_>,
    script: Vec<Result<(), Failure>>,
) -> (Result<Response, CallError>, u32) {
    let script = Mutex::new(script.into_iter());
    let count = AtomicU32::new(0);
    let result = transport
        .run(call, |_| {
            count.fetch_add(1, Ordering::SeqCst);
            let next = script.lock().unwrap().next().expect("script too short");
            async move {
                match next {
                    Ok(()) => Attempt::Done(ok_response()),
                    Err(f) => Attempt::Failed(f),
                }
            }
        })
        .await;
    (result, count.load(Ordering::SeqCst))
}

#[tokio::test(start_paused = true)]
async fn retries_5xx_until_success_and_reports_every_attempt() {
    let (transport, recorder) = transport(4);
    let call = Call::new(Operation::AlibabaDescribeKey, "acct", "cn-hangzhou");
    let (result, attempts) = scripted(
        &transport,
        &call,
        vec![
            Err(failure(ErrorCode::Http5xx, true, Some("InternalFailure"))),
            Err(failure(ErrorCode::Network, true, None)),
            Ok(()),
        ],
    )
    .await;
    assert!(result.is_ok());
    assert_eq!(attempts, 3);
    let seen = recorder.attempts.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            (Cloud::Alibaba, "DescribeKey", false, Some(ErrorCode::Http5xx)),
            (Cloud::Alibaba, "DescribeKey", true, Some(ErrorCode::Network)),
            (Cloud::Alibaba, "DescribeKey", true, None),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn stops_after_max_attempts_with_the_last_failure() {
    let (transport, recorder) = transport(3);
    let call = Call::new(Operation::HuaweiShowKmsTags, "hw", "cn-north-4");
    let script = (0..3)
        .map(|_| Err(failure(ErrorCode::Throttled, true, Some("APIGW.0308"))))
        .collect();
    let (result, attempts) = scripted(&transport, &call, script).await;
    let error = result.unwrap_err();
    assert_eq!(attempts, 3);
    assert_eq!(error.code, ErrorCode::Throttled);
    assert_eq!(error.attempts, 3);
    assert_eq!(
        error.message,
        "ShowKmsTags: HTTP 500 APIGW.0308 (request id rid) after 3 attempts"
    );
    assert_eq!(recorder.attempts.lock().unwrap().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn auth_and_plain_4xx_failures_are_sent_once() {
    for code in [ErrorCode::Auth, ErrorCode::Http4xx] {
        let (transport, recorder) = transport(5);
        let call = Call::new(Operation::HuaweiListSecrets, "hw", "cn-north-4");
        let (result, attempts) = scripted(
            &transport,
            &call,
            vec![Err(failure(code, false, Some("APIGW.0301")))],
        )
        .await;
        assert_eq!(attempts, 1, "{code}");
        assert_eq!(result.unwrap_err().code, code);
        assert_eq!(recorder.attempts.lock().unwrap().len(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_may_lower_the_attempt_limit_but_not_raise_it() {
    let (transport, _) = transport(3);
    let five_xx = || Err(failure(ErrorCode::Http5xx, true, None));
    let lowered = Call::new(Operation::AlibabaEcsMetadata, "acct", "").max_attempts(1);
    let (_, attempts) = scripted(&transport, &lowered, vec![five_xx()]).await;
    assert_eq!(attempts, 1);
    let raised = Call::new(Operation::AlibabaEcsMetadata, "acct", "").max_attempts(10);
    let (_, attempts) = scripted(&transport, &raised, (0..3).map(|_| five_xx()).collect()).await;
    assert_eq!(attempts, 3);
}

#[tokio::test(start_paused = true)]
async fn a_not_found_answer_is_a_success_for_the_observer() {
    let (transport, recorder) = transport(4);
    let call = Call::new(Operation::AlibabaDescribeKey, "acct", "r").not_found(&["Forbidden.KeyNotFound"]);
    let (result, attempts) = scripted(
        &transport,
        &call,
        vec![Err(failure(
            ErrorCode::Http4xx,
            false,
            Some("Forbidden.KeyNotFound"),
        ))],
    )
    .await;
    let error = result.unwrap_err();
    assert!(error.is_not_found());
    assert_eq!(attempts, 1);
    assert_eq!(recorder.attempts.lock().unwrap()[0].3, None);
}

#[tokio::test(start_paused = true)]
async fn throttling_waits_at_least_the_servers_hint() {
    let (transport, _) = transport(2);
    let call = Call::new(Operation::AlibabaAssumeRoleWithOidc, "acct", "");
    let mut throttled = failure(ErrorCode::Throttled, true, Some("Throttling"));
    throttled.retry_after = Some(Duration::from_millis(1500));
    let started = tokio::time::Instant::now();
    let (result, _) = scripted(&transport, &call, vec![Err(throttled), Ok(())]).await;
    assert!(result.is_ok());
    let waited = started.elapsed();
    // Hint plus at most the throttle base (50 ms in these options).
    assert!(
        waited >= Duration::from_millis(1500) && waited <= Duration::from_millis(1550),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn backoff_between_attempts_stays_under_the_exponential_ceilings() {
    let (transport, _) = transport(4);
    let call = Call::new(Operation::AlibabaAssumeRoleWithOidc, "acct", "");
    let started = tokio::time::Instant::now();
    let script = (0..4)
        .map(|_| Err(failure(ErrorCode::Http5xx, true, None)))
        .collect();
    let _ = scripted(&transport, &call, script).await;
    // Three waits with ceilings 10, 20 and 40 ms.
    assert!(
        started.elapsed() <= Duration::from_millis(70),
        "{:?}",
        started.elapsed()
    );
}

// ---- rate limiting, paused time ----

#[tokio::test(start_paused = true)]
async fn the_token_bucket_holds_the_configured_rate_after_a_one_second_burst() {
    let (transport, _) = transport(1);
    let mut rates = BTreeMap::new();
    rates.insert("kms_read".to_owned(), 10.0);
    transport.set_rate_limits(Cloud::Alibaba, "acct", &rates);
    let limiter = &transport.inner.limiter;
    let started = tokio::time::Instant::now();
    for _ in 0..30 {
        limiter
            .acquire(Cloud::Alibaba, "acct", "cn-hangzhou", "kms_read")
            .await;
    }
    // 10 at once, then 20 more at 10 per second.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1990) && elapsed <= Duration::from_millis(2010),
        "{elapsed:?}"
    );

    // Another region has its own bucket: its burst is immediate.
    let started = tokio::time::Instant::now();
    for _ in 0..10 {
        limiter
            .acquire(Cloud::Alibaba, "acct", "cn-shanghai", "kms_read")
            .await;
    }
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn unconfigured_accounts_use_the_default_rate_and_concurrent_callers_share_it() {
    let (transport, _) = transport(1);
    // Huawei list_secrets defaults to 180 per second.
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..540 {
        let transport = transport.clone();
        tasks.push(tokio::spawn(async move {
            transport
                .inner
                .limiter
                .acquire(Cloud::Huawei, "hw", "cn-north-4", "list_secrets")
                .await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1990) && elapsed <= Duration::from_millis(2010),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn reconfiguring_an_account_changes_a_bucket_in_use() {
    let (transport, _) = transport(1);
    let limiter = &transport.inner.limiter;
    for _ in 0..45 {
        limiter.acquire(Cloud::Alibaba, "acct", "r", "kms_read").await;
    }
    let mut rates = BTreeMap::new();
    rates.insert("kms_read".to_owned(), 1.0);
    transport.set_rate_limits(Cloud::Alibaba, "acct", &rates);
    let started = tokio::time::Instant::now();
    limiter.acquire(Cloud::Alibaba, "acct", "r", "kms_read").await;
    limiter.acquire(Cloud::Alibaba, "acct", "r", "kms_read").await;
    assert!(
        started.elapsed() >= Duration::from_millis(1990),
        "{:?}",
        started.elapsed()
    );
}

// ---- real HTTP ----

mod http {
    use super::*;
    use axum::Router;
    use axum::http::{HeaderMap as AxumHeaders, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::any;

    async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn every_attempt_is_signed_anew_and_a_5xx_is_retried() {
        let nonces = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = nonces.clone();
        let router = Router::new().route(
            "/",
            any(move |headers: AxumHeaders| {
                let seen = seen.clone();
                async move {
                    let nonce = headers["x-acs-signature-nonce"].to_str().unwrap().to_owned();
                    assert!(
                        headers["authorization"]
                            .to_str()
                            .unwrap()
                            .starts_with("ACS3-HMAC-SHA256 Credential=testid,")
                    );
                    let mut seen = seen.lock().unwrap();
                    seen.push(nonce);
                    if seen.len() == 1 {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            r#"{"Code":"ServiceUnavailableTemporary","RequestId":"a"}"#,
                        )
                            .into_response()
                    } else {
                        (StatusCode::OK, r#"{"RequestId":"b","KeyMetadata":{"KeyId":"k"}}"#).into_response()
                    }
                }
            }),
        );
        let endpoint = serve(router).await;
        let (transport, recorder) = transport(3);
        let provider = Fixed(Credential::new("testid", "testsecret", None));
        let request = Request::post(&endpoint, "/").query([("KeyId", "k"), ("RegionId", "r")]);
        let call = Call::new(Operation::AlibabaDescribeKey, "acct", "r");
        let response = transport
            .send(
                &call,
                &request,
                Auth::Signed(&provider, &AlibabaV3::kms("DescribeKey")),
            )
            .await
            .unwrap();
        let body: serde_json::Value = response.json().unwrap();
        assert_eq!(body["KeyMetadata"]["KeyId"], "k");
        assert_eq!(response.request_id.as_deref(), Some("b"));
        let nonces = nonces.lock().unwrap();
        assert_eq!(nonces.len(), 2);
        assert_ne!(nonces[0], nonces[1], "a retry must not replay the nonce");
        assert_eq!(recorder.attempts.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_body_the_call_refuses_is_an_invalid_response_attempt_and_is_retried() {
        let hits = Arc::new(AtomicU32::new(0));
        let counter = hits.clone();
        let router = Router::new().route(
            "/",
            any(move || {
                let counter = counter.clone();
                async move {
                    // First a truncated page, then a whole one.
                    if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                        r#"{"RequestId":"a","KeyMetadata":{"Ke"#
                    } else {
                        r#"{"RequestId":"b","KeyMetadata":{"KeyId":"k"}}"#
                    }
                }
            }),
        );
        let endpoint = serve(router).await;
        let (transport, recorder) = transport(3);
        let provider = Fixed(Credential::new("testid", "testsecret", None));
        let request = Request::post(&endpoint, "/").query([("KeyId", "k")]);
        fn whole(body: &[u8]) -> Result<(), String> {
            serde_json::from_slice::<serde_json::Value>(body)
                .map(drop)
                .map_err(|e| e.to_string())
        }
        let call = Call::new(Operation::AlibabaDescribeKey, "acct", "r").validate(whole);
        let signer = AlibabaV3::kms("DescribeKey");
        let response = transport
            .send(&call, &request, Auth::Signed(&provider, &signer))
            .await
            .unwrap();
        assert_eq!(response.request_id.as_deref(), Some("b"));
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        let attempts = recorder.attempts.lock().unwrap().clone();
        assert_eq!(
            attempts,
            vec![
                (
                    Cloud::Alibaba,
                    "DescribeKey",
                    false,
                    Some(ErrorCode::InvalidResponse)
                ),
                (Cloud::Alibaba, "DescribeKey", true, None),
            ]
        );

        // With every attempt damaged, the call ends invalid_response after the attempt limit.
        let always_bad = |_: &[u8]| Err::<(), String>("never fits".to_owned());
        let call = Call::new(Operation::AlibabaDescribeKey, "acct", "r").validate(always_bad);
        let error = transport
            .send(&call, &request, Auth::Signed(&provider, &signer))
            .await
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidResponse);
        assert_eq!(error.attempts, 3);
        assert!(error.message.contains("never fits"), "{}", error.message);
    }

    #[tokio::test]
    async fn a_slow_answer_is_a_timeout_and_is_retried() {
        let hits = Arc::new(AtomicU32::new(0));
        let counter = hits.clone();
        let router = Router::new().route(
            "/slow",
            any(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }
            }),
        );
        let endpoint = serve(router).await;
        let (transport, _) = transport(2);
        let call = Call::new(Operation::HuaweiEcsMetadata, "acct", "").timeout(Duration::from_millis(100));
        let error = transport
            .send(&call, &Request::get(&endpoint, "/slow"), Auth::Anonymous)
            .await
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::Timeout);
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        assert_eq!(
            error.message,
            "EcsMetadata: no answer within 100 ms after 2 attempts"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_network_error() {
        // Bind then drop, so the port is very likely closed.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let (transport, recorder) = transport(2);
        let call = Call::new(Operation::AlibabaEcsMetadata, "acct", "");
        let error = transport
            .send(
                &call,
                &Request::get(&endpoint, "/latest/api/token"),
                Auth::Anonymous,
            )
            .await
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::Network);
        assert_eq!(error.attempts, 2);
        assert!(
            !error.message.contains("127.0.0.1"),
            "no URL in {}",
            error.message
        );
        assert_eq!(recorder.attempts.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn an_auth_failure_is_sent_once_and_drops_the_cached_credential() {
        let hits = Arc::new(AtomicU32::new(0));
        let counter = hits.clone();
        let router = Router::new().route(
            "/v1/p/secrets",
            any(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    (
                        StatusCode::UNAUTHORIZED,
                        [("x-request-id", "rq-1")],
                        r#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: verify aksk signature fail"}"#,
                    )
                }
            }),
        );
        let endpoint = serve(router).await;
        let (transport, _) = transport(5);
        let provider = Fixed(Credential::new("ak", "sk", None));
        let request = Request::get(&endpoint, "/v1/p/secrets").header("X-Project-Id", "p");
        let call = Call::new(Operation::HuaweiListSecrets, "hw", "cn-north-4");
        let error = transport
            .send(&call, &request, Auth::Signed(&provider, &HuaweiSigner))
            .await
            .unwrap_err();
        assert_eq!(
            hits.load(Ordering::SeqCst),
            1,
            "auth failures must not be retried"
        );
        assert_eq!(error.code, ErrorCode::Auth);
        assert_eq!(error.cloud_code.as_deref(), Some("APIGW.0301"));
        assert_eq!(
            error.message,
            "ListSecrets: HTTP 401 APIGW.0301: Incorrect IAM authentication information: verify aksk signature fail (request id rq-1)"
        );
    }

    #[tokio::test]
    async fn an_https_endpoint_gets_tls_never_a_plain_http_fallback() {
        // The server speaks plain HTTP on the port: a client that fell back to cleartext would read a 200.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                use tokio::io::AsyncWriteExt;
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\n\r\nnot tls").await;
            }
        });
        let (transport, _) = transport(1);
        let call = Call::new(Operation::AlibabaEcsMetadata, "acct", "");
        let error = transport
            .send(
                &call,
                &Request::get(&format!("https://{addr}"), "/"),
                Auth::Anonymous,
            )
            .await
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::Network);
    }
}

#[test]
fn request_urls_encode_the_query_like_the_signers_canonicalise_it() {
    let request =
        Request::get("http://h:8080/", "/a").query([("Tag.1.Key", "cost center"), ("v", "R&D*~/ä")]);
    assert_eq!(request.host(), "h:8080");
    assert_eq!(
        request.url(),
        "http://h:8080/a?Tag.1.Key=cost%20center&v=R%26D%2A~%2F%C3%A4"
    );
}

#[test]
fn every_operation_has_a_unique_label_per_cloud_and_a_known_group() {
    let mut seen = std::collections::HashSet::new();
    for op in Operation::ALL {
        assert!(seen.insert((op.cloud(), op.as_str())), "duplicate {op}");
        if let Some(group) = op.rate_group() {
            assert!(
                tagdrift_core::config::default_rate_limit(op.cloud(), group).is_some(),
                "{op}: unknown group {group}"
            );
        }
    }
}

#[test]
fn debug_of_signed_requests_and_credential_answers_shows_no_secret() {
    let credential = Credential::new("LTAIid", "SecretValue0123", Some("CAISTokenValue4567".to_owned()));
    let now = chrono::Utc::now();
    let rrsa =
        Request::post("https://sts.aliyuncs.com", "/").form_body([("OIDCToken", "eyJOidcTokenValue89")]);
    let signers: [(&dyn Signer, Request); 3] = [
        (
            &AlibabaV1,
            Request::get("https://kms.cn-hangzhou.aliyuncs.com", "/").query([("Action", "ListKeys")]),
        ),
        (
            &AlibabaV3 {
                action: "ListKeys",
                version: "2016-01-20",
            },
            Request::post("https://kms.cn-hangzhou.aliyuncs.com", "/"),
        ),
        (
            &HuaweiSigner,
            Request::get("https://kms.cn-north-4.myhuaweicloud.com", "/v1/p/secrets"),
        ),
    ];
    for (signer, mut request) in signers.into_iter().chain([(&AlibabaV1 as &dyn Signer, rrsa)]) {
        signer.sign(&mut request, &credential, now);
        let raw = format!(
            "{:?} {:?} {}",
            request.query,
            request.headers,
            String::from_utf8_lossy(&request.body)
        );
        assert!(
            raw.contains("CAISTokenValue4567") || raw.contains("eyJOidcTokenValue89"),
            "{raw}"
        );
        let shown = format!("{request:?}");
        for secret in [
            "SecretValue0123",
            "CAISTokenValue4567",
            "eyJOidcTokenValue89",
            "Signature=",
            "Credential=",
            "Access=",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("kms") || shown.contains("sts"), "{shown}");
    }
    let mut answer = ok_response();
    answer.body =
        br#"{"Credentials":{"AccessKeySecret":"SecretValue0123","SecurityToken":"CAISTokenValue4567"}}"#
            .to_vec();
    let shown = format!("{answer:?}");
    assert!(
        !shown.contains("SecretValue0123") && !shown.contains("CAISTokenValue4567"),
        "{shown}"
    );
    assert!(shown.contains("body_bytes"), "{shown}");
}

/// Error answers of any shape: classification never panics, the detail stays short, on one line, and free of
/// the credential, whether the cloud echoes it raw or percent-encoded (once, as in a V3 canonical query, or
/// twice, as in a V1 string to sign).
mod bad_input {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::credential::Credential;
    use crate::signing::percent_encode;

    const SEEDS: &[&str] = &[
        r#"{"RequestId":"r-1","HostId":"kms.cn-hangzhou.aliyuncs.com","Code":"Throttling.User","Message":"Request was denied due to user flow control.","Recommend":"https://api.aliyun.com"}"#,
        r#"{"code":"Rejected.Throttling","message":"QPS Limit Exceeded","requestId":"r-1"}"#,
        r#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information","request_id":"r-1"}"#,
        r#"{"error":{"error_code":"CSMS.0005","error_msg":"secret not found"}}"#,
        r#"{"errorCode":"KMS.0401","errorMsg":"bad"}"#,
    ];

    fn junk() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            prop::arbitrary::any::<bool>().prop_map(Value::Bool),
            prop::arbitrary::any::<i64>().prop_map(|n| json!(n)),
            Just(json!(1e300)),
            "\\PC{0,40}".prop_map(Value::String),
            "[\\x00-\\x1f]{1,10}".prop_map(Value::String),
            (1usize..100_000).prop_map(|n| Value::String("m".repeat(n))),
            Just(json!([])),
            Just(json!({"error": {"error": {"code": "X"}}})),
        ]
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            3 => (prop::sample::select(SEEDS), "[A-Za-z_]{1,12}", junk()).prop_map(|(seed, key, junk)| {
                let mut doc: Value = serde_json::from_str(seed).unwrap();
                let map = doc.as_object_mut().unwrap();
                let target = map.keys().find(|k| k.eq_ignore_ascii_case(&key)).cloned().unwrap_or(key);
                map.insert(target, junk);
                serde_json::to_vec(&doc).unwrap()
            }),
            1 => (prop::sample::select(SEEDS), prop::arbitrary::any::<prop::sample::Index>())
                .prop_map(|(s, at)| s.as_bytes()[..at.index(s.len())].to_vec()),
            1 => ("\\PC{0,30}", "\\PC{0,30}", "\\PC{0,30}").prop_map(|(c, m, r)| {
                format!("<?xml version='1.0'?><Error><Code>{c}</Code><Message>{m}</Message><RequestId>{r}</RequestId></Error>").into_bytes()
            }),
            1 => prop::collection::vec(prop::arbitrary::any::<u8>(), 0..300),
            1 => (0usize..50_000).prop_map(|n| format!("{}{}", "{\"error\":".repeat(n), "}".repeat(n)).into_bytes()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn any_error_body_classifies(
            body in body(),
            status in 400u16..600,
            huawei in prop::arbitrary::any::<bool>(),
        ) {
            let cloud = if huawei { Cloud::Huawei } else { Cloud::Alibaba };
            let failure = classify::answer(cloud, status, &HeaderMap::new(), &body, None);
            prop_assert_eq!(failure.status, Some(status));
            prop_assert!(!failure.detail.chars().any(char::is_control), "{:?}", failure.detail);
            // "HTTP nnn", the code and the message, each cut at 300 characters.
            prop_assert!(failure.detail.chars().count() <= 9 + 301 + 2 + 301, "{}", failure.detail.len());
        }

        #[test]
        fn the_credential_never_survives_in_an_error_message(
            secret in "[A-Za-z0-9+/=]{8,40}",
            token in "CAIS[A-Za-z0-9+/=]{8,200}",
            before in "\\PC{0,80}",
            after in "\\PC{0,80}",
            encoding in 0..3usize,
            phrase in prop::sample::select(vec!["", "server string to sign is:", "Server String To Sign Is:", "string to sign: "]),
            huawei in prop::arbitrary::any::<bool>(),
        ) {
            let credential = Credential::new("LTAIid", secret.clone(), Some(token.clone()));
            let encode = |s: &str| match encoding {
                0 => s.to_owned(),
                1 => percent_encode(s),
                _ => percent_encode(&percent_encode(s)),
            };
            let message = format!(
                "{before}{phrase}GET&%2F&AccessKeyId%3DLTAIid%26SecurityToken%3D{}&x={}{after}",
                encode(&token),
                encode(&secret)
            );
            let scrubbed = classify::scrub(&message, Some(&credential));
            for form in [secret.clone(), token.clone(), percent_encode(&secret), percent_encode(&token)] {
                prop_assert!(!scrubbed.contains(&form), "{form} in {scrubbed}");
            }
            let (code, text) = if huawei { ("error_msg", "error_code") } else { ("Message", "Code") };
            let body = json!({text: "SignatureDoesNotMatch", code: message}).to_string();
            let cloud = if huawei { Cloud::Huawei } else { Cloud::Alibaba };
            let failure = classify::answer(cloud, 400, &HeaderMap::new(), body.as_bytes(), Some(&credential));
            prop_assert!(!failure.detail.contains(&token) && !failure.detail.contains(&secret), "{}", failure.detail);
            prop_assert!(!failure.detail.contains(&percent_encode(&token)), "{}", failure.detail);
        }
    }

    /// Regression: a token echoed percent-encoded (as Alibaba's string to sign carries it) was only cut when
    /// the message used the exact phrase "server string to sign is".
    #[test]
    fn regression_a_percent_encoded_token_is_redacted() {
        let credential = Credential::new("LTAIid", "s3cret/Value+1=", Some("CAIS+tok/en==".to_owned()));
        for message in [
            "Server String To Sign Is: GET&%2F&SecurityToken%3DCAIS%252Btok%252Fen%253D%253D",
            "bad signature, string to sign GET&%2F&SecurityToken%3DCAIS%2Btok%2Fen%3D%3D&k=s3cret%2FValue%2B1%3D",
        ] {
            let scrubbed = classify::scrub(message, Some(&credential));
            assert!(!scrubbed.contains("tok"), "{scrubbed}");
            assert!(!scrubbed.contains("Value"), "{scrubbed}");
        }
    }
}
