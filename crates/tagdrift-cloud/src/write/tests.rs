//! The wire form of every write kind, and how a refused write is worded.

use tagdrift_core::reconcile::{Batch, Member, Op};
use tagdrift_core::vocab::Tags;

use super::*;

fn batch(cloud: Cloud, resource_type: ResourceType, op: Op, ids: &[(&str, Option<&str>)]) -> Batch {
    Batch {
        cloud,
        account: "acct".into(),
        region: "cn-hangzhou".into(),
        resource_type,
        op,
        members: ids
            .iter()
            .map(|(id, native)| Member {
                id: (*id).into(),
                native_id: native.map(str::to_owned),
            })
            .collect(),
    }
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
}

#[test]
fn alibaba_writes_put_every_parameter_in_the_query() {
    let cases = [
        (
            batch(
                Cloud::Alibaba,
                ResourceType::Secret,
                Op::Tag(tags(&[("env", "prod"), ("owner", "a b")])),
                &[("db-password", None), ("api-token", None)],
            ),
            "TagResources",
            "RegionId=cn-hangzhou ResourceType=secret ResourceId.1=db-password ResourceId.2=api-token \
             Tag.1.Key=env Tag.1.Value=prod Tag.2.Key=owner Tag.2.Value=a b",
        ),
        (
            batch(
                Cloud::Alibaba,
                ResourceType::Key,
                Op::Untag(vec!["tmp".into(), "x".into()]),
                &[("key-1", None)],
            ),
            "UntagResources",
            "RegionId=cn-hangzhou ResourceType=key ResourceId.1=key-1 TagKey.1=tmp TagKey.2=x",
        ),
    ];
    for (b, action, want) in cases {
        let (call, request) = alibaba_request(&b, "http://127.0.0.1:1");
        assert_eq!(call.operation.as_str(), action);
        assert_eq!(request.method, reqwest::Method::POST);
        assert_eq!(request.path, "/");
        assert!(request.body.is_empty());
        let query: Vec<String> = request.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(query.join(" "), want);
        assert!(!query.iter().any(|q| q.starts_with("All=")));
    }
}

#[test]
fn huawei_writes_post_tags_action_of_one_resource_by_its_native_id() {
    let secret = batch(
        Cloud::Huawei,
        ResourceType::Secret,
        Op::Tag(tags(&[("env", "prod")])),
        &[("db-password", Some("0d0466b0-e727-4d9c-b35d-f84bb474a37f"))],
    );
    let (call, request) = huawei_request(&secret, "0123456789abcdef0123456789abcdef", "http://h").unwrap();
    assert_eq!(call.operation.as_str(), "BatchCreateOrDeleteTags");
    assert_eq!(
        request.path,
        "/v1/0123456789abcdef0123456789abcdef/csms/0d0466b0-e727-4d9c-b35d-f84bb474a37f/tags/action"
    );
    assert_eq!(
        String::from_utf8(request.body.clone()).unwrap(),
        r#"{"action":"create","tags":[{"key":"env","value":"prod"}]}"#
    );
    assert!(
        request
            .headers
            .iter()
            .any(|(k, v)| k == "X-Project-Id" && v.len() == 32)
    );

    let key = batch(
        Cloud::Huawei,
        ResourceType::Key,
        Op::Untag(vec!["tmp".into()]),
        &[("7c9e6679-7425-40de-944b-e07fc1f90ae7", None)],
    );
    let (call, request) = huawei_request(&key, "p", "http://h").unwrap();
    assert_eq!(call.operation.as_str(), "BatchCreateKmsTags");
    assert_eq!(
        request.path,
        "/v1.0/p/kms/7c9e6679-7425-40de-944b-e07fc1f90ae7/tags/action"
    );
    assert_eq!(
        String::from_utf8(request.body).unwrap(),
        r#"{"action":"delete","tags":[{"key":"tmp"}]}"#
    );

    let two = batch(
        Cloud::Huawei,
        ResourceType::Key,
        Op::Untag(vec!["t".into()]),
        &[("a", None), ("b", None)],
    );
    assert!(huawei_request(&two, "p", "http://h").is_err());
}

/// A refused write as the transport classifies it (see `transport::classify`).
fn refused(status: u16, code: &str, class: ErrorCode) -> CallError {
    CallError {
        code: class,
        message: format!("TagResources: HTTP {status} {code}: refused"),
        status: Some(status),
        cloud_code: Some(code.into()),
        request_id: Some("req-9".into()),
        not_found: false,
        attempts: 1,
    }
}

#[test]
fn a_refused_write_names_the_permission_to_grant() {
    let tag = batch(
        Cloud::Alibaba,
        ResourceType::Key,
        Op::Tag(tags(&[("a", "b")])),
        &[("k", None)],
    );
    let e = failure(
        &tag,
        refused(403, "Forbidden.NoPermission", ErrorCode::PermissionDenied),
    );
    assert_eq!(e.code, ErrorCode::PermissionDenied);
    assert!(
        e.message
            .starts_with("the credentials can read but not write tags: grant kms:TagResources ("),
        "{}",
        e.message
    );
    assert_eq!(e.request_id.as_deref(), Some("req-9"));

    let cases = [
        (Cloud::Alibaba, ResourceType::Secret, true, "kms:UntagResources"),
        (Cloud::Huawei, ResourceType::Key, false, "kms:cmk:createTags"),
        (Cloud::Huawei, ResourceType::Key, true, "kms:cmk:createTags"),
        (
            Cloud::Huawei,
            ResourceType::Secret,
            false,
            "csms:secret:batchCreateOrDeleteTags",
        ),
        (
            Cloud::Huawei,
            ResourceType::Secret,
            true,
            "csms:secret:batchCreateOrDeleteTags",
        ),
    ];
    for (cloud, ty, remove, want) in cases {
        let op = if remove {
            Op::Untag(vec!["a".into()])
        } else {
            Op::Tag(tags(&[("a", "b")]))
        };
        assert_eq!(permission(cloud, ty, &op), want);
    }

    // Wrong credentials are not a missing permission, and say nothing about one.
    for (status, code) in [
        (400, "SignatureDoesNotMatch"),
        (404, "InvalidAccessKeyId.NotFound"),
    ] {
        let e = failure(&tag, refused(status, code, ErrorCode::Auth));
        assert_eq!(e.code, ErrorCode::Auth);
        assert!(!e.message.contains("grant"), "{}", e.message);
    }
}
