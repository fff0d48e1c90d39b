use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use serde_json::json;

use super::request::{Style, form_decode, parse_pairs};
use super::*;
use crate::inventory::{GenerateOptions, Generated, Inventory, generate};
use crate::{Clock, Faults, Options, Store};

fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> RpcRequest {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    RpcRequest::new(
        &Method::from_bytes(method.as_bytes()).unwrap(),
        &uri.parse::<Uri>().unwrap(),
        &map,
        Bytes::from(body.to_owned()),
    )
}

#[test]
fn form_decoding_matches_the_gateway() {
    let cases = [
        ("cost+center", "cost center"),
        ("cost%20center", "cost center"),
        ("R%26D%2A~%2F%C3%A4", "R&D*~/ä"),
        ("a%2", "a%2"),
        ("%zz", "%zz"),
        ("100%", "100%"),
        ("", ""),
    ];
    for (wire, decoded) in cases {
        assert_eq!(form_decode(wire), decoded, "{wire}");
    }
    assert_eq!(
        parse_pairs("A=1&&B=&C&D=x%3Dy"),
        [("A", "1"), ("B", ""), ("C", ""), ("D", "x=y")].map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
}

#[test]
fn request_parsing_merges_query_and_form_body() {
    let r = request(
        "POST",
        "/?Action=ListKeys&Signature=x",
        &[
            ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("Host", "kms.cn-hangzhou.aliyuncs.com"),
        ],
        "Version=2016-01-20&ResourceId.2=b&ResourceId.1=a&ResourceId.10=c",
    );
    assert_eq!(r.style(), Style::V1);
    assert_eq!(r.action(), Some("ListKeys"));
    assert_eq!(r.version(), Some("2016-01-20"));
    assert_eq!(r.host, "kms.cn-hangzhou.aliyuncs.com");
    assert_eq!(r.query.len(), 2);
    assert_eq!(r.indexed("ResourceId").unwrap(), [(1, "a"), (2, "b"), (10, "c")]);
    assert!(r.wants_xml(), "V1 without Format defaults to XML");

    // A form body is only read with the form content type.
    let r = request("POST", "/?Action=ListKeys", &[], "Version=2016-01-20");
    assert_eq!(r.version(), None);

    let r = request(
        "POST",
        "/?Action=X",
        &[
            ("authorization", "ACS3-HMAC-SHA256 Credential=a"),
            ("x-acs-action", "ListKeys"),
            ("x-acs-version", "v"),
        ],
        "",
    );
    assert_eq!(
        (r.style(), r.action(), r.version(), r.wants_xml()),
        (Style::V3, Some("ListKeys"), Some("v"), true),
        "V3 without Accept gets the documented default, XML"
    );
    let r = request("GET", "/?Action=AssumeRoleWithOIDC&Version=2015-04-01", &[], "");
    assert_eq!(
        (r.style(), r.action()),
        (Style::Anonymous, Some("AssumeRoleWithOIDC"))
    );

    let r = request("GET", "/?ResourceId.x=1", &[], "");
    assert_eq!(r.indexed("ResourceId").unwrap_err().code, "InvalidParameter");
    let r = request(
        "GET",
        "/?Tag.2.Key=b&Tag.1.Key=a&Tag.1.Value=1&Tag.3.Value=z",
        &[],
        "",
    );
    assert_eq!(
        r.tags().unwrap_err().message,
        AliError::missing("Tag.3.Key").message
    );
    let r = request("GET", "/?Tag.2.Key=b&Tag.1.Key=a&Tag.1.Value=1", &[], "");
    assert_eq!(
        r.tags().unwrap(),
        [
            (1, "a".to_owned(), Some("1".to_owned())),
            (2, "b".to_owned(), None)
        ]
    );
}

#[test]
fn json_only_when_asked_for() {
    let v3 = [
        ("authorization", "ACS3-HMAC-SHA256 Credential=a"),
        ("x-acs-action", "ListKeys"),
    ];
    let with = |accept: &'static str| {
        let mut h = v3.to_vec();
        h.push(("accept", accept));
        h
    };
    let cases = [
        ("/?Action=ListKeys", v3.to_vec(), true),
        ("/?Action=ListKeys", with("application/json"), false),
        (
            "/?Action=ListKeys",
            with("Application/JSON; charset=utf-8"),
            false,
        ),
        (
            "/?Action=ListKeys",
            with("text/xml, application/json;q=0.1"),
            false,
        ),
        ("/?Action=ListKeys", with("*/*"), true),
        ("/?Action=ListKeys&Format=JSON", vec![], false),
        ("/?Action=ListKeys&Format=json", vec![], false),
        ("/?Action=ListKeys&Format=XML", with("application/json"), true),
    ];
    for (uri, headers, xml) in cases {
        assert_eq!(
            request("POST", uri, &headers, "").wants_xml(),
            xml,
            "{uri} {headers:?}"
        );
    }
    assert!(request("GET", "/?Action=AssumeRoleWithOIDC", &[], "").wants_xml());
}

#[test]
fn xml_rendering() {
    let body = json!({"RequestId": "R", "Keys": {"Key": [{"KeyId": "a<b"}, {"KeyId": "c"}]}, "TotalCount": 2, "Empty": {"Key": []}});
    assert_eq!(
        to_xml("ListKeysResponse", &body),
        "<?xml version='1.0' encoding='UTF-8'?><ListKeysResponse><Empty></Empty><Keys><Key><KeyId>a&lt;b</KeyId></Key>\
         <Key><KeyId>c</KeyId></Key></Keys><RequestId>R</RequestId><TotalCount>2</TotalCount></ListKeysResponse>"
    );
}

#[test]
fn error_shapes() {
    let responder = Responder {
        request_id: "00827261-20B7-4562-83F2-4DF39876A45A".into(),
        host: "kms.cn-hangzhou.aliyuncs.com".into(),
        xml: false,
        action: "ListKeys".into(),
    };
    let (status, headers, payload) = responder.error(&AliError::missing("RegionId"));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        headers["x-acs-request-id"],
        "00827261-20B7-4562-83F2-4DF39876A45A"
    );
    let Payload::Json(v) = payload else {
        panic!("json expected")
    };
    assert_eq!(
        v,
        json!({
            "RequestId": "00827261-20B7-4562-83F2-4DF39876A45A",
            "HostId": "kms.cn-hangzhou.aliyuncs.com",
            "Code": "MissingParameter",
            "Message": "The input parameter \"RegionId\" that is mandatory for processing this request is not supplied.",
            "Recommend": "https://api.aliyun.com/troubleshoot?q=MissingParameter&product=Kms&requestId=00827261-20B7-4562-83F2-4DF39876A45A",
        })
    );
    let mut throttled = AliError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "Rejected.Throttling",
        "QPS Limit Exceeded",
        Shape::Kms,
    );
    throttled.retry_after = Some(Duration::from_micros(1500));
    let (_, headers, payload) = responder.error(&throttled);
    assert_eq!(headers["x-acs-retry-after"], "2");
    let Payload::Json(v) = payload else {
        panic!("json expected")
    };
    assert_eq!(
        v,
        json!({"HttpStatus": 429, "Code": "Rejected.Throttling", "Message": "QPS Limit Exceeded", "RequestId": "00827261-20B7-4562-83F2-4DF39876A45A"})
    );
}

#[test]
fn api_table() {
    assert_eq!(
        Api::lookup(KMS_VERSION, "ListTagResources"),
        Some(Api::ListTagResources)
    );
    assert_eq!(Api::lookup(STS_VERSION, "ListTagResources"), None);
    assert_eq!(
        Api::lookup(STS_VERSION, "AssumeRoleWithOIDC").map(Api::name),
        Some("AssumeRoleWithOIDC")
    );
    // Every group the APIs name (other than STS) is a documented group with a default limit.
    for api in [
        Api::ListTagResources,
        Api::ListKeys,
        Api::ListSecrets,
        Api::DescribeKey,
        Api::DescribeSecret,
        Api::TagResources,
        Api::UntagResources,
    ] {
        assert!(
            tagdrift_core::config::default_rate_limit(Cloud::Alibaba, api.group()).is_some(),
            "{api:?}"
        );
    }
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Memory of a 100,000-resource inventory and the handler's own time per ListTagResources page (request
/// parsing, page building and JSON serialization; no network, no signature check).
/// `cargo test -p tagdrift-emulator --lib footprint -- --ignored --nocapture`
#[test]
#[ignore = "measurement; run explicitly with --ignored --nocapture"]
fn footprint_and_page_latency_at_100k() {
    let rss_start = rss_kib("VmRSS:");
    let generated = generate(&GenerateOptions {
        total: 100_000,
        tags_per_resource: 4,
        drift_ratio: 0.1,
        seed: 1,
    })
    .unwrap();
    let Generated { inventory, .. } = generated;
    let store = Store::from_inventory(inventory).unwrap();
    let peak_while_loading = rss_kib("VmHWM:");
    let rss_loaded = rss_kib("VmRSS:");
    let heap = store.approx_heap_bytes();
    let resources = store.resource_count();
    let state = State::new(store, Options::default(), Faults::default(), Clock::system());
    let ctx = crate::RequestCtx { id: 7, conn: None };
    let principal = Principal {
        account: 0,
        access_key_id: "testid".into(),
        temporary: false,
    };

    // Walk every page of cn-hangzhou keys (12,500 keys x 4 tags = 50,000 rows = 250 pages), three times.
    let mut times = Vec::new();
    let mut pages = 0;
    for _ in 0..3 {
        let mut token = String::new();
        loop {
            let started = Instant::now();
            let mut uri = "/?RegionId=cn-hangzhou&ResourceType=key".to_owned();
            if !token.is_empty() {
                uri.push_str("&NextToken=");
                uri.push_str(&sign_encode(&token));
            }
            let req = request("POST", &uri, &[], "");
            let responder = Responder::new(&ctx, &req);
            let (_, payload) = kms::execute(
                &state,
                &req,
                Api::ListTagResources,
                &principal,
                "cn-hangzhou",
                &responder,
            )
            .unwrap();
            times.push(started.elapsed().as_secs_f64() * 1e3);
            let Payload::Bytes(bytes) = payload else {
                panic!("serialized page expected")
            };
            let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            pages += 1;
            token = body["NextToken"].as_str().unwrap().to_owned();
            if token.is_empty() {
                break;
            }
        }
    }
    // 50 resource ids per call, the way tagdrift batches.
    let ids: Vec<String> = state.store().alibaba[0].regions["cn-hangzhou"].keys.rows()[..50]
        .iter()
        .map(|r| r.id.to_string())
        .collect();
    let mut batch_times = Vec::new();
    for _ in 0..200 {
        let mut uri = "/?RegionId=cn-hangzhou&ResourceType=key".to_owned();
        for (i, id) in ids.iter().enumerate() {
            uri.push_str(&format!("&ResourceId.{}={id}", i + 1));
        }
        let started = Instant::now();
        let req = request("POST", &uri, &[], "");
        let responder = Responder::new(&ctx, &req);
        let (_, payload) = kms::execute(
            &state,
            &req,
            Api::ListTagResources,
            &principal,
            "cn-hangzhou",
            &responder,
        )
        .unwrap();
        assert!(matches!(payload, Payload::Bytes(b) if b.len() > 1000));
        batch_times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    batch_times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let batch_mean = batch_times.iter().sum::<f64>() / batch_times.len() as f64;
    println!("resources: {resources}");
    println!("store heap estimate: {:.1} MiB", heap as f64 / 1048576.0);
    println!(
        "process RSS: start {:.1} MiB, peak while generating+loading {:.1} MiB, loaded (generator output dropped) {:.1} MiB, delta {:.1} MiB",
        rss_start as f64 / 1024.0,
        peak_while_loading as f64 / 1024.0,
        rss_loaded as f64 / 1024.0,
        rss_loaded.saturating_sub(rss_start) as f64 / 1024.0
    );
    println!(
        "ListTagResources full pages (200 rows): {pages} pages, mean {mean:.3} ms, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1]
    );
    println!(
        "ListTagResources with 50 ResourceIds: mean {batch_mean:.3} ms, p99 {:.3} ms",
        percentile(&batch_times, 0.99)
    );
    assert!(heap < 256 << 20);
    assert!(rss_loaded < 256 * 1024);
    assert!(
        percentile(&times, 0.5) < 1.0,
        "median page time {:.3} ms",
        percentile(&times, 0.5)
    );
    let _ = Inventory::default();
}

fn sign_encode(s: &str) -> String {
    tagdrift_cloud::alibaba::sign::percent_encode(s)
}

/// Memory and time of reading a 100,000-resource inventory back from YAML (the `--inventory` path of a
/// benchmark that wrote it with `--write-inventory`). Run alone: `cargo test -p tagdrift-emulator --lib yaml_inventory_at_100k --
/// --ignored --nocapture`.
#[test]
#[ignore = "measurement; run explicitly with --ignored --nocapture"]
fn yaml_inventory_at_100k() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.yaml");
    let started = Instant::now();
    {
        let generated = generate(&GenerateOptions {
            total: 100_000,
            tags_per_resource: 4,
            drift_ratio: 0.1,
            seed: 1,
        })
        .unwrap();
        generated.inventory.write(&path).unwrap();
    }
    let write_time = started.elapsed();
    let size = std::fs::metadata(&path).unwrap().len();
    let rss_before = rss_kib("VmRSS:");
    let hwm_before = rss_kib("VmHWM:");
    let started = Instant::now();
    let inventory = Inventory::load(&path).unwrap();
    let parse_time = started.elapsed();
    let store = Store::from_inventory(inventory).unwrap();
    let load_time = started.elapsed();
    println!(
        "yaml: {:.1} MiB written in {:.2} s; parsed in {:.2} s, store built in {:.2} s",
        size as f64 / 1048576.0,
        write_time.as_secs_f64(),
        parse_time.as_secs_f64(),
        load_time.as_secs_f64()
    );
    println!(
        "RSS before load {:.1} MiB (peak so far {:.1} MiB), after load {:.1} MiB, peak {:.1} MiB; {} resources",
        rss_before as f64 / 1024.0,
        hwm_before as f64 / 1024.0,
        rss_kib("VmRSS:") as f64 / 1024.0,
        rss_kib("VmHWM:") as f64 / 1024.0,
        store.resource_count()
    );
    assert_eq!(store.resource_count(), 100_000);
}

/// Arbitrary RPC parameters through the request parser and every KMS handler: a client error or a success,
/// never a panic or a 5xx.
mod bad_input {
    use proptest::prelude::*;

    use super::*;
    use tagdrift_cloud::signing::percent_encode;

    const INVENTORY: &str = "alibaba:
  - name: ali
    access_key_id: testid
    access_key_secret: testsecret
    regions:
      cn-hangzhou:
        keys: [{id: key-1, alias: app-key, tags: {owner: platform}}, {id: key-2}]
        secrets: [{name: db-password, tags: {owner: payments}}]
";

    const NAMES: &[&str] = &[
        "RegionId",
        "ResourceType",
        "ResourceId.1",
        "ResourceId.2",
        "ResourceId.0",
        "ResourceId.51",
        "ResourceId.x",
        "ResourceId.99999999999999999999",
        "Tag.1.Key",
        "Tag.1.Value",
        "Tag.21.Key",
        "Tag.0.Key",
        "TagKey.1",
        "TagKey.2",
        "NextToken",
        "PageNumber",
        "PageSize",
        "Filters",
        "KeyId",
        "SecretName",
        "FetchTags",
        "All",
        "Format",
    ];

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,24}",
            Just(String::new()),
            "-?[0-9]{1,25}",
            prop::sample::select(vec![
                "key-1",
                "key-2",
                "db-password",
                "key",
                "secret",
                "true",
                "JSON",
                "XML"
            ])
            .prop_map(str::to_owned),
            "[A-Za-z0-9+/=]{0,40}",
            // Page tokens that decode but point nowhere, or name the other resource type.
            ("[a-z]{0,6}", "\\PC{0,8}", "\\PC{0,8}").prop_map(|t| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&t).unwrap())
            }),
            prop::sample::select(vec![
                r#"[{"Key":"SecretName","Values":["db-password"]}]"#,
                r#"[{"Key":"TagKey","Values":[1,null]}]"#,
                r#"[{"Key":1}]"#,
                r#"{"Key":"SecretName"}"#,
                "[",
                "null",
            ])
            .prop_map(str::to_owned),
            (1usize..100_000).prop_map(|n| "x".repeat(n)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_parameters_get_a_client_error_or_an_answer(
            params in prop::collection::vec((prop::sample::select(NAMES), value()), 0..10),
            api in prop::sample::select(vec![
                Api::ListTagResources, Api::ListKeys, Api::ListSecrets, Api::DescribeKey,
                Api::DescribeSecret, Api::TagResources, Api::UntagResources,
            ]),
            region in prop::sample::select(vec!["cn-hangzhou", "cn-shanghai"]),
            in_query in prop::arbitrary::any::<bool>(),
        ) {
            let store = Store::from_inventory(Inventory::parse(INVENTORY, "test").unwrap()).unwrap();
            let state = State::new(store, Options::default(), Faults::default(), Clock::system());
            let encoded: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
                .collect();
            let encoded = encoded.join("&");
            // http::Uri stops at 64 KiB, like the gateways do.
            let req = if in_query && encoded.len() < 60_000 {
                request("POST", &format!("/?{encoded}"), &[], "")
            } else {
                request("POST", "/", &[("content-type", "application/x-www-form-urlencoded")], &encoded)
            };
            let ctx = crate::RequestCtx { id: 7, conn: None };
            let responder = Responder::new(&ctx, &req);
            let principal = Principal { account: 0, access_key_id: "testid".into(), temporary: false };
            if let Err(e) = kms::execute(&state, &req, api, &principal, region, &responder) {
                prop_assert!(e.status.is_client_error(), "{api:?} {params:?}: {} {}", e.status, e.code);
                // The error renders in both shapes.
                let _ = responder.error(&e);
            }
        }

        /// Raw query strings and form bodies of any bytes: the parser never panics and keeps every pair.
        #[test]
        fn arbitrary_query_and_form_text_parses(text in "\\PC{0,200}", raw in prop::collection::vec(prop::arbitrary::any::<u8>(), 0..200)) {
            let pairs = parse_pairs(&text);
            prop_assert!(pairs.len() <= text.split('&').count());
            let _ = form_decode(&text);
            let body = Bytes::from(raw);
            let mut headers = HeaderMap::new();
            headers.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
            let req = RpcRequest::new(&Method::POST, &"/".parse::<Uri>().unwrap(), &headers, body);
            let _ = (req.action(), req.version(), req.style(), req.wants_xml(), req.tags());
            let _ = req.indexed("ResourceId");
        }
    }
}

/// An account with one read-denied and one write-denied key and secret beside readable ones.
fn denying_state() -> Arc<State> {
    let inventory = Inventory::parse(
        "alibaba:
  - name: ali
    access_key_id: LTAIdeny
    access_key_secret: s3cret
    account_id: '1234567890123456'
    regions:
      cn-hangzhou:
        keys:
          - {id: key-ok, tags: {owner: a}}
          - {id: key-hidden, tags: {owner: b}, deny: [read]}
          - {id: key-frozen, tags: {owner: c}, deny: [write]}
        secrets:
          - {name: sec-ok, tags: {owner: a}}
          - {name: sec-hidden, tags: {owner: b}, deny: [read, write]}
",
        "deny",
    )
    .unwrap();
    State::new(
        Store::from_inventory(inventory).unwrap(),
        Options::default(),
        Faults::default(),
        Clock::system(),
    )
}

/// See: issue 12 (point 5). A resource's `deny` list makes the KMS APIs that name it (or, strictly, that
/// would return its tags region-wide) answer 403 `Forbidden.NoPermission` in the KMS error shape, while the
/// same credentials read everything else.
#[test]
fn denied_resources_answer_forbidden_no_permission() {
    let state = denying_state();
    let principal = Principal {
        account: 0,
        access_key_id: "LTAIdeny".into(),
        temporary: false,
    };
    // (action and parameters, denied resource in the message or None when allowed)
    let cases: &[(&str, Option<&str>)] = &[
        ("ListTagResources&ResourceType=key&ResourceId.1=key-ok", None),
        (
            "ListTagResources&ResourceType=key&ResourceId.1=key-ok&ResourceId.2=key-hidden",
            Some("key/key-hidden"),
        ),
        ("ListTagResources&ResourceType=key", Some("key/key-hidden")),
        ("ListTagResources&ResourceType=secret&ResourceId.1=sec-ok", None),
        ("ListTagResources&ResourceType=key&ResourceId.1=key-frozen", None),
        ("DescribeKey&KeyId=key-ok", None),
        ("DescribeKey&KeyId=key-hidden", Some("key/key-hidden")),
        (
            "DescribeSecret&SecretName=sec-hidden&FetchTags=true",
            Some("secret/sec-hidden"),
        ),
        ("DescribeSecret&SecretName=sec-ok", None),
        ("ListSecrets&FetchTags=true", Some("secret/sec-hidden")),
        ("ListSecrets", None),
        ("ListKeys", None),
        (
            "TagResources&ResourceType=key&ResourceId.1=key-hidden&Tag.1.Key=k&Tag.1.Value=v",
            None,
        ),
        (
            "TagResources&ResourceType=key&ResourceId.1=key-ok&ResourceId.2=key-frozen&Tag.1.Key=k&Tag.1.Value=v",
            Some("key/key-frozen"),
        ),
        (
            "UntagResources&ResourceType=secret&ResourceId.1=sec-hidden&TagKey.1=owner",
            Some("secret/sec-hidden"),
        ),
    ];
    for (query, denied) in cases {
        let uri = format!("/?Action={query}&RegionId=cn-hangzhou&Version=2016-01-20&Format=JSON");
        let req = request("GET", &uri, &[("Host", "kms.cn-hangzhou.aliyuncs.com")], "");
        let api = Api::lookup(KMS_VERSION, req.action().unwrap()).unwrap();
        let responder = Responder::new(&RequestCtx { id: 7, conn: None }, &req);
        let result = kms::execute(&state, &req, api, &principal, "cn-hangzhou", &responder);
        match (denied, result) {
            (None, Ok(_)) => {}
            (Some(resource), Err(e)) => {
                assert_eq!(e.status, StatusCode::FORBIDDEN, "{query}");
                assert_eq!(e.code, "Forbidden.NoPermission", "{query}");
                assert!(
                    e.message
                        .starts_with("This operation is forbidden by permission system.")
                        && e.message.ends_with(&format!(
                            "Resource: acs:kms:cn-hangzhou:1234567890123456:{resource}"
                        )),
                    "{query}: {}",
                    e.message
                );
                let (status, headers, Payload::Json(body)) = responder.error(&e) else {
                    panic!("json expected")
                };
                assert_eq!(status, StatusCode::FORBIDDEN);
                assert!(headers.contains_key("x-acs-request-id"));
                assert_eq!(body["HttpStatus"], 403, "{query}");
                assert_eq!(body["Code"], "Forbidden.NoPermission", "{query}");
                assert_eq!(body["RequestId"], responder.request_id, "{query}");
            }
            (denied, result) => panic!("{query}: expected denied={denied:?}, got {result:?}"),
        }
    }
    // Nothing a refused write named was changed.
    let store = state.store();
    let keys = &store.alibaba[0].regions["cn-hangzhou"].keys;
    assert_eq!(keys.get("key-ok").unwrap().tags.get("k"), None);
    assert_eq!(keys.get("key-hidden").unwrap().tags.get("k"), Some("v"));
}
