//! What the two clouds' instance metadata services have in common, so each cloud module only states its
//! paths, header names and credential answer: session tokens (`PUT .../api/token` with a TTL header, IMDSv2
//! style), the check of that token on later reads, plain-text answers and their throttling/5xx flavor, and
//! admission under one "metadata" rate-limit group.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{Admission, Call, Flavor, Payload, RequestCtx, State, content_type, record};
use tagdrift_core::vocab::Cloud;

/// One cloud's metadata service.
pub(crate) struct Imds {
    pub cloud: Cloud,
    /// Kind under which session tokens are issued (keeps the clouds' tokens apart).
    pub token_kind: &'static str,
    /// Header carrying the session token on reads.
    pub token_header: &'static str,
    /// Header carrying the requested token lifetime on the token `PUT`.
    pub ttl_header: &'static str,
    /// How the service refuses a read without a token when tokens are required (the clouds differ).
    pub missing_token: (StatusCode, &'static str),
}

/// Plain-text answers, like the metadata servers'.
struct MetadataFlavor;

impl Flavor for MetadataFlavor {
    fn rate_limited(&self, _: &RequestCtx, _: &Call, _: f64, _: Duration) -> Response {
        (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response()
    }
    fn injected_throttle(&self, _: &RequestCtx, _: &Call) -> Response {
        (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response()
    }
    fn injected_server_error(&self, _: &RequestCtx, _: &Call) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
    }
}

impl Imds {
    /// A plain-text answer given before admission, counted under `api` with `outcome`.
    pub(crate) fn text(
        &self,
        api: &'static str,
        status: StatusCode,
        body: &'static str,
        outcome: &'static str,
    ) -> Response {
        record((status, body).into_response(), self.cloud, api, outcome)
    }

    /// Rate limits and faults for one metadata read; `Err` is the whole answer.
    pub(crate) async fn admit(
        &self,
        state: &State,
        ctx: &RequestCtx,
        api: &'static str,
    ) -> Result<Admission, Response> {
        let call = Call {
            cloud: self.cloud,
            account: "ecs-metadata".to_owned(),
            region: "metadata".to_owned(),
            group: "metadata",
            api,
        };
        state.admit(ctx, &call, &MetadataFlavor).await
    }

    /// `PUT .../api/token`: a session token living as many seconds as the TTL header asks (1 to 21600).
    pub(crate) async fn put_token(
        &self,
        state: &Arc<State>,
        ctx: &RequestCtx,
        headers: &HeaderMap,
    ) -> Response {
        const API: &str = "MetadataToken";
        let ttl = headers
            .get(self.ttl_header)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|t| (1..=21_600).contains(t));
        let Some(ttl) = ttl else {
            return self.text(API, StatusCode::BAD_REQUEST, "Bad Request", "invalid_ttl");
        };
        let admission = match self.admit(state, ctx, API).await {
            Ok(a) => a,
            Err(r) => return r,
        };
        let token = state.issue_token(self.token_kind, "ecs", Duration::from_secs(ttl));
        admission.reply(
            "ok",
            StatusCode::OK,
            content_type("text/plain"),
            Payload::Bytes(token.into_bytes()),
        )
    }

    /// Checks the session token of a read: `Some` is the refusal to answer with. A wrong token is always
    /// refused; a missing one only when `--imds-token-required` is set.
    pub(crate) fn refuse_token(
        &self,
        state: &State,
        headers: &HeaderMap,
        api: &'static str,
    ) -> Option<Response> {
        match headers.get(self.token_header) {
            Some(value) => {
                let token = value.to_str().unwrap_or_default();
                if state.token_subject(self.token_kind, token).is_some() {
                    None
                } else {
                    Some(self.text(api, StatusCode::UNAUTHORIZED, "Unauthorized", "invalid_token"))
                }
            }
            None if state.options().imds_token_required => {
                let (status, body) = self.missing_token;
                Some(self.text(api, status, body, "token_required"))
            }
            None => None,
        }
    }
}
