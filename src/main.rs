//! The `tagdrift` binary: parses the command line and hands each command to the library.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::Utc;
use clap::Parser;
use tagdrift::cli::{CheckArgs, Cli, Command, ReportFormat, ValidateArgs, check_exit_code};
use tagdrift::cloud::NoObserver;
use tagdrift::cloud::credentials::ProcessEnv;
use tagdrift::cloud::read::{self, Reader, ReaderOptions};
use tagdrift::config::{self, LogFormat};
use tagdrift::drift;
use tagdrift::emulator::{self, EmulateArgs};
use tagdrift::report::{self, ReportMeta};
use tagdrift::telemetry;

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format.map(LogFormat::from).unwrap_or(LogFormat::Text));
    let result = match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Check(args) => check(&args),
        Command::Emulate(args) => emulate(&args),
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

fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let state = match config::load(&args.config) {
        Ok(state) => state,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{}: {} problem(s) found", args.config.display(), errors.len());
            return Ok(ExitCode::FAILURE);
        }
    };
    let options = ReaderOptions {
        env: Arc::new(ProcessEnv),
        observer: Arc::new(NoObserver),
    };
    let reader = match Reader::new(&state, options) {
        Ok(reader) => reader,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let started = Instant::now();
    let observations = runtime.block_on(async {
        tokio::select! {
            observations = reader.read(&state) => Some(observations),
            () = shutdown_signal() => None,
        }
    });
    let Some(observations) = observations else {
        eprintln!("error: interrupted; the check was abandoned");
        return Ok(ExitCode::FAILURE);
    };
    for (account, message) in read::refused_accounts(&observations) {
        eprintln!("error: account {account}: the cloud refused its credentials: {message}");
    }
    let finished = Utc::now();
    // The one place the clock enters: the engine takes today's date as an input.
    let plan = drift::plan(&state, &observations, finished.date_naive());
    let meta = ReportMeta {
        generated_at: finished,
        duration: Some(started.elapsed()),
        source: Some(args.config.display().to_string()),
    };
    let rendered = match args.format {
        ReportFormat::Text => {
            let color = !args.no_color
                && args.output.is_none()
                && std::env::var_os("NO_COLOR").is_none()
                && std::io::stdout().is_terminal();
            report::text(&plan, &meta, color)
        }
        ReportFormat::Json => report::json(&plan, &meta),
        ReportFormat::Markdown => report::markdown(&plan, &meta),
    };
    match &args.output {
        Some(path) => std::fs::write(path, rendered)
            .with_context(|| format!("cannot write the report to {}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(rendered.as_bytes())?;
            stdout.flush()?;
        }
    }
    Ok(ExitCode::from(check_exit_code(&plan.summary)))
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
