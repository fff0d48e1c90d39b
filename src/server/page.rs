//! The HTML page at `/`: the last check at a glance for a person with a browser. Rendered on the server, so it
//! reads fine without JavaScript; a small inline script only filters rows by cloud, status and account (and
//! keeps the filter in the URL so a filtered view can be shared). Self-contained: no external scripts, styles
//! or fonts. Each section is an askama template in HTML mode, which escapes every value it prints, so no text
//! from the desired state or a cloud can become markup; only the fixed style and script are written as they are.

mod reconcile;

use std::fmt;

use askama::Template;
use chrono::{DateTime, SecondsFormat, Utc};

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
        </section>"
)]
struct Filters<'a> {
    selects: [Select<'a>; 3],
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
    Filters {
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
        <section><h2>Summary</h2><table id=\"summary\"><thead><tr>\
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
        </tbody></table></section>"
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
            <table id=\"resources\"><thead><tr><th>Status</th><th>Resource</th><th>Differences</th></tr>\
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
            </tbody></table>\
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

const HEAD: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>tagdrift</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d1f23;background:#f6f7f9}
header{background:#1d2b3a;color:#fff;padding:.8rem 1.5rem}header h1{margin:0;font-size:1.3rem}
header .meta{margin:.2rem 0 0;color:#c9d3de;font-size:.9rem}header code{color:#fff}
main{max-width:1200px;margin:0 auto;padding:1rem 1.5rem}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.8rem 1rem;margin:0 0 1rem}
h2{font-size:1.05rem;margin:.2rem 0 .6rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eceef1;vertical-align:top}
th{font-size:.85rem;color:#555}td.hot{font-weight:600;color:#a33}
.verdict{font-size:1.1rem;font-weight:600;margin:.2rem 0}.verdict.ok{color:#1a7f37}.verdict.drift{color:#b35900}.verdict.unknown{color:#a33}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem;margin:.4rem 0 0}dt{color:#555}dd{margin:0}
.badge{display:inline-block;padding:0 .45rem;border-radius:9px;font-size:.8rem;background:#e6e9ee}
.badge.drifted{background:#ffe2c2}.badge.missing{background:#ffd5d5}.badge.unknown{background:#e5d5ff}.badge.unmanaged{background:#d6ecff}
.badge.running{background:#fff3b0;color:#333}
ul.diff{list-style:none;margin:0;padding:0;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem;word-break:break-all}
.diff .add b{color:#1a7f37}.diff .change b{color:#b35900}.diff .remove b{color:#c62828}.diff .violation b{color:#8e24aa}.diff .err{color:#a33}
code.id{word-break:break-all}small{color:#666}.note{color:#555;font-size:.9rem}
label{margin-right:1rem}select{font:inherit;padding:.1rem .3rem}
</style></head><body>
"#;

const SCRIPT: &str = r##"<script>
(function () {
  var ids = ["cloud", "status", "account"];
  var sel = {};
  ids.forEach(function (k) { sel[k] = document.getElementById("f-" + k); });
  function apply() {
    var v = {};
    ids.forEach(function (k) { v[k] = sel[k].value; });
    var shown = 0;
    document.querySelectorAll("tr[data-resource]").forEach(function (tr) {
      var ok = (!v.cloud || tr.getAttribute("data-cloud") === v.cloud) &&
               (!v.status || tr.getAttribute("data-status") === v.status) &&
               (!v.account || tr.getAttribute("data-account") === v.account);
      tr.hidden = !ok;
      if (ok) { shown++; }
    });
    document.querySelectorAll("tr[data-scope]").forEach(function (tr) {
      tr.hidden = !((!v.cloud || tr.getAttribute("data-cloud") === v.cloud) &&
                    (!v.account || tr.getAttribute("data-account") === v.account) &&
                    (!v.status || Number(tr.getAttribute("data-n-" + v.status)) > 0));
    });
    document.querySelectorAll("#scope-failures li").forEach(function (li) {
      li.hidden = !((!v.cloud || li.getAttribute("data-cloud") === v.cloud) &&
                    (!v.account || li.getAttribute("data-account") === v.account));
    });
    var counter = document.getElementById("shown");
    if (counter) { counter.textContent = String(shown); }
    var q = new URLSearchParams();
    ids.forEach(function (k) { if (v[k]) { q.set(k, v[k]); } });
    var s = q.toString();
    history.replaceState(null, "", s ? "?" + s : location.pathname);
  }
  var params = new URLSearchParams(location.search);
  ids.forEach(function (k) {
    var want = params.get(k);
    if (want !== null) {
      for (var i = 0; i < sel[k].options.length; i++) {
        if (sel[k].options[i].value === want) { sel[k].value = want; }
      }
    }
    sel[k].addEventListener("change", apply);
  });
  apply();
})();
</script>
"##;

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::TimeZone as _;
    use tagdrift_core::config::DesiredState;
    use tagdrift_core::drift::fixtures::{Desired, Obs, any, res, rule};
    use tagdrift_core::vocab::{ErrorCode, Observations, ResourceType, Untaggable};

    use super::*;
    use crate::check::{BoxFuture, Source};

    /// Text made to break out of element content and of either kind of quoted attribute.
    const HOSTILE: &str = "<img src=x onerror=\"alert('x')\">&amp;";

    struct NoSource;

    impl Source for NoSource {
        fn read<'a>(&'a self, _: &'a DesiredState) -> BoxFuture<'a, Observations> {
            Box::pin(async { Observations::default() })
        }
    }

    fn active(state: &Arc<DesiredState>) -> Active {
        Active {
            state: state.clone(),
            source: Arc::new(NoSource),
            path: format!("/etc/{HOSTILE}.yaml"),
            loaded_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        }
    }

    /// A check where every string that reaches the page is hostile: account, region, id, alias, tag keys and
    /// values, rule name, error messages, and a failed listing; with every status, action and violation kind.
    fn hostile_snapshot(extra_missing: usize) -> Snapshot {
        snapshot_with(HOSTILE, extra_missing)
    }

    /// The snapshot of [`hostile_snapshot`] with `HOSTILE` text of the caller's choice.
    fn snapshot_with(hostile: &str, extra_missing: usize) -> Snapshot {
        let account = format!("acct-{hostile}");
        let region = format!("region-{hostile}");
        let key = |id: &str| res(Cloud::Alibaba, &account, &region, ResourceType::Key, id);
        let drifted = key(&format!("id-{hostile}"));
        let missing = key("missing");
        let unknown = key("unknown");
        let discovered = key("discovered");
        let mut desired = Desired::new()
            .declare(&drifted, &[("env", hostile), ("owner", "a"), (hostile, "new")])
            .declare(&missing, &[("owner", "a")])
            .declare(&unknown, &[("owner", "a")])
            .discover(any(), true)
            .rule(
                rule(&format!("rule-{hostile}"))
                    .required(&["team"])
                    .allowed("tier", &[hostile]),
            );
        let mut observed = Obs::new()
            .found_alias(
                &drifted,
                &format!("alias/{hostile}"),
                &[
                    ("env", "prod"),
                    ("gone", hostile),
                    ("tier", hostile),
                    ("team", "t"),
                ],
            )
            .not_found(&missing)
            .failed(&unknown, ErrorCode::Throttled, &format!("message {hostile}"))
            .found(&discovered, &[("tier", "bad")])
            .scope_failed(&key(""), ErrorCode::Http5xx, &format!("listing {hostile}"));
        for i in 0..extra_missing {
            let r = key(&format!("extra-{i}"));
            desired = desired.declare(&r, &[]);
            observed = observed.not_found(&r);
        }
        let mut state = desired.build();
        state.accounts[0].name = account;
        let finished = Utc.with_ymd_and_hms(2026, 1, 2, 3, 5, 0).unwrap();
        let plan = tagdrift_core::drift::plan(&state, &observed.build(), finished.date_naive());
        Snapshot {
            plan: Arc::new(plan),
            state: Arc::new(state),
            path: "desired.yaml".to_owned(),
            started: finished,
            finished,
            duration: Duration::from_millis(1234),
            success: false,
            timed_out: false,
        }
    }

    fn page(snapshot: Option<&Snapshot>, active: &Active) -> String {
        render(&PageInput {
            snapshot,
            last_success: None,
            running: true,
            active,
            heal: &crate::heal::Status::default(),
        })
    }

    // See: issue 12, point 9.
    #[test]
    fn untaggable_resources_show_their_reason_and_left_outs_their_scope_escaped() {
        let region = format!("region-{HOSTILE}");
        let key = |id: &str| res(Cloud::Huawei, "hw-prod", &region, ResourceType::Key, id);
        let doomed = key("doomed");
        let state = Desired::new()
            .declare(&doomed, &[("owner", "a")])
            .discover(any(), true)
            .build();
        let observed = Obs::new()
            .untaggable(&doomed, Untaggable::PendingDeletion, "KMS.0210")
            .left_out(&key(""), Untaggable::DefaultKey, 1)
            .left_out(&key(""), Untaggable::PendingDeletion, 1)
            .build();
        let finished = Utc.with_ymd_and_hms(2026, 1, 2, 3, 5, 0).unwrap();
        let plan = tagdrift_core::drift::plan(&state, &observed, finished.date_naive());
        let snapshot = Snapshot {
            plan: Arc::new(plan),
            state: Arc::new(state),
            path: "desired.yaml".to_owned(),
            started: finished,
            finished,
            duration: Duration::from_millis(1),
            success: true,
            timed_out: false,
        };
        let html = page(Some(&snapshot), &active(&snapshot.state));
        assert!(
            html.contains("missing (pending deletion): declared, but it cannot carry tags"),
            "{html}"
        );
        let e = "&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;amp;";
        let line = format!(
            "<li>discovery left out 2 keys in huawei/hw-prod/region-{e}: pending deletion 1, default master key 1</li>"
        );
        assert!(html.contains(&line), "{html}");
        assert!(!html.contains("<img"));
    }

    #[test]
    fn text_from_the_desired_state_and_the_clouds_is_escaped_everywhere() {
        let snapshot = hostile_snapshot(0);
        let html = page(Some(&snapshot), &active(&snapshot.state));
        assert!(!html.contains("<img") && !html.contains("alert('x')"), "{html}");
        let e = "&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;amp;";
        for expected in [
            format!("Desired state <code>/etc/{e}.yaml</code>"),
            format!("<option value=\"acct-{e}\">acct-{e}</option>"),
            format!("<tr data-scope data-cloud=\"alibaba\" data-account=\"acct-{e}\" data-n-in_sync=\"0\""),
            format!("<td>acct-{e}</td><td>region-{e}</td><td>key</td>"),
            format!("<code class=\"id\">id-{e}</code>"),
            format!(" · alias <code>alias/{e}</code>"),
            format!("<b>+</b> {e} = \"new\" <small>(declared)</small>"),
            format!("<b>~</b> env = \"prod\" → \"{e}\""),
            format!("<b>-</b> gone = \"{e}\""),
            format!("could not be read: <code>throttled</code>: message {e}</li>"),
            format!("value not in [{e}] <small>(rule rule-{e})</small>"),
            format!("<li data-cloud=\"alibaba\" data-account=\"acct-{e}\">"),
            format!("<code>http_5xx</code> listing {e}</li>"),
        ] {
            assert!(html.contains(&expected), "{expected}\n{html}");
        }
    }

    #[test]
    fn escapes_and_bidirectional_overrides_from_the_clouds_are_shown_visibly() {
        // U+202E would show `gnp.exe` reversed, as `exe.png`; ESC would reach a terminal reading the page.
        let snapshot = snapshot_with("\x1b[2J\u{202e}gnp.exe", 0);
        let html = page(Some(&snapshot), &active(&snapshot.state));
        assert!(!html.contains(['\x1b', '\u{202e}']), "{html}");
        let v = r"\u{1b}[2J\u{202e}gnp.exe";
        for expected in [
            format!("<option value=\"acct-{v}\">acct-{v}</option>"),
            format!("<code class=\"id\">id-{v}</code>"),
            format!("<b>+</b> {v} = \"new\" <small>(declared)</small>"),
            format!("<b>~</b> env = \"prod\" → \"{v}\""),
            format!("could not be read: <code>throttled</code>: message {v}</li>"),
            format!("<code>http_5xx</code> listing {v}</li>"),
        ] {
            assert!(html.contains(&expected), "{expected}\n{html}");
        }
    }

    #[test]
    fn the_list_stops_at_max_listed_and_says_how_many_more() {
        let snapshot = hostile_snapshot(MAX_LISTED);
        let html = page(Some(&snapshot), &active(&snapshot.state));
        assert_eq!(html.matches("<tr data-resource ").count(), MAX_LISTED);
        assert!(html.contains(&format!("(<span id=\"shown\">{MAX_LISTED}</span> shown)")));
        assert!(html.contains("<p class=\"note\">4 more are not listed here;"));
    }

    #[test]
    fn before_the_first_check_the_page_says_so_without_the_script() {
        let state = Arc::new(Desired::new().build());
        let html = page(None, &active(&state));
        assert!(html.contains("<h2>No check has completed yet</h2>"));
        assert!(html.contains("<span class=\"badge running\">check running</span>"));
        assert!(!html.contains("<script>"));
        assert!(html.ends_with("</main></body></html>\n"));
    }
}
