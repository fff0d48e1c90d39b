//! Huawei Cloud half of the emulator: DEW (KMS keys under `/v1.0/{project_id}/kms/...`, CSMS secrets under
//! `/v1/{project_id}/...`), the IAM paths tagdrift's credential providers call, and the ECS metadata
//! `securitykey` path, all answering like the real gateway (SDK-HMAC-SHA256 signatures, `X-Sdk-Date` skew,
//! `APIG.*` / `KMS.*` / `CSMS.*` error bodies).
//!
//! Placeholder: another helper implements this module on top of the core (see docs/emulator.md, "Extending
//! the core"). Until then it serves no routes.

use std::sync::Arc;

use axum::Router;

use super::State;

/// The Huawei routes, merged into the emulator router by the core.
pub fn routes() -> Router<Arc<State>> {
    Router::new()
}
