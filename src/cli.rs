//! The command-line surface: clap definitions for every subcommand and their help texts. Parsing only;
//! `main.rs` wires each command to the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use tagdrift_core::config::{LogFormat, Selector};
use tagdrift_core::drift::Summary;
use tagdrift_core::reconcile::parse_target;
use tagdrift_core::reconcile::saved::parse_duration;

/// Keeps the tags on cloud KMS keys and secrets honest.
///
/// tagdrift reads a desired-state file that says which tags Alibaba Cloud KMS keys and secrets and Huawei Cloud
/// DEW keys and secrets must carry, reads the tags they really carry, and reports every difference.
#[derive(Debug, Parser)]
#[command(name = "tagdrift", version, about, long_about, propagate_version = true)]
pub struct Cli {
    /// Log format for diagnostics on stderr (the level comes from RUST_LOG, default "info").
    #[arg(long, global = true, value_enum, env = "TAGDRIFT_LOG_FORMAT")]
    pub log_format: Option<LogFormatArg>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a desired-state file and list every problem in it.
    ///
    /// Prints each problem as FILE:LINE:COL: FIELD: MESSAGE and exits 1 when there is any, 0 when the file is
    /// valid. Nothing is sent to any cloud.
    Validate(ValidateArgs),

    /// Read the tags of every declared (and discovered) key and secret once and report the drift.
    ///
    /// Exit status, like `terraform plan -detailed-exitcode`: 0 when everything is in sync; 2 when there is
    /// drift (a resource drifted, is missing, or is unmanaged) and everything could be read; 1 on an error
    /// (invalid file, credentials) or when anything could not be read, even if drift was found too: the
    /// report is then incomplete, so it must not pass for a complete list of drift.
    Check(CheckArgs),

    /// Put the tags back: read and plan as `check` does, then write the plan's changes.
    ///
    /// Writes exactly the `+ ~ -` changes of declared resources that drifted (never system tags, ignored keys
    /// or the extra tags of `allow_extra_tags` resources; never unknown, missing or undeclared resources),
    /// after asking on a terminal. Then reads the written resources again and reports each as applied,
    /// failed or skipped. With --plan FILE, writes the changes of a plan saved by `check --save-plan` instead,
    /// skipping as stale every resource whose tags changed since. Exit status: 0 when every planned change was
    /// applied and verified (or there was nothing to do), 1 otherwise.
    Apply(ApplyArgs),

    /// Write a desired-state file that declares every key and secret as it is tagged now.
    ///
    /// Reads every key and secret in the accounts and regions of --config (or only those the --match selectors
    /// name) and writes --output: the input's accounts, credential references, discovery, rules, ignores,
    /// schedule, daemon and reconcile sections as written, then one resource per key and secret with its current
    /// tags (system tags and ignored tag keys left out; keys with an alias named by it), sorted so that a
    /// re-import diffs cleanly. `tagdrift check` against the same clouds right after reports every resource in
    /// sync, unless a rule of the input flags one. Exit status: 0, or 1 when anything could not be read (listed
    /// in the file's header and on stderr; the file is written anyway) or nothing could be written.
    Import(ImportArgs),

    /// Print the JSON Schema of the desired-state file (for editors and independent validators).
    ///
    /// The schema checks each file's shape as `validate` does (unknown fields are errors); what needs the whole
    /// desired state, such as an account a resource names, is left to `validate`. The same schema is committed
    /// as docs/desired-state.schema.json.
    Schema,

    /// Serve emulated Alibaba Cloud KMS and Huawei Cloud DEW APIs for an inventory of keys and secrets.
    ///
    /// Both clouds share one address: Alibaba's RPC API (KMS, STS, ECS metadata) at `/`, Huawei's under
    /// `/v1/...`, `/v1.0/...` and the IAM paths. Signatures, pagination, error shapes and throttling follow the
    /// real services, so tagdrift, its Helm chart and your alerting can be tried without cloud credentials.
    /// Faults can be injected, and `/_emulator/stats` counts calls per API. Stops on Ctrl-C or SIGTERM.
    #[cfg(feature = "emulator")]
    Emulate(Box<tagdrift_emulator::EmulateArgs>),

    /// Run the daemon: check on the configured schedule and serve metrics, probes, reports and a web page.
    ///
    /// Checks once at start, then on `schedule.cron`. Serves `/` (HTML page), `/metrics`, `/healthz`,
    /// `/readyz`, `/report`, `/report.json` and `/report.md`. Reloads the desired state when the file changes
    /// or on SIGHUP (an invalid file is logged and the last good one stays in force). Stops on SIGTERM or
    /// Ctrl-C: the check in flight is cancelled and HTTP drains within a few seconds.
    Run(RunArgs),

    /// Try tagdrift without cloud accounts: emulated clouds with some drift, checked every 10 seconds.
    ///
    /// Starts the cloud emulator in-process with a generated inventory in which some keys and secrets of both
    /// clouds have drifted, writes the matching desired state to a temporary directory, runs the daemon
    /// against it, prints the first plan and the URLs of the page and the metrics, and runs until Ctrl-C.
    #[cfg(feature = "emulator")]
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The desired-state YAML file, or a directory whose *.yaml files are read together (watched for changes,
    /// every file of the directory, and files added or removed).
    #[arg(long, short, value_name = "PATH", env = "TAGDRIFT_CONFIG")]
    pub config: PathBuf,

    /// Address to serve HTTP on, overriding daemon.listen_address.
    #[arg(long, value_name = "ADDR", env = "TAGDRIFT_LISTEN")]
    pub listen: Option<SocketAddr>,
}

#[cfg(feature = "emulator")]
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address of the daemon's page, metrics and reports.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9898")]
    pub listen: SocketAddr,

    /// Address of the emulated clouds (port 0 picks a free one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub emulator_listen: SocketAddr,

    /// Keys and secrets in the emulated clouds, split over both clouds, both types and two regions each.
    #[arg(long, value_name = "N", default_value_t = 40, value_parser = clap::value_parser!(u32).range(8..=100_000))]
    pub resources: u32,

    /// When to check (cron with seconds, UTC).
    #[arg(long, value_name = "CRON", default_value = "*/10 * * * * *")]
    pub schedule: String,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The desired state whose accounts are read, a file or a directory of *.yaml files.
    #[arg(long, short, value_name = "PATH", env = "TAGDRIFT_CONFIG")]
    pub config: PathBuf,

    /// The file to write (replaced if it exists).
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,

    /// Only import resources this selector matches: `key=value` pairs of cloud, account, region, type and
    /// name (globs; a name glob matches key aliases too), e.g. `account=ali-prod,type=key`. Repeatable.
    #[arg(long = "match", value_name = "SELECTOR", value_parser = parse_target)]
    pub selectors: Vec<Selector>,

    /// Move the tags every resource of an account, region and type shares into a `defaults` entry.
    #[arg(long)]
    pub factor_defaults: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The desired-state YAML file, or a directory whose *.yaml files are read together as one desired state.
    #[arg(long, short, value_name = "PATH", env = "TAGDRIFT_CONFIG")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The desired-state YAML file, or a directory whose *.yaml files are read together as one desired state.
    #[arg(long, short, value_name = "PATH", env = "TAGDRIFT_CONFIG")]
    pub config: PathBuf,

    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Write the report to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Never color the text report (it is colored only on a terminal, and never when NO_COLOR is set).
    #[arg(long)]
    pub no_color: bool,

    /// Also save the writes `apply` would make to FILE (JSON), for `tagdrift apply --plan FILE`.
    #[arg(long, value_name = "FILE")]
    pub save_plan: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The desired-state YAML file, or a directory whose *.yaml files are read together as one desired state.
    #[arg(long, short, value_name = "PATH", env = "TAGDRIFT_CONFIG")]
    pub config: PathBuf,

    /// Write without asking. Required when standard input is not a terminal.
    #[arg(long)]
    pub auto_approve: bool,

    /// Only write resources this selector matches: `key=value` pairs of cloud, account, region, type and
    /// name (globs as in the desired state's `match`), e.g. `cloud=alibaba,account=ali-prod,type=key`.
    /// Repeatable; a resource matching any one is written.
    #[arg(long = "target", value_name = "SELECTOR", value_parser = parse_target)]
    pub targets: Vec<Selector>,

    /// Write nothing when the plan holds more tag changes than N (each `+`, `~` and `-` counts once).
    #[arg(long, value_name = "N")]
    pub max_changes: Option<usize>,

    /// Result format (the plan is printed as text only in the text format).
    #[arg(long, value_enum, default_value_t = ApplyFormat::Text)]
    pub format: ApplyFormat,

    /// Never color the plan.
    #[arg(long)]
    pub no_color: bool,

    /// Write the changes of this saved plan (`check --save-plan`) instead of planning afresh. Refused when it
    /// was made from another desired-state file or is older than --max-plan-age; each resource is read again
    /// first and skipped as stale when its tags changed since the plan.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,

    /// With --plan: the oldest plan applied, e.g. 30m, 1h, 1h30m, 2d.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub max_plan_age: Duration,
}

/// `--format` values of `apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApplyFormat {
    Text,
    Json,
}

/// `--format` values of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Markdown,
}

/// The exit status of `check` for a completed read (errors before the read exit 1 on their own).
///
/// Unknown wins over drift: 2 promises that the drift shown is all there is, which a partial read cannot.
pub fn check_exit_code(summary: &Summary) -> u8 {
    if summary.unknown > 0 || summary.unknown_scopes > 0 {
        1
    } else if summary.drifted > 0 || summary.missing > 0 || summary.unmanaged > 0 {
        2
    } else {
        0
    }
}

/// `--log-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(value: LogFormatArg) -> Self {
        match value {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn check_exit_code_precedence() {
        let s = |f: fn(&mut Summary)| {
            let mut s = Summary {
                total: 3,
                ..Summary::default()
            };
            f(&mut s);
            check_exit_code(&s)
        };
        assert_eq!(s(|s| s.in_sync = 3), 0);
        assert_eq!(s(|s| s.drifted = 1), 2);
        assert_eq!(s(|s| s.missing = 1), 2);
        assert_eq!(s(|s| s.unmanaged = 1), 2);
        assert_eq!(s(|s| s.unknown = 1), 1);
        assert_eq!(s(|s| s.unknown_scopes = 1), 1);
        assert_eq!(
            s(|s| {
                s.drifted = 2;
                s.unknown = 1;
            }),
            1
        );
    }
}
