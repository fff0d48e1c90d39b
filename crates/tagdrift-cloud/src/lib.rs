//! tagdrift-cloud: everything that talks to the clouds. The HTTP transport (rate limits, retries, error
//! classification), where credentials come from, the two clouds' request signing and wire formats, and the
//! per-cloud scanners that [`read`] drives to turn a desired state into observations, and the tag writers of
//! `tagdrift apply` ([`write`]).
//!
//! It depends on `tagdrift-core` for the vocabulary and the desired state, and must never depend on the daemon
//! (metrics, scheduler, server) or on the emulator: the daemon sees its calls through [`CallObserver`].
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(unreachable_pub)]

// The shared vocabulary, imported once here so the modules below name it `crate::Cloud` and the like.
use tagdrift_core::vocab::{
    Cloud, ErrorCode, LeftOut, Observations, Observed, Outcome, PlanReason, ReadError, ReadPlan, ResourceRef,
    ResourceType, ScopeFailure, Tags, Untaggable,
};

pub mod alibaba;
mod credential;
pub mod credentials;
pub mod huawei;
pub mod read;
pub mod scope;
pub mod signing;
pub mod transport;
pub mod wire;
pub mod write;

/// Sees every HTTP attempt a cloud client makes, so the daemon can count calls, errors, retries and latency
/// without the clients knowing about Prometheus. `operation` is the cloud API's name from a closed list per
/// cloud (documented in docs/metrics.md); implementations must be cheap and must not block.
pub trait CallObserver: Send + Sync + 'static {
    /// One attempt finished. `retry` is true when it repeated an earlier failed attempt of the same call;
    /// `error` is `None` when the cloud answered successfully (a "not found" answer is a success here).
    fn attempt(
        &self,
        cloud: Cloud,
        operation: &'static str,
        retry: bool,
        error: Option<ErrorCode>,
        elapsed: std::time::Duration,
    );
}

/// A [`CallObserver`] that discards everything (one-shot commands that export no metrics).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl CallObserver for NoObserver {
    fn attempt(&self, _: Cloud, _: &'static str, _: bool, _: Option<ErrorCode>, _: std::time::Duration) {}
}
