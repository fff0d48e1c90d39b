//! The clouds' own limits on tag keys, values and counts, as documented in the vendor references
//! (`/work/shared/reference`: alibaba-kms.md §3 "Tag rules", huawei-dew.md §2 and §3). Pure functions: the
//! config validator uses them on every declared tag, and a reconciler may use them before writing.
//!
//! Lengths count Unicode characters, as the vendors' limits do.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use crate::cloud::{Cloud, ResourceType};

/// One set of vendor tag limits. Alibaba uses the same rules for keys and secrets; Huawei's KMS keys and CSMS
/// secrets differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TagRules {
    /// Alibaba KMS keys and Secrets Manager secrets.
    Alibaba,
    /// Huawei DEW KMS keys.
    HuaweiKey,
    /// Huawei DEW CSMS secrets.
    HuaweiSecret,
}

const ALIBABA_MAX: usize = 128;
const HUAWEI_KEY_MAX_KEY: usize = 36;
const HUAWEI_KEY_MAX_VALUE: usize = 43;
const HUAWEI_SECRET_MAX_KEY: usize = 128;
const HUAWEI_SECRET_MAX_VALUE: usize = 255;

/// Characters outside `\p{L}\p{Z}\p{N}_.:=+-@` (Huawei CSMS keys).
static HUAWEI_SECRET_KEY_BAD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[^\p{L}\p{Z}\p{N}_.:=+\-@]").expect("static regex"));
/// Characters outside `\p{L}\p{Z}\p{N}_.:/=+-@` (Huawei CSMS values).
static HUAWEI_SECRET_VALUE_BAD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[^\p{L}\p{Z}\p{N}_.:/=+\-@]").expect("static regex"));

impl TagRules {
    pub const ALL: [TagRules; 3] = [TagRules::Alibaba, TagRules::HuaweiKey, TagRules::HuaweiSecret];

    /// The rules for one kind of resource in one cloud.
    pub fn of(cloud: Cloud, resource_type: ResourceType) -> Self {
        match (cloud, resource_type) {
            (Cloud::Alibaba, _) => TagRules::Alibaba,
            (Cloud::Huawei, ResourceType::Key) => TagRules::HuaweiKey,
            (Cloud::Huawei, ResourceType::Secret) => TagRules::HuaweiSecret,
        }
    }

    /// Who the rules are for, as messages say it: `alibaba tags`, `huawei keys`, `huawei secrets`.
    pub fn label(self) -> &'static str {
        match self {
            TagRules::Alibaba => "alibaba tags",
            TagRules::HuaweiKey => "huawei keys",
            TagRules::HuaweiSecret => "huawei secrets",
        }
    }

    /// Most tags one resource may carry, when the vendor documents a limit. Alibaba's per-resource limit is
    /// unverified (an old doc says 10, the tagging APIs take 20 per call), so none is enforced.
    pub fn max_tags(self) -> Option<usize> {
        match self {
            TagRules::Alibaba => None,
            TagRules::HuaweiKey => Some(10),
            TagRules::HuaweiSecret => Some(20),
        }
    }

    /// Checks a tag key; the error says what is wrong and what is allowed.
    pub fn check_key(self, key: &str) -> Result<(), String> {
        let len = key.chars().count();
        if len == 0 {
            return Err("tag key must not be empty".to_string());
        }
        let max = match self {
            TagRules::Alibaba => ALIBABA_MAX,
            TagRules::HuaweiKey => HUAWEI_KEY_MAX_KEY,
            TagRules::HuaweiSecret => HUAWEI_SECRET_MAX_KEY,
        };
        if len > max {
            return Err(format!(
                "tag key is {len} characters long; {} allow at most {max}",
                self.label()
            ));
        }
        match self {
            TagRules::Alibaba => {
                for prefix in ["acs:", "aliyun"] {
                    if key.starts_with(prefix) {
                        return Err(format!(
                            "tag key {} starts with '{prefix}', which alibaba reserves for system tags",
                            quote(key)
                        ));
                    }
                }
                alibaba_chars("key", key)
            }
            TagRules::HuaweiKey => huawei_key_chars("key", key),
            TagRules::HuaweiSecret => {
                if key.starts_with(char::is_whitespace) || key.ends_with(char::is_whitespace) {
                    return Err(format!(
                        "tag key {} starts or ends with whitespace, which huawei secrets do not allow",
                        quote(key)
                    ));
                }
                if key.starts_with("_sys_") {
                    return Err(format!(
                        "tag key {} starts with '_sys_', which huawei reserves for system tags",
                        quote(key)
                    ));
                }
                match HUAWEI_SECRET_KEY_BAD.find(key) {
                    Some(m) => Err(bad_char(
                        "key",
                        key,
                        m.as_str(),
                        self,
                        "letters, digits, spaces and _ . : = + - @ only",
                    )),
                    None => Ok(()),
                }
            }
        }
    }

    /// Checks a tag value (which may be empty); the error says what is wrong and what is allowed.
    pub fn check_value(self, value: &str) -> Result<(), String> {
        let len = value.chars().count();
        let max = match self {
            TagRules::Alibaba => ALIBABA_MAX,
            TagRules::HuaweiKey => HUAWEI_KEY_MAX_VALUE,
            TagRules::HuaweiSecret => HUAWEI_SECRET_MAX_VALUE,
        };
        if len > max {
            return Err(format!(
                "tag value is {len} characters long; {} allow at most {max}",
                self.label()
            ));
        }
        match self {
            TagRules::Alibaba => alibaba_chars("value", value),
            TagRules::HuaweiKey => huawei_key_chars("value", value),
            TagRules::HuaweiSecret => match HUAWEI_SECRET_VALUE_BAD.find(value) {
                Some(m) => Err(bad_char(
                    "value",
                    value,
                    m.as_str(),
                    self,
                    "letters, digits, spaces and _ . : / = + - @ only",
                )),
                None => Ok(()),
            },
        }
    }
}

impl fmt::Display for TagRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

fn alibaba_chars(what: &str, text: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_alphanumeric() || "/\\_-.+=:@".contains(c);
    match text.chars().find(|c| !allowed(*c)) {
        Some(c) => Err(bad_char(
            what,
            text,
            &c.to_string(),
            TagRules::Alibaba,
            "letters, digits and / \\ _ - . + = : @ only",
        )),
        None => Ok(()),
    }
}

fn huawei_key_chars(what: &str, text: &str) -> Result<(), String> {
    let forbidden = |c: char| (c as u32) < 32 || "*<>\\=".contains(c);
    match text.chars().find(|c| forbidden(*c)) {
        Some(c) => Err(bad_char(
            what,
            text,
            &c.to_string(),
            TagRules::HuaweiKey,
            "no control characters, *, <, >, \\ or =",
        )),
        None => Ok(()),
    }
}

fn bad_char(what: &str, text: &str, bad: &str, rules: TagRules, allowed: &str) -> String {
    format!(
        "tag {what} {} contains {}, which {} do not allow ({allowed})",
        quote(text),
        quote(bad),
        rules.label(),
    )
}

fn quote(text: &str) -> String {
    super::yaml::quote(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let long = |n: usize| "k".repeat(n);
        let cases: &[(TagRules, &str, Option<&str>)] = &[
            (TagRules::Alibaba, "owner", None),
            (TagRules::Alibaba, "team/app_1-x.y+z=w:v@u\\t", None),
            (TagRules::Alibaba, "成本中心", None),
            (TagRules::Alibaba, "", Some("tag key must not be empty")),
            (
                TagRules::Alibaba,
                "acs:owner",
                Some("tag key 'acs:owner' starts with 'acs:', which alibaba reserves for system tags"),
            ),
            (
                TagRules::Alibaba,
                "aliyunTeam",
                Some("tag key 'aliyunTeam' starts with 'aliyun', which alibaba reserves for system tags"),
            ),
            (
                TagRules::Alibaba,
                "cost center",
                Some(
                    "tag key 'cost center' contains ' ', which alibaba tags do not allow \
                     (letters, digits and / \\ _ - . + = : @ only)",
                ),
            ),
            (TagRules::HuaweiKey, "key1", None),
            (TagRules::HuaweiKey, "cost center", None),
            (
                TagRules::HuaweiKey,
                "a=b",
                Some(
                    "tag key 'a=b' contains '=', which huawei keys do not allow (no control characters, *, <, >, \\ or =)",
                ),
            ),
            (
                TagRules::HuaweiKey,
                "a\u{1}",
                Some(
                    "tag key 'a\\u{1}' contains '\\u{1}', which huawei keys do not allow \
                     (no control characters, *, <, >, \\ or =)",
                ),
            ),
            (TagRules::HuaweiSecret, "_sys", None),
            (TagRules::HuaweiSecret, "a b:c=d+e-f@g.h_i", None),
            (
                TagRules::HuaweiSecret,
                "_sys_x",
                Some("tag key '_sys_x' starts with '_sys_', which huawei reserves for system tags"),
            ),
            (
                TagRules::HuaweiSecret,
                " x",
                Some("tag key ' x' starts or ends with whitespace, which huawei secrets do not allow"),
            ),
            (
                TagRules::HuaweiSecret,
                "a/b",
                Some(
                    "tag key 'a/b' contains '/', which huawei secrets do not allow \
                     (letters, digits, spaces and _ . : = + - @ only)",
                ),
            ),
        ];
        for (rules, key, want) in cases {
            assert_eq!(rules.check_key(key).err().as_deref(), *want, "{rules} {key:?}");
        }
        let length_cases = [
            (TagRules::Alibaba, 128, 129),
            (TagRules::HuaweiKey, 36, 37),
            (TagRules::HuaweiSecret, 128, 129),
        ];
        for (rules, ok, bad) in length_cases {
            assert_eq!(rules.check_key(&long(ok)), Ok(()), "{rules} {ok}");
            let err = rules.check_key(&long(bad)).unwrap_err();
            assert!(err.contains(&format!("is {bad} characters long")), "{err}");
        }
    }

    #[test]
    fn values() {
        let cases: &[(TagRules, &str, Option<&str>)] = &[
            (TagRules::Alibaba, "", None),
            (TagRules::Alibaba, "payments", None),
            (
                TagRules::Alibaba,
                "a,b",
                Some(
                    "tag value 'a,b' contains ',', which alibaba tags do not allow (letters, digits and / \\ _ - . + = : @ only)",
                ),
            ),
            (TagRules::HuaweiKey, "", None),
            (TagRules::HuaweiKey, "a b/c", None),
            (
                TagRules::HuaweiKey,
                "<x>",
                Some(
                    "tag value '<x>' contains '<', which huawei keys do not allow (no control characters, *, <, >, \\ or =)",
                ),
            ),
            (TagRules::HuaweiSecret, "", None),
            (TagRules::HuaweiSecret, "a/b c", None),
            (
                TagRules::HuaweiSecret,
                "a#b",
                Some(
                    "tag value 'a#b' contains '#', which huawei secrets do not allow \
                     (letters, digits, spaces and _ . : / = + - @ only)",
                ),
            ),
        ];
        for (rules, value, want) in cases {
            assert_eq!(
                rules.check_value(value).err().as_deref(),
                *want,
                "{rules} {value:?}"
            );
        }
        for (rules, ok) in [
            (TagRules::Alibaba, 128),
            (TagRules::HuaweiKey, 43),
            (TagRules::HuaweiSecret, 255),
        ] {
            assert_eq!(rules.check_value(&"v".repeat(ok)), Ok(()));
            assert!(rules.check_value(&"v".repeat(ok + 1)).is_err());
        }
    }

    #[test]
    fn rules_per_resource() {
        assert_eq!(TagRules::of(Cloud::Alibaba, ResourceType::Key), TagRules::Alibaba);
        assert_eq!(
            TagRules::of(Cloud::Alibaba, ResourceType::Secret),
            TagRules::Alibaba
        );
        assert_eq!(
            TagRules::of(Cloud::Huawei, ResourceType::Key),
            TagRules::HuaweiKey
        );
        assert_eq!(
            TagRules::of(Cloud::Huawei, ResourceType::Secret),
            TagRules::HuaweiSecret
        );
        assert_eq!(TagRules::HuaweiKey.max_tags(), Some(10));
        assert_eq!(TagRules::HuaweiSecret.max_tags(), Some(20));
        assert_eq!(TagRules::Alibaba.max_tags(), None);
    }
}
