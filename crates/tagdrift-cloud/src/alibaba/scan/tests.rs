//! The read plans against an in-memory KMS that answers like the documented API (200-row tag pages,
//! `InvalidResourceId.NotFound` for unknown ids, `PageNumber` listings), counting calls per action.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use serde_json::json;

use super::*;
use crate::Cloud;

#[derive(Default)]
struct FakeKms {
    resources: BTreeMap<String, Tags>,
    /// Actions that fail with this error (after being counted).
    failing: BTreeMap<&'static str, ApiError>,
    calls: Mutex<BTreeMap<&'static str, usize>>,
    max_ids: Mutex<usize>,
    /// Answer `ListTagResources` without `ResourceId` with 400 `MissingParameter`, as the real service may.
    refuse_region_wide: bool,
    /// `ListTagResources` calls without `ResourceId` (refused or not).
    region_wide: Mutex<usize>,
    /// Resources a RAM policy denies: any call naming one (or, strictly, a region-wide call while one
    /// exists) is refused with 403 `Forbidden.NoPermission`, as RAM checks every id's ARN.
    denied: BTreeSet<String>,
    /// Keys pending deletion: listed, with their tags, and `PendingDeletion` in `DescribeKey`.
    pending: BTreeSet<String>,
    /// `ListAliases`: alias → KeyId.
    aliases: BTreeMap<String, String>,
}

fn denied_error() -> ApiError {
    ApiError {
        status: Some(403),
        cloud_code: Some("Forbidden.NoPermission".to_owned()),
        error: ReadError::new(
            ErrorCode::PermissionDenied,
            "ListTagResources: HTTP 403 Forbidden.NoPermission: This operation is forbidden by permission system.",
        ),
    }
}

fn not_found(code: &str) -> ApiError {
    ApiError {
        status: Some(404),
        cloud_code: Some(code.to_owned()),
        error: ReadError::new(ErrorCode::Http4xx, code),
    }
}

impl FakeKms {
    fn with(resources: impl IntoIterator<Item = (String, usize)>) -> Self {
        FakeKms {
            resources: resources
                .into_iter()
                .map(|(id, n)| {
                    let tags = (0..n).map(|i| (format!("k{i}"), format!("v{i}"))).collect();
                    (id, tags)
                })
                .collect(),
            ..FakeKms::default()
        }
    }

    fn calls(&self) -> BTreeMap<&'static str, usize> {
        self.calls.lock().unwrap().clone()
    }

    fn answer(&self, call: &RpcCall) -> Result<serde_json::Value, ApiError> {
        let p = |name: &str| {
            call.params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        match call.action {
            "ListTagResources" => {
                let ids: Vec<String> = call
                    .params
                    .iter()
                    .filter(|(k, _)| k.starts_with("ResourceId."))
                    .map(|(_, v)| v.clone())
                    .collect();
                assert!(ids.len() <= BATCH, "{} ids in one call", ids.len());
                if ids.is_empty() {
                    *self.region_wide.lock().unwrap() += 1;
                    if self.refuse_region_wide {
                        return Err(ApiError {
                            status: Some(400),
                            cloud_code: Some("MissingParameter".to_owned()),
                            error: ReadError::new(ErrorCode::Http4xx, "MissingParameter"),
                        });
                    }
                }
                let refused = if ids.is_empty() {
                    !self.denied.is_empty()
                } else {
                    ids.iter().any(|id| self.denied.contains(id))
                };
                if refused {
                    return Err(denied_error());
                }
                let mut max = self.max_ids.lock().unwrap();
                *max = (*max).max(ids.len());
                if ids.iter().any(|id| !self.resources.contains_key(id)) {
                    return Err(not_found("InvalidResourceId.NotFound"));
                }
                let rows: Vec<serde_json::Value> = self
                    .resources
                    .iter()
                    .filter(|(id, _)| ids.is_empty() || ids.contains(id))
                    .flat_map(|(id, tags)| {
                        tags.iter()
                            .map(move |(k, v)| json!({"ResourceId": id, "ResourceType": "key", "TagKey": k, "TagValue": v}))
                    })
                    .collect();
                let start: usize = p("NextToken").map_or(0, |t| t.parse().unwrap());
                let end = (start + TAG_PAGE_ROWS).min(rows.len());
                let next = if end < rows.len() {
                    end.to_string()
                } else {
                    String::new()
                };
                Ok(
                    json!({"NextToken": next, "RequestId": "r", "TagResources": {"TagResource": rows[start..end]}}),
                )
            }
            "ListKeys" | "ListSecrets" => {
                let number: usize = p("PageNumber").unwrap().parse().unwrap();
                let size: usize = p("PageSize").unwrap().parse().unwrap();
                let filter = p("Filters");
                if let Some(f) = &filter {
                    assert_eq!(call.action, "ListKeys");
                    assert_eq!(f, PENDING_FILTER, "the only filter the reader sends");
                }
                let all: Vec<(&String, &Tags)> = self
                    .resources
                    .iter()
                    .filter(|(id, _)| filter.is_none() || self.pending.contains(*id))
                    .collect();
                let page = all.iter().skip((number - 1) * size).take(size);
                if call.action == "ListKeys" {
                    let keys: Vec<_> = page
                        .map(|(id, _)| json!({"KeyId": id, "KeyArn": "arn"}))
                        .collect();
                    Ok(
                        json!({"PageNumber": number, "PageSize": size, "TotalCount": all.len(), "Keys": {"Key": keys}}),
                    )
                } else {
                    // With tags, strictly refused while a denied secret is in the region (as the emulator).
                    let with_tags = p("FetchTags").as_deref() == Some("true");
                    if with_tags && !self.denied.is_empty() {
                        return Err(denied_error());
                    }
                    let secrets: Vec<_> = page
                        .map(|(id, tags)| {
                            let t: Vec<_> = tags
                                .iter()
                                .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
                                .collect();
                            if with_tags {
                                json!({"SecretName": id, "Tags": {"Tag": t}})
                            } else {
                                json!({"SecretName": id})
                            }
                        })
                        .collect();
                    // Counts as strings: tolerated.
                    Ok(
                        json!({"PageNumber": number.to_string(), "TotalCount": all.len().to_string(), "SecretList": {"Secret": secrets}}),
                    )
                }
            }
            "ListAliases" => {
                let number: usize = p("PageNumber").unwrap().parse().unwrap();
                let size: usize = p("PageSize").unwrap().parse().unwrap();
                assert!(size <= 100, "PageSize {size}");
                let page: Vec<_> = self
                    .aliases
                    .iter()
                    .skip((number - 1) * size)
                    .take(size)
                    .map(|(alias, key)| json!({"AliasName": alias, "KeyId": key, "AliasArn": "arn"}))
                    .collect();
                Ok(
                    json!({"PageNumber": number, "PageSize": size, "TotalCount": self.aliases.len(),
                          "Aliases": {"Alias": page}}),
                )
            }
            "DescribeKey" => match self.resources.get(&p("KeyId").unwrap()) {
                Some(_) => {
                    let id = p("KeyId").unwrap();
                    let state = if self.pending.contains(&id) {
                        "PendingDeletion"
                    } else {
                        "Enabled"
                    };
                    Ok(json!({"KeyMetadata": {"KeyId": id, "KeyState": state}}))
                }
                None => Err(not_found("Forbidden.KeyNotFound")),
            },
            "DescribeSecret" => match self.resources.get(&p("SecretName").unwrap()) {
                Some(_) => Ok(json!({"SecretName": p("SecretName").unwrap()})),
                None => Err(not_found("Forbidden.ResourceNotFound")),
            },
            other => panic!("unexpected action {other}"),
        }
    }
}

impl Kms for FakeKms {
    async fn call(&self, call: RpcCall) -> Result<Vec<u8>, ApiError> {
        *self.calls.lock().unwrap().entry(call.action).or_default() += 1;
        assert_eq!(call.region, "cn-hangzhou");
        if let Some(e) = self.failing.get(call.action) {
            return Err(e.clone());
        }
        self.answer(&call).map(|v| serde_json::to_vec(&v).unwrap())
    }
}

fn scope(rt: ResourceType, declared: &[&str], discover: bool) -> Scope {
    let mut declared: Vec<String> = declared.iter().map(|s| (*s).to_owned()).collect();
    declared.sort();
    Scope {
        cloud: Cloud::Alibaba,
        account: "ali".into(),
        region: "cn-hangzhou".into(),
        project_id: None,
        resource_type: rt,
        declared,
        discover,
        expected_tags: BTreeMap::new(),
        aliases: Default::default(),
        needs_aliases: false,
        by_alias: BTreeMap::new(),
        alias_of: BTreeMap::new(),
    }
}

fn run(kms: &FakeKms, scope: &Scope) -> crate::Observations {
    run_learned(kms, scope, &Learned::default())
}

/// [`run`] with the account's [`Learned`], shared across the checks of a test.
fn run_learned(kms: &FakeKms, scope: &Scope, learned: &Learned) -> crate::Observations {
    let sink = Sink::default();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(scan(kms, scope, &sink, 4, learned));
    sink.finish(
        std::slice::from_ref(scope),
        &ReadError::new(ErrorCode::Timeout, "unread"),
    )
}

fn outcome<'a>(obs: &'a crate::Observations, id: &str) -> &'a Outcome {
    &obs.resources
        .iter()
        .find(|o| o.resource.id == id)
        .unwrap_or_else(|| panic!("{id} not reported"))
        .outcome
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("key-{i:04}")).collect()
}

#[test]
fn declared_keys_are_read_in_batches_of_fifty() {
    let all = ids(120);
    let kms = FakeKms::with(all.iter().map(|id| (id.clone(), 4)));
    let declared: Vec<&str> = all.iter().map(String::as_str).collect();
    let obs = run(&kms, &scope(ResourceType::Key, &declared, false));
    // One pending-deletion listing; 50 + 50 + 20 resources, each batch ≤ 200 rows: one page each.
    assert_eq!(
        kms.calls(),
        BTreeMap::from([("ListKeys", 1), ("ListTagResources", 3)])
    );
    assert_eq!(*kms.max_ids.lock().unwrap(), 50);
    assert_eq!(obs.resources.len(), 120);
    let Outcome::Found(tags) = outcome(&obs, "key-0042") else {
        panic!()
    };
    assert_eq!(tags.len(), 4);
    assert!(obs.scope_failures.is_empty());
}

#[test]
fn batches_over_two_hundred_rows_follow_next_token() {
    let all = ids(50);
    let kms = FakeKms::with(all.iter().map(|id| (id.clone(), 5)));
    let declared: Vec<&str> = all.iter().map(String::as_str).collect();
    let obs = run(&kms, &scope(ResourceType::Key, &declared, false));
    assert_eq!(
        kms.calls(),
        BTreeMap::from([("ListKeys", 1), ("ListTagResources", 2)])
    );
    // The resource split across the page boundary has all its tags.
    assert!(
        obs.resources
            .iter()
            .all(|o| matches!(&o.outcome, Outcome::Found(t) if t.len() == 5))
    );
}

#[test]
fn a_missing_id_is_isolated_and_untagged_keys_are_confirmed() {
    let mut inventory: Vec<(String, usize)> = ids(49).into_iter().map(|id| (id, 2)).collect();
    inventory.push(("key-bare".into(), 0));
    let kms = FakeKms::with(inventory);
    let mut declared: Vec<String> = ids(49);
    declared.push("key-bare".into());
    declared.push("key-0020-gone".into());
    let declared: Vec<&str> = declared.iter().map(String::as_str).collect();
    let obs = run(&kms, &scope(ResourceType::Key, &declared, false));
    assert_eq!(outcome(&obs, "key-0020-gone"), &Outcome::NotFound);
    assert_eq!(outcome(&obs, "key-bare"), &Outcome::Found(Tags::new()));
    assert!(matches!(outcome(&obs, "key-0000"), Outcome::Found(t) if t.len() == 2));
    let calls = kms.calls();
    // Two batches (50 + 1); the failing one is bisected down to the missing id: far fewer calls than one
    // per resource.
    assert!(calls["ListTagResources"] <= 2 + 2 * 6, "{calls:?}");
    assert_eq!(calls["DescribeKey"], 1);
    assert_eq!(obs.resources.len(), 51);
}

#[test]
fn key_discovery_lists_keys_and_every_tag_row() {
    let kms = FakeKms::with(ids(250).into_iter().map(|id| (id, 1)));
    let obs = run(&kms, &scope(ResourceType::Key, &["key-0001", "key-nope"], true));
    // One pending-deletion listing, ceil(250 / 100) ListKeys pages and ceil(250 rows / 200) tag pages.
    assert_eq!(
        kms.calls(),
        BTreeMap::from([("ListKeys", 4), ("ListTagResources", 2)])
    );
    assert_eq!(obs.resources.len(), 251);
    assert_eq!(outcome(&obs, "key-nope"), &Outcome::NotFound);
    assert!(obs.scope_failures.is_empty());
}

#[test]
fn refused_region_wide_listing_falls_back_to_id_batches_and_is_remembered() {
    // Some keys untagged: the fallback must not send them to DescribeKey nor report them missing.
    let inventory = || ids(250).into_iter().enumerate().map(|(i, id)| (id, i % 3));
    let s = scope(ResourceType::Key, &["key-0001", "key-0003", "key-nope"], true);
    let expected = run(&FakeKms::with(inventory()), &s);

    let kms = FakeKms {
        refuse_region_wide: true,
        ..FakeKms::with(inventory())
    };
    let learned = Learned::default();
    let first = run_learned(&kms, &s, &learned);
    assert_eq!(first, expected);
    assert_eq!(outcome(&first, "key-0003"), &Outcome::Found(Tags::new()));
    assert_eq!(outcome(&first, "key-nope"), &Outcome::NotFound);
    assert!(first.scope_failures.is_empty());
    // 1 + 3 ListKeys pages; 1 refused region-wide call and ceil(250 / 50) id batches.
    assert_eq!(
        kms.calls(),
        BTreeMap::from([("ListKeys", 4), ("ListTagResources", 6)])
    );
    assert_eq!(*kms.region_wide.lock().unwrap(), 1);

    // The next check of the account goes straight to the batches.
    let second = run_learned(&kms, &s, &learned);
    assert_eq!(second, expected);
    assert_eq!(*kms.region_wide.lock().unwrap(), 1);
    assert_eq!(
        kms.calls(),
        BTreeMap::from([("ListKeys", 8), ("ListTagResources", 11)])
    );
}

#[test]
fn other_region_wide_failures_still_fail_the_listing() {
    // Only a refusal of the parameters means "not supported"; a throttled or failing call is no such proof.
    let throttled = ApiError {
        status: Some(400),
        cloud_code: Some("Throttling".to_owned()),
        error: ReadError::new(ErrorCode::Throttled, "still throttled after 5 attempts"),
    };
    assert!(!refuses_region_wide(&throttled));
    for code in [
        "MissingParameter",
        "InvalidParameter",
        "InvalidParameter.ResourceId",
    ] {
        let e = ApiError {
            cloud_code: Some(code.to_owned()),
            ..throttled.clone()
        };
        assert!(refuses_region_wide(&e), "{code}");
    }
    let e = ApiError {
        cloud_code: Some("InvalidParameterValue".to_owned()),
        ..throttled.clone()
    };
    assert!(!refuses_region_wide(&e));
    let mut kms = FakeKms::with(ids(10).into_iter().map(|id| (id, 1)));
    kms.failing.insert("ListTagResources", throttled);
    let learned = Learned::default();
    let obs = run_learned(&kms, &scope(ResourceType::Key, &["key-0001"], true), &learned);
    assert_eq!(obs.scope_failures.len(), 1);
    assert!(!learned.region_wide_refused());
}

#[test]
fn secret_discovery_needs_no_tag_calls() {
    let kms = FakeKms::with(ids(150).into_iter().map(|id| (id, 3)));
    let obs = run(&kms, &scope(ResourceType::Secret, &["key-0149", "missing"], true));
    assert_eq!(kms.calls(), BTreeMap::from([("ListSecrets", 2)]));
    assert!(matches!(outcome(&obs, "key-0149"), Outcome::Found(t) if t.len() == 3));
    assert_eq!(outcome(&obs, "missing"), &Outcome::NotFound);
}

#[test]
fn a_failed_listing_fails_the_scope_and_its_declared_resources() {
    let mut kms = FakeKms::with(ids(10).into_iter().map(|id| (id, 1)));
    kms.failing.insert(
        "ListKeys",
        ApiError::from(ReadError::new(
            ErrorCode::Throttled,
            "still throttled after 5 attempts",
        )),
    );
    let obs = run(&kms, &scope(ResourceType::Key, &["key-0001"], true));
    assert_eq!(obs.scope_failures.len(), 1);
    assert_eq!(obs.scope_failures[0].error.code, ErrorCode::Throttled);
    let Outcome::Failed(e) = outcome(&obs, "key-0001") else {
        panic!()
    };
    assert_eq!(e.code, ErrorCode::ListingFailed);
    assert!(e.message.contains("throttled"), "{}", e.message);
    // Only the declared resource: nothing was discovered.
    assert_eq!(obs.resources.len(), 1);
}

#[test]
fn a_failed_batch_fails_only_its_resources() {
    let mut kms = FakeKms::with(ids(60).into_iter().map(|id| (id, 1)));
    kms.failing.insert(
        "ListTagResources",
        ApiError::from(ReadError::new(
            ErrorCode::Http5xx,
            "503 ServiceUnavailableTemporary",
        )),
    );
    let all = ids(60);
    let declared: Vec<&str> = all.iter().map(String::as_str).collect();
    let obs = run(&kms, &scope(ResourceType::Key, &declared, false));
    assert_eq!(obs.resources.len(), 60);
    assert!(
        obs.resources
            .iter()
            .all(|o| matches!(&o.outcome, Outcome::Failed(e) if e.code == ErrorCode::Http5xx))
    );
    // Failures are not bisected: one call per batch (after the pending-deletion listing).
    assert_eq!(
        kms.calls(),
        BTreeMap::from([("ListKeys", 1), ("ListTagResources", 2)])
    );
}

#[test]
fn declared_secrets_use_the_listing_when_the_file_declares_most_of_the_region() {
    let all = ids(250);
    let kms = FakeKms::with(all.iter().map(|id| (id.clone(), 4)));
    let mut declared: Vec<&str> = all.iter().map(String::as_str).collect();
    declared.push("missing");
    let obs = run(&kms, &scope(ResourceType::Secret, &declared, false));
    // ceil(250 / 100) pages of 100 secrets with tags, instead of ceil(251 / 50) = 6 batches.
    assert_eq!(kms.calls(), BTreeMap::from([("ListSecrets", 3)]));
    assert_eq!(obs.resources.len(), 251);
    assert_eq!(outcome(&obs, "missing"), &Outcome::NotFound);
    assert!(matches!(outcome(&obs, "key-0249"), Outcome::Found(t) if t.len() == 4));
}

#[test]
fn declared_secrets_are_batched_when_the_file_declares_few_of_the_region() {
    let all = ids(1000);
    let kms = FakeKms::with(all.iter().map(|id| (id.clone(), 2)));
    let obs = run(
        &kms,
        &scope(ResourceType::Secret, &["key-0001", "key-0500", "key-0999"], false),
    );
    // Page 1 reads key-0001 and tells that 9 more pages would be needed; one batch reads the other two.
    assert_eq!(
        kms.calls(),
        BTreeMap::from([("ListSecrets", 1), ("ListTagResources", 1)])
    );
    assert_eq!(obs.resources.len(), 3);
    assert!(
        obs.resources
            .iter()
            .all(|o| matches!(&o.outcome, Outcome::Found(t) if t.len() == 2))
    );
}

#[test]
fn batches_leave_room_for_a_few_unexpected_tags() {
    let all = ids(120);
    let mut kms = FakeKms::with(all.iter().map(|id| (id.clone(), 4)));
    // Drift: a few resources carry a fifth tag the desired state does not expect.
    for id in ["key-0003", "key-0010", "key-0060"] {
        kms.resources
            .get_mut(id)
            .unwrap()
            .insert("extra".into(), "x".into());
    }
    let mut s = scope(
        ResourceType::Key,
        &all.iter().map(String::as_str).collect::<Vec<_>>(),
        false,
    );
    s.expected_tags = all.iter().map(|id| (id.clone(), 4)).collect();
    let obs = run(&kms, &s);
    // 49 + 49 + 22 resources: each batch's rows stay within one page despite the extra tags.
    assert_eq!(
        kms.calls(),
        BTreeMap::from([("ListKeys", 1), ("ListTagResources", 3)])
    );
    assert_eq!(*kms.max_ids.lock().unwrap(), 49);
    assert!(matches!(outcome(&obs, "key-0010"), Outcome::Found(t) if t.len() == 5));
}

/// Regression: an absurd `TotalCount` (corrupted, or 10^15) made the listing fetch a page per promised 100
/// items, each empty, until the check deadline. A short page now ends it.
#[tokio::test]
async fn regression_an_absurd_total_count_stops_at_the_first_short_page() {
    let calls = Mutex::new(Vec::new());
    let fetch = |n: usize| {
        calls.lock().unwrap().push(n);
        async move {
            let items: Vec<usize> = match n {
                1 => (0..PAGE_SIZE).collect(),
                2 => vec![1, 2, 3],
                _ => Vec::new(),
            };
            // A thousand pages promised; without the fix each would be fetched.
            Ok((items, Some(100_000)))
        }
    };
    let items = all_pages(fetch, 4).await.unwrap();
    assert_eq!(items.len(), PAGE_SIZE + 3);
    let calls = calls.into_inner().unwrap();
    // Page 1, page 2, and at most the pages already in flight behind it.
    assert!(calls.len() <= 2 + 4, "{calls:?}");
}

/// See: issue 12 (point 5). A RAM policy denying one key of a batch of 50 refuses the whole
/// `ListTagResources` call; halving isolates it in one call per level and both halves of each split
/// (1 + 2·⌈log₂ 50⌉ at most), leaves only it unknown with `permission_denied`, and reads the 49 others.
#[test]
fn a_denied_id_in_a_batch_of_fifty_is_isolated_and_the_others_are_read() {
    // (position of the denied id among the 50, ListTagResources calls)
    for (position, expected_calls) in [(0, 11), (17, 13), (49, 13)] {
        let all = ids(50);
        let mut kms = FakeKms::with(all.iter().map(|id| (id.clone(), 2)));
        kms.denied.insert(all[position].clone());
        let declared: Vec<&str> = all.iter().map(String::as_str).collect();
        let obs = run(&kms, &scope(ResourceType::Key, &declared, false));
        assert_eq!(
            kms.calls(),
            // One ListKeys: the keys pending deletion.
            BTreeMap::from([("ListKeys", 1), ("ListTagResources", expected_calls)]),
            "denied id at {position}"
        );
        for o in &obs.resources {
            if o.resource.id == all[position] {
                let Outcome::Failed(e) = &o.outcome else {
                    panic!("{:?}", o.outcome)
                };
                assert_eq!(e.code, ErrorCode::PermissionDenied);
                assert!(
                    e.message.starts_with("the credentials may not read this key's tags: ListTagResources: HTTP 403 Forbidden.NoPermission"),
                    "{}",
                    e.message
                );
            } else {
                assert!(
                    matches!(&o.outcome, Outcome::Found(t) if t.len() == 2),
                    "{}: {:?}",
                    o.resource.id,
                    o.outcome
                );
            }
        }
        assert_eq!(obs.resources.len(), 50);
        assert!(obs.scope_failures.is_empty());
    }
}

/// A denied `DescribeKey` / `DescribeSecret` (the existence check of a resource without tag rows) leaves only
/// that resource unknown.
#[test]
fn a_denied_existence_check_fails_only_its_resource() {
    for (rt, action) in [
        (ResourceType::Key, "DescribeKey"),
        (ResourceType::Secret, "DescribeSecret"),
    ] {
        let mut kms = FakeKms::with([("res-bare".to_owned(), 0), ("res-tagged".to_owned(), 1)]);
        let mut denied = denied_error();
        denied.error.message = format!("{action}: HTTP 403 Forbidden.NoPermission");
        kms.failing.insert(action, denied);
        if rt == ResourceType::Secret {
            // The listing is refused too, so the batched read (and its existence check) is what remains.
            kms.failing.insert("ListSecrets", denied_error());
        }
        let obs = run(&kms, &scope(rt, &["res-bare", "res-tagged"], false));
        let Outcome::Failed(e) = outcome(&obs, "res-bare") else {
            panic!("{rt}")
        };
        assert_eq!(e.code, ErrorCode::PermissionDenied, "{rt}");
        assert!(
            e.message.starts_with(&format!(
                "the credentials may not read this {rt}'s tags: {action}"
            )),
            "{}",
            e.message
        );
        assert!(
            matches!(outcome(&obs, "res-tagged"), Outcome::Found(t) if t.len() == 1),
            "{rt}"
        );
        assert!(obs.scope_failures.is_empty(), "{rt}");
    }
}

/// Key discovery: a region-wide tag listing refused by a policy falls back to id batches for this scope
/// (which isolate the denied key) without remembering it; a refused `ListKeys` fails the scope with
/// `permission_denied`, and declared keys there say which listing they could not use.
#[test]
fn key_discovery_reads_around_a_denied_key_and_a_denied_listing_fails_the_scope() {
    let mut kms = FakeKms::with(ids(60).into_iter().map(|id| (id, 1)));
    kms.denied.insert("key-0007".to_owned());
    let learned = Learned::default();
    let obs = run_learned(&kms, &scope(ResourceType::Key, &["key-0001"], true), &learned);
    assert!(
        !learned.region_wide_refused(),
        "a policy is not the service's rule"
    );
    assert_eq!(
        outcome(&obs, "key-0007").clone(),
        Outcome::Failed(ReadError {
            code: ErrorCode::PermissionDenied,
            message: format!(
                "the credentials may not read this key's tags: {}",
                denied_error().error.message
            ),
        })
    );
    assert!(matches!(outcome(&obs, "key-0001"), Outcome::Found(t) if t.len() == 1));
    assert_eq!(obs.resources.len(), 60);
    assert!(obs.scope_failures.is_empty());

    let mut kms = FakeKms::with(ids(3).into_iter().map(|id| (id, 1)));
    let mut denied = denied_error();
    denied.error.message = "ListKeys: HTTP 403 Forbidden.NoPermission".into();
    kms.failing.insert("ListKeys", denied);
    let obs = run(&kms, &scope(ResourceType::Key, &["key-0001"], true));
    assert_eq!(obs.scope_failures.len(), 1);
    assert_eq!(obs.scope_failures[0].error.code, ErrorCode::PermissionDenied);
    let Outcome::Failed(e) = outcome(&obs, "key-0001") else {
        panic!()
    };
    assert_eq!(e.code, ErrorCode::PermissionDenied);
    assert_eq!(
        e.message,
        "the credentials may not list keys in cn-hangzhou, so whether this one exists is unknown: ListKeys: \
         HTTP 403 Forbidden.NoPermission"
    );
}

/// Secret discovery: a policy refusing `ListSecrets` with tags (a denied secret in the region) lists the names
/// without tags and reads the tags by id batches, which isolate the denied secret; the rest is found, and
/// the scope is complete (its listing worked).
#[test]
fn secret_discovery_reads_around_a_denied_secret() {
    let mut kms = FakeKms::with(ids(120).into_iter().map(|id| (id, 1)));
    kms.denied.insert("key-0100".to_owned());
    let obs = run(&kms, &scope(ResourceType::Secret, &["key-0001", "gone"], true));
    let Outcome::Failed(e) = outcome(&obs, "key-0100") else {
        panic!()
    };
    assert_eq!(e.code, ErrorCode::PermissionDenied);
    assert!(
        e.message
            .starts_with("the credentials may not read this secret's tags"),
        "{}",
        e.message
    );
    assert!(matches!(outcome(&obs, "key-0001"), Outcome::Found(t) if t.len() == 1));
    assert_eq!(outcome(&obs, "gone"), &Outcome::NotFound);
    assert_eq!(obs.resources.len(), 121);
    assert!(obs.scope_failures.is_empty());
    let calls = kms.calls();
    // Page 1 with tags (refused), 2 pages of names, then 3 batches (50 + 50 + 20), the one holding the
    // denied secret bisected (at most 1 + 2·6 calls instead of 1).
    assert_eq!(calls["ListSecrets"], 3, "{calls:?}");
    assert!((3..=3 + 2 * 6).contains(&calls["ListTagResources"]), "{calls:?}");
}

// See: issue 12, point 9. A key pending deletion counts as gone (Terraform's provider treats it so): declared,
// it is `Untaggable` without a tag read; undeclared, discovery leaves it out and counts it; its stored tags are
// never reported. One filtered `ListKeys` per key scope finds them.
#[test]
fn keys_pending_deletion_are_untaggable_when_declared_and_left_out_of_discovery() {
    for (discover, refuse_region_wide) in [(false, false), (true, false), (true, true)] {
        let mut kms = FakeKms::with(ids(6).into_iter().map(|id| (id, 2)));
        kms.refuse_region_wide = refuse_region_wide;
        kms.pending = ["key-0000", "key-0001", "key-0002"].map(str::to_owned).into();
        let obs = run(
            &kms,
            &scope(ResourceType::Key, &["key-0000", "key-0003"], discover),
        );
        let what = format!("discover={discover} refused={refuse_region_wide}");
        assert!(
            matches!(
                outcome(&obs, "key-0000"),
                Outcome::Untaggable {
                    reason: Untaggable::PendingDeletion,
                    ..
                }
            ),
            "{what}"
        );
        assert!(
            matches!(outcome(&obs, "key-0003"), Outcome::Found(t) if t.len() == 2),
            "{what}"
        );
        let left: Vec<_> = obs.left_out.iter().map(|l| (l.reason, l.count)).collect();
        if discover {
            assert_eq!(left, [(Untaggable::PendingDeletion, 2)], "{what}");
            let reported: Vec<&str> = obs.resources.iter().map(|o| o.resource.id.as_str()).collect();
            assert_eq!(
                reported,
                ["key-0000", "key-0003", "key-0004", "key-0005"],
                "{what}"
            );
        } else {
            assert!(left.is_empty());
            assert_eq!(obs.resources.len(), 2);
        }
        let calls = kms.calls();
        // The filtered listing (one page), plus the discovery listing when discovering.
        assert_eq!(calls["ListKeys"], if discover { 2 } else { 1 }, "{what}");
        assert!(!calls.contains_key("DescribeKey"), "{what}");
    }
}

#[test]
fn a_key_scheduled_for_deletion_after_the_listing_is_untaggable_by_describe_key() {
    // Untagged, so its existence is confirmed with DescribeKey, which says PendingDeletion; the filtered
    // listing ran before the key was scheduled (the fake's `pending` only shows in DescribeKey here).
    let mut kms = FakeKms::with([("key-0000".to_owned(), 0)]);
    kms.pending.insert("key-0000".to_owned());
    let s = scope(ResourceType::Key, &["key-0000"], false);
    let sink = Sink::default();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(declared(&kms, &s, &sink, 4, &s.declared));
    let obs = sink.finish(
        std::slice::from_ref(&s),
        &ReadError::new(ErrorCode::Timeout, "unread"),
    );
    assert!(matches!(
        outcome(&obs, "key-0000"),
        Outcome::Untaggable {
            reason: Untaggable::PendingDeletion,
            ..
        }
    ));
    assert_eq!(kms.calls().get("DescribeKey"), Some(&1));
}

#[test]
fn a_failed_pending_deletion_listing_fails_the_key_scope() {
    let mut kms = FakeKms::with(ids(3).into_iter().map(|id| (id, 1)));
    kms.failing.insert(
        "ListKeys",
        ApiError {
            status: Some(503),
            cloud_code: None,
            error: ReadError::new(ErrorCode::Http5xx, "unavailable"),
        },
    );
    for discover in [false, true] {
        let obs = run(&kms, &scope(ResourceType::Key, &["key-0000"], discover));
        // Without discovery the declared key carries the listing's own error; with it, `listing_failed`.
        let want = if discover {
            ErrorCode::ListingFailed
        } else {
            ErrorCode::Http5xx
        };
        assert!(matches!(outcome(&obs, "key-0000"), Outcome::Failed(e) if e.code == want));
        assert_eq!(obs.scope_failures.len(), usize::from(discover));
    }
}

mod aliases;
mod chooser;
