//! Diagnostics on stderr through tracing-subscriber: the level from `RUST_LOG` (default `info`), the format
//! text or JSON. Reports and plans go to stdout and never through here.

use tracing_subscriber::EnvFilter;

use tagdrift_core::config::LogFormat;

/// Installs the global subscriber. Safe to call once per process; later calls are ignored so tests that
/// start several servers in one process do not fail.
pub fn init(format: LogFormat) {
    // The cron scheduler logs its own start-up at info; only its warnings matter to an operator.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tokio_cron_scheduler=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.compact().try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
