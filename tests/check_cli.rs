//! `tagdrift check` end to end: the real binary reads a real `tagdrift emulate` over HTTP and its exit code,
//! JSON report and the emulator's call counts are checked.

use crate::util::cli as support;

use serde_json::{Value, json};
use support::{Emulator, check, entry};

const ALI_INVENTORY: &str = r#"
alibaba:
  - name: ali
    access_key_id: testid
    access_key_secret: testsecret
    regions:
      cn-hangzhou:
        keys:
          - {id: key-sync0001, alias: app-key, tags: {owner: platform, env: prod}}
          - {id: key-drift002, tags: {owner: payments, env: staging, tmp: "1"}}
          - {id: key-bare0003}
        secrets:
          - {name: db-password, tags: {owner: payments}}
          - {name: api-token, tags: {owner: web, env: prod}}
          - {name: stray-secret, tags: {owner: nobody}}
      cn-shanghai:
        keys:
          - {id: key-sh000004, tags: {owner: data}}
"#;

fn ali_account(extra: &str) -> String {
    format!(
        r#"version: 1
accounts:
  - name: ali
    cloud: alibaba
    regions: [cn-hangzhou, cn-shanghai]
    endpoint: "{{endpoint}}"
    credentials:
      type: access_key
      access_key_id: {{env: T_ALI_ID}}
      access_key_secret: {{env: T_ALI_SECRET}}
{extra}"#
    )
}

const ALI_IN_SYNC: &str = r#"resources:
  - {account: ali, region: cn-hangzhou, type: key, id: key-sync0001, tags: {owner: platform, env: prod}}
  - {account: ali, region: cn-hangzhou, type: key, id: key-bare0003}
  - {account: ali, region: cn-hangzhou, type: secret, name: db-password, tags: {owner: payments}}
  - {account: ali, region: cn-hangzhou, type: secret, name: api-token, tags: {owner: web, env: prod}}
  - {account: ali, region: cn-shanghai, type: key, id: key-sh000004, tags: {owner: data}}
"#;

fn statuses(report: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.extend(
        report["in_sync"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["id"].as_str().unwrap().to_owned(), "in_sync".to_owned())),
    );
    out.sort();
    out
}

#[test]
fn alibaba_in_sync_exits_zero_with_one_call_per_scope() {
    let emu = Emulator::start(ALI_INVENTORY, &[]);
    let desired = emu.desired("desired.yaml", &(ali_account("") + ALI_IN_SYNC));
    let run = check(&desired, &["--format", "json"]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["verdict"], "no_drift");
    assert_eq!(report["summary"]["total"], 5);
    assert_eq!(report["summary"]["in_sync"], 5);
    let stats = emu.stats();
    // Keys: per region one ListKeys for the keys pending deletion and one ListTagResources batch, and one
    // DescribeKey confirming that the key without any tag exists; secrets: one ListSecrets page holds the
    // region's three secrets with their tags.
    assert_eq!(emu.total(&stats, "alibaba", "ListKeys"), 2, "{stats:#}");
    assert_eq!(emu.total(&stats, "alibaba", "ListTagResources"), 2, "{stats:#}");
    assert_eq!(emu.total(&stats, "alibaba", "DescribeKey"), 1, "{stats:#}");
    assert_eq!(emu.total(&stats, "alibaba", "ListSecrets"), 1, "{stats:#}");
    assert_eq!(stats["total"], 6, "{stats:#}");

    // The text report (the default format) says so too.
    let text = check(&desired, &["--no-color"]);
    assert_eq!(text.code, 0);
    assert!(
        text.stdout
            .contains("No drift. All 5 resources match the desired state."),
        "{}",
        text.stdout
    );
}

#[test]
fn alibaba_drift_and_missing_exit_two_with_every_change_in_the_json() {
    let emu = Emulator::start(ALI_INVENTORY, &[]);
    let resources = r#"resources:
  - {account: ali, region: cn-hangzhou, type: key, id: key-sync0001, tags: {owner: platform, env: prod}}
  - {account: ali, region: cn-hangzhou, type: key, id: key-drift002, tags: {owner: payments, env: prod, cost: cc-1}}
  - {account: ali, region: cn-hangzhou, type: key, id: key-gone0009, tags: {owner: platform}}
  - {account: ali, region: cn-hangzhou, type: secret, name: db-password, tags: {owner: platform}}
  - {account: ali, region: cn-hangzhou, type: secret, name: no-such-secret, tags: {owner: web}}
"#;
    let desired = emu.desired("desired.yaml", &(ali_account("") + resources));
    let out_file = emu.dir.path().join("report.json");
    let run = check(
        &desired,
        &["--format", "json", "--output", out_file.to_str().unwrap()],
    );
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "--output writes the report to the file only"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(report["verdict"], "drift");
    assert_eq!(
        statuses(&report),
        [
            ("db-password", "drifted"),
            ("key-drift002", "drifted"),
            ("key-gone0009", "missing"),
            ("key-sync0001", "in_sync"),
            ("no-such-secret", "missing"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let drifted = entry(&report, "key-drift002");
    assert_eq!(
        drifted["address"],
        r#"alibaba.ali.cn-hangzhou.key["key-drift002"]"#
    );
    assert_eq!(drifted["managed"], true);
    assert_eq!(drifted["error"], Value::Null);
    assert_eq!(
        drifted["changes"],
        json!([
            {"key": "cost", "action": "add", "before": null, "after": "cc-1", "cause": "declared"},
            {"key": "env", "action": "change", "before": "staging", "after": "prod", "cause": "declared"},
            {"key": "tmp", "action": "remove", "before": "1", "after": null, "cause": "undeclared"},
        ])
    );
    assert_eq!(drifted["unchanged"], 1);
    let secret = entry(&report, "db-password");
    assert_eq!(
        secret["changes"],
        json!([{"key": "owner", "action": "change", "before": "payments", "after": "platform", "cause": "declared"}])
    );
    let missing = entry(&report, "no-such-secret");
    assert_eq!(missing["desired"], json!({"owner": "web"}));
    assert_eq!(missing["error"], Value::Null);
    let s = &report["summary"];
    assert_eq!(
        (
            s["total"].as_u64(),
            s["drifted"].as_u64(),
            s["missing"].as_u64(),
            s["unknown"].as_u64()
        ),
        (Some(5), Some(2), Some(2), Some(0))
    );
}

#[test]
fn alibaba_discovery_reports_unmanaged_resources() {
    let emu = Emulator::start(ALI_INVENTORY, &[]);
    let extra = r#"discovery:
  - match: {cloud: alibaba, region: cn-hangzhou}
"#;
    let desired = emu.desired("desired.yaml", &(ali_account("") + ALI_IN_SYNC + extra));
    let run = check(&desired, &["--format", "json"]);
    assert_eq!(
        run.code, 2,
        "unmanaged resources make exit 2; stderr:\n{}",
        run.stderr
    );
    let report = run.json();
    let unmanaged: Vec<&str> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "unmanaged")
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(unmanaged, ["key-drift002", "stray-secret"]);
    assert_eq!(entry(&report, "stray-secret")["managed"], false);
    assert_eq!(report["summary"]["in_sync"], 5);
    let stats = emu.stats();
    // Keys: one ListKeys page and one unfiltered tag page; secrets: one ListSecrets page with their tags;
    // cn-shanghai (not discovered): one batch; each key region: one ListKeys for keys pending deletion.
    assert_eq!(emu.total(&stats, "alibaba", "ListKeys"), 3, "{stats:#}");
    assert_eq!(emu.total(&stats, "alibaba", "ListSecrets"), 1, "{stats:#}");
    assert_eq!(emu.total(&stats, "alibaba", "ListTagResources"), 2, "{stats:#}");
    assert_eq!(stats["total"], 6, "{stats:#}");
}

/// The real service may refuse the region-wide `ListTagResources` key discovery uses (unproven: Terraform
/// always passes ids). Then the listed keys are read by id batches, and the report is the same.
#[test]
fn alibaba_key_discovery_falls_back_to_id_batches_when_region_wide_listing_is_refused() {
    let extra = r#"discovery:
  - match: {cloud: alibaba, region: cn-hangzhou}
"#;
    let report = |flags: &[&str]| {
        let emu = Emulator::start(ALI_INVENTORY, flags);
        let desired = emu.desired("desired.yaml", &(ali_account("") + ALI_IN_SYNC + extra));
        let run = check(&desired, &["--format", "json"]);
        assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
        let report = run.json();
        let stats = emu.stats();
        (
            (
                report["resources"].clone(),
                report["in_sync"].clone(),
                report["summary"].clone(),
            ),
            run.stderr,
            stats,
            emu,
        )
    };
    let (expected, _, _, _) = report(&[]);
    let (refused, stderr, stats, emu) = report(&["--refuse-region-wide-tag-listing"]);
    assert_eq!(refused, expected);
    assert_eq!(
        emu.count(&stats, "alibaba", "ListTagResources", "MissingParameter"),
        1,
        "{stats:#}"
    );
    // The three listed cn-hangzhou keys in one id batch, and the declared cn-shanghai key in another.
    assert_eq!(
        emu.count(&stats, "alibaba", "ListTagResources", "ok"),
        2,
        "{stats:#}"
    );
    // The discovery page, and one pending-deletion listing per key region.
    assert_eq!(emu.total(&stats, "alibaba", "ListKeys"), 3, "{stats:#}");
    assert_eq!(emu.total(&stats, "alibaba", "ListSecrets"), 1, "{stats:#}");
    assert_eq!(stats["total"], 7, "{stats:#}");
    assert_eq!(
        stderr
            .matches("refused ListTagResources without ResourceId")
            .count(),
        1,
        "{stderr}"
    );
}

#[test]
fn alibaba_throttling_recovers() {
    let emu = Emulator::start(ALI_INVENTORY, &["--fault-throttle", "0.4", "--seed", "5"]);
    let schedule = "schedule:\n  max_attempts: 10\n";
    let desired = emu.desired("desired.yaml", &(ali_account("") + ALI_IN_SYNC + schedule));
    let run = check(&desired, &["--format", "json"]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let stats = emu.stats();
    let throttled: u64 = ["ListTagResources", "DescribeKey", "ListSecrets"]
        .iter()
        .map(|api| emu.count(&stats, "alibaba", api, "fault_throttle"))
        .sum();
    assert!(throttled > 0, "the emulator throttled nothing: {stats:#}");
    // Every call eventually succeeded once: two key batches, one secret page, one DescribeKey.
    assert_eq!(
        emu.count(&stats, "alibaba", "ListTagResources", "ok"),
        2,
        "{stats:#}"
    );
    assert_eq!(emu.count(&stats, "alibaba", "ListSecrets", "ok"), 1, "{stats:#}");
    assert_eq!(emu.count(&stats, "alibaba", "DescribeKey", "ok"), 1, "{stats:#}");
}

#[test]
fn a_permanent_failure_leaves_exactly_the_affected_resources_unknown() {
    let emu = Emulator::start(ALI_INVENTORY, &[]);
    // A second account whose endpoint refuses connections: its resources cannot be read, the first
    // account's still are.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let extra = format!(
        r#"  - name: ali-dead
    cloud: alibaba
    regions: [cn-beijing]
    endpoint: "http://{dead_addr}"
    credentials:
      type: access_key
      access_key_id: {{env: T_ALI_ID}}
      access_key_secret: {{env: T_ALI_SECRET}}
{ALI_IN_SYNC}  - {{account: ali-dead, region: cn-beijing, type: secret, name: far-away, tags: {{owner: x}}}}
  - {{account: ali-dead, region: cn-beijing, type: key, id: key-far00001}}
schedule:
  max_attempts: 2
"#
    );
    let desired = emu.desired("desired.yaml", &ali_account(&extra));
    let run = check(&desired, &["--format", "json"]);
    assert_eq!(run.code, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["verdict"], "unknown");
    let unknown: Vec<(&str, &str)> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["error"]["code"].as_str().unwrap()))
        .collect();
    assert_eq!(unknown, [("key-far00001", "network"), ("far-away", "network")]);
    assert_eq!(report["summary"]["in_sync"], 5);
}

#[test]
fn a_server_failing_every_call_is_unknown_not_in_sync() {
    let emu = Emulator::start(ALI_INVENTORY, &[]);
    emu.faults(json!({"server_error": 1.0}));
    let schedule = "schedule:\n  max_attempts: 2\n";
    let desired = emu.desired("desired.yaml", &(ali_account("") + ALI_IN_SYNC + schedule));
    let run = check(&desired, &["--format", "json"]);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    let report = run.json();
    assert_eq!(report["summary"]["unknown"], 5);
    assert_eq!(report["summary"]["in_sync"], 0);
    for r in report["resources"].as_array().unwrap() {
        assert_eq!(r["error"]["code"], "http_5xx", "{r}");
    }
    // Every call was tried exactly max_attempts times: per key region the pending-deletion ListKeys (which
    // fails the region's keys), and for the secrets the ListSecrets page, then (the listing having failed)
    // one batch.
    let stats = emu.stats();
    assert_eq!(emu.total(&stats, "alibaba", "ListKeys"), 2 * 2, "{stats:#}");
    assert_eq!(emu.total(&stats, "alibaba", "ListTagResources"), 2, "{stats:#}");
    assert_eq!(emu.total(&stats, "alibaba", "ListSecrets"), 2, "{stats:#}");

    // The service recovers: the next check reads everything.
    emu.faults(json!({"server_error": 0.0}));
    emu.reset_stats();
    let run = check(&desired, &["--format", "json"]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    assert_eq!(run.json()["summary"]["in_sync"], 5);
    assert_eq!(emu.stats()["total"], 6);
}

#[test]
fn wrong_credentials_fail_clearly_without_a_retry_storm() {
    let emu = Emulator::start(ALI_INVENTORY, &[]);
    let desired = emu.desired("desired.yaml", &(ali_account("") + ALI_IN_SYNC));
    let mut cmd = support::tagdrift();
    cmd.arg("check").arg("--config").arg(&desired);
    cmd.env("T_ALI_ID", "testid")
        .env("T_ALI_SECRET", "not-the-secret");
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(
        stderr.contains("account ali")
            && stderr.contains("credentials")
            && stderr.contains("SignatureDoesNotMatch"),
        "stderr:\n{stderr}"
    );
    let stats = emu.stats();
    // Authentication failures are not retried, calls go one at a time until the credentials have been
    // accepted once, and after the refusal nothing more is sent: one call in all.
    assert_eq!(stats["total"], 1, "{stats:#}");
}

#[test]
fn missing_credentials_and_bad_config_are_clear_errors() {
    let emu = Emulator::start(ALI_INVENTORY, &[]);
    let desired = emu.desired("desired.yaml", &(ali_account("") + ALI_IN_SYNC));
    let mut cmd = support::tagdrift();
    cmd.arg("check").arg("--config").arg(&desired);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(
        stderr.contains("T_ALI_ID"),
        "the error names the unset variable:\n{stderr}"
    );
    assert_eq!(emu.stats()["total"], 0, "nothing is sent without credentials");

    let bad = emu.desired(
        "bad.yaml",
        "version: 1\naccounts:\n  - name: ali\n    cloud: alibab\n",
    );
    let run = check(&bad, &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("bad.yaml:4:"),
        "located message:\n{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn the_check_deadline_leaves_unread_resources_unknown() {
    let emu = Emulator::start(ALI_INVENTORY, &["--latency-ms", "3000"]);
    let schedule = "schedule:\n  check_timeout_seconds: 1\n  request_timeout_seconds: 1\n  max_attempts: 1\n";
    let desired = emu.desired("desired.yaml", &(ali_account("") + ALI_IN_SYNC + schedule));
    let started = std::time::Instant::now();
    let run = check(&desired, &["--format", "json"]);
    let took = started.elapsed();
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    assert!(
        took < std::time::Duration::from_secs(3),
        "the deadline did not stop the check: {took:?}"
    );
    let report = run.json();
    assert_eq!(report["summary"]["unknown"], 5);
    for r in report["resources"].as_array().unwrap() {
        assert_eq!(r["error"]["code"], "timeout", "{r}");
    }
}

const HW_INVENTORY: &str = r#"
huawei:
  - name: hw
    ak: testak
    sk: testsk
    projects:
      - region: cn-north-4
        project_id: 0123456789abcdef0123456789abcdef
        keys:
          - {id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, alias: app-key, tags: {owner: platform}}
          - {id: 1d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: payments, env: staging}}
          - {id: 2d0466b0-e727-4d9c-b35d-f84bb474a37f, alias: stray-key, tags: {owner: stray}}
        secrets:
          - {name: db-password, tags: {owner: payments}}
          - {name: api-token, tags: {owner: web, tmp: x}}
          - {name: untagged}
"#;

fn hw_account(options: &str, extra: &str) -> String {
    format!(
        r#"version: 1
accounts:
  - name: hw
    cloud: huawei
    regions:
      - {{name: cn-north-4, project_id: 0123456789abcdef0123456789abcdef}}
    endpoint: "{{endpoint}}"
{options}    credentials:
      type: access_key
      ak: {{env: T_HW_AK}}
      sk: {{env: T_HW_SK}}
{extra}"#
    )
}

const HW_RESOURCES: &str = r#"resources:
  - {account: hw, region: cn-north-4, type: key, id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: platform}}
  - {account: hw, region: cn-north-4, type: key, id: 1d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: payments, env: prod}}
  - {account: hw, region: cn-north-4, type: key, id: 9d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: gone}}
  - {account: hw, region: cn-north-4, type: secret, name: db-password, tags: {owner: payments}}
  - {account: hw, region: cn-north-4, type: secret, name: api-token, tags: {owner: web}}
  - {account: hw, region: cn-north-4, type: secret, name: no-such-secret, tags: {owner: web}}
"#;

#[test]
fn huawei_drift_and_missing_exit_two_with_one_tag_call_per_resource() {
    let emu = Emulator::start(HW_INVENTORY, &[]);
    // The per-resource plan (the batch and `auto` are covered in `batch_auto`).
    let per_resource = "    batch_tag_read: false\n";
    let desired = emu.desired("desired.yaml", &hw_account(per_resource, HW_RESOURCES));
    let run = check(&desired, &["--format", "json"]);
    assert_eq!(run.code, 2, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(
        statuses(&report),
        [
            ("0d0466b0-e727-4d9c-b35d-f84bb474a37f", "in_sync"),
            ("1d0466b0-e727-4d9c-b35d-f84bb474a37f", "drifted"),
            ("9d0466b0-e727-4d9c-b35d-f84bb474a37f", "missing"),
            ("api-token", "drifted"),
            ("db-password", "in_sync"),
            ("no-such-secret", "missing"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let key = entry(&report, "1d0466b0-e727-4d9c-b35d-f84bb474a37f");
    assert_eq!(
        key["changes"],
        json!([{"key": "env", "action": "change", "before": "staging", "after": "prod", "cause": "declared"}])
    );
    let secret = entry(&report, "api-token");
    assert_eq!(
        secret["changes"],
        json!([{"key": "tmp", "action": "remove", "before": "x", "after": null, "cause": "undeclared"}])
    );
    // The tag API addressed the secret by its UUID, which the report carries.
    let uuid = secret["native_id"].as_str().expect("native_id");
    assert_eq!(uuid.len(), 36, "{uuid}");
    assert_eq!(secret["address"], r#"huawei.hw.cn-north-4.secret["api-token"]"#);
    let stats = emu.stats();
    assert_eq!(emu.total(&stats, "huawei", "ListSecrets"), 1, "{stats:#}");
    assert_eq!(emu.total(&stats, "huawei", "ListSecretTags"), 2, "{stats:#}");
    assert_eq!(emu.total(&stats, "huawei", "ShowKmsTags"), 3, "{stats:#}");
    assert_eq!(stats["total"], 6, "{stats:#}");
}

#[test]
fn huawei_discovery_with_the_batch_read_reports_unmanaged_resources() {
    let emu = Emulator::start(HW_INVENTORY, &[]);
    let discovery = "discovery:\n  - match: {cloud: huawei}\n";
    let desired = emu.desired(
        "desired.yaml",
        &hw_account(
            "    batch_tag_read: true\n",
            &format!("{HW_RESOURCES}{discovery}"),
        ),
    );
    let run = check(&desired, &["--format", "json"]);
    assert_eq!(run.code, 2, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    let unmanaged: Vec<&str> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "unmanaged")
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(unmanaged, ["2d0466b0-e727-4d9c-b35d-f84bb474a37f", "untagged"]);
    // Aliases come with the key listing.
    let alias = entry(&report, "2d0466b0-e727-4d9c-b35d-f84bb474a37f")["alias"].clone();
    assert!(alias.as_str().is_some_and(|a| a.contains("stray-key")), "{alias}");
    let s = &report["summary"];
    assert_eq!((s["total"].as_u64(), s["unmanaged"].as_u64()), (Some(8), Some(2)));
    let stats = emu.stats();
    // One batch page per type and the two listings; no per-resource tag call is needed.
    assert_eq!(
        emu.total(&stats, "huawei", "ListResourceInstances"),
        1,
        "{stats:#}"
    );
    assert_eq!(emu.total(&stats, "huawei", "ListKmsByTags"), 1, "{stats:#}");
    assert_eq!(emu.total(&stats, "huawei", "ListSecrets"), 1, "{stats:#}");
    assert_eq!(emu.total(&stats, "huawei", "ListKeys"), 1, "{stats:#}");
    assert_eq!(stats["total"], 4, "{stats:#}");
}

#[test]
fn huawei_throttling_recovers() {
    let emu = Emulator::start(HW_INVENTORY, &["--fault-throttle", "0.4", "--seed", "11"]);
    let desired = emu.desired(
        "desired.yaml",
        &hw_account(
            "    batch_tag_read: false\n",
            &format!("{HW_RESOURCES}schedule:\n  max_attempts: 10\n"),
        ),
    );
    let run = check(&desired, &["--format", "json"]);
    assert_eq!(run.code, 2, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["summary"]["unknown"], 0);
    let stats = emu.stats();
    let throttled: u64 = ["ListSecrets", "ListSecretTags", "ShowKmsTags"]
        .iter()
        .map(|api| emu.count(&stats, "huawei", api, "fault_throttle"))
        .sum();
    assert!(throttled > 0, "the emulator throttled nothing: {stats:#}");
    assert_eq!(emu.count(&stats, "huawei", "ShowKmsTags", "ok"), 2, "{stats:#}");
}

#[test]
fn huawei_wrong_credentials_stop_before_the_access_key_is_locked() {
    let emu = Emulator::start(HW_INVENTORY, &[]);
    let desired = emu.desired("desired.yaml", &hw_account("", HW_RESOURCES));
    let mut cmd = support::tagdrift();
    cmd.arg("check")
        .arg("--config")
        .arg(&desired)
        .args(["--format", "json"]);
    cmd.env("T_HW_AK", "testak").env("T_HW_SK", "wrong-sk");
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(
        stderr.contains("account hw") && stderr.contains("APIGW.0301"),
        "stderr:\n{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["unknown"], 6);
    for r in report["resources"].as_array().unwrap() {
        assert_eq!(r["error"]["code"], "auth", "{r}");
    }
    // One refused call, far from the six bad signatures that lock a Huawei access key for five minutes.
    let stats = emu.stats();
    assert_eq!(stats["total"], 1, "{stats:#}");
}

/// An HTTP server that answers every request with one fixed `404` `body`: a Huawei endpoint where DEW is not
/// (another service's gateway, a proxy, a wrong region's host). Serves until the test process ends.
fn not_dew(content_type: &'static str, body: &'static str) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut request_body = vec![0; length];
            let _ = reader.read_exact(&mut request_body);
            let _ = write!(
                reader.get_mut(),
                "HTTP/1.1 404 Not Found\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

/// A wrong Huawei endpoint answers 404 "the API does not exist" (the gateway's `APIGW.0101`, the tables'
/// `APIG.0101`) or a bare 404: the declared keys and secrets there are `unknown` with a reason that points at
/// the endpoint, never `missing`. In the same check a key the emulator's DEW says does not exist (400
/// `KMS.0205`) is still `missing`.
#[test]
fn huawei_wrong_endpoint_leaves_declared_resources_unknown_not_missing() {
    let emu = Emulator::start(HW_INVENTORY, &[]);
    let answers = [
        (
            "application/json",
            r#"{"error_msg":"The API does not exist or has not been published in the environment","error_code":"APIGW.0101","request_id":"0a1b2c"}"#,
        ),
        (
            "application/json",
            r#"{"error_msg":"The API does not exist or has not been published in the environment","error_code":"APIG.0101","request_id":"0a1b2c"}"#,
        ),
        ("text/html", "<html><body><h1>404 Not Found</h1></body></html>"),
    ];
    for (content_type, body) in answers {
        let wrong = not_dew(content_type, body);
        let extra = format!(
            r#"  - name: hw-wrong
    cloud: huawei
    regions:
      - {{name: cn-north-4, project_id: 0123456789abcdef0123456789abcdef}}
    endpoint: "{wrong}"
    credentials:
      type: access_key
      ak: {{env: T_HW_AK}}
      sk: {{env: T_HW_SK}}
resources:
  - {{account: hw, region: cn-north-4, type: key, id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {{owner: platform}}}}
  - {{account: hw, region: cn-north-4, type: key, id: 9d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {{owner: gone}}}}
  - {{account: hw-wrong, region: cn-north-4, type: key, id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {{owner: platform}}}}
  - {{account: hw-wrong, region: cn-north-4, type: key, id: 1d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {{owner: payments}}}}
  - {{account: hw-wrong, region: cn-north-4, type: secret, name: db-password, tags: {{owner: payments}}}}
"#
        );
        let desired = emu.desired("desired.yaml", &hw_account("", &extra));
        let run = check(&desired, &["--format", "json"]);
        assert_eq!(
            run.code, 1,
            "{body}\nstdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        );
        let report = run.json();
        let by_account: Vec<(&str, &str, &str)> = report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .chain(report["in_sync"].as_array().unwrap())
            .map(|r| {
                (
                    r["account"].as_str().unwrap(),
                    r["id"].as_str().unwrap(),
                    r["status"].as_str().unwrap_or("in_sync"),
                )
            })
            .collect();
        for (account, id, status) in &by_account {
            let expected = match (*account, *id) {
                ("hw", "9d0466b0-e727-4d9c-b35d-f84bb474a37f") => "missing",
                ("hw", _) => "in_sync",
                _ => "unknown",
            };
            assert_eq!(*status, expected, "{account}/{id} ({body}):\n{report:#}");
        }
        assert_eq!(by_account.len(), 5, "{report:#}");
        for r in report["resources"].as_array().unwrap() {
            if r["account"] != "hw-wrong" {
                continue;
            }
            let message = r["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("check the account's endpoint"), "{body}: {r:#}");
        }
    }
}
