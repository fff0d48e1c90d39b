//! `batch_tag_read: auto` against the in-memory DEW: each way the batch answer can differ from the per-resource
//! calls, what the first check costs, and what the verdict makes the next check do.

use super::*;
use crate::PlanReason;

/// 200 resources; every third has no tags, the others two.
fn dew() -> FakeDew {
    let mut dew = FakeDew::with(200, |i| if i % 3 == 0 { 0 } else { 2 });
    dew.batch_lists_untagged = true;
    dew
}

fn names(dew: &FakeDew) -> Vec<String> {
    dew.resources.keys().cloned().collect()
}

fn keys(dew: &FakeDew) -> Vec<String> {
    dew.resources.values().map(|(id, _, _)| id.clone()).collect()
}

fn declared(ids: &[String]) -> Vec<&str> {
    ids.iter().map(String::as_str).collect()
}

fn plan(obs: &Observations) -> (bool, PlanReason) {
    assert_eq!(obs.read_plans.len(), 1, "{:?}", obs.read_plans);
    (obs.read_plans[0].batch, obs.read_plans[0].reason)
}

/// Every declared resource was read with its true tags.
fn all_read_right(dew: &FakeDew, obs: &Observations, by_key_id: bool) {
    assert_eq!(obs.resources.len(), dew.resources.len());
    for (name, (id, _, tags)) in &dew.resources {
        let id = if by_key_id { id } else { name };
        match &get(obs, id).outcome {
            Outcome::Found(t) => {
                let own: Tags = t
                    .iter()
                    .filter(|(k, _)| !k.starts_with("_sys_"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(&own, tags, "{id}");
            }
            other => panic!("{id}: {other:?}"),
        }
    }
}

fn calls(dew: &FakeDew) -> Vec<(&'static str, usize)> {
    let c = dew.calls();
    dew.calls.lock().unwrap().clear();
    c.into_iter().collect()
}

#[test]
fn an_agreeing_batch_is_verified_with_a_sample_then_used_alone() {
    let dew = dew();
    let ids = keys(&dew);
    let scope = scope(ResourceType::Key, &declared(&ids), false);
    let learned = Learned::default();
    let obs = run_mode(&dew, &scope, BatchTagRead::Auto, &learned);
    assert_eq!(plan(&obs), (true, PlanReason::Verified));
    all_read_right(&dew, &obs, true);
    // The batch and 16 tagged + 8 untagged tag calls; declared keys need no listing (all are in the answer).
    assert_eq!(
        calls(&dew),
        vec![
            ("ListKmsResourceInstances", 1),
            ("ShowKmsTags", SAMPLE_TAGGED + SAMPLE_UNTAGGED)
        ]
    );
    let obs = run_mode(&dew, &scope, BatchTagRead::Auto, &learned);
    assert_eq!(plan(&obs), (true, PlanReason::Verified));
    all_read_right(&dew, &obs, true);
    assert_eq!(calls(&dew), vec![("ListKmsResourceInstances", 1)]);
}

#[test]
fn discovered_secrets_reuse_the_comparisons_listing() {
    let dew = dew();
    let scope = scope(ResourceType::Secret, &[], true);
    let obs = run_mode(&dew, &scope, BatchTagRead::Auto, &Learned::default());
    assert_eq!(plan(&obs), (true, PlanReason::Verified));
    all_read_right(&dew, &obs, false);
    assert_eq!(
        calls(&dew),
        vec![
            ("ListSecretResourceInstances", 1),
            ("ListSecretTags", SAMPLE_TAGGED + SAMPLE_UNTAGGED),
            // 200 secrets in pages of 50: the fifth, empty page ends the listing (a full page has a marker).
            ("ListSecrets", 5),
        ]
    );
}

/// Each way the batch can disagree: the scope is read per resource, correctly, in this check and the next,
/// and the next sends no batch call.
#[test]
fn a_batch_that_differs_or_is_refused_is_not_used() {
    let refused = || ApiError {
        status: Some(403),
        cloud_code: Some("KMS.0306".into()),
        error: ReadError::new(ErrorCode::PermissionDenied, "HTTP 403 KMS.0306: denied"),
    };
    type Setup = fn(&mut FakeDew);
    let cases: [(&str, Setup, PlanReason); 3] = [
        (
            "leaves out untagged resources",
            |d| d.batch_lists_untagged = false,
            PlanReason::Differs,
        ),
        (
            "drops a tag",
            |d| d.batch_drops_last_tag = true,
            PlanReason::Differs,
        ),
        ("refused", |_| {}, PlanReason::Refused),
    ];
    for (what, setup, reason) in cases {
        let mut dew = dew();
        setup(&mut dew);
        if reason == PlanReason::Refused {
            dew.fail = Some(("ListKmsResourceInstances", refused()));
        }
        let ids = keys(&dew);
        let scope = scope(ResourceType::Key, &declared(&ids), false);
        let learned = Learned::default();
        let obs = run_mode(&dew, &scope, BatchTagRead::Auto, &learned);
        assert_eq!(plan(&obs), (false, reason), "{what}");
        all_read_right(&dew, &obs, true);
        let first = calls(&dew);
        assert_eq!(
            first.iter().find(|(op, _)| *op == "ShowKmsTags").map(|c| c.1),
            Some(200 + sample_calls(what)),
            "{what}: {first:?}"
        );
        let obs = run_mode(&dew, &scope, BatchTagRead::Auto, &learned);
        assert_eq!(plan(&obs), (false, reason), "{what}");
        all_read_right(&dew, &obs, true);
        assert_eq!(calls(&dew), vec![("ShowKmsTags", 200)], "{what}");
    }
}

/// The tag calls the comparison sent before it found the difference: the declared keys the batch left out
/// (every third of 200 has no tags), the whole sample when a tag is dropped, none when the batch was refused.
fn sample_calls(what: &str) -> usize {
    match what {
        "leaves out untagged resources" => 67,
        "drops a tag" => SAMPLE_TAGGED + SAMPLE_UNTAGGED,
        _ => 0,
    }
}

/// A failure that may pass decides nothing: this check reads per resource, the next compares again.
#[test]
fn a_failed_batch_call_leaves_the_scope_unverified_and_is_tried_again() {
    let mut dew = dew();
    dew.fail = Some((
        "ListSecretResourceInstances",
        ApiError {
            status: Some(503),
            cloud_code: None,
            error: ReadError::new(ErrorCode::Http5xx, "HTTP 503"),
        },
    ));
    let ids = names(&dew);
    let scope = scope(ResourceType::Secret, &declared(&ids), false);
    let learned = Learned::default();
    let obs = run_mode(&dew, &scope, BatchTagRead::Auto, &learned);
    assert_eq!(plan(&obs), (false, PlanReason::Unverified));
    all_read_right(&dew, &obs, false);
    calls(&dew);
    dew.fail = None;
    let obs = run_mode(&dew, &scope, BatchTagRead::Auto, &learned);
    assert_eq!(plan(&obs), (true, PlanReason::Verified));
    all_read_right(&dew, &obs, false);
}

#[test]
fn the_configured_plans_say_so() {
    let dew = dew();
    let ids = keys(&dew);
    let scope = scope(ResourceType::Key, &declared(&ids), false);
    for (batch, want) in [
        (true, (true, PlanReason::Configured)),
        (false, (false, PlanReason::Configured)),
    ] {
        let obs = run(&dew, &scope, batch);
        assert_eq!(plan(&obs), want);
        all_read_right(&dew, &obs, true);
    }
}
