//! Huawei Cloud half of the emulator: DEW (CSMS secrets under `/v1/{project_id}/...`, KMS keys under
//! `/v1.0/{project_id}/kms/...`), the IAM paths the SDK credential providers call (`/v3/projects`,
//! `/v3.0/OS-AUTH/id-token/tokens`, `/v3.0/OS-CREDENTIAL/securitytokens`) and the ECS metadata
//! `securitykey` path, answering like the real API gateway.
//!
//! A DEW request goes through the gateway's steps in order: the route must exist (`APIGW.0101`), the
//! `SDK-HMAC-SHA256` signature must verify (via `cloud::huawei::sign`, with `X-Sdk-Date` skew, the AK lock
//! after repeated failures and `X-Security-Token` for temporary credentials; `APIGW.0301`/`APIGW.0307`), the
//! project must belong to the signer (`APIGW.0302`); then the core admits the call (rate limits as 429
//! `APIGW.0308`, injected faults) and the service handler answers. Errors come in the three documented body
//! shapes: DEW's nested `{"error":{"error_code","error_msg"}}`, the gateway's flat
//! `{"error_code","error_msg","request_id"}` and IAM's flat `{"error_code","error_msg"}`. Every answer
//! carries `X-Request-Id`.
//!
//! Must not log credentials, signatures or tokens, and must not mutate the store outside the tag write APIs.

mod auth;
mod csms;
mod iam;
mod kms;
mod metadata;
mod request;
mod tagging;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use serde_json::{Value, json};

use super::{Call, Flavor, JSON_UTF8, Payload, RequestCtx, State, record};
use tagdrift_core::vocab::Cloud;

pub(crate) use request::HwRequest;

/// The Huawei routes, merged into the emulator router by the core.
pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/v1/{*rest}", any(dew))
        .route("/v1.0/{*rest}", any(dew))
        .route("/v3/projects", get(iam::list_projects))
        .route(
            "/v3.0/OS-AUTH/id-token/tokens",
            post(iam::create_token_with_id_token),
        )
        .route(
            "/v3.0/OS-CREDENTIAL/securitytokens",
            post(iam::create_security_token),
        )
        .route("/meta-data/latest/api/token", put(metadata::put_token))
        .route("/openstack/latest/securitykey", get(metadata::get_security_key))
}

/// The DEW APIs served (names as the official SDK calls the operations; counted in the stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    ListSecrets,
    ShowSecret,
    ListSecretTags,
    BatchCreateOrDeleteTags,
    CreateSecretTag,
    DeleteSecretTag,
    ListResourceInstances,
    ListProjectSecretsTags,
    ListKeys,
    ListKeyDetail,
    ShowKmsTags,
    BatchCreateKmsTags,
    CreateKmsTag,
    DeleteTag,
    ListKmsByTags,
    ListKmsTags,
}

impl Api {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Api::ListSecrets => "ListSecrets",
            Api::ShowSecret => "ShowSecret",
            Api::ListSecretTags => "ListSecretTags",
            Api::BatchCreateOrDeleteTags => "BatchCreateOrDeleteTags",
            Api::CreateSecretTag => "CreateSecretTag",
            Api::DeleteSecretTag => "DeleteSecretTag",
            Api::ListResourceInstances => "ListResourceInstances",
            Api::ListProjectSecretsTags => "ListProjectSecretsTags",
            Api::ListKeys => "ListKeys",
            Api::ListKeyDetail => "ListKeyDetail",
            Api::ShowKmsTags => "ShowKmsTags",
            Api::BatchCreateKmsTags => "BatchCreateKmsTags",
            Api::CreateKmsTag => "CreateKmsTag",
            Api::DeleteTag => "DeleteTag",
            Api::ListKmsByTags => "ListKmsByTags",
            Api::ListKmsTags => "ListKmsTags",
        }
    }

    /// The rate-limit group (`config::API_GROUPS`).
    pub(crate) fn group(self) -> &'static str {
        match self {
            Api::ListSecrets | Api::ShowSecret => "list_secrets",
            Api::ListKeys | Api::ListKeyDetail => "list_keys",
            Api::ListSecretTags | Api::ListProjectSecretsTags => "secret_tags",
            Api::ShowKmsTags | Api::ListKmsTags => "key_tags",
            Api::ListResourceInstances | Api::ListKmsByTags => "resource_instances",
            Api::BatchCreateOrDeleteTags
            | Api::CreateSecretTag
            | Api::DeleteSecretTag
            | Api::BatchCreateKmsTags
            | Api::CreateKmsTag
            | Api::DeleteTag => "tag_write",
        }
    }

    /// CSMS (secrets) rather than KMS (keys).
    pub(crate) fn is_csms(self) -> bool {
        matches!(
            self,
            Api::ListSecrets
                | Api::ShowSecret
                | Api::ListSecretTags
                | Api::BatchCreateOrDeleteTags
                | Api::CreateSecretTag
                | Api::DeleteSecretTag
                | Api::ListResourceInstances
                | Api::ListProjectSecretsTags
        )
    }
}

/// A matched DEW route: the API and the path parameters (decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub api: Api,
    pub project_id: String,
    /// Secret id (UUID) or key id.
    pub resource: Option<String>,
    /// Tag key of the single-tag delete.
    pub tag_key: Option<String>,
}

impl Route {
    /// The route for a method and decoded path segments (without the leading empty one), if served.
    pub(crate) fn parse(method: &str, segments: &[String]) -> Option<Route> {
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let route = |api: Api, project: &str, resource: Option<&str>, tag_key: Option<&str>| Route {
            api,
            project_id: project.to_owned(),
            resource: resource.map(str::to_owned),
            tag_key: tag_key.map(str::to_owned),
        };
        let r = match (method, s.as_slice()) {
            ("GET", ["v1", p, "secrets"]) => route(Api::ListSecrets, p, None, None),
            ("GET", ["v1", p, "secrets", name]) => route(Api::ShowSecret, p, Some(*name), None),
            ("GET", ["v1", p, "csms", "tags"]) => route(Api::ListProjectSecretsTags, p, None, None),
            ("POST", ["v1", p, "csms", "resource_instances", "action"]) => {
                route(Api::ListResourceInstances, p, None, None)
            }
            ("GET", ["v1", p, "csms", id, "tags"]) => route(Api::ListSecretTags, p, Some(*id), None),
            ("POST", ["v1", p, "csms", id, "tags"]) => route(Api::CreateSecretTag, p, Some(*id), None),
            ("POST", ["v1", p, "csms", id, "tags", "action"]) => {
                route(Api::BatchCreateOrDeleteTags, p, Some(*id), None)
            }
            ("DELETE", ["v1", p, "csms", id, "tags", key]) => {
                route(Api::DeleteSecretTag, p, Some(*id), Some(*key))
            }
            ("POST", ["v1.0", p, "kms", "list-keys"]) => route(Api::ListKeys, p, None, None),
            ("POST", ["v1.0", p, "kms", "describe-key"]) => route(Api::ListKeyDetail, p, None, None),
            ("GET", ["v1.0", p, "kms", "tags"]) => route(Api::ListKmsTags, p, None, None),
            ("POST", ["v1.0", p, "kms", "resource_instances", "action"]) => {
                route(Api::ListKmsByTags, p, None, None)
            }
            ("GET", ["v1.0", p, "kms", id, "tags"]) => route(Api::ShowKmsTags, p, Some(*id), None),
            ("POST", ["v1.0", p, "kms", id, "tags"]) => route(Api::CreateKmsTag, p, Some(*id), None),
            ("POST", ["v1.0", p, "kms", id, "tags", "action"]) => {
                route(Api::BatchCreateKmsTags, p, Some(*id), None)
            }
            ("DELETE", ["v1.0", p, "kms", id, "tags", key]) => {
                route(Api::DeleteTag, p, Some(*id), Some(*key))
            }
            _ => return None,
        };
        Some(r)
    }
}

/// Which error body shape an error uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// DEW services: `{"error":{"error_code","error_msg"}}`.
    Dew,
    /// The API gateway: `{"error_code","error_msg","request_id"}`.
    Gateway,
    /// IAM: `{"error_code","error_msg"}`.
    Iam,
}

/// An error answer of the gateway, DEW or IAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HwError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
    pub shape: Shape,
}

impl HwError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        shape: Shape,
    ) -> HwError {
        HwError {
            status,
            code: Cow::Borrowed(code),
            message: message.into(),
            shape,
        }
    }

    /// 401 `APIGW.0301` with the gateway's prefix and a reason.
    pub(crate) fn iam_auth(why: &str) -> HwError {
        HwError::new(
            StatusCode::UNAUTHORIZED,
            "APIGW.0301",
            format!("Incorrect IAM authentication information: {why}"),
            Shape::Gateway,
        )
    }

    /// A DEW error of the service the API belongs to.
    pub(crate) fn dew(status: StatusCode, code: &'static str, message: impl Into<String>) -> HwError {
        HwError::new(status, code, message, Shape::Dew)
    }

    /// The body of this error.
    pub(crate) fn body(&self, request_id: &str) -> Value {
        match self.shape {
            Shape::Dew => json!({"error": {"error_code": self.code, "error_msg": self.message}}),
            Shape::Gateway => json!({
                "error_code": self.code,
                "error_msg": self.message,
                "request_id": request_id,
            }),
            Shape::Iam => json!({"error_code": self.code, "error_msg": self.message}),
        }
    }

    /// Status, headers and body of this error.
    pub(crate) fn parts(&self, request_id: &str) -> (StatusCode, HeaderMap, Payload) {
        (
            self.status,
            json_headers(request_id),
            Payload::Json(self.body(request_id)),
        )
    }

    /// A complete response, counted under `api`.
    pub(crate) fn response(&self, request_id: &str, api: impl Into<Cow<'static, str>>) -> Response {
        let body = serde_json::to_vec(&self.body(request_id)).unwrap_or_default();
        record(
            (self.status, json_headers(request_id), body).into_response(),
            Cloud::Huawei,
            api,
            self.code.clone().into_owned(),
        )
    }
}

/// `Content-Type: application/json;charset=utf-8` and `X-Request-Id`.
pub(crate) fn json_headers(request_id: &str) -> HeaderMap {
    let mut headers = request_id_header(request_id);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    headers
}

/// Just `X-Request-Id` (204 answers have no body and no content type).
pub(crate) fn request_id_header(request_id: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", v);
    }
    headers
}

/// What a DEW handler answers on success.
#[derive(Debug)]
pub(crate) enum Success {
    /// 200 with a JSON body.
    Json(Value),
    /// 204 No Content (tag writes).
    NoContent,
}

/// How the Huawei gateway answers throttling and server faults.
pub(crate) struct HuaweiFlavor<'a> {
    pub request_id: &'a str,
    /// The code of the service's internal error (`CSMS.0001`, `KMS.0001`, `IAM.0001`).
    pub internal_error_code: &'static str,
}

impl HuaweiFlavor<'_> {
    fn respond(&self, e: &HwError) -> Response {
        let body = serde_json::to_vec(&e.body(self.request_id)).unwrap_or_default();
        (e.status, json_headers(self.request_id), body).into_response()
    }
}

/// The gateway's throttling answer, 429 `APIGW.0308`.
pub(crate) fn throttled(limit_qps: f64) -> HwError {
    HwError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "APIGW.0308",
        format!(
            "The throttling threshold has been reached: policy user over ratelimit,limit:{},time:1 second",
            limit_qps.ceil()
        ),
        Shape::Gateway,
    )
}

impl Flavor for HuaweiFlavor<'_> {
    fn rate_limited(&self, _: &RequestCtx, _: &Call, limit_qps: f64, _: Duration) -> Response {
        self.respond(&throttled(limit_qps))
    }

    /// The same 429 `APIGW.0308`, worded as the gateway's per-API default (200 calls/s).
    fn injected_throttle(&self, _: &RequestCtx, _: &Call) -> Response {
        self.respond(&HwError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "APIGW.0308",
            "The throttling threshold has been reached: policy api over ratelimit,limit:200,time:1 second",
            Shape::Gateway,
        ))
    }

    /// 500 from the service (DEW shape), or 502 / 504 from the gateway (flat shape), chosen by request id so
    /// all three occur: the statuses the DEW docs list for server errors.
    fn injected_server_error(&self, ctx: &RequestCtx, _: &Call) -> Response {
        let service = self.internal_error_code;
        let e = match ctx.request_id_hex().as_bytes().last().map(|b| b % 3) {
            Some(0) => HwError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                service,
                "Internal server error.",
                if service.starts_with("IAM") {
                    Shape::Iam
                } else {
                    Shape::Dew
                },
            ),
            Some(1) => HwError::new(
                StatusCode::BAD_GATEWAY,
                "APIGW.0202",
                "Backend unavailable",
                Shape::Gateway,
            ),
            _ => HwError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "APIGW.0203",
                "Backend timeout",
                Shape::Gateway,
            ),
        };
        self.respond(&e)
    }
}

/// Counts answers to requests whose API is not known.
const UNKNOWN_API: &str = "unknown";

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principal {
    /// Index into `Store::huawei`.
    pub account: usize,
    pub access_key_id: String,
    /// Signed with temporary credentials (and their security token).
    pub temporary: bool,
}

/// Every DEW request (`/v1/...`, `/v1.0/...`).
async fn dew(
    AxumState(state): AxumState<Arc<State>>,
    Extension(ctx): Extension<RequestCtx>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = HwRequest::new(&method, &uri, &headers, body);
    let rid = ctx.request_id_hex();
    let Some(route) = Route::parse(&req.method, &req.segments) else {
        let e = HwError::new(
            StatusCode::NOT_FOUND,
            "APIGW.0101",
            "The API does not exist or has not been published in the environment",
            Shape::Gateway,
        );
        return e.response(&rid, UNKNOWN_API);
    };
    let api = route.api;
    let principal = match auth::verify(&state, &req) {
        Ok(p) => p,
        Err(e) => return e.response(&rid, api.name()),
    };
    let (account_name, region) = match project_of(&state, &req, &principal, &route.project_id) {
        Ok(found) => found,
        Err(e) => return e.response(&rid, api.name()),
    };
    let call = Call {
        cloud: Cloud::Huawei,
        account: account_name,
        region,
        group: api.group(),
        api: api.name(),
    };
    let flavor = HuaweiFlavor {
        request_id: &rid,
        internal_error_code: if api.is_csms() { "CSMS.0001" } else { "KMS.0001" },
    };
    let admission = match state.admit(&ctx, &call, &flavor).await {
        Ok(a) => a,
        Err(response) => return response,
    };
    let result = if api.is_csms() {
        csms::execute(&state, &req, &route, &principal)
    } else {
        kms::execute(&state, &req, &route, &principal)
    };
    match result {
        Ok(Success::Json(v)) => admission.reply("ok", StatusCode::OK, json_headers(&rid), Payload::Json(v)),
        Ok(Success::NoContent) => admission.reply(
            "ok",
            StatusCode::NO_CONTENT,
            request_id_header(&rid),
            Payload::Empty,
        ),
        Err(e) => {
            let (status, headers, payload) = e.parts(&rid);
            admission.reply(e.code.into_owned(), status, headers, payload)
        }
    }
}

/// The signer's project named in the path: its account name and region. A project of another account, or
/// an `X-Project-Id` header naming another project, is 403 `APIGW.0302`.
fn project_of(
    state: &State,
    req: &HwRequest,
    principal: &Principal,
    project_id: &str,
) -> Result<(String, String), HwError> {
    let denied = |why: &str| {
        HwError::new(
            StatusCode::FORBIDDEN,
            "APIGW.0302",
            format!("The IAM user is not authorized to access the API: {why}"),
            Shape::Gateway,
        )
    };
    if let Some(header) = req.header("x-project-id")
        && header.trim() != project_id
    {
        return Err(denied(
            "the X-Project-Id header does not match the project in the path",
        ));
    }
    let store = state.store();
    let account = store
        .huawei
        .get(principal.account)
        .ok_or_else(|| denied("unknown account"))?;
    let project = account.project(project_id).ok_or_else(|| {
        denied(&format!(
            "project '{project_id}' is not a project of this account"
        ))
    })?;
    Ok((account.name.clone(), project.region.clone()))
}

/// Time as the IAM and metadata answers write it: `2026-01-01T00:00:00.000000Z`.
pub(crate) fn format_expires_at(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests;
