//! Request authentication as the Alibaba gateway does it: V1 (`HMAC-SHA1` over the sorted parameters) and
//! V3 (`ACS3-HMAC-SHA256` over the headers the request says it signed), recomputed with
//! `cloud::alibaba::sign` and compared in constant time; then signing-time skew, STS security token and
//! nonce replay. The mismatch message carries the server's string to sign, like the real gateway's.

use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};

use super::request::RpcRequest;
use super::{AliError, Principal, Shape};
use crate::{KeyOwner, State, constant_time_eq};
use tagdrift_cloud::alibaba::sign;
use tagdrift_core::vocab::Cloud;

fn signature_mismatch(string_to_sign: &str) -> AliError {
    AliError::new(
        StatusCode::BAD_REQUEST,
        "SignatureDoesNotMatch",
        format!(
            "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
        ),
        Shape::Gateway,
    )
}

fn access_key_not_found() -> AliError {
    AliError::new(
        StatusCode::NOT_FOUND,
        "InvalidAccessKeyId.NotFound",
        "Specified access key is not found.",
        Shape::Gateway,
    )
}

fn nonce_used() -> AliError {
    AliError::new(
        StatusCode::BAD_REQUEST,
        "SignatureNonceUsed",
        "Specified signature nonce was used already.",
        Shape::Gateway,
    )
}

/// Parses a signing time (`2025-01-02T03:04:05Z`; fractional seconds and offsets tolerated).
fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value).ok().map(|t| t.to_utc())
}

fn within_skew(state: &State, at: DateTime<Utc>) -> bool {
    let skew = TimeDelta::from_std(state.options().max_clock_skew).unwrap_or(TimeDelta::minutes(15));
    (state.now() - at).abs() <= skew
}

fn owner_of(state: &State, access_key_id: &str) -> Result<KeyOwner, AliError> {
    state
        .credential(Cloud::Alibaba, access_key_id)
        .ok_or_else(access_key_not_found)
}

/// Temporary credentials must come with their own token and must not have expired.
fn check_security_token(state: &State, owner: &KeyOwner, sent: Option<&str>) -> Result<(), AliError> {
    let Some(expected) = &owner.security_token else {
        return Ok(());
    };
    match sent {
        Some(token) if constant_time_eq(token.as_bytes(), expected.expose().as_bytes()) => {}
        _ => {
            return Err(AliError::new(
                StatusCode::BAD_REQUEST,
                "InvalidSecurityToken.MismatchWithAccessKey",
                "Specified SecurityToken mismatch with the AccessKey.",
                Shape::Gateway,
            ));
        }
    }
    if owner.expiration.is_some_and(|exp| exp <= state.now()) {
        return Err(AliError::new(
            StatusCode::BAD_REQUEST,
            "InvalidSecurityToken.Expired",
            "Specified SecurityToken is expired.",
            Shape::Gateway,
        ));
    }
    Ok(())
}

/// Verifies a V1 (`Signature` parameter) request.
pub(super) fn verify_v1(state: &State, req: &RpcRequest) -> Result<Principal, AliError> {
    let signature = req
        .param("Signature")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AliError::incomplete_signature("The Signature parameter is missing."))?;
    let access_key_id = req.required("AccessKeyId")?;
    let method = req.required("SignatureMethod")?;
    if method != sign::V1_SIGNATURE_METHOD {
        return Err(AliError::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "The specified parameter \"SignatureMethod\" is not valid.",
            Shape::Gateway,
        ));
    }
    let version = req.required("SignatureVersion")?;
    if version != sign::V1_SIGNATURE_VERSION {
        return Err(AliError::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "The specified parameter \"SignatureVersion\" is not valid.",
            Shape::Gateway,
        ));
    }
    let nonce = req.required("SignatureNonce")?;
    let illegal_timestamp = || {
        AliError::new(
            StatusCode::BAD_REQUEST,
            "IllegalTimestamp",
            "The input parameter \"Timestamp\" that is mandatory for processing this request is not supplied.",
            Shape::Gateway,
        )
    };
    let timestamp = req.param("Timestamp").ok_or_else(illegal_timestamp)?;
    let at = parse_time(timestamp).ok_or_else(illegal_timestamp)?;
    if !within_skew(state, at) {
        return Err(illegal_timestamp());
    }
    let owner = owner_of(state, access_key_id)?;
    let string_to_sign = sign::v1_string_to_sign(&req.method, &req.params);
    let expected = sign::v1_signature(owner.secret.expose(), &string_to_sign);
    if !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        return Err(signature_mismatch(&string_to_sign));
    }
    check_security_token(state, &owner, req.param("SecurityToken"))?;
    if !state.check_nonce(Cloud::Alibaba, access_key_id, nonce) {
        return Err(nonce_used());
    }
    Ok(Principal {
        account: owner.account,
        access_key_id: access_key_id.to_owned(),
        temporary: owner.security_token.is_some(),
    })
}

/// Verifies a V3 (`Authorization: ACS3-HMAC-SHA256 ...`) request.
pub(super) fn verify_v3(state: &State, req: &RpcRequest) -> Result<Principal, AliError> {
    let header = req.header("authorization").unwrap_or_default();
    let authorization = sign::parse_v3_authorization(header).ok_or_else(|| {
        AliError::incomplete_signature(
            "The Authorization header must be ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<names>,Signature=<hex>.",
        )
    })?;
    for name in [
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    ] {
        if req.header(name).is_none_or(str::is_empty) {
            return Err(AliError::missing(name));
        }
    }
    // The SDK always sends the body hash and signs with it; a hash that does not describe the body means the
    // body is not what was signed. Compared exactly (lower-case hex, as the SDK writes it): whether the real
    // gateway tolerates other spellings is not known.
    let content_sha256 = req.header("x-acs-content-sha256").unwrap_or_default();
    if content_sha256 != sign::sha256_hex(&req.body) {
        return Err(AliError::incomplete_signature(
            "The x-acs-content-sha256 header is not the hex SHA-256 of the request body.",
        ));
    }
    let signed: Vec<String> = authorization
        .signed_headers
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    // The documented rule: host and every x-acs-* header sent must be signed, so none can be altered.
    let mut must_sign: Vec<&str> = vec!["host"];
    must_sign.extend(
        req.headers
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| n.starts_with("x-acs-")),
    );
    if let Some(unsigned) = must_sign.iter().find(|n| !signed.iter().any(|s| s == *n)) {
        return Err(AliError::incomplete_signature(&format!(
            "Header \"{unsigned}\" must be listed in SignedHeaders."
        )));
    }
    let signed_refs: Vec<&str> = signed.iter().map(String::as_str).collect();
    if let Some(missing) = sign::missing_signed_headers(&req.headers, &signed_refs).first() {
        return Err(AliError::incomplete_signature(&format!(
            "Signed header \"{missing}\" is not in the request."
        )));
    }
    let date = req.header("x-acs-date").unwrap_or_default();
    let at = parse_time(date).ok_or_else(|| {
        AliError::new(
            StatusCode::BAD_REQUEST,
            "IllegalTimestamp",
            "The input parameter \"x-acs-date\" that is mandatory for processing this request is not supplied.",
            Shape::Gateway,
        )
    })?;
    if !within_skew(state, at) {
        return Err(AliError::new(
            StatusCode::BAD_REQUEST,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
            Shape::Gateway,
        ));
    }
    let owner = owner_of(state, &authorization.access_key_id)?;
    let request = sign::V3Request {
        method: &req.method,
        path: &req.path,
        query: &req.query,
        headers: &req.headers,
        body: &req.body,
    };
    let canonical = sign::v3_canonical_request(&request, &signed_refs);
    let string_to_sign = sign::v3_string_to_sign(&canonical);
    let expected = sign::v3_signature(owner.secret.expose(), &string_to_sign);
    let provided = authorization.signature.to_ascii_lowercase();
    if !constant_time_eq(expected.as_bytes(), provided.as_bytes()) {
        return Err(signature_mismatch(&string_to_sign));
    }
    check_security_token(state, &owner, req.header("x-acs-security-token"))?;
    let nonce = req.header("x-acs-signature-nonce").unwrap_or_default();
    if !state.check_nonce(Cloud::Alibaba, &authorization.access_key_id, nonce) {
        return Err(nonce_used());
    }
    Ok(Principal {
        account: owner.account,
        access_key_id: authorization.access_key_id,
        temporary: owner.security_token.is_some(),
    })
}
