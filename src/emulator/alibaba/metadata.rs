//! ECS instance metadata, RAM-role part: `PUT /latest/api/token` (session token, IMDSv2), `GET
//! /latest/meta-data/ram/security-credentials/` (the role name) and `.../<role>` (temporary `STS.`
//! credentials that work on KMS calls with their security token). The role is the inventory's
//! `alibaba[].ecs_role`. A token header, when sent, must be valid; without one the request is served unless
//! `--imds-token-required` (IMDSv1 disabled).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Extension, Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::cloud::Cloud;
use crate::emulator::{Call, Flavor, JSON_UTF8, Payload, RequestCtx, State, content_type, record};

/// Header carrying the session token.
pub const TOKEN_HEADER: &str = "x-aliyun-ecs-metadata-token";
/// Header carrying the requested token lifetime on `PUT /latest/api/token`.
pub const TTL_HEADER: &str = "x-aliyun-ecs-metadata-token-ttl-seconds";
const TOKEN_KIND: &str = "alibaba-imds";
/// Lifetime of role credentials handed out (the real service rotates them well before 6 hours).
const ROLE_CREDENTIAL_LIFETIME: Duration = Duration::from_secs(6 * 3600);

/// Plain-text answers, like the metadata server's.
struct MetadataFlavor;

impl Flavor for MetadataFlavor {
    fn rate_limited(&self, _: &RequestCtx, _: &Call, _: f64, _: Duration) -> Response {
        (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response()
    }
    fn injected_throttle(&self, _: &RequestCtx, _: &Call) -> Response {
        (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response()
    }
    fn injected_server_error(&self, _: &RequestCtx, _: &Call) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
    }
}

fn text(api: &'static str, status: StatusCode, body: &'static str, outcome: &'static str) -> Response {
    record((status, body).into_response(), Cloud::Alibaba, api, outcome)
}

fn metadata_call(api: &'static str) -> Call {
    Call {
        cloud: Cloud::Alibaba,
        account: "ecs-metadata".to_owned(),
        region: "metadata".to_owned(),
        group: "metadata",
        api,
    }
}

/// Checks the session token header: `Some` is the refusal to answer with.
fn refuse_token(state: &State, headers: &HeaderMap, api: &'static str) -> Option<Response> {
    match headers.get(TOKEN_HEADER) {
        Some(value) => {
            let token = value.to_str().unwrap_or_default();
            if state.token_subject(TOKEN_KIND, token).is_some() {
                None
            } else {
                Some(text(
                    api,
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    "invalid_token",
                ))
            }
        }
        None if state.options().imds_token_required => {
            Some(text(api, StatusCode::FORBIDDEN, "Forbidden", "token_required"))
        }
        None => None,
    }
}

/// (account index, role name) of the instance role, if the inventory defines one.
fn instance_role(state: &State) -> Option<(usize, String)> {
    let store = state.store();
    store
        .alibaba
        .iter()
        .enumerate()
        .find_map(|(i, a)| a.ecs_role.clone().map(|r| (i, r)))
}

/// `PUT /latest/api/token`.
pub async fn put_token(
    AxumState(state): AxumState<Arc<State>>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
) -> Response {
    const API: &str = "MetadataToken";
    let ttl = headers
        .get(TTL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|t| (1..=21_600).contains(t));
    let Some(ttl) = ttl else {
        return text(API, StatusCode::BAD_REQUEST, "Bad Request", "invalid_ttl");
    };
    let admission = match state.admit(&ctx, &metadata_call(API), &MetadataFlavor).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let token = state.issue_token(TOKEN_KIND, "ecs", Duration::from_secs(ttl));
    admission.reply(
        "ok",
        StatusCode::OK,
        content_type("text/plain"),
        Payload::Bytes(token.into_bytes()),
    )
}

/// `GET /latest/meta-data/ram/security-credentials/`.
pub async fn get_role_name(
    AxumState(state): AxumState<Arc<State>>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
) -> Response {
    const API: &str = "MetadataRoleName";
    if let Some(r) = refuse_token(&state, &headers, API) {
        return r;
    }
    let Some((_, role)) = instance_role(&state) else {
        return text(API, StatusCode::NOT_FOUND, "Not Found", "no_role");
    };
    let admission = match state.admit(&ctx, &metadata_call(API), &MetadataFlavor).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    admission.reply(
        "ok",
        StatusCode::OK,
        content_type("text/plain"),
        Payload::Bytes(role.into_bytes()),
    )
}

/// `GET /latest/meta-data/ram/security-credentials/<role>`.
pub async fn get_role_credentials(
    AxumState(state): AxumState<Arc<State>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(role): Path<String>,
    headers: HeaderMap,
) -> Response {
    const API: &str = "MetadataRoleCredentials";
    if let Some(r) = refuse_token(&state, &headers, API) {
        return r;
    }
    let account = match instance_role(&state) {
        Some((account, name)) if name == role => account,
        _ => return text(API, StatusCode::NOT_FOUND, "Not Found", "no_role"),
    };
    let admission = match state.admit(&ctx, &metadata_call(API), &MetadataFlavor).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let now = state.now();
    let credential =
        state.issue_credential(Cloud::Alibaba, account, "STS.", "CAIS", ROLE_CREDENTIAL_LIFETIME);
    let body = json!({
        "AccessKeyId": credential.access_key_id,
        "AccessKeySecret": credential.secret.expose(),
        "SecurityToken": credential.security_token.expose(),
        "Expiration": credential.expiration.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "LastUpdated": now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "Code": "Success",
    });
    admission.reply("ok", StatusCode::OK, content_type(JSON_UTF8), Payload::Json(body))
}
