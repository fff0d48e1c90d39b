//! The wire form of each write: pure functions from a [`Batch`] to the transport's [`Call`] and [`Request`],
//! kept apart from sending so their parameters and bodies are tested byte for byte.

use serde_json::{Value, json};
use tagdrift_core::reconcile::{Batch, Op};

use crate::signing::percent_encode;
use crate::transport::{Call, Operation, Request};
use crate::{Cloud, ResourceType};

/// `TagResources` or `UntagResources`: `POST /` with `RegionId`, `ResourceType` (`key` | `secret`),
/// `ResourceId.N` and `Tag.N.Key` / `Tag.N.Value` or `TagKey.N` in the query.
pub fn alibaba_request<'b>(batch: &'b Batch, endpoint: &str) -> (Call<'b>, Request) {
    let operation = match batch.op {
        Op::Tag(_) => Operation::AlibabaTagResources,
        Op::Untag(_) => Operation::AlibabaUntagResources,
    };
    let mut query: Vec<(String, String)> = vec![
        ("RegionId".into(), batch.region.clone()),
        ("ResourceType".into(), batch.resource_type.as_str().into()),
    ];
    for (n, member) in batch.members.iter().enumerate() {
        query.push((format!("ResourceId.{}", n + 1), member.write_id().to_owned()));
    }
    match &batch.op {
        Op::Tag(tags) => {
            for (n, (key, value)) in tags.iter().enumerate() {
                query.push((format!("Tag.{}.Key", n + 1), key.clone()));
                query.push((format!("Tag.{}.Value", n + 1), value.clone()));
            }
        }
        Op::Untag(keys) => {
            for (n, key) in keys.iter().enumerate() {
                query.push((format!("TagKey.{}", n + 1), key.clone()));
            }
        }
    }
    let call = Call::new(operation, &batch.account, &batch.region);
    (call, Request::post(endpoint, "/").query(query))
}

/// `tags/action` of the batch's one resource: `POST /v1.0/{project}/kms/{key_id}/tags/action` or
/// `POST /v1/{project}/csms/{secret_id}/tags/action` with `{"action": "create" | "delete", "tags": [...]}`.
/// A delete names keys only: the service removes a key whatever its value.
pub fn huawei_request<'b>(
    batch: &'b Batch,
    project: &str,
    endpoint: &str,
) -> Result<(Call<'b>, Request), String> {
    let [member] = batch.members.as_slice() else {
        return Err(format!(
            "a Huawei tags/action call names one resource, this batch has {}",
            batch.members.len()
        ));
    };
    debug_assert_eq!(batch.cloud, Cloud::Huawei);
    let (operation, path) = match batch.resource_type {
        ResourceType::Key => (
            Operation::HuaweiBatchCreateKmsTags,
            format!(
                "/v1.0/{}/kms/{}/tags/action",
                percent_encode(project),
                percent_encode(member.write_id())
            ),
        ),
        ResourceType::Secret => (
            Operation::HuaweiBatchCreateOrDeleteSecretTags,
            format!(
                "/v1/{}/csms/{}/tags/action",
                percent_encode(project),
                percent_encode(member.write_id())
            ),
        ),
    };
    let body = match &batch.op {
        Op::Tag(tags) => json!({
            "action": "create",
            "tags": tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<Value>>(),
        }),
        Op::Untag(keys) => json!({
            "action": "delete",
            "tags": keys.iter().map(|k| json!({"key": k})).collect::<Vec<Value>>(),
        }),
    };
    let request = Request::post(endpoint, &path)
        .json_body(&body)
        .header("X-Project-Id", project.to_owned());
    Ok((Call::new(operation, &batch.account, &batch.region), request))
}
