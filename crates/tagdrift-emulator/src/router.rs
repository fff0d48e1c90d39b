//! The emulator's HTTP application: the [`router`] that merges both clouds' routes with the `/_emulator/`
//! control endpoints (health, stats, faults, clock, inventory summary), and the `observe` middleware every
//! request passes through (request context, injected latency, call counting and a redacted debug log).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State as AxumState};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};

use crate::admission::CallRecord;
use crate::state::{State, lock};
use crate::{ClockError, ConnInfo, FaultsPatch, alibaba, huawei};

/// The emulator's HTTP application: control endpoints, both clouds, and the core middleware.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/_emulator/health", get(|| async { "ok" }))
        .route("/_emulator/stats", get(get_stats))
        .route("/_emulator/reset-stats", post(post_reset_stats))
        .route("/_emulator/faults", get(get_faults).post(post_faults))
        .route("/_emulator/clock", get(get_clock).post(post_clock))
        .route("/_emulator/inventory", get(get_inventory))
        .merge(alibaba::routes())
        .merge(huawei::routes())
        .layer(middleware::from_fn(tagdrift_serve::require_content_length))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn get_stats(AxumState(state): AxumState<Arc<State>>) -> Response {
    axum::Json(state.stats()).into_response()
}

async fn get_inventory(AxumState(state): AxumState<Arc<State>>) -> Response {
    let scopes = state.store().summary();
    axum::Json(serde_json::json!({ "scopes": scopes })).into_response()
}

async fn post_reset_stats(AxumState(state): AxumState<Arc<State>>) -> Response {
    state.reset_stats();
    axum::Json(state.stats()).into_response()
}

async fn get_faults(AxumState(state): AxumState<Arc<State>>) -> Response {
    axum::Json(state.faults()).into_response()
}

async fn post_faults(AxumState(state): AxumState<Arc<State>>, body: axum::body::Bytes) -> Response {
    let patch: FaultsPatch = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return control_error(StatusCode::BAD_REQUEST, "invalid_json", e),
    };
    match state.update_faults(patch) {
        Ok(faults) => {
            tracing::info!(?faults, "emulator faults changed");
            axum::Json(faults).into_response()
        }
        Err(e) => control_error(StatusCode::BAD_REQUEST, e.code(), e),
    }
}

/// `POST /_emulator/clock`: exactly one of the fields.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockMove {
    /// Move to this RFC 3339 instant.
    set: Option<DateTime<Utc>>,
    /// Move by this many milliseconds (back when negative).
    advance_ms: Option<i64>,
}

/// The control endpoints' error answer.
fn control_error(status: StatusCode, code: &str, error: impl std::fmt::Display) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"code": code, "error": error.to_string()})),
    )
        .into_response()
}

fn clock_json(state: &State, now: DateTime<Utc>) -> Response {
    axum::Json(serde_json::json!({
        "now": now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "manual": state.clock().is_manual(),
    }))
    .into_response()
}

async fn get_clock(AxumState(state): AxumState<Arc<State>>) -> Response {
    clock_json(&state, state.now())
}

async fn post_clock(AxumState(state): AxumState<Arc<State>>, body: axum::body::Bytes) -> Response {
    let request: ClockMove = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return control_error(StatusCode::BAD_REQUEST, "invalid_json", e),
    };
    let moved = match (request.set, request.advance_ms) {
        (Some(at), None) => state.clock().try_set(at),
        (None, Some(ms)) => state.clock().try_advance_ms(ms),
        _ => {
            return control_error(
                StatusCode::BAD_REQUEST,
                "invalid_clock_move",
                format!(
                    "expected exactly one of \"set\" and \"advance_ms\", got {}",
                    String::from_utf8_lossy(&body)
                ),
            );
        }
    };
    match moved {
        Ok(now) => {
            tracing::debug!(%now, "emulator clock moved");
            clock_json(&state, now)
        }
        Err(e @ ClockError::SystemClock) => control_error(StatusCode::CONFLICT, e.code(), &e),
        Err(e) => control_error(StatusCode::BAD_REQUEST, e.code(), &e),
    }
}

/// Query parameters whose values are never logged.
const REDACTED_PARAMS: [&str; 5] = [
    "Signature",
    "SecurityToken",
    "AccessKeySecret",
    "OIDCToken",
    "Password",
];

/// The query string with secret values replaced by `<redacted>`, for the debug request log.
pub(crate) fn redacted_query(query: Option<&str>) -> String {
    let Some(query) = query else {
        return String::new();
    };
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if REDACTED_PARAMS.iter().any(|r| name.eq_ignore_ascii_case(r)) => {
                format!("{name}=<redacted>")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Core middleware: request context, latency, counting, and the (redacted) debug request log. Headers are
/// never logged, so `Authorization`, `x-acs-security-token`, `X-Security-Token` and `X-Auth-Token` cannot leak.
async fn observe(AxumState(state): AxumState<Arc<State>>, mut request: Request, next: Next) -> Response {
    let internal = request.uri().path().starts_with("/_emulator/");
    let conn = request
        .extensions()
        .get::<ConnectInfo<ConnInfo>>()
        .map(|c| c.0.control.clone());
    let ctx = state.new_request_ctx(conn);
    request.extensions_mut().insert(ctx.clone());
    if !internal {
        let delay = {
            let faults = state.faults();
            faults.latency(&mut *lock(&state.rng))
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = redacted_query(request.uri().query());
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed_us = started.elapsed().as_micros();
    let status = response.status().as_u16();
    match response.extensions().get::<CallRecord>() {
        Some(rec) => {
            if !rec.counted {
                state.count(rec.cloud, &rec.api, &rec.outcome);
            }
            tracing::debug!(
                request_id = %ctx.request_id(), %method, %path, %query, status,
                cloud = %rec.cloud, api = %rec.api, outcome = %rec.outcome, elapsed_us,
                "emulator request"
            );
        }
        None => {
            if !internal {
                lock(&state.stats).record("other", "unrouted", &status.to_string());
            }
            tracing::debug!(request_id = %ctx.request_id(), %method, %path, %query, status, elapsed_us, "emulator request");
        }
    }
    response
}
