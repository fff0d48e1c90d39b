//! The KMS `2016-01-20` response bodies the reader decodes, with the documented field names
//! (ListTagResources: <https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-listtagresources>; the others as the official SDK's
//! `alibabacloud_kms20160120` models read them). Lists follow [`crate::wire::list`]; counts may be
//! numbers or numeric strings; `NextToken` may be absent, `null` or `""` on the last page.

use serde::Deserialize;

use crate::Tags;
use crate::wire::{list, object, opt_object, opt_string, opt_u64, string};

/// `ListTagResources`: one row per (resource, tag).
#[derive(Debug, Deserialize)]
pub struct TagPage {
    #[serde(rename = "NextToken", default, deserialize_with = "opt_string")]
    pub next_token: Option<String>,
    #[serde(rename = "TagResources", default, deserialize_with = "opt_object")]
    pub tag_resources: Option<TagRows>,
}

#[derive(Debug, Deserialize)]
pub struct TagRows {
    #[serde(rename = "TagResource", default, deserialize_with = "list")]
    pub tag_resource: Vec<TagRow>,
}

#[derive(Debug, Deserialize)]
pub struct TagRow {
    #[serde(rename = "ResourceId", deserialize_with = "string")]
    pub resource_id: String,
    #[serde(rename = "TagKey", deserialize_with = "string")]
    pub tag_key: String,
    /// An empty value is legal; some answers leave it out instead.
    #[serde(rename = "TagValue", default, deserialize_with = "opt_string")]
    pub tag_value: Option<String>,
}

impl TagPage {
    pub fn rows(self) -> Vec<TagRow> {
        self.tag_resources.map(|t| t.tag_resource).unwrap_or_default()
    }

    /// The token of the next page, `None` on the last one.
    pub fn next(&self) -> Option<&str> {
        self.next_token.as_deref().filter(|t| !t.is_empty())
    }
}

/// `ListAliases`: one page of (alias, key id).
#[derive(Debug, Deserialize)]
pub struct AliasPage {
    #[serde(rename = "TotalCount", default, deserialize_with = "opt_u64")]
    pub total_count: Option<u64>,
    #[serde(rename = "Aliases", default, deserialize_with = "opt_object")]
    pub aliases: Option<AliasList>,
}

#[derive(Debug, Deserialize)]
pub struct AliasList {
    #[serde(rename = "Alias", default, deserialize_with = "list")]
    pub alias: Vec<AliasEntry>,
}

#[derive(Debug, Deserialize)]
pub struct AliasEntry {
    #[serde(rename = "AliasName", deserialize_with = "string")]
    pub alias_name: String,
    #[serde(rename = "KeyId", deserialize_with = "string")]
    pub key_id: String,
}

impl AliasPage {
    /// (alias, key id) of every entry.
    pub fn entries(self) -> Vec<(String, String)> {
        self.aliases
            .map(|a| a.alias.into_iter().map(|e| (e.alias_name, e.key_id)).collect())
            .unwrap_or_default()
    }
}

/// `ListKeys`: one page of key ids.
#[derive(Debug, Deserialize)]
pub struct KeyPage {
    #[serde(rename = "TotalCount", default, deserialize_with = "opt_u64")]
    pub total_count: Option<u64>,
    #[serde(rename = "Keys", default, deserialize_with = "opt_object")]
    pub keys: Option<KeyList>,
}

#[derive(Debug, Deserialize)]
pub struct KeyList {
    #[serde(rename = "Key", default, deserialize_with = "list")]
    pub key: Vec<KeyEntry>,
}

#[derive(Debug, Deserialize)]
pub struct KeyEntry {
    #[serde(rename = "KeyId", deserialize_with = "string")]
    pub key_id: String,
}

impl KeyPage {
    pub fn ids(self) -> Vec<String> {
        self.keys
            .map(|k| k.key.into_iter().map(|e| e.key_id).collect())
            .unwrap_or_default()
    }
}

/// `ListSecrets` with `FetchTags=true`: one page of secrets with their tags.
#[derive(Debug, Deserialize)]
pub struct SecretPage {
    #[serde(rename = "TotalCount", default, deserialize_with = "opt_u64")]
    pub total_count: Option<u64>,
    #[serde(rename = "SecretList", default, deserialize_with = "opt_object")]
    pub secret_list: Option<SecretList>,
}

#[derive(Debug, Deserialize)]
pub struct SecretList {
    #[serde(rename = "Secret", default, deserialize_with = "list")]
    pub secret: Vec<SecretEntry>,
}

#[derive(Debug, Deserialize)]
pub struct SecretEntry {
    #[serde(rename = "SecretName", deserialize_with = "string")]
    pub secret_name: String,
    /// Absent when the secret has no tags.
    #[serde(rename = "Tags", default, deserialize_with = "opt_object")]
    pub tags: Option<TagList>,
}

/// `Tags: {Tag: [{TagKey, TagValue}]}` of `ListSecrets` and `DescribeSecret`.
#[derive(Debug, Deserialize)]
pub struct TagList {
    #[serde(rename = "Tag", default, deserialize_with = "list")]
    pub tag: Vec<TagPair>,
}

#[derive(Debug, Deserialize)]
pub struct TagPair {
    #[serde(rename = "TagKey", deserialize_with = "string")]
    pub tag_key: String,
    #[serde(rename = "TagValue", default, deserialize_with = "opt_string")]
    pub tag_value: Option<String>,
}

impl TagList {
    pub fn into_tags(self) -> Tags {
        self.tag
            .into_iter()
            .map(|t| (t.tag_key, t.tag_value.unwrap_or_default()))
            .collect()
    }
}

impl SecretPage {
    pub fn secrets(self) -> Vec<SecretEntry> {
        self.secret_list.map(|s| s.secret).unwrap_or_default()
    }
}

/// `DescribeKey`: used to learn that a key exists and whether it is pending deletion, so only the id is
/// required.
#[derive(Debug, Deserialize)]
pub struct DescribeKey {
    #[serde(rename = "KeyMetadata", deserialize_with = "object")]
    pub key_metadata: KeyMetadata,
}

#[derive(Debug, Deserialize)]
pub struct KeyMetadata {
    #[serde(rename = "KeyId", deserialize_with = "string")]
    pub key_id: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, `PendingImport`.
    #[serde(rename = "KeyState", default, deserialize_with = "opt_string")]
    pub key_state: Option<String>,
}

/// `DescribeSecret` with `FetchTags=true`.
#[derive(Debug, Deserialize)]
pub struct DescribeSecret {
    #[serde(rename = "SecretName", deserialize_with = "string")]
    pub secret_name: String,
    #[serde(rename = "Tags", default, deserialize_with = "opt_object")]
    pub tags: Option<TagList>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode;

    #[test]
    fn the_documented_list_tag_resources_sample_decodes() {
        // Verbatim from the official ListTagResources page (reference §2).
        let body = br#"{
  "NextToken": "e71d8a535bd9cc11",
  "RequestId": "00827261-20B7-4562-83F2-4DF39876A45A",
  "TagResources": {
    "TagResource": [
      { "ResourceType": "key", "TagValue": "true", "ResourceId": "key-hzz62f1cb66fa42qo****", "TagKey": "disk-encryption" }
    ]
  }
}"#;
        let page: TagPage = decode("ListTagResources", body).unwrap();
        assert_eq!(page.next(), Some("e71d8a535bd9cc11"));
        let rows = page.rows();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].resource_id, "key-hzz62f1cb66fa42qo****");
        assert_eq!(rows[0].tag_key, "disk-encryption");
        assert_eq!(rows[0].tag_value.as_deref(), Some("true"));
        // The last page: an empty token, or none at all, and possibly no rows.
        let last: TagPage = decode(
            "ListTagResources",
            br#"{"NextToken":"","RequestId":"r","TagResources":{"TagResource":[]}}"#,
        )
        .unwrap();
        assert_eq!(last.next(), None);
        assert!(last.rows().is_empty());
        assert!(
            decode::<TagPage>("ListTagResources", br#"{"RequestId":"r"}"#)
                .unwrap()
                .rows()
                .is_empty()
        );
    }

    #[test]
    fn listings_decode_with_numbers_as_numbers_or_strings() {
        let keys: KeyPage = decode(
            "ListKeys",
            br#"{"PageNumber":1,"PageSize":100,"TotalCount":2,"RequestId":"r","Keys":{"Key":[{"KeyId":"k1","KeyArn":"a"},{"KeyId":"k2","KeyArn":"b"}]}}"#,
        )
        .unwrap();
        assert_eq!(keys.total_count, Some(2));
        assert_eq!(keys.ids(), ["k1", "k2"]);
        let secrets: SecretPage = decode(
            "ListSecrets",
            br#"{"PageNumber":"1","TotalCount":"1","SecretList":{"Secret":[{"SecretName":"db","Tags":{"Tag":[{"TagKey":"owner","TagValue":"payments"}]}}]}}"#,
        )
        .unwrap();
        assert_eq!(secrets.total_count, Some(1));
        let s = secrets.secrets().pop().unwrap();
        assert_eq!(s.secret_name, "db");
        assert_eq!(
            s.tags.unwrap().into_tags().get("owner").map(String::as_str),
            Some("payments")
        );
    }

    #[test]
    fn a_corrupted_page_is_an_invalid_response() {
        // The emulator's malformed fault: the row array turned into an object, or the body cut short.
        for body in [
            &br#"{"NextToken":"","TagResources":{"TagResource":{}}}"#[..],
            br#"{"NextToken":"","TagResources":{"TagResource":[{"ResourceId":12345,"TagKey":"a"}]}}"#,
            br#"{"NextToken":"","TagResources":{"TagRes"#,
        ] {
            let e = decode::<TagPage>("ListTagResources", body).unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::InvalidResponse);
        }
    }
}
