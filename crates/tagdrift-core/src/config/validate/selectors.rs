//! The pieces several sections share: the `match` selector of defaults, rules, discovery and ignore
//! entries, globs, and tag keys and values. Tag keys and values are checked against the rules of every cloud
//! and resource type an entry could apply to, so a tag a cloud would refuse is reported at the line that
//! declares it rather than found later, against a live resource.

use std::collections::BTreeSet;

use globset::GlobBuilder;

use super::{TagItem, Validator};
use crate::config::model::{Glob, Selector};
use crate::config::tags::TagRules;
use crate::vocab::{Cloud, ResourceType};
use crate::yaml::{Fields, Node, Resolved, Value, field, item, quote};

pub(in crate::config) const SELECTOR: &[&str] = &["cloud", "account", "region", "type", "name"];
/// Account names an "unknown account" message lists at most.
const KNOWN_LISTED: usize = 20;

impl Validator<'_> {
    /// The `match` field of a defaults, rule, discovery or ignore entry; every field optional.
    pub(super) fn selector(&mut self, f: &Fields<'_>, path: &str) -> Option<Selector> {
        let Some(node) = f.get("match") else {
            return Some(Selector::default());
        };
        self.selector_at(node, &field(path, "match"))
    }

    /// One selector mapping at `node` (the value of a `match` field, or an item of `reconcile.match`).
    pub(super) fn selector_at(&mut self, node: &Node, path: &str) -> Option<Selector> {
        let path = path.to_owned();
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
                match self.known_account(&glob.pattern).map(|(_, k)| k.cloud) {
                    None => {
                        let message = self.unknown_account(&glob.pattern);
                        self.c.at(n, &p, message);
                    }
                    Some(known_cloud) => {
                        if let (Some(want), Some(have)) = (cloud, known_cloud)
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

    /// The message for a reference to an account that is not configured. The known names are listed up to
    /// [`KNOWN_LISTED`]: with thousands of accounts, each such message listing them all made a file full of
    /// typos quadratic to report, and unreadable.
    pub(super) fn unknown_account(&self, name: &str) -> String {
        let known: Vec<&str> = self
            .accounts
            .iter()
            .take(KNOWN_LISTED)
            .map(|k| k.name.as_str())
            .collect();
        let more = self.accounts.len().saturating_sub(KNOWN_LISTED);
        let listed = match (known.is_empty(), more) {
            (true, _) => "none".to_string(),
            (false, 0) => known.join(", "),
            (false, more) => format!("{} and {more} more", known.join(", ")),
        };
        format!("unknown account {} (known: {listed})", quote(name))
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

    pub(super) fn globs(&mut self, node: &Node, path: &str, case_insensitive: bool) -> Option<Vec<Glob>> {
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
    pub(super) fn candidate_rules(&self, selector: &Selector) -> Vec<TagRules> {
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
    pub(super) fn tag_text(&mut self, node: &Node, path: &str, what: &str) -> Option<String> {
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
    pub(super) fn tag_map<'n>(&mut self, node: &'n Node, path: &str) -> Option<Vec<TagItem<'n>>> {
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
    pub(super) fn check_tags(&mut self, tags: &[TagItem<'_>], path: &str, rules: &[TagRules]) {
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
    pub(super) fn tag_keys(&mut self, node: &Node, path: &str, rules: &[TagRules]) -> Option<Vec<String>> {
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

    pub(super) fn check_key(&mut self, node: &Node, path: &str, key: &str, rules: &[TagRules]) {
        for r in rules {
            if let Err(m) = r.check_key(key) {
                self.c.at(node, path, m);
            }
        }
    }
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
