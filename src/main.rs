//! The `tagdrift` binary: parses the command line and hands each command to the library.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tagdrift::check::{self, CloudSource};
use tagdrift::cli::{
    ApplyArgs, ApplyFormat, CheckArgs, Cli, Command, ImportArgs, ReportFormat, RunArgs, ValidateArgs,
    check_exit_code,
};
use tagdrift::daemon::{self, Options};
use tagdrift::{apply, desired, plan_file, telemetry};
use tagdrift_cloud::NoObserver;
use tagdrift_cloud::credentials::ProcessEnv;
use tagdrift_cloud::read::{Reader, ReaderOptions};
use tagdrift_core::config::LogFormat;
use tagdrift_core::reconcile;
use tagdrift_core::reconcile::saved::{self, DesiredFile};
use tagdrift_core::report::{self, ReportMeta};

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
        Command::Apply(args) => apply_command(&args),
        Command::Run(args) => run(args, log_format),
        Command::Schema => schema(),
        Command::Import(args) => import(&args),
        #[cfg(feature = "emulator")]
        Command::Emulate(args) => emulated::emulate(&args),
        #[cfg(feature = "emulator")]
        Command::Demo(args) => emulated::demo(&args),
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
    match desired::load(&args.config) {
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

fn import(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    let run = tagdrift::import::run(&args.config, &args.output, &args.selectors, args.factor_defaults);
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = run => Some(outcome),
            () = shutdown_signal() => None,
        }
    });
    let outcome = match outcome {
        None => {
            eprintln!("error: interrupted; nothing was written");
            return Ok(ExitCode::FAILURE);
        }
        Some(Err(tagdrift::import::ImportError::Config(errors))) => {
            eprintln!("{errors}");
            eprintln!("{}: {} problem(s) found", args.config.display(), errors.len());
            return Ok(ExitCode::FAILURE);
        }
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
        Some(Ok(outcome)) => outcome,
    };
    let i = &outcome.imported;
    for u in &i.unreadable {
        eprintln!("error: not imported, could not be read: {u}");
    }
    eprintln!(
        "{}: {} keys and {} secrets imported in {:.1}s{}{}",
        args.output.display(),
        i.keys,
        i.secrets,
        outcome.seconds,
        if i.left_out > 0 {
            format!("; {} left out (cannot carry tags, or ignored)", i.left_out)
        } else {
            String::new()
        },
        if i.unreadable.is_empty() {
            String::new()
        } else {
            format!(
                "; {} could not be read (listed in the file's header)",
                i.unreadable.len()
            )
        }
    );
    Ok(if i.unreadable.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn schema() -> anyhow::Result<ExitCode> {
    let text = serde_json::to_string_pretty(&tagdrift_core::config::json_schema())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").context("write the schema to standard output")?;
    Ok(ExitCode::SUCCESS)
}

fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let (state, sha256) = match plan_file::load_desired(&args.config) {
        Ok(loaded) => loaded,
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
    let source = match Reader::new(&state, options) {
        Ok(reader) => CloudSource(reader),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let read = runtime.block_on(async {
        tokio::select! {
            read = check::read(&state, &source) => Some(read),
            () = shutdown_signal() => None,
        }
    });
    // The reader's connections and caches are not needed any more; at 100,000 resources every megabyte
    // released before planning lowers the peak.
    drop(source);
    let Some(read) = read else {
        eprintln!("error: interrupted; the check was abandoned");
        return Ok(ExitCode::FAILURE);
    };
    for (account, reason) in read.refused_accounts() {
        eprintln!("error: account {account}: the cloud refused its credentials: {reason}");
    }
    // The saved plan's `before` needs the tags as read; kept only when a plan is saved.
    let observations = args.save_plan.as_ref().map(|_| read.observations.clone());
    let checked = check::plan(&state, read);
    if let (Some(path), Some(observations)) = (&args.save_plan, observations) {
        let write = reconcile::select(&checked.plan, &[]);
        let desired_file = DesiredFile {
            path: args.config.display().to_string(),
            sha256,
        };
        let version = env!("CARGO_PKG_VERSION");
        let saved = saved::save(
            &write,
            &state,
            &observations,
            desired_file,
            checked.finished,
            version,
        );
        if let Err(e) = plan_file::write(path, &saved) {
            eprintln!("error: {}: {e}", path.display());
            return Ok(ExitCode::FAILURE);
        }
    }
    drop(state);
    let plan = checked.plan;
    let meta = ReportMeta {
        generated_at: checked.finished,
        duration: Some(checked.duration),
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
    let code = ExitCode::from(check_exit_code(&plan.summary));
    // The process ends here: freeing every resource plan one by one (a tenth of a second or more at 100,000)
    // would only delay the exit the operating system reclaims the memory at anyway.
    std::mem::forget(plan);
    Ok(code)
}

/// The question `apply` asks on a terminal; only the answer `yes` writes.
const APPROVAL_PROMPT: &str = "Apply these changes? Only 'yes' is accepted: ";

fn apply_command(args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let (state, sha256) = match plan_file::load_desired(&args.config) {
        Ok(loaded) => loaded,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{}: {} problem(s) found", args.config.display(), errors.len());
            return Ok(ExitCode::FAILURE);
        }
    };
    let interactive = std::io::stdin().is_terminal();
    // Refused before anything is read: a pipeline must say --auto-approve, and should learn so at once.
    if !args.auto_approve && !interactive {
        eprintln!(
            "error: standard input is not a terminal, so apply cannot ask for approval; nothing was written \
             (pass --auto-approve to write without asking)"
        );
        return Ok(ExitCode::FAILURE);
    }
    // A saved plan is checked before anything is read: a refused plan costs no API call.
    let saved = match &args.plan {
        Some(path) => match plan_file::read(path).and_then(|saved| {
            saved.check(&sha256, chrono::Utc::now(), args.max_plan_age)?;
            Ok(saved)
        }) {
            Ok(saved) => Some((path, saved)),
            Err(e) => {
                eprintln!("error: plan {}: {e}; nothing was written", path.display());
                return Ok(ExitCode::FAILURE);
            }
        },
        None => None,
    };
    let options = ReaderOptions {
        env: Arc::new(ProcessEnv),
        observer: Arc::new(NoObserver),
    };
    let source = match Reader::new(&state, options) {
        Ok(reader) => CloudSource(reader),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let text = args.format == ApplyFormat::Text;
    if let Some((path, saved)) = &saved {
        let write = saved.write_plan(&args.targets);
        if text {
            let mut out = std::io::stdout().lock();
            out.write_all(saved.text(&write).as_bytes())?;
            writeln!(
                out,
                "\napply will write {} tag change(s) of {} to {} resource(s) in {} call(s), once each is read \
                 again and still shows the tags the plan saw.",
                write.change_count(),
                path.display(),
                write.targets.len(),
                reconcile::batch(&write.targets).len()
            )?;
            out.flush()?;
        }
        if !approved(args, &write)? {
            return Ok(ExitCode::FAILURE);
        }
        let confirmed = runtime.block_on(async {
            tokio::select! {
                confirmed = apply::confirm(&state, &source, saved, write) => Some(confirmed),
                () = shutdown_signal() => None,
            }
        });
        let Some((write, refused)) = confirmed else {
            eprintln!("error: interrupted; nothing was written");
            return Ok(ExitCode::FAILURE);
        };
        for (account, reason) in refused {
            eprintln!("error: account {account}: the cloud refused its credentials: {reason}");
        }
        let applied = runtime.block_on(apply::run(&state, &source, &write));
        return print_applied(&applied, text);
    }
    let read = runtime.block_on(async {
        tokio::select! {
            read = check::read(&state, &source) => Some(read),
            () = shutdown_signal() => None,
        }
    });
    let Some(read) = read else {
        eprintln!("error: interrupted; nothing was written");
        return Ok(ExitCode::FAILURE);
    };
    for (account, reason) in read.refused_accounts() {
        eprintln!("error: account {account}: the cloud refused its credentials: {reason}");
    }
    let checked = check::plan(&state, read);
    let write = reconcile::select(&checked.plan, &args.targets);
    if text {
        let meta = ReportMeta {
            generated_at: checked.finished,
            duration: Some(checked.duration),
            source: Some(args.config.display().to_string()),
        };
        let color =
            !args.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
        let mut out = std::io::stdout().lock();
        out.write_all(report::text(&checked.plan, &meta, color).as_bytes())?;
        let batches = reconcile::batch(&write.targets).len();
        writeln!(
            out,
            "\napply will write {} tag change(s) to {} resource(s) in {batches} call(s); {} resource(s) skipped.",
            write.change_count(),
            write.targets.len(),
            write.skipped.len()
        )?;
        out.flush()?;
    }
    if !approved(args, &write)? {
        return Ok(ExitCode::FAILURE);
    }
    let applied = runtime.block_on(apply::run(&state, &source, &write));
    print_applied(&applied, text)
}

/// `--max-changes`, then the question on a terminal (unless `--auto-approve`): whether `write` may be sent.
/// A refusal has been explained on stderr.
fn approved(args: &ApplyArgs, write: &reconcile::WritePlan) -> anyhow::Result<bool> {
    if let Some(max) = args.max_changes
        && let Err(e) = write.check_limit(max)
    {
        eprintln!("error: {e}");
        return Ok(false);
    }
    if !write.targets.is_empty() && !args.auto_approve {
        eprint!("{APPROVAL_PROMPT}");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if answer.trim_end_matches(['\r', '\n']) != "yes" {
            eprintln!("Apply cancelled; nothing was written.");
            return Ok(false);
        }
    }
    Ok(true)
}

/// Prints the result of an apply (text or JSON) and returns its exit status.
fn print_applied(applied: &reconcile::Applied, text: bool) -> anyhow::Result<ExitCode> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if text {
        out.write_all(b"\n")?;
        out.write_all(applied.text().as_bytes())?;
    } else {
        serde_json::to_writer_pretty(&mut out, applied)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(if applied.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run(args: RunArgs, log_format: Option<LogFormat>) -> anyhow::Result<ExitCode> {
    let initial = match desired::load(&args.config) {
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
        unready_delay: daemon::UNREADY_DELAY,
        http: daemon::HttpLimits::default(),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(daemon::run(options, shutdown_signal()));
    // Shutdown is already bounded inside; do not wait on stray blocking work beyond it.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result?;
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

/// The commands that need the emulated clouds compiled in (the default `emulator` feature).
#[cfg(feature = "emulator")]
mod emulated {
    use std::process::ExitCode;
    use std::sync::Arc;
    use std::time::Duration;

    use tagdrift::cli::DemoArgs;
    use tagdrift::{daemon, demo};
    use tagdrift_cloud::credentials::MapEnv;
    use tagdrift_emulator::EmulateArgs;

    use super::shutdown_signal;

    pub(super) fn demo(args: &DemoArgs) -> anyhow::Result<ExitCode> {
        let runtime = tokio::runtime::Runtime::new()?;
        let sources = |credentials| daemon::cloud_sources(Arc::new(MapEnv::new(credentials)));
        let result = runtime.block_on(demo::run(args, sources, shutdown_signal()));
        runtime.shutdown_timeout(Duration::from_secs(1));
        result?;
        Ok(ExitCode::SUCCESS)
    }

    pub(super) fn emulate(args: &EmulateArgs) -> anyhow::Result<ExitCode> {
        let runtime = tokio::runtime::Runtime::new()?;
        runtime.block_on(tagdrift_emulator::run(args, shutdown_signal()))?;
        Ok(ExitCode::SUCCESS)
    }
}
