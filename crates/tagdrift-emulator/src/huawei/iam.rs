//! The IAM APIs the official SDK's credential providers call: `GET /v3/projects?name=` (AK/SK-signed; the
//! SDK resolves a missing project id with it), and the federated pair CCE workload identity uses, both
//! unsigned: `POST /v3.0/OS-AUTH/id-token/tokens` (an OIDC id token of an identity provider configured in the
//! inventory, `X-Idp-Id` header, for an unscoped token in `X-Subject-Token`) and
//! `POST /v3.0/OS-CREDENTIAL/securitytokens` (that token, in the body or `X-Auth-Token`, for temporary
//! AK/SK/security token that then sign DEW calls). The id token is checked for shape (a JWT with JSON header
//! and claims) and expiry only; no issuer keys are involved. Errors are IAM's flat
//! `{"error_code","error_msg"}`; the `IAM.*` codes are the emulator's (the reference gives only the shape).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Extension, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::request::HwRequest;
use super::{HuaweiFlavor, HwError, Shape, auth, format_expires_at, json_headers};
use crate::{Call, Payload, RequestCtx, State};
use tagdrift_core::vocab::Cloud;

/// Kind of the IAM tokens `id-token/tokens` issues (subject: the account index).
pub(super) const TOKEN_KIND: &str = "huawei-iam";
/// Lifetime of an IAM token.
pub(super) const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Bounds and default of `duration_seconds` of a security token (15 minutes to 24 hours).
pub(super) const MIN_DURATION: u64 = 900;
pub(super) const MAX_DURATION: u64 = 86_400;
pub(super) const DEFAULT_DURATION: u64 = 900;
/// Prefix of the temporary AKs the emulator issues (metadata and security tokens).
pub(super) const TEMP_AK_PREFIX: &str = "TMP";
/// Prefix of the security tokens the emulator issues.
pub(super) const SECURITY_TOKEN_PREFIX: &str = "hwst";

fn iam_error(status: StatusCode, code: &'static str, message: impl Into<String>) -> HwError {
    HwError::new(status, code, message, Shape::Iam)
}

fn bad_request(why: impl Into<String>) -> HwError {
    iam_error(StatusCode::BAD_REQUEST, "IAM.0011", why)
}

fn unauthorized(why: impl Into<String>) -> HwError {
    iam_error(StatusCode::UNAUTHORIZED, "IAM.0001", why)
}

fn iam_call(account: String, api: &'static str) -> Call {
    Call {
        cloud: Cloud::Huawei,
        account,
        region: "global".to_owned(),
        group: "iam",
        api,
    }
}

fn flavor(request_id: &str) -> HuaweiFlavor<'_> {
    HuaweiFlavor {
        request_id,
        internal_error_code: "IAM.0001",
    }
}

/// `GET /v3/projects?name=<region>`: the signer's projects (all, or the one named).
pub(super) async fn list_projects(
    AxumState(state): AxumState<Arc<State>>,
    Extension(ctx): Extension<RequestCtx>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const API: &str = "KeystoneListProjects";
    let req = HwRequest::new(&method, &uri, &headers, body);
    let rid = ctx.request_id_hex();
    let principal = match auth::verify(&state, &req) {
        Ok(p) => p,
        Err(e) => return e.response(&rid, API),
    };
    let name_filter = req.param("name").map(str::to_owned);
    let (account_name, projects) = {
        let store = state.store();
        let Some(account) = store.huawei.get(principal.account) else {
            return unauthorized("unknown account").response(&rid, API);
        };
        let projects: Vec<Value> = account
            .projects
            .iter()
            .filter(|p| name_filter.as_deref().is_none_or(|n| n == p.region))
            .map(|p| {
                json!({
                    "id": p.project_id,
                    "name": p.region,
                    "domain_id": account.domain_id,
                    "parent_id": account.domain_id,
                    "is_domain": false,
                    "enabled": true,
                    "description": "",
                    "links": {"self": format!("/v3/projects/{}", p.project_id)},
                })
            })
            .collect();
        (account.name.clone(), projects)
    };
    let admission = match state
        .admit(&ctx, &iam_call(account_name, API), &flavor(&rid))
        .await
    {
        Ok(a) => a,
        Err(r) => return r,
    };
    let body = json!({
        "projects": projects,
        "links": {"self": "/v3/projects", "previous": null, "next": null},
    });
    admission.reply("ok", StatusCode::OK, json_headers(&rid), Payload::Json(body))
}

fn decode_segment(segment: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(segment.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The claims of a JWT-shaped id token (`base64url(header).base64url(claims).signature`, header with `alg`).
fn jwt_claims(token: &str) -> Result<Map<String, Value>, HwError> {
    let invalid = |why: &str| unauthorized(format!("The id token is invalid: {why}."));
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return Err(invalid("it is not a JWT (three dot-separated parts)"));
    };
    let header = decode_segment(header).ok_or_else(|| invalid("the header is not base64url JSON"))?;
    if !header.get("alg").is_some_and(Value::is_string) {
        return Err(invalid("the header has no alg"));
    }
    if signature.is_empty() {
        return Err(invalid("the signature part is empty"));
    }
    decode_segment(claims).ok_or_else(|| invalid("the claims are not base64url JSON"))
}

fn json_body(body: &[u8]) -> Result<Value, HwError> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("The request body is not valid JSON: {e}.")))
}

/// A response with `X-Subject-Token` added.
fn with_subject_token(mut response: Response, token: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(token) {
        response.headers_mut().insert("x-subject-token", v);
    }
    response
}

/// `POST /v3.0/OS-AUTH/id-token/tokens` with `X-Idp-Id` and `{"auth":{"id_token":{"id":"<JWT>"}}}`.
pub(super) async fn create_token_with_id_token(
    AxumState(state): AxumState<Arc<State>>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const API: &str = "CreateTokenWithIdToken";
    let rid = ctx.request_id_hex();
    let idp = headers
        .get("x-idp-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if idp.is_empty() {
        return bad_request("The X-Idp-Id header is missing.").response(&rid, API);
    }
    let account = {
        let store = state.store();
        store
            .huawei
            .iter()
            .enumerate()
            .find(|(_, a)| a.idps.contains(&idp))
            .map(|(i, a)| (i, a.name.clone(), a.domain_id.clone()))
    };
    let Some((account, account_name, domain_id)) = account else {
        return iam_error(
            StatusCode::NOT_FOUND,
            "IAM.0004",
            format!("The identity provider '{idp}' does not exist."),
        )
        .response(&rid, API);
    };
    let id_token = match json_body(&body) {
        Ok(v) => v
            .pointer("/auth/id_token/id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        Err(e) => return e.response(&rid, API),
    };
    let Some(id_token) = id_token else {
        return bad_request("auth.id_token.id is missing.").response(&rid, API);
    };
    let claims = match jwt_claims(&id_token) {
        Ok(c) => c,
        Err(e) => return e.response(&rid, API),
    };
    let now = state.now();
    if claims
        .get("exp")
        .and_then(Value::as_i64)
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .is_some_and(|exp| exp <= now)
    {
        return unauthorized("The id token has expired.").response(&rid, API);
    }
    let admission = match state
        .admit(&ctx, &iam_call(account_name, API), &flavor(&rid))
        .await
    {
        Ok(a) => a,
        Err(r) => return r,
    };
    let token = state.issue_token(TOKEN_KIND, &account.to_string(), TOKEN_LIFETIME);
    let expires = now + chrono::TimeDelta::from_std(TOKEN_LIFETIME).unwrap_or(chrono::TimeDelta::hours(24));
    let subject = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
    let body = json!({
        "token": {
            "methods": ["mapped"],
            "issued_at": format_expires_at(now),
            "expires_at": format_expires_at(expires),
            "user": {
                "id": crate::inventory::derived_hex(&["idp-user", &idp, subject], 32),
                "name": subject,
                "domain": {"id": domain_id, "name": domain_id},
                "OS-FEDERATION": {"identity_provider": {"id": idp}, "protocol": {"id": "oidc"}},
            },
        }
    });
    let response = admission.reply("ok", StatusCode::CREATED, json_headers(&rid), Payload::Json(body));
    with_subject_token(response, &token)
}

/// `POST /v3.0/OS-CREDENTIAL/securitytokens` with
/// `{"auth":{"identity":{"methods":["token"],"token":{"id":"<token>","duration_seconds":N}}}}` (the token may
/// instead come in `X-Auth-Token`).
pub(super) async fn create_security_token(
    AxumState(state): AxumState<Arc<State>>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const API: &str = "CreateTemporaryAccessKeyByToken";
    let rid = ctx.request_id_hex();
    let body = match json_body(&body) {
        Ok(v) => v,
        Err(e) => return e.response(&rid, API),
    };
    let identity = body.pointer("/auth/identity");
    let token_method = identity
        .and_then(|i| i.get("methods"))
        .and_then(Value::as_array)
        .is_some_and(|m| m.iter().any(|x| x == "token"));
    if !token_method {
        return bad_request("auth.identity.methods must contain \"token\".").response(&rid, API);
    }
    let token = identity
        .and_then(|i| i.pointer("/token/id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get("x-auth-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        });
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return bad_request("auth.identity.token.id (or X-Auth-Token) is missing.").response(&rid, API);
    };
    let duration = match identity.and_then(|i| i.pointer("/token/duration_seconds")) {
        None | Some(Value::Null) => Some(DEFAULT_DURATION),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    let Some(duration) = duration.filter(|d| (MIN_DURATION..=MAX_DURATION).contains(d)) else {
        return bad_request(format!(
            "duration_seconds must be from {MIN_DURATION} to {MAX_DURATION}."
        ))
        .response(&rid, API);
    };
    let Some(account) = state
        .token_subject(TOKEN_KIND, &token)
        .and_then(|s| s.parse::<usize>().ok())
    else {
        return unauthorized("The token is invalid or has expired.").response(&rid, API);
    };
    let account_name = state
        .store()
        .huawei
        .get(account)
        .map(|a| a.name.clone())
        .unwrap_or_default();
    let admission = match state
        .admit(&ctx, &iam_call(account_name, API), &flavor(&rid))
        .await
    {
        Ok(a) => a,
        Err(r) => return r,
    };
    let credential = state.issue_credential(
        Cloud::Huawei,
        account,
        TEMP_AK_PREFIX,
        SECURITY_TOKEN_PREFIX,
        Duration::from_secs(duration),
    );
    let body = json!({
        "credential": {
            "access": credential.access_key_id,
            "secret": credential.secret.expose(),
            "securitytoken": credential.security_token.expose(),
            "expires_at": format_expires_at(credential.expiration),
        }
    });
    admission.reply("ok", StatusCode::CREATED, json_headers(&rid), Payload::Json(body))
}
