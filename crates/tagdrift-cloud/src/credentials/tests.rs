//! Credential tests: redaction, chain construction from config and environment, file rotation, and refresh
//! timing of temporary credentials against a local STS stand-in with an injected clock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use std::sync::{Arc, Mutex};

use chrono::{TimeDelta, TimeZone, Utc};

use super::source::Fetched;
use super::*;
use crate::transport::TransportOptions;
use crate::{ErrorCode, NoObserver};

fn transport() -> Transport {
    let mut options = TransportOptions::new(Arc::new(NoObserver));
    options.max_attempts = 1;
    Transport::new(options).unwrap()
}

fn account(cloud: Cloud, credentials: Credentials) -> Account {
    Account {
        name: "acct".into(),
        cloud,
        regions: Vec::new(),
        endpoint: None,
        credentials,
        rate_limits: BTreeMap::new(),
        batch_tag_read: tagdrift_core::config::BatchTagRead::Never,
    }
}

fn env(vars: &[(&str, &str)]) -> Arc<dyn EnvLookup> {
    Arc::new(MapEnv::new(vars.iter().copied()))
}

#[test]
fn debug_output_never_shows_secrets_or_tokens() {
    let credential = Credential {
        access_key_id: "LTAIexample".into(),
        secret: "very-secret-value".into(),
        security_token: Some("CAIS-token-value".into()),
        expiration: None,
    };
    let shown = format!("{credential:?}");
    assert!(shown.contains("LTAIexample"));
    assert!(
        !shown.contains("very-secret-value") && !shown.contains("CAIS-token-value"),
        "{shown}"
    );

    let vars = MapEnv::new([("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "very-secret-value")]);
    let shown = format!("{vars:?}");
    assert!(shown.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET") && !shown.contains("very-secret-value"));

    let provider = Provider::fixed(credential);
    assert!(!format!("{provider:?}").contains("very-secret-value"));
}

#[test]
fn credentials_convert_for_both_signers() {
    let credential = Credential::new("id", "secret", Some("token".into()));
    let ali = credential.alibaba();
    assert_eq!(
        (
            ali.access_key_id.as_str(),
            ali.access_key_secret.as_str(),
            ali.security_token.as_deref()
        ),
        ("id", "secret", Some("token"))
    );
    let hw = credential.huawei();
    assert_eq!(
        (hw.ak.as_str(), hw.sk.as_str(), hw.security_token.as_deref()),
        ("id", "secret", Some("token"))
    );
}

#[test]
fn the_alibaba_default_chain_follows_the_sdk_order() {
    let t = transport();
    let default = account(Cloud::Alibaba, Credentials::Default);
    let only_ecs = Provider::for_account(&default, env(&[]), &t).unwrap();
    assert_eq!(only_ecs.describe(), ["ecs_ram_role"]);

    let everything = Provider::for_account(
        &default,
        env(&[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "id"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret"),
            ("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/r"),
            ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "acs:ram::1:oidc-provider/p"),
            ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "/var/run/token"),
        ]),
        &t,
    )
    .unwrap();
    assert_eq!(everything.describe(), ["access_key", "rrsa", "ecs_ram_role"]);

    // RRSA needs all three variables; ECS metadata can be switched off.
    let partial = Provider::for_account(
        &default,
        env(&[
            ("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/r"),
            ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "/var/run/token"),
            ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true"),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "id"),
        ]),
        &t,
    );
    assert_eq!(partial.unwrap_err().code(), "incomplete");
}

#[test]
fn the_huawei_default_chain_puts_workload_identity_before_ak_sk() {
    let t = transport();
    let default = account(Cloud::Huawei, Credentials::Default);
    let provider = Provider::for_account(
        &default,
        env(&[
            ("HUAWEICLOUD_SDK_AK", "ak"),
            ("HUAWEICLOUD_SDK_SK", "sk"),
            ("HUAWEICLOUD_SDK_IDP_ID", "idp"),
            ("HUAWEICLOUD_SDK_ID_TOKEN_FILE", "/var/run/token"),
        ]),
        &t,
    )
    .unwrap();
    assert_eq!(
        provider.describe(),
        ["workload_identity", "access_key", "ecs_metadata"]
    );
    let provider = Provider::for_account(&default, env(&[("HUAWEICLOUD_SDK_AK", "ak")]), &t).unwrap();
    assert_eq!(
        provider.describe(),
        ["ecs_metadata"],
        "AK without SK is not a source"
    );
}

#[test]
fn explicit_sources_report_what_is_missing() {
    let t = transport();
    let rrsa = account(
        Cloud::Alibaba,
        Credentials::AlibabaRrsa {
            role_arn: Some("acs:ram::1:role/r".into()),
            oidc_provider_arn: None,
            oidc_token_file: Some("/t".into()),
            role_session_name: None,
            sts_endpoint: None,
        },
    );
    let error = Provider::for_account(&rrsa, env(&[]), &t).unwrap_err();
    assert_eq!(
        error.to_string(),
        "rrsa: oidc_provider_arn is not set (config field or ALIBABA_CLOUD_OIDC_PROVIDER_ARN)"
    );
    assert_eq!(error.error_code(), ErrorCode::Auth);

    let wi = account(
        Cloud::Huawei,
        Credentials::HuaweiWorkloadIdentity {
            idp_id: None,
            id_token_file: Some("/t".into()),
            iam_endpoint: None,
        },
    );
    let error = Provider::for_account(&wi, env(&[]), &t).unwrap_err();
    assert_eq!(
        error.to_string(),
        "workload_identity: idp_id is not set (config field or HUAWEICLOUD_SDK_IDP_ID)"
    );

    let key = account(
        Cloud::Huawei,
        Credentials::AccessKey {
            id: SecretSource::Env("MY_AK".into()),
            secret: SecretSource::Env("MY_SK".into()),
            security_token: None,
        },
    );
    let error = Provider::for_account(&key, env(&[("MY_AK", "ak")]), &t).unwrap_err();
    assert_eq!(error, CredentialError::MissingEnv { name: "MY_SK".into() });
}

#[tokio::test]
async fn access_keys_from_files_are_reread_when_the_files_change() {
    let dir = tempfile::tempdir().unwrap();
    let id_path = dir.path().join("id");
    let secret_path = dir.path().join("secret");
    std::fs::write(&id_path, "first-id\n").unwrap();
    std::fs::write(&secret_path, "first-secret\n").unwrap();
    let config = account(
        Cloud::Alibaba,
        Credentials::AccessKey {
            id: SecretSource::File(id_path.display().to_string()),
            secret: SecretSource::File(secret_path.display().to_string()),
            security_token: Some(SecretSource::Env("TOKEN".into())),
        },
    );
    let provider = Provider::for_account(&config, env(&[("TOKEN", "tok")]), &transport()).unwrap();
    let first = provider.credential().await.unwrap();
    assert_eq!(
        (
            first.access_key_id.as_str(),
            first.secret.as_str(),
            first.security_token.as_deref()
        ),
        ("first-id", "first-secret", Some("tok"))
    );

    // Kubernetes swaps the files atomically: write aside, rename over.
    let staged = dir.path().join("staged");
    std::fs::write(&staged, "second-secret").unwrap();
    std::fs::rename(&staged, &secret_path).unwrap();
    let second = provider.credential().await.unwrap();
    assert_eq!(second.secret, "second-secret");
    assert_eq!(second.access_key_id, "first-id");

    std::fs::remove_file(&secret_path).unwrap();
    let error = provider.credential().await.unwrap_err();
    assert_eq!(error.code(), "file");
    assert!(error.to_string().contains(&secret_path.display().to_string()));
}

#[test]
fn temporary_credentials_refresh_ahead_of_expiry() {
    let now = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
    let mut credential = Credential::new("STS.x", "s", Some("t".into()));
    credential.expiration = Some(now + TimeDelta::hours(1));
    let hour = Fetched::temporary(credential.clone(), now, TimeDelta::minutes(15));
    assert_eq!(hour.refresh_at, Some(now + TimeDelta::minutes(45)));
    assert!(hour.is_fresh(now + TimeDelta::minutes(44)));
    assert!(!hour.is_fresh(now + TimeDelta::minutes(45)));
    assert!(hour.usable(now + TimeDelta::minutes(59)));
    assert!(!hour.usable(now + TimeDelta::minutes(60)));

    // Shorter than twice the margin: refresh halfway, not on every call.
    credential.expiration = Some(now + TimeDelta::minutes(10));
    let short = Fetched::temporary(credential, now, TimeDelta::minutes(15));
    assert_eq!(short.refresh_at, Some(now + TimeDelta::minutes(5)));
}

/// An STS stand-in: counts calls, answers with credentials that expire an hour after `now`, or fails.
async fn fake_sts(
    now: Arc<Mutex<chrono::DateTime<Utc>>>,
    fail: Arc<AtomicU32>,
    bodies: Arc<Mutex<Vec<String>>>,
) -> String {
    use axum::routing::post;
    let router = axum::Router::new().route(
        "/",
        post(move |body: String| {
            let now = now.clone();
            let fail = fail.clone();
            let bodies = bodies.clone();
            async move {
                let n = {
                    let mut bodies = bodies.lock().unwrap();
                    bodies.push(body);
                    bodies.len()
                };
                if fail.load(Ordering::SeqCst) == 1 {
                    return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, r#"{"Code":"InternalError","RequestId":"x"}"#.to_owned());
                }
                let expiration = (*now.lock().unwrap() + TimeDelta::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
                (
                    axum::http::StatusCode::OK,
                    format!(
                        r#"{{"RequestId":"r","Credentials":{{"AccessKeyId":"STS.{n}","AccessKeySecret":"s{n}","SecurityToken":"CAIS{n}","Expiration":"{expiration}"}}}}"#
                    ),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn rrsa_caches_refreshes_before_expiry_and_survives_a_failed_refresh() {
    let start = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
    let now = Arc::new(Mutex::new(start));
    let fail = Arc::new(AtomicU32::new(0));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let endpoint = fake_sts(now.clone(), fail.clone(), bodies.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "jwt-1\n").unwrap();
    let config = account(
        Cloud::Alibaba,
        Credentials::AlibabaRrsa {
            role_arn: Some("acs:ram::1:role/r".into()),
            oidc_provider_arn: Some("acs:ram::1:oidc-provider/p".into()),
            oidc_token_file: Some(token_file.display().to_string()),
            role_session_name: None,
            sts_endpoint: Some(endpoint),
        },
    );
    let clock_now = now.clone();
    let clock: Clock = Arc::new(move || *clock_now.lock().unwrap());
    let provider = Provider::for_account_with_clock(&config, env(&[]), &transport(), clock).unwrap();

    let first = provider.credential().await.unwrap();
    assert_eq!(first.access_key_id, "STS.1");
    assert_eq!(first.expiration, Some(start + TimeDelta::hours(1)));
    *now.lock().unwrap() = start + TimeDelta::minutes(44);
    assert_eq!(
        provider.credential().await.unwrap().access_key_id,
        "STS.1",
        "still cached"
    );
    assert_eq!(bodies.lock().unwrap().len(), 1);
    let sent = bodies.lock().unwrap()[0].clone();
    // The protocol parameters travel in the query (checked by the emulator, tests/credentials.rs).
    assert!(!sent.contains("Action="), "{sent}");
    for part in [
        "RoleArn=acs%3Aram%3A%3A1%3Arole%2Fr",
        "OIDCToken=jwt-1&",
        "DurationSeconds=3600",
    ] {
        assert!(sent.contains(part), "{part} in {sent}");
    }

    // The kubelet rotated the token; the refresh 15 minutes before expiry sends the new one.
    std::fs::write(&token_file, "jwt-2\n").unwrap();
    *now.lock().unwrap() = start + TimeDelta::minutes(46);
    assert_eq!(provider.credential().await.unwrap().access_key_id, "STS.2");
    assert_eq!(bodies.lock().unwrap().len(), 2);
    assert!(bodies.lock().unwrap()[1].contains("OIDCToken=jwt-2&"));

    // STS fails at the next refresh: the cached credential serves until it expires, then the error shows.
    fail.store(1, Ordering::SeqCst);
    *now.lock().unwrap() = start + TimeDelta::minutes(46 + 50);
    assert_eq!(provider.credential().await.unwrap().access_key_id, "STS.2");
    *now.lock().unwrap() = start + TimeDelta::minutes(46 + 61);
    let error = provider.credential().await.unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::Http5xx);
    assert!(
        error
            .to_string()
            .starts_with("rrsa: AssumeRoleWithOIDC: HTTP 500 InternalError"),
        "{error}"
    );
}

#[tokio::test]
async fn an_unreachable_metadata_service_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let config = account(
        Cloud::Huawei,
        Credentials::HuaweiEcsMetadata {
            metadata_endpoint: Some(closed),
        },
    );
    let provider = Provider::for_account(&config, env(&[]), &transport()).unwrap();
    let error = provider.credential().await.unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::Network);
    assert!(
        error.to_string().starts_with("ecs_metadata: EcsMetadata: "),
        "{error}"
    );
}

#[tokio::test]
async fn a_refused_credential_is_fetched_anew_only_once_it_is_old_enough() {
    let start = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
    let now = Arc::new(Mutex::new(start));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let endpoint = fake_sts(now.clone(), Arc::new(AtomicU32::new(0)), bodies.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "jwt-1").unwrap();
    let config = account(
        Cloud::Alibaba,
        Credentials::AlibabaRrsa {
            role_arn: Some("acs:ram::1:role/r".into()),
            oidc_provider_arn: Some("acs:ram::1:oidc-provider/p".into()),
            oidc_token_file: Some(token_file.display().to_string()),
            role_session_name: None,
            sts_endpoint: Some(endpoint),
        },
    );
    let clock_now = now.clone();
    let clock: Clock = Arc::new(move || *clock_now.lock().unwrap());
    let provider = Provider::for_account_with_clock(&config, env(&[]), &transport(), clock).unwrap();

    let first = provider.credential().await.unwrap();
    provider.refused(&first).await;
    assert_eq!(provider.credential().await.unwrap(), first, "too fresh to drop");
    assert_eq!(bodies.lock().unwrap().len(), 1);

    *now.lock().unwrap() = start + REFETCH_AFTER_REFUSAL;
    provider.refused(&Credential::new("STS.other", "x", None)).await;
    assert_eq!(
        provider.credential().await.unwrap(),
        first,
        "another credential was refused"
    );
    provider.refused(&first).await;
    assert_eq!(provider.credential().await.unwrap().access_key_id, "STS.2");
    assert_eq!(bodies.lock().unwrap().len(), 2);
}

/// An Alibaba metadata service that serves the role and its credentials to any GET, with `token` as its
/// IMDSv2 token endpoint.
async fn metadata_service(token: axum::routing::MethodRouter) -> String {
    use axum::routing::get;
    let router = axum::Router::new()
        .route("/latest/api/token", token)
        .route("/latest/meta-data/ram/security-credentials/", get(|| async { "reader-role\n" }))
        .route(
            "/latest/meta-data/ram/security-credentials/reader-role",
            get(|| async {
                r#"{"AccessKeyId":"STS.ecs","AccessKeySecret":"s","SecurityToken":"t","Expiration":"2099-01-01T00:00:00Z","Code":"Success"}"#
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// The ECS RAM role provider for `endpoint` as it is, and with `ALIBABA_CLOUD_IMDSV1_DISABLED` set to `disabled`.
fn ecs_ram_role_providers(endpoint: String, disabled: &str) -> (Provider, Provider) {
    let config = account(
        Cloud::Alibaba,
        Credentials::AlibabaEcsRamRole {
            role_name: None,
            metadata_endpoint: Some(endpoint),
        },
    );
    let lenient = Provider::for_account(&config, env(&[]), &transport()).unwrap();
    let strict = Provider::for_account(
        &config,
        env(&[("ALIBABA_CLOUD_IMDSV1_DISABLED", disabled)]),
        &transport(),
    )
    .unwrap();
    (lenient, strict)
}

#[tokio::test]
async fn ecs_ram_role_falls_back_to_imdsv1_unless_disabled() {
    use axum::http::StatusCode;
    // Without IMDSv2: the token request is refused.
    let refused = axum::routing::put(|| async { (StatusCode::NOT_FOUND, "no") });
    let (provider, strict) = ecs_ram_role_providers(metadata_service(refused).await, "true");
    assert_eq!(provider.credential().await.unwrap().access_key_id, "STS.ecs");
    let error = strict.credential().await.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("ecs_ram_role: EcsMetadata: HTTP 404"),
        "{error}"
    );
}

#[tokio::test]
async fn ecs_ram_role_falls_back_to_imdsv1_when_the_token_request_times_out() {
    // The token request is held past the client's timeout.
    let hangs = axum::routing::put(|| async {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        "never"
    });
    let (provider, strict) = ecs_ram_role_providers(metadata_service(hangs).await, "TRUE");
    assert_eq!(provider.credential().await.unwrap().access_key_id, "STS.ecs");
    let error = strict.credential().await.unwrap_err();
    assert_eq!(error.error_code(), ErrorCode::Timeout, "{error}");
}

#[tokio::test]
async fn without_a_metadata_service_the_alibaba_chain_fails_fast_and_names_every_source() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let config = account(
        Cloud::Alibaba,
        Credentials::AlibabaEcsRamRole {
            role_name: None,
            metadata_endpoint: Some(closed),
        },
    );
    let mut options = TransportOptions::new(Arc::new(NoObserver));
    options.max_attempts = 5;
    let transport = Transport::new(options).unwrap();
    let provider = Provider::for_account(&config, env(&[]), &transport).unwrap();
    let error = provider.credential().await.unwrap_err();
    // The token request got no answer, nor did the IMDSv1 role-name request after it: two attempts each
    // rather than five.
    assert_eq!(error.error_code(), ErrorCode::Network);
    assert!(error.to_string().ends_with("after 2 attempts"), "{error}");
}

/// The answers of STS `AssumeRoleWithOIDC`, ECS RAM-role metadata, Huawei IAM `securitytokens` and ECS
/// `securitykey`, mutated anywhere: a complete credential or an `InvalidResponse`, never a panic, and the
/// error never quotes the secret or the token.
mod bad_input {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::super::{alibaba, huawei};
    use super::*;

    const SECRET: &str = "SeedSecretValue0123";
    const TOKEN: &str = "SeedSecurityToken4567";

    fn seeds() -> Vec<(&'static str, Value)> {
        vec![
            (
                "alibaba sts",
                json!({"SecurityToken": TOKEN, "Expiration": "2030-01-01T00:00:00Z", "AccessKeySecret": SECRET, "AccessKeyId": "STS.id"}),
            ),
            (
                "alibaba ecs",
                json!({"AccessKeyId": "STS.id", "AccessKeySecret": SECRET, "SecurityToken": TOKEN, "Expiration": "2030-01-01T00:00:00Z", "LastUpdated": "2029-12-31T18:00:00Z", "Code": "Success"}),
            ),
            (
                "huawei iam",
                json!({"credential": {"access": "TMPID", "secret": SECRET, "securitytoken": TOKEN, "expires_at": "2030-01-01T00:15:00.000000Z"}}),
            ),
            (
                "huawei ecs",
                json!({"credential": {"access": "TMPID", "secret": SECRET, "securitytoken": TOKEN, "expires_at": "2030-01-01T00:15:00.000000Z"}}),
            ),
        ]
    }

    fn parse(name: &str, value: &Value) -> Result<Credential, CredentialError> {
        if name.starts_with("alibaba") {
            alibaba::parse_credential(value, "rrsa")
        } else {
            huawei::parse_credential(value, "workload_identity")
        }
    }

    fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => map
                .iter()
                .for_each(|(k, v)| pointers(v, format!("{at}/{k}"), out)),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .for_each(|(i, v)| pointers(v, format!("{at}/{i}"), out)),
            _ => {}
        }
        out.push(at);
    }

    fn junk() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            prop::arbitrary::any::<bool>().prop_map(Value::Bool),
            prop::arbitrary::any::<i64>().prop_map(|n| json!(n)),
            "\\PC{0,30}".prop_map(Value::String),
            Just(json!("")),
            Just(json!("not-a-time")),
            Just(json!("9999-99-99T99:99:99Z")),
            (1usize..100_000).prop_map(|n| Value::String("q".repeat(n))),
            Just(json!([])),
            Just(json!({})),
        ]
    }

    #[test]
    fn every_seed_parses() {
        for (name, seed) in seeds() {
            let credential = parse(name, &seed).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                (credential.secret.as_str(), credential.security_token.as_deref()),
                (SECRET, Some(TOKEN))
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn mutated_credential_answers_parse_or_are_invalid(
            seed in 0..4usize,
            steps in prop::collection::vec((prop::arbitrary::any::<prop::sample::Index>(), junk()), 1..4),
        ) {
            let (name, mut doc) = seeds().swap_remove(seed);
            for (at, junk) in steps {
                let mut all = Vec::new();
                pointers(&doc, String::new(), &mut all);
                let pointer = at.get(all.as_slice()).clone();
                *doc.pointer_mut(&pointer).unwrap() = junk;
            }
            match parse(name, &doc) {
                Ok(c) => {
                    prop_assert!(!c.access_key_id.is_empty() && !c.secret.is_empty());
                    prop_assert!(c.security_token.as_deref().is_some_and(|t| !t.is_empty()));
                    prop_assert!(c.expiration.is_some());
                }
                Err(e) => {
                    prop_assert_eq!(e.error_code(), ErrorCode::InvalidResponse);
                    let shown = format!("{e} {e:?}");
                    prop_assert!(!shown.contains(SECRET) && !shown.contains(TOKEN), "{}", shown);
                }
            }
        }
    }
}
