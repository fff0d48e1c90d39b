//! `tagdrift apply` end to end (issue 13): the real binary reads and writes a real `tagdrift emulate` over HTTP;
//! exit codes, the JSON result, the audit log and the emulator's write counts are checked.

mod saved_plan;

use crate::util::cli as support;

use serde_json::Value;
use support::{Emulator, apply, check};

const INVENTORY: &str = r#"
alibaba:
  - name: ali
    access_key_id: testid
    access_key_secret: testsecret
    regions:
      cn-hangzhou:
        keys:
          - {id: key-a001, tags: {owner: payments, tmp: "1", "acs:system": "x"}}
          - {id: key-a002, tags: {owner: payments}}
          - {id: key-a003, tags: {owner: platform, env: prod}}
          - {id: key-a004, tags: {owner: web, extra: keep}}
        secrets:
          - {name: db-password, tags: {owner: payments}}
          - {name: api-token, tags: {owner: web, env: dev, managed-by: ack}}
huawei:
  - name: hw
    ak: testak
    sk: testsk
    projects:
      - region: cn-north-4
        project_id: 0123456789abcdef0123456789abcdef
        keys:
          - {id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: payments, tmp: x}}
        secrets:
          - {name: db-password, tags: {owner: payments}}
"#;

const ACCOUNTS: &str = r#"version: 1
accounts:
  - name: ali
    cloud: alibaba
    regions: [cn-hangzhou]
    endpoint: "{endpoint}"
    credentials:
      type: access_key
      access_key_id: {env: T_ALI_ID}
      access_key_secret: {env: T_ALI_SECRET}
  - name: hw
    cloud: huawei
    regions:
      - {name: cn-north-4, project_id: 0123456789abcdef0123456789abcdef}
    endpoint: "{endpoint}"
    credentials:
      type: access_key
      ak: {env: T_HW_AK}
      sk: {env: T_HW_SK}
schedule:
  max_attempts: 8
"#;

/// Drift in both clouds, keys and secrets: changed and missing values, an undeclared tag, a system tag, an
/// ignored key and an extra tag of an `allow_extra_tags` resource.
const RESOURCES: &str = r#"resources:
  - {account: ali, region: cn-hangzhou, type: key, id: key-a001, tags: {owner: platform, env: prod}}
  - {account: ali, region: cn-hangzhou, type: key, id: key-a002, tags: {owner: platform, env: prod}}
  - {account: ali, region: cn-hangzhou, type: key, id: key-a003, tags: {owner: platform, env: prod}}
  - {account: ali, region: cn-hangzhou, type: key, id: key-a004, tags: {owner: platform}, allow_extra_tags: true}
  - {account: ali, region: cn-hangzhou, type: secret, name: db-password, tags: {owner: platform, env: prod}}
  - {account: ali, region: cn-hangzhou, type: secret, name: api-token, tags: {owner: web, env: prod}}
  - {account: hw, region: cn-north-4, type: key, id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: platform}}
  - {account: hw, region: cn-north-4, type: secret, name: db-password, tags: {owner: platform, env: prod}}
ignores:
  entries:
    - match: {name: api-token}
      keys: [managed-by]
      reason: ACK manages it
"#;

/// The write APIs of both clouds, as the emulator counts them.
const WRITES: [(&str, &str); 4] = [
    ("alibaba", "TagResources"),
    ("alibaba", "UntagResources"),
    ("huawei", "BatchCreateKmsTags"),
    ("huawei", "BatchCreateOrDeleteTags"),
];

fn writes(emu: &Emulator) -> Vec<u64> {
    let stats = emu.stats();
    WRITES
        .iter()
        .map(|(cloud, api)| emu.total(&stats, cloud, api))
        .collect()
}

fn statuses(result: &Value) -> Vec<(String, String)> {
    result["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["resource"]["id"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn json(run: &support::Check) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}):\n{}\nstderr:\n{}", run.stdout, run.stderr))
}

#[test]
fn apply_fixes_drift_in_both_clouds_and_a_second_apply_writes_nothing() {
    let emu = Emulator::start(INVENTORY, &[]);
    let desired = emu.desired("desired.yaml", &format!("{ACCOUNTS}{RESOURCES}"));
    let run = apply(
        &desired,
        &["--auto-approve", "--format", "json", "--log-format", "json"],
    );
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let result = json(&run);
    assert_eq!(result["format_version"], "1.1");
    let mut got = statuses(&result);
    got.sort();
    let hw_key = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
    let mut want: Vec<(String, String)> = [
        "api-token",
        "db-password",
        "db-password",
        "key-a001",
        "key-a002",
        "key-a004",
        hw_key,
    ]
    .iter()
    .map(|id| ((*id).to_owned(), "applied".to_owned()))
    .collect();
    want.sort();
    assert_eq!(got, want, "{result:#}");
    // Alibaba: untag(tmp)[a001], tag(env,owner)[a001,a002], tag(owner)[a004], tag(env,owner)[db-password],
    // tag(env)[api-token]; Huawei: delete + create on the key, create on the secret. Seven resources, eight
    // calls: key-a001 and key-a002 need the same tags and share one call.
    assert_eq!(writes(&emu), [4, 1, 2, 1], "{:#}", emu.stats());
    assert_eq!(result["summary"]["write_calls"], 8);
    assert_eq!(result["summary"]["applied"], 7);
    // The plan never named the system tag, the ignored key or the allowed extra tag.
    let keys: Vec<&str> = result["resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["changes"].as_array().unwrap())
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    for untouched in ["acs:system", "managed-by", "extra"] {
        assert!(!keys.contains(&untouched), "{untouched} in {keys:?}");
    }
    // One audit event per resource in each write, with old and new values and the request id.
    let audit: Vec<Value> = run
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["target"] == "tagdrift::audit")
        .collect();
    assert_eq!(audit.len(), 9, "{}", run.stderr);
    let a001: Vec<&Value> = audit
        .iter()
        .filter(|f| f["resource"] == r#"alibaba.ali.cn-hangzhou.key["key-a001"]"#)
        .collect();
    assert_eq!(a001.len(), 2, "{}", run.stderr);
    assert_eq!(a001[0]["operation"], "untag");
    assert_eq!(a001[0]["removed"], r#"["tmp=1"]"#);
    assert_eq!(a001[1]["changed"], r#"["owner: payments -> platform"]"#);
    assert_eq!(a001[1]["added"], r#"["env=prod"]"#);
    for f in &a001 {
        assert_eq!(f["result"], "ok");
        assert!(!f["request_id"].as_str().unwrap_or("").is_empty(), "{f}");
    }

    // Everything is in sync now, and the tags apply left alone are still there: without the ignore, the
    // system-tag filter and allow_extra_tags, check sees them.
    assert_eq!(check(&desired, &[]).code, 0);
    let strict = RESOURCES
        .replace(", allow_extra_tags: true", "")
        .replace("      keys: [managed-by]\n", "      keys: [nothing]\n");
    let strict = emu.desired(
        "strict.yaml",
        &format!("{ACCOUNTS}{strict}  system_tags: {{alibaba: []}}\n"),
    );
    let report = check(&strict, &["--format", "json"]);
    assert_eq!(report.code, 2, "{}", report.stderr);
    let removals: Vec<String> = report.json()["resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["changes"].as_array().unwrap())
        .filter(|c| c["action"] == "remove")
        .map(|c| c["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(removals, ["acs:system", "extra", "managed-by"]);

    emu.reset_stats();
    let again = apply(&desired, &["--auto-approve"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again
            .stdout
            .ends_with("Apply complete! Resources: 0 applied, 0 failed, 0 skipped.\n"),
        "{}",
        again.stdout
    );
    assert_eq!(writes(&emu), [0, 0, 0, 0]);
}

#[test]
fn refusals_write_nothing() {
    let emu = Emulator::start(INVENTORY, &[]);
    let desired = emu.desired("desired.yaml", &format!("{ACCOUNTS}{RESOURCES}"));
    // Thirteen tag changes are planned.
    let limited = apply(&desired, &["--auto-approve", "--max-changes", "12"]);
    assert_eq!(limited.code, 1, "{}", limited.stdout);
    assert!(
        limited
            .stderr
            .contains("the plan holds 13 tag changes, more than --max-changes 12; nothing was written"),
        "{}",
        limited.stderr
    );
    assert_eq!(writes(&emu), [0, 0, 0, 0]);

    // No terminal, no --auto-approve: refused before anything is sent.
    emu.reset_stats();
    let unattended = apply(&desired, &[]);
    assert_eq!(unattended.code, 1);
    assert!(
        unattended
            .stderr
            .contains("standard input is not a terminal, so apply cannot ask for approval"),
        "{}",
        unattended.stderr
    );
    assert_eq!(emu.stats()["total"], 0, "{:#}", emu.stats());
}

#[test]
fn target_limits_the_writes_to_the_selected_resources() {
    let emu = Emulator::start(INVENTORY, &[]);
    let desired = emu.desired("desired.yaml", &format!("{ACCOUNTS}{RESOURCES}"));
    let run = apply(
        &desired,
        &[
            "--auto-approve",
            "--format",
            "json",
            "--target",
            "account=hw,type=secret",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        statuses(&json(&run)),
        [("db-password".to_owned(), "applied".to_owned())]
    );
    assert_eq!(writes(&emu), [0, 0, 0, 1]);

    emu.reset_stats();
    let run = apply(
        &desired,
        &["--auto-approve", "--target", "cloud=alibaba,type=key"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("Apply complete! Resources: 3 applied, 0 failed, 0 skipped."),
        "{}",
        run.stdout
    );
    assert_eq!(writes(&emu), [2, 1, 0, 0]);

    let bad = apply(&desired, &["--auto-approve", "--target", "cloud=aws"]);
    assert_eq!(bad.code, 2, "clap refuses a bad selector: {}", bad.stderr);
    assert!(bad.stderr.contains("unknown cloud 'aws'"), "{}", bad.stderr);
}

#[test]
fn a_throttled_write_is_retried() {
    // The fault dice are fixed per seed, API and call number: with seed 2 the first UntagResources call is
    // throttled (and few reads are, which keeps the backoff short).
    let emu = Emulator::start(INVENTORY, &["--seed", "2", "--fault-throttle", "0.3"]);
    let desired = emu.desired("desired.yaml", &format!("{ACCOUNTS}{RESOURCES}"));
    let run = apply(
        &desired,
        &[
            "--auto-approve",
            "--format",
            "json",
            "--target",
            "cloud=alibaba,type=key",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(json(&run)["summary"]["applied"], 3);
    let stats = emu.stats();
    assert_eq!(
        emu.count(&stats, "alibaba", "UntagResources", "fault_throttle"),
        1,
        "{stats:#}"
    );
    assert_eq!(
        emu.count(&stats, "alibaba", "UntagResources", "ok"),
        1,
        "{stats:#}"
    );
    assert_eq!(emu.count(&stats, "alibaba", "TagResources", "ok"), 2, "{stats:#}");
}

#[test]
fn sixty_keys_missing_one_tag_take_two_calls() {
    let keys: String = (0..60)
        .map(|i| format!("          - {{id: key-{i:04}, tags: {{owner: platform}}}}\n"))
        .collect();
    let inventory = format!(
        "alibaba:\n  - name: ali\n    access_key_id: testid\n    access_key_secret: testsecret\n    regions:\n      \
         cn-hangzhou:\n        keys:\n{keys}"
    );
    let emu = Emulator::start(&inventory, &[]);
    let declared: String = (0..60)
        .map(|i| {
            format!(
                "  - {{account: ali, region: cn-hangzhou, type: key, id: key-{i:04}, tags: {{owner: platform, \
                 env: prod}}}}\n"
            )
        })
        .collect();
    let accounts = ACCOUNTS.split("  - name: hw").next().unwrap().to_owned();
    let desired = emu.desired(
        "desired.yaml",
        &format!("{accounts}schedule:\n  max_attempts: 8\nresources:\n{declared}"),
    );
    let run = apply(&desired, &["--auto-approve", "--format", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(json(&run)["summary"]["applied"], 60);
    // 50 resource ids per TagResources call: the fewest calls possible. One call per key would be 60.
    assert_eq!(writes(&emu), [2, 0, 0, 0]);
}

/// Runs `tagdrift apply` on a terminal (a pseudo-terminal from util-linux `script`) answering `answer`.
/// `None` when `script` is not installed.
fn apply_on_a_terminal(config: &std::path::Path, answer: &str) -> Option<(i32, String)> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let command = format!(
        "{} apply --no-color --config {}",
        env!("CARGO_BIN_EXE_tagdrift"),
        config.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .envs(support::ENV.iter().copied())
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    // The terminal holds the line until apply reads it after its question.
    child
        .stdin
        .take()?
        .write_all(format!("{answer}\n").as_bytes())
        .ok()?;
    let output = child.wait_with_output().ok()?;
    Some((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ))
}

#[test]
fn on_a_terminal_only_yes_writes() {
    let emu = Emulator::start(INVENTORY, &[]);
    let desired = emu.desired("desired.yaml", &format!("{ACCOUNTS}{RESOURCES}"));
    let Some((code, out)) = apply_on_a_terminal(&desired, "y") else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Apply these changes? Only 'yes' is accepted: ")
            && out.contains("Apply cancelled; nothing was written."),
        "{out}"
    );
    assert_eq!(writes(&emu), [0, 0, 0, 0]);

    let (code, out) = apply_on_a_terminal(&desired, "yes").expect("script ran before");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Apply complete! Resources: 7 applied, 0 failed, 0 skipped."),
        "{out}"
    );
    assert_eq!(writes(&emu), [4, 1, 2, 1]);
}

#[test]
fn a_refused_write_fails_its_resource_and_the_others_are_still_written() {
    // A Huawei KMS key holds at most 10 tags: adding an 11th is refused with KMS.0404.
    let full: String = (0..10).map(|i| format!("t{i}: v, ")).collect();
    let inventory = INVENTORY.replace("tags: {owner: payments, tmp: x}", &format!("tags: {{{full}}}"));
    let emu = Emulator::start(&inventory, &[]);
    let resources = "resources:\n  - {account: hw, region: cn-north-4, type: key, id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, \
         tags: {owner: platform}, allow_extra_tags: true}\n  - {account: ali, region: cn-hangzhou, type: key, \
         id: key-a002, tags: {owner: platform}}\n";
    let desired = emu.desired("desired.yaml", &format!("{ACCOUNTS}{resources}"));
    let run = apply(&desired, &["--auto-approve", "--format", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let result = json(&run);
    assert_eq!(
        statuses(&result),
        [
            ("key-a002".to_owned(), "applied".to_owned()),
            (
                "0d0466b0-e727-4d9c-b35d-f84bb474a37f".to_owned(),
                "failed".to_owned()
            ),
        ]
    );
    let failed = &result["resources"][1];
    assert_eq!(failed["cloud_code"], "KMS.0404", "{failed:#}");
    assert_eq!(failed["code"], "http_4xx", "{failed:#}");
    assert!(
        failed["message"].as_str().unwrap().contains("Too many tags"),
        "{failed:#}"
    );
    assert_eq!(result["summary"]["failed"], 1);
    assert_eq!(writes(&emu), [1, 0, 1, 0]);
}

#[test]
fn a_write_the_policy_denies_names_the_permission_and_the_others_are_still_written() {
    // The credentials may read every resource but write neither the Alibaba key nor the Huawei secret.
    let mut inventory = INVENTORY.replace(
        "{id: key-a002, tags: {owner: payments}}",
        "{id: key-a002, tags: {owner: payments}, deny: [write]}",
    );
    // The Huawei secret is the inventory's last line (the Alibaba one has the same text).
    let secret = "{name: db-password, tags: {owner: payments}}";
    let at = inventory.rfind(secret).unwrap();
    inventory.replace_range(
        at..at + secret.len(),
        "{name: db-password, tags: {owner: payments}, deny: [write]}",
    );
    assert!(inventory[at..].starts_with("{name: db-password, tags: {owner: payments}, deny"));
    assert!(
        inventory[..at].contains("project_id"),
        "the last db-password is Huawei's"
    );
    let emu = Emulator::start(&inventory, &[]);
    let resources = "resources:\n  - {account: ali, region: cn-hangzhou, type: key, id: key-a002, tags: {owner: platform}}\n  \
         - {account: ali, region: cn-hangzhou, type: key, id: key-a003, tags: {owner: web, env: prod}}\n  \
         - {account: hw, region: cn-north-4, type: secret, name: db-password, tags: {owner: platform}}\n";
    let desired = emu.desired("desired.yaml", &format!("{ACCOUNTS}{resources}"));
    let run = apply(&desired, &["--auto-approve", "--format", "json"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let result = json(&run);
    assert_eq!(
        statuses(&result),
        [
            ("key-a002".to_owned(), "failed".to_owned()),
            ("key-a003".to_owned(), "applied".to_owned()),
            ("db-password".to_owned(), "failed".to_owned()),
        ]
    );
    for (i, permission) in [
        (0, "kms:TagResources"),
        (2, "csms:secret:batchCreateOrDeleteTags"),
    ] {
        let failed = &result["resources"][i];
        assert_eq!(failed["code"], "permission_denied", "{failed:#}");
        let message = failed["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!(
                "the credentials can read but not write tags: grant {permission} ("
            )),
            "{failed:#}"
        );
    }
    assert!(!run.stderr.contains("refused its credentials"), "{}", run.stderr);
}
