//! The `resources` and `defaults` sections. A declared resource is checked against the accounts section (its
//! account must exist, its region must be one the account lists) and against the defaults, whose tags it
//! inherits: the cloud's per-resource tag limit applies to declared and inherited tags together, and a
//! resource whose desired tags could never fit on it is a mistake in the file, not drift.

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use regex::Regex;

use super::{TagItem, Validator};
use crate::config::model::{DeclaredResource, Defaults, Selector};
use crate::config::tags::TagRules;
use crate::vocab::{Cloud, ResourceType, Tags};
use crate::yaml::{Fields, Mark, Node, field, quote};

pub(in crate::config) const RESOURCE: &[&str] = &[
    "account",
    "region",
    "type",
    "id",
    "alias",
    "name",
    "tags",
    "allow_extra_tags",
];
pub(in crate::config) const DEFAULTS: &[&str] = &["match", "tags"];

/// An Alibaba alias as the console's "Create an alias" page states it (`alias/` and 1 to 255 letters, digits, `_`,
/// `-` or `/`; the SDK's `CreateAliasRequest` says 255 in all, but refusing what the service may take would be
/// worse), not `alias/acs...`, which is reserved; a Huawei `key_alias` as `CreateKey` takes it.
const ALIBABA_ALIAS_PATTERN: &str = r"^alias/[a-zA-Z0-9_/-]{1,255}$";
const HUAWEI_ALIAS_PATTERN: &str = r"^[a-zA-Z0-9:/_-]{1,255}$";
static ALIBABA_ALIAS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(ALIBABA_ALIAS_PATTERN).expect("static regex"));
static HUAWEI_ALIAS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(HUAWEI_ALIAS_PATTERN).expect("static regex"));

const HUAWEI_KEY_ID_PATTERN: &str = r"^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$";
static HUAWEI_KEY_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(HUAWEI_KEY_ID_PATTERN).expect("static regex"));

impl Validator<'_> {
    pub(super) fn resource(
        &mut self,
        node: &Node,
        path: &str,
        seen: &mut HashMap<(String, String, ResourceType, String), (String, usize)>,
    ) -> Option<DeclaredResource> {
        let before = self.c.count();
        let f = self.c.object(node, path, RESOURCE)?;

        let account = self
            .c
            .required(&f, path, "account")
            .and_then(|n| self.account_ref(n, &field(path, "account")));
        let known = account
            .as_ref()
            .and_then(|(_, i)| *i)
            .and_then(|i| self.accounts.get(i));
        let cloud = known.and_then(|k| k.cloud);
        let known_regions = known.and_then(|k| k.regions.clone());
        let account_name = account.map(|(name, _)| name);

        let region = self.c.required(&f, path, "region").and_then(|n| {
            self.resource_region(
                n,
                &field(path, "region"),
                account_name.as_deref(),
                known_regions.as_deref(),
            )
        });
        let resource_type = self
            .c
            .required(&f, path, "type")
            .and_then(|n| self.resource_type(n, &field(path, "type")));
        let named = self.resource_id(&f, path, cloud, resource_type);
        let by_alias = named.as_ref().is_some_and(|(_, a)| *a);
        let id = named.map(|(id, _)| id);

        let tags_path = field(path, "tags");
        let tags = match f.get("tags") {
            None => Some(Vec::new()),
            Some(n) => self.tag_map(n, &tags_path),
        };
        if let (Some(tags), Some(cloud), Some(t)) = (&tags, cloud, resource_type) {
            let rules = TagRules::of(cloud, t);
            self.check_tags(tags, &tags_path, &[rules]);
            if let (Some(account), Some(region), Some(id)) = (&account_name, &region, &id) {
                let at = f.get("tags").map_or(f.mark, |n| n.mark);
                self.check_tag_limit(at, &tags_path, tags, rules, |s| {
                    selects(s, cloud, account, region, t, id)
                });
            }
        }
        let allow_extra_tags = f
            .get("allow_extra_tags")
            .and_then(|n| self.c.typed::<bool>(n, &field(path, "allow_extra_tags")))
            .unwrap_or(false);

        if let (Some(account), Some(region), Some(t), Some(id)) = (&account_name, &region, resource_type, &id)
        {
            let key = (account.clone(), region.clone(), t, id.clone());
            self.check_duplicate(node, path, key, seen);
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
            by_alias,
            line: node.mark.line,
        })
    }

    /// A resource's `account`, with its index in `self.accounts` when it names a configured account.
    fn account_ref(&mut self, node: &Node, path: &str) -> Option<(String, Option<usize>)> {
        let name = self.c.string(node, path)?;
        let index = self.known_account(&name).map(|(i, _)| i);
        if index.is_none() {
            let message = self.unknown_account(&name);
            self.c.at(node, path, message);
        }
        Some((name, index))
    }

    /// A resource's `region`, checked against the account's regions when both are known; kept even when it is
    /// not one of them, so the rest of the entry is still checked.
    fn resource_region(
        &mut self,
        node: &Node,
        path: &str,
        account: Option<&str>,
        regions: Option<&[String]>,
    ) -> Option<String> {
        let region = self.c.string(node, path)?;
        if let (Some(regions), Some(account)) = (regions, account)
            && !regions.contains(&region)
        {
            self.c.at(
                node,
                path,
                format!(
                    "region {} is not configured for account {} (configured: {})",
                    quote(&region),
                    quote(account),
                    regions.join(", ")
                ),
            );
        }
        Some(region)
    }

    /// A resource's identifier: `id` or `alias` for keys, `name` for secrets; with whether it is an alias.
    fn resource_id(
        &mut self,
        f: &Fields<'_>,
        path: &str,
        cloud: Option<Cloud>,
        resource_type: Option<ResourceType>,
    ) -> Option<(String, bool)> {
        if resource_type == Some(ResourceType::Key) && f.key("alias").is_some() {
            if let Some(key) = f.key("id") {
                self.c
                    .at(key, &field(path, "id"), "give either id or alias, not both");
            }
            if let Some(key) = f.key("name") {
                self.c.at(
                    key,
                    &field(path, "name"),
                    "keys are identified by 'id' (the KeyId) or 'alias', not 'name'",
                );
            }
            return self.key_alias(f, path, cloud).map(|alias| (alias, true));
        }
        if resource_type == Some(ResourceType::Secret)
            && let Some(key) = f.key("alias")
        {
            self.c.at(
                key,
                &field(path, "alias"),
                "secrets are identified by 'name' (the secret name); only keys have aliases",
            );
        }
        // Keys are named by `id`, secrets by `name`; the other field is a mistake worth its own message.
        let (id_field, wrong) = match resource_type {
            Some(ResourceType::Key) => (
                "id",
                Some((
                    "name",
                    "keys are identified by 'id' (the KeyId) or 'alias', not 'name'",
                )),
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
        if !check_id {
            return None;
        }
        let n = self.c.required(f, path, id_field)?;
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
        if cloud == Some(Cloud::Alibaba)
            && resource_type == Some(ResourceType::Key)
            && id.starts_with("alias/")
        {
            self.c.at(
                n,
                &p,
                format!("{} is an alias; write it as alias: {}", quote(&id), id),
            );
        }
        Some((id, false))
    }

    /// A key's `alias`, checked as the cloud's `CreateAlias` / `CreateKey` would take it.
    fn key_alias(&mut self, f: &Fields<'_>, path: &str, cloud: Option<Cloud>) -> Option<String> {
        let n = f.get("alias")?;
        let p = field(path, "alias");
        let alias = self.c.non_empty_string(n, &p)?;
        let problem = match cloud {
            Some(Cloud::Alibaba) if alias.starts_with("alias/acs") => Some(format!(
                "invalid alibaba alias {} (the prefix alias/acs is reserved for cloud services)",
                quote(&alias)
            )),
            Some(Cloud::Alibaba) if !ALIBABA_ALIAS.is_match(&alias) => Some(format!(
                "invalid alibaba alias {} (expected alias/ followed by 1 to 255 letters, digits, '_', '-' or '/', \
                 like alias/payments-db)",
                quote(&alias)
            )),
            Some(Cloud::Huawei) if !HUAWEI_ALIAS.is_match(&alias) => Some(format!(
                "invalid huawei key alias {} (expected 1 to 255 letters, digits, ':', '/', '_' or '-')",
                quote(&alias)
            )),
            _ => None,
        };
        if let Some(message) = problem {
            self.c.at(n, &p, message);
            return None;
        }
        Some(alias)
    }

    /// Reports a resource whose own tags and those it inherits from the defaults that `applies` to are more
    /// than `rules` allow on one resource.
    fn check_tag_limit(
        &mut self,
        at: Mark,
        path: &str,
        tags: &[TagItem<'_>],
        rules: TagRules,
        applies: impl Fn(&Selector) -> bool,
    ) {
        let Some(max) = rules.max_tags() else {
            return;
        };
        let inherited: BTreeSet<&str> = self
            .defaults
            .iter()
            .filter(|d| applies(&d.selector))
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
            self.c.report(
                Some(at),
                path,
                format!("{counted}; {} allow at most {max} tags", rules.label()),
            );
        }
    }

    /// Reports a resource declared twice; `seen` maps each resource to the file and line of its first
    /// declaration.
    fn check_duplicate(
        &mut self,
        node: &Node,
        path: &str,
        key: (String, String, ResourceType, String),
        seen: &mut HashMap<(String, String, ResourceType, String), (String, usize)>,
    ) {
        if let Some((file, line)) = seen.get(&key) {
            let (account, region, t, id) = &key;
            let message = format!(
                "duplicate resource: {t} {} in account {} region {} is already declared at {}",
                quote(id),
                quote(account),
                quote(region),
                self.place(file, *line)
            );
            self.c.at(node, path, message);
        } else {
            seen.insert(key, (self.c.file().to_string(), node.mark.line));
        }
    }

    pub(super) fn defaults_entry(&mut self, node: &Node, path: &str) -> Option<Defaults> {
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
