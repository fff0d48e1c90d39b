//! Keys named by alias: one `ListAliases` listing per region (pages of 100), aliases resolved to KeyIds and
//! reported under the alias with the KeyId as native id, unknown aliases `NotFound`, every key carrying its
//! alias for name globs, and a failed listing leaving the whole key scope unknown.

use super::*;

/// 150 keys `key-NNNNN`, 120 of them with an alias `alias/app-NNNNN`.
fn kms() -> FakeKms {
    let mut kms = FakeKms::with((0..150).map(|i| (format!("key-{i:05}"), 1)));
    kms.aliases = (0..120)
        .map(|i| (format!("alias/app-{i:05}"), format!("key-{i:05}")))
        .collect();
    kms
}

fn aliased(declared: &[&str], aliases: &[&str], needs_aliases: bool, discover: bool) -> Scope {
    let mut all: Vec<&str> = declared.to_vec();
    all.extend(aliases);
    let mut s = scope(ResourceType::Key, &all, discover);
    s.aliases = aliases.iter().map(|a| (*a).to_owned()).collect();
    s.needs_aliases = needs_aliases;
    s
}

#[test]
fn aliases_resolve_with_one_listing_and_unknown_ones_are_not_found() {
    let kms = kms();
    let s = aliased(&["key-00140"], &["alias/app-00007", "alias/nope"], false, false);
    let obs = run(&kms, &s);
    let by_alias = obs
        .resources
        .iter()
        .find(|o| o.resource.id == "alias/app-00007")
        .expect("reported under its alias");
    assert_eq!(by_alias.native_id.as_deref(), Some("key-00007"));
    assert_eq!(by_alias.alias.as_deref(), Some("alias/app-00007"));
    assert!(matches!(by_alias.outcome, Outcome::Found(_)), "{by_alias:?}");
    assert_eq!(outcome(&obs, "alias/nope"), &Outcome::NotFound);
    // A key declared by id has no alias (key-00140 has none) and is read as before.
    assert!(matches!(outcome(&obs, "key-00140"), Outcome::Found(_)));
    assert_eq!(obs.resources.len(), 3);
    // 120 aliases: two pages of 100.
    assert_eq!(kms.calls()["ListAliases"], 2, "{:?}", kms.calls());
}

#[test]
fn keys_carry_their_alias_for_name_globs_and_nothing_is_listed_when_nothing_needs_it() {
    let kms = kms();
    let obs = run(&kms, &aliased(&["key-00003", "key-00130"], &[], true, false));
    let alias = |id: &str| {
        obs.resources
            .iter()
            .find(|o| o.resource.id == id)
            .and_then(|o| o.alias.clone())
    };
    assert_eq!(alias("key-00003").as_deref(), Some("alias/app-00003"));
    assert_eq!(alias("key-00130"), None);
    // Discovery reports every key with its alias too.
    let obs = run(&kms, &aliased(&[], &[], true, true));
    assert_eq!(obs.resources.len(), 150);
    assert_eq!(obs.resources.iter().filter(|o| o.alias.is_some()).count(), 120);

    let plain = FakeKms::with([("key-00001".to_owned(), 1)]);
    run(&plain, &scope(ResourceType::Key, &["key-00001"], false));
    assert_eq!(plain.calls().get("ListAliases"), None);
}

#[test]
fn a_failed_alias_listing_leaves_every_key_of_the_scope_unknown() {
    for discover in [false, true] {
        let mut kms = kms();
        kms.failing.insert(
            "ListAliases",
            ApiError::from(ReadError::new(ErrorCode::Http5xx, "ListAliases: HTTP 503")),
        );
        let obs = run(
            &kms,
            &aliased(&["key-00001"], &["alias/app-00002"], true, discover),
        );
        for id in ["key-00001", "alias/app-00002"] {
            assert!(matches!(outcome(&obs, id), Outcome::Failed(_)), "{id}: {obs:?}");
        }
        assert_eq!(obs.scope_failures.len(), usize::from(discover));
        assert_eq!(
            kms.calls().get("ListTagResources"),
            None,
            "nothing read after the failure"
        );
    }
}
