//! tagdrift's integration tests, one binary (ripgrep's layout): each module drives the real `tagdrift` binary or
//! the real HTTP servers (daemon, emulator) over loopback. Shared helpers live in [`util`].
#![forbid(unsafe_code)]

mod util;

mod aliases;
mod apply;
mod bad_input;
mod batch_auto;
mod check_bench;
mod check_cli;
mod check_permissions;
mod cli_emulate;
mod cli_run;
mod cli_validate;
mod config_dir;
mod credentials;
mod credentials_huawei;
mod daemon;
mod emulator_alibaba;
mod emulator_huawei;
mod http_limits;
mod import;
mod proxy;
mod schema;
mod secrets_never_leak;
mod soak;
mod tls;
mod untaggable;
