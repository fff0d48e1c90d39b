//! tagdrift-core: the desired state and the drift between it and what the clouds hold. It owns the shared
//! vocabulary ([`vocab`]), the positioned YAML reader ([`yaml`]), the desired-state model and its validation
//! ([`config`]), the drift engine ([`drift`]), what `apply` writes ([`reconcile`]), the reports ([`report`]) and the file `tagdrift import`
//! writes ([`import`]).
//!
//! It is pure: no network, no file or process I/O, no clock (the engine takes today's date as an input), no
//! async runtime. It must never depend on tokio, reqwest, axum or hyper, nor on the other tagdrift crates.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(unreachable_pub)]

pub mod config;
pub mod drift;
pub mod import;
pub mod reconcile;
pub mod report;
pub mod vocab;
pub mod yaml;
