//! Renders a [`Plan`] for people and programs: Terraform-style text ([`text`]), versioned JSON ([`json`]) and
//! Markdown for pull-request comments and chat ([`markdown`]).
//!
//! Reports only present what the engine decided; they never re-judge drift, read the clock or touch the
//! network. Everything they print comes from the plan and the [`ReportMeta`] the caller passes in, so the same
//! inputs always render byte-for-byte the same output.

mod json;
mod markdown;
mod text;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::drift::{LeftOutScope, Summary, Verdict, Violation, ViolationKind};

pub use json::{Document, FORMAT_VERSION, document, json, write_json};
pub use markdown::markdown;
pub use text::text;

/// Facts about the check that the plan itself does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportMeta {
    /// When the check finished.
    pub generated_at: DateTime<Utc>,
    /// How long the check took, when known.
    pub duration: Option<Duration>,
    /// Where the desired state came from (a file path), when known.
    pub source: Option<String>,
}

impl ReportMeta {
    /// `Checked at 2026-03-15T08:00:00Z in 2.5s against desired.yaml.` (the optional parts only when known).
    fn checked_line(&self, source: impl Fn(&str) -> String) -> String {
        let mut out = format!("Checked at {}", rfc3339(self.generated_at));
        if let Some(d) = self.duration {
            out.push_str(&format!(" in {}", seconds(d)));
        }
        if let Some(s) = &self.source {
            out.push_str(&format!(" against {}", source(s)));
        }
        out.push('.');
        out
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A duration for people: `0.25s`, `2.5s`, `75s`.
pub fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 10_000 {
        let s = format!("{:.2}", d.as_secs_f64());
        format!("{}s", s.trim_end_matches('0').trim_end_matches('.'))
    } else {
        format!("{}s", d.as_secs())
    }
}

/// `1 resource`, `2 resources`.
fn count(n: usize, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("{n} {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// One line per scope where discovery left resources out because they cannot carry tags, shared by the text
/// and Markdown reports and the page: `discovery left out 2 keys in huawei/hw-prod/cn-north-4: default master
/// key 1, pending deletion 1`. `escape` makes the account and region safe for the output format.
pub fn left_out_lines(left_out: &[LeftOutScope], escape: impl Fn(&str) -> String) -> Vec<String> {
    let mut out = Vec::new();
    // The plan orders entries by scope, then reason, so one scope's entries are adjacent.
    for group in left_out.chunk_by(|a, b| a.scope == b.scope) {
        let s = &group[0].scope;
        let total: usize = group.iter().map(|l| l.count).sum();
        let kind = s.resource_type.as_str();
        let reasons: Vec<String> = group
            .iter()
            .map(|l| format!("{} {}", l.reason.describe(), l.count))
            .collect();
        out.push(format!(
            "discovery left out {} in {}/{}/{}: {}",
            count(total, kind, &format!("{kind}s")),
            s.cloud,
            escape(&s.account),
            escape(&s.region),
            reasons.join(", ")
        ));
    }
    out
}

/// The summary in words, one or two lines, shared by the text and Markdown reports.
///
/// The first line carries the verdict. A failed read must never read as "no drift", so unknown resources and
/// scopes get their own wording; unmanaged resources are reported but are not drift.
pub fn summary_lines(s: &Summary) -> Vec<String> {
    let resources = |n| count(n, "resource", "resources");
    let scopes = |n| count(n, "scope could not be listed", "scopes could not be listed");
    let mut rest: Vec<String> = Vec::new();
    let first = match s.verdict() {
        Verdict::Drift => {
            let first = if s.drifted > 0 {
                if s.missing > 0 {
                    rest.push(format!("{} missing", s.missing));
                }
                format!(
                    "Drift: {} to add, {} to change, {} to remove, across {} of {}.",
                    s.tag_changes.add,
                    s.tag_changes.change,
                    s.tag_changes.remove,
                    s.drifted,
                    resources(s.total)
                )
            } else {
                format!("Drift: {} of {} missing.", s.missing, resources(s.total))
            };
            if s.unknown > 0 {
                rest.push(format!("{} could not be read", s.unknown));
            }
            if s.unknown_scopes > 0 {
                rest.push(scopes(s.unknown_scopes));
            }
            first
        }
        Verdict::Unknown => {
            let first = if s.unknown > 0 {
                if s.unknown_scopes > 0 {
                    rest.push(scopes(s.unknown_scopes));
                }
                format!(
                    "Drift unknown: {} of {} could not be read.",
                    s.unknown,
                    resources(s.total)
                )
            } else {
                format!("Drift unknown: {}.", scopes(s.unknown_scopes))
            };
            rest.insert(0, format!("{} in sync", s.in_sync));
            first
        }
        Verdict::NoDrift => match (s.total, s.unmanaged) {
            (0, _) => "No drift. No resources were checked.".to_owned(),
            (1, 0) => "No drift. The 1 resource matches the desired state.".to_owned(),
            (t, 0) => format!("No drift. All {t} resources match the desired state."),
            (t, u) => format!(
                "No drift. {} of {} match the desired state; {} not declared (unmanaged).",
                s.in_sync,
                resources(t),
                u
            ),
        },
    };
    if s.unmanaged > 0 && s.verdict() != Verdict::NoDrift {
        rest.push(format!("{} unmanaged", s.unmanaged));
    }
    if s.violations > 0 {
        rest.push(count(s.violations, "rule violation", "rule violations"));
    }
    if s.ignored > 0 {
        rest.push(format!("{} ignored", s.ignored));
    }
    if s.expired_ignores > 0 {
        rest.push(count(s.expired_ignores, "expired ignore", "expired ignores"));
    }
    let mut lines = vec![first];
    if !rest.is_empty() {
        lines.push(format!("{}.", rest.join(", ")));
    }
    lines
}

/// What a violation means, without the rule name: `value not in [prod, staging]`.
pub fn violation_note(v: &Violation) -> String {
    match &v.kind {
        ViolationKind::MissingRequired => "required tag is missing".to_owned(),
        ViolationKind::ValueNotAllowed { allowed, .. } => format!("value not in [{}]", allowed.join(", ")),
        ViolationKind::PatternMismatch { pattern, .. } => format!("value does not match /{pattern}/"),
        ViolationKind::ForbiddenDeclared => "forbidden, but declared on this resource".to_owned(),
    }
}

/// Text from a cloud (or a file) made safe to show: every control character (ESC, newlines, C1), bidirectional
/// control (U+202E and the other overrides, embeddings, isolates and marks), zero-width or otherwise invisible
/// formatting character and Unicode tag character is replaced by a visible escape, `\n`, `\r`, `\t` or
/// `\u{1b}`, `\u{202e}`. Tag keys and values come from whoever can tag a resource; unescaped, they could drive a
/// terminal, break a report's layout or make one id read as another.
///
/// Every output uses this one function, so they all show the same characters the same way: the text and
/// Markdown reports, the HTML page (before HTML escaping) and log fields that carry cloud text. The JSON report
/// does not: it keeps values exact, and JSON escapes control characters itself.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_hidden(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether `c` is one [`visible`] escapes: it is invisible, or changes how the text around it displays.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'                       // soft hyphen
            | '\u{61c}'                    // Arabic letter mark
            | '\u{180e}'                   // Mongolian vowel separator
            | '\u{200b}'..='\u{200f}'      // zero-width space, (non-)joiner, left-to-right and right-to-left marks
            | '\u{2028}'..='\u{202e}'      // line and paragraph separators, bidirectional embeddings and overrides
            | '\u{2060}'..='\u{2064}'      // word joiner, invisible operators
            | '\u{2066}'..='\u{206f}'      // bidirectional isolates, deprecated format characters
            | '\u{feff}'                   // zero-width no-break space (byte order mark)
            | '\u{fff9}'..='\u{fffb}'      // interlinear annotation
            | '\u{e0000}'..='\u{e007f}'  // tag characters, invisible ASCII look-alikes
        )
}
