//! The read orchestrator: turns a desired state into [`Observations`] by planning the scopes to read
//! ([`plan`]), running every scope's provider reader concurrently under the check deadline, and making
//! sure every declared resource ends up reported — read, not found, or failed with a reason — and never
//! silently in sync.

mod clients;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use futures_util::future::join_all;
use tokio::sync::Semaphore;

use crate::credential::Credential;
use crate::credentials::{EnvLookup, Provider};
use crate::scope::{Scope, Sink, plan};
use crate::transport::{Transport, TransportOptions};
use crate::{CallObserver, Cloud, ErrorCode, Observations, Outcome, ReadError, alibaba, huawei};
use clients::{Breaker, Client};
use tagdrift_core::config::{BatchTagRead, DesiredState};

pub use clients::{alibaba_endpoint, huawei_endpoint};

/// What a [`Reader`] needs besides the desired state.
#[derive(Clone)]
pub struct ReaderOptions {
    /// Where credential variables are read (the process environment, or a fixed map in tests).
    pub env: Arc<dyn EnvLookup>,
    /// Sees every HTTP attempt (metrics).
    pub observer: Arc<dyn CallObserver>,
}

impl fmt::Debug for ReaderOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReaderOptions").finish_non_exhaustive()
    }
}

/// Why a [`Reader`] could not be built. Nothing was sent to any cloud.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("cannot build the HTTP client: {reason}")]
    Transport { reason: String },
    /// An account's credentials cannot be had (an unset variable, an incomplete source).
    #[error("account {account}: credentials: {reason}")]
    Credentials {
        account: String,
        reason: String,
        code: &'static str,
    },
}

impl SetupError {
    /// A short fixed code for logs and metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            SetupError::Transport { .. } => "http_client",
            SetupError::Credentials { .. } => "credentials",
        }
    }
}

/// One account as the reader reaches it.
struct AccountClient {
    cloud: Cloud,
    provider: Provider,
    endpoint: Option<String>,
    batch_tag_read: BatchTagRead,
    /// Calls in flight per region (`schedule.concurrency` each).
    permits: BTreeMap<String, Semaphore>,
    /// What reading the account taught (Alibaba: whether KMS refuses region-wide tag listing), kept across
    /// checks so a refusal is paid once per reader, not once per check.
    learned: alibaba::scan::Learned,
    /// Huawei: the `batch_tag_read: auto` verdicts per scope, kept across checks (re-checked daily).
    verdicts: huawei::scan::Learned,
}

/// Reads the clouds for one desired state: the transport (connection pool, rate limits) and every account's
/// credential provider, built once and reused by every check.
pub struct Reader {
    transport: Transport,
    accounts: BTreeMap<String, AccountClient>,
    /// Accounts whose credentials the cloud refused in the last checks, by account name.
    refusals: std::sync::Mutex<BTreeMap<String, Refusal>>,
}

/// After this many checks in a row in which the cloud refused the same credentials, they are not sent again
/// until they change. Huawei locks an access key for five minutes after more than five bad signatures in a
/// row — for every user of that key — and one refused call per check would get there within a few checks.
pub const MAX_REFUSED_CHECKS: u32 = 3;

/// The credentials of an account that the cloud refused, remembered across checks.
struct Refusal {
    /// Checks in a row that ended with these credentials refused.
    streak: u32,
    /// A SHA-256 of the refused credential material (never logged): new material means a new try.
    fingerprint: [u8; 32],
    error: ReadError,
}

fn fingerprint(credential: &Credential) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in [
        credential.access_key_id.as_str(),
        credential.secret.as_str(),
        credential.security_token.as_deref().unwrap_or(""),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize().into()
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("accounts", &self.accounts.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Reader {
    /// Builds the transport from `state.schedule` (request timeout, attempts) and each account's credential
    /// provider and rate limits. Fails, before anything is sent, when an account's credentials cannot be had
    /// at all (for example an unset `{env: NAME}` variable).
    pub fn new(state: &DesiredState, options: ReaderOptions) -> Result<Reader, SetupError> {
        let transport = Transport::new(TransportOptions::from_schedule(&state.schedule, options.observer))
            .map_err(|e| SetupError::Transport {
                reason: e.to_string(),
            })?;
        let mut accounts = BTreeMap::new();
        for account in &state.accounts {
            transport.configure_account(account);
            let provider = Provider::for_account(account, options.env.clone(), &transport).map_err(|e| {
                SetupError::Credentials {
                    account: account.name.clone(),
                    reason: e.to_string(),
                    code: e.code(),
                }
            })?;
            let permits = account
                .regions
                .iter()
                .map(|r| (r.name.clone(), Semaphore::new(state.schedule.concurrency.max(1))))
                .collect();
            accounts.insert(
                account.name.clone(),
                AccountClient {
                    cloud: account.cloud,
                    provider,
                    endpoint: account.endpoint.clone(),
                    batch_tag_read: account.batch_tag_read,
                    permits,
                    learned: alibaba::scan::Learned::default(),
                    verdicts: huawei::scan::Learned::default(),
                },
            );
        }
        Ok(Reader {
            transport,
            accounts,
            refusals: std::sync::Mutex::default(),
        })
    }

    /// Reads every scope of `state` concurrently, each account, region and type on its own (one failure
    /// never stops another), within `schedule.check_timeout`. Every declared resource is reported: found,
    /// not found, or failed with its reason; what the deadline cut off is `Failed(timeout)`, and a discovery
    /// listing it cut off is a scope failure.
    ///
    /// Cancel-safe: dropping the future abandons the check (calls in flight are dropped with it).
    pub async fn read(&self, state: &DesiredState) -> Observations {
        let scopes = plan(state);
        let sink = Sink::default();
        let mut breakers: BTreeMap<&str, Breaker> = BTreeMap::new();
        for (name, account) in &self.accounts {
            breakers.insert(name.as_str(), self.breaker_for(name, account).await);
        }
        let concurrency = state.schedule.concurrency.max(1);
        let work = join_all(
            scopes
                .iter()
                .map(|scope| self.read_scope(scope, &sink, &breakers, concurrency)),
        );
        let deadline = state.schedule.check_timeout;
        let unread = match tokio::time::timeout(deadline, work).await {
            Ok(_) => ReadError::new(ErrorCode::Other, "not read"),
            Err(_) => ReadError::new(
                ErrorCode::Timeout,
                format!("not read before the check deadline ({}s)", deadline.as_secs_f64()),
            ),
        };
        self.remember_refusals(&breakers).await;
        sink.finish(&scopes, &unread)
    }

    /// A fresh breaker, or one that refuses up front when these very credentials were refused in the last
    /// [`MAX_REFUSED_CHECKS`] checks.
    async fn breaker_for(&self, name: &str, account: &AccountClient) -> Breaker {
        let known = {
            let refusals = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
            refusals
                .get(name)
                .filter(|r| r.streak >= MAX_REFUSED_CHECKS)
                .map(|r| (r.fingerprint, r.error.clone(), r.streak))
        };
        let Some((refused, error, streak)) = known else {
            return Breaker::default();
        };
        match account.provider.credential().await {
            Ok(current) if fingerprint(&current) == refused => Breaker::refused(ReadError::new(
                error.code,
                format!(
                    "not sent: the cloud refused these credentials in {streak} checks in a row ({}); they are \
                     tried again once they change (rotated file or variable, reload)",
                    error.message
                ),
            )),
            // New material, or none to be had (the check reports that itself): try again.
            _ => Breaker::default(),
        }
    }

    /// Counts checks in a row in which an account's credentials were refused; a check in which the cloud
    /// accepted them clears the count.
    async fn remember_refusals(&self, breakers: &BTreeMap<&str, Breaker>) {
        for (name, breaker) in breakers {
            let Some(account) = self.accounts.get(*name) else {
                continue;
            };
            if breaker.was_accepted() {
                self.lock_refusals().remove(*name);
                continue;
            }
            let Some(error) = breaker.fresh_refusal() else {
                continue;
            };
            let Ok(credential) = account.provider.credential().await else {
                continue;
            };
            let print = fingerprint(&credential);
            let mut refusals = self.lock_refusals();
            let entry = refusals.entry((*name).to_owned()).or_insert(Refusal {
                streak: 0,
                fingerprint: print,
                error: error.clone(),
            });
            entry.streak = if entry.fingerprint == print {
                entry.streak + 1
            } else {
                1
            };
            entry.fingerprint = print;
            entry.error = error;
        }
    }

    /// What the writer needs of an account: the shared transport (its rate limits cover writes too), the
    /// account's cloud, credential provider and endpoint.
    pub(crate) fn account_parts(&self, name: &str) -> Option<(&Transport, Cloud, &Provider, Option<&str>)> {
        self.accounts
            .get(name)
            .map(|a| (&self.transport, a.cloud, &a.provider, a.endpoint.as_deref()))
    }

    fn lock_refusals(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Refusal>> {
        self.refusals.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn read_scope(
        &self,
        scope: &Scope,
        sink: &Sink,
        breakers: &BTreeMap<&str, Breaker>,
        concurrency: usize,
    ) {
        let account = self
            .accounts
            .get(&scope.account)
            .filter(|a| a.cloud == scope.cloud);
        let (Some(account), Some(breaker)) = (account, breakers.get(scope.account.as_str())) else {
            let e = ReadError::new(
                ErrorCode::Other,
                format!(
                    "account {} is not configured in this reader (build a new one after a reload)",
                    scope.account
                ),
            );
            for id in &scope.declared {
                sink.observe(scope, id, None, None, Outcome::Failed(e.clone()));
            }
            if scope.discover {
                sink.fail_listing(scope, e);
            }
            return;
        };
        let Some(permits) = account.permits.get(&scope.region) else {
            let e = ReadError::new(
                ErrorCode::Other,
                format!(
                    "region {} of account {} is not configured in this reader",
                    scope.region, scope.account
                ),
            );
            for id in &scope.declared {
                sink.observe(scope, id, None, None, Outcome::Failed(e.clone()));
            }
            if scope.discover {
                sink.fail_listing(scope, e);
            }
            return;
        };
        let client = Client {
            transport: &self.transport,
            provider: &account.provider,
            account: &scope.account,
            endpoint: account.endpoint.as_deref(),
            breaker,
            permits,
        };
        match scope.cloud {
            Cloud::Alibaba => {
                alibaba::scan::scan(&client, scope, sink, concurrency, &account.learned).await;
            }
            Cloud::Huawei => {
                let (mode, verdicts) = (account.batch_tag_read, &account.verdicts);
                huawei::scan::scan(&client, scope, mode, verdicts, sink, concurrency).await;
            }
        }
    }
}

/// The first credential refusal per account among `observations`: what a one-shot command should say in
/// plain words instead of leaving it to the per-resource report.
pub fn refused_accounts(observations: &Observations) -> Vec<(String, String)> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let failures = observations
        .resources
        .iter()
        .filter_map(|o| match &o.outcome {
            Outcome::Failed(e) => Some((&o.resource.account, e)),
            _ => None,
        })
        .chain(observations.scope_failures.iter().map(|f| (&f.account, &f.error)));
    for (account, e) in failures {
        if e.code == ErrorCode::Auth && !e.message.starts_with("not sent:") {
            out.entry(account.clone()).or_insert_with(|| e.message.clone());
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests;
