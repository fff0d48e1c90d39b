//! The admission vocabulary shared by the core and the cloud modules. A cloud module describes each
//! authenticated request with a [`Call`] and shapes throttling and 5xx answers through its [`Flavor`]; the core
//! answers with an [`Admission`] (or a finished refusal), and every response carries a [`CallRecord`] so the
//! `observe` middleware can count it. Nothing here knows a cloud's wire format.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::SeedableRng;
use rand::rngs::StdRng;

use tagdrift_core::vocab::Cloud;

use crate::faults::{self, Fault};
use crate::net::ConnControl;

/// What a cloud module tells the core about an authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub cloud: Cloud,
    /// Account name (rate limits are per account, region and group).
    pub account: String,
    /// Region (Alibaba) or project region (Huawei).
    pub region: String,
    /// Rate-limit group, one of `config::API_GROUPS` for the cloud (or any other name: unlimited).
    pub group: &'static str,
    /// API name as counted in the stats, e.g. `ListTagResources`.
    pub api: &'static str,
}

/// How one cloud shapes the answers the core produces on its behalf. Implemented by each cloud module.
pub trait Flavor: Send + Sync {
    /// The answer for a request over its group's rate limit. `retry_after` is when a token frees up.
    fn rate_limited(&self, ctx: &RequestCtx, call: &Call, limit_qps: f64, retry_after: Duration) -> Response;
    /// The answer for an injected throttling fault.
    fn injected_throttle(&self, ctx: &RequestCtx, call: &Call) -> Response;
    /// The answer for an injected server error.
    fn injected_server_error(&self, ctx: &RequestCtx, call: &Call) -> Response;
}

/// Per-request context, inserted into every request's extensions by the core before routing.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    pub(crate) id: u128,
    pub(crate) conn: Option<Arc<ConnControl>>,
}

impl RequestCtx {
    /// Alibaba style: upper-case UUID, e.g. `00827261-20B7-4562-83F2-4DF39876A45A`.
    pub fn request_id(&self) -> String {
        let h = format!("{:032X}", self.id);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    /// Huawei style: 32 lower-case hex characters.
    pub fn request_id_hex(&self) -> String {
        format!("{:032x}", self.id)
    }

    /// Asks for the connection to be dropped with a TCP reset instead of carrying the response. False when
    /// the request did not come over the emulator's listener (e.g. `Router::oneshot` in tests).
    pub fn reset_connection(&self) -> bool {
        match &self.conn {
            Some(c) => {
                c.reset();
                true
            }
            None => false,
        }
    }
}

/// Attached to a response (as an extension) so the core counts it: which cloud, API and outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub cloud: Cloud,
    pub api: Cow<'static, str>,
    /// `ok`, an error code, or a fault label (`fault_5xx`, `throttled`, ...).
    pub outcome: Cow<'static, str>,
    /// Already counted (hangs are counted when they start, since the client may never see the end).
    pub(crate) counted: bool,
}

/// Marks `response` to be counted as one call of `api` in `cloud` with `outcome`.
pub fn record(
    mut response: Response,
    cloud: Cloud,
    api: impl Into<Cow<'static, str>>,
    outcome: impl Into<Cow<'static, str>>,
) -> Response {
    response.extensions_mut().insert(CallRecord {
        cloud,
        api: api.into(),
        outcome: outcome.into(),
        counted: false,
    });
    response
}

/// A success or error body a cloud handler hands to [`Admission::reply`].
#[derive(Debug, Clone)]
pub enum Payload {
    Json(serde_json::Value),
    Bytes(Vec<u8>),
    Empty,
}

/// Permission to answer an admitted request; carries the malformed-body fault when it was drawn.
#[derive(Debug)]
#[must_use]
pub struct Admission {
    // Crate-visible for `State::admit`, which grants it; other crates cannot forge one.
    pub(crate) cloud: Cloud,
    pub(crate) api: &'static str,
    pub(crate) malform_seed: Option<u64>,
}

impl Admission {
    /// Builds the response and counts it under `outcome`. A 2xx answer is corrupted here when the
    /// malformed-body fault was drawn (and counted as `fault_malformed`). `headers` must carry the content type.
    pub fn reply(
        self,
        outcome: impl Into<Cow<'static, str>>,
        status: StatusCode,
        headers: HeaderMap,
        payload: Payload,
    ) -> Response {
        let mut outcome = outcome.into();
        let body = match (self.malform_seed, status.is_success()) {
            (Some(seed), true) => {
                let mut rng = StdRng::seed_from_u64(seed);
                outcome = Cow::Borrowed(Fault::Malformed.outcome());
                match payload {
                    Payload::Json(v) => faults::malform_json(&v, &mut rng),
                    // Pre-serialized JSON gets the same treatment as a value; anything else is cut short.
                    Payload::Bytes(b) => match serde_json::from_slice::<serde_json::Value>(&b) {
                        Ok(v) => faults::malform_json(&v, &mut rng),
                        Err(_) => faults::truncate(b, &mut rng),
                    },
                    Payload::Empty => b"{".to_vec(),
                }
            }
            _ => match payload {
                Payload::Json(v) => serde_json::to_vec(&v).unwrap_or_default(),
                Payload::Bytes(b) => b,
                Payload::Empty => Vec::new(),
            },
        };
        let mut response = (status, headers, Body::from(body)).into_response();
        response.extensions_mut().insert(CallRecord {
            cloud: self.cloud,
            api: Cow::Borrowed(self.api),
            outcome,
            counted: false,
        });
        response
    }

    /// Whether the answer will be corrupted (handlers need not care; exposed for tests).
    pub fn is_malformed(&self) -> bool {
        self.malform_seed.is_some()
    }
}
