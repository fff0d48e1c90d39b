//! The `tagdrift` binary: parses the command line and hands each command to the library.

use std::process::ExitCode;

use clap::Parser;
use tagdrift::cli::{Cli, Command, ValidateArgs};
use tagdrift::config::{self, LogFormat};
use tagdrift::emulator::{self, EmulateArgs};
use tagdrift::telemetry;

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format.map(LogFormat::from).unwrap_or(LogFormat::Text));
    let result = match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Emulate(args) => emulate(&args),
        Command::Run(_) | Command::Demo(_) => Err(anyhow::anyhow!(
            "reading the clouds is not wired into this build yet (waiting for cloud::read)"
        )),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn validate(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    match config::load(&args.config) {
        Ok(state) => {
            println!(
                "{}: valid ({} accounts, {} resources, {} rules, {} discovery entries)",
                args.config.display(),
                state.accounts.len(),
                state.resources.len(),
                state.rules.len(),
                state.discovery.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{}: {} problem(s) found", args.config.display(), errors.len());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn emulate(args: &EmulateArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(emulator::run(args, shutdown_signal()))?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on Ctrl-C or SIGTERM (what Kubernetes sends), whichever comes first.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM; only Ctrl-C stops the process");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
