//! The daemon's HTTP surface: `/metrics`, the Kubernetes probes `/healthz` and `/readyz`, the last check as
//! `/report` (text), `/report.json` and `/report.md`, and `/`, a self-contained HTML page of the last check,
//! with its icon at `/favicon.svg` (also `/favicon.ico`, which browsers ask for on their own).
//! Only GET and HEAD are served; request bodies are refused, unknown paths get 404 and other methods 405.

mod page;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::HttpBody;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::scheduler::{Checker, Snapshot};
use tagdrift_core::report::{self, ReportMeta};

/// Largest request body accepted. No endpoint reads a body, so anything beyond a few bytes is a mistake or an
/// attack; it is refused before a handler runs.
pub const MAX_BODY_BYTES: u64 = 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub checker: Arc<Checker>,
    /// True while the server accepts traffic with a desired state loaded; false before startup finishes and
    /// once shutdown begins, so Kubernetes stops routing to a draining pod.
    pub ready: Arc<AtomicBool>,
}

/// The router, separate from any listener so tests can serve it on their own port.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/report", get(report_text))
        .route("/report.json", get(report_json))
        .route("/report.md", get(report_markdown))
        .route("/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
        .fallback(not_found)
        .layer(middleware::from_fn(refuse_bodies))
        // Outermost, so the refusals above and the router's own 405s carry them too.
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

/// On every answer: browsers must not guess a type other than the declared one (reports carry text from the
/// clouds), and links followed from the page must not leak its URL (filters name accounts).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// Refuses declared bodies over [`MAX_BODY_BYTES`] with 413 and bodies without a length (HTTP/1 chunked, an
/// HTTP/2 stream that does not end with its headers) with 411, since no endpoint reads one.
async fn refuse_bodies(request: Request, next: Next) -> Response {
    let headers = request.headers();
    if let Some(length) = headers.get(header::CONTENT_LENGTH) {
        match length.to_str().ok().and_then(|v| v.parse::<u64>().ok()) {
            Some(n) if n <= MAX_BODY_BYTES => {}
            Some(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n"),
            None => return plain(StatusCode::BAD_REQUEST, "invalid content-length\n"),
        }
    } else if headers.contains_key(header::TRANSFER_ENCODING) || !request.body().is_end_stream() {
        return plain(StatusCode::LENGTH_REQUIRED, "request bodies are not accepted\n");
    }
    next.run(request).await
}

async fn not_found() -> Response {
    plain(
        StatusCode::NOT_FOUND,
        "not found; try /, /metrics, /healthz, /readyz, /report, /report.json or /report.md\n",
    )
}

async fn healthz() -> Response {
    plain(StatusCode::OK, "ok\n")
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        plain(StatusCode::OK, "ready\n")
    } else {
        plain(StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let metrics = state.checker.metrics().clone();
    // Building the drift gauges walks the whole plan; keep it off the async workers.
    match tokio::task::spawn_blocking(move || (metrics.render(), metrics.content_type())).await {
        Ok((body, content_type)) => with_type(StatusCode::OK, content_type, body),
        Err(err) => {
            tracing::error!(error = %err, "rendering /metrics failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot render metrics\n")
        }
    }
}

/// 503 with a body that says why, for the report endpoints before the first check completes.
fn no_check_yet(checker: &Checker) -> Response {
    let body = if checker.busy() {
        "no check has completed yet; the first check is running, try again shortly\n"
    } else {
        "no check has completed yet\n"
    };
    let mut response = plain(StatusCode::SERVICE_UNAVAILABLE, body);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

fn meta(snapshot: &Snapshot) -> ReportMeta {
    ReportMeta {
        generated_at: snapshot.finished,
        duration: Some(snapshot.duration),
        source: Some(snapshot.path.clone()),
    }
}

async fn report_text(State(state): State<AppState>) -> Response {
    match state.checker.last() {
        Some(s) => plain(StatusCode::OK, report::text(&s.plan, &meta(&s), false)),
        None => no_check_yet(&state.checker),
    }
}

async fn report_json(State(state): State<AppState>) -> Response {
    match state.checker.last() {
        Some(s) => with_type(
            StatusCode::OK,
            "application/json",
            crate::heal::with_json(
                report::json(&s.plan, &meta(&s)),
                s.state.reconcile.mode,
                &state.checker.healer().status(),
            ),
        ),
        None => no_check_yet(&state.checker),
    }
}

async fn report_markdown(State(state): State<AppState>) -> Response {
    match state.checker.last() {
        Some(s) => with_type(
            StatusCode::OK,
            "text/markdown; charset=utf-8",
            report::markdown(&s.plan, &meta(&s)),
        ),
        None => no_check_yet(&state.checker),
    }
}

async fn index(State(state): State<AppState>) -> Response {
    let checker = &state.checker;
    let body = page::render(&page::PageInput {
        snapshot: checker.last().as_deref(),
        last_success: checker.last_success(),
        running: checker.busy(),
        active: &checker.active(),
        heal: &checker.healer().status(),
    });
    let mut response = with_type(StatusCode::OK, "text/html; charset=utf-8", body);
    // The page carries its style and script inline and loads nothing but its icon; the policy names the two
    // by hash, so no injected inline script could run even if escaping failed.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(page::content_security_policy()),
    );
    response
}

async fn favicon() -> Response {
    let mut response = with_type(StatusCode::OK, "image/svg+xml", page::FAVICON.to_owned());
    // Unlike the reports, the icon never changes within a release.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    response
}

fn plain(status: StatusCode, body: impl Into<String>) -> Response {
    with_type(status, "text/plain; charset=utf-8", body.into())
}

fn with_type(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
