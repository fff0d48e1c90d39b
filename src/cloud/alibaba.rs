//! Alibaba Cloud KMS: everything tagdrift needs to speak the KMS OpenAPI. For now this is only request
//! signing ([`sign`]), shared by the HTTP client and by the emulator that verifies what the client sent.

pub mod sign;
