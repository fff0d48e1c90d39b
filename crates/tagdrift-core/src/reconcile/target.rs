//! `--target` selectors: the fields of a desired-state `match` selector (cloud, account, region, type, name
//! glob) written on one line as `key=value` pairs separated by commas or spaces, the inverse of
//! [`Selector::describe`]: `cloud=alibaba,account=ali-prod,type=key` or `name='prod/*'`.

use globset::GlobBuilder;

use crate::config::{Glob, Selector};
use crate::vocab::{Cloud, ResourceType};

/// Why a `--target` selector was refused; each message carries the offending text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("empty target selector (expected key=value pairs such as cloud=alibaba,type=key)")]
    Empty,
    #[error("'{0}' is not key=value (keys: cloud, account, region, type, name)")]
    NotAPair(String),
    #[error("unknown selector key '{0}' (expected cloud, account, region, type or name)")]
    UnknownKey(String),
    #[error("'{0}' is given twice in one target selector")]
    Duplicate(String),
    #[error("unknown cloud '{0}' (expected alibaba or huawei)")]
    Cloud(String),
    #[error("unknown type '{0}' (expected key or secret)")]
    Type(String),
    #[error("invalid glob '{pattern}': {reason}")]
    Glob { pattern: String, reason: String },
}

/// Parses one `--target` value.
pub fn parse_target(text: &str) -> Result<Selector, TargetError> {
    let mut selector = Selector::default();
    let mut seen: Vec<&str> = Vec::new();
    let pairs: Vec<&str> = text
        .split([',', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if pairs.is_empty() {
        return Err(TargetError::Empty);
    }
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            .ok_or_else(|| TargetError::NotAPair(pair.to_owned()))?;
        if seen.contains(&key) {
            return Err(TargetError::Duplicate(key.to_owned()));
        }
        seen.push(key);
        match key {
            "cloud" => {
                selector.cloud = Some(match value {
                    "alibaba" => Cloud::Alibaba,
                    "huawei" => Cloud::Huawei,
                    _ => return Err(TargetError::Cloud(value.to_owned())),
                });
            }
            "type" => {
                selector.resource_type = Some(match value {
                    "key" => ResourceType::Key,
                    "secret" => ResourceType::Secret,
                    _ => return Err(TargetError::Type(value.to_owned())),
                });
            }
            "account" => selector.account = Some(glob(value)?),
            "region" => selector.region = Some(glob(value)?),
            "name" => selector.name = Some(glob(value)?),
            _ => return Err(TargetError::UnknownKey(key.to_owned())),
        }
    }
    Ok(selector)
}

/// Compiled as the desired-state loader compiles selector globs (case-sensitive).
fn glob(pattern: &str) -> Result<Glob, TargetError> {
    let pattern = pattern.trim_matches(['\'', '"']);
    GlobBuilder::new(pattern)
        .build()
        .map(|g| Glob {
            pattern: pattern.to_owned(),
            matcher: g.compile_matcher(),
        })
        .map_err(|e| TargetError::Glob {
            pattern: pattern.to_owned(),
            reason: e.kind().to_string(),
        })
}
