//! Grouping the targets' changes into write calls. Alibaba's `TagResources` / `UntagResources` take up to 50
//! resources and 20 tags (or tag keys) per call, so resources of one account, region and type that need
//! exactly the same tags set (or the same keys removed) share calls; resources whose changes differ never do,
//! so a call's failure or success means the same thing for every resource in it. Huawei's `tags/action`
//! names one resource in its path, so each resource gets its own calls.
//!
//! Removals come before additions: a resource at its tag limit needs the room a removed key frees.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Target;
use crate::vocab::{Cloud, ResourceType, Tags};

/// Most resources and tags one call may carry, per cloud. Alibaba: `ResourceId.N` up to 50 and `Tag.N` /
/// `TagKey.N` up to 20 (the SDK's `TagResourcesRequest` and `UntagResourcesRequest`). Huawei: one resource
/// per path; 20 tags, the most a CSMS secret can hold (a KMS key holds 10).
pub fn limits(cloud: Cloud) -> (usize, usize) {
    match cloud {
        Cloud::Alibaba => (50, 20),
        Cloud::Huawei => (1, 20),
    }
}

/// One write call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Batch {
    pub cloud: Cloud,
    pub account: String,
    pub region: String,
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    pub op: Op,
    /// The resources, in plan order.
    pub members: Vec<Member>,
}

/// A resource in a call: the desired state's id and, when it differs, the id the cloud's write API takes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Member {
    pub id: String,
    pub native_id: Option<String>,
}

impl Member {
    /// The id the cloud's write API takes.
    pub fn write_id(&self) -> &str {
        self.native_id.as_deref().unwrap_or(&self.id)
    }
}

/// What a call does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Remove these keys (sorted).
    Untag(Vec<String>),
    /// Create these tags, overwriting the value of a key that exists.
    Tag(Tags),
}

impl Op {
    /// The keys the call touches.
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Op::Untag(keys) => keys.iter().map(String::as_str).collect(),
            Op::Tag(tags) => tags.keys().map(String::as_str).collect(),
        }
    }
}

type Scope = (Cloud, String, String, ResourceType);

/// The calls that write `targets`: for each scope, the removals first, then the additions, each group of
/// resources with identical changes split by the cloud's [`limits`].
pub fn batch(targets: &[Target]) -> Vec<Batch> {
    // Scope -> op -> members, ordered so the output is the same for the same plan.
    let mut groups: BTreeMap<Scope, BTreeMap<Op, Vec<Member>>> = BTreeMap::new();
    for t in targets {
        let r = &t.resource;
        let scope = (r.cloud, r.account.clone(), r.region.clone(), r.resource_type);
        let member = Member {
            id: r.id.clone(),
            native_id: t.native_id.clone(),
        };
        let ops = groups.entry(scope).or_default();
        let unset = t.unset();
        if !unset.is_empty() {
            ops.entry(Op::Untag(unset)).or_default().push(member.clone());
        }
        let set = t.set();
        if !set.is_empty() {
            ops.entry(Op::Tag(set)).or_default().push(member);
        }
    }
    let mut out = Vec::new();
    for ((cloud, account, region, resource_type), ops) in groups {
        let (max_resources, max_tags) = limits(cloud);
        // `Op::Untag` sorts before `Op::Tag`: removals first.
        for (op, members) in ops {
            for op in split(&op, max_tags) {
                for chunk in members.chunks(max_resources) {
                    out.push(Batch {
                        cloud,
                        account: account.clone(),
                        region: region.clone(),
                        resource_type,
                        op: op.clone(),
                        members: chunk.to_vec(),
                    });
                }
            }
        }
    }
    out
}

/// `op` cut into pieces of at most `max` tags.
fn split(op: &Op, max: usize) -> Vec<Op> {
    match op {
        Op::Untag(keys) => keys.chunks(max).map(|c| Op::Untag(c.to_vec())).collect(),
        Op::Tag(tags) => {
            let pairs: Vec<(&String, &String)> = tags.iter().collect();
            pairs
                .chunks(max)
                .map(|c| Op::Tag(c.iter().map(|(k, v)| ((*k).clone(), (*v).clone())).collect()))
                .collect()
        }
    }
}
