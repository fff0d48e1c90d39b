//! An RPC request as the Alibaba gateway sees it: method, decoded query parameters, form-body parameters,
//! headers, body and host, plus the lookups every API needs (`ResourceId.N`, `Tag.N.Key`, ...). Parsing only:
//! no signature checks, no store access.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};

use super::{AliError, Shape};

/// How a request is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// `Authorization: ACS3-HMAC-SHA256 ...`.
    V3,
    /// `Signature`/`SignatureMethod`/`AccessKeyId` parameters.
    V1,
    /// Neither (only `AssumeRoleWithOIDC` accepts it).
    Anonymous,
}

/// A request to the RPC gateway.
#[derive(Debug, Clone)]
pub(crate) struct RpcRequest {
    pub method: String,
    pub path: String,
    /// Decoded URL query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Query parameters followed by form-body parameters (when the body is
    /// `application/x-www-form-urlencoded`).
    pub params: Vec<(String, String)>,
    /// Headers with lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The `Host` header (or the URI authority).
    pub host: String,
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XY` a byte; malformed escapes
/// are kept literally (the gateway is lenient too).
pub(super) fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < bytes.len() => match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decoded (name, value) pairs of a query string or form body.
pub(super) fn parse_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (form_decode(k), form_decode(v)),
            None => (form_decode(pair), String::new()),
        })
        .collect()
}

impl RpcRequest {
    pub(crate) fn new(method: &Method, uri: &Uri, headers: &HeaderMap, body: Bytes) -> RpcRequest {
        let query = uri.query().map(parse_pairs).unwrap_or_default();
        let mut params = query.clone();
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.trim()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        if is_form {
            params.extend(parse_pairs(&String::from_utf8_lossy(&body)));
        }
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let host = headers
            .iter()
            .find(|(n, _)| n == "host")
            .map(|(_, v)| v.clone())
            .or_else(|| uri.authority().map(|a| a.as_str().to_owned()))
            .unwrap_or_default();
        RpcRequest {
            method: method.as_str().to_owned(),
            path: uri.path().to_owned(),
            query,
            params,
            headers,
            body,
            host,
        }
    }

    /// The first value of parameter `name`.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `MissingParameter` unless `name` is in the query string with a value (a form-body value does not count).
    pub(crate) fn required_in_query(&self, name: &str) -> Result<(), AliError> {
        if self.query.iter().any(|(n, v)| n == name && !v.is_empty()) {
            return Ok(());
        }
        Err(AliError::new(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is not supplied in the query string."
            ),
            Shape::Gateway,
        ))
    }

    /// The first value of parameter `name`, or `MissingParameter` when absent or empty.
    pub(crate) fn required(&self, name: &str) -> Result<&str, AliError> {
        match self.param(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(AliError::missing(name)),
        }
    }

    /// The (first) value of header `name` (lower-case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn style(&self) -> Style {
        if self
            .header("authorization")
            .is_some_and(|a| a.trim_start().starts_with("ACS3-"))
        {
            Style::V3
        } else if ["Signature", "SignatureMethod", "AccessKeyId"]
            .iter()
            .any(|p| self.param(p).is_some())
        {
            Style::V1
        } else {
            Style::Anonymous
        }
    }

    /// `x-acs-action` for V3 requests, else the `Action` parameter (either when unsigned).
    pub(crate) fn action(&self) -> Option<&str> {
        let header = self.header("x-acs-action").filter(|v| !v.is_empty());
        let param = self.param("Action").filter(|v| !v.is_empty());
        match self.style() {
            Style::V3 => header,
            Style::V1 => param,
            Style::Anonymous => param.or(header),
        }
    }

    /// `x-acs-version` for V3 requests, else the `Version` parameter (either when unsigned).
    pub(crate) fn version(&self) -> Option<&str> {
        let header = self.header("x-acs-version").filter(|v| !v.is_empty());
        let param = self.param("Version").filter(|v| !v.is_empty());
        match self.style() {
            Style::V3 => header,
            Style::V1 => param,
            Style::Anonymous => param.or(header),
        }
    }

    /// Whether answers should be XML. The `Format` parameter decides when present; otherwise an `Accept` header
    /// naming `application/json` asks for JSON. Anything else gets the documented default, XML, whatever the
    /// signature style: the SDKs always ask for JSON, so a client that forgets to must see it here.
    pub(crate) fn wants_xml(&self) -> bool {
        if let Some(format) = self.param("Format") {
            return !format.eq_ignore_ascii_case("json");
        }
        !self.accepts_json()
    }

    /// Whether an `Accept` header lists `application/json` (parameters such as `;q=` ignored).
    fn accepts_json(&self) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == "accept")
            .flat_map(|(_, v)| v.split(','))
            .any(|media| {
                media
                    .split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            })
    }

    /// Values of `<prefix>.<n>` parameters ordered by n (1-based). Names whose suffix is not a positive number
    /// are an `InvalidParameter`.
    pub(crate) fn indexed(&self, prefix: &str) -> Result<Vec<(u32, &str)>, AliError> {
        let mut out = Vec::new();
        for (name, value) in &self.params {
            let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
                continue;
            };
            if rest.contains('.') {
                continue;
            }
            match rest.parse::<u32>() {
                Ok(n) if n >= 1 => out.push((n, value.as_str())),
                _ => return Err(AliError::invalid(name, "The index must be a positive number.")),
            }
        }
        out.sort_by_key(|(n, _)| *n);
        Ok(out)
    }

    /// `Tag.N.Key` / `Tag.N.Value` pairs ordered by N; a value without a key is `MissingParameter`.
    pub(crate) fn tags(&self) -> Result<Vec<(u32, String, Option<String>)>, AliError> {
        let mut keys: Vec<(u32, &str)> = Vec::new();
        let mut values: Vec<(u32, &str)> = Vec::new();
        for (name, value) in &self.params {
            let Some(rest) = name.strip_prefix("Tag.") else {
                continue;
            };
            let Some((n, field)) = rest.split_once('.') else {
                continue;
            };
            let n: u32 = match n.parse() {
                Ok(n) if n >= 1 => n,
                _ => return Err(AliError::invalid(name, "The index must be a positive number.")),
            };
            match field {
                "Key" => keys.push((n, value)),
                "Value" => values.push((n, value)),
                _ => {}
            }
        }
        keys.sort_by_key(|(n, _)| *n);
        if let Some((n, _)) = values.iter().find(|(n, _)| !keys.iter().any(|(k, _)| k == n)) {
            return Err(AliError::missing(&format!("Tag.{n}.Key")));
        }
        Ok(keys
            .into_iter()
            .map(|(n, k)| {
                let value = values.iter().find(|(m, _)| *m == n).map(|(_, v)| (*v).to_owned());
                (n, k.to_owned(), value)
            })
            .collect())
    }
}
