//! `batch_tag_read: auto` (the default) end to end: `tagdrift check` against an emulator whose Huawei
//! `resource_instances` answer is complete, leaves out untagged resources, drops a tag, or is refused. The report
//! must be the same exact one every time; only the calls differ, and a batch that disagrees is not used.

use crate::util::cli::{Emulator, check};

const INVENTORY: &str = r#"
huawei:
  - name: hw
    ak: testak
    sk: testsk
    projects:
      - region: cn-north-4
        project_id: 0123456789abcdef0123456789abcdef
        keys:
          - {id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: platform, env: prod}}
          - {id: 1d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: payments, env: staging}}
          - {id: 2d0466b0-e727-4d9c-b35d-f84bb474a37f}
        secrets:
          - {name: db-password, tags: {owner: payments, env: prod}}
          - {name: api-token, tags: {owner: web, env: prod}}
          - {name: untagged}
"#;

/// Every resource declared; one key drifted (env), the rest exactly as the inventory says.
const DESIRED: &str = r#"version: 1
accounts:
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
  - {account: hw, region: cn-north-4, type: key, id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: platform, env: prod}}
  - {account: hw, region: cn-north-4, type: key, id: 1d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: payments, env: prod}}
  - {account: hw, region: cn-north-4, type: key, id: 2d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {}}
  - {account: hw, region: cn-north-4, type: secret, name: db-password, tags: {owner: payments, env: prod}}
  - {account: hw, region: cn-north-4, type: secret, name: api-token, tags: {owner: web, env: prod}}
  - {account: hw, region: cn-north-4, type: secret, name: untagged, tags: {}}
"#;

#[test]
fn each_batch_answer_gives_the_same_report_and_only_an_agreeing_batch_is_used() {
    // (answer, batch calls per type, tag calls of keys and of secrets, the warnings' difference)
    let cases: [(&str, u64, [u64; 2], Option<&str>); 4] = [
        // The comparison: the batch, and each of the 3 declared resources sampled (2 tagged, 1 not).
        ("complete", 1, [3, 3], None),
        // The key the batch left out is asked (it exists: a difference), then all three are read. The
        // secret it left out needs the listing for its UUID, which shows the difference without a tag call.
        ("omit-untagged", 1, [4, 3], Some("missing from the batch answer")),
        // The sample's calls, then the per-resource read of all three.
        ("drop-tag", 1, [6, 6], Some("is missing from the batch answer")),
        ("refuse", 1, [3, 3], Some("the batch call was refused")),
    ];
    let mut reports = Vec::new();
    for (answer, batch_calls, tag_calls, difference) in cases {
        let emu = Emulator::start(INVENTORY, &["--huawei-batch-answer", answer]);
        let desired = emu.desired("desired.yaml", DESIRED);
        let run = check(&desired, &["--format", "json"]);
        assert_eq!(
            run.code, 2,
            "{answer}: stdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        );
        let report = run.json();
        let s = &report["summary"];
        assert_eq!(
            (
                s["in_sync"].as_u64(),
                s["drifted"].as_u64(),
                s["unknown"].as_u64()
            ),
            (Some(5), Some(1), Some(0)),
            "{answer}: {report:#}"
        );
        reports.push((report["resources"].clone(), report["in_sync"].clone()));
        assert_calls(&emu, answer, batch_calls, tag_calls);
        let warnings: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.contains("cannot be trusted"))
            .collect();
        match difference {
            None => assert!(warnings.is_empty(), "{answer}: {}", run.stderr),
            Some(d) => {
                // Once per scope: the keys and the secrets.
                assert_eq!(warnings.len(), 2, "{answer}: {}", run.stderr);
                assert!(warnings.iter().all(|w| w.contains(d)), "{answer}: {warnings:#?}");
            }
        }
    }
    assert!(reports.windows(2).all(|w| w[0] == w[1]), "{reports:#?}");
}

#[test]
fn batch_tag_read_false_never_sends_the_batch_and_true_never_samples() {
    for (setting, batch_calls, tag_calls) in [("false", 0, 3), ("true", 1, 0)] {
        let emu = Emulator::start(INVENTORY, &[]);
        let desired = emu.desired(
            "desired.yaml",
            &DESIRED.replace(
                "    credentials:",
                &format!("    batch_tag_read: {setting}\n    credentials:"),
            ),
        );
        let run = check(&desired, &["--format", "json"]);
        assert_eq!(run.code, 2, "{setting}: stderr:\n{}", run.stderr);
        assert_calls(&emu, setting, batch_calls, [tag_calls; 2]);
    }
}

/// The emulator saw `batch` batch calls of each type, and `tags` per-resource tag calls of keys and of secrets.
fn assert_calls(emu: &Emulator, what: &str, batch: u64, tags: [u64; 2]) {
    let stats = emu.stats();
    let apis = [
        ("ListKmsByTags", "ShowKmsTags"),
        ("ListResourceInstances", "ListSecretTags"),
    ];
    for ((batch_api, tag_api), tag_calls) in apis.into_iter().zip(tags) {
        assert_eq!(
            emu.total(&stats, "huawei", batch_api),
            batch,
            "{what} {batch_api}: {stats:#}"
        );
        assert_eq!(
            emu.total(&stats, "huawei", tag_api),
            tag_calls,
            "{what} {tag_api}: {stats:#}"
        );
    }
}
