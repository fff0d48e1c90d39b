//! Tag rules and request bodies CSMS and KMS share in shape but not in limits: the batch
//! `tags/action` body (`create` | `delete`), the single-tag `{"tag":{...}}` body, key/value validation with
//! each service's rules, applying a validated change to a resource's tags, and the `resource_instances`
//! query (`filter` | `count`, `limit`/`offset` as strings or numbers, `tags` AND-ed by key with OR-ed values,
//! `matches` on `resource_name`).

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::HwError;
use crate::BatchAnswer;
use crate::store::{Resource, TagList};

/// Which service's rules and error codes apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Service {
    Csms,
    Kms,
}

impl Service {
    /// Tags a resource may carry.
    /// A policy refusing the caller this resource (403, after the signature was checked): `KMS.0306` is
    /// DEW's documented "no permission to access the key"; no CSMS code for it is documented, so secrets
    /// get `CSMS.0403`, the emulator's own (tagdrift takes any 403 with a DEW code as a permission refusal).
    pub(super) fn denied(self, resource: &str) -> HwError {
        match self {
            Service::Kms => HwError::dew(
                StatusCode::FORBIDDEN,
                "KMS.0306",
                format!("The user has no permission to access the key '{resource}'."),
            ),
            Service::Csms => HwError::dew(
                StatusCode::FORBIDDEN,
                "CSMS.0403",
                format!("The user has no permission to access the secret '{resource}'."),
            ),
        }
    }

    pub(super) fn max_tags(self) -> usize {
        match self {
            Service::Csms => 20,
            Service::Kms => 10,
        }
    }

    /// 400 invalid-parameter error of the service.
    pub(super) fn invalid(self, message: impl Into<String>) -> HwError {
        let code = match self {
            Service::Csms => "CSMS.0002",
            Service::Kms => "KMS.0204",
        };
        HwError::dew(StatusCode::BAD_REQUEST, code, message)
    }

    /// 400 for a body that is not the expected JSON.
    pub(super) fn bad_body(self, why: impl std::fmt::Display) -> HwError {
        let code = match self {
            Service::Csms => "CSMS.0004",
            Service::Kms => "KMS.0202",
        };
        HwError::dew(
            StatusCode::BAD_REQUEST,
            code,
            format!("The request body is invalid: {why}"),
        )
    }

    fn tag_error(self, kms_code: &'static str, message: String) -> HwError {
        match self {
            Service::Csms => HwError::dew(StatusCode::BAD_REQUEST, "CSMS.0002", message),
            Service::Kms => HwError::dew(StatusCode::BAD_REQUEST, kms_code, message),
        }
    }

    /// Checks one tag key against the service's rules.
    pub(super) fn check_key(self, key: &str) -> Result<(), HwError> {
        let len = key.chars().count();
        let ok = match self {
            Service::Csms => {
                (1..=128).contains(&len)
                    && !key.starts_with(char::is_whitespace)
                    && !key.ends_with(char::is_whitespace)
                    && !key.starts_with("_sys_")
                    && key.chars().all(|c| csms_char(c, false))
            }
            // `_sys_` keys are the cloud's own (enterprise project and the like) on every TMS-tagged
            // service; a user write of one is refused as on CSMS.
            Service::Kms => (1..=36).contains(&len) && !key.starts_with("_sys_") && key.chars().all(kms_char),
        };
        if ok {
            Ok(())
        } else {
            Err(self.tag_error("KMS.0402", format!("Invalid tag key '{key}'.")))
        }
    }

    /// Checks one tag value against the service's rules.
    pub(super) fn check_value(self, value: &str) -> Result<(), HwError> {
        let len = value.chars().count();
        let ok = match self {
            Service::Csms => len <= 255 && value.chars().all(|c| csms_char(c, true)),
            Service::Kms => len <= 43 && value.chars().all(kms_char),
        };
        if ok {
            Ok(())
        } else {
            Err(self.tag_error("KMS.0403", format!("Invalid tag value '{value}'.")))
        }
    }
}

/// `\p{Z}`: space separators (not tabs or newlines, which are control characters).
fn is_space_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// CSMS: letters, numbers, space separators and `_ . : = + - @` (values also `/`).
fn csms_char(c: char, value: bool) -> bool {
    c.is_alphabetic()
        || c.is_numeric()
        || is_space_separator(c)
        || "_.:=+-@".contains(c)
        || (value && c == '/')
}

/// KMS: anything but ASCII control characters and `* < > \ =`.
fn kms_char(c: char) -> bool {
    !(c.is_ascii_control() || "*<>\\=".contains(c))
}

/// What a tag write does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Create,
    Delete,
}

/// A validated tag write: the action and its (key, value) pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TagChange {
    pub action: Action,
    pub tags: Vec<(String, String)>,
}

/// Parses a JSON body into an object.
pub(super) fn parse_object(service: Service, body: &[u8]) -> Result<serde_json::Map<String, Value>, HwError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(service.bad_body("expected a JSON object")),
        Err(e) => Err(service.bad_body(e)),
    }
}

fn tag_pair(service: Service, value: &Value, need_value: bool) -> Result<(String, String), HwError> {
    let Value::Object(tag) = value else {
        return Err(service.bad_body("a tag must be an object with key and value"));
    };
    let key = match tag.get("key") {
        Some(Value::String(k)) => k.clone(),
        _ => return Err(service.invalid("Tag key is missing.")),
    };
    let value = match tag.get("value") {
        Some(Value::String(v)) => v.clone(),
        None | Some(Value::Null) if !need_value => String::new(),
        None | Some(Value::Null) => return Err(service.invalid(format!("Tag '{key}' has no value."))),
        Some(_) => return Err(service.bad_body("a tag value must be a string")),
    };
    service.check_key(&key)?;
    if need_value {
        service.check_value(&value)?;
    }
    Ok((key, value))
}

/// The batch body `{"action":"create"|"delete","tags":[{"key","value"}],"sequence"}`.
pub(super) fn parse_batch(service: Service, body: &[u8]) -> Result<TagChange, HwError> {
    let map = parse_object(service, body)?;
    let action = match map.get("action").and_then(Value::as_str) {
        Some("create") => Action::Create,
        Some("delete") => Action::Delete,
        Some(other) => {
            return Err(service.invalid(format!("Invalid action '{other}' (expected create or delete).")));
        }
        None => return Err(service.invalid("The action parameter is missing.")),
    };
    let items: &[Value] = match map.get("tags") {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => &[],
        Some(_) => return Err(service.bad_body("tags must be an array")),
    };
    if items.is_empty() {
        return Err(service.tag_error("KMS.0401", "Tag list cannot be empty.".to_owned()));
    }
    let tags = items
        .iter()
        .map(|t| tag_pair(service, t, action == Action::Create))
        .collect::<Result<Vec<_>, _>>()?;
    check_duplicates(service, &tags)?;
    Ok(TagChange { action, tags })
}

/// The single-tag body `{"tag":{"key","value"}}`.
pub(super) fn parse_single(service: Service, body: &[u8]) -> Result<TagChange, HwError> {
    let map = parse_object(service, body)?;
    let tag = map
        .get("tag")
        .ok_or_else(|| service.invalid("The tag parameter is missing."))?;
    Ok(TagChange {
        action: Action::Create,
        tags: vec![tag_pair(service, tag, true)?],
    })
}

/// The three tag-write forms both services share: the batch action, one tag created from the body, one tag
/// deleted by the key in the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Write {
    Batch,
    Single,
    DeleteKey,
}

/// The change a tag write asks for, from its form, body and (for [`Write::DeleteKey`]) the path's key.
pub(super) fn parse_write(
    service: Service,
    write: Write,
    body: &[u8],
    path_key: Option<&str>,
) -> Result<TagChange, HwError> {
    match write {
        Write::Batch => parse_batch(service, body),
        Write::Single => parse_single(service, body),
        Write::DeleteKey => Ok(TagChange {
            action: Action::Delete,
            tags: vec![(path_key.unwrap_or_default().to_owned(), String::new())],
        }),
    }
}

fn check_duplicates(service: Service, tags: &[(String, String)]) -> Result<(), HwError> {
    let mut keys: Vec<&str> = tags.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
        return Err(service.tag_error("KMS.0405", format!("Duplicate tag key '{}'.", w[0])));
    }
    Ok(())
}

/// Applies a validated change: `create` overwrites existing values, `delete` removes keys (unknown keys
/// are ignored). Nothing changes when the result would exceed the service's tag limit.
pub(super) fn apply(service: Service, resource: &mut Resource, change: &TagChange) -> Result<(), HwError> {
    match change.action {
        Action::Create => {
            let added = change
                .tags
                .iter()
                .filter(|(k, _)| resource.tags.get(k).is_none())
                .count();
            if resource.tags.len() + added > service.max_tags() {
                return Err(service.tag_error(
                    "KMS.0404",
                    format!(
                        "Too many tags: a resource can have at most {} tags.",
                        service.max_tags()
                    ),
                ));
            }
            for (k, v) in &change.tags {
                resource.tags.set(k, v);
            }
        }
        Action::Delete => {
            for (k, _) in &change.tags {
                resource.tags.remove(k);
            }
        }
    }
    Ok(())
}

/// `[{"key","value"}, ...]` in key order.
pub(super) fn tags_json(tags: &TagList) -> Value {
    Value::Array(tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect())
}

/// `{"tags":[{"key","values":[...]}]}`: every key used in a table with its distinct values.
pub(super) fn catalogue_json(rows: &[Resource]) -> Value {
    let mut all: std::collections::BTreeMap<&str, std::collections::BTreeSet<&str>> =
        std::collections::BTreeMap::new();
    for r in rows {
        for (k, v) in r.tags.iter() {
            all.entry(k).or_default().insert(v);
        }
    }
    let tags: Vec<Value> = all
        .into_iter()
        .map(|(k, values)| json!({"key": k, "values": values.into_iter().collect::<Vec<_>>()}))
        .collect();
    json!({ "tags": tags })
}

/// A resource's tags as the `resource_instances` answer shows them under `answer`, or `None` when the answer
/// leaves the resource out.
pub(super) fn batch_tags(answer: BatchAnswer, tags: &TagList) -> Option<Value> {
    match answer {
        BatchAnswer::OmitUntagged if tags.is_empty() => None,
        BatchAnswer::DropTag => {
            let kept = tags.len().saturating_sub(1);
            Some(Value::Array(
                tags.iter()
                    .take(kept)
                    .map(|(k, v)| json!({"key": k, "value": v}))
                    .collect(),
            ))
        }
        _ => Some(tags_json(tags)),
    }
}

/// A parsed `resource_instances/action` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct InstanceQuery {
    /// `count` (only `total_count`) rather than `filter`.
    pub count: bool,
    pub limit: usize,
    pub offset: usize,
    /// (key, accepted values; empty = any value), AND-ed.
    pub tags: Vec<(String, Vec<String>)>,
    /// Substring the resource name must contain.
    pub name_contains: Option<String>,
}

/// A non-negative integer sent as a string (the SDK) or a number (terraform).
fn int_field(
    service: Service,
    map: &serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<usize>, HwError> {
    let invalid = || service.invalid(format!("Invalid {name}."));
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse::<usize>().map(Some).map_err(|_| invalid()),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(invalid),
        Some(_) => Err(invalid()),
    }
}

/// Parses and checks a `resource_instances/action` body.
pub(super) fn parse_instance_query(service: Service, body: &[u8]) -> Result<InstanceQuery, HwError> {
    let map = parse_object(service, body)?;
    let count = match map.get("action").and_then(Value::as_str) {
        Some("filter") => false,
        Some("count") => true,
        Some(other) => {
            return Err(service.invalid(format!("Invalid action '{other}' (expected filter or count).")));
        }
        None => return Err(service.invalid("The action parameter is missing.")),
    };
    let limit = int_field(service, &map, "limit")?.unwrap_or(10);
    if !count && !(1..=1000).contains(&limit) {
        return Err(service.invalid(format!("Invalid limit {limit} (expected 1 to 1000).")));
    }
    let offset = int_field(service, &map, "offset")?.unwrap_or(0);
    let mut tags = Vec::new();
    match map.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            if items.len() > 10 {
                return Err(service.invalid("At most 10 tags can be given."));
            }
            for item in items {
                let key = item
                    .get("key")
                    .and_then(Value::as_str)
                    .ok_or_else(|| service.invalid("A tag filter has no key."))?;
                let values = match item.get("values") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(vs)) => vs
                        .iter()
                        .map(|v| v.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| service.bad_body("tag filter values must be strings"))?,
                    Some(_) => return Err(service.bad_body("tag filter values must be an array")),
                };
                if values.len() > 10 {
                    return Err(service.invalid(format!("At most 10 values can be given for tag '{key}'.")));
                }
                tags.push((key.to_owned(), values));
            }
        }
        Some(_) => return Err(service.bad_body("tags must be an array")),
    }
    let mut name_contains = None;
    match map.get("matches") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let key = item.get("key").and_then(Value::as_str).unwrap_or_default();
                if key != "resource_name" {
                    return Err(service.tag_error(
                        "KMS.0415",
                        format!("Invalid matches key '{key}' (only resource_name is supported)."),
                    ));
                }
                let value = item.get("value").and_then(Value::as_str).unwrap_or_default();
                name_contains = Some(value.to_owned());
            }
        }
        Some(_) => return Err(service.bad_body("matches must be an array")),
    }
    Ok(InstanceQuery {
        count,
        limit,
        offset,
        tags,
        name_contains,
    })
}

impl InstanceQuery {
    /// Whether a resource (with its display name) is selected.
    pub(super) fn selects(&self, name: &str, tags: &TagList) -> bool {
        if let Some(part) = &self.name_contains
            && !name.contains(part.as_str())
        {
            return false;
        }
        self.tags.iter().all(|(key, values)| match tags.get(key) {
            Some(v) => values.is_empty() || values.iter().any(|want| want == v),
            None => false,
        })
    }
}
