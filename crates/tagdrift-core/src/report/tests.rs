//! Golden tests of the reports: fixed plans rendered and compared byte for byte with
//! `tests/fixtures/golden/*`. On a mismatch the failure shows a unified diff.
//!
//! After an intended change of the output, rewrite the goldens with
//! `TAGDRIFT_BLESS=1 cargo test -p tagdrift-core --lib report::` and review the diff in git before committing.

use std::path::Path;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use similar::TextDiff;

use super::*;
use crate::drift::fixtures::*;
use crate::drift::{Plan, plan};
use crate::vocab::{Cloud, ErrorCode, ResourceType, Untaggable};

fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden")
        .join(name);
    if std::env::var_os("TAGDRIFT_BLESS").is_some_and(|v| v == "1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with TAGDRIFT_BLESS=1 to create it)", path.display()));
    if expected != actual {
        let diff = TextDiff::from_lines(&expected, actual)
            .unified_diff()
            .context_radius(3)
            .header(&format!("golden/{name}"), "actual")
            .to_string();
        panic!("{name} differs from its golden (TAGDRIFT_BLESS=1 rewrites it):\n{diff}");
    }
}

fn meta() -> ReportMeta {
    ReportMeta {
        generated_at: Utc
            .with_ymd_and_hms(2026, 3, 15, 8, 0, 0)
            .single()
            .unwrap_or_default(),
        duration: Some(Duration::from_millis(2500)),
        source: Some("config/desired.yaml".to_owned()),
    }
}

fn bare_meta() -> ReportMeta {
    ReportMeta {
        duration: None,
        source: None,
        ..meta()
    }
}

const TODAY: &str = "2026-03-15";

/// One resource of every status, every change cause and violation kind, ignores live and expired, a failed
/// listing, a key that cannot carry tags (declared, and left out of discovery), and a long value.
fn mixed() -> Plan {
    let db = ali_secret("prod/db-password");
    let desired = Desired::new()
        .defaults(any().cloud(Cloud::Alibaba), &[("cost-center", "cc-42")])
        .rule(
            rule("env-values")
                .select(any().cloud(Cloud::Alibaba))
                .allowed("env", &["prod", "staging"]),
        )
        .rule(rule("no-tmp").forbidden(&["tmp-*"]))
        .rule(
            rule("owner-required")
                .select(any().cloud(Cloud::Huawei))
                .required(&["owner"]),
        )
        .rule(rule("cc-format").pattern("cost-center", "^cc-[0-9]+$"))
        .discover(any().cloud(Cloud::Huawei).ty(ResourceType::Key), true)
        .ignore(
            any().name("key-*"),
            &["rotation*"],
            "rotation tooling migration",
            Some("2026-04-30"),
        )
        .ignore(
            any().name("prod/queue"),
            &["owner"],
            "queue handover",
            Some("2026-03-01"),
        )
        .declare(
            &db,
            &[("owner", "team-a"), ("env", "test"), ("app", "db"), ("tier", "1")],
        )
        .declare(
            &ali_key("key-0001"),
            &[
                ("owner", "payments"),
                (
                    "description",
                    "Payments database encryption key, owned by team A, rotated yearly",
                ),
            ],
        )
        .declare(&ali_key("key-gone"), &[("owner", "team-a")])
        .declare(&ali_key("key-doomed"), &[("owner", "team-a")])
        .declare(&ali_key("key-0002"), &[("owner", "payments")])
        .declare(&ali_secret("prod/queue"), &[("owner", "team-q")])
        .declare(
            &ali_secret("prod/legacy"),
            &[("tmp-keep", "1"), ("cost-center", "CC|`42`")],
        )
        .declare(&ali_secret("prod/cache"), &[("owner", "team-c")])
        .declare(&hw_secret("api-token"), &[("owner", "team-h")])
        .declare(&hw_secret("in-sync-1"), &[("owner", "team-h")]);
    let observed = Obs::new()
        .found(
            &db,
            &[
                ("owner", "team-b"),
                ("env", "test"),
                ("app", "db"),
                ("tier", "1"),
                ("temp", "yes"),
                ("acs:rm:rgId", "rg-1"),
            ],
        )
        .found_alias(
            &ali_key("key-0001"),
            "alias/payments",
            &[
                ("owner", "payments"),
                ("cost-center", "cc-42"),
                (
                    "description",
                    "Payments database encryption key, owned by team B, rotated monthly",
                ),
                ("rotation-window", "sun"),
            ],
        )
        .not_found(&ali_key("key-gone"))
        .untaggable(
            &ali_key("key-doomed"),
            Untaggable::PendingDeletion,
            "KeyState PendingDeletion",
        )
        .left_out(&hw_key(""), Untaggable::DefaultKey, 1)
        .left_out(&hw_key(""), Untaggable::PendingDeletion, 1)
        .found(
            &ali_key("key-0002"),
            &[
                ("owner", "payments"),
                ("cost-center", "cc-42"),
                ("rotation-window", "mon"),
            ],
        )
        .found(
            &ali_secret("prod/queue"),
            &[("owner", "ops"), ("cost-center", "cc-42"), ("tmp-debug", "1")],
        )
        .found(
            &ali_secret("prod/legacy"),
            &[("tmp-keep", "1"), ("cost-center", "CC|`42`")],
        )
        .found(
            &ali_secret("prod/cache"),
            &[("owner", "team-c"), ("cost-center", "cc-42")],
        )
        .failed(
            &hw_secret("api-token"),
            ErrorCode::Throttled,
            "Throttling.User after 3 attempts",
        )
        .found(&hw_secret("in-sync-1"), &[("owner", "team-h")])
        .found_alias(
            &hw_key("7f3e9a10-0000-4000-8000-000000000001"),
            "alias/huawei-legacy",
            &[("owner", "x")],
        )
        .found(
            &hw_key("b2c41d22-0000-4000-8000-000000000002"),
            &[("env", "prod")],
        )
        .scope_failed(&hw_secret(""), ErrorCode::Auth, "IAM token rejected (403)");
    plan(&desired.build(), &observed.build(), date(TODAY))
}

fn clean() -> Plan {
    let desired = Desired::new()
        .declare(&ali_secret("a"), &[("owner", "x")])
        .declare(&ali_key("k"), &[("owner", "x")])
        .declare(&hw_secret("s"), &[]);
    let observed = Obs::new()
        .found(&ali_secret("a"), &[("owner", "x"), ("acs:rm:rgId", "rg-1")])
        .found(&ali_key("k"), &[("owner", "x")])
        .found(&hw_secret("s"), &[]);
    plan(&desired.build(), &observed.build(), date(TODAY))
}

fn unknown() -> Plan {
    let desired = Desired::new()
        .discover(any(), true)
        .declare(&ali_secret("a"), &[("owner", "x")])
        .declare(&ali_secret("b"), &[("owner", "x")])
        .declare(&hw_key("k"), &[("owner", "x")]);
    let observed = Obs::new()
        .failed(
            &ali_secret("a"),
            ErrorCode::Timeout,
            "request timed out after 10s",
        )
        .found(&hw_key("k"), &[("owner", "x")])
        .scope_failed(&ali_secret(""), ErrorCode::Http5xx, "ListSecrets answered 503");
    plan(&desired.build(), &observed.build(), date(TODAY))
}

fn unmanaged_only() -> Plan {
    let desired = Desired::new()
        .discover(any(), true)
        .declare(&ali_secret("a"), &[("owner", "x")]);
    let observed = Obs::new()
        .found(&ali_secret("a"), &[("owner", "x")])
        .found(&ali_secret("stray"), &[("owner", "y")])
        .found_alias(&ali_key("k-9"), "alias/stray", &[]);
    plan(&desired.build(), &observed.build(), date(TODAY))
}

/// A resource with more changes than Markdown shows unfolded.
fn many() -> Plan {
    let keys: Vec<String> = (1..=12).map(|i| format!("tag-{i:02}")).collect();
    let declared: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "v")).collect();
    let desired = Desired::new().declare(&ali_secret("busy"), &declared);
    let observed = Obs::new().found(&ali_secret("busy"), &[]);
    plan(&desired.build(), &observed.build(), date(TODAY))
}

fn empty() -> Plan {
    plan(&Desired::new().build(), &Obs::new().build(), date(TODAY))
}

#[test]
fn golden_mixed() {
    let p = mixed();
    golden("mixed.txt", &text(&p, &meta(), false));
    golden("mixed.color.txt", &text(&p, &meta(), true));
    golden("mixed.json", &json(&p, &meta()));
    golden("mixed.md", &markdown(&p, &meta()));
}

#[test]
fn golden_clean() {
    let p = clean();
    golden("clean.txt", &text(&p, &bare_meta(), false));
    golden("clean.json", &json(&p, &bare_meta()));
    golden("clean.md", &markdown(&p, &bare_meta()));
}

#[test]
fn golden_unknown() {
    let p = unknown();
    golden("unknown.txt", &text(&p, &meta(), false));
    golden("unknown.md", &markdown(&p, &meta()));
}

#[test]
fn golden_unmanaged_and_empty() {
    golden("unmanaged.txt", &text(&unmanaged_only(), &meta(), false));
    golden("empty.txt", &text(&empty(), &meta(), false));
}

#[test]
fn golden_many_folds_in_markdown() {
    let md = markdown(&many(), &meta());
    assert!(
        md.contains("<details><summary>12 changes and violations</summary>"),
        "{md}"
    );
    golden("many.md", &md);
}

#[test]
fn plain_text_has_no_escape_codes_and_color_has_them() {
    let p = mixed();
    assert!(!text(&p, &meta(), false).contains('\x1b'));
    let colored = text(&p, &meta(), true);
    for code in ["\x1b[32m+", "\x1b[33m~", "\x1b[31m-", "\x1b[35m!", "\x1b[1m"] {
        assert!(colored.contains(code), "missing {code:?}");
    }
}

#[test]
fn json_fields_are_stable() {
    let value: serde_json::Value = serde_json::from_str(&json(&mixed(), &meta())).unwrap_or_default();
    assert_eq!(value["format_version"], "1.2");
    assert_eq!(value["generated_at"], "2026-03-15T08:00:00Z");
    assert_eq!(value["duration_seconds"], 2.5);
    assert_eq!(value["verdict"], "drift");
    assert_eq!(value["summary"]["tag_changes"]["change"], 3);
    let db = &value["resources"][0];
    assert_eq!(db["address"], r#"alibaba.ali-prod.cn-hangzhou.key["key-0001"]"#);
    assert_eq!(db["alias"], "alias/payments");
    assert_eq!(db["ignored"][0]["change"]["key"], "rotation-window");
    assert_eq!(db["ignored"][0]["until"], "2026-04-30");
    let unknown = value["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["status"] == "unknown"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(unknown["error"]["code"], "throttled");
    assert_eq!(value["unknown_scopes"][0]["type"], "secret");
    assert_eq!(value["unknown_scopes"][0]["code"], "auth");
    assert_eq!(value["expired_ignores"][0]["until"], "2026-03-01");
    assert!(
        value["in_sync"].as_array().is_some_and(|a| a.len() == 3),
        "{}",
        value["in_sync"]
    );
    assert_eq!(
        value["in_sync"][0]["ignored"][0]["change"]["key"],
        "rotation-window"
    );
}

#[test]
fn summary_wording() {
    use crate::drift::{ActionCounts, Summary};
    let s = |f: fn(&mut Summary)| {
        let mut s = Summary::default();
        f(&mut s);
        summary_lines(&s).join("\n")
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("nothing", s(|_| {}), "No drift. No resources were checked."),
        (
            "one clean",
            s(|s| (s.total, s.in_sync) = (1, 1)),
            "No drift. The 1 resource matches the desired state.",
        ),
        (
            "clean",
            s(|s| (s.total, s.in_sync) = (12, 12)),
            "No drift. All 12 resources match the desired state.",
        ),
        (
            "clean with ignores",
            s(|s| (s.total, s.in_sync, s.ignored, s.expired_ignores) = (2, 2, 3, 1)),
            "No drift. All 2 resources match the desired state.\n3 ignored, 1 expired ignore.",
        ),
        (
            "unmanaged only",
            s(|s| (s.total, s.in_sync, s.unmanaged) = (12, 10, 2)),
            "No drift. 10 of 12 resources match the desired state; 2 not declared (unmanaged).",
        ),
        (
            "unknown only",
            s(|s| (s.total, s.in_sync, s.unknown) = (12, 10, 2)),
            "Drift unknown: 2 of 12 resources could not be read.\n10 in sync.",
        ),
        (
            "scope only",
            s(|s| (s.total, s.in_sync, s.unknown_scopes) = (3, 3, 1)),
            "Drift unknown: 1 scope could not be listed.\n3 in sync.",
        ),
        (
            "drift",
            s(|s| {
                (s.total, s.in_sync, s.drifted) = (12, 11, 1);
                s.tag_changes = ActionCounts {
                    add: 1,
                    change: 1,
                    remove: 1,
                };
            }),
            "Drift: 1 to add, 1 to change, 1 to remove, across 1 of 12 resources.",
        ),
        (
            "drift and everything else",
            s(|s| {
                (
                    s.total,
                    s.drifted,
                    s.missing,
                    s.unknown,
                    s.unmanaged,
                    s.unknown_scopes,
                ) = (9, 2, 1, 1, 1, 2);
                (s.violations, s.ignored) = (3, 1);
                s.tag_changes = ActionCounts {
                    add: 0,
                    change: 2,
                    remove: 0,
                };
            }),
            "Drift: 0 to add, 2 to change, 0 to remove, across 2 of 9 resources.\n\
             1 missing, 1 could not be read, 2 scopes could not be listed, 1 unmanaged, 3 rule violations, 1 ignored.",
        ),
        (
            "missing only",
            s(|s| (s.total, s.in_sync, s.missing) = (4, 3, 1)),
            "Drift: 1 of 4 resources missing.",
        ),
    ];
    for (name, got, want) in cases {
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn durations_read_well() {
    for (ms, want) in [(250, "0.25s"), (2500, "2.5s"), (3000, "3s"), (75_400, "75s")] {
        assert_eq!(seconds(Duration::from_millis(ms)), want);
    }
}

#[test]
fn control_characters_cannot_reach_the_terminal() {
    let desired = Desired::new().declare(&ali_secret("a"), &[("k", "ok")]);
    let observed = Obs::new().found(&ali_secret("a"), &[("k", "bad\x1b[2Jvalue\nnext")]);
    let p = plan(&desired.build(), &observed.build(), date(TODAY));
    let out = text(&p, &meta(), false);
    assert!(!out.contains('\x1b'), "{out}");
    assert!(out.contains(r#""bad\u{1b}[2Jvalue\nnext""#), "{out}");
}

#[test]
fn hidden_characters_are_made_visible_and_the_rest_kept() {
    let cases = [
        (
            "plain text, ünïcødé, 日本語, emoji 🙂",
            "plain text, ünïcødé, 日本語, emoji 🙂",
        ),
        ("esc\x1b[31m", r"esc\u{1b}[31m"),
        ("rlo\u{202e}fdp.exe", r"rlo\u{202e}fdp.exe"),
        ("lines\r\n\ttab", r"lines\r\n\ttab"),
        ("nul\0 del\x7f c1\u{9b}", r"nul\u{0} del\u{7f} c1\u{9b}"),
        ("zw\u{200b}\u{200d}\u{feff}", r"zw\u{200b}\u{200d}\u{feff}"),
        ("isolate\u{2066}x\u{2069}", r"isolate\u{2066}x\u{2069}"),
        ("tag\u{e0041}", r"tag\u{e0041}"),
    ];
    for (input, want) in cases {
        assert_eq!(visible(input), want, "{input:?}");
    }
    assert!(matches!(visible("clean"), std::borrow::Cow::Borrowed(_)));
}

/// A plan where a cloud returned hostile tag keys, values and messages: ESC sequences and U+202E (which shows
/// `gnp.exe` reversed, as `exe.png`).
fn hostile() -> Plan {
    let desired = Desired::new()
        .declare(&ali_secret("a"), &[("k", "ok")])
        .declare(&ali_key("b"), &[("k", "ok")]);
    let observed = Obs::new()
        .found(
            &ali_secret("a"),
            &[
                ("k", "bad\x1b[2J\u{202e}gnp.exe"),
                ("x\x1b]0;t\x07\u{202e}y", "v"),
            ],
        )
        .failed(&ali_key("b"), ErrorCode::Throttled, "slow \x1b[5m\u{202e}down");
    plan(&desired.build(), &observed.build(), date(TODAY))
}

fn assert_nothing_hidden(out: &str) {
    assert!(!out.contains(['\x1b', '\x07', '\u{202e}']), "{out}");
}

#[test]
fn text_report_shows_escapes_and_overrides_visibly() {
    let out = text(&hostile(), &meta(), false);
    assert_nothing_hidden(&out);
    for want in [
        r#""bad\u{1b}[2J\u{202e}gnp.exe" -> "ok""#,
        r#""x\u{1b}]0;t\u{7}\u{202e}y" = "v" -> null"#,
        r"could not be read: throttled: slow \u{1b}[5m\u{202e}down",
    ] {
        assert!(out.contains(want), "{want}\n{out}");
    }
}

#[test]
fn markdown_report_shows_escapes_and_overrides_visibly() {
    let out = markdown(&hostile(), &meta());
    assert_nothing_hidden(&out);
    for want in [
        r"`bad\u{1b}[2J\u{202e}gnp.exe`",
        r"`x\u{1b}]0;t\u{7}\u{202e}y`",
        // Free text escapes Markdown too: `\\` shows as one backslash, `\[` as a bracket.
        r"slow \\u{1b}\[5m\\u{202e}down",
    ] {
        assert!(out.contains(want), "{want}\n{out}");
    }
}

#[test]
fn json_report_keeps_values_exact() {
    let out = json(&hostile(), &meta());
    // JSON escapes control characters itself (ESC as \u001b); U+202E is valid JSON text and stays as it is,
    // so a program reading the report gets the exact value the cloud holds.
    assert!(!out.contains('\x1b'), "{out}");
    assert!(out.contains("\"bad\\u001b[2J\u{202e}gnp.exe\""), "{out}");
}

/// Key paths of a JSON value, array indices dropped: `resources[].changes[].key`.
fn key_paths(value: &serde_json::Value, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(path.clone());
                // Tag maps hold data, not schema.
                if k != "desired" {
                    key_paths(v, &path, out);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                key_paths(v, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn documented_json_example_matches_the_real_document() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/report-format.md"))
            .unwrap_or_default();
    let example = doc
        .split("```json\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .unwrap_or_default();
    let example: serde_json::Value =
        serde_json::from_str(example).unwrap_or_else(|e| panic!("docs/report-format.md example: {e}"));
    let actual: serde_json::Value = serde_json::from_str(&json(&mixed(), &meta())).unwrap_or_default();
    let (mut documented, mut real) = (Default::default(), Default::default());
    key_paths(&example, "", &mut documented);
    key_paths(&actual, "", &mut real);
    let undocumented: Vec<_> = real.difference(&documented).collect();
    let unreal: Vec<_> = documented.difference(&real).collect();
    assert!(
        undocumented.is_empty() && unreal.is_empty(),
        "missing from the example: {undocumented:?}; not in the real document: {unreal:?}"
    );
    assert_eq!(
        example["summary"], actual["summary"],
        "the example's summary is the mixed plan's"
    );
}
