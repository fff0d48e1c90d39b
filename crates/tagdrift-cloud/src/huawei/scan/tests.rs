//! The read plans against an in-memory DEW that answers like the documented API (name-marker secret pages,
//! `truncated` key pages, tag calls by UUID, offset-paged batch reads), counting calls per operation.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Value, json};

use super::*;
use crate::{Cloud, Observations};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";

/// name → (uuid, alias, tags)
#[derive(Default)]
struct FakeDew {
    resources: BTreeMap<String, (String, Option<String>, Tags)>,
    /// The batch read lists resources without tags too; by default it leaves them out (one of the two
    /// undocumented possibilities).
    batch_lists_untagged: bool,
    /// The batch read leaves out the last tag of every resource.
    batch_drops_last_tag: bool,
    calls: Mutex<BTreeMap<&'static str, usize>>,
    fail: Option<(&'static str, ApiError)>,
    /// The tag calls of this one resource (by native id) fail with this error.
    denied: Option<(String, ApiError)>,
    /// A `total_count` the batch read answers instead of the true one.
    instance_total: Option<usize>,
    /// Resources (by name) that cannot carry tags: pending deletion, or a default master key.
    untaggable: BTreeMap<String, Untaggable>,
}

fn tags(n: usize) -> Tags {
    (0..n).map(|i| (format!("k{i}"), format!("v{i}"))).collect()
}

impl FakeDew {
    fn with(n: usize, tag_count: impl Fn(usize) -> usize) -> Self {
        let resources = (0..n)
            .map(|i| {
                let name = format!("res-{i:04}");
                let uuid = format!("00000000-0000-0000-0000-{i:012}");
                (name, (uuid, Some(format!("alias-{i}")), tags(tag_count(i))))
            })
            .collect();
        FakeDew {
            resources,
            ..FakeDew::default()
        }
    }

    fn state_of(&self, name: &str) -> Option<Untaggable> {
        self.untaggable.get(name).copied()
    }

    fn calls(&self) -> BTreeMap<&'static str, usize> {
        self.calls.lock().unwrap().clone()
    }

    fn tag_json(t: &Tags) -> Vec<Value> {
        t.iter().map(|(k, v)| json!({"key": k, "value": v})).collect()
    }

    fn answer(&self, call: &RestCall) -> Result<Value, ApiError> {
        let q = |name: &str| call.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let b = |name: &str| {
            call.body
                .as_ref()
                .and_then(|b| b[name].as_str().map(str::to_owned))
        };
        match call.operation {
            "ListSecrets" => {
                let limit: usize = q("limit").unwrap().parse().unwrap();
                let marker = q("marker");
                let page: Vec<_> = self
                    .resources
                    .iter()
                    .filter(|(name, _)| marker.as_ref().is_none_or(|m| *name > m))
                    .take(limit)
                    .collect();
                let next = if page.len() == limit {
                    page.last().unwrap().0.clone()
                } else {
                    String::new()
                };
                let secrets: Vec<_> = page
                    .iter()
                    .map(|(n, (id, _, _))| {
                        let state = match self.state_of(n) {
                            Some(Untaggable::PendingDeletion) => "PENDING_DELETE",
                            _ => "ENABLED",
                        };
                        json!({"id": id, "name": n, "state": state})
                    })
                    .collect();
                Ok(
                    json!({"secrets": secrets, "page_info": {"next_marker": next, "current_count": page.len()}}),
                )
            }
            "ListKeys" => {
                assert_eq!(b("key_spec").as_deref(), Some("ALL"));
                let limit: usize = b("limit").unwrap().parse().unwrap();
                // The first page carries no marker; an empty one is refused like the emulator does.
                let marker = call.body.as_ref().and_then(|b| b.get("marker"));
                let start: usize = match marker {
                    None => 0,
                    Some(m) => {
                        let m = m.as_str().expect("a string marker");
                        assert!(!m.is_empty(), "ListKeys sent an empty marker");
                        m.parse().unwrap()
                    }
                };
                let all: Vec<_> = self.resources.iter().collect();
                let end = (start + limit).min(all.len());
                let details: Vec<_> = all[start..end]
                    .iter()
                    .map(|(name, (id, alias, _))| {
                        let u = self.state_of(name);
                        let state = if u == Some(Untaggable::PendingDeletion) { "4" } else { "2" };
                        let flag = if u == Some(Untaggable::DefaultKey) { "1" } else { "0" };
                        json!({"key_id": id, "key_alias": alias, "key_state": state, "default_key_flag": flag})
                    })
                    .collect();
                let ids: Vec<_> = all[start..end].iter().map(|(_, (id, _, _))| json!(id)).collect();
                let truncated = end < all.len();
                Ok(
                    json!({"keys": ids, "key_details": details, "next_marker": if truncated { end.to_string() } else { String::new() }, "truncated": truncated.to_string(), "total": all.len()}),
                )
            }
            "ListSecretTags" | "ShowKmsTags" => {
                let uuid = call.path.rsplit('/').nth(1).unwrap();
                let found = self.resources.iter().find(|(_, (id, _, _))| id == uuid);
                let refused =
                    found
                        .and_then(|(name, _)| self.state_of(name))
                        .map(|u| match (u, call.operation) {
                            (Untaggable::DefaultKey, _) => "KMS.0211",
                            (Untaggable::PendingDeletion, "ShowKmsTags") => "KMS.0210",
                            (Untaggable::PendingDeletion, _) => "CSMS.0107",
                        });
                if let Some(code) = refused {
                    return Err(ApiError {
                        status: Some(400),
                        cloud_code: Some(code.into()),
                        error: ReadError::new(ErrorCode::Http4xx, format!("HTTP 400 {code}: refused")),
                    });
                }
                match found.map(|(_, r)| r) {
                    Some((_, _, t)) => Ok(json!({"tags": Self::tag_json(t), "sys_tags": null})),
                    None => Err(ApiError {
                        status: Some(400),
                        cloud_code: Some("CSMS.0005".into()),
                        error: ReadError::new(ErrorCode::Http4xx, "CSMS.0005"),
                    }),
                }
            }
            "ListSecretResourceInstances" | "ListKmsResourceInstances" => {
                let offset: usize = b("offset").unwrap().parse().unwrap();
                let limit: usize = b("limit").unwrap().parse().unwrap();
                let tagged: Vec<_> = self
                    .resources
                    .iter()
                    .filter(|(_, (_, _, t))| self.batch_lists_untagged || !t.is_empty())
                    .collect();
                let page: Vec<_> = tagged
                    .iter()
                    .skip(offset)
                    .take(limit)
                    .map(|(name, (id, alias, t))| {
                        let u = self.state_of(name);
                        let pending = u == Some(Untaggable::PendingDeletion);
                        let detail = json!({
                            "name": name, "key_alias": alias,
                            "state": if pending { "PENDING_DELETE" } else { "ENABLED" },
                            "key_state": if pending { "4" } else { "2" },
                            "default_key_flag": if u == Some(Untaggable::DefaultKey) { "1" } else { "0" },
                        });
                        let mut t = t.clone();
                        if self.batch_drops_last_tag {
                            t.pop_last();
                        }
                        json!({"resource_id": id, "resource_name": name, "resource_detail": detail, "tags": Self::tag_json(&t), "sys_tags": [{"key": "_sys_enterprise_project_id", "value": "0"}]})
                    })
                    .collect();
                Ok(json!({"resources": page, "total_count": self.instance_total.unwrap_or(tagged.len())}))
            }
            other => panic!("unexpected {other}"),
        }
    }
}

impl Dew for FakeDew {
    async fn call(&self, call: RestCall) -> Result<Vec<u8>, ApiError> {
        *self.calls.lock().unwrap().entry(call.operation).or_default() += 1;
        assert_eq!(call.project_id, PROJECT);
        assert!(call.path.contains(PROJECT));
        if let Some((op, e)) = &self.fail
            && *op == call.operation
        {
            return Err(e.clone());
        }
        if let Some((native, e)) = &self.denied
            && call.path.ends_with(&format!("/{native}/tags"))
        {
            return Err(e.clone());
        }
        self.answer(&call).map(|v| serde_json::to_vec(&v).unwrap())
    }
}

fn scope(rt: ResourceType, declared: &[&str], discover: bool) -> Scope {
    let mut declared: Vec<String> = declared.iter().map(|s| (*s).to_owned()).collect();
    declared.sort();
    Scope {
        cloud: Cloud::Huawei,
        account: "hw".into(),
        region: "cn-north-4".into(),
        project_id: Some(PROJECT.into()),
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

fn run(dew: &FakeDew, scope: &Scope, batch: bool) -> Observations {
    let mode = if batch {
        BatchTagRead::Always
    } else {
        BatchTagRead::Never
    };
    run_mode(dew, scope, mode, &Learned::default())
}

fn run_mode(dew: &FakeDew, scope: &Scope, mode: BatchTagRead, learned: &Learned) -> Observations {
    let sink = Sink::default();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(super::scan(dew, scope, mode, learned, &sink, 4));
    sink.finish(
        std::slice::from_ref(scope),
        &ReadError::new(ErrorCode::Timeout, "unread"),
    )
}

fn get<'a>(obs: &'a Observations, id: &str) -> &'a crate::Observed {
    obs.resources
        .iter()
        .find(|o| o.resource.id == id)
        .unwrap_or_else(|| panic!("{id} not reported"))
}

#[test]
fn declared_secrets_are_resolved_by_the_listing_then_read_by_uuid() {
    let dew = FakeDew::with(120, |_| 3);
    let obs = run(
        &dew,
        &scope(ResourceType::Secret, &["res-0007", "res-0119", "gone"], false),
        false,
    );
    // ceil(120 / 50) listing pages, one tag call per declared secret that exists.
    assert_eq!(
        dew.calls(),
        BTreeMap::from([("ListSecrets", 3), ("ListSecretTags", 2)])
    );
    let o = get(&obs, "res-0119");
    assert_eq!(
        o.native_id.as_deref(),
        Some("00000000-0000-0000-0000-000000000119")
    );
    assert_eq!(o.outcome, Outcome::Found(tags(3)));
    assert_eq!(get(&obs, "gone").outcome, Outcome::NotFound);
    assert_eq!(obs.resources.len(), 3);
}

#[test]
fn key_discovery_lists_every_spec_and_reads_each_key() {
    let dew = FakeDew::with(150, |_| 1);
    let keys: Vec<String> = dew.resources.values().map(|(id, _, _)| id.clone()).collect();
    let obs = run(
        &dew,
        &scope(
            ResourceType::Key,
            &[&keys[3], "11111111-2222-3333-4444-555555555555"],
            true,
        ),
        false,
    );
    assert_eq!(
        dew.calls(),
        BTreeMap::from([("ListKeys", 2), ("ShowKmsTags", 150)])
    );
    assert_eq!(obs.resources.len(), 151);
    assert_eq!(get(&obs, &keys[3]).alias.as_deref(), Some("alias-3"));
    assert_eq!(
        get(&obs, "11111111-2222-3333-4444-555555555555").outcome,
        Outcome::NotFound
    );
    assert!(obs.scope_failures.is_empty());
}

#[test]
fn declared_keys_need_one_call_each_and_a_missing_key_is_not_found() {
    let dew = FakeDew::with(3, |_| 2);
    let obs = run(
        &dew,
        &scope(
            ResourceType::Key,
            &[
                "00000000-0000-0000-0000-000000000001",
                "99999999-0000-0000-0000-000000000000",
            ],
            false,
        ),
        false,
    );
    assert_eq!(dew.calls(), BTreeMap::from([("ShowKmsTags", 2)]));
    assert_eq!(
        get(&obs, "00000000-0000-0000-0000-000000000001").outcome,
        Outcome::Found(tags(2))
    );
    assert_eq!(
        get(&obs, "99999999-0000-0000-0000-000000000000").outcome,
        Outcome::NotFound
    );
}

#[test]
fn batch_read_covers_tagged_resources_and_confirms_the_rest() {
    // Every tenth secret has no tags, so the batch answer (which leaves them out here) lacks them.
    let dew = FakeDew::with(1500, |i| if i % 10 == 0 { 0 } else { 2 });
    let obs = run(&dew, &scope(ResourceType::Secret, &[], true), true);
    // ceil(1350 tagged / 1000) batch pages; 1500 / 50 full listing pages plus the empty one that ends the
    // listing (a full page carries a next_marker); one confirmation per untagged secret.
    assert_eq!(
        dew.calls(),
        BTreeMap::from([
            ("ListSecretResourceInstances", 2),
            ("ListSecrets", 31),
            ("ListSecretTags", 150)
        ])
    );
    assert_eq!(obs.resources.len(), 1500);
    let tagged = get(&obs, "res-0001");
    let Outcome::Found(t) = &tagged.outcome else {
        panic!()
    };
    assert_eq!(t.get("_sys_enterprise_project_id").map(String::as_str), Some("0"));
    assert_eq!(get(&obs, "res-0010").outcome, Outcome::Found(Tags::new()));
}

#[test]
fn batch_read_of_declared_secrets_skips_the_listing_when_all_are_tagged() {
    let dew = FakeDew::with(40, |_| 1);
    let obs = run(
        &dew,
        &scope(ResourceType::Secret, &["res-0001", "res-0039"], false),
        true,
    );
    assert_eq!(dew.calls(), BTreeMap::from([("ListSecretResourceInstances", 1)]));
    assert_eq!(
        get(&obs, "res-0039").native_id.as_deref(),
        Some("00000000-0000-0000-0000-000000000039")
    );
}

#[test]
fn a_failed_secret_listing_fails_the_scope_and_declared_secrets() {
    let mut dew = FakeDew::with(5, |_| 1);
    dew.fail = Some((
        "ListSecrets",
        ApiError::from(ReadError::new(
            ErrorCode::Auth,
            "APIGW.0301 verify aksk signature fail",
        )),
    ));
    let obs = run(&dew, &scope(ResourceType::Secret, &["res-0001"], true), false);
    assert_eq!(obs.scope_failures.len(), 1);
    let Outcome::Failed(e) = &get(&obs, "res-0001").outcome else {
        panic!()
    };
    // Credential failures keep their code so they are not mistaken for a listing problem.
    assert_eq!(e.code, ErrorCode::Auth);
    assert_eq!(dew.calls(), BTreeMap::from([("ListSecrets", 1)]));
}

#[test]
fn only_the_services_not_found_answers_mean_missing() {
    let answer = |status: u16, code: &str| ApiError {
        status: Some(status),
        cloud_code: Some(code.to_owned()),
        error: ReadError::new(ErrorCode::Http4xx, code),
    };
    assert!(is_not_found(&answer(400, "CSMS.0005")));
    assert!(is_not_found(&answer(400, "KMS.0205")));
    // The older tables' "the key does not exist".
    assert!(is_not_found(&answer(400, "KMS.0207")));
    assert!(is_not_found(&answer(404, "CSMS.0005")));
    assert!(is_not_found(&answer(404, "KMS.0207")));
    // A 404 of the service itself, whatever its code.
    assert!(is_not_found(&answer(404, "KMS.0001")));
    // The gateway has no such API, in either spelling: the endpoint is wrong, the resource may well exist.
    for gateway in ["APIGW.0101", "APIG.0101"] {
        assert!(!is_not_found(&answer(404, gateway)), "{gateway}");
        assert!(is_endpoint_error(&answer(404, gateway)), "{gateway}");
    }
    assert!(!is_not_found(&answer(400, "CSMS.0002")));
    assert!(!is_endpoint_error(&answer(400, "CSMS.0002")));
    assert!(!is_endpoint_error(&answer(404, "KMS.0205")));
    // A 404 with no DEW code at all (a proxy, a host that is not DEW) is an endpoint error too.
    let bare = ApiError {
        status: Some(404),
        cloud_code: None,
        error: ReadError::new(ErrorCode::Http4xx, "ShowKmsTags: HTTP 404"),
    };
    assert!(!is_not_found(&bare));
    assert!(is_endpoint_error(&bare));
    let reason = read_error(bare).message;
    assert!(reason.contains("check the account's endpoint"), "{reason}");
}

/// A wrong endpoint answers every call with the gateway's 404: declared keys are unknown with a reason that
/// points at the endpoint, never missing.
#[test]
fn a_gateway_404_leaves_declared_keys_unknown_with_an_endpoint_reason() {
    for discover in [false, true] {
        let mut dew = FakeDew::with(2, |_| 1);
        let gateway = ApiError {
            status: Some(404),
            cloud_code: Some("APIGW.0101".into()),
            error: ReadError::new(
                ErrorCode::Http4xx,
                "HTTP 404 APIGW.0101: The API does not exist or has not been published in the environment",
            ),
        };
        dew.fail = Some(("ShowKmsTags", gateway.clone()));
        if discover {
            dew.fail = Some(("ListKeys", gateway));
        }
        let id = "00000000-0000-0000-0000-000000000001";
        let obs = run(&dew, &scope(ResourceType::Key, &[id], discover), false);
        let Outcome::Failed(e) = &get(&obs, id).outcome else {
            panic!("{discover}: {:?}", get(&obs, id).outcome)
        };
        assert!(e.message.contains("check the account's endpoint"), "{e:?}");
    }
}

/// Regression: a `total_count` below the rows already read (corrupted, here 1) ended the batch read after
/// its first full page, so the rest of the tagged secrets had to be confirmed one call each.
#[test]
fn regression_a_total_count_below_the_rows_read_does_not_end_the_batch_read() {
    let dew = FakeDew {
        instance_total: Some(1),
        ..FakeDew::with(1500, |_| 2)
    };
    let obs = run(&dew, &scope(ResourceType::Secret, &[], true), true);
    assert_eq!(obs.resources.len(), 1500);
    let calls = dew.calls();
    assert_eq!(calls.get("ListSecretResourceInstances"), Some(&2), "{calls:?}");
    assert_eq!(calls.get("ListSecretTags"), None, "{calls:?}");
    assert!(
        obs.resources
            .iter()
            .all(|o| matches!(&o.outcome, Outcome::Found(t) if t.len() == 3)),
        "every secret read with its two tags and the system tag"
    );
}

/// See: issue 12 (point 5). A policy refusing one key's or one secret's tags (`KMS.0306`, or a 403 with a
/// CSMS code) leaves only that resource unknown with `permission_denied`; a refused listing fails the scope.
#[test]
fn a_denied_resource_is_unknown_and_the_others_are_read() {
    for (rt, operation, code) in [
        (ResourceType::Key, "ShowKmsTags", "KMS.0306"),
        (ResourceType::Secret, "ListSecretTags", "CSMS.0403"),
    ] {
        let mut dew = FakeDew::with(5, |_| 2);
        let message = format!("{operation}: HTTP 403 {code}: no permission");
        let denied_native = "00000000-0000-0000-0000-000000000002".to_owned();
        dew.denied = Some((
            denied_native.clone(),
            ApiError {
                status: Some(403),
                cloud_code: Some(code.into()),
                error: ReadError::new(ErrorCode::PermissionDenied, message.clone()),
            },
        ));
        let obs = run(&dew, &scope(rt, &[], true), false);
        assert!(obs.scope_failures.is_empty(), "{rt}");
        assert_eq!(obs.resources.len(), 5, "{rt}");
        assert_eq!(dew.calls()[operation], 5, "{rt}: one tag call per resource");
        for o in &obs.resources {
            let native = o.native_id.clone().unwrap_or_else(|| o.resource.id.clone());
            if native == denied_native {
                assert_eq!(
                    o.outcome,
                    Outcome::Failed(ReadError::new(
                        ErrorCode::PermissionDenied,
                        format!("the credentials may not read this {rt}'s tags: {message}")
                    )),
                    "{rt}"
                );
            } else {
                assert_eq!(o.outcome, Outcome::Found(tags(2)), "{rt}: {native}");
            }
        }
    }
    for (rt, listing) in [
        (ResourceType::Key, "ListKeys"),
        (ResourceType::Secret, "ListSecrets"),
    ] {
        let mut dew = FakeDew::with(3, |_| 1);
        dew.fail = Some((
            listing,
            ApiError {
                status: Some(403),
                cloud_code: Some("KMS.0306".into()),
                error: ReadError::new(
                    ErrorCode::PermissionDenied,
                    format!("{listing}: HTTP 403 KMS.0306"),
                ),
            },
        ));
        let obs = run(&dew, &scope(rt, &["res-0001"], true), false);
        assert_eq!(obs.scope_failures.len(), 1, "{rt}");
        assert_eq!(obs.scope_failures[0].error.code, ErrorCode::PermissionDenied);
        let Outcome::Failed(e) = &get(&obs, "res-0001").outcome else {
            panic!("{rt}")
        };
        assert_eq!(e.code, ErrorCode::PermissionDenied, "{rt}");
        assert!(
            e.message
                .starts_with(&format!("the credentials may not list {rt}s in cn-north-4")),
            "{}",
            e.message
        );
    }
}

/// With the batch read on, a policy refusing the project-wide `resource_instances` read falls back to the
/// per-resource reads instead of failing the scope.
#[test]
fn a_denied_batch_read_falls_back_to_per_resource_reads() {
    for (rt, batch_op, tag_op) in [
        (ResourceType::Key, "ListKmsResourceInstances", "ShowKmsTags"),
        (
            ResourceType::Secret,
            "ListSecretResourceInstances",
            "ListSecretTags",
        ),
    ] {
        let mut dew = FakeDew::with(3, |_| 1);
        dew.fail = Some((
            batch_op,
            ApiError {
                status: Some(403),
                cloud_code: Some("KMS.0306".into()),
                error: ReadError::new(
                    ErrorCode::PermissionDenied,
                    format!("{batch_op}: HTTP 403 KMS.0306"),
                ),
            },
        ));
        let obs = run(&dew, &scope(rt, &[], true), true);
        assert!(obs.scope_failures.is_empty(), "{rt}");
        assert_eq!(obs.resources.len(), 3, "{rt}");
        assert!(
            obs.resources.iter().all(|o| o.outcome == Outcome::Found(tags(1))),
            "{rt}"
        );
        assert_eq!(dew.calls()[tag_op], 3, "{rt}");
    }
}

// See: issue 12, point 9. Per plan (keys/secrets, declared only or with discovery, per-resource or batch read):
// a declared resource that cannot carry tags is `Untaggable` with the right reason, an undeclared one is left
// out of discovery and counted, and a listing that already tells costs no tag call.
#[test]
fn resources_that_cannot_carry_tags_are_untaggable_when_declared_and_left_out_otherwise() {
    struct Case {
        rt: ResourceType,
        discover: bool,
        batch: bool,
        calls: &'static [(&'static str, usize)],
    }
    let cases = [
        // Declared keys only: one tag call each; the refusals tell the reasons.
        Case {
            rt: ResourceType::Key,
            discover: false,
            batch: false,
            calls: &[("ShowKmsTags", 3)],
        },
        // Key discovery: the listing tells, so only the two ordinary keys cost a tag call.
        Case {
            rt: ResourceType::Key,
            discover: true,
            batch: false,
            calls: &[("ListKeys", 1), ("ShowKmsTags", 2)],
        },
        Case {
            rt: ResourceType::Key,
            discover: true,
            batch: true,
            calls: &[("ListKmsResourceInstances", 1), ("ListKeys", 1)],
        },
        // Secrets: the listing resolves names and tells the state, so no tag call for pending ones.
        Case {
            rt: ResourceType::Secret,
            discover: false,
            batch: false,
            calls: &[("ListSecrets", 1), ("ListSecretTags", 1)],
        },
        Case {
            rt: ResourceType::Secret,
            discover: true,
            batch: false,
            calls: &[("ListSecrets", 1), ("ListSecretTags", 3)],
        },
        Case {
            rt: ResourceType::Secret,
            discover: true,
            batch: true,
            calls: &[("ListSecretResourceInstances", 1), ("ListSecrets", 1)],
        },
    ];
    for c in cases {
        let mut dew = FakeDew::with(5, |_| 1);
        let id = |i: usize| -> String {
            let name = format!("res-{i:04}");
            match c.rt {
                ResourceType::Key => dew.resources[&name].0.clone(),
                ResourceType::Secret => name,
            }
        };
        let (d0, d1, d2) = (id(0), id(1), id(2));
        // res-0000 declared, pending deletion; res-0001 undeclared, pending deletion; res-0002 declared and
        // ordinary; res-0003 a default key (keys only), declared when discovery is off.
        dew.untaggable
            .insert("res-0000".into(), Untaggable::PendingDeletion);
        dew.untaggable
            .insert("res-0001".into(), Untaggable::PendingDeletion);
        let d3 = if c.rt == ResourceType::Key {
            dew.untaggable.insert("res-0003".into(), Untaggable::DefaultKey);
            Some(id(3))
        } else {
            None
        };
        let mut declared = vec![d0.as_str(), d2.as_str()];
        if !c.discover {
            declared.extend(d3.as_deref());
        }
        let scope = scope(c.rt, &declared, c.discover);
        let obs = run(&dew, &scope, c.batch);
        let what = format!("{} discover={} batch={}", c.rt, c.discover, c.batch);

        let reason = |id: &str| match &get(&obs, id).outcome {
            Outcome::Untaggable { reason, .. } => Some(*reason),
            _ => None,
        };
        assert_eq!(reason(&d0), Some(Untaggable::PendingDeletion), "{what}");
        assert!(
            matches!(&get(&obs, &d2).outcome, Outcome::Found(t) if t.get("k0").map(String::as_str) == Some("v0")),
            "{what}"
        );
        if !c.discover
            && let Some(d3) = &d3
        {
            assert_eq!(reason(d3), Some(Untaggable::DefaultKey), "{what}");
        }
        let left: Vec<(Untaggable, usize)> = obs.left_out.iter().map(|l| (l.reason, l.count)).collect();
        if c.discover {
            assert!(
                obs.resources.iter().all(|o| o.resource.id != d1),
                "{what}: left out, not reported"
            );
            let mut want = vec![(Untaggable::PendingDeletion, 1)];
            if c.rt == ResourceType::Key {
                want.push((Untaggable::DefaultKey, 1));
            }
            assert_eq!(left, want, "{what}");
            // The declared pending one plus the left-outs, and every other resource found.
            assert_eq!(obs.resources.len(), 5 - want.len(), "{what}");
        } else {
            assert!(left.is_empty(), "{what}");
        }
        let calls = dew.calls();
        for (op, n) in c.calls {
            assert_eq!(
                calls.get(op).copied().unwrap_or(0),
                *n,
                "{what}: {op} in {calls:?}"
            );
        }
    }
}

mod auto;
