//! ECS instance metadata, credential part, as the official SDK's metadata provider calls it:
//! `PUT /meta-data/latest/api/token` (session token, `X-Metadata-Token-Ttl-Seconds`) and
//! `GET /openstack/latest/securitykey` (temporary AK/SK/security token of the instance's agency, which then
//! sign DEW calls). The agency is the inventory's `huawei[].ecs_agency`. A token header, when sent, must be
//! valid; without one the request is served unless `--imds-token-required`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Extension, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::format_expires_at;
use super::iam::{SECURITY_TOKEN_PREFIX, TEMP_AK_PREFIX};
use crate::cloud::Cloud;
use crate::emulator::{Call, Flavor, JSON_UTF8, Payload, RequestCtx, State, content_type, record};

/// Header carrying the session token.
pub const TOKEN_HEADER: &str = "x-metadata-token";
/// Header carrying the requested token lifetime on `PUT /meta-data/latest/api/token`.
pub const TTL_HEADER: &str = "x-metadata-token-ttl-seconds";
const TOKEN_KIND: &str = "huawei-imds";
/// Lifetime of agency credentials handed out (the SDK refreshes them when less than 40 minutes remain).
const AGENCY_CREDENTIAL_LIFETIME: Duration = Duration::from_secs(24 * 3600);

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
    record((status, body).into_response(), Cloud::Huawei, api, outcome)
}

fn metadata_call(api: &'static str) -> Call {
    Call {
        cloud: Cloud::Huawei,
        account: "ecs-metadata".to_owned(),
        region: "metadata".to_owned(),
        group: "metadata",
        api,
    }
}

/// `PUT /meta-data/latest/api/token`.
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

/// `GET /openstack/latest/securitykey`.
pub async fn get_security_key(
    AxumState(state): AxumState<Arc<State>>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
) -> Response {
    const API: &str = "MetadataSecurityKey";
    match headers.get(TOKEN_HEADER) {
        Some(value) => {
            let token = value.to_str().unwrap_or_default();
            if state.token_subject(TOKEN_KIND, token).is_none() {
                return text(API, StatusCode::UNAUTHORIZED, "Unauthorized", "invalid_token");
            }
        }
        None if state.options().imds_token_required => {
            return text(API, StatusCode::UNAUTHORIZED, "Unauthorized", "token_required");
        }
        None => {}
    }
    let account = {
        let store = state.store();
        store.huawei.iter().position(|a| a.ecs_agency.is_some())
    };
    let Some(account) = account else {
        return text(API, StatusCode::NOT_FOUND, "Not Found", "no_agency");
    };
    let admission = match state.admit(&ctx, &metadata_call(API), &MetadataFlavor).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let credential = state.issue_credential(
        Cloud::Huawei,
        account,
        TEMP_AK_PREFIX,
        SECURITY_TOKEN_PREFIX,
        AGENCY_CREDENTIAL_LIFETIME,
    );
    let body = json!({
        "credential": {
            "access": credential.access_key_id,
            "secret": credential.secret.expose(),
            "securitytoken": credential.security_token.expose(),
            "expires_at": format_expires_at(credential.expiration),
        }
    });
    admission.reply("ok", StatusCode::OK, content_type(JSON_UTF8), Payload::Json(body))
}
