//! The `tagdrift` binary: parses the command line and hands each command to the library.

use std::process::ExitCode;

use clap::Parser;
use tagdrift::cli::{Cli, Command, ValidateArgs};
use tagdrift::config::{self, LogFormat};
use tagdrift::telemetry;

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format.map(LogFormat::from).unwrap_or(LogFormat::Text));
    let result = match cli.command {
        Command::Validate(args) => validate(&args),
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
