//! Alibaba Cloud credential sources: environment access keys, RRSA (STS `AssumeRoleWithOIDC` with the
//! projected service-account token, re-read at every refresh because the kubelet rotates it), and ECS RAM
//! roles from instance metadata (IMDSv2 session token, then the role name, then the role's credentials), and
//! the default chain of `alibabacloud-credentials` in its order.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::source::{AccessKey, Context, Fetched, Source, parse_expiration, read_file};
use super::{Credential, CredentialError};
use crate::transport::{Auth, Call, Operation, Request, Transport, accept_json};
use tagdrift_core::config::{Credentials, SecretSource};

pub(super) const ENV_ACCESS_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
pub(super) const ENV_ACCESS_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
pub(super) const ENV_SECURITY_TOKEN: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";
pub(super) const ENV_ROLE_ARN: &str = "ALIBABA_CLOUD_ROLE_ARN";
pub(super) const ENV_OIDC_PROVIDER_ARN: &str = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN";
pub(super) const ENV_OIDC_TOKEN_FILE: &str = "ALIBABA_CLOUD_OIDC_TOKEN_FILE";
pub(super) const ENV_ROLE_SESSION_NAME: &str = "ALIBABA_CLOUD_ROLE_SESSION_NAME";
pub(super) const ENV_STS_ENDPOINT: &str = "ALIBABA_CLOUD_STS_ENDPOINT";
pub(super) const ENV_STS_REGION: &str = "ALIBABA_CLOUD_STS_REGION";
pub(super) const ENV_VPC_ENDPOINT_ENABLED: &str = "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED";
pub(super) const ENV_ECS_METADATA: &str = "ALIBABA_CLOUD_ECS_METADATA";
pub(super) const ENV_ECS_METADATA_DISABLED: &str = "ALIBABA_CLOUD_ECS_METADATA_DISABLED";
pub(super) const ENV_IMDSV1_DISABLED: &str = "ALIBABA_CLOUD_IMDSV1_DISABLED";

/// The ECS metadata service.
pub(super) const DEFAULT_METADATA_ENDPOINT: &str = "http://100.100.100.200";
/// The global STS endpoint.
pub(super) const DEFAULT_STS_ENDPOINT: &str = "https://sts.aliyuncs.com";

/// Refresh this long before expiry, as the SDK does.
const REFRESH_MARGIN: TimeDelta = TimeDelta::minutes(15);
/// Lifetime asked of STS; the role's maximum session duration is at least this.
const DURATION_SECONDS: u32 = 3600;
/// Instance metadata answers at once or not at all (the SDK waits 1 s); off ECS it is unreachable, and the
/// default chain should say so quickly.
const METADATA_TIMEOUT: Duration = Duration::from_secs(2);
const METADATA_ATTEMPTS: u32 = 2;

fn is_true(value: Option<String>) -> bool {
    value.is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The default chain: environment access key; RRSA when all three of its variables are set; ECS RAM role
/// unless disabled. (The SDK also reads the Alibaba CLI profile and the `credentials.ini` file between RRSA
/// and ECS; tagdrift does not, see docs/credentials.md.)
pub(super) fn default_chain(ctx: &Context) -> Result<Vec<Source>, CredentialError> {
    let mut sources = Vec::new();
    if ctx.env.var(ENV_ACCESS_KEY_ID).is_some() && ctx.env.var(ENV_ACCESS_KEY_SECRET).is_some() {
        sources.push(Source::AccessKey(AccessKey {
            id: SecretSource::Env(ENV_ACCESS_KEY_ID.into()),
            secret: SecretSource::Env(ENV_ACCESS_KEY_SECRET.into()),
            security_token: ctx
                .env
                .var(ENV_SECURITY_TOKEN)
                .map(|_| SecretSource::Env(ENV_SECURITY_TOKEN.into())),
            env: ctx.env.clone(),
        }));
    }
    if [ENV_ROLE_ARN, ENV_OIDC_PROVIDER_ARN, ENV_OIDC_TOKEN_FILE]
        .iter()
        .all(|name| ctx.env.var(name).is_some())
    {
        sources.push(rrsa(
            ctx,
            &Credentials::AlibabaRrsa {
                role_arn: None,
                oidc_provider_arn: None,
                oidc_token_file: None,
                role_session_name: None,
                sts_endpoint: None,
            },
        )?);
    }
    if !is_true(ctx.env.var(ENV_ECS_METADATA_DISABLED)) {
        sources.push(ecs_ram_role(
            ctx,
            &Credentials::AlibabaEcsRamRole {
                role_name: None,
                metadata_endpoint: None,
            },
        ));
    }
    if sources.is_empty() {
        return Err(CredentialError::Incomplete {
            provider: "default chain",
            reason: format!(
                "none of {ENV_ACCESS_KEY_ID}/{ENV_ACCESS_KEY_SECRET}, the RRSA variables or ECS metadata is available"
            ),
        });
    }
    Ok(sources)
}

/// RRSA settings resolved from the config and the ACK webhook's variables.
pub(crate) struct Rrsa {
    role_arn: String,
    oidc_provider_arn: String,
    token_file: String,
    session_name: String,
    sts_endpoint: String,
    account: String,
    transport: Transport,
}

/// Builds the RRSA source: config fields first, then the variables; role, provider and token file are
/// required.
pub(super) fn rrsa(ctx: &Context, credentials: &Credentials) -> Result<Source, CredentialError> {
    let Credentials::AlibabaRrsa {
        role_arn,
        oidc_provider_arn,
        oidc_token_file,
        role_session_name,
        sts_endpoint,
    } = credentials
    else {
        unreachable!("rrsa() is only called for AlibabaRrsa credentials")
    };
    let required = |value: &Option<String>, variable: &str, field: &str| {
        value
            .clone()
            .or_else(|| ctx.env.var(variable))
            .ok_or_else(|| CredentialError::Incomplete {
                provider: "rrsa",
                reason: format!("{field} is not set (config field or {variable})"),
            })
    };
    Ok(Source::Rrsa(Rrsa {
        role_arn: required(role_arn, ENV_ROLE_ARN, "role_arn")?,
        oidc_provider_arn: required(oidc_provider_arn, ENV_OIDC_PROVIDER_ARN, "oidc_provider_arn")?,
        token_file: required(oidc_token_file, ENV_OIDC_TOKEN_FILE, "oidc_token_file")?,
        session_name: role_session_name
            .clone()
            .or_else(|| ctx.env.var(ENV_ROLE_SESSION_NAME))
            .unwrap_or_else(|| "tagdrift".into()),
        sts_endpoint: sts_endpoint.clone().unwrap_or_else(|| sts_from_env(ctx)),
        account: ctx.account.clone(),
        transport: ctx.transport.clone(),
    }))
}

/// `ALIBABA_CLOUD_STS_ENDPOINT` (a host or URL, injected by webhook ≥ 0.4.0), else the regional (or VPC)
/// endpoint of `ALIBABA_CLOUD_STS_REGION`, else the global one.
fn sts_from_env(ctx: &Context) -> String {
    if let Some(endpoint) = ctx.env.var(ENV_STS_ENDPOINT) {
        let endpoint = endpoint.trim_end_matches('/');
        return if endpoint.contains("://") {
            endpoint.to_owned()
        } else {
            format!("https://{endpoint}")
        };
    }
    match ctx.env.var(ENV_STS_REGION) {
        Some(region) if is_true(ctx.env.var(ENV_VPC_ENDPOINT_ENABLED)) => {
            format!("https://sts-vpc.{region}.aliyuncs.com")
        }
        Some(region) => format!("https://sts.{region}.aliyuncs.com"),
        None => DEFAULT_STS_ENDPOINT.to_owned(),
    }
}

/// Reads the temporary credential out of an STS or metadata answer.
pub(super) fn parse_credential(value: &Value, provider: &'static str) -> Result<Credential, CredentialError> {
    let field = |name: &str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| CredentialError::Invalid {
                provider,
                reason: format!("{name} missing"),
            })
    };
    let expiration = field("Expiration")?;
    let expiration = parse_expiration(&expiration).ok_or_else(|| CredentialError::Invalid {
        provider,
        reason: format!("Expiration {expiration:?} is not a time"),
    })?;
    Ok(Credential {
        access_key_id: field("AccessKeyId")?,
        secret: field("AccessKeySecret")?,
        security_token: Some(field("SecurityToken")?),
        expiration: Some(expiration),
    })
}

impl Rrsa {
    pub(super) async fn fetch(&self, now: DateTime<Utc>) -> Result<Fetched, CredentialError> {
        // Read at every refresh: the projected token is rotated by the kubelet.
        let (token, _) = read_file(&self.token_file)?;
        let duration = DURATION_SECONDS.to_string();
        // Placed as the official credentials library (credentials-go) sends it: the protocol parameters in the
        // query, the rest in a POST form body, which also keeps the OIDC token out of URLs (and proxy logs).
        let timestamp = crate::alibaba::sign::format_timestamp(now);
        let mut request = Request::post(&self.sts_endpoint, "/")
            .query([
                ("Action", "AssumeRoleWithOIDC"),
                ("Format", "JSON"),
                ("Version", "2015-04-01"),
                ("Timestamp", timestamp.as_str()),
            ])
            .form_body([
                ("DurationSeconds", duration.as_str()),
                ("RoleArn", self.role_arn.as_str()),
                ("OIDCProviderArn", self.oidc_provider_arn.as_str()),
                ("OIDCToken", token.as_str()),
                ("RoleSessionName", self.session_name.as_str()),
            ]);
        accept_json(&mut request);
        let call = Call::new(Operation::AlibabaAssumeRoleWithOidc, &self.account, "");
        let response = self
            .transport
            .send(&call, &request, Auth::Anonymous)
            .await
            .map_err(|e| CredentialError::fetch("rrsa", e))?;
        let body: Value = response.json().map_err(|e| CredentialError::fetch("rrsa", e))?;
        let credentials = body.get("Credentials").ok_or_else(|| CredentialError::Invalid {
            provider: "rrsa",
            reason: "Credentials missing".into(),
        })?;
        Ok(Fetched::temporary(
            parse_credential(credentials, "rrsa")?,
            now,
            REFRESH_MARGIN,
        ))
    }
}

/// ECS RAM role settings.
pub(crate) struct EcsRamRole {
    role_name: Option<String>,
    endpoint: String,
    imdsv1_allowed: bool,
    account: String,
    transport: Transport,
}

pub(super) fn ecs_ram_role(ctx: &Context, credentials: &Credentials) -> Source {
    let Credentials::AlibabaEcsRamRole {
        role_name,
        metadata_endpoint,
    } = credentials
    else {
        unreachable!("ecs_ram_role() is only called for AlibabaEcsRamRole credentials")
    };
    Source::EcsRamRole(EcsRamRole {
        role_name: role_name.clone().or_else(|| ctx.env.var(ENV_ECS_METADATA)),
        endpoint: metadata_endpoint
            .clone()
            .unwrap_or_else(|| DEFAULT_METADATA_ENDPOINT.into()),
        imdsv1_allowed: !is_true(ctx.env.var(ENV_IMDSV1_DISABLED)),
        account: ctx.account.clone(),
        transport: ctx.transport.clone(),
    })
}

impl EcsRamRole {
    async fn get(&self, path: &str, token: Option<&str>) -> Result<String, CredentialError> {
        let mut request = Request::get(&self.endpoint, path);
        if let Some(token) = token {
            request = request.header("X-aliyun-ecs-metadata-token", token);
        }
        let call = Call::new(Operation::AlibabaEcsMetadata, &self.account, "")
            .timeout(METADATA_TIMEOUT)
            .max_attempts(METADATA_ATTEMPTS);
        let response = self
            .transport
            .send(&call, &request, Auth::Anonymous)
            .await
            .map_err(|e| CredentialError::fetch("ecs_ram_role", e))?;
        response
            .text()
            .map(|t| t.trim().to_owned())
            .map_err(|e| CredentialError::fetch("ecs_ram_role", e))
    }

    pub(super) async fn fetch(&self, now: DateTime<Utc>) -> Result<Fetched, CredentialError> {
        let request = Request::put(&self.endpoint, "/latest/api/token")
            .header("X-aliyun-ecs-metadata-token-ttl-seconds", "21600");
        let call = Call::new(Operation::AlibabaEcsMetadata, &self.account, "")
            .timeout(METADATA_TIMEOUT)
            .max_attempts(METADATA_ATTEMPTS);
        let token = match self.transport.send(&call, &request, Auth::Anonymous).await {
            Ok(response) => Some(
                response
                    .text()
                    .map(|t| t.trim().to_owned())
                    .map_err(|e| CredentialError::fetch("ecs_ram_role", e))?,
            ),
            // As the SDK: whatever went wrong (a refusal, a timeout, a dropped connection), the GETs go on
            // without a token (IMDSv1) unless that is disabled. Off ECS the GETs then fail the same way.
            Err(_) if self.imdsv1_allowed => None,
            Err(e) => return Err(CredentialError::fetch("ecs_ram_role", e)),
        };
        let role = match &self.role_name {
            Some(role) => role.clone(),
            None => {
                let names = self
                    .get("/latest/meta-data/ram/security-credentials/", token.as_deref())
                    .await?;
                names
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| CredentialError::Invalid {
                        provider: "ecs_ram_role",
                        reason: "no RAM role is attached to the instance".into(),
                    })?
            }
        };
        let path = format!(
            "/latest/meta-data/ram/security-credentials/{}",
            crate::signing::percent_encode(&role)
        );
        let text = self.get(&path, token.as_deref()).await?;
        let value: Value = serde_json::from_str(&text).map_err(|e| CredentialError::Invalid {
            provider: "ecs_ram_role",
            reason: format!("not JSON: {e}"),
        })?;
        let code = value.get("Code").and_then(Value::as_str).unwrap_or("");
        if code != "Success" {
            return Err(CredentialError::Invalid {
                provider: "ecs_ram_role",
                reason: format!("Code is {code:?}, not \"Success\""),
            });
        }
        Ok(Fetched::temporary(
            parse_credential(&value, "ecs_ram_role")?,
            now,
            REFRESH_MARGIN,
        ))
    }
}
