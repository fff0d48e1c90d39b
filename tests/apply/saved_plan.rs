//! Saved plans end to end (issue 13): `check --save-plan` writes the plan, `apply --plan` writes exactly its
//! changes, skips as stale a resource changed after the plan, and refuses a plan of another desired-state file,
//! an old, newer-format or garbled plan before reading anything.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::support::{Emulator, apply, check};
use super::{ACCOUNTS, INVENTORY, RESOURCES, json, writes};

/// Starts the emulator, writes the desired state and saves its plan; returns the paths of both files.
fn saved(emu: &Emulator) -> (PathBuf, PathBuf) {
    let desired = emu.desired("desired.yaml", &format!("{ACCOUNTS}{RESOURCES}"));
    let plan = emu.dir.path().join("plan.json");
    let run = check(&desired, &["--save-plan", plan.to_str().unwrap()]);
    assert_eq!(run.code, 2, "drift, and the plan saved besides:\n{}", run.stderr);
    (desired, plan)
}

fn read(plan: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(plan).unwrap()).unwrap()
}

fn skipped(result: &Value) -> Vec<(String, String)> {
    result["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["resource"]["id"].as_str().unwrap().to_owned(),
                s["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_saved_plan_is_written_exactly_and_goes_stale_once_applied() {
    let emu = Emulator::start(INVENTORY, &[]);
    let (desired, plan) = saved(&emu);
    let doc = read(&plan);
    assert_eq!(doc["format_version"], "1.0");
    assert_eq!(doc["tagdrift_version"], env!("CARGO_PKG_VERSION"));
    let sha = doc["desired_state"]["sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64, "{doc:#}");
    let resources = doc["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 7, "{doc:#}");
    let a001 = &resources[0];
    assert_eq!(a001["address"], r#"alibaba.ali.cn-hangzhou.key["key-a001"]"#);
    // The system tag is not part of what the plan saw.
    assert_eq!(
        a001["before"],
        serde_json::json!({"owner": "payments", "tmp": "1"})
    );
    let hw_secret = resources
        .iter()
        .find(|r| r["cloud"] == "huawei" && r["type"] == "secret")
        .unwrap();
    assert!(
        hw_secret["native_id"]
            .as_str()
            .is_some_and(|id| id != "db-password"),
        "{hw_secret:#}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&plan).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Saving wrote nothing.
    assert_eq!(writes(&emu), [0, 0, 0, 0]);

    let plan_arg = plan.to_str().unwrap();
    let run = apply(
        &desired,
        &["--plan", plan_arg, "--auto-approve", "--format", "json"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let result = json(&run);
    assert_eq!(result["format_version"], "1.1");
    assert_eq!(result["summary"]["applied"], 7, "{result:#}");
    assert_eq!(result["summary"]["changes"], 13);
    // The same calls as a fresh apply: the same changes, batched the same way.
    assert_eq!(writes(&emu), [4, 1, 2, 1], "{:#}", emu.stats());
    assert_eq!(check(&desired, &[]).code, 0);

    // Applied once, the plan no longer describes the clouds: every resource is stale and nothing is written.
    emu.reset_stats();
    let again = apply(&desired, &["--plan", plan_arg, "--auto-approve"]);
    assert_eq!(again.code, 1, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again
            .stdout
            .ends_with("Apply finished with errors. Resources: 0 applied, 0 failed, 7 skipped (7 stale).\n"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains(
            "alibaba.ali.cn-hangzhou.key[\"key-a001\"]: skipped: stale: its tags changed since the plan was \
             saved (env, owner, tmp); not written, save a new plan"
        ),
        "{}",
        again.stdout
    );
    assert_eq!(writes(&emu), [0, 0, 0, 0]);
}

#[test]
fn a_resource_changed_after_the_plan_is_stale_and_untouched_and_the_others_are_written() {
    let emu = Emulator::start(INVENTORY, &[]);
    let (desired, plan) = saved(&emu);
    // Someone retags key-a002 after the plan was saved (here: an apply of another desired state).
    let other = emu.desired(
        "other.yaml",
        &format!("{ACCOUNTS}resources:\n  - {{account: ali, region: cn-hangzhou, type: key, id: key-a002, tags: {{owner: security}}}}\n"),
    );
    let retag = apply(&other, &["--auto-approve"]);
    assert_eq!(retag.code, 0, "{}\n{}", retag.stdout, retag.stderr);
    emu.reset_stats();

    let run = apply(
        &desired,
        &[
            "--plan",
            plan.to_str().unwrap(),
            "--auto-approve",
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 1, "stale means exit 1:\n{}\n{}", run.stdout, run.stderr);
    let result = json(&run);
    assert_eq!(
        skipped(&result),
        [("key-a002".to_owned(), "stale".to_owned())],
        "{result:#}"
    );
    assert_eq!(result["skipped"][0]["keys"], serde_json::json!(["owner"]));
    assert_eq!(result["summary"]["applied"], 6, "{result:#}");
    assert_eq!(result["summary"]["stale"], 1);
    // key-a001 alone now in the call it shared with key-a002; nothing else changes.
    assert_eq!(writes(&emu), [4, 1, 2, 1], "{:#}", emu.stats());
    // key-a002 kept the newer tags: the other desired state still sees it in sync.
    assert_eq!(check(&other, &[]).code, 0);
}

#[test]
fn refused_plans_write_nothing_and_read_nothing() {
    let emu = Emulator::start(INVENTORY, &[]);
    let (desired, plan) = saved(&emu);
    let text = std::fs::read_to_string(&plan).unwrap();
    let created = read(&plan)["created"].as_str().unwrap().to_owned();
    let edited = |name: &str, content: &str| {
        let path = emu.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    };
    // The same desired state with one more comment line: another file for the checksum.
    let commented = emu.desired("commented.yaml", &format!("# reviewed\n{ACCOUNTS}{RESOURCES}"));
    let half = &text[..text.find("\"resources\"").unwrap() + 20];
    let cases: Vec<(&str, PathBuf, PathBuf, &str)> = vec![
        (
            "another desired-state file",
            commented,
            plan.clone(),
            "made from another desired-state file: the plan records sha256 ",
        ),
        (
            "two hours old",
            desired.clone(),
            edited("old.json", &text.replace(&created, "2020-01-01T00:00:00Z")),
            "too old: created 2020-01-01 00:00:00 UTC, ",
        ),
        (
            "a newer format",
            desired.clone(),
            edited(
                "newer.json",
                &text.replace("\"format_version\": \"1.0\"", "\"format_version\": \"2.0\""),
            ),
            "unknown format_version '2.0' (this tagdrift applies 1.0)",
        ),
        ("garbled", desired.clone(), edited("garbled.json", half), "line "),
        (
            "a misspelt field",
            desired.clone(),
            edited("misspelt.json", &text.replacen("\"before\"", "\"befor\"", 1)),
            "unknown field `befor`",
        ),
    ];
    emu.reset_stats();
    for (name, config, plan, want) in cases {
        let run = apply(&config, &["--plan", plan.to_str().unwrap(), "--auto-approve"]);
        assert_eq!(run.code, 1, "{name}: {}", run.stderr);
        let prefix = format!("error: plan {}: ", plan.display());
        assert!(run.stderr.starts_with(&prefix), "{name}: {}", run.stderr);
        assert!(run.stderr.contains(want), "{name}: {}", run.stderr);
        assert!(
            run.stderr.trim_end().ends_with("; nothing was written"),
            "{name}: {}",
            run.stderr
        );
        assert_eq!(emu.stats()["total"], 0, "{name}: nothing read");
    }

    // --max-changes bounds a saved plan as it bounds a fresh one; --max-plan-age can allow an old plan.
    let old = edited("old2.json", &text.replace(&created, "2020-01-01T00:00:00Z"));
    let limited = apply(
        &desired,
        &[
            "--plan",
            old.to_str().unwrap(),
            "--max-plan-age",
            "100000d",
            "--auto-approve",
            "--max-changes",
            "12",
        ],
    );
    assert_eq!(limited.code, 1, "{}", limited.stderr);
    assert!(
        limited
            .stderr
            .contains("the plan holds 13 tag changes, more than --max-changes 12; nothing was written"),
        "{}",
        limited.stderr
    );
    let bad_age = apply(
        &desired,
        &["--plan", old.to_str().unwrap(), "--max-plan-age", "an hour"],
    );
    assert_eq!(bad_age.code, 2, "{}", bad_age.stderr);
    assert!(
        bad_age.stderr.contains("invalid duration 'an hour'"),
        "{}",
        bad_age.stderr
    );
    assert_eq!(writes(&emu), [0, 0, 0, 0]);
}

#[test]
fn target_selects_from_a_saved_plan() {
    let emu = Emulator::start(INVENTORY, &[]);
    let (desired, plan) = saved(&emu);
    let run = apply(
        &desired,
        &[
            "--plan",
            plan.to_str().unwrap(),
            "--auto-approve",
            "--target",
            "account=hw,type=secret",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("huawei.hw.cn-north-4.secret[\"db-password\"]\n    + \"env\" = null -> \"prod\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .ends_with("Apply complete! Resources: 1 applied, 0 failed, 0 skipped.\n"),
        "{}",
        run.stdout
    );
    assert_eq!(writes(&emu), [0, 0, 0, 1]);
}
