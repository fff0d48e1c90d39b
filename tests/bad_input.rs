//! Bad cloud answers never panic and never pass for an empty one: every response body the readers decode
//! (Alibaba ListTagResources, ListKeys, ListSecrets, DescribeKey, DescribeSecret; Huawei secret and key tags,
//! ListSecrets, ListKeys, resource_instances), taken from a valid document and then truncated at every length,
//! with any node replaced by a value of another type, wrapped, emptied, made huge or nested deeply, decodes to
//! `Ok` or to an `InvalidResponse` error. Replacing a container of tags with something that is not one is
//! always an error, so a broken page can never read as "no tags".

use proptest::prelude::*;
use serde_json::{Value, json};
use tagdrift_cloud::wire::decode;
use tagdrift_cloud::{alibaba, huawei};
use tagdrift_core::vocab::{ErrorCode, ReadError};

/// One decoded answer reduced to what a reader takes from it: the entries (tag rows, ids, secrets, tags)
/// and the pagination token.
type Summary = (usize, Option<String>);

struct Api {
    name: &'static str,
    seed: &'static str,
    decode: fn(&[u8]) -> Result<Summary, ReadError>,
    /// JSON pointers to the lists and objects that carry tags or ids: replacing one with a value of another
    /// shape must be an error.
    carriers: &'static [&'static str],
}

fn ali_tag_page(body: &[u8]) -> Result<Summary, ReadError> {
    let page: alibaba::wire::TagPage = decode("ListTagResources", body)?;
    let next = page.next().map(str::to_owned);
    Ok((page.rows().len(), next))
}

fn ali_key_page(body: &[u8]) -> Result<Summary, ReadError> {
    let page: alibaba::wire::KeyPage = decode("ListKeys", body)?;
    let total = page.total_count.map(|n| n.to_string());
    Ok((page.ids().len(), total))
}

fn ali_secret_page(body: &[u8]) -> Result<Summary, ReadError> {
    let page: alibaba::wire::SecretPage = decode("ListSecrets", body)?;
    let total = page.total_count.map(|n| n.to_string());
    let tags: usize = page
        .secrets()
        .into_iter()
        .map(|s| 1 + s.tags.map(|t| t.into_tags().len()).unwrap_or(0))
        .sum();
    Ok((tags, total))
}

fn ali_describe_key(body: &[u8]) -> Result<Summary, ReadError> {
    let key: alibaba::wire::DescribeKey = decode("DescribeKey", body)?;
    Ok((usize::from(!key.key_metadata.key_id.is_empty()), None))
}

fn ali_describe_secret(body: &[u8]) -> Result<Summary, ReadError> {
    let secret: alibaba::wire::DescribeSecret = decode("DescribeSecret", body)?;
    let tags = secret.tags.map(|t| t.into_tags().len()).unwrap_or(0);
    Ok((tags, Some(secret.secret_name)))
}

fn hw_tags(body: &[u8]) -> Result<Summary, ReadError> {
    let answer: huawei::wire::TagsAnswer = decode("ListSecretTags", body)?;
    Ok((answer.into_tags().len(), None))
}

fn hw_secret_page(body: &[u8]) -> Result<Summary, ReadError> {
    let page: huawei::wire::SecretPage = decode("ListSecrets", body)?;
    let next = page.next_marker().map(str::to_owned);
    Ok((page.secrets.len(), next))
}

fn hw_key_page(body: &[u8]) -> Result<Summary, ReadError> {
    let page: huawei::wire::KeyPage = decode("ListKeys", body)?;
    let next = page.next()?.map(str::to_owned);
    Ok((page.keys().len(), next))
}

fn hw_instances(body: &[u8]) -> Result<Summary, ReadError> {
    let page: huawei::wire::InstancePage = decode("ListSecretInstances", body)?;
    let mut n = 0;
    for r in page.resources {
        n += 1 + r.secret_name().map_or(0, |_| 1) + r.key_alias().map_or(0, |_| 1);
        n += huawei::wire::merge(r.tags, r.sys_tags).len();
    }
    Ok((n, page.total_count.map(|t| t.to_string())))
}

const APIS: &[Api] = &[
    Api {
        name: "alibaba ListTagResources",
        seed: r#"{"RequestId":"r-1","NextToken":"dG9rZW4=","TagResources":{"TagResource":[{"ResourceId":"key-1","ResourceType":"key","TagKey":"owner","TagValue":"payments"},{"ResourceId":"key-1","ResourceType":"key","TagKey":"env","TagValue":""},{"ResourceId":"key-2","TagKey":"owner","TagValue":"web"}]}}"#,
        decode: ali_tag_page,
        carriers: &["/TagResources", "/TagResources/TagResource"],
    },
    Api {
        name: "alibaba ListKeys",
        seed: r#"{"RequestId":"r-1","TotalCount":3,"PageNumber":1,"PageSize":100,"Keys":{"Key":[{"KeyId":"key-1","KeyArn":"acs:kms:cn-hangzhou:1:key/key-1"},{"KeyId":"key-2"},{"KeyId":"key-3"}]}}"#,
        decode: ali_key_page,
        carriers: &["/Keys", "/Keys/Key"],
    },
    Api {
        name: "alibaba ListSecrets",
        seed: r#"{"RequestId":"r-1","TotalCount":"2","PageNumber":1,"PageSize":100,"SecretList":{"Secret":[{"SecretName":"db-password","SecretType":"Generic","Tags":{"Tag":[{"TagKey":"owner","TagValue":"payments"},{"TagKey":"env","TagValue":"prod"}]}},{"SecretName":"api-token"}]}}"#,
        decode: ali_secret_page,
        carriers: &[
            "/SecretList",
            "/SecretList/Secret",
            "/SecretList/Secret/0/Tags",
            "/SecretList/Secret/0/Tags/Tag",
        ],
    },
    Api {
        name: "alibaba DescribeKey",
        seed: r#"{"RequestId":"r-1","KeyMetadata":{"KeyId":"key-1","KeyState":"Enabled","CreationDate":"2024-01-01T00:00:00Z"}}"#,
        decode: ali_describe_key,
        carriers: &["/KeyMetadata"],
    },
    Api {
        name: "alibaba DescribeSecret",
        seed: r#"{"RequestId":"r-1","SecretName":"db-password","Tags":{"Tag":[{"TagKey":"owner","TagValue":"payments"}]}}"#,
        decode: ali_describe_secret,
        carriers: &["/Tags", "/Tags/Tag"],
    },
    Api {
        name: "huawei tags",
        seed: r#"{"tags":[{"key":"owner","value":"payments"},{"key":"env","value":""}],"sys_tags":[{"key":"_sys_enterprise_project_id","value":"0"}]}"#,
        decode: hw_tags,
        carriers: &["/tags", "/sys_tags"],
    },
    Api {
        name: "huawei ListSecrets",
        seed: r#"{"secrets":[{"id":"5a2b1c3d-0000-4000-8000-000000000001","name":"db-password","state":"ENABLED"},{"id":"5a2b1c3d-0000-4000-8000-000000000002","name":"api-token"}],"page_info":{"next_marker":"api-token","previous_marker":"","current_count":2}}"#,
        decode: hw_secret_page,
        carriers: &["/secrets", "/page_info"],
    },
    Api {
        name: "huawei ListKeys",
        seed: r#"{"keys":["0d0466b0-e727-4d9c-b35d-f84bb474a37f","1d0466b0-e727-4d9c-b35d-f84bb474a37f"],"key_details":[{"key_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f","key_alias":"app-key","key_state":"2"},{"key_id":"1d0466b0-e727-4d9c-b35d-f84bb474a37f","key_alias":""}],"next_marker":"2","truncated":"true","total":3}"#,
        decode: hw_key_page,
        carriers: &["/keys", "/key_details"],
    },
    Api {
        name: "huawei resource_instances",
        seed: r#"{"resources":[{"resource_id":"5a2b1c3d-0000-4000-8000-000000000001","resource_name":"db-password","resource_detail":{"name":"db-password","state":"ENABLED"},"tags":[{"key":"owner","value":"payments"}],"sys_tags":[{"key":"_sys_enterprise_project_id","value":"0"}]}],"total_count":1}"#,
        decode: hw_instances,
        carriers: &[
            "/resources",
            "/resources/0/tags",
            "/resources/0/sys_tags",
            "/resources/0/resource_detail",
        ],
    },
];

/// Decodes and checks the one allowed failure: an `InvalidResponse` naming the body's size.
fn outcome(api: &Api, body: &[u8]) -> Result<Summary, ReadError> {
    let result = (api.decode)(body);
    if let Err(e) = &result {
        assert_eq!(e.code, ErrorCode::InvalidResponse, "{}: {}", api.name, e.message);
        assert!(e.message.starts_with("invalid "), "{}: {}", api.name, e.message);
    }
    result
}

#[test]
fn every_seed_decodes_with_entries() {
    for api in APIS {
        let (n, _) =
            outcome(api, api.seed.as_bytes()).unwrap_or_else(|e| panic!("{}: {}", api.name, e.message));
        assert!(n > 0, "{}: the seed must carry entries", api.name);
    }
}

#[test]
fn a_body_truncated_at_any_length_is_an_invalid_response() {
    for api in APIS {
        let seed = api.seed.as_bytes();
        for len in 0..seed.len() {
            match outcome(api, &seed[..len]) {
                Err(_) => {}
                Ok(summary) => panic!("{}: {len} of {} bytes read as {summary:?}", api.name, seed.len()),
            }
        }
    }
}

/// The values that take the place of a tag container in [`a_carrier_of_another_shape_is_an_error`].
fn wrong_shapes(original: &Value) -> Vec<Value> {
    let mut out = vec![
        json!(""),
        json!("x"),
        json!(0),
        json!(1.5),
        json!(true),
        json!(false),
        json!([[]]),
        json!([1]),
        json!([true]),
        json!([[original.clone()]]),
    ];
    if !original
        .as_array()
        .is_some_and(|a| a.iter().all(Value::is_string))
    {
        // A list of strings (Huawei's bare key ids) may hold any string.
        out.push(json!(["a"]));
    }
    if original.is_array() {
        // An object in place of a list is read as a one-element list (Huawei's SDK does so), so only one that
        // lacks the element's fields is wrong.
        out.push(json!({}));
        out.push(json!({"x": 1}));
    } else {
        out.push(json!([]));
        out.push(json!([original.clone()]));
    }
    out
}

#[test]
fn a_carrier_of_another_shape_is_an_error() {
    for api in APIS {
        let seed: Value = serde_json::from_str(api.seed).unwrap();
        for pointer in api.carriers {
            let original = seed
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{pointer}"))
                .clone();
            for wrong in wrong_shapes(&original) {
                let mut doc = seed.clone();
                *doc.pointer_mut(pointer).unwrap() = wrong.clone();
                let body = serde_json::to_vec(&doc).unwrap();
                if let Ok(summary) = outcome(api, &body) {
                    panic!("{}: {pointer} = {wrong} read as {summary:?}", api.name);
                }
            }
        }
    }
}

/// Regression: serde reads a struct from a JSON array by position, so `[]` in place of a whole answer or of a
/// container object decoded as an empty page: "no tags" for a broken answer.
#[test]
fn regression_an_array_in_place_of_an_object_is_not_an_empty_page() {
    for api in APIS {
        assert!(outcome(api, b"[]").is_err(), "{}", api.name);
        assert!(outcome(api, b" \n[]").is_err(), "{}", api.name);
        assert!(outcome(api, b"null").is_err(), "{}", api.name);
    }
    let tag_page = &APIS[0];
    assert!(outcome(tag_page, br#"{"TagResources":[]}"#).is_err());
    let rows_as_arrays = br#"{"TagResources":{"TagResource":[["key-1","owner","x"]]}}"#;
    assert!(outcome(tag_page, rows_as_arrays).is_err());
    let hw_secrets = &APIS[6];
    assert!(outcome(hw_secrets, br#"{"secrets":[],"page_info":[]}"#).is_err());
}

/// Regression: a Huawei key page that says `truncated: "true"` without a marker ended the listing there, so
/// the keys of the later pages were never read.
#[test]
fn regression_a_truncated_key_page_without_a_marker_is_an_error() {
    let keys = &APIS[7];
    for body in [
        r#"{"keys":["k1"],"truncated":"true"}"#,
        r#"{"keys":["k1"],"truncated":true,"next_marker":""}"#,
        r#"{"keys":["k1"],"truncated":"TRUE","next_marker":null}"#,
    ] {
        let err = outcome(keys, body.as_bytes()).unwrap_err();
        assert!(err.message.contains("truncated"), "{}", err.message);
    }
    assert_eq!(
        outcome(keys, br#"{"keys":["k1"],"truncated":"false","next_marker":""}"#).unwrap(),
        (1, None)
    );
}

#[test]
fn documented_empty_answers_stay_empty_successes() {
    let empty = [
        (0, r#"{"RequestId":"r","TagResources":{"TagResource":[]}}"#),
        (0, r#"{"RequestId":"r","TagResources":{}}"#),
        (0, r#"{"RequestId":"r"}"#),
        (1, r#"{"Keys":{"Key":[]},"TotalCount":0}"#),
        (2, r#"{"SecretList":{"Secret":[]},"TotalCount":0}"#),
        (5, r#"{"tags":[],"sys_tags":null}"#),
        (6, r#"{"secrets":[],"page_info":{"next_marker":null}}"#),
        (7, r#"{"keys":[],"key_details":[],"truncated":"false"}"#),
        (8, r#"{"resources":null,"total_count":0}"#),
    ];
    for (i, body) in empty {
        let (n, _) = outcome(&APIS[i], body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {}", e.message));
        assert_eq!(n, 0, "{body}");
    }
}

#[test]
fn huge_and_deep_bodies_decode_or_fail_without_a_panic() {
    // A 1 MiB tag value and 20,000 rows are read whole.
    let value = "v".repeat(1 << 20);
    let rows: Vec<Value> = (0..20_000)
        .map(|i| json!({"ResourceId": format!("key-{i}"), "TagKey": "owner", "TagValue": value.len().to_string()}))
        .collect();
    let mut rows_with_huge = rows.clone();
    rows_with_huge.push(json!({"ResourceId": "key-big", "TagKey": "k", "TagValue": value}));
    let body = serde_json::to_vec(&json!({"TagResources": {"TagResource": rows_with_huge}})).unwrap();
    assert_eq!(outcome(&APIS[0], &body).unwrap().0, 20_001);

    // Nesting beyond serde_json's recursion limit is an error, not a stack overflow, wherever it sits.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for api in APIS {
        assert!(outcome(api, deep.as_bytes()).is_err(), "{}", api.name);
        // An unknown field is skipped without recursion, so any depth there is fine; only no crash counts.
        let nested_unknown = format!(r#"{{"Unknown":{deep},"tags":[]}}"#);
        let _ = outcome(api, nested_unknown.as_bytes());
        let nested_object = format!("{}{}", r#"{"a":"#.repeat(50_000), "}".repeat(50_000));
        assert!(outcome(api, nested_object.as_bytes()).is_err(), "{}", api.name);
    }
}

/// Every JSON pointer of a document (the root included).
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                pointers(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(Value),
    WrapInArray,
    WrapInObject(String),
    Repeat(usize),
    Nest(usize),
    Remove,
}

fn junk() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1e300f64..1e300).prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        (1usize..200_000).prop_map(|n| Value::String("é".repeat(n))),
        Just(json!([])),
        Just(json!({})),
        Just(json!([null])),
        Just(json!({"TagKey": 1, "key": [], "KeyId": {}})),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => junk().prop_map(Mutation::Replace),
        1 => Just(Mutation::WrapInArray),
        1 => "[A-Za-z_]{1,12}".prop_map(Mutation::WrapInObject),
        1 => (0usize..50).prop_map(Mutation::Repeat),
        1 => (1usize..300).prop_map(Mutation::Nest),
        1 => Just(Mutation::Remove),
    ]
}

fn apply(doc: &mut Value, pointer: &str, mutation: &Mutation) {
    if let Mutation::Remove = mutation {
        let Some((parent, last)) = pointer.rsplit_once('/') else {
            *doc = Value::Null;
            return;
        };
        match doc.pointer_mut(parent) {
            Some(Value::Object(map)) => {
                map.remove(&last.replace("~1", "/").replace("~0", "~"));
            }
            Some(Value::Array(items)) => {
                if let Ok(i) = last.parse::<usize>() {
                    items.remove(i);
                }
            }
            _ => {}
        }
        return;
    }
    let node = doc.pointer_mut(pointer).expect("pointer of the document");
    let old = node.take();
    *node = match mutation {
        Mutation::Replace(v) => v.clone(),
        Mutation::WrapInArray => json!([old]),
        Mutation::WrapInObject(k) => json!({ k.clone(): old }),
        Mutation::Repeat(n) => Value::Array(vec![old; *n]),
        Mutation::Nest(depth) => (0..*depth).fold(old, |v, _| json!([v])),
        Mutation::Remove => unreachable!(),
    };
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any node of any answer replaced, wrapped, repeated, nested or removed (up to three times): `Ok` or an
    /// `InvalidResponse`, never a panic.
    #[test]
    fn mutated_answers_decode_or_are_invalid_responses(
        api in 0..APIS.len(),
        steps in prop::collection::vec((any::<prop::sample::Index>(), mutation()), 1..4),
    ) {
        let api = &APIS[api];
        let mut doc: Value = serde_json::from_str(api.seed).unwrap();
        for (at, m) in &steps {
            let mut all = Vec::new();
            pointers(&doc, String::new(), &mut all);
            let pointer = at.get(&all).clone();
            apply(&mut doc, &pointer, m);
        }
        let body = serde_json::to_vec(&doc).unwrap();
        let _ = outcome(api, &body);
    }

    /// Arbitrary bytes, and valid answers with arbitrary bytes spliced in: never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(
        api in 0..APIS.len(),
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        at in any::<prop::sample::Index>(),
    ) {
        let api = &APIS[api];
        let _ = outcome(api, &bytes);
        let seed = api.seed.as_bytes();
        let cut = at.index(seed.len() + 1);
        let mut spliced = seed[..cut].to_vec();
        spliced.extend_from_slice(&bytes);
        spliced.extend_from_slice(&seed[cut..]);
        let _ = outcome(api, &spliced);
    }
}
