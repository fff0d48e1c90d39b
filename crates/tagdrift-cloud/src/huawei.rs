//! Huawei Cloud DEW (KMS keys and CSMS secrets): everything tagdrift needs to speak the DEW API: AK/SK request
//! signing ([`sign`], shared with the emulator that verifies what the client sent), the response bodies
//! ([`wire`]) and the reader that reads one scope's tags ([`scan`]).

pub mod scan;
pub mod sign;
pub mod wire;

/// The number of a Huawei API gateway error code (`0301` of `APIGW.0301`), `None` for any other code.
/// Captured live answers spell the prefix `APIGW.`, the documentation's error tables print `APIG.`; which one
/// a given gateway sends is not ours to choose, so both are read alike.
pub fn gateway_code(code: &str) -> Option<&str> {
    code.strip_prefix("APIGW.").or_else(|| code.strip_prefix("APIG."))
}
