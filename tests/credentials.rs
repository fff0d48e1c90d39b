//! Credential sources and the transport against the real `tagdrift emulate` binary: each Alibaba source
//! (environment, files, RRSA with a rotated token file, ECS RAM role metadata) and each Huawei source
//! (environment, files, CCE workload identity with a rotated id-token file, ECS metadata `securitykey`) yields
//! credentials that sign KMS and DEW calls the emulator accepts, auth failures are sent once, and throttling, 5xx, resets and hangs are retried
//! until an answer arrives.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tagdrift_cloud::CallObserver;
use tagdrift_cloud::credentials::{EnvLookup, MapEnv, Provider};
use tagdrift_cloud::transport::{
    AlibabaV1, AlibabaV3, Auth, Call, HuaweiSigner, Operation, Request, Signer, Transport, TransportOptions,
};
use tagdrift_core::config::{Account, Credentials, SecretSource};
use tagdrift_core::vocab::{Cloud, ErrorCode};

const ROLE: &str = "acs:ram::1234567890123456:role/tagdrift";
const OIDC_PROVIDER: &str = "acs:ram::1234567890123456:oidc-provider/ack-rrsa-demo";

/// A running `tagdrift emulate` serving the sample inventory, killed on drop.
struct Emulator {
    child: Child,
    endpoint: String,
}

impl Emulator {
    fn start(extra: &[&str]) -> Emulator {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tagdrift"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("RUST_LOG", "info")
            .args([
                "--log-format",
                "json",
                "emulate",
                "--inventory",
                "config/emulator-inventory.yaml",
            ])
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tagdrift emulate");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("emulator exited before listening")
                .expect("log line");
            let event: Value = serde_json::from_str(&line).expect("json log line");
            if event["message"] == "emulator listening" {
                break event["addr"].as_str().expect("addr").to_owned();
            }
        };
        // Keep draining the log so the emulator never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Emulator {
            child,
            endpoint: format!("http://{addr}"),
        }
    }

    /// How many Alibaba answers of `api` had `outcome` (`ok`, an error code, `throttled`).
    async fn outcome(&self, api: &str, outcome: &str) -> u64 {
        self.stat("alibaba", api, outcome).await
    }

    /// How many answers of `cloud`'s `api` had `outcome`.
    async fn stat(&self, cloud: &str, api: &str, outcome: &str) -> u64 {
        let stats: Value = reqwest::get(format!("{}/_emulator/stats", self.endpoint))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stats["clouds"][cloud]["apis"][api]["outcomes"][outcome]
            .as_u64()
            .unwrap_or(0)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(&'static str, bool, Option<ErrorCode>)>>);

impl CallObserver for Recorder {
    fn attempt(&self, _: Cloud, operation: &'static str, retry: bool, error: Option<ErrorCode>, _: Duration) {
        self.0.lock().unwrap().push((operation, retry, error));
    }
}

fn transport(max_attempts: u32) -> (Transport, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let mut options = TransportOptions::new(recorder.clone());
    options.max_attempts = max_attempts;
    options.request_timeout = Duration::from_secs(5);
    (Transport::new(options).unwrap(), recorder)
}

fn account(credentials: Credentials) -> Account {
    Account {
        name: "ali-demo".into(),
        cloud: Cloud::Alibaba,
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

/// An unsigned JWT-shaped token (the emulator checks shape and `exp`, not issuer keys).
fn jwt(subject: &str, expires_in_secs: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k1"}"#);
    let claims = URL_SAFE_NO_PAD.encode(
        json!({"iss": "https://oidc.example", "sub": subject, "aud": ["sts.aliyuncs.com"], "iat": now, "exp": now + expires_in_secs})
            .to_string(),
    );
    format!("{header}.{claims}.c2lnbmF0dXJl")
}

/// ListKeys in cn-hangzhou through the transport, signed with V3 or (`v1`) V1; the sample inventory has
/// three keys there.
async fn list_keys(
    transport: &Transport,
    endpoint: &str,
    provider: &Provider,
    v1: bool,
) -> Result<Vec<String>, tagdrift_cloud::transport::CallError> {
    let mut request = Request::post(endpoint, "/").query([("RegionId", "cn-hangzhou"), ("PageSize", "100")]);
    let v3 = AlibabaV3::kms("ListKeys");
    let signer: &dyn Signer = if v1 {
        // No `Format`: the signer asks for JSON itself, or the emulator answers XML, the documented default.
        request = request.query([("Action", "ListKeys"), ("Version", "2016-01-20")]);
        &AlibabaV1
    } else {
        &v3
    };
    let call = Call::new(Operation::AlibabaListKeys, "ali-demo", "cn-hangzhou");
    let response = transport
        .send(&call, &request, Auth::Signed(provider, signer))
        .await?;
    let body: Value = response.json()?;
    Ok(body["Keys"]["Key"]
        .as_array()
        .expect("Keys.Key array")
        .iter()
        .map(|k| k["KeyId"].as_str().unwrap().to_owned())
        .collect())
}

#[tokio::test]
async fn environment_access_keys_sign_v3_and_v1_calls() {
    let emulator = Emulator::start(&[]);
    let (transport, recorder) = transport(3);
    let provider = Provider::for_account(
        &account(Credentials::Default),
        env(&[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "testid"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "testsecret"),
            ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true"),
        ]),
        &transport,
    )
    .unwrap();
    assert_eq!(provider.describe(), ["access_key"]);
    for v1 in [false, true] {
        let keys = list_keys(&transport, &emulator.endpoint, &provider, v1)
            .await
            .unwrap();
        assert_eq!(
            keys,
            [
                "key-hzz62f1cb66fa42qo1111",
                "key-hzz62f1cb66fa42qo2222",
                "key-hzz62f1cb66fa42qo3333"
            ]
        );
    }
    assert_eq!(emulator.outcome("ListKeys", "ok").await, 2);
    assert_eq!(
        *recorder.0.lock().unwrap(),
        [("ListKeys", false, None), ("ListKeys", false, None)]
    );

    // Static STS credentials from the variables carry their token.
    let sts = Provider::for_account(
        &account(Credentials::Default),
        env(&[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "STS.demo0123456789"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "demo-sts-secret"),
            ("ALIBABA_CLOUD_SECURITY_TOKEN", "CAIS.demo-sts-token"),
        ]),
        &transport,
    )
    .unwrap();
    assert_eq!(
        list_keys(&transport, &emulator.endpoint, &sts, false)
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn files_are_reread_after_rotation_and_a_refused_key_is_sent_once() {
    let emulator = Emulator::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let id = dir.path().join("access_key_id");
    let secret = dir.path().join("access_key_secret");
    std::fs::write(&id, "testid\n").unwrap();
    std::fs::write(&secret, "wrong-secret\n").unwrap();
    let (transport, recorder) = transport(4);
    let provider = Provider::for_account(
        &account(Credentials::AccessKey {
            id: SecretSource::File(id.display().to_string()),
            secret: SecretSource::File(secret.display().to_string()),
            security_token: None,
        }),
        env(&[]),
        &transport,
    )
    .unwrap();

    let error = list_keys(&transport, &emulator.endpoint, &provider, false)
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::Auth);
    assert_eq!(error.cloud_code.as_deref(), Some("SignatureDoesNotMatch"));
    assert_eq!(error.attempts, 1);
    assert!(
        !error.message.contains("x-acs-"),
        "no string to sign in {}",
        error.message
    );
    assert_eq!(
        emulator.outcome("ListKeys", "SignatureDoesNotMatch").await,
        1,
        "sent exactly once"
    );
    assert_eq!(recorder.0.lock().unwrap().len(), 1);

    // The mounted Secret is updated the way the kubelet does it: a new file renamed over the old one.
    let staged = dir.path().join("..staged");
    std::fs::write(&staged, "testsecret\n").unwrap();
    std::fs::rename(&staged, &secret).unwrap();
    assert_eq!(
        list_keys(&transport, &emulator.endpoint, &provider, false)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(emulator.outcome("ListKeys", "ok").await, 1);
}

fn rrsa_account(token_file: &Path, endpoint: &str) -> Account {
    account(Credentials::AlibabaRrsa {
        role_arn: Some(ROLE.into()),
        oidc_provider_arn: Some(OIDC_PROVIDER.into()),
        oidc_token_file: Some(token_file.display().to_string()),
        role_session_name: None,
        sts_endpoint: Some(endpoint.into()),
    })
}

#[tokio::test]
async fn rrsa_assumes_the_role_and_refreshes_with_the_rotated_token() {
    // Issued credentials live 2 s, so they are refreshed after 1 s.
    let emulator = Emulator::start(&["--sts-duration-secs", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    // The first token expires in 3 s: re-sending it after that would be refused.
    std::fs::write(&token_file, jwt("system:serviceaccount:ops:tagdrift", 3)).unwrap();
    let (transport, recorder) = transport(3);
    let provider = Provider::for_account(
        &rrsa_account(&token_file, &emulator.endpoint),
        env(&[]),
        &transport,
    )
    .unwrap();

    let first = provider.credential().await.unwrap();
    assert!(first.access_key_id.starts_with("STS."), "{first:?}");
    assert!(first.security_token.is_some());
    assert_eq!(
        list_keys(&transport, &emulator.endpoint, &provider, false)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        emulator.outcome("AssumeRoleWithOIDC", "ok").await,
        1,
        "cached between calls"
    );

    // The kubelet rotates the projected token; the old one and the credentials both expire.
    std::fs::write(&token_file, jwt("system:serviceaccount:ops:tagdrift", 3600)).unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(
        list_keys(&transport, &emulator.endpoint, &provider, false)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(emulator.outcome("AssumeRoleWithOIDC", "ok").await, 2);
    assert_ne!(
        provider.credential().await.unwrap().access_key_id,
        first.access_key_id
    );
    assert!(
        recorder
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|(op, _, error)| *op == "AssumeRoleWithOIDC" && error.is_none())
    );
}

#[tokio::test]
async fn rrsa_from_the_webhook_variables_in_the_default_chain() {
    let emulator = Emulator::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, jwt("sa", 3600)).unwrap();
    let (transport, _) = transport(3);
    let token_path = token_file.display().to_string();
    let provider = Provider::for_account(
        &account(Credentials::Default),
        env(&[
            ("ALIBABA_CLOUD_ROLE_ARN", ROLE),
            ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", OIDC_PROVIDER),
            ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", &token_path),
            ("ALIBABA_CLOUD_STS_ENDPOINT", &emulator.endpoint),
        ]),
        &transport,
    )
    .unwrap();
    assert_eq!(provider.describe(), ["rrsa", "ecs_ram_role"]);
    assert_eq!(
        list_keys(&transport, &emulator.endpoint, &provider, false)
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn a_refused_oidc_token_is_an_auth_error_naming_the_source() {
    let emulator = Emulator::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "not-a-jwt").unwrap();
    let (transport, _) = transport(3);
    let provider = Provider::for_account(
        &rrsa_account(&token_file, &emulator.endpoint),
        env(&[]),
        &transport,
    )
    .unwrap();
    let error = list_keys(&transport, &emulator.endpoint, &provider, false)
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::Auth);
    assert!(
        error
            .message
            .starts_with("ListKeys: rrsa: AssumeRoleWithOIDC: HTTP 400 AuthenticationFail.OIDCToken.Invalid"),
        "{}",
        error.message
    );
    assert!(
        !error.message.contains("not-a-jwt"),
        "the token is never echoed: {}",
        error.message
    );
    assert_eq!(
        emulator.outcome("ListKeys", "ok").await
            + emulator.outcome("ListKeys", "SignatureDoesNotMatch").await,
        0
    );
}

#[tokio::test]
async fn ecs_ram_role_credentials_from_imdsv2_metadata() {
    let emulator = Emulator::start(&["--imds-token-required"]);
    let (transport, recorder) = transport(3);
    let provider = Provider::for_account(
        &account(Credentials::AlibabaEcsRamRole {
            role_name: None,
            metadata_endpoint: Some(emulator.endpoint.clone()),
        }),
        env(&[]),
        &transport,
    )
    .unwrap();
    let credential = provider.credential().await.unwrap();
    assert!(credential.access_key_id.starts_with("STS."));
    assert!(credential.expiration.is_some());
    assert_eq!(
        list_keys(&transport, &emulator.endpoint, &provider, false)
            .await
            .unwrap()
            .len(),
        3
    );
    // Token, role name, credentials: three metadata requests, all answered.
    let metadata: Vec<_> = recorder
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(op, _, _)| *op == "EcsMetadata")
        .cloned()
        .collect();
    assert_eq!(metadata, vec![("EcsMetadata", false, None); 3]);

    // A role the instance does not have is refused.
    let wrong = Provider::for_account(
        &account(Credentials::AlibabaEcsRamRole {
            role_name: Some("other-role".into()),
            metadata_endpoint: Some(emulator.endpoint.clone()),
        }),
        env(&[]),
        &transport,
    )
    .unwrap();
    let error = wrong.credential().await.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("ecs_ram_role: EcsMetadata: HTTP 404"),
        "{error}"
    );
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_until_the_quota_allows() {
    // The emulator allows 5 ListKeys a second; tagdrift's bucket is set higher to provoke throttling.
    let emulator = Emulator::start(&["--rate-limit", "alibaba.kms_read=5"]);
    let (transport, recorder) = transport(8);
    let mut rates = BTreeMap::new();
    rates.insert("kms_read".to_owned(), 50.0);
    transport.set_rate_limits(Cloud::Alibaba, "ali-demo", &rates);
    let provider = Provider::for_account(
        &account(Credentials::Default),
        env(&[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "testid"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "testsecret"),
        ]),
        &transport,
    )
    .unwrap();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (transport, provider, endpoint) =
            (transport.clone(), provider.clone(), emulator.endpoint.clone());
        calls.spawn(async move { list_keys(&transport, &endpoint, &provider, false).await });
    }
    for result in calls.join_all().await {
        assert_eq!(result.unwrap().len(), 3);
    }
    let attempts = recorder.0.lock().unwrap().clone();
    let throttled = attempts
        .iter()
        .filter(|a| a.2 == Some(ErrorCode::Throttled))
        .count() as u64;
    assert!(throttled > 0, "the emulator's quota was hit");
    assert_eq!(emulator.outcome("ListKeys", "throttled").await, throttled);
    assert_eq!(emulator.outcome("ListKeys", "ok").await, 12);
    assert!(
        attempts.iter().filter(|a| a.1).count() as u64 >= throttled,
        "every throttled attempt was retried"
    );
}

#[tokio::test]
async fn resets_5xx_and_hangs_are_retried_until_an_answer_arrives() {
    let emulator = Emulator::start(&[
        "--fault-reset",
        "0.2",
        "--fault-5xx",
        "0.2",
        "--fault-hang",
        "0.1",
        "--hang-ms",
        "5000",
        "--seed",
        "3",
    ]);
    let recorder = Arc::new(Recorder::default());
    let mut options = TransportOptions::new(recorder.clone());
    options.max_attempts = 12;
    options.request_timeout = Duration::from_millis(300);
    options.backoff.base = Duration::from_millis(5);
    let transport = Transport::new(options).unwrap();
    let provider = Provider::for_account(
        &account(Credentials::Default),
        env(&[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "testid"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "testsecret"),
        ]),
        &transport,
    )
    .unwrap();
    for _ in 0..15 {
        assert_eq!(
            list_keys(&transport, &emulator.endpoint, &provider, false)
                .await
                .unwrap()
                .len(),
            3
        );
    }
    let attempts = recorder.0.lock().unwrap().clone();
    let count = |code: ErrorCode| attempts.iter().filter(|a| a.2 == Some(code)).count() as u64;
    assert_eq!(attempts.iter().filter(|a| a.2.is_none()).count(), 15);
    assert_eq!(
        count(ErrorCode::Network),
        emulator.outcome("ListKeys", "fault_reset").await
    );
    assert_eq!(
        count(ErrorCode::Http5xx),
        emulator.outcome("ListKeys", "fault_5xx").await
    );
    assert_eq!(
        count(ErrorCode::Timeout),
        emulator.outcome("ListKeys", "fault_hang").await
    );
    assert!(count(ErrorCode::Network) > 0 && count(ErrorCode::Http5xx) > 0 && count(ErrorCode::Timeout) > 0);
}

// ---------------------------------------------------------------------------------------------------------
// Huawei.

const PROJECT: &str = "0123456789abcdef0123456789abcdef";
const IDP: &str = "cce-oidc-demo";

fn huawei_account(credentials: Credentials) -> Account {
    Account {
        name: "hw-demo".into(),
        cloud: Cloud::Huawei,
        ..account(credentials)
    }
}

/// CSMS ListSecrets in cn-north-4 through the transport; the sample inventory has one secret there.
async fn list_secrets(
    transport: &Transport,
    endpoint: &str,
    provider: &Provider,
) -> Result<Vec<String>, tagdrift_cloud::transport::CallError> {
    let request = Request::get(endpoint, &format!("/v1/{PROJECT}/secrets"))
        .query([("limit", "50")])
        .header("Content-Type", "application/json")
        .header("X-Project-Id", PROJECT);
    let call = Call::new(Operation::HuaweiListSecrets, "hw-demo", "cn-north-4");
    let response = transport
        .send(&call, &request, Auth::Signed(provider, &HuaweiSigner))
        .await?;
    let body: Value = response.json()?;
    Ok(body["secrets"]
        .as_array()
        .expect("secrets array")
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect())
}

#[tokio::test]
async fn huawei_environment_and_file_keys_sign_dew_calls() {
    let emulator = Emulator::start(&[]);
    let (transport, _) = transport(4);
    let from_env = Provider::for_account(
        &huawei_account(Credentials::Default),
        env(&[("HUAWEICLOUD_SDK_AK", "testak"), ("HUAWEICLOUD_SDK_SK", "testsk")]),
        &transport,
    )
    .unwrap();
    assert_eq!(from_env.describe(), ["access_key", "ecs_metadata"]);
    assert_eq!(
        list_secrets(&transport, &emulator.endpoint, &from_env)
            .await
            .unwrap(),
        ["db-password"]
    );

    // Temporary keys from the variables are sent with their X-Security-Token.
    let temporary = Provider::for_account(
        &huawei_account(Credentials::Default),
        env(&[
            ("HUAWEICLOUD_SDK_AK", "TMPDEMO0123456789AB"),
            ("HUAWEICLOUD_SDK_SK", "demo-tmp-sk"),
            ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "demo-security-token"),
        ]),
        &transport,
    )
    .unwrap();
    assert_eq!(
        list_secrets(&transport, &emulator.endpoint, &temporary)
            .await
            .unwrap(),
        ["db-password"]
    );

    let dir = tempfile::tempdir().unwrap();
    let (ak, sk) = (dir.path().join("ak"), dir.path().join("sk"));
    std::fs::write(&ak, "testak\n").unwrap();
    std::fs::write(&sk, "not-the-sk\n").unwrap();
    let from_files = Provider::for_account(
        &huawei_account(Credentials::AccessKey {
            id: SecretSource::File(ak.display().to_string()),
            secret: SecretSource::File(sk.display().to_string()),
            security_token: None,
        }),
        env(&[]),
        &transport,
    )
    .unwrap();
    let error = list_secrets(&transport, &emulator.endpoint, &from_files)
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::Auth);
    assert_eq!(error.cloud_code.as_deref(), Some("APIGW.0301"));
    assert_eq!(error.attempts, 1);
    assert_eq!(
        emulator.stat("huawei", "ListSecrets", "APIGW.0301").await,
        1,
        "a bad signature is sent once: five lock the AK"
    );
    let staged = dir.path().join("..staged");
    std::fs::write(&staged, "testsk\n").unwrap();
    std::fs::rename(&staged, &sk).unwrap();
    assert_eq!(
        list_secrets(&transport, &emulator.endpoint, &from_files)
            .await
            .unwrap(),
        ["db-password"]
    );
    assert_eq!(emulator.stat("huawei", "ListSecrets", "ok").await, 3);
}

#[tokio::test]
async fn huawei_workload_identity_refreshes_with_the_rotated_id_token() {
    // Issued keys live 2 s, so they are refreshed after 1 s.
    let emulator = Emulator::start(&["--sts-duration-secs", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("oidc-token");
    // The first id token expires in 3 s: presenting it again after that would be refused.
    std::fs::write(&token_file, jwt("system:serviceaccount:ops:tagdrift", 3)).unwrap();
    let (transport, recorder) = transport(3);
    let token_path = token_file.display().to_string();
    let provider = Provider::for_account(
        &huawei_account(Credentials::Default),
        env(&[
            ("HUAWEICLOUD_SDK_IDP_ID", IDP),
            ("HUAWEICLOUD_SDK_ID_TOKEN_FILE", &token_path),
            ("HUAWEICLOUD_SDK_IAM_ENDPOINT", &emulator.endpoint),
            // Present too, but workload identity comes first, as in the SDK.
            ("HUAWEICLOUD_SDK_AK", "testak"),
            ("HUAWEICLOUD_SDK_SK", "wrong"),
        ]),
        &transport,
    )
    .unwrap();
    assert_eq!(
        provider.describe(),
        ["workload_identity", "access_key", "ecs_metadata"]
    );
    assert_eq!(
        list_secrets(&transport, &emulator.endpoint, &provider)
            .await
            .unwrap(),
        ["db-password"]
    );
    let first = provider.credential().await.unwrap();
    assert!(
        first.security_token.is_some() && first.expiration.is_some(),
        "{first:?}"
    );
    assert_eq!(emulator.stat("huawei", "CreateTokenWithIdToken", "ok").await, 1);
    assert_eq!(
        emulator
            .stat("huawei", "CreateTemporaryAccessKeyByToken", "ok")
            .await,
        1
    );

    std::fs::write(&token_file, jwt("system:serviceaccount:ops:tagdrift", 3600)).unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(
        list_secrets(&transport, &emulator.endpoint, &provider)
            .await
            .unwrap(),
        ["db-password"]
    );
    assert_eq!(emulator.stat("huawei", "CreateTokenWithIdToken", "ok").await, 2);
    assert_eq!(
        emulator
            .stat("huawei", "CreateTemporaryAccessKeyByToken", "ok")
            .await,
        2
    );
    assert_ne!(
        provider.credential().await.unwrap().access_key_id,
        first.access_key_id
    );
    let seen = recorder.0.lock().unwrap().clone();
    assert!(seen.iter().all(|(_, _, error)| error.is_none()), "{seen:?}");

    // An identity provider IAM does not know: an error naming the source and IAM's code.
    let unknown = Provider::for_account(
        &huawei_account(Credentials::HuaweiWorkloadIdentity {
            idp_id: Some("no-such-idp".into()),
            id_token_file: Some(token_path.clone()),
            iam_endpoint: Some(emulator.endpoint.clone()),
        }),
        env(&[]),
        &transport,
    )
    .unwrap();
    let error = unknown.credential().await.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("workload_identity: CreateTokenWithIdToken: HTTP 404 IAM.0004"),
        "{error}"
    );
}

#[tokio::test]
async fn huawei_ecs_metadata_security_key_with_imdsv2() {
    let emulator = Emulator::start(&["--imds-token-required"]);
    let (transport, _) = transport(3);
    let provider = Provider::for_account(
        &huawei_account(Credentials::HuaweiEcsMetadata {
            metadata_endpoint: Some(emulator.endpoint.clone()),
        }),
        env(&[]),
        &transport,
    )
    .unwrap();
    assert_eq!(
        list_secrets(&transport, &emulator.endpoint, &provider)
            .await
            .unwrap(),
        ["db-password"]
    );
    assert_eq!(
        list_secrets(&transport, &emulator.endpoint, &provider)
            .await
            .unwrap(),
        ["db-password"]
    );
    let credential = provider.credential().await.unwrap();
    assert!(credential.security_token.is_some());
    assert!(credential.expiration.unwrap() > chrono::Utc::now() + chrono::TimeDelta::hours(23));
    // One fetch (token, then security key), cached for both calls.
    assert_eq!(emulator.stat("huawei", "MetadataToken", "ok").await, 1);
    assert_eq!(emulator.stat("huawei", "MetadataSecurityKey", "ok").await, 1);
}

/// Huawei locks an access key for everyone after more than five bad signatures in a row, so a daemon with a
/// wrong secret must stop sending it after a few checks, and try again as soon as the secret changes.
#[tokio::test]
async fn credentials_refused_in_consecutive_checks_are_not_sent_again_until_they_change() {
    use tagdrift_cloud::NoObserver;
    use tagdrift_cloud::read::{MAX_REFUSED_CHECKS, Reader, ReaderOptions};
    use tagdrift_core::vocab::{Observations, Outcome};
    use tagdrift_emulator::{Clock, Faults, Options, State, Store, inventory::Inventory};
    let inventory = Inventory::parse(
        r#"
huawei:
  - name: hw
    ak: testak
    sk: testsk
    projects:
      - region: cn-north-4
        project_id: 0123456789abcdef0123456789abcdef
        keys: [{id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: platform}}]
"#,
        "inline",
    )
    .unwrap();
    let emu_state = State::new(
        Store::from_inventory(inventory).unwrap(),
        Options::default(),
        Faults::default(),
        Clock::system(),
    );
    let running = tagdrift_emulator::start(emu_state.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sk_file = dir.path().join("sk");
    std::fs::write(&sk_file, "wrong-sk").unwrap();
    let desired = tagdrift_core::config::parse(
        &format!(
            r#"version: 1
accounts:
  - name: hw
    cloud: huawei
    endpoint: {}
    regions:
      - {{name: cn-north-4, project_id: 0123456789abcdef0123456789abcdef}}
    credentials:
      type: access_key
      ak: {{env: AK}}
      sk: {{file: {}}}
resources:
  - {{account: hw, region: cn-north-4, type: key, id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f}}
"#,
            running.endpoint(),
            sk_file.display()
        ),
        "inline.yaml",
    )
    .unwrap();
    let reader = Reader::new(
        &desired,
        ReaderOptions {
            env: Arc::new(MapEnv::new([("AK", "testak")])),
            observer: Arc::new(NoObserver),
        },
    )
    .unwrap();
    let refused_calls = || {
        emu_state.stats().clouds.get("huawei").map_or(0, |c| {
            c.apis
                .values()
                .flat_map(|a| a.outcomes.iter())
                .filter(|(outcome, _)| outcome.as_str() == "APIGW.0301")
                .map(|(_, n)| *n)
                .sum::<u64>()
        })
    };
    let outcome = |obs: &Observations| obs.resources[0].outcome.clone();

    for check in 1..=6 {
        let obs = reader.read(&desired).await;
        let Outcome::Failed(e) = outcome(&obs) else {
            panic!("check {check}: {:?}", outcome(&obs))
        };
        assert_eq!(e.code, ErrorCode::Auth, "check {check}: {e:?}");
        if check > MAX_REFUSED_CHECKS {
            assert!(e.message.contains("not sent"), "check {check}: {}", e.message);
        }
    }
    assert_eq!(refused_calls(), u64::from(MAX_REFUSED_CHECKS));

    // Rotated secret (a Kubernetes Secret mounted as a file): the next check sends it and reads the key.
    std::fs::write(&sk_file, "testsk").unwrap();
    let obs = reader.read(&desired).await;
    assert!(matches!(outcome(&obs), Outcome::Found(_)), "{:?}", outcome(&obs));
    assert_eq!(refused_calls(), u64::from(MAX_REFUSED_CHECKS));
    running.stop().await.unwrap();
}
