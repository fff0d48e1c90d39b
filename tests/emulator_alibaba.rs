//! The Alibaba half of the emulator over real HTTP: known-answer signature acceptance (reference vectors at
//! their timestamps), rejection of altered requests, every KMS API, pagination and batch limits, throttling,
//! injected faults, STS AssumeRoleWithOIDC, ECS metadata, and tag writes changing reads.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;
use serde_json::{Value, json};
use support::*;
use tagdrift_cloud::alibaba::sign::{self, Credential, V3Call};
use tagdrift_emulator::{Faults, Options};

// ---------------------------------------------------------------------------------------------------------
// Known-answer acceptance: requests exactly as the reference vectors (and the SDK captures) sent them.

/// V1 parameters of the tea capture "SgcbKQO3…" (POST, Format=json, no NextToken) plus its signature.
fn v1_capture_params() -> Vec<(String, String)> {
    pairs(&[
        ("AccessKeyId", "testid"),
        ("Action", "ListTagResources"),
        ("Format", "json"),
        ("RegionId", "cn-hangzhou"),
        ("ResourceId.1", "key-hzz62f1cb66fa42qo1111"),
        ("ResourceId.2", "key-hzz62f1cb66fa42qo2222"),
        ("ResourceType", "key"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "0123456789abcdef0123456789abcdef"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", T0),
        ("Version", "2016-01-20"),
        ("Signature", "SgcbKQO3ML1liUGMpuKX6LlfSOA="),
    ])
}

/// V1-L1 (page 2) with the documented GET and POST signatures.
fn v1_l1_params(signature: &str) -> Vec<(String, String)> {
    pairs(&[
        ("AccessKeyId", "testid"),
        ("Action", "ListTagResources"),
        ("Format", "JSON"),
        ("NextToken", "caeba0bbb2be03f84eb48b699f0a4883"),
        ("RegionId", "cn-hangzhou"),
        ("ResourceId.1", "key-hzz62f1cb66fa42qo1111"),
        ("ResourceId.2", "key-hzz62f1cb66fa42qo2222"),
        ("ResourceType", "key"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", T0),
        ("Version", "2016-01-20"),
        ("Signature", signature),
    ])
}

/// V3-A: the captured `Client.list_tag_resources` request (AK only), headers exactly as sent.
fn v3_a_headers() -> Vec<(String, String)> {
    pairs(&[
        ("accept", "application/json"),
        ("host", "kms.cn-hangzhou.aliyuncs.com"),
        (
            "user-agent",
            "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2",
        ),
        ("x-acs-action", "ListTagResources"),
        ("x-acs-content-sha256", sign::EMPTY_BODY_SHA256),
        ("x-acs-credentials-provider", "static_ak"),
        ("x-acs-date", T0),
        ("x-acs-signature-nonce", "0123456789abcdef0123456789abcdef"),
        ("x-acs-version", "2016-01-20"),
        (
            "authorization",
            "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=accept;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=12394686bec4f23b5887920ae35e2e83bb02e24a958681d745c4c6f7ac194cfe",
        ),
    ])
}

fn v3_a_query() -> Vec<(String, String)> {
    pairs(&[
        ("RegionId", "cn-hangzhou"),
        ("ResourceId.1", "key-hzz62f1cb66fa42qo1111"),
        ("ResourceId.2", "key-hzz62f1cb66fa42qo2222"),
        ("ResourceType", "key"),
    ])
}

fn assert_two_sample_keys(r: &Reply) {
    r.assert_ok();
    let rows = r.json["TagResources"]["TagResource"].as_array().unwrap();
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|row| {
            assert_eq!(row["ResourceType"], "key");
            (
                row["ResourceId"].as_str().unwrap(),
                row["TagKey"].as_str().unwrap(),
                row["TagValue"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("key-hzz62f1cb66fa42qo1111", "disk-encryption", "true"),
            ("key-hzz62f1cb66fa42qo1111", "owner", "platform"),
            ("key-hzz62f1cb66fa42qo2222", "env", "prod"),
            ("key-hzz62f1cb66fa42qo2222", "owner", "payments"),
        ]
    );
    assert_eq!(r.json["NextToken"], "");
}

#[tokio::test]
async fn accepts_the_captured_v1_request_and_rejects_every_alteration() {
    let emu = Emu::start(SAMPLE).await;
    let good = v1_capture_params();
    assert_two_sample_keys(&emu.send_v1("POST", &good, false).await);
    // The same request again is a replay.
    emu.send_v1("POST", &good, false)
        .await
        .assert_error(400, "SignatureNonceUsed");

    // Each alteration keeps a fresh nonce so only the alteration can be the reason.
    let with = |name: &str, value: &str, nonce: &str| {
        let mut p = good.clone();
        for (k, v) in &mut p {
            if k == name {
                *v = value.to_owned();
            }
            if k == "SignatureNonce" {
                *v = nonce.to_owned();
            }
        }
        p
    };
    // One byte of a signed parameter, one byte of the signature, the HTTP method.
    let altered = with("ResourceId.2", "key-hzz62f1cb66fa42qo2223", "a1");
    let r = emu.send_v1("POST", &altered, false).await;
    r.assert_error(400, "SignatureDoesNotMatch");
    let expected_sts = sign::v1_string_to_sign("POST", &altered);
    assert_eq!(
        r.json["Message"].as_str().unwrap(),
        format!(
            "Specified signature is not matched with our calculation. server string to sign is:{expected_sts}"
        )
    );
    assert_eq!(r.json["HostId"].as_str().unwrap(), emu.host());
    emu.send_v1(
        "POST",
        &with("Signature", "SgcbKQO3ML1liUGMpuKX6LlfSOB=", "a2"),
        false,
    )
    .await
    .assert_error(400, "SignatureDoesNotMatch");
    emu.send_v1("GET", &with("SignatureNonce", "a3", "a3"), false)
        .await
        .assert_error(400, "SignatureDoesNotMatch");
    // Wrong secret: sign correctly with another secret.
    let mut unsigned: Vec<(String, String)> = good
        .iter()
        .filter(|(k, _)| k != "Signature" && k != "AccessKeyId")
        .cloned()
        .collect();
    unsigned.retain(|(k, _)| {
        ![
            "SignatureMethod",
            "SignatureVersion",
            "SignatureNonce",
            "Timestamp",
        ]
        .contains(&k.as_str())
    });
    let wrong = sign::sign_v1("POST", &unsigned, &cred("testid", "wrongsecret"), T0, "a4");
    emu.send_v1("POST", &wrong, false)
        .await
        .assert_error(400, "SignatureDoesNotMatch");
    // Unknown access key.
    let stranger = sign::sign_v1("POST", &unsigned, &cred("nobody", "testsecret"), T0, "a5");
    emu.send_v1("POST", &stranger, false)
        .await
        .assert_error(404, "InvalidAccessKeyId.NotFound");
    // Stale date: the same signed request 16 minutes later.
    let fresh = with("SignatureNonce", "a6", "a6");
    let fresh = sign::sign_v1("POST", &fresh[..fresh.len() - 1], &testid(), T0, "a6");
    emu.advance(TimeDelta::minutes(16)).await;
    emu.send_v1("POST", &fresh, false)
        .await
        .assert_error(400, "IllegalTimestamp");
    emu.advance(TimeDelta::minutes(-32)).await;
    emu.send_v1("POST", &fresh, false)
        .await
        .assert_error(400, "IllegalTimestamp");
    emu.advance(TimeDelta::minutes(16)).await;
    assert_two_sample_keys(&emu.send_v1("POST", &fresh, false).await);

    let stats = emu.stats().await;
    assert_eq!(stats.outcome("alibaba", "ListTagResources", "ok"), 2);
    assert_eq!(
        stats.outcome("alibaba", "ListTagResources", "SignatureDoesNotMatch"),
        4
    );
}

#[tokio::test]
async fn accepts_v1_l1_get_and_post_signatures() {
    for (method, signature) in [
        ("GET", "9OTUtIR7BUwGrwtACTkeBEtXGoU="),
        ("POST", "P59+QNrl2juvRyRn77b8JJaNSfU="),
    ] {
        let emu = Emu::start(SAMPLE).await;
        // The vector's NextToken came from the real service, so the emulator (having authenticated the
        // request) rejects the token itself: proof that the signature passed.
        let r = emu.send_v1(method, &v1_l1_params(signature), false).await;
        r.assert_error(400, "InvalidParameter");
        assert!(
            r.json["Message"].as_str().unwrap().contains("NextToken"),
            "{}",
            r.body
        );
        // The same signed parameters in a form body instead of the query: also accepted (the method is part
        // of the string to sign, where the parameters travel is not).
        if method == "POST" {
            let emu = Emu::start(SAMPLE).await;
            let r = emu.send_v1("POST", &v1_l1_params(signature), true).await;
            r.assert_error(400, "InvalidParameter");
            assert!(
                r.json["Message"].as_str().unwrap().contains("NextToken"),
                "{}",
                r.body
            );
        }
    }
}

#[tokio::test]
async fn accepts_v1_l2_with_form_encoded_wire() {
    let emu = Emu::start(SAMPLE).await;
    emu.set_clock(t0() + TimeDelta::seconds(1)).await;
    // The SDK's wire form: `+` for spaces, `%2A` for `*`.
    let query = "AccessKeyId=testid&Action=ListTagResources&Format=json\
        &NextToken=AAAAAV3MpHK1AP0pfERHZN5pu6n%2FOc1nj4M9UaAZ%2BI8db%3D%3D&RegionId=cn-hangzhou\
        &ResourceId.1=key-hzz62f1cb66fa42qo1111&ResourceId.2=key-hzz62f1cb66fa42qo2222&ResourceType=key\
        &SignatureMethod=HMAC-SHA1&SignatureNonce=fedcba9876543210fedcba9876543210&SignatureVersion=1.0\
        &Tag.1.Key=cost+center&Tag.1.Value=R%26D%2A~%2F%C3%A4&Timestamp=2025-01-02T03%3A04%3A06Z\
        &Version=2016-01-20&Signature=PbB06Q7NKOwnrqmUOuZY%2BCsCDfI%3D";
    let r = Emu::reply(
        emu.http
            .post(format!("{}?{query}", emu.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(400, "InvalidParameter");
    assert!(
        r.json["Message"].as_str().unwrap().contains("NextToken"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn accepts_the_captured_v3_request_and_rejects_every_alteration() {
    let emu = Emu::start(SAMPLE).await;
    let headers = v3_a_headers();
    assert_two_sample_keys(&emu.send_v3(&v3_a_query(), &headers, Vec::new()).await);
    emu.send_v3(&v3_a_query(), &headers, Vec::new())
        .await
        .assert_error(400, "SignatureNonceUsed");

    let with = |name: &str, value: &str, nonce: &str| {
        let mut h = headers.clone();
        for (k, v) in &mut h {
            if k == name {
                *v = value.to_owned();
            }
            if k == "x-acs-signature-nonce" {
                *v = nonce.to_owned();
            }
        }
        h
    };
    // One byte of a signed header (user-agent), of the signature, of the query.
    let r = emu
        .send_v3(
            &v3_a_query(),
            &with(
                "user-agent",
                "AlibabaCloud (Linux; x86_64) Python/3.11.8 Core/0.4.3 TeaDSL/2",
                "b1",
            ),
            Vec::new(),
        )
        .await;
    r.assert_error(400, "SignatureDoesNotMatch");
    assert!(
        r.json["Message"]
            .as_str()
            .unwrap()
            .contains("server string to sign is:ACS3-HMAC-SHA256\n"),
        "{}",
        r.body
    );
    let auth = headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .unwrap()
        .1
        .replace("cfe", "cff");
    emu.send_v3(&v3_a_query(), &with("authorization", &auth, "b2"), Vec::new())
        .await
        .assert_error(400, "SignatureDoesNotMatch");
    let mut query = v3_a_query();
    query[3].1 = "secret".into();
    emu.send_v3(&query, &with("x-acs-signature-nonce", "b3", "b3"), Vec::new())
        .await
        .assert_error(400, "SignatureDoesNotMatch");
    // A body the signature did not cover.
    emu.send_v3(
        &v3_a_query(),
        &with("x-acs-signature-nonce", "b4", "b4"),
        b"x".to_vec(),
    )
    .await
    .assert_error(400, "SignatureDoesNotMatch");
    // Stale date.
    emu.advance(TimeDelta::minutes(20)).await;
    let nonce = "b5";
    let host = "kms.cn-hangzhou.aliyuncs.com";
    let call = V3Call {
        method: "POST",
        host,
        action: "ListTagResources",
        version: KMS,
        query: &v3_a_query(),
        headers: &[],
        body: b"",
        date: T0,
        nonce,
    };
    let mut signed = sign::sign_v3(&call, &testid());
    signed.push(("host".into(), host.into()));
    emu.send_v3(&v3_a_query(), &signed, Vec::new())
        .await
        .assert_error(400, "InvalidTimeStamp.Expired");
    // Wrong secret and unknown key at the right time.
    emu.set_clock(t0()).await;
    let mut call2 = call;
    call2.nonce = "b6";
    let mut wrong = sign::sign_v3(&call2, &cred("testid", "nope"));
    wrong.push(("host".into(), host.into()));
    emu.send_v3(&v3_a_query(), &wrong, Vec::new())
        .await
        .assert_error(400, "SignatureDoesNotMatch");
    call2.nonce = "b7";
    let mut stranger = sign::sign_v3(&call2, &cred("nobody", "testsecret"));
    stranger.push(("host".into(), host.into()));
    emu.send_v3(&v3_a_query(), &stranger, Vec::new())
        .await
        .assert_error(404, "InvalidAccessKeyId.NotFound");
}

#[tokio::test]
async fn accepts_v3_min_and_v3_b_with_sts_token() {
    // V3-MIN: only the six documented headers, with the vector's (foreign) NextToken.
    let emu = Emu::start(SAMPLE).await;
    let mut query = v3_a_query();
    query.insert(0, ("NextToken".into(), "caeba0bbb2be03f84eb48b699f0a4883".into()));
    let headers = pairs(&[
        ("host", "kms.cn-hangzhou.aliyuncs.com"),
        ("x-acs-action", "ListTagResources"),
        ("x-acs-content-sha256", sign::EMPTY_BODY_SHA256),
        ("x-acs-date", T0),
        ("x-acs-signature-nonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
        ("x-acs-version", "2016-01-20"),
        (
            "authorization",
            "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=65e38c0dbb115da260b347ca208bd253b685c96708464f3dd14298079d873888",
        ),
    ]);
    let r = emu.send_v3(&query, &headers, Vec::new()).await;
    r.assert_error(400, "InvalidParameter");
    assert!(r.body.contains("NextToken"));

    // V3-B: STS credentials `testid` + token `CAIS.test-sts-token` (here a static STS key of an account).
    let sts_inventory = "alibaba:\n  - access_key_id: permanent\n    access_key_secret: other\n    sts:\n      - {access_key_id: testid, access_key_secret: testsecret, security_token: CAIS.test-sts-token}\n    regions:\n      cn-hangzhou:\n        keys: [{id: key-hzz62f1cb66fa42qo1111, tags: {a: b}}, {id: key-hzz62f1cb66fa42qo2222}]\n";
    let emu = Emu::start(sts_inventory).await;
    emu.set_clock(t0() + TimeDelta::seconds(1)).await;
    let query = pairs(&[
        ("NextToken", "AAAAAV3MpHK1AP0pfERHZN5pu6n/Oc1nj4M9UaAZ+I8db=="),
        ("RegionId", "cn-hangzhou"),
        ("ResourceId.1", "key-hzz62f1cb66fa42qo1111"),
        ("ResourceId.2", "key-hzz62f1cb66fa42qo2222"),
        ("ResourceType", "key"),
        ("Tag.1.Key", "cost center"),
        ("Tag.1.Value", "R&D*~/ä"),
    ]);
    let mut headers = pairs(&[
        ("accept", "application/json"),
        ("host", "kms.cn-hangzhou.aliyuncs.com"),
        (
            "user-agent",
            "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2",
        ),
        ("x-acs-accesskey-id", "testid"),
        ("x-acs-action", "ListTagResources"),
        ("x-acs-content-sha256", sign::EMPTY_BODY_SHA256),
        ("x-acs-credentials-provider", "static_sts"),
        ("x-acs-date", "2025-01-02T03:04:06Z"),
        ("x-acs-security-token", "CAIS.test-sts-token"),
        ("x-acs-signature-nonce", "fedcba9876543210fedcba9876543210"),
        ("x-acs-version", "2016-01-20"),
        (
            "authorization",
            "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=accept;host;user-agent;x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version,Signature=d54875e051f4fe37aeba9ee1319b6ba632478b3f7799d7aa60d13f4e7bc2a2e0",
        ),
    ]);
    let r = emu.send_v3(&query, &headers, Vec::new()).await;
    r.assert_error(400, "InvalidParameter");
    assert!(r.body.contains("NextToken"), "{}", r.body);
    // Same request with another token: the signature no longer matches.
    headers[8].1 = "CAIS.test-sts-tokeN".into();
    headers[9].1 = "c1".into();
    emu.send_v3(&query, &headers, Vec::new())
        .await
        .assert_error(400, "SignatureDoesNotMatch");
}

// ---------------------------------------------------------------------------------------------------------
// Gateway errors.

#[tokio::test]
async fn gateway_rejects_malformed_requests_with_the_real_codes() {
    let emu = Emu::start(SAMPLE).await;
    // Unknown action, unknown version, missing RegionId, bad ResourceType.
    emu.call(Sig::V3, "DeleteEverything", &[], &testid())
        .await
        .assert_error(404, "InvalidApi.NotFound");
    emu.call_version(Sig::V1Get, "2099-01-01", "ListKeys", &[], &testid())
        .await
        .assert_error(400, "InvalidVersion");
    emu.call(
        Sig::V1Post,
        "ListTagResources",
        &[("ResourceType", "key")],
        &testid(),
    )
    .await
    .assert_error(400, "MissingParameter");
    let r = emu
        .call(
            Sig::V3,
            "ListTagResources",
            &[("RegionId", "cn-hangzhou"), ("ResourceType", "kms")],
            &testid(),
        )
        .await;
    r.assert_error(400, "InvalidParameter");
    assert!(r.json["HttpStatus"].is_number());
    // Unsigned KMS call.
    let r = Emu::reply(
        emu.http
            .get(format!(
                "{}?Action=ListKeys&Version=2016-01-20&Format=JSON",
                emu.url()
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(400, "IncompleteSignature");
    // Missing Action.
    let r = Emu::reply(
        emu.http
            .get(format!("{}?Version=2016-01-20&Format=JSON", emu.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(400, "MissingParameter");
    // Unsupported method.
    let r = Emu::reply(
        emu.http
            .delete(format!("{}?Action=ListKeys&Format=JSON", emu.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(403, "UnsupportedHTTPMethod");
    // V3: an x-acs-* header left out of SignedHeaders, a malformed Authorization.
    let now = emu.now();
    let host = emu.host();
    let call = V3Call {
        method: "POST",
        host: &host,
        action: "ListKeys",
        version: KMS,
        query: &[],
        headers: &[],
        body: b"",
        date: &now,
        nonce: "d1",
    };
    let mut headers = sign::sign_v3(&call, &testid());
    headers.push(("x-acs-extra".into(), "unsigned".into()));
    let r = emu.send_v3(&[], &headers, Vec::new()).await;
    r.assert_error(400, "IncompleteSignature");
    assert!(r.body.contains("x-acs-extra"), "{}", r.body);
    headers.pop();
    for (k, v) in &mut headers {
        if k == "authorization" {
            *v = "ACS3-HMAC-SHA256 Credential=testid".into();
        }
    }
    emu.send_v3(&[], &headers, Vec::new())
        .await
        .assert_error(400, "IncompleteSignature");
    // V1 without SignatureNonce.
    let signed = sign::sign_v1(
        "GET",
        &pairs(&[("Action", "ListKeys"), ("Version", KMS), ("Format", "JSON")]),
        &testid(),
        &now,
        "d2",
    );
    let without: Vec<(String, String)> = signed
        .into_iter()
        .filter(|(k, _)| k != "SignatureNonce")
        .collect();
    emu.send_v1("GET", &without, false)
        .await
        .assert_error(400, "MissingParameter");

    let stats = emu.stats().await;
    assert_eq!(stats.outcome("alibaba", "unknown", "InvalidApi.NotFound"), 1);
    assert_eq!(stats.outcome("alibaba", "ListKeys", "IncompleteSignature"), 3);
}

#[tokio::test]
async fn xml_is_the_v1_default_format() {
    let emu = Emu::start(SAMPLE).await;
    let now = emu.now();
    let params = pairs(&[
        ("Action", "ListKeys"),
        ("Version", KMS),
        ("RegionId", "cn-hangzhou"),
    ]);
    let signed = sign::sign_v1("GET", &params, &testid(), &now, "x1");
    let r = emu.send_v1("GET", &signed, false).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "text/xml;charset=utf-8");
    assert!(
        r.body
            .starts_with("<?xml version='1.0' encoding='UTF-8'?><ListKeysResponse>"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(
            "<Keys><Key><KeyArn>acs:kms:cn-hangzhou:1234567890123456:key/key-hzz62f1cb66fa42qo1111</KeyArn>"
        ),
        "{}",
        r.body
    );
    // Errors too.
    let mut bad = signed.clone();
    bad.last_mut().unwrap().1 = "AAAA".into();
    for (k, v) in &mut bad {
        if k == "SignatureNonce" {
            *v = "x2".into();
        }
    }
    let r = emu.send_v1("GET", &bad, false).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.headers["content-type"], "text/xml;charset=utf-8");
    assert!(
        r.body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{}",
        r.body
    );
}

// ---------------------------------------------------------------------------------------------------------
// The APIs.

#[tokio::test]
async fn every_api_over_every_signature_style() {
    let emu = Emu::start(SAMPLE).await;
    for sig in ALL_SIGS {
        let r = emu
            .call(sig, "ListKeys", &[("RegionId", "cn-hangzhou")], &testid())
            .await;
        r.assert_ok();
        assert_eq!(r.json["TotalCount"], 3, "{sig:?}");
        assert_eq!(r.json["PageNumber"], 1);
        assert_eq!(r.json["PageSize"], 10);
        assert_eq!(
            r.json["Keys"]["Key"][0],
            json!({"KeyId": "key-hzz62f1cb66fa42qo1111", "KeyArn": "acs:kms:cn-hangzhou:1234567890123456:key/key-hzz62f1cb66fa42qo1111"})
        );
        let r = emu
            .call(
                sig,
                "ListTagResources",
                &[("RegionId", "cn-hangzhou"), ("ResourceType", "secret")],
                &testid(),
            )
            .await;
        r.assert_ok();
        assert_eq!(
            r.json["TagResources"]["TagResource"].as_array().unwrap().len(),
            3,
            "{sig:?}"
        );
    }

    // ListKeys paging and filters; the region from a kms.<region>.aliyuncs.com host.
    let r = emu
        .call(
            Sig::V3,
            "ListKeys",
            &[
                ("RegionId", "cn-hangzhou"),
                ("PageSize", "2"),
                ("PageNumber", "2"),
            ],
            &testid(),
        )
        .await;
    r.assert_ok();
    assert_eq!(r.json["Keys"]["Key"].as_array().unwrap().len(), 1);
    assert_eq!(r.json["Keys"]["Key"][0]["KeyId"], "key-hzz62f1cb66fa42qo3333");
    let r = emu
        .call(
            Sig::V3,
            "ListKeys",
            &[("RegionId", "cn-hangzhou"), ("PageNumber", "9")],
            &testid(),
        )
        .await;
    assert_eq!(
        (
            r.json["TotalCount"].as_u64(),
            r.json["Keys"]["Key"].as_array().map(Vec::len)
        ),
        (Some(3), Some(0))
    );
    for (name, value) in [
        ("PageSize", "101"),
        ("PageSize", "0"),
        ("PageNumber", "0"),
        ("PageNumber", "x"),
    ] {
        emu.call(
            Sig::V3,
            "ListKeys",
            &[("RegionId", "cn-hangzhou"), (name, value)],
            &testid(),
        )
        .await
        .assert_error(400, "InvalidParameter");
    }
    let r = emu
        .call(
            Sig::V3,
            "ListKeys",
            &[
                ("RegionId", "cn-hangzhou"),
                ("Filters", r#"[{"Key":"KeyState","Values":["Enabled"]}]"#),
            ],
            &testid(),
        )
        .await;
    assert_eq!(r.json["TotalCount"], 3);
    let r = emu
        .call(
            Sig::V3,
            "ListKeys",
            &[
                ("RegionId", "cn-hangzhou"),
                ("Filters", r#"[{"Key":"KeyState","Values":["Disabled"]}]"#),
            ],
            &testid(),
        )
        .await;
    assert_eq!(r.json["TotalCount"], 0);
    emu.call(
        Sig::V3,
        "ListKeys",
        &[("RegionId", "cn-hangzhou"), ("Filters", "not json")],
        &testid(),
    )
    .await
    .assert_error(400, "InvalidParameter");
    // No RegionId: multi-region account needs one.
    emu.call(Sig::V3, "ListKeys", &[], &testid())
        .await
        .assert_error(400, "MissingParameter");
    let now = emu.now();
    let call = V3Call {
        method: "POST",
        host: "kms.cn-shanghai.aliyuncs.com",
        action: "ListKeys",
        version: KMS,
        query: &[],
        headers: &[],
        body: b"",
        date: &now,
        nonce: "h1",
    };
    let mut headers = sign::sign_v3(&call, &testid());
    headers.push(("host".into(), "kms.cn-shanghai.aliyuncs.com".into()));
    let r = emu.send_v3(&[], &headers, Vec::new()).await;
    r.assert_ok();
    assert_eq!(r.json["Keys"]["Key"][0]["KeyId"], "key-shh5f0a9c3d21be47xy4444");

    // ListSecrets with and without tags, with filters.
    let r = emu
        .call(
            Sig::V1Post,
            "ListSecrets",
            &[("RegionId", "cn-hangzhou"), ("FetchTags", "true")],
            &testid(),
        )
        .await;
    r.assert_ok();
    assert_eq!(r.json["TotalCount"], 2);
    let first = &r.json["SecretList"]["Secret"][0];
    assert_eq!(first["SecretName"], "api-token");
    assert_eq!(first["SecretType"], "Generic");
    assert_eq!(
        first["Tags"]["Tag"],
        json!([{"TagKey": "env", "TagValue": "staging"}, {"TagKey": "owner", "TagValue": "web"}])
    );
    let r = emu
        .call(
            Sig::V1Post,
            "ListSecrets",
            &[("RegionId", "cn-hangzhou")],
            &testid(),
        )
        .await;
    assert!(r.json["SecretList"]["Secret"][0].get("Tags").is_none());
    let r = emu
        .call(
            Sig::V1Post,
            "ListSecrets",
            &[
                ("RegionId", "cn-hangzhou"),
                ("Filters", r#"[{"Key":"TagKey","Values":["env"]}]"#),
            ],
            &testid(),
        )
        .await;
    assert_eq!(r.json["TotalCount"], 1);
    let r = emu
        .call(
            Sig::V1Post,
            "ListSecrets",
            &[
                ("RegionId", "cn-hangzhou"),
                ("Filters", r#"[{"Key":"SecretName","Values":["pass"]}]"#),
            ],
            &testid(),
        )
        .await;
    assert_eq!(r.json["SecretList"]["Secret"][0]["SecretName"], "db-password");
    emu.call(
        Sig::V1Post,
        "ListSecrets",
        &[("RegionId", "cn-hangzhou"), ("FetchTags", "yes")],
        &testid(),
    )
    .await
    .assert_error(400, "InvalidParameter");

    // DescribeKey by id, alias, ARN; not found.
    for key_id in [
        "key-hzz62f1cb66fa42qo1111",
        "alias/app-key",
        "acs:kms:cn-hangzhou:1234567890123456:key/key-hzz62f1cb66fa42qo1111",
    ] {
        let r = emu
            .call(
                Sig::V3,
                "DescribeKey",
                &[("RegionId", "cn-hangzhou"), ("KeyId", key_id)],
                &testid(),
            )
            .await;
        r.assert_ok();
        let m = &r.json["KeyMetadata"];
        assert_eq!(m["KeyId"], "key-hzz62f1cb66fa42qo1111", "{key_id}");
        assert_eq!(m["KeyState"], "Enabled");
        assert_eq!(
            m["Arn"],
            "acs:kms:cn-hangzhou:1234567890123456:key/key-hzz62f1cb66fa42qo1111"
        );
    }
    emu.call(
        Sig::V3,
        "DescribeKey",
        &[("RegionId", "cn-hangzhou"), ("KeyId", "key-nope")],
        &testid(),
    )
    .await
    .assert_error(404, "Forbidden.KeyNotFound");
    emu.call(
        Sig::V3,
        "DescribeKey",
        &[("RegionId", "cn-hangzhou"), ("KeyId", "alias/nope")],
        &testid(),
    )
    .await
    .assert_error(404, "Forbidden.AliasNotFound");
    emu.call(Sig::V3, "DescribeKey", &[("RegionId", "cn-hangzhou")], &testid())
        .await
        .assert_error(400, "MissingParameter");

    // DescribeSecret.
    let r = emu
        .call(
            Sig::V3,
            "DescribeSecret",
            &[
                ("RegionId", "cn-hangzhou"),
                ("SecretName", "db-password"),
                ("FetchTags", "true"),
            ],
            &testid(),
        )
        .await;
    r.assert_ok();
    assert_eq!(
        r.json["Tags"]["Tag"],
        json!([{"TagKey": "owner", "TagValue": "payments"}])
    );
    emu.call(
        Sig::V3,
        "DescribeSecret",
        &[("RegionId", "cn-hangzhou"), ("SecretName", "nope")],
        &testid(),
    )
    .await
    .assert_error(404, "Forbidden.ResourceNotFound");

    // ListTagResources: unknown resource id, tag filter, duplicate filter key, system-key filter.
    emu.call(
        Sig::V3,
        "ListTagResources",
        &[
            ("RegionId", "cn-hangzhou"),
            ("ResourceType", "key"),
            ("ResourceId.1", "key-nope"),
        ],
        &testid(),
    )
    .await
    .assert_error(404, "InvalidResourceId.NotFound");
    let r = emu
        .call(
            Sig::V3,
            "ListTagResources",
            &[
                ("RegionId", "cn-hangzhou"),
                ("ResourceType", "key"),
                ("Tag.1.Key", "owner"),
                ("Tag.1.Value", "payments"),
            ],
            &testid(),
        )
        .await;
    let ids: Vec<&str> = r.json["TagResources"]["TagResource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["ResourceId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["key-hzz62f1cb66fa42qo2222", "key-hzz62f1cb66fa42qo2222"]);
    emu.call(
        Sig::V3,
        "ListTagResources",
        &[
            ("RegionId", "cn-hangzhou"),
            ("ResourceType", "key"),
            ("Tag.1.Key", "a"),
            ("Tag.2.Key", "a"),
        ],
        &testid(),
    )
    .await
    .assert_error(400, "Duplicate.TagKey");
    emu.call(
        Sig::V3,
        "ListTagResources",
        &[
            ("RegionId", "cn-hangzhou"),
            ("ResourceType", "key"),
            ("Tag.1.Key", "acs:rm:rgId"),
        ],
        &testid(),
    )
    .await
    .assert_error(400, "InvalidParameter.TagKey");
    // A region the account has no resources in is simply empty.
    let r = emu
        .call(
            Sig::V3,
            "ListTagResources",
            &[("RegionId", "eu-central-1"), ("ResourceType", "key")],
            &testid(),
        )
        .await;
    r.assert_ok();
    assert_eq!(r.json["TagResources"]["TagResource"], json!([]));
}

#[tokio::test]
async fn tag_writes_change_later_reads() {
    let emu = Emu::start(SAMPLE).await;
    let region = ("RegionId", "cn-hangzhou");
    for sig in [Sig::V1Form, Sig::V3] {
        emu.call(
            sig,
            "TagResources",
            &[
                region,
                ("ResourceType", "key"),
                ("ResourceId.1", "key-hzz62f1cb66fa42qo3333"),
                ("ResourceId.2", "key-hzz62f1cb66fa42qo2222"),
                ("Tag.1.Key", "team"),
                ("Tag.1.Value", "core"),
                ("Tag.2.Key", "owner"),
                ("Tag.2.Value", "security"),
            ],
            &testid(),
        )
        .await
        .assert_ok();
    }
    let (rows, _) = emu.all_tag_rows(&[region, ("ResourceType", "key")]).await;
    let by_id = |id: &str| -> BTreeMap<String, String> {
        rows.iter()
            .filter(|r| r.0 == id)
            .map(|r| (r.1.clone(), r.2.clone()))
            .collect()
    };
    assert_eq!(
        by_id("key-hzz62f1cb66fa42qo3333"),
        BTreeMap::from([
            ("owner".into(), "security".into()),
            ("team".into(), "core".into())
        ])
    );
    assert_eq!(by_id("key-hzz62f1cb66fa42qo2222")["owner"], "security");
    assert_eq!(by_id("key-hzz62f1cb66fa42qo2222")["env"], "prod");

    // Untag: one known and one unknown key (ignored); then All.
    emu.call(
        Sig::V3,
        "UntagResources",
        &[
            region,
            ("ResourceType", "key"),
            ("ResourceId.1", "key-hzz62f1cb66fa42qo2222"),
            ("TagKey.1", "env"),
            ("TagKey.2", "never-there"),
        ],
        &testid(),
    )
    .await
    .assert_ok();
    let r = emu
        .call(
            Sig::V3,
            "ListTagResources",
            &[
                region,
                ("ResourceType", "key"),
                ("ResourceId.1", "key-hzz62f1cb66fa42qo2222"),
            ],
            &testid(),
        )
        .await;
    let keys: Vec<&str> = r.json["TagResources"]["TagResource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["TagKey"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["owner", "team"]);
    emu.call(
        Sig::V3,
        "UntagResources",
        &[
            region,
            ("ResourceType", "key"),
            ("ResourceId.1", "key-hzz62f1cb66fa42qo2222"),
            ("All", "true"),
        ],
        &testid(),
    )
    .await
    .assert_ok();
    let r = emu
        .call(
            Sig::V3,
            "ListTagResources",
            &[
                region,
                ("ResourceType", "key"),
                ("ResourceId.1", "key-hzz62f1cb66fa42qo2222"),
            ],
            &testid(),
        )
        .await;
    // A resource without tags contributes no rows.
    assert_eq!(r.json["TagResources"]["TagResource"], json!([]));

    // Secrets: tag, then ListSecrets/DescribeSecret see it.
    emu.call(
        Sig::V1Post,
        "TagResources",
        &[
            region,
            ("ResourceType", "secret"),
            ("ResourceId.1", "db-password"),
            ("Tag.1.Key", "rotation"),
            ("Tag.1.Value", "90d"),
        ],
        &testid(),
    )
    .await
    .assert_ok();
    let r = emu
        .call(
            Sig::V3,
            "DescribeSecret",
            &[region, ("SecretName", "db-password"), ("FetchTags", "true")],
            &testid(),
        )
        .await;
    assert_eq!(
        r.json["Tags"]["Tag"],
        json!([{"TagKey": "owner", "TagValue": "payments"}, {"TagKey": "rotation", "TagValue": "90d"}])
    );

    // Write errors leave everything unchanged.
    let cases: &[WriteCase] = &[
        (
            &[
                ("ResourceId.1", "db-password"),
                ("ResourceId.2", "nope"),
                ("Tag.1.Key", "x"),
                ("Tag.1.Value", "y"),
            ],
            404,
            "InvalidResourceId.NotFound",
        ),
        (
            &[
                ("ResourceId.1", "db-password"),
                ("Tag.1.Key", "acs:x"),
                ("Tag.1.Value", "y"),
            ],
            400,
            "InvalidParameter.TagKey",
        ),
        (
            &[
                ("ResourceId.1", "db-password"),
                ("Tag.1.Key", "bad key"),
                ("Tag.1.Value", "y"),
            ],
            400,
            "InvalidParameter.TagKey",
        ),
        (
            &[
                ("ResourceId.1", "db-password"),
                ("Tag.1.Key", "k"),
                ("Tag.1.Value", "bad<value>"),
            ],
            400,
            "InvalidParameter.TagValue",
        ),
        (
            &[
                ("ResourceId.1", "db-password"),
                ("Tag.1.Key", "k"),
                ("Tag.2.Key", "k"),
            ],
            400,
            "Duplicate.TagKey",
        ),
        (&[("ResourceId.1", "db-password")], 400, "MissingParameter"),
        (&[("Tag.1.Key", "k")], 400, "MissingParameter"),
    ];
    for (params, status, code) in cases {
        let mut p = vec![region, ("ResourceType", "secret")];
        p.extend_from_slice(params);
        emu.call(Sig::V3, "TagResources", &p, &testid())
            .await
            .assert_error(*status, code);
    }
    let untag_cases: &[WriteCase] = &[
        (&[("ResourceId.1", "db-password")], 400, "MissingParameter"),
        (
            &[
                ("ResourceId.1", "db-password"),
                ("TagKey.1", "owner"),
                ("All", "true"),
            ],
            400,
            "InvalidParameter",
        ),
        (
            &[("ResourceId.1", "nope"), ("TagKey.1", "owner")],
            404,
            "InvalidResourceId.NotFound",
        ),
    ];
    for (params, status, code) in untag_cases {
        let mut p = vec![region, ("ResourceType", "secret")];
        p.extend_from_slice(params);
        emu.call(Sig::V3, "UntagResources", &p, &testid())
            .await
            .assert_error(*status, code);
    }
    let r = emu
        .call(
            Sig::V3,
            "DescribeSecret",
            &[region, ("SecretName", "db-password"), ("FetchTags", "true")],
            &testid(),
        )
        .await;
    assert_eq!(r.json["Tags"]["Tag"].as_array().unwrap().len(), 2);
}

/// (extra parameters, expected status, expected code) of a refused write.
type WriteCase<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);

/// An inventory with `keys` keys of `tags` tags each (ids sortable: key-00000, key-00001, ...).
fn many_keys_inventory(keys: usize, tags: usize, extra_on_last: usize) -> String {
    let mut yaml = String::from(
        "alibaba:\n  - access_key_id: testid\n    access_key_secret: testsecret\n    regions:\n      cn-hangzhou:\n        keys:\n",
    );
    for k in 0..keys {
        let n = tags + if k + 1 == keys { extra_on_last } else { 0 };
        let t: Vec<String> = (0..n).map(|i| format!("t{i:02}: v{k}")).collect();
        yaml.push_str(&format!(
            "          - {{id: key-{k:05}, tags: {{{}}}}}\n",
            t.join(", ")
        ));
    }
    yaml.push_str("          - {id: key-untagged}\n");
    yaml
}

#[tokio::test]
async fn pagination_at_page_boundaries() {
    let region = ("RegionId", "cn-hangzhou");
    // Exactly 200 rows: one full page and no NextToken.
    let emu = Emu::start(&many_keys_inventory(40, 5, 0)).await;
    let r = emu
        .call(
            Sig::V3,
            "ListTagResources",
            &[region, ("ResourceType", "key")],
            &testid(),
        )
        .await;
    assert_eq!(
        r.json["TagResources"]["TagResource"].as_array().unwrap().len(),
        200
    );
    assert_eq!(r.json["NextToken"], "");

    // 201 rows: 200, then 1 (the last tag of the last key, split inside a resource).
    let emu = Emu::start(&many_keys_inventory(40, 5, 1)).await;
    let r = emu
        .call(
            Sig::V3,
            "ListTagResources",
            &[region, ("ResourceType", "key")],
            &testid(),
        )
        .await;
    assert_eq!(
        r.json["TagResources"]["TagResource"].as_array().unwrap().len(),
        200
    );
    let token = r.json["NextToken"].as_str().unwrap().to_owned();
    assert!(!token.is_empty());
    let r2 = emu
        .call(
            Sig::V3,
            "ListTagResources",
            &[region, ("ResourceType", "key"), ("NextToken", &token)],
            &testid(),
        )
        .await;
    r2.assert_ok();
    assert_eq!(
        r2.json["TagResources"]["TagResource"],
        json!([{"ResourceId": "key-00039", "ResourceType": "key", "TagKey": "t05", "TagValue": "v39"}])
    );
    assert_eq!(r2.json["NextToken"], "");
    // A token for keys is refused for secrets, garbage is refused.
    emu.call(
        Sig::V3,
        "ListTagResources",
        &[region, ("ResourceType", "secret"), ("NextToken", &token)],
        &testid(),
    )
    .await
    .assert_error(400, "InvalidParameter");
    emu.call(
        Sig::V3,
        "ListTagResources",
        &[region, ("ResourceType", "key"), ("NextToken", "%%%")],
        &testid(),
    )
    .await
    .assert_error(400, "InvalidParameter");

    // A longer walk: 123 keys x 7 tags = 861 rows over 5 pages, each row once, in order; with ResourceIds too.
    let emu = Emu::start(&many_keys_inventory(123, 7, 0)).await;
    let (rows, pages) = emu.all_tag_rows(&[region, ("ResourceType", "key")]).await;
    assert_eq!((rows.len(), pages), (861, 5));
    let mut sorted = rows.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, rows);
    let ids: Vec<String> = (0..50).map(|k| format!("key-{:05}", k * 2)).collect();
    let mut params = vec![region, ("ResourceType", "key")];
    let names: Vec<String> = (1..=50).map(|n| format!("ResourceId.{n}")).collect();
    for (name, id) in names.iter().zip(&ids) {
        params.push((name, id));
    }
    let (rows, pages) = emu.all_tag_rows(&params).await;
    assert_eq!((rows.len(), pages), (350, 2));
    assert!(rows.iter().all(|r| ids.contains(&r.0)));

    // 51 resource ids is one too many.
    let id51 = "key-00100".to_owned();
    params.push(("ResourceId.51", &id51));
    let r = emu.call(Sig::V3, "ListTagResources", &params, &testid()).await;
    r.assert_error(400, "InvalidParameter");
    assert!(r.json["Message"].as_str().unwrap().contains("50"), "{}", r.body);
    let mut tag_params = vec![region, ("ResourceType", "key"), ("ResourceId.1", "key-00001")];
    let tag_names: Vec<String> = (1..=51).map(|n| format!("TagKey.{n}")).collect();
    for name in &tag_names {
        tag_params.push((name, "x"));
    }
    emu.call(Sig::V3, "UntagResources", &tag_params, &testid())
        .await
        .assert_error(400, "InvalidParameter");
}

// ---------------------------------------------------------------------------------------------------------
// Throttling and faults.

#[tokio::test]
async fn rate_limits_answer_rejected_throttling_with_retry_after() {
    let faults = Faults {
        rate_limits: BTreeMap::from([("alibaba.kms_read".to_owned(), 3.0)]),
        ..Faults::default()
    };
    let emu = Emu::start_with(SAMPLE, Options::default(), faults).await;
    let region = ("RegionId", "cn-hangzhou");
    // ListKeys, DescribeKey and ListTagResources share the group.
    emu.call(Sig::V3, "ListKeys", &[region], &testid())
        .await
        .assert_ok();
    emu.call(
        Sig::V3,
        "DescribeKey",
        &[region, ("KeyId", "alias/app-key")],
        &testid(),
    )
    .await
    .assert_ok();
    emu.call(
        Sig::V3,
        "ListTagResources",
        &[region, ("ResourceType", "key")],
        &testid(),
    )
    .await
    .assert_ok();
    let r = emu.call(Sig::V3, "ListKeys", &[region], &testid()).await;
    r.assert_error(429, "Rejected.Throttling");
    assert_eq!(r.json["Message"], "QPS Limit Exceeded");
    assert_eq!(r.json["HttpStatus"], 429);
    assert_eq!(r.headers["x-acs-retry-after"], "334");
    // Other groups and regions are unaffected.
    emu.call(Sig::V3, "ListSecrets", &[region], &testid())
        .await
        .assert_ok();
    emu.call(Sig::V3, "ListKeys", &[("RegionId", "cn-shanghai")], &testid())
        .await
        .assert_ok();
    // Time refills; turning limits off at run time lets everything through.
    emu.advance(TimeDelta::milliseconds(400)).await;
    emu.call(Sig::V3, "ListKeys", &[region], &testid())
        .await
        .assert_ok();
    emu.call(Sig::V3, "ListKeys", &[region], &testid())
        .await
        .assert_error(429, "Rejected.Throttling");
    let r = emu
        .http
        .post(format!("{}/_emulator/faults", emu.run.endpoint()))
        .body(r#"{"rate_limits_enabled": false}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for _ in 0..10 {
        emu.call(Sig::V3, "ListKeys", &[region], &testid())
            .await
            .assert_ok();
    }
    let stats = emu.stats().await;
    assert_eq!(stats.outcome("alibaba", "ListKeys", "throttled"), 2);
    assert_eq!(stats.calls("alibaba", "ListKeys"), 15);
}

#[tokio::test]
async fn writes_have_their_own_default_limit_of_30() {
    let emu = Emu::start(SAMPLE).await;
    let params = [
        ("RegionId", "cn-hangzhou"),
        ("ResourceType", "secret"),
        ("ResourceId.1", "db-password"),
        ("Tag.1.Key", "k"),
        ("Tag.1.Value", "v"),
    ];
    for _ in 0..30 {
        emu.call(Sig::V3, "TagResources", &params, &testid())
            .await
            .assert_ok();
    }
    emu.call(Sig::V3, "TagResources", &params, &testid())
        .await
        .assert_error(429, "Rejected.Throttling");
    // Reads have their own 50.
    emu.call(Sig::V3, "ListKeys", &[("RegionId", "cn-hangzhou")], &testid())
        .await
        .assert_ok();
}

/// An HTTP/1.1 request for a signed V3 call, as text.
fn raw_v3_request(call: &V3Call<'_>, headers: &[(String, String)]) -> String {
    let mut text = format!(
        "POST /?{} HTTP/1.1\r\nhost: {}\r\ncontent-length: 0\r\n",
        sign::v3_canonical_query(call.query),
        call.host
    );
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    text
}

/// Sends raw bytes and reads until the peer closes: `Ok(bytes)` on an orderly close, `Err` on a reset.
async fn raw_exchange(addr: std::net::SocketAddr, request: &str) -> std::io::Result<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await?;
    Ok(out)
}

#[tokio::test]
async fn injected_faults_per_kind() {
    let emu = Emu::start(SAMPLE).await;
    let params = [("RegionId", "cn-hangzhou"), ("ResourceType", "key")];

    emu.set_faults(json!({"server_error": 1.0})).await;
    let mut codes = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let r = emu.call(Sig::V3, "ListTagResources", &params, &testid()).await;
        assert!(r.status == 500 || r.status == 503, "{}", r.body);
        r.assert_error(
            r.status,
            if r.status == 500 {
                "InternalFailure"
            } else {
                "ServiceUnavailableTemporary"
            },
        );
        codes.insert(r.code().to_owned());
    }
    assert_eq!(codes.len(), 2, "both 5xx kinds occur: {codes:?}");

    emu.set_faults(json!({"server_error": 0.0, "throttle": 1.0}))
        .await;
    let r = emu
        .call(Sig::V1Post, "ListKeys", &[("RegionId", "cn-hangzhou")], &testid())
        .await;
    r.assert_error(400, "Throttling");
    assert_eq!(r.headers["x-acs-retry-after"], "1000");

    emu.set_faults(json!({"throttle": 0.0, "malformed": 1.0})).await;
    for _ in 0..6 {
        let r = emu.call(Sig::V3, "ListTagResources", &params, &testid()).await;
        assert_eq!(r.status, 200);
        let parsed: Result<Value, _> = serde_json::from_str(&r.body);
        match parsed {
            Err(_) => {}
            Ok(v) => assert!(!v["TagResources"]["TagResource"].is_array(), "{}", r.body),
        }
    }
    // Errors are never corrupted.
    let r = emu
        .call(
            Sig::V3,
            "DescribeKey",
            &[("RegionId", "cn-hangzhou"), ("KeyId", "nope")],
            &testid(),
        )
        .await;
    r.assert_error(404, "Forbidden.KeyNotFound");

    emu.set_faults(json!({"malformed": 0.0, "reset": 1.0})).await;
    let err = emu
        .http
        .post(format!("{}?Action=ListKeys", emu.url()))
        .header("authorization", "x")
        .send()
        .await;
    // Unauthenticated requests are never faulted.
    assert_eq!(err.unwrap().status(), 400);
    let now = emu.now();
    let host = emu.host();
    let q = pairs(&[("RegionId", "cn-hangzhou")]);
    let call = V3Call {
        method: "POST",
        host: &host,
        action: "ListKeys",
        version: KMS,
        query: &q,
        headers: &[],
        body: b"",
        date: &now,
        nonce: "r1",
    };
    let headers = sign::sign_v3(&call, &testid());
    let mut request = emu.http.post(format!("{}?RegionId=cn-hangzhou", emu.url()));
    for (k, v) in &headers {
        request = request.header(k, v);
    }
    let err = request.send().await.unwrap_err();
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    // On the wire it is a TCP reset (RST), not an orderly close.
    let call = V3Call { nonce: "r2", ..call };
    let raw = raw_v3_request(&call, &sign::sign_v3(&call, &testid()));
    let got = raw_exchange(emu.run.addr, &raw).await;
    assert_eq!(
        got.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionReset)
    );

    emu.set_faults(json!({"reset": 0.0, "hang": 1.0, "hang_ms": 300}))
        .await;
    let started = Instant::now();
    let hung = tokio::time::timeout(
        Duration::from_millis(100),
        emu.call(Sig::V3, "ListKeys", &[("RegionId", "cn-hangzhou")], &testid()),
    )
    .await;
    assert!(hung.is_err(), "a hung request gets no answer");
    // After hang_ms the connection is reset rather than answered.
    let q = pairs(&[("RegionId", "cn-hangzhou")]);
    let call = V3Call {
        method: "POST",
        host: &host,
        action: "ListKeys",
        version: KMS,
        query: &q,
        headers: &[],
        body: b"",
        date: &now,
        nonce: "h2",
    };
    let headers = sign::sign_v3(&call, &testid());
    let mut request = emu.http.post(format!("{}?RegionId=cn-hangzhou", emu.url()));
    for (k, v) in &headers {
        request = request.header(k, v);
    }
    let err = request.send().await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(!err.is_status(), "{err:?}");

    // Switched off mid-run: everything answers again.
    emu.set_faults(json!({"hang": 0.0, "latency_ms": 120})).await;
    let started = Instant::now();
    emu.call(Sig::V3, "ListKeys", &[("RegionId", "cn-hangzhou")], &testid())
        .await
        .assert_ok();
    assert!(started.elapsed() >= Duration::from_millis(120));

    let stats = emu.stats().await;
    assert_eq!(stats.outcome("alibaba", "ListTagResources", "fault_5xx"), 12);
    assert_eq!(stats.outcome("alibaba", "ListKeys", "fault_throttle"), 1);
    assert_eq!(stats.outcome("alibaba", "ListTagResources", "fault_malformed"), 6);
    assert_eq!(stats.outcome("alibaba", "ListKeys", "fault_reset"), 2);
    assert_eq!(stats.outcome("alibaba", "ListKeys", "fault_hang"), 2);
}

// ---------------------------------------------------------------------------------------------------------
// STS and ECS metadata.

fn jwt(claims: Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k1"}"#);
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{claims}.c2lnbmF0dXJl")
}

async fn assume(emu: &Emu, role: &str, provider: &str, token: &str, extra: &[(&str, &str)]) -> Reply {
    // Exactly as the credentials SDK sends it: unsigned GET, parameters in the query.
    let mut params = pairs(&[
        ("Action", "AssumeRoleWithOIDC"),
        ("Format", "JSON"),
        ("Version", "2015-04-01"),
        ("DurationSeconds", "3600"),
        ("RoleArn", role),
        ("OIDCProviderArn", provider),
        ("OIDCToken", token),
        ("RoleSessionName", "credentials-python-1735787045"),
        ("Timestamp", T0),
    ]);
    for (k, v) in extra {
        params.retain(|(n, _)| n != k);
        params.push(((*k).into(), (*v).into()));
    }
    Emu::reply(
        emu.http
            .get(format!("{}?{}", emu.url(), encode(&params)))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// (role ARN, provider ARN, token, extra parameters, expected status, expected code) of a refused assume.
type AssumeCase<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, &'a str)], u16, &'a str);

const ROLE: &str = "acs:ram::1234567890123456:role/tagdrift";
const PROVIDER: &str = "acs:ram::1234567890123456:oidc-provider/ack-rrsa-demo";

#[tokio::test]
async fn assume_role_with_oidc_issues_credentials_that_work_until_they_expire() {
    let emu = Emu::start(SAMPLE).await;
    let exp = (t0() + TimeDelta::hours(1)).timestamp();
    let token = jwt(
        json!({"iss": "https://oidc.example", "sub": "system:serviceaccount:ops:tagdrift", "aud": ["sts.aliyuncs.com"], "exp": exp, "iat": t0().timestamp()}),
    );
    let r = assume(&emu, ROLE, PROVIDER, &token, &[]).await;
    r.assert_ok();
    let c = &r.json["Credentials"];
    let ak = c["AccessKeyId"].as_str().unwrap();
    assert!(ak.starts_with("STS."), "{ak}");
    assert_eq!(c["Expiration"], "2025-01-02T04:04:05Z");
    assert_eq!(
        r.json["OIDCTokenInfo"]["Subject"],
        "system:serviceaccount:ops:tagdrift"
    );
    assert_eq!(r.json["OIDCTokenInfo"]["ClientIds"], "sts.aliyuncs.com");
    assert_eq!(
        r.json["AssumedRoleUser"]["Arn"],
        "acs:ram::1234567890123456:role/tagdrift/credentials-python-1735787045"
    );
    let temp = Credential {
        access_key_id: ak.to_owned(),
        access_key_secret: c["AccessKeySecret"].as_str().unwrap().to_owned(),
        security_token: Some(c["SecurityToken"].as_str().unwrap().to_owned()),
    };
    for sig in [Sig::V1Get, Sig::V3] {
        emu.call(sig, "ListKeys", &[("RegionId", "cn-hangzhou")], &temp)
            .await
            .assert_ok();
    }
    let r = emu
        .call_version(Sig::V3, "2015-04-01", "GetCallerIdentity", &[], &temp)
        .await;
    r.assert_ok();
    assert_eq!(r.json["AccountId"], "1234567890123456");
    // Without its token, or with another one, the key is refused.
    let no_token = Credential {
        security_token: None,
        ..temp.clone()
    };
    emu.call(Sig::V3, "ListKeys", &[("RegionId", "cn-hangzhou")], &no_token)
        .await
        .assert_error(400, "InvalidSecurityToken.MismatchWithAccessKey");
    let other = Credential {
        security_token: Some("CAIS.other".into()),
        ..temp.clone()
    };
    emu.call(Sig::V1Post, "ListKeys", &[("RegionId", "cn-hangzhou")], &other)
        .await
        .assert_error(400, "InvalidSecurityToken.MismatchWithAccessKey");
    emu.advance(TimeDelta::minutes(61)).await;
    emu.call(Sig::V3, "ListKeys", &[("RegionId", "cn-hangzhou")], &temp)
        .await
        .assert_error(400, "InvalidSecurityToken.Expired");

    // Refusals.
    emu.set_clock(t0()).await;
    let cases: &[AssumeCase] = &[
        (
            "acs:ram::1234567890123456:role/other",
            PROVIDER,
            &token,
            &[],
            404,
            "EntityNotExist.Role",
        ),
        (
            ROLE,
            "acs:ram::1234567890123456:oidc-provider/other",
            &token,
            &[],
            404,
            "EntityNotExist.OIDCProvider",
        ),
        (
            ROLE,
            PROVIDER,
            "not-a-jwt",
            &[],
            400,
            "AuthenticationFail.OIDCToken.Invalid",
        ),
        (
            ROLE,
            PROVIDER,
            &token,
            &[("DurationSeconds", "100")],
            400,
            "InvalidParameter.DurationSeconds",
        ),
        (
            ROLE,
            PROVIDER,
            &token,
            &[("DurationSeconds", "7200")],
            400,
            "InvalidParameter.DurationSeconds",
        ),
    ];
    for (role, provider, tok, extra, status, code) in cases {
        assume(&emu, role, provider, tok, extra)
            .await
            .assert_error(*status, code);
    }
    let expired = jwt(json!({"iss": "i", "sub": "s", "exp": t0().timestamp() - 1}));
    assume(&emu, ROLE, PROVIDER, &expired, &[])
        .await
        .assert_error(400, "AuthenticationFail.OIDCToken.Expired");
    let r = Emu::reply(
        emu.http
            .get(format!(
                "{}?Action=AssumeRoleWithOIDC&Version=2015-04-01&Format=JSON&RoleArn={ROLE}",
                emu.url()
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(400, "MissingParameter");
    // Short-lived credentials through the lifetime option (for refresh tests).
    let emu = Emu::start_with(
        SAMPLE,
        Options {
            temp_credential_lifetime: Some(Duration::from_secs(60)),
            ..Options::default()
        },
        Faults::default(),
    )
    .await;
    let r = assume(&emu, ROLE, PROVIDER, &token, &[]).await;
    assert_eq!(r.json["Credentials"]["Expiration"], "2025-01-02T03:05:05Z");
    let stats = emu.stats().await;
    assert_eq!(stats.outcome("alibaba", "AssumeRoleWithOIDC", "ok"), 1);
}

#[tokio::test]
async fn static_sts_credentials_from_the_inventory() {
    let emu = Emu::start(SAMPLE).await;
    let sts = Credential {
        access_key_id: "STS.demo0123456789".into(),
        access_key_secret: "demo-sts-secret".into(),
        security_token: Some("CAIS.demo-sts-token".into()),
    };
    emu.call(Sig::V1Get, "ListKeys", &[("RegionId", "cn-hangzhou")], &sts)
        .await
        .assert_ok();
    emu.call(Sig::V3Form, "ListKeys", &[("RegionId", "cn-hangzhou")], &sts)
        .await
        .assert_ok();
}

#[tokio::test]
async fn ecs_metadata_role_credentials_flow() {
    let emu = Emu::start(SAMPLE).await;
    let base = emu.run.endpoint();
    let token = emu
        .http
        .put(format!("{base}/latest/api/token"))
        .header("X-aliyun-ecs-metadata-token-ttl-seconds", "21600")
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    let token = token.text().await.unwrap();
    assert!(token.len() >= 32);
    let get = |path: &str, token: Option<&str>| {
        let mut r = emu.http.get(format!("{base}{path}"));
        if let Some(t) = token {
            r = r.header("X-aliyun-ecs-metadata-token", t);
        }
        r.send()
    };
    let role = get("/latest/meta-data/ram/security-credentials/", Some(&token))
        .await
        .unwrap();
    assert_eq!(role.status(), 200);
    let role = role.text().await.unwrap();
    assert_eq!(role, "tagdrift-ecs");
    let creds: Value = get(
        &format!("/latest/meta-data/ram/security-credentials/{role}"),
        Some(&token),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(creds["Code"], "Success");
    assert_eq!(creds["LastUpdated"], T0);
    let temp = Credential {
        access_key_id: creds["AccessKeyId"].as_str().unwrap().to_owned(),
        access_key_secret: creds["AccessKeySecret"].as_str().unwrap().to_owned(),
        security_token: Some(creds["SecurityToken"].as_str().unwrap().to_owned()),
    };
    assert!(temp.access_key_id.starts_with("STS."));
    emu.call(
        Sig::V3,
        "ListTagResources",
        &[("RegionId", "cn-hangzhou"), ("ResourceType", "key")],
        &temp,
    )
    .await
    .assert_ok();
    // IMDSv1 fallback (no token) works; a wrong token, a wrong role, a bad TTL do not.
    assert_eq!(
        get("/latest/meta-data/ram/security-credentials/", None)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        get("/latest/meta-data/ram/security-credentials/", Some("bogus"))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        get(
            "/latest/meta-data/ram/security-credentials/other-role",
            Some(&token)
        )
        .await
        .unwrap()
        .status(),
        404
    );
    let bad_ttl = emu
        .http
        .put(format!("{base}/latest/api/token"))
        .header("X-aliyun-ecs-metadata-token-ttl-seconds", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_ttl.status(), 400);
    // The token expires with its TTL.
    emu.advance(TimeDelta::seconds(21_601)).await;
    assert_eq!(
        get("/latest/meta-data/ram/security-credentials/", Some(&token))
            .await
            .unwrap()
            .status(),
        401
    );

    // IMDSv2 only.
    let emu = Emu::start_with(
        SAMPLE,
        Options {
            imds_token_required: true,
            ..Options::default()
        },
        Faults::default(),
    )
    .await;
    let r = emu
        .http
        .get(format!(
            "{}/latest/meta-data/ram/security-credentials/",
            emu.run.endpoint()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let stats = emu.stats().await;
    assert_eq!(stats.outcome("alibaba", "MetadataRoleName", "token_required"), 1);
}

/// Client-observed time per ListTagResources page over HTTP (V3 signing, loopback, one connection) against a
/// 100,000-resource generated inventory. `cargo test --test emulator_alibaba http_page_latency -- --ignored
/// --nocapture`
#[tokio::test]
#[ignore = "measurement; run explicitly with --ignored --nocapture"]
async fn http_page_latency_at_100k() {
    let emu = Emu::start_generated(
        100_000,
        Options::default(),
        Faults {
            rate_limits_enabled: false,
            ..Faults::default()
        },
    )
    .await;
    let http = reqwest::Client::new();
    let host = emu.host();
    let mut times = Vec::new();
    let mut token = String::new();
    let mut rows = 0;
    for n in 0.. {
        let mut query = pairs(&[("RegionId", "cn-hangzhou"), ("ResourceType", "key")]);
        if !token.is_empty() {
            query.push(("NextToken".into(), token.clone()));
        }
        let date = emu.now();
        let nonce = format!("bench-{n}");
        let call = V3Call {
            method: "POST",
            host: &host,
            action: "ListTagResources",
            version: KMS,
            query: &query,
            headers: &[],
            body: b"",
            date: &date,
            nonce: &nonce,
        };
        let headers = sign::sign_v3(&call, &testid());
        let started = Instant::now();
        let mut request = http.post(format!(
            "{}/?{}",
            emu.run.endpoint(),
            sign::v3_canonical_query(&query)
        ));
        for (k, v) in &headers {
            request = request.header(k, v);
        }
        let body: Value = request.send().await.unwrap().json().await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1e3);
        rows += body["TagResources"]["TagResource"].as_array().unwrap().len();
        token = body["NextToken"].as_str().unwrap().to_owned();
        if token.is_empty() {
            break;
        }
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "HTTP ListTagResources: {} pages, {rows} rows, mean {mean:.3} ms, p50 {:.3} ms, p99 {:.3} ms",
        times.len(),
        times[times.len() / 2],
        times[(times.len() * 99 / 100).min(times.len() - 1)]
    );
    assert!(emu.run.stop().await.success());
}
