//! tagdrift-emulator: one HTTP server that answers like Alibaba Cloud (KMS and STS RPC APIs at `/`, ECS
//! instance metadata under `/latest/`) and Huawei Cloud (DEW under `/v1/` and `/v1.0/`, IAM) for an inventory
//! of accounts, keys, secrets and tags. It is the test bed for tagdrift's cloud clients, the demo and the
//! benchmarks, and is served by `tagdrift emulate`. It depends on `tagdrift-core` for the vocabulary and on
//! `tagdrift-cloud` only for its signing, to verify signatures; nothing in the product may depend on it.
//!
//! This crate root is the cloud-neutral core: the shared [`State`] (inventory store, clock, faults, rate limiter,
//! call counters, nonce cache, issued credentials and tokens), the router with the `/_emulator/` control
//! endpoints, and the admission step every authenticated cloud request goes through ([`State::admit`]:
//! rate limits, then injected faults; latency is added before routing). The cloud modules (`alibaba`,
//! `huawei`) own their wire formats, signature checks and error shapes; they describe each request to the
//! core with a [`Call`] and shape throttling and 5xx answers through a [`Flavor`]. The core must not know any
//! cloud's wire format.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(unreachable_pub)]

mod alibaba;
mod args;
mod clock;
mod faults;
mod huawei;
pub mod inventory;
mod limiter;
mod metadata;
mod net;
mod stats;
mod store;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpListener;
use tokio::sync::watch;

use tagdrift_core::vocab::Cloud;

pub use args::EmulateArgs;
pub use clock::{Clock, ClockError};
pub use faults::{Fault, Faults, FaultsError, FaultsPatch};
pub use inventory::{Inventory, InventoryError, Secret};
pub use net::{ConnControl, ConnInfo};
pub use stats::{ApiStats, CloudStats, StatsSnapshot};
pub use store::{KeyOwner, Store};

/// Start-up options that do not change while the emulator runs (faults and limits do: see [`Faults`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Seeds the fault dice, request ids and generated credentials.
    pub seed: u64,
    /// Largest accepted difference between a request's signing time and the emulator clock.
    pub max_clock_skew: Duration,
    /// Overrides the lifetime of every temporary credential the emulator issues.
    pub temp_credential_lifetime: Option<Duration>,
    /// ECS metadata: refuse requests without a session token.
    pub imds_token_required: bool,
    /// At most this many signature nonces are remembered (oldest forgotten first), bounding memory under
    /// long high-rate benchmarks.
    pub max_nonces: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 1,
            max_clock_skew: Duration::from_secs(15 * 60),
            temp_credential_lifetime: None,
            imds_token_required: false,
            max_nonces: 1_000_000,
        }
    }
}

/// Why the emulator could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error("invalid fault settings")]
    Faults(#[source] FaultsError),
    #[error(
        "invalid --rate-limit '{0}' (expected CLOUD.GROUP=QPS with a known group, e.g. alibaba.kms_read=10)"
    )]
    RateLimitArg(String),
    #[error("no inventory: pass --inventory FILE or --generate N")]
    NoInventory,
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("emulator server failed")]
    Serve(#[source] std::io::Error),
}

impl EmulatorError {
    pub fn code(&self) -> &'static str {
        match self {
            EmulatorError::Inventory(e) => e.code(),
            EmulatorError::Faults(e) => e.code(),
            EmulatorError::RateLimitArg(_) => "rate_limit_arg",
            EmulatorError::NoInventory => "no_inventory",
            EmulatorError::Bind { .. } => "bind",
            EmulatorError::Serve(_) => "serve",
        }
    }
}

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
    id: u128,
    conn: Option<Arc<ConnControl>>,
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
    counted: bool,
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
    cloud: Cloud,
    api: &'static str,
    malform_seed: Option<u64>,
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

/// Temporary credentials the emulator issued (STS, ECS metadata, Huawei security tokens).
#[derive(Debug, Clone)]
pub struct IssuedCredential {
    pub cloud: Cloud,
    /// Index of the owning account in the store.
    pub account: usize,
    pub access_key_id: String,
    pub secret: Secret,
    pub security_token: Secret,
    pub expiration: DateTime<Utc>,
}

/// Remembers (cloud, access key, nonce) triples to refuse replays, for `ttl` or until `max` are held.
#[derive(Debug)]
struct NonceCache {
    seen: HashSet<u64>,
    order: VecDeque<(DateTime<Utc>, u64)>,
}

impl NonceCache {
    fn check_and_insert(&mut self, key: u64, now: DateTime<Utc>, ttl: TimeDelta, max: usize) -> bool {
        while let Some(&(at, k)) = self.order.front() {
            if now - at > ttl || self.order.len() >= max.max(1) {
                self.order.pop_front();
                self.seen.remove(&k);
            } else {
                break;
            }
        }
        if !self.seen.insert(key) {
            return false;
        }
        self.order.push_back((now, key));
        true
    }
}

/// Consecutive signature failures of one access key and, once too many, until when it is locked.
#[derive(Debug, Clone, Copy, Default)]
struct AuthFailures {
    consecutive: u32,
    locked_until: Option<DateTime<Utc>>,
}

/// (kind, token) of an issued opaque token.
type TokenKey = (&'static str, String);

/// Everything the emulator shares between requests.
pub struct State {
    store: RwLock<Store>,
    options: Options,
    faults: RwLock<Faults>,
    limiter: Mutex<limiter::Limiter>,
    stats: Mutex<stats::Stats>,
    nonces: Mutex<NonceCache>,
    issued: Mutex<HashMap<(Cloud, String), IssuedCredential>>,
    tokens: Mutex<HashMap<TokenKey, (DateTime<Utc>, String)>>,
    /// (cloud, access key id) -> consecutive signature failures and the end of a lock, if locked.
    auth_failures: Mutex<HashMap<(Cloud, String), AuthFailures>>,
    clock: Clock,
    rng: Mutex<StdRng>,
    shutdown: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking handler must not take the whole emulator down with poisoned locks.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl State {
    pub fn new(store: Store, options: Options, faults: Faults, clock: Clock) -> Arc<State> {
        let now = clock.now();
        let (shutdown, _) = watch::channel(false);
        Arc::new(State {
            store: RwLock::new(store),
            rng: Mutex::new(StdRng::seed_from_u64(options.seed)),
            options,
            faults: RwLock::new(faults),
            limiter: Mutex::new(limiter::Limiter::default()),
            stats: Mutex::new(stats::Stats::new(now)),
            nonces: Mutex::new(NonceCache {
                seen: HashSet::new(),
                order: VecDeque::new(),
            }),
            issued: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            auth_failures: Mutex::new(HashMap::new()),
            clock,
            shutdown,
        })
    }

    /// Builds the state for `tagdrift emulate` arguments from an already loaded or generated inventory.
    pub fn from_args(args: &EmulateArgs, inventory: Inventory) -> Result<Arc<State>, EmulatorError> {
        let store = Store::from_inventory(inventory)?;
        Ok(State::new(store, args.options(), args.faults()?, args.clock()))
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Read access to the resources. Do not hold it across an `.await`.
    pub fn store(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Write access to the resources (tag writes). Do not hold it across an `.await`.
    pub fn store_mut(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn faults(&self) -> Faults {
        self.faults.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Applies a partial fault update; on error nothing changes.
    pub fn update_faults(&self, patch: FaultsPatch) -> Result<Faults, FaultsError> {
        let mut faults = self.faults.write().unwrap_or_else(PoisonError::into_inner);
        faults.apply(patch)?;
        if !faults.rate_limits_enabled {
            lock(&self.limiter).clear();
        }
        Ok(faults.clone())
    }

    pub fn stats(&self) -> StatsSnapshot {
        lock(&self.stats).snapshot()
    }

    pub fn reset_stats(&self) {
        let now = self.now();
        lock(&self.stats).reset(now);
    }

    /// Counts one call directly (for answers that never reach the response path).
    pub fn count(&self, cloud: Cloud, api: &str, outcome: &str) {
        lock(&self.stats).record(cloud.as_str(), api, outcome);
    }

    /// True the first time (cloud, access key, nonce) is seen within the clock-skew window; false for a replay.
    pub fn check_nonce(&self, cloud: Cloud, access_key_id: &str, nonce: &str) -> bool {
        let mut h = DefaultHasher::new();
        (cloud, access_key_id, nonce).hash(&mut h);
        let ttl = TimeDelta::from_std(self.options.max_clock_skew).unwrap_or(TimeDelta::minutes(15));
        let now = self.now();
        lock(&self.nonces).check_and_insert(h.finish(), now, ttl, self.options.max_nonces)
    }

    /// The owner of `access_key_id` in `cloud`: a permanent or static temporary key from the inventory, or a
    /// temporary credential issued at run time. Expiry is the caller's to check.
    pub fn credential(&self, cloud: Cloud, access_key_id: &str) -> Option<KeyOwner> {
        if let Some(owner) = self.store().access_key(cloud, access_key_id) {
            return Some(owner);
        }
        lock(&self.issued)
            .get(&(cloud, access_key_id.to_owned()))
            .map(|c| KeyOwner {
                cloud,
                account: c.account,
                secret: c.secret.clone(),
                security_token: Some(c.security_token.clone()),
                expiration: Some(c.expiration),
            })
    }

    /// Issues temporary credentials for `account` of `cloud`, valid for `requested` unless the
    /// `temp_credential_lifetime` option overrides it. The id starts with `key_prefix` (`STS.` for Alibaba);
    /// the token starts with `token_prefix`.
    pub fn issue_credential(
        &self,
        cloud: Cloud,
        account: usize,
        key_prefix: &str,
        token_prefix: &str,
        requested: Duration,
    ) -> IssuedCredential {
        let lifetime = self.options.temp_credential_lifetime.unwrap_or(requested);
        let now = self.now();
        let expiration = now + TimeDelta::from_std(lifetime).unwrap_or(TimeDelta::hours(1));
        let credential = IssuedCredential {
            cloud,
            account,
            access_key_id: format!("{key_prefix}{}", self.random_alnum(24)),
            secret: Secret::new(self.random_alnum(40)),
            security_token: Secret::new(format!("{token_prefix}{}", self.random_alnum(120))),
            expiration,
        };
        let mut issued = lock(&self.issued);
        // Expired ones are useless to keep: drop them whenever a new one is issued.
        issued.retain(|_, c| c.expiration > now);
        issued.insert((cloud, credential.access_key_id.clone()), credential.clone());
        credential
    }

    /// Issues an opaque bearer token of `kind` (e.g. `alibaba-imds`) carrying `subject`, valid for `ttl`.
    pub fn issue_token(&self, kind: &'static str, subject: &str, ttl: Duration) -> String {
        let now = self.now();
        let token = self.random_alnum(48);
        let expires = now + TimeDelta::from_std(ttl).unwrap_or(TimeDelta::hours(6));
        let mut tokens = lock(&self.tokens);
        tokens.retain(|_, (exp, _)| *exp > now);
        tokens.insert((kind, token.clone()), (expires, subject.to_owned()));
        token
    }

    /// The subject of a valid (known, unexpired) token of `kind`.
    pub fn token_subject(&self, kind: &'static str, token: &str) -> Option<String> {
        let now = self.now();
        lock(&self.tokens)
            .get(&(kind, token.to_owned()))
            .filter(|(exp, _)| *exp > now)
            .map(|(_, subject)| subject.clone())
    }

    /// Until when `access_key_id` is locked out after repeated signature failures (`None`: not locked).
    pub fn auth_locked_until(&self, cloud: Cloud, access_key_id: &str) -> Option<DateTime<Utc>> {
        let now = self.now();
        lock(&self.auth_failures)
            .get(&(cloud, access_key_id.to_owned()))
            .and_then(|f| f.locked_until)
            .filter(|until| *until > now)
    }

    /// Counts one signature failure of a known access key; the failure after `max_consecutive` in a row
    /// locks the key for `lock_for`. Returns true when this failure locked it.
    pub fn record_auth_failure(
        &self,
        cloud: Cloud,
        access_key_id: &str,
        max_consecutive: u32,
        lock_for: Duration,
    ) -> bool {
        let now = self.now();
        let mut failures = lock(&self.auth_failures);
        let entry = failures.entry((cloud, access_key_id.to_owned())).or_default();
        entry.consecutive += 1;
        if entry.consecutive > max_consecutive {
            entry.consecutive = 0;
            entry.locked_until = Some(now + TimeDelta::from_std(lock_for).unwrap_or(TimeDelta::minutes(5)));
            return true;
        }
        false
    }

    /// A correctly signed request ends a run of failures.
    pub fn clear_auth_failures(&self, cloud: Cloud, access_key_id: &str) {
        let mut failures = lock(&self.auth_failures);
        if !failures.is_empty() {
            failures.remove(&(cloud, access_key_id.to_owned()));
        }
    }

    /// Random characters from `[A-Za-z0-9]`, from the seeded generator.
    pub fn random_alnum(&self, len: usize) -> String {
        let mut rng = lock(&self.rng);
        (0..len)
            .map(|_| char::from(ALNUM[rng.random_range(0..ALNUM.len())]))
            .collect()
    }

    fn new_request_ctx(&self, conn: Option<Arc<ConnControl>>) -> RequestCtx {
        RequestCtx {
            id: lock(&self.rng).random(),
            conn,
        }
    }

    /// A receiver that turns true when the emulator starts shutting down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Tells long-running handlers (hangs) to finish.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// The admission step for an authenticated request: rate limit first (like the clouds' gateways), then
    /// the injected faults. `Err` is the complete answer (already marked for counting); `Ok` lets the handler
    /// run and answer through [`Admission::reply`].
    pub async fn admit(
        &self,
        ctx: &RequestCtx,
        call: &Call,
        flavor: &dyn Flavor,
    ) -> Result<Admission, Response> {
        let faults = self.faults();
        if let Some(qps) = faults.limit_for(call.cloud, call.group) {
            let now = self.now();
            let taken =
                lock(&self.limiter).take((call.cloud, &call.account, &call.region, call.group), qps, now);
            if let Err(retry_after) = taken {
                let response = flavor.rate_limited(ctx, call, qps, retry_after);
                return Err(record(response, call.cloud, call.api, "throttled"));
            }
        }
        let (fault, malform_seed) = {
            let mut rng = lock(&self.rng);
            (faults.draw(&mut *rng), rng.random::<u64>())
        };
        match fault {
            None => Ok(Admission {
                cloud: call.cloud,
                api: call.api,
                malform_seed: None,
            }),
            Some(Fault::Malformed) => Ok(Admission {
                cloud: call.cloud,
                api: call.api,
                malform_seed: Some(malform_seed),
            }),
            Some(Fault::ServerError) => Err(record(
                flavor.injected_server_error(ctx, call),
                call.cloud,
                call.api,
                Fault::ServerError.outcome(),
            )),
            Some(Fault::Throttle) => Err(record(
                flavor.injected_throttle(ctx, call),
                call.cloud,
                call.api,
                Fault::Throttle.outcome(),
            )),
            Some(Fault::Reset) => Err(record(
                reset_response(ctx),
                call.cloud,
                call.api,
                Fault::Reset.outcome(),
            )),
            Some(Fault::Hang) => {
                self.count(call.cloud, call.api, Fault::Hang.outcome());
                let mut shutdown = self.shutdown_signal();
                let hang = tokio::time::sleep(Duration::from_millis(faults.hang_ms));
                tokio::select! {
                    () = hang => {}
                    _ = shutdown.wait_for(|down| *down) => {}
                }
                let mut response = reset_response(ctx);
                response.extensions_mut().insert(CallRecord {
                    cloud: call.cloud,
                    api: Cow::Borrowed(call.api),
                    outcome: Cow::Borrowed(Fault::Hang.outcome()),
                    counted: true,
                });
                Err(response)
            }
        }
    }
}

/// The response of a request whose connection is being reset: never written to a real connection. Without
/// one (in-process tests) it is a 502 with an empty body.
fn reset_response(ctx: &RequestCtx) -> Response {
    ctx.reset_connection();
    StatusCode::BAD_GATEWAY.into_response()
}

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
fn redacted_query(query: Option<&str>) -> String {
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

/// Serves the emulator on `listener` until `shutdown` completes, then finishes in-flight requests (hangs are
/// cut short) and logs the call counters.
pub async fn serve(
    state: Arc<State>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), EmulatorError> {
    let app = router(state.clone()).into_make_service_with_connect_info::<ConnInfo>();
    let signal_state = state.clone();
    axum::serve(net::EmuListener::new(listener), app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            signal_state.begin_shutdown();
        })
        .await
        .map_err(EmulatorError::Serve)?;
    let stats = lock(&state.stats).summary_lines();
    tracing::info!(total = state.stats().total, "emulator stopped; calls served");
    for line in stats {
        tracing::info!("emulator calls: {line}");
    }
    Ok(())
}

/// A running in-process emulator (tests, benchmarks): its address and a handle to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), EmulatorError>>,
}

impl Running {
    /// `http://<addr>`: the endpoint to give clients.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) -> Result<(), EmulatorError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(EmulatorError::Serve(std::io::Error::other(e))),
        }
    }
}

/// Binds `addr` (use port 0 for a free port) and serves `state` on a background task.
pub async fn start(state: Arc<State>, addr: SocketAddr) -> Result<Running, EmulatorError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| EmulatorError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind { addr, source })?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(state.clone(), listener, async move {
        let _ = stopped.await;
    }));
    Ok(Running {
        addr,
        state,
        stop: Some(stop),
        task,
    })
}

/// What `tagdrift emulate` serves, read or generated.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub inventory: Inventory,
    /// The desired-state view to write: the correct tags of a generated inventory (built only when
    /// `--write-desired-state` asks for it), `None` for a file inventory (which is its own desired state).
    pub desired: Option<Inventory>,
    pub generated: bool,
}

/// The inventory `args` asks for (read from `--inventory` or generated).
pub fn load_inventory(args: &EmulateArgs) -> Result<Loaded, EmulatorError> {
    match (&args.inventory, args.generate) {
        (Some(path), _) => Ok(Loaded {
            inventory: Inventory::load(path)?,
            desired: None,
            generated: false,
        }),
        (None, Some(total)) => {
            let generated = inventory::generate(&inventory::GenerateOptions {
                total,
                tags_per_resource: args.tags_per_resource,
                drift_ratio: args.drift_ratio,
                seed: args.seed,
            })?;
            tracing::info!(
                resources = total,
                drifted = generated.drifted,
                "generated synthetic inventory"
            );
            let desired = args.write_desired_state.is_some().then(|| generated.desired());
            Ok(Loaded {
                inventory: generated.inventory,
                desired,
                generated: true,
            })
        }
        (None, None) => Err(EmulatorError::NoInventory),
    }
}

/// `tagdrift emulate`: loads or generates the inventory, writes the requested files, then serves until
/// `shutdown` completes (unless `--no-serve`).
pub async fn run(
    args: &EmulateArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), EmulatorError> {
    let Loaded {
        inventory,
        desired,
        generated,
    } = load_inventory(args)?;
    let writes = args.write_inventory.is_some() || args.write_desired_state.is_some();
    if writes && !generated {
        // Refuse an invalid file before writing anything derived from it.
        Store::from_inventory(inventory.clone())?;
    }
    let listener = if args.no_serve {
        None
    } else {
        Some(
            TcpListener::bind(args.listen)
                .await
                .map_err(|source| EmulatorError::Bind {
                    addr: args.listen,
                    source,
                })?,
        )
    };
    let addr = match &listener {
        Some(l) => l.local_addr().map_err(|source| EmulatorError::Bind {
            addr: args.listen,
            source,
        })?,
        None => args.listen,
    };
    if let Some(path) = &args.write_inventory {
        inventory.write(path)?;
        tracing::info!(path = %path.display(), "wrote inventory");
    }
    if let Some(path) = &args.write_desired_state {
        let declared = desired.as_ref().unwrap_or(&inventory);
        let yaml = inventory::desired_state_yaml(declared, &format!("http://{addr}"))?;
        inventory::write_file(path, &yaml)?;
        tracing::info!(path = %path.display(), "wrote desired state");
    }
    drop(desired);
    let Some(listener) = listener else {
        return Ok(());
    };
    // The store takes the inventory over (tags are moved), so the file model is not held twice.
    let state = State::from_args(args, inventory)?;
    {
        let store = state.store();
        tracing::info!(
            %addr,
            resources = store.resource_count(),
            alibaba_accounts = store.alibaba.len(),
            huawei_accounts = store.huawei.len(),
            "emulator listening"
        );
    }
    serve(state, listener, shutdown).await
}

/// Content type of every JSON answer of both clouds.
pub const JSON_UTF8: &str = "application/json;charset=utf-8";

/// Headers with just a content type.
pub fn content_type(value: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(value));
    headers
}

/// Constant-time equality for signatures and tokens (no early exit on the first differing byte).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
