//! Signers the transport applies to every attempt: each takes a fresh date and nonce, so a retry is a new
//! request rather than a replay (Alibaba refuses a reused nonce). They wrap the pure signing functions of
//! `cloud::alibaba::sign` and `cloud::huawei::sign`.

use chrono::{DateTime, Utc};
use rand::Rng;

use super::Request;
use crate::alibaba::sign as alibaba;
use crate::credential::Credential;
use crate::huawei::sign as huawei;

/// Authenticates one attempt of a request with the current credential at `now`.
pub trait Signer: Send + Sync {
    fn sign(&self, request: &mut Request, credential: &Credential, now: DateTime<Utc>);
}

/// Asks an Alibaba gateway for JSON, as the SDK does on every call: without it the gateway answers in its
/// documented default, XML. Replaces any `Accept` the caller set.
pub(crate) fn accept_json(request: &mut Request) {
    request
        .headers
        .retain(|(name, _)| !name.eq_ignore_ascii_case("accept"));
    request.headers.push(("accept".into(), "application/json".into()));
}

/// A fresh 32-hex-digit nonce, like the SDKs send.
fn nonce() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}

/// Alibaba signature V3 (`ACS3-HMAC-SHA256`, the current SDK's default) for an RPC API: the caller's query
/// stays in the URL, the signing headers and `Accept: application/json` are added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlibabaV3 {
    /// `x-acs-action`, e.g. `ListTagResources`.
    pub action: &'static str,
    /// `x-acs-version`, e.g. `2016-01-20`.
    pub version: &'static str,
}

impl AlibabaV3 {
    /// A KMS (`2016-01-20`) action.
    pub fn kms(action: &'static str) -> AlibabaV3 {
        AlibabaV3 {
            action,
            version: "2016-01-20",
        }
    }
}

impl Signer for AlibabaV3 {
    fn sign(&self, request: &mut Request, credential: &Credential, now: DateTime<Utc>) {
        accept_json(request);
        let host = request.host().to_owned();
        let date = alibaba::format_timestamp(now);
        let nonce = nonce();
        let added = alibaba::sign_v3(
            &alibaba::V3Call {
                method: request.method.as_str(),
                host: &host,
                action: self.action,
                version: self.version,
                query: &request.query,
                headers: &request.headers,
                body: &request.body,
                date: &date,
                nonce: &nonce,
            },
            &credential.alibaba(),
        );
        request.headers.extend(added);
    }
}

/// Alibaba signature V1 (`HMAC-SHA1`): the signing parameters and the signature join the query. The query
/// must already hold `Action` and `Version`; `Format=JSON` is added when it names no `Format` (the documented
/// default is XML), and `Accept: application/json` always, as the SDK sends both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlibabaV1;

impl Signer for AlibabaV1 {
    fn sign(&self, request: &mut Request, credential: &Credential, now: DateTime<Utc>) {
        accept_json(request);
        if !request.query.iter().any(|(name, _)| name == "Format") {
            request.query.push(("Format".into(), "JSON".into()));
        }
        request.query = alibaba::sign_v1(
            request.method.as_str(),
            &request.query,
            &credential.alibaba(),
            &alibaba::format_timestamp(now),
            &nonce(),
        );
    }
}

/// Huawei `SDK-HMAC-SHA256`. Callers add `Content-Type: application/json` and `X-Project-Id` themselves,
/// as the SDK does; both are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HuaweiSigner;

impl Signer for HuaweiSigner {
    fn sign(&self, request: &mut Request, credential: &Credential, now: DateTime<Utc>) {
        let host = request.host().to_owned();
        let date = huawei::format_sdk_date(now);
        let added = huawei::sign(
            &huawei::Call {
                method: request.method.as_str(),
                host: &host,
                path: &request.path,
                query: &request.query,
                headers: &request.headers,
                body: &request.body,
                sdk_date: &date,
            },
            &credential.huawei(),
        );
        request.headers.retain(|(name, _)| {
            !["x-sdk-date", "x-security-token", "authorization", "host"]
                .iter()
                .any(|g| name.eq_ignore_ascii_case(g))
        });
        request.headers.extend(added);
    }
}
