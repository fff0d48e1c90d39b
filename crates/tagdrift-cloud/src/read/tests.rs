//! Scope planning, the deadline's treatment of unread resources, and the shape of the reader's contract.

use super::*;
use crate::credentials::MapEnv;
use crate::{NoObserver, Observed, ResourceType};

fn state(extra: &str) -> DesiredState {
    let yaml = format!(
        r#"version: 1
accounts:
  - name: ali
    cloud: alibaba
    regions: [cn-hangzhou, cn-shanghai]
    credentials:
      type: access_key
      access_key_id: {{env: ID}}
      access_key_secret: {{env: SECRET}}
  - name: hw
    cloud: huawei
    regions:
      - {{name: cn-north-4, project_id: 0123456789abcdef0123456789abcdef}}
    credentials:
      type: access_key
      ak: {{env: ID}}
      sk: {{env: SECRET}}
resources:
  - {{account: ali, region: cn-hangzhou, type: key, id: key-b}}
  - {{account: ali, region: cn-hangzhou, type: key, id: key-a}}
  - {{account: hw, region: cn-north-4, type: secret, name: db}}
{extra}"#
    );
    tagdrift_core::config::parse(&yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn labels(scopes: &[Scope]) -> Vec<(String, bool, Vec<String>)> {
    scopes
        .iter()
        .map(|s| (s.label(), s.discover, s.declared.clone()))
        .collect()
}

#[test]
fn only_declared_or_discovered_scopes_are_read() {
    let scopes = plan(&state(""));
    assert_eq!(
        labels(&scopes),
        [
            (
                "alibaba/ali/cn-hangzhou/key".into(),
                false,
                vec!["key-a".into(), "key-b".into()]
            ),
            ("huawei/hw/cn-north-4/secret".into(), false, vec!["db".into()]),
        ]
    );
    assert_eq!(
        scopes[1].project_id.as_deref(),
        Some("0123456789abcdef0123456789abcdef")
    );
}

#[test]
fn discovery_selectors_cover_scopes_by_cloud_account_region_and_type() {
    let scopes = plan(&state(
        "discovery:\n  - match: {cloud: alibaba, region: \"cn-s*\", type: secret, name: \"prod/*\"}\n  - match: {account: hw}\n",
    ));
    assert_eq!(
        labels(&scopes),
        [
            (
                "alibaba/ali/cn-hangzhou/key".into(),
                false,
                vec!["key-a".into(), "key-b".into()]
            ),
            ("alibaba/ali/cn-shanghai/secret".into(), true, vec![]),
            ("huawei/hw/cn-north-4/key".into(), true, vec![]),
            ("huawei/hw/cn-north-4/secret".into(), true, vec!["db".into()]),
        ]
    );
}

#[test]
fn the_deadline_fails_what_was_not_read_and_keeps_what_was() {
    let scopes = plan(&state("discovery:\n  - match: {account: hw, type: key}\n"));
    let sink = Sink::default();
    sink.observe(
        &scopes[0],
        "key-a",
        None,
        None,
        Outcome::Found(Default::default()),
    );
    let deadline = ReadError::new(ErrorCode::Timeout, "not read before the check deadline (1s)");
    let obs = sink.finish(&scopes, &deadline);
    let outcome = |id: &str| {
        obs.resources
            .iter()
            .find(|o: &&Observed| o.resource.id == id)
            .map(|o| o.outcome.clone())
    };
    assert_eq!(outcome("key-a"), Some(Outcome::Found(Default::default())));
    assert_eq!(outcome("key-b"), Some(Outcome::Failed(deadline.clone())));
    assert_eq!(outcome("db"), Some(Outcome::Failed(deadline.clone())));
    // The key discovery listing never finished: a scope failure with the same reason.
    assert_eq!(obs.scope_failures.len(), 1);
    assert_eq!(obs.scope_failures[0].resource_type, ResourceType::Key);
    assert_eq!(obs.scope_failures[0].error, deadline);
}

#[test]
fn the_reader_can_be_shared_and_its_check_spawned() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let state = state("");
    let env = MapEnv::new([("ID", "testid"), ("SECRET", "testsecret")]);
    let reader = Reader::new(
        &state,
        ReaderOptions {
            env: Arc::new(env),
            observer: Arc::new(NoObserver),
        },
    )
    .unwrap();
    send_sync(&reader);
    // The daemon runs checks on a spawned task; this only has to compile.
    send(reader.read(&state));

    let missing = Reader::new(
        &state,
        ReaderOptions {
            env: Arc::new(MapEnv::default()),
            observer: Arc::new(NoObserver),
        },
    )
    .unwrap_err();
    assert_eq!(missing.code(), "credentials");
    assert_eq!(
        missing.to_string(),
        "account ali: credentials: environment variable ID is not set"
    );
}

#[test]
fn refused_credentials_are_named_once_per_account() {
    let scopes = plan(&state(""));
    let sink = Sink::default();
    let refused = ReadError::new(
        ErrorCode::Auth,
        "ListTagResources: HTTP 400 SignatureDoesNotMatch",
    );
    sink.observe(&scopes[0], "key-a", None, None, Outcome::Failed(refused.clone()));
    sink.observe(
        &scopes[0],
        "key-b",
        None,
        None,
        Outcome::Failed(ReadError::new(
            ErrorCode::Auth,
            "not sent: the account's credentials were refused",
        )),
    );
    sink.observe(
        &scopes[1],
        "db",
        None,
        None,
        Outcome::Failed(ReadError::new(ErrorCode::Http5xx, "HTTP 500")),
    );
    // A policy refusing one resource is that resource's business, never the account's.
    sink.observe(
        &scopes[1],
        "api-token",
        None,
        None,
        Outcome::Failed(ReadError::new(
            ErrorCode::PermissionDenied,
            "DescribeSecret: HTTP 403 Forbidden.NoPermission",
        )),
    );
    let obs = sink.finish(&scopes, &ReadError::new(ErrorCode::Other, "not read"));
    assert_eq!(
        refused_accounts(&obs),
        [("ali".to_owned(), refused.message.clone())]
    );
}
