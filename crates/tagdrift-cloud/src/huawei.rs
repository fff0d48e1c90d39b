//! Huawei Cloud DEW (KMS keys and CSMS secrets): everything tagdrift needs to speak the DEW API: AK/SK request
//! signing ([`sign`], shared with the emulator that verifies what the client sent), the response bodies
//! ([`wire`]) and the reader that reads one scope's tags ([`scan`]).

pub mod scan;
pub mod sign;
pub mod wire;
