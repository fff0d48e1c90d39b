//! The validated desired state: what the rest of tagdrift consumes once `config::load` has accepted a file.
//! Every value here has already been checked (globs compiled, regexes compiled, references resolved), so the
//! drift engine and the clients never re-validate.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::NaiveDate;
use globset::GlobMatcher;
use regex::Regex;

use crate::vocab::{Cloud, ResourceType, Tags};

/// Stands for the region's name in an account's `endpoint` (`https://kms-vpc.{region}.aliyuncs.com`).
pub const REGION_PLACEHOLDER: &str = "{region}";

/// The whole desired-state file, validated.
#[derive(Debug, Clone)]
pub struct DesiredState {
    pub accounts: Vec<Account>,
    pub resources: Vec<DeclaredResource>,
    pub defaults: Vec<Defaults>,
    pub rules: Vec<Rule>,
    pub discovery: Vec<Discovery>,
    pub ignores: Ignores,
    pub schedule: Schedule,
    pub daemon: Daemon,
    /// Self-healing by the daemon; off unless the file says otherwise.
    pub reconcile: Reconcile,
}

impl DesiredState {
    pub fn account(&self, name: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.name == name)
    }
}

/// One cloud account (Alibaba) or IAM domain (Huawei) and the regions tagdrift reads in it.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub cloud: Cloud,
    pub regions: Vec<Region>,
    /// Replaces the cloud's public endpoint (VPC endpoint, proxy, emulator). Already validated as an
    /// `http://` or `https://` URL without a trailing slash; its host may contain [`REGION_PLACEHOLDER`].
    pub endpoint: Option<String>,
    pub credentials: Credentials,
    /// Requests per second per API group for this account, per region. Groups not named here use
    /// [`default_rate_limit`].
    pub rate_limits: BTreeMap<String, f64>,
    /// Huawei only: whether tags are read in batches through `resource_instances/action` or one call per
    /// resource.
    pub batch_tag_read: BatchTagRead,
}

/// How a Huawei account's tags are read (`batch_tag_read`; docs/reading.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchTagRead {
    /// `auto` (the default): per scope, the batch once a sample read both ways agreed, else one call per
    /// resource; decided at run time.
    #[default]
    Auto,
    /// `true`: always the batch.
    Always,
    /// `false`: always one call per resource.
    Never,
}

impl Account {
    pub fn region(&self, name: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.name == name)
    }
}

/// A region of an account. Huawei regions carry the IAM project id of that region (32 hex characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub name: String,
    pub project_id: Option<String>,
}

/// API groups that share one quota, per cloud, with the documented quota and tagdrift's default (kept below it).
pub struct ApiGroup {
    pub cloud: Cloud,
    pub name: &'static str,
    pub documented_qps: f64,
    pub default_qps: f64,
    pub apis: &'static str,
}

/// The rate-limit groups a config may name under `rate_limits`.
pub const API_GROUPS: &[ApiGroup] = &[
    ApiGroup {
        cloud: Cloud::Alibaba,
        name: "kms_read",
        documented_qps: 50.0,
        default_qps: 45.0,
        apis: "ListKeys, DescribeKey, ListTagResources, ListAliases",
    },
    ApiGroup {
        cloud: Cloud::Alibaba,
        name: "secrets_read",
        documented_qps: 50.0,
        default_qps: 45.0,
        apis: "ListSecrets",
    },
    ApiGroup {
        cloud: Cloud::Alibaba,
        name: "kms_write",
        documented_qps: 30.0,
        default_qps: 25.0,
        apis: "TagResources, UntagResources",
    },
    ApiGroup {
        cloud: Cloud::Huawei,
        name: "list_secrets",
        documented_qps: 200.0,
        default_qps: 180.0,
        apis: "GET /v1/{project_id}/secrets",
    },
    ApiGroup {
        cloud: Cloud::Huawei,
        name: "list_keys",
        documented_qps: 200.0,
        default_qps: 180.0,
        apis: "POST /v1.0/{project_id}/kms/list-keys",
    },
    ApiGroup {
        cloud: Cloud::Huawei,
        name: "secret_tags",
        documented_qps: 200.0,
        default_qps: 180.0,
        apis: "GET /v1/{project_id}/csms/{secret_id}/tags",
    },
    ApiGroup {
        cloud: Cloud::Huawei,
        name: "key_tags",
        documented_qps: 200.0,
        default_qps: 180.0,
        apis: "GET /v1.0/{project_id}/kms/{key_id}/tags",
    },
    ApiGroup {
        cloud: Cloud::Huawei,
        name: "resource_instances",
        documented_qps: 200.0,
        default_qps: 180.0,
        apis: "POST .../resource_instances/action (secrets and keys)",
    },
    ApiGroup {
        cloud: Cloud::Huawei,
        name: "tag_write",
        documented_qps: 200.0,
        default_qps: 180.0,
        apis: "POST/DELETE .../tags, .../tags/action",
    },
];

/// The default requests per second of an API group, or `None` if the cloud has no such group.
pub fn default_rate_limit(cloud: Cloud, group: &str) -> Option<f64> {
    API_GROUPS
        .iter()
        .find(|g| g.cloud == cloud && g.name == group)
        .map(|g| g.default_qps)
}

/// Where a secret value (access key id, secret, token) is read from. Inline values are not accepted, so a
/// desired-state file can be committed and shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The name of an environment variable.
    Env(String),
    /// A file path (a Kubernetes Secret mounted as a volume); re-read when credentials are refreshed.
    File(String),
}

/// How an account obtains credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// The cloud's default chain, in the official SDK's order (see docs/credentials.md).
    Default,
    /// An access key pair (Alibaba AccessKeyId/Secret, Huawei AK/SK), with an optional STS security token.
    AccessKey {
        id: SecretSource,
        secret: SecretSource,
        security_token: Option<SecretSource>,
    },
    /// Alibaba RRSA on ACK: AssumeRoleWithOIDC with a projected service-account token.
    /// `None` fields fall back to the `ALIBABA_CLOUD_*` variables the ACK webhook injects.
    AlibabaRrsa {
        role_arn: Option<String>,
        oidc_provider_arn: Option<String>,
        oidc_token_file: Option<String>,
        role_session_name: Option<String>,
        sts_endpoint: Option<String>,
    },
    /// Alibaba ECS RAM role from instance metadata. `role_name: None` asks the metadata service.
    AlibabaEcsRamRole {
        role_name: Option<String>,
        metadata_endpoint: Option<String>,
    },
    /// Huawei CCE workload identity: an OIDC id token exchanged through IAM for temporary AK/SK.
    /// `None` fields fall back to `HUAWEICLOUD_SDK_IDP_ID` / `HUAWEICLOUD_SDK_ID_TOKEN_FILE`.
    HuaweiWorkloadIdentity {
        idp_id: Option<String>,
        id_token_file: Option<String>,
        iam_endpoint: Option<String>,
    },
    /// Huawei ECS agency credentials from the metadata `securitykey` path.
    HuaweiEcsMetadata { metadata_endpoint: Option<String> },
}

/// Which resources a rule, default, discovery entry or ignore applies to. Every `None` matches anything.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    pub cloud: Option<Cloud>,
    /// A glob over account names.
    pub account: Option<Glob>,
    /// A glob over region names.
    pub region: Option<Glob>,
    pub resource_type: Option<ResourceType>,
    /// A glob over the resource's identifier (key id or secret name) and, for keys, its alias.
    pub name: Option<Glob>,
}

/// A compiled glob that remembers its source text for messages and reports.
#[derive(Clone)]
pub struct Glob {
    pub pattern: String,
    pub matcher: GlobMatcher,
}

impl Glob {
    /// Compiles `pattern` as the desired state's globs are compiled (case-sensitive).
    pub fn new(pattern: &str) -> Result<Glob, String> {
        let glob = globset::GlobBuilder::new(pattern)
            .build()
            .map_err(|e| format!("invalid glob {pattern:?}: {}", e.kind()))?;
        Ok(Glob {
            pattern: pattern.to_owned(),
            matcher: glob.compile_matcher(),
        })
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.matcher.is_match(text)
    }
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.pattern)
    }
}

/// A resource whose exact tags are declared (Terraform style).
#[derive(Debug, Clone)]
pub struct DeclaredResource {
    pub cloud: Cloud,
    pub account: String,
    pub region: String,
    pub resource_type: ResourceType,
    /// KeyId for keys, secret name for secrets; the key's alias when `by_alias`.
    pub id: String,
    /// Tags declared on the resource itself; defaults are merged in by the drift engine.
    pub tags: Tags,
    /// When true, tags on the resource that the file does not declare are not drift.
    pub allow_extra_tags: bool,
    /// The key is named by its alias (`alias:`), resolved to a KeyId when the cloud is read; `id` is the alias.
    pub by_alias: bool,
    /// 1-based line of the entry in the file, for messages.
    pub line: usize,
}

/// Tags that every matching resource inherits unless it declares the key itself.
/// Later entries win over earlier ones for the same key.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub selector: Selector,
    pub tags: Tags,
}

/// A policy checked against every matching resource, declared or discovered.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub selector: Selector,
    /// Keys that must be present.
    pub required: Vec<String>,
    /// Key -> the only values allowed for it (checked when the key is present).
    pub allowed_values: BTreeMap<String, Vec<String>>,
    /// Key -> a regex its value must match (checked when the key is present). The regex is anchored by the
    /// author, not by tagdrift.
    pub patterns: BTreeMap<String, Pattern>,
    /// Key globs that must not be present.
    pub forbidden: Vec<Glob>,
    /// Compare keys and values of this rule without regard to case.
    pub case_insensitive: bool,
}

/// A compiled regex with its source text.
#[derive(Clone)]
pub struct Pattern {
    pub source: String,
    pub regex: Regex,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

/// Asks the clients to list every resource of the matching scope, so undeclared ones are checked too.
#[derive(Debug, Clone)]
pub struct Discovery {
    pub selector: Selector,
    /// Report discovered, undeclared resources that break no rule as `unmanaged` (true) or `in_sync` (false).
    pub report_unmanaged: bool,
}

/// Tags and resources whose drift is not reported.
#[derive(Debug, Clone)]
pub struct Ignores {
    /// System-tag key globs per cloud. Defaults: Alibaba `acs:*`, `aliyun*`; Huawei `_sys_*`.
    pub system_tags: BTreeMap<Cloud, Vec<Glob>>,
    pub entries: Vec<Ignore>,
}

/// One user ignore: some or all tag keys of the matching resources, with a reason and an optional expiry.
#[derive(Debug, Clone)]
pub struct Ignore {
    pub selector: Selector,
    /// Tag key globs; empty means every tag of the matching resources (the whole resource).
    pub keys: Vec<Glob>,
    pub reason: String,
    /// Last day (inclusive, UTC) on which the ignore applies; from the next day the drift shows again.
    pub until: Option<NaiveDate>,
}

impl Ignore {
    /// Whether this ignore is in force on `today` (UTC).
    pub fn active_on(&self, today: NaiveDate) -> bool {
        self.until.is_none_or(|until| today <= until)
    }
}

/// When the daemon checks.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Cron with seconds (six fields, `sec min hour day month weekday`), evaluated in UTC.
    pub cron: String,
    /// Deadline for one whole check.
    pub check_timeout: Duration,
    /// Timeout of one HTTP request to a cloud.
    pub request_timeout: Duration,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Requests in flight at once per account and region.
    pub concurrency: usize,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

/// Settings of the long-running daemon.
#[derive(Debug, Clone)]
pub struct Daemon {
    pub listen_address: SocketAddr,
    pub log_format: LogFormat,
    /// Upper bound on per-resource series in /metrics.
    pub max_resource_series: usize,
}

/// Self-healing by the daemon (the `reconcile` section): whether and how it writes tags back after a check.
#[derive(Debug, Clone)]
pub struct Reconcile {
    pub mode: ReconcileMode,
    /// The `match` selectors: only resources matching one of them are written. Empty (only allowed unless the
    /// mode is `apply`) means every declared resource.
    pub selectors: Vec<Selector>,
    /// More pending tag changes than this after one check: nothing is written and the daemon alerts.
    pub max_changes_per_check: usize,
    /// Checks in a row that must show a resource's identical change set before it is written.
    pub min_consecutive_checks: u32,
}

impl Default for Reconcile {
    fn default() -> Self {
        Reconcile {
            mode: ReconcileMode::Off,
            selectors: Vec::new(),
            max_changes_per_check: 50,
            min_consecutive_checks: 2,
        }
    }
}

/// What the daemon does with drift it may repair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconcileMode {
    /// Reports drift only.
    Off,
    /// Logs and reports what it would write, writes nothing.
    DryRun,
    /// Writes, within the limits.
    Apply,
}

impl ReconcileMode {
    pub const ALL: [ReconcileMode; 3] = [ReconcileMode::Off, ReconcileMode::DryRun, ReconcileMode::Apply];

    pub fn as_str(self) -> &'static str {
        match self {
            ReconcileMode::Off => "off",
            ReconcileMode::DryRun => "dry_run",
            ReconcileMode::Apply => "apply",
        }
    }
}
