//! The desired-state schema: walks the positioned YAML tree section by section and item by item, reports
//! every problem at the node it concerns, and builds the [`DesiredState`] only when there is none. One bad
//! account never hides a bad rule. It reads no files and no environment: credential fields are kept as
//! references ([`SecretSource`](super::SecretSource)), and messages never echo a credential field's content.
//!
//! This file holds the entry point, the walk over the top-level keys and the state every section shares;
//! each section's checks live in the child module named after it. The sections are walked in a fixed order
//! (accounts, then defaults, then resources and the rest), whatever their order in the file, because later
//! ones are checked against what earlier ones declared.

pub(super) mod accounts;
pub(super) mod credentials;
pub(super) mod reconcile;
pub(super) mod resources;
pub(super) mod rules;
pub(super) mod selectors;
pub(super) mod settings;

use std::collections::HashMap;

use super::model::{Defaults, DesiredState, Ignores};
use crate::vocab::{Cloud, ResourceType};
use crate::yaml::{Collector, Fields, Node, Resolved, Value, item, quote};

/// Inclusive bounds of a numeric field.
pub(super) type Bounds = (u64, u64);

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

pub(super) const TOP: &[&str] = &[
    "version",
    "accounts",
    "resources",
    "defaults",
    "rules",
    "discovery",
    "ignores",
    "schedule",
    "daemon",
    "reconcile",
];

/// Validates the whole desired state: one document per file (`(file, root)`, in order). `None` when anything
/// was reported to `c`.
pub(super) fn desired_state(docs: &[(&str, &Node)], c: &mut Collector) -> Option<DesiredState> {
    let mut v = Validator {
        c,
        accounts: Vec::new(),
        account_index: HashMap::new(),
        defaults: Vec::new(),
    };
    let state = v.documents(docs);
    if v.c.has_problems() { None } else { state }
}

/// What the rest of the file may refer to about an account, known even when the account itself has problems,
/// so one typo does not cascade into "unknown account" everywhere.
struct Known {
    name: String,
    /// Where the account is declared.
    file: String,
    line: usize,
    cloud: Option<Cloud>,
    /// `None` when the regions could not be read.
    regions: Option<Vec<String>>,
}

struct Validator<'c> {
    c: &'c mut Collector,
    accounts: Vec<Known>,
    /// Position in `accounts` by name. Every resource and selector looks its account up by name, and a scan of
    /// `accounts` per lookup made validating N accounts quadratic (200,000 accounts took over a minute).
    account_index: HashMap<String, usize>,
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

impl Validator<'_> {
    /// The account remembered under `name`, if any.
    fn known_account(&self, name: &str) -> Option<(usize, &Known)> {
        let i = *self.account_index.get(name)?;
        Some((i, &self.accounts[i]))
    }

    /// Where an earlier declaration is, as seen from the file being checked: `line N` in the same file,
    /// `FILE:N` in another.
    fn place(&self, file: &str, line: usize) -> String {
        if file == self.c.file() {
            format!("line {line}")
        } else {
            format!("{file}:{line}")
        }
    }

    fn documents(&mut self, docs: &[(&str, &Node)]) -> Option<DesiredState> {
        // Each file's top level first; then every section across all files, in the fixed order of the module
        // doc, so a resource in one file may name an account another file declares.
        let mut tops: Vec<(&str, Fields<'_>)> = Vec::with_capacity(docs.len());
        for (file, root) in docs {
            self.c.set_file(file);
            if !matches!(root.value, Value::Mapping(_)) {
                self.c.at(
                    root,
                    "",
                    format!(
                        "expected a mapping at the top level (with version, accounts, ...), found {}",
                        root.describe()
                    ),
                );
                continue;
            }
            if let Some(f) = self.c.object(root, "", TOP) {
                self.version(&f);
                tops.push((file, f));
            }
        }
        let mut accounts = Vec::new();
        for (file, f) in &tops {
            self.c.set_file(file);
            if let Some(node) = f.get("accounts") {
                accounts.extend(self.accounts(node));
            } else if docs.len() == 1 {
                self.c.required(f, "", "accounts");
            }
        }
        if docs.len() > 1 && !tops.iter().any(|(_, f)| f.get("accounts").is_some()) {
            let (file, f) = &tops.first()?;
            self.c.set_file(file);
            self.c.report(
                Some(f.mark),
                "",
                "missing required field 'accounts': no file of the desired state declares any account",
            );
        }
        let mut defaults = Vec::new();
        for (file, f) in &tops {
            self.c.set_file(file);
            defaults.extend(self.list(f.get("defaults"), "defaults", Self::defaults_entry));
        }
        self.defaults = defaults.clone();
        let mut seen = HashMap::new();
        let mut names = HashMap::new();
        let (mut resources, mut rules, mut discovery) = (Vec::new(), Vec::new(), Vec::new());
        for (file, f) in &tops {
            self.c.set_file(file);
            resources.extend(self.list(f.get("resources"), "resources", |v, n, p| {
                v.resource(n, p, &mut seen)
            }));
            rules.extend(self.list(f.get("rules"), "rules", |v, n, p| v.rule(n, p, &mut names)));
            discovery.extend(self.list(f.get("discovery"), "discovery", Self::discovery));
        }
        let ignores = self.merged_ignores(&tops);
        let schedule = self.in_one_file(&tops, "schedule", Self::schedule);
        let daemon = self.in_one_file(&tops, "daemon", Self::daemon);
        let reconcile = self.in_one_file(&tops, "reconcile", Self::reconcile);
        Some(DesiredState {
            accounts,
            resources,
            defaults,
            rules,
            discovery,
            ignores: ignores?,
            schedule: schedule?,
            daemon: daemon?,
            reconcile: reconcile?,
        })
    }

    /// A section that only one file may set: reports it in every other file that sets it too, and checks the
    /// first (or `check(None)`, the defaults, when no file sets it).
    fn in_one_file<T>(
        &mut self,
        tops: &[(&str, Fields<'_>)],
        name: &str,
        check: impl FnOnce(&mut Self, Option<&Node>) -> Option<T>,
    ) -> Option<T> {
        let mut first: Option<(&str, &Node, usize)> = None;
        for (file, f) in tops {
            let (Some(node), Some(key)) = (f.get(name), f.key(name)) else {
                continue;
            };
            match first {
                None => first = Some((file, node, key.mark.line)),
                Some((first_file, _, line)) => {
                    self.c.set_file(file);
                    let message = format!(
                        "{name} may be set in one file only; it is already set at {}",
                        self.place(first_file, line)
                    );
                    self.c.at(key, name, message);
                }
            }
        }
        if let Some((file, _, _)) = first {
            self.c.set_file(file);
        }
        check(self, first.map(|(_, node, _)| node))
    }

    /// `ignores` of every file: their entries concatenated, `system_tags` from the one file that sets it.
    fn merged_ignores(&mut self, tops: &[(&str, Fields<'_>)]) -> Option<Ignores> {
        let mut merged: Option<Ignores> = None;
        let mut system_tags_at: Option<(&str, usize)> = None;
        let mut ok = true;
        for (file, f) in tops {
            let Some(node) = f.get("ignores") else {
                continue;
            };
            self.c.set_file(file);
            let own = match &node.value {
                Value::Mapping(entries) => entries
                    .iter()
                    .find(|e| e.key.as_str() == Some("system_tags") && !e.value.is_null())
                    .map(|e| &e.key),
                _ => None,
            };
            if let (Some(key), Some((first_file, first_line))) = (own, system_tags_at) {
                let message = format!(
                    "ignores.system_tags may be set in one file only; it is already set at {}",
                    self.place(first_file, first_line)
                );
                self.c.at(key, "ignores.system_tags", message);
            }
            let Some(ignores) = self.ignores(Some(node)) else {
                ok = false;
                continue;
            };
            merged = Some(match merged {
                None => ignores,
                Some(mut sofar) => {
                    if own.is_some() && system_tags_at.is_none() {
                        sofar.system_tags = ignores.system_tags;
                    }
                    sofar.entries.extend(ignores.entries);
                    sofar
                }
            });
            if system_tags_at.is_none() {
                system_tags_at = own.map(|key| (*file, key.mark.line));
            }
        }
        if !ok {
            return None;
        }
        match merged {
            Some(ignores) => Some(ignores),
            None => self.ignores(None),
        }
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
/// required), so a schedule accepted here is accepted there; and refuses one that matches no time at all
/// (`0 0 0 31 2 *`), which the scheduler would accept and then never run a check.
pub fn check_cron(expr: &str) -> Result<(), String> {
    let cron = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .build()
        .parse(expr)
        .map_err(|e| one_line(e.to_string().trim_end_matches('.')))?;
    // Searched from a fixed instant, not from now, because this crate reads no clock. The Gregorian calendar
    // repeats every 400 years and croner searches up to the year 5000, so a schedule with no time after 1970
    // has none at all, unless its optional year field names only earlier years.
    let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    match cron.find_next_occurrence(&epoch, true) {
        Ok(_) => Ok(()),
        Err(_) => Err(
            "it never fires: no date matches its day of month, month, day of week and year together"
                .to_string(),
        ),
    }
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
