use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::auth::{self, parse_sdk_date};
use super::request::{HwRequest, parse_query};
use super::tagging::{self, Action, Service};
use super::*;
use crate::{Clock, Faults, Inventory, Options, Store};

const PID: &str = "0123456789abcdef0123456789abcdef";
const HOST: &str = "kms.cn-north-4.myhuaweicloud.com";

fn inventory() -> &'static str {
    "huawei:
  - name: hw
    ak: testak
    sk: testsk
    security_tokens:
      - {ak: TMPAK, sk: tmpsk, security_token: testtoken, expires_at: 2026-01-01T00:10:00Z}
    projects:
      - region: cn-north-4
        project_id: 0123456789abcdef0123456789abcdef
        keys:
          - {id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, alias: app-key, tags: {owner: platform}}
        secrets:
          - {name: db-password, id: db-password, tags: {owner: payments}}
"
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn state_at(now: &str) -> Arc<State> {
    let store = Store::from_inventory(Inventory::parse(inventory(), "test").unwrap()).unwrap();
    State::new(
        store,
        Options::default(),
        Faults::default(),
        Clock::manual(t(now)),
    )
}

fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> HwRequest {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    HwRequest::new(
        &Method::from_bytes(method.as_bytes()).unwrap(),
        &uri.parse::<Uri>().unwrap(),
        &map,
        Bytes::from(body.to_owned()),
    )
}

/// The reference vector V1 request (GET secret tags of `db-password`) with a given signature.
fn v1(signature: &str, extra: &[(&str, &str)], signed: &str) -> HwRequest {
    let auth = format!("SDK-HMAC-SHA256 Access=testak, SignedHeaders={signed}, Signature={signature}");
    let mut headers = vec![
        ("content-type", "application/json"),
        ("host", HOST),
        ("x-project-id", PID),
        ("x-sdk-date", "20260101T000000Z"),
        ("authorization", auth.as_str()),
    ];
    headers.extend_from_slice(extra);
    request("GET", &format!("/v1/{PID}/csms/db-password/tags"), &headers, "")
}

const V1_SIG: &str = "d979eb9f037ad79cf532a5c5073f7fdae9b4b01beaacd86972f9f1406ff9ce2b";
const V1_SIGNED: &str = "content-type;host;x-project-id;x-sdk-date";

#[test]
fn routes_follow_the_reference_paths() {
    let seg = |p: &str| -> Vec<String> { p.split('/').map(str::to_owned).collect() };
    let r = Route::parse("GET", &seg(&format!("v1/{PID}/csms/abc/tags"))).unwrap();
    assert_eq!(
        (r.api, r.project_id.as_str(), r.resource.as_deref()),
        (Api::ListSecretTags, PID, Some("abc"))
    );
    let cases = [
        ("GET", "v1/p/secrets", Api::ListSecrets),
        ("GET", "v1/p/secrets/db-password", Api::ShowSecret),
        ("GET", "v1/p/csms/tags", Api::ListProjectSecretsTags),
        (
            "POST",
            "v1/p/csms/resource_instances/action",
            Api::ListResourceInstances,
        ),
        ("POST", "v1/p/csms/s/tags", Api::CreateSecretTag),
        ("POST", "v1/p/csms/s/tags/action", Api::BatchCreateOrDeleteTags),
        ("DELETE", "v1/p/csms/s/tags/action", Api::DeleteSecretTag),
        ("POST", "v1.0/p/kms/list-keys", Api::ListKeys),
        ("POST", "v1.0/p/kms/describe-key", Api::ListKeyDetail),
        ("GET", "v1.0/p/kms/tags", Api::ListKmsTags),
        ("POST", "v1.0/p/kms/resource_instances/action", Api::ListKmsByTags),
        ("GET", "v1.0/p/kms/k/tags", Api::ShowKmsTags),
        ("POST", "v1.0/p/kms/k/tags", Api::CreateKmsTag),
        ("POST", "v1.0/p/kms/k/tags/action", Api::BatchCreateKmsTags),
        ("DELETE", "v1.0/p/kms/k/tags/env", Api::DeleteTag),
    ];
    for (method, path, api) in cases {
        assert_eq!(
            Route::parse(method, &seg(path)).map(|r| r.api),
            Some(api),
            "{method} {path}"
        );
    }
    for (method, path) in [
        ("GET", "v1/p/kms/k/tags"),
        ("POST", "v1/p/secrets"),
        ("GET", "v1.0/p/kms/list-keys"),
        ("PUT", "v1.0/p/kms/k/tags"),
        ("GET", "v1/p/csms/s/tags/action"),
    ] {
        assert_eq!(Route::parse(method, &seg(path)), None, "{method} {path}");
    }
    // Segments are decoded: a tag key with a slash or a space arrives whole.
    let r = request("DELETE", "/v1.0/p/kms/k/tags/a%2Fb%20c/", &[], "");
    assert_eq!(r.segments, ["v1.0", "p", "kms", "k", "tags", "a/b c"]);
    assert_eq!(
        Route::parse("DELETE", &r.segments).unwrap().tag_key.as_deref(),
        Some("a/b c")
    );
    assert_eq!(
        parse_query("limit=50&marker=db%20password&x"),
        [("limit", "50"), ("marker", "db password"), ("x", "")].map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
}

#[test]
fn error_bodies_have_the_three_documented_shapes() {
    let dew = HwError::dew(
        StatusCode::BAD_REQUEST,
        "CSMS.0005",
        "The resource does not exist.",
    );
    assert_eq!(
        dew.body("rid"),
        json!({"error": {"error_code": "CSMS.0005", "error_msg": "The resource does not exist."}})
    );
    let gw = throttled(180.0);
    assert_eq!(gw.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        gw.body("rid"),
        json!({"error_code": "APIGW.0308",
               "error_msg": "The throttling threshold has been reached: policy user over ratelimit,limit:180,time:1 second",
               "request_id": "rid"})
    );
    let iam = HwError::new(StatusCode::BAD_REQUEST, "IAM.0011", "bad", Shape::Iam);
    assert_eq!(
        iam.body("rid"),
        json!({"error_code": "IAM.0011", "error_msg": "bad"})
    );
    let (_, headers, _) = dew.parts("0123");
    assert_eq!(headers["x-request-id"], "0123");
    assert_eq!(headers["content-type"], "application/json;charset=utf-8");
}

#[test]
fn sdk_dates_parse_only_in_the_basic_format() {
    assert_eq!(
        parse_sdk_date("20260101T000000Z"),
        Some(t("2026-01-01T00:00:00Z"))
    );
    assert_eq!(parse_sdk_date("2026-01-01T00:00:00Z"), None);
    assert_eq!(parse_sdk_date("20260101T000000"), None);
    assert_eq!(
        format_expires_at(t("2026-01-01T06:00:00Z")),
        "2026-01-01T06:00:00.000000Z"
    );
}

#[test]
fn reference_vector_verifies_and_every_alteration_fails() {
    let state = state_at("2026-01-01T00:00:00Z");
    let p = auth::verify(&state, &v1(V1_SIG, &[], V1_SIGNED)).unwrap();
    assert_eq!(
        (p.account, p.access_key_id.as_str(), p.temporary),
        (0, "testak", false)
    );

    // One hex digit of the signature, an unsigned header changed (fine), a signed one changed (not).
    let bad_sig = format!("{}0", &V1_SIG[..63]);
    let e = auth::verify(&state, &v1(&bad_sig, &[], V1_SIGNED)).unwrap_err();
    assert_eq!((e.status, &*e.code), (StatusCode::UNAUTHORIZED, "APIGW.0301"));
    assert!(e.message.ends_with(auth::SIGNATURE_FAIL), "{}", e.message);
    assert!(auth::verify(&state, &v1(V1_SIG, &[("user-agent", "x")], V1_SIGNED)).is_ok());

    // Signed headers the request lacks are named.
    let e = auth::verify(&state, &v1(V1_SIG, &[], &format!("{V1_SIGNED};x-extra"))).unwrap_err();
    assert!(e.message.contains("x-extra"), "{}", e.message);

    // 15 minutes of skew either way is accepted, one second more is not.
    for (now, ok) in [
        ("2026-01-01T00:15:00Z", true),
        ("2025-12-31T23:45:00Z", true),
        ("2026-01-01T00:15:01Z", false),
        ("2025-12-31T23:44:59Z", false),
    ] {
        let r = auth::verify(&state_at(now), &v1(V1_SIG, &[], V1_SIGNED));
        assert_eq!(r.is_ok(), ok, "{now}");
        if let Err(e) = r {
            assert_eq!(&*e.code, "APIGW.0301");
            assert!(e.message.contains("expired"), "{}", e.message);
        }
    }

    let unsigned = request("GET", &format!("/v1/{PID}/secrets"), &[], "");
    let e = auth::verify(&state, &unsigned).unwrap_err();
    assert_eq!(
        e.message,
        "Incorrect IAM authentication information: x-auth-token not found"
    );
}

#[test]
fn request_debug_never_shows_header_values() {
    let r = v1(V1_SIG, &[("x-security-token", "testtoken")], V1_SIGNED);
    let shown = format!("{r:?}");
    assert!(
        shown.contains("authorization") && shown.contains("x-security-token"),
        "{shown}"
    );
    assert!(!shown.contains(V1_SIG) && !shown.contains("testtoken"), "{shown}");
}

#[test]
fn security_token_vector_needs_its_token_and_expires() {
    // V5: V1 plus X-Security-Token: testtoken, signed by testak/testsk. Served here as the temporary key
    // TMPAK would be: the signature must be made with the temporary SK, so recompute with the signer.
    let state = state_at("2026-01-01T00:00:00Z");
    let v5 = "98a45497f4ae9446170711ccf35eadf35e6127b150ece09456bdb6603d903828";
    let signed = "content-type;host;x-project-id;x-sdk-date;x-security-token";
    // testak is permanent: its token is ignored, the signature (over the token header) still verifies.
    assert!(auth::verify(&state, &v1(v5, &[("x-security-token", "testtoken")], signed)).is_ok());

    let sign_tmp = |token: &str| {
        let own: Vec<(String, String)> = [("content-type", "application/json"), ("x-project-id", PID)]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let path = format!("/v1/{PID}/csms/db-password/tags");
        let added = tagdrift_cloud::huawei::sign::sign(
            &tagdrift_cloud::huawei::sign::Call {
                method: "GET",
                host: HOST,
                path: &path,
                query: &[],
                headers: &own,
                body: b"",
                sdk_date: "20260101T000000Z",
            },
            &tagdrift_cloud::huawei::sign::Credential {
                ak: "TMPAK".into(),
                sk: "tmpsk".into(),
                security_token: Some(token.into()),
            },
        );
        let mut all = own.clone();
        all.push(("host".into(), HOST.into()));
        all.extend(added.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)));
        let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        request("GET", &path, &refs, "")
    };
    let p = auth::verify(&state, &sign_tmp("testtoken")).unwrap();
    assert!(p.temporary);
    let e = auth::verify(&state, &sign_tmp("othertoken")).unwrap_err();
    assert_eq!(
        (&*e.code, e.message.as_str()),
        (
            "APIGW.0301",
            "Incorrect IAM authentication information: decrypt token fail"
        )
    );
    state.clock().advance(chrono::TimeDelta::seconds(600));
    let e = auth::verify(&state, &sign_tmp("testtoken")).unwrap_err();
    assert_eq!((e.status, &*e.code), (StatusCode::UNAUTHORIZED, "APIGW.0307"));
}

#[test]
fn more_than_five_bad_signatures_lock_the_access_key_for_five_minutes() {
    let state = state_at("2026-01-01T00:00:00Z");
    let bad = v1(&"0".repeat(64), &[], V1_SIGNED);
    let good = v1(V1_SIG, &[], V1_SIGNED);
    // Five failures, a success resets the run, five more still leave the key usable.
    for _ in 0..5 {
        assert!(
            auth::verify(&state, &bad)
                .unwrap_err()
                .message
                .ends_with(auth::SIGNATURE_FAIL)
        );
    }
    assert!(auth::verify(&state, &good).is_ok());
    for _ in 0..5 {
        auth::verify(&state, &bad).unwrap_err();
    }
    assert!(auth::verify(&state, &good).is_ok());
    // Six in a row lock it: even a correct signature is refused until five minutes have passed.
    for _ in 0..6 {
        auth::verify(&state, &bad).unwrap_err();
    }
    let e = auth::verify(&state, &good).unwrap_err();
    assert_eq!(&*e.code, "APIGW.0301");
    assert!(e.message.contains("locked"), "{}", e.message);
    // The vector's date stays within the 15-minute skew while the clock moves 5 minutes on.
    state.clock().advance(chrono::TimeDelta::seconds(299));
    assert!(
        auth::verify(&state, &good)
            .unwrap_err()
            .message
            .contains("locked")
    );
    state.clock().advance(chrono::TimeDelta::seconds(1));
    assert!(auth::verify(&state, &good).is_ok());
}

#[test]
fn tag_rules_differ_between_csms_and_kms() {
    let csms = Service::Csms;
    let kms = Service::Kms;
    let k128 = "k".repeat(128);
    let k129 = "k".repeat(129);
    for key in ["env", "cost center", "a.b:c=d+e-f@g", "ключ", k128.as_str()] {
        assert!(csms.check_key(key).is_ok(), "{key}");
    }
    for key in ["", " env", "env ", "_sys_x", "a/b", "a*b", k129.as_str()] {
        assert_eq!(&*csms.check_key(key).unwrap_err().code, "CSMS.0002", "{key}");
    }
    assert!(csms.check_value("").is_ok());
    assert!(csms.check_value("a/b").is_ok());
    assert!(csms.check_value(&"v".repeat(256)).is_err());
    assert!(kms.check_key("a/b _sys_").is_ok());
    assert!(kms.check_key(&"k".repeat(37)).is_err());
    assert_eq!(
        &*kms.check_key("_sys_enterprise_project_id").unwrap_err().code,
        "KMS.0402"
    );
    for bad in ["a*b", "a<b", "a>b", "a\\b", "a=b", "a\tb"] {
        assert_eq!(&*kms.check_key(bad).unwrap_err().code, "KMS.0402", "{bad}");
        assert_eq!(&*kms.check_value(bad).unwrap_err().code, "KMS.0403", "{bad}");
    }
    assert!(kms.check_value(&"v".repeat(43)).is_ok());
    assert!(kms.check_value(&"v".repeat(44)).is_err());
}

#[test]
fn batch_bodies_parse_and_apply_all_or_nothing() {
    let c = tagging::parse_batch(
        Service::Csms,
        br#"{"action": "create", "tags": [{"key": "env", "value": "prod"}]}"#,
    )
    .unwrap();
    assert_eq!(
        (c.action, c.tags.clone()),
        (Action::Create, vec![("env".into(), "prod".into())])
    );
    let d = tagging::parse_batch(Service::Kms, br#"{"action":"delete","tags":[{"key":"env"}]}"#).unwrap();
    assert_eq!(d.action, Action::Delete);
    for (body, code) in [
        (&br#"{"action":"create","tags":[]}"#[..], "KMS.0401"),
        (
            br#"{"action":"update","tags":[{"key":"a","value":"b"}]}"#,
            "KMS.0204",
        ),
        (br#"{"tags":[{"key":"a","value":"b"}]}"#, "KMS.0204"),
        (
            br#"{"action":"create","tags":[{"key":"a","value":"1"},{"key":"a","value":"2"}]}"#,
            "KMS.0405",
        ),
        (br#"{"action":"create","tags":[{"key":"a"}]}"#, "KMS.0204"),
        (b"not json", "KMS.0202"),
    ] {
        assert_eq!(
            &*tagging::parse_batch(Service::Kms, body).unwrap_err().code,
            code,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert_eq!(
        &*tagging::parse_batch(Service::Csms, b"[").unwrap_err().code,
        "CSMS.0004"
    );
    let single =
        tagging::parse_single(Service::Kms, br#"{"tag":{"key":"k","value":"v"},"sequence":"s"}"#).unwrap();
    assert_eq!(single.tags, vec![("k".to_owned(), "v".to_owned())]);

    // Ten tags fit a key; an eleventh new key changes nothing.
    let mut store = Store::from_inventory(Inventory::parse(inventory(), "t").unwrap()).unwrap();
    let key = store.huawei[0].projects[0].tables.keys.at_mut(0).unwrap();
    let nine: Vec<(String, String)> = (0..9).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let change = tagging::TagChange {
        action: Action::Create,
        tags: nine,
    };
    tagging::apply(Service::Kms, key, &change).unwrap();
    assert_eq!(key.tags.len(), 10);
    // Overwriting an existing key does not count as a new one.
    let overwrite = tagging::TagChange {
        action: Action::Create,
        tags: vec![("owner".into(), "x".into())],
    };
    tagging::apply(Service::Kms, key, &overwrite).unwrap();
    assert_eq!(key.tags.get("owner"), Some("x"));
    let more = tagging::TagChange {
        action: Action::Create,
        tags: vec![("owner".into(), "y".into()), ("new".into(), "v".into())],
    };
    assert_eq!(
        &*tagging::apply(Service::Kms, key, &more).unwrap_err().code,
        "KMS.0404"
    );
    assert_eq!(key.tags.get("owner"), Some("x"));
    let delete = tagging::TagChange {
        action: Action::Delete,
        tags: vec![("owner".into(), String::new()), ("absent".into(), String::new())],
    };
    tagging::apply(Service::Kms, key, &delete).unwrap();
    assert_eq!(key.tags.len(), 9);
}

// See: issue 12, point 9. Default master keys and keys or secrets pending deletion show their state in the
// listings and refuse tag calls with the error tables' codes.
#[test]
fn untaggable_keys_and_secrets_show_their_state_and_refuse_tag_calls() {
    let inv = format!(
        "huawei:
  - name: hw
    ak: testak
    sk: testsk
    projects:
      - region: cn-north-4
        project_id: {PID}
        keys:
          - {{id: 00000000-0000-4000-8000-000000000001, alias: app-key, tags: {{owner: a}}}}
          - {{id: 00000000-0000-4000-8000-000000000002, alias: obs/default, default: true}}
          - {{id: 00000000-0000-4000-8000-000000000003, alias: old-key, pending_deletion: true, tags: {{owner: a}}}}
        secrets:
          - {{name: live, id: live-id, tags: {{owner: a}}}}
          - {{name: doomed, id: doomed-id, pending_deletion: true, tags: {{owner: a}}}}
"
    );
    let store = Store::from_inventory(Inventory::parse(&inv, "test").unwrap()).unwrap();
    let state = State::new(
        store,
        Options::default(),
        Faults::default(),
        Clock::manual(t("2025-06-01T00:00:00Z")),
    );
    let principal = Principal {
        account: 0,
        access_key_id: "testak".into(),
        temporary: false,
    };
    let call = |method: &str, path: &str, body: &str| {
        let full = if path.starts_with("/kms") {
            format!("/v1.0/{PID}{path}")
        } else {
            format!("/v1/{PID}{path}")
        };
        let req = request(method, &full, &[("content-type", "application/json")], body);
        let route = Route::parse(&req.method, &req.segments).unwrap_or_else(|| panic!("{full} routes"));
        let result = if route.api.is_csms() {
            csms::execute(&state, &req, &route, &principal)
        } else {
            kms::execute(&state, &req, &route, &principal)
        };
        match result {
            Ok(Success::Json(v)) => Ok(v),
            Ok(_) => Ok(json!(null)),
            Err(e) => Err((e.status, e.code.to_string())),
        }
    };
    let listed = call("POST", "/kms/list-keys", r#"{"limit":"10","key_spec":"ALL"}"#).unwrap();
    let states: Vec<(String, String)> = listed["key_details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["key_state"].as_str().unwrap().to_owned(),
                d["default_key_flag"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("2".into(), "0".into()),
            ("2".into(), "1".into()),
            ("4".into(), "0".into())
        ]
    );
    // The documented `key_state` filter selects by state.
    let pending = call("POST", "/kms/list-keys", r#"{"key_spec":"ALL","key_state":"4"}"#).unwrap();
    assert_eq!(pending["keys"], json!(["00000000-0000-4000-8000-000000000003"]));

    let bad = StatusCode::BAD_REQUEST;
    for (method, path, body, want) in [
        ("GET", "/kms/00000000-0000-4000-8000-000000000001/tags", "", None),
        (
            "GET",
            "/kms/00000000-0000-4000-8000-000000000002/tags",
            "",
            Some("KMS.0211"),
        ),
        (
            "GET",
            "/kms/00000000-0000-4000-8000-000000000003/tags",
            "",
            Some("KMS.0210"),
        ),
        (
            "POST",
            "/kms/00000000-0000-4000-8000-000000000003/tags/action",
            r#"{"action":"create","tags":[{"key":"k","value":"v"}]}"#,
            Some("KMS.0210"),
        ),
        ("GET", "/csms/live-id/tags", "", None),
        ("GET", "/csms/doomed-id/tags", "", Some("CSMS.0107")),
        (
            "POST",
            "/csms/doomed-id/tags/action",
            r#"{"action":"create","tags":[{"key":"k","value":"v"}]}"#,
            Some("CSMS.0103"),
        ),
    ] {
        let got = call(method, path, body);
        match want {
            None => assert!(got.is_ok(), "{method} {path}: {got:?}"),
            Some(code) => assert_eq!(got, Err((bad, code.to_owned())), "{method} {path}"),
        }
    }
    let secrets = call("GET", "/secrets", "").unwrap();
    let states: Vec<&str> = secrets["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["PENDING_DELETE", "ENABLED"]);
}

#[test]
fn resource_instance_queries() {
    let q = tagging::parse_instance_query(
        Service::Csms,
        br#"{"action":"filter","limit":"1000","offset":0,"tags":[{"key":"env","values":["prod","stage"]},{"key":"owner","values":[]}],"matches":[{"key":"resource_name","value":"db-"}]}"#,
    )
    .unwrap();
    assert_eq!((q.count, q.limit, q.offset), (false, 1000, 0));
    let tags = |pairs: &[(&str, &str)]| {
        let mut t = crate::store::TagList::default();
        for (k, v) in pairs {
            t.set(k, v);
        }
        t
    };
    assert!(q.selects("db-a", &tags(&[("env", "prod"), ("owner", "x")])));
    assert!(q.selects("my-db-a", &tags(&[("env", "stage"), ("owner", "")])));
    assert!(!q.selects("db-a", &tags(&[("env", "dev"), ("owner", "x")])));
    assert!(!q.selects("db-a", &tags(&[("env", "prod")])));
    assert!(!q.selects("web", &tags(&[("env", "prod"), ("owner", "x")])));

    let q = tagging::parse_instance_query(Service::Kms, br#"{"action":"count"}"#).unwrap();
    assert!(q.count && q.tags.is_empty());
    assert_eq!(
        tagging::parse_instance_query(Service::Kms, br#"{"action":"filter"}"#)
            .unwrap()
            .limit,
        10
    );
    for (body, code) in [
        (&br#"{"action":"filter","limit":"0"}"#[..], "KMS.0204"),
        (br#"{"action":"filter","limit":1001}"#, "KMS.0204"),
        (br#"{"action":"filter","offset":"-1"}"#, "KMS.0204"),
        (br#"{"action":"list"}"#, "KMS.0204"),
        (
            br#"{"action":"filter","matches":[{"key":"resource_id","value":"x"}]}"#,
            "KMS.0415",
        ),
    ] {
        assert_eq!(
            &*tagging::parse_instance_query(Service::Kms, body)
                .unwrap_err()
                .code,
            code,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let eleven: Vec<_> = (0..11).map(|i| json!({"key": format!("k{i}")})).collect();
    let body = serde_json::to_vec(&json!({"action": "filter", "tags": eleven})).unwrap();
    assert!(tagging::parse_instance_query(Service::Csms, &body).is_err());
    let ten: Vec<_> = (0..10).map(|i| json!({"key": format!("k{i}")})).collect();
    let body = serde_json::to_vec(&json!({"action": "filter", "tags": ten})).unwrap();
    assert!(tagging::parse_instance_query(Service::Csms, &body).is_ok());
}

/// Arbitrary paths, queries and bodies through the request parser, the router and every DEW handler: a
/// client error or a success, never a panic or a 5xx.
mod bad_input {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use tagdrift_cloud::signing::percent_encode;

    const ROUTES: &[(&str, &str)] = &[
        ("GET", "v1/{p}/secrets"),
        ("GET", "v1/{p}/secrets/{r}"),
        ("GET", "v1/{p}/csms/tags"),
        ("POST", "v1/{p}/csms/resource_instances/action"),
        ("GET", "v1/{p}/csms/{r}/tags"),
        ("POST", "v1/{p}/csms/{r}/tags"),
        ("POST", "v1/{p}/csms/{r}/tags/action"),
        ("DELETE", "v1/{p}/csms/{r}/tags/{k}"),
        ("POST", "v1.0/{p}/kms/list-keys"),
        ("POST", "v1.0/{p}/kms/describe-key"),
        ("GET", "v1.0/{p}/kms/tags"),
        ("POST", "v1.0/{p}/kms/resource_instances/action"),
        ("GET", "v1.0/{p}/kms/{r}/tags"),
        ("POST", "v1.0/{p}/kms/{r}/tags"),
        ("POST", "v1.0/{p}/kms/{r}/tags/action"),
        ("DELETE", "v1.0/{p}/kms/{r}/tags/{k}"),
    ];

    /// Valid bodies of the POST routes, mutated below.
    const BODIES: &[&str] = &[
        r#"{"action":"filter","limit":"10","offset":"0","tags":[{"key":"owner","values":["payments"]}],"matches":[{"key":"resource_name","value":"db"}]}"#,
        r#"{"action":"count"}"#,
        r#"{"action":"create","tags":[{"key":"env","value":"prod"}]}"#,
        r#"{"action":"delete","tags":[{"key":"env"}]}"#,
        r#"{"tag":{"key":"env","value":"prod"}}"#,
        r#"{"limit":"10","marker":"0","key_spec":"ALL"}"#,
        r#"{"key_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f"}"#,
    ];

    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "0123456789abcdef0123456789abcdef",
                "db-password",
                "0d0466b0-e727-4d9c-b35d-f84bb474a37f",
                "owner",
                "",
            ])
            .prop_map(str::to_owned),
            "\\PC{0,20}",
            (1usize..20_000).prop_map(|n| "z".repeat(n)),
        ]
    }

    fn junk() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            prop::arbitrary::any::<bool>().prop_map(Value::Bool),
            prop::arbitrary::any::<i64>().prop_map(|n| serde_json::json!(n)),
            prop::arbitrary::any::<u64>().prop_map(|n| serde_json::json!(n)),
            Just(serde_json::json!(1e300)),
            "\\PC{0,20}".prop_map(Value::String),
            (1usize..50_000).prop_map(|n| Value::String("t".repeat(n))),
            Just(serde_json::json!([])),
            Just(serde_json::json!({})),
            Just(serde_json::json!([{"key": 1, "value": [], "values": "x"}])),
            (0usize..300).prop_map(|n| Value::Array(vec![serde_json::json!({"key": "k", "value": "v"}); n])),
        ]
    }

    fn all_pointers(value: &Value, at: String, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => map
                .iter()
                .for_each(|(k, v)| all_pointers(v, format!("{at}/{k}"), out)),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .for_each(|(i, v)| all_pointers(v, format!("{at}/{i}"), out)),
            _ => {}
        }
        out.push(at);
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            3 => (prop::sample::select(BODIES), prop::arbitrary::any::<prop::sample::Index>(), junk()).prop_map(|(seed, at, junk)| {
                let mut doc: Value = serde_json::from_str(seed).unwrap();
                let mut pointers = Vec::new();
                all_pointers(&doc, String::new(), &mut pointers);
                *doc.pointer_mut(at.get(pointers.as_slice()).as_str()).unwrap() = junk;
                serde_json::to_vec(&doc).unwrap()
            }),
            1 => prop::sample::select(BODIES).prop_map(|b| b.as_bytes().to_vec()),
            1 => (prop::sample::select(BODIES), prop::arbitrary::any::<prop::sample::Index>())
                .prop_map(|(b, at)| b.as_bytes()[..at.index(b.len())].to_vec()),
            1 => prop::collection::vec(prop::arbitrary::any::<u8>(), 0..100),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_requests_get_a_client_error_or_an_answer(
            (method, template) in prop::sample::select(ROUTES),
            p in segment(),
            r in segment(),
            k in segment(),
            query in prop::collection::vec(("[a-z_]{1,10}", "\\PC{0,12}"), 0..4),
            body in body(),
        ) {
            let path = template
                .replace("{p}", &percent_encode(&p))
                .replace("{r}", &percent_encode(&r))
                .replace("{k}", &percent_encode(&k));
            let query: Vec<String> = query
                .iter()
                .map(|(n, v)| format!("{n}={}", percent_encode(v)))
                .collect();
            let uri = format!("/{path}?{}", query.join("&"));
            let body = String::from_utf8_lossy(&body).into_owned();
            let req = request(method, &uri, &[("content-type", "application/json")], &body);
            let Some(route) = Route::parse(&req.method, &req.segments) else {
                // Percent-encoded slashes stay inside their segment, so only an empty segment (`//`, or a
                // trailing one that is dropped) keeps a template from routing; the gateway answers APIGW.0101.
                let filled = [("{p}", &p), ("{r}", &r), ("{k}", &k)];
                prop_assert!(
                    filled.iter().any(|(name, value)| template.contains(name) && value.is_empty()),
                    "{method} {uri} did not route"
                );
                return Ok(());
            };
            let state = state_at("2025-06-01T00:00:00Z");
            let principal = Principal { account: 0, access_key_id: "testak".into(), temporary: false };
            let result = if route.api.is_csms() {
                csms::execute(&state, &req, &route, &principal)
            } else {
                kms::execute(&state, &req, &route, &principal)
            };
            if let Err(e) = result {
                prop_assert!(e.status.is_client_error(), "{method} {uri} {body}: {} {}", e.status, e.code);
                let _ = e.parts("rid");
            }
        }

        /// Raw paths and queries: the parser never panics, and unknown paths do not route.
        #[test]
        fn arbitrary_paths_parse(segments in prop::collection::vec("\\PC{0,12}", 0..8), query in "\\PC{0,80}") {
            let path: Vec<String> = segments.iter().map(|s| percent_encode(s)).collect();
            let uri = format!("/{}", path.join("/"));
            let req = request("GET", &uri, &[], "");
            let _ = Route::parse("GET", &req.segments);
            let _ = parse_query(&query);
        }
    }
}

/// See: issue 12 (point 5). A read-denied key's or secret's tag reads (and the project-wide batch read that
/// would carry its tags) answer 403 with DEW's nested error body (`KMS.0306`; `CSMS.0403` for secrets, the
/// emulator's own code: no CSMS one is documented); a write-denied one refuses tag writes; the others answer.
#[test]
fn denied_resources_answer_403_with_a_dew_code() {
    let inventory = format!(
        "huawei:
  - name: hw
    ak: testak
    sk: testsk
    projects:
      - region: cn-north-4
        project_id: {PID}
        keys:
          - {{id: key-ok, tags: {{owner: a}}}}
          - {{id: key-hidden, tags: {{owner: b}}, deny: [read]}}
          - {{id: key-frozen, tags: {{owner: c}}, deny: [write]}}
        secrets:
          - {{name: sec-ok, id: sec-ok, tags: {{owner: a}}}}
          - {{name: sec-hidden, id: sec-hidden, tags: {{owner: b}}, deny: [read, write]}}
"
    );
    let store = Store::from_inventory(Inventory::parse(&inventory, "test").unwrap()).unwrap();
    let state = State::new(store, Options::default(), Faults::default(), Clock::system());
    let principal = Principal {
        account: 0,
        access_key_id: "testak".into(),
        temporary: false,
    };
    let tag_write = r#"{"action":"create","tags":[{"key":"k","value":"v"}]}"#;
    // (method, path after the project, body, expected error code or None when answered)
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        ("GET", "v1.0/{p}/kms/key-ok/tags", "", None),
        ("GET", "v1.0/{p}/kms/key-hidden/tags", "", Some("KMS.0306")),
        ("GET", "v1.0/{p}/kms/key-frozen/tags", "", None),
        ("POST", "v1.0/{p}/kms/list-keys", r#"{"key_spec":"ALL"}"#, None),
        (
            "POST",
            "v1.0/{p}/kms/describe-key",
            r#"{"key_id":"key-hidden"}"#,
            Some("KMS.0306"),
        ),
        (
            "POST",
            "v1.0/{p}/kms/resource_instances/action",
            r#"{"action":"filter"}"#,
            Some("KMS.0306"),
        ),
        ("POST", "v1.0/{p}/kms/key-hidden/tags/action", tag_write, None),
        (
            "POST",
            "v1.0/{p}/kms/key-frozen/tags/action",
            tag_write,
            Some("KMS.0306"),
        ),
        ("GET", "v1/{p}/csms/sec-ok/tags", "", None),
        ("GET", "v1/{p}/csms/sec-hidden/tags", "", Some("CSMS.0403")),
        ("GET", "v1/{p}/secrets", "", None),
        (
            "POST",
            "v1/{p}/csms/resource_instances/action",
            r#"{"action":"filter"}"#,
            Some("CSMS.0403"),
        ),
        (
            "POST",
            "v1/{p}/csms/sec-hidden/tags/action",
            tag_write,
            Some("CSMS.0403"),
        ),
        ("POST", "v1/{p}/csms/sec-ok/tags/action", tag_write, None),
    ];
    for (method, path, body, expected) in cases {
        let uri = format!("/{}", path.replace("{p}", PID));
        let req = request(method, &uri, &[("Host", HOST)], body);
        let route = Route::parse(&req.method, &req.segments).unwrap_or_else(|| panic!("{uri}"));
        let result = if route.api.is_csms() {
            csms::execute(&state, &req, &route, &principal)
        } else {
            kms::execute(&state, &req, &route, &principal)
        };
        match (expected, result) {
            (None, Ok(_)) => {}
            (Some(code), Err(e)) => {
                assert_eq!(e.status, StatusCode::FORBIDDEN, "{uri}");
                assert_eq!(&*e.code, *code, "{uri}");
                let body = e.body("rid");
                assert_eq!(body["error"]["error_code"], *code, "{uri}");
                assert!(
                    body["error"]["error_msg"]
                        .as_str()
                        .unwrap()
                        .starts_with("The user has no permission to access the "),
                    "{uri}: {body}"
                );
            }
            (expected, result) => panic!("{method} {uri}: expected {expected:?}, got {result:?}"),
        }
    }
    let store = state.store();
    let keys = &store.huawei[0].projects[0].tables.keys;
    assert_eq!(
        keys.get("key-frozen").unwrap().tags.get("k"),
        None,
        "a refused write changes nothing"
    );
    assert_eq!(keys.get("key-hidden").unwrap().tags.get("k"), Some("v"));
}
