//! Huawei Cloud DEW (KMS keys and CSMS secrets): everything tagdrift needs to speak the DEW API. For now this
//! is only AK/SK request signing ([`sign`]), shared by the HTTP client and by the emulator that verifies what
//! the client sent.

pub mod sign;
