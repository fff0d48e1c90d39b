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
use tagdrift_cloud::write::{WriteError, Writer, Written};
use tagdrift_core::config::DesiredState;
use tagdrift_core::drift::{self, Plan};
use tagdrift_core::reconcile::Batch;
use tagdrift_core::report;
use tagdrift_core::vocab::{ErrorCode, Observations, ReadError, ResourceType, ScopeFailure};

/// A boxed, sendable future, so [`Source`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a check's observations come from: the cloud reader in production, a scripted source in tests.
///
/// `read` must be cancel-safe: dropping the future abandons the check.
pub trait Source: Send + Sync + 'static {
    fn read<'a>(&'a self, state: &'a DesiredState) -> BoxFuture<'a, Observations>;

    /// Sends one batch of tag writes (`tagdrift apply` and the daemon's self-healing). A source that cannot
    /// write refuses every batch.
    fn write<'a>(
        &'a self,
        state: &'a DesiredState,
        batch: &'a Batch,
    ) -> BoxFuture<'a, Result<Written, WriteError>> {
        let _ = (state, batch);
        Box::pin(async {
            Err(WriteError {
                code: ErrorCode::Other,
                cloud_code: None,
                request_id: None,
                message: "this source cannot write tags".to_owned(),
            })
        })
    }
}

/// The clouds, read by a [`Reader`].
pub struct CloudSource(pub Reader);

impl Source for CloudSource {
    fn read<'a>(&'a self, state: &'a DesiredState) -> BoxFuture<'a, Observations> {
        Box::pin(self.0.read(state))
    }

    fn write<'a>(
        &'a self,
        state: &'a DesiredState,
        batch: &'a Batch,
    ) -> BoxFuture<'a, Result<Written, WriteError>> {
        Box::pin(async move { Writer::new(&self.0, state).send(batch).await })
    }
}

/// How long past `schedule.check_timeout_seconds` a source that ignores the deadline is given before its read
/// is dropped.
pub const DEADLINE_GRACE: Duration = Duration::from_secs(5);

impl Read {
    /// The accounts whose credentials a cloud refused, with the cloud's reason made visible (it is the cloud's
    /// own text): their resources are `unknown` with code `auth`, and the account is what a person must fix.
    pub fn refused_accounts(&self) -> Vec<(String, String)> {
        read::refused_accounts(&self.observations)
            .into_iter()
            .map(|(account, message)| (account, report::visible(&message).into_owned()))
            .collect()
    }

    /// Logs [`refused_accounts`](Read::refused_accounts), for the daemon, whose log is where a person looks.
    pub fn log_refused_accounts(&self) {
        for (account, reason) in self.refused_accounts() {
            tracing::error!(account = %account, reason = %reason, "the cloud refused this account's credentials");
        }
    }
}

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
        left_out: Vec::new(),
        read_plans: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// What a read returns when Alibaba refused the credentials of `ali-prod` with `message`.
    fn refused(message: &str) -> Read {
        let now = Utc::now();
        Read {
            observations: Observations {
                resources: Vec::new(),
                scope_failures: vec![ScopeFailure {
                    cloud: tagdrift_core::vocab::Cloud::Alibaba,
                    account: "ali-prod".to_owned(),
                    region: "cn-hangzhou".to_owned(),
                    resource_type: ResourceType::Key,
                    error: ReadError::new(ErrorCode::Auth, message),
                }],
                left_out: Vec::new(),
                read_plans: Vec::new(),
            },
            started: now,
            finished: now,
            duration: Duration::ZERO,
            timed_out: false,
        }
    }

    /// Collects what a subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn refused_accounts_carry_the_reason_made_visible() {
        let read = refused("denied\x1b[2J");
        assert_eq!(
            read.refused_accounts(),
            [("ali-prod".to_owned(), r"denied\u{1b}[2J".to_owned())]
        );
    }

    #[test]
    fn cloud_text_in_logs_is_made_visible() {
        for json in [false, true] {
            let captured = Captured::default();
            let writer = captured.clone();
            let builder = tracing_subscriber::fmt()
                .with_ansi(false)
                .with_writer(move || writer.clone());
            let subscriber: Box<dyn tracing::Subscriber + Send + Sync> = if json {
                Box::new(builder.json().finish())
            } else {
                Box::new(builder.finish())
            };
            tracing::subscriber::with_default(subscriber, || {
                refused("denied\x1b[2J by \u{202e}gnp.exe").log_refused_accounts();
            });
            let bytes = captured.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let out = String::from_utf8(bytes).unwrap_or_default();
            assert!(!out.contains(['\x1b', '\u{202e}']), "{out}");
            let want = if json {
                r"denied\\u{1b}[2J by \\u{202e}gnp.exe"
            } else {
                r"denied\u{1b}[2J by \u{202e}gnp.exe"
            };
            assert!(out.contains(want), "{out}");
        }
    }
}
