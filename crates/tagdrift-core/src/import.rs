//! `tagdrift import`: the desired-state file that declares every key and secret a read found, with its current
//! tags. Pure: it takes the files of the desired state it started from, their validated [`DesiredState`] and
//! the observations, and returns the text. The sections kept from the input (`accounts`, `rules`, `discovery`,
//! `ignores`, `schedule`, `daemon`, `reconcile`) are copied as written, comments included, so credential
//! references and hand-made policy survive; `resources` (and, with `factor_defaults`, `defaults`) are generated,
//! sorted by account, region, type and id so that a re-import diffs cleanly. System tags and ignored tag keys are
//! left out, keys with an alias are declared by it, and whatever could not be read is listed in a comment.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::{self, DesiredState, Selector};
use crate::vocab::{Cloud, Observations, Outcome, ResourceRef, ResourceType, Tags};
use crate::yaml::{self, Value};

/// The input sections copied into the output, in this order.
const KEPT: &[&str] = &[
    "accounts",
    "discovery",
    "rules",
    "ignores",
    "schedule",
    "daemon",
    "reconcile",
];

/// Why no file could be written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: {message}")]
    Input { file: String, message: String },
    /// The generated text did not validate: a bug, reported with the validator's problems.
    #[error("the generated file is invalid (a bug in tagdrift import):\n{0}")]
    Invalid(config::ConfigErrors),
}

/// What `render` needs besides the input.
pub struct Options<'a> {
    /// Only resources one of these selects (none: every resource read).
    pub selectors: &'a [Selector],
    /// Move the tags every resource of an (account, region, type) shares into a `defaults` entry.
    pub factor_defaults: bool,
    pub generated_at: DateTime<Utc>,
    /// The `--config` path, for the header.
    pub source: &'a str,
}

/// The written file and what it says.
#[derive(Debug)]
pub struct Imported {
    pub text: String,
    /// Resources declared, keys and secrets.
    pub keys: usize,
    pub secrets: usize,
    /// What could not be read: `address: code: message` per resource, `cloud/account/region/type: ...` per scope.
    pub unreadable: Vec<String>,
    /// Resources left out because they cannot carry tags or an ignore covers all their tags.
    pub left_out: usize,
}

/// One declared resource of the output.
struct Declared {
    resource: ResourceRef,
    alias: Option<String>,
    tags: Tags,
}

/// The output file for `parts` (each input file's name and text, as validated into `state`) and `observed`.
pub fn render(
    parts: &[(String, String)],
    state: &DesiredState,
    observed: &Observations,
    options: &Options<'_>,
) -> Result<Imported, ImportError> {
    let today = options.generated_at.date_naive();
    let mut declared = Vec::new();
    let mut unreadable = Vec::new();
    let mut left_out = observed.left_out.iter().map(|l| l.count).sum::<usize>();
    for o in &observed.resources {
        let alias = o.alias.as_deref();
        if !options.selectors.is_empty() && !options.selectors.iter().any(|s| s.matches(&o.resource, alias)) {
            continue;
        }
        match &o.outcome {
            Outcome::Found(tags) => match kept_tags(state, &o.resource, alias, tags, today) {
                Some(tags) => declared.push(Declared {
                    resource: o.resource.clone(),
                    alias: o.alias.clone(),
                    tags,
                }),
                None => left_out += 1,
            },
            Outcome::NotFound => {}
            Outcome::Untaggable { .. } => left_out += 1,
            Outcome::Failed(e) => {
                unreadable.push(format!("{}: {}: {}", o.resource.address(), e.code, e.message))
            }
        }
    }
    for f in &observed.scope_failures {
        unreadable.push(format!(
            "{}/{}/{}/{}: {}: {}",
            f.cloud, f.account, f.region, f.resource_type, f.error.code, f.error.message
        ));
    }
    declared.sort_by(|a, b| a.resource.cmp(&b.resource));
    unreadable.sort();

    let defaults = if options.factor_defaults {
        factor(&mut declared)
    } else {
        Vec::new()
    };
    let keys = declared
        .iter()
        .filter(|d| d.resource.resource_type == ResourceType::Key)
        .count();
    let secrets = declared.len() - keys;

    let mut text = String::new();
    header(&mut text, options, keys, secrets, left_out, &unreadable);
    text.push_str("version: 1\n");
    for section in KEPT {
        text.push_str(&kept_section(parts, section)?);
    }
    if !defaults.is_empty() {
        text.push_str("\n# Tags every resource of a scope carries (--factor-defaults).\ndefaults:\n");
        for (scope, tags) in &defaults {
            let (account, region, t) = scope;
            let _ = writeln!(
                text,
                "  - match: {{account: {}, region: {}, type: {t}}}",
                quoted(account),
                quoted(region)
            );
            text.push_str("    tags:\n");
            write_tags(&mut text, tags, "      ");
        }
    }
    text.push_str("\nresources:");
    if declared.is_empty() {
        text.push_str(" []\n");
    } else {
        text.push('\n');
    }
    let mut scope: Option<(Cloud, &str, &str)> = None;
    for d in &declared {
        let r = &d.resource;
        let here = (r.cloud, r.account.as_str(), r.region.as_str());
        if scope != Some(here) {
            let _ = writeln!(text, "  # {} {} {}", r.cloud, r.account, r.region);
            scope = Some(here);
        }
        let _ = writeln!(
            text,
            "  - account: {}\n    region: {}\n    type: {}",
            quoted(&r.account),
            quoted(&r.region),
            r.resource_type
        );
        match (&d.alias, r.resource_type) {
            (Some(alias), ResourceType::Key) if *alias != r.id => {
                let _ = writeln!(text, "    alias: {}  # id {}", quoted(alias), r.id);
            }
            (Some(alias), ResourceType::Key) => {
                let _ = writeln!(text, "    alias: {}", quoted(alias));
            }
            (_, ResourceType::Key) => {
                let _ = writeln!(text, "    id: {}", quoted(&r.id));
            }
            (_, ResourceType::Secret) => {
                let _ = writeln!(text, "    name: {}", quoted(&r.id));
            }
        }
        if d.tags.is_empty() {
            text.push_str("    tags: {}\n");
        } else {
            text.push_str("    tags:\n");
            write_tags(&mut text, &d.tags, "      ");
        }
    }
    // The output must be a file tagdrift accepts; anything else is a bug, not the user's problem to find later.
    let name = "imported desired state";
    config::parse(&text, name).map_err(ImportError::Invalid)?;
    Ok(Imported {
        text,
        keys,
        secrets,
        unreadable,
        left_out,
    })
}

fn header(
    text: &mut String,
    options: &Options<'_>,
    keys: usize,
    secrets: usize,
    left_out: usize,
    unreadable: &[String],
) {
    let _ = writeln!(
        text,
        "# Generated by `tagdrift import` from {} at {}.",
        options.source,
        options.generated_at.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let _ = writeln!(
        text,
        "# {} resources: {keys} keys, {secrets} secrets, with the tags they carry (system tags and ignored tag keys \
         left out).",
        keys + secrets
    );
    text.push_str(
        "# Kept from the input: accounts, discovery, rules, ignores, schedule, daemon, reconcile. Its defaults are not\n\
         # kept: every resource's tags are written out (or factored with --factor-defaults). Resources are sorted by\n\
         # account, region, type and id, so a re-import diffs cleanly.\n",
    );
    if left_out > 0 {
        let _ = writeln!(
            text,
            "# Left out: {left_out} resources that cannot carry tags (pending deletion, default keys) or whose tags an \
             ignore covers."
        );
    }
    if !unreadable.is_empty() {
        let _ = writeln!(
            text,
            "# NOT DECLARED: {} could not be read (tagdrift import exited 1):",
            unreadable.len()
        );
        for u in unreadable {
            let _ = writeln!(text, "#   {}", one_line(u));
        }
    }
    text.push('\n');
}

fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The tags to declare: without system tags and ignored keys; `None` when an ignore covers the whole resource.
fn kept_tags(
    state: &DesiredState,
    resource: &ResourceRef,
    alias: Option<&str>,
    tags: &Tags,
    today: NaiveDate,
) -> Option<Tags> {
    let system = state.ignores.system_tags.get(&resource.cloud);
    let ignores: Vec<_> = state
        .ignores
        .entries
        .iter()
        .filter(|i| i.active_on(today) && i.selector.matches(resource, alias))
        .collect();
    if ignores.iter().any(|i| i.keys.is_empty()) {
        return None;
    }
    Some(
        tags.iter()
            .filter(|(k, _)| !system.is_some_and(|globs| globs.iter().any(|g| g.is_match(k))))
            .filter(|(k, _)| !ignores.iter().any(|i| i.keys.iter().any(|g| g.is_match(k))))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

type ScopeKey = (String, String, ResourceType);

/// Takes the (key, value) pairs every resource of an (account, region, type) with two or more resources shares
/// out of those resources, as defaults for that scope.
fn factor(declared: &mut [Declared]) -> Vec<(ScopeKey, Tags)> {
    let mut shared: BTreeMap<ScopeKey, (usize, Tags)> = BTreeMap::new();
    for d in declared.iter() {
        let r = &d.resource;
        let key = (r.account.clone(), r.region.clone(), r.resource_type);
        match shared.get_mut(&key) {
            None => {
                shared.insert(key, (1, d.tags.clone()));
            }
            Some((n, common)) => {
                *n += 1;
                common.retain(|k, v| d.tags.get(k) == Some(v));
            }
        }
    }
    shared.retain(|_, (n, common)| *n >= 2 && !common.is_empty());
    for d in declared.iter_mut() {
        let r = &d.resource;
        if let Some((_, common)) = shared.get(&(r.account.clone(), r.region.clone(), r.resource_type)) {
            d.tags.retain(|k, _| !common.contains_key(k));
        }
    }
    shared.into_iter().map(|(k, (_, tags))| (k, tags)).collect()
}

fn write_tags(text: &mut String, tags: &Tags, indent: &str) {
    for (k, v) in tags {
        let _ = writeln!(text, "{indent}{}: {}", quoted(k), quoted(v));
    }
}

/// A YAML double-quoted scalar: JSON's string escapes are YAML's, and quoting keeps every value a string.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

/// The text of top-level `section` across `parts`: as written when one file has it; the items of each file's
/// block sequence under one key when several do.
fn kept_section(parts: &[(String, String)], section: &str) -> Result<String, ImportError> {
    let mut found = Vec::new();
    for (file, text) in parts {
        if let Some(slice) = section_text(file, text, section)? {
            found.push((file, slice));
        }
    }
    match found.len() {
        0 => Ok(String::new()),
        1 => Ok(format!("\n{}", found[0].1.text)),
        _ => {
            let mut out = format!("\n{section}:\n");
            for (file, slice) in found {
                let Some(items) = slice.items else {
                    return Err(ImportError::Input {
                        file: file.clone(),
                        message: format!(
                            "{section} is set in several files and is not a block sequence here; tagdrift import \
                             can only merge block sequences (`{section}:` then `- ...` lines)"
                        ),
                    });
                };
                let _ = writeln!(out, "  # from {file}");
                out.push_str(&items);
            }
            Ok(out)
        }
    }
}

struct Slice {
    /// The section as written: the comment lines right above its key, the key, and its lines.
    text: String,
    /// For a block sequence: its item lines, re-indented to two spaces.
    items: Option<String>,
}

fn section_text(file: &str, text: &str, section: &str) -> Result<Option<Slice>, ImportError> {
    let input = |message: String| ImportError::Input {
        file: file.to_owned(),
        message,
    };
    let root = yaml::parse(text, file)
        .map_err(|p| input(p.message))?
        .ok_or_else(|| input("empty".to_owned()))?;
    let Value::Mapping(entries) = &root.value else {
        return Err(input("not a mapping".to_owned()));
    };
    let lines: Vec<&str> = text.lines().collect();
    let Some(i) = entries.iter().position(|e| e.key.as_str() == Some(section)) else {
        return Ok(None);
    };
    let entry = &entries[i];
    let start = entry.key.mark.line - 1;
    let mut end = entries
        .get(i + 1)
        .map_or(lines.len(), |next| next.key.mark.line - 1);
    // Comments at the left margin just above the next key describe the next section.
    while end > start + 1 && (lines[end - 1].trim().is_empty() || lines[end - 1].starts_with('#')) {
        end -= 1;
    }
    let mut first = start;
    while first > 0 && lines[first - 1].starts_with('#') {
        first -= 1;
    }
    let mut out = String::new();
    for line in &lines[first..end] {
        out.push_str(line);
        out.push('\n');
    }
    let items = match &entry.value.value {
        Value::Sequence(items) if !items.is_empty() && items[0].mark.line > entry.key.mark.line => {
            let body = &lines[start + 1..end];
            let indent = body
                .iter()
                .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            let mut items = String::new();
            for line in body {
                let shifted = match line.get(indent..) {
                    Some(rest) if line[..indent].trim().is_empty() => format!("  {rest}"),
                    _ => format!("  {}", line.trim_start()),
                };
                items.push_str(shifted.trim_end());
                items.push('\n');
            }
            Some(items)
        }
        _ => None,
    };
    Ok(Some(Slice { text: out, items }))
}

#[cfg(test)]
mod tests;
