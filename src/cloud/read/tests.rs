//! Scope planning, the deadline's treatment of unread resources, and the shape of the reader's contract.

use super::*;
use crate::cloud::credentials::MapEnv;
use crate::cloud::{NoObserver, Observed, ResourceType};

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
    crate::config::parse(&yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}"))
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
    let obs = sink.finish(&scopes, &ReadError::new(ErrorCode::Other, "not read"));
    assert_eq!(
        refused_accounts(&obs),
        [("ali".to_owned(), refused.message.clone())]
    );
}

/// Huawei locks an access key for everyone after more than five bad signatures in a row, so a daemon with a
/// wrong secret must stop sending it after a few checks, and try again as soon as the secret changes.
#[tokio::test]
async fn credentials_refused_in_consecutive_checks_are_not_sent_again_until_they_change() {
    use crate::emulator::{self, Clock, Faults, Options, State, inventory::Inventory, store::Store};
    let inventory = Inventory::parse(
        r#"
huawei:
  - name: hw
    ak: testak
    sk: testsk
    projects:
      - region: cn-north-4
        project_id: 0123456789abcdef0123456789abcdef
        keys: [{id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: platform}}]
"#,
        "inline",
    )
    .unwrap();
    let emu_state = State::new(
        Store::from_inventory(inventory).unwrap(),
        Options::default(),
        Faults::default(),
        Clock::system(),
    );
    let running = emulator::start(emu_state.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sk_file = dir.path().join("sk");
    std::fs::write(&sk_file, "wrong-sk").unwrap();
    let desired = crate::config::parse(
        &format!(
            r#"version: 1
accounts:
  - name: hw
    cloud: huawei
    endpoint: {}
    regions:
      - {{name: cn-north-4, project_id: 0123456789abcdef0123456789abcdef}}
    credentials:
      type: access_key
      ak: {{env: AK}}
      sk: {{file: {}}}
resources:
  - {{account: hw, region: cn-north-4, type: key, id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f}}
"#,
            running.endpoint(),
            sk_file.display()
        ),
        "inline.yaml",
    )
    .unwrap();
    let reader = Reader::new(
        &desired,
        ReaderOptions {
            env: Arc::new(MapEnv::new([("AK", "testak")])),
            observer: Arc::new(NoObserver),
        },
    )
    .unwrap();
    let refused_calls = || {
        emu_state.stats().clouds.get("huawei").map_or(0, |c| {
            c.apis
                .values()
                .flat_map(|a| a.outcomes.iter())
                .filter(|(outcome, _)| outcome.as_str() == "APIG.0301")
                .map(|(_, n)| *n)
                .sum::<u64>()
        })
    };
    let outcome = |obs: &Observations| obs.resources[0].outcome.clone();

    for check in 1..=6 {
        let obs = reader.read(&desired).await;
        let Outcome::Failed(e) = outcome(&obs) else {
            panic!("check {check}: {:?}", outcome(&obs))
        };
        assert_eq!(e.code, ErrorCode::Auth, "check {check}: {e:?}");
        if check > MAX_REFUSED_CHECKS {
            assert!(e.message.contains("not sent"), "check {check}: {}", e.message);
        }
    }
    assert_eq!(refused_calls(), u64::from(MAX_REFUSED_CHECKS));

    // Rotated secret (a Kubernetes Secret mounted as a file): the next check sends it and reads the key.
    std::fs::write(&sk_file, "testsk").unwrap();
    let obs = reader.read(&desired).await;
    assert!(matches!(outcome(&obs), Outcome::Found(_)), "{:?}", outcome(&obs));
    assert_eq!(refused_calls(), u64::from(MAX_REFUSED_CHECKS));
    running.stop().await.unwrap();
}
