//! The Huawei half of the emulator over real HTTP: known-answer signature acceptance (the reference vectors at
//! their `X-Sdk-Date`), rejection of altered requests, stale dates and the AK lock, every DEW route, pagination
//! at page boundaries, batch limits, not-found answers, throttling, injected faults, the IAM federated
//! credential flow, ECS metadata credentials, and a generated inventory served by the real binary.
//!
//! Where a request/answer shape repeats, a test is a table of [`Case`]s (name, request, expected status and
//! error shape, field checks) run in order against one emulator; every mismatch is reported with its case's
//! name.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;
use serde_json::{Value, json};
use support::*;
use tagdrift_cloud::huawei::sign;

const KEY: &str = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";

/// testak is a permanent key; the vectors' resources exist (the secret's UUID is `db-password`, the id the
/// vectors put in the path).
const VECTOR_INVENTORY: &str = "huawei:
  - name: hw
    ak: testak
    sk: testsk
    projects:
      - region: cn-north-4
        project_id: 0123456789abcdef0123456789abcdef
        keys:
          - {id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, alias: app-key, tags: {owner: platform}}
        secrets:
          - {name: db-password, id: db-password, tags: {owner: payments}}
          - {name: db password, id: 9a3c0c56-5b2e-4b8e-9d56-6a5d8f1e2a01}
          - {name: zz-last, id: 9a3c0c56-5b2e-4b8e-9d56-6a5d8f1e2a02}
";

const BAD_SIGNATURE: &str = "Incorrect IAM authentication information: verify aksk signature fail";

/// The headers of a vector request, as the SDK sent them, with the vector's signature.
fn vector_headers(signature: &str, token: Option<&str>) -> Vec<(String, String)> {
    let mut signed = "content-type;host;x-project-id;x-sdk-date".to_owned();
    let mut headers = pairs(&[
        ("content-type", "application/json"),
        ("host", VECTOR_HOST),
        ("x-project-id", PID),
        ("x-sdk-date", VECTOR_DATE),
    ]);
    if let Some(t) = token {
        headers.push(("x-security-token".into(), t.into()));
        signed.push_str(";x-security-token");
    }
    headers.push((
        "authorization".into(),
        format!("SDK-HMAC-SHA256 Access=testak, SignedHeaders={signed}, Signature={signature}"),
    ));
    headers
}

struct Vector {
    method: &'static str,
    target: String,
    body: &'static str,
    signature: &'static str,
}

impl Vector {
    /// The vector's request, signed with `signature` (and sending `token`).
    fn signed(&self, signature: &str, token: Option<&str>) -> Raw {
        Raw::new(self.method, self.target.as_str())
            .headers(&vector_headers(signature, token))
            .body(self.body)
    }

    /// The vector's request exactly as the SDK sent it.
    fn request(&self) -> Raw {
        self.signed(self.signature, None)
    }

    /// The vector as a case expecting its documented answer (JSON, or 204 for a write).
    fn case(&self, name: &str) -> Case {
        let case = raw(format!("{name}: {} {}", self.method, self.target), self.request());
        if self.method == "POST" {
            case.no_content()
        } else {
            case
        }
    }
}

fn vectors() -> Vec<Vector> {
    vec![
        Vector {
            method: "GET",
            target: format!("/v1/{PID}/csms/db-password/tags"),
            body: "",
            signature: "d979eb9f037ad79cf532a5c5073f7fdae9b4b01beaacd86972f9f1406ff9ce2b",
        },
        Vector {
            method: "GET",
            target: format!("/v1.0/{PID}/kms/{KEY}/tags"),
            body: "",
            signature: "8ad1198881e0451a6a299e270b0e42be4d8c891850715f18c2078d27d12eb892",
        },
        Vector {
            method: "POST",
            target: format!("/v1/{PID}/csms/db-password/tags/action"),
            body: r#"{"action":"create","tags":[{"key":"env","value":"prod"}]}"#,
            signature: "c1c8ede6cbe7ed8fcfa8c73cd99e55be1d1444a90dbe275eac24d0270a4e8da1",
        },
        Vector {
            method: "GET",
            target: format!("/v1/{PID}/secrets?limit=50&marker=db%20password"),
            body: "",
            signature: "fb1293de9d3f21532ab57ce5dffb30f03cf865850c754472f76e7d7c9a450ba1",
        },
    ]
}

/// One byte of the vector's request changed, in each part the signature covers: (what was changed, request).
fn alterations(v: &Vector) -> Vec<(&'static str, Raw)> {
    let headers = vector_headers(v.signature, None);
    let with_header = |name: &str, value: &str| {
        let changed: Vec<(String, String)> = headers
            .iter()
            .map(|(k, x)| {
                let x = if k == name { value } else { x.as_str() };
                (k.clone(), x.to_owned())
            })
            .collect();
        Raw::new(v.method, v.target.as_str())
            .headers(&changed)
            .body(v.body)
    };
    let last_byte = if v.signature.ends_with('0') { '1' } else { '0' };
    let signature = format!("{}{last_byte}", &v.signature[..63]);
    let authorization = vector_headers(&signature, None).pop().unwrap().1;
    let mut out = vec![
        ("signature byte", with_header("authorization", &authorization)),
        (
            "project header byte",
            with_header("x-project-id", "0123456789abcdef0123456789abcdee"),
        ),
        ("date byte", with_header("x-sdk-date", "20260101T000001Z")),
        (
            "host byte",
            with_header("host", "kms.cn-north-5.myhuaweicloud.com"),
        ),
        (
            "content type byte",
            with_header("content-type", "application/jsoN"),
        ),
    ];
    let mut path = v.request();
    path.target = v.target.replacen("cdef/", "cdee/", 1);
    out.push(("path byte", path));
    if !v.body.is_empty() {
        out.push(("body byte", v.request().body(v.body.replace("prod", "prud"))));
    }
    if v.target.contains('?') {
        let mut query = v.request();
        query.target = v.target.replace("limit=50", "limit=51");
        out.push(("query byte", query));
    }
    out
}

#[tokio::test]
async fn accepts_the_reference_vectors_and_rejects_every_alteration() {
    let emu = Emu::start(VECTOR_INVENTORY).await;
    let mut cases = Vec::new();
    for v in vectors() {
        cases.push(v.case("the vector"));
        for (what, altered) in alterations(&v) {
            cases.push(
                raw(format!("{what} of {}", v.target), altered)
                    .gateway(401, "APIGW.0301")
                    .check(eq("/error_msg", BAD_SIGNATURE)),
            );
            // A correct request between failures keeps testak from being locked.
            cases.push(v.case(&format!("the vector after its {what}")));
        }
    }
    // The answers are the documented ones.
    let v = &vectors();
    cases.extend([
        v[0].case("secret tags").checks([
            eq(
                "/tags",
                json!([{"key": "env", "value": "prod"}, {"key": "owner", "value": "payments"}]),
            ),
            is("/sys_tags", Kind::Array),
        ]),
        v[1].case("key tags").check(eq(
            "",
            json!({"tags": [{"key": "owner", "value": "platform"}], "existTagsNum": 1}),
        )),
        // The marker is exclusive.
        v[3].case("a page of secrets")
            .check(column("/secrets", "name", &["db-password", "zz-last"])),
    ]);
    emu.run_table(&cases).await;
}

#[tokio::test]
async fn security_token_vector_is_accepted_for_temporary_credentials_only_with_its_token() {
    // Here testak/testsk are temporary credentials whose token is `testtoken`.
    let yaml = VECTOR_INVENTORY.replace(
        "    ak: testak\n    sk: testsk\n",
        "    ak: permanent\n    sk: permanent-sk\n    security_tokens:\n      - {ak: testak, sk: testsk, security_token: testtoken, expires_at: 2026-01-01T00:05:00Z}\n",
    );
    let emu = Emu::start(&yaml).await;
    let v5 = "98a45497f4ae9446170711ccf35eadf35e6127b150ece09456bdb6603d903828";
    let v = &vectors()[0];
    emu.run_table(&[
        raw("V5, the vector with its token", v.signed(v5, Some("testtoken"))),
        // V1 (no token) is refused for a temporary key; a different token breaks the signature.
        raw("V1, no token", v.request())
            .gateway(401, "APIGW.0301")
            .check(eq(
                "/error_msg",
                "Incorrect IAM authentication information: decrypt token fail",
            )),
        raw("another token", v.signed(v5, Some("testtokeN")))
            .gateway(401, "APIGW.0301")
            .check(eq("/error_msg", BAD_SIGNATURE)),
        // After the credential's expiry (still within the date skew) the token must be renewed.
        raw("after the credential's expiry", v.signed(v5, Some("testtoken")))
            .after(TimeDelta::minutes(5))
            .gateway(401, "APIGW.0307"),
    ])
    .await;
}

#[tokio::test]
async fn wrong_secret_stale_date_and_the_ak_lock() {
    let v = &vectors()[0];
    Emu::start(&VECTOR_INVENTORY.replace("sk: testsk", "sk: testsk2"))
        .await
        .run_table(&[raw("another secret", v.request())
            .gateway(401, "APIGW.0301")
            .check(eq("/error_msg", BAD_SIGNATURE))])
        .await;

    let emu = Emu::start(VECTOR_INVENTORY).await;
    let skew = TimeDelta::seconds(15 * 60 + 1);
    // 15 minutes of skew is accepted; one second more is a stale date.
    let mut cases = vec![
        raw("15 minutes late", v.request()).at(TimeDelta::minutes(15)),
        raw("15 minutes and a second late", v.request())
            .at(skew)
            .gateway(401, "APIGW.0301")
            .check(contains("/error_msg", "expired")),
        raw("15 minutes and a second early", v.request())
            .at(-skew)
            .gateway(401, "APIGW.0301"),
    ];
    // Six bad signatures in a row lock testak for five minutes, even for correct requests.
    let bad = v.signed(&"0".repeat(64), None);
    for n in 1..=6 {
        let case = raw(format!("bad signature {n} of 6"), bad.clone())
            .gateway(401, "APIGW.0301")
            .check(eq("/error_msg", BAD_SIGNATURE));
        cases.push(if n == 1 { case.at(TimeDelta::zero()) } else { case });
    }
    cases.extend([
        raw("locked", v.request())
            .gateway(401, "APIGW.0301")
            .check(contains("/error_msg", "locked")),
        raw("five minutes later", v.request()).after(TimeDelta::minutes(5)),
    ]);
    emu.run_table(&cases).await;
    let stats = emu.stats().await;
    assert_eq!(stats.outcome("huawei", "ListSecretTags", "APIGW.0301"), 9);
    assert_eq!(stats.outcome("huawei", "ListSecretTags", "ok"), 2);
}

#[tokio::test]
async fn gateway_rejects_unsigned_malformed_and_foreign_requests() {
    let emu = Emu::start(SAMPLE).await;
    let path = format!("/v1/{PID}/secrets");
    // A signed header that is not sent.
    let mut unsent = emu.signed_headers("GET", &path, &[], b"", &testak(), Some(PID));
    unsent.retain(|(k, _)| k != "X-Project-Id");
    // Another account's project, or an X-Project-Id naming another project.
    let other = "fedcba9876543210fedcba9876543210";
    let secrets = |name: &str| call(name, "GET", path.as_str(), "");
    emu.run_table(&[
        raw("unsigned", Raw::get(path.as_str()))
            .gateway(401, "APIGW.0301")
            .check(eq(
                "/error_msg",
                "Incorrect IAM authentication information: x-auth-token not found",
            )),
        raw(
            "another algorithm",
            Raw::get(path.as_str()).header("authorization", "V11-HMAC-SHA256 Credential=x"),
        )
        .gateway(401, "APIGW.0301"),
        secrets("an unknown AK")
            .signed_by(&cred("nobody", "x"), Some(PID))
            .gateway(401, "APIGW.0301"),
        raw(
            "a signed header not sent",
            Raw::get(path.as_str()).headers(&unsent),
        )
        .gateway(401, "APIGW.0301")
        .check(contains("/error_msg", "x-project-id")),
        call(
            "another account's project",
            "GET",
            format!("/v1/{other}/secrets"),
            "",
        )
        .signed_by(&testak(), Some(other))
        .gateway(403, "APIGW.0302"),
        secrets("X-Project-Id of another project")
            .signed_by(&testak(), Some(other))
            .gateway(403, "APIGW.0302"),
        // Without X-Project-Id the path's project is used.
        secrets("no X-Project-Id").signed_by(&testak(), None),
        // Unknown routes and methods.
        call("an unknown route", "GET", format!("/v1/{PID}/nothing"), "").gateway(404, "APIGW.0101"),
        call("PUT secrets", "PUT", path.as_str(), "").gateway(404, "APIGW.0101"),
        call("GET list-keys", "GET", format!("/v1.0/{PID}/kms/list-keys"), "").gateway(404, "APIGW.0101"),
    ])
    .await;
}

// ---------------------------------------------------------------------------------------------------------
// Every route.

fn secret_id(list: &Reply, name: &str) -> String {
    list.json["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_csms_route() {
    let emu = Emu::start(SAMPLE).await;
    let list = emu.call("GET", &format!("/v1/{PID}/secrets"), &[], "").await;
    list.assert_ok();
    let secret = &list.json["secrets"][0];
    assert_eq!(secret["name"], "db-password");
    assert_eq!(secret["state"], "ENABLED");
    assert!(secret["create_time"].is_u64(), "epoch ms number: {secret}");
    assert!(secret["create_time"].as_u64().unwrap() > 1_600_000_000_000);
    let id = secret_id(&list, "db-password");
    assert_eq!(id.len(), 36);
    assert_eq!(list.json["page_info"]["current_count"], 1);
    assert!(list.json["page_info"].get("next_marker").is_none());

    let tags = format!("/v1/{PID}/csms/{id}/tags");
    let action = format!("{tags}/action");
    let get_tags = |name: &str| call(name, "GET", tags.as_str(), "");
    let owner_web = json!([{"key": "owner", "value": "web"}]);
    let ri = format!("/v1/{PID}/csms/resource_instances/action");
    emu.run_table(&[
        // Show one secret by name (the only API that takes the name).
        call("show by name", "GET", format!("/v1/{PID}/secrets/db-password"), "").checks([
            eq("/secret/id", id.as_str()),
            eq("/secret/name", "db-password"),
        ]),
        call("show an unknown name", "GET", format!("/v1/{PID}/secrets/nope"), "").dew(400, "CSMS.0106"),
        get_tags("tags").check(eq("/tags", json!([{"key": "owner", "value": "payments"}]))),
        // By name it is not found: the tag APIs take the UUID.
        call("tags by name", "GET", format!("/v1/{PID}/csms/db-password/tags"), "").dew(400, "CSMS.0005"),
        // Batch create (overwrites), single create, single delete (key with a space, encoded), batch delete.
        call(
            "batch create",
            "POST",
            action.as_str(),
            r#"{"action": "create", "tags": [{"key": "owner", "value": "web"}, {"key": "env", "value": "prod"}]}"#,
        )
        .no_content(),
        call(
            "single create",
            "POST",
            tags.as_str(),
            r#"{"tag":{"key":"cost center","value":"42"}}"#,
        )
        .no_content(),
        get_tags("tags after the creates").check(eq(
            "/tags",
            json!([{"key": "cost center", "value": "42"}, {"key": "env", "value": "prod"}, {"key": "owner", "value": "web"}]),
        )),
        call("single delete", "DELETE", format!("{tags}/cost%20center"), "").no_content(),
        call(
            "batch delete",
            "POST",
            action.as_str(),
            r#"{"action":"delete","tags":[{"key":"env"}]}"#,
        )
        .no_content(),
        get_tags("tags after the deletes").check(eq("/tags", owner_web.clone())),
        // Invalid tags change nothing.
        call(
            "a system tag among valid ones",
            "POST",
            action.as_str(),
            r#"{"action":"create","tags":[{"key":"ok","value":"1"},{"key":"_sys_x","value":"1"}]}"#,
        )
        .dew(400, "CSMS.0002"),
        call("malformed JSON", "POST", action.as_str(), "{").dew(400, "CSMS.0004"),
        get_tags("tags after the refusals").check(eq("/tags", owner_web.clone())),
        call("project tags", "GET", format!("/v1/{PID}/csms/tags"), "")
            .check(eq("", json!({"tags": [{"key": "owner", "values": ["web"]}]}))),
        call(
            "resource instances",
            "POST",
            ri.as_str(),
            r#"{"action":"filter","limit":"1000","offset":"0"}"#,
        )
        .checks([
            eq("/total_count", 1),
            eq("/resources/0/resource_id", id.as_str()),
            eq("/resources/0/resource_name", "db-password"),
            eq("/resources/0/resource_detail/name", "db-password"),
            eq("/resources/0/tags", owner_web),
            is("/resources/0/sys_tags", Kind::Array),
        ]),
        call(
            "resource instance count",
            "POST",
            ri.as_str(),
            r#"{"action":"count","tags":[{"key":"owner","values":["web"]}]}"#,
        )
        .check(eq("", json!({"total_count": 1}))),
        call(
            "resource instances of nobody",
            "POST",
            ri.as_str(),
            r#"{"action":"filter","limit":10,"offset":0,"tags":[{"key":"owner","values":["nobody"]}]}"#,
        )
        .check(eq("", json!({"resources": [], "total_count": 0}))),
    ])
    .await;

    let stats = emu.stats().await;
    for api in [
        "ListSecrets",
        "ShowSecret",
        "ListSecretTags",
        "BatchCreateOrDeleteTags",
        "CreateSecretTag",
        "DeleteSecretTag",
        "ListProjectSecretsTags",
        "ListResourceInstances",
    ] {
        assert!(stats.outcome("huawei", api, "ok") >= 1, "{api}");
    }
}

#[tokio::test]
async fn every_kms_route() {
    let emu = Emu::start(SAMPLE).await;
    let list_keys = |name: &str, body: &str| call(name, "POST", format!("/v1.0/{PID}/kms/list-keys"), body);
    let tags = format!("/v1.0/{PID}/kms/{KEY}/tags");
    let action = format!("{tags}/action");
    let owner_platform = json!({"tags": [{"key": "owner", "value": "platform"}], "existTagsNum": 1});
    let details = [
        "key_id",
        "domain_id",
        "key_alias",
        "realm",
        "key_spec",
        "creation_date",
        "key_state",
        "default_key_flag",
    ]
    .map(|field| is(&format!("/key_details/0/{field}"), Kind::String));
    let ri = format!("/v1.0/{PID}/kms/resource_instances/action");
    emu.run_table(&[
        // An empty marker is refused: the SDK and Terraform leave it out of the first page.
        list_keys("list keys, empty marker", r#"{"limit":"100","marker":"","key_spec":"ALL"}"#)
            .dew(400, "KMS.0204"),
        list_keys("list keys", r#"{"limit":"100","key_spec":"ALL"}"#)
            .checks([
                eq("/keys", json!([KEY])),
                eq("/truncated", "false"),
                eq("/next_marker", ""),
                eq("/total", 1),
                eq("/key_details/0/key_alias", "app-key"),
                eq("/key_details/0/realm", "cn-north-4"),
            ])
            .checks(details),
        // key_state other than enabled selects nothing; an unknown key_spec neither.
        list_keys("key_state 3", r#"{"key_state":"3"}"#).check(eq("/total", 0)),
        list_keys("key_spec RSA_2048", r#"{"key_spec":"RSA_2048"}"#).check(eq("/keys", json!([]))),
        call(
            "describe key",
            "POST",
            format!("/v1.0/{PID}/kms/describe-key"),
            &format!(r#"{{"key_id":"{KEY}"}}"#),
        )
        .check(eq("/key_info/key_id", KEY)),
        call("key tags", "GET", tags.as_str(), "").check(eq("", owner_platform.clone())),
        call(
            "batch create",
            "POST",
            action.as_str(),
            r#"{"action":"create","tags":[{"key":"env","value":"prod"}],"sequence":"919c82d4-8046-4722-9094-35c3c6524cff"}"#,
        )
        .no_content(),
        call(
            "single create",
            "POST",
            tags.as_str(),
            r#"{"tag":{"key":"team","value":""},"sequence":"x"}"#,
        )
        .no_content(),
        call("key tags after the creates", "GET", tags.as_str(), "").check(eq("/existTagsNum", 3)),
        call("single delete", "DELETE", format!("{tags}/team"), "").no_content(),
        // Deleting a tag the key does not have changes nothing and is not an error.
        call("single delete again", "DELETE", format!("{tags}/team"), "").no_content(),
        call(
            "batch delete",
            "POST",
            action.as_str(),
            r#"{"action":"delete","tags":[{"key":"env","value":"prod"}]}"#,
        )
        .no_content(),
        call("key tags after the deletes", "GET", tags.as_str(), "").check(eq("", owner_platform)),
        call(
            "create no tags",
            "POST",
            action.as_str(),
            r#"{"action":"create","tags":[]}"#,
        )
        .dew(400, "KMS.0401"),
        call(
            "create a bad key",
            "POST",
            action.as_str(),
            r#"{"action":"create","tags":[{"key":"a=b","value":"x"}]}"#,
        )
        .dew(400, "KMS.0402"),
        call("project tags", "GET", format!("/v1.0/{PID}/kms/tags"), "")
            .check(eq("", json!({"tags": [{"key": "owner", "values": ["platform"]}]}))),
        call(
            "resource instances by name",
            "POST",
            ri.as_str(),
            r#"{"action":"filter","limit":"1000","offset":0,"matches":[{"key":"resource_name","value":"app"}]}"#,
        )
        .checks([
            eq("/total_count", 1),
            eq("/resources/0/resource_id", KEY),
            eq("/resources/0/resource_name", "app-key"),
            eq("/resources/0/resource_detail/key_id", KEY),
            absent("/resources/0/sys_tags"),
        ]),
        call("resource instance count", "POST", ri.as_str(), r#"{"action":"count"}"#)
            .check(eq("", json!({"total_count": 1}))),
    ])
    .await;

    let stats = emu.stats().await;
    for api in [
        "ListKeys",
        "ListKeyDetail",
        "ShowKmsTags",
        "BatchCreateKmsTags",
        "CreateKmsTag",
        "DeleteTag",
        "ListKmsTags",
        "ListKmsByTags",
    ] {
        assert!(stats.outcome("huawei", api, "ok") >= 1, "{api}");
    }
}

#[tokio::test]
async fn list_keys_sees_other_key_specs_only_with_all() {
    let yaml = format!(
        "huawei:\n  - ak: testak\n    sk: testsk\n    projects:\n      - region: cn-north-4\n        project_id: {PID}\n        keys:\n          - {{id: {KEY}}}\n          - {{id: 7c9e6679-7425-40de-944b-e07fc1f90ae7, key_spec: RSA_2048}}\n          - {{id: 8c9e6679-7425-40de-944b-e07fc1f90ae7, key_spec: SM4}}\n"
    );
    let list_keys = |name: &str, body: &str| call(name, "POST", format!("/v1.0/{PID}/kms/list-keys"), body);
    Emu::start(&yaml)
        .await
        .run_table(&[
            list_keys("the default key_spec", r#"{"limit":"100"}"#)
                .checks([eq("/keys", json!([KEY])), eq("/total", 1)]),
            list_keys("no body", "").check(eq("/keys", json!([KEY]))),
            list_keys("ALL, limit 2", r#"{"key_spec":"ALL","limit":"2"}"#).checks([
                eq("/total", 3),
                eq("/truncated", "true"),
                column("/key_details", "key_spec", &["AES_256", "RSA_2048"]),
            ]),
            list_keys("SM4", r#"{"key_spec":"SM4"}"#)
                .check(eq("/keys", json!(["8c9e6679-7425-40de-944b-e07fc1f90ae7"]))),
        ])
        .await;
}

#[tokio::test]
async fn not_found_answers() {
    let emu = Emu::start(SAMPLE).await;
    let missing = "00000000-0000-0000-0000-000000000000";
    let create = r#"{"action":"create","tags":[{"key":"a","value":"b"}]}"#;
    emu.run_table(&[
        call("secret tags", "GET", format!("/v1/{PID}/csms/{missing}/tags"), "").dew(400, "CSMS.0005"),
        call(
            "secret batch create",
            "POST",
            format!("/v1/{PID}/csms/{missing}/tags/action"),
            create,
        )
        .dew(400, "CSMS.0005"),
        call(
            "secret single create",
            "POST",
            format!("/v1/{PID}/csms/{missing}/tags"),
            r#"{"tag":{"key":"a","value":"b"}}"#,
        )
        .dew(400, "CSMS.0005"),
        call(
            "secret single delete",
            "DELETE",
            format!("/v1/{PID}/csms/{missing}/tags/a"),
            "",
        )
        .dew(400, "CSMS.0005"),
        call("key tags", "GET", format!("/v1.0/{PID}/kms/{missing}/tags"), "").dew(400, "KMS.0205"),
        call(
            "key batch create",
            "POST",
            format!("/v1.0/{PID}/kms/{missing}/tags/action"),
            create,
        )
        .dew(400, "KMS.0205"),
        call(
            "key single delete",
            "DELETE",
            format!("/v1.0/{PID}/kms/{missing}/tags/a"),
            "",
        )
        .dew(400, "KMS.0205"),
        call(
            "describe key",
            "POST",
            format!("/v1.0/{PID}/kms/describe-key"),
            &format!(r#"{{"key_id":"{missing}"}}"#),
        )
        .dew(400, "KMS.0205"),
    ])
    .await;
}

// ---------------------------------------------------------------------------------------------------------
// Pagination and batch limits.

fn many(secrets: usize, keys: usize, tags: usize) -> String {
    let mut yaml = format!(
        "huawei:\n  - name: hw\n    ak: testak\n    sk: testsk\n    projects:\n      - region: cn-north-4\n        project_id: {PID}\n        keys:\n"
    );
    for i in 0..keys {
        yaml.push_str(&format!(
            "          - {{id: {:08x}-0000-4000-8000-{i:012x}, tags: {{n: \"{i}\"}}}}\n",
            i
        ));
    }
    yaml.push_str("        secrets:\n");
    for i in 0..secrets {
        let mut t = String::new();
        for j in 0..tags {
            t.push_str(&format!("t{j}: v, "));
        }
        yaml.push_str(&format!(
            "          - {{name: s-{i:05}, tags: {{{t}n: \"{i}\"}}}}\n"
        ));
    }
    yaml
}

/// Follows list-secrets pages with `limit` until no `next_marker`: (names, page sizes).
async fn all_secret_pages(emu: &Emu, limit: &str) -> (Vec<String>, Vec<usize>) {
    let mut names = Vec::new();
    let mut sizes = Vec::new();
    let mut marker = String::new();
    loop {
        let mut q = vec![("limit", limit)];
        if !marker.is_empty() {
            q.push(("marker", marker.as_str()));
        }
        let r = emu.call("GET", &format!("/v1/{PID}/secrets"), &q, "").await;
        r.assert_ok();
        let page = r.json["secrets"].as_array().unwrap();
        assert_eq!(r.json["page_info"]["current_count"], page.len());
        sizes.push(page.len());
        names.extend(page.iter().map(|s| s["name"].as_str().unwrap().to_owned()));
        match r.json["page_info"]["next_marker"].as_str() {
            Some(next) => {
                assert_eq!(Some(next), names.last().map(String::as_str));
                marker = next.to_owned();
            }
            None => return (names, sizes),
        }
        assert!(sizes.len() < 100);
    }
}

#[tokio::test]
async fn pagination_at_page_boundaries() {
    let emu = Emu::start(&many(400, 1001, 0)).await;
    let expected: Vec<String> = (0..400).map(|i| format!("s-{i:05}")).collect();
    let (names, sizes) = all_secret_pages(&emu, "200").await;
    assert_eq!(
        sizes,
        [200, 200],
        "exactly two full pages, the last without next_marker"
    );
    assert_eq!(names, expected);
    let (names, sizes) = all_secret_pages(&emu, "199").await;
    assert_eq!(sizes, [199, 199, 2]);
    assert_eq!(names, expected);

    // list-keys: 1001 keys are two pages at the maximum limit of 1000; truncated is a string.
    let path = format!("/v1.0/{PID}/kms/list-keys");
    let r = emu
        .call("POST", &path, &[], r#"{"limit":"1000","key_spec":"ALL"}"#)
        .await;
    assert_eq!(r.json["keys"].as_array().unwrap().len(), 1000);
    assert_eq!(
        (r.json["truncated"].as_str(), r.json["total"].as_u64()),
        (Some("true"), Some(1001))
    );
    let next = r.json["next_marker"].as_str().unwrap().to_owned();
    let mut seen = BTreeSet::new();
    let mut marker = String::new();
    loop {
        let mut body = json!({"limit": "250", "key_spec": "ALL"});
        if !marker.is_empty() {
            body["marker"] = json!(marker);
        }
        let r = emu.call("POST", &path, &[], &body.to_string()).await;
        for k in r.json["keys"].as_array().unwrap() {
            assert!(seen.insert(k.as_str().unwrap().to_owned()));
        }
        if r.json["truncated"] == "false" {
            break;
        }
        marker = r.json["next_marker"].as_str().unwrap().to_owned();
    }
    assert_eq!(seen.len(), 1001);

    let secrets = |name: &str| call(name, "GET", format!("/v1/{PID}/secrets"), "");
    let list_keys = |name: &str, body: &str| call(name, "POST", path.as_str(), body);
    // resource_instances: offset paging, limit 1..1000.
    let instances = |name: &str, body: &str| {
        call(
            name,
            "POST",
            format!("/v1.0/{PID}/kms/resource_instances/action"),
            body,
        )
    };
    emu.run_table(&[
        // Default limit 50; bounds 1..200.
        secrets("the default limit").check(eq("/page_info/current_count", 50)),
        secrets("limit 0").query("limit", "0").dew(400, "CSMS.0002"),
        secrets("limit 201").query("limit", "201").dew(400, "CSMS.0002"),
        secrets("limit x").query("limit", "x").dew(400, "CSMS.0002"),
        list_keys(
            "the second page of keys",
            &format!(r#"{{"limit":"1000","marker":"{next}","key_spec":"ALL"}}"#),
        )
        .checks([
            len("/keys", 1),
            eq("/truncated", "false"),
            eq("/next_marker", ""),
            eq("/keys/0", format!("{:08x}-0000-4000-8000-{:012x}", 1000, 1000)),
        ]),
        list_keys("list-keys limit 1001", r#"{"limit":"1001"}"#).dew(400, "KMS.0204"),
        instances(
            "resource instances from 0",
            r#"{"action":"filter","limit":"1000","offset":"0"}"#,
        )
        .checks([len("/resources", 1000), eq("/total_count", 1001)]),
        instances(
            "resource instances from 1000",
            r#"{"action":"filter","limit":"1000","offset":"1000"}"#,
        )
        .check(len("/resources", 1)),
        instances(
            "resource instances from 1001",
            r#"{"action":"filter","limit":"1000","offset":"1001"}"#,
        )
        .check(eq("/resources", json!([]))),
        instances(
            "resource instances limit 1001",
            r#"{"action":"filter","limit":"1001"}"#,
        )
        .dew(400, "KMS.0204"),
    ])
    .await;
}

#[tokio::test]
async fn batch_and_tag_count_limits() {
    let emu = Emu::start(&many(2, 1, 19)).await;
    let list = emu.call("GET", &format!("/v1/{PID}/secrets"), &[], "").await;
    let id = secret_id(&list, "s-00000");
    let tags = format!("/v1/{PID}/csms/{id}/tags");
    let action = format!("{tags}/action");
    let key = format!("{:08x}-0000-4000-8000-{:012x}", 0, 0);
    let nine: Vec<Value> = (0..9)
        .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
        .collect();
    // resource_instances: at most 10 tag filters of at most 10 values.
    let ri = format!("/v1/{PID}/csms/resource_instances/action");
    let filters = |name: &str, n: usize, values: usize| {
        let tags: Vec<Value> = (0..n)
            .map(|i| json!({"key": format!("t{i}"), "values": (0..values).map(|_| "v").collect::<Vec<_>>()}))
            .collect();
        let body = json!({"action": "filter", "limit": "10", "tags": tags}).to_string();
        call(name, "POST", ri.as_str(), &body)
    };
    emu.run_table(&[
        // 20 tags per secret: one more key is refused (and changes nothing), overwriting is fine.
        call("20 tags", "GET", tags.as_str(), "").check(len("/tags", 20)),
        call(
            "overwrite a tag",
            "POST",
            action.as_str(),
            r#"{"action":"create","tags":[{"key":"n","value":"x"}]}"#,
        )
        .no_content(),
        call(
            "overwrite and a 21st",
            "POST",
            action.as_str(),
            r#"{"action":"create","tags":[{"key":"n","value":"y"},{"key":"new","value":"x"}]}"#,
        )
        .dew(400, "CSMS.0002"),
        call("the refusal changed nothing", "GET", tags.as_str(), "")
            .check(has("/tags", json!({"key": "n", "value": "x"}))),
        // 10 tags per key.
        call(
            "nine more key tags",
            "POST",
            format!("/v1.0/{PID}/kms/{key}/tags/action"),
            &json!({"action": "create", "tags": nine}).to_string(),
        )
        .no_content(),
        call(
            "an eleventh key tag",
            "POST",
            format!("/v1.0/{PID}/kms/{key}/tags"),
            r#"{"tag":{"key":"eleventh","value":"v"}}"#,
        )
        .dew(400, "KMS.0404"),
        filters("10 filters of 10 values", 10, 10).check(eq("/total_count", 2)),
        filters("11 filters", 11, 1).dew(400, "CSMS.0002"),
        filters("11 values", 1, 11).dew(400, "CSMS.0002"),
    ])
    .await;
}

// ---------------------------------------------------------------------------------------------------------
// Throttling and faults.

#[tokio::test]
async fn rate_limits_answer_apig_0308() {
    let emu = Emu::start(SAMPLE).await;
    emu.set_faults(json!({"rate_limits": {"huawei.secret_tags": 2.0}}))
        .await;
    let list = emu.call("GET", &format!("/v1/{PID}/secrets"), &[], "").await;
    let id = secret_id(&list, "db-password");
    let tags = |name: &str| call(name, "GET", format!("/v1/{PID}/csms/{id}/tags"), "");
    emu.run_table(&[
        tags("tags, 1 of 2"),
        tags("tags, 2 of 2"),
        tags("tags, the third").gateway(429, "APIGW.0308").check(eq(
            "/error_msg",
            "The throttling threshold has been reached: policy user over ratelimit,limit:2,time:1 second",
        )),
        // Other groups have their own buckets; the clock refills this one.
        call("secrets, another group", "GET", format!("/v1/{PID}/secrets"), ""),
        tags("tags a second later").after(TimeDelta::seconds(1)),
        // Bad signatures are answered, never throttled.
        tags("a bad signature")
            .signed_by(&cred("testak", "wrong"), Some(PID))
            .gateway(401, "APIGW.0301"),
    ])
    .await;
    let stats = emu.stats().await;
    assert_eq!(stats.outcome("huawei", "ListSecretTags", "throttled"), 1);
    assert_eq!(stats.outcome("huawei", "ListSecretTags", "ok"), 3);
}

#[tokio::test]
async fn injected_faults_per_kind() {
    let emu = Emu::start(SAMPLE).await;
    let keys = format!("/v1.0/{PID}/kms/{KEY}/tags");

    emu.set_faults(json!({"server_error": 1.0})).await;
    let mut seen = BTreeSet::new();
    for _ in 0..24 {
        let r = emu.call("GET", &keys, &[], "").await;
        match r.status {
            500 => r.assert_dew_error(500, "KMS.0001"),
            502 => r.assert_gateway_error(502, "APIGW.0202"),
            504 => r.assert_gateway_error(504, "APIGW.0203"),
            other => panic!("unexpected {other}: {}", r.body),
        }
        seen.insert(r.status);
    }
    assert_eq!(seen.len(), 3, "500, 502 and 504 all occur: {seen:?}");

    emu.set_faults(json!({"server_error": 0.0, "throttle": 1.0}))
        .await;
    emu.call("GET", &keys, &[], "")
        .await
        .assert_gateway_error(429, "APIGW.0308");

    emu.set_faults(json!({"throttle": 0.0, "malformed": 1.0})).await;
    for _ in 0..6 {
        let r = emu.call("GET", &keys, &[], "").await;
        assert_eq!(r.status, 200);
        match serde_json::from_str::<Value>(&r.body) {
            Err(_) => {}
            Ok(v) => assert!(
                !(v["tags"].is_array() && v["existTagsNum"].is_u64()),
                "{}",
                r.body
            ),
        }
    }
    // Errors are never corrupted.
    emu.call("GET", &format!("/v1.0/{PID}/kms/nope/tags"), &[], "")
        .await
        .assert_dew_error(400, "KMS.0205");

    emu.set_faults(json!({"malformed": 0.0, "reset": 1.0})).await;
    // Unauthenticated requests are never faulted.
    emu.send_raw(&Raw::get(keys.as_str()))
        .await
        .assert_gateway_error(401, "APIGW.0301");
    let mut headers = pairs(&[("host", &emu.host())]);
    headers.extend(emu.signed_headers("GET", &keys, &[], b"", &testak(), Some(PID)));
    let raw = request_text("GET", &keys, &headers);
    assert_reset(emu.run.addr, &raw).await;

    emu.set_faults(json!({"reset": 0.0, "hang": 1.0, "hang_ms": 300}))
        .await;
    // A hung request gets no answer.
    let started = Instant::now();
    assert_hangs(emu.run.addr, &raw, Duration::from_millis(300)).await;
    let got = exchange(emu.run.addr, &raw).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(got.is_err() || got.unwrap().is_empty());

    emu.set_faults(json!({"hang": 0.0, "latency_ms": 120})).await;
    let started = Instant::now();
    emu.call("GET", &keys, &[], "").await.assert_ok();
    assert!(started.elapsed() >= Duration::from_millis(120));

    let stats = emu.stats().await;
    assert_eq!(stats.outcome("huawei", "ShowKmsTags", "fault_5xx"), 24);
    assert_eq!(stats.outcome("huawei", "ShowKmsTags", "fault_throttle"), 1);
    assert_eq!(stats.outcome("huawei", "ShowKmsTags", "fault_malformed"), 6);
    assert_eq!(stats.outcome("huawei", "ShowKmsTags", "fault_reset"), 1);
    assert_eq!(stats.outcome("huawei", "ShowKmsTags", "fault_hang"), 2);
}

// ---------------------------------------------------------------------------------------------------------
// IAM and ECS metadata.

const IAM_INVENTORY: &str = "huawei:
  - name: hw
    ak: testak
    sk: testsk
    idps:
      - {id: cce-oidc}
    ecs_agency: tagdrift-ecs
    projects:
      - region: cn-north-4
        project_id: 0123456789abcdef0123456789abcdef
        secrets:
          - {name: db-password, tags: {owner: payments}}
      - region: cn-east-3
        project_id: 11111111111111111111111111111111
";

fn jwt(claims: Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k"}"#);
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{claims}.c2ln")
}

/// CreateTokenWithIdToken: an OIDC id token of identity provider `idp` for an IAM token.
fn id_token_exchange(idp: &str, token: &str) -> Raw {
    Raw::new("POST", "/v3.0/OS-AUTH/id-token/tokens")
        .header("X-Idp-Id", idp)
        .header("content-type", "application/json;charset=utf8")
        .body(json!({"auth": {"id_token": {"id": token}}}).to_string())
}

/// CreateTemporaryAccessKeyByToken with the IAM token in the body.
fn security_token(token: &str, duration: Value) -> Raw {
    let body = json!({"auth": {"identity": {"methods": ["token"], "token": {"id": token, "duration_seconds": duration}}}});
    Raw::new("POST", "/v3.0/OS-CREDENTIAL/securitytokens")
        .header("content-type", "application/json;charset=utf8")
        .body(body.to_string())
}

fn credential_of(r: &Reply) -> sign::Credential {
    let c = &r.json["credential"];
    sign::Credential {
        ak: c["access"].as_str().unwrap().into(),
        sk: c["secret"].as_str().unwrap().into(),
        security_token: Some(c["securitytoken"].as_str().unwrap().into()),
    }
}

#[tokio::test]
async fn iam_projects_and_the_federated_credential_flow() {
    let emu = Emu::start(IAM_INVENTORY).await;
    let projects = |name: &str| call(name, "GET", "/v3/projects", "");
    let now = emu.clock_now().timestamp();
    let token =
        jwt(json!({"sub": "system:serviceaccount:ns:sa", "iss": "https://kubernetes", "exp": now + 3600}));
    let expired = jwt(json!({"sub": "s", "exp": now - 1}));
    emu.run_table(&[
        projects("projects by name")
            .query("name", "cn-north-4")
            .signed_by(&testak(), None)
            .checks([
                len("/projects", 1),
                eq("/projects/0/id", PID),
                eq("/projects/0/name", "cn-north-4"),
            ]),
        projects("all projects")
            .signed_by(&testak(), None)
            .check(len("/projects", 2)),
        projects("projects, a bad signature")
            .query("name", "cn-north-4")
            .signed_by(&cred("testak", "x"), None)
            .gateway(401, "APIGW.0301"),
        raw(
            "another identity provider",
            id_token_exchange("other-idp", &token),
        )
        .iam(404, "IAM.0004"),
        raw("not a JWT", id_token_exchange("cce-oidc", "not-a-jwt")).iam(401, "IAM.0001"),
        raw("an expired id token", id_token_exchange("cce-oidc", &expired)).iam(401, "IAM.0001"),
    ])
    .await;

    let r = emu.send_raw(&id_token_exchange("cce-oidc", &token)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let subject = r.headers["x-subject-token"].to_str().unwrap().to_owned();
    assert!(!subject.is_empty());
    assert!(r.json["token"]["expires_at"].as_str().unwrap().ends_with('Z'));

    let r = emu.send_raw(&security_token(&subject, json!(900))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let expires = r.json["credential"]["expires_at"].as_str().unwrap();
    assert_eq!(expires, "2026-01-01T00:15:00.000000Z");
    let temp = credential_of(&r);
    let tokenless = sign::Credential {
        security_token: None,
        ..temp.clone()
    };
    let secrets = |name: &str| call(name, "GET", format!("/v1/{PID}/secrets"), "");
    emu.run_table(&[
        raw("899 seconds", security_token(&subject, json!(899))).iam(400, "IAM.0011"),
        raw("an unknown token", security_token("bogus", json!(900))).iam(401, "IAM.0001"),
        // The token may come in X-Auth-Token instead of the body.
        raw(
            "the token in X-Auth-Token",
            Raw::new("POST", "/v3.0/OS-CREDENTIAL/securitytokens")
                .header("X-Auth-Token", &subject)
                .body(r#"{"auth":{"identity":{"methods":["token"]}}}"#),
        )
        .status(201),
        // The temporary credentials sign DEW calls with their token, until they expire.
        secrets("the temporary credentials").signed_by(&temp, Some(PID)),
        secrets("without their token")
            .signed_by(&tokenless, Some(PID))
            .gateway(401, "APIGW.0301"),
        secrets("after they expire")
            .signed_by(&temp, Some(PID))
            .after(TimeDelta::seconds(900))
            .gateway(401, "APIGW.0307"),
    ])
    .await;

    let stats = emu.stats().await;
    assert_eq!(stats.outcome("huawei", "CreateTokenWithIdToken", "ok"), 1);
    assert_eq!(
        stats.outcome("huawei", "CreateTemporaryAccessKeyByToken", "ok"),
        2
    );
    assert_eq!(stats.outcome("huawei", "KeystoneListProjects", "ok"), 2);
}

#[tokio::test]
async fn ecs_metadata_security_key_flow() {
    let emu = Emu::start(IAM_INVENTORY).await;
    let token_request = |ttl: &str| {
        Raw::new("PUT", "/meta-data/latest/api/token").header("X-Metadata-Token-Ttl-Seconds", ttl)
    };
    let security_key = || Raw::get("/openstack/latest/securitykey");
    let token = emu.send_raw(&token_request("21600")).await;
    assert_eq!(token.status, 200);
    let token = token.body;

    let r = emu
        .send_raw(&security_key().header("X-Metadata-Token", &token))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["credential"]["expires_at"], "2026-01-02T00:00:00.000000Z");
    let temp = credential_of(&r);
    emu.run_table(&[
        raw("a TTL over 21600", token_request("21601")).status(400),
        call(
            "the agency's credentials",
            "GET",
            format!("/v1/{PID}/secrets"),
            "",
        )
        .signed_by(&temp, Some(PID)),
        raw(
            "a wrong token",
            security_key().header("X-Metadata-Token", "wrong"),
        )
        .status(401),
        // Without a token header (IMDSv1) it is served.
        raw("no token (IMDSv1)", security_key()).status(200),
    ])
    .await;

    // With --imds-token-required a request without the token header is refused.
    let strict = Emu::start_with(
        IAM_INVENTORY,
        tagdrift_emulator::Options {
            imds_token_required: true,
            ..Default::default()
        },
        tagdrift_emulator::Faults::default(),
    )
    .await;
    assert_eq!(strict.send_raw(&security_key()).await.status, 401);

    let no_agency = Emu::start(VECTOR_INVENTORY).await;
    assert_eq!(no_agency.send_raw(&security_key()).await.status, 404);
}

// ---------------------------------------------------------------------------------------------------------
// The real binary serving a generated inventory.

/// `tagdrift emulate --generate 40 --seed 3` on the machine's clock (no `--manual-clock`), signed at the
/// machine's now.
#[tokio::test]
async fn the_binary_serves_generated_huawei_resources() {
    let emu = Emu::start_generated_on_machine_clock(
        40,
        tagdrift_emulator::Options {
            seed: 3,
            ..Default::default()
        },
    )
    .await;
    // Signed by testak at the machine's now, without X-Project-Id.
    let send = |method: &'static str, path: String, query: &'static [(&str, &str)], body: &'static str| {
        let emu = &emu;
        async move { emu.call_as(method, &path, query, body, &testak(), None).await }
    };
    let projects = send("GET", "/v3/projects".into(), &[("name", "cn-north-4")], "").await;
    assert_eq!(projects.status, 200, "{}", projects.body);
    let pid = projects.json["projects"][0]["id"].as_str().unwrap().to_owned();
    let secrets = send("GET", format!("/v1/{pid}/secrets"), &[], "").await;
    assert_eq!(secrets.status, 200, "{}", secrets.body);
    let secrets = secrets.json["secrets"].as_array().unwrap().clone();
    // 40 resources: 10 Huawei secrets over two projects.
    assert_eq!(secrets.len(), 5);
    let id = secrets[0]["id"].as_str().unwrap();
    let tags = send("GET", format!("/v1/{pid}/csms/{id}/tags"), &[], "").await;
    assert_eq!(tags.status, 200);
    assert!(!tags.json["tags"].as_array().unwrap().is_empty(), "{}", tags.body);
    let keys = send(
        "POST",
        format!("/v1.0/{pid}/kms/list-keys"),
        &[],
        r#"{"key_spec":"ALL"}"#,
    )
    .await;
    assert_eq!(keys.status, 200, "{}", keys.body);
    assert_eq!(keys.json["total"], 5);
    let key = keys.json["keys"][0].as_str().unwrap();
    let key_tags = send("GET", format!("/v1.0/{pid}/kms/{key}/tags"), &[], "").await;
    assert_eq!(key_tags.status, 200);
    assert!(key_tags.json["existTagsNum"].as_u64().unwrap() >= 1);
}

// ---------------------------------------------------------------------------------------------------------
// Figures (printed, never asserted): `cargo test --test tests emulator_huawei::huawei_page_latency_at_100k -- --ignored --nocapture`

fn percentiles(mut times: Vec<f64>) -> String {
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    format!(
        "{} pages, mean {mean:.2} ms, p50 {:.2} ms, p99 {:.2} ms",
        times.len(),
        times[times.len() / 2],
        times[(times.len() * 99 / 100).min(times.len() - 1)]
    )
}

#[tokio::test]
#[ignore = "prints figures; run alone"]
async fn huawei_page_latency_at_100k() {
    use tagdrift_emulator::Faults;
    let faults = Faults {
        rate_limits_enabled: false,
        ..Faults::default()
    };
    let emu = Emu::start_generated(100_000, tagdrift_emulator::Options::default(), faults).await;
    let projects = emu
        .call_as(
            "GET",
            "/v3/projects",
            &[("name", "cn-north-4")],
            "",
            &testak(),
            None,
        )
        .await;
    let pid = projects.json["projects"][0]["id"].as_str().unwrap().to_owned();
    let call = |method: &'static str, path: String, query: Vec<(String, String)>, body: String| {
        let emu = &emu;
        let pid = pid.clone();
        async move {
            let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let started = Instant::now();
            let r = emu.call_as(method, &path, &q, &body, &testak(), Some(&pid)).await;
            (started.elapsed().as_secs_f64() * 1e3, r)
        }
    };

    let (mut times, mut rows, mut marker) = (Vec::new(), 0, String::new());
    loop {
        let mut q = pairs(&[("limit", "200")]);
        if !marker.is_empty() {
            q.push(("marker".into(), marker.clone()));
        }
        let (ms, r) = call("GET", format!("/v1/{pid}/secrets"), q, String::new()).await;
        times.push(ms);
        rows += r.json["secrets"].as_array().unwrap().len();
        match r.json["page_info"]["next_marker"].as_str() {
            Some(m) => marker = m.to_owned(),
            None => break,
        }
    }
    println!(
        "HTTP ListSecrets limit 200: {rows} secrets, {}",
        percentiles(times)
    );

    let (mut times, mut rows, mut offset) = (Vec::new(), 0, 0);
    loop {
        let body = format!(r#"{{"action":"filter","limit":"1000","offset":"{offset}"}}"#);
        let (ms, r) = call(
            "POST",
            format!("/v1/{pid}/csms/resource_instances/action"),
            Vec::new(),
            body,
        )
        .await;
        let n = r.json["resources"].as_array().unwrap().len();
        if n == 0 {
            break;
        }
        times.push(ms);
        rows += n;
        offset += n;
    }
    println!(
        "HTTP CSMS resource_instances limit 1000: {rows} secrets with tags, {}",
        percentiles(times)
    );

    let (mut times, mut rows, mut marker) = (Vec::new(), 0, String::new());
    loop {
        let mut body = json!({"limit": "1000", "key_spec": "ALL"});
        if !marker.is_empty() {
            body["marker"] = json!(marker);
        }
        let body = body.to_string();
        let (ms, r) = call("POST", format!("/v1.0/{pid}/kms/list-keys"), Vec::new(), body).await;
        times.push(ms);
        rows += r.json["keys"].as_array().unwrap().len();
        if r.json["truncated"] == "false" {
            break;
        }
        marker = r.json["next_marker"].as_str().unwrap().to_owned();
    }
    println!("HTTP list-keys limit 1000: {rows} keys, {}", percentiles(times));

    let first = r#"{"limit":"1","key_spec":"ALL"}"#.to_owned();
    let (_, r) = call("POST", format!("/v1.0/{pid}/kms/list-keys"), Vec::new(), first).await;
    let key = r.json["keys"][0].as_str().unwrap().to_owned();
    let mut times = Vec::new();
    for _ in 0..200 {
        let (ms, r) = call(
            "GET",
            format!("/v1.0/{pid}/kms/{key}/tags"),
            Vec::new(),
            String::new(),
        )
        .await;
        assert_eq!(r.status, 200);
        times.push(ms);
    }
    println!(
        "HTTP ShowKmsTags (one key): {}",
        percentiles(times).replace("pages", "calls")
    );
    assert!(emu.run.stop().await.success());
}
