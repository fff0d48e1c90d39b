//! The HTML page at `/`: the last check at a glance for a person with a browser. Rendered on the server, so it
//! reads fine without JavaScript; a small inline script only filters rows by cloud, status and account (and
//! keeps the filter in the URL so a filtered view can be shared). Self-contained: no external scripts, styles
//! or fonts. Each section is an askama template in HTML mode, which escapes every value it prints, so no text
//! from the desired state or a cloud can become markup; only the fixed style and script are written as they are.

mod reconcile;

use std::fmt;
use std::sync::LazyLock;

use askama::Template;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest as _, Sha256};

use crate::scheduler::{Active, Snapshot};
use tagdrift_core::drift::{Action, Plan, ResourcePlan, Scope, Status, TagChange, UnknownScope, Verdict};
use tagdrift_core::report;
use tagdrift_core::vocab::{Cloud, ErrorCode};

/// Resources listed on the page at most; the rest are counted and left to `/report.json`, so a large drift
/// cannot make the page unusable.
pub(super) const MAX_LISTED: usize = 2000;

pub(super) struct PageInput<'a> {
    pub snapshot: Option<&'a Snapshot>,
    pub last_success: Option<DateTime<Utc>>,
    pub running: bool,
    pub active: &'a Active,
    /// What self-healing did last.
    pub heal: &'a crate::heal::Status,
}

/// The whole page: the fixed head, then one template per section, then (after a check) the filter script.
pub(super) fn render(input: &PageInput<'_>) -> String {
    let mut html = String::with_capacity(16 * 1024);
    html.push_str(HEAD);
    write(&mut html, &header(input));
    html.push_str("<main>");
    if let Some(snapshot) = input.snapshot {
        let plan = &snapshot.plan;
        write(&mut html, &check(snapshot, input.last_success));
        write(&mut html, &filters(snapshot));
        write(&mut html, &summary(plan));
        write(&mut html, &resources(plan));
        write(
            &mut html,
            &reconcile::section(&snapshot.state.reconcile, input.heal),
        );
        let failures = &plan.scope_failures;
        write(&mut html, &FailedListings { failures });
        // Plain text: the template's escaper makes account and region safe, as every other value.
        let lines = report::left_out_lines(&plan.left_out, str::to_owned);
        write(&mut html, &LeftOut { lines });
        write(&mut html, &Links);
        html.push_str("</main>");
        html.push_str(SCRIPT);
    } else {
        write(&mut html, &NoCheckYet);
        html.push_str("</main>");
    }
    html.push_str("</body></html>\n");
    html
}

/// Appends one section. Rendering into a `String` cannot fail: every value printed is text or a number.
fn write(html: &mut String, section: &impl Template) {
    let _ = section.render_into(html);
}

/// The escaper askama applies to every value an HTML template prints (askama.toml registers it for `html`):
/// hidden characters (ESC, U+202E, ...) are first made visible with [`report::visible`], as in every other
/// output, since HTML escaping leaves them to reorder or hide the text around them; then `&`, `<`, `>`, `"`
/// and `'` become `&amp;`, `&lt;`, `&gt;`, `&quot;` and `&#39;`, safe in element content and in quoted
/// attribute values. askama's own escaper writes numeric references (`&#60;`) instead.
#[derive(Clone, Copy)]
struct Escaper;

impl askama::filters::Escaper for Escaper {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, text: &str) -> fmt::Result {
        let visible = report::visible(text);
        let mut text: &str = &visible;
        while let Some(i) = text.find(['&', '<', '>', '"', '\'']) {
            dest.write_str(&text[..i])?;
            dest.write_str(match text.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            text = &text[i + 1..];
        }
        dest.write_str(text)
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The title bar: the desired state in force, and whether a check is running.
#[derive(Template)]
#[template(
    ext = "html",
    source = "\
        <header><h1>tagdrift</h1>\
        <p class=\"meta\">Desired state <code>{{ path }}</code>, loaded {{ loaded }}.\
            {% if running %} <span class=\"badge running\">check running</span>{% endif %}\
        </p></header>"
)]
struct Header<'a> {
    path: &'a str,
    loaded: String,
    running: bool,
}

fn header<'a>(input: &PageInput<'a>) -> Header<'a> {
    Header {
        path: &input.active.path,
        loaded: time(input.active.loaded_at),
        running: input.running,
    }
}

#[derive(Template)]
#[template(
    ext = "html",
    source = "\
        <section><h2>No check has completed yet</h2>\
        <p>The first check starts when tagdrift starts; reload this page in a moment.</p></section>"
)]
struct NoCheckYet;

/// The verdict and when the last check and the last successful one ran.
#[derive(Template)]
#[template(
    ext = "html",
    source = "\
        <section id=\"check\"><p class=\"verdict {{ class }}\" id=\"verdict\">{{ verdict }}</p><dl>\
            <dt>Last check</dt><dd id=\"last-check\">{{ finished }} ({{ duration }}, {{ outcome }})</dd>\
            <dt>Last successful check</dt><dd id=\"last-success\">{{ last_success }}</dd>\
        </dl></section>"
)]
struct Check {
    class: &'static str,
    verdict: String,
    finished: String,
    duration: String,
    outcome: &'static str,
    last_success: String,
}

fn check(snapshot: &Snapshot, last_success: Option<DateTime<Utc>>) -> Check {
    let summary = &snapshot.plan.summary;
    Check {
        class: match summary.verdict() {
            Verdict::NoDrift => "ok",
            Verdict::Drift => "drift",
            Verdict::Unknown => "unknown",
        },
        verdict: report::summary_lines(summary).join(" "),
        finished: time(snapshot.finished),
        duration: report::seconds(snapshot.duration),
        outcome: if snapshot.success {
            "successful"
        } else if snapshot.timed_out {
            "unsuccessful: deadline exceeded"
        } else {
            "unsuccessful: some resources or listings could not be read"
        },
        last_success: last_success.map_or_else(|| "never".to_owned(), time),
    }
}

/// The cloud, status and account filters the inline script applies. The options come from the plan and the
/// desired state, so every value exists.
#[derive(Template)]
#[template(
    ext = "html",
    source = "\
        <section id=\"filters\" aria-label=\"Filters\">\
        {% for f in selects %}\
            {% if !loop.first %} {% endif %}\
            <label>{{ f.label }} <select id=\"f-{{ f.id }}\"><option value=\"\">all</option>\
                {% for v in f.values %}<option value=\"{{ v }}\">{{ v }}</option>{% endfor %}\
            </select></label>\
        {% endfor %}\
        <p id=\"filter-status\" class=\"note\" role=\"status\" aria-live=\"polite\">\
            Showing {{ listed }} of {{ listed }} resources not in sync.</p>\
        </section>"
)]
struct Filters<'a> {
    selects: [Select<'a>; 3],
    /// Resources listed on the page; the script updates the line as filters change.
    listed: usize,
}

struct Select<'a> {
    label: &'static str,
    id: &'static str,
    values: Vec<&'a str>,
}

fn filters(snapshot: &Snapshot) -> Filters<'_> {
    let mut accounts: Vec<&str> = snapshot.state.accounts.iter().map(|a| a.name.as_str()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    let select = |label, id, values| Select { label, id, values };
    let listed = snapshot.plan.not_in_sync().count().min(MAX_LISTED);
    Filters {
        listed,
        selects: [
            select("Cloud", "cloud", Cloud::ALL.map(Cloud::as_str).to_vec()),
            select("Status", "status", Status::ALL.map(Status::as_str).to_vec()),
            select("Account", "account", accounts),
        ],
    }
}

/// Resources per status in each scope, and whether its listing failed.
#[derive(Template)]
#[template(
    ext = "html",
    source = "\
        <section><h2>Summary</h2><div class=\"scroll\"><table id=\"summary\"><thead><tr>\
            <th>Cloud</th><th>Account</th><th>Region</th><th>Type</th><th>In sync</th><th>Drifted</th>\
            <th>Missing</th><th>Unmanaged</th><th>Unknown</th><th>Listing</th>\
        </tr></thead><tbody>\
        {% for row in rows %}{% let s = row.scope %}\
            <tr data-scope data-cloud=\"{{ s.cloud }}\" data-account=\"{{ s.account }}\"\
                {% for (status, n) in row.counts %} data-n-{{ status }}=\"{{ n }}\"{% endfor %}>\
            <td>{{ s.cloud }}</td><td>{{ s.account }}</td><td>{{ s.region }}</td><td>{{ s.resource_type }}</td>\
            {% for (status, n) in row.counts %}\
                <td{% if *n > 0 && *status != Status::InSync %} class=\"hot\"{% endif %}>{{ n }}</td>\
            {% endfor %}\
            {% match row.failure %}\
                {% when Some(code) %}<td class=\"hot\">failed: {{ code }}</td>\
                {% when None %}<td>ok</td>\
            {% endmatch %}\
            </tr>\
        {% endfor %}\
        </tbody></table></div>\
        <p id=\"no-scope-match\" class=\"note\" hidden>No scope matches these filters.</p></section>"
)]
struct Summary {
    rows: Vec<ScopeRow>,
}

struct ScopeRow {
    scope: Scope,
    counts: [(Status, usize); 5],
    failure: Option<ErrorCode>,
}

fn summary(plan: &Plan) -> Summary {
    let rows = plan
        .breakdown()
        .scopes
        .into_iter()
        .map(|(scope, counts)| ScopeRow {
            scope,
            counts: Status::ALL.map(|status| (status, counts.resources[&status])),
            failure: counts.scope_failure,
        });
    Summary { rows: rows.collect() }
}

/// The resources that are not in sync, at most [`MAX_LISTED`], each with what differs.
#[derive(Template)]
#[template(
    ext = "html",
    source = "\
        <section><h2>Resources not in sync (<span id=\"shown\">{{ rows.len() }}</span> shown)</h2>\
        {% if rows.is_empty() %}\
            <p id=\"none\">Every resource is in sync.</p>\
        {% else %}\
            <p id=\"no-match\" class=\"note\" hidden>No resource matches these filters; set a filter back to \
                “all” to see more.</p>\
            <div class=\"scroll\"><table id=\"resources\"><thead><tr><th>Status</th><th>Resource</th><th>Differences</th></tr>\
            </thead><tbody>\
            {% for r in rows %}{% let res = r.resource %}\
                <tr data-resource data-cloud=\"{{ res.cloud }}\" data-account=\"{{ res.account }}\" \
                    data-status=\"{{ r.status }}\">\
                <td><span class=\"badge {{ r.status }}\">{{ r.status }}</span></td>\
                <td><code class=\"id\">{{ res.id }}</code><br><small>\
                    {{ res.cloud }} · {{ res.account }} · {{ res.region }} · {{ res.resource_type }}\
                    {% if let Some(alias) = r.alias %} · alias <code>{{ alias }}</code>{% endif %}\
                    {% if !r.managed %} · not declared{% endif %}\
                </small></td>\
                <td><ul class=\"diff\">\
                {% if let Some(e) = r.error %}\
                    <li class=\"err\">could not be read: <code>{{ e.code }}</code>: {{ e.message }}</li>\
                {% endif %}\
                {% if r.status == Status::Missing %}\
                    {% match r.reason %}\
                    {% when Some(reason) %}<li class=\"err\">missing ({{ reason.describe() }}): declared, but \
                        it cannot carry tags</li>\
                    {% when None %}<li class=\"err\">declared, but the cloud says it does not exist</li>\
                    {% endmatch %}\
                {% endif %}\
                {% for c in r.changes %}\
                    <li class=\"{{ c.action.as_str() }}\"><b>{{ c.action.symbol() }}</b> {{ c.key }} = \
                    {% for v in self::compared(c) %}\
                        {% if !loop.first %} → {% endif %}\
                        {% match v %}{% when Some(v) %}\"{{ v }}\"{% when None %}(none){% endmatch %}\
                    {% endfor %} \
                    <small>({{ c.cause.as_str() }})</small></li>\
                {% endfor %}\
                {% for v in r.violations %}\
                    <li class=\"violation\"><b>!</b> {{ v.key }}\
                    {% if let Some(value) = v.kind.value() %} = \"{{ value }}\"{% endif %}: \
                    {{ report::violation_note(v) }} <small>(rule {{ v.rule }})</small></li>\
                {% endfor %}\
                </ul></td></tr>\
            {% endfor %}\
            </tbody></table></div>\
            {% if unlisted > 0 %}\
                <p class=\"note\">{{ unlisted }} more are not listed here; see \
                <a href=\"report.json\">report.json</a>.</p>\
            {% endif %}\
        {% endif %}\
        </section>"
)]
struct Resources<'a> {
    rows: Vec<&'a ResourcePlan>,
    unlisted: usize,
}

fn resources(plan: &Plan) -> Resources<'_> {
    let mut rows: Vec<&ResourcePlan> = plan.not_in_sync().collect();
    let unlisted = rows.len().saturating_sub(MAX_LISTED);
    rows.truncate(MAX_LISTED);
    Resources { rows, unlisted }
}

/// The values a change compares, in the order the page shows them: before, then after.
fn compared(c: &TagChange) -> Vec<Option<&str>> {
    let (before, after) = (c.before.as_deref(), c.after.as_deref());
    match c.action {
        Action::Add => vec![after],
        Action::Change => vec![before, after],
        Action::Remove => vec![before],
    }
}

/// The scopes whose listing failed; nothing when every listing succeeded.
#[derive(Template)]
#[template(
    ext = "html",
    source = "\
        {% if !failures.is_empty() %}\
            <section><h2>Listings that failed</h2><ul id=\"scope-failures\">\
            {% for f in failures %}{% let s = f.scope %}\
                <li data-cloud=\"{{ s.cloud }}\" data-account=\"{{ s.account }}\">\
                {{ s.cloud }} {{ s.account }} {{ s.region }} {{ s.resource_type }}: \
                <code>{{ f.code }}</code> {{ f.message }}</li>\
            {% endfor %}\
            </ul></section>\
        {% endif %}"
)]
struct FailedListings<'a> {
    failures: &'a [UnknownScope],
}

/// The scopes where discovery left out resources that cannot carry tags; nothing when there are none.
#[derive(Template)]
#[template(
    ext = "html",
    source = "\
        {% if !lines.is_empty() %}\
            <section><h2>Left out of discovery</h2><ul id=\"left-out\">\
            {% for line in lines %}<li>{{ line }}</li>{% endfor %}\
            </ul></section>\
        {% endif %}"
)]
struct LeftOut {
    lines: Vec<String>,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = "\
        <p class=\"note\">Also: <a href=\"report\">text report</a>, <a href=\"report.json\">JSON</a>, \
        <a href=\"report.md\">Markdown</a>, <a href=\"metrics\">metrics</a>.</p>"
)]
struct Links;

/// The page's style and script, kept in their own files so they read as CSS and JavaScript. Both are inline
/// in the page (it loads nothing else), and the Content-Security-Policy allows exactly these two by hash.
const STYLE: &str = include_str!("page/style.css");
const SCRIPT_BODY: &str = include_str!("page/filter.js");

const HEAD: &str = concat!(
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>tagdrift</title>\n",
    "<link rel=\"icon\" href=\"favicon.svg\" type=\"image/svg+xml\">\n<style>",
    include_str!("page/style.css"),
    "</style></head><body>\n"
);

const SCRIPT: &str = concat!("<script>", include_str!("page/filter.js"), "</script>\n");

/// The Content-Security-Policy of the page: no source at all but its own inline style and script, named by
/// the SHA-256 of their text (computed here from the very strings the page embeds, so it cannot go stale),
/// and the favicon from the same origin.
pub(super) fn content_security_policy() -> &'static str {
    static POLICY: LazyLock<String> = LazyLock::new(|| {
        format!(
            "default-src 'none'; script-src '{}'; style-src '{}'; img-src 'self'; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'",
            csp_hash(SCRIPT_BODY),
            csp_hash(STYLE)
        )
    });
    &POLICY
}

/// A CSP hash source (`sha256-<base64>`) of an inline element's text.
fn csp_hash(text: &str) -> String {
    format!("sha256-{}", BASE64.encode(Sha256::digest(text.as_bytes())))
}

/// The icon at `/favicon.svg` (and `/favicon.ico`): a tag, so the tab is recognisable among dashboards.
pub(super) const FAVICON: &str = include_str!("page/favicon.svg");

#[cfg(test)]
mod tests;
