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

    /// The text of the first `<tag>...</tag>` element of a page.
    fn inline<'a>(html: &'a str, tag: &str) -> &'a str {
        let start = html.find(&format!("<{tag}>")).expect("the element") + tag.len() + 2;
        let end = html[start..].find(&format!("</{tag}>")).expect("its end");
        &html[start..start + end]
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_script_and_style_served() {
        let snapshot = hostile_snapshot(0);
        let html = page(Some(&snapshot), &active(&snapshot.state));
        let policy = content_security_policy();
        for (tag, directive) in [("script", "script-src"), ("style", "style-src")] {
            // Hashed here independently of csp_hash, from the bytes the browser hashes.
            let digest = sha2::Sha256::digest(inline(&html, tag).as_bytes());
            let want = format!("{directive} 'sha256-{}';", BASE64.encode(digest));
            assert!(policy.contains(&want), "{want} not in {policy}");
        }
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(
            html.matches("<script>").count(),
            1,
            "one inline script, the hashed one"
        );
        assert_eq!(
            html.matches("<style>").count(),
            1,
            "one inline style, the hashed one"
        );
        assert!(
            !html.contains(" style=\""),
            "style attributes would need 'unsafe-inline'"
        );
    }

    #[test]
    fn the_page_links_its_icon_and_announces_the_filtered_count() {
        let snapshot = hostile_snapshot(0);
        let html = page(Some(&snapshot), &active(&snapshot.state));
        assert!(html.contains("<link rel=\"icon\" href=\"favicon.svg\" type=\"image/svg+xml\">"));
        assert!(FAVICON.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        let listed = snapshot.plan.not_in_sync().count();
        assert!(html.contains(&format!(
            "<p id=\"filter-status\" class=\"note\" role=\"status\" aria-live=\"polite\">\
             Showing {listed} of {listed} resources not in sync.</p>"
        )));
        // The empty states exist for the script to show, hidden until a filter matches nothing.
        assert!(html.contains("<p id=\"no-match\" class=\"note\" hidden>"));
        assert!(html.contains("<p id=\"no-scope-match\" class=\"note\" hidden>"));
        // Wide tables scroll inside their card.
        for table in ["summary", "resources"] {
            assert!(html.contains(&format!("<div class=\"scroll\"><table id=\"{table}\">")));
        }
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
