//! Table-driven tests of write selection, batching, `--target` parsing and verification.

use std::collections::BTreeMap;

use super::*;
use crate::drift::fixtures::*;
use crate::drift::plan;
use crate::vocab::{Cloud, ErrorCode};

const TODAY: &str = "2026-06-01";

fn write_plan(desired: Desired, observed: Obs, targets: &[&str]) -> WritePlan {
    let p = plan(&desired.build(), &observed.build(), date(TODAY));
    let targets: Vec<_> = targets.iter().map(|t| parse_target(t).unwrap()).collect();
    select(&p, &targets)
}

/// `id:+k=v,~k=old->new,-k` per target, `id:reason` per skip.
fn lines(w: &WritePlan) -> Vec<String> {
    let mut out: Vec<String> = w
        .targets
        .iter()
        .map(|t| {
            let changes: Vec<String> = t
                .changes
                .iter()
                .map(|c| match c.action {
                    Action::Add => format!("+{}={}", c.key, c.after.as_deref().unwrap_or("")),
                    Action::Change => format!(
                        "~{}={}->{}",
                        c.key,
                        c.before.as_deref().unwrap_or(""),
                        c.after.as_deref().unwrap_or("")
                    ),
                    Action::Remove => format!("-{}", c.key),
                })
                .collect();
            format!("{}:{}", t.resource.id, changes.join(","))
        })
        .collect();
    out.extend(
        w.skipped
            .iter()
            .map(|s| format!("{}:{}", s.resource.id, s.reason.as_str())),
    );
    out
}

/// Name, desired state, observations, `--target` values, expected [`lines`].
type SelectCase = (&'static str, Desired, Obs, Vec<&'static str>, Vec<&'static str>);

#[test]
fn selection_writes_only_the_plans_changes_of_declared_drifted_resources() {
    let k1 = ali_key("k1");
    let k2 = ali_key("k2");
    let gone = ali_key("gone");
    let unread = ali_key("unread");
    let stray = ali_key("stray");
    let s1 = hw_secret("s1");
    let cases: Vec<SelectCase> = vec![
        (
            "add, change and remove; in-sync and system tags untouched",
            Desired::new()
                .declare(&k1, &[("owner", "platform"), ("env", "prod")])
                .declare(&k2, &[("owner", "web")]),
            Obs::new()
                .found(&k1, &[("owner", "payments"), ("tmp", "1"), ("acs:system", "x")])
                .found(&k2, &[("owner", "web"), ("aliyun-id", "y")]),
            vec![],
            vec!["k1:+env=prod,~owner=payments->platform,-tmp"],
        ),
        (
            "ignored keys are never written",
            Desired::new()
                .declare(&k1, &[("owner", "platform"), ("env", "prod")])
                .ignore(any(), &["env"], "managed elsewhere", None),
            Obs::new().found(&k1, &[("owner", "payments"), ("env", "dev")]),
            vec![],
            vec!["k1:~owner=payments->platform"],
        ),
        (
            "extra tags of allow_extra_tags stay",
            Desired::new().declare_extra(&k1, &[("owner", "platform")]),
            Obs::new().found(&k1, &[("owner", "payments"), ("extra", "keep")]),
            vec![],
            vec!["k1:~owner=payments->platform"],
        ),
        (
            "unknown, missing and unmanaged are skipped",
            Desired::new()
                .declare(&gone, &[("owner", "x")])
                .declare(&unread, &[("owner", "x")])
                .discover(any().cloud(Cloud::Alibaba), true),
            Obs::new()
                .not_found(&gone)
                .failed(&unread, ErrorCode::Throttled, "slow down")
                .found(&stray, &[("owner", "y")]),
            vec![],
            vec!["gone:missing", "stray:unmanaged", "unread:unknown"],
        ),
        (
            "a resource the cloud refuses tags on is skipped with its cause, not as missing",
            Desired::new()
                .declare(&k1, &[("owner", "x")])
                .declare(&k2, &[("owner", "x")]),
            Obs::new()
                .untaggable(
                    &k1,
                    crate::vocab::Untaggable::PendingDeletion,
                    "KeyState PendingDeletion",
                )
                .found(&k2, &[("owner", "y")]),
            vec![],
            vec!["k2:~owner=y->x", "k1:untaggable"],
        ),
        (
            "a required key without a value needs a value; the rest is written",
            Desired::new()
                .declare(&k1, &[("owner", "platform")])
                .declare(&k2, &[("owner", "web")])
                .rule(rule("cc").required(&["cost-center"])),
            Obs::new()
                .found(&k1, &[("owner", "payments")])
                .found(&k2, &[("owner", "web")]),
            vec![],
            vec!["k1:~owner=payments->platform", "k1:needs_value", "k2:needs_value"],
        ),
        (
            "targets limit the writes",
            Desired::new()
                .declare(&k1, &[("owner", "platform")])
                .declare(&s1, &[("owner", "platform")]),
            Obs::new()
                .found(&k1, &[("owner", "x")])
                .found(&s1, &[("owner", "x")])
                .native_id("0d0466b0-e727-4d9c-b35d-f84bb474a37f"),
            vec!["cloud=huawei,type=secret"],
            vec!["s1:~owner=x->platform"],
        ),
        (
            "several targets are OR-ed",
            Desired::new()
                .declare(&k1, &[("owner", "platform")])
                .declare(&k2, &[("owner", "platform")])
                .declare(&s1, &[("owner", "platform")]),
            Obs::new()
                .found(&k1, &[("owner", "x")])
                .found(&k2, &[("owner", "x")])
                .found(&s1, &[("owner", "x")]),
            vec!["name=k1", "account=hw-*"],
            vec!["k1:~owner=x->platform", "s1:~owner=x->platform"],
        ),
    ];
    for (name, desired, observed, targets, want) in cases {
        let mut got = lines(&write_plan(desired, observed, &targets));
        got.sort();
        let mut want: Vec<String> = want.into_iter().map(str::to_owned).collect();
        want.sort();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn the_native_id_and_before_values_are_kept() {
    let s1 = hw_secret("s1");
    let w = write_plan(
        Desired::new().declare(&s1, &[("owner", "platform")]),
        Obs::new()
            .found(&s1, &[("owner", "web")])
            .native_id("0d0466b0-e727-4d9c-b35d-f84bb474a37f"),
        &[],
    );
    let t = &w.targets[0];
    assert_eq!(
        t.native_id.as_deref(),
        Some("0d0466b0-e727-4d9c-b35d-f84bb474a37f")
    );
    assert_eq!(t.changes[0].before.as_deref(), Some("web"));
    assert_eq!(w.change_count(), 1);
    assert_eq!(w.check_limit(1), Ok(()));
    assert_eq!(w.check_limit(0), Err(LimitError { changes: 1, max: 0 }));
}

fn target(r: crate::vocab::ResourceRef, set: &[(&str, &str)], unset: &[&str]) -> Target {
    let mut changes: Vec<TagChange> = set
        .iter()
        .map(|(k, v)| TagChange {
            key: (*k).to_owned(),
            action: Action::Add,
            before: None,
            after: Some((*v).to_owned()),
            cause: crate::drift::Cause::Declared,
        })
        .collect();
    changes.extend(unset.iter().map(|k| TagChange {
        key: (*k).to_owned(),
        action: Action::Remove,
        before: Some("old".to_owned()),
        after: None,
        cause: crate::drift::Cause::Undeclared,
    }));
    Target {
        resource: r,
        native_id: None,
        changes,
        needs_value: Vec::new(),
    }
}

/// `op(keys)[ids]` per batch.
fn shape(batches: &[Batch]) -> Vec<String> {
    batches
        .iter()
        .map(|b| {
            let op = match &b.op {
                Op::Untag(keys) => format!("untag({})", keys.join(",")),
                Op::Tag(tags) => format!("tag({})", tags.keys().cloned().collect::<Vec<_>>().join(",")),
            };
            let ids: Vec<&str> = b.members.iter().map(|m| m.id.as_str()).collect();
            format!("{}/{}:{op}[{}]", b.cloud, b.resource_type, ids.join(","))
        })
        .collect()
}

#[test]
fn batching_shares_calls_only_between_identical_changes() {
    let cases: Vec<(&str, Vec<Target>, Vec<&str>)> = vec![
        (
            "three keys needing the same tag share one call",
            vec![
                target(ali_key("a"), &[("env", "prod")], &[]),
                target(ali_key("b"), &[("env", "prod")], &[]),
                target(ali_key("c"), &[("env", "prod")], &[]),
            ],
            vec!["alibaba/key:tag(env)[a,b,c]"],
        ),
        (
            "different values never mix; removals come first",
            vec![
                target(ali_key("a"), &[("env", "prod")], &["tmp"]),
                target(ali_key("b"), &[("env", "dev")], &["tmp"]),
            ],
            vec![
                "alibaba/key:untag(tmp)[a,b]",
                "alibaba/key:tag(env)[b]",
                "alibaba/key:tag(env)[a]",
            ],
        ),
        (
            "keys and secrets are separate calls",
            vec![
                target(ali_key("a"), &[("env", "prod")], &[]),
                target(ali_secret("s"), &[("env", "prod")], &[]),
            ],
            vec!["alibaba/key:tag(env)[a]", "alibaba/secret:tag(env)[s]"],
        ),
        (
            "huawei takes one resource per call",
            vec![
                target(hw_key("a"), &[("env", "prod")], &["tmp"]),
                target(hw_key("b"), &[("env", "prod")], &[]),
            ],
            vec![
                "huawei/key:untag(tmp)[a]",
                "huawei/key:tag(env)[a]",
                "huawei/key:tag(env)[b]",
            ],
        ),
    ];
    for (name, targets, want) in cases {
        assert_eq!(shape(&batch(&targets)), want, "{name}");
    }
}

#[test]
fn batches_respect_the_resource_and_tag_limits() {
    let many: Vec<Target> = (0..60)
        .map(|i| target(ali_key(&format!("k{i:02}")), &[("env", "prod")], &[]))
        .collect();
    let b = batch(&many);
    assert_eq!(b.iter().map(|b| b.members.len()).collect::<Vec<_>>(), [50, 10]);

    let keys: Vec<(String, String)> = (0..25).map(|i| (format!("t{i:02}"), "v".to_owned())).collect();
    let pairs: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let b = batch(&[target(ali_key("a"), &pairs, &[])]);
    let sizes: Vec<usize> = b.iter().map(|b| b.op.keys().len()).collect();
    assert_eq!(sizes, [20, 5]);
}

#[test]
fn target_selectors_parse_like_describe_prints_them() {
    let ok = [
        ("cloud=alibaba", "cloud=alibaba"),
        ("cloud=huawei,type=secret", "cloud=huawei type=secret"),
        ("account=ali-* region=cn-*", "account=ali-* region=cn-*"),
        ("name='prod/*'", "name=prod/*"),
        (" type=key , name=k1 ", "type=key name=k1"),
    ];
    for (text, described) in ok {
        assert_eq!(parse_target(text).unwrap().describe(), described, "{text}");
    }
    let bad = [
        ("", TargetError::Empty),
        ("cloud", TargetError::NotAPair("cloud".into())),
        ("cloud=", TargetError::NotAPair("cloud=".into())),
        ("cloud=aws", TargetError::Cloud("aws".into())),
        ("type=bucket", TargetError::Type("bucket".into())),
        ("colour=red", TargetError::UnknownKey("colour".into())),
        ("type=key,type=secret", TargetError::Duplicate("type".into())),
    ];
    for (text, want) in bad {
        assert_eq!(parse_target(text).unwrap_err(), want, "{text}");
    }
    assert!(matches!(
        parse_target("name=a[").unwrap_err(),
        TargetError::Glob { .. }
    ));
}

#[test]
fn verification_judges_each_written_resource_by_the_fresh_read() {
    let ok = ali_key("ok");
    let refused = ali_key("refused");
    let still = ali_key("still");
    let unread = ali_key("unread");
    let desired = || {
        Desired::new()
            .declare(&ok, &[("owner", "platform")])
            .declare(&refused, &[("owner", "platform")])
            .declare(&still, &[("owner", "platform")])
            .declare(&unread, &[("owner", "platform")])
            .declare(&ali_key("gone"), &[("owner", "platform")])
    };
    let before = Obs::new()
        .found(&ok, &[("owner", "x")])
        .found(&refused, &[("owner", "x")])
        .found(&still, &[("owner", "x")])
        .found(&unread, &[("owner", "x")])
        .not_found(&ali_key("gone"));
    let w = write_plan(desired(), before, &[]);
    assert_eq!(w.targets.len(), 4);
    let after = Obs::new()
        .found(&ok, &[("owner", "platform")])
        .found(&refused, &[("owner", "x")])
        .found(&still, &[("owner", "x")])
        .failed(&unread, ErrorCode::Timeout, "slow")
        .not_found(&ali_key("gone"));
    let reread = plan(&desired().build(), &after.build(), date(TODAY));
    let failures = BTreeMap::from([(
        refused.clone(),
        WriteFailure {
            code: ErrorCode::Auth,
            cloud_code: Some("Forbidden.NoPermission".into()),
            message: "the credentials can read but not write tags: grant kms:TagResources".into(),
        },
    )]);
    let ids = BTreeMap::from([(ok.clone(), vec!["req-1".to_owned()])]);
    let applied = verify(&w, &failures, &ids, &reread, 3);
    let got: Vec<(&str, &str)> = applied
        .resources
        .iter()
        .map(|r| (r.resource.id.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("ok", "applied"),
            ("refused", "failed"),
            ("still", "failed"),
            ("unread", "failed")
        ]
    );
    assert_eq!(applied.resources[0].request_ids, ["req-1"]);
    assert_eq!(applied.summary.applied, 1);
    assert_eq!(applied.summary.failed, 3);
    assert_eq!(applied.summary.skipped, 1);
    assert_eq!(applied.summary.write_calls, 3);
    assert!(!applied.success());
    let text = applied.text();
    assert!(
        text.contains("refused\"]: failed (~ owner): Forbidden.NoPermission: the credentials can read"),
        "{text}"
    );
    assert!(text.contains("still differs: ~ owner"), "{text}");
    assert!(
        text.ends_with("Apply finished with errors. Resources: 1 applied, 3 failed, 1 skipped.\n"),
        "{text}"
    );
    let json = serde_json::to_value(&applied).unwrap();
    assert_eq!(json["format_version"], "1.1");
    assert_eq!(json["resources"][1]["status"], "failed");
    assert_eq!(json["resources"][1]["cloud_code"], "Forbidden.NoPermission");
    assert_eq!(json["skipped"][0]["reason"], "missing");
}

#[test]
fn nothing_to_do_is_a_success() {
    let k = ali_key("k");
    let w = write_plan(
        Desired::new().declare(&k, &[("owner", "a")]),
        Obs::new().found(&k, &[("owner", "a")]),
        &[],
    );
    assert!(w.targets.is_empty() && w.skipped.is_empty());
    let reread = plan(&Desired::new().build(), &Obs::new().build(), date(TODAY));
    let applied = verify(&w, &BTreeMap::new(), &BTreeMap::new(), &reread, 0);
    assert!(applied.success());
    assert_eq!(
        applied.text(),
        "Apply complete! Resources: 0 applied, 0 failed, 0 skipped.\n"
    );
}

#[test]
fn a_stale_resource_fails_the_apply_and_is_counted() {
    let k = ali_key("k");
    let w = WritePlan {
        targets: Vec::new(),
        skipped: vec![Skip {
            resource: k.clone(),
            reason: SkipReason::Stale {
                keys: vec!["owner".to_owned()],
            },
        }],
    };
    let reread = plan(&Desired::new().build(), &Obs::new().build(), date(TODAY));
    let applied = verify(&w, &BTreeMap::new(), &BTreeMap::new(), &reread, 0);
    assert!(!applied.success());
    assert_eq!(applied.summary.stale, 1);
    assert_eq!(
        applied.text(),
        "alibaba.ali-prod.cn-hangzhou.key[\"k\"]: skipped: stale: its tags changed since the plan was saved \
         (owner); not written, save a new plan\n\nApply finished with errors. Resources: 0 applied, 0 failed, 1 \
         skipped (1 stale).\n"
    );
    let json = serde_json::to_value(&applied).unwrap();
    assert_eq!(json["skipped"][0]["reason"], "stale");
    assert_eq!(json["skipped"][0]["keys"][0], "owner");
}
