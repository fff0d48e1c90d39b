//! tagdrift-emulator: one HTTP server that answers like Alibaba Cloud (KMS and STS RPC APIs at `/`, ECS
//! instance metadata under `/latest/`) and Huawei Cloud (DEW under `/v1/` and `/v1.0/`, IAM) for an inventory
//! of accounts, keys, secrets and tags. It is the test bed for tagdrift's cloud clients, the demo and the
//! benchmarks, and is served by `tagdrift emulate`. It depends on `tagdrift-core` for the vocabulary and on
//! `tagdrift-cloud` only for its signing, to verify signatures; nothing in the product may depend on it.
//!
//! The cloud-neutral core: `state` holds the shared [`State`] (inventory store, clock, faults, rate limiter,
//! call counters, nonce cache, issued credentials and tokens) and the admission step every authenticated cloud
//! request goes through ([`State::admit`]: rate limits, then injected faults; latency is added before
//! routing); `admission` holds the vocabulary the cloud modules use to talk to it; `router` serves the
//! `/_emulator/` control endpoints and the middleware that counts every answer. This crate root keeps the
//! start-up [`Options`], the errors and the entry points. The cloud modules (`alibaba`, `huawei`) own their
//! wire formats, signature checks and error shapes; they describe each request to the core with a [`Call`]
//! and shape throttling and 5xx answers through a [`Flavor`]. The core must not know any cloud's wire format.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(unreachable_pub)]

mod admission;
mod alibaba;
mod args;
mod clock;
mod faults;
mod huawei;
pub mod inventory;
mod limiter;
mod metadata;
mod net;
mod router;
mod state;
mod stats;
mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, header};
use tokio::net::TcpListener;

use state::lock;

pub use admission::{Admission, Call, CallRecord, Flavor, Payload, RequestCtx, record};
pub use args::EmulateArgs;
pub use clock::{Clock, ClockError};
pub use faults::{Fault, Faults, FaultsError, FaultsPatch};
pub use inventory::{Inventory, InventoryError, Secret};
pub use net::{ConnControl, ConnInfo};
pub use router::router;
pub use state::{IssuedCredential, State};
pub use stats::{ApiStats, CloudStats, StatsSnapshot};
pub use store::{KeyOwner, Store};
pub use tagdrift_serve::Limits as HttpLimits;

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
    /// Alibaba KMS: answer `ListTagResources` without `ResourceId` (the region-wide listing tagdrift's key
    /// discovery uses) with 400 `MissingParameter`. Whether the real service accepts that form is unproven
    /// (Terraform always passes ids), so tests must be able to play the refusal.
    pub refuse_region_wide_tag_listing: bool,
    /// Huawei `resource_instances/action` (KMS and CSMS): how the batch answer differs from the per-resource
    /// tag calls, so each outcome of tagdrift's `batch_tag_read: auto` comparison can be played.
    pub huawei_batch_answer: BatchAnswer,
    /// At most this many signature nonces are remembered (oldest forgotten first), bounding memory under
    /// long high-rate benchmarks.
    pub max_nonces: usize,
    /// Timeouts and the connection cap of the HTTP server.
    pub http: HttpLimits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 1,
            max_clock_skew: Duration::from_secs(15 * 60),
            temp_credential_lifetime: None,
            imds_token_required: false,
            refuse_region_wide_tag_listing: false,
            huawei_batch_answer: BatchAnswer::Complete,
            max_nonces: 1_000_000,
            http: HttpLimits::default(),
        }
    }
}

/// How the emulator's Huawei `resource_instances` answers relate to the per-resource tag calls. Which one the
/// live service gives is not documented; tagdrift must be right whichever it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BatchAnswer {
    /// Every resource with all its tags (what the API reference describes).
    #[default]
    Complete,
    /// Resources without tags are left out.
    OmitUntagged,
    /// The alphabetically last tag of every resource is left out.
    DropTag,
    /// The call is refused with the service's permission error.
    Refuse,
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

/// Serves the emulator on `listener` until `shutdown` completes, then finishes in-flight requests (hangs are
/// cut short) and logs the call counters.
pub async fn serve(
    state: Arc<State>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), EmulatorError> {
    let signal_state = state.clone();
    tagdrift_serve::serve(
        net::EmuListener::new(listener),
        router(state.clone()),
        ConnInfo::of,
        state.options().http,
        async move {
            shutdown.await;
            signal_state.begin_shutdown();
        },
    )
    .await;
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
