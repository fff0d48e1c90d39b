//! Keys and secrets that cannot carry tags (issue 12, point 9), end to end: the real `tagdrift check` against
//! the real `tagdrift emulate`. A declared one is `missing` with its reason, an undeclared one is left out of
//! discovery and counted per scope, and neither is read as a failure or as drift.

use crate::util::cli as support;

use serde_json::{Value, json};
use support::{Emulator, check, entry};

const INVENTORY: &str = r#"
alibaba:
  - name: ali
    access_key_id: testid
    access_key_secret: testsecret
    regions:
      cn-hangzhou:
        keys:
          - {id: key-live0001, tags: {owner: platform}}
          - {id: key-doomed01, pending_deletion: true, tags: {owner: platform}}
          - {id: key-doomed02, pending_deletion: true, tags: {owner: stray}}
huawei:
  - name: hw
    ak: testak
    sk: testsk
    projects:
      - region: cn-north-4
        project_id: 0123456789abcdef0123456789abcdef
        keys:
          - {id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, alias: app-key, tags: {owner: platform}}
          - {id: 1d0466b0-e727-4d9c-b35d-f84bb474a37f, alias: old-key, pending_deletion: true, tags: {owner: platform}}
          - {id: 2d0466b0-e727-4d9c-b35d-f84bb474a37f, alias: stray-old, pending_deletion: true}
          - {id: 3d0466b0-e727-4d9c-b35d-f84bb474a37f, alias: obs/default, default: true}
        secrets:
          - {name: db-password, tags: {owner: payments}}
          - {name: old-token, pending_deletion: true, tags: {owner: payments}}
          - {name: stray-token, pending_deletion: true}
"#;

const DESIRED: &str = r#"version: 1
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
resources:
  - {account: ali, region: cn-hangzhou, type: key, id: key-live0001, tags: {owner: platform}}
  - {account: ali, region: cn-hangzhou, type: key, id: key-doomed01, tags: {owner: platform}}
  - {account: hw, region: cn-north-4, type: key, id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: platform}}
  - {account: hw, region: cn-north-4, type: key, id: 1d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: platform}}
  - {account: hw, region: cn-north-4, type: secret, name: db-password, tags: {owner: payments}}
  - {account: hw, region: cn-north-4, type: secret, name: old-token, tags: {owner: payments}}
discovery:
  - match: {}
    report_unmanaged: true
"#;

fn left_out(report: &Value) -> Vec<String> {
    report["discovery_left_out"]
        .as_array()
        .expect("discovery_left_out")
        .iter()
        .map(|l| {
            format!(
                "{}/{}/{}/{} {} {}",
                l["cloud"].as_str().unwrap(),
                l["account"].as_str().unwrap(),
                l["region"].as_str().unwrap(),
                l["type"].as_str().unwrap(),
                l["reason"].as_str().unwrap(),
                l["count"]
            )
        })
        .collect()
}

// See: issue 12, point 9.
#[test]
fn declared_untaggable_resources_are_missing_with_a_reason_and_undeclared_ones_are_left_out() {
    let emu = Emulator::start(INVENTORY, &[]);
    let desired = emu.desired("desired.yaml", DESIRED);
    let run = check(&desired, &["--format", "json"]);
    // Missing is drift: exit 2, as for any missing resource, and nothing could not be read.
    assert_eq!(run.code, 2, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["format_version"], "1.2");
    assert_eq!(report["verdict"], "drift");
    assert_eq!(report["summary"]["unknown"], 0, "{report:#}");
    assert_eq!(report["summary"]["unknown_scopes"], 0, "{report:#}");
    assert_eq!(report["summary"]["missing"], 3, "{report:#}");
    assert_eq!(report["summary"]["drifted"], 0, "{report:#}");
    for (id, reason) in [
        ("key-doomed01", "pending_deletion"),
        ("1d0466b0-e727-4d9c-b35d-f84bb474a37f", "pending_deletion"),
        ("old-token", "pending_deletion"),
    ] {
        let r = entry(&report, id);
        assert_eq!(r["status"], "missing", "{id}: {r:#}");
        assert_eq!(r["reason"], reason, "{id}: {r:#}");
        assert_eq!(r["changes"], json!([]), "{id}: nothing is planned on it");
        assert_eq!(r["error"], Value::Null, "{id}");
    }
    // The undeclared ones are not resources of the report at all.
    let every_id: Vec<&str> = ["resources", "in_sync"]
        .iter()
        .flat_map(|k| report[*k].as_array().unwrap())
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for absent in [
        "key-doomed02",
        "2d0466b0-e727-4d9c-b35d-f84bb474a37f",
        "3d0466b0-e727-4d9c-b35d-f84bb474a37f",
        "stray-token",
    ] {
        assert!(!every_id.contains(&absent), "{absent} is reported: {every_id:?}");
    }
    assert_eq!(
        left_out(&report),
        [
            "alibaba/ali/cn-hangzhou/key pending_deletion 1",
            "huawei/hw/cn-north-4/key pending_deletion 1",
            "huawei/hw/cn-north-4/key default_key 1",
            "huawei/hw/cn-north-4/secret pending_deletion 1",
        ]
    );
    // The listings told, so no tag call reached a resource that refuses them.
    let stats = emu.stats();
    assert_eq!(emu.total(&stats, "huawei", "ShowKmsTags"), 1, "{stats:#}");
    assert_eq!(emu.total(&stats, "huawei", "ListSecretTags"), 1, "{stats:#}");

    // The text report names the reason and the left-outs.
    let text = check(&desired, &["--no-color"]);
    assert_eq!(text.code, 2);
    assert!(
        text.stdout.contains(
            r#"# alibaba key "key-doomed01" in ali/cn-hangzhou is missing (pending deletion): declared but it cannot carry tags"#
        ),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(
            "discovery left out 2 keys in huawei/hw/cn-north-4: pending deletion 1, default master key 1"
        ),
        "{}",
        text.stdout
    );
}
