//! The page's self-healing section (`reconcile:`): the mode in force, what the last round decided and the
//! last result per resource (what was written, or would be, and when). Shown only when self-healing is on or
//! has run; every value goes through the page's escaper like the rest of the page.

use askama::Template;

use super::time;
use crate::heal::{Round, Status};
use tagdrift_core::config::{Reconcile, ReconcileMode};
use tagdrift_core::drift::Action;
use tagdrift_core::report;

#[derive(Template)]
#[template(
    ext = "html",
    source = "\
        {% if shown %}\
            <section id=\"reconcile\"><h2>Self-healing</h2>\
            <p>Mode <code id=\"reconcile-mode\">{{ mode }}</code>{% if let Some(m) = guards %}: {{ m }}{% endif %}.</p>\
            {% if let Some(r) = round %}<p id=\"reconcile-round\">{{ r }}</p>{% endif %}\
            {% if !rows.is_empty() %}\
                <table id=\"reconcile-resources\"><thead><tr><th>Result</th><th>Resource</th><th>When</th>\
                <th>Changes</th><th>Error</th></tr></thead><tbody>\
                {% for row in rows %}\
                    <tr data-result=\"{{ row.result }}\"><td>{{ row.result }}</td><td><code>{{ row.address }}</code></td>\
                    <td>{{ row.at }}</td><td>{% for c in row.changes %}<code>{{ c }}</code> {% endfor %}</td>\
                    <td>{{ row.error }}</td></tr>\
                {% endfor %}\
                </tbody></table>\
            {% endif %}\
            </section>\
        {% endif %}"
)]
pub(super) struct Section {
    shown: bool,
    mode: &'static str,
    guards: Option<String>,
    round: Option<String>,
    rows: Vec<Row>,
}

struct Row {
    result: &'static str,
    address: String,
    at: String,
    changes: Vec<String>,
    error: String,
}

pub(super) fn section(policy: &Reconcile, status: &Status) -> Section {
    let on = policy.mode != ReconcileMode::Off;
    let guards = on.then(|| {
        format!(
            "writes after {} identical checks in a row, at most {} tag changes per check",
            policy.min_consecutive_checks, policy.max_changes_per_check
        )
    });
    let rows = status
        .resources
        .iter()
        .map(|r| Row {
            result: r.result.as_str(),
            address: r.address.clone(),
            at: time(r.at),
            changes: r
                .changes
                .iter()
                .map(|c| {
                    let v = |v: &Option<String>| v.clone().unwrap_or_default();
                    match c.action {
                        Action::Add => format!("+ {}={}", c.key, v(&c.after)),
                        Action::Change => format!("~ {}: {} -> {}", c.key, v(&c.before), v(&c.after)),
                        Action::Remove => format!("- {}", c.key),
                    }
                })
                .collect(),
            error: r
                .error
                .as_ref()
                .map(|e| format!("{}: {}", e.code, report::visible(&e.message)))
                .unwrap_or_default(),
        })
        .collect();
    Section {
        shown: on || status.last.is_some(),
        mode: policy.mode.as_str(),
        guards,
        round: status.last.as_ref().map(describe),
        rows,
    }
}

/// One line on the last round.
fn describe(r: &Round) -> String {
    let when = format!("After the check of {}", time(r.check_finished));
    if let Some(b) = &r.blocked {
        return format!("{when}: blocked, {b}.");
    }
    let mut text = match r.mode {
        ReconcileMode::DryRun => format!(
            "{when}: {} resource(s) with {} tag change(s) would be written (dry run)",
            r.due, r.changes
        ),
        _ => format!(
            "{when}: {} resource(s) due, {} written, {} failed",
            r.due, r.applied, r.failed
        ),
    };
    if r.waiting > 0 {
        text.push_str(&format!(
            "; {} drifted resource(s) waiting for more consecutive checks",
            r.waiting
        ));
    }
    if r.interrupted {
        text.push_str("; shutdown stopped the remaining writes");
    }
    text.push('.');
    text
}
