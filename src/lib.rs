//! tagdrift: declares which tags cloud KMS keys and secrets must carry, reads what they carry, and reports drift.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

pub mod cli;
pub mod cloud;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod drift;
pub mod emulator;
pub mod metrics;
pub mod report;
pub mod scheduler;
pub mod server;
pub mod telemetry;
pub mod yaml;
