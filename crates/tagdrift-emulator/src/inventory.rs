//! The emulator's inventory file: which accounts, credentials, roles and resources (with their tags) the
//! emulated clouds hold at start-up. Owns the YAML file model (read and written), its validation into the
//! in-memory [`Store`](super::store::Store), the generator of large synthetic inventories and the matching
//! tagdrift desired-state file for benchmarks.
//!
//! It must not know about HTTP, signatures or faults: the cloud modules read the store, they never see this
//! file model.

mod generate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use super::store::TagList;

pub use generate::{
    DesiredCredentialEnv, GenerateOptions, Generated, credential_env_vars, desired_state_yaml, generate,
};

/// A credential value (access key secret, SK, security token). Serialized as the plain string in the
/// inventory file, which holds test credentials only; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret text, for signature computation only. Never log or return it in an error.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The whole inventory file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alibaba: Vec<AlibabaAccountSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub huawei: Vec<HuaweiAccountSpec>,
}

/// One Alibaba Cloud account: its permanent access key, optional static STS credentials, RAM roles that
/// `AssumeRoleWithOIDC` may assume, an optional ECS instance role, and its KMS keys and secrets per region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlibabaAccountSpec {
    /// Account name used in the desired-state file and stats; default `alibaba-<index>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub access_key_id: String,
    pub access_key_secret: Secret,
    /// The 16-digit account UID used in ARNs; default derived from the access key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Temporary credentials the account accepts as if STS had issued them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sts: Vec<AlibabaStsSpec>,
    /// RAM roles that `AssumeRoleWithOIDC` may assume into this account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<AlibabaRoleSpec>,
    /// The RAM role name the ECS metadata service reports (at most one account in the inventory has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_role: Option<String>,
    #[serde(default)]
    pub regions: BTreeMap<String, RegionSpec>,
}

/// Static STS credentials of an Alibaba account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlibabaStsSpec {
    pub access_key_id: String,
    pub access_key_secret: Secret,
    pub security_token: Secret,
    /// After this instant requests fail with `InvalidSecurityToken.Expired`; default never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<DateTime<Utc>>,
}

/// A RAM role that can be assumed with an OIDC token from one provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlibabaRoleSpec {
    /// `acs:ram::<uid>:role/<name>`.
    pub arn: String,
    /// `acs:ram::<uid>:oidc-provider/<name>`.
    pub oidc_provider_arn: String,
    /// Upper bound of `DurationSeconds` (default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_session_duration: Option<u64>,
}

/// KMS keys and secrets of one Alibaba region.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeySpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretSpec>,
}

/// A KMS key: its id, optional alias and tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    pub id: String,
    /// Alibaba: `alias/<name>` (the prefix is added when missing); Huawei: the key alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Huawei only: the key's `key_spec` (default `AES_256`; list keys without `key_spec: ALL` sees only
    /// `AES_256` keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_spec: Option<String>,
    /// Scheduled for deletion (Alibaba `KeyState: PendingDeletion`, Huawei `key_state: "4"`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending_deletion: bool,
    /// Huawei only: a default master key (`default_key_flag: "1"`), which refuses tag calls.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    #[serde(default)]
    pub tags: TagList,
    /// Accesses a policy denies the inventory's credentials on this key (see [`Access`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<Access>,
}

/// What a per-resource policy refusal covers: `read` refuses the tag reads and existence checks naming the
/// resource (and the region-wide reads that would return its tags), `write` its tag writes. The credentials
/// stay valid: the answer is the cloud's authorization refusal (403), after the signature was checked.
// Through a string: the inventory's YAML reader has no enumerations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Access {
    Read,
    Write,
}

impl TryFrom<String> for Access {
    type Error = String;

    fn try_from(value: String) -> Result<Access, String> {
        match value.as_str() {
            "read" => Ok(Access::Read),
            "write" => Ok(Access::Write),
            _ => Err(format!("unknown access '{value}' (expected read or write)")),
        }
    }
}

impl From<Access> for String {
    fn from(access: Access) -> String {
        match access {
            Access::Read => "read",
            Access::Write => "write",
        }
        .to_owned()
    }
}

/// A secret: its name, optional native id (Huawei UUID, generated when absent) and tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Huawei only: scheduled for deletion (`state: PENDING_DELETE`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending_deletion: bool,
    #[serde(default)]
    pub tags: TagList,
    /// Accesses a policy denies the inventory's credentials on this secret (see [`Access`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<Access>,
}

/// One Huawei Cloud account (IAM domain): AK/SK, optional static temporary credentials and its projects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HuaweiAccountSpec {
    /// Account name used in the desired-state file and stats; default `huawei-<index>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub ak: String,
    pub sk: Secret,
    /// 32 hex characters; default derived from the AK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    /// Temporary AK/SK + security token triples the account accepts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_tokens: Vec<HuaweiTemporarySpec>,
    /// Identity providers whose OIDC id tokens IAM exchanges for tokens of this account (CCE workload
    /// identity: `POST /v3.0/OS-AUTH/id-token/tokens` with `X-Idp-Id`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub idps: Vec<HuaweiIdpSpec>,
    /// The ECS agency name the metadata `securitykey` path hands out credentials for (at most one account in
    /// the inventory has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_agency: Option<String>,
    #[serde(default)]
    pub projects: Vec<HuaweiProjectSpec>,
}

/// An IAM identity provider of a Huawei account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HuaweiIdpSpec {
    /// The IdP id clients send in `X-Idp-Id`.
    pub id: String,
}

/// Static temporary credentials of a Huawei account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HuaweiTemporarySpec {
    pub ak: String,
    pub sk: Secret,
    pub security_token: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// One Huawei region project with its KMS keys and CSMS secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HuaweiProjectSpec {
    pub region: String,
    /// 32 hex characters.
    pub project_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeySpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretSpec>,
}

impl AlibabaAccountSpec {
    /// The account's name, or the default for position `index` in the file.
    pub fn display_name(&self, index: usize) -> String {
        self.name.clone().unwrap_or_else(|| format!("alibaba-{index}"))
    }
}

impl HuaweiAccountSpec {
    /// The account's name, or the default for position `index` in the file.
    pub fn display_name(&self, index: usize) -> String {
        self.name.clone().unwrap_or_else(|| format!("huawei-{index}"))
    }
}

/// Why an inventory could not be read, validated or written.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read inventory '{path}'")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write '{path}'")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("inventory '{path}': {message}")]
    Parse { path: String, message: String },
    #[error("inventory {field}: {message}")]
    Invalid { field: String, message: String },
    #[error("cannot serialize {what} as yaml: {message}")]
    Serialize { what: &'static str, message: String },
}

impl InventoryError {
    pub fn code(&self) -> &'static str {
        match self {
            InventoryError::Read { .. } => "inventory_read",
            InventoryError::Write { .. } => "inventory_write",
            InventoryError::Parse { .. } => "inventory_parse",
            InventoryError::Invalid { .. } => "inventory_invalid",
            InventoryError::Serialize { .. } => "inventory_serialize",
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        InventoryError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl Inventory {
    /// Reads and parses an inventory file. Validation happens when the store is built from it.
    pub fn load(path: &Path) -> Result<Inventory, InventoryError> {
        let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Read {
            path: path.to_owned(),
            source,
        })?;
        Inventory::parse(&text, &path.display().to_string())
    }

    /// Parses inventory YAML; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Inventory, InventoryError> {
        parse_yaml(text, origin)
    }

    /// The inventory as YAML, in the same format [`Inventory::parse`] reads.
    pub fn to_yaml(&self) -> Result<String, InventoryError> {
        tagdrift_core::yaml::to_string(self).map_err(|message| InventoryError::Serialize {
            what: "inventory",
            message,
        })
    }

    /// Writes the inventory as YAML to `path`.
    pub fn write(&self, path: &Path) -> Result<(), InventoryError> {
        write_file(path, &self.to_yaml()?)
    }

    /// Number of keys and secrets across both clouds.
    pub fn resource_count(&self) -> usize {
        let ali: usize = self
            .alibaba
            .iter()
            .flat_map(|a| a.regions.values())
            .map(|r| r.keys.len() + r.secrets.len())
            .sum();
        let hw: usize = self
            .huawei
            .iter()
            .flat_map(|a| a.projects.iter())
            .map(|p| p.keys.len() + p.secrets.len())
            .sum();
        ali + hw
    }
}

// Inventory text is read with the streaming reader, not the positioned tree the desired state uses: a tree of
// a 100,000-resource inventory would not fit the emulator's memory budget.
fn parse_yaml(text: &str, origin: &str) -> Result<Inventory, InventoryError> {
    tagdrift_core::yaml::stream::from_str(text).map_err(|e| InventoryError::Parse {
        path: origin.to_owned(),
        message: e.to_string(),
    })
}

pub(crate) fn write_file(path: &Path, text: &str) -> Result<(), InventoryError> {
    std::fs::write(path, text).map_err(|source| InventoryError::Write {
        path: path.to_owned(),
        source,
    })
}

/// A UUID-shaped (8-4-4-4-12 lowercase hex) identifier derived from `parts`: stable across runs, so a Huawei
/// secret without an explicit id keeps the same id every time the same inventory is loaded.
pub fn derived_uuid(parts: &[&str]) -> String {
    let digest = hash_parts(parts);
    let h = hex::encode(&digest[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `len` lowercase hex characters derived from `parts` (at most 64).
pub fn derived_hex(parts: &[&str], len: usize) -> String {
    let mut h = hex::encode(hash_parts(parts));
    h.truncate(len.min(64));
    h
}

/// `len` decimal digits derived from `parts`, first digit non-zero (an Alibaba account UID is 16 digits).
pub fn derived_digits(parts: &[&str], len: usize) -> String {
    let digest = hash_parts(parts);
    let mut out = String::with_capacity(len);
    for (i, b) in digest.iter().cycle().take(len).enumerate() {
        let d = if i == 0 { 1 + b % 9 } else { b % 10 };
        out.push(char::from(b'0' + d));
    }
    out
}

fn hash_parts(parts: &[&str]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hasher.finalize().to_vec()
}

#[cfg(test)]
mod tests;
