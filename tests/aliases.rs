//! Keys named by alias, through the real binary against the emulator, on both clouds: an alias resolves to its
//! key (reported under the alias with the KeyId beside it), an alias no key has is `missing`, a rule's name glob
//! matches keys by alias, and the alias listing costs the calls docs/reading.md counts. (A failed listing is
//! the scanners' unit tests' business: the emulator's faults are not per API.)

use serde_json::Value;

use crate::util::cli::{Emulator, check, entry};

const ALI: &str = r#"
alibaba:
  - name: ali
    access_key_id: testid
    access_key_secret: testsecret
    regions:
      cn-hangzhou:
        keys:
          - {id: key-sync0001, alias: payments-db, tags: {owner: payments}}
          - {id: key-other002, alias: web-tls, tags: {env: prod}}
          - {id: key-bare0003}
"#;

const HW: &str = r#"
huawei:
  - name: hw
    ak: testak
    sk: testsk
    projects:
      - region: cn-north-4
        project_id: 0123456789abcdef0123456789abcdef
        keys:
          - {id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, alias: payments-db, tags: {owner: payments}}
          - {id: 1d0466b0-e727-4d9c-b35d-f84bb474a37f, alias: web-tls, tags: {env: prod}}
"#;

fn account(cloud: &str) -> String {
    let (region, credentials) = match cloud {
        "alibaba" => (
            "[cn-hangzhou]".to_owned(),
            "      type: access_key\n      access_key_id: {env: T_ALI_ID}\n      access_key_secret: {env: T_ALI_SECRET}\n",
        ),
        _ => (
            "[{name: cn-north-4, project_id: 0123456789abcdef0123456789abcdef}]".to_owned(),
            "      type: access_key\n      ak: {env: T_HW_AK}\n      sk: {env: T_HW_SK}\n",
        ),
    };
    let name = if cloud == "alibaba" { "ali" } else { "hw" };
    format!(
        "version: 1\naccounts:\n  - name: {name}\n    cloud: {cloud}\n    regions: {region}\n    endpoint: \"{{endpoint}}\"\n    \
         credentials:\n{credentials}"
    )
}

/// (cloud, inventory, account name, region, the alias prefix, the first key's id, the alias listing API).
const CLOUDS: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
    (
        "alibaba",
        ALI,
        "ali",
        "cn-hangzhou",
        "alias/",
        "key-sync0001",
        "ListAliases",
    ),
    (
        "huawei",
        HW,
        "hw",
        "cn-north-4",
        "",
        "0d0466b0-e727-4d9c-b35d-f84bb474a37f",
        "ListKeys",
    ),
];

#[test]
fn keys_declared_by_alias_resolve_or_are_missing_and_globs_see_aliases() {
    for (cloud, inventory, account_name, region, prefix, key_id, listing) in CLOUDS {
        let emu = Emulator::start(inventory, &[]);
        let resources = format!(
            "resources:\n  - {{account: {account_name}, region: {region}, type: key, alias: {prefix}payments-db, \
             tags: {{owner: billing}}}}\n  - {{account: {account_name}, region: {region}, type: key, alias: \
             {prefix}no-such-key, tags: {{owner: x}}}}\n"
        );
        let desired = emu.desired("desired.yaml", &(account(cloud) + &resources));
        let run = check(&desired, &["--format", "json"]);
        // One declared key is missing: drift, exit 2.
        assert_eq!(
            run.code, 2,
            "{cloud}: stdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        );
        let report = run.json();
        let found = entry(&report, &format!("{prefix}payments-db"));
        assert_eq!(found["native_id"], *key_id, "{cloud}: {found:#}");
        assert_eq!(found["alias"], format!("{prefix}payments-db"), "{cloud}");
        let missing = entry(&report, &format!("{prefix}no-such-key"));
        assert_eq!(missing["status"], "missing", "{cloud}: {missing:#}");
        let stats = emu.stats();
        assert_eq!(emu.total(&stats, cloud, listing), 1, "{cloud}: {stats:#}");

        // The text report shows both the alias and the KeyId of the drifted key.
        let text = check(&desired, &["--no-color"]);
        let heading =
            format!("{cloud} key \"{prefix}payments-db\" (id \"{key_id}\") in {account_name}/{region}");
        assert!(text.stdout.contains(&heading), "{cloud}: {}", text.stdout);

        // A rule whose name glob matches only by alias applies to the key declared by id.
        let by_id = format!(
            "resources:\n  - {{account: {account_name}, region: {region}, type: key, id: {key_id}, tags: {{owner: \
             payments}}}}\nrules:\n  - {{name: payments-keys, match: {{name: '{prefix}payments-*'}}, required: \
             [cost-center]}}\n"
        );
        let desired = emu.desired("by-id.yaml", &(account(cloud) + &by_id));
        let run = check(&desired, &["--format", "json"]);
        assert_eq!(
            run.code, 2,
            "{cloud}: stdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        );
        let key = entry(&run.json(), key_id).clone();
        assert_eq!(key["alias"], format!("{prefix}payments-db"), "{cloud}: {key:#}");
        let violations: Vec<&Value> = key["violations"]
            .as_array()
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        assert!(
            violations.iter().any(|v| v["rule"] == "payments-keys"),
            "{cloud}: the glob did not match the alias: {key:#}"
        );
    }
}
