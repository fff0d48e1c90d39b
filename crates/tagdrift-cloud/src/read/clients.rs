//! The adapters between the provider readers ([`Kms`], [`Dew`]) and the shared [`Transport`]: they pick the
//! endpoint, the operation (metric label and rate-limit group) and the signer, bound the calls in flight per
//! account and region, and stop sending for an account once its credentials were refused in this check.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use tagdrift_core::config::REGION_PLACEHOLDER;
use tokio::sync::Semaphore;

use crate::alibaba::scan::{Kms, RpcCall};
use crate::credentials::Provider;
use crate::huawei::scan::{Dew, Method, RestCall};
use crate::scope::ApiError;
use crate::transport::{
    AlibabaV3, Auth, BodyCheck, Call, CallError, HuaweiSigner, Operation, Request, Transport,
};
use crate::{ErrorCode, ReadError};

/// Alibaba answers that mean "no such resource" for the read APIs (reference §2–3).
const ALIBABA_NOT_FOUND: &[&str] = &[
    "InvalidResourceId.NotFound",
    "Forbidden.KeyNotFound",
    "Forbidden.ResourceNotFound",
    "Forbidden.AliasNotFound",
];

/// Huawei answers that mean "no such resource" (reference §4: usually 400 with these codes); the reader's
/// list, so the transport and the reader cannot disagree.
const HUAWEI_NOT_FOUND: &[&str] = crate::huawei::scan::NOT_FOUND_CODES;

/// Per-check credential state of one account. Until the cloud has accepted the account's credentials once,
/// its calls go one at a time; after the first refusal nothing more is sent. So a wrong key costs one refused
/// call per check, not one per call in flight (Huawei locks an access key for five minutes after five bad
/// signatures in a row, and a storm of refusals helps no one).
#[derive(Default)]
pub(super) struct Breaker {
    refused: OnceLock<ReadError>,
    /// Refused before the check started (remembered from earlier checks), so not a new refusal.
    preset: bool,
    verified: AtomicBool,
    /// The cloud answered a call successfully: the credentials are good.
    accepted: AtomicBool,
    probe: tokio::sync::Mutex<()>,
}

impl Breaker {
    /// A breaker that sends nothing: the account's credentials are known to be refused.
    pub(super) fn refused(error: ReadError) -> Breaker {
        let breaker = Breaker {
            preset: true,
            ..Breaker::default()
        };
        let _ = breaker.refused.set(error);
        breaker
    }

    /// The cloud answered one of the account's calls successfully during this check. (An unreachable
    /// endpoint lets calls flow too, but proves nothing about the credentials.)
    pub(super) fn was_accepted(&self) -> bool {
        self.accepted.load(Ordering::Acquire)
    }

    /// The refusal the cloud answered during this check, if any.
    pub(super) fn fresh_refusal(&self) -> Option<ReadError> {
        if self.preset {
            return None;
        }
        self.refused.get().cloned()
    }

    fn check(&self) -> Result<(), ApiError> {
        match self.refused.get() {
            Some(e) => Err(ApiError::from(ReadError::new(
                e.code,
                format!(
                    "not sent: the account's credentials were refused earlier in this check ({})",
                    e.message
                ),
            ))),
            None => Ok(()),
        }
    }

    /// Waits until a call may be sent; the guard, when there is one, must be held until its answer.
    async fn admit(&self) -> Result<Option<tokio::sync::MutexGuard<'_, ()>>, ApiError> {
        self.check()?;
        if self.verified.load(Ordering::Acquire) {
            return Ok(None);
        }
        let guard = self.probe.lock().await;
        self.check()?;
        if self.verified.load(Ordering::Acquire) {
            return Ok(None);
        }
        Ok(Some(guard))
    }

    fn record(&self, result: Result<(), &CallError>) {
        match result {
            Ok(()) => {
                self.accepted.store(true, Ordering::Release);
                self.verified.store(true, Ordering::Release);
            }
            Err(e) if e.code == ErrorCode::Auth => {
                let _ = self.refused.set(e.read_error());
            }
            // A policy refusing this one call is only evaluated once the signature was checked: the credentials
            // are good, and the account's other resources are read as usual.
            Err(e) if e.code == ErrorCode::PermissionDenied => {
                self.accepted.store(true, Ordering::Release);
                self.verified.store(true, Ordering::Release);
            }
            // Any other answer means the cloud took the signature; an unreachable endpoint tells nothing about
            // the credentials but must not serialize the account's calls for the rest of the check either.
            Err(e) => {
                if e.is_not_found() {
                    // "No such resource" is only said to a caller whose signature was checked.
                    self.accepted.store(true, Ordering::Release);
                }
                self.verified.store(true, Ordering::Release);
            }
        }
    }
}

/// What one scope's reader uses to reach its account.
pub(super) struct Client<'a> {
    pub transport: &'a Transport,
    pub provider: &'a Provider,
    pub account: &'a str,
    /// The account's `endpoint`, replacing the cloud's public one.
    pub endpoint: Option<&'a str>,
    pub breaker: &'a Breaker,
    /// Calls in flight for this account and region.
    pub permits: &'a Semaphore,
}

impl Client<'_> {
    async fn send(
        &self,
        call: Call<'_>,
        request: Request,
        signer: &dyn crate::transport::Signer,
    ) -> Result<Vec<u8>, ApiError> {
        let _probe = self.breaker.admit().await?;
        // The semaphore is never closed, so acquiring only fails if it were; treat that as "no limit".
        let _permit = self.permits.acquire().await.ok();
        // The refusal may have come in while this call waited for a permit.
        self.breaker.check()?;
        match self
            .transport
            .send(&call, &request, Auth::Signed(self.provider, signer))
            .await
        {
            Ok(response) => {
                self.breaker.record(Ok(()));
                Ok(response.body)
            }
            Err(e) => {
                self.breaker.record(Err(&e));
                Err(ApiError {
                    status: e.status,
                    cloud_code: e.cloud_code.clone(),
                    error: e.read_error(),
                })
            }
        }
    }
}

fn alibaba_operation(action: &str) -> Option<Operation> {
    Some(match action {
        "ListTagResources" => Operation::AlibabaListTagResources,
        "ListKeys" => Operation::AlibabaListKeys,
        "DescribeKey" => Operation::AlibabaDescribeKey,
        "ListAliases" => Operation::AlibabaListAliases,
        "ListSecrets" => Operation::AlibabaListSecrets,
        "DescribeSecret" => Operation::AlibabaDescribeSecret,
        _ => return None,
    })
}

fn huawei_operation(operation: &str) -> Option<Operation> {
    Some(match operation {
        "ListSecrets" => Operation::HuaweiListSecrets,
        "ListKeys" => Operation::HuaweiListKeys,
        "ListSecretTags" => Operation::HuaweiListSecretTags,
        "ShowKmsTags" => Operation::HuaweiShowKmsTags,
        "ListSecretResourceInstances" => Operation::HuaweiListSecretResourceInstances,
        "ListKmsResourceInstances" => Operation::HuaweiListKmsByTags,
        _ => return None,
    })
}

/// The check a 2xx body of `operation` must pass inside the transport: the same type the reader decodes it
/// into, so a damaged answer is counted and retried as an `invalid_response` attempt instead of surfacing only
/// after the call has been counted as answered.
fn body_check(operation: Operation) -> BodyCheck {
    fn fits<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<(), String> {
        crate::wire::parse::<T>(body).map(drop)
    }
    use crate::{alibaba::wire as ali, huawei::wire as hw};
    match operation {
        Operation::AlibabaListTagResources => fits::<ali::TagPage>,
        Operation::AlibabaListKeys => fits::<ali::KeyPage>,
        Operation::AlibabaListSecrets => fits::<ali::SecretPage>,
        Operation::AlibabaDescribeKey => fits::<ali::DescribeKey>,
        Operation::AlibabaListAliases => fits::<ali::AliasPage>,
        Operation::AlibabaDescribeSecret => fits::<ali::DescribeSecret>,
        Operation::HuaweiListSecrets => fits::<hw::SecretPage>,
        Operation::HuaweiListKeys => fits::<hw::KeyPage>,
        Operation::HuaweiListSecretTags | Operation::HuaweiShowKmsTags => fits::<hw::TagsAnswer>,
        Operation::HuaweiListSecretResourceInstances | Operation::HuaweiListKmsByTags => {
            fits::<hw::InstancePage>
        }
        _ => fits::<serde::de::IgnoredAny>,
    }
}

fn unknown_operation(name: &str) -> ApiError {
    ApiError::from(ReadError::new(
        ErrorCode::Other,
        format!("no transport operation for {name}"),
    ))
}

/// The public KMS endpoint of a region (reference §1).
pub fn alibaba_endpoint(region: &str) -> String {
    format!("https://kms.{region}.aliyuncs.com")
}

/// The DEW endpoint (CSMS and KMS share it) of a region; `eu-west-101` lives under `.eu` (reference §1).
pub fn huawei_endpoint(region: &str) -> String {
    if region == "eu-west-101" {
        format!("https://kms.{region}.myhuaweicloud.eu")
    } else {
        format!("https://kms.{region}.myhuaweicloud.com")
    }
}

/// The endpoint for `region`: the account's own, with `{region}` replaced, else the cloud's public one.
fn region_endpoint(account: Option<&str>, region: &str, public: fn(&str) -> String) -> String {
    account.map_or_else(|| public(region), |e| e.replace(REGION_PLACEHOLDER, region))
}

impl Kms for Client<'_> {
    async fn call(&self, call: RpcCall) -> Result<Vec<u8>, ApiError> {
        let operation = alibaba_operation(call.action).ok_or_else(|| unknown_operation(call.action))?;
        let endpoint = region_endpoint(self.endpoint, &call.region, alibaba_endpoint);
        let request = Request::post(&endpoint, "/").query(call.params);
        let signer = AlibabaV3::kms(call.action);
        let transport_call = Call::new(operation, self.account, &call.region)
            .not_found(ALIBABA_NOT_FOUND)
            .validate(body_check(operation));
        self.send(transport_call, request, &signer).await
    }
}

impl Dew for Client<'_> {
    async fn call(&self, call: RestCall) -> Result<Vec<u8>, ApiError> {
        let operation = huawei_operation(call.operation).ok_or_else(|| unknown_operation(call.operation))?;
        let endpoint = region_endpoint(self.endpoint, &call.region, huawei_endpoint);
        let mut request = match call.method {
            Method::Get => Request::get(&endpoint, &call.path),
            Method::Post => Request::post(&endpoint, &call.path),
        }
        .query(call.query);
        request = match &call.body {
            Some(body) => request.json_body(body),
            // The SDK sends the JSON content type on every request, GET included, and signs it.
            None => request.header("Content-Type", "application/json"),
        };
        request = request.header("X-Project-Id", call.project_id.clone());
        let transport_call = Call::new(operation, self.account, &call.region)
            .not_found(HUAWEI_NOT_FOUND)
            .validate(body_check(operation));
        self.send(transport_call, request, &HuaweiSigner).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_endpoint_takes_the_region_of_each_call() {
        let vpc = Some("https://kms-vpc.{region}.aliyuncs.com");
        assert_eq!(
            region_endpoint(vpc, "cn-shanghai", alibaba_endpoint),
            "https://kms-vpc.cn-shanghai.aliyuncs.com"
        );
        assert_eq!(
            region_endpoint(Some("http://127.0.0.1:8787"), "cn-shanghai", alibaba_endpoint),
            "http://127.0.0.1:8787"
        );
        assert_eq!(
            region_endpoint(None, "eu-west-101", huawei_endpoint),
            "https://kms.eu-west-101.myhuaweicloud.eu"
        );
    }

    fn answered(code: ErrorCode, cloud_code: &str) -> CallError {
        CallError {
            code,
            message: format!("DescribeKey: HTTP 403 {cloud_code}"),
            status: Some(403),
            cloud_code: Some(cloud_code.to_owned()),
            request_id: None,
            not_found: false,
            attempts: 1,
        }
    }

    /// A policy refusing one resource proves the signature good: the account's calls flow freely from then on
    /// and nothing is refused; a refused credential stops the account.
    #[test]
    fn a_permission_denial_accepts_the_credentials_and_a_refusal_stops_the_account() {
        let denied = Breaker::default();
        denied.record(Err(&answered(
            ErrorCode::PermissionDenied,
            "Forbidden.NoPermission",
        )));
        assert!(denied.was_accepted());
        assert!(denied.verified.load(Ordering::Acquire));
        assert_eq!(denied.fresh_refusal(), None);
        assert!(denied.check().is_ok());

        let refused = Breaker::default();
        refused.record(Err(&answered(ErrorCode::Auth, "SignatureDoesNotMatch")));
        assert!(!refused.was_accepted());
        assert_eq!(refused.fresh_refusal().map(|e| e.code), Some(ErrorCode::Auth));
        assert!(refused.check().is_err());
    }

    /// The transport's body check and the readers' decoding are one rule: what one refuses, so does the other.
    #[test]
    fn the_body_check_refuses_what_the_reader_would_refuse() {
        let check = body_check(Operation::AlibabaListTagResources);
        let page = br#"{"RequestId":"r","TagResources":{"TagResource":[]}}"#;
        assert_eq!(check(page), Ok(()));
        for bad in [
            &b"[]"[..],
            b"{\"RequestId\":\"r\",\"TagResources\":[",
            b"{\"TagResources\":[]}",
        ] {
            let refused = check(bad).unwrap_err();
            let decoded = crate::wire::decode::<crate::alibaba::wire::TagPage>("ListTagResources", bad);
            assert!(decoded.is_err(), "{bad:?}");
            assert!(
                decoded.unwrap_err().message.ends_with(&refused),
                "{bad:?}: {refused}"
            );
        }
    }
}
