//! STS `2015-04-01`: `AssumeRoleWithOIDC` (unsigned; RRSA on ACK) issues temporary `STS.` credentials for a
//! role configured in the inventory, which then work on KMS calls with their security token; and
//! `GetCallerIdentity` (signed) tells who a credential belongs to. The OIDC token is checked for shape (a
//! JWT with JSON header and claims) and expiry only; no issuer keys are involved.

use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::request::RpcRequest;
use super::{AliError, Principal, Shape};
use crate::State;
use crate::inventory::derived_digits;
use crate::store::AlibabaRole;
use tagdrift_core::vocab::Cloud;

fn sts_error(status: StatusCode, code: &'static str, message: impl Into<String>) -> AliError {
    AliError::new(status, code, message, Shape::Gateway)
}

fn invalid_token(why: &str) -> AliError {
    sts_error(
        StatusCode::BAD_REQUEST,
        "AuthenticationFail.OIDCToken.Invalid",
        format!("The OIDC token is invalid: {why}"),
    )
}

fn decode_segment(segment: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(segment.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Header and claims of a JWT-shaped token (`base64url(header).base64url(claims).signature`).
fn parse_jwt(token: &str) -> Result<Map<String, Value>, AliError> {
    if !(4..=20_000).contains(&token.len()) {
        return Err(invalid_token("it must be 4 to 20000 characters long"));
    }
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return Err(invalid_token("it is not a JWT (three dot-separated parts)"));
    };
    let header = decode_segment(header).ok_or_else(|| invalid_token("the header is not base64url JSON"))?;
    if !header.get("alg").is_some_and(Value::is_string) {
        return Err(invalid_token("the header has no alg"));
    }
    if signature.is_empty() {
        return Err(invalid_token("the signature part is empty"));
    }
    decode_segment(claims).ok_or_else(|| invalid_token("the claims are not base64url JSON"))
}

fn claim_time(claims: &Map<String, Value>, name: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let secs = claims.get(name)?.as_i64()?;
    chrono::DateTime::from_timestamp(secs, 0)
}

fn format_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `AssumeRoleWithOIDC`.
pub(super) fn assume_role_with_oidc(state: &State, req: &RpcRequest) -> Result<Value, AliError> {
    // Every official credentials library puts these four in the query, whether the rest travels there too
    // (Python, GET) or in a form body (Go, POST); a request with them only in the body is of no known client,
    // and how STS answers it is not known, so it is refused.
    for name in ["Action", "Version", "Format", "Timestamp"] {
        req.required_in_query(name)?;
    }
    let role_arn = req.required("RoleArn")?;
    let provider_arn = req.required("OIDCProviderArn")?;
    let token = req.required("OIDCToken")?;
    let session = req.param("RoleSessionName").unwrap_or("tagdrift-session");
    check_session_name(session)?;
    let TrustingRole { account, uid, role } = trusting_role(state, role_arn, provider_arn)?;
    let duration = session_duration(req, &role)?;
    let claims = unexpired_claims(state, token)?;
    let credential = state.issue_credential(
        Cloud::Alibaba,
        account,
        "STS.",
        "CAIS",
        Duration::from_secs(duration),
    );
    let role_name = role.arn.rsplit(":role/").next().unwrap_or_default().to_owned();
    let role_id = derived_digits(&["role", &role.arn], 17);
    Ok(json!({
        "OIDCTokenInfo": token_info(&claims),
        "AssumedRoleUser": {
            "AssumedRoleId": format!("{role_id}:{session}"),
            "Arn": format!("acs:ram::{uid}:role/{}/{session}", role_name.to_ascii_lowercase()),
        },
        "Credentials": {
            "SecurityToken": credential.security_token.expose(),
            "Expiration": format_time(credential.expiration),
            "AccessKeySecret": credential.secret.expose(),
            "AccessKeyId": credential.access_key_id,
        },
        "SourceIdentity": "",
    }))
}

fn check_session_name(session: &str) -> Result<(), AliError> {
    let session_ok = (2..=64).contains(&session.len())
        && session
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.@-".contains(c));
    if !session_ok {
        return Err(sts_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameter.RoleSessionName",
            "The parameter RoleSessionName is wrongly formed.",
        ));
    }
    Ok(())
}

/// A role that trusts the caller's OIDC provider, and the account it belongs to.
struct TrustingRole {
    /// Position of the account in the store.
    account: usize,
    uid: String,
    role: AlibabaRole,
}

/// The role `role_arn`, if it exists and trusts `provider_arn`.
fn trusting_role(state: &State, role_arn: &str, provider_arn: &str) -> Result<TrustingRole, AliError> {
    let found = {
        let store = state.store();
        store.alibaba.iter().enumerate().find_map(|(i, a)| {
            a.roles
                .iter()
                .find(|r| r.arn == role_arn)
                .map(|r| (i, a.account_id.clone(), r.clone()))
        })
    };
    let Some((account, uid, role)) = found else {
        return Err(sts_error(
            StatusCode::NOT_FOUND,
            "EntityNotExist.Role",
            format!("The role not exists: {role_arn}."),
        ));
    };
    if role.oidc_provider_arn != provider_arn {
        return Err(sts_error(
            StatusCode::NOT_FOUND,
            "EntityNotExist.OIDCProvider",
            format!("The OIDC provider does not exist or is not trusted by the role: {provider_arn}."),
        ));
    }
    Ok(TrustingRole { account, uid, role })
}

/// `DurationSeconds`, defaulting to an hour and capped by the role.
fn session_duration(req: &RpcRequest, role: &AlibabaRole) -> Result<u64, AliError> {
    match req.param("DurationSeconds").filter(|v| !v.is_empty()) {
        None => Ok(3600),
        Some(v) => match v.parse::<u64>() {
            Ok(d) if (900..=role.max_session_duration).contains(&d) => Ok(d),
            _ => Err(sts_error(
                StatusCode::BAD_REQUEST,
                "InvalidParameter.DurationSeconds",
                format!(
                    "The parameter DurationSeconds must be from 900 to {} seconds.",
                    role.max_session_duration
                ),
            )),
        },
    }
}

/// The claims of `token`, unless it is malformed or its `exp` has passed on the emulator's clock.
fn unexpired_claims(state: &State, token: &str) -> Result<Map<String, Value>, AliError> {
    let claims = parse_jwt(token)?;
    let now = state.now();
    if claim_time(&claims, "exp").is_some_and(|exp| exp <= now) {
        return Err(sts_error(
            StatusCode::BAD_REQUEST,
            "AuthenticationFail.OIDCToken.Expired",
            "The OIDC token has expired.",
        ));
    }
    Ok(claims)
}

/// The `OIDCTokenInfo` object of the response.
fn token_info(claims: &Map<String, Value>) -> Value {
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let audiences = match claims.get("aud") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    };
    json!({
        "Subject": text("sub"),
        "Issuer": text("iss"),
        "ClientIds": audiences,
        "ExpirationTime": claim_time(claims, "exp").map(format_time).unwrap_or_default(),
        "IssuanceTime": claim_time(claims, "iat").map(format_time).unwrap_or_default(),
        "VerificationInfo": "Success",
    })
}

/// `GetCallerIdentity`.
pub(super) fn get_caller_identity(state: &State, principal: &Principal) -> Result<Value, AliError> {
    let store = state.store();
    let account = store.alibaba.get(principal.account).ok_or_else(|| {
        sts_error(
            StatusCode::NOT_FOUND,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        )
    })?;
    let uid = &account.account_id;
    let body = if principal.temporary {
        json!({
            "IdentityType": "AssumedRoleUser",
            "AccountId": uid,
            "Arn": format!("acs:ram::{uid}:assumed-role/emulated/{}", principal.access_key_id),
            "PrincipalId": principal.access_key_id,
            "UserId": principal.access_key_id,
            "RoleId": derived_digits(&["assumed", &principal.access_key_id], 17),
        })
    } else {
        json!({
            "IdentityType": "Account",
            "AccountId": uid,
            "Arn": format!("acs:ram::{uid}:root"),
            "PrincipalId": uid,
            "UserId": uid,
        })
    };
    Ok(body)
}
