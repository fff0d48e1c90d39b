//! Decoding helpers both clouds' response types share: a list that may arrive as one object or `null`, a
//! number or boolean that may arrive as a string, and [`decode`], which turns any body that does not fit its
//! type into an [`ErrorCode::InvalidResponse`] naming the API and where the body went wrong.
//!
//! The tolerance is deliberately narrow: only the variants the references document (Huawei's SDK wraps a
//! scalar into a one-element list and coerces primitives; absent lists and `null` mean empty). Every field the
//! readers rely on stays required, so a truncated body or an array turned into an empty object still fails,
//! and an array where an object belongs ([`opt_object`], [`object`], a whole answer, a list element) is
//! refused rather than read by position as an empty struct. `tests/bad_input.rs` mutates every answer type.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};

use crate::{ErrorCode, ReadError};

/// Decodes `body` as `T`, or explains why not: `invalid ListKeys response: missing field `KeyId` at line 1
/// column 80`. The body itself is never echoed (it may be large; it never holds credentials, but stays out of
/// messages anyway).
pub fn decode<T: DeserializeOwned>(api: &str, body: &[u8]) -> Result<T, ReadError> {
    parse(body).map_err(|why| {
        ReadError::new(
            ErrorCode::InvalidResponse,
            format!("invalid {api} response ({} bytes): {why}", body.len()),
        )
    })
}

/// The decoding rule itself, without naming the API: what [`decode`] applies, and what the transport's body
/// check applies before a call counts as answered, so the two can never disagree.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    // serde reads a struct from a JSON array by position, so `[]` would be an empty page; every answer is an
    // object.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err("not a JSON object".to_owned());
    }
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

/// A list: a JSON array, one object (wrapped), or `null` (empty). Use with `#[serde(default)]` so an absent
/// field is empty too.
pub fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    use serde_json::Value;
    let element = |v: Value, at: Option<usize>| {
        T::deserialize(v).map_err(|e| match at {
            Some(i) => D::Error::custom(format!("element {i}: {e}")),
            None => D::Error::custom(e),
        })
    };
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                // serde would read an array as a struct by position: `["k1","owner","x"]` as a tag row.
                Value::Array(_) => Err(D::Error::custom(format!(
                    "element {i}: expected an object or a string, got an array"
                ))),
                v => element(v, Some(i)),
            })
            .collect(),
        Some(one @ Value::Object(_)) => Ok(vec![element(one, None)?]),
        Some(other) => Err(D::Error::custom(format!("expected a list, got {}", kind(&other)))),
    }
}

/// A nested object that may be absent or `null`. An array or a scalar in its place is refused: serde alone
/// would read `[]` as a struct whose fields are all defaulted, so a broken answer would look like an empty one.
pub fn opt_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    use serde_json::Value;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => T::deserialize(v).map(Some).map_err(D::Error::custom),
        Some(other) => Err(D::Error::custom(format!(
            "expected an object, got {}",
            kind(&other)
        ))),
    }
}

/// A required nested object: like [`opt_object`], but absent or `null` is an error too.
pub fn object<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    opt_object(d)?.ok_or_else(|| D::Error::custom("expected an object, got null"))
}

/// A string that may be absent, `null` or a number (Huawei's SDK coerces primitives with `str()`).
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(serde_json::Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(D::Error::custom(format!(
            "expected a string, got {}",
            kind(&other)
        ))),
    }
}

/// A required string that must really be a string: ids and tag keys are never coerced, so a corrupted body
/// (a string turned into a number) is refused instead of being read as a different resource.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d)
}

/// A count that may be a JSON number or a numeric string.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected a count, got {n}"))),
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(serde_json::Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("expected a count, got {s:?}"))),
        Some(other) => Err(D::Error::custom(format!(
            "expected a count, got {}",
            kind(&other)
        ))),
    }
}

/// A flag that may be a JSON boolean or the string `"true"` / `"false"` (Huawei's `truncated`).
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Bool(b)) => Ok(Some(b)),
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("false") || s.is_empty() => {
            Ok(Some(false))
        }
        Some(other) => Err(D::Error::custom(format!("expected true or false, got {other}"))),
    }
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        #[serde(rename = "K", deserialize_with = "string")]
        k: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Doc {
        #[serde(rename = "L", default, deserialize_with = "list")]
        l: Vec<Item>,
        #[serde(rename = "N", default, deserialize_with = "opt_u64")]
        n: Option<u64>,
        #[serde(rename = "B", default, deserialize_with = "opt_bool")]
        b: Option<bool>,
        #[serde(rename = "S", default, deserialize_with = "opt_string")]
        s: Option<String>,
    }

    fn doc(text: &str) -> Result<Doc, ReadError> {
        decode("Test", text.as_bytes())
    }

    #[test]
    fn documented_variants_are_accepted() {
        let one = doc(r#"{"L":{"K":"a"},"N":"7","B":"true","S":12}"#).unwrap();
        assert_eq!(one.l, [Item { k: "a".into() }]);
        assert_eq!(
            (one.n, one.b, one.s.as_deref()),
            (Some(7), Some(true), Some("12"))
        );
        let empty = doc(r#"{"L":null,"B":"false"}"#).unwrap();
        assert!(empty.l.is_empty());
        assert_eq!((empty.n, empty.b, empty.s), (None, Some(false), None));
        assert!(doc("{}").unwrap().l.is_empty());
        assert_eq!(doc(r#"{"L":[{"K":"a"},{"K":"b"}],"N":3}"#).unwrap().l.len(), 2);
    }

    #[test]
    fn corrupted_bodies_are_invalid_responses_with_context() {
        for bad in [
            r#"{"L":{}}"#,          // an array turned into an empty object
            r#"{"L":[{"K":123}]}"#, // an id turned into a number
            r#"{"L":[{"K":"a"}"#,   // truncated
            r#"{"N":"many"}"#,      // a count that is not one
            r#"{"B":"maybe"}"#,     // a flag that is not one
            "",
        ] {
            let err = doc(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidResponse, "{bad}");
            assert!(
                err.message.starts_with("invalid Test response ("),
                "{}",
                err.message
            );
        }
    }
}
