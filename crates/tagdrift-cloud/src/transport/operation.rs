//! The closed list of cloud API operations tagdrift calls: the `operation` label of the API metrics
//! (docs/metrics.md), the key to each operation's rate-limit group, and the one table of the policy action
//! each needs ([`Operation::permission`]), which the writers' refusal messages and docs/permissions.md's
//! policies (checked by a test) are both built on.

use std::fmt;

use crate::Cloud;

/// One cloud API. [`as_str`](Operation::as_str) is the API's own name (the SDK's name for Huawei), unique
/// within a cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    AlibabaListTagResources,
    AlibabaListKeys,
    AlibabaDescribeKey,
    AlibabaListAliases,
    AlibabaListSecrets,
    AlibabaDescribeSecret,
    AlibabaTagResources,
    AlibabaUntagResources,
    /// STS, for RRSA credentials.
    AlibabaAssumeRoleWithOidc,
    /// ECS instance metadata (session token, role name, role credentials).
    AlibabaEcsMetadata,
    /// `GET /v1/{project_id}/secrets`.
    HuaweiListSecrets,
    /// `POST /v1.0/{project_id}/kms/list-keys`.
    HuaweiListKeys,
    /// `GET /v1/{project_id}/csms/{secret_id}/tags`.
    HuaweiListSecretTags,
    /// `GET /v1.0/{project_id}/kms/{key_id}/tags`.
    HuaweiShowKmsTags,
    /// `POST /v1/{project_id}/csms/resource_instances/action`.
    HuaweiListSecretResourceInstances,
    /// `POST /v1.0/{project_id}/kms/resource_instances/action`.
    HuaweiListKmsByTags,
    /// `POST /v1/{project_id}/csms/{secret_id}/tags/action`.
    HuaweiBatchCreateOrDeleteSecretTags,
    /// `POST /v1.0/{project_id}/kms/{key_id}/tags/action`.
    HuaweiBatchCreateKmsTags,
    /// IAM `GET /v3/projects`, to resolve a region's project id.
    HuaweiKeystoneListProjects,
    /// IAM `POST /v3.0/OS-AUTH/id-token/tokens` (workload identity, step 1).
    HuaweiCreateTokenWithIdToken,
    /// IAM `POST /v3.0/OS-CREDENTIAL/securitytokens` (workload identity, step 2).
    HuaweiCreateTemporaryAccessKeyByToken,
    /// ECS instance metadata (`securitykey`).
    HuaweiEcsMetadata,
}

impl Operation {
    pub const ALL: [Operation; 22] = [
        Operation::AlibabaListTagResources,
        Operation::AlibabaListKeys,
        Operation::AlibabaDescribeKey,
        Operation::AlibabaListAliases,
        Operation::AlibabaListSecrets,
        Operation::AlibabaDescribeSecret,
        Operation::AlibabaTagResources,
        Operation::AlibabaUntagResources,
        Operation::AlibabaAssumeRoleWithOidc,
        Operation::AlibabaEcsMetadata,
        Operation::HuaweiListSecrets,
        Operation::HuaweiListKeys,
        Operation::HuaweiListSecretTags,
        Operation::HuaweiShowKmsTags,
        Operation::HuaweiListSecretResourceInstances,
        Operation::HuaweiListKmsByTags,
        Operation::HuaweiBatchCreateOrDeleteSecretTags,
        Operation::HuaweiBatchCreateKmsTags,
        Operation::HuaweiKeystoneListProjects,
        Operation::HuaweiCreateTokenWithIdToken,
        Operation::HuaweiCreateTemporaryAccessKeyByToken,
        Operation::HuaweiEcsMetadata,
    ];

    pub fn cloud(self) -> Cloud {
        use Operation::*;
        match self {
            AlibabaListTagResources
            | AlibabaListKeys
            | AlibabaDescribeKey
            | AlibabaListAliases
            | AlibabaListSecrets
            | AlibabaDescribeSecret
            | AlibabaTagResources
            | AlibabaUntagResources
            | AlibabaAssumeRoleWithOidc
            | AlibabaEcsMetadata => Cloud::Alibaba,
            _ => Cloud::Huawei,
        }
    }

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        use Operation::*;
        match self {
            AlibabaListTagResources => "ListTagResources",
            AlibabaListKeys => "ListKeys",
            AlibabaDescribeKey => "DescribeKey",
            AlibabaListAliases => "ListAliases",
            AlibabaListSecrets => "ListSecrets",
            AlibabaDescribeSecret => "DescribeSecret",
            AlibabaTagResources => "TagResources",
            AlibabaUntagResources => "UntagResources",
            AlibabaAssumeRoleWithOidc => "AssumeRoleWithOIDC",
            AlibabaEcsMetadata => "EcsMetadata",
            HuaweiListSecrets => "ListSecrets",
            HuaweiListKeys => "ListKeys",
            HuaweiListSecretTags => "ListSecretTags",
            HuaweiShowKmsTags => "ShowKmsTags",
            HuaweiListSecretResourceInstances => "ListResourceInstances",
            HuaweiListKmsByTags => "ListKmsByTags",
            HuaweiBatchCreateOrDeleteSecretTags => "BatchCreateOrDeleteTags",
            HuaweiBatchCreateKmsTags => "BatchCreateKmsTags",
            HuaweiKeystoneListProjects => "KeystoneListProjects",
            HuaweiCreateTokenWithIdToken => "CreateTokenWithIdToken",
            HuaweiCreateTemporaryAccessKeyByToken => "CreateTemporaryAccessKeyByToken",
            HuaweiEcsMetadata => "EcsMetadata",
        }
    }

    /// The policy action a call needs: Alibaba RAM (`kms:<API name>`), Huawei IAM identity policies. `None`
    /// where no action of the caller's policy governs the call: instance metadata, the OIDC exchanges (the
    /// role's trust policy or the identity provider decides) and the IAM project listing, which tagdrift
    /// declares but never calls (project ids come from the desired state).
    pub fn permission(self) -> Option<&'static str> {
        use Operation::*;
        Some(match self {
            AlibabaListTagResources => "kms:ListTagResources",
            AlibabaListKeys => "kms:ListKeys",
            AlibabaDescribeKey => "kms:DescribeKey",
            AlibabaListAliases => "kms:ListAliases",
            AlibabaListSecrets => "kms:ListSecrets",
            AlibabaDescribeSecret => "kms:DescribeSecret",
            AlibabaTagResources => "kms:TagResources",
            AlibabaUntagResources => "kms:UntagResources",
            HuaweiListSecrets => "csms:secret:list",
            HuaweiListKeys => "kms:cmk:list",
            HuaweiListSecretTags => "csms:secret:listTags",
            HuaweiShowKmsTags => "kms:cmk:getTags",
            HuaweiListSecretResourceInstances => "csms:secret:getSecretsByTag",
            HuaweiListKmsByTags => "kms:cmk:listKeysByTag",
            // One action for both `create` and `delete` of the tags/action API.
            HuaweiBatchCreateOrDeleteSecretTags => "csms:secret:batchCreateOrDeleteTags",
            HuaweiBatchCreateKmsTags => "kms:cmk:createTags",
            AlibabaAssumeRoleWithOidc
            | AlibabaEcsMetadata
            | HuaweiKeystoneListProjects
            | HuaweiCreateTokenWithIdToken
            | HuaweiCreateTemporaryAccessKeyByToken
            | HuaweiEcsMetadata => return None,
        })
    }

    /// Whether the call changes tags (what `apply` needs beyond `check`).
    pub fn writes(self) -> bool {
        use Operation::*;
        matches!(
            self,
            AlibabaTagResources
                | AlibabaUntagResources
                | HuaweiBatchCreateOrDeleteSecretTags
                | HuaweiBatchCreateKmsTags
        )
    }

    /// The rate-limit group of [`API_GROUPS`](tagdrift_core::config::API_GROUPS) whose quota this operation
    /// uses, or `None` for credential and metadata endpoints, which are not limited per account.
    pub fn rate_group(self) -> Option<&'static str> {
        use Operation::*;
        match self {
            AlibabaListTagResources | AlibabaListKeys | AlibabaDescribeKey | AlibabaListAliases => {
                Some("kms_read")
            }
            AlibabaListSecrets | AlibabaDescribeSecret => Some("secrets_read"),
            AlibabaTagResources | AlibabaUntagResources => Some("kms_write"),
            HuaweiListSecrets => Some("list_secrets"),
            HuaweiListKeys => Some("list_keys"),
            HuaweiListSecretTags => Some("secret_tags"),
            HuaweiShowKmsTags => Some("key_tags"),
            HuaweiListSecretResourceInstances | HuaweiListKmsByTags => Some("resource_instances"),
            HuaweiBatchCreateOrDeleteSecretTags | HuaweiBatchCreateKmsTags => Some("tag_write"),
            AlibabaAssumeRoleWithOidc
            | AlibabaEcsMetadata
            | HuaweiKeystoneListProjects
            | HuaweiCreateTokenWithIdToken
            | HuaweiCreateTemporaryAccessKeyByToken
            | HuaweiEcsMetadata => None,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    /// The policies of docs/permissions.md: `(cloud, mode, actions)` for each JSON block after a
    /// `<!-- policy: CLOUD MODE -->` marker.
    fn documented() -> Vec<(String, String, BTreeSet<String>)> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/permissions.md");
        let doc = std::fs::read_to_string(path).expect("docs/permissions.md");
        let mut out = Vec::new();
        let mut lines = doc.lines().enumerate();
        while let Some((n, line)) = lines.next() {
            let Some(marker) = line
                .strip_prefix("<!-- policy: ")
                .and_then(|l| l.strip_suffix(" -->"))
            else {
                continue;
            };
            let (cloud, mode) = marker.split_once(' ').expect("marker: CLOUD MODE");
            let (_, fence) = lines.next().expect("a block follows the marker");
            assert_eq!(
                fence,
                "```json",
                "line {}: the marker is not followed by a JSON block",
                n + 2
            );
            let json: String = lines
                .by_ref()
                .map(|(_, l)| l)
                .take_while(|l| *l != "```")
                .collect::<Vec<_>>()
                .join("\n");
            let policy: Value = serde_json::from_str(&json)
                .unwrap_or_else(|e| panic!("line {}: the {cloud} {mode} policy is not JSON: {e}", n + 1));
            let mut actions = BTreeSet::new();
            for statement in policy["Statement"].as_array().expect("Statement") {
                assert_eq!(statement["Effect"], "Allow", "{cloud} {mode}: {statement}");
                match &statement["Action"] {
                    Value::String(a) => {
                        actions.insert(a.clone());
                    }
                    Value::Array(list) => actions.extend(list.iter().map(|a| a.as_str().unwrap().to_owned())),
                    other => panic!("{cloud} {mode}: Action is {other}"),
                }
            }
            out.push((cloud.to_owned(), mode.to_owned(), actions));
        }
        out
    }

    /// Every action tagdrift needs is granted by the policy of its cloud and mode, and nothing else is: the
    /// read policies hold the read operations' actions, the reconcile policies the read and write ones.
    #[test]
    fn permissions_doc_matches_the_operations() {
        let documented = documented();
        let found: Vec<(&str, &str)> = documented
            .iter()
            .map(|(c, m, _)| (c.as_str(), m.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("alibaba", "read"),
                ("alibaba", "reconcile"),
                ("huawei", "read"),
                ("huawei", "reconcile")
            ]
        );
        for (cloud, mode, actions) in &documented {
            let want: BTreeSet<String> = Operation::ALL
                .iter()
                .filter(|op| op.cloud().to_string() == *cloud)
                .filter(|op| mode == "reconcile" || !op.writes())
                .filter_map(|op| op.permission())
                .map(str::to_owned)
                .collect();
            let missing: Vec<_> = want.difference(actions).collect();
            let extra: Vec<_> = actions.difference(&want).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{cloud} {mode}: missing {missing:?}, granted but not needed {extra:?}"
            );
        }
    }

    #[test]
    fn every_write_names_a_permission_and_only_writes_are_writes() {
        for op in Operation::ALL {
            if op.writes() {
                assert!(op.permission().is_some(), "{op:?}");
                assert!(op.rate_group().is_some_and(|g| g.ends_with("write")), "{op:?}");
            }
        }
    }
}
