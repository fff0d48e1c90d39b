//! Selector matching: which resources a default, rule, discovery entry or ignore applies to. Lives beside the
//! engine (not in the config model) because matching is evaluation, and the model stays plain data.

use crate::config::Selector;
use crate::vocab::ResourceRef;

impl Selector {
    /// Whether `resource` is selected. The `name` glob matches the resource's id, or `alias` when one is given.
    pub fn matches(&self, resource: &ResourceRef, alias: Option<&str>) -> bool {
        self.cloud.is_none_or(|c| c == resource.cloud)
            && self.resource_type.is_none_or(|t| t == resource.resource_type)
            && self
                .account
                .as_ref()
                .is_none_or(|g| g.is_match(&resource.account))
            && self.region.as_ref().is_none_or(|g| g.is_match(&resource.region))
            && self
                .name
                .as_ref()
                .is_none_or(|g| g.is_match(&resource.id) || alias.is_some_and(|a| g.is_match(a)))
    }

    /// A short description for reports, such as `cloud=alibaba account=ali-* type=secret name=prod/*`, or
    /// `all resources` when nothing is constrained.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = self.cloud {
            parts.push(format!("cloud={c}"));
        }
        if let Some(g) = &self.account {
            parts.push(format!("account={}", g.pattern));
        }
        if let Some(g) = &self.region {
            parts.push(format!("region={}", g.pattern));
        }
        if let Some(t) = self.resource_type {
            parts.push(format!("type={t}"));
        }
        if let Some(g) = &self.name {
            parts.push(format!("name={}", g.pattern));
        }
        if parts.is_empty() {
            "all resources".to_owned()
        } else {
            parts.join(" ")
        }
    }
}
