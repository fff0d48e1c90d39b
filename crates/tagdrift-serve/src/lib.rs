//! tagdrift-serve: the HTTP serve loop shared by the daemon (`tagdrift run`) and the cloud emulator, in place of
//! `axum::serve`, which has neither timeouts nor a connection cap: a client sending a byte every few seconds, or
//! nothing at all, kept its connection (and a file descriptor) for ever, and enough of them starved the probes.
//!
//! Here every connection is closed when
//! - its request head takes longer than [`Limits::header_read_timeout`] to arrive (HTTP/1; hyper's timer, which
//!   also runs while a keep-alive connection waits for its next request), or
//! - no request has been in flight on it for [`Limits::idle_timeout`] (both protocols; this also covers a
//!   connection that never sends a byte, before hyper knows which protocol it speaks),
//!
//! and at most [`Limits::max_connections`] are open at once: past that, new connections wait in the listen
//! backlog until one closes. A connection asked to close finishes the request it carries; if it is still open a
//! [`Limits::header_read_timeout`] later, it is dropped.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(unreachable_pub)]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tower::ServiceExt;

/// How long clients may take and how many may be connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest time from the first byte a request head is waited for to its end (HTTP/1).
    pub header_read_timeout: Duration,
    /// Longest time a connection stays open with no request in flight (after connecting, or since its last
    /// answer).
    pub idle_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

/// 10 s for a request head, 60 s idle, 1,024 connections.
impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting, asks every connection to
/// close after its request in flight, and returns once all are closed. Handlers see `ConnectInfo<I>`, built
/// by `connect_info` from each accepted connection.
pub async fn serve<L, I>(
    mut listener: L,
    router: Router,
    connect_info: impl Fn(&L::Io, &L::Addr) -> I,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) where
    L: Listener,
    I: Clone + Send + Sync + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (close, closing) = watch::channel(false);
    // Every connection task holds a sender; `recv` returns `None` once the last one is gone.
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (io, addr) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let info = connect_info(&io, &addr);
        let router = router.clone();
        let connection = Connection {
            limits,
            closing: closing.clone(),
            _permit: permit,
            _open: open.clone(),
        };
        tokio::spawn(connection.serve(io, router, info));
    }
    drop(listener);
    let _ = close.send(true);
    drop(open);
    let _ = all_closed.recv().await;
}

/// Refuses, with 411, a request whose body has no `Content-Length` and does not end with its head (HTTP/1
/// chunked, or an HTTP/2 stream without a length): such a body can be endless, and no endpoint of either
/// server takes one.
pub async fn require_content_length(request: Request, next: Next) -> Response {
    if !request.headers().contains_key(header::CONTENT_LENGTH) && !request.body().is_end_stream() {
        let mut response = (
            StatusCode::LENGTH_REQUIRED,
            "request bodies need a Content-Length\n",
        )
            .into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return response;
    }
    next.run(request).await
}

/// One accepted connection and what it holds while open.
struct Connection {
    limits: Limits,
    closing: watch::Receiver<bool>,
    /// Frees a place under [`Limits::max_connections`] when dropped.
    _permit: OwnedSemaphorePermit,
    /// Tells [`serve`] that a connection is still open until dropped.
    _open: mpsc::Sender<()>,
}

impl Connection {
    async fn serve<Io, I>(mut self, io: Io, router: Router, info: I)
    where
        Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
        I: Clone + Send + Sync + 'static,
    {
        let activity = Arc::new(Activity::default());
        let service = {
            let activity = activity.clone();
            hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(info.clone()));
                let in_flight = InFlight::begin(activity.clone());
                let answer = router.clone().oneshot(request.map(Body::new));
                async move {
                    let response = answer.await;
                    drop(in_flight);
                    response
                }
            })
        };
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout);
        builder.http2().timer(TokioTimer::new());
        let mut connection = pin!(builder.serve_connection(TokioIo::new(io), service));
        let mut idle = pin!(activity.idle_for(self.limits.idle_timeout));
        let mut asked_to_close = false;
        let mut drop_at = pin!(tokio::time::sleep(Duration::MAX));
        let mut shutting_down = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(error = %err, "connection ended with an error");
                    }
                    return;
                }
                _ = self.closing.wait_for(|closing| *closing), if !shutting_down => {
                    // Server shutdown: the caller bounds the drain; only ask.
                    shutting_down = true;
                    connection.as_mut().graceful_shutdown();
                }
                () = &mut idle, if !asked_to_close => {
                    asked_to_close = true;
                    connection.as_mut().graceful_shutdown();
                    drop_at.as_mut().reset(tokio::time::Instant::now() + self.limits.header_read_timeout);
                }
                () = &mut drop_at, if asked_to_close => {
                    tracing::debug!("connection still open after it was asked to close; dropping it");
                    return;
                }
            }
        }
    }
}

/// The requests in flight on one connection.
#[derive(Default)]
struct Activity {
    in_flight: AtomicUsize,
    changed: Notify,
}

impl Activity {
    /// Completes once no request has been in flight for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        loop {
            let mut changed = pin!(self.changed.notified());
            // Registered before the count is read, so a change between the two is not missed.
            changed.as_mut().enable();
            if self.in_flight.load(Ordering::Acquire) == 0 {
                tokio::select! {
                    () = tokio::time::sleep(timeout) => return,
                    () = changed => {}
                }
            } else {
                changed.await;
            }
        }
    }
}

/// One request in flight, from the moment its head was read until its answer is ready.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        activity.changed.notify_waiters();
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_waiters();
    }
}

/// A function usable as `connect_info` when the handlers need none.
pub fn no_connect_info<Io, A>(_: &Io, _: &A) {}
