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
                <div class=\"scroll\"><table id=\"reconcile-resources\"><thead><tr><th>Result</th><th>Resource</th><th>When</th>\
                <th>Changes</th><th>Error</th></tr></thead><tbody>\
                {% for row in rows %}\
                    <tr data-result=\"{{ row.result }}\"><td>{{ row.result }}</td><td><code>{{ row.address }}</code></td>\
                    <td>{{ row.at }}</td><td>{% for c in row.changes %}<code>{{ c }}</code> {% endfor %}</td>\
                    <td>{{ row.error }}</td></tr>\
                {% endfor %}\
                </tbody></table></div>\
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

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use tagdrift_core::config::{Reconcile, ReconcileMode};
    use tagdrift_core::drift::fixtures::ali_key;
    use tagdrift_core::drift::{Action, Cause, TagChange};

    use super::*;
    use crate::heal::{Record, RecordError, RecordResult};

    /// Tag values and cloud messages reach the section only through the escaper.
    #[test]
    fn records_are_escaped_and_a_blocked_round_says_why() {
        let hostile = "<script>alert(1)</script>\u{202e}";
        let at = Utc.with_ymd_and_hms(2026, 3, 15, 8, 0, 0).unwrap();
        let status = Status {
            last: Some(Round {
                mode: ReconcileMode::Apply,
                check_finished: at,
                finished: at,
                due: 1,
                changes: 1,
                applied: 0,
                failed: 1,
                waiting: 2,
                blocked: None,
                interrupted: false,
            }),
            resources: vec![Record {
                address: ali_key(hostile).address(),
                resource: ali_key(hostile),
                at,
                result: RecordResult::Failed,
                changes: vec![TagChange {
                    key: "owner".to_owned(),
                    action: Action::Change,
                    before: Some(hostile.to_owned()),
                    after: Some("platform".to_owned()),
                    cause: Cause::Declared,
                }],
                request_ids: Vec::new(),
                error: Some(RecordError {
                    code: "Forbidden.NoPermission".to_owned(),
                    message: hostile.to_owned(),
                }),
            }],
        };
        let policy = Reconcile {
            mode: ReconcileMode::Apply,
            ..Reconcile::default()
        };
        let html = section(&policy, &status).render().unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(
            !html.contains('\u{202e}'),
            "hidden characters are made visible: {html}"
        );
        assert!(
            html.contains("1 resource(s) due, 0 written, 1 failed; 2 drifted resource(s) waiting"),
            "{html}"
        );

        let off = section(&Reconcile::default(), &Status::default())
            .render()
            .unwrap();
        assert_eq!(off, "", "nothing while off and never run");
    }
}
