//! The page's unit tests: escaping of every value, the listing cap, the empty states, and the CSP hashes.

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
