//! The Alibaba half of the emulator over real HTTP: known-answer signature acceptance (reference vectors at
//! their timestamps), rejection of altered requests, every KMS API, pagination and batch limits, throttling,
//! injected faults, STS AssumeRoleWithOIDC, ECS metadata, and tag writes changing reads.
//!
//! Where a request/answer shape repeats, a test is a table of [`Case`]s (name, request, expected status and
//! code, field checks) run in order against one emulator; every mismatch is reported with its case's name.

mod aliases;
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

/// V1-L2 on the wire as the SDK sends it: `+` for spaces, `%2A` for `*`.
const V1_L2_QUERY: &str = "AccessKeyId=testid&Action=ListTagResources&Format=json\
    &NextToken=AAAAAV3MpHK1AP0pfERHZN5pu6n%2FOc1nj4M9UaAZ%2BI8db%3D%3D&RegionId=cn-hangzhou\
    &ResourceId.1=key-hzz62f1cb66fa42qo1111&ResourceId.2=key-hzz62f1cb66fa42qo2222&ResourceType=key\
    &SignatureMethod=HMAC-SHA1&SignatureNonce=fedcba9876543210fedcba9876543210&SignatureVersion=1.0\
    &Tag.1.Key=cost+center&Tag.1.Value=R%26D%2A~%2F%C3%A4&Timestamp=2025-01-02T03%3A04%3A06Z\
    &Version=2016-01-20&Signature=PbB06Q7NKOwnrqmUOuZY%2BCsCDfI%3D";

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

/// V3-MIN: only the six documented headers, with the vector's (foreign) NextToken.
fn v3_min() -> (Pairs, Pairs) {
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
    (query, headers)
}

/// V3-B: STS credentials `testid` + token `CAIS.test-sts-token` (here a static STS key of an account); the
/// request with `token` and `nonce` in place of the vector's.
fn v3_b(token: &str, nonce: &str) -> (Pairs, Pairs) {
    let query = pairs(&[
        ("NextToken", "AAAAAV3MpHK1AP0pfERHZN5pu6n/Oc1nj4M9UaAZ+I8db=="),
        ("RegionId", "cn-hangzhou"),
        ("ResourceId.1", "key-hzz62f1cb66fa42qo1111"),
        ("ResourceId.2", "key-hzz62f1cb66fa42qo2222"),
        ("ResourceType", "key"),
        ("Tag.1.Key", "cost center"),
        ("Tag.1.Value", "R&D*~/ä"),
    ]);
    let headers = pairs(&[
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
        ("x-acs-security-token", token),
        ("x-acs-signature-nonce", nonce),
        ("x-acs-version", "2016-01-20"),
        (
            "authorization",
            "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=accept;host;user-agent;x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version,Signature=d54875e051f4fe37aeba9ee1319b6ba632478b3f7799d7aa60d13f4e7bc2a2e0",
        ),
    ]);
    (query, headers)
}

const STS_INVENTORY: &str = "alibaba:\n  - access_key_id: permanent\n    access_key_secret: other\n    sts:\n      - {access_key_id: testid, access_key_secret: testsecret, security_token: CAIS.test-sts-token}\n    regions:\n      cn-hangzhou:\n        keys: [{id: key-hzz62f1cb66fa42qo1111, tags: {a: b}}, {id: key-hzz62f1cb66fa42qo2222}]\n";

/// The answer to the captured requests: the two sample keys' tag rows on one page.
fn two_sample_keys() -> [Check; 2] {
    [
        eq(
            "/TagResources/TagResource",
            json!([
                {"ResourceId": "key-hzz62f1cb66fa42qo1111", "ResourceType": "key", "TagKey": "disk-encryption", "TagValue": "true"},
                {"ResourceId": "key-hzz62f1cb66fa42qo1111", "ResourceType": "key", "TagKey": "owner", "TagValue": "platform"},
                {"ResourceId": "key-hzz62f1cb66fa42qo2222", "ResourceType": "key", "TagKey": "env", "TagValue": "prod"},
                {"ResourceId": "key-hzz62f1cb66fa42qo2222", "ResourceType": "key", "TagKey": "owner", "TagValue": "payments"},
            ]),
        ),
        eq("/NextToken", ""),
    ]
}

/// `params` with `name` set to `value` and a fresh `nonce` (in `nonce_name`), so only the alteration can be
/// the reason for a refusal.
fn altered(
    params: &[(String, String)],
    nonce_name: &str,
    name: &str,
    value: &str,
    nonce: &str,
) -> Vec<(String, String)> {
    let mut p = params.to_vec();
    for (k, v) in &mut p {
        if k == name {
            *v = value.to_owned();
        }
        if k == nonce_name {
            *v = nonce.to_owned();
        }
    }
    p
}

#[tokio::test]
async fn accepts_the_captured_v1_request_and_rejects_every_alteration() {
    let emu = Emu::start(SAMPLE).await;
    let good = v1_capture_params();
    let with = |name: &str, value: &str, nonce: &str| altered(&good, "SignatureNonce", name, value, nonce);
    let post = |name: &str, signed: Vec<(String, String)>| v1(name, "POST", signed, false);
    let param_byte = with("ResourceId.2", "key-hzz62f1cb66fa42qo2223", "a1");
    let expected_sts = sign::v1_string_to_sign("POST", &param_byte);
    // Re-signed with other credentials: the parameters without those the signing adds.
    let unsigned: Vec<(String, String)> = good
        .iter()
        .filter(|(k, _)| {
            ![
                "Signature",
                "AccessKeyId",
                "SignatureMethod",
                "SignatureVersion",
                "SignatureNonce",
                "Timestamp",
            ]
            .contains(&k.as_str())
        })
        .cloned()
        .collect();
    let resigned = |c: &Credential, nonce: &str| sign::sign_v1("POST", &unsigned, c, T0, nonce);
    // Stale date: the same signed request 16 minutes later, or earlier.
    let fresh = with("SignatureNonce", "a6", "a6");
    let fresh = sign::sign_v1("POST", &fresh[..fresh.len() - 1], &testid(), T0, "a6");
    let mismatch = "SignatureDoesNotMatch";
    emu.run_table(&[
        post("the captured request", good.clone()).checks(two_sample_keys()),
        post("the same request again (a replay)", good.clone()).fails(400, "SignatureNonceUsed"),
        post("one byte of a signed parameter", param_byte)
            .fails(400, mismatch)
            .checks([
                eq(
                    "/Message",
                    format!(
                        "Specified signature is not matched with our calculation. server string to sign is:{expected_sts}"
                    ),
                ),
                eq("/HostId", emu.host()),
            ]),
        post(
            "one byte of the signature",
            with("Signature", "SgcbKQO3ML1liUGMpuKX6LlfSOB=", "a2"),
        )
        .fails(400, mismatch),
        v1("the HTTP method", "GET", with("SignatureNonce", "a3", "a3"), false).fails(400, mismatch),
        post("a wrong secret", resigned(&cred("testid", "wrongsecret"), "a4")).fails(400, mismatch),
        post("an unknown access key", resigned(&cred("nobody", "testsecret"), "a5"))
            .fails(404, "InvalidAccessKeyId.NotFound"),
        // The clock moves 16 minutes forward, 32 back, 16 forward: late, early, on time again.
        post("16 minutes late", fresh.clone())
            .after(TimeDelta::minutes(16))
            .fails(400, "IllegalTimestamp"),
        post("16 minutes early", fresh.clone())
            .after(TimeDelta::minutes(-32))
            .fails(400, "IllegalTimestamp"),
        post("on time", fresh).after(TimeDelta::minutes(16)).checks(two_sample_keys()),
    ])
    .await;

    let stats = emu.stats().await;
    assert_eq!(stats.outcome("alibaba", "ListTagResources", "ok"), 2);
    assert_eq!(stats.outcome("alibaba", "ListTagResources", mismatch), 4);
}

/// The reference vectors whose NextToken came from the real service: the emulator, having authenticated the
/// request, rejects the token itself, which proves the signature passed. Each row on a fresh emulator (the
/// vectors share nonces), with the clock at the vector's timestamp.
#[tokio::test]
async fn accepts_the_reference_vectors_with_foreign_tokens() {
    let foreign = |case: Case| {
        case.fails(400, "InvalidParameter")
            .check(contains("/Message", "NextToken"))
    };
    let one_second = TimeDelta::seconds(1);
    let (min_query, min_headers) = v3_min();
    let (b_query, b_headers) = v3_b("CAIS.test-sts-token", "fedcba9876543210fedcba9876543210");
    let (_, other_token) = v3_b("CAIS.test-sts-tokeN", "c1");
    let rows = [
        (
            SAMPLE,
            foreign(v1(
                "V1-L1 GET",
                "GET",
                v1_l1_params("9OTUtIR7BUwGrwtACTkeBEtXGoU="),
                false,
            )),
        ),
        (
            SAMPLE,
            foreign(v1(
                "V1-L1 POST",
                "POST",
                v1_l1_params("P59+QNrl2juvRyRn77b8JJaNSfU="),
                false,
            )),
        ),
        // The same signed parameters in a form body instead of the query: also accepted (the method is part of
        // the string to sign, where the parameters travel is not).
        (
            SAMPLE,
            foreign(v1(
                "V1-L1 POST, form body",
                "POST",
                v1_l1_params("P59+QNrl2juvRyRn77b8JJaNSfU="),
                true,
            )),
        ),
        (
            SAMPLE,
            foreign(raw(
                "V1-L2, the SDK's wire form",
                Raw::new("POST", format!("/?{V1_L2_QUERY}")),
            ))
            .at(one_second),
        ),
        (SAMPLE, foreign(v3("V3-MIN", min_query, min_headers, b""))),
        (
            STS_INVENTORY,
            foreign(v3("V3-B", b_query.clone(), b_headers, b"")).at(one_second),
        ),
        // Another token: the signature no longer matches.
        (
            STS_INVENTORY,
            v3("V3-B with another token", b_query, other_token, b"")
                .at(one_second)
                .fails(400, "SignatureDoesNotMatch"),
        ),
    ];
    let mut failures = Failures::default();
    for (inventory, case) in &rows {
        Emu::start(inventory).await.run_case(case, &mut failures).await;
    }
    failures.assert_none();
}

#[tokio::test]
async fn accepts_the_captured_v3_request_and_rejects_every_alteration() {
    let emu = Emu::start(SAMPLE).await;
    let headers = v3_a_headers();
    let with =
        |name: &str, value: &str, nonce: &str| altered(&headers, "x-acs-signature-nonce", name, value, nonce);
    let auth = headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .unwrap()
        .1
        .replace("cfe", "cff");
    let mut query_byte = v3_a_query();
    query_byte[3].1 = "secret".into();
    // Signed again with the vector's host and date, by `credential`.
    let host = "kms.cn-hangzhou.aliyuncs.com";
    let query = v3_a_query();
    let resigned = |nonce: &str, credential: &Credential| {
        let mut signed = sign::sign_v3(&v3_call(host, "ListTagResources", &query, T0, nonce), credential);
        signed.push(("host".into(), host.into()));
        signed
    };
    let mismatch = "SignatureDoesNotMatch";
    emu.run_table(&[
        v3("the captured request", v3_a_query(), headers.clone(), b"").checks(two_sample_keys()),
        v3(
            "the same request again (a replay)",
            v3_a_query(),
            headers.clone(),
            b"",
        )
        .fails(400, "SignatureNonceUsed"),
        v3(
            "one byte of a signed header (user-agent)",
            v3_a_query(),
            with(
                "user-agent",
                "AlibabaCloud (Linux; x86_64) Python/3.11.8 Core/0.4.3 TeaDSL/2",
                "b1",
            ),
            b"",
        )
        .fails(400, mismatch)
        .check(contains(
            "/Message",
            "server string to sign is:ACS3-HMAC-SHA256\n",
        )),
        v3(
            "one byte of the signature",
            v3_a_query(),
            with("authorization", &auth, "b2"),
            b"",
        )
        .fails(400, mismatch),
        v3(
            "one byte of the query",
            query_byte,
            with("x-acs-signature-nonce", "b3", "b3"),
            b"",
        )
        .fails(400, mismatch),
        v3(
            "a body the signature did not cover",
            v3_a_query(),
            with("x-acs-signature-nonce", "b4", "b4"),
            b"x",
        )
        .fails(400, "IncompleteSignature")
        .check(body_contains("x-acs-content-sha256")),
        v3("a stale date", v3_a_query(), resigned("b5", &testid()), b"")
            .after(TimeDelta::minutes(20))
            .fails(400, "InvalidTimeStamp.Expired"),
        v3(
            "a wrong secret",
            v3_a_query(),
            resigned("b6", &cred("testid", "nope")),
            b"",
        )
        .at(TimeDelta::zero())
        .fails(400, mismatch),
        v3(
            "an unknown access key",
            v3_a_query(),
            resigned("b7", &cred("nobody", "testsecret")),
            b"",
        )
        .fails(404, "InvalidAccessKeyId.NotFound"),
    ])
    .await;
}

// ---------------------------------------------------------------------------------------------------------
// Gateway errors.

#[tokio::test]
async fn gateway_rejects_malformed_requests_with_the_real_codes() {
    let emu = Emu::start(SAMPLE).await;
    let now = emu.now();
    let host = emu.host();
    // V3: an x-acs-* header left out of SignedHeaders; a malformed Authorization.
    let signed = sign::sign_v3(&v3_call(&host, "ListKeys", &[], &now, "d1"), &testid());
    let mut extra_header = signed.clone();
    extra_header.push(("x-acs-extra".into(), "unsigned".into()));
    let mut malformed = signed;
    for (k, v) in &mut malformed {
        if k == "authorization" {
            *v = "ACS3-HMAC-SHA256 Credential=testid".into();
        }
    }
    // V1 without SignatureNonce.
    let without_nonce: Vec<(String, String)> = sign::sign_v1(
        "GET",
        &pairs(&[("Action", "ListKeys"), ("Version", KMS), ("Format", "JSON")]),
        &testid(),
        &now,
        "d2",
    )
    .into_iter()
    .filter(|(k, _)| k != "SignatureNonce")
    .collect();
    emu.run_table(&[
        call("unknown action", Sig::V3, "DeleteEverything", "").fails(404, "InvalidApi.NotFound"),
        call("unknown version", Sig::V1Get, "ListKeys", "")
            .version("2099-01-01")
            .fails(400, "InvalidVersion"),
        call("no RegionId", Sig::V1Post, "ListTagResources", "ResourceType=key")
            .fails(400, "MissingParameter"),
        call(
            "bad ResourceType",
            Sig::V3,
            "ListTagResources",
            "RegionId=cn-hangzhou&ResourceType=kms",
        )
        .fails(400, "InvalidParameter")
        .check(is("/HttpStatus", Kind::Number)),
        raw(
            "unsigned KMS call",
            Raw::get("/?Action=ListKeys&Version=2016-01-20&Format=JSON"),
        )
        .fails(400, "IncompleteSignature"),
        raw("no Action", Raw::get("/?Version=2016-01-20&Format=JSON")).fails(400, "MissingParameter"),
        raw(
            "unsupported method",
            Raw::new("DELETE", "/?Action=ListKeys&Format=JSON"),
        )
        .fails(403, "UnsupportedHTTPMethod"),
        v3("an x-acs-* header not signed", Vec::new(), extra_header, b"")
            .fails(400, "IncompleteSignature")
            .check(body_contains("x-acs-extra")),
        v3("a malformed Authorization", Vec::new(), malformed, b"").fails(400, "IncompleteSignature"),
        v1("V1 without SignatureNonce", "GET", without_nonce, false).fails(400, "MissingParameter"),
    ])
    .await;

    let stats = emu.stats().await;
    assert_eq!(stats.outcome("alibaba", "unknown", "InvalidApi.NotFound"), 1);
    assert_eq!(stats.outcome("alibaba", "ListKeys", "IncompleteSignature"), 3);
}

fn hangzhou() -> Pairs {
    pairs(&[("RegionId", "cn-hangzhou")])
}

/// V3 headers for ListKeys in cn-hangzhou (query [`hangzhou`]) signed by `testid` over `body` with `content_sha256` as the body hash header (left
/// out when `None`), otherwise correct: what a client that computes the hash wrongly, or not at all, sends.
fn v3_with_body_hash(emu: &Emu, nonce: &str, body: &[u8], content_sha256: Option<&str>) -> Pairs {
    let host = emu.host();
    let mut headers = pairs(&[
        ("host", &host),
        ("x-acs-action", "ListKeys"),
        ("x-acs-date", &emu.now()),
        ("x-acs-signature-nonce", nonce),
        ("x-acs-version", KMS),
    ]);
    if let Some(hash) = content_sha256 {
        headers.push(("x-acs-content-sha256".into(), hash.into()));
    }
    let names: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let request = sign::V3Request {
        method: "POST",
        path: "/",
        query: &hangzhou(),
        headers: &headers,
        body,
    };
    let string_to_sign = sign::v3_string_to_sign(&sign::v3_canonical_request(&request, &names));
    let authorization = sign::V3Authorization {
        access_key_id: "testid".into(),
        signed_headers: names.iter().map(|n| (*n).to_owned()).collect(),
        signature: sign::v3_signature("testsecret", &string_to_sign),
    };
    headers.retain(|(k, _)| k != "host");
    headers.push(("authorization".into(), authorization.header_value()));
    headers
}

#[tokio::test]
async fn v3_body_hash_is_required_and_must_match_the_body() {
    let emu = Emu::start(SAMPLE).await;
    let empty = sign::EMPTY_BODY_SHA256;
    let upper = empty.to_ascii_uppercase();
    let form = b"RegionId=cn-hangzhou";
    let form_hash = sign::sha256_hex(form);
    emu.run_table(&[
        v3(
            "the right hash",
            hangzhou(),
            v3_with_body_hash(&emu, "h1", b"", Some(empty)),
            b"",
        ),
        v3(
            "no hash header",
            hangzhou(),
            v3_with_body_hash(&emu, "h2", b"", None),
            b"",
        )
        .fails(400, "MissingParameter")
        .check(body_contains("x-acs-content-sha256")),
        // Correctly signed, so only the hash check can refuse these.
        v3(
            "another body's hash",
            hangzhou(),
            v3_with_body_hash(&emu, "h3", b"", Some(&form_hash)),
            b"",
        )
        .fails(400, "IncompleteSignature")
        .check(body_contains("x-acs-content-sha256")),
        v3(
            "the empty body's hash over a body",
            hangzhou(),
            v3_with_body_hash(&emu, "h4", form, Some(empty)),
            form,
        )
        .fails(400, "IncompleteSignature"),
        v3(
            "upper-case hex",
            hangzhou(),
            v3_with_body_hash(&emu, "h5", b"", Some(&upper)),
            b"",
        )
        .fails(400, "IncompleteSignature"),
    ])
    .await;
}

#[tokio::test]
async fn xml_is_the_default_format() {
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

    // V3 has no `Format`: only `Accept: application/json` (which the SDK always sends) gets JSON.
    let host = emu.host();
    let query = pairs(&[("RegionId", "cn-hangzhou")]);
    for (nonce, accept, xml) in [
        ("x3", None, true),
        ("x4", Some("application/json"), false),
        ("x5", Some("text/xml, application/json;q=0.5"), false),
        ("x6", Some("*/*"), true),
    ] {
        let mut request = emu
            .http
            .post(format!("{}?{}", emu.url(), sign::v3_canonical_query(&query)));
        for (k, v) in sign::sign_v3(&v3_call(&host, "ListKeys", &query, &emu.now(), nonce), &testid()) {
            request = request.header(k, v);
        }
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let r = Reply::read(request.send().await.unwrap()).await;
        assert_eq!(r.status, 200, "{accept:?}: {}", r.body);
        if xml {
            assert_eq!(r.headers["content-type"], "text/xml;charset=utf-8", "{accept:?}");
            assert!(r.body.contains("<ListKeysResponse>"), "{accept:?}: {}", r.body);
        } else {
            r.assert_ok();
        }
    }
    // Unsigned requests too, errors included; `Format=JSON` alone is enough.
    let r = emu
        .send_raw(&Raw::get("/?Action=ListKeys&Version=2016-01-20"))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.headers["content-type"], "text/xml;charset=utf-8");
    assert!(r.body.contains("<Code>IncompleteSignature</Code>"), "{}", r.body);
    emu.send_raw(&Raw::get("/?Action=ListKeys&Version=2016-01-20&Format=JSON"))
        .await
        .assert_error(400, "IncompleteSignature");
}

// ---------------------------------------------------------------------------------------------------------
// The APIs.

const HANGZHOU: &str = "RegionId=cn-hangzhou";
const KEY_1111: &str = "key-hzz62f1cb66fa42qo1111";
const KEY_1111_ARN: &str = "acs:kms:cn-hangzhou:1234567890123456:key/key-hzz62f1cb66fa42qo1111";

/// Every API of the sample inventory, read-only, on one emulator.
#[tokio::test]
async fn every_api_over_every_signature_style() {
    let emu = Emu::start(SAMPLE).await;
    let mut cases = Vec::new();
    for sig in ALL_SIGS {
        cases.push(
            call(format!("{sig:?} ListKeys"), sig, "ListKeys", HANGZHOU).checks([
                eq("/TotalCount", 3),
                eq("/PageNumber", 1),
                eq("/PageSize", 10),
                eq("/Keys/Key/0", json!({"KeyId": KEY_1111, "KeyArn": KEY_1111_ARN})),
            ]),
        );
        cases.push(
            call(
                format!("{sig:?} ListTagResources of secrets"),
                sig,
                "ListTagResources",
                "RegionId=cn-hangzhou&ResourceType=secret",
            )
            .check(len("/TagResources/TagResource", 3)),
        );
    }

    // ListKeys paging and filters; the region from a kms.<region>.aliyuncs.com host.
    let list_keys = |name: &str, params: &str| call(name, Sig::V3, "ListKeys", params);
    let shanghai_host = "kms.cn-shanghai.aliyuncs.com";
    let now = emu.now();
    let mut shanghai = sign::sign_v3(&v3_call(shanghai_host, "ListKeys", &[], &now, "h1"), &testid());
    shanghai.push(("host".into(), shanghai_host.into()));
    cases.extend([
        list_keys("page 2 of size 2", "RegionId=cn-hangzhou&PageSize=2&PageNumber=2").checks([
            len("/Keys/Key", 1),
            eq("/Keys/Key/0/KeyId", "key-hzz62f1cb66fa42qo3333"),
        ]),
        list_keys("a page past the last", "RegionId=cn-hangzhou&PageNumber=9")
            .checks([eq("/TotalCount", 3), len("/Keys/Key", 0)]),
        list_keys("PageSize 101", "RegionId=cn-hangzhou&PageSize=101").fails(400, "InvalidParameter"),
        list_keys("PageSize 0", "RegionId=cn-hangzhou&PageSize=0").fails(400, "InvalidParameter"),
        list_keys("PageNumber 0", "RegionId=cn-hangzhou&PageNumber=0").fails(400, "InvalidParameter"),
        list_keys("PageNumber x", "RegionId=cn-hangzhou&PageNumber=x").fails(400, "InvalidParameter"),
        list_keys(
            "enabled keys",
            r#"RegionId=cn-hangzhou&Filters=[{"Key":"KeyState","Values":["Enabled"]}]"#,
        )
        .check(eq("/TotalCount", 3)),
        list_keys(
            "disabled keys",
            r#"RegionId=cn-hangzhou&Filters=[{"Key":"KeyState","Values":["Disabled"]}]"#,
        )
        .check(eq("/TotalCount", 0)),
        list_keys("Filters not JSON", "RegionId=cn-hangzhou&Filters=not json").fails(400, "InvalidParameter"),
        // No RegionId: multi-region account needs one.
        list_keys("no RegionId", "").fails(400, "MissingParameter"),
        v3("the region of the host", Vec::new(), shanghai, b"")
            .check(eq("/Keys/Key/0/KeyId", "key-shh5f0a9c3d21be47xy4444")),
    ]);

    // ListSecrets with and without tags, with filters.
    let list_secrets = |name: &str, params: &str| call(name, Sig::V1Post, "ListSecrets", params);
    cases.extend([
        list_secrets("secrets with tags", "RegionId=cn-hangzhou&FetchTags=true").checks([
            eq("/TotalCount", 2),
            eq("/SecretList/Secret/0/SecretName", "api-token"),
            eq("/SecretList/Secret/0/SecretType", "Generic"),
            eq(
                "/SecretList/Secret/0/Tags/Tag",
                json!([{"TagKey": "env", "TagValue": "staging"}, {"TagKey": "owner", "TagValue": "web"}]),
            ),
        ]),
        list_secrets("secrets without tags", HANGZHOU).check(absent("/SecretList/Secret/0/Tags")),
        list_secrets(
            "secrets by tag key",
            r#"RegionId=cn-hangzhou&Filters=[{"Key":"TagKey","Values":["env"]}]"#,
        )
        .check(eq("/TotalCount", 1)),
        list_secrets(
            "secrets by name",
            r#"RegionId=cn-hangzhou&Filters=[{"Key":"SecretName","Values":["pass"]}]"#,
        )
        .check(eq("/SecretList/Secret/0/SecretName", "db-password")),
        list_secrets("FetchTags yes", "RegionId=cn-hangzhou&FetchTags=yes").fails(400, "InvalidParameter"),
    ]);

    // DescribeKey by id, alias, ARN; not found.
    let describe_key =
        |name: &str, key_id: &str| call(name, Sig::V3, "DescribeKey", HANGZHOU).param("KeyId", key_id);
    for key_id in [KEY_1111, "alias/app-key", KEY_1111_ARN] {
        cases.push(describe_key(&format!("DescribeKey {key_id}"), key_id).checks([
            eq("/KeyMetadata/KeyId", KEY_1111),
            eq("/KeyMetadata/KeyState", "Enabled"),
            eq("/KeyMetadata/Arn", KEY_1111_ARN),
        ]));
    }
    cases.extend([
        describe_key("DescribeKey of an unknown id", "key-nope").fails(404, "Forbidden.KeyNotFound"),
        describe_key("DescribeKey of an unknown alias", "alias/nope").fails(404, "Forbidden.AliasNotFound"),
        call("DescribeKey without KeyId", Sig::V3, "DescribeKey", HANGZHOU).fails(400, "MissingParameter"),
        // DescribeSecret.
        call(
            "DescribeSecret",
            Sig::V3,
            "DescribeSecret",
            "RegionId=cn-hangzhou&SecretName=db-password&FetchTags=true",
        )
        .check(eq(
            "/Tags/Tag",
            json!([{"TagKey": "owner", "TagValue": "payments"}]),
        )),
        call(
            "DescribeSecret of an unknown name",
            Sig::V3,
            "DescribeSecret",
            "RegionId=cn-hangzhou&SecretName=nope",
        )
        .fails(404, "Forbidden.ResourceNotFound"),
    ]);

    // ListTagResources: unknown resource id, tag filter, duplicate filter key, system-key filter.
    let key_tags = |name: &str, params: &str| {
        call(
            name,
            Sig::V3,
            "ListTagResources",
            "RegionId=cn-hangzhou&ResourceType=key",
        )
        .params(params)
    };
    cases.extend([
        key_tags("tags of an unknown key", "ResourceId.1=key-nope").fails(404, "InvalidResourceId.NotFound"),
        key_tags("tags by tag", "Tag.1.Key=owner&Tag.1.Value=payments").check(column(
            "/TagResources/TagResource",
            "ResourceId",
            &["key-hzz62f1cb66fa42qo2222", "key-hzz62f1cb66fa42qo2222"],
        )),
        key_tags("a duplicate filter key", "Tag.1.Key=a&Tag.2.Key=a").fails(400, "Duplicate.TagKey"),
        key_tags("a system key filter", "Tag.1.Key=acs:rm:rgId").fails(400, "InvalidParameter.TagKey"),
        // A region the account has no resources in is simply empty.
        call(
            "a region without resources",
            Sig::V3,
            "ListTagResources",
            "RegionId=eu-central-1&ResourceType=key",
        )
        .check(eq("/TagResources/TagResource", json!([]))),
    ]);

    // The static STS credentials of the inventory sign V1 and V3 calls.
    let sts = Credential {
        access_key_id: "STS.demo0123456789".into(),
        access_key_secret: "demo-sts-secret".into(),
        security_token: Some("CAIS.demo-sts-token".into()),
    };
    cases.extend([
        call("static STS credentials, V1 GET", Sig::V1Get, "ListKeys", HANGZHOU).signed_by(&sts),
        call(
            "static STS credentials, V3 form",
            Sig::V3Form,
            "ListKeys",
            HANGZHOU,
        )
        .signed_by(&sts),
    ]);
    emu.run_table(&cases).await;
}

#[tokio::test]
async fn tag_writes_change_later_reads() {
    let emu = Emu::start(SAMPLE).await;
    let region = ("RegionId", "cn-hangzhou");
    let tag_two_keys = |sig: Sig| {
        call(
            format!("{sig:?} TagResources of two keys"),
            sig,
            "TagResources",
            "RegionId=cn-hangzhou&ResourceType=key&ResourceId.1=key-hzz62f1cb66fa42qo3333\
             &ResourceId.2=key-hzz62f1cb66fa42qo2222&Tag.1.Key=team&Tag.1.Value=core\
             &Tag.2.Key=owner&Tag.2.Value=security",
        )
    };
    emu.run_table(&[tag_two_keys(Sig::V1Form), tag_two_keys(Sig::V3)])
        .await;
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

    let key_2222 = |name: &str, action: &'static str| {
        call(
            name,
            Sig::V3,
            action,
            "RegionId=cn-hangzhou&ResourceType=key&ResourceId.1=key-hzz62f1cb66fa42qo2222",
        )
    };
    let describe_secret = |name: &str| {
        call(
            name,
            Sig::V3,
            "DescribeSecret",
            "RegionId=cn-hangzhou&SecretName=db-password&FetchTags=true",
        )
    };
    let mut cases = vec![
        // Untag: one known and one unknown key (ignored); then All.
        key_2222("untag a known and an unknown key", "UntagResources")
            .params("TagKey.1=env&TagKey.2=never-there"),
        key_2222("the known key is gone", "ListTagResources").check(column(
            "/TagResources/TagResource",
            "TagKey",
            &["owner", "team"],
        )),
        key_2222("untag all", "UntagResources").params("All=true"),
        // A resource without tags contributes no rows.
        key_2222("no tags, no rows", "ListTagResources").check(eq("/TagResources/TagResource", json!([]))),
        // Secrets: tag, then DescribeSecret sees it.
        call(
            "tag a secret",
            Sig::V1Post,
            "TagResources",
            "RegionId=cn-hangzhou&ResourceType=secret&ResourceId.1=db-password&Tag.1.Key=rotation\
             &Tag.1.Value=90d",
        ),
        describe_secret("DescribeSecret sees the tag").check(eq(
            "/Tags/Tag",
            json!([{"TagKey": "owner", "TagValue": "payments"}, {"TagKey": "rotation", "TagValue": "90d"}]),
        )),
    ];
    // Write errors leave everything unchanged.
    for (name, action, params, status, code) in [
        (
            "an unknown resource among known ones",
            "TagResources",
            "ResourceId.1=db-password&ResourceId.2=nope&Tag.1.Key=x&Tag.1.Value=y",
            404,
            "InvalidResourceId.NotFound",
        ),
        (
            "a system tag key",
            "TagResources",
            "ResourceId.1=db-password&Tag.1.Key=acs:x&Tag.1.Value=y",
            400,
            "InvalidParameter.TagKey",
        ),
        (
            "a tag key with a space",
            "TagResources",
            "ResourceId.1=db-password&Tag.1.Key=bad key&Tag.1.Value=y",
            400,
            "InvalidParameter.TagKey",
        ),
        (
            "a tag value with <>",
            "TagResources",
            "ResourceId.1=db-password&Tag.1.Key=k&Tag.1.Value=bad<value>",
            400,
            "InvalidParameter.TagValue",
        ),
        (
            "a duplicate tag key",
            "TagResources",
            "ResourceId.1=db-password&Tag.1.Key=k&Tag.2.Key=k",
            400,
            "Duplicate.TagKey",
        ),
        (
            "tagging without tags",
            "TagResources",
            "ResourceId.1=db-password",
            400,
            "MissingParameter",
        ),
        (
            "tagging without a resource",
            "TagResources",
            "Tag.1.Key=k",
            400,
            "MissingParameter",
        ),
        (
            "untagging without keys",
            "UntagResources",
            "ResourceId.1=db-password",
            400,
            "MissingParameter",
        ),
        (
            "untagging keys and All",
            "UntagResources",
            "ResourceId.1=db-password&TagKey.1=owner&All=true",
            400,
            "InvalidParameter",
        ),
        (
            "untagging an unknown resource",
            "UntagResources",
            "ResourceId.1=nope&TagKey.1=owner",
            404,
            "InvalidResourceId.NotFound",
        ),
    ] {
        cases.push(
            call(name, Sig::V3, action, "RegionId=cn-hangzhou&ResourceType=secret")
                .params(params)
                .fails(status, code),
        );
    }
    cases.push(describe_secret("the refused writes changed nothing").check(len("/Tags/Tag", 2)));
    emu.run_table(&cases).await;
}

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
    let key_tags = |name: &str| {
        call(
            name,
            Sig::V3,
            "ListTagResources",
            "RegionId=cn-hangzhou&ResourceType=key",
        )
    };
    // Exactly 200 rows: one full page and no NextToken.
    Emu::start(&many_keys_inventory(40, 5, 0))
        .await
        .run_table(&[
            key_tags("200 rows").checks([len("/TagResources/TagResource", 200), eq("/NextToken", "")])
        ])
        .await;

    // 201 rows: 200, then 1 (the last tag of the last key, split inside a resource).
    let emu = Emu::start(&many_keys_inventory(40, 5, 1)).await;
    let r = emu.send(&key_tags("first page").request).await;
    r.assert_ok();
    assert_eq!(
        r.json["TagResources"]["TagResource"].as_array().unwrap().len(),
        200
    );
    let token = r.json["NextToken"].as_str().unwrap().to_owned();
    assert!(!token.is_empty());
    emu.run_table(&[
        key_tags("second page").param("NextToken", &token).checks([
            eq(
                "/TagResources/TagResource",
                json!([{"ResourceId": "key-00039", "ResourceType": "key", "TagKey": "t05", "TagValue": "v39"}]),
            ),
            eq("/NextToken", ""),
        ]),
        // A token for keys is refused for secrets, garbage is refused.
        call(
            "a key token for secrets",
            Sig::V3,
            "ListTagResources",
            "RegionId=cn-hangzhou&ResourceType=secret",
        )
        .param("NextToken", &token)
        .fails(400, "InvalidParameter"),
        key_tags("a garbage token")
            .param("NextToken", "%%%")
            .fails(400, "InvalidParameter"),
    ])
    .await;

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

    // 51 resource ids, 51 tag keys: one too many.
    let mut ids_51 = key_tags("51 resource ids")
        .fails(400, "InvalidParameter")
        .check(contains("/Message", "50"));
    for n in 1..=51 {
        ids_51 = ids_51.param(&format!("ResourceId.{n}"), &format!("key-{:05}", (n - 1) * 2));
    }
    let mut keys_51 = call(
        "51 tag keys",
        Sig::V3,
        "UntagResources",
        "RegionId=cn-hangzhou&ResourceType=key&ResourceId.1=key-00001",
    )
    .fails(400, "InvalidParameter");
    for n in 1..=51 {
        keys_51 = keys_51.param(&format!("TagKey.{n}"), "x");
    }
    emu.run_table(&[ids_51, keys_51]).await;
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
    let list_keys = |name: &str| call(name, Sig::V3, "ListKeys", HANGZHOU);
    emu.run_table(&[
        // ListKeys, DescribeKey and ListTagResources share the group.
        list_keys("ListKeys, 1 of 3"),
        call(
            "DescribeKey, 2 of 3",
            Sig::V3,
            "DescribeKey",
            "RegionId=cn-hangzhou&KeyId=alias/app-key",
        ),
        call(
            "ListTagResources, 3 of 3",
            Sig::V3,
            "ListTagResources",
            "RegionId=cn-hangzhou&ResourceType=key",
        ),
        list_keys("ListKeys, the fourth")
            .fails(429, "Rejected.Throttling")
            .checks([
                eq("/Message", "QPS Limit Exceeded"),
                eq("/HttpStatus", 429),
                header("x-acs-retry-after", "334"),
            ]),
        // Other groups and regions are unaffected.
        call("ListSecrets, another group", Sig::V3, "ListSecrets", HANGZHOU),
        call(
            "ListKeys, another region",
            Sig::V3,
            "ListKeys",
            "RegionId=cn-shanghai",
        ),
        // Time refills.
        list_keys("ListKeys 400 ms later").after(TimeDelta::milliseconds(400)),
        list_keys("ListKeys again").fails(429, "Rejected.Throttling"),
    ])
    .await;
    // Turning limits off at run time lets everything through.
    let r = emu
        .http
        .post(format!("{}/_emulator/faults", emu.run.endpoint()))
        .body(r#"{"rate_limits_enabled": false}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let unlimited: Vec<Case> = (1..=10)
        .map(|n| list_keys(&format!("ListKeys without limits, {n} of 10")))
        .collect();
    emu.run_table(&unlimited).await;
    let stats = emu.stats().await;
    assert_eq!(stats.outcome("alibaba", "ListKeys", "throttled"), 2);
    assert_eq!(stats.calls("alibaba", "ListKeys"), 15);
}

#[tokio::test]
async fn writes_have_their_own_default_limit_of_30() {
    let emu = Emu::start(SAMPLE).await;
    let tag = |name: &str| {
        call(
            name,
            Sig::V3,
            "TagResources",
            "RegionId=cn-hangzhou&ResourceType=secret&ResourceId.1=db-password&Tag.1.Key=k&Tag.1.Value=v",
        )
    };
    let mut cases: Vec<Case> = (1..=30).map(|n| tag(&format!("write {n} of 30"))).collect();
    cases.push(tag("write 31").fails(429, "Rejected.Throttling"));
    // Reads have their own 50.
    cases.push(call("a read", Sig::V3, "ListKeys", HANGZHOU));
    emu.run_table(&cases).await;
}

/// An HTTP/1.1 request for a signed V3 call, as text.
fn raw_v3_request(call: &V3Call<'_>, headers: &[(String, String)]) -> String {
    let mut all = pairs(&[("host", call.host), ("content-length", "0")]);
    all.extend_from_slice(headers);
    let target = format!("/?{}", sign::v3_canonical_query(call.query));
    request_text("POST", &target, &all)
}

/// A signed ListKeys of cn-hangzhou as reqwest sends it, for faults that answer with no HTTP response.
fn list_keys_request(emu: &Emu, call: &V3Call<'_>) -> reqwest::RequestBuilder {
    let mut request = emu.http.post(format!("{}?RegionId=cn-hangzhou", emu.url()));
    for (k, v) in &sign::sign_v3(call, &testid()) {
        request = request.header(k, v);
    }
    request
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
    let call = v3_call(&host, "ListKeys", &q, &now, "r1");
    let err = list_keys_request(&emu, &call).send().await.unwrap_err();
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    // On the wire it is a TCP reset (RST), not an orderly close.
    let call = V3Call { nonce: "r2", ..call };
    assert_reset(
        emu.run.addr,
        &raw_v3_request(&call, &sign::sign_v3(&call, &testid())),
    )
    .await;

    emu.set_faults(json!({"reset": 0.0, "hang": 1.0, "hang_ms": 300}))
        .await;
    // A hung request gets no answer.
    let started = Instant::now();
    let call = V3Call { nonce: "h1", ..call };
    let hang = Duration::from_millis(300);
    assert_hangs(
        emu.run.addr,
        &raw_v3_request(&call, &sign::sign_v3(&call, &testid())),
        hang,
    )
    .await;
    // After hang_ms the connection is reset rather than answered.
    let call = v3_call(&host, "ListKeys", &q, &now, "h2");
    let err = list_keys_request(&emu, &call).send().await.unwrap_err();
    assert!(started.elapsed() >= hang);
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

/// AssumeRoleWithOIDC exactly as the credentials SDK sends it: unsigned GET, parameters in the query; `extra`
/// replaces or adds parameters.
fn assume(role: &str, provider: &str, token: &str, extra: &[(&str, &str)]) -> Raw {
    Raw::get(format!(
        "/?{}",
        encode(&assume_params(role, provider, token, extra))
    ))
}

/// The parameters of [`assume`], decoded.
fn assume_params(role: &str, provider: &str, token: &str, extra: &[(&str, &str)]) -> Pairs {
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
    params
}

/// AssumeRoleWithOIDC as a POST: the parameters named in `in_query` in the query, the others in a form body.
/// With the four protocol parameters in the query this is how credentials-go (and tagdrift) send it.
fn assume_split(role: &str, provider: &str, token: &str, in_query: &[&str]) -> Raw {
    let all = assume_params(role, provider, token, &[]);
    let (query, form): (Pairs, Pairs) = all.into_iter().partition(|(k, _)| in_query.contains(&k.as_str()));
    Raw::new("POST", format!("/?{}", encode(&query)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(&form))
}

const PROTOCOL: [&str; 4] = ["Action", "Version", "Format", "Timestamp"];

const ROLE: &str = "acs:ram::1234567890123456:role/tagdrift";
const PROVIDER: &str = "acs:ram::1234567890123456:oidc-provider/ack-rrsa-demo";

#[tokio::test]
async fn assume_role_with_oidc_issues_credentials_that_work_until_they_expire() {
    let emu = Emu::start(SAMPLE).await;
    let exp = (t0() + TimeDelta::hours(1)).timestamp();
    let token = jwt(
        json!({"iss": "https://oidc.example", "sub": "system:serviceaccount:ops:tagdrift", "aud": ["sts.aliyuncs.com"], "exp": exp, "iat": t0().timestamp()}),
    );
    let r = emu.send_raw(&assume(ROLE, PROVIDER, &token, &[])).await;
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
    let no_token = Credential {
        security_token: None,
        ..temp.clone()
    };
    let other = Credential {
        security_token: Some("CAIS.other".into()),
        ..temp.clone()
    };
    let expired = jwt(json!({"iss": "i", "sub": "s", "exp": t0().timestamp() - 1}));
    let mismatch = "InvalidSecurityToken.MismatchWithAccessKey";
    let duration = "InvalidParameter.DurationSeconds";
    emu.run_table(&[
        call("V1 GET with the credentials", Sig::V1Get, "ListKeys", HANGZHOU).signed_by(&temp),
        call("V3 with the credentials", Sig::V3, "ListKeys", HANGZHOU).signed_by(&temp),
        call("GetCallerIdentity", Sig::V3, "GetCallerIdentity", "")
            .version("2015-04-01")
            .signed_by(&temp)
            .check(eq("/AccountId", "1234567890123456")),
        // Without its token, or with another one, the key is refused.
        call("the key without its token", Sig::V3, "ListKeys", HANGZHOU)
            .signed_by(&no_token)
            .fails(400, mismatch),
        call("the key with another token", Sig::V1Post, "ListKeys", HANGZHOU)
            .signed_by(&other)
            .fails(400, mismatch),
        call("the credentials after expiry", Sig::V3, "ListKeys", HANGZHOU)
            .signed_by(&temp)
            .after(TimeDelta::minutes(61))
            .fails(400, "InvalidSecurityToken.Expired"),
        // Refusals.
        raw(
            "another role",
            assume("acs:ram::1234567890123456:role/other", PROVIDER, &token, &[]),
        )
        .at(TimeDelta::zero())
        .fails(404, "EntityNotExist.Role"),
        raw(
            "another provider",
            assume(ROLE, "acs:ram::1234567890123456:oidc-provider/other", &token, &[]),
        )
        .fails(404, "EntityNotExist.OIDCProvider"),
        raw("not a JWT", assume(ROLE, PROVIDER, "not-a-jwt", &[]))
            .fails(400, "AuthenticationFail.OIDCToken.Invalid"),
        raw(
            "100 seconds",
            assume(ROLE, PROVIDER, &token, &[("DurationSeconds", "100")]),
        )
        .fails(400, duration),
        raw(
            "7200 seconds",
            assume(ROLE, PROVIDER, &token, &[("DurationSeconds", "7200")]),
        )
        .fails(400, duration),
        raw("an expired token", assume(ROLE, PROVIDER, &expired, &[]))
            .fails(400, "AuthenticationFail.OIDCToken.Expired"),
        raw(
            "no provider and no token",
            Raw::get(format!(
                "/?Action=AssumeRoleWithOIDC&Version=2015-04-01&Format=JSON&Timestamp={T0}&RoleArn={ROLE}"
            )),
        )
        .fails(400, "MissingParameter")
        .check(body_contains("OIDCProviderArn")),
        // Placement: the protocol parameters in the query, as every credentials library sends them.
        raw(
            "credentials-go placement",
            assume_split(ROLE, PROVIDER, &token, &PROTOCOL),
        )
        .check(is("/Credentials/AccessKeyId", Kind::String)),
        raw(
            "everything in a form body",
            assume_split(ROLE, PROVIDER, &token, &[]),
        )
        .fails(400, "MissingParameter")
        .check(contains("/Message", "\"Action\" that is mandatory")),
        raw(
            "Timestamp in the form body",
            assume_split(ROLE, PROVIDER, &token, &["Action", "Version", "Format"]),
        )
        .fails(400, "MissingParameter")
        .check(contains(
            "/Message",
            "\"Timestamp\" that is mandatory for processing this request is not supplied in the query string",
        )),
        raw(
            "Format in the form body",
            assume_split(ROLE, PROVIDER, &token, &["Action", "Version", "Timestamp"]),
        )
        .fails(400, "MissingParameter")
        .check(contains("/Message", "\"Format\" that is mandatory")),
    ])
    .await;

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
    let r = emu.send_raw(&assume(ROLE, PROVIDER, &token, &[])).await;
    assert_eq!(r.json["Credentials"]["Expiration"], "2025-01-02T03:05:05Z");
    let stats = emu.stats().await;
    assert_eq!(stats.outcome("alibaba", "AssumeRoleWithOIDC", "ok"), 1);
}

const ROLE_CREDENTIALS: &str = "/latest/meta-data/ram/security-credentials/";

#[tokio::test]
async fn ecs_metadata_role_credentials_flow() {
    let emu = Emu::start(SAMPLE).await;
    let token_request = |ttl: &str| {
        Raw::new("PUT", "/latest/api/token").header("X-aliyun-ecs-metadata-token-ttl-seconds", ttl)
    };
    let with_token = |path: &str, token: &str| Raw::get(path).header("X-aliyun-ecs-metadata-token", token);
    let token = emu.send_raw(&token_request("21600")).await;
    assert_eq!(token.status, 200);
    let token = token.body;
    assert!(token.len() >= 32);
    let role = emu.send_raw(&with_token(ROLE_CREDENTIALS, &token)).await;
    assert_eq!(role.status, 200);
    let role = role.body;
    assert_eq!(role, "tagdrift-ecs");
    let creds = emu
        .send_raw(&with_token(&format!("{ROLE_CREDENTIALS}{role}"), &token))
        .await
        .json;
    assert_eq!(creds["Code"], "Success");
    assert_eq!(creds["LastUpdated"], T0);
    let temp = Credential {
        access_key_id: creds["AccessKeyId"].as_str().unwrap().to_owned(),
        access_key_secret: creds["AccessKeySecret"].as_str().unwrap().to_owned(),
        security_token: Some(creds["SecurityToken"].as_str().unwrap().to_owned()),
    };
    assert!(temp.access_key_id.starts_with("STS."));
    emu.run_table(&[
        call(
            "the role's credentials sign KMS calls",
            Sig::V3,
            "ListTagResources",
            "RegionId=cn-hangzhou&ResourceType=key",
        )
        .signed_by(&temp),
        // IMDSv1 fallback (no token) works; a wrong token, a wrong role, a bad TTL do not.
        raw("IMDSv1 fallback", Raw::get(ROLE_CREDENTIALS)).status(200),
        raw("a wrong token", with_token(ROLE_CREDENTIALS, "bogus")).status(401),
        raw(
            "another role",
            with_token(&format!("{ROLE_CREDENTIALS}other-role"), &token),
        )
        .status(404),
        raw("a TTL of 0", token_request("0")).status(400),
        // The token expires with its TTL.
        raw("the token after its TTL", with_token(ROLE_CREDENTIALS, &token))
            .after(TimeDelta::seconds(21_601))
            .status(401),
    ])
    .await;

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
    assert_eq!(emu.send_raw(&Raw::get(ROLE_CREDENTIALS)).await.status, 403);
    let stats = emu.stats().await;
    assert_eq!(stats.outcome("alibaba", "MetadataRoleName", "token_required"), 1);
}

/// Client-observed time per ListTagResources page over HTTP (V3 signing, loopback, one connection) against a
/// 100,000-resource generated inventory. `cargo test --test tests emulator_alibaba::http_page_latency -- --ignored
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
