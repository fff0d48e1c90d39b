//! The plan chooser for declared keys: the region-wide listing when the file declares most of the region's
//! keys and that saves at least a third of the id batches' calls, the batches otherwise.

use super::*;

/// A scope declaring `declared` of the fake's keys, each expected to carry `tags` tags.
fn declaring(declared: &[String], tags: usize) -> Scope {
    let ids: Vec<&str> = declared.iter().map(String::as_str).collect();
    let mut s = scope(ResourceType::Key, &ids, false);
    s.expected_tags = declared.iter().map(|id| (id.clone(), tags)).collect();
    s
}

fn all_found(obs: &crate::Observations, declared: &[String], tags: usize) {
    assert_eq!(obs.resources.len(), declared.len());
    for id in declared {
        match outcome(obs, id) {
            Outcome::Found(t) => assert_eq!(t.len(), tags, "{id}"),
            other => panic!("{id}: {other:?}"),
        }
    }
}

#[test]
fn the_cheaper_plan_is_chosen_per_scope() {
    // (keys in the region, declared, tags per key, ListKeys calls, ListTagResources calls)
    let cases = [
        // 300 declared keys of 1 tag: 6 batches of 50, or the count and 2 pages of 200 rows.
        (300, 300, 1, 2, 2),
        // The same 300 declared in a region of 3,000: the region holds ~3,000 rows (16 calls): batches.
        (3000, 300, 1, 2, 6),
        // 3 tags a key: 6 batches against 1 + 5 pages saves less than a third: the batches run side by side.
        (300, 300, 3, 1, 6),
        // 4 tags a key: 49 keys a batch (3 calls for 100) against at least 1 + 2: not even counted.
        (100, 100, 4, 1, 3),
        // A single batch never pays for the count.
        (40, 40, 1, 1, 1),
    ];
    for (region, n, tags, list_keys, tag_calls) in cases {
        let all = ids(region);
        let kms = FakeKms::with(all.iter().map(|id| (id.clone(), tags)));
        let declared = &all[..n];
        let obs = run(&kms, &declaring(declared, tags));
        all_found(&obs, declared, tags);
        assert_eq!(
            kms.calls(),
            BTreeMap::from([("ListKeys", list_keys), ("ListTagResources", tag_calls)]),
            "{region} keys, {n} declared, {tags} tags"
        );
    }
}

#[test]
fn region_wide_declared_keys_confirm_the_untagged_and_find_the_missing() {
    let mut all = ids(300);
    let kms = FakeKms::with(
        all.iter()
            .map(|id| (id.clone(), 1))
            .chain([("key-bare".to_owned(), 0)]),
    );
    all.push("key-bare".to_owned());
    all.push("key-gone".to_owned());
    let obs = run(&kms, &declaring(&all, 1));
    assert_eq!(outcome(&obs, "key-bare"), &Outcome::Found(Tags::new()));
    assert_eq!(outcome(&obs, "key-gone"), &Outcome::NotFound);
    assert!(matches!(outcome(&obs, "key-0007"), Outcome::Found(t) if t.len() == 1));
    // The pending listing and the count, 2 region-wide pages, one DescribeKey per key without rows.
    assert_eq!(
        kms.calls(),
        BTreeMap::from([("DescribeKey", 2), ("ListKeys", 2), ("ListTagResources", 2)])
    );
}

#[test]
fn a_refused_region_wide_listing_falls_back_to_the_batches_and_is_remembered() {
    let all = ids(300);
    let mut kms = FakeKms::with(all.iter().map(|id| (id.clone(), 1)));
    kms.refuse_region_wide = true;
    let learned = Learned::default();
    let obs = run_learned(&kms, &declaring(&all, 1), &learned);
    all_found(&obs, &all, 1);
    assert_eq!(*kms.region_wide.lock().unwrap(), 1);
    assert_eq!(kms.calls()["ListTagResources"], 1 + 6);
    // The next check goes straight to the batches, without the count.
    kms.calls.lock().unwrap().clear();
    let obs = run_learned(&kms, &declaring(&all, 1), &learned);
    all_found(&obs, &all, 1);
    assert_eq!(
        kms.calls(),
        BTreeMap::from([("ListKeys", 1), ("ListTagResources", 6)])
    );
}
