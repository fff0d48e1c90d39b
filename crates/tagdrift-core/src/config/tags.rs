//! The clouds' own limits on tag keys, values and counts, as documented in the vendor references
//! (Alibaba: the `Tag.N.Key` rules of <https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-listtagresources>;
//! Huawei: the TagItem constraints of <https://support.huaweicloud.com/intl/en-us/api-dew/ListSecretTags.html> and the
//! KMS key tag pages). Pure functions: the config validator uses them on every declared tag, and a reconciler
//! may use them before writing.
//!
//! Lengths count Unicode characters, as the vendors' limits do.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use crate::vocab::{Cloud, ResourceType};

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
    crate::yaml::quote(text)
}

#[cfg(test)]
mod tests;
