//! Request authentication as the Huawei API gateway does it for AK/SK: the `SDK-HMAC-SHA256` signature is
//! recomputed with `cloud::huawei::sign` over the headers the `Authorization` header says were signed and
//! compared in constant time; `X-Sdk-Date` must be within 15 minutes of the emulator clock; more than five
//! consecutive bad signatures lock the AK for five minutes; temporary credentials need their
//! `X-Security-Token` and must not have expired.

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{NaiveDateTime, TimeDelta};

use super::request::HwRequest;
use super::{HwError, Principal, Shape};
use crate::{State, constant_time_eq};
use tagdrift_cloud::huawei::sign;
use tagdrift_core::vocab::Cloud;

/// Bad signatures in a row an AK may send; the next one locks it.
pub(super) const MAX_CONSECUTIVE_FAILURES: u32 = 5;
/// How long a locked AK is refused.
pub(super) const LOCK_DURATION: Duration = Duration::from_secs(5 * 60);

/// The signature mismatch answer.
pub(super) const SIGNATURE_FAIL: &str = "verify aksk signature fail";

/// Parses `X-Sdk-Date` (`20260101T000000Z`).
pub(super) fn parse_sdk_date(value: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    NaiveDateTime::parse_from_str(value.trim(), "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

/// Verifies an AK/SK-signed request and returns who signed it.
pub(super) fn verify(state: &State, req: &HwRequest) -> Result<Principal, HwError> {
    let Some(header) = req.header("authorization") else {
        if req.header("x-auth-token").is_some() {
            // IAM user tokens are not emulated: only AK/SK signing is.
            return Err(HwError::iam_auth("decrypt token fail"));
        }
        return Err(HwError::iam_auth("x-auth-token not found"));
    };
    let authorization = sign::parse_authorization(header).ok_or_else(|| {
        HwError::iam_auth(
            "the Authorization header must be SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<names>, Signature=<hex>",
        )
    })?;
    let date = req
        .header("x-sdk-date")
        .ok_or_else(|| HwError::iam_auth("the X-Sdk-Date header is missing"))?;
    let at = parse_sdk_date(date)
        .ok_or_else(|| HwError::iam_auth("the X-Sdk-Date header is not in the format 20060102T150405Z"))?;
    let skew = TimeDelta::from_std(state.options().max_clock_skew).unwrap_or(TimeDelta::minutes(15));
    if (state.now() - at).abs() > skew {
        return Err(HwError::iam_auth(
            "request expired: X-Sdk-Date is more than 15 minutes away from the server time",
        ));
    }
    let ak = authorization.access_key.as_str();
    let owner = state
        .credential(Cloud::Huawei, ak)
        .ok_or_else(|| HwError::iam_auth("the access key does not exist"))?;
    if let Some(until) = state.auth_locked_until(Cloud::Huawei, ak) {
        let seconds = (until - state.now()).num_seconds().max(1);
        return Err(HwError::iam_auth(&format!(
            "the access key is locked after too many signature failures; retry in {seconds} seconds"
        )));
    }
    let signed: Vec<String> = authorization
        .signed_headers
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let signed_refs: Vec<&str> = signed.iter().map(String::as_str).collect();
    if let Some(missing) = sign::missing_signed_headers(&req.headers, &signed_refs).first() {
        return Err(HwError::iam_auth(&format!(
            "signed header '{missing}' is not in the request"
        )));
    }
    let request = sign::SdkRequest {
        method: &req.method,
        path: &req.path,
        query: &req.query,
        headers: &req.headers,
        body: &req.body,
    };
    let string_to_sign = sign::string_to_sign(date.trim(), &sign::canonical_request(&request, &signed_refs));
    let expected = sign::signature(owner.secret.expose(), &string_to_sign);
    let provided = authorization.signature.to_ascii_lowercase();
    if !constant_time_eq(expected.as_bytes(), provided.as_bytes()) {
        state.record_auth_failure(Cloud::Huawei, ak, MAX_CONSECUTIVE_FAILURES, LOCK_DURATION);
        return Err(HwError::iam_auth(SIGNATURE_FAIL));
    }
    state.clear_auth_failures(Cloud::Huawei, ak);
    if let Some(expected_token) = &owner.security_token {
        let sent = req.header("x-security-token").unwrap_or_default();
        if !constant_time_eq(sent.as_bytes(), expected_token.expose().as_bytes()) {
            return Err(HwError::iam_auth("decrypt token fail"));
        }
        if owner.expiration.is_some_and(|exp| exp <= state.now()) {
            return Err(HwError::new(
                StatusCode::UNAUTHORIZED,
                "APIGW.0307",
                "The token must be updated.",
                Shape::Gateway,
            ));
        }
    }
    Ok(Principal {
        account: owner.account,
        access_key_id: ak.to_owned(),
        temporary: owner.security_token.is_some(),
    })
}
