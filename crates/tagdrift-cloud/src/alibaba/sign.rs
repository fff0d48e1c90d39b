//! Alibaba Cloud OpenAPI request signing: signature V1 (`HMAC-SHA1`, RPC query parameters) and signature V3
//! (`ACS3-HMAC-SHA256`, signed headers). Owns the canonical forms, the hashes and the `Authorization` header
//! format, exposed piece by piece because two sides use them: the KMS client signs what it sends, and the
//! emulator recomputes the signature over what a received request says it signed.
//!
//! Pure functions only: no I/O, no clock, no randomness. Dates and nonces are inputs, so every result is
//! reproducible and the known-answer tests pin it byte for byte against the official SDKs.

use std::fmt;

use crate::signing;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// Value of the V1 `SignatureMethod` parameter.
pub const V1_SIGNATURE_METHOD: &str = "HMAC-SHA1";
/// Value of the V1 `SignatureVersion` parameter.
pub const V1_SIGNATURE_VERSION: &str = "1.0";
/// The V3 algorithm name: first line of the string to sign and first word of the `Authorization` header.
pub const V3_ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// Hex SHA-256 of the empty body, which is what every KMS RPC call sends.
pub const EMPTY_BODY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// An Alibaba access key, optionally with an STS security token. `Debug` shows only the key id.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub access_key_secret: String,
    /// Present for STS (temporary) credentials; it is sent and signed with every request.
    pub security_token: Option<String>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Formats a time the way both signature versions want it (`Timestamp`, `x-acs-date`): `2025-01-02T03:04:05Z`.
pub fn format_timestamp(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// RFC 3986 percent-encoding as Alibaba canonicalises names and values: `A-Z a-z 0-9 - _ . ~` stay, every
/// other UTF-8 byte becomes `%XY` with upper-case hex (so space is `%20`, never `+`, and `*` is `%2A`).
pub fn percent_encode(s: &str) -> String {
    signing::percent_encode(s)
}

/// Lower-case hex SHA-256 of `data` (the V3 payload hash and the hash inside the string to sign).
pub fn sha256_hex(data: &[u8]) -> String {
    signing::sha256_hex(data)
}

/// Sorted, encoded `name=value` pairs joined with `&`. Sorting is by raw name then raw value in byte order,
/// which is what the SDKs do (they hold the parameters in a map, so names never repeat there; the value order
/// only makes repeated names deterministic).
fn canonical_pairs<'a>(params: impl Iterator<Item = &'a (String, String)>) -> String {
    let mut sorted: Vec<&(String, String)> = params.collect();
    sorted.sort();
    sorted
        .iter()
        .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The V1 canonicalised query string: every parameter except `Signature`, sorted and encoded. `params` are
/// decoded (name, value) pairs: query and form-body parameters alike.
pub fn v1_canonical_query(params: &[(String, String)]) -> String {
    canonical_pairs(params.iter().filter(|(name, _)| name != "Signature"))
}

/// The V1 string to sign: `METHOD&%2F&` + the percent-encoded canonical query. `method` is the real HTTP
/// method (`GET` and `POST` sign differently).
pub fn v1_string_to_sign(method: &str, params: &[(String, String)]) -> String {
    format!("{method}&%2F&{}", percent_encode(&v1_canonical_query(params)))
}

/// The V1 signature: Base64 of HMAC-SHA1 keyed with the secret plus `&` (the empty STS-token slot of the
/// original protocol).
pub fn v1_signature(access_key_secret: &str, string_to_sign: &str) -> String {
    let key = format!("{access_key_secret}&");
    BASE64.encode(hmac_sha1(key.as_bytes(), string_to_sign.as_bytes()))
}

/// Signs a V1 (RPC) call. `params` are the call's own parameters, decoded: `Action`, `Version`, `Format`,
/// `RegionId` and the API parameters. This adds the signing parameters (`AccessKeyId`, `SignatureMethod`,
/// `SignatureVersion`, `SignatureNonce`, `Timestamp`, and `SecurityToken` for STS credentials, replacing any
/// the caller passed) and returns the full list, sorted, with `Signature` last. Encode each pair with
/// [`percent_encode`] on the wire: `%20` for spaces is always understood, `+` is only form syntax.
pub fn sign_v1(
    method: &str,
    params: &[(String, String)],
    credential: &Credential,
    timestamp: &str,
    nonce: &str,
) -> Vec<(String, String)> {
    const GENERATED: [&str; 7] = [
        "AccessKeyId",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "Timestamp",
        "SecurityToken",
        "Signature",
    ];
    let mut out: Vec<(String, String)> = params
        .iter()
        .filter(|(name, _)| !GENERATED.contains(&name.as_str()))
        .cloned()
        .collect();
    out.push(("AccessKeyId".into(), credential.access_key_id.clone()));
    out.push(("SignatureMethod".into(), V1_SIGNATURE_METHOD.into()));
    out.push(("SignatureVersion".into(), V1_SIGNATURE_VERSION.into()));
    out.push(("SignatureNonce".into(), nonce.into()));
    out.push(("Timestamp".into(), timestamp.into()));
    if let Some(token) = &credential.security_token {
        out.push(("SecurityToken".into(), token.clone()));
    }
    out.sort();
    let signature = v1_signature(&credential.access_key_secret, &v1_string_to_sign(method, &out));
    out.push(("Signature".into(), signature));
    out
}

/// The V3 canonical query string from decoded (name, value) pairs: sorted, RFC 3986-encoded, `&`-joined; empty
/// when there are no parameters. The same string is a valid wire query.
pub fn v3_canonical_query(params: &[(String, String)]) -> String {
    canonical_pairs(params.iter())
}

/// A request as V3 canonicalisation sees it.
pub struct V3Request<'a> {
    pub method: &'a str,
    /// The path as sent; empty means `/`. Always `/` for KMS (an RPC-style API).
    pub path: &'a str,
    /// Decoded (name, value) query parameters.
    pub query: &'a [(String, String)],
    /// (name, value) headers; names in any case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// The signed header names (as the canonical request would list them) that `headers` does not carry. A
/// verifier uses this to reject such a request with a clear reason: [`v3_canonical_request`] itself signs
/// a missing header as an empty value rather than failing.
pub fn missing_signed_headers(headers: &[(String, String)], signed_headers: &[&str]) -> Vec<String> {
    signing::missing_signed_headers(headers, signed_headers)
}

/// The V3 canonical request:
/// `METHOD\nURI\nQUERY\nname:value\n…\n\nSignedHeaders\nHexSHA256(body)`.
///
/// `signed_headers` are lower-cased, sorted and de-duplicated before use. Header values are trimmed. A signed
/// header the request lacks is canonicalised with an empty value (so the signature simply will not match);
/// call [`missing_signed_headers`] first when the reason matters.
pub fn v3_canonical_request(req: &V3Request<'_>, signed_headers: &[&str]) -> String {
    let signed = signing::normalize_signed_headers(signed_headers);
    let path = if req.path.is_empty() { "/" } else { req.path };
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        path,
        v3_canonical_query(req.query),
        signing::canonical_header_block(req.headers, &signed),
        signed.join(";"),
        sha256_hex(req.body)
    )
}

/// The V3 string to sign: `ACS3-HMAC-SHA256\n` + hex SHA-256 of the canonical request.
pub fn v3_string_to_sign(canonical_request: &str) -> String {
    format!("{V3_ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// The V3 signature: lower-case hex HMAC-SHA256 keyed with the secret itself (no `&`, unlike V1).
pub fn v3_signature(access_key_secret: &str, string_to_sign: &str) -> String {
    hex::encode(signing::hmac_sha256(
        access_key_secret.as_bytes(),
        string_to_sign.as_bytes(),
    ))
}

/// The parts of a V3 `Authorization` header. `Debug` hides the signature.
#[derive(Clone, PartialEq, Eq)]
pub struct V3Authorization {
    pub access_key_id: String,
    /// Names as the header lists them, in that order.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl V3Authorization {
    /// `ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b>,Signature=<hex>`.
    pub fn header_value(&self) -> String {
        format!(
            "{V3_ALGORITHM} Credential={},SignedHeaders={},Signature={}",
            self.access_key_id,
            self.signed_headers.join(";"),
            self.signature
        )
    }
}

impl fmt::Debug for V3Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V3Authorization")
            .field("access_key_id", &self.access_key_id)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &"<redacted>")
            .finish()
    }
}

/// Parses a V3 `Authorization` header. `None` unless it is exactly the algorithm, whitespace, then
/// `Credential`, `SignedHeaders` and `Signature` once each (any order, `,`-separated, blanks around parts
/// allowed), all non-empty, with no empty name in `SignedHeaders` and no other part.
pub fn parse_v3_authorization(value: &str) -> Option<V3Authorization> {
    let parts = signing::parse_authorization(value, V3_ALGORITHM, "Credential")?;
    Some(V3Authorization {
        access_key_id: parts.credential.to_owned(),
        signed_headers: parts.signed_headers,
        signature: parts.signature.to_owned(),
    })
}

/// One V3 (ACS3-HMAC-SHA256) call to an RPC-style API such as KMS: path `/`, parameters in the query.
pub struct V3Call<'a> {
    pub method: &'a str,
    /// The URL authority exactly as the HTTP client will send it in `Host` (with `:port` if non-default).
    pub host: &'a str,
    /// `x-acs-action`, e.g. `ListTagResources`.
    pub action: &'a str,
    /// `x-acs-version`, e.g. `2016-01-20` for KMS.
    pub version: &'a str,
    /// Decoded (name, value) query parameters; send them as [`v3_canonical_query`].
    pub query: &'a [(String, String)],
    /// Other headers the caller sends (e.g. `content-type`, `user-agent`). Any named like a header this
    /// module generates (`host`, `authorization`, the `x-acs-*` ones below) is ignored.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    /// `x-acs-date`, see [`format_timestamp`].
    pub date: &'a str,
    /// `x-acs-signature-nonce`: unique per request.
    pub nonce: &'a str,
}

/// Headers [`sign_v3`] generates; a caller's header with one of these names is dropped.
const V3_GENERATED: [&str; 8] = [
    "host",
    "authorization",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
    "x-acs-security-token",
];

/// Signs a V3 call and returns the headers to add to the caller's own (`call.headers`):
/// `x-acs-action`, `x-acs-version`, `x-acs-date`, `x-acs-signature-nonce`, `x-acs-content-sha256`,
/// `x-acs-security-token` (STS credentials only) and `authorization`.
///
/// `host` is signed but not returned: the HTTP client writes `Host` from the URL (and over HTTP/2 an explicit
/// `Host` would clash with `:authority`), so the URL's authority must equal `call.host`.
///
/// Signed headers are the documented minimum: `host`, every `x-acs-*` header and `content-type` when present.
/// The Python SDK signs everything it sends (`accept`, `user-agent` too), but the server checks whatever
/// `SignedHeaders` lists, and leaving out headers that proxies or HTTP stacks may rewrite keeps a correct
/// request from failing verification.
pub fn sign_v3(call: &V3Call<'_>, credential: &Credential) -> Vec<(String, String)> {
    let mut added: Vec<(String, String)> = vec![
        ("x-acs-action".into(), call.action.into()),
        ("x-acs-version".into(), call.version.into()),
        ("x-acs-date".into(), call.date.into()),
        ("x-acs-signature-nonce".into(), call.nonce.into()),
        ("x-acs-content-sha256".into(), sha256_hex(call.body)),
    ];
    if let Some(token) = &credential.security_token {
        added.push(("x-acs-security-token".into(), token.clone()));
    }

    let mut all: Vec<(String, String)> = call
        .headers
        .iter()
        .filter(|(name, _)| !V3_GENERATED.iter().any(|g| name.eq_ignore_ascii_case(g)))
        .cloned()
        .collect();
    all.push(("host".into(), call.host.into()));
    all.extend(added.iter().cloned());

    let signed: Vec<String> = signing::normalize_signed_headers(
        &all.iter()
            .map(|(name, _)| name.as_str())
            .filter(|name| {
                let lower = name.to_ascii_lowercase();
                lower == "host" || lower == "content-type" || lower.starts_with("x-acs-")
            })
            .collect::<Vec<_>>(),
    );
    let signed_refs: Vec<&str> = signed.iter().map(String::as_str).collect();
    let request = V3Request {
        method: call.method,
        path: "/",
        query: call.query,
        headers: &all,
        body: call.body,
    };
    let string_to_sign = v3_string_to_sign(&v3_canonical_request(&request, &signed_refs));
    let authorization = V3Authorization {
        access_key_id: credential.access_key_id.clone(),
        signed_headers: signed,
        signature: v3_signature(&credential.access_key_secret, &string_to_sign),
    };
    added.push(("authorization".into(), authorization.header_value()));
    added
}

fn hmac_sha1(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC hashes over-long keys and pads short ones, so no key length is invalid; the crate's own `new` makes
    // the same assertion.
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests;
