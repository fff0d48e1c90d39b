//! Huawei credential sources against a scripted IAM, ECS metadata and DEW server on a real socket: workload
//! identity (id token → unscoped token → temporary AK/SK, refreshed with the rotated token file), ECS agency
//! credentials from `securitykey`, and the temporary keys signing a DEW call whose signature the server
//! recomputes with `cloud::huawei::sign`. The same sources against the emulator are in tests/credentials.rs;
//! this server also pins the exact request shapes (the unscoped token in `X-Auth-Token` as well as the body,
//! the identity provider header) and verifies signatures independently of the emulator.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use chrono::Utc;
use serde_json::{Value, json};
use tagdrift_cloud::NoObserver;
use tagdrift_cloud::credentials::{EnvLookup, MapEnv, Provider};
use tagdrift_cloud::huawei::sign;
use tagdrift_cloud::transport::{Auth, Call, HuaweiSigner, Operation, Request, Transport, TransportOptions};
use tagdrift_core::config::{Account, Credentials};
use tagdrift_core::vocab::{Cloud, ErrorCode};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";

/// What the scripted server saw and issued.
#[derive(Default)]
struct Server {
    /// id tokens presented to the id-token endpoint, in order.
    id_tokens: Vec<String>,
    /// unscoped token → whether it was exchanged already.
    unscoped: BTreeMap<String, bool>,
    /// issued AK → (SK, security token).
    issued: BTreeMap<String, (String, String)>,
    metadata_tokens: Vec<String>,
    /// Lifetime of issued keys.
    lifetime_secs: i64,
    dew_calls: u32,
}

type Shared = Arc<Mutex<Server>>;

fn issue(server: &mut Server, prefix: &str) -> Value {
    let n = server.issued.len() + 1;
    let (ak, sk, token) = (
        format!("{prefix}{n}"),
        format!("sk-{n}"),
        format!("security-token-{n}"),
    );
    server.issued.insert(ak.clone(), (sk.clone(), token.clone()));
    let expires = Utc::now() + chrono::TimeDelta::seconds(server.lifetime_secs);
    json!({"credential": {"access": ak, "secret": sk, "securitytoken": token,
        "expires_at": expires.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()}})
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error_code": code, "error_msg": message})),
    )
        .into_response()
}

async fn id_token(State(state): State<Shared>, headers: HeaderMap, body: axum::Json<Value>) -> Response {
    if headers.get("x-idp-id").and_then(|v| v.to_str().ok()) != Some("idp-tagdrift") {
        return error(StatusCode::BAD_REQUEST, "IAM.0001", "unknown identity provider");
    }
    let Some(token) = body["auth"]["id_token"]["id"].as_str() else {
        return error(StatusCode::BAD_REQUEST, "IAM.0002", "id token missing");
    };
    let mut server = state.lock().unwrap();
    server.id_tokens.push(token.to_owned());
    let unscoped = format!("unscoped-{}", server.id_tokens.len());
    server.unscoped.insert(unscoped.clone(), false);
    (
        StatusCode::CREATED,
        [("X-Subject-Token", unscoped)],
        axum::Json(json!({"token": {}})),
    )
        .into_response()
}

async fn security_tokens(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: axum::Json<Value>,
) -> Response {
    let identity = &body["auth"]["identity"];
    let token = identity["token"]["id"].as_str().unwrap_or("");
    let mut server = state.lock().unwrap();
    let known = server.unscoped.get(token) == Some(&false);
    let header = headers.get("x-auth-token").and_then(|v| v.to_str().ok());
    if identity["methods"] != json!(["token"]) || !known || header != Some(token) {
        return error(StatusCode::UNAUTHORIZED, "IAM.0003", "token invalid");
    }
    server.unscoped.insert(token.to_owned(), true);
    (StatusCode::CREATED, axum::Json(issue(&mut server, "WI"))).into_response()
}

async fn metadata_token(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if headers.get("x-metadata-token-ttl-seconds").is_none() {
        return (StatusCode::BAD_REQUEST, "ttl required").into_response();
    }
    let mut server = state.lock().unwrap();
    let token = format!("md-{}", server.metadata_tokens.len() + 1);
    server.metadata_tokens.push(token.clone());
    token.into_response()
}

async fn security_key(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut server = state.lock().unwrap();
    let token = headers
        .get("x-metadata-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !server.metadata_tokens.iter().any(|t| t == token) {
        return (StatusCode::UNAUTHORIZED, "metadata token required").into_response();
    }
    axum::Json(issue(&mut server, "ECS")).into_response()
}

/// A DEW endpoint that checks the signature and security token of issued keys, as the gateway does.
async fn list_secrets(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut server = state.lock().unwrap();
    server.dew_calls += 1;
    let pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let find = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let Some(auth) = find("authorization")
        .as_deref()
        .and_then(sign::parse_authorization)
    else {
        return error(
            StatusCode::UNAUTHORIZED,
            "APIGW.0301",
            "Incorrect IAM authentication information",
        );
    };
    let Some((sk, token)) = server.issued.get(&auth.access_key).cloned() else {
        return error(
            StatusCode::UNAUTHORIZED,
            "APIGW.0301",
            "Incorrect IAM authentication information: ak not found",
        );
    };
    if find("x-security-token").as_deref() != Some(token.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "APIGW.0301",
            "Incorrect IAM authentication information: token",
        );
    }
    let query: Vec<(String, String)> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (sign::percent_decode(k), sign::percent_decode(v))
        })
        .collect();
    let signed: Vec<&str> = auth.signed_headers.iter().map(String::as_str).collect();
    let request = sign::SdkRequest {
        method: method.as_str(),
        path: uri.path(),
        query: &query,
        headers: &pairs,
        body: &body,
    };
    let date = find("x-sdk-date").unwrap_or_default();
    let expected = sign::signature(
        &sk,
        &sign::string_to_sign(&date, &sign::canonical_request(&request, &signed)),
    );
    if expected != auth.signature {
        return error(
            StatusCode::UNAUTHORIZED,
            "APIGW.0301",
            "verify aksk signature fail",
        );
    }
    axum::Json(
        json!({"secrets": [{"id": "5f0d1c7e", "name": "db-password"}], "page_info": {"current_count": 1}}),
    )
    .into_response()
}

async fn start(lifetime_secs: i64) -> (String, Shared) {
    let state: Shared = Arc::new(Mutex::new(Server {
        lifetime_secs,
        ..Server::default()
    }));
    let router = Router::new()
        .route("/v3.0/OS-AUTH/id-token/tokens", post(id_token))
        .route("/v3.0/OS-CREDENTIAL/securitytokens", post(security_tokens))
        .route("/meta-data/latest/api/token", put(metadata_token))
        .route("/openstack/latest/securitykey", get(security_key))
        .route("/v1/{project}/secrets", any(list_secrets))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}"), state)
}

fn transport() -> Transport {
    let mut options = TransportOptions::new(Arc::new(NoObserver));
    options.max_attempts = 2;
    options.request_timeout = Duration::from_secs(5);
    Transport::new(options).unwrap()
}

fn account(credentials: Credentials) -> Account {
    Account {
        name: "hw-demo".into(),
        cloud: Cloud::Huawei,
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

async fn list_secrets_call(
    transport: &Transport,
    endpoint: &str,
    provider: &Provider,
) -> Result<Value, String> {
    let request = Request::get(endpoint, &format!("/v1/{PROJECT}/secrets"))
        .query([("limit", "50")])
        .header("Content-Type", "application/json")
        .header("X-Project-Id", PROJECT);
    let call = Call::new(Operation::HuaweiListSecrets, "hw-demo", "cn-north-4");
    let response = transport
        .send(&call, &request, Auth::Signed(provider, &HuaweiSigner))
        .await
        .map_err(|e| e.message)?;
    response.json().map_err(|e| e.message)
}

#[tokio::test]
async fn workload_identity_exchanges_the_id_token_and_refreshes_with_the_rotated_one() {
    // Keys live 2 s, so they are refreshed after 1 s.
    let (endpoint, state) = start(2).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("oidc-token");
    std::fs::write(&token_file, "id-token-one\n").unwrap();
    let transport = transport();
    let token_path = token_file.display().to_string();
    let provider = Provider::for_account(
        &account(Credentials::Default),
        env(&[
            ("HUAWEICLOUD_SDK_IDP_ID", "idp-tagdrift"),
            ("HUAWEICLOUD_SDK_ID_TOKEN_FILE", &token_path),
            ("HUAWEICLOUD_SDK_IAM_ENDPOINT", &endpoint),
        ]),
        &transport,
    )
    .unwrap();
    assert_eq!(provider.describe(), ["workload_identity", "ecs_metadata"]);

    let body = list_secrets_call(&transport, &endpoint, &provider).await.unwrap();
    assert_eq!(body["secrets"][0]["name"], "db-password");
    let first = provider.credential().await.unwrap();
    assert_eq!(first.access_key_id, "WI1");
    assert_eq!(state.lock().unwrap().id_tokens, ["id-token-one"]);

    std::fs::write(&token_file, "id-token-two\n").unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    list_secrets_call(&transport, &endpoint, &provider).await.unwrap();
    assert_eq!(provider.credential().await.unwrap().access_key_id, "WI2");
    assert_eq!(state.lock().unwrap().id_tokens, ["id-token-one", "id-token-two"]);
    assert_eq!(state.lock().unwrap().dew_calls, 2);
}

#[tokio::test]
async fn workload_identity_config_fields_override_the_variables() {
    let (endpoint, state) = start(3600).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("t");
    std::fs::write(&token_file, "from-config").unwrap();
    let transport = transport();
    let provider = Provider::for_account(
        &account(Credentials::HuaweiWorkloadIdentity {
            idp_id: Some("idp-tagdrift".into()),
            id_token_file: Some(token_file.display().to_string()),
            iam_endpoint: Some(endpoint.clone()),
        }),
        env(&[
            ("HUAWEICLOUD_SDK_IDP_ID", "wrong-idp"),
            ("HUAWEICLOUD_SDK_ID_TOKEN_FILE", "/nonexistent"),
        ]),
        &transport,
    )
    .unwrap();
    assert_eq!(provider.credential().await.unwrap().access_key_id, "WI1");
    assert_eq!(state.lock().unwrap().id_tokens, ["from-config"]);

    // A provider the IAM does not know is an error naming the source and IAM's code, never the token.
    let wrong = Provider::for_account(
        &account(Credentials::HuaweiWorkloadIdentity {
            idp_id: Some("other".into()),
            id_token_file: Some(token_file.display().to_string()),
            iam_endpoint: Some(endpoint),
        }),
        env(&[]),
        &transport,
    )
    .unwrap();
    let error = wrong.credential().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "workload_identity: CreateTokenWithIdToken: HTTP 400 IAM.0001: unknown identity provider"
    );
    assert_eq!(error.error_code(), ErrorCode::Auth);
}

#[tokio::test]
async fn ecs_metadata_security_key_with_the_session_token() {
    let (endpoint, state) = start(3600).await;
    let transport = transport();
    let provider = Provider::for_account(
        &account(Credentials::HuaweiEcsMetadata {
            metadata_endpoint: Some(endpoint.clone()),
        }),
        env(&[]),
        &transport,
    )
    .unwrap();
    let body = list_secrets_call(&transport, &endpoint, &provider).await.unwrap();
    assert_eq!(body["secrets"][0]["id"], "5f0d1c7e");
    let credential = provider.credential().await.unwrap();
    assert_eq!(credential.access_key_id, "ECS1");
    let expiration = credential.expiration.expect("temporary");
    assert!(expiration > Utc::now() + chrono::TimeDelta::minutes(59));
    assert_eq!(
        state.lock().unwrap().metadata_tokens,
        ["md-1"],
        "one fetch, then cached"
    );
}

#[tokio::test]
async fn a_key_the_gateway_refuses_is_sent_once() {
    let (endpoint, state) = start(3600).await;
    let transport = transport();
    let provider = Provider::for_account(
        &account(Credentials::Default),
        env(&[("HUAWEICLOUD_SDK_AK", "unknown-ak"), ("HUAWEICLOUD_SDK_SK", "sk")]),
        &transport,
    )
    .unwrap();
    let error = list_secrets_call(&transport, &endpoint, &provider)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        "ListSecrets: HTTP 401 APIGW.0301: Incorrect IAM authentication information: ak not found"
    );
    assert_eq!(
        state.lock().unwrap().dew_calls,
        1,
        "never retried: five bad signatures lock the AK"
    );
}
