//! The desired-state schema: walks the positioned YAML tree section by section and item by item, reports
//! every problem at the node it concerns, and builds the [`DesiredState`] only when there is none. One bad
//! account never hides a bad rule. It reads no files and no environment: credential fields are kept as
//! references ([`SecretSource`]), and messages never echo a credential field's content.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::NaiveDate;
use globset::GlobBuilder;
use regex::{Regex, RegexBuilder};

use super::model::*;
use super::tags::TagRules;
use crate::vocab::{Cloud, ResourceType, Tags};
use crate::yaml::{Collector, Fields, Node, Resolved, Value, field, item, quote};

/// Schedule defaults, as documented in docs/configuration.md.
pub(super) const DEFAULT_CRON: &str = "0 */10 * * * *";
pub(super) const DEFAULT_CHECK_TIMEOUT_SECONDS: u64 = 600;
pub(super) const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 10;
pub(super) const DEFAULT_MAX_ATTEMPTS: u64 = 5;
pub(super) const DEFAULT_CONCURRENCY: u64 = 8;
/// Daemon defaults.
pub(super) const DEFAULT_LISTEN_ADDRESS: &str = "0.0.0.0:9898";
pub(super) const DEFAULT_MAX_RESOURCE_SERIES: u64 = 1000;
/// System-tag globs used when `ignores.system_tags` does not name the cloud.
pub(super) const DEFAULT_SYSTEM_TAGS: &[(Cloud, &[&str])] = &[
    (Cloud::Alibaba, &["acs:*", "aliyun*"]),
    (Cloud::Huawei, &["_sys_*"]),
];

const TOP: &[&str] = &[
    "version",
    "accounts",
    "resources",
    "defaults",
    "rules",
    "discovery",
    "ignores",
    "schedule",
    "daemon",
];
const ACCOUNT: &[&str] = &[
    "name",
    "cloud",
    "regions",
    "endpoint",
    "credentials",
    "rate_limits",
    "batch_tag_read",
];
const HUAWEI_REGION: &[&str] = &["name", "project_id"];
const RESOURCE: &[&str] = &[
    "account",
    "region",
    "type",
    "id",
    "name",
    "tags",
    "allow_extra_tags",
];
const SELECTOR: &[&str] = &["cloud", "account", "region", "type", "name"];
const DEFAULTS: &[&str] = &["match", "tags"];
const RULE: &[&str] = &[
    "name",
    "match",
    "required",
    "allowed_values",
    "patterns",
    "forbidden",
    "case_insensitive",
];
const RULE_CHECKS: &[&str] = &["required", "allowed_values", "patterns", "forbidden"];
const DISCOVERY: &[&str] = &["match", "report_unmanaged"];
const IGNORES: &[&str] = &["system_tags", "entries"];
const IGNORE: &[&str] = &["match", "keys", "reason", "until"];
const SCHEDULE: &[&str] = &[
    "cron",
    "check_timeout_seconds",
    "request_timeout_seconds",
    "max_attempts",
    "concurrency",
];
const DAEMON: &[&str] = &["listen_address", "log_format", "max_resource_series"];
const SECRET_SOURCE: &[&str] = &["env", "file"];

static ACCOUNT_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9_-]{1,63}$").expect("static regex"));
static REGION_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]+(-[a-z0-9]+)*$").expect("static regex"));
static PROJECT_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[0-9a-f]{32}$").expect("static regex"));
static HUAWEI_KEY_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$").expect("static regex")
});
static ENV_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*$").expect("static regex"));
static DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$").expect("static regex"));

/// Validates the whole document. `None` when anything was reported to `c`.
pub(super) fn desired_state(root: &Node, c: &mut Collector) -> Option<DesiredState> {
    let mut v = Validator {
        c,
        accounts: Vec::new(),
        defaults: Vec::new(),
    };
    let state = v.document(root);
    if v.c.has_problems() { None } else { state }
}

/// What the rest of the file may refer to about an account, known even when the account itself has problems,
/// so one typo does not cascade into "unknown account" everywhere.
struct Known {
    name: String,
    line: usize,
    cloud: Option<Cloud>,
    /// `None` when the regions could not be read.
    regions: Option<Vec<String>>,
}

struct Validator<'c> {
    c: &'c mut Collector,
    accounts: Vec<Known>,
    /// Valid defaults, for counting a declared resource's inherited tags.
    defaults: Vec<Defaults>,
}

/// A tag read from a mapping, with its nodes for locating problems.
struct TagItem<'n> {
    key: String,
    value: String,
    key_node: &'n Node,
    value_node: &'n Node,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CredentialKind {
    Default,
    AccessKey,
    Rrsa,
    EcsRamRole,
    WorkloadIdentity,
    EcsMetadata,
}

const ALIBABA_CREDENTIALS: &[(&str, CredentialKind)] = &[
    ("default", CredentialKind::Default),
    ("access_key", CredentialKind::AccessKey),
    ("rrsa", CredentialKind::Rrsa),
    ("ecs_ram_role", CredentialKind::EcsRamRole),
];
const HUAWEI_CREDENTIALS: &[(&str, CredentialKind)] = &[
    ("default", CredentialKind::Default),
    ("access_key", CredentialKind::AccessKey),
    ("workload_identity", CredentialKind::WorkloadIdentity),
    ("ecs_metadata", CredentialKind::EcsMetadata),
];

impl Validator<'_> {
    fn document(&mut self, root: &Node) -> Option<DesiredState> {
        if !matches!(root.value, Value::Mapping(_)) {
            self.c.at(
                root,
                "",
                format!(
                    "expected a mapping at the top level (with version, accounts, ...), found {}",
                    root.describe()
                ),
            );
            return None;
        }
        let f = self.c.object(root, "", TOP)?;
        self.version(&f);
        let accounts = match self.c.required(&f, "", "accounts") {
            Some(node) => self.accounts(node),
            None => Vec::new(),
        };
        let defaults = self.list(f.get("defaults"), "defaults", Self::defaults_entry);
        self.defaults = defaults.clone();
        let mut seen = HashMap::new();
        let resources = self.list(f.get("resources"), "resources", |v, n, p| {
            v.resource(n, p, &mut seen)
        });
        let mut names = HashMap::new();
        let rules = self.list(f.get("rules"), "rules", |v, n, p| v.rule(n, p, &mut names));
        let discovery = self.list(f.get("discovery"), "discovery", Self::discovery);
        let ignores = self.ignores(f.get("ignores"));
        let schedule = self.schedule(f.get("schedule"));
        let daemon = self.daemon(f.get("daemon"));
        Some(DesiredState {
            accounts,
            resources,
            defaults,
            rules,
            discovery,
            ignores: ignores?,
            schedule: schedule?,
            daemon: daemon?,
        })
    }

    /// Runs `each` on every item of an optional sequence, keeping the items that validated.
    fn list<T>(
        &mut self,
        node: Option<&Node>,
        path: &str,
        mut each: impl FnMut(&mut Self, &Node, &str) -> Option<T>,
    ) -> Vec<T> {
        let Some(items) = node.and_then(|n| self.c.sequence(n, path)) else {
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, n)| each(self, n, &item(path, i)))
            .collect()
    }

    fn version(&mut self, f: &Fields<'_>) {
        let Some(node) = self.c.required(f, "", "version") else {
            return;
        };
        match node.as_scalar().map(|s| s.resolved) {
            Some(Resolved::Int(1)) => {}
            Some(Resolved::Int(n)) => self.c.at(
                node,
                "version",
                format!("unsupported version {n} (this tagdrift reads version 1)"),
            ),
            _ => self.c.at(
                node,
                "version",
                format!("expected the integer 1, found {}", node.describe()),
            ),
        }
    }

    // ---- accounts ------------------------------------------------------------------------------------------

    fn accounts(&mut self, node: &Node) -> Vec<Account> {
        let Some(items) = self.c.sequence(node, "accounts") else {
            return Vec::new();
        };
        if items.is_empty() {
            self.c.at(node, "accounts", "at least one account is required");
        }
        items
            .iter()
            .enumerate()
            .filter_map(|(i, n)| self.account(n, &item("accounts", i)))
            .collect()
    }

    fn account(&mut self, node: &Node, path: &str) -> Option<Account> {
        let before = self.c.count();
        let f = self.c.object(node, path, ACCOUNT)?;

        let name = self.c.required(&f, path, "name").and_then(|n| {
            let p = field(path, "name");
            let name = self.c.string(n, &p)?;
            if !ACCOUNT_NAME.is_match(&name) {
                self.c.at(
                    n,
                    &p,
                    format!(
                        "invalid account name {} (expected 1 to 63 lowercase letters, digits, '-' or '_')",
                        quote(&name)
                    ),
                );
            }
            Some((name, n))
        });
        let cloud = self
            .c
            .required(&f, path, "cloud")
            .and_then(|n| self.cloud(n, &field(path, "cloud")));
        let regions = self
            .c
            .required(&f, path, "regions")
            .and_then(|n| self.regions(n, &field(path, "regions"), cloud));

        if let Some((name, n)) = &name {
            if let Some(first) = self.accounts.iter().find(|k| k.name == *name) {
                let message = format!(
                    "duplicate account name {} (first at line {})",
                    quote(name),
                    first.line
                );
                self.c.at(n, &field(path, "name"), message);
            } else {
                self.accounts.push(Known {
                    name: name.clone(),
                    line: n.mark.line,
                    cloud,
                    regions: regions
                        .as_ref()
                        .map(|rs| rs.iter().map(|r| r.name.clone()).collect()),
                });
            }
        }

        let endpoint = f
            .get("endpoint")
            .and_then(|n| self.url(n, &field(path, "endpoint")));
        let credentials = match (f.get("credentials"), cloud) {
            (None, _) => Some(Credentials::Default),
            (Some(n), Some(cloud)) => self.credentials(n, &field(path, "credentials"), cloud),
            // The cloud is wrong or missing (already reported), so the credential types are unknown.
            (Some(_), None) => None,
        };
        let rate_limits = match f.get("rate_limits") {
            None => Some(BTreeMap::new()),
            Some(n) => self.rate_limits(n, &field(path, "rate_limits"), cloud),
        };
        let batch_tag_read = match f.get("batch_tag_read") {
            None => false,
            Some(n) => {
                let p = field(path, "batch_tag_read");
                if cloud == Some(Cloud::Alibaba) {
                    self.c.at(n, &p, "batch_tag_read applies only to huawei accounts");
                }
                self.c.typed::<bool>(n, &p).unwrap_or(false)
            }
        };
        if self.c.count() > before {
            return None;
        }
        Some(Account {
            name: name?.0,
            cloud: cloud?,
            regions: regions?,
            endpoint,
            credentials: credentials?,
            rate_limits: rate_limits?,
            batch_tag_read,
        })
    }

    fn cloud(&mut self, node: &Node, path: &str) -> Option<Cloud> {
        let options: Vec<(&str, Cloud)> = Cloud::ALL.iter().map(|c| (c.as_str(), *c)).collect();
        self.choice(node, path, "cloud", &options)
    }

    fn resource_type(&mut self, node: &Node, path: &str) -> Option<ResourceType> {
        let options: Vec<(&str, ResourceType)> = ResourceType::ALL.iter().map(|t| (t.as_str(), *t)).collect();
        self.choice(node, path, "resource type", &options)
    }

    /// One of a closed set of words.
    fn choice<T: Copy>(&mut self, node: &Node, path: &str, what: &str, options: &[(&str, T)]) -> Option<T> {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let Some(text) = node.as_str() else {
            self.c.at(
                node,
                path,
                format!(
                    "expected a {what} ({}), found {}",
                    or_list(&names),
                    node.describe()
                ),
            );
            return None;
        };
        match options.iter().find(|(n, _)| *n == text) {
            Some((_, v)) => Some(*v),
            None => {
                self.c.at(
                    node,
                    path,
                    format!("unknown {what} {} (expected {})", quote(text), or_list(&names)),
                );
                None
            }
        }
    }

    fn regions(&mut self, node: &Node, path: &str, cloud: Option<Cloud>) -> Option<Vec<Region>> {
        let before = self.c.count();
        let items = self.c.sequence(node, path)?;
        if items.is_empty() {
            self.c.at(node, path, "at least one region is required");
        }
        let mut regions: Vec<(Region, usize)> = Vec::new();
        for (i, n) in items.iter().enumerate() {
            let p = item(path, i);
            let region = match (&n.value, cloud) {
                (Value::Mapping(_), Some(Cloud::Alibaba)) => {
                    self.c.at(
                        n,
                        &p,
                        "alibaba regions are region ids like cn-hangzhou, found a mapping",
                    );
                    None
                }
                (Value::Mapping(_), _) => self.huawei_region(n, &p),
                (_, Some(Cloud::Huawei)) => {
                    self.c.at(
                        n,
                        &p,
                        format!(
                            "huawei regions need a name and a project_id, like \
                             {{name: cn-north-4, project_id: <32 hex characters>}}, found {}",
                            n.describe()
                        ),
                    );
                    None
                }
                _ => self.region_id(n, &p).map(|name| Region {
                    name,
                    project_id: None,
                }),
            };
            let Some(region) = region else { continue };
            if let Some((_, line)) = regions.iter().find(|(r, _)| r.name == region.name) {
                self.c.at(
                    n,
                    &p,
                    format!("duplicate region {} (first at line {line})", quote(&region.name)),
                );
                continue;
            }
            regions.push((region, n.mark.line));
        }
        (self.c.count() == before).then(|| regions.into_iter().map(|(r, _)| r).collect())
    }

    fn region_id(&mut self, node: &Node, path: &str) -> Option<String> {
        let name = self.c.string(node, path)?;
        if name.len() > 64 || !REGION_ID.is_match(&name) {
            self.c.at(
                node,
                path,
                format!(
                    "invalid region id {} (expected lowercase letters and digits separated by '-', like cn-hangzhou)",
                    quote(&name)
                ),
            );
            return None;
        }
        Some(name)
    }

    fn huawei_region(&mut self, node: &Node, path: &str) -> Option<Region> {
        let before = self.c.count();
        let f = self.c.object(node, path, HUAWEI_REGION)?;
        let name = self
            .c
            .required(&f, path, "name")
            .and_then(|n| self.region_id(n, &field(path, "name")));
        let project_id = self.c.required(&f, path, "project_id").and_then(|n| {
            let p = field(path, "project_id");
            let id = self.c.string(n, &p)?;
            if !PROJECT_ID.is_match(&id) {
                self.c.at(
                    n,
                    &p,
                    format!(
                        "invalid project_id {} (expected 32 lowercase hexadecimal characters)",
                        quote(&id)
                    ),
                );
                return None;
            }
            Some(id)
        });
        (self.c.count() == before).then_some(Region {
            name: name?,
            project_id: Some(project_id?),
        })
    }

    fn url(&mut self, node: &Node, path: &str) -> Option<String> {
        let text = self.c.string(node, path)?;
        match endpoint_url(&text) {
            Ok(url) => Some(url),
            Err(why) => {
                self.c
                    .at(node, path, format!("invalid URL {}: {why}", quote(&text)));
                None
            }
        }
    }

    fn credentials(&mut self, node: &Node, path: &str, cloud: Cloud) -> Option<Credentials> {
        let before = self.c.count();
        let f = self.c.mapping(node, path)?;
        let type_node = self.c.required(&f, path, "type")?;
        let type_path = field(path, "type");
        let (options, other) = match cloud {
            Cloud::Alibaba => (ALIBABA_CREDENTIALS, HUAWEI_CREDENTIALS),
            Cloud::Huawei => (HUAWEI_CREDENTIALS, ALIBABA_CREDENTIALS),
        };
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let kind = match type_node.as_str() {
            Some(t) => match options.iter().find(|(n, _)| *n == t) {
                Some((_, k)) => *k,
                None => {
                    let hint = if other.iter().any(|(n, _)| *n == t) {
                        format!(
                            "credentials type {} is not available for {cloud} accounts",
                            quote(t)
                        )
                    } else {
                        format!("unknown credentials type {}", quote(t))
                    };
                    self.c.at(
                        type_node,
                        &type_path,
                        format!("{hint} (expected {})", or_list(&names)),
                    );
                    return None;
                }
            },
            None => {
                self.c.at(
                    type_node,
                    &type_path,
                    format!(
                        "expected a credentials type ({}), found {}",
                        or_list(&names),
                        type_node.kind()
                    ),
                );
                return None;
            }
        };
        let (id_field, secret_field) = match cloud {
            Cloud::Alibaba => ("access_key_id", "access_key_secret"),
            Cloud::Huawei => ("ak", "sk"),
        };
        let allowed: Vec<&str> = match kind {
            CredentialKind::Default => vec!["type"],
            CredentialKind::AccessKey => vec!["type", id_field, secret_field, "security_token"],
            CredentialKind::Rrsa => vec![
                "type",
                "role_arn",
                "oidc_provider_arn",
                "oidc_token_file",
                "role_session_name",
                "sts_endpoint",
            ],
            CredentialKind::EcsRamRole => vec!["type", "role_name", "metadata_endpoint"],
            CredentialKind::WorkloadIdentity => vec!["type", "idp_id", "id_token_file", "iam_endpoint"],
            CredentialKind::EcsMetadata => vec!["type", "metadata_endpoint"],
        };
        self.c.deny_unknown(&f, path, &allowed);
        let credentials = match kind {
            CredentialKind::Default => Some(Credentials::Default),
            CredentialKind::AccessKey => {
                let id = self
                    .c
                    .required(&f, path, id_field)
                    .and_then(|n| self.secret_source(n, &field(path, id_field)));
                let secret = self
                    .c
                    .required(&f, path, secret_field)
                    .and_then(|n| self.secret_source(n, &field(path, secret_field)));
                let token = f
                    .get("security_token")
                    .map(|n| self.secret_source(n, &field(path, "security_token")));
                match (id, secret, token) {
                    (Some(id), Some(secret), None) => Some(Credentials::AccessKey {
                        id,
                        secret,
                        security_token: None,
                    }),
                    (Some(id), Some(secret), Some(Some(token))) => Some(Credentials::AccessKey {
                        id,
                        secret,
                        security_token: Some(token),
                    }),
                    _ => None,
                }
            }
            CredentialKind::Rrsa => Some(Credentials::AlibabaRrsa {
                role_arn: self.opt_text(&f, path, "role_arn"),
                oidc_provider_arn: self.opt_text(&f, path, "oidc_provider_arn"),
                oidc_token_file: self.opt_text(&f, path, "oidc_token_file"),
                role_session_name: self.opt_text(&f, path, "role_session_name"),
                sts_endpoint: self.opt_url(&f, path, "sts_endpoint"),
            }),
            CredentialKind::EcsRamRole => Some(Credentials::AlibabaEcsRamRole {
                role_name: self.opt_text(&f, path, "role_name"),
                metadata_endpoint: self.opt_url(&f, path, "metadata_endpoint"),
            }),
            CredentialKind::WorkloadIdentity => Some(Credentials::HuaweiWorkloadIdentity {
                idp_id: self.opt_text(&f, path, "idp_id"),
                id_token_file: self.opt_text(&f, path, "id_token_file"),
                iam_endpoint: self.opt_url(&f, path, "iam_endpoint"),
            }),
            CredentialKind::EcsMetadata => Some(Credentials::HuaweiEcsMetadata {
                metadata_endpoint: self.opt_url(&f, path, "metadata_endpoint"),
            }),
        };
        if self.c.count() > before {
            None
        } else {
            credentials
        }
    }

    /// `{env: NAME}` or `{file: PATH}`. Never echoes the node's content: an inline value may be a secret.
    fn secret_source(&mut self, node: &Node, path: &str) -> Option<SecretSource> {
        if !matches!(node.value, Value::Mapping(_)) {
            self.c.at(
                node,
                path,
                "inline credentials are not accepted; use {env: VARIABLE} or {file: PATH} so the file holds no \
                 secret",
            );
            return None;
        }
        let before = self.c.count();
        let f = self.c.object(node, path, SECRET_SOURCE)?;
        match (f.get("env"), f.get("file")) {
            (Some(n), None) => {
                let p = field(path, "env");
                let name = self.c.string(n, &p)?;
                if !ENV_NAME.is_match(&name) {
                    self.c.at(
                        n,
                        &p,
                        format!(
                            "invalid environment variable name {} (expected letters, digits and '_', not starting \
                             with a digit)",
                            quote(&name)
                        ),
                    );
                    return None;
                }
                Some(SecretSource::Env(name))
            }
            (None, Some(n)) => self
                .c
                .non_empty_string(n, &field(path, "file"))
                .map(SecretSource::File),
            // An unknown field already explains what is wrong.
            _ if self.c.count() > before => None,
            _ => {
                self.c.report(
                    Some(f.mark),
                    path,
                    "give exactly one of env or file, like {env: VARIABLE} or {file: PATH}",
                );
                None
            }
        }
    }

    fn opt_text(&mut self, f: &Fields<'_>, path: &str, name: &str) -> Option<String> {
        f.get(name)
            .and_then(|n| self.c.non_empty_string(n, &field(path, name)))
    }

    fn opt_url(&mut self, f: &Fields<'_>, path: &str, name: &str) -> Option<String> {
        f.get(name).and_then(|n| self.url(n, &field(path, name)))
    }

    fn rate_limits(
        &mut self,
        node: &Node,
        path: &str,
        cloud: Option<Cloud>,
    ) -> Option<BTreeMap<String, f64>> {
        let before = self.c.count();
        let f = self.c.mapping(node, path)?;
        let mut limits = BTreeMap::new();
        for (name, key, value) in f.iter() {
            let p = field(path, name);
            let group = API_GROUPS
                .iter()
                .find(|g| g.name == name && cloud.is_none_or(|c| c == g.cloud));
            if group.is_none()
                && let Some(cloud) = cloud
            {
                let valid: Vec<&str> = API_GROUPS
                    .iter()
                    .filter(|g| g.cloud == cloud)
                    .map(|g| g.name)
                    .collect();
                self.c.at(
                    key,
                    &p,
                    format!(
                        "unknown rate-limit group {} for {cloud} accounts (expected one of: {})",
                        quote(name),
                        valid.join(", ")
                    ),
                );
            }
            let Some(rate) = self.c.typed::<f64>(value, &p) else {
                continue;
            };
            let max = group.map_or(f64::MAX, |g| g.documented_qps);
            if !(rate.is_finite() && rate > 0.0 && rate <= max) {
                let bound = group.map_or(String::new(), |g| {
                    format!(" and at most {} (the documented quota)", g.documented_qps)
                });
                self.c.at(
                    value,
                    &p,
                    format!("requests per second must be greater than 0{bound}, found {rate}"),
                );
                continue;
            }
            limits.insert(name.to_string(), rate);
        }
        (self.c.count() == before).then_some(limits)
    }

    // ---- selectors and tags --------------------------------------------------------------------------------

    /// The `match` field of a defaults, rule, discovery or ignore entry; every field optional.
    fn selector(&mut self, f: &Fields<'_>, path: &str) -> Option<Selector> {
        let Some(node) = f.get("match") else {
            return Some(Selector::default());
        };
        let path = field(path, "match");
        let before = self.c.count();
        let sf = self.c.object(node, &path, SELECTOR)?;
        let cloud = sf
            .get("cloud")
            .and_then(|n| self.cloud(n, &field(&path, "cloud")));
        let resource_type = sf
            .get("type")
            .and_then(|n| self.resource_type(n, &field(&path, "type")));
        let account = sf.get("account").and_then(|n| {
            let p = field(&path, "account");
            let glob = self.glob(n, &p, false)?;
            if !is_glob(&glob.pattern) {
                match self.accounts.iter().find(|k| k.name == glob.pattern) {
                    None => {
                        let message = self.unknown_account(&glob.pattern);
                        self.c.at(n, &p, message);
                    }
                    Some(known) => {
                        if let (Some(want), Some(have)) = (cloud, known.cloud)
                            && want != have
                        {
                            self.c.at(
                                n,
                                &p,
                                format!(
                                    "account {} is on {have}, so this selector (cloud: {want}) matches nothing",
                                    quote(&glob.pattern)
                                ),
                            );
                        }
                    }
                }
            }
            Some(glob)
        });
        let region = sf
            .get("region")
            .and_then(|n| self.glob(n, &field(&path, "region"), false));
        let name = sf
            .get("name")
            .and_then(|n| self.glob(n, &field(&path, "name"), false));
        (self.c.count() == before).then_some(Selector {
            cloud,
            account,
            region,
            resource_type,
            name,
        })
    }

    fn unknown_account(&self, name: &str) -> String {
        let known: Vec<&str> = self.accounts.iter().map(|k| k.name.as_str()).collect();
        format!(
            "unknown account {} (known: {})",
            quote(name),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )
    }

    fn glob(&mut self, node: &Node, path: &str, case_insensitive: bool) -> Option<Glob> {
        let pattern = self.c.string(node, path)?;
        if pattern.is_empty() {
            self.c.at(node, path, "glob must not be empty");
            return None;
        }
        match GlobBuilder::new(&pattern)
            .case_insensitive(case_insensitive)
            .build()
        {
            Ok(glob) => Some(Glob {
                matcher: glob.compile_matcher(),
                pattern,
            }),
            Err(e) => {
                self.c.at(
                    node,
                    path,
                    format!("invalid glob {}: {}", quote(&pattern), e.kind()),
                );
                None
            }
        }
    }

    fn globs(&mut self, node: &Node, path: &str, case_insensitive: bool) -> Option<Vec<Glob>> {
        let before = self.c.count();
        let items = self.c.sequence(node, path)?;
        let globs: Vec<Glob> = items
            .iter()
            .enumerate()
            .filter_map(|(i, n)| self.glob(n, &item(path, i), case_insensitive))
            .collect();
        (self.c.count() == before).then_some(globs)
    }

    /// The tag rules of every cloud and resource type `selector` could match, given the configured accounts.
    fn candidate_rules(&self, selector: &Selector) -> Vec<TagRules> {
        let clouds: BTreeSet<Cloud> = self
            .accounts
            .iter()
            .filter(|k| selector.account.as_ref().is_none_or(|g| g.is_match(&k.name)))
            .filter_map(|k| k.cloud)
            .filter(|c| selector.cloud.is_none_or(|want| want == *c))
            .collect();
        let types: Vec<ResourceType> = match selector.resource_type {
            Some(t) => vec![t],
            None => ResourceType::ALL.to_vec(),
        };
        let rules: BTreeSet<TagRules> = clouds
            .iter()
            .flat_map(|c| types.iter().map(|t| TagRules::of(*c, *t)))
            .collect();
        rules.into_iter().collect()
    }

    /// A tag key or value: a string, written so that every YAML tool reads the same string.
    fn tag_text(&mut self, node: &Node, path: &str, what: &str) -> Option<String> {
        let problem = match &node.value {
            Value::Scalar(s) => match s.resolved {
                Resolved::String if s.plain && is_yaml11_bool(&s.text) => format!(
                    "{what} {} is a boolean to YAML 1.1 tools; quote it (\"{}\") so every tool reads a string",
                    quote(&s.text),
                    s.text
                ),
                Resolved::String => return Some(s.text.to_string()),
                Resolved::Null => {
                    format!("{what} must be a string, found null (write \"\" for an empty string)")
                }
                _ => format!(
                    "{what} must be a string, found {}; tags are strings, so quote it: \"{}\"",
                    node.describe(),
                    s.text
                ),
            },
            _ => format!("{what} must be a string, found {}", node.kind()),
        };
        self.c.at(node, path, problem);
        None
    }

    /// A mapping of tag keys to tag values.
    fn tag_map<'n>(&mut self, node: &'n Node, path: &str) -> Option<Vec<TagItem<'n>>> {
        let f = self.c.mapping(node, path)?;
        // Tags that read well are returned even when others did not, so their limits are checked too.
        let mut tags = Vec::with_capacity(f.len());
        for (name, key_node, value_node) in f.iter() {
            let p = field(path, name);
            let key = self.tag_text(key_node, &p, "tag key");
            let value = self.tag_text(value_node, &p, "tag value");
            if let (Some(key), Some(value)) = (key, value) {
                tags.push(TagItem {
                    key,
                    value,
                    key_node,
                    value_node,
                });
            }
        }
        Some(tags)
    }

    /// Reports every key and value that one of `rules` would refuse.
    fn check_tags(&mut self, tags: &[TagItem<'_>], path: &str, rules: &[TagRules]) {
        for tag in tags {
            let p = field(path, &tag.key);
            for r in rules {
                if let Err(m) = r.check_key(&tag.key) {
                    self.c.at(tag.key_node, &p, m);
                }
                if let Err(m) = r.check_value(&tag.value) {
                    self.c.at(tag.value_node, &p, m);
                }
            }
        }
    }

    /// A list of tag keys (a rule's `required`), checked against `rules`.
    fn tag_keys(&mut self, node: &Node, path: &str, rules: &[TagRules]) -> Option<Vec<String>> {
        let before = self.c.count();
        let items = self.c.sequence(node, path)?;
        let mut keys: Vec<String> = Vec::with_capacity(items.len());
        for (i, n) in items.iter().enumerate() {
            let p = item(path, i);
            let Some(key) = self.tag_text(n, &p, "tag key") else {
                continue;
            };
            self.check_key(n, &p, &key, rules);
            if keys.contains(&key) {
                self.c
                    .at(n, &p, format!("tag key {} is listed twice", quote(&key)));
                continue;
            }
            keys.push(key);
        }
        (self.c.count() == before).then_some(keys)
    }

    fn check_key(&mut self, node: &Node, path: &str, key: &str, rules: &[TagRules]) {
        for r in rules {
            if let Err(m) = r.check_key(key) {
                self.c.at(node, path, m);
            }
        }
    }

    // ---- resources and defaults ----------------------------------------------------------------------------

    fn resource(
        &mut self,
        node: &Node,
        path: &str,
        seen: &mut HashMap<(String, String, ResourceType, String), usize>,
    ) -> Option<DeclaredResource> {
        let before = self.c.count();
        let f = self.c.object(node, path, RESOURCE)?;

        let account = self.c.required(&f, path, "account").and_then(|n| {
            let p = field(path, "account");
            let name = self.c.string(n, &p)?;
            let index = self.accounts.iter().position(|k| k.name == name);
            if index.is_none() {
                let message = self.unknown_account(&name);
                self.c.at(n, &p, message);
            }
            Some((name, index))
        });
        let known = account
            .as_ref()
            .and_then(|(_, i)| *i)
            .and_then(|i| self.accounts.get(i));
        let cloud = known.and_then(|k| k.cloud);
        let known_regions = known.and_then(|k| k.regions.clone());
        let account_name = account.map(|(name, _)| name);

        let region = self.c.required(&f, path, "region").and_then(|n| {
            let p = field(path, "region");
            let region = self.c.string(n, &p)?;
            if let (Some(regions), Some(account)) = (&known_regions, &account_name)
                && !regions.contains(&region)
            {
                self.c.at(
                    n,
                    &p,
                    format!(
                        "region {} is not configured for account {} (configured: {})",
                        quote(&region),
                        quote(account),
                        regions.join(", ")
                    ),
                );
            }
            Some(region)
        });
        let resource_type = self
            .c
            .required(&f, path, "type")
            .and_then(|n| self.resource_type(n, &field(path, "type")));

        // Keys are named by `id`, secrets by `name`; the other field is a mistake worth its own message.
        let (id_field, wrong) = match resource_type {
            Some(ResourceType::Key) => (
                "id",
                Some(("name", "keys are identified by 'id' (the KeyId), not 'name'")),
            ),
            Some(ResourceType::Secret) => (
                "name",
                Some((
                    "id",
                    "secrets are identified by 'name' (the secret name), not 'id'",
                )),
            ),
            // The type is wrong (reported); take whichever identifier is there to check the rest.
            None if f.get("id").is_none() && f.get("name").is_some() => ("name", None),
            None => ("id", None),
        };
        let wrong_key = wrong.and_then(|(name, message)| f.key(name).map(|k| (name, message, k)));
        if let Some((name, message, key)) = wrong_key {
            self.c.at(key, &field(path, name), message);
        }
        // With only the wrong field given, "missing required field" would say the same thing twice.
        let check_id = f.key(id_field).is_some() || wrong_key.is_none();
        let id = check_id.then_some(()).and_then(|()| {
            let n = self.c.required(&f, path, id_field)?;
            let p = field(path, id_field);
            let id = self.c.non_empty_string(n, &p)?;
            if cloud == Some(Cloud::Huawei)
                && resource_type == Some(ResourceType::Key)
                && !HUAWEI_KEY_ID.is_match(&id)
            {
                self.c.at(
                    n,
                    &p,
                    format!(
                        "invalid huawei key id {} (expected a UUID like 0d0466b0-e727-4d9c-b35d-f84bb474a37f)",
                        quote(&id)
                    ),
                );
            }
            Some(id)
        });

        let tags_path = field(path, "tags");
        let tags = match f.get("tags") {
            None => Some(Vec::new()),
            Some(n) => self.tag_map(n, &tags_path),
        };
        if let (Some(tags), Some(cloud), Some(t)) = (&tags, cloud, resource_type) {
            let rules = TagRules::of(cloud, t);
            self.check_tags(tags, &tags_path, &[rules]);
            if let (Some(max), Some(account), Some(region), Some(id)) =
                (rules.max_tags(), &account_name, &region, &id)
            {
                let inherited: BTreeSet<&str> = self
                    .defaults
                    .iter()
                    .filter(|d| selects(&d.selector, cloud, account, region, t, id))
                    .flat_map(|d| d.tags.keys().map(String::as_str))
                    .filter(|k| !tags.iter().any(|tag| tag.key == *k))
                    .collect();
                let total = tags.len() + inherited.len();
                if total > max {
                    let counted = if inherited.is_empty() {
                        format!("{} tags are declared", tags.len())
                    } else {
                        format!(
                            "{} declared tags and {} inherited from defaults make {total}",
                            tags.len(),
                            inherited.len()
                        )
                    };
                    let at = f.get("tags").map_or(f.mark, |n| n.mark);
                    self.c.report(
                        Some(at),
                        &tags_path,
                        format!("{counted}; {} allow at most {max} tags", rules.label()),
                    );
                }
            }
        }
        let allow_extra_tags = f
            .get("allow_extra_tags")
            .and_then(|n| self.c.typed::<bool>(n, &field(path, "allow_extra_tags")))
            .unwrap_or(false);

        if let (Some(account), Some(region), Some(t), Some(id)) = (&account_name, &region, resource_type, &id)
        {
            let key = (account.clone(), region.clone(), t, id.clone());
            if let Some(first) = seen.get(&key) {
                self.c.at(
                    node,
                    path,
                    format!(
                        "duplicate resource: {t} {} in account {} region {} is already declared at line {first}",
                        quote(id),
                        quote(account),
                        quote(region)
                    ),
                );
            } else {
                seen.insert(key, node.mark.line);
            }
        }
        if self.c.count() > before {
            return None;
        }
        Some(DeclaredResource {
            cloud: cloud?,
            account: account_name?,
            region: region?,
            resource_type: resource_type?,
            id: id?,
            tags: tags?.into_iter().map(|t| (t.key, t.value)).collect::<Tags>(),
            allow_extra_tags,
            line: node.mark.line,
        })
    }

    fn defaults_entry(&mut self, node: &Node, path: &str) -> Option<Defaults> {
        let before = self.c.count();
        let f = self.c.object(node, path, DEFAULTS)?;
        let selector = self.selector(&f, path);
        let tags_path = field(path, "tags");
        let tags = self.c.required(&f, path, "tags").and_then(|n| {
            let tags = self.tag_map(n, &tags_path)?;
            if tags.is_empty() {
                self.c.at(n, &tags_path, "defaults must declare at least one tag");
            }
            Some(tags)
        });
        if let (Some(selector), Some(tags)) = (&selector, &tags) {
            let rules = self.candidate_rules(selector);
            self.check_tags(tags, &tags_path, &rules);
        }
        if self.c.count() > before {
            return None;
        }
        Some(Defaults {
            selector: selector?,
            tags: tags?.into_iter().map(|t| (t.key, t.value)).collect(),
        })
    }

    // ---- rules and discovery -------------------------------------------------------------------------------

    fn rule(&mut self, node: &Node, path: &str, names: &mut HashMap<String, usize>) -> Option<Rule> {
        let before = self.c.count();
        let f = self.c.object(node, path, RULE)?;
        let name = self.c.required(&f, path, "name").and_then(|n| {
            let p = field(path, "name");
            let name = self.c.non_empty_string(n, &p)?;
            if let Some(first) = names.get(&name) {
                self.c.at(
                    n,
                    &p,
                    format!("duplicate rule name {} (first at line {first})", quote(&name)),
                );
            } else {
                names.insert(name.clone(), n.mark.line);
            }
            Some(name)
        });
        let selector = self.selector(&f, path);
        let case_insensitive = f
            .get("case_insensitive")
            .and_then(|n| self.c.typed::<bool>(n, &field(path, "case_insensitive")))
            .unwrap_or(false);
        let rules = selector
            .as_ref()
            .map_or_else(Vec::new, |s| self.candidate_rules(s));

        let required = match f.get("required") {
            None => Some(Vec::new()),
            Some(n) => self.tag_keys(n, &field(path, "required"), &rules),
        };
        let allowed_values = match f.get("allowed_values") {
            None => Some(BTreeMap::new()),
            Some(n) => self.allowed_values(n, &field(path, "allowed_values"), &rules),
        };
        let patterns = match f.get("patterns") {
            None => Some(BTreeMap::new()),
            Some(n) => self.patterns(n, &field(path, "patterns"), case_insensitive, &rules),
        };
        let forbidden = match f.get("forbidden") {
            None => Some(Vec::new()),
            Some(n) => self.globs(n, &field(path, "forbidden"), case_insensitive),
        };
        let has_checks = RULE_CHECKS.iter().any(|k| match f.get(k).map(|n| &n.value) {
            Some(Value::Sequence(items)) => !items.is_empty(),
            Some(Value::Mapping(entries)) => !entries.is_empty(),
            Some(Value::Scalar(_)) => true, // wrong type, reported above
            None => false,
        });
        if !has_checks {
            self.c.report(
                Some(f.mark),
                path,
                format!(
                    "rule has no checks (give at least one of {})",
                    RULE_CHECKS.join(", ")
                ),
            );
        }
        if self.c.count() > before {
            return None;
        }
        Some(Rule {
            name: name?,
            selector: selector?,
            required: required?,
            allowed_values: allowed_values?,
            patterns: patterns?,
            forbidden: forbidden?,
            case_insensitive,
        })
    }

    fn allowed_values(
        &mut self,
        node: &Node,
        path: &str,
        rules: &[TagRules],
    ) -> Option<BTreeMap<String, Vec<String>>> {
        let before = self.c.count();
        let f = self.c.mapping(node, path)?;
        let mut allowed = BTreeMap::new();
        for (name, key_node, values_node) in f.iter() {
            let p = field(path, name);
            let Some(key) = self.tag_text(key_node, &p, "tag key") else {
                continue;
            };
            self.check_key(key_node, &p, &key, rules);
            let Some(items) = self.c.sequence(values_node, &p) else {
                continue;
            };
            if items.is_empty() {
                self.c.at(values_node, &p, "list at least one allowed value");
            }
            let mut values = Vec::with_capacity(items.len());
            for (i, n) in items.iter().enumerate() {
                let vp = item(&p, i);
                let Some(value) = self.tag_text(n, &vp, "tag value") else {
                    continue;
                };
                for r in rules {
                    if let Err(m) = r.check_value(&value) {
                        self.c.at(n, &vp, m);
                    }
                }
                values.push(value);
            }
            allowed.insert(key, values);
        }
        (self.c.count() == before).then_some(allowed)
    }

    fn patterns(
        &mut self,
        node: &Node,
        path: &str,
        case_insensitive: bool,
        rules: &[TagRules],
    ) -> Option<BTreeMap<String, Pattern>> {
        let before = self.c.count();
        let f = self.c.mapping(node, path)?;
        let mut patterns = BTreeMap::new();
        for (name, key_node, value) in f.iter() {
            let p = field(path, name);
            let Some(key) = self.tag_text(key_node, &p, "tag key") else {
                continue;
            };
            self.check_key(key_node, &p, &key, rules);
            let Some(source) = self.c.string(value, &p) else {
                continue;
            };
            match RegexBuilder::new(&source)
                .case_insensitive(case_insensitive)
                .build()
            {
                Ok(regex) => {
                    patterns.insert(key, Pattern { source, regex });
                }
                Err(e) => self.c.at(
                    value,
                    &p,
                    format!("invalid regex {}: {}", quote(&source), regex_message(&e)),
                ),
            }
        }
        (self.c.count() == before).then_some(patterns)
    }

    fn discovery(&mut self, node: &Node, path: &str) -> Option<Discovery> {
        let before = self.c.count();
        let f = self.c.object(node, path, DISCOVERY)?;
        let selector = self.selector(&f, path);
        let report_unmanaged = f
            .get("report_unmanaged")
            .and_then(|n| self.c.typed::<bool>(n, &field(path, "report_unmanaged")))
            .unwrap_or(true);
        if self.c.count() > before {
            return None;
        }
        Some(Discovery {
            selector: selector?,
            report_unmanaged,
        })
    }

    // ---- ignores, schedule, daemon -------------------------------------------------------------------------

    fn ignores(&mut self, node: Option<&Node>) -> Option<Ignores> {
        let before = self.c.count();
        let path = "ignores";
        let f = match node {
            None => None,
            Some(n) => Some(self.c.object(n, path, IGNORES)?),
        };
        let mut system_tags = BTreeMap::new();
        let overrides = f.as_ref().and_then(|f| f.get("system_tags")).and_then(|n| {
            let clouds: Vec<&str> = Cloud::ALL.iter().map(|c| c.as_str()).collect();
            self.c.object(n, &field(path, "system_tags"), &clouds)
        });
        for (cloud, defaults) in DEFAULT_SYSTEM_TAGS {
            let globs = match overrides.as_ref().and_then(|o| o.get(cloud.as_str())) {
                Some(n) => self.globs(n, &field(&field(path, "system_tags"), cloud.as_str()), false),
                None => Some(
                    defaults
                        .iter()
                        .filter_map(|p| {
                            GlobBuilder::new(p).build().ok().map(|g| Glob {
                                pattern: (*p).to_string(),
                                matcher: g.compile_matcher(),
                            })
                        })
                        .collect(),
                ),
            };
            if let Some(globs) = globs {
                system_tags.insert(*cloud, globs);
            }
        }
        let entries_node = f.as_ref().and_then(|f| f.get("entries"));
        let entries = self.list(entries_node, &field(path, "entries"), Self::ignore);
        (self.c.count() == before).then_some(Ignores { system_tags, entries })
    }

    fn ignore(&mut self, node: &Node, path: &str) -> Option<Ignore> {
        let before = self.c.count();
        let f = self.c.object(node, path, IGNORE)?;
        let selector = self.selector(&f, path);
        let keys = match f.get("keys") {
            None => Some(Vec::new()),
            Some(n) => self.globs(n, &field(path, "keys"), false),
        };
        let reason = self
            .c
            .required(&f, path, "reason")
            .and_then(|n| self.c.non_empty_string(n, &field(path, "reason")));
        let until = f.get("until").and_then(|n| {
            let p = field(path, "until");
            let text = self.c.string(n, &p)?;
            let date = DATE
                .is_match(&text)
                .then(|| NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok())
                .flatten();
            if date.is_none() {
                self.c.at(
                    n,
                    &p,
                    format!(
                        "invalid date {} (expected YYYY-MM-DD, like 2026-12-31)",
                        quote(&text)
                    ),
                );
            }
            date
        });
        if self.c.count() > before {
            return None;
        }
        Some(Ignore {
            selector: selector?,
            keys: keys?,
            reason: reason?,
            until,
        })
    }

    fn schedule(&mut self, node: Option<&Node>) -> Option<Schedule> {
        let before = self.c.count();
        let path = "schedule";
        let f = match node {
            None => None,
            Some(n) => Some(self.c.object(n, path, SCHEDULE)?),
        };
        let cron = match f.as_ref().and_then(|f| f.get("cron")) {
            None => Some(DEFAULT_CRON.to_string()),
            Some(n) => {
                let p = field(path, "cron");
                self.c.string(n, &p).and_then(|expr| match check_cron(&expr) {
                    Ok(()) => Some(expr),
                    Err(why) => {
                        self.c
                            .at(n, &p, format!("invalid cron expression {}: {why}", quote(&expr)));
                        None
                    }
                })
            }
        };
        let check = self.number(
            f.as_ref(),
            path,
            "check_timeout_seconds",
            DEFAULT_CHECK_TIMEOUT_SECONDS,
            1,
            86_400,
        );
        let request = self.number(
            f.as_ref(),
            path,
            "request_timeout_seconds",
            DEFAULT_REQUEST_TIMEOUT_SECONDS,
            1,
            3_600,
        );
        if let (Some(check), Some(request), Some(f)) = (check, request, &f)
            && request > check
        {
            let at = f.get("request_timeout_seconds").map_or(f.mark, |n| n.mark);
            self.c.report(
                Some(at),
                &field(path, "request_timeout_seconds"),
                format!(
                    "request_timeout_seconds ({request}) must not exceed check_timeout_seconds ({check})"
                ),
            );
        }
        let attempts = self.number(f.as_ref(), path, "max_attempts", DEFAULT_MAX_ATTEMPTS, 1, 10);
        let concurrency = self.number(f.as_ref(), path, "concurrency", DEFAULT_CONCURRENCY, 1, 64);
        if self.c.count() > before {
            return None;
        }
        Some(Schedule {
            cron: cron?,
            check_timeout: Duration::from_secs(check?),
            request_timeout: Duration::from_secs(request?),
            max_attempts: u32::try_from(attempts?).ok()?,
            concurrency: usize::try_from(concurrency?).ok()?,
        })
    }

    /// An optional integer field within `min..=max`, or its default.
    fn number(
        &mut self,
        f: Option<&Fields<'_>>,
        path: &str,
        name: &str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let Some(node) = f.and_then(|f| f.get(name)) else {
            return Some(default);
        };
        let p = field(path, name);
        let n = self.c.typed::<u64>(node, &p)?;
        if !(min..=max).contains(&n) {
            self.c
                .at(node, &p, format!("must be from {min} to {max}, found {n}"));
            return None;
        }
        Some(n)
    }

    fn daemon(&mut self, node: Option<&Node>) -> Option<Daemon> {
        let before = self.c.count();
        let path = "daemon";
        let f = match node {
            None => None,
            Some(n) => Some(self.c.object(n, path, DAEMON)?),
        };
        let listen_address = match f.as_ref().and_then(|f| f.get("listen_address")) {
            None => DEFAULT_LISTEN_ADDRESS.parse::<SocketAddr>().ok(),
            Some(n) => {
                let p = field(path, "listen_address");
                self.c.string(n, &p).and_then(|text| match text.parse::<SocketAddr>() {
                    Ok(addr) => Some(addr),
                    Err(_) => {
                        self.c.at(
                            n,
                            &p,
                            format!(
                                "invalid listen address {} (expected IP:PORT, like 0.0.0.0:9898 or [::]:9898)",
                                quote(&text)
                            ),
                        );
                        None
                    }
                })
            }
        };
        let log_format = match f.as_ref().and_then(|f| f.get("log_format")) {
            None => Some(LogFormat::Text),
            Some(n) => self.choice(
                n,
                &field(path, "log_format"),
                "log format",
                &[("text", LogFormat::Text), ("json", LogFormat::Json)],
            ),
        };
        let series = self.number(
            f.as_ref(),
            path,
            "max_resource_series",
            DEFAULT_MAX_RESOURCE_SERIES,
            0,
            1_000_000,
        );
        if self.c.count() > before {
            return None;
        }
        Some(Daemon {
            listen_address: listen_address?,
            log_format: log_format?,
            max_resource_series: usize::try_from(series?).ok()?,
        })
    }
}

/// Whether `selector` picks the declared resource (by its id; aliases are unknown until the cloud is read).
fn selects(
    selector: &Selector,
    cloud: Cloud,
    account: &str,
    region: &str,
    resource_type: ResourceType,
    id: &str,
) -> bool {
    selector.cloud.is_none_or(|c| c == cloud)
        && selector.account.as_ref().is_none_or(|g| g.is_match(account))
        && selector.region.as_ref().is_none_or(|g| g.is_match(region))
        && selector.resource_type.is_none_or(|t| t == resource_type)
        && selector.name.as_ref().is_none_or(|g| g.is_match(id))
}

/// Whether `text` uses glob syntax (else it is a literal name).
fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

/// Plain scalars that YAML 1.1 tools read as booleans while YAML 1.2 reads them as strings.
fn is_yaml11_bool(text: &str) -> bool {
    matches!(
        text.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off"
    )
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// Validates cron as tokio-cron-scheduler 0.15 parses it (`JobBuilder::with_schedule`: croner with seconds
/// required), so a schedule accepted here is accepted there.
pub fn check_cron(expr: &str) -> Result<(), String> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .build()
        .parse(expr)
        .map(|_| ())
        .map_err(|e| one_line(e.to_string().trim_end_matches('.')))
}

/// The regex crate's multi-line syntax error, reduced to its `error: ...` line.
fn regex_message(e: &regex::Error) -> String {
    let text = e.to_string();
    let reason = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::to_string);
    reason.unwrap_or_else(|| one_line(&text))
}

fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Normalizes an endpoint: `http://` or `https://`, a host and optional port, nothing after a single `/`.
/// Returns the URL without the trailing slash.
pub fn endpoint_url(text: &str) -> Result<String, String> {
    let (scheme, rest) = text
        .split_once("://")
        .ok_or("expected http:// or https:// followed by a host")?;
    if scheme != "http" && scheme != "https" {
        return Err(format!("the scheme must be http or https, not {}", quote(scheme)));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if !tail.is_empty() && tail != "/" {
        return Err("no path, query or fragment is allowed after the host".to_string());
    }
    if authority.contains('@') {
        return Err("credentials in the URL are not allowed".to_string());
    }
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (v6, after) = inner.split_once(']').ok_or("unclosed '[' in the host")?;
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{} is not an IPv6 address", quote(v6)));
        }
        match after {
            "" => (v6, None),
            _ => (
                v6,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or("expected ':' and a port after ']'")?,
                ),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let host_ok = !host.is_empty()
        && (authority.starts_with('[')
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'));
    if !host_ok {
        return Err("the host must be a name or an IP address".to_string());
    }
    if let Some(port) = port
        && !(port.chars().all(|c| c.is_ascii_digit()) && matches!(port.parse::<u32>(), Ok(1..=65535)))
    {
        return Err(format!("invalid port {} (expected 1 to 65535)", quote(port)));
    }
    Ok(format!("{scheme}://{authority}"))
}
