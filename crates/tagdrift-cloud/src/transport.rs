//! The one HTTP path to the clouds: a shared `reqwest` client (rustls, the system's root certificates), a
//! token bucket per (cloud, account, region, API group), per-attempt signing with the current credential,
//! per-request timeouts, bounded retries with full-jitter exponential backoff for throttling, 5xx, timeouts
//! and dropped connections, and the classification of every failure into an
//! [`ErrorCode`](crate::ErrorCode). Every attempt is reported to the [`CallObserver`]. Auth failures
//! and other 4xx answers are never retried: Huawei locks an access key for five minutes after five bad
//! signatures in a row.
//!
//! A [`Transport`] outlives one check (the daemon builds one and clones it), so the rate limits hold across
//! checks. Error messages carry the operation, HTTP status, the cloud's error code and request id, never
//! credentials, signatures or tokens.
//!
//! # Using it from a cloud client
//!
//! - Build one [`Transport`] per process ([`TransportOptions::from_schedule`]), call
//!   [`configure_account`](Transport::configure_account) for every account (its `rate_limits`), and one
//!   [`Provider`](crate::credentials::Provider) per account
//!   ([`Provider::for_account`](crate::credentials::Provider::for_account)).
//! - Describe each logical call with a [`Call`]: the [`Operation`] (metric label and rate-limit group), the
//!   account and region (which token bucket), and the cloud codes that mean "no such resource"
//!   ([`Call::not_found`]).
//! - Alibaba KMS: `POST /` on the endpoint, the API parameters (`RegionId` included) in the query, signed by
//!   [`AlibabaV3::kms`] with the action name ([`AlibabaV1`] also works; it needs `Action` and `Version` in
//!   the query). Both signers ask for JSON (`Accept: application/json`, and `Format=JSON` on V1).
//! - Huawei DEW: the path with ids encoded by `cloud::huawei::sign::encode_path_segment`, headers
//!   `Content-Type: application/json` and `X-Project-Id`, signed by [`HuaweiSigner`].
//! - `Ok(Response)` is a 2xx answer ([`Response::json`] turns a body that does not parse into an
//!   `invalid_response` error); `Err(CallError)` is everything else, with [`CallError::is_not_found`] for the
//!   call's not-found codes and [`CallError::read_error`] for an `Outcome::Failed`.
//!
//! # Example: a signed Alibaba KMS call
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use tagdrift_cloud::NoObserver;
//! use tagdrift_cloud::credentials::{Credential, Provider};
//! use tagdrift_cloud::transport::{AlibabaV3, Auth, Call, Operation, Request, Transport, TransportOptions};
//!
//! let transport = Transport::new(TransportOptions::new(Arc::new(NoObserver)))?;
//! let credentials = Provider::fixed(Credential::new("testid", "testsecret", None));
//! let request = Request::post("https://kms.cn-hangzhou.aliyuncs.com", "/").query([
//!     ("RegionId", "cn-hangzhou"),
//!     ("ResourceType", "key"),
//!     ("ResourceId.1", "key-hzz62f1cb66fa42qo1111"),
//! ]);
//! let call = Call::new(Operation::AlibabaListTagResources, "ali-prod", "cn-hangzhou")
//!     .not_found(&["InvalidResourceId.NotFound"]);
//! let signer = AlibabaV3::kms("ListTagResources");
//! match transport.send(&call, &request, Auth::Signed(&credentials, &signer)).await {
//!     Ok(response) => {
//!         let body: serde_json::Value = response.json()?;
//!         println!("{}", body["TagResources"]);
//!     }
//!     Err(e) if e.is_not_found() => println!("no such key"),
//!     Err(e) => println!("failed: {} ({})", e, e.code), // e.read_error() for an Outcome::Failed
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::de::DeserializeOwned;

use crate::credential::{Credential, CredentialError, CredentialSource};
use crate::{CallObserver, Cloud, ErrorCode, ReadError};
use tagdrift_core::config::{Account, Schedule};

mod classify;
mod limiter;
mod operation;
mod retry;
mod sign;

pub use operation::Operation;
pub use retry::Backoff;
pub(crate) use sign::accept_json;
pub use sign::{AlibabaV1, AlibabaV3, HuaweiSigner, Signer};

use classify::Failure;
use limiter::Limiter;

/// Settings of a [`Transport`].
#[derive(Clone)]
pub struct TransportOptions {
    /// Deadline of one attempt: connecting, sending and reading the whole answer.
    pub request_timeout: Duration,
    /// Attempts per call, the first included (at least 1).
    pub max_attempts: u32,
    pub backoff: Backoff,
    pub observer: Arc<dyn CallObserver>,
}

impl TransportOptions {
    /// 30 s per attempt, 4 attempts, the default [`Backoff`].
    pub fn new(observer: Arc<dyn CallObserver>) -> TransportOptions {
        TransportOptions {
            request_timeout: Duration::from_secs(30),
            max_attempts: 4,
            backoff: Backoff::default(),
            observer,
        }
    }

    /// Timeout and attempts from the configured schedule.
    pub fn from_schedule(schedule: &Schedule, observer: Arc<dyn CallObserver>) -> TransportOptions {
        TransportOptions {
            request_timeout: schedule.request_timeout,
            max_attempts: schedule.max_attempts.max(1),
            ..TransportOptions::new(observer)
        }
    }
}

impl fmt::Debug for TransportOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportOptions")
            .field("request_timeout", &self.request_timeout)
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// The transport could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot build the HTTP client: {reason}")]
    Client { reason: String },
}

impl TransportError {
    pub fn code(&self) -> &'static str {
        match self {
            TransportError::Client { .. } => "http_client",
        }
    }
}

/// The shared HTTP path to the clouds. Cheap to clone; clones share the connection pool and the rate limits.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    options: TransportOptions,
    limiter: Limiter,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

/// One logical API call: what it is (for metrics and the not-found rule) and whose quota it uses.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub operation: Operation,
    /// Account name from the config; with `region` and the operation's API group it picks the token bucket.
    pub account: &'a str,
    pub region: &'a str,
    /// The cloud's error codes that mean "this resource does not exist" for this call (e.g.
    /// `Forbidden.KeyNotFound`, `CSMS.0005`). Such an answer is a success for the observer and comes back as a
    /// [`CallError`] whose [`is_not_found`](CallError::is_not_found) is true.
    pub not_found_codes: &'a [&'a str],
    /// Overrides the transport's per-attempt timeout (instance metadata answers in milliseconds or never).
    pub timeout: Option<Duration>,
    /// Lowers the transport's attempt limit for this call (never raises it).
    pub max_attempts: Option<u32>,
    /// Checks a 2xx body before the call counts as answered. A body it refuses (truncated, a field of the
    /// wrong type) is an `invalid_response` attempt: counted by the observer like any failed attempt and
    /// retried, since a damaged answer is usually a transient fault of the path, not of the resource.
    pub validate: Option<BodyCheck>,
}

/// See [`Call::validate`]: `Err` carries why the body does not fit (never the body itself).
pub type BodyCheck = fn(&[u8]) -> Result<(), String>;

impl<'a> Call<'a> {
    pub fn new(operation: Operation, account: &'a str, region: &'a str) -> Call<'a> {
        Call {
            operation,
            account,
            region,
            not_found_codes: &[],
            timeout: None,
            max_attempts: None,
            validate: None,
        }
    }

    pub fn validate(mut self, check: BodyCheck) -> Call<'a> {
        self.validate = Some(check);
        self
    }

    pub fn not_found(mut self, codes: &'a [&'a str]) -> Call<'a> {
        self.not_found_codes = codes;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Call<'a> {
        self.timeout = Some(timeout);
        self
    }

    pub fn max_attempts(mut self, attempts: u32) -> Call<'a> {
        self.max_attempts = Some(attempts);
        self
    }

    pub fn cloud(&self) -> Cloud {
        self.operation.cloud()
    }
}

/// An HTTP request before signing. The transport clones it for every attempt and lets the [`Signer`] add the
/// date, nonce, token and signature, so a retry is never a replay.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub method: reqwest::Method,
    /// `scheme://host[:port]` without a trailing slash (the account's endpoint or the cloud's default).
    pub endpoint: String,
    /// The path as sent on the wire, starting with `/` (segments already percent-encoded).
    pub path: String,
    /// Decoded (name, value) query parameters; sent RFC 3986-encoded in this order.
    pub query: Vec<(String, String)>,
    /// Headers the caller sends (e.g. `Content-Type`, `X-Project-Id`).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: reqwest::Method, endpoint: &str, path: &str) -> Request {
        Request {
            method,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            path: if path.is_empty() {
                "/".into()
            } else {
                path.to_owned()
            },
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(endpoint: &str, path: &str) -> Request {
        Request::new(reqwest::Method::GET, endpoint, path)
    }

    pub fn post(endpoint: &str, path: &str) -> Request {
        Request::new(reqwest::Method::POST, endpoint, path)
    }

    pub fn put(endpoint: &str, path: &str) -> Request {
        Request::new(reqwest::Method::PUT, endpoint, path)
    }

    /// Appends query parameters.
    pub fn query<K: Into<String>, V: Into<String>>(
        mut self,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Request {
        self.query
            .extend(params.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json_body(mut self, body: &serde_json::Value) -> Request {
        self.body = body.to_string().into_bytes();
        self.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        self.headers
            .push(("Content-Type".into(), "application/json".into()));
        self
    }

    /// An `application/x-www-form-urlencoded` body (RFC 3986-encoded pairs), which keeps parameters such
    /// as an OIDC token out of the URL.
    pub fn form_body<K: AsRef<str>, V: AsRef<str>>(
        mut self,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Request {
        self.body = encode_pairs(params).into_bytes();
        self.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        self.headers
            .push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
        self
    }

    /// The URL authority (`host[:port]`), which signers bind into the signature as `Host`.
    pub fn host(&self) -> &str {
        let rest = self
            .endpoint
            .split_once("://")
            .map_or(self.endpoint.as_str(), |(_, rest)| rest);
        rest.split('/').next().unwrap_or(rest)
    }

    /// The full URL with the query RFC 3986-encoded (`%20` for spaces, as both clouds canonicalise).
    fn url(&self) -> String {
        let mut url = format!("{}{}", self.endpoint, self.path);
        if !self.query.is_empty() {
            url.push('?');
            url.push_str(&encode_pairs(self.query.iter().map(|(k, v)| (k, v))));
        }
        url
    }
}

/// `name=value&...`, each RFC 3986-encoded.
fn encode_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> String {
    use crate::signing::percent_encode;
    pairs
        .into_iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k.as_ref()), percent_encode(v.as_ref())))
        .collect::<Vec<_>>()
        .join("&")
}

/// How a call authenticates.
pub enum Auth<'a> {
    /// Sent as is: STS AssumeRoleWithOIDC, Huawei IAM id-token exchange, instance metadata.
    Anonymous,
    /// Signed on every attempt with the provider's current credential.
    Signed(&'a dyn CredentialSource, &'a dyn Signer),
}

/// A successful answer (HTTP 2xx).
#[derive(Clone)]
pub struct Response {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
    /// The cloud's request id (`x-acs-request-id`, `X-Request-Id` or the body's `RequestId`), when known.
    pub request_id: Option<String>,
    operation: Operation,
}

/// Names and sizes only: once signed, a request carries the signature and the security token in its query or
/// headers, and the RRSA and workload-identity exchanges carry the OIDC token in the body.
impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |pairs: &[(String, String)]| pairs.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("endpoint", &self.endpoint)
            .field("path", &self.path)
            .field("query", &names(&self.query))
            .field("headers", &names(&self.headers))
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// Without the body, which holds the issued credentials of an STS, IAM or metadata answer.
impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body_bytes", &self.body.len())
            .field("request_id", &self.request_id)
            .field("operation", &self.operation)
            .finish()
    }
}

impl Response {
    /// Parses the body as JSON; a body that does not fit is an `invalid_response` [`CallError`].
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, CallError> {
        serde_json::from_slice(&self.body).map_err(|e| self.invalid(format!("unexpected body: {e}")))
    }

    /// The body as UTF-8 text (instance metadata answers are plain text).
    pub fn text(&self) -> Result<&str, CallError> {
        std::str::from_utf8(&self.body).map_err(|_| self.invalid("body is not UTF-8".into()))
    }

    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// An `invalid_response` error about this answer, for a client that found a required field missing.
    pub fn invalid(&self, reason: String) -> CallError {
        let request = self
            .request_id
            .as_deref()
            .map(|id| format!(" (request id {id})"))
            .unwrap_or_default();
        CallError {
            code: ErrorCode::InvalidResponse,
            message: format!("{}: {reason}{request}", self.operation),
            status: Some(self.status),
            cloud_code: None,
            request_id: self.request_id.clone(),
            not_found: false,
            attempts: 1,
        }
    }
}

/// Why a call failed, after its last attempt. The message names the operation, status, the cloud's error
/// code, message and request id, and the attempts made; it never contains credentials, signatures or tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CallError {
    pub code: ErrorCode,
    pub message: String,
    /// The HTTP status of the last answer, if one arrived.
    pub status: Option<u16>,
    /// The cloud's own error code (`Rejected.Throttling`, `APIGW.0308`, `CSMS.0005`...).
    pub cloud_code: Option<String>,
    pub request_id: Option<String>,
    /// The answer was one of the call's [`not_found_codes`](Call::not_found_codes).
    pub not_found: bool,
    /// Attempts made, the first included.
    pub attempts: u32,
}

impl CallError {
    pub fn is_not_found(&self) -> bool {
        self.not_found
    }

    /// The same failure as the drift engine takes it.
    pub fn read_error(&self) -> ReadError {
        ReadError::new(self.code, self.message.clone())
    }

    fn credentials(operation: Operation, error: &CredentialError) -> CallError {
        CallError {
            code: error.error_code(),
            message: format!("{operation}: {error}"),
            status: None,
            cloud_code: None,
            request_id: None,
            not_found: false,
            attempts: 1,
        }
    }
}

impl From<CallError> for ReadError {
    fn from(e: CallError) -> ReadError {
        ReadError::new(e.code, e.message)
    }
}

impl Transport {
    /// Builds the client: rustls with the platform verifier (the system's root certificates), no redirects
    /// (a redirected signed request would fail anyway and could leak a token to another host), the
    /// environment's proxy settings. Plain `http://` is used only where an endpoint says so.
    pub fn new(options: TransportOptions) -> Result<Transport, TransportError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("tagdrift/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(options.request_timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(50))
            .build()
            .map_err(|e| TransportError::Client {
                reason: e.to_string(),
            })?;
        Ok(Transport {
            inner: Arc::new(Inner {
                http,
                options,
                limiter: Limiter::default(),
            }),
        })
    }

    pub fn options(&self) -> &TransportOptions {
        &self.inner.options
    }

    /// Sets an account's `rate_limits` overrides (groups not named keep their defaults from
    /// [`API_GROUPS`](tagdrift_core::config::API_GROUPS)). Call again after a config reload; buckets already in
    /// use take the new rate at once.
    pub fn configure_account(&self, account: &Account) {
        self.inner
            .limiter
            .configure(account.cloud, &account.name, &account.rate_limits);
    }

    /// Sets the rate-limit overrides of one account by name.
    pub fn set_rate_limits(&self, cloud: Cloud, account: &str, rates: &BTreeMap<String, f64>) {
        self.inner.limiter.configure(cloud, account, rates);
    }

    /// Sends one call: waits for its rate-limit token, signs, sends, reads the answer, retries what may be
    /// retried, and reports every attempt to the observer. `Ok` only for a 2xx answer.
    pub async fn send(
        &self,
        call: &Call<'_>,
        request: &Request,
        auth: Auth<'_>,
    ) -> Result<Response, CallError> {
        let timeout = call.timeout.unwrap_or(self.inner.options.request_timeout);
        self.run(call, |_| async {
            let credential = match &auth {
                Auth::Anonymous => None,
                Auth::Signed(provider, _) => match provider.credential().await {
                    Ok(credential) => Some(credential),
                    Err(e) => return Attempt::Fatal(CallError::credentials(call.operation, &e)),
                },
            };
            let mut prepared = request.clone();
            if let (Auth::Signed(_, signer), Some(credential)) = (&auth, &credential) {
                signer.sign(&mut prepared, credential, Utc::now());
            }
            let outcome = match self.attempt(call, &prepared, timeout, credential.as_ref()).await {
                Ok(response) => match call.validate.map_or(Ok(()), |check| check(&response.body)) {
                    Ok(()) => Attempt::Done(response),
                    Err(why) => Attempt::Failed(Failure::invalid_body(&response, why)),
                },
                Err(failure) => Attempt::Failed(failure),
            };
            if let (Attempt::Failed(failure), Auth::Signed(provider, _), Some(credential)) =
                (&outcome, &auth, &credential)
                && failure.credential_refused
            {
                // Never retried (see the module docs), but the next call fetches the credential anew: a
                // rotated key or revoked temporary credentials.
                provider.refused(credential).await;
            }
            outcome
        })
        .await
    }

    /// The attempt loop, separate from HTTP so its timing is testable with paused time.
    async fn run<F, Fut>(&self, call: &Call<'_>, mut attempt: F) -> Result<Response, CallError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Attempt>,
    {
        let options = &self.inner.options;
        let max_attempts = call
            .max_attempts
            .map_or(options.max_attempts, |n| n.min(options.max_attempts))
            .max(1);
        let cloud = call.cloud();
        let mut number = 1;
        loop {
            if let Some(group) = call.operation.rate_group() {
                self.inner
                    .limiter
                    .acquire(cloud, call.account, call.region, group)
                    .await;
            }
            let started = tokio::time::Instant::now();
            let outcome = attempt(number).await;
            let elapsed = started.elapsed();
            let retry = number > 1;
            let failure = match outcome {
                Attempt::Done(response) => {
                    options
                        .observer
                        .attempt(cloud, call.operation.as_str(), retry, None, elapsed);
                    return Ok(response);
                }
                // Nothing was sent (no credential): not an HTTP attempt, so not observed.
                Attempt::Fatal(error) => return Err(error),
                Attempt::Failed(failure) => failure,
            };
            let not_found = failure
                .cloud_code
                .as_deref()
                .is_some_and(|c| call.not_found_codes.contains(&c));
            options.observer.attempt(
                cloud,
                call.operation.as_str(),
                retry,
                (!not_found).then_some(failure.code),
                elapsed,
            );
            if not_found || !failure.retryable || number >= max_attempts {
                return Err(failure.into_error(call.operation, number, not_found));
            }
            let delay = options.backoff.delay(
                number,
                failure.code == ErrorCode::Throttled,
                failure.retry_after,
                &mut rand::rng(),
            );
            tracing::debug!(
                cloud = %cloud,
                operation = call.operation.as_str(),
                attempt = number,
                error = failure.code.as_str(),
                // The cloud's own error code: cloud text, shown as every output shows it.
                cloud_code = %tagdrift_core::report::visible(failure.cloud_code.as_deref().unwrap_or("")),
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "retrying cloud call"
            );
            tokio::time::sleep(delay).await;
            number += 1;
        }
    }

    /// One HTTP exchange under the timeout, classified.
    async fn attempt(
        &self,
        call: &Call<'_>,
        request: &Request,
        timeout: Duration,
        credential: Option<&Credential>,
    ) -> Result<Response, Failure> {
        let mut builder = self
            .inner
            .http
            .request(request.method.clone(), request.url())
            .body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let exchange = async {
            let response = builder.send().await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>((status, headers, body))
        };
        let (status, headers, body) = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => return Err(Failure::timeout(timeout)),
            Ok(Err(e)) => return Err(Failure::transport(&e)),
            Ok(Ok(parts)) => parts,
        };
        let cloud = call.cloud();
        if (200..300).contains(&status) {
            let request_id = classify::request_id(cloud, &headers, &body);
            return Ok(Response {
                status,
                headers,
                body,
                request_id,
                operation: call.operation,
            });
        }
        Err(classify::answer(cloud, status, &headers, &body, credential))
    }
}

/// What one attempt produced, for [`Transport::run`].
enum Attempt {
    Done(Response),
    Failed(Failure),
    /// Stop without retrying and without counting an HTTP attempt.
    Fatal(CallError),
}

#[cfg(test)]
mod tests;
