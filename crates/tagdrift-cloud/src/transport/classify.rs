//! Turns a failed attempt (an error answer, a timeout, a broken connection) into an [`ErrorCode`], a retry
//! decision and a message safe to log: the cloud's error code, message and request id, with anything that
//! could carry a credential cut out (Alibaba echoes the string to sign, which holds the security token, in
//! `SignatureDoesNotMatch`).

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::retry;
use super::{CallError, Operation};
use crate::credential::Credential;
use crate::huawei::gateway_code;
use crate::{Cloud, ErrorCode};

/// Longest cloud message kept in an error, in characters.
const MAX_MESSAGE: usize = 300;

/// One failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Failure {
    pub code: ErrorCode,
    pub retryable: bool,
    pub retry_after: Option<Duration>,
    pub status: Option<u16>,
    pub cloud_code: Option<String>,
    pub request_id: Option<String>,
    /// The cloud refused the credential itself (unknown key, bad signature, invalid token), as opposed to
    /// refusing a permission: the provider should fetch it anew.
    pub credential_refused: bool,
    /// Without the operation name and attempt count, which [`Failure::into_error`] adds.
    pub detail: String,
}

impl Failure {
    /// A 2xx answer whose body the caller's [`Call::validate`](super::Call::validate) check refused.
    pub(super) fn invalid_body(response: &super::Response, why: String) -> Failure {
        Failure {
            code: ErrorCode::InvalidResponse,
            retryable: true,
            retry_after: None,
            status: Some(response.status),
            cloud_code: None,
            request_id: response.request_id.clone(),
            credential_refused: false,
            detail: format!("unexpected body ({} bytes): {why}", response.body.len()),
        }
    }

    pub(super) fn timeout(timeout: Duration) -> Failure {
        Failure {
            code: ErrorCode::Timeout,
            retryable: true,
            retry_after: None,
            status: None,
            cloud_code: None,
            request_id: None,
            credential_refused: false,
            detail: format!("no answer within {} ms", timeout.as_millis()),
        }
    }

    /// A `reqwest` error: the URL is dropped from the text because V1 signing puts the signature and
    /// security token in the query.
    pub(super) fn transport(error: &reqwest::Error) -> Failure {
        let code = if error.is_timeout() {
            ErrorCode::Timeout
        } else {
            ErrorCode::Network
        };
        let mut detail = error_chain(error);
        if error.is_builder() {
            // A request that cannot even be built will not build on the next attempt either.
            detail = format!("invalid request: {detail}");
        }
        Failure {
            code,
            retryable: !error.is_builder(),
            retry_after: None,
            status: None,
            cloud_code: None,
            request_id: None,
            credential_refused: false,
            detail,
        }
    }

    pub(super) fn into_error(self, operation: Operation, attempts: u32, not_found: bool) -> CallError {
        let mut message = format!("{operation}: {}", self.detail);
        if let Some(id) = &self.request_id {
            message.push_str(&format!(" (request id {id})"));
        }
        if attempts > 1 {
            message.push_str(&format!(" after {attempts} attempts"));
        }
        CallError {
            code: self.code,
            message,
            status: self.status,
            cloud_code: self.cloud_code,
            request_id: self.request_id,
            not_found,
            attempts,
        }
    }
}

/// The error and its sources, without the URL.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    // reqwest's Display appends " for url (...)"; without_url() needs ownership, so strip it textually.
    if let Some(at) = text.find(" for url (") {
        text.truncate(at);
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The fields an error body names, in either cloud's shapes.
#[derive(Debug, Default, PartialEq)]
pub(super) struct ErrorBody {
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
}

fn string_field(value: &Value, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| match value.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// Alibaba: JSON `{Code, Message, RequestId}` (gateway and KMS shapes alike) or the XML `<Error>` form.
pub(super) fn alibaba_body(body: &[u8]) -> ErrorBody {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return ErrorBody {
            code: string_field(&value, &["Code", "code"]),
            message: string_field(&value, &["Message", "message"]),
            request_id: string_field(&value, &["RequestId", "requestId"]),
        };
    }
    let text = String::from_utf8_lossy(body);
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].trim().to_owned()).filter(|s| !s.is_empty())
    };
    ErrorBody {
        code: element("Code"),
        message: element("Message"),
        request_id: element("RequestId"),
    }
}

/// Huawei: flat `{error_code, error_msg, request_id}` (gateway, IAM), nested `{"error": {...}}` (DEW), or the
/// `errorCode`/`code` spellings the SDK also accepts.
pub(super) fn huawei_body(body: &[u8]) -> ErrorBody {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return ErrorBody::default();
    };
    fn find(value: &Value) -> Option<ErrorBody> {
        let pairs = [
            ("error_code", "error_msg"),
            ("errorCode", "errorMsg"),
            ("code", "message"),
        ];
        for (code, message) in pairs {
            if let Some(c) = string_field(value, &[code]) {
                return Some(ErrorBody {
                    code: Some(c),
                    message: string_field(value, &[message]),
                    request_id: string_field(value, &["request_id", "requestId"]),
                });
            }
        }
        value
            .as_object()?
            .values()
            .find_map(|v| v.is_object().then(|| find(v)).flatten())
    }
    let mut found = find(&value).unwrap_or_default();
    if found.request_id.is_none() {
        found.request_id = string_field(&value, &["request_id"]);
    }
    found
}

/// The request id of an answer: the header when the cloud sets one, else the body's.
pub(super) fn request_id(cloud: Cloud, headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .filter(|s| !s.is_empty())
    };
    match cloud {
        Cloud::Alibaba => header("x-acs-request-id").or_else(|| {
            serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| string_field(&v, &["RequestId"]))
        }),
        Cloud::Huawei => header("x-request-id"),
    }
}

/// Alibaba codes that mean the credential or its signature was refused; retrying cannot help.
fn alibaba_auth(code: &str) -> bool {
    const EXACT: &[&str] = &[
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "IllegalTimestamp",
        "Forbidden.AccessKey",
        "Forbidden.AccessKeyDisabled",
        "Forbidden.SubUser",
        "InvalidSecurityToken",
        "SecurityTokenExpired",
    ];
    EXACT.contains(&code)
        || code.starts_with("InvalidAccessKeyId")
        || code.starts_with("InvalidSecurityToken")
        || code.starts_with("InvalidTimeStamp")
        || code.starts_with("AuthenticationFail")
}

/// Alibaba codes of a RAM policy refusing one call (one resource, or one listing) to credentials whose
/// signature was accepted: `Forbidden.NoPermission` is KMS's 403 for a caller its policies do not allow
/// (<https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/application-access-faq>);
/// `Forbidden.RAM` is the gateway's "User not authorized to operate on the specified resource, or this API
/// doesn't support RAM" (as answered in <https://github.com/mgsky1/DDNS/issues/27>); `NoPermission` is the
/// older spelling some services still answer. RAM evaluates per resource ARN
/// (<https://www.alibabacloud.com/help/en/kms/support/use-ram-to-control-access-to-kms-resources>), so the
/// same credentials may read the next key.
fn alibaba_denied(code: &str) -> bool {
    matches!(code, "Forbidden.NoPermission" | "Forbidden.RAM" | "NoPermission")
}

fn alibaba_throttled(code: &str) -> bool {
    code.starts_with("Throttling") || code == "Rejected.Throttling" || code == "ServiceUnavailable.Throttling"
}

/// Huawei codes of the API gateway and IAM that mean the credential was refused: the gateway's
/// *authentication* failures (0301 IAM, 0303 app, 0305 custom authorizer, 0307 token must be updated) and
/// IAM's own codes.
fn huawei_auth(code: &str) -> bool {
    matches!(gateway_code(code), Some("0301" | "0303" | "0305" | "0307")) || code.starts_with("IAM.")
}

/// Huawei answers of an *authorization* refusal, after the signature was accepted: the gateway's 0302 "the
/// IAM user is not authorized to access the API", 0304 (app not authorized) and 0306 (access denied by the
/// API's authorizer) in its error table (<https://support.huaweicloud.com/usermanual-apig/apig_03_0048.html>),
/// DEW's `KMS.0306` (no permission to access the key), and any 403 that carries a `KMS.`/`CSMS.` code: only
/// the service behind the gateway writes those, so the request got past authentication.
fn huawei_denied(status: u16, code: &str) -> bool {
    matches!(gateway_code(code), Some("0302" | "0304" | "0306"))
        || code == "KMS.0306"
        || (status == 403 && (code.starts_with("KMS.") || code.starts_with("CSMS.")))
}

/// Classifies an error answer (HTTP status outside 2xx).
pub(super) fn answer(
    cloud: Cloud,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    credential: Option<&Credential>,
) -> Failure {
    let parsed = match cloud {
        Cloud::Alibaba => alibaba_body(body),
        Cloud::Huawei => huawei_body(body),
    };
    let cloud_code = parsed.code.clone();
    let code_str = cloud_code.as_deref().unwrap_or("");
    let code = match cloud {
        Cloud::Alibaba if alibaba_throttled(code_str) => ErrorCode::Throttled,
        Cloud::Alibaba if alibaba_auth(code_str) => ErrorCode::Auth,
        // A 401 is an authentication failure whatever code it carries.
        Cloud::Alibaba if status != 401 && alibaba_denied(code_str) => ErrorCode::PermissionDenied,
        Cloud::Huawei if gateway_code(code_str) == Some("0308") => ErrorCode::Throttled,
        Cloud::Huawei if huawei_auth(code_str) => ErrorCode::Auth,
        Cloud::Huawei if status != 401 && huawei_denied(status, code_str) => ErrorCode::PermissionDenied,
        _ if status == 429 => ErrorCode::Throttled,
        // A 403 with no code either cloud documents for a permission (no code at all, or one such as
        // `Forbidden.KmsServiceNotEnabled` or `Forbidden.InDebt` that concerns the whole account) proves
        // nothing about the signature having been accepted — a proxy or WAF answers bare 403s too — so it
        // stops the account like a refused credential: one refused call per check, never a storm of them
        // (Huawei locks an access key after five bad signatures in a row).
        _ if status == 401 || status == 403 => ErrorCode::Auth,
        _ if status >= 500 => ErrorCode::Http5xx,
        _ => ErrorCode::Http4xx,
    };
    let retryable = matches!(code, ErrorCode::Throttled | ErrorCode::Http5xx);
    let request_id = request_id(cloud, headers, body).or(parsed.request_id);

    let mut detail = format!("HTTP {status}");
    if let Some(c) = &cloud_code {
        detail.push(' ');
        detail.push_str(&scrub(c, credential));
    }
    if let Some(message) = &parsed.message {
        detail.push_str(": ");
        detail.push_str(&scrub(message, credential));
    }
    let credential_refused = status == 401
        || match cloud {
            Cloud::Alibaba => {
                code_str == "SignatureDoesNotMatch"
                    || code_str.starts_with("InvalidAccessKeyId")
                    || code_str.starts_with("InvalidSecurityToken")
                    || code_str == "SecurityTokenExpired"
            }
            Cloud::Huawei => gateway_code(code_str) == Some("0301"),
        };
    Failure {
        code,
        retryable,
        retry_after: retry::retry_after(headers),
        status: Some(status),
        cloud_code,
        request_id,
        credential_refused,
        detail,
    }
}

/// Makes a cloud message safe to log: cut at an echoed string to sign (any capitalisation), remove any
/// occurrence of the credential's secret or token, raw or percent-encoded once (canonical query) or twice
/// (V1 string to sign), bound the length, keep it on one line.
pub(super) fn scrub(message: &str, credential: Option<&Credential>) -> String {
    let mut text = message.to_owned();
    // ASCII lower-casing keeps byte offsets, so the position found is valid in `text`.
    if let Some(at) = text.to_ascii_lowercase().find("string to sign") {
        text.truncate(at);
        text.push_str("string to sign <omitted>");
    }
    if let Some(credential) = credential {
        for secret in credential.secrets() {
            if secret.len() >= 4 {
                let once = crate::signing::percent_encode(secret);
                let twice = crate::signing::percent_encode(&once);
                for form in [twice, once, secret.to_owned()] {
                    text = text.replace(&form, "<redacted>");
                }
            }
        }
    }
    let mut text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > MAX_MESSAGE {
        text = text.chars().take(MAX_MESSAGE).collect();
        text.push('…');
    }
    text
}
