//! The read orchestrator: turns a desired state into [`Observations`] by planning the scopes to read
//! ([`scope::plan`]), running every scope's provider reader concurrently under the check deadline, and making
//! sure every declared resource ends up reported — read, not found, or failed with a reason — and never
//! silently in sync.

pub mod scope;

use crate::cloud::{ErrorCode, ReadError};

pub use scope::{Scope, Sink, listing_failed, plan};

/// A failed cloud call as the provider readers see it: the classified error, plus what the cloud answered
/// (so a reader can tell "not found" from other 4xx answers, which only the API knows how to read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status, when the cloud answered.
    pub status: Option<u16>,
    /// The cloud's error code (`InvalidResourceId.NotFound`, `CSMS.0005`), when the body had one.
    pub cloud_code: Option<String>,
    pub error: ReadError,
}

impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> Self {
        ApiError {
            status: None,
            cloud_code: None,
            error,
        }
    }
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        self.error.code
    }
}
