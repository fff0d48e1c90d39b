//! The `accounts` section: names, clouds, regions, endpoints and rate limits (credentials have their own
//! module). Every account that has a readable name is remembered in `Validator::accounts`, even when other
//! fields of it are wrong, because every later section refers to accounts by name and one typo in an
//! account should not turn into "unknown account" in each of them.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::{Known, Validator, endpoint_url};
use crate::config::model::{API_GROUPS, Account, BatchTagRead, Credentials, REGION_PLACEHOLDER, Region};
use crate::vocab::Cloud;
use crate::yaml::Resolved;
use crate::yaml::{Node, Value, field, item, quote};

pub(in crate::config) const ACCOUNT: &[&str] = &[
    "name",
    "cloud",
    "regions",
    "endpoint",
    "credentials",
    "rate_limits",
    "batch_tag_read",
];
pub(in crate::config) const HUAWEI_REGION: &[&str] = &["name", "project_id"];

/// Also stated by the JSON Schema.
pub(in crate::config) const ACCOUNT_NAME_PATTERN: &str = r"^[a-z0-9_-]{1,63}$";
static ACCOUNT_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(ACCOUNT_NAME_PATTERN).expect("static regex"));
/// Also stated by the JSON Schema.
pub(in crate::config) const REGION_ID_PATTERN: &str = r"^[a-z0-9]+(-[a-z0-9]+)*$";
static REGION_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(REGION_ID_PATTERN).expect("static regex"));
/// Also stated by the JSON Schema.
pub(in crate::config) const PROJECT_ID_PATTERN: &str = r"^[0-9a-f]{32}$";
static PROJECT_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(PROJECT_ID_PATTERN).expect("static regex"));

impl Validator<'_> {
    pub(super) fn accounts(&mut self, node: &Node) -> Vec<Account> {
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

        let name = self
            .c
            .required(&f, path, "name")
            .and_then(|n| self.account_name(n, &field(path, "name")).map(|name| (name, n)));
        let cloud = self
            .c
            .required(&f, path, "cloud")
            .and_then(|n| self.cloud(n, &field(path, "cloud")));
        let regions = self
            .c
            .required(&f, path, "regions")
            .and_then(|n| self.regions(n, &field(path, "regions"), cloud));
        if let Some((name, n)) = &name {
            self.remember_account(name, n, &field(path, "name"), cloud, regions.as_deref());
        }

        let endpoint = f
            .get("endpoint")
            .and_then(|n| self.region_url(n, &field(path, "endpoint")));
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
            None => BatchTagRead::Auto,
            Some(n) => {
                let p = field(path, "batch_tag_read");
                if cloud == Some(Cloud::Alibaba) {
                    self.c.at(n, &p, "batch_tag_read applies only to huawei accounts");
                }
                self.batch_tag_read(n, &p)
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

    /// An account's name, kept even when it breaks the naming rule: the rule is reported once here, and later
    /// references to the name should still resolve.
    /// `auto`, `true` or `false`.
    fn batch_tag_read(&mut self, node: &Node, path: &str) -> BatchTagRead {
        match node.as_scalar().map(|s| (&s.resolved, &*s.text)) {
            Some((Resolved::Bool(true), _)) => BatchTagRead::Always,
            Some((Resolved::Bool(false), _)) => BatchTagRead::Never,
            Some((Resolved::String, "auto")) => BatchTagRead::Auto,
            _ => {
                self.c.at(
                    node,
                    path,
                    format!("expected auto, true or false, found {}", node.describe()),
                );
                BatchTagRead::Auto
            }
        }
    }

    fn account_name(&mut self, node: &Node, path: &str) -> Option<String> {
        let name = self.c.string(node, path)?;
        if !ACCOUNT_NAME.is_match(&name) {
            self.c.at(
                node,
                path,
                format!(
                    "invalid account name {} (expected 1 to 63 lowercase letters, digits, '-' or '_')",
                    quote(&name)
                ),
            );
        }
        Some(name)
    }

    /// Records the account for the sections that refer to it, unless the name is taken: the first account
    /// with a name is the one later references mean.
    fn remember_account(
        &mut self,
        name: &str,
        node: &Node,
        path: &str,
        cloud: Option<Cloud>,
        regions: Option<&[Region]>,
    ) {
        if let Some((_, first)) = self.known_account(name) {
            let message = format!(
                "duplicate account name {} (first at {})",
                quote(name),
                self.place(&first.file, first.line)
            );
            self.c.at(node, path, message);
        } else {
            self.account_index.insert(name.to_string(), self.accounts.len());
            self.accounts.push(Known {
                name: name.to_string(),
                file: self.c.file().to_string(),
                line: node.mark.line,
                cloud,
                regions: regions.map(|rs| rs.iter().map(|r| r.name.clone()).collect()),
            });
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

    /// An account's endpoint: a URL whose host may contain `{region}`, replaced by each region's name when the
    /// account is read, so one account can use per-region VPC endpoints (`https://kms-vpc.{region}.aliyuncs.com`).
    fn region_url(&mut self, node: &Node, path: &str) -> Option<String> {
        let text = self.c.string(node, path)?;
        // Checked with a host label in place of the placeholder: the placeholder is only allowed where a host
        // label may stand, and a real region name is one (regions are checked on their own).
        const LABEL: &str = "tagdrift-region-placeholder";
        if text.contains(LABEL) {
            self.c.at(
                node,
                path,
                format!("invalid URL {}: it contains {LABEL}", quote(&text)),
            );
            return None;
        }
        // `endpoint_url` refuses paths, queries, user info and non-numeric ports, so a URL that passes has the
        // label in its host only.
        let back = |s: String| s.replace(LABEL, REGION_PLACEHOLDER);
        match endpoint_url(&text.replace(REGION_PLACEHOLDER, LABEL))
            .map(back)
            .map_err(back)
        {
            Ok(url) => Some(url),
            Err(why) => {
                self.c
                    .at(node, path, format!("invalid URL {}: {why}", quote(&text)));
                None
            }
        }
    }

    pub(super) fn url(&mut self, node: &Node, path: &str) -> Option<String> {
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
}
