//! Table-driven tests of saved plans: the file round trip, the refusals and the stale check.

use chrono::{DateTime, Utc};

use super::*;
use crate::drift::fixtures::*;
use crate::drift::plan;
use crate::reconcile::{parse_target, select};
use crate::vocab::ErrorCode;

const SHA: &str = "0f343b0931126a20f133d67c2b018a3b5d8b0f2e1d7a1b8b7c2d9e8f7a6b5c4d";

fn created() -> DateTime<Utc> {
    "2026-06-01T10:00:00Z".parse().unwrap()
}

/// A desired state with one drifted Alibaba key (`k1`, which carries a system tag) and one drifted Huawei
/// secret (`s1`), and the plan saved from their observations.
fn saved() -> (DesiredState, SavedPlan) {
    let state = Desired::new()
        .declare(&ali_key("k1"), &[("owner", "a"), ("env", "prod")])
        .declare(&hw_secret("s1"), &[("owner", "a")])
        .build();
    let observed = Obs::new()
        .found_alias(
            &ali_key("k1"),
            "alias/payments",
            &[("owner", "b"), ("acs:rotation", "on")],
        )
        .found(&hw_secret("s1"), &[("owner", "a"), ("tmp", "1")])
        .native_id("9f1c-uuid")
        .build();
    let write = select(&plan(&state, &observed, date("2026-06-01")), &[]);
    let file = DesiredFile {
        path: "desired.yaml".to_owned(),
        sha256: SHA.to_owned(),
    };
    let saved = save(&write, &state, &observed, file, created(), "0.1.0");
    (state, saved)
}

#[test]
fn a_saved_plan_round_trips_and_leaves_system_tags_out_of_before() {
    let (_, saved) = saved();
    let text = serde_json::to_string_pretty(&saved).unwrap();
    assert_eq!(parse(&text).unwrap(), saved);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["format_version"], "1.0");
    assert_eq!(json["created"], "2026-06-01T10:00:00Z");
    assert_eq!(json["desired_state"]["sha256"], SHA);
    let k1 = &json["resources"][0];
    assert_eq!(k1["address"], r#"alibaba.ali-prod.cn-hangzhou.key["k1"]"#);
    assert_eq!(k1["alias"], "alias/payments");
    assert_eq!(k1["before"], serde_json::json!({"owner": "b"}));
    assert_eq!(k1["changes"][0]["key"], "env");
    assert_eq!(k1["changes"][0]["action"], "add");
    assert_eq!(k1["changes"][1]["before"], "b");
    let s1 = &json["resources"][1];
    assert_eq!(s1["native_id"], "9f1c-uuid");
    assert_eq!(s1["before"], serde_json::json!({"owner": "a", "tmp": "1"}));
    assert_eq!(s1["changes"][0]["action"], "remove");
}

#[test]
fn bad_files_are_refused_with_the_place_or_the_reason() {
    let (_, saved) = saved();
    let good = serde_json::to_string_pretty(&saved).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "not JSON",
            "{\n  \"format_version\": \"1.0\",\n  oops\n}".to_owned(),
            "line 3, column 3: key must be a string",
        ),
        ("truncated", good[..good.len() / 2].to_owned(), "line "),
        (
            "newer format",
            good.replace("\"1.0\"", "\"2.0\""),
            "unknown format_version '2.0' (this tagdrift applies 1.0)",
        ),
        (
            "version not a string",
            good.replace("\"1.0\"", "1"),
            "unknown format_version '1'",
        ),
        (
            "no version",
            "{}".to_owned(),
            "line 1, column 1: missing field `format_version`",
        ),
        (
            "misspelt field",
            good.replace("\"created\"", "\"crated\""),
            "unknown field `crated`",
        ),
        (
            "bad time",
            good.replace("2026-06-01T10:00:00Z", "yesterday"),
            "line 3, column",
        ),
        (
            "bad action",
            good.replace("\"add\"", "\"rename\""),
            "unknown variant `rename`",
        ),
    ];
    for (name, text, want) in cases {
        let err = parse(&text).expect_err(name).to_string();
        assert!(err.contains(want), "{name}: {err}");
    }
}

/// Name, the desired-state file's checksum now, the clock now, and `Ok` or a part of the error.
type AgeCase<'a> = (&'a str, &'a str, DateTime<Utc>, Result<(), &'a str>);

#[test]
fn the_checksum_and_the_age_are_checked() {
    let (_, saved) = saved();
    let at = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
    let hour = DEFAULT_MAX_PLAN_AGE;
    let upper = SHA.to_uppercase();
    let cases: Vec<AgeCase<'_>> = vec![
        ("fresh", SHA, at("2026-06-01T10:30:00Z"), Ok(())),
        ("checksum in capitals", &upper, at("2026-06-01T10:30:00Z"), Ok(())),
        ("exactly the limit", SHA, at("2026-06-01T11:00:00Z"), Ok(())),
        (
            "too old",
            SHA,
            at("2026-06-01T11:00:01Z"),
            Err("too old: created 2026-06-01 10:00:00 UTC, 1h1s ago, more than --max-plan-age 1h"),
        ),
        (
            "other file",
            "abc",
            at("2026-06-01T10:30:00Z"),
            Err("made from another desired-state file"),
        ),
        ("a little ahead", SHA, at("2026-06-01T09:58:00Z"), Ok(())),
        (
            "from the future",
            SHA,
            at("2026-06-01T09:00:00Z"),
            Err("in the future"),
        ),
    ];
    for (name, sha, now, want) in cases {
        let got = saved.check(sha, now, hour).map_err(|e| e.to_string());
        match (got, want) {
            (Ok(()), Ok(())) => {}
            (Err(e), Err(w)) => assert!(e.contains(w), "{name}: {e}"),
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn targets_select_from_the_saved_plan_by_address_and_alias() {
    let (_, saved) = saved();
    let ids = |t: &[&str]| -> Vec<String> {
        let t: Vec<_> = t.iter().map(|s| parse_target(s).unwrap()).collect();
        saved
            .write_plan(&t)
            .targets
            .iter()
            .map(|t| t.resource.id.clone())
            .collect()
    };
    assert_eq!(ids(&[]), ["k1", "s1"]);
    assert_eq!(ids(&["cloud=huawei"]), ["s1"]);
    assert_eq!(ids(&["name=alias/pay*"]), ["k1"]);
    assert_eq!(ids(&["account=nobody"]), Vec::<String>::new());
    let w = saved.write_plan(&[]);
    assert_eq!(w.targets[1].native_id.as_deref(), Some("9f1c-uuid"));
    assert_eq!(w.change_count(), 3);
}

#[test]
fn a_fresh_read_that_differs_from_before_makes_the_resource_stale() {
    let (state, saved) = saved();
    // What the fresh read of k1 shows, and the verdict (`write` or the skip reason and keys).
    let cases: Vec<(&str, Obs, &str)> = vec![
        (
            "unchanged",
            Obs::new().found(&ali_key("k1"), &[("owner", "b"), ("acs:rotation", "on")]),
            "write",
        ),
        (
            "a system tag changed",
            Obs::new().found(&ali_key("k1"), &[("owner", "b"), ("acs:rotation", "off")]),
            "write",
        ),
        (
            "a value changed",
            Obs::new().found(&ali_key("k1"), &[("owner", "c")]),
            "stale owner",
        ),
        (
            "a tag added",
            Obs::new().found(&ali_key("k1"), &[("owner", "b"), ("env", "dev")]),
            "stale env",
        ),
        (
            "a tag removed",
            Obs::new().found(&ali_key("k1"), &[]),
            "stale owner",
        ),
        (
            "unreadable",
            Obs::new().failed(&ali_key("k1"), ErrorCode::Throttled, "slow down"),
            "unknown",
        ),
        ("gone", Obs::new().not_found(&ali_key("k1")), "missing"),
        ("not read", Obs::new(), "unknown"),
    ];
    for (name, fresh, want) in cases {
        let t = vec![parse_target("cloud=alibaba").unwrap()];
        let out = saved.confirm(&state, saved.write_plan(&t), &fresh.build());
        let got = match (out.targets.as_slice(), out.skipped.as_slice()) {
            ([_], []) => "write".to_owned(),
            ([], [s]) => match &s.reason {
                SkipReason::Stale { keys } => format!("stale {}", keys.join(",")),
                other => other.as_str().to_owned(),
            },
            _ => panic!("{name}: {out:?}"),
        };
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn durations_parse_and_print() {
    let ok = [
        ("1h", 3600),
        ("90s", 90),
        ("15m", 900),
        ("1h30m", 5400),
        ("2d", 172_800),
        ("45", 45),
        ("0s", 0),
    ];
    for (text, secs) in ok {
        assert_eq!(parse_duration(text), Ok(Duration::from_secs(secs)), "{text}");
        assert_eq!(
            parse_duration(&format_duration(Duration::from_secs(secs))),
            Ok(Duration::from_secs(secs))
        );
    }
    for bad in ["", "h", "1x", "1h30", "-1h", "1.5h", "99999999999999999999d"] {
        assert_eq!(
            parse_duration(bad).unwrap_err().to_string(),
            format!("invalid duration '{bad}' (expected e.g. 30m, 1h, 1h30m or 2d)")
        );
    }
    assert_eq!(format_duration(Duration::from_secs(3725)), "1h2m5s");
}
