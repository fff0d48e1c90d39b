//! Alibaba Cloud half of the emulator: the RPC gateway at `/` (KMS `2016-01-20` and STS `2015-04-01`,
//! dispatched on `Action` + `Version`, GET or POST, parameters in the query or a form body), and the ECS
//! instance-metadata credential paths under `/latest/`.
//!
//! The gateway checks what the real one checks, in its order: method, action and version, signature (V1
//! `HMAC-SHA1` parameters or V3 `ACS3-HMAC-SHA256` headers, via `cloud::alibaba::sign`), signing time,
//! access key, security token, nonce; then the core admits the call (rate limits, faults) and the API
//! handler answers. Errors come in the two documented body shapes: the gateway's
//! (`RequestId, HostId, Code, Message, Recommend`) for protocol and authentication errors, KMS's
//! (`HttpStatus, Code, Message, RequestId`) for API errors. JSON only when asked for, by `Format=JSON` or
//! `Accept: application/json` (as the SDKs do on every call); otherwise the documented default, XML.
//!
//! Must not log credentials, signatures or tokens, and must not mutate the store outside the tag write APIs.

mod aliases;
mod auth;
mod kms;
mod metadata;
mod request;
mod sts;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Extension, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, put};
use axum::{Router, http};
use serde_json::{Value, json};

use super::{Call, Flavor, JSON_UTF8, Payload, RequestCtx, State, record};
use tagdrift_core::vocab::Cloud;

pub(crate) use request::RpcRequest;

/// KMS API version served.
pub(crate) const KMS_VERSION: &str = "2016-01-20";
/// STS API version served.
pub(crate) const STS_VERSION: &str = "2015-04-01";
/// Content type of XML answers (the SDK parses error bodies as XML only for exactly this value).
pub(crate) const XML_UTF8: &str = "text/xml;charset=utf-8";

/// The Alibaba routes, merged into the emulator router by the core.
pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/", any(rpc))
        .route("/latest/api/token", put(metadata::put_token))
        .route(
            "/latest/meta-data/ram/security-credentials/",
            get(metadata::get_role_name),
        )
        .route(
            "/latest/meta-data/ram/security-credentials",
            get(metadata::get_role_name),
        )
        .route(
            "/latest/meta-data/ram/security-credentials/{role}",
            get(metadata::get_role_credentials),
        )
}

/// The APIs the gateway knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    ListTagResources,
    ListKeys,
    ListSecrets,
    DescribeKey,
    ListAliases,
    ListAliasesByKeyId,
    DescribeSecret,
    TagResources,
    UntagResources,
    AssumeRoleWithOidc,
    GetCallerIdentity,
}

impl Api {
    /// The API for an action of a version, if served.
    pub(crate) fn lookup(version: &str, action: &str) -> Option<Api> {
        let api = match (version, action) {
            (KMS_VERSION, "ListTagResources") => Api::ListTagResources,
            (KMS_VERSION, "ListKeys") => Api::ListKeys,
            (KMS_VERSION, "ListSecrets") => Api::ListSecrets,
            (KMS_VERSION, "DescribeKey") => Api::DescribeKey,
            (KMS_VERSION, "ListAliases") => Api::ListAliases,
            (KMS_VERSION, "ListAliasesByKeyId") => Api::ListAliasesByKeyId,
            (KMS_VERSION, "DescribeSecret") => Api::DescribeSecret,
            (KMS_VERSION, "TagResources") => Api::TagResources,
            (KMS_VERSION, "UntagResources") => Api::UntagResources,
            (STS_VERSION, "AssumeRoleWithOIDC") => Api::AssumeRoleWithOidc,
            (STS_VERSION, "GetCallerIdentity") => Api::GetCallerIdentity,
            _ => return None,
        };
        Some(api)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Api::ListTagResources => "ListTagResources",
            Api::ListKeys => "ListKeys",
            Api::ListSecrets => "ListSecrets",
            Api::DescribeKey => "DescribeKey",
            Api::ListAliases => "ListAliases",
            Api::ListAliasesByKeyId => "ListAliasesByKeyId",
            Api::DescribeSecret => "DescribeSecret",
            Api::TagResources => "TagResources",
            Api::UntagResources => "UntagResources",
            Api::AssumeRoleWithOidc => "AssumeRoleWithOIDC",
            Api::GetCallerIdentity => "GetCallerIdentity",
        }
    }

    /// The rate-limit group (`config::API_GROUPS`); STS has none here and is not limited.
    pub(crate) fn group(self) -> &'static str {
        match self {
            Api::ListTagResources
            | Api::ListKeys
            | Api::DescribeKey
            | Api::ListAliases
            | Api::ListAliasesByKeyId => "kms_read",
            Api::ListSecrets | Api::DescribeSecret => "secrets_read",
            Api::TagResources | Api::UntagResources => "kms_write",
            Api::AssumeRoleWithOidc | Api::GetCallerIdentity => "sts",
        }
    }

    /// Whether the API takes unsigned requests.
    pub(crate) fn anonymous(self) -> bool {
        matches!(self, Api::AssumeRoleWithOidc)
    }
}

/// Which error body shape an error uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The shared API gateway: `RequestId, HostId, Code, Message, Recommend`.
    Gateway,
    /// The KMS backend: `HttpStatus, Code, Message, RequestId`.
    Kms,
}

/// An error answer of the Alibaba gateway or of an API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AliError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
    pub shape: Shape,
    /// Sent as `x-acs-retry-after` (milliseconds).
    pub retry_after: Option<Duration>,
}

impl AliError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        shape: Shape,
    ) -> AliError {
        AliError {
            status,
            code: Cow::Borrowed(code),
            message: message.into(),
            shape,
            retry_after: None,
        }
    }

    /// 400 `MissingParameter` for a required parameter that was not sent.
    pub(crate) fn missing(param: &str) -> AliError {
        AliError::new(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            format!(
                "The input parameter \"{param}\" that is mandatory for processing this request is not supplied."
            ),
            Shape::Gateway,
        )
    }

    /// 400 `InvalidParameter` naming the parameter, with an explanation.
    pub(crate) fn invalid(param: &str, why: &str) -> AliError {
        AliError::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            format!("The specified parameter \"{param}\" is not valid. {why}"),
            Shape::Kms,
        )
    }

    /// 400 `IncompleteSignature` with the reason.
    pub(crate) fn incomplete_signature(why: &str) -> AliError {
        AliError::new(
            StatusCode::BAD_REQUEST,
            "IncompleteSignature",
            format!("The request signature does not conform to Aliyun standards. {why}"),
            Shape::Gateway,
        )
    }
}

/// How answers to one request are written: format, host and request id.
#[derive(Debug, Clone)]
pub(crate) struct Responder {
    pub request_id: String,
    pub host: String,
    pub xml: bool,
    /// Root element of XML success answers (`<Action>Response`).
    pub action: String,
}

impl Responder {
    pub(crate) fn new(ctx: &RequestCtx, req: &RpcRequest) -> Responder {
        Responder {
            request_id: ctx.request_id(),
            host: req.host.clone(),
            xml: req.wants_xml(),
            action: req.action().unwrap_or("Unknown").to_owned(),
        }
    }

    fn headers(&self, xml: bool) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let ct = if xml { XML_UTF8 } else { JSON_UTF8 };
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            headers.insert("x-acs-request-id", v);
        }
        headers
    }

    /// A success answer: `body` gets `RequestId` added.
    pub(crate) fn success(&self, mut body: Value) -> (HeaderMap, Payload) {
        if let Value::Object(map) = &mut body {
            map.insert("RequestId".into(), Value::String(self.request_id.clone()));
        }
        if self.xml {
            let xml = to_xml(&format!("{}Response", self.action), &body);
            (self.headers(true), Payload::Bytes(xml.into_bytes()))
        } else {
            (self.headers(false), Payload::Json(body))
        }
    }

    /// A success answer from a typed body that already carries its `RequestId` (large pages: no
    /// intermediate JSON value is built).
    pub(crate) fn success_typed<T: serde::Serialize>(&self, body: &T) -> (HeaderMap, Payload) {
        if self.xml {
            let value = serde_json::to_value(body).unwrap_or(Value::Null);
            let xml = to_xml(&format!("{}Response", self.action), &value);
            (self.headers(true), Payload::Bytes(xml.into_bytes()))
        } else {
            (
                self.headers(false),
                Payload::Bytes(serde_json::to_vec(body).unwrap_or_default()),
            )
        }
    }

    /// An error answer in the error's shape.
    pub(crate) fn error(&self, e: &AliError) -> (StatusCode, HeaderMap, Payload) {
        let body = match e.shape {
            Shape::Gateway => json!({
                "RequestId": self.request_id,
                "HostId": self.host,
                "Code": e.code,
                "Message": e.message,
                "Recommend": format!(
                    "https://api.aliyun.com/troubleshoot?q={}&product=Kms&requestId={}",
                    e.code, self.request_id
                ),
            }),
            Shape::Kms => json!({
                "HttpStatus": e.status.as_u16(),
                "Code": e.code,
                "Message": e.message,
                "RequestId": self.request_id,
            }),
        };
        let mut headers = self.headers(self.xml);
        if let Some(after) = e.retry_after {
            // Rounded up: waiting the advertised time must be enough.
            let ms = after.as_micros().div_ceil(1000).max(1);
            if let Ok(v) = HeaderValue::from_str(&ms.to_string()) {
                headers.insert("x-acs-retry-after", v);
            }
        }
        let payload = if self.xml {
            Payload::Bytes(to_xml("Error", &body).into_bytes())
        } else {
            Payload::Json(body)
        };
        (e.status, headers, payload)
    }

    /// An error answer as a complete response, counted under `api`.
    pub(crate) fn error_response(&self, api: &'static str, e: &AliError) -> Response {
        let (status, headers, payload) = self.error(e);
        let body = match payload {
            Payload::Json(v) => serde_json::to_vec(&v).unwrap_or_default(),
            Payload::Bytes(b) => b,
            Payload::Empty => Vec::new(),
        };
        record(
            (status, headers, body).into_response(),
            Cloud::Alibaba,
            api,
            e.code.clone().into_owned(),
        )
    }
}

/// JSON to the gateway's XML form: objects become nested elements, arrays repeat their element name.
pub(crate) fn to_xml(root: &str, value: &Value) -> String {
    fn escape(s: &str, out: &mut String) {
        for c in s.chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&apos;"),
                _ => out.push(c),
            }
        }
    }
    fn element(name: &str, value: &Value, out: &mut String) {
        match value {
            Value::Array(items) => {
                for item in items {
                    element(name, item, out);
                }
            }
            Value::Object(map) => {
                out.push('<');
                out.push_str(name);
                out.push('>');
                for (k, v) in map {
                    element(k, v, out);
                }
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
            Value::Null => {
                out.push('<');
                out.push_str(name);
                out.push_str("/>");
            }
            Value::String(s) => {
                out.push('<');
                out.push_str(name);
                out.push('>');
                escape(s, out);
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
            other => {
                out.push('<');
                out.push_str(name);
                out.push('>');
                out.push_str(&other.to_string());
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
        }
    }
    let mut out = String::from("<?xml version='1.0' encoding='UTF-8'?>");
    element(root, value, &mut out);
    out
}

/// How the Alibaba gateway answers throttling and server faults for one request.
pub(crate) struct AlibabaFlavor<'a> {
    pub responder: &'a Responder,
}

impl AlibabaFlavor<'_> {
    fn respond(&self, e: &AliError) -> Response {
        let (status, headers, payload) = self.responder.error(e);
        let body = match payload {
            Payload::Json(v) => serde_json::to_vec(&v).unwrap_or_default(),
            Payload::Bytes(b) => b,
            Payload::Empty => Vec::new(),
        };
        (status, headers, body).into_response()
    }
}

impl Flavor for AlibabaFlavor<'_> {
    /// KMS's own quota answer: 429 `Rejected.Throttling` in the KMS shape, with `x-acs-retry-after`.
    fn rate_limited(&self, _: &RequestCtx, _: &Call, _: f64, retry_after: Duration) -> Response {
        let mut e = AliError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Rejected.Throttling",
            "QPS Limit Exceeded",
            Shape::Kms,
        );
        e.retry_after = Some(retry_after);
        self.respond(&e)
    }

    /// The gateway's flow control: 400 `Throttling` in the gateway shape, with `x-acs-retry-after`.
    fn injected_throttle(&self, _: &RequestCtx, _: &Call) -> Response {
        let mut e = AliError::new(
            StatusCode::BAD_REQUEST,
            "Throttling",
            "Request was denied due to request throttling.",
            Shape::Gateway,
        );
        e.retry_after = Some(Duration::from_millis(1000));
        self.respond(&e)
    }

    /// 500 `InternalFailure` or 503 `ServiceUnavailableTemporary` (by request id, so both occur).
    fn injected_server_error(&self, ctx: &RequestCtx, _: &Call) -> Response {
        let e = if ctx
            .request_id_hex()
            .ends_with(['0', '2', '4', '6', '8', 'a', 'c', 'e'])
        {
            AliError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalFailure",
                "The request processing has failed due to some unknown error.",
                Shape::Kms,
            )
        } else {
            AliError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableTemporary",
                "The service is temporarily unavailable. Please try again later.",
                Shape::Kms,
            )
        };
        self.respond(&e)
    }
}

/// Counts answers to requests whose API is not known.
const UNKNOWN_API: &str = "unknown";

/// The RPC gateway at `/`.
async fn rpc(
    AxumState(state): AxumState<Arc<State>>,
    Extension(ctx): Extension<RequestCtx>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = RpcRequest::new(&method, &uri, &headers, body);
    let responder = Responder::new(&ctx, &req);
    if method != http::Method::GET && method != http::Method::POST {
        let e = AliError::new(
            StatusCode::FORBIDDEN,
            "UnsupportedHTTPMethod",
            format!("This http method {method} is not supported."),
            Shape::Gateway,
        );
        return responder.error_response(UNKNOWN_API, &e);
    }
    let api = match resolve_api(&req) {
        Ok(api) => api,
        Err(e) => return responder.error_response(UNKNOWN_API, &e),
    };
    let (principal, region) = match authenticate(&state, &req, api) {
        Ok(p) => p,
        Err(e) => return responder.error_response(api.name(), &e),
    };
    let account_name = match &principal {
        Some(p) => state
            .store()
            .alibaba
            .get(p.account)
            .map(|a| a.name.clone())
            .unwrap_or_default(),
        None => "anonymous".to_owned(),
    };
    let call = Call {
        cloud: Cloud::Alibaba,
        account: account_name,
        region,
        group: api.group(),
        api: api.name(),
    };
    let flavor = AlibabaFlavor {
        responder: &responder,
    };
    let admission = match state.admit(&ctx, &call, &flavor).await {
        Ok(a) => a,
        Err(response) => return response,
    };
    let result = match (api, &principal) {
        (Api::AssumeRoleWithOidc, _) => {
            sts::assume_role_with_oidc(&state, &req).map(|v| responder.success(v))
        }
        (Api::GetCallerIdentity, Some(p)) => {
            sts::get_caller_identity(&state, p).map(|v| responder.success(v))
        }
        (_, Some(p)) => kms::execute(&state, &req, api, p, &call.region, &responder),
        (_, None) => Err(AliError::incomplete_signature("The request is not signed.")),
    };
    match result {
        Ok((headers, payload)) => admission.reply("ok", StatusCode::OK, headers, payload),
        Err(e) => {
            let (status, headers, payload) = responder.error(&e);
            admission.reply(e.code.into_owned(), status, headers, payload)
        }
    }
}

/// Action and version to an API: missing ones are `MissingParameter`, an unknown version `InvalidVersion`, an
/// unknown action `InvalidApi.NotFound`.
fn resolve_api(req: &RpcRequest) -> Result<Api, AliError> {
    let action = req.action().ok_or_else(|| AliError::missing("Action"))?;
    let version = req.version().ok_or_else(|| AliError::missing("Version"))?;
    if version != KMS_VERSION && version != STS_VERSION {
        return Err(AliError::new(
            StatusCode::BAD_REQUEST,
            "InvalidVersion",
            "Specified parameter Version is not valid.",
            Shape::Gateway,
        ));
    }
    Api::lookup(version, action).ok_or_else(|| {
        AliError::new(
            StatusCode::NOT_FOUND,
            "InvalidApi.NotFound",
            "Specified api is not found, please check your url and method.",
            Shape::Gateway,
        )
    })
}

/// Who signed the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principal {
    /// Index into `Store::alibaba`.
    pub account: usize,
    pub access_key_id: String,
    /// Signed with temporary (STS) credentials.
    pub temporary: bool,
}

/// Checks the signature (unless the API is anonymous and the request unsigned) and finds the region the call
/// is metered in.
fn authenticate(state: &State, req: &RpcRequest, api: Api) -> Result<(Option<Principal>, String), AliError> {
    let principal = match req.style() {
        request::Style::Anonymous if api.anonymous() => None,
        request::Style::Anonymous => {
            return Err(AliError::incomplete_signature(
                "The request carries neither a Signature parameter nor an ACS3-HMAC-SHA256 Authorization header.",
            ));
        }
        request::Style::V1 => Some(auth::verify_v1(state, req)?),
        request::Style::V3 => Some(auth::verify_v3(state, req)?),
    };
    let region = match (&principal, api.group()) {
        (Some(p), "kms_read" | "secrets_read" | "kms_write") => kms::region(state, req, api, p)?,
        _ => "global".to_owned(),
    };
    Ok((principal, region))
}

#[cfg(test)]
mod tests;
