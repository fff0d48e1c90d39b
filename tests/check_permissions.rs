//! See: issue 12 (point 5), "authentication is not authorization". `tagdrift check` against an emulator whose
//! inventory denies the (valid) credentials the reading of one key and one secret per cloud: exactly those four
//! resources are `unknown` with `permission_denied`, every other resource of the same accounts is read, and no
//! account is reported as refused.

use crate::util::cli as support;

use support::{Emulator, check, entry};

const INVENTORY: &str = r#"
alibaba:
  - name: ali
    access_key_id: testid
    access_key_secret: testsecret
    regions:
      cn-hangzhou:
        keys:
          - {id: key-ok000001, tags: {owner: platform}}
          - {id: key-drift002, tags: {owner: payments, tmp: "1"}}
          - {id: key-denied03, tags: {owner: data}, deny: [read]}
        secrets:
          - {name: sec-ok, tags: {owner: web}}
          - {name: sec-drift, tags: {owner: old}}
          - {name: sec-denied, tags: {owner: ops}, deny: [read]}
huawei:
  - name: hw
    ak: testak
    sk: testsk
    projects:
      - region: cn-north-4
        project_id: 0123456789abcdef0123456789abcdef
        keys:
          - {id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: platform}}
          - {id: 1d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: payments, env: staging}}
          - {id: 2d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: data}, deny: [read]}
        secrets:
          - {name: hw-ok, tags: {owner: web}}
          - {name: hw-drift, tags: {owner: old}}
          - {name: hw-denied, tags: {owner: ops}, deny: [read]}
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
  - {account: ali, region: cn-hangzhou, type: key, id: key-ok000001, tags: {owner: platform}}
  - {account: ali, region: cn-hangzhou, type: key, id: key-drift002, tags: {owner: payments}}
  - {account: ali, region: cn-hangzhou, type: key, id: key-denied03, tags: {owner: data}}
  - {account: ali, region: cn-hangzhou, type: secret, name: sec-ok, tags: {owner: web}}
  - {account: ali, region: cn-hangzhou, type: secret, name: sec-drift, tags: {owner: new}}
  - {account: ali, region: cn-hangzhou, type: secret, name: sec-denied, tags: {owner: ops}}
  - {account: hw, region: cn-north-4, type: key, id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: platform}}
  - {account: hw, region: cn-north-4, type: key, id: 1d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: payments, env: prod}}
  - {account: hw, region: cn-north-4, type: key, id: 2d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: data}}
  - {account: hw, region: cn-north-4, type: secret, name: hw-ok, tags: {owner: web}}
  - {account: hw, region: cn-north-4, type: secret, name: hw-drift, tags: {owner: new}}
  - {account: hw, region: cn-north-4, type: secret, name: hw-denied, tags: {owner: ops}}
"#;

#[test]
fn denied_resources_are_unknown_alone_and_the_accounts_are_not_refused() {
    let emu = Emulator::start(INVENTORY, &[]);
    let desired = emu.desired("desired.yaml", DESIRED);
    let run = check(&desired, &["--format", "json"]);
    // Unknown resources: exit 1 (unknown wins over drift, as for any read failure).
    assert_eq!(run.code, 1, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    // (id, status, the start of the unknown resource's message)
    let expected: &[(&str, &str, Option<&str>)] = &[
        ("key-ok000001", "in_sync", None),
        ("key-drift002", "drifted", None),
        (
            "key-denied03",
            "unknown",
            Some(
                "the credentials may not read this key's tags: ListTagResources: HTTP 403 Forbidden.NoPermission",
            ),
        ),
        ("sec-ok", "in_sync", None),
        ("sec-drift", "drifted", None),
        (
            "sec-denied",
            "unknown",
            Some(
                "the credentials may not read this secret's tags: ListTagResources: HTTP 403 Forbidden.NoPermission",
            ),
        ),
        ("0d0466b0-e727-4d9c-b35d-f84bb474a37f", "in_sync", None),
        ("1d0466b0-e727-4d9c-b35d-f84bb474a37f", "drifted", None),
        (
            "2d0466b0-e727-4d9c-b35d-f84bb474a37f",
            "unknown",
            Some("the credentials may not read this key's tags: ShowKmsTags: HTTP 403 KMS.0306"),
        ),
        ("hw-ok", "in_sync", None),
        ("hw-drift", "drifted", None),
        (
            "hw-denied",
            "unknown",
            Some("the credentials may not read this secret's tags: ListSecretTags: HTTP 403 CSMS.0403"),
        ),
    ];
    for (id, status, message) in expected {
        let r = entry(&report, id);
        // Entries of `in_sync` are short and carry no status.
        let got = r["status"].as_str().unwrap_or("in_sync");
        assert_eq!(got, *status, "{id}: {r:#}");
        match message {
            Some(start) => {
                assert_eq!(r["error"]["code"], "permission_denied", "{id}: {r:#}");
                let text = r["error"]["message"].as_str().unwrap_or_default();
                assert!(text.starts_with(start), "{id}: {text}");
            }
            None => assert!(r["error"].is_null(), "{id}: {r:#}"),
        }
    }
    assert_eq!(report["summary"]["total"], expected.len(), "{report:#}");
    assert_eq!(report["summary"]["unknown"], 4, "{report:#}");
    assert_eq!(report["unknown_scopes"], serde_json::json!([]), "{report:#}");
    // Neither account's credentials were refused, so nothing says so.
    assert!(
        !run.stderr.contains("refused its credentials"),
        "stderr:\n{}",
        run.stderr
    );

    let stats = emu.stats();
    // Alibaba keys: the batch of three is refused, then split into [key-denied03] (refused again) and the two
    // others (read). Secrets: `ListSecrets` with tags is refused (a denied secret is in the region), so the
    // declared secrets are batched, and refused and split the same way: 2 + 2 refused tag listings.
    assert_eq!(
        emu.count(&stats, "alibaba", "ListTagResources", "Forbidden.NoPermission"),
        4,
        "{stats:#}"
    );
    assert_eq!(
        emu.count(&stats, "alibaba", "ListSecrets", "Forbidden.NoPermission"),
        1,
        "{stats:#}"
    );
    // Huawei reads tags one resource at a time: one refusal each.
    assert_eq!(
        emu.count(&stats, "huawei", "ShowKmsTags", "KMS.0306"),
        1,
        "{stats:#}"
    );
    assert_eq!(
        emu.count(&stats, "huawei", "ListSecretTags", "CSMS.0403"),
        1,
        "{stats:#}"
    );
}
