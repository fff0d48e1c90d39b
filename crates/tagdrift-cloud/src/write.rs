//! The tag writers of `tagdrift apply`: one [`Batch`] of the reconcile plan becomes one signed call through
//! the same [`Transport`] the reads use, so writes share its rate limits (`kms_write`, `tag_write`), retries
//! (throttling, 5xx, timeouts and dropped connections: every write here is idempotent) and error
//! classification.
//!
//! - Alibaba KMS `TagResources` (`ResourceId.N`, `Tag.N.Key`/`Tag.N.Value`) and `UntagResources`
//!   (`TagKey.N`; never `All=true`), parameters in the query as every KMS RPC call. Secrets are named by
//!   SecretName, as in `ListTagResources`.
//! - Huawei DEW `tags/action` (`BatchCreateKmsTags` for keys, `BatchCreateOrDeleteTags` for CSMS secrets) with
//!   `{"action":"create"|"delete","tags":[...]}`; a secret by its UUID, which the read reported. `create`
//!   overwrites the value of a key that exists (docs/writing.md).
//!
//! A refusal of a write names the permission to grant; it is the caller's to carry on with other resources.

mod request;
#[cfg(test)]
mod tests;

use tagdrift_core::config::DesiredState;
use tagdrift_core::reconcile::{Batch, Op};

use crate::read::Reader;
use crate::read::{alibaba_endpoint, huawei_endpoint};
use crate::transport::{AlibabaV3, Auth, CallError, HuaweiSigner, Operation};
use crate::{Cloud, ErrorCode, ResourceType};

pub use request::{alibaba_request, huawei_request};

/// A write the cloud accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The cloud's request id, for the audit log.
    pub request_id: Option<String>,
}

/// Why a write failed, after the transport's retries. Never carries credentials or signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WriteError {
    pub code: ErrorCode,
    /// The cloud's own code (`Forbidden.NoPermission`, `KMS.0306`, `Rejected.Throttling`...).
    pub cloud_code: Option<String>,
    pub request_id: Option<String>,
    /// With [`ErrorCode::PermissionDenied`], names the permission to grant.
    pub message: String,
}

/// Sends the writes of one apply through a [`Reader`]'s transport and credential providers.
pub struct Writer<'a> {
    reader: &'a Reader,
    state: &'a DesiredState,
}

impl<'a> Writer<'a> {
    /// A writer for the accounts of `state`, which `reader` was built from.
    pub fn new(reader: &'a Reader, state: &'a DesiredState) -> Writer<'a> {
        Writer { reader, state }
    }

    /// Sends one batch. Retries are the transport's; the result is the last answer.
    pub async fn send(&self, batch: &Batch) -> Result<Written, WriteError> {
        let setup = |message: String| WriteError {
            code: ErrorCode::Other,
            cloud_code: None,
            request_id: None,
            message,
        };
        let Some((transport, cloud, provider, endpoint)) = self.reader.account_parts(&batch.account) else {
            return Err(setup(format!("account {} is not configured", batch.account)));
        };
        if cloud != batch.cloud {
            return Err(setup(format!(
                "account {} is not on {}",
                batch.account, batch.cloud
            )));
        }
        let region_endpoint = |public: fn(&str) -> String| {
            endpoint.map_or_else(
                || public(&batch.region),
                |e| e.replace(tagdrift_core::config::REGION_PLACEHOLDER, &batch.region),
            )
        };
        let result = match batch.cloud {
            Cloud::Alibaba => {
                let (call, request) = alibaba_request(batch, &region_endpoint(alibaba_endpoint));
                let signer = AlibabaV3::kms(call.operation.as_str());
                transport
                    .send(&call, &request, Auth::Signed(provider, &signer))
                    .await
            }
            Cloud::Huawei => {
                let project = self
                    .state
                    .account(&batch.account)
                    .and_then(|a| a.region(&batch.region))
                    .and_then(|r| r.project_id.clone())
                    .ok_or_else(|| {
                        setup(format!(
                            "region {} of account {} has no project id",
                            batch.region, batch.account
                        ))
                    })?;
                let (call, request) =
                    huawei_request(batch, &project, &region_endpoint(huawei_endpoint)).map_err(setup)?;
                transport
                    .send(&call, &request, Auth::Signed(provider, &HuaweiSigner))
                    .await
            }
        };
        match result {
            Ok(response) => Ok(Written {
                request_id: response.request_id,
            }),
            Err(e) => Err(failure(batch, e)),
        }
    }
}

/// The permission a write needs, as the cloud's access policies name it ([`Operation::permission`]).
pub fn permission(cloud: Cloud, resource_type: ResourceType, op: &Op) -> &'static str {
    let operation = match (cloud, resource_type, op) {
        (Cloud::Alibaba, _, Op::Tag(_)) => Operation::AlibabaTagResources,
        (Cloud::Alibaba, _, Op::Untag(_)) => Operation::AlibabaUntagResources,
        (Cloud::Huawei, ResourceType::Key, _) => Operation::HuaweiBatchCreateKmsTags,
        (Cloud::Huawei, ResourceType::Secret, _) => Operation::HuaweiBatchCreateOrDeleteSecretTags,
    };
    operation
        .permission()
        .expect("every write operation names its permission")
}

fn failure(batch: &Batch, e: CallError) -> WriteError {
    // The transport's classification decides (a policy refusal, not a refused credential), as for reads.
    let message = if e.code == ErrorCode::PermissionDenied {
        format!(
            "the credentials can read but not write tags: grant {} ({})",
            permission(batch.cloud, batch.resource_type, &batch.op),
            e.message
        )
    } else {
        e.message.clone()
    };
    WriteError {
        code: e.code,
        cloud_code: e.cloud_code,
        request_id: e.request_id,
        message,
    }
}
