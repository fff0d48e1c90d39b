//! tagdrift: declares which tags cloud KMS keys and secrets must carry, reads what they carry, and reports drift.
//!
//! This root crate is the program: the command line ([`cli`]), the one check pipeline ([`check`]) and `apply` on top of it ([`apply`]), the daemon
//! with its scheduler, HTTP server and metrics, and the demo. The desired state, drift engine and reports live
//! in `tagdrift-core`, the cloud clients in `tagdrift-cloud`, and the emulated clouds in `tagdrift-emulator`,
//! which is compiled in only with the default `emulator` feature (`tagdrift emulate` and `tagdrift demo`).
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(unreachable_pub)]

pub mod apply;
pub mod check;
pub mod cli;
pub mod daemon;
#[cfg(feature = "emulator")]
pub mod demo;
pub mod desired;
pub mod heal;
pub mod import;
pub mod metrics;
pub mod plan_file;
pub mod scheduler;
pub mod server;
pub mod telemetry;
