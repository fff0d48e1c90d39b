//! The HTML page at `/`: the last check at a glance for a person with a browser. Rendered on the server, so it
//! reads fine without JavaScript; a small inline script only filters rows by cloud, status and account (and
//! keeps the filter in the URL so a filtered view can be shared). Self-contained: no external scripts, styles
//! or fonts. Every piece of text that comes from the desired state or a cloud is HTML-escaped.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::scheduler::{Active, Snapshot};
use tagdrift_core::drift::{Action, ResourcePlan, Status};
use tagdrift_core::report;
use tagdrift_core::vocab::Cloud;

/// Resources listed on the page at most; the rest are counted and left to `/report.json`, so a large drift
/// cannot make the page unusable.
pub const MAX_LISTED: usize = 2000;

pub struct PageInput<'a> {
    pub snapshot: Option<&'a Snapshot>,
    pub last_success: Option<DateTime<Utc>>,
    pub running: bool,
    pub active: &'a Active,
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn render(input: &PageInput<'_>) -> String {
    let mut html = String::with_capacity(16 * 1024);
    html.push_str(HEAD);
    html.push_str("<header><h1>tagdrift</h1>");
    let _ = write!(
        html,
        "<p class=\"meta\">Desired state <code>{}</code>, loaded {}.",
        escape(&input.active.path),
        time(input.active.loaded_at)
    );
    if input.running {
        html.push_str(" <span class=\"badge running\">check running</span>");
    }
    html.push_str("</p></header><main>");

    let Some(snapshot) = input.snapshot else {
        html.push_str(
            "<section><h2>No check has completed yet</h2><p>The first check starts when tagdrift starts; \
             reload this page in a moment.</p></section></main></body></html>\n",
        );
        return html;
    };
    let plan = &snapshot.plan;
    let summary = &plan.summary;

    let verdict_class = match summary.verdict() {
        tagdrift_core::drift::Verdict::NoDrift => "ok",
        tagdrift_core::drift::Verdict::Drift => "drift",
        tagdrift_core::drift::Verdict::Unknown => "unknown",
    };
    let _ = write!(
        html,
        "<section id=\"check\"><p class=\"verdict {verdict_class}\" id=\"verdict\">{}</p>",
        escape(&report::summary_lines(summary).join(" "))
    );
    let _ = write!(
        html,
        "<dl><dt>Last check</dt><dd id=\"last-check\">{} ({}, {})</dd><dt>Last successful check</dt>\
         <dd id=\"last-success\">{}</dd></dl></section>",
        time(snapshot.finished),
        report::seconds(snapshot.duration),
        if snapshot.success {
            "successful"
        } else if snapshot.timed_out {
            "unsuccessful: deadline exceeded"
        } else {
            "unsuccessful: some resources or listings could not be read"
        },
        input.last_success.map_or_else(|| "never".to_owned(), time),
    );

    // Filters: the option lists come from the plan and the desired state, so every value exists.
    let mut accounts: Vec<&str> = snapshot.state.accounts.iter().map(|a| a.name.as_str()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    html.push_str("<section id=\"filters\" aria-label=\"Filters\"><label>Cloud <select id=\"f-cloud\"><option value=\"\">all</option>");
    for cloud in Cloud::ALL {
        let _ = write!(html, "<option value=\"{0}\">{0}</option>", cloud.as_str());
    }
    html.push_str("</select></label> <label>Status <select id=\"f-status\"><option value=\"\">all</option>");
    for status in Status::ALL {
        let _ = write!(html, "<option value=\"{0}\">{0}</option>", status.as_str());
    }
    html.push_str(
        "</select></label> <label>Account <select id=\"f-account\"><option value=\"\">all</option>",
    );
    for account in &accounts {
        let _ = write!(html, "<option value=\"{0}\">{0}</option>", escape(account));
    }
    html.push_str("</select></label></section>");

    // Summary per scope.
    html.push_str(
        "<section><h2>Summary</h2><table id=\"summary\"><thead><tr><th>Cloud</th><th>Account</th><th>Region</th>\
         <th>Type</th><th>In sync</th><th>Drifted</th><th>Missing</th><th>Unmanaged</th><th>Unknown</th>\
         <th>Listing</th></tr></thead><tbody>",
    );
    for (scope, counts) in plan.breakdown().scopes {
        let _ = write!(
            html,
            "<tr data-scope data-cloud=\"{}\" data-account=\"{}\"",
            scope.cloud.as_str(),
            escape(&scope.account)
        );
        for status in Status::ALL {
            let _ = write!(
                html,
                " data-n-{}=\"{}\"",
                status.as_str(),
                counts.resources[&status]
            );
        }
        let _ = write!(
            html,
            "><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            scope.cloud.as_str(),
            escape(&scope.account),
            escape(&scope.region),
            scope.resource_type.as_str()
        );
        for status in Status::ALL {
            let n = counts.resources[&status];
            let class = if n > 0 && status != Status::InSync {
                " class=\"hot\""
            } else {
                ""
            };
            let _ = write!(html, "<td{class}>{n}</td>");
        }
        match counts.scope_failure {
            Some(code) => {
                let _ = write!(html, "<td class=\"hot\">failed: {}</td></tr>", code.as_str());
            }
            None => html.push_str("<td>ok</td></tr>"),
        }
    }
    html.push_str("</tbody></table></section>");

    // Resources that are not in sync.
    let listed: Vec<&ResourcePlan> = plan.not_in_sync().collect();
    let _ = write!(
        html,
        "<section><h2>Resources not in sync (<span id=\"shown\">{}</span> shown)</h2>",
        listed.len().min(MAX_LISTED)
    );
    if listed.is_empty() {
        html.push_str("<p id=\"none\">Every resource is in sync.</p>");
    } else {
        html.push_str(
            "<table id=\"resources\"><thead><tr><th>Status</th><th>Resource</th><th>Differences</th></tr></thead>\
             <tbody>",
        );
        for r in listed.iter().take(MAX_LISTED) {
            resource_row(&mut html, r);
        }
        html.push_str("</tbody></table>");
        if listed.len() > MAX_LISTED {
            let _ = write!(
                html,
                "<p class=\"note\">{} more are not listed here; see <a href=\"report.json\">report.json</a>.</p>",
                listed.len() - MAX_LISTED
            );
        }
    }
    html.push_str("</section>");

    if !plan.scope_failures.is_empty() {
        html.push_str("<section><h2>Listings that failed</h2><ul id=\"scope-failures\">");
        for f in &plan.scope_failures {
            let _ = write!(
                html,
                "<li data-cloud=\"{}\" data-account=\"{}\">{} {} {} {}: <code>{}</code> {}</li>",
                f.scope.cloud.as_str(),
                escape(&f.scope.account),
                f.scope.cloud.as_str(),
                escape(&f.scope.account),
                escape(&f.scope.region),
                f.scope.resource_type.as_str(),
                f.code.as_str(),
                escape(&f.message)
            );
        }
        html.push_str("</ul></section>");
    }
    html.push_str(
        "<p class=\"note\">Also: <a href=\"report\">text report</a>, <a href=\"report.json\">JSON</a>, \
         <a href=\"report.md\">Markdown</a>, <a href=\"metrics\">metrics</a>.</p></main>",
    );
    html.push_str(SCRIPT);
    html.push_str("</body></html>\n");
    html
}

fn resource_row(html: &mut String, r: &ResourcePlan) {
    let res = &r.resource;
    let _ = write!(
        html,
        "<tr data-resource data-cloud=\"{}\" data-account=\"{}\" data-status=\"{}\"><td><span class=\"badge {}\">{}</span></td>",
        res.cloud.as_str(),
        escape(&res.account),
        r.status.as_str(),
        r.status.as_str(),
        r.status.as_str()
    );
    let _ = write!(
        html,
        "<td><code class=\"id\">{}</code><br><small>{} · {} · {} · {}",
        escape(&res.id),
        res.cloud.as_str(),
        escape(&res.account),
        escape(&res.region),
        res.resource_type.as_str()
    );
    if let Some(alias) = &r.alias {
        let _ = write!(html, " · alias <code>{}</code>", escape(alias));
    }
    if !r.managed {
        html.push_str(" · not declared");
    }
    html.push_str("</small></td><td><ul class=\"diff\">");
    if let Some(error) = &r.error {
        let _ = write!(
            html,
            "<li class=\"err\">could not be read: <code>{}</code>: {}</li>",
            error.code.as_str(),
            escape(&error.message)
        );
    }
    if r.status == Status::Missing {
        html.push_str("<li class=\"err\">declared, but the cloud says it does not exist</li>");
    }
    for c in &r.changes {
        let value = |v: &Option<String>| {
            v.as_deref()
                .map_or_else(|| "(none)".to_owned(), |v| format!("\"{}\"", escape(v)))
        };
        let (class, text) = match c.action {
            Action::Add => ("add", format!("{} = {}", escape(&c.key), value(&c.after))),
            Action::Change => (
                "change",
                format!("{} = {} → {}", escape(&c.key), value(&c.before), value(&c.after)),
            ),
            Action::Remove => ("remove", format!("{} = {}", escape(&c.key), value(&c.before))),
        };
        let _ = write!(
            html,
            "<li class=\"{class}\"><b>{}</b> {text} <small>({})</small></li>",
            c.action.symbol(),
            c.cause.as_str()
        );
    }
    for v in &r.violations {
        let value = v
            .kind
            .value()
            .map(|v| format!(" = \"{}\"", escape(v)))
            .unwrap_or_default();
        let _ = write!(
            html,
            "<li class=\"violation\"><b>!</b> {}{value}: {} <small>(rule {})</small></li>",
            escape(&v.key),
            escape(&report::violation_note(v)),
            escape(&v.rule)
        );
    }
    html.push_str("</ul></td></tr>");
}

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
