//! Signing primitives both clouds share: RFC 3986 percent-encoding, SHA-256 and HMAC, the canonical header
//! block over a request's own `SignedHeaders` list, and the `ALGO Name=..,SignedHeaders=..,Signature=..`
//! header grammar. Each cloud's `sign` module composes these into its own canonical request, so a fix here
//! reaches the client and the emulator of both clouds at once. Pure functions only.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// RFC 3986 percent-encoding: `A-Z a-z 0-9 - _ . ~` stay, every other UTF-8 byte becomes `%XY` with
/// upper-case hex (space is `%20`, never `+`; `*` is `%2A`). Alibaba's canonical form and Python's
/// `quote(s, safe='~')` (Huawei's SDK) agree on exactly this.
pub fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// HMAC-SHA256 of `message` keyed with `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC hashes over-long keys and pads short ones, so no key length is invalid; the crate's own `new` makes
    // the same assertion.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Lower-cased, trimmed, sorted and de-duplicated header names: the form both the `SignedHeaders` list and the
/// canonical header block use. Every SDK sorts, so a verifier sorting too accepts whatever order arrives.
pub fn normalize_signed_headers(signed_headers: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = signed_headers
        .iter()
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The first value of a header, by case-insensitive name.
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `name:value\n` for each of the (already normalised) signed header names. Values are trimmed; a header sent
/// more than once contributes its values joined with `,` (HTTP list semantics; the SDKs keep headers in a map,
/// so they never produce that case). A signed header the request lacks contributes an empty value, so the
/// signature simply will not match.
pub fn canonical_header_block(headers: &[(String, String)], signed: &[String]) -> String {
    let mut block = String::new();
    for name in signed {
        let values: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect();
        block.push_str(name);
        block.push(':');
        block.push_str(&values.join(","));
        block.push('\n');
    }
    block
}

/// The signed header names (normalised) that `headers` does not carry, so a verifier can reject such a
/// request with a clear reason before comparing signatures.
pub fn missing_signed_headers(headers: &[(String, String)], signed_headers: &[&str]) -> Vec<String> {
    normalize_signed_headers(signed_headers)
        .into_iter()
        .filter(|name| header(headers, name).is_none())
        .collect()
}

/// The three parts of an `Authorization` header in both clouds' grammar.
pub struct AuthorizationParts<'a> {
    pub credential: &'a str,
    pub signed_headers: Vec<String>,
    pub signature: &'a str,
}

/// Parses `ALGORITHM <credential_field>=..,SignedHeaders=a;b,Signature=..`. `None` unless it is exactly the
/// algorithm, whitespace, then the three parts once each (any order, `,`-separated, blanks around parts
/// allowed), all non-empty, with no empty name in `SignedHeaders` and no other part.
pub fn parse_authorization<'a>(
    value: &'a str,
    algorithm: &str,
    credential_field: &str,
) -> Option<AuthorizationParts<'a>> {
    let rest = value.trim().strip_prefix(algorithm)?;
    if !rest.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.trim_start().split(',') {
        let (name, value) = part.trim().split_once('=')?;
        let slot = if name == credential_field {
            &mut credential
        } else if name == "SignedHeaders" {
            &mut signed_headers
        } else if name == "Signature" {
            &mut signature
        } else {
            return None;
        };
        if slot.is_some() || value.is_empty() {
            return None;
        }
        *slot = Some(value);
    }
    let signed_headers: Vec<String> = signed_headers?.split(';').map(str::to_owned).collect();
    if signed_headers.iter().any(String::is_empty) {
        return None;
    }
    Some(AuthorizationParts {
        credential: credential?,
        signed_headers,
        signature: signature?,
    })
}
