//! A request as the Huawei gateway sees it: method, the raw path (signed as sent) and its decoded segments
//! (routing), decoded query parameters, lower-case headers and body. Parsing only: no signature checks, no
//! store access.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};

use tagdrift_cloud::huawei::sign;

/// A request to a Huawei path. `Debug` shows header names only (values carry signatures and tokens).
#[derive(Clone)]
pub(crate) struct HwRequest {
    pub method: String,
    /// The path exactly as sent (percent-encoded).
    pub path: String,
    /// The path split on `/` and each segment percent-decoded; no leading empty segment, and a trailing
    /// `/` is ignored.
    pub segments: Vec<String>,
    /// Decoded query parameters, in order (`+` is kept, as the SDK encodes a space as `%20`).
    pub query: Vec<(String, String)>,
    /// Headers with lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl std::fmt::Debug for HwRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HwRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Decoded (name, value) pairs of a query string.
pub(super) fn parse_query(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (sign::percent_decode(k), sign::percent_decode(v)),
            None => (sign::percent_decode(pair), String::new()),
        })
        .collect()
}

impl HwRequest {
    pub(crate) fn new(method: &Method, uri: &Uri, headers: &HeaderMap, body: Bytes) -> HwRequest {
        let path = uri.path().to_owned();
        let trimmed = path.strip_prefix('/').unwrap_or(&path);
        let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
        let segments = trimmed.split('/').map(sign::percent_decode).collect();
        let headers = headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        HwRequest {
            method: method.as_str().to_owned(),
            path,
            segments,
            query: uri.query().map(parse_query).unwrap_or_default(),
            headers,
            body,
        }
    }

    /// The first value of header `name` (lower-case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of query parameter `name`.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}
