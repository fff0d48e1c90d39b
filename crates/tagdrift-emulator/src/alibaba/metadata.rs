//! ECS instance metadata, RAM-role part: `PUT /latest/api/token` (session token, IMDSv2), `GET
//! /latest/meta-data/ram/security-credentials/` (the role name) and `.../<role>` (temporary `STS.`
//! credentials that work on KMS calls with their security token). The role is the inventory's
//! `alibaba[].ecs_role`. A token header, when sent, must be valid; without one the request is served unless
//! `--imds-token-required` (IMDSv1 disabled).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Extension, Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::metadata::Imds;
use crate::{JSON_UTF8, Payload, RequestCtx, State, content_type};
use tagdrift_core::vocab::Cloud;

/// Header carrying the session token.
pub(super) const TOKEN_HEADER: &str = "x-aliyun-ecs-metadata-token";
/// Header carrying the requested token lifetime on `PUT /latest/api/token`.
pub(super) const TTL_HEADER: &str = "x-aliyun-ecs-metadata-token-ttl-seconds";
const IMDS: Imds = Imds {
    cloud: Cloud::Alibaba,
    token_kind: "alibaba-imds",
    token_header: TOKEN_HEADER,
    ttl_header: TTL_HEADER,
    missing_token: (StatusCode::FORBIDDEN, "Forbidden"),
};
/// Lifetime of role credentials handed out (the real service rotates them well before 6 hours).
const ROLE_CREDENTIAL_LIFETIME: Duration = Duration::from_secs(6 * 3600);

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
pub(super) async fn put_token(
    AxumState(state): AxumState<Arc<State>>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
) -> Response {
    IMDS.put_token(&state, &ctx, &headers).await
}

/// `GET /latest/meta-data/ram/security-credentials/`.
pub(super) async fn get_role_name(
    AxumState(state): AxumState<Arc<State>>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
) -> Response {
    const API: &str = "MetadataRoleName";
    if let Some(r) = IMDS.refuse_token(&state, &headers, API) {
        return r;
    }
    let Some((_, role)) = instance_role(&state) else {
        return IMDS.text(API, StatusCode::NOT_FOUND, "Not Found", "no_role");
    };
    let admission = match IMDS.admit(&state, &ctx, API).await {
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
pub(super) async fn get_role_credentials(
    AxumState(state): AxumState<Arc<State>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(role): Path<String>,
    headers: HeaderMap,
) -> Response {
    const API: &str = "MetadataRoleCredentials";
    if let Some(r) = IMDS.refuse_token(&state, &headers, API) {
        return r;
    }
    let account = match instance_role(&state) {
        Some((account, name)) if name == role => account,
        _ => return IMDS.text(API, StatusCode::NOT_FOUND, "Not Found", "no_role"),
    };
    let admission = match IMDS.admit(&state, &ctx, API).await {
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
