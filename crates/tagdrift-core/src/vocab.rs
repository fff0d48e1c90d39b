//! The vocabulary every part of tagdrift shares: which cloud, which kind of resource, a resource's address and
//! tags, and what a read of one resource returned. The cloud clients produce these values and the drift engine
//! consumes them, so neither side needs to know the other's internals.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Tags as the clouds hold them: one value per key. A `BTreeMap` keeps every output ordered by key.
pub type Tags = BTreeMap<String, String>;

/// The two clouds tagdrift speaks to. The snake_case names are used alike in YAML, JSON, metric labels and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cloud {
    Alibaba,
    Huawei,
}

impl Cloud {
    pub const ALL: [Cloud; 2] = [Cloud::Alibaba, Cloud::Huawei];

    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Alibaba => "alibaba",
            Cloud::Huawei => "huawei",
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A KMS key or a secret. Alibaba calls these `key` and `secret` in its `ResourceType` parameter; Huawei's KMS
/// keys and CSMS secrets map onto the same two kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    Key,
    Secret,
}

impl ResourceType {
    pub const ALL: [ResourceType; 2] = [ResourceType::Key, ResourceType::Secret];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Key => "key",
            ResourceType::Secret => "secret",
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a resource lives and how the desired state names it.
///
/// `id` is the identifier the desired-state file uses: the KeyId for keys in both clouds, the secret *name* for
/// secrets in both clouds (Huawei's tag API wants the secret's UUID; the client resolves it and reports it in
/// [`Observed::native_id`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceRef {
    pub cloud: Cloud,
    pub account: String,
    pub region: String,
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    pub id: String,
}

impl ResourceRef {
    /// A stable, human-readable address such as `alibaba.ali-prod.cn-hangzhou.secret["db-password"]`.
    pub fn address(&self) -> String {
        format!(
            "{}.{}.{}.{}[{:?}]",
            self.cloud, self.account, self.region, self.resource_type, self.id
        )
    }
}

/// A short, fixed code for why a read failed. Used as a metric label and in reports, so the set is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The cloud kept answering with throttling errors after every retry.
    Throttled,
    /// The credentials themselves were refused (signature mismatch, unknown or disabled access key, expired
    /// token): nothing of the account can be read.
    Auth,
    /// The credentials were accepted but may not read this resource (or run this listing): a RAM/IAM policy
    /// refuses it. Only what was refused is unknown; the rest of the account is read.
    PermissionDenied,
    /// A request or the whole check ran out of time.
    Timeout,
    /// The cloud answered 5xx after every retry.
    #[serde(rename = "http_5xx")]
    Http5xx,
    /// The cloud answered a 4xx that is none of the above.
    #[serde(rename = "http_4xx")]
    Http4xx,
    /// The connection failed or was reset.
    Network,
    /// The body could not be parsed or lacked required fields.
    InvalidResponse,
    /// The listing that would have found the resource failed, so whether it exists is unknown.
    ListingFailed,
    /// The check was cancelled (shutdown) before this resource was read.
    Cancelled,
    /// Anything else; the message says more.
    Other,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Throttled => "throttled",
            ErrorCode::Auth => "auth",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Http5xx => "http_5xx",
            ErrorCode::Http4xx => "http_4xx",
            ErrorCode::Network => "network",
            ErrorCode::InvalidResponse => "invalid_response",
            ErrorCode::ListingFailed => "listing_failed",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::Other => "other",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a resource could not be read. The message must never contain credentials, signatures or tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadError {
    pub code: ErrorCode,
    pub message: String,
}

impl ReadError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ReadError {
            code,
            message: message.into(),
        }
    }
}

/// Why a resource that the cloud still lists cannot carry tags, so that it counts as gone. A closed set: a
/// metric label and a report field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Untaggable {
    /// Scheduled for deletion: Huawei answers tag calls with `KMS.0210` (keys) or `CSMS.0103`/`CSMS.0107`
    /// (secrets), and Terraform's Alibaba provider treats a `PendingDeletion` key as already gone.
    PendingDeletion,
    /// A Huawei default master key (created by a cloud service, alias ending `/default`): `KMS.0211`, "cannot
    /// perform this operation on default master keys".
    DefaultKey,
}

impl Untaggable {
    pub const ALL: [Untaggable; 2] = [Untaggable::PendingDeletion, Untaggable::DefaultKey];

    pub fn as_str(self) -> &'static str {
        match self {
            Untaggable::PendingDeletion => "pending_deletion",
            Untaggable::DefaultKey => "default_key",
        }
    }

    /// The reason in words, for the human reports: `pending deletion`, `default master key`.
    pub fn describe(self) -> &'static str {
        match self {
            Untaggable::PendingDeletion => "pending deletion",
            Untaggable::DefaultKey => "default master key",
        }
    }
}

impl fmt::Display for Untaggable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a read of one resource returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The resource exists and these are all its tags, system tags included (the engine filters those).
    Found(Tags),
    /// The cloud says the resource does not exist.
    NotFound,
    /// The read failed; whether the resource exists and which tags it has is unknown.
    Failed(ReadError),
    /// The resource exists but cannot carry tags (the cloud refuses tag calls on it). `detail` is the cloud's
    /// own words (`KMS.0211: ...`, `KeyState PendingDeletion`), never credentials.
    Untaggable { reason: Untaggable, detail: String },
}

/// One resource as the clients saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub resource: ResourceRef,
    /// The cloud's own identifier when it differs from `resource.id` (a Huawei secret's UUID), else `None`.
    pub native_id: Option<String>,
    /// A friendly name when the cloud has one (a key alias).
    pub alias: Option<String>,
    pub outcome: Outcome,
}

/// A listing that failed for a whole scope (one account, region and resource type), so resources there that
/// the desired state does not name cannot be discovered. Declared resources in the scope are reported as
/// individual [`Observed`] failures by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeFailure {
    pub cloud: Cloud,
    pub account: String,
    pub region: String,
    pub resource_type: ResourceType,
    pub error: ReadError,
}

/// Resources a discovery listing returned but left out because they cannot carry tags, counted per scope and
/// reason. They are not resources of the plan; the scope summary mentions them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LeftOut {
    pub cloud: Cloud,
    pub account: String,
    pub region: String,
    pub resource_type: ResourceType,
    pub reason: Untaggable,
    pub count: usize,
}

/// How one scope's tags were read in a check, when the reader chose between plans (Huawei `batch_tag_read`):
/// the batch (`resource_instances`) or one call per resource, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReadPlan {
    pub cloud: Cloud,
    pub account: String,
    pub region: String,
    pub resource_type: ResourceType,
    /// The batch read, rather than one call per resource.
    pub batch: bool,
    pub reason: PlanReason,
}

/// Why a scope is read the way [`ReadPlan`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlanReason {
    /// The file says so (`batch_tag_read: true` or `false`).
    Configured,
    /// `auto`: a sample read both ways agreed, so the batch is used.
    Verified,
    /// `auto`: the two ways disagreed (a resource or tag missing from the batch, a different value).
    Differs,
    /// `auto`: the cloud refused the batch call.
    Refused,
    /// `auto`: the comparison could not be completed (a listing or sample call failed); one call per resource
    /// this check, and the comparison is tried again at the next.
    Unverified,
}

impl PlanReason {
    pub const ALL: [PlanReason; 5] = [
        PlanReason::Configured,
        PlanReason::Verified,
        PlanReason::Differs,
        PlanReason::Refused,
        PlanReason::Unverified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PlanReason::Configured => "configured",
            PlanReason::Verified => "verified",
            PlanReason::Differs => "differs",
            PlanReason::Refused => "refused",
            PlanReason::Unverified => "unverified",
        }
    }
}

/// Everything one check read from the clouds: the input of the drift engine beside the desired state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observations {
    pub resources: Vec<Observed>,
    pub scope_failures: Vec<ScopeFailure>,
    pub left_out: Vec<LeftOut>,
    /// The plan each scope was read with, where the reader chose one; ordered, one entry per scope.
    pub read_plans: Vec<ReadPlan>,
}
