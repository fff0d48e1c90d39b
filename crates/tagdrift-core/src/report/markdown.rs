//! The Markdown report for pull-request comments and chat: a status table, then a section per kind of
//! problem. Every value from a cloud or the config is escaped, so a tag value cannot break a table or inject
//! HTML. Long lists fold into `<details>` so a comment stays readable.

use std::fmt::Write as _;

use super::{ReportMeta, count, left_out_lines, summary_lines, visible};
use crate::drift::{Action, Cause, Plan, ResourcePlan, Status, TagChange, Verdict, Violation, ViolationKind};

/// Tables and lists longer than this fold into `<details>`.
const FOLD_AFTER: usize = 10;

/// Renders `plan` as GitHub-flavoured Markdown.
pub fn markdown(plan: &Plan, meta: &ReportMeta) -> String {
    let s = &plan.summary;
    let mut out = String::new();
    header(&mut out, plan, meta);
    if s.drifted > 0 {
        let _ = writeln!(out, "#### Drifted\n");
        for r in with_status(plan, Status::Drifted) {
            drifted(&mut out, r);
        }
    }
    if s.missing > 0 {
        missing_section(&mut out, plan);
    }
    if s.unknown > 0 {
        unknown_section(&mut out, plan);
    }
    if !plan.scope_failures.is_empty() {
        scope_failures_section(&mut out, plan);
    }
    if !plan.left_out.is_empty() {
        let _ = writeln!(out, "#### Left out of discovery (they cannot carry tags)\n");
        let rows: Vec<String> = left_out_lines(&plan.left_out, code)
            .into_iter()
            .map(|l| format!("- {l}"))
            .collect();
        fold(&mut out, &rows, &count(rows.len(), "scope", "scopes"));
    }
    if s.unmanaged > 0 {
        let _ = writeln!(out, "#### Unmanaged (not declared)\n");
        let rows: Vec<String> = with_status(plan, Status::Unmanaged)
            .map(|r| format!("- {}", heading_plain(r)))
            .collect();
        fold(&mut out, &rows, &count(s.unmanaged, "resource", "resources"));
    }
    if s.ignored > 0 {
        ignored_section(&mut out, plan);
    }
    if !plan.expired_ignores.is_empty() {
        expired_ignores_section(&mut out, plan);
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn with_status(plan: &Plan, status: Status) -> impl Iterator<Item = &ResourcePlan> {
    plan.resources.iter().filter(move |r| r.status == status)
}

/// The title, the checked line, the summary and the status table.
fn header(out: &mut String, plan: &Plan, meta: &ReportMeta) {
    let s = &plan.summary;
    let title = match s.verdict() {
        Verdict::Drift => "drift found",
        Verdict::Unknown => "drift unknown",
        Verdict::NoDrift => "no drift",
    };
    let _ = writeln!(out, "### tagdrift: {title}\n");
    let _ = writeln!(out, "{}\n", meta.checked_line(code));
    let _ = writeln!(out, "{}\n", summary_lines(s).join("<br>\n"));

    let _ = writeln!(out, "| Status | Resources |\n| --- | ---: |");
    for (label, n) in [
        ("Drifted", s.drifted),
        ("Missing", s.missing),
        ("Unknown", s.unknown),
        ("Unmanaged", s.unmanaged),
        ("In sync", s.in_sync),
    ] {
        let _ = writeln!(out, "| {label} | {n} |");
    }
    let _ = writeln!(out, "| **Total** | **{}** |", s.total);
    if s.unknown_scopes > 0 {
        let _ = writeln!(out, "| Failed listings | {} |", s.unknown_scopes);
    }
    out.push('\n');
}

fn missing_section(out: &mut String, plan: &Plan) {
    let _ = writeln!(out, "#### Missing (declared but not found)\n");
    for r in with_status(plan, Status::Missing) {
        match r.reason {
            Some(reason) => {
                let _ = writeln!(out, "{}: missing ({})\n", heading(r), reason.describe());
            }
            None => {
                let _ = writeln!(out, "{}\n", heading(r));
            }
        }
        let mut rows = vec!["| Tag | Desired |".to_owned(), "| --- | --- |".to_owned()];
        rows.extend(
            r.desired
                .iter()
                .map(|(k, v)| format!("| {} | {} |", cell(k), cell(v))),
        );
        if r.desired.is_empty() {
            let _ = writeln!(out, "No tags declared.\n");
        } else {
            fold(out, &rows, &count(r.desired.len(), "tag", "tags"));
        }
    }
}

fn unknown_section(out: &mut String, plan: &Plan) {
    let _ = writeln!(out, "#### Could not be read\n");
    let mut rows = vec![
        "| Resource | Error | Message |".to_owned(),
        "| --- | --- | --- |".to_owned(),
    ];
    for r in with_status(plan, Status::Unknown) {
        let (code_, message) = r
            .error
            .as_ref()
            .map(|e| (e.code.as_str(), e.message.as_str()))
            .unwrap_or(("", ""));
        rows.push(format!(
            "| {} | {} | {} |",
            cell(&r.resource.address()),
            cell(code_),
            text_cell(message)
        ));
    }
    fold(out, &rows, &count(plan.summary.unknown, "resource", "resources"));
}

fn scope_failures_section(out: &mut String, plan: &Plan) {
    let _ = writeln!(
        out,
        "#### Failed listings (undeclared resources there were not checked)\n"
    );
    let mut rows = vec![
        "| Cloud | Account | Region | Type | Error | Message |".to_owned(),
        "| --- | --- | --- | --- | --- | --- |".to_owned(),
    ];
    for f in &plan.scope_failures {
        let sc = &f.scope;
        rows.push(format!(
            "| {} | {} | {} | {} | {} | {} |",
            sc.cloud,
            cell(&sc.account),
            cell(&sc.region),
            sc.resource_type,
            cell(f.code.as_str()),
            text_cell(&f.message)
        ));
    }
    fold(out, &rows, &count(plan.scope_failures.len(), "scope", "scopes"));
}

fn ignored_section(out: &mut String, plan: &Plan) {
    let _ = writeln!(out, "#### Ignored drift\n");
    let mut rows = vec![
        "| Resource | Tag | Ignored | Reason | Until |".to_owned(),
        "| --- | --- | --- | --- | --- |".to_owned(),
    ];
    for r in plan.resources.iter().filter(|r| !r.ignored.is_empty()) {
        for i in &r.ignored {
            let what = match &i.item {
                crate::drift::Ignored::Change(c) => {
                    format!("{} {}", c.action.symbol(), c.action.as_str())
                }
                crate::drift::Ignored::Violation(v) => format!("! rule {}", v.rule),
            };
            rows.push(format!(
                "| {} | {} | {} | {} | {} |",
                cell(&r.resource.address()),
                cell(i.key()),
                text_cell(&what),
                text_cell(&i.reason),
                i.until
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| "never expires".to_owned())
            ));
        }
    }
    fold(
        out,
        &rows,
        &count(plan.summary.ignored, "ignored item", "ignored items"),
    );
}

fn expired_ignores_section(out: &mut String, plan: &Plan) {
    let _ = writeln!(out, "#### Expired ignores (the drift they hid shows again)\n");
    let mut rows = vec![
        "| Ignore | Selector | Keys | Reason | Expired on | Drift shows again on |".to_owned(),
        "| --- | --- | --- | --- | --- | ---: |".to_owned(),
    ];
    for e in &plan.expired_ignores {
        let keys = if e.keys.is_empty() {
            "every key".to_owned()
        } else {
            e.keys.iter().map(|k| cell(k)).collect::<Vec<_>>().join(", ")
        };
        rows.push(format!(
            "| `ignores[{}]` | {} | {} | {} | {} | {} |",
            e.position,
            cell(&e.selector),
            keys,
            text_cell(&e.reason),
            e.until,
            count(e.resurfaced, "resource", "resources")
        ));
    }
    fold(
        out,
        &rows,
        &count(plan.expired_ignores.len(), "expired ignore", "expired ignores"),
    );
}

fn drifted(out: &mut String, r: &ResourcePlan) {
    let origin = if r.managed {
        ""
    } else {
        " (not declared, found by discovery)"
    };
    let _ = writeln!(out, "{}{origin}\n", heading(r));
    let mut rows = vec![
        "| | Tag | Current | Desired | Note |".to_owned(),
        "| --- | --- | --- | --- | --- |".to_owned(),
    ];
    // Changes and violations ordered by key, a key's change before its violations.
    let mut lines: Vec<(&str, u8, String)> = Vec::new();
    lines.extend(r.changes.iter().map(|c| (c.key.as_str(), 0, change_row(c))));
    lines.extend(
        r.violations
            .iter()
            .map(|v| (v.key.as_str(), 1, violation_row(r, v))),
    );
    lines.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let n = lines.len();
    rows.extend(lines.into_iter().map(|l| l.2));
    fold(
        out,
        &rows,
        &count(n, "change or violation", "changes and violations"),
    );
    drifted_notes(out, r);
}

fn change_row(c: &TagChange) -> String {
    let note = match &c.cause {
        Cause::Declared => String::new(),
        Cause::Default => "from defaults".to_owned(),
        Cause::Undeclared => "not declared".to_owned(),
        Cause::Forbidden { rule } => format!("forbidden by rule {}", cell(rule)),
    };
    let opt = |v: &Option<String>| v.as_deref().map(cell).unwrap_or_default();
    let symbol = match c.action {
        Action::Add => "`+`",
        Action::Change => "`~`",
        Action::Remove => "`-`",
    };
    format!(
        "| {symbol} | {} | {} | {} | {note} |",
        cell(&c.key),
        opt(&c.before),
        opt(&c.after)
    )
}

fn violation_row(r: &ResourcePlan, v: &Violation) -> String {
    let current = match &v.kind {
        ViolationKind::ValueNotAllowed { value, .. } | ViolationKind::PatternMismatch { value, .. } => {
            cell(value)
        }
        ViolationKind::ForbiddenDeclared => r.desired.get(&v.key).map(|s| cell(s)).unwrap_or_default(),
        ViolationKind::MissingRequired => String::new(),
    };
    format!(
        "| `!` | {} | {current} | | rule {}: {} |",
        cell(&v.key),
        cell(&v.rule),
        note(&v.kind)
    )
}

/// The italic line under a drifted resource's table: what the table leaves out.
fn drifted_notes(out: &mut String, r: &ResourcePlan) {
    let mut notes = Vec::new();
    if r.unchanged > 0 {
        notes.push(format!(
            "{} hidden.",
            count(r.unchanged, "unchanged tag", "unchanged tags")
        ));
    }
    if !r.ignored.is_empty() {
        notes.push(format!(
            "{} (see Ignored drift).",
            count(r.ignored.len(), "item ignored", "items ignored")
        ));
    }
    for e in &r.expired_ignores {
        let keys: Vec<String> = e.keys.iter().map(|k| cell(k)).collect();
        notes.push(format!(
            "Ignore `ignores[{}]` expired on {}; drift on {} shows again.",
            e.position,
            e.until,
            keys.join(", ")
        ));
    }
    if !notes.is_empty() {
        let _ = writeln!(out, "_{}_\n", notes.join(" "));
    }
}

/// What a violation means, with allowed values and patterns as code so they survive Markdown intact.
fn note(kind: &ViolationKind) -> String {
    match kind {
        ViolationKind::MissingRequired => "required tag is missing".to_owned(),
        ViolationKind::ValueNotAllowed { allowed, .. } => {
            let allowed: Vec<String> = allowed.iter().map(|a| cell(a)).collect();
            format!("value not in {}", allowed.join(", "))
        }
        ViolationKind::PatternMismatch { pattern, .. } => format!("value does not match {}", cell(pattern)),
        ViolationKind::ForbiddenDeclared => "forbidden, but declared on this resource".to_owned(),
    }
}

/// `**`address`**` with the alias when there is one (the KeyId, for a key declared by its alias).
fn heading(r: &ResourcePlan) -> String {
    format!("**{}**", heading_plain(r))
}

fn heading_plain(r: &ResourcePlan) -> String {
    match (&r.alias, &r.native_id) {
        // A key declared by its alias: the address names the alias, so show the KeyId it resolved to.
        (Some(a), Some(id)) if *a == r.resource.id => {
            format!("{} (id {})", code(&r.resource.address()), code(id))
        }
        (Some(a), _) => format!("{} (alias {})", code(&r.resource.address()), code(a)),
        (None, _) => code(&r.resource.address()),
    }
}

/// Writes `rows` (a table with its two header rows, or list items), folded into `<details>` when long.
fn fold(out: &mut String, rows: &[String], what: &str) {
    let header = if rows.first().is_some_and(|r| r.starts_with('|')) {
        2
    } else {
        0
    };
    let long = rows.len().saturating_sub(header) > FOLD_AFTER;
    if long {
        let _ = writeln!(out, "<details><summary>{what}</summary>\n");
    }
    for row in rows {
        let _ = writeln!(out, "{row}");
    }
    out.push('\n');
    if long {
        let _ = writeln!(out, "</details>\n");
    }
}

/// A value as a code span that is safe in a table cell.
fn cell(s: &str) -> String {
    code(s).replace('|', "\\|")
}

/// A CommonMark code span holding `s` literally, whatever backticks it contains, with hidden characters made
/// [`visible`] (a span cannot hold a newline in a table either). An empty value shows as `(empty)`.
fn code(s: &str) -> String {
    if s.is_empty() {
        return "_(empty)_".to_owned();
    }
    let s = visible(s);
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    // A span that starts or ends with a backtick needs a space so the fence is not read as part of the value;
    // CommonMark strips exactly one space on each side.
    let pad = if s.starts_with('`') || s.ends_with('`') || (s.starts_with(' ') && s.ends_with(' ')) {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// Free text (reasons, cloud messages) for a table cell: hidden characters made [`visible`], then Markdown and
/// HTML characters escaped (the backslashes of `\u{1b}` too, so they show as written).
fn text_cell(s: &str) -> String {
    let s = visible(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{cell, code, text_cell};

    #[test]
    fn code_spans_hold_any_value() {
        let cases = [
            ("plain", "`plain`"),
            ("", "_(empty)_"),
            ("a`b", "``a`b``"),
            ("`x`", "`` `x` ``"),
            ("a``b`", "``` a``b` ```"),
            ("line1\nline2", "`line1\\nline2`"),
            (" padded ", "`  padded  `"),
        ];
        for (input, want) in cases {
            assert_eq!(code(input), want, "{input:?}");
        }
    }

    #[test]
    fn cells_escape_pipes() {
        assert_eq!(cell("a|b"), "`a\\|b`");
        assert_eq!(
            text_cell("a|b <script> *x* `y`"),
            "a\\|b \\<script\\> \\*x\\* \\`y\\`"
        );
    }
}
