//! One check, the same for `tagdrift check` and every check of the daemon: read the clouds through a
//! [`Source`] within the desired state's deadline ([`read`]), then plan against today's date ([`plan`]). The two
//! halves are separate so a caller can release the reader before planning (at 100,000 resources every megabyte
//! released first lowers the peak).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use tagdrift_cloud::read::{self, Reader};
use tagdrift_core::config::DesiredState;
use tagdrift_core::drift::{self, Plan};
use tagdrift_core::vocab::{ErrorCode, Observations, ReadError, ResourceType, ScopeFailure};

/// A boxed, sendable future, so [`Source`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a check's observations come from: the cloud reader in production, a scripted source in tests.
///
/// `read` must be cancel-safe: dropping the future abandons the check.
pub trait Source: Send + Sync + 'static {
    fn read<'a>(&'a self, state: &'a DesiredState) -> BoxFuture<'a, Observations>;
}

/// The clouds, read by a [`Reader`], logging the accounts whose credentials a cloud refused (their resources
/// are `unknown` with code `auth`; the log says which account to fix).
pub struct CloudSource(pub Reader);

impl Source for CloudSource {
    fn read<'a>(&'a self, state: &'a DesiredState) -> BoxFuture<'a, Observations> {
        Box::pin(async move {
            let observations = self.0.read(state).await;
            for (account, message) in read::refused_accounts(&observations) {
                tracing::error!(account = %account, reason = %message, "the cloud refused this account's credentials");
            }
            observations
        })
    }
}

/// How long past `schedule.check_timeout_seconds` a source that ignores the deadline is given before its read
/// is dropped.
pub const DEADLINE_GRACE: Duration = Duration::from_secs(5);

/// What the read half of a check returned.
pub struct Read {
    pub observations: Observations,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub duration: Duration,
    /// The deadline (`schedule.check_timeout_seconds`) passed before the read finished.
    pub timed_out: bool,
}

/// One planned check.
pub struct Checked {
    pub plan: Plan,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub duration: Duration,
    /// Finished before the deadline with every resource and listing read.
    pub success: bool,
    pub timed_out: bool,
}

/// Reads `state` through `source`. Cancel-safe: dropping it abandons the read.
pub async fn read(state: &DesiredState, source: &dyn Source) -> Read {
    let deadline = state.schedule.check_timeout;
    let started = Utc::now();
    let clock = Instant::now();
    // The source applies the deadline itself and keeps what it read before it; this outer bound only catches a
    // source that does not return.
    let bounded = tokio::time::timeout(deadline + DEADLINE_GRACE, source.read(state));
    let (observations, cut_off) = match bounded.await {
        Ok(observations) => (observations, false),
        Err(_) => (timed_out(state, deadline), true),
    };
    let duration = clock.elapsed();
    Read {
        observations,
        started,
        finished: Utc::now(),
        duration,
        timed_out: cut_off || duration >= deadline,
    }
}

/// Plans `read` against `state`. The one place the clock enters the engine: the date the read finished.
pub fn plan(state: &DesiredState, read: Read) -> Checked {
    let plan = drift::plan(state, &read.observations, read.finished.date_naive());
    let success = !read.timed_out && plan.summary.unknown == 0 && plan.summary.unknown_scopes == 0;
    Checked {
        plan,
        started: read.started,
        finished: read.finished,
        duration: read.duration,
        success,
        timed_out: read.timed_out,
    }
}

/// Observations for a check whose source did not return in time: every scope failed with `timeout`, so every
/// declared resource is unknown (never in sync) and every listing is reported as not done.
fn timed_out(state: &DesiredState, deadline: Duration) -> Observations {
    let error = ReadError::new(
        ErrorCode::Timeout,
        format!(
            "the check did not finish within its deadline of {}s",
            deadline.as_secs()
        ),
    );
    let mut scope_failures = Vec::new();
    for account in &state.accounts {
        for region in &account.regions {
            for resource_type in ResourceType::ALL {
                scope_failures.push(ScopeFailure {
                    cloud: account.cloud,
                    account: account.name.clone(),
                    region: region.name.clone(),
                    resource_type,
                    error: error.clone(),
                });
            }
        }
    }
    Observations {
        resources: Vec::new(),
        scope_failures,
    }
}
