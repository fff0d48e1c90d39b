//! Huawei Cloud AK/SK request signing (`SDK-HMAC-SHA256`, the `Signer` of `huaweicloudsdkcore`). Owns the
//! canonical URI, query and headers, the string to sign, the signature and the `Authorization` header format,
//! exposed piece by piece because two sides use them: the DEW client signs what it sends, and the emulator
//! recomputes the signature over what a received request says it signed.
//!
//! Pure functions only: no I/O, no clock. The `X-Sdk-Date` is an input, so every result is reproducible and
//! the known-answer tests pin it byte for byte against the official SDK. The SDK's derived signing
//! (`V11-HMAC-SHA256`) is not implemented: CSMS and KMS clients never enable it.

use std::fmt;

use crate::signing;
use chrono::{DateTime, Utc};

/// The algorithm name: first line of the string to sign and first word of the `Authorization` header.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// Hex SHA-256 of the empty body (every GET).
pub const EMPTY_BODY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// `X-Sdk-Content-Sha256` value that makes the canonical request carry this literal instead of the body hash
/// (the SDK sets it for non-JSON bodies; tagdrift only sends JSON).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// A Huawei access key (AK/SK), optionally with a security token for temporary credentials. `Debug` shows only
/// the AK.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub ak: String,
    pub sk: String,
    /// Present for temporary credentials; sent as `X-Security-Token` and signed.
    pub security_token: Option<String>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("ak", &self.ak)
            .field("sk", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Formats a time as `X-Sdk-Date` wants it: `20260101T000000Z`.
pub fn format_sdk_date(time: DateTime<Utc>) -> String {
    time.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    signing::sha256_hex(data)
}

/// Percent-encodes everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - _ . ~`), upper-case hex.
/// This is Python's `quote(s, safe='')` and `quote(s, safe='~')` alike (`~` is unreserved in Python 3.7+), so
/// it is both what a client uses to put an id into a URL path and how the signer encodes path segments and
/// query names and values.
pub fn encode_path_segment(s: &str) -> String {
    signing::percent_encode(s)
}

/// Decodes `%XY` escapes (either hex case) like Python's `unquote`: `+` stays `+`, a `%` not followed by two
/// hex digits stays literal, and bytes that do not form UTF-8 become U+FFFD.
pub fn percent_decode(s: &str) -> String {
    fn hex_value(b: u8) -> Option<u8> {
        char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex_value(*hi).zip(hex_value(*lo)),
            _ => None,
        };
        match escaped {
            Some((hi, lo)) => {
                out.push((hi << 4) | lo);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The canonical URI: the path decoded, split on `/`, each segment re-encoded with [`encode_path_segment`],
/// re-joined, and a `/` appended when it does not already end with one (so `/a/b` and `/a/b/` sign alike).
/// An encoded `%2F` inside a segment therefore becomes a real separator, exactly as in the SDK.
pub fn canonical_uri(path: &str) -> String {
    let decoded = percent_decode(path);
    let mut uri = decoded
        .split('/')
        .map(encode_path_segment)
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// The canonical query string from decoded (name, value) pairs: sorted by (name, value) in byte order, each
/// encoded with [`encode_path_segment`] (space is `%20`), `name=value` joined with `&`; empty when there are
/// none. The SDK sends this same string as the URL query, and so should a client.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = query.iter().collect();
    sorted.sort();
    sorted
        .iter()
        .map(|(name, value)| format!("{}={}", encode_path_segment(name), encode_path_segment(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A request as the signer sees it.
pub struct SdkRequest<'a> {
    pub method: &'a str,
    /// The path as sent on the wire (percent-encoded), without the query.
    pub path: &'a str,
    /// Decoded (name, value) query parameters.
    pub query: &'a [(String, String)],
    /// (name, value) headers; names in any case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// The signed header names (as the canonical request would list them) that `headers` does not carry. A
/// verifier uses this to reject such a request with a clear reason: [`canonical_request`] itself signs a
/// missing header as an empty value rather than failing.
pub fn missing_signed_headers(headers: &[(String, String)], signed_headers: &[&str]) -> Vec<String> {
    signing::missing_signed_headers(headers, signed_headers)
}

/// The canonical request:
/// `METHOD\nCanonicalURI\nCanonicalQuery\nname:value\n…\n\nSignedHeaders\nPayloadHash`.
///
/// `signed_headers` are lower-cased, sorted and de-duplicated before use; values are trimmed. A header sent
/// more than once contributes its values joined with `,` (the SDK keeps headers in a map and never does
/// this). A signed header the request lacks is canonicalised with an empty value (so the signature simply
/// will not match); call [`missing_signed_headers`] first when the reason matters. The payload hash is the
/// hex SHA-256 of the body, or the literal [`UNSIGNED_PAYLOAD`] when the request's `X-Sdk-Content-Sha256`
/// header says so.
pub fn canonical_request(req: &SdkRequest<'_>, signed_headers: &[&str]) -> String {
    let signed = signing::normalize_signed_headers(signed_headers);
    let header_block = signing::canonical_header_block(req.headers, &signed);
    let payload_hash = match signing::header(req.headers, "x-sdk-content-sha256") {
        Some(value) if value.trim() == UNSIGNED_PAYLOAD => UNSIGNED_PAYLOAD.to_owned(),
        _ => sha256_hex(req.body),
    };
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_uri(req.path),
        canonical_query(req.query),
        header_block,
        signed.join(";"),
        payload_hash
    )
}

/// The string to sign: `SDK-HMAC-SHA256\n{X-Sdk-Date}\n{hex SHA-256 of the canonical request}`.
pub fn string_to_sign(sdk_date: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The signature: lower-case hex HMAC-SHA256 keyed with the SK's UTF-8 bytes.
pub fn signature(sk: &str, string_to_sign: &str) -> String {
    hex::encode(signing::hmac_sha256(sk.as_bytes(), string_to_sign.as_bytes()))
}

/// The parts of an `Authorization` header. `Debug` hides the signature.
#[derive(Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key: String,
    /// Names as the header lists them, in that order.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl Authorization {
    /// `SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b>, Signature=<hex>` (note the blanks after commas).
    pub fn header_value(&self) -> String {
        format!(
            "{ALGORITHM} Access={}, SignedHeaders={}, Signature={}",
            self.access_key,
            self.signed_headers.join(";"),
            self.signature
        )
    }
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("access_key", &self.access_key)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &"<redacted>")
            .finish()
    }
}

/// Parses an `Authorization` header. `None` unless it is exactly the algorithm, whitespace, then `Access`,
/// `SignedHeaders` and `Signature` once each (any order, `,`-separated, blanks around parts allowed), all
/// non-empty, with no empty name in `SignedHeaders` and no other part.
pub fn parse_authorization(value: &str) -> Option<Authorization> {
    let parts = signing::parse_authorization(value, ALGORITHM, "Access")?;
    Some(Authorization {
        access_key: parts.credential.to_owned(),
        signed_headers: parts.signed_headers,
        signature: parts.signature.to_owned(),
    })
}

/// One call as the client will send it.
pub struct Call<'a> {
    pub method: &'a str,
    /// The URL authority exactly as the HTTP client will send it in `Host` (with `:port` if non-default).
    pub host: &'a str,
    /// The path as it will go on the wire (ids encoded with [`encode_path_segment`]).
    pub path: &'a str,
    /// Decoded (name, value) query parameters; send them as [`canonical_query`].
    pub query: &'a [(String, String)],
    /// The caller's own headers (`Content-Type`, `X-Project-Id`, …). Any named like a header this module
    /// generates (`Host`, `X-Sdk-Date`, `X-Security-Token`, `Authorization`) is ignored.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    /// `X-Sdk-Date`, see [`format_sdk_date`]. The gateway rejects dates more than 15 minutes off.
    pub sdk_date: &'a str,
}

/// Headers [`sign`] generates; a caller's header with one of these names is dropped.
const GENERATED: [&str; 4] = ["host", "x-sdk-date", "x-security-token", "authorization"];

/// Header names [`sign`] signs when the request carries them.
const SIGNED: [&str; 6] = [
    "content-type",
    "host",
    "x-project-id",
    "x-sdk-content-sha256",
    "x-sdk-date",
    "x-security-token",
];

/// Signs a call and returns the headers to add to the caller's own: `X-Sdk-Date`, `X-Security-Token`
/// (temporary credentials only) and `Authorization`.
///
/// `host` is signed but not returned: the HTTP client writes `Host` from the URL (and over HTTP/2 an explicit
/// `Host` would clash with `:authority`), so the URL's authority must equal `call.host`.
///
/// Signed headers are a fixed set, each when present: `content-type`, `host`, `x-project-id`,
/// `x-sdk-content-sha256`, `x-sdk-date`, `x-security-token`. That is what the SDK signs for CSMS/KMS minus
/// `user-agent`: the SDK signs every header it sends, but the gateway checks whatever `SignedHeaders` lists,
/// and leaving out headers that proxies or HTTP stacks may rewrite keeps a correct request from failing
/// verification, while the project, date and token stay bound to the signature.
pub fn sign(call: &Call<'_>, credential: &Credential) -> Vec<(String, String)> {
    let mut added: Vec<(String, String)> = vec![("X-Sdk-Date".into(), call.sdk_date.into())];
    if let Some(token) = &credential.security_token {
        added.push(("X-Security-Token".into(), token.clone()));
    }

    let mut all: Vec<(String, String)> = call
        .headers
        .iter()
        .filter(|(name, _)| !GENERATED.iter().any(|g| name.eq_ignore_ascii_case(g)))
        .cloned()
        .collect();
    all.push(("Host".into(), call.host.into()));
    all.extend(added.iter().cloned());

    let signed: Vec<&str> = SIGNED
        .into_iter()
        .filter(|name| signing::header(&all, name).is_some())
        .collect();
    let request = SdkRequest {
        method: call.method,
        path: call.path,
        query: call.query,
        headers: &all,
        body: call.body,
    };
    let to_sign = string_to_sign(call.sdk_date, &canonical_request(&request, &signed));
    let authorization = Authorization {
        access_key: credential.ak.clone(),
        signed_headers: signed.iter().map(|s| s.to_string()).collect(),
        signature: signature(&credential.sk, &to_sign),
    };
    added.push(("Authorization".into(), authorization.header_value()));
    added
}

#[cfg(test)]
mod tests;
