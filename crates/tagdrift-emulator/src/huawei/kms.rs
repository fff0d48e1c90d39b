//! KMS (keys) APIs: list keys (`POST .../kms/list-keys`, string fields, `key_spec` defaulting to `AES_256`,
//! `truncated` as the string `"true"`/`"false"`), describe key, a key's tags (`existTagsNum`), the batch and
//! single tag writes, the project tag catalogue and the `resource_instances` batch query. Unknown key ids
//! are 400 `KMS.0205` "Invalid key ID" (the status the reference's error table gives that code).

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::tagging::{self, Service};
use super::{Api, HwError, HwRequest, Principal, Route, Success};
use crate::store::{HuaweiAccount, HuaweiProject, Resource};
use crate::{BatchAnswer, State};

const SERVICE: Service = Service::Kms;
/// Largest and default `limit` of list keys (the emulator's choice; the reference gives neither).
pub(super) const MAX_LIST_LIMIT: usize = 1000;
/// The spec of a key without one in the inventory, and what list keys selects without `key_spec`.
pub(super) const KEY_SPEC: &str = "AES_256";

fn not_found(id: &str) -> HwError {
    HwError::dew(
        StatusCode::BAD_REQUEST,
        "KMS.0205",
        format!("Invalid key ID '{id}'."),
    )
}

/// A default master key: marked so in the inventory, or (as cloud services name theirs) aliased `*/default`.
fn is_default(key: &Resource) -> bool {
    key.default_key || key.alias.as_deref().is_some_and(|a| a.ends_with("/default"))
}

/// `key_state`: "4" pending deletion, else "2" enabled (the SDK's `KeyDetails` enumeration).
fn key_state(key: &Resource) -> &'static str {
    if key.pending_deletion { "4" } else { "2" }
}

/// Refuses a tag call (read or write) on a key that cannot carry tags, with the KMS error table's codes:
/// `KMS.0211` for a default master key, `KMS.0210` for a key pending deletion. Whether the real service also
/// refuses tag *reads* is not documented; the emulator is strict (docs/emulator.md).
fn refuse_untaggable(key: &Resource) -> Result<(), HwError> {
    if is_default(key) {
        return Err(HwError::dew(
            StatusCode::BAD_REQUEST,
            "KMS.0211",
            "Cannot perform this operation on Default Master Keys.",
        ));
    }
    if key.pending_deletion {
        return Err(HwError::dew(
            StatusCode::BAD_REQUEST,
            "KMS.0210",
            "The key is in Scheduled deletion state and cannot be used.",
        ));
    }
    Ok(())
}

/// A key as list keys (`key_details`), describe key and `resource_detail` show it: every field a string.
pub(super) fn key_json(account: &HuaweiAccount, project: &HuaweiProject, key: &Resource) -> Value {
    let default_key_flag = if is_default(key) { "1" } else { "0" };
    json!({
        "key_id": key.id,
        "domain_id": account.domain_id,
        "key_alias": key.alias.as_deref().unwrap_or_default(),
        "realm": project.region,
        "key_spec": key.key_spec.as_deref().unwrap_or(KEY_SPEC),
        "key_usage": "ENCRYPT_DECRYPT",
        "key_description": "",
        "creation_date": (key.created * 1000).to_string(),
        "scheduled_deletion_date": "",
        "key_state": key_state(key),
        "default_key_flag": default_key_flag,
        "key_type": "1",
        "expiration_time": "",
        "origin": "kms",
        "key_rotation_enabled": "false",
        "sys_enterprise_project_id": "0",
        "keystore_id": "0",
    })
}

/// A string field of a JSON body (numbers accepted as their text).
fn string_field(map: &serde_json::Map<String, Value>, name: &str) -> Result<Option<String>, HwError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(SERVICE.invalid(format!("Invalid {name}: expected a string."))),
    }
}

/// Runs an admitted KMS call.
pub(super) fn execute(
    state: &State,
    req: &HwRequest,
    route: &Route,
    principal: &Principal,
) -> Result<Success, HwError> {
    let resource = route.resource.as_deref().unwrap_or_default();
    match route.api {
        Api::ListKeys => {
            let body = if req.body.is_empty() {
                serde_json::Map::new()
            } else {
                tagging::parse_object(SERVICE, &req.body)?
            };
            let store = state.store();
            let (account, project) = place(&store, principal, route)?;
            list_keys(&body, account, project)
        }
        Api::ListKeyDetail => {
            let body = tagging::parse_object(SERVICE, &req.body)?;
            let key_id = string_field(&body, "key_id")?
                .ok_or_else(|| SERVICE.invalid("The key_id parameter is missing."))?;
            let store = state.store();
            let (account, project) = place(&store, principal, route)?;
            let key = readable(find(project, &key_id)?)?;
            Ok(Success::Json(
                json!({"key_info": key_json(account, project, key)}),
            ))
        }
        Api::ShowKmsTags => {
            let store = state.store();
            let (_, project) = place(&store, principal, route)?;
            let key = readable(find(project, resource)?)?;
            refuse_untaggable(key)?;
            Ok(Success::Json(json!({
                "tags": tagging::tags_json(&key.tags),
                "existTagsNum": key.tags.len(),
            })))
        }
        Api::ListKmsTags => {
            let store = state.store();
            let (_, project) = place(&store, principal, route)?;
            Ok(Success::Json(tagging::catalogue_json(project.tables.keys.rows())))
        }
        Api::ListKmsByTags => {
            let query = tagging::parse_instance_query(SERVICE, &req.body)?;
            let store = state.store();
            let (account, project) = place(&store, principal, route)?;
            let rows = project.tables.keys.rows();
            // The answer carries every selected key's tags: strict, a read-denied key refuses it all.
            if let Some(r) = rows.iter().find(|r| r.deny.read) {
                return Err(SERVICE.denied(&r.id));
            }
            let answer = state.options().huawei_batch_answer;
            if answer == BatchAnswer::Refuse {
                return Err(SERVICE.denied("resource_instances"));
            }
            let selected = rows
                .iter()
                .filter(|r| query.selects(r.alias.as_deref().unwrap_or_default(), &r.tags))
                .filter_map(|r| tagging::batch_tags(answer, &r.tags).map(|tags| (r, tags)));
            if query.count {
                return Ok(Success::Json(json!({"total_count": selected.count()})));
            }
            let mut total = 0usize;
            let mut resources = Vec::new();
            for (r, tags) in selected {
                if total >= query.offset && resources.len() < query.limit {
                    resources.push(json!({
                        "resource_id": r.id,
                        "resource_name": r.alias.as_deref().unwrap_or_default(),
                        "resource_detail": key_json(account, project, r),
                        "tags": tags,
                    }));
                }
                total += 1;
            }
            Ok(Success::Json(
                json!({"resources": resources, "total_count": total}),
            ))
        }
        Api::BatchCreateKmsTags | Api::CreateKmsTag | Api::DeleteTag => {
            let write = match route.api {
                Api::BatchCreateKmsTags => tagging::Write::Batch,
                Api::CreateKmsTag => tagging::Write::Single,
                _ => tagging::Write::DeleteKey,
            };
            let change = tagging::parse_write(SERVICE, write, &req.body, route.tag_key.as_deref())?;
            let mut store = state.store_mut();
            let project = store
                .huawei
                .get_mut(principal.account)
                .and_then(|a| a.project_mut(&route.project_id))
                .ok_or_else(|| not_found(resource))?;
            let key = project
                .tables
                .keys
                .get_mut(resource)
                .ok_or_else(|| not_found(resource))?;
            if key.deny.write {
                return Err(SERVICE.denied(resource));
            }
            refuse_untaggable(key)?;
            tagging::apply(SERVICE, key, &change)?;
            Ok(Success::NoContent)
        }
        _ => Err(SERVICE.invalid("Not a KMS API.")),
    }
}

fn place<'s>(
    store: &'s crate::Store,
    principal: &Principal,
    route: &Route,
) -> Result<(&'s HuaweiAccount, &'s HuaweiProject), HwError> {
    let account = store
        .huawei
        .get(principal.account)
        .ok_or_else(|| SERVICE.invalid("Unknown account."))?;
    let project = account
        .project(&route.project_id)
        .ok_or_else(|| SERVICE.invalid(format!("Unknown project '{}'.", route.project_id)))?;
    Ok((account, project))
}

/// `key` unless a policy denies reading it.
fn readable(key: &Resource) -> Result<&Resource, HwError> {
    if key.deny.read {
        return Err(SERVICE.denied(&key.id));
    }
    Ok(key)
}

fn find<'p>(project: &'p HuaweiProject, key_id: &str) -> Result<&'p Resource, HwError> {
    project.tables.keys.get(key_id).ok_or_else(|| not_found(key_id))
}

/// `POST /v1.0/{project_id}/kms/list-keys`. `marker` is an opaque position (the decimal index of the next
/// matching key, as `next_marker` hands it out), absent on the first page (an empty one is refused); `total` counts every key matching `key_state` and
/// `key_spec` (default `AES_256`, `ALL` for every spec).
fn list_keys(
    body: &serde_json::Map<String, Value>,
    account: &HuaweiAccount,
    project: &HuaweiProject,
) -> Result<Success, HwError> {
    let limit = match string_field(body, "limit")? {
        None => MAX_LIST_LIMIT,
        Some(l) => l
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=MAX_LIST_LIMIT).contains(l))
            .ok_or_else(|| {
                SERVICE.invalid(format!("Invalid limit '{l}' (expected 1 to {MAX_LIST_LIMIT})."))
            })?,
    };
    // The SDK and Terraform leave `marker` out of the first page; whether the service takes an empty one as
    // "from the start" is not documented, so the emulator refuses it (strict where the real answer is unknown).
    if body.get("marker").is_some_and(|m| m.as_str() == Some("")) {
        return Err(SERVICE.invalid("Invalid marker '': leave marker out of the first page."));
    }
    let start = match string_field(body, "marker")? {
        None => 0,
        Some(m) => m
            .trim()
            .parse::<usize>()
            .map_err(|_| SERVICE.invalid(format!("Invalid marker '{m}'.")))?,
    };
    let state = match string_field(body, "key_state")? {
        None => None,
        Some(s) if ["1", "2", "3", "4", "5"].contains(&s.as_str()) => Some(s),
        Some(s) => return Err(SERVICE.invalid(format!("Invalid key_state '{s}'."))),
    };
    let spec = string_field(body, "key_spec")?.unwrap_or_else(|| KEY_SPEC.to_owned());
    let rows: Vec<&Resource> = project
        .tables
        .keys
        .rows()
        .iter()
        .filter(|k| state.as_deref().is_none_or(|s| s == key_state(k)))
        .filter(|k| spec == "ALL" || k.key_spec.as_deref().unwrap_or(KEY_SPEC) == spec)
        .collect();
    let start = start.min(rows.len());
    let end = (start + limit).min(rows.len());
    let page = &rows[start..end];
    let truncated = end < rows.len();
    let next_marker = if truncated { end.to_string() } else { String::new() };
    let truncated = if truncated { "true" } else { "false" };
    Ok(Success::Json(json!({
        "keys": page.iter().map(|k| Value::String(k.id.to_string())).collect::<Vec<_>>(),
        "key_details": page.iter().map(|k| key_json(account, project, k)).collect::<Vec<_>>(),
        "next_marker": next_marker,
        "truncated": truncated,
        "total": rows.len(),
    })))
}
