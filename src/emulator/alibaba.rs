//! Alibaba Cloud half of the emulator (placeholder while the core lands).

use std::sync::Arc;

use axum::Router;

use super::State;

/// The Alibaba routes, merged into the emulator router by the core.
pub fn routes() -> Router<Arc<State>> {
    Router::new()
}
