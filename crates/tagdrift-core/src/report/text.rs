//! The human report, modelled on `terraform plan`: one block per resource that is not in sync, tag lines
//! aligned on `=`, and a summary line last. Colour is the caller's decision (terminal and `--no-color`).

use std::fmt::Write as _;

use similar::{ChangeTag, TextDiff};

use super::{ReportMeta, count, left_out_lines, summary_lines, violation_note, visible};
use crate::drift::{
    Action, Cause, ExpiredIgnore, IgnoredItem, Plan, ResourcePlan, Status, TagChange, UnknownScope,
    Violation, ViolationKind,
};

/// Values longer than this get an inline diff under a change, so a reader sees what changed.
const LONG_VALUE: usize = 40;

/// Renders `plan` as Terraform-style text. `color` adds ANSI colours: green `+`, yellow `~`, red `-`,
/// magenta `!`, bold headers.
pub fn text(plan: &Plan, meta: &ReportMeta, color: bool) -> String {
    let p = Paint(color);
    let mut out = String::new();
    let _ = writeln!(out, "{}", meta.checked_line(|s| visible(s).into_owned()));
    out.push('\n');

    let shown: Vec<&ResourcePlan> = plan
        .resources
        .iter()
        .filter(|r| r.status != Status::InSync || !r.ignored.is_empty())
        .collect();
    if shown
        .iter()
        .any(|r| matches!(r.status, Status::Drifted | Status::Missing))
    {
        let _ = writeln!(
            out,
            "Drift is shown as the change that would restore the desired state:"
        );
        let _ = writeln!(
            out,
            "  {} add tag  {} change value  {} remove tag  {} rule violation",
            p.green("+"),
            p.yellow("~"),
            p.red("-"),
            p.magenta("!")
        );
        out.push('\n');
    }
    for r in shown {
        resource(&mut out, &p, r);
        out.push('\n');
    }
    if !plan.scope_failures.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            p.bold("Listings that failed (undeclared resources there were not checked):")
        );
        for f in &plan.scope_failures {
            scope_failure(&mut out, f);
        }
        out.push('\n');
    }
    if !plan.left_out.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            p.bold("Left out of discovery (they cannot carry tags):")
        );
        for line in left_out_lines(&plan.left_out, |s| visible(s).into_owned()) {
            let _ = writeln!(out, "  # {line}");
        }
        out.push('\n');
    }
    if !plan.expired_ignores.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            p.bold("Expired ignores (the drift they hid shows again):")
        );
        for e in &plan.expired_ignores {
            expired(&mut out, e);
        }
        out.push('\n');
    }
    for line in summary_lines(&plan.summary) {
        let _ = writeln!(out, "{}", p.bold(&line));
    }
    out
}

/// ANSI colouring that is a no-op when off.
struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }
    fn red(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    fn magenta(&self, s: &str) -> String {
        self.wrap("35", s)
    }
    fn symbol(&self, action: Action) -> String {
        match action {
            Action::Add => self.green("+"),
            Action::Change => self.yellow("~"),
            Action::Remove => self.red("-"),
        }
    }
}

/// A quoted, escaped string, as Terraform prints values: `\` and `"` escaped so the quotes delimit the value,
/// hidden characters made [`visible`].
fn q(s: &str) -> String {
    format!("\"{}\"", visible(&s.replace('\\', "\\\\").replace('"', "\\\"")))
}

fn resource(out: &mut String, p: &Paint, r: &ResourcePlan) {
    let res = &r.resource;
    // A key declared by its alias is addressed by the alias, so the KeyId it resolved to is shown instead.
    let alias = match (&r.alias, &r.native_id) {
        (Some(a), Some(id)) if *a == res.id => format!(" (id {})", q(id)),
        (Some(a), _) => format!(" (alias {})", q(a)),
        (None, _) => String::new(),
    };
    let what = format!(
        "{} {} {}{} in {}/{}",
        res.cloud,
        res.resource_type,
        q(&res.id),
        alias,
        visible(&res.account),
        visible(&res.region)
    );
    let phrase = match (r.status, &r.error) {
        (Status::Drifted, _) if r.managed => "has drifted".to_owned(),
        (Status::Drifted, _) => "has drifted (not declared, found by discovery)".to_owned(),
        (Status::Missing, _) => match r.reason {
            Some(reason) => format!(
                "is missing ({}): declared but it cannot carry tags",
                reason.describe()
            ),
            None => "is missing: declared but not found".to_owned(),
        },
        (Status::Unknown, Some(e)) => format!("could not be read: {}: {}", e.code, visible(&e.message)),
        (Status::Unknown, None) => "could not be read".to_owned(),
        (Status::Unmanaged, _) => "is not declared (unmanaged)".to_owned(),
        (Status::InSync, _) => format!("is in sync, {}", ignored_phrase(&r.ignored)),
    };
    let _ = writeln!(out, "  {}", p.bold(&format!("# {what} {phrase}")));
    match r.status {
        Status::Drifted => drifted_block(out, p, r),
        // Nothing can be planned on a resource that refuses tags, so no block of tags to add.
        Status::Missing if r.reason.is_none() => missing_block(out, p, r),
        Status::Unmanaged if !r.ignored.is_empty() => {
            let _ = writeln!(out, "        # ({})", ignored_phrase(&r.ignored));
        }
        _ => {}
    }
}

/// One tag line of a block; changes come before violations of the same key.
enum Line<'a> {
    Change(&'a TagChange),
    Violation(&'a Violation),
}

impl Line<'_> {
    fn key(&self) -> &str {
        match self {
            Line::Change(c) => &c.key,
            Line::Violation(v) => &v.key,
        }
    }
}

fn drifted_block(out: &mut String, p: &Paint, r: &ResourcePlan) {
    let mut lines: Vec<Line<'_>> = r.changes.iter().map(Line::Change).collect();
    lines.extend(r.violations.iter().map(Line::Violation));
    // Stable: for one key the change stays before its violations.
    lines.sort_by(|a, b| a.key().cmp(b.key()));
    let width = lines
        .iter()
        .map(|l| q(l.key()).chars().count())
        .max()
        .unwrap_or(0);

    let _ = writeln!(
        out,
        "  {} {} {} {{",
        p.yellow("~"),
        r.resource.resource_type,
        q(&r.resource.id)
    );
    for line in &lines {
        let key = format!("{:<width$}", q(line.key()));
        match line {
            Line::Change(c) => {
                let before = c.before.as_deref().map(q);
                let after = c.after.as_deref().map(q);
                let value = match c.action {
                    Action::Add => after.unwrap_or_default(),
                    Action::Change => {
                        format!("{} -> {}", before.unwrap_or_default(), after.unwrap_or_default())
                    }
                    Action::Remove => format!("{} -> null", before.unwrap_or_default()),
                };
                let note = match &c.cause {
                    Cause::Forbidden { rule } => format!("   # forbidden by rule {}", visible(rule)),
                    _ => String::new(),
                };
                let _ = writeln!(out, "      {} {key} = {value}{note}", p.symbol(c.action));
                if let (Action::Change, Some(before), Some(after)) = (c.action, &c.before, &c.after)
                    && before.chars().count().max(after.chars().count()) > LONG_VALUE
                {
                    let pad = " ".repeat(width + 11);
                    let _ = writeln!(out, "{pad}# diff: {}", inline_diff(p, before, after));
                }
            }
            Line::Violation(v) => {
                let value = match &v.kind {
                    ViolationKind::ValueNotAllowed { value, .. }
                    | ViolationKind::PatternMismatch { value, .. } => q(value),
                    ViolationKind::ForbiddenDeclared => {
                        r.desired.get(&v.key).map(|s| q(s)).unwrap_or("null".into())
                    }
                    ViolationKind::MissingRequired => "null".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "      {} {key} = {value}   # rule {}: {}",
                    p.magenta("!"),
                    visible(&v.rule),
                    visible(&violation_note(v))
                );
            }
        }
    }
    if r.unchanged > 0 {
        let _ = writeln!(
            out,
            "        # ({} hidden)",
            count(r.unchanged, "unchanged tag", "unchanged tags")
        );
    }
    for group in ignored_groups(&r.ignored) {
        let _ = writeln!(out, "        # ({group})");
    }
    for e in &r.expired_ignores {
        let keys: Vec<String> = e.keys.iter().map(|k| q(k)).collect();
        let _ = writeln!(
            out,
            "        # ignore {} expired on {}, drift shows again: {}",
            q(&e.reason),
            e.until,
            keys.join(", ")
        );
    }
    let _ = writeln!(out, "    }}");
}

fn missing_block(out: &mut String, p: &Paint, r: &ResourcePlan) {
    let width = r.desired.keys().map(|k| q(k).chars().count()).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "  {} {} {} {{",
        p.green("+"),
        r.resource.resource_type,
        q(&r.resource.id)
    );
    for (k, v) in &r.desired {
        let _ = writeln!(out, "      {} {:<width$} = {}", p.green("+"), q(k), q(v));
    }
    if r.desired.is_empty() {
        let _ = writeln!(out, "        # (no tags declared)");
    }
    let _ = writeln!(out, "    }}");
}

/// `2 ignored: reason` groups, one per (reason, until) in order of first appearance.
fn ignored_groups(items: &[IgnoredItem]) -> Vec<String> {
    let mut groups: Vec<(&str, Option<chrono::NaiveDate>, usize)> = Vec::new();
    for i in items {
        match groups
            .iter_mut()
            .find(|(r, u, _)| *r == i.reason && *u == i.until)
        {
            Some(g) => g.2 += 1,
            None => groups.push((&i.reason, i.until, 1)),
        }
    }
    groups
        .into_iter()
        .map(|(reason, until, n)| match until {
            Some(u) => format!("{n} ignored until {u}: {}", visible(reason)),
            None => format!("{n} ignored: {}", visible(reason)),
        })
        .collect()
}

fn ignored_phrase(items: &[IgnoredItem]) -> String {
    ignored_groups(items).join("; ")
}

fn scope_failure(out: &mut String, f: &UnknownScope) {
    let s = &f.scope;
    let _ = writeln!(
        out,
        "  # {} {} listing in {}/{} failed: {}: {}",
        s.cloud,
        s.resource_type,
        visible(&s.account),
        visible(&s.region),
        f.code,
        visible(&f.message)
    );
}

fn expired(out: &mut String, e: &ExpiredIgnore) {
    let keys = if e.keys.is_empty() {
        "every key".to_owned()
    } else {
        visible(&e.keys.join(", ")).into_owned()
    };
    let _ = writeln!(
        out,
        "  # ignores[{}] {} expired on {} ({}; keys: {}; drift shows again on {})",
        e.position,
        q(&e.reason),
        e.until,
        visible(&e.selector),
        keys,
        count(e.resurfaced, "resource", "resources")
    );
}

/// The change from `before` to `after` as one line: `[-removed-]{+added+}` markers, or red and green when
/// colour is on. Words when the values have spaces, characters otherwise.
fn inline_diff(p: &Paint, before: &str, after: &str) -> String {
    let diff = if before.contains(char::is_whitespace) || after.contains(char::is_whitespace) {
        TextDiff::from_words(before, after)
    } else {
        TextDiff::from_chars(before, after)
    };
    // Merge runs of the same tag so markers wrap whole stretches, not single characters.
    let mut runs: Vec<(ChangeTag, String)> = Vec::new();
    for change in diff.iter_all_changes() {
        match runs.last_mut() {
            Some((tag, text)) if *tag == change.tag() => text.push_str(change.value()),
            _ => runs.push((change.tag(), change.value().to_owned())),
        }
    }
    runs.into_iter()
        .map(|(tag, text)| {
            let text = visible(&text).into_owned();
            match (tag, p.0) {
                (ChangeTag::Equal, _) => text,
                (ChangeTag::Delete, true) => p.wrap("31;9", &text),
                (ChangeTag::Insert, true) => p.wrap("32;4", &text),
                (ChangeTag::Delete, false) => format!("[-{text}-]"),
                (ChangeTag::Insert, false) => format!("{{+{text}+}}"),
            }
        })
        .collect()
}
