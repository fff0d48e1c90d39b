//! Alibaba Cloud KMS: everything tagdrift needs to speak the KMS OpenAPI: request signing ([`sign`], shared
//! with the emulator that verifies what the client sent), the response bodies ([`wire`]) and the reader that
//! reads one scope's tags with the fewest calls ([`scan`]).

pub mod scan;
pub mod sign;
pub mod wire;
