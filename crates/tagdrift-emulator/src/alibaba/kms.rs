//! The KMS `2016-01-20` APIs tagdrift uses: ListTagResources, ListKeys, ListSecrets, DescribeKey,
//! DescribeSecret, TagResources and UntagResources, over the store. Parameter rules, page sizes, limits and
//! error codes follow the API reference (<https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-listtagresources> and its
//! sibling pages) and the official SDK's models. Reads take the store's
//! read lock only while building one page; writes validate everything before changing anything.

use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::request::RpcRequest;
use super::{AliError, Api, Principal, Responder, Shape};
use crate::store::{AlibabaAccount, Resource, Table, Tables};
use crate::{Payload, State};
use tagdrift_core::vocab::ResourceType;

/// Rows per ListTagResources page (documented default; the API has no page-size parameter).
pub(super) const TAG_PAGE_ROWS: usize = 200;
/// Most `ResourceId.N` per call.
pub(super) const MAX_RESOURCE_IDS: usize = 50;
/// Most `Tag.N` / `TagKey.N` per call.
pub(super) const MAX_TAGS: usize = 20;

/// The key states `ListKeys` filters by (its documented `KeyState` values).
const KEY_STATES: [&str; 4] = ["Enabled", "Disabled", "PendingDeletion", "PendingImport"];

/// An emulated key's `KeyState`: `PendingDeletion` when the inventory says so, else `Enabled`.
fn key_state(r: &Resource) -> &'static str {
    if r.pending_deletion {
        "PendingDeletion"
    } else {
        "Enabled"
    }
}

/// The answer for a key pending deletion named in a tag call. The key-state table lists
/// `Rejected.PendingDeletion` (409) for the APIs that refuse such keys; the tag APIs are not in it, so how the
/// real service answers is unknown, and the emulator is strict (docs/emulator.md).
fn rejected_pending_deletion() -> AliError {
    AliError::new(
        StatusCode::CONFLICT,
        "Rejected.PendingDeletion",
        "The key is pending deletion.",
        Shape::Kms,
    )
}
const KEY_SPEC: &str = "Aliyun_AES_256";
const KEY_USAGE: &str = "ENCRYPT/DECRYPT";
const PROTECTION_LEVEL: &str = "SOFTWARE";
const CREATOR_TYPE: &str = "User";

fn time(r: &Resource) -> String {
    r.created_at().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(super) fn not_found(status: StatusCode, code: &'static str, message: &str) -> AliError {
    AliError::new(status, code, message, Shape::Kms)
}

fn resource_not_found() -> AliError {
    not_found(
        StatusCode::NOT_FOUND,
        "InvalidResourceId.NotFound",
        "The specified ResourceId is not found.",
    )
}

/// A RAM policy refusing the call for one of the resources it names (403 `Forbidden.NoPermission`, in the
/// KMS error shape). Answered after the signature was checked and before the resource is looked at, as RAM
/// authorizes the action against the resource's ARN before the service runs it.
pub(super) fn denied(action: &str, arn: &str) -> AliError {
    AliError::new(
        StatusCode::FORBIDDEN,
        "Forbidden.NoPermission",
        format!(
            "This operation is forbidden by permission system. You are not authorized to do this action. \
             Action: kms:{action}, Resource: {arn}"
        ),
        Shape::Kms,
    )
}

fn resource_arn(account: &AlibabaAccount, region: &str, resource_type: ResourceType, id: &str) -> String {
    format!(
        "acs:kms:{region}:{}:{}/{id}",
        account.account_id,
        resource_type.as_str()
    )
}

/// Keys whose tags are system tags: they are listed but cannot be set or removed.
fn is_system_key(key: &str) -> bool {
    key.starts_with("aliyun") || key.starts_with("acs:")
}

/// The region a KMS call works in: `RegionId` (required by the tag APIs); otherwise the region in a
/// `kms[-vpc].<region>.aliyuncs.com` host, or the account's only region.
pub(super) fn region(
    state: &State,
    req: &RpcRequest,
    api: Api,
    principal: &Principal,
) -> Result<String, AliError> {
    if let Some(region) = req.param("RegionId").filter(|r| !r.is_empty()) {
        return Ok(region.to_owned());
    }
    if matches!(
        api,
        Api::ListTagResources | Api::TagResources | Api::UntagResources
    ) {
        return Err(AliError::missing("RegionId"));
    }
    let host = req.host.split(':').next().unwrap_or_default();
    let from_host = host
        .strip_suffix(".aliyuncs.com")
        .and_then(|h| h.strip_prefix("kms-vpc.").or_else(|| h.strip_prefix("kms.")));
    if let Some(region) = from_host.filter(|r| !r.is_empty()) {
        return Ok(region.to_owned());
    }
    let store = state.store();
    let regions = store.alibaba.get(principal.account).map(|a| &a.regions);
    match regions {
        Some(r) if r.len() == 1 => Ok(r.keys().next().cloned().unwrap_or_default()),
        _ => Err(AliError::missing("RegionId")),
    }
}

/// Runs a KMS API for an authenticated, admitted request and renders the success answer (inside the lock, so
/// a page is serialized straight from the store).
pub(super) fn execute(
    state: &State,
    req: &RpcRequest,
    api: Api,
    principal: &Principal,
    region: &str,
    responder: &Responder,
) -> Result<(HeaderMap, Payload), AliError> {
    let value = match api {
        Api::ListTagResources => {
            let store = state.store();
            return list_tag_resources(
                req,
                store.alibaba.get(principal.account),
                region,
                responder,
                state.options().refuse_region_wide_tag_listing,
            );
        }
        Api::ListKeys => {
            let store = state.store();
            list_keys(req, store.alibaba.get(principal.account), region)
        }
        Api::ListSecrets => {
            let store = state.store();
            list_secrets(req, store.alibaba.get(principal.account), region)
        }
        Api::DescribeKey => {
            let store = state.store();
            describe_key(req, store.alibaba.get(principal.account), region)
        }
        Api::ListAliases => {
            let store = state.store();
            super::aliases::list_aliases(req, store.alibaba.get(principal.account), region)
        }
        Api::ListAliasesByKeyId => {
            let store = state.store();
            super::aliases::list_aliases_by_key_id(req, store.alibaba.get(principal.account), region)
        }
        Api::DescribeSecret => {
            let store = state.store();
            describe_secret(req, store.alibaba.get(principal.account), region)
        }
        Api::TagResources => {
            let mut store = state.store_mut();
            tag_resources(req, store.alibaba.get_mut(principal.account), region)
        }
        Api::UntagResources => {
            let mut store = state.store_mut();
            untag_resources(req, store.alibaba.get_mut(principal.account), region)
        }
        Api::AssumeRoleWithOidc | Api::GetCallerIdentity => Err(AliError::new(
            StatusCode::NOT_FOUND,
            "InvalidApi.NotFound",
            "Specified api is not found, please check your url and method.",
            Shape::Gateway,
        )),
    }?;
    Ok(responder.success(value))
}

pub(super) fn tables<'a>(account: Option<&'a AlibabaAccount>, region: &str) -> Option<&'a Tables> {
    account.and_then(|a| a.regions.get(region))
}

fn resource_type(req: &RpcRequest) -> Result<ResourceType, AliError> {
    match req.required("ResourceType")? {
        "key" => Ok(ResourceType::Key),
        "secret" => Ok(ResourceType::Secret),
        _ => Err(AliError::invalid("ResourceType", "Valid values: key, secret.")),
    }
}

/// `ResourceId.N`, de-duplicated, at most 50.
fn resource_ids(req: &RpcRequest) -> Result<Vec<String>, AliError> {
    let ids = req.indexed("ResourceId")?;
    if ids.len() > MAX_RESOURCE_IDS {
        return Err(AliError::invalid(
            "ResourceId",
            &format!(
                "At most {MAX_RESOURCE_IDS} resource ids are allowed, got {}.",
                ids.len()
            ),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for (n, id) in ids {
        if id.is_empty() {
            return Err(AliError::missing(&format!("ResourceId.{n}")));
        }
        if !out.iter().any(|o| o == id) {
            out.push(id.to_owned());
        }
    }
    Ok(out)
}

/// A ListTagResources position: the next row is the first (resource, tag) at or after (id, key).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    id: String,
    key: String,
}

fn encode_token(resource_type: ResourceType, p: &Position) -> String {
    BASE64.encode(json!([resource_type.as_str(), p.id, p.key]).to_string())
}

fn decode_token(resource_type: ResourceType, token: &str) -> Result<Position, AliError> {
    let bad = || AliError::invalid("NextToken", "The token does not come from a previous response.");
    let bytes = BASE64.decode(token.trim()).map_err(|_| bad())?;
    let (kind, id, key): (String, String, String) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if kind != resource_type.as_str() {
        return Err(bad());
    }
    Ok(Position { id, key })
}

/// One ListTagResources row, serialized with the documented field names.
#[derive(Serialize)]
struct TagRow<'a> {
    #[serde(rename = "ResourceId")]
    resource_id: &'a str,
    #[serde(rename = "ResourceType")]
    resource_type: &'static str,
    #[serde(rename = "TagKey")]
    tag_key: &'a str,
    #[serde(rename = "TagValue")]
    tag_value: &'a str,
}

#[derive(Serialize)]
struct TagRowList<'a> {
    #[serde(rename = "TagResource")]
    tag_resource: Vec<TagRow<'a>>,
}

/// The ListTagResources answer.
#[derive(Serialize)]
struct TagPage<'a> {
    #[serde(rename = "NextToken")]
    next_token: String,
    #[serde(rename = "RequestId")]
    request_id: &'a str,
    #[serde(rename = "TagResources")]
    tag_resources: TagRowList<'a>,
}

/// Tag filter: keys must all be present; a filter with a value needs that exact value.
fn matches_filter(resource: &Resource, filter: &[(String, Option<String>)]) -> bool {
    filter.iter().all(|(k, v)| match (resource.tags.get(k), v) {
        (Some(_), None) => true,
        (Some(have), Some(want)) => have == want,
        (None, _) => false,
    })
}

/// One page of (resource, tag) rows from `candidates` (row indexes of `table` in id order), starting at
/// `start`; returns the rows and the position of the next row, if any.
fn tag_page<'a>(
    table: &'a Table,
    candidates: &mut dyn Iterator<Item = usize>,
    resource_type: ResourceType,
    filter: &[(String, Option<String>)],
    start: Option<&Position>,
) -> (Vec<TagRow<'a>>, Option<Position>) {
    let mut rows = Vec::with_capacity(TAG_PAGE_ROWS);
    for index in candidates {
        let resource = &table.rows()[index];
        if resource.tags.is_empty() || !matches_filter(resource, filter) {
            continue;
        }
        let first_tag = match start {
            Some(p) if *resource.id == *p.id => resource.tags.position_of(&p.key),
            _ => 0,
        };
        for i in first_tag..resource.tags.len() {
            let Some((key, value)) = resource.tags.at(i) else {
                break;
            };
            if rows.len() == TAG_PAGE_ROWS {
                return (
                    rows,
                    Some(Position {
                        id: resource.id.to_string(),
                        key: key.to_owned(),
                    }),
                );
            }
            rows.push(TagRow {
                resource_id: &resource.id,
                resource_type: resource_type.as_str(),
                tag_key: key,
                tag_value: value,
            });
        }
    }
    (rows, None)
}

fn list_tag_resources(
    req: &RpcRequest,
    account: Option<&AlibabaAccount>,
    region: &str,
    responder: &Responder,
    refuse_region_wide: bool,
) -> Result<(HeaderMap, Payload), AliError> {
    let resource_type = resource_type(req)?;
    let ids = resource_ids(req)?;
    // `--refuse-region-wide-tag-listing`: the answer the real service would most likely give if it required
    // ids (the documented missing-parameter error), once the type and the ids themselves are validated.
    if refuse_region_wide && ids.is_empty() {
        return Err(AliError::missing("ResourceId"));
    }
    let tags = req.tags()?;
    if tags.len() > MAX_TAGS {
        return Err(AliError::invalid(
            "Tag",
            &format!("At most {MAX_TAGS} tags are allowed."),
        ));
    }
    let mut filter: Vec<(String, Option<String>)> = Vec::with_capacity(tags.len());
    for (n, key, value) in tags {
        if key.is_empty() {
            return Err(AliError::missing(&format!("Tag.{n}.Key")));
        }
        if is_system_key(&key) {
            return Err(invalid_tag_key(&key));
        }
        if filter.iter().any(|(k, _)| *k == key) {
            return Err(duplicate_tag_key());
        }
        filter.push((key, value.filter(|v| !v.is_empty())));
    }
    let start = match req.param("NextToken").filter(|t| !t.is_empty()) {
        Some(token) => Some(decode_token(resource_type, token)?),
        None => None,
    };
    let empty = Table::default();
    let table = tables(account, region).map_or(&empty, |t| t.table(resource_type));
    if let Some(account) = account {
        // With ids, RAM checks each id's ARN; without, the call reads every resource of the region, so one
        // read-denied resource refuses it all (strict: how RAM evaluates the region-wide form is not
        // documented).
        let refused = if ids.is_empty() {
            table.rows().iter().find(|r| r.deny.read).map(|r| &*r.id)
        } else {
            ids.iter()
                .map(String::as_str)
                .find(|id| table.get(id).is_some_and(|r| r.deny.read))
        };
        if let Some(id) = refused {
            return Err(denied(
                "ListTagResources",
                &resource_arn(account, region, resource_type, id),
            ));
        }
    }
    let from = start.as_ref().map_or(0, |p| table.position_of(&p.id));

    let (rows, next) = if ids.is_empty() {
        let mut candidates = from..table.len();
        tag_page(table, &mut candidates, resource_type, &filter, start.as_ref())
    } else {
        let mut indexes = Vec::with_capacity(ids.len());
        for id in &ids {
            indexes.push(table.index_of(id).ok_or_else(resource_not_found)?);
        }
        if indexes.iter().any(|&i| table.rows()[i].pending_deletion) {
            return Err(rejected_pending_deletion());
        }
        indexes.sort_unstable();
        let mut candidates = indexes.into_iter().filter(|&i| i >= from);
        tag_page(table, &mut candidates, resource_type, &filter, start.as_ref())
    };
    let page = TagPage {
        next_token: next.map(|p| encode_token(resource_type, &p)).unwrap_or_default(),
        request_id: &responder.request_id,
        tag_resources: TagRowList { tag_resource: rows },
    };
    Ok(responder.success_typed(&page))
}

/// `PageNumber` (≥ 1, default 1) and `PageSize` (1–100, default 10).
pub(super) fn paging(req: &RpcRequest) -> Result<(usize, usize), AliError> {
    let number = match req.param("PageNumber").filter(|v| !v.is_empty()) {
        None => 1,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(AliError::invalid(
                    "PageNumber",
                    "It must be an integer of at least 1.",
                ));
            }
        },
    };
    let size = match req.param("PageSize").filter(|v| !v.is_empty()) {
        None => 10,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                return Err(AliError::invalid(
                    "PageSize",
                    "It must be an integer from 1 to 100.",
                ));
            }
        },
    };
    Ok((number, size))
}

#[derive(Deserialize)]
struct FilterEntry {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Values", default)]
    values: Vec<String>,
}

/// The `Filters` parameter: a JSON array of `{"Key": .., "Values": [..]}`, at most 10, keys from `allowed`.
fn filters(req: &RpcRequest, allowed: &[&str]) -> Result<Vec<FilterEntry>, AliError> {
    let Some(text) = req.param("Filters").filter(|v| !v.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let entries: Vec<FilterEntry> = serde_json::from_str(text).map_err(|_| {
        AliError::invalid(
            "Filters",
            "It must be a JSON array of {\"Key\":...,\"Values\":[...]} objects.",
        )
    })?;
    if entries.len() > 10 {
        return Err(AliError::invalid("Filters", "At most 10 filters are allowed."));
    }
    if let Some(e) = entries.iter().find(|e| !allowed.contains(&e.key.as_str())) {
        return Err(AliError::invalid(
            "Filters",
            &format!(
                "Unknown filter key {:?}; valid keys: {}.",
                e.key,
                allowed.join(", ")
            ),
        ));
    }
    Ok(entries)
}

pub(super) fn key_arn(account: &AlibabaAccount, region: &str, key_id: &str) -> String {
    format!("acs:kms:{region}:{}:key/{key_id}", account.account_id)
}

fn list_keys(req: &RpcRequest, account: Option<&AlibabaAccount>, region: &str) -> Result<Value, AliError> {
    let (number, size) = paging(req)?;
    let filters = filters(
        req,
        &[
            "KeyState",
            "KeySpec",
            "KeyUsage",
            "ProtectionLevel",
            "CreatorType",
        ],
    )?;
    if let Some(f) = filters.iter().find(|f| f.values.len() > 10) {
        return Err(AliError::invalid(
            "Filters",
            &format!("At most 10 values are allowed for {:?}.", f.key),
        ));
    }
    if let Some(v) = filters
        .iter()
        .filter(|f| f.key == "KeyState")
        .flat_map(|f| &f.values)
        .find(|v| !KEY_STATES.contains(&v.as_str()))
    {
        return Err(AliError::invalid(
            "Filters",
            &format!("Unknown KeyState {v:?}; valid values: {}.", KEY_STATES.join(", ")),
        ));
    }
    // Keys differ only in their state; every other attribute is the same for all, so such a filter keeps
    // all keys or none. Filters with different keys AND, values of one filter OR.
    let matches = |r: &Resource| {
        filters.iter().all(|f| {
            let attribute = match f.key.as_str() {
                "KeyState" => key_state(r),
                "KeySpec" => KEY_SPEC,
                "KeyUsage" => KEY_USAGE,
                "ProtectionLevel" => PROTECTION_LEVEL,
                _ => CREATOR_TYPE,
            };
            f.values.iter().any(|v| v == attribute)
        })
    };
    let (keys, total) = match (account, tables(account, region)) {
        (Some(account), Some(t)) => {
            let rows: Vec<&Resource> = t.keys.rows().iter().filter(|r| matches(r)).collect();
            let from = (number - 1).saturating_mul(size).min(rows.len());
            let to = from.saturating_add(size).min(rows.len());
            let keys: Vec<Value> = rows[from..to]
                .iter()
                .map(|r| json!({"KeyId": &*r.id, "KeyArn": key_arn(account, region, &r.id)}))
                .collect();
            (keys, rows.len())
        }
        _ => (Vec::new(), 0),
    };
    Ok(json!({
        "PageNumber": number,
        "PageSize": size,
        "TotalCount": total,
        "Keys": {"Key": keys},
    }))
}

fn tags_value(resource: &Resource) -> Value {
    let tags: Vec<Value> = resource
        .tags
        .iter()
        .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
        .collect();
    json!({ "Tag": tags })
}

fn fetch_tags(req: &RpcRequest) -> Result<bool, AliError> {
    match req.param("FetchTags") {
        None | Some("") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(AliError::invalid("FetchTags", "Valid values: true, false.")),
    }
}

fn secret_matches(resource: &Resource, account: &AlibabaAccount, filters: &[FilterEntry]) -> bool {
    filters.iter().all(|f| {
        f.values.iter().any(|v| match f.key.as_str() {
            "SecretName" => resource.id.contains(v.as_str()),
            "TagKey" => resource.tags.get(v).is_some(),
            "TagValue" => resource.tags.iter().any(|(_, tv)| tv == v),
            "SecretType" => v == "Generic",
            "Creator" => *v == account.account_id,
            // No emulated secret has a description or lives in a dedicated KMS instance.
            _ => false,
        })
    })
}

fn list_secrets(req: &RpcRequest, account: Option<&AlibabaAccount>, region: &str) -> Result<Value, AliError> {
    let (number, size) = paging(req)?;
    let with_tags = fetch_tags(req)?;
    let filters = filters(
        req,
        &[
            "SecretName",
            "Description",
            "TagKey",
            "TagValue",
            "DKMSInstanceId",
            "SecretType",
            "Creator",
        ],
    )?;
    let (secrets, total) = match (account, tables(account, region)) {
        (Some(account), Some(t)) => {
            let rows = t.secrets.rows();
            // `FetchTags=true` returns every listed secret's tags: strict, a read-denied secret in the region
            // refuses the call (the names alone are the secret container's, which no `deny` covers).
            if with_tags && let Some(r) = rows.iter().find(|r| r.deny.read) {
                return Err(denied(
                    "ListSecrets",
                    &resource_arn(account, region, ResourceType::Secret, &r.id),
                ));
            }
            let skip = (number - 1).saturating_mul(size);
            let secret_value = |r: &Resource| {
                let mut v = json!({
                    "SecretName": &*r.id,
                    "SecretType": "Generic",
                    "CreateTime": time(r),
                    "UpdateTime": time(r),
                    "PlannedDeleteTime": "",
                });
                if with_tags {
                    v["Tags"] = tags_value(r);
                }
                v
            };
            if filters.is_empty() {
                let from = skip.min(rows.len());
                let to = from.saturating_add(size).min(rows.len());
                (
                    rows[from..to].iter().map(secret_value).collect::<Vec<_>>(),
                    rows.len(),
                )
            } else {
                let matching: Vec<&Resource> = rows
                    .iter()
                    .filter(|r| secret_matches(r, account, &filters))
                    .collect();
                let page = matching
                    .iter()
                    .skip(skip)
                    .take(size)
                    .map(|r| secret_value(r))
                    .collect();
                (page, matching.len())
            }
        }
        _ => (Vec::new(), 0),
    };
    Ok(json!({
        "PageNumber": number,
        "PageSize": size,
        "TotalCount": total,
        "SecretList": {"Secret": secrets},
    }))
}

/// Finds a key by id, `alias/<name>`, or an ARN of either (`acs:kms:<region>:<uid>:key/<id>`).
pub(super) fn find_key<'a>(account: &'a AlibabaAccount, region: &str, key_id: &str) -> Option<&'a Resource> {
    let table = &account.regions.get(region)?.keys;
    let reference = match key_id.strip_prefix("acs:kms:") {
        Some(rest) => {
            let mut parts = rest.splitn(3, ':');
            let (arn_region, uid, resource) = (parts.next()?, parts.next()?, parts.next()?);
            if arn_region != region || uid != account.account_id {
                return None;
            }
            resource.strip_prefix("key/").unwrap_or(resource)
        }
        None => key_id,
    };
    let index = if reference.starts_with("alias/") {
        table.index_by_alias(reference)?
    } else {
        table.index_of(reference)?
    };
    table.rows().get(index)
}

fn describe_key(req: &RpcRequest, account: Option<&AlibabaAccount>, region: &str) -> Result<Value, AliError> {
    let key_id = req.required("KeyId")?;
    let found = account.and_then(|a| find_key(a, region, key_id).map(|k| (a, k)));
    let Some((account, key)) = found else {
        return Err(if key_id.contains("alias/") {
            not_found(
                StatusCode::NOT_FOUND,
                "Forbidden.AliasNotFound",
                "The specified Alias is not found.",
            )
        } else {
            not_found(
                StatusCode::NOT_FOUND,
                "Forbidden.KeyNotFound",
                "The specified Key is not found.",
            )
        });
    };
    if key.deny.read {
        return Err(denied("DescribeKey", &key_arn(account, region, &key.id)));
    }
    let created = time(key);
    Ok(json!({
        "KeyMetadata": {
            "KeyId": &*key.id,
            "Arn": key_arn(account, region, &key.id),
            "KeyState": key_state(key),
            "KeySpec": KEY_SPEC,
            "KeyUsage": KEY_USAGE,
            "Origin": "Aliyun_KMS",
            "ProtectionLevel": PROTECTION_LEVEL,
            "Creator": account.account_id,
            "CreationDate": created,
            "LastRotationDate": created,
            "DeleteDate": "",
            "MaterialExpireTime": "",
            "Description": "",
            "AutomaticRotation": "Disabled",
            "RotationInterval": "",
            "NextRotationDate": "",
            "PrimaryKeyVersion": crate::inventory::derived_uuid(&["key-version", &key.id]),
            "DKMSInstanceId": "",
            "DeletionProtection": "Disabled",
        }
    }))
}

fn describe_secret(
    req: &RpcRequest,
    account: Option<&AlibabaAccount>,
    region: &str,
) -> Result<Value, AliError> {
    let name = req.required("SecretName")?;
    let with_tags = fetch_tags(req)?;
    let found = account.and_then(|a| {
        tables(Some(a), region)
            .and_then(|t| t.secrets.get(name))
            .map(|s| (a, s))
    });
    let Some((account, secret)) = found else {
        return Err(not_found(
            StatusCode::NOT_FOUND,
            "Forbidden.ResourceNotFound",
            "Resource not found",
        ));
    };
    if secret.deny.read {
        return Err(denied(
            "DescribeSecret",
            &resource_arn(account, region, ResourceType::Secret, &secret.id),
        ));
    }
    let mut body = json!({
        "Arn": format!("acs:kms:{region}:{}:secret/{}", account.account_id, secret.id),
        "SecretName": &*secret.id,
        "SecretType": "Generic",
        "Description": "",
        "EncryptionKeyId": "",
        "CreateTime": time(secret),
        "UpdateTime": time(secret),
        "PlannedDeleteTime": "",
        "AutomaticRotation": "Disabled",
        "DKMSInstanceId": "",
    });
    if with_tags {
        body["Tags"] = tags_value(secret);
    }
    Ok(body)
}

fn invalid_tag_key(key: &str) -> AliError {
    AliError::new(
        StatusCode::BAD_REQUEST,
        "InvalidParameter.TagKey",
        format!("The specified tag key {key:?} is not valid."),
        Shape::Kms,
    )
}

fn duplicate_tag_key() -> AliError {
    AliError::new(
        StatusCode::BAD_REQUEST,
        "Duplicate.TagKey",
        "The specified tagKey is duplicate.",
        Shape::Kms,
    )
}

/// Documented tag characters: letters, digits and `/ \ _ - . + = : @`; at most 128 characters.
fn valid_tag_text(s: &str) -> bool {
    s.chars().count() <= 128 && s.chars().all(|c| c.is_alphanumeric() || "/\\_-.+=:@".contains(c))
}

/// Rows of the resources named by `ResourceId.N` (at least one), or 404 when any does not exist, or 403 when
/// a policy denies writing the tags of any (`action` is the API, for the message).
fn target_rows(
    req: &RpcRequest,
    table: Option<&Table>,
    action: &str,
    arn: &dyn Fn(&str) -> String,
) -> Result<Vec<usize>, AliError> {
    let ids = resource_ids(req)?;
    if ids.is_empty() {
        return Err(AliError::missing("ResourceId.1"));
    }
    if let Some(id) = ids
        .iter()
        .find(|id| table.and_then(|t| t.get(id)).is_some_and(|r| r.deny.write))
    {
        return Err(denied(action, &arn(id)));
    }
    ids.iter()
        .map(|id| table.and_then(|t| t.index_of(id)).ok_or_else(resource_not_found))
        .collect()
}

fn tag_resources(
    req: &RpcRequest,
    account: Option<&mut AlibabaAccount>,
    region: &str,
) -> Result<Value, AliError> {
    let resource_type = resource_type(req)?;
    let tags = req.tags()?;
    if tags.is_empty() {
        return Err(AliError::missing("Tag.1.Key"));
    }
    if tags.len() > MAX_TAGS {
        return Err(AliError::invalid(
            "Tag",
            &format!("At most {MAX_TAGS} tags are allowed."),
        ));
    }
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(tags.len());
    for (_, key, value) in tags {
        if key.is_empty() || is_system_key(&key) || !valid_tag_text(&key) {
            return Err(invalid_tag_key(&key));
        }
        let value = value.unwrap_or_default();
        if !valid_tag_text(&value) {
            return Err(AliError::new(
                StatusCode::BAD_REQUEST,
                "InvalidParameter.TagValue",
                format!("The specified tag value {value:?} is not valid."),
                Shape::Kms,
            ));
        }
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(duplicate_tag_key());
        }
        pairs.push((key, value));
    }
    let uid = account.as_ref().map(|a| a.account_id.clone()).unwrap_or_default();
    let arn = |id: &str| format!("acs:kms:{region}:{uid}:{resource_type}/{id}");
    let table = account
        .and_then(|a| a.regions.get_mut(region))
        .map(|t| t.table_mut(resource_type));
    let rows = target_rows(req, table.as_deref(), "TagResources", &arn)?;
    if let Some(table) = table {
        if rows.iter().any(|&i| table.rows()[i].pending_deletion) {
            return Err(rejected_pending_deletion());
        }
        for row in rows {
            if let Some(resource) = table.at_mut(row) {
                for (k, v) in &pairs {
                    resource.tags.set(k, v);
                }
            }
        }
    }
    Ok(json!({}))
}

fn untag_resources(
    req: &RpcRequest,
    account: Option<&mut AlibabaAccount>,
    region: &str,
) -> Result<Value, AliError> {
    let resource_type = resource_type(req)?;
    let keys: Vec<String> = req
        .indexed("TagKey")?
        .into_iter()
        .map(|(_, k)| k.to_owned())
        .collect();
    let all = match req.param("All") {
        None | Some("") => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(_) => return Err(AliError::invalid("All", "Valid values: true, false.")),
    };
    if keys.is_empty() && !all {
        return Err(AliError::missing("TagKey.1"));
    }
    if !keys.is_empty() && all {
        return Err(AliError::invalid(
            "All",
            "All can be true only when no TagKey is given.",
        ));
    }
    if keys.len() > MAX_TAGS {
        return Err(AliError::invalid(
            "TagKey",
            &format!("At most {MAX_TAGS} tag keys are allowed."),
        ));
    }
    let uid = account.as_ref().map(|a| a.account_id.clone()).unwrap_or_default();
    let arn = |id: &str| format!("acs:kms:{region}:{uid}:{resource_type}/{id}");
    let table = account
        .and_then(|a| a.regions.get_mut(region))
        .map(|t| t.table_mut(resource_type));
    let rows = target_rows(req, table.as_deref(), "UntagResources", &arn)?;
    if let Some(table) = table {
        if rows.iter().any(|&i| table.rows()[i].pending_deletion) {
            return Err(rejected_pending_deletion());
        }
        for row in rows {
            if let Some(resource) = table.at_mut(row) {
                if all {
                    resource.tags.retain(|k, _| is_system_key(k));
                } else {
                    // Unknown keys are ignored; system tags cannot be removed.
                    for key in keys.iter().filter(|k| !is_system_key(k)) {
                        resource.tags.remove(key);
                    }
                }
            }
        }
    }
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, Uri};

    use super::*;
    use crate::{Inventory, Store};

    fn store() -> Store {
        let inv = "alibaba:
  - access_key_id: a
    access_key_secret: s
    regions:
      cn-hangzhou:
        keys:
          - {id: key-live, tags: {owner: a}}
          - {id: key-doomed, pending_deletion: true, tags: {owner: a}}
";
        Store::from_inventory(Inventory::parse(inv, "test").unwrap()).unwrap()
    }

    fn req(query: &str) -> RpcRequest {
        let uri: Uri = format!("/?{query}").parse().unwrap();
        RpcRequest::new(&Method::POST, &uri, &HeaderMap::new(), Bytes::new())
    }

    fn encode(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    // See: issue 12, point 9. `ListKeys` honours `Filters` strictly, `DescribeKey` reports the state, and tag
    // calls naming a key pending deletion are refused.
    #[test]
    fn keys_pending_deletion_are_filtered_described_and_refused_by_tag_calls() {
        let store = store();
        let account = &store.alibaba[0];
        let listed = |filters: &str| -> Result<Vec<String>, String> {
            let q = format!("Action=ListKeys&PageSize=100&Filters={}", encode(filters));
            list_keys(&req(&q), Some(account), "cn-hangzhou")
                .map(|v| {
                    v["Keys"]["Key"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|k| k["KeyId"].as_str().unwrap().to_owned())
                        .collect()
                })
                .map_err(|e| e.code.to_string())
        };
        assert_eq!(
            listed(r#"[{"Key":"KeyState","Values":["PendingDeletion"]}]"#),
            Ok(vec!["key-doomed".to_owned()])
        );
        assert_eq!(
            listed(r#"[{"Key":"KeyState","Values":["Enabled","Disabled"]}]"#),
            Ok(vec!["key-live".to_owned()])
        );
        assert_eq!(
            listed("[]"),
            Ok(vec!["key-doomed".to_owned(), "key-live".to_owned()])
        );
        for bad in [
            r#"[{"Key":"KeyState","Values":["Pending"]}]"#,
            r#"[{"Key":"State","Values":["Enabled"]}]"#,
            r#"{"Key":"KeyState"}"#,
        ] {
            assert_eq!(listed(bad), Err("InvalidParameter".to_owned()), "{bad}");
        }

        let described = describe_key(&req("KeyId=key-doomed"), Some(account), "cn-hangzhou").unwrap();
        assert_eq!(described["KeyMetadata"]["KeyState"], "PendingDeletion");

        let responder = Responder {
            request_id: "r".into(),
            host: "kms.cn-hangzhou.aliyuncs.com".into(),
            xml: false,
            action: "ListTagResources".into(),
        };
        for (ids, want) in [
            ("ResourceId.1=key-live", None),
            (
                "ResourceId.1=key-live&ResourceId.2=key-doomed",
                Some("Rejected.PendingDeletion"),
            ),
        ] {
            let q = format!("Action=ListTagResources&RegionId=cn-hangzhou&ResourceType=key&{ids}");
            let got = list_tag_resources(&req(&q), Some(account), "cn-hangzhou", &responder, false)
                .err()
                .map(|e| (e.status, e.code.to_string()));
            assert_eq!(got, want.map(|c| (StatusCode::CONFLICT, c.to_owned())), "{ids}");
        }
        let mut store = store;
        let account = &mut store.alibaba[0];
        let q = "Action=TagResources&RegionId=cn-hangzhou&ResourceType=key&ResourceId.1=key-doomed&Tag.1.Key=k&Tag.1.Value=v";
        let e = tag_resources(&req(q), Some(account), "cn-hangzhou").unwrap_err();
        assert_eq!(&*e.code, "Rejected.PendingDeletion");
    }
}
