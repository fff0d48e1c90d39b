//! The DEW response bodies the reader decodes, with the documented field names
//! (secret tags: <https://support.huaweicloud.com/intl/en-us/api-dew/ListSecretTags.html>; the others as the official SDKs'
//! `huaweicloudsdkkms`/`huaweicloudsdkcsms` 3.1.219 models read them): lists may be a scalar (wrapped) or `null`,
//! `sys_tags` is often `null`, `truncated` is the *string* `"true"`/`"false"`, counts may be strings, and
//! the key tag count is `existTagsNum` (an old doc says `existTagNum`; neither is needed).

use serde::Deserialize;

use crate::wire::{list, opt_bool, opt_object, opt_string, opt_u64, string};
use crate::{ErrorCode, ReadError, Tags, Untaggable};

/// A `{key, value}` tag of any DEW API.
#[derive(Debug, Deserialize)]
pub struct Tag {
    #[serde(deserialize_with = "string")]
    pub key: String,
    #[serde(default, deserialize_with = "opt_string")]
    pub value: Option<String>,
}

/// User tags then system tags, into one map (the engine filters system keys; a user key wins a clash).
pub fn merge(tags: Vec<Tag>, sys_tags: Vec<Tag>) -> Tags {
    let mut out = Tags::new();
    for t in sys_tags.into_iter().chain(tags) {
        out.insert(t.key, t.value.unwrap_or_default());
    }
    out
}

/// `GET /v1/{project_id}/csms/{secret_id}/tags` and `GET /v1.0/{project_id}/kms/{key_id}/tags`.
#[derive(Debug, Deserialize)]
pub struct TagsAnswer {
    #[serde(default, deserialize_with = "list")]
    pub tags: Vec<Tag>,
    #[serde(default, deserialize_with = "list")]
    pub sys_tags: Vec<Tag>,
}

impl TagsAnswer {
    pub fn into_tags(self) -> Tags {
        merge(self.tags, self.sys_tags)
    }
}

/// `GET /v1/{project_id}/secrets`: one page, paginated by secret name.
#[derive(Debug, Deserialize)]
pub struct SecretPage {
    #[serde(default, deserialize_with = "list")]
    pub secrets: Vec<Secret>,
    #[serde(default, deserialize_with = "opt_object")]
    pub page_info: Option<PageInfo>,
}

#[derive(Debug, Deserialize)]
pub struct Secret {
    #[serde(deserialize_with = "string")]
    pub id: String,
    #[serde(deserialize_with = "string")]
    pub name: String,
    /// `ENABLED`, `DISABLED`, `PENDING_DELETE` or `FROZEN` (the SDK's `Secret.state`).
    #[serde(default, deserialize_with = "opt_string")]
    pub state: Option<String>,
}

/// The secret state of a secret scheduled for deletion; tag calls on it answer `CSMS.0103`/`CSMS.0107`.
pub const SECRET_PENDING_DELETE: &str = "PENDING_DELETE";
/// `key_state` of a key scheduled for deletion (the SDK's `KeyDetails.key_state`: "1" pending activation,
/// "2" enabled, "3" disabled, "4" pending deletion, "5" pending import); tag calls answer `KMS.0210`.
pub const KEY_PENDING_DELETION: &str = "4";

/// Why a secret of this `state` cannot carry tags, with the listing's words.
pub fn secret_untaggable(state: Option<&str>) -> Option<(Untaggable, String)> {
    (state == Some(SECRET_PENDING_DELETE)).then(|| {
        (
            Untaggable::PendingDeletion,
            format!("state {SECRET_PENDING_DELETE}"),
        )
    })
}

/// Why a key with this `key_state` and `default_key_flag` cannot carry tags, with the listing's words. A
/// default master key (flag "1") refuses tag calls with `KMS.0211` whatever its state.
pub fn key_untaggable(state: Option<&str>, default_flag: Option<&str>) -> Option<(Untaggable, String)> {
    if default_flag == Some("1") {
        Some((Untaggable::DefaultKey, "default_key_flag 1".to_owned()))
    } else if state == Some(KEY_PENDING_DELETION) {
        Some((
            Untaggable::PendingDeletion,
            format!("key_state {KEY_PENDING_DELETION} (pending deletion)"),
        ))
    } else {
        None
    }
}

#[derive(Debug, Deserialize)]
pub struct PageInfo {
    #[serde(default, deserialize_with = "opt_string")]
    pub next_marker: Option<String>,
}

impl SecretPage {
    pub fn next_marker(&self) -> Option<&str> {
        self.page_info
            .as_ref()
            .and_then(|p| p.next_marker.as_deref())
            .filter(|m| !m.is_empty())
    }
}

/// `POST /v1.0/{project_id}/kms/list-keys`: one page of keys.
#[derive(Debug, Deserialize)]
pub struct KeyPage {
    #[serde(default, deserialize_with = "list")]
    pub keys: Vec<KeyIdOnly>,
    #[serde(default, deserialize_with = "list")]
    pub key_details: Vec<KeyDetails>,
    #[serde(default, deserialize_with = "opt_string")]
    pub next_marker: Option<String>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub truncated: Option<bool>,
}

/// `keys` is a list of bare id strings.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct KeyIdOnly(#[serde(deserialize_with = "string")] pub String);

#[derive(Debug, Deserialize)]
pub struct KeyDetails {
    #[serde(deserialize_with = "string")]
    pub key_id: String,
    #[serde(default, deserialize_with = "opt_string")]
    pub key_alias: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub key_state: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub default_key_flag: Option<String>,
}

/// One key of a `list-keys` page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedKey {
    pub id: String,
    pub alias: Option<String>,
    /// Set when the listing says the key cannot carry tags.
    pub untaggable: Option<(Untaggable, String)>,
}

impl KeyPage {
    /// Every key of the page with its alias and whether it can carry tags: `key_details` when present, else
    /// the bare `keys`.
    pub fn keys(&self) -> Vec<ListedKey> {
        if self.key_details.is_empty() {
            self.keys
                .iter()
                .map(|k| ListedKey {
                    id: k.0.clone(),
                    alias: None,
                    untaggable: None,
                })
                .collect()
        } else {
            self.key_details
                .iter()
                .map(|d| ListedKey {
                    id: d.key_id.clone(),
                    alias: d.key_alias.clone().filter(|a| !a.is_empty()),
                    untaggable: key_untaggable(d.key_state.as_deref(), d.default_key_flag.as_deref()),
                })
                .collect()
        }
    }

    /// The marker of the next page, `None` on the last one. A page that says it is truncated but names no
    /// marker is an error: stopping there would read a partial listing as the whole one.
    pub fn next(&self) -> Result<Option<&str>, ReadError> {
        if self.truncated == Some(false) {
            return Ok(None);
        }
        let marker = self.next_marker.as_deref().filter(|m| !m.is_empty());
        if self.truncated == Some(true) && marker.is_none() {
            return Err(ReadError::new(
                ErrorCode::InvalidResponse,
                "invalid ListKeys response: truncated is true but next_marker is empty",
            ));
        }
        Ok(marker)
    }
}

/// `POST .../resource_instances/action` with `action: filter`.
#[derive(Debug, Deserialize)]
pub struct InstancePage {
    #[serde(default, deserialize_with = "list")]
    pub resources: Vec<Instance>,
    #[serde(default, deserialize_with = "opt_u64")]
    pub total_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct Instance {
    #[serde(deserialize_with = "string")]
    pub resource_id: String,
    #[serde(default, deserialize_with = "opt_string")]
    pub resource_name: Option<String>,
    #[serde(default, deserialize_with = "opt_object")]
    pub resource_detail: Option<InstanceDetail>,
    #[serde(default, deserialize_with = "list")]
    pub tags: Vec<Tag>,
    #[serde(default, deserialize_with = "list")]
    pub sys_tags: Vec<Tag>,
}

/// The parts of `resource_detail` (a `Secret` or `KeyDetails`) the reader uses.
#[derive(Debug, Deserialize)]
pub struct InstanceDetail {
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub key_alias: Option<String>,
    /// A secret's `state`.
    #[serde(default, deserialize_with = "opt_string")]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub key_state: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub default_key_flag: Option<String>,
}

impl Instance {
    /// The secret name: `resource_name`, else the detail's `name`.
    pub fn secret_name(&self) -> Option<String> {
        self.resource_name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| self.resource_detail.as_ref().and_then(|d| d.name.clone()))
    }

    /// Why the resource cannot carry tags, when its detail says so.
    pub fn untaggable(&self) -> Option<(Untaggable, String)> {
        let d = self.resource_detail.as_ref()?;
        secret_untaggable(d.state.as_deref())
            .or_else(|| key_untaggable(d.key_state.as_deref(), d.default_key_flag.as_deref()))
    }

    pub fn key_alias(&self) -> Option<String> {
        self.resource_detail
            .as_ref()
            .and_then(|d| d.key_alias.clone())
            .filter(|a| !a.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode;

    #[test]
    fn the_documented_tag_answers_decode() {
        // Verbatim from the "Querying Secret Tags" page: `sys_tags` is null.
        let body = br#"{
  "tags" : [ { "key" : "key1", "value" : "value1" }, { "key" : "key2", "value" : "value2" } ],
  "sys_tags" : null
}"#;
        let t: TagsAnswer = decode("ListSecretTags", body).unwrap();
        assert_eq!(t.into_tags().len(), 2);
        // KMS key tags with the camelCase count, and system tags merged under user tags.
        let k: TagsAnswer = decode(
            "ShowKmsTags",
            br#"{"tags":[{"key":"key1","value":"value1"}],"existTagsNum":1,"sys_tags":[{"key":"_sys_enterprise_project_id","value":"0"}]}"#,
        )
        .unwrap();
        let tags = k.into_tags();
        assert_eq!(
            tags.get("_sys_enterprise_project_id").map(String::as_str),
            Some("0")
        );
        assert_eq!(tags.get("key1").map(String::as_str), Some("value1"));
    }

    #[test]
    fn key_pages_read_truncated_as_a_string() {
        let page: KeyPage = decode(
            "ListKeys",
            br#"{"keys":["k1"],"key_details":[{"key_id":"k1","key_alias":"app"}],"next_marker":"1","truncated":"true","total":2}"#,
        )
        .unwrap();
        assert_eq!(
            page.keys(),
            [ListedKey {
                id: "k1".to_owned(),
                alias: Some("app".to_owned()),
                untaggable: None
            }]
        );
        assert_eq!(page.next(), Ok(Some("1")));
        let last: KeyPage = decode(
            "ListKeys",
            br#"{"keys":[],"key_details":[],"next_marker":"","truncated":"false","total":2}"#,
        )
        .unwrap();
        assert_eq!(last.next(), Ok(None));
    }

    #[test]
    fn listings_tell_which_resources_cannot_carry_tags() {
        let page: KeyPage = decode(
            "ListKeys",
            br#"{"key_details":[
                {"key_id":"k1","key_alias":"obs/default","key_state":"2","default_key_flag":"1"},
                {"key_id":"k2","key_alias":"app","key_state":"4","default_key_flag":"0"},
                {"key_id":"k3","key_alias":"app2","key_state":"3","default_key_flag":"0"},
                {"key_id":"k4"}],"truncated":"false"}"#,
        )
        .unwrap();
        let got: Vec<_> = page
            .keys()
            .into_iter()
            .map(|k| k.untaggable.map(|u| u.0))
            .collect();
        assert_eq!(
            got,
            [
                Some(Untaggable::DefaultKey),
                Some(Untaggable::PendingDeletion),
                None,
                None
            ]
        );
        for (state, want) in [
            (Some("PENDING_DELETE"), Some(Untaggable::PendingDeletion)),
            (Some("ENABLED"), None),
            (Some("FROZEN"), None),
            (None, None),
        ] {
            assert_eq!(secret_untaggable(state).map(|u| u.0), want, "{state:?}");
        }
    }

    #[test]
    fn secret_pages_end_without_a_marker() {
        let page: SecretPage = decode(
            "ListSecrets",
            br#"{"secrets":[{"id":"u1","name":"db","state":"ENABLED","create_time":1581507580000}],"page_info":{"current_count":1}}"#,
        )
        .unwrap();
        assert_eq!(page.next_marker(), None);
        assert_eq!(page.secrets[0].id, "u1");
    }
}
