//! The closed list of cloud API operations tagdrift calls: the `operation` label of the API metrics
//! (docs/metrics.md) and the key to each operation's rate-limit group.

use std::fmt;

use crate::Cloud;

/// One cloud API. [`as_str`](Operation::as_str) is the API's own name (the SDK's name for Huawei), unique
/// within a cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    AlibabaListTagResources,
    AlibabaListKeys,
    AlibabaDescribeKey,
    AlibabaListSecrets,
    AlibabaDescribeSecret,
    AlibabaTagResources,
    AlibabaUntagResources,
    /// STS, for RRSA credentials.
    AlibabaAssumeRoleWithOidc,
    /// ECS instance metadata (session token, role name, role credentials).
    AlibabaEcsMetadata,
    /// `GET /v1/{project_id}/secrets`.
    HuaweiListSecrets,
    /// `POST /v1.0/{project_id}/kms/list-keys`.
    HuaweiListKeys,
    /// `GET /v1/{project_id}/csms/{secret_id}/tags`.
    HuaweiListSecretTags,
    /// `GET /v1.0/{project_id}/kms/{key_id}/tags`.
    HuaweiShowKmsTags,
    /// `POST /v1/{project_id}/csms/resource_instances/action`.
    HuaweiListSecretResourceInstances,
    /// `POST /v1.0/{project_id}/kms/resource_instances/action`.
    HuaweiListKmsByTags,
    /// `POST /v1/{project_id}/csms/{secret_id}/tags/action`.
    HuaweiBatchCreateOrDeleteSecretTags,
    /// `POST /v1.0/{project_id}/kms/{key_id}/tags/action`.
    HuaweiBatchCreateKmsTags,
    /// IAM `GET /v3/projects`, to resolve a region's project id.
    HuaweiKeystoneListProjects,
    /// IAM `POST /v3.0/OS-AUTH/id-token/tokens` (workload identity, step 1).
    HuaweiCreateTokenWithIdToken,
    /// IAM `POST /v3.0/OS-CREDENTIAL/securitytokens` (workload identity, step 2).
    HuaweiCreateTemporaryAccessKeyByToken,
    /// ECS instance metadata (`securitykey`).
    HuaweiEcsMetadata,
}

impl Operation {
    pub const ALL: [Operation; 21] = [
        Operation::AlibabaListTagResources,
        Operation::AlibabaListKeys,
        Operation::AlibabaDescribeKey,
        Operation::AlibabaListSecrets,
        Operation::AlibabaDescribeSecret,
        Operation::AlibabaTagResources,
        Operation::AlibabaUntagResources,
        Operation::AlibabaAssumeRoleWithOidc,
        Operation::AlibabaEcsMetadata,
        Operation::HuaweiListSecrets,
        Operation::HuaweiListKeys,
        Operation::HuaweiListSecretTags,
        Operation::HuaweiShowKmsTags,
        Operation::HuaweiListSecretResourceInstances,
        Operation::HuaweiListKmsByTags,
        Operation::HuaweiBatchCreateOrDeleteSecretTags,
        Operation::HuaweiBatchCreateKmsTags,
        Operation::HuaweiKeystoneListProjects,
        Operation::HuaweiCreateTokenWithIdToken,
        Operation::HuaweiCreateTemporaryAccessKeyByToken,
        Operation::HuaweiEcsMetadata,
    ];

    pub fn cloud(self) -> Cloud {
        use Operation::*;
        match self {
            AlibabaListTagResources
            | AlibabaListKeys
            | AlibabaDescribeKey
            | AlibabaListSecrets
            | AlibabaDescribeSecret
            | AlibabaTagResources
            | AlibabaUntagResources
            | AlibabaAssumeRoleWithOidc
            | AlibabaEcsMetadata => Cloud::Alibaba,
            _ => Cloud::Huawei,
        }
    }

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        use Operation::*;
        match self {
            AlibabaListTagResources => "ListTagResources",
            AlibabaListKeys => "ListKeys",
            AlibabaDescribeKey => "DescribeKey",
            AlibabaListSecrets => "ListSecrets",
            AlibabaDescribeSecret => "DescribeSecret",
            AlibabaTagResources => "TagResources",
            AlibabaUntagResources => "UntagResources",
            AlibabaAssumeRoleWithOidc => "AssumeRoleWithOIDC",
            AlibabaEcsMetadata => "EcsMetadata",
            HuaweiListSecrets => "ListSecrets",
            HuaweiListKeys => "ListKeys",
            HuaweiListSecretTags => "ListSecretTags",
            HuaweiShowKmsTags => "ShowKmsTags",
            HuaweiListSecretResourceInstances => "ListResourceInstances",
            HuaweiListKmsByTags => "ListKmsByTags",
            HuaweiBatchCreateOrDeleteSecretTags => "BatchCreateOrDeleteTags",
            HuaweiBatchCreateKmsTags => "BatchCreateKmsTags",
            HuaweiKeystoneListProjects => "KeystoneListProjects",
            HuaweiCreateTokenWithIdToken => "CreateTokenWithIdToken",
            HuaweiCreateTemporaryAccessKeyByToken => "CreateTemporaryAccessKeyByToken",
            HuaweiEcsMetadata => "EcsMetadata",
        }
    }

    /// The rate-limit group of [`API_GROUPS`](tagdrift_core::config::API_GROUPS) whose quota this operation
    /// uses, or `None` for credential and metadata endpoints, which are not limited per account.
    pub fn rate_group(self) -> Option<&'static str> {
        use Operation::*;
        match self {
            AlibabaListTagResources | AlibabaListKeys | AlibabaDescribeKey => Some("kms_read"),
            AlibabaListSecrets | AlibabaDescribeSecret => Some("secrets_read"),
            AlibabaTagResources | AlibabaUntagResources => Some("kms_write"),
            HuaweiListSecrets => Some("list_secrets"),
            HuaweiListKeys => Some("list_keys"),
            HuaweiListSecretTags => Some("secret_tags"),
            HuaweiShowKmsTags => Some("key_tags"),
            HuaweiListSecretResourceInstances | HuaweiListKmsByTags => Some("resource_instances"),
            HuaweiBatchCreateOrDeleteSecretTags | HuaweiBatchCreateKmsTags => Some("tag_write"),
            AlibabaAssumeRoleWithOidc
            | AlibabaEcsMetadata
            | HuaweiKeystoneListProjects
            | HuaweiCreateTokenWithIdToken
            | HuaweiCreateTemporaryAccessKeyByToken
            | HuaweiEcsMetadata => None,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
