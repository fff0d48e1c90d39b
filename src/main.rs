//! The `tagdrift` binary: parses the command line and hands each command to the library.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use clap::Parser;
use tagdrift::cli::{
    CheckArgs, Cli, Command, DemoArgs, ReportFormat, RunArgs, ValidateArgs, check_exit_code,
};
use tagdrift::cloud::NoObserver;
use tagdrift::cloud::credentials::{MapEnv, ProcessEnv};
use tagdrift::cloud::read::{self, Reader, ReaderOptions};
use tagdrift::config::{self, LogFormat};
use tagdrift::daemon::{self, Options};
use tagdrift::demo;
use tagdrift::drift;
use tagdrift::emulator::{self, EmulateArgs};
use tagdrift::report::{self, ReportMeta};
use tagdrift::telemetry;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_format = cli.log_format.map(LogFormat::from);
    // `run` takes its log format from the desired state when the flag is absent, so it starts logging once
    // the file is read.
    if !matches!(cli.command, Command::Run(_)) {
        telemetry::init(log_format.unwrap_or(LogFormat::Text));
    }
    let result = match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Check(args) => check(&args),
        Command::Emulate(args) => emulate(&args),
        Command::Run(args) => run(args, log_format),
        Command::Demo(args) => demo(&args),
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
    // The reader's connections and caches are not needed any more; at 100,000 resources every megabyte
    // released before planning lowers the peak.
    drop(reader);
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
    drop(observations);
    drop(state);
    let meta = ReportMeta {
        generated_at: finished,
        duration: Some(started.elapsed()),
        source: Some(args.config.display().to_string()),
    };
    let color = !args.no_color
        && args.output.is_none()
        && std::env::var_os("NO_COLOR").is_none()
        && std::io::stdout().is_terminal();
    let write = |out: &mut dyn Write| -> std::io::Result<()> {
        match args.format {
            ReportFormat::Text => out.write_all(report::text(&plan, &meta, color).as_bytes()),
            // Streamed: the JSON of a large check is the biggest thing it produces.
            ReportFormat::Json => report::write_json(&plan, &meta, &mut *out),
            ReportFormat::Markdown => out.write_all(report::markdown(&plan, &meta).as_bytes()),
        }?;
        out.flush()
    };
    match &args.output {
        Some(path) => std::fs::File::create(path)
            .and_then(|file| write(&mut std::io::BufWriter::new(file)))
            .with_context(|| format!("cannot write the report to {}", path.display()))?,
        None => write(&mut std::io::BufWriter::new(std::io::stdout().lock()))?,
    }
    Ok(ExitCode::from(check_exit_code(&plan.summary)))
}

fn run(args: RunArgs, log_format: Option<LogFormat>) -> anyhow::Result<ExitCode> {
    let initial = match config::load(&args.config) {
        Ok(state) => state,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "{}: {} problem(s) found; not starting",
                args.config.display(),
                errors.len()
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    telemetry::init(log_format.unwrap_or(initial.daemon.log_format));
    let options = Options {
        config: args.config,
        initial,
        listen: args.listen,
        sources: daemon::cloud_sources(Arc::new(ProcessEnv)),
        poll_interval: Duration::from_secs(1),
        on_listen: None,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(daemon::run(options, shutdown_signal()));
    // Shutdown is already bounded inside; do not wait on stray blocking work beyond it.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result?;
    Ok(ExitCode::SUCCESS)
}

fn demo(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    let sources = |credentials| daemon::cloud_sources(Arc::new(MapEnv::new(credentials)));
    let result = runtime.block_on(demo::run(args, sources, shutdown_signal()));
    runtime.shutdown_timeout(Duration::from_secs(1));
    result?;
    Ok(ExitCode::SUCCESS)
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
