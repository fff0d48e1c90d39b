//! The `credentials` of an account. The file only says where secrets live: access keys must be given as
//! `{env: NAME}` or `{file: PATH}` references, never inline, and no message repeats what a credential field
//! holds, so a mistaken paste of a secret does not end up in logs. Which credential types exist depends on
//! the account's cloud, so this runs only once the cloud is known.

use std::sync::LazyLock;

use regex::Regex;

use super::{Validator, or_list};
use crate::config::model::{Credentials, SecretSource};
use crate::vocab::Cloud;
use crate::yaml::{Fields, Node, Value, field, quote};

pub(in crate::config) const SECRET_SOURCE: &[&str] = &["env", "file"];

/// Also stated by the JSON Schema.
pub(in crate::config) const ENV_NAME_PATTERN: &str = r"^[A-Za-z_][A-Za-z0-9_]*$";
static ENV_NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(ENV_NAME_PATTERN).expect("static regex"));

#[derive(Clone, Copy, PartialEq, Eq)]
enum CredentialKind {
    Default,
    AccessKey,
    Rrsa,
    EcsRamRole,
    WorkloadIdentity,
    EcsMetadata,
}

const ALIBABA_CREDENTIALS: &[(&str, CredentialKind)] = &[
    ("default", CredentialKind::Default),
    ("access_key", CredentialKind::AccessKey),
    ("rrsa", CredentialKind::Rrsa),
    ("ecs_ram_role", CredentialKind::EcsRamRole),
];
const HUAWEI_CREDENTIALS: &[(&str, CredentialKind)] = &[
    ("default", CredentialKind::Default),
    ("access_key", CredentialKind::AccessKey),
    ("workload_identity", CredentialKind::WorkloadIdentity),
    ("ecs_metadata", CredentialKind::EcsMetadata),
];

impl CredentialKind {
    /// The fields a credentials mapping of this type may hold on `cloud`.
    fn fields(self, cloud: Cloud) -> Vec<&'static str> {
        let (id_field, secret_field) = access_key_fields(cloud);
        match self {
            CredentialKind::Default => vec!["type"],
            CredentialKind::AccessKey => vec!["type", id_field, secret_field, "security_token"],
            CredentialKind::Rrsa => vec![
                "type",
                "role_arn",
                "oidc_provider_arn",
                "oidc_token_file",
                "role_session_name",
                "sts_endpoint",
            ],
            CredentialKind::EcsRamRole => vec!["type", "role_name", "metadata_endpoint"],
            CredentialKind::WorkloadIdentity => vec!["type", "idp_id", "id_token_file", "iam_endpoint"],
            CredentialKind::EcsMetadata => vec!["type", "metadata_endpoint"],
        }
    }
}

/// Every credentials `type` of `cloud` with the fields a mapping of that type may hold, for the JSON Schema.
pub(in crate::config) fn credential_types(cloud: Cloud) -> Vec<(&'static str, Vec<&'static str>)> {
    let options = match cloud {
        Cloud::Alibaba => ALIBABA_CREDENTIALS,
        Cloud::Huawei => HUAWEI_CREDENTIALS,
    };
    options
        .iter()
        .map(|(name, kind)| (*name, kind.fields(cloud)))
        .collect()
}

/// The fields of a credentials mapping that hold a secret reference (`{env: NAME}` or `{file: PATH}`).
pub(in crate::config) fn is_secret_field(cloud: Cloud, name: &str) -> bool {
    let (id_field, secret_field) = access_key_fields(cloud);
    name == id_field || name == secret_field || name == "security_token"
}

/// The access key's id and secret fields, named as each cloud's own console and SDKs name them.
fn access_key_fields(cloud: Cloud) -> (&'static str, &'static str) {
    match cloud {
        Cloud::Alibaba => ("access_key_id", "access_key_secret"),
        Cloud::Huawei => ("ak", "sk"),
    }
}

impl Validator<'_> {
    pub(super) fn credentials(&mut self, node: &Node, path: &str, cloud: Cloud) -> Option<Credentials> {
        let before = self.c.count();
        let f = self.c.mapping(node, path)?;
        let type_node = self.c.required(&f, path, "type")?;
        let kind = self.credential_kind(type_node, &field(path, "type"), cloud)?;
        self.c.deny_unknown(&f, path, &kind.fields(cloud));
        let credentials = match kind {
            CredentialKind::Default => Some(Credentials::Default),
            CredentialKind::AccessKey => self.access_key(&f, path, cloud),
            CredentialKind::Rrsa => Some(Credentials::AlibabaRrsa {
                role_arn: self.opt_text(&f, path, "role_arn"),
                oidc_provider_arn: self.opt_text(&f, path, "oidc_provider_arn"),
                oidc_token_file: self.opt_text(&f, path, "oidc_token_file"),
                role_session_name: self.opt_text(&f, path, "role_session_name"),
                sts_endpoint: self.opt_url(&f, path, "sts_endpoint"),
            }),
            CredentialKind::EcsRamRole => Some(Credentials::AlibabaEcsRamRole {
                role_name: self.opt_text(&f, path, "role_name"),
                metadata_endpoint: self.opt_url(&f, path, "metadata_endpoint"),
            }),
            CredentialKind::WorkloadIdentity => Some(Credentials::HuaweiWorkloadIdentity {
                idp_id: self.opt_text(&f, path, "idp_id"),
                id_token_file: self.opt_text(&f, path, "id_token_file"),
                iam_endpoint: self.opt_url(&f, path, "iam_endpoint"),
            }),
            CredentialKind::EcsMetadata => Some(Credentials::HuaweiEcsMetadata {
                metadata_endpoint: self.opt_url(&f, path, "metadata_endpoint"),
            }),
        };
        if self.c.count() > before {
            None
        } else {
            credentials
        }
    }

    /// The `type` of a credentials mapping. A type that exists only on the other cloud gets its own message,
    /// since copying an account's credentials from one cloud to the other is the likely mistake.
    fn credential_kind(&mut self, node: &Node, path: &str, cloud: Cloud) -> Option<CredentialKind> {
        let (options, other) = match cloud {
            Cloud::Alibaba => (ALIBABA_CREDENTIALS, HUAWEI_CREDENTIALS),
            Cloud::Huawei => (HUAWEI_CREDENTIALS, ALIBABA_CREDENTIALS),
        };
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let Some(t) = node.as_str() else {
            self.c.at(
                node,
                path,
                format!(
                    "expected a credentials type ({}), found {}",
                    or_list(&names),
                    node.kind()
                ),
            );
            return None;
        };
        if let Some((_, k)) = options.iter().find(|(n, _)| *n == t) {
            return Some(*k);
        }
        let hint = if other.iter().any(|(n, _)| *n == t) {
            format!(
                "credentials type {} is not available for {cloud} accounts",
                quote(t)
            )
        } else {
            format!("unknown credentials type {}", quote(t))
        };
        self.c
            .at(node, path, format!("{hint} (expected {})", or_list(&names)));
        None
    }

    /// `type: access_key`: an id and a secret, and an optional STS security token, each a secret reference.
    fn access_key(&mut self, f: &Fields<'_>, path: &str, cloud: Cloud) -> Option<Credentials> {
        let (id_field, secret_field) = access_key_fields(cloud);
        let id = self
            .c
            .required(f, path, id_field)
            .and_then(|n| self.secret_source(n, &field(path, id_field)));
        let secret = self
            .c
            .required(f, path, secret_field)
            .and_then(|n| self.secret_source(n, &field(path, secret_field)));
        let token = f
            .get("security_token")
            .map(|n| self.secret_source(n, &field(path, "security_token")));
        match (id, secret, token) {
            (Some(id), Some(secret), None) => Some(Credentials::AccessKey {
                id,
                secret,
                security_token: None,
            }),
            (Some(id), Some(secret), Some(Some(token))) => Some(Credentials::AccessKey {
                id,
                secret,
                security_token: Some(token),
            }),
            _ => None,
        }
    }

    /// `{env: NAME}` or `{file: PATH}`. Never echoes the node's content: an inline value may be a secret.
    fn secret_source(&mut self, node: &Node, path: &str) -> Option<SecretSource> {
        if !matches!(node.value, Value::Mapping(_)) {
            self.c.at(
                node,
                path,
                "inline credentials are not accepted; use {env: VARIABLE} or {file: PATH} so the file holds no \
                 secret",
            );
            return None;
        }
        let before = self.c.count();
        let f = self.c.object(node, path, SECRET_SOURCE)?;
        match (f.get("env"), f.get("file")) {
            (Some(n), None) => {
                let p = field(path, "env");
                let name = self.c.string(n, &p)?;
                if !ENV_NAME.is_match(&name) {
                    self.c.at(
                        n,
                        &p,
                        format!(
                            "invalid environment variable name {} (expected letters, digits and '_', not starting \
                             with a digit)",
                            quote(&name)
                        ),
                    );
                    return None;
                }
                Some(SecretSource::Env(name))
            }
            (None, Some(n)) => self
                .c
                .non_empty_string(n, &field(path, "file"))
                .map(SecretSource::File),
            // An unknown field already explains what is wrong.
            _ if self.c.count() > before => None,
            _ => {
                self.c.report(
                    Some(f.mark),
                    path,
                    "give exactly one of env or file, like {env: VARIABLE} or {file: PATH}",
                );
                None
            }
        }
    }

    fn opt_text(&mut self, f: &Fields<'_>, path: &str, name: &str) -> Option<String> {
        f.get(name)
            .and_then(|n| self.c.non_empty_string(n, &field(path, name)))
    }

    fn opt_url(&mut self, f: &Fields<'_>, path: &str, name: &str) -> Option<String> {
        f.get(name).and_then(|n| self.url(n, &field(path, name)))
    }
}
