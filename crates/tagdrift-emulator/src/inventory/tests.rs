use super::*;
use crate::store::Store;

const SAMPLE: &str = include_str!("../../../../config/emulator-inventory.yaml");

#[test]
fn sample_inventory_loads_into_a_store() {
    let inv = Inventory::parse(SAMPLE, "sample").unwrap();
    let store = Store::from_inventory(inv.clone()).unwrap();
    assert_eq!(store.resource_count(), inv.resource_count());
    assert_eq!(store.resource_count(), 8);
    let ali = &store.alibaba[0];
    assert_eq!(ali.name, "ali-demo");
    assert_eq!(ali.account_id, "1234567890123456");
    let hz = &ali.regions["cn-hangzhou"];
    let key = hz.keys.get("key-hzz62f1cb66fa42qo1111").unwrap();
    assert_eq!(key.alias.as_deref(), Some("alias/app-key"));
    assert_eq!(key.tags.get("disk-encryption"), Some("true"));
    assert_eq!(hz.keys.index_by_alias("alias/app-key"), Some(0));
    // Keys are sorted by id.
    let ids: Vec<&str> = hz.keys.rows().iter().map(|r| &*r.id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);

    let hw = &store.huawei[0];
    let secret = hw.projects[0].tables.secrets.get("db-password").unwrap();
    let native = secret.native_id.as_deref().unwrap();
    assert_eq!(
        native,
        derived_uuid(&["0123456789abcdef0123456789abcdef", "db-password"])
    );
    assert_eq!(native.len(), 36);
    assert_eq!(hw.projects[0].tables.secrets.index_by_native_id(native), Some(0));

    let owner = store.access_key(Cloud::Alibaba, "STS.demo0123456789").unwrap();
    assert_eq!(owner.account, 0);
    assert_eq!(owner.security_token.unwrap().expose(), "CAIS.demo-sts-token");
    assert!(store.access_key(Cloud::Alibaba, "testak").is_none());
    assert_eq!(
        store.access_key(Cloud::Huawei, "testak").unwrap().secret.expose(),
        "testsk"
    );
}

use tagdrift_core::vocab::Cloud;

#[test]
fn invalid_inventories_name_the_field() {
    let cases: &[(&str, &str)] = &[
        (
            "alibaba: [{access_key_id: a, access_key_secret: s, regions: {r: {keys: [{id: k}, {id: k}]}}}]",
            "alibaba[0].regions.r.keys: duplicate id 'k'",
        ),
        (
            "alibaba: [{access_key_id: a, access_key_secret: s, regions: {r: {keys: [{id: k, default: true}]}}}]",
            "alibaba[0].regions.r.keys[0].default: default master keys are Huawei keys only",
        ),
        (
            "alibaba: [{access_key_id: a, access_key_secret: s, regions: {r: {secrets: [{name: s, pending_deletion: true}]}}}]",
            "alibaba[0].regions.r.secrets[0].pending_deletion: pending deletion secrets are Huawei secrets only",
        ),
        (
            "alibaba: [{access_key_id: a, access_key_secret: s, regions: {r: {keys: [{id: k, key_spec: SM4}]}}}]",
            "alibaba[0].regions.r.keys[0].key_spec: key_spec is only used for Huawei keys",
        ),
        (
            "huawei: [{ak: a, sk: s, projects: [{region: r, project_id: 0123456789abcdef0123456789abcdef, keys: [{id: k, key_spec: AES_512}]}]}]",
            "huawei[0].projects[0].keys[0].key_spec: unknown key spec 'AES_512'",
        ),
        (
            "huawei: [{ak: a, sk: s, idps: [{id: x}]}, {ak: b, sk: s, idps: [{id: x}]}]",
            "huawei[1].idps[0].id: identity provider 'x' appears more than once",
        ),
        (
            "huawei: [{ak: a, sk: s, ecs_agency: x}, {ak: b, sk: s, ecs_agency: y}]",
            "huawei[1].ecs_agency: only one account can have an ecs_agency (account 'huawei-0' already has one)",
        ),
        (
            "alibaba: [{access_key_id: a, access_key_secret: s}, {access_key_id: a, access_key_secret: t}]",
            "access key id 'a' appears more than once",
        ),
        (
            "alibaba: [{access_key_id: a, access_key_secret: s, roles: [{arn: x, oidc_provider_arn: y}]}]",
            "alibaba[0].roles[0].arn: 'x' is not a RAM role ARN",
        ),
        (
            "alibaba: [{access_key_id: a, access_key_secret: s, ecs_role: r1}, {access_key_id: b, access_key_secret: s, ecs_role: r2}]",
            "only one account can have an ecs_role",
        ),
        (
            "huawei: [{ak: a, sk: s, projects: [{region: r, project_id: nothex}]}]",
            "huawei[0].projects[0].project_id: 'nothex' is not 32 hex characters",
        ),
        (
            "alibaba: [{access_key_id: a, access_key_secret: ''}]",
            "alibaba[0].access_key_secret: must not be empty",
        ),
        (
            "alibaba: [{access_key_id: a, access_key_secret: s, account_id: abc}]",
            "alibaba[0].account_id: 'abc' is not a numeric account UID",
        ),
    ];
    for (yaml, want) in cases {
        let inv = Inventory::parse(yaml, "t").unwrap();
        let err = Store::from_inventory(inv.clone()).unwrap_err();
        assert_eq!(err.code(), "inventory_invalid");
        assert!(
            err.to_string().contains(want),
            "{yaml}\n got: {err}\nwant: {want}"
        );
    }
}

#[test]
fn parse_errors_carry_the_location() {
    let cases = [
        (
            "alibaba: [{access_key_id: a, access_key_secret: s, colour: red}]",
            "unknown field `colour`",
        ),
        (
            "alibaba:\n  - access_key_id: a\n    access_key_secret: s\n    regions:\n      r:\n        keys: [{id: k, tags: {x: [1]}}]\n",
            "line 6",
        ),
        ("huawei: [{ak: a}]", "missing field `sk`"),
        (
            "alibaba: [{access_key_id: a, access_key_secret: s, regions: {r: {keys: [{id: k, tags: {a: x, a: y}}]}}}]",
            "duplicate",
        ),
        (
            "alibaba: [{access_key_id: a, access_key_secret: s, regions: {r: {keys: [{id: k, deny: [list]}]}}}]",
            "unknown access 'list' (expected read or write)",
        ),
    ];
    for (yaml, want) in cases {
        let err = Inventory::parse(yaml, "inv.yaml").unwrap_err();
        assert_eq!(err.code(), "inventory_parse");
        let text = err.to_string();
        assert!(text.starts_with("inventory 'inv.yaml': "), "{text}");
        assert!(text.contains(want), "{text}");
    }
}

#[test]
fn unquoted_scalars_are_read_as_their_text() {
    let inv = Inventory::parse(
        "alibaba: [{access_key_id: a, access_key_secret: s, regions: {r: {keys: [{id: k, tags: {on: true, n: 0012}}]}}}]",
        "t",
    )
    .unwrap();
    let tags = &inv.alibaba[0].regions["r"].keys[0].tags;
    assert_eq!((tags.get("on"), tags.get("n")), (Some("true"), Some("0012")));
}

#[test]
fn secrets_never_show_in_debug() {
    let inv = Inventory::parse(SAMPLE, "sample").unwrap();
    let dbg = format!("{inv:?}");
    assert!(
        !dbg.contains("testsecret") && !dbg.contains("testsk") && !dbg.contains("CAIS.demo"),
        "{dbg}"
    );
    let store = Store::from_inventory(inv.clone()).unwrap();
    let dbg = format!("{:?}", store.alibaba[0]);
    assert!(!dbg.contains("testsecret"), "{dbg}");
}

/// The `deny` list reads into the store and is written back as written.
#[test]
fn deny_lists_load_and_round_trip() {
    let yaml = "alibaba: [{access_key_id: a, access_key_secret: s, regions: {r: {keys: [{id: k, deny: [read, write]}], secrets: [{name: n, deny: [write]}]}}}]";
    let inv = Inventory::parse(yaml, "t").unwrap();
    assert_eq!(
        inv.alibaba[0].regions["r"].keys[0].deny,
        [Access::Read, Access::Write]
    );
    assert_eq!(Inventory::parse(&inv.to_yaml().unwrap(), "again").unwrap(), inv);
    let store = Store::from_inventory(inv).unwrap();
    let tables = &store.alibaba[0].regions["r"];
    assert_eq!(
        tables.keys.get("k").unwrap().deny,
        crate::store::Deny {
            read: true,
            write: true
        }
    );
    assert_eq!(
        tables.secrets.get("n").unwrap().deny,
        crate::store::Deny {
            read: false,
            write: true
        }
    );
}

#[test]
fn inventory_round_trips_through_yaml() {
    let inv = Inventory::parse(SAMPLE, "sample").unwrap();
    let again = Inventory::parse(&inv.to_yaml().unwrap(), "again").unwrap();
    assert_eq!(inv, again);
}

#[test]
fn generator_is_deterministic_and_drifts_the_requested_share() {
    let opts = GenerateOptions {
        total: 1003,
        tags_per_resource: 5,
        drift_ratio: 0.2,
        seed: 42,
    };
    let a = generate(&opts).unwrap();
    let b = generate(&opts).unwrap();
    assert_eq!(a.inventory.to_yaml().unwrap(), b.inventory.to_yaml().unwrap());
    assert_eq!(a.inventory.resource_count(), 1003);
    assert_eq!(a.desired().resource_count(), 1003);
    assert_eq!(a.drifted, 201);

    let other = generate(&GenerateOptions {
        seed: 43,
        ..opts.clone()
    })
    .unwrap();
    assert_ne!(a.inventory.to_yaml().unwrap(), other.inventory.to_yaml().unwrap());

    // Count resources whose tags differ between the served inventory and the desired one.
    let store = Store::from_inventory(a.inventory.clone()).unwrap();
    let desired = Store::from_inventory(a.desired()).unwrap();
    let mut differing = 0;
    let mut all_have_five = true;
    for (acc, dacc) in store.alibaba.iter().zip(&desired.alibaba) {
        for (r, d) in acc.regions.values().zip(dacc.regions.values()) {
            for (t, dt) in [(&r.keys, &d.keys), (&r.secrets, &d.secrets)] {
                for (x, y) in t.rows().iter().zip(dt.rows()) {
                    assert_eq!(x.id, y.id);
                    differing += usize::from(x.tags != y.tags);
                    all_have_five &= y.tags.len() == 5;
                }
            }
        }
    }
    for (acc, dacc) in store.huawei.iter().zip(&desired.huawei) {
        for (p, dp) in acc.projects.iter().zip(&dacc.projects) {
            for (t, dt) in [
                (&p.tables.keys, &dp.tables.keys),
                (&p.tables.secrets, &dp.tables.secrets),
            ] {
                for (x, y) in t.rows().iter().zip(dt.rows()) {
                    differing += usize::from(x.tags != y.tags);
                    all_have_five &= y.tags.len() == 5;
                }
            }
        }
    }
    assert_eq!(differing, 201);
    assert!(all_have_five);
    // Split evenly over cloud x type: 251 + 251 + 251 + 250.
    let ali_keys: usize = store.alibaba[0].regions.values().map(|r| r.keys.len()).sum();
    let hw_secrets: usize = store.huawei[0]
        .projects
        .iter()
        .map(|p| p.tables.secrets.len())
        .sum();
    assert_eq!((ali_keys, hw_secrets), (251, 250));
    assert!(
        store.alibaba[0].regions["cn-hangzhou"].keys.rows()[0]
            .id
            .starts_with("key-hzz")
    );

    assert!(
        generate(&GenerateOptions {
            drift_ratio: 1.5,
            ..opts
        })
        .is_err()
    );
}

#[test]
fn desired_state_declares_every_resource_with_correct_tags() {
    let g = generate(&GenerateOptions {
        total: 40,
        tags_per_resource: 2,
        drift_ratio: 0.5,
        seed: 9,
    })
    .unwrap();
    let yaml = desired_state_yaml(&g.desired(), "http://127.0.0.1:8787/").unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(doc["version"], serde_yaml::Value::from(1));
    let accounts = doc["accounts"].as_sequence().unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[0]["name"].as_str(), Some("ali-bench"));
    assert_eq!(accounts[0]["cloud"].as_str(), Some("alibaba"));
    assert_eq!(accounts[0]["endpoint"].as_str(), Some("http://127.0.0.1:8787"));
    assert_eq!(accounts[0]["regions"][0].as_str(), Some("cn-hangzhou"));
    assert_eq!(accounts[0]["credentials"]["type"].as_str(), Some("access_key"));
    assert_eq!(
        accounts[0]["credentials"]["access_key_id"]["env"].as_str(),
        Some("TAGDRIFT_EMU_ALI_BENCH_ACCESS_KEY_ID")
    );
    assert_eq!(accounts[1]["cloud"].as_str(), Some("huawei"));
    assert_eq!(accounts[1]["regions"][0]["name"].as_str(), Some("cn-north-4"));
    assert_eq!(
        accounts[1]["regions"][0]["project_id"].as_str().map(str::len),
        Some(32)
    );
    assert_eq!(
        accounts[1]["credentials"]["sk"]["env"].as_str(),
        Some("TAGDRIFT_EMU_HW_BENCH_SK")
    );
    let resources = doc["resources"].as_sequence().unwrap();
    assert_eq!(resources.len(), 40);
    let first_secret = resources
        .iter()
        .find(|r| r["type"].as_str() == Some("secret"))
        .unwrap();
    assert!(first_secret.get("id").is_none() && first_secret["name"].is_string());
    // Declared tags are the desired ones, not the drifted inventory's.
    let desired = g.desired();
    let ali = &desired.alibaba[0].regions["cn-hangzhou"].keys[0];
    let declared = resources
        .iter()
        .find(|r| r["id"].as_str() == Some(ali.id.as_str()))
        .unwrap();
    let tags: TagList = serde_yaml::from_value(declared["tags"].clone()).unwrap();
    assert_eq!(tags, ali.tags);

    let envs = credential_env_vars(&desired);
    assert_eq!(
        envs[1].vars,
        [
            ("TAGDRIFT_EMU_HW_BENCH_AK".to_owned(), "testak".to_owned()),
            ("TAGDRIFT_EMU_HW_BENCH_SK".to_owned(), "testsk".to_owned())
        ]
    );
}

#[test]
fn derived_values_are_stable_and_shaped() {
    assert_eq!(derived_uuid(&["a", "b"]), derived_uuid(&["a", "b"]));
    assert_ne!(derived_uuid(&["a", "b"]), derived_uuid(&["ab"]));
    let d = derived_digits(&["x"], 16);
    assert_eq!(d.len(), 16);
    assert!(d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0'));
    assert_eq!(derived_hex(&["x"], 32).len(), 32);
}

/// The desired-state files the emulator writes are accepted by tagdrift's own loader, for generated and
/// hand-written inventories alike.
#[test]
fn written_desired_state_loads_with_the_config_loader() {
    let g = generate(&GenerateOptions {
        total: 400,
        tags_per_resource: 10,
        drift_ratio: 0.3,
        seed: 5,
    })
    .unwrap();
    let sample = Inventory::parse(SAMPLE, "sample").unwrap();
    for (inventory, resources) in [(g.desired(), 400), (sample, 8)] {
        let yaml = desired_state_yaml(&inventory, "http://127.0.0.1:8787").unwrap();
        let state =
            tagdrift_core::config::parse(&yaml, "desired.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        assert_eq!(state.resources.len(), resources);
        assert!(
            state
                .accounts
                .iter()
                .all(|a| a.endpoint.as_deref() == Some("http://127.0.0.1:8787"))
        );
        let declared = &state.resources[0];
        let account = &inventory.alibaba[0];
        let (region, spec) = account.regions.iter().next().unwrap();
        assert_eq!(
            (declared.region.as_str(), declared.id.as_str()),
            (region.as_str(), spec.keys[0].id.as_str())
        );
        assert_eq!(declared.tags, spec.keys[0].tags.to_tags());
    }
}
