//! CSMS (secrets) APIs: list secrets (`limit`/`marker` pages by secret name, `page_info`), show one secret
//! by name (unknown: 400 `CSMS.0106`), a secret's tags
//! by secret UUID, the batch and single tag writes, the project tag catalogue and the `resource_instances`
//! batch query. Unknown secret ids are 400 `CSMS.0005` "The resource does not exist." (the status the
//! reference's error table gives that code).

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::tagging::{self, Service};
use super::{Api, HwError, HwRequest, Principal, Route, Success};
use crate::store::{HuaweiProject, Resource};
use crate::{BatchAnswer, State};

const SERVICE: Service = Service::Csms;
/// Largest `limit` of list secrets (the emulator's bound; the reference gives only the default, 50).
pub(super) const MAX_LIST_LIMIT: usize = 200;
const DEFAULT_LIST_LIMIT: usize = 50;

fn not_found(id: &str) -> HwError {
    HwError::dew(
        StatusCode::BAD_REQUEST,
        "CSMS.0005",
        format!("The resource does not exist. (secret id '{id}')"),
    )
}

/// The id of the project's default CSMS encryption key, which every emulated secret uses.
pub(super) fn default_kms_key_id(project: &HuaweiProject) -> String {
    crate::inventory::derived_uuid(&[&project.project_id, "csms-default-key"])
}

/// A secret as list secrets and `resource_detail` show it. Times are epoch milliseconds, as the service
/// sends them.
pub(super) fn secret_json(secret: &Resource, kms_key_id: &str) -> Value {
    let created_ms = secret.created * 1000;
    let state = if secret.pending_deletion {
        "PENDING_DELETE"
    } else {
        "ENABLED"
    };
    json!({
        "id": secret.native_id.as_deref().unwrap_or_default(),
        "name": secret.id,
        "state": state,
        "kms_key_id": kms_key_id,
        "description": "",
        "create_time": created_ms,
        "update_time": created_ms,
        "scheduled_delete_time": 0,
        "secret_type": "COMMON",
        "auto_rotation": false,
        "rotation_period": "",
        "rotation_config": "",
        "rotation_time": 0,
        "next_rotation_time": 0,
        "event_subscriptions": [],
        "enterprise_project_id": "0",
        "rotation_func_urn": "",
    })
}

/// Refuses a tag call on a secret pending deletion. The error table has two codes for that state
/// (`CSMS.0103` "... cannot be used", `CSMS.0107` "The secret is in schedule delete state"); which one the tag
/// APIs answer is not documented, so reads answer `CSMS.0107` and writes `CSMS.0103` (docs/emulator.md).
fn refuse_pending(secret: &Resource, write: bool) -> Result<(), HwError> {
    if !secret.pending_deletion {
        return Ok(());
    }
    Err(if write {
        HwError::dew(
            StatusCode::BAD_REQUEST,
            "CSMS.0103",
            "The secret is in the scheduled deletion state.",
        )
    } else {
        HwError::dew(
            StatusCode::BAD_REQUEST,
            "CSMS.0107",
            "The secret is in schedule delete state.",
        )
    })
}

/// Runs an admitted CSMS call.
pub(super) fn execute(
    state: &State,
    req: &HwRequest,
    route: &Route,
    principal: &Principal,
) -> Result<Success, HwError> {
    let resource = route.resource.as_deref().unwrap_or_default();
    match route.api {
        Api::ListSecrets => {
            let store = state.store();
            let project = project(&store, principal, route)?;
            list_secrets(req, project)
        }
        Api::ShowSecret => {
            let store = state.store();
            let project = project(&store, principal, route)?;
            let secret = project.tables.secrets.get(resource).ok_or_else(|| {
                HwError::dew(
                    StatusCode::BAD_REQUEST,
                    "CSMS.0106",
                    "The secret name not found int the db.",
                )
            })?;
            let kms_key_id = default_kms_key_id(project);
            Ok(Success::Json(json!({"secret": secret_json(secret, &kms_key_id)})))
        }
        Api::ListSecretTags => {
            let store = state.store();
            let project = project(&store, principal, route)?;
            let secret = find(project, resource)?;
            if secret.deny.read {
                return Err(SERVICE.denied(resource));
            }
            refuse_pending(secret, false)?;
            Ok(Success::Json(json!({
                "tags": tagging::tags_json(&secret.tags),
                "sys_tags": [],
            })))
        }
        Api::ListProjectSecretsTags => {
            let store = state.store();
            let project = project(&store, principal, route)?;
            Ok(Success::Json(tagging::catalogue_json(
                project.tables.secrets.rows(),
            )))
        }
        Api::ListResourceInstances => {
            let query = tagging::parse_instance_query(SERVICE, &req.body)?;
            let store = state.store();
            let project = project(&store, principal, route)?;
            let rows = project.tables.secrets.rows();
            // The answer carries every selected secret's tags: strict, a read-denied secret refuses it all.
            if let Some(r) = rows.iter().find(|r| r.deny.read) {
                return Err(SERVICE.denied(r.native_id.as_deref().unwrap_or(&r.id)));
            }
            let answer = state.options().huawei_batch_answer;
            if answer == BatchAnswer::Refuse {
                return Err(SERVICE.denied("resource_instances"));
            }
            let selected = rows
                .iter()
                .filter(|r| query.selects(&r.id, &r.tags))
                .filter_map(|r| tagging::batch_tags(answer, &r.tags).map(|tags| (r, tags)));
            if query.count {
                return Ok(Success::Json(json!({"total_count": selected.count()})));
            }
            let kms_key_id = default_kms_key_id(project);
            let mut total = 0usize;
            let mut resources = Vec::new();
            for (r, tags) in selected {
                if total >= query.offset && resources.len() < query.limit {
                    resources.push(json!({
                        "resource_id": r.native_id.as_deref().unwrap_or_default(),
                        "resource_name": r.id,
                        "resource_detail": secret_json(r, &kms_key_id),
                        "tags": tags,
                        "sys_tags": [],
                    }));
                }
                total += 1;
            }
            Ok(Success::Json(
                json!({"resources": resources, "total_count": total}),
            ))
        }
        Api::BatchCreateOrDeleteTags | Api::CreateSecretTag | Api::DeleteSecretTag => {
            let write = match route.api {
                Api::BatchCreateOrDeleteTags => tagging::Write::Batch,
                Api::CreateSecretTag => tagging::Write::Single,
                _ => tagging::Write::DeleteKey,
            };
            let change = tagging::parse_write(SERVICE, write, &req.body, route.tag_key.as_deref())?;
            let mut store = state.store_mut();
            let project = store
                .huawei
                .get_mut(principal.account)
                .and_then(|a| a.project_mut(&route.project_id))
                .ok_or_else(|| not_found(resource))?;
            let table = &mut project.tables.secrets;
            let index = table
                .index_by_native_id(resource)
                .ok_or_else(|| not_found(resource))?;
            let secret = table.at_mut(index).ok_or_else(|| not_found(resource))?;
            if secret.deny.write {
                return Err(SERVICE.denied(resource));
            }
            refuse_pending(secret, true)?;
            tagging::apply(SERVICE, secret, &change)?;
            Ok(Success::NoContent)
        }
        _ => Err(SERVICE.invalid("Not a CSMS API.")),
    }
}

fn project<'s>(
    store: &'s crate::Store,
    principal: &Principal,
    route: &Route,
) -> Result<&'s HuaweiProject, HwError> {
    store
        .huawei
        .get(principal.account)
        .and_then(|a| a.project(&route.project_id))
        .ok_or_else(|| SERVICE.invalid(format!("Unknown project '{}'.", route.project_id)))
}

fn find<'p>(project: &'p HuaweiProject, secret_id: &str) -> Result<&'p Resource, HwError> {
    let table = &project.tables.secrets;
    table
        .index_by_native_id(secret_id)
        .and_then(|i| table.rows().get(i))
        .ok_or_else(|| not_found(secret_id))
}

/// `GET /v1/{project_id}/secrets?limit=&marker=&event_name=`: secrets in name order after `marker`
/// (exclusive: the SDK and terraform send the last name of the previous page). `page_info.next_marker` is
/// the last name on the page when more follow and absent on the last page.
fn list_secrets(req: &HwRequest, project: &HuaweiProject) -> Result<Success, HwError> {
    let limit = match req.param("limit").filter(|l| !l.is_empty()) {
        None => DEFAULT_LIST_LIMIT,
        Some(l) => l
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=MAX_LIST_LIMIT).contains(l))
            .ok_or_else(|| {
                SERVICE.invalid(format!("Invalid limit '{l}' (expected 1 to {MAX_LIST_LIMIT})."))
            })?,
    };
    let marker = req.param("marker").filter(|m| !m.is_empty());
    let rows = project.tables.secrets.rows();
    // No emulated secret subscribes to events, so an event filter selects nothing.
    let rows = if req.param("event_name").is_some_and(|e| !e.is_empty()) {
        &rows[..0]
    } else {
        rows
    };
    let start = match marker {
        Some(m) => rows.partition_point(|r| &*r.id <= m),
        None => 0,
    };
    let end = (start + limit).min(rows.len());
    let page = &rows[start..end];
    let kms_key_id = default_kms_key_id(project);
    let secrets: Vec<Value> = page.iter().map(|r| secret_json(r, &kms_key_id)).collect();
    let mut page_info = serde_json::Map::new();
    if end < rows.len()
        && let Some(last) = page.last()
    {
        page_info.insert("next_marker".into(), Value::String(last.id.to_string()));
    }
    if let Some(m) = marker {
        page_info.insert("previous_marker".into(), Value::String(m.to_owned()));
    }
    page_info.insert("current_count".into(), Value::from(page.len()));
    Ok(Success::Json(json!({
        "secrets": secrets,
        "page_info": page_info,
    })))
}
