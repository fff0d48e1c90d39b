use chrono::TimeZone;

use super::*;
use crate::config::from_parts;
use crate::vocab::{ErrorCode, Observed, ReadError, ScopeFailure};

const ACCOUNTS: &str = "version: 1\n# The accounts.\naccounts:\n  - name: ali\n    cloud: alibaba\n    regions: [cn-hangzhou]\n    \
credentials: {type: access_key, access_key_id: {env: A}, access_key_secret: {file: /s}}\n\n# Rules.\nrules:\n  - {name: \
owner, required: [owner]}\nignores:\n  entries:\n    - {match: {name: 'tmp-*'}, reason: scratch}\n    - {keys: [build-*], \
reason: ci}\nresources:\n  - {account: ali, region: cn-hangzhou, type: secret, name: old, tags: {a: b}}\n";
const MORE: &str = "version: 1\naccounts:\n- name: ali2\n  cloud: alibaba\n  regions: [cn-shanghai]\nrules:\n- name: env\n  \
required: [env]\n";

fn r(account: &str, region: &str, t: ResourceType, id: &str) -> ResourceRef {
    ResourceRef {
        cloud: Cloud::Alibaba,
        account: account.into(),
        region: region.into(),
        resource_type: t,
        id: id.into(),
    }
}

fn found(res: ResourceRef, alias: Option<&str>, tags: &[(&str, &str)]) -> Observed {
    Observed {
        resource: res,
        native_id: None,
        alias: alias.map(str::to_owned),
        outcome: Outcome::Found(tags.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()),
    }
}

fn observations() -> Observations {
    let mut resources = vec![
        found(
            r("ali", "cn-hangzhou", ResourceType::Secret, "b-db"),
            None,
            &[("owner", "pay"), ("env", "prod"), ("acs:x", "1")],
        ),
        found(
            r("ali", "cn-hangzhou", ResourceType::Secret, "a-api"),
            None,
            &[("owner", "web"), ("env", "prod"), ("build-id", "7")],
        ),
        found(
            r("ali", "cn-hangzhou", ResourceType::Key, "key-1"),
            Some("alias/pay"),
            &[("owner", "pay")],
        ),
        found(
            r("ali", "cn-hangzhou", ResourceType::Secret, "tmp-1"),
            None,
            &[("x", "y")],
        ),
        found(
            r("ali2", "cn-shanghai", ResourceType::Key, "key-2"),
            None,
            &[("yes", "on:x@y")],
        ),
    ];
    resources.push(Observed {
        resource: r("ali", "cn-hangzhou", ResourceType::Key, "key-3"),
        native_id: None,
        alias: None,
        outcome: Outcome::Failed(ReadError::new(ErrorCode::PermissionDenied, "denied")),
    });
    Observations {
        resources,
        scope_failures: vec![ScopeFailure {
            cloud: Cloud::Alibaba,
            account: "ali2".into(),
            region: "cn-shanghai".into(),
            resource_type: ResourceType::Secret,
            error: ReadError::new(ErrorCode::Throttled, "slow down"),
        }],
        left_out: Vec::new(),
        read_plans: Vec::new(),
    }
}

fn run(factor_defaults: bool) -> Imported {
    run_parts(factor_defaults, &[("a.yaml", ACCOUNTS), ("b.yaml", MORE)])
}

/// The single-file case drops the observations of the second file's account (they would name an unknown one).
fn run_parts(factor_defaults: bool, files: &[(&str, &str)]) -> Imported {
    let parts: Vec<(String, String)> = files
        .iter()
        .map(|(f, t)| ((*f).to_owned(), (*t).to_owned()))
        .collect();
    let bytes: Vec<(String, Vec<u8>)> = parts
        .iter()
        .map(|(f, t)| (f.clone(), t.as_bytes().to_vec()))
        .collect();
    let state = from_parts(bytes).expect("valid input");
    let options = Options {
        selectors: &[],
        factor_defaults,
        generated_at: Utc.with_ymd_and_hms(2026, 12, 5, 8, 0, 0).unwrap(),
        source: "desired.d",
    };
    let mut observed = observations();
    let accounts: Vec<&str> = state.accounts.iter().map(|a| a.name.as_str()).collect();
    observed
        .resources
        .retain(|o| accounts.contains(&o.resource.account.as_str()));
    render(&parts, &state, &observed, &options).expect("rendered")
}

#[test]
fn the_output_declares_what_was_read_keeps_the_policy_and_lists_what_was_not() {
    let out = run(false);
    let state = crate::config::parse(&out.text, "out.yaml").expect("valid output");
    // Sorted by account, region, type and id; the ignored resource (tmp-1) and the failed one left out.
    let ids: Vec<&str> = state.resources.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["alias/pay", "a-api", "b-db", "key-2"]);
    assert_eq!((out.keys, out.secrets, out.left_out), (2, 2, 1));
    let tags = |id: &str| {
        let r = state.resources.iter().find(|r| r.id == id).unwrap();
        r.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>()
    };
    // System tags and ignored keys left out; odd strings quoted so they stay strings.
    assert_eq!(tags("b-db"), ["env=prod", "owner=pay"]);
    assert_eq!(tags("a-api"), ["env=prod", "owner=web"]);
    assert_eq!(tags("key-2"), ["yes=on:x@y"]);
    assert!(state.resources[0].by_alias);
    assert!(
        out.text.contains("    alias: \"alias/pay\"  # id key-1\n"),
        "{}",
        out.text
    );
    // The policy is kept from both files, comments included; the input's resources are not.
    assert_eq!(state.accounts.len(), 2);
    assert_eq!(state.rules.len(), 2);
    assert_eq!(state.ignores.entries.len(), 2);
    // One file's section is copied as written, with the comment above it.
    let single = run_parts(false, &[("a.yaml", ACCOUNTS)]);
    assert!(
        single
            .text
            .contains("\n# The accounts.\naccounts:\n  - name: ali\n"),
        "{}",
        single.text
    );
    assert!(single.text.contains("\n# Rules.\nrules:\n"), "{}", single.text);
    assert!(
        out.text
            .contains("  # from b.yaml\n  - name: ali2\n    cloud: alibaba\n"),
        "{}",
        out.text
    );
    assert!(!out.text.contains("old"), "{}", out.text);
    // What could not be read is listed.
    assert_eq!(out.unreadable.len(), 2, "{:?}", out.unreadable);
    assert!(
        out.text.contains("# NOT DECLARED: 2 could not be read"),
        "{}",
        out.text
    );
    assert!(out.text.contains("key-3"), "{}", out.text);
    // Stable: the same input gives the same text.
    assert_eq!(run(false).text, out.text);
}

#[test]
fn factored_defaults_give_the_same_effective_tags() {
    let out = run(true);
    let state = crate::config::parse(&out.text, "out.yaml").expect("valid output");
    assert_eq!(state.defaults.len(), 1, "{}", out.text);
    assert_eq!(
        state.defaults[0].tags,
        [("env".to_owned(), "prod".to_owned())]
            .into_iter()
            .collect::<Tags>()
    );
    let secret = state.resources.iter().find(|r| r.id == "b-db").unwrap();
    assert_eq!(
        secret.tags,
        [("owner".to_owned(), "pay".to_owned())]
            .into_iter()
            .collect::<Tags>()
    );
}
