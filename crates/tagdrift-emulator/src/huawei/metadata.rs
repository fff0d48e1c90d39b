//! ECS instance metadata, credential part, as the official SDK's metadata provider calls it:
//! `PUT /meta-data/latest/api/token` (session token, `X-Metadata-Token-Ttl-Seconds`) and
//! `GET /openstack/latest/securitykey` (temporary AK/SK/security token of the instance's agency, which then
//! sign DEW calls). The agency is the inventory's `huawei[].ecs_agency`. A token header, when sent, must be
//! valid; without one the request is served unless `--imds-token-required`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Extension, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::format_expires_at;
use super::iam::{SECURITY_TOKEN_PREFIX, TEMP_AK_PREFIX};
use crate::metadata::Imds;
use crate::{JSON_UTF8, Payload, RequestCtx, State, content_type};
use tagdrift_core::vocab::Cloud;

/// Header carrying the session token.
pub(super) const TOKEN_HEADER: &str = "x-metadata-token";
/// Header carrying the requested token lifetime on `PUT /meta-data/latest/api/token`.
pub(super) const TTL_HEADER: &str = "x-metadata-token-ttl-seconds";
const IMDS: Imds = Imds {
    cloud: Cloud::Huawei,
    token_kind: "huawei-imds",
    token_header: TOKEN_HEADER,
    ttl_header: TTL_HEADER,
    missing_token: (StatusCode::UNAUTHORIZED, "Unauthorized"),
};
/// Lifetime of agency credentials handed out (the SDK refreshes them when less than 40 minutes remain).
const AGENCY_CREDENTIAL_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// `PUT /meta-data/latest/api/token`.
pub(super) async fn put_token(
    AxumState(state): AxumState<Arc<State>>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
) -> Response {
    IMDS.put_token(&state, &ctx, &headers).await
}

/// `GET /openstack/latest/securitykey`.
pub(super) async fn get_security_key(
    AxumState(state): AxumState<Arc<State>>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
) -> Response {
    const API: &str = "MetadataSecurityKey";
    if let Some(r) = IMDS.refuse_token(&state, &headers, API) {
        return r;
    }
    let account = {
        let store = state.store();
        store.huawei.iter().position(|a| a.ecs_agency.is_some())
    };
    let Some(account) = account else {
        return IMDS.text(API, StatusCode::NOT_FOUND, "Not Found", "no_agency");
    };
    let admission = match IMDS.admit(&state, &ctx, API).await {
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
