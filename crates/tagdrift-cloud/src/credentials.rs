//! Where the clouds' access keys come from: environment variables, mounted files (re-read when they change),
//! and the temporary-credential services (Alibaba RRSA through STS AssumeRoleWithOIDC and ECS RAM roles
//! through instance metadata; Huawei CCE workload identity through IAM and ECS agencies through instance
//! metadata). A [`Provider`] yields the current [`Credential`], caches temporary ones and fetches new ones
//! before they expire; [`Provider::for_account`] builds the chain an account's config asks for, the default
//! chain in the official SDKs' order (docs/credentials.md).
//!
//! Environment access goes through [`EnvLookup`] so tests never mutate the process environment. Secrets and
//! tokens never reach logs or errors: `Debug` redacts them and errors name only variables, files and
//! endpoints.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::Cloud;
use crate::transport::{CallError, Transport};
use tagdrift_core::config::{Account, Credentials, SecretSource};

mod alibaba;
mod huawei;
mod source;

// Defined below the transport (see `crate::credential`); this is their public home.
pub use crate::credential::{Credential, CredentialError, CredentialSource};
use source::{Fetched, Source};

/// Reads environment variables. [`ProcessEnv`] reads the process's; [`MapEnv`] a fixed map (tests, and
/// embedding without touching the global environment).
pub trait EnvLookup: Send + Sync {
    /// The variable's value; unset and empty are both `None`.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvLookup for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// A fixed set of variables. `Debug` shows only the names.
#[derive(Clone, Default)]
pub struct MapEnv(pub BTreeMap<String, String>);

impl MapEnv {
    pub fn new<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> MapEnv {
        MapEnv(vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

impl fmt::Debug for MapEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl EnvLookup for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.is_empty()).cloned()
    }
}

/// The wall clock, injectable so refresh timing is testable.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

// Here rather than with the type: only the credential services' calls fail with a `CallError`, and
// `crate::credential` sits below the transport, so it cannot name the transport's error.
impl CredentialError {
    fn fetch(provider: &'static str, error: CallError) -> CredentialError {
        CredentialError::Fetch {
            provider,
            code: error.code,
            message: error.message,
        }
    }
}

/// How old a refused credential must be before [`Provider`] drops it from its cache.
pub const REFETCH_AFTER_REFUSAL: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

/// Yields the current credential of one account. Cheap to clone; clones share the cache, so a refresh happens
/// once however many requests wait for it.
#[derive(Clone)]
pub struct Provider {
    inner: Arc<Inner>,
}

struct Inner {
    cloud: Option<Cloud>,
    /// Tried in order until one yields; the one that did is tried first on refresh.
    sources: Vec<Source>,
    clock: Clock,
    cache: tokio::sync::Mutex<Option<Cached>>,
}

struct Cached {
    fetched: Fetched,
    source: usize,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("sources", &self.describe())
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// Always the same credential (tests, examples, one-shot tools).
    pub fn fixed(credential: Credential) -> Provider {
        Provider::new(None, vec![Source::Fixed(credential)], system_clock())
    }

    fn new(cloud: Option<Cloud>, sources: Vec<Source>, clock: Clock) -> Provider {
        Provider {
            inner: Arc::new(Inner {
                cloud,
                sources,
                clock,
                cache: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// The chain `account.credentials` asks for, reading `env` for the variables the SDKs define and using
    /// `transport` for STS, IAM and metadata calls. Fails when a required variable is unset or a source lacks a
    /// required setting; files are read (and may appear) later.
    pub fn for_account(
        account: &Account,
        env: Arc<dyn EnvLookup>,
        transport: &Transport,
    ) -> Result<Provider, CredentialError> {
        Provider::for_account_with_clock(account, env, transport, system_clock())
    }

    /// [`for_account`](Provider::for_account) with an explicit clock.
    pub fn for_account_with_clock(
        account: &Account,
        env: Arc<dyn EnvLookup>,
        transport: &Transport,
        clock: Clock,
    ) -> Result<Provider, CredentialError> {
        let ctx = source::Context {
            account: account.name.clone(),
            env,
            transport: transport.clone(),
        };
        let sources = match (&account.credentials, account.cloud) {
            (Credentials::Default, Cloud::Alibaba) => alibaba::default_chain(&ctx)?,
            (Credentials::Default, Cloud::Huawei) => huawei::default_chain(&ctx)?,
            (
                Credentials::AccessKey {
                    id,
                    secret,
                    security_token,
                },
                _,
            ) => {
                for source in [Some(id), Some(secret), security_token.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    if let SecretSource::Env(name) = source
                        && ctx.env.var(name).is_none()
                    {
                        return Err(CredentialError::MissingEnv { name: name.clone() });
                    }
                }
                vec![Source::AccessKey(source::AccessKey {
                    id: id.clone(),
                    secret: secret.clone(),
                    security_token: security_token.clone(),
                    env: ctx.env.clone(),
                })]
            }
            (credentials @ Credentials::AlibabaRrsa { .. }, _) => vec![alibaba::rrsa(&ctx, credentials)?],
            (credentials @ Credentials::AlibabaEcsRamRole { .. }, _) => {
                vec![alibaba::ecs_ram_role(&ctx, credentials)]
            }
            (credentials @ Credentials::HuaweiWorkloadIdentity { .. }, _) => {
                vec![huawei::workload_identity(&ctx, credentials)?]
            }
            (credentials @ Credentials::HuaweiEcsMetadata { .. }, _) => {
                vec![huawei::ecs_metadata(&ctx, credentials)]
            }
        };
        Ok(Provider::new(Some(account.cloud), sources, clock))
    }

    /// The sources in chain order, e.g. `["access_key", "rrsa", "ecs_ram_role"]`.
    pub fn describe(&self) -> Vec<&'static str> {
        self.inner.sources.iter().map(Source::name).collect()
    }

    /// The current credential: the cached one while it is fresh (permanent, unchanged files, or temporary and
    /// not yet due for refresh), else a newly fetched one. When a refresh fails but the cached temporary
    /// credential has not expired yet, that one is returned (and the failure logged), so a short STS outage
    /// does not fail reads.
    pub async fn credential(&self) -> Result<Credential, CredentialError> {
        let mut cache = self.inner.cache.lock().await;
        let now = (self.inner.clock)();
        if let Some(cached) = cache.as_ref()
            && cached.fetched.is_fresh(now)
            && self.inner.sources[cached.source].unchanged(&cached.fetched)
        {
            return Ok(cached.fetched.credential.clone());
        }
        let first = cache.as_ref().map_or(0, |c| c.source);
        match self.fetch(first, now).await {
            Ok((source, fetched)) => {
                let credential = fetched.credential.clone();
                *cache = Some(Cached { fetched, source });
                Ok(credential)
            }
            Err(error) => match cache.as_ref() {
                Some(cached) if cached.fetched.usable(now) => {
                    // The error can quote an STS or metadata answer: cloud text, made visible.
                    tracing::warn!(
                        source = self.inner.sources[cached.source].name(),
                        error = %tagdrift_core::report::visible(&error.to_string()),
                        "credential refresh failed; using the cached credential until it expires"
                    );
                    Ok(cached.fetched.credential.clone())
                }
                _ => Err(error),
            },
        }
    }

    /// The cloud refused `credential` itself (unknown key, bad signature, invalid token): forget it, so the
    /// next call fetches anew (a rotated key, revoked temporary credentials). Only when it is still the cached
    /// one and was fetched at least [`REFETCH_AFTER_REFUSAL`] ago, so a burst of refused requests, or a
    /// service that keeps issuing refused credentials, does not turn into a burst of STS or IAM calls.
    async fn refused(&self, credential: &Credential) {
        let mut cache = self.inner.cache.lock().await;
        let now = (self.inner.clock)();
        if cache.as_ref().is_some_and(|cached| {
            cached.fetched.credential == *credential
                && now - cached.fetched.fetched_at >= REFETCH_AFTER_REFUSAL
        }) {
            tracing::info!(
                access_key_id = %credential.access_key_id,
                "the cloud refused the credential; fetching it anew on the next call"
            );
            *cache = None;
        }
    }

    async fn fetch(&self, first: usize, now: DateTime<Utc>) -> Result<(usize, Fetched), CredentialError> {
        let sources = &self.inner.sources;
        let order = std::iter::once(first).chain((0..sources.len()).filter(|i| *i != first));
        let mut errors = Vec::new();
        for index in order {
            match sources[index].fetch(now).await {
                Ok(fetched) => return Ok((index, fetched)),
                Err(error) if sources.len() == 1 => return Err(error),
                Err(error) => {
                    tracing::debug!(source = sources[index].name(), error = %tagdrift_core::report::visible(&error.to_string()), "credential source skipped");
                    errors.push(format!("{}: {error}", sources[index].name()));
                }
            }
        }
        Err(CredentialError::NoneFound {
            cloud: self.inner.cloud.unwrap_or(Cloud::Alibaba),
            tried: errors,
        })
    }
}

impl CredentialSource for Provider {
    fn credential(&self) -> Pin<Box<dyn Future<Output = Result<Credential, CredentialError>> + Send + '_>> {
        Box::pin(Provider::credential(self))
    }

    fn refused<'a>(&'a self, credential: &'a Credential) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(Provider::refused(self, credential))
    }
}

#[cfg(test)]
mod tests;
