//! KMS `ListAliases` and `ListAliasesByKeyId` (version 2016-01-20): the aliases of a region's keys, paged by
//! `PageNumber` and `PageSize` as the official SDK's request models document them (`PageSize` 1 to 100, default
//! 10; the SDK allows 0, and 101 for `ListAliasesByKeyId`, which this emulator refuses, being unsure what the
//! service does with them). Each entry is `{KeyId, AliasName, AliasArn}` under `Aliases.Alias`, with `TotalCount`.

use serde_json::{Value, json};

use super::AliError;
use super::kms::{denied, find_key, key_arn, not_found, paging, tables};
use super::request::RpcRequest;
use crate::store::{AlibabaAccount, Resource};
use axum::http::StatusCode;

fn alias_arn(account: &AlibabaAccount, region: &str, alias: &str) -> String {
    format!("acs:kms:{region}:{}:{alias}", account.account_id)
}

fn entry(account: &AlibabaAccount, region: &str, key: &Resource) -> Option<Value> {
    let alias = key.alias.as_deref()?;
    Some(json!({
        "KeyId": &*key.id,
        "AliasName": alias,
        "AliasArn": alias_arn(account, region, alias),
    }))
}

fn page(number: usize, size: usize, all: Vec<Value>) -> Value {
    let total = all.len();
    let from = (number - 1).saturating_mul(size).min(total);
    let to = from.saturating_add(size).min(total);
    json!({
        "PageNumber": number,
        "PageSize": size,
        "TotalCount": total,
        "Aliases": {"Alias": &all[from..to]},
    })
}

/// Every alias of the region, in key order.
pub(super) fn list_aliases(
    req: &RpcRequest,
    account: Option<&AlibabaAccount>,
    region: &str,
) -> Result<Value, AliError> {
    let (number, size) = paging(req)?;
    let all: Vec<Value> = match (account, tables(account, region)) {
        (Some(account), Some(t)) => t
            .keys
            .rows()
            .iter()
            .filter_map(|k| entry(account, region, k))
            .collect(),
        _ => Vec::new(),
    };
    Ok(page(number, size, all))
}

/// The aliases of one key, named by its id (or ARN); an unknown key is `Forbidden.KeyNotFound`.
pub(super) fn list_aliases_by_key_id(
    req: &RpcRequest,
    account: Option<&AlibabaAccount>,
    region: &str,
) -> Result<Value, AliError> {
    let key_id = req.required("KeyId")?;
    let (number, size) = paging(req)?;
    // The API takes the key's id, not an alias.
    let found = account
        .filter(|_| !key_id.starts_with("alias/"))
        .and_then(|a| find_key(a, region, key_id).map(|k| (a, k)));
    let Some((account, key)) = found else {
        return Err(not_found(
            StatusCode::NOT_FOUND,
            "Forbidden.KeyNotFound",
            "The specified Key is not found.",
        ));
    };
    if key.deny.read {
        return Err(denied("ListAliasesByKeyId", &key_arn(account, region, &key.id)));
    }
    Ok(page(
        number,
        size,
        entry(account, region, key).into_iter().collect(),
    ))
}
