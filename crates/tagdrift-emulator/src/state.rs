//! The shared [`State`]: everything the emulator keeps between requests (inventory store, clock, faults,
//! rate limiter, call counters, nonce cache, issued credentials and tokens, signature-failure lockouts), and
//! the admission step every authenticated cloud request goes through ([`State::admit`]: rate limits, then
//! injected faults). Handlers reach it through `Arc<State>`; locks are short and never held across an `.await`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;

use tagdrift_core::vocab::Cloud;

use crate::admission::{Admission, Call, CallRecord, Flavor, RequestCtx, record};
use crate::{
    Clock, ConnControl, EmulateArgs, EmulatorError, Fault, Faults, FaultsError, FaultsPatch, Inventory,
    KeyOwner, Options, Secret, StatsSnapshot, Store, limiter, stats,
};

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
pub(crate) struct NonceCache {
    pub(crate) seen: HashSet<u64>,
    pub(crate) order: VecDeque<(DateTime<Utc>, u64)>,
}

impl NonceCache {
    pub(crate) fn check_and_insert(
        &mut self,
        key: u64,
        now: DateTime<Utc>,
        ttl: TimeDelta,
        max: usize,
    ) -> bool {
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
    // Crate-visible (like `rng`) because the router's middleware counts unrouted requests and `serve` logs
    // the summary straight from the counters.
    pub(crate) stats: Mutex<stats::Stats>,
    nonces: Mutex<NonceCache>,
    issued: Mutex<HashMap<(Cloud, String), IssuedCredential>>,
    tokens: Mutex<HashMap<TokenKey, (DateTime<Utc>, String)>>,
    /// (cloud, access key id) -> consecutive signature failures and the end of a lock, if locked.
    auth_failures: Mutex<HashMap<(Cloud, String), AuthFailures>>,
    clock: Clock,
    // The middleware draws the injected latency from the same seeded generator, keeping runs reproducible.
    pub(crate) rng: Mutex<StdRng>,
    /// Calls admitted so far per (cloud, API): the number that, with the seed, picks a call's fault dice.
    fault_calls: Mutex<HashMap<(Cloud, &'static str), u64>>,
    shutdown: watch::Sender<bool>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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
            fault_calls: Mutex::new(HashMap::new()),
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

    pub(crate) fn new_request_ctx(&self, conn: Option<Arc<ConnControl>>) -> RequestCtx {
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

    /// The dice for the next admitted call of `api`: seeded by the emulator's seed, the cloud, the API and how
    /// many calls of that API came before. So the n-th `ListTagResources` meets the same fault in every run
    /// with the same seed, whatever calls of other APIs arrived in between or in which order concurrent
    /// clients were scheduled (one shared generator handed faults out in arrival order, which made a seeded
    /// test depend on thread scheduling).
    fn fault_dice(&self, cloud: Cloud, api: &'static str) -> StdRng {
        let n = {
            let mut calls = lock(&self.fault_calls);
            let n = calls.entry((cloud, api)).or_insert(0);
            *n += 1;
            *n
        };
        StdRng::seed_from_u64(dice_seed(self.options.seed, cloud, api, n))
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
            let mut rng = self.fault_dice(call.cloud, call.api);
            (faults.draw(&mut rng), rng.random::<u64>())
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

/// Mixes the seed, the cloud, the API name and the call number into one seed with FNV-1a, which, unlike the
/// standard library's hasher, gives the same value in every build.
fn dice_seed(seed: u64, cloud: Cloud, api: &str, n: u64) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = seed
        .to_le_bytes()
        .into_iter()
        .chain(cloud.as_str().bytes())
        .chain([0])
        .chain(api.bytes())
        .chain([0])
        .chain(n.to_le_bytes());
    for byte in bytes {
        hash = (hash ^ u64::from(byte)).wrapping_mul(PRIME);
    }
    hash
}

/// The response of a request whose connection is being reset: never written to a real connection. Without
/// one (in-process tests) it is a 502 with an empty body.
fn reset_response(ctx: &RequestCtx) -> Response {
    ctx.reset_connection();
    StatusCode::BAD_GATEWAY.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Inventory;

    fn state(seed: u64) -> Arc<State> {
        let store = Store::from_inventory(Inventory::default()).expect("empty inventory");
        let options = Options {
            seed,
            ..Options::default()
        };
        State::new(store, options, Faults::default(), Clock::system())
    }

    /// The n-th call of an API draws the same dice whatever other calls came before it, so a seeded test
    /// does not depend on the order in which concurrent requests arrive.
    #[test]
    fn fault_dice_depend_on_the_call_number_of_their_api_not_on_arrival_order() {
        let draw = |state: &State, api: &'static str| state.fault_dice(Cloud::Alibaba, api).random::<u64>();
        let (a, b) = (state(5), state(5));
        let interleaved: Vec<(&str, u64)> = (0..4)
            .flat_map(|_| ["ListKeys", "DescribeKey"])
            .map(|api| (api, draw(&a, api)))
            .collect();
        let mut grouped: Vec<(&str, u64)> =
            (0..4).map(|_| ("DescribeKey", draw(&b, "DescribeKey"))).collect();
        grouped.extend((0..4).map(|_| ("ListKeys", draw(&b, "ListKeys"))));
        for api in ["ListKeys", "DescribeKey"] {
            let of = |draws: &[(&str, u64)]| -> Vec<u64> {
                draws.iter().filter(|(a, _)| *a == api).map(|(_, d)| *d).collect()
            };
            assert_eq!(of(&interleaved), of(&grouped), "{api}");
        }
        // Successive calls, the two APIs and another seed all draw differently.
        let firsts: Vec<u64> = interleaved.iter().map(|(_, d)| *d).collect();
        let mut unique = firsts.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), firsts.len(), "{firsts:?}");
        assert_ne!(draw(&state(6), "ListKeys"), draw(&state(5), "ListKeys"));
    }
}
