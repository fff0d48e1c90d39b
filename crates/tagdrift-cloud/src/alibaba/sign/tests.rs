//! Known-answer tests for signature V1 (HMAC-SHA1) and V3 (ACS3-HMAC-SHA256), whose expected values were
//! computed by running the official Python SDKs (`alibabacloud-tea-openapi` 0.4.6, `aliyun-python-sdk-core` 2.16.1),
//! plus sensitivity, parsing and encoding edge cases.

use proptest::prelude::*;

use super::*;

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn test_credential() -> Credential {
    Credential {
        access_key_id: "testid".into(),
        access_key_secret: "testsecret".into(),
        security_token: None,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Signature V1
// ---------------------------------------------------------------------------------------------------------

/// V1-DOC-1: the ECS "Request signature" worked example, parameters in the URL's (unsorted) order.
#[test]
fn v1_doc_1_official_example() {
    let params = pairs(&[
        ("Timestamp", "2016-02-23T12:46:24Z"),
        ("Format", "XML"),
        ("AccessKeyId", "testid"),
        ("Action", "DescribeRegions"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
        ("Version", "2014-05-26"),
        ("SignatureVersion", "1.0"),
    ]);
    let sts = v1_string_to_sign("GET", &params);
    assert_eq!(
        sts,
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1\
         %26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0\
         %26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
    );
    assert_eq!(v1_signature("testsecret", &sts), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
}

/// V1-DOC-2: the KMS doc's CreateKey example. Its printed signature is wrong; the one in its signed URL is right.
#[test]
fn v1_doc_2_kms_create_key() {
    let params = pairs(&[
        ("Action", "CreateKey"),
        ("SignatureVersion", "1.0"),
        ("Format", "json"),
        ("Version", "2016-01-20"),
        ("AccessKeyId", "testid"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("Timestamp", "2016-03-28T03:13:08Z"),
    ]);
    let sts = v1_string_to_sign("GET", &params);
    assert_eq!(v1_signature("testsecret", &sts), "41wk2SSX1GJh7fwnc5eqOfiJPFg=");
}

fn v1_l1_params() -> Vec<(String, String)> {
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
        ("Timestamp", "2025-01-02T03:04:05Z"),
        ("Version", "2016-01-20"),
    ])
}

const V1_L1_STS_AFTER_METHOD: &str = "&%2F&AccessKeyId%3Dtestid%26Action%3DListTagResources%26Format%3DJSON\
    %26NextToken%3Dcaeba0bbb2be03f84eb48b699f0a4883%26RegionId%3Dcn-hangzhou\
    %26ResourceId.1%3Dkey-hzz62f1cb66fa42qo1111%26ResourceId.2%3Dkey-hzz62f1cb66fa42qo2222%26ResourceType%3Dkey\
    %26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf\
    %26SignatureVersion%3D1.0%26Timestamp%3D2025-01-02T03%253A04%253A05Z%26Version%3D2016-01-20";

#[test]
fn v1_l1_list_tag_resources_get_and_post() {
    let params = v1_l1_params();
    for (method, signature) in [
        ("GET", "9OTUtIR7BUwGrwtACTkeBEtXGoU="),
        ("POST", "P59+QNrl2juvRyRn77b8JJaNSfU="),
    ] {
        let sts = v1_string_to_sign(method, &params);
        assert_eq!(sts, format!("{method}{V1_L1_STS_AFTER_METHOD}"));
        assert_eq!(v1_signature("testsecret", &sts), signature, "{method}");
    }
}

/// The client path: `sign_v1` adds the signing parameters itself and must land on the same V1-L1 signature.
#[test]
fn sign_v1_reproduces_v1_l1() {
    let call_params = pairs(&[
        ("Action", "ListTagResources"),
        ("Version", "2016-01-20"),
        ("Format", "JSON"),
        ("RegionId", "cn-hangzhou"),
        ("ResourceType", "key"),
        ("ResourceId.1", "key-hzz62f1cb66fa42qo1111"),
        ("ResourceId.2", "key-hzz62f1cb66fa42qo2222"),
        ("NextToken", "caeba0bbb2be03f84eb48b699f0a4883"),
        // A stale signature from the caller must not survive or be signed.
        ("Signature", "stale"),
    ]);
    let signed = sign_v1(
        "GET",
        &call_params,
        &test_credential(),
        "2025-01-02T03:04:05Z",
        "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    );
    let mut expected = v1_l1_params();
    expected.push(("Signature".into(), "9OTUtIR7BUwGrwtACTkeBEtXGoU=".into()));
    assert_eq!(signed, expected);
}

#[test]
fn sign_v1_adds_and_signs_the_security_token() {
    let credential = Credential {
        security_token: Some("CAIS.token".into()),
        ..test_credential()
    };
    let params = pairs(&[("Action", "ListKeys"), ("Version", "2016-01-20")]);
    let signed = sign_v1("POST", &params, &credential, "2025-01-02T03:04:05Z", "n1");
    assert!(signed.contains(&("SecurityToken".into(), "CAIS.token".into())));
    let (name, signature) = signed.last().cloned().unwrap_or_default();
    assert_eq!(name, "Signature");
    assert_eq!(
        signature,
        v1_signature("testsecret", &v1_string_to_sign("POST", &signed))
    );
    let without = sign_v1("POST", &params, &test_credential(), "2025-01-02T03:04:05Z", "n1");
    assert_ne!(without.last(), signed.last());
}

/// V1-L2: captured from the tea SDK; NextToken with `/ + =` and a tag with space, `&`, `*`, `~`, `/`, `ä`.
#[test]
fn v1_l2_encoding_heavy_capture() {
    let params = pairs(&[
        ("AccessKeyId", "testid"),
        ("Action", "ListTagResources"),
        ("Format", "json"),
        ("NextToken", "AAAAAV3MpHK1AP0pfERHZN5pu6n/Oc1nj4M9UaAZ+I8db=="),
        ("RegionId", "cn-hangzhou"),
        ("ResourceId.1", "key-hzz62f1cb66fa42qo1111"),
        ("ResourceId.2", "key-hzz62f1cb66fa42qo2222"),
        ("ResourceType", "key"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "fedcba9876543210fedcba9876543210"),
        ("SignatureVersion", "1.0"),
        ("Tag.1.Key", "cost center"),
        ("Tag.1.Value", "R&D*~/ä"),
        ("Timestamp", "2025-01-02T03:04:06Z"),
        ("Version", "2016-01-20"),
    ]);
    let sts = v1_string_to_sign("POST", &params);
    assert_eq!(
        sts,
        "POST&%2F&AccessKeyId%3Dtestid%26Action%3DListTagResources%26Format%3Djson\
         %26NextToken%3DAAAAAV3MpHK1AP0pfERHZN5pu6n%252FOc1nj4M9UaAZ%252BI8db%253D%253D%26RegionId%3Dcn-hangzhou\
         %26ResourceId.1%3Dkey-hzz62f1cb66fa42qo1111%26ResourceId.2%3Dkey-hzz62f1cb66fa42qo2222%26ResourceType%3Dkey\
         %26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3Dfedcba9876543210fedcba9876543210\
         %26SignatureVersion%3D1.0%26Tag.1.Key%3Dcost%2520center%26Tag.1.Value%3DR%2526D%252A~%252F%25C3%25A4\
         %26Timestamp%3D2025-01-02T03%253A04%253A06Z%26Version%3D2016-01-20"
    );
    assert_eq!(v1_signature("testsecret", &sts), "PbB06Q7NKOwnrqmUOuZY+CsCDfI=");
}

/// The second tea capture: POST, lowercase `json`, no NextToken.
#[test]
fn v1_tea_capture_without_next_token() {
    let params = pairs(&[
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
        ("Timestamp", "2025-01-02T03:04:05Z"),
        ("Version", "2016-01-20"),
    ]);
    let sts = v1_string_to_sign("POST", &params);
    assert_eq!(v1_signature("testsecret", &sts), "SgcbKQO3ML1liUGMpuKX6LlfSOA=");
}

#[test]
fn v1_string_to_sign_ignores_a_signature_parameter() {
    let mut params = v1_l1_params();
    let before = v1_string_to_sign("GET", &params);
    params.push(("Signature".into(), "9OTUtIR7BUwGrwtACTkeBEtXGoU=".into()));
    assert_eq!(v1_string_to_sign("GET", &params), before);
}

#[test]
fn v1_signature_changes_with_any_input_byte() {
    let base = v1_l1_params();
    let reference = v1_signature("testsecret", &v1_string_to_sign("GET", &base));
    let mut variants: Vec<(&str, String)> = Vec::new();
    for (i, (name, _)) in base.iter().enumerate() {
        let mut params = base.clone();
        params[i].1.push('x');
        variants.push((
            name,
            v1_signature("testsecret", &v1_string_to_sign("GET", &params)),
        ));
    }
    variants.push((
        "secret",
        v1_signature("testsecreT", &v1_string_to_sign("GET", &base)),
    ));
    variants.push((
        "method",
        v1_signature("testsecret", &v1_string_to_sign("PUT", &base)),
    ));
    for (what, signature) in variants {
        assert_ne!(
            signature, reference,
            "changing {what} did not change the signature"
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// Signature V3
// ---------------------------------------------------------------------------------------------------------

/// V3-DOC: the official worked example (ECS RunInstances).
#[test]
fn v3_doc_official_example() {
    let query = pairs(&[
        ("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"),
        ("RegionId", "cn-shanghai"),
    ]);
    let headers = pairs(&[
        ("host", "ecs.cn-shanghai.aliyuncs.com"),
        ("x-acs-action", "RunInstances"),
        ("x-acs-content-sha256", EMPTY_BODY_SHA256),
        ("x-acs-date", "2023-10-26T10:22:32Z"),
        ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
        ("x-acs-version", "2014-05-26"),
    ]);
    let req = V3Request {
        method: "POST",
        path: "/",
        query: &query,
        headers: &headers,
        body: b"",
    };
    let signed = [
        "host",
        "x-acs-action",
        "x-acs-content-sha256",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-version",
    ];
    let cr = v3_canonical_request(&req, &signed);
    let hash = "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259";
    assert_eq!(sha256_hex(cr.as_bytes()), hash);
    let sts = v3_string_to_sign(&cr);
    assert_eq!(sts, format!("ACS3-HMAC-SHA256\n{hash}"));
    assert_eq!(
        v3_signature("YourAccessKeySecret", &sts),
        "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    );
}

fn v3_min_query() -> Vec<(String, String)> {
    pairs(&[
        ("RegionId", "cn-hangzhou"),
        ("ResourceType", "key"),
        ("ResourceId.1", "key-hzz62f1cb66fa42qo1111"),
        ("ResourceId.2", "key-hzz62f1cb66fa42qo2222"),
        ("NextToken", "caeba0bbb2be03f84eb48b699f0a4883"),
    ])
}

fn v3_min_headers() -> Vec<(String, String)> {
    // Mixed-case names on purpose: canonicalisation lower-cases them.
    pairs(&[
        ("Host", "kms.cn-hangzhou.aliyuncs.com"),
        ("x-acs-action", "ListTagResources"),
        ("X-Acs-Content-Sha256", EMPTY_BODY_SHA256),
        ("x-acs-date", "2025-01-02T03:04:05Z"),
        ("x-acs-signature-nonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
        ("x-acs-version", "2016-01-20"),
    ])
}

const V3_MIN_SIGNED: [&str; 6] = [
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-version",
];

const V3_MIN_CANONICAL_REQUEST: &str = concat!(
    "POST\n",
    "/\n",
    "NextToken=caeba0bbb2be03f84eb48b699f0a4883&RegionId=cn-hangzhou&ResourceId.1=key-hzz62f1cb66fa42qo1111&ResourceId.2=key-hzz62f1cb66fa42qo2222&ResourceType=key\n",
    "host:kms.cn-hangzhou.aliyuncs.com\n",
    "x-acs-action:ListTagResources\n",
    "x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n",
    "x-acs-date:2025-01-02T03:04:05Z\n",
    "x-acs-signature-nonce:3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf\n",
    "x-acs-version:2016-01-20\n",
    "\n",
    "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
);

const V3_MIN_AUTHORIZATION: &str = "ACS3-HMAC-SHA256 Credential=testid,\
    SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,\
    Signature=65e38c0dbb115da260b347ca208bd253b685c96708464f3dd14298079d873888";

/// V3-MIN: ListTagResources signing only the six documented headers.
#[test]
fn v3_min_only_documented_headers() {
    let (query, headers) = (v3_min_query(), v3_min_headers());
    let req = V3Request {
        method: "POST",
        path: "/",
        query: &query,
        headers: &headers,
        body: b"",
    };
    let cr = v3_canonical_request(&req, &V3_MIN_SIGNED);
    assert_eq!(cr, V3_MIN_CANONICAL_REQUEST);
    let sts = v3_string_to_sign(&cr);
    assert_eq!(
        sts,
        "ACS3-HMAC-SHA256\ne87680013d0e6008475e7964951d35b5cb726771ef9aa29b536940f8533bfa5b"
    );
    let authorization = V3Authorization {
        access_key_id: "testid".into(),
        signed_headers: V3_MIN_SIGNED.iter().map(|s| s.to_string()).collect(),
        signature: v3_signature("testsecret", &sts),
    };
    assert_eq!(authorization.header_value(), V3_MIN_AUTHORIZATION);
}

/// The client path: `sign_v3` with no extra headers signs exactly the V3-MIN set.
#[test]
fn sign_v3_reproduces_v3_min() {
    let query = v3_min_query();
    let call = V3Call {
        method: "POST",
        host: "kms.cn-hangzhou.aliyuncs.com",
        action: "ListTagResources",
        version: "2016-01-20",
        query: &query,
        headers: &[],
        body: b"",
        date: "2025-01-02T03:04:05Z",
        nonce: "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    };
    let added = sign_v3(&call, &test_credential());
    assert_eq!(
        added,
        pairs(&[
            ("x-acs-action", "ListTagResources"),
            ("x-acs-version", "2016-01-20"),
            ("x-acs-date", "2025-01-02T03:04:05Z"),
            ("x-acs-signature-nonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("x-acs-content-sha256", EMPTY_BODY_SHA256),
            ("authorization", V3_MIN_AUTHORIZATION),
        ])
    );
}

/// V3-A: captured end-to-end from the SDK's `list_tag_resources` with a plain access key (it signs all nine
/// headers it sends).
#[test]
fn v3_a_sdk_capture_access_key() {
    let query = pairs(&[
        ("RegionId", "cn-hangzhou"),
        ("ResourceId.1", "key-hzz62f1cb66fa42qo1111"),
        ("ResourceId.2", "key-hzz62f1cb66fa42qo2222"),
        ("ResourceType", "key"),
    ]);
    let headers = pairs(&[
        ("host", "kms.cn-hangzhou.aliyuncs.com"),
        ("x-acs-version", "2016-01-20"),
        ("x-acs-action", "ListTagResources"),
        (
            "user-agent",
            "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2",
        ),
        ("x-acs-date", "2025-01-02T03:04:05Z"),
        ("x-acs-signature-nonce", "0123456789abcdef0123456789abcdef"),
        ("accept", "application/json"),
        ("x-acs-credentials-provider", "static_ak"),
        ("x-acs-content-sha256", EMPTY_BODY_SHA256),
    ]);
    let req = V3Request {
        method: "POST",
        path: "/",
        query: &query,
        headers: &headers,
        body: b"",
    };
    let signed = [
        "accept",
        "host",
        "user-agent",
        "x-acs-action",
        "x-acs-content-sha256",
        "x-acs-credentials-provider",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-version",
    ];
    let cr = v3_canonical_request(&req, &signed);
    assert_eq!(
        cr,
        concat!(
            "POST\n",
            "/\n",
            "RegionId=cn-hangzhou&ResourceId.1=key-hzz62f1cb66fa42qo1111&ResourceId.2=key-hzz62f1cb66fa42qo2222&ResourceType=key\n",
            "accept:application/json\n",
            "host:kms.cn-hangzhou.aliyuncs.com\n",
            "user-agent:AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2\n",
            "x-acs-action:ListTagResources\n",
            "x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n",
            "x-acs-credentials-provider:static_ak\n",
            "x-acs-date:2025-01-02T03:04:05Z\n",
            "x-acs-signature-nonce:0123456789abcdef0123456789abcdef\n",
            "x-acs-version:2016-01-20\n",
            "\n",
            "accept;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version\n",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        )
    );
    let sts = v3_string_to_sign(&cr);
    assert_eq!(
        sts,
        "ACS3-HMAC-SHA256\n9f39c9a3b9d581aaf27a13d4d85001cef74faed582686fb89e146a7203f97571"
    );
    let signature = v3_signature("testsecret", &sts);
    assert_eq!(
        signature,
        "12394686bec4f23b5887920ae35e2e83bb02e24a958681d745c4c6f7ac194cfe"
    );
    let authorization = V3Authorization {
        access_key_id: "testid".into(),
        signed_headers: signed.iter().map(|s| s.to_string()).collect(),
        signature,
    };
    assert_eq!(
        authorization.header_value(),
        "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=accept;host;user-agent;x-acs-action;\
         x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,\
         Signature=12394686bec4f23b5887920ae35e2e83bb02e24a958681d745c4c6f7ac194cfe"
    );
}

/// V3-B: captured with an STS token, NextToken and a tag filter full of characters that need encoding.
#[test]
fn v3_b_sdk_capture_sts_token() {
    // Decoded from the form-encoded wire query the SDK sent.
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
        ("host", "kms.cn-hangzhou.aliyuncs.com"),
        ("x-acs-version", "2016-01-20"),
        ("x-acs-action", "ListTagResources"),
        (
            "user-agent",
            "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2",
        ),
        ("x-acs-date", "2025-01-02T03:04:06Z"),
        ("x-acs-signature-nonce", "fedcba9876543210fedcba9876543210"),
        ("accept", "application/json"),
        ("x-acs-credentials-provider", "static_sts"),
        ("x-acs-accesskey-id", "testid"),
        ("x-acs-security-token", "CAIS.test-sts-token"),
        ("x-acs-content-sha256", EMPTY_BODY_SHA256),
    ]);
    let req = V3Request {
        method: "POST",
        path: "/",
        query: &query,
        headers: &headers,
        body: b"",
    };
    let signed = [
        "accept",
        "host",
        "user-agent",
        "x-acs-accesskey-id",
        "x-acs-action",
        "x-acs-content-sha256",
        "x-acs-credentials-provider",
        "x-acs-date",
        "x-acs-security-token",
        "x-acs-signature-nonce",
        "x-acs-version",
    ];
    let cr = v3_canonical_request(&req, &signed);
    assert_eq!(
        cr,
        concat!(
            "POST\n",
            "/\n",
            "NextToken=AAAAAV3MpHK1AP0pfERHZN5pu6n%2FOc1nj4M9UaAZ%2BI8db%3D%3D&RegionId=cn-hangzhou&ResourceId.1=key-hzz62f1cb66fa42qo1111&ResourceId.2=key-hzz62f1cb66fa42qo2222&ResourceType=key&Tag.1.Key=cost%20center&Tag.1.Value=R%26D%2A~%2F%C3%A4\n",
            "accept:application/json\n",
            "host:kms.cn-hangzhou.aliyuncs.com\n",
            "user-agent:AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2\n",
            "x-acs-accesskey-id:testid\n",
            "x-acs-action:ListTagResources\n",
            "x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n",
            "x-acs-credentials-provider:static_sts\n",
            "x-acs-date:2025-01-02T03:04:06Z\n",
            "x-acs-security-token:CAIS.test-sts-token\n",
            "x-acs-signature-nonce:fedcba9876543210fedcba9876543210\n",
            "x-acs-version:2016-01-20\n",
            "\n",
            "accept;host;user-agent;x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version\n",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        )
    );
    let sts = v3_string_to_sign(&cr);
    assert_eq!(
        sts,
        "ACS3-HMAC-SHA256\nde07a1014f289446b6f75f058109493d4cbe4a72bb206b36ffe5edc5fac772fe"
    );
    let signature = v3_signature("testsecret", &sts);
    assert_eq!(
        signature,
        "d54875e051f4fe37aeba9ee1319b6ba632478b3f7799d7aa60d13f4e7bc2a2e0"
    );
    let header = V3Authorization {
        access_key_id: "testid".into(),
        signed_headers: signed.iter().map(|s| s.to_string()).collect(),
        signature,
    }
    .header_value();
    assert_eq!(
        header,
        "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=accept;host;user-agent;x-acs-accesskey-id;\
         x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-security-token;\
         x-acs-signature-nonce;x-acs-version,\
         Signature=d54875e051f4fe37aeba9ee1319b6ba632478b3f7799d7aa60d13f4e7bc2a2e0"
    );
}

/// What the emulator does: take the headers as received, parse `Authorization`, recompute over what it says
/// was signed, compare.
fn verify_as_server(
    method: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    body: &[u8],
    secret: &str,
) -> bool {
    let Some((_, value)) = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
    else {
        return false;
    };
    let Some(auth) = parse_v3_authorization(value) else {
        return false;
    };
    let signed: Vec<&str> = auth.signed_headers.iter().map(String::as_str).collect();
    if !missing_signed_headers(headers, &signed).is_empty() {
        return false;
    }
    let req = V3Request {
        method,
        path: "/",
        query,
        headers,
        body,
    };
    v3_signature(secret, &v3_string_to_sign(&v3_canonical_request(&req, &signed))) == auth.signature
}

#[test]
fn sign_v3_with_sts_extra_headers_and_body_verifies_server_side() {
    let credential = Credential {
        security_token: Some("CAIS.token".into()),
        ..test_credential()
    };
    let query = pairs(&[("RegionId", "cn-hangzhou"), ("Tag.1.Key", "a b")]);
    let extra = pairs(&[
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("User-Agent", "tagdrift/0.1"),
        ("Accept", "application/json"),
        // A stale generated header from the caller must be replaced, not sent twice.
        ("X-Acs-Date", "1999-01-01T00:00:00Z"),
    ]);
    let body = b"Foo=bar";
    let call = V3Call {
        method: "POST",
        host: "127.0.0.1:8443",
        action: "TagResources",
        version: "2016-01-20",
        query: &query,
        headers: &extra,
        body,
        date: "2025-01-02T03:04:05Z",
        nonce: "abc",
    };
    let added = sign_v3(&call, &credential);
    assert!(added.contains(&("x-acs-security-token".into(), "CAIS.token".into())));
    assert!(added.contains(&("x-acs-content-sha256".into(), sha256_hex(body))));
    let auth = added
        .iter()
        .find(|(n, _)| n == "authorization")
        .and_then(|(_, v)| parse_v3_authorization(v));
    assert_eq!(
        auth.map(|a| a.signed_headers),
        Some(
            [
                "content-type",
                "host",
                "x-acs-action",
                "x-acs-content-sha256",
                "x-acs-date",
                "x-acs-security-token",
                "x-acs-signature-nonce",
                "x-acs-version",
            ]
            .map(String::from)
            .to_vec()
        )
    );

    let mut sent: Vec<(String, String)> = extra.iter().filter(|(n, _)| n != "X-Acs-Date").cloned().collect();
    sent.push(("Host".into(), "127.0.0.1:8443".into()));
    sent.extend(added.iter().cloned());
    assert!(verify_as_server("POST", &query, &sent, body, "testsecret"));
    assert!(!verify_as_server("POST", &query, &sent, body, "othersecret"));
    assert!(!verify_as_server("POST", &query, &sent, b"Foo=baz", "testsecret"));
    // Unsigned headers may change freely; signed ones may not.
    let mut ua_changed = sent.clone();
    ua_changed[1].1 = "curl/8".into();
    assert!(verify_as_server("POST", &query, &ua_changed, body, "testsecret"));
    let without_host: Vec<_> = sent.iter().filter(|(n, _)| n != "Host").cloned().collect();
    assert!(!verify_as_server(
        "POST",
        &query,
        &without_host,
        body,
        "testsecret"
    ));
}

#[test]
fn v3_signature_changes_with_any_input_byte() {
    let (query, headers) = (v3_min_query(), v3_min_headers());
    let sign = |query: &[(String, String)], headers: &[(String, String)], body: &[u8], secret: &str| {
        let req = V3Request {
            method: "POST",
            path: "/",
            query,
            headers,
            body,
        };
        v3_signature(
            secret,
            &v3_string_to_sign(&v3_canonical_request(&req, &V3_MIN_SIGNED)),
        )
    };
    let reference = sign(&query, &headers, b"", "testsecret");
    assert_eq!(
        reference,
        "65e38c0dbb115da260b347ca208bd253b685c96708464f3dd14298079d873888"
    );

    let mut variants: Vec<(String, String)> = Vec::new();
    for i in 0..headers.len() {
        let mut h = headers.clone();
        h[i].1.push('0');
        variants.push((format!("header {}", h[i].0), sign(&query, &h, b"", "testsecret")));
    }
    for i in 0..query.len() {
        let mut q = query.clone();
        q[i].1.push('0');
        variants.push((format!("query {}", q[i].0), sign(&q, &headers, b"", "testsecret")));
    }
    let mut renamed = query.clone();
    renamed[0].0 = "RegionID".into();
    variants.push(("query name".into(), sign(&renamed, &headers, b"", "testsecret")));
    variants.push(("body".into(), sign(&query, &headers, b" ", "testsecret")));
    variants.push(("secret".into(), sign(&query, &headers, b"", "testsecreu")));
    for (what, signature) in variants {
        assert_ne!(
            signature, reference,
            "changing {what} did not change the signature"
        );
    }
}

#[test]
fn v3_canonical_request_normalises_signed_header_list_and_values() {
    let query = v3_min_query();
    let mut headers = v3_min_headers();
    headers[1].1 = "  ListTagResources \t".into();
    headers.push(("User-Agent".into(), "not signed".into()));
    let req = V3Request {
        method: "POST",
        path: "",
        query: &query,
        headers: &headers,
        body: b"",
    };
    let shuffled = [
        "X-ACS-VERSION",
        "host",
        "x-acs-date",
        "x-acs-action",
        "host",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    ];
    assert_eq!(v3_canonical_request(&req, &shuffled), V3_MIN_CANONICAL_REQUEST);
}

#[test]
fn v3_missing_signed_header_is_reported_and_signed_empty() {
    let headers = pairs(&[("Host", "h"), ("x-acs-date", "d")]);
    assert_eq!(
        missing_signed_headers(&headers, &["host", "X-Acs-Date", "x-acs-action", "content-type"]),
        vec!["content-type".to_string(), "x-acs-action".to_string()]
    );
    assert!(missing_signed_headers(&headers, &["x-acs-date", "HOST"]).is_empty());
    let req = V3Request {
        method: "GET",
        path: "/",
        query: &[],
        headers: &headers,
        body: b"",
    };
    assert_eq!(
        v3_canonical_request(&req, &["host", "x-acs-action"]),
        format!("GET\n/\n\nhost:h\nx-acs-action:\n\nhost;x-acs-action\n{EMPTY_BODY_SHA256}")
    );
}

#[test]
fn repeated_header_values_are_joined_with_commas() {
    let headers = pairs(&[("x-acs-a", "1"), ("X-ACS-A", " 2 ")]);
    let req = V3Request {
        method: "GET",
        path: "/",
        query: &[],
        headers: &headers,
        body: b"",
    };
    assert!(v3_canonical_request(&req, &["x-acs-a"]).contains("\nx-acs-a:1,2\n"));
}

#[test]
fn v3_canonical_query_cases() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], ""),
        (&[("b", ""), ("a", "1")], "a=1&b="),
        (&[("k", "v2"), ("k", "v1")], "k=v1&k=v2"),
        (&[("Z", "1"), ("a", "1")], "Z=1&a=1"),
        (&[("x y", "a+b/c")], "x%20y=a%2Bb%2Fc"),
    ];
    for (input, expected) in cases {
        assert_eq!(v3_canonical_query(&pairs(input)), *expected, "{input:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// Authorization header, encoding, redaction
// ---------------------------------------------------------------------------------------------------------

#[test]
fn parse_v3_authorization_round_trips() {
    let parsed = parse_v3_authorization(V3_MIN_AUTHORIZATION);
    let expected = V3Authorization {
        access_key_id: "testid".into(),
        signed_headers: V3_MIN_SIGNED.iter().map(|s| s.to_string()).collect(),
        signature: "65e38c0dbb115da260b347ca208bd253b685c96708464f3dd14298079d873888".into(),
    };
    assert_eq!(parsed.as_ref(), Some(&expected));
    assert_eq!(expected.header_value(), V3_MIN_AUTHORIZATION);
    // Blanks around parts and another order are accepted.
    assert_eq!(
        parse_v3_authorization(
            "ACS3-HMAC-SHA256  Signature=ab , Credential=STS.x ,SignedHeaders=host;x-acs-date "
        ),
        Some(V3Authorization {
            access_key_id: "STS.x".into(),
            signed_headers: vec!["host".into(), "x-acs-date".into()],
            signature: "ab".into(),
        })
    );
}

#[test]
fn parse_v3_authorization_rejects_malformed_headers() {
    let bad = [
        "",
        "ACS3-HMAC-SHA256",
        "ACS3-HMAC-SHA256 ",
        "ACS3-HMAC-SHA256Credential=a,SignedHeaders=host,Signature=s",
        "ACS3-HMAC-SHA1 Credential=a,SignedHeaders=host,Signature=s",
        "SDK-HMAC-SHA256 Access=a, SignedHeaders=host, Signature=s",
        "acs3-hmac-sha256 Credential=a,SignedHeaders=host,Signature=s",
        "ACS3-HMAC-SHA256 SignedHeaders=host,Signature=s",
        "ACS3-HMAC-SHA256 Credential=a,Signature=s",
        "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host",
        "ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=s",
        "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=,Signature=s",
        "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;;x-acs-date,Signature=s",
        "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=",
        "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=s,Signature=t",
        "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=s,Extra=1",
        "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=s,",
        "ACS3-HMAC-SHA256 Credential a,SignedHeaders=host,Signature=s",
    ];
    for value in bad {
        assert_eq!(parse_v3_authorization(value), None, "accepted {value:?}");
    }
}

#[test]
fn percent_encode_cases() {
    let cases = [
        ("", ""),
        ("AZaz09-_.~", "AZaz09-_.~"),
        (" ", "%20"),
        ("*", "%2A"),
        ("+", "%2B"),
        ("/", "%2F"),
        ("%", "%25"),
        ("&=", "%26%3D"),
        (":", "%3A"),
        ("ä", "%C3%A4"),
        ("密钥", "%E5%AF%86%E9%92%A5"),
        ("😀", "%F0%9F%98%80"),
        ("\n\0", "%0A%00"),
    ];
    for (input, expected) in cases {
        assert_eq!(percent_encode(input), expected, "{input:?}");
    }
}

#[test]
fn format_timestamp_is_utc_seconds_with_z() {
    let time = DateTime::parse_from_rfc3339("2025-01-02T03:04:05.987+00:00")
        .map(|t| t.with_timezone(&Utc))
        .ok();
    assert_eq!(
        time.map(format_timestamp).as_deref(),
        Some("2025-01-02T03:04:05Z")
    );
}

#[test]
fn debug_output_never_shows_secrets_or_signatures() {
    let credential = Credential {
        access_key_id: "LTAIid".into(),
        access_key_secret: "very-secret-value".into(),
        security_token: Some("sts-token-value".into()),
    };
    let shown = format!("{credential:?}");
    assert!(shown.contains("LTAIid"));
    assert!(!shown.contains("very-secret-value"));
    assert!(!shown.contains("sts-token-value"));

    let auth = V3Authorization {
        access_key_id: "LTAIid".into(),
        signed_headers: vec!["host".into()],
        signature: "deadbeefcafe".into(),
    };
    assert!(!format!("{auth:?}").contains("deadbeefcafe"));
}

// ---------------------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------------------

fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
            out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

proptest! {
    #[test]
    fn percent_encode_is_unreserved_only_and_reversible(s in any::<String>()) {
        let encoded = percent_encode(&s);
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b)));
        prop_assert!(!encoded.contains("%2a") && !encoded.contains('+'));
        prop_assert_eq!(percent_decode(&encoded), s.as_bytes().to_vec());
    }

    #[test]
    fn canonicalisation_never_panics(
        method in any::<String>(),
        path in any::<String>(),
        query in proptest::collection::vec((any::<String>(), any::<String>()), 0..6),
        headers in proptest::collection::vec((any::<String>(), any::<String>()), 0..6),
        signed in proptest::collection::vec(any::<String>(), 0..6),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        secret in any::<String>(),
        authorization in any::<String>(),
    ) {
        let signed_refs: Vec<&str> = signed.iter().map(String::as_str).collect();
        let req = V3Request { method: &method, path: &path, query: &query, headers: &headers, body: &body };
        let cr = v3_canonical_request(&req, &signed_refs);
        prop_assert!(cr.ends_with(&sha256_hex(&body)));
        let signature = v3_signature(&secret, &v3_string_to_sign(&cr));
        prop_assert_eq!(signature.len(), 64);
        let sts = v1_string_to_sign(&method, &query);
        prop_assert_eq!(v1_signature(&secret, &sts).len(), 28);
        let _ = missing_signed_headers(&headers, &signed_refs);
        if let Some(parsed) = parse_v3_authorization(&authorization) {
            prop_assert_eq!(parse_v3_authorization(&parsed.header_value()), Some(parsed));
        }
    }

    #[test]
    fn parse_round_trips_any_well_formed_header(
        id in "[A-Za-z0-9.]{1,24}",
        signed in proptest::collection::vec("[a-z0-9-]{1,16}", 1..8),
        signature in "[0-9a-f]{64}",
    ) {
        let auth = V3Authorization { access_key_id: id, signed_headers: signed, signature };
        prop_assert_eq!(parse_v3_authorization(&auth.header_value()), Some(auth));
    }
}

/// Sizes far beyond any real call (the proptests stay small): 1 MiB values of non-ASCII text, 10,000 query
/// pairs, a 1 MiB body and a 1 MiB `Authorization` header canonicalise and sign without a panic.
#[test]
fn very_long_inputs_canonicalise_and_sign() {
    let long = "é\u{1F600}\u{0}\t ".repeat(1 << 16);
    let query: Vec<(String, String)> = (0..10_000)
        .map(|i| (format!("ResourceId.{i}"), long[..(i % 7) * 9].to_owned()))
        .chain([("Tag.1.Value".to_owned(), long.clone())])
        .collect();
    let headers = vec![
        ("x-acs-custom".to_owned(), long.clone()),
        ("host".to_owned(), "kms.x".to_owned()),
    ];
    let body = vec![0xffu8; 1 << 20];
    let req = V3Request {
        method: "POST",
        path: &long,
        query: &query,
        headers: &headers,
        body: &body,
    };
    let cr = v3_canonical_request(&req, &["host", "x-acs-custom"]);
    assert!(cr.ends_with(&sha256_hex(&body)));
    assert!(cr.contains(&percent_encode(&long)));
    assert_eq!(v3_signature(&long, &v3_string_to_sign(&cr)).len(), 64);
    assert_eq!(v1_signature(&long, &v1_string_to_sign("POST", &query)).len(), 28);
    let _ = parse_v3_authorization(&format!(
        "ACS3-HMAC-SHA256 Credential={long},SignedHeaders=,Signature="
    ));
}
