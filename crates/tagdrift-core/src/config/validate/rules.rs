//! The `rules` and `discovery` sections. A rule's tag keys and values are checked against the limits of
//! every cloud and resource type its selector could reach, and its patterns are compiled here so that a bad
//! regex is a configuration error, not a failure in the middle of a check.

use std::collections::{BTreeMap, HashMap};

use regex::RegexBuilder;

use super::{Validator, one_line};
use crate::config::model::{Discovery, Pattern, Rule};
use crate::config::tags::TagRules;
use crate::yaml::{Node, Value, field, item, quote};

pub(in crate::config) const RULE: &[&str] = &[
    "name",
    "match",
    "required",
    "allowed_values",
    "patterns",
    "forbidden",
    "case_insensitive",
];
pub(in crate::config) const RULE_CHECKS: &[&str] = &["required", "allowed_values", "patterns", "forbidden"];
pub(in crate::config) const DISCOVERY: &[&str] = &["match", "report_unmanaged"];

impl Validator<'_> {
    pub(super) fn rule(
        &mut self,
        node: &Node,
        path: &str,
        names: &mut HashMap<String, (String, usize)>,
    ) -> Option<Rule> {
        let before = self.c.count();
        let f = self.c.object(node, path, RULE)?;
        let name = self.c.required(&f, path, "name").and_then(|n| {
            let p = field(path, "name");
            let name = self.c.non_empty_string(n, &p)?;
            if let Some((file, line)) = names.get(&name) {
                let message = format!(
                    "duplicate rule name {} (first at {})",
                    quote(&name),
                    self.place(file, *line)
                );
                self.c.at(n, &p, message);
            } else {
                names.insert(name.clone(), (self.c.file().to_string(), n.mark.line));
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

    pub(super) fn discovery(&mut self, node: &Node, path: &str) -> Option<Discovery> {
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
