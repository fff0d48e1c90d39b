//! Huawei Cloud credential sources: environment AK/SK, CCE workload identity (the OIDC id token from a file
//! exchanged at IAM for an unscoped token, then for temporary AK/SK; the file is re-read at every refresh),
//! ECS agency credentials from the metadata `securitykey`, and the SDK's default chain in its order.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::source::{AccessKey, Context, Fetched, Source, parse_expiration, read_file};
use super::{Credential, CredentialError};
use crate::transport::{Auth, Call, Operation, Request, Transport};
use tagdrift_core::config::{Credentials, SecretSource};

pub(super) const ENV_AK: &str = "HUAWEICLOUD_SDK_AK";
pub(super) const ENV_SK: &str = "HUAWEICLOUD_SDK_SK";
pub(super) const ENV_SECURITY_TOKEN: &str = "HUAWEICLOUD_SDK_SECURITY_TOKEN";
pub(super) const ENV_IDP_ID: &str = "HUAWEICLOUD_SDK_IDP_ID";
pub(super) const ENV_ID_TOKEN_FILE: &str = "HUAWEICLOUD_SDK_ID_TOKEN_FILE";
pub(super) const ENV_IAM_ENDPOINT: &str = "HUAWEICLOUD_SDK_IAM_ENDPOINT";

/// The region-less IAM endpoint the SDK uses.
pub(super) const DEFAULT_IAM_ENDPOINT: &str = "https://iam.myhuaweicloud.com";
/// The ECS metadata service.
pub(super) const DEFAULT_METADATA_ENDPOINT: &str = "http://169.254.169.254";

/// Refresh this long before expiry, as the SDK does.
const REFRESH_MARGIN: TimeDelta = TimeDelta::minutes(40);
/// Lifetime asked of IAM for workload-identity keys (the SDK's value).
const DURATION_SECONDS: u32 = 21600;
/// Instance metadata answers at once or not at all; off ECS it is unreachable, and the default chain should
/// say so quickly.
const METADATA_TIMEOUT: Duration = Duration::from_secs(2);
const METADATA_ATTEMPTS: u32 = 2;

/// The default chain as the SDK's environment provider and chain order have it: workload identity when
/// `HUAWEICLOUD_SDK_IDP_ID` and `HUAWEICLOUD_SDK_ID_TOKEN_FILE` are set (it takes precedence over AK/SK), the
/// environment AK/SK, then ECS metadata. (The SDK's OIDC-STS, profile-file and pod-identity providers are not
/// read, see docs/credentials.md.)
pub(super) fn default_chain(ctx: &Context) -> Result<Vec<Source>, CredentialError> {
    let mut sources = Vec::new();
    if ctx.env.var(ENV_IDP_ID).is_some() && ctx.env.var(ENV_ID_TOKEN_FILE).is_some() {
        sources.push(workload_identity(
            ctx,
            &Credentials::HuaweiWorkloadIdentity {
                idp_id: None,
                id_token_file: None,
                iam_endpoint: None,
            },
        )?);
    }
    if ctx.env.var(ENV_AK).is_some() && ctx.env.var(ENV_SK).is_some() {
        sources.push(Source::AccessKey(AccessKey {
            id: SecretSource::Env(ENV_AK.into()),
            secret: SecretSource::Env(ENV_SK.into()),
            security_token: ctx
                .env
                .var(ENV_SECURITY_TOKEN)
                .map(|_| SecretSource::Env(ENV_SECURITY_TOKEN.into())),
            env: ctx.env.clone(),
        }));
    }
    sources.push(ecs_metadata(
        ctx,
        &Credentials::HuaweiEcsMetadata {
            metadata_endpoint: None,
        },
    ));
    Ok(sources)
}

/// Reads a credential in any of the shapes the SDK accepts: wrapped in `credential`/`credentials` or not,
/// keys `access`/`accessKeyId`/`access_key_id` and the like.
pub(super) fn parse_credential(value: &Value, provider: &'static str) -> Result<Credential, CredentialError> {
    let inner = value
        .get("credential")
        .or_else(|| value.get("credentials"))
        .unwrap_or(value);
    let field = |names: &[&str], label: &str| {
        names
            .iter()
            .find_map(|n| inner.get(n).and_then(Value::as_str).filter(|s| !s.is_empty()))
            .map(str::to_owned)
            .ok_or_else(|| CredentialError::Invalid {
                provider,
                reason: format!("{label} missing"),
            })
    };
    let expires = field(&["expires_at", "expiration"], "expires_at")?;
    let expiration = parse_expiration(&expires).ok_or_else(|| CredentialError::Invalid {
        provider,
        reason: format!("expires_at {expires:?} is not a time"),
    })?;
    Ok(Credential {
        access_key_id: field(&["access", "accessKeyId", "access_key_id"], "access")?,
        secret: field(&["secret", "secretAccessKey", "secret_access_key"], "secret")?,
        security_token: Some(field(
            &["securitytoken", "securityToken", "security_token"],
            "securitytoken",
        )?),
        expiration: Some(expiration),
    })
}

/// CCE workload identity settings.
pub(crate) struct WorkloadIdentity {
    idp_id: String,
    token_file: String,
    iam_endpoint: String,
    account: String,
    transport: Transport,
}

pub(super) fn workload_identity(ctx: &Context, credentials: &Credentials) -> Result<Source, CredentialError> {
    let Credentials::HuaweiWorkloadIdentity {
        idp_id,
        id_token_file,
        iam_endpoint,
    } = credentials
    else {
        unreachable!("workload_identity() is only called for HuaweiWorkloadIdentity credentials")
    };
    let required = |value: &Option<String>, variable: &str, field: &str| {
        value
            .clone()
            .or_else(|| ctx.env.var(variable))
            .ok_or_else(|| CredentialError::Incomplete {
                provider: "workload_identity",
                reason: format!("{field} is not set (config field or {variable})"),
            })
    };
    Ok(Source::WorkloadIdentity(WorkloadIdentity {
        idp_id: required(idp_id, ENV_IDP_ID, "idp_id")?,
        token_file: required(id_token_file, ENV_ID_TOKEN_FILE, "id_token_file")?,
        iam_endpoint: iam_endpoint
            .clone()
            .or_else(|| {
                ctx.env
                    .var(ENV_IAM_ENDPOINT)
                    .map(|e| e.trim_end_matches('/').to_owned())
            })
            .unwrap_or_else(|| DEFAULT_IAM_ENDPOINT.into()),
        account: ctx.account.clone(),
        transport: ctx.transport.clone(),
    }))
}

impl WorkloadIdentity {
    pub(super) async fn fetch(&self, now: DateTime<Utc>) -> Result<Fetched, CredentialError> {
        const PROVIDER: &str = "workload_identity";
        // Read at every refresh: the projected token rotates.
        let (id_token, _) = read_file(&self.token_file)?;
        let request = Request::post(&self.iam_endpoint, "/v3.0/OS-AUTH/id-token/tokens")
            .header("X-Idp-Id", self.idp_id.as_str())
            .json_body(&json!({"auth": {"id_token": {"id": id_token}}}));
        let call = Call::new(Operation::HuaweiCreateTokenWithIdToken, &self.account, "");
        let response = self
            .transport
            .send(&call, &request, Auth::Anonymous)
            .await
            .map_err(|e| CredentialError::fetch(PROVIDER, e))?;
        let token = response
            .header("x-subject-token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| CredentialError::Invalid {
                provider: PROVIDER,
                reason: "X-Subject-Token header missing".into(),
            })?
            .to_owned();

        let request = Request::post(&self.iam_endpoint, "/v3.0/OS-CREDENTIAL/securitytokens")
            .header("X-Auth-Token", token.as_str())
            .json_body(&json!({"auth": {"identity": {
                "methods": ["token"],
                "token": {"id": token, "duration_seconds": DURATION_SECONDS}
            }}}));
        let call = Call::new(
            Operation::HuaweiCreateTemporaryAccessKeyByToken,
            &self.account,
            "",
        );
        let response = self
            .transport
            .send(&call, &request, Auth::Anonymous)
            .await
            .map_err(|e| CredentialError::fetch(PROVIDER, e))?;
        let body: Value = response.json().map_err(|e| CredentialError::fetch(PROVIDER, e))?;
        Ok(Fetched::temporary(
            parse_credential(&body, PROVIDER)?,
            now,
            REFRESH_MARGIN,
        ))
    }
}

/// ECS agency settings.
pub(crate) struct EcsMetadata {
    endpoint: String,
    account: String,
    transport: Transport,
}

pub(super) fn ecs_metadata(ctx: &Context, credentials: &Credentials) -> Source {
    let Credentials::HuaweiEcsMetadata { metadata_endpoint } = credentials else {
        unreachable!("ecs_metadata() is only called for HuaweiEcsMetadata credentials")
    };
    Source::EcsMetadata(EcsMetadata {
        endpoint: metadata_endpoint
            .clone()
            .unwrap_or_else(|| DEFAULT_METADATA_ENDPOINT.into()),
        account: ctx.account.clone(),
        transport: ctx.transport.clone(),
    })
}

impl EcsMetadata {
    pub(super) async fn fetch(&self, now: DateTime<Utc>) -> Result<Fetched, CredentialError> {
        const PROVIDER: &str = "ecs_metadata";
        let call = Call::new(Operation::HuaweiEcsMetadata, &self.account, "")
            .timeout(METADATA_TIMEOUT)
            .max_attempts(METADATA_ATTEMPTS);
        // The session token is optional: instances without IMDSv2 answer 404/405/503, and the SDK then
        // proceeds without it. No answer at all means there is no metadata service.
        let request = Request::put(&self.endpoint, "/meta-data/latest/api/token")
            .header("X-Metadata-Token-Ttl-Seconds", "21600");
        let token = match self.transport.send(&call, &request, Auth::Anonymous).await {
            Ok(response) => response
                .text()
                .ok()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty()),
            Err(e) if e.status.is_some() => None,
            Err(e) => return Err(CredentialError::fetch(PROVIDER, e)),
        };
        let mut request = Request::get(&self.endpoint, "/openstack/latest/securitykey");
        if let Some(token) = &token {
            request = request.header("X-Metadata-Token", token.as_str());
        }
        let response = self
            .transport
            .send(&call, &request, Auth::Anonymous)
            .await
            .map_err(|e| CredentialError::fetch(PROVIDER, e))?;
        let body: Value = response.json().map_err(|e| CredentialError::fetch(PROVIDER, e))?;
        Ok(Fetched::temporary(
            parse_credential(&body, PROVIDER)?,
            now,
            REFRESH_MARGIN,
        ))
    }
}
