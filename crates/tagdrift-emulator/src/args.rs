//! Command-line options of `tagdrift emulate` (the lead wires them into the CLI) and their translation into
//! the emulator's start-up [`Options`](super::Options) and initial [`Faults`](super::Faults).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::clock::Clock;
use super::faults::{Faults, parse_group};
use super::{BatchAnswer, EmulatorError, HttpLimits, Options};

/// `tagdrift emulate`: serve emulated Alibaba KMS/STS/ECS-metadata and Huawei DEW/IAM APIs on one address.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct EmulateArgs {
    /// Inventory YAML (accounts, credentials, keys, secrets and tags) to serve.
    #[arg(long, value_name = "FILE", conflicts_with = "generate")]
    pub inventory: Option<PathBuf>,

    /// Address to listen on (port 0 picks a free port; the address is logged).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,

    /// Generate a synthetic inventory of N resources instead of reading --inventory.
    #[arg(long, value_name = "N")]
    pub generate: Option<usize>,

    /// Tags per generated resource.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub tags_per_resource: usize,

    /// Share (0.0 to 1.0) of generated resources whose tags differ from the generated desired state.
    #[arg(long, value_name = "RATIO", default_value_t = 0.1)]
    pub drift_ratio: f64,

    /// Seed of the generator and of the fault dice.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,

    /// Write the served inventory as YAML to FILE.
    #[arg(long, value_name = "FILE")]
    pub write_inventory: Option<PathBuf>,

    /// Write a tagdrift desired-state file declaring every resource with its correct tags, pointing at the
    /// listen address.
    #[arg(long, value_name = "FILE")]
    pub write_desired_state: Option<PathBuf>,

    /// Only write the --write-* files, then exit without serving.
    #[arg(long)]
    pub no_serve: bool,

    /// Delay added to every cloud request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,

    /// Random extra delay of up to MS milliseconds per request.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_jitter_ms: u64,

    /// Probability of answering with the cloud's 5xx error.
    #[arg(long = "fault-5xx", value_name = "P", default_value_t = 0.0)]
    pub fault_5xx: f64,

    /// Probability of answering with the cloud's throttling error.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fault_throttle: f64,

    /// Probability of never answering (the connection is reset after --hang-ms).
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fault_hang: f64,

    /// Probability of dropping the connection without an answer (TCP reset).
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fault_reset: f64,

    /// Probability of a 200 answer with a truncated or mistyped body.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fault_malformed: f64,

    /// How long a hung request is held, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    pub hang_ms: u64,

    /// Do not enforce the per-group rate limits.
    #[arg(long)]
    pub no_rate_limits: bool,

    /// Override a rate limit, e.g. `alibaba.kms_read=10` (requests per second per account and region).
    /// Repeatable. Defaults are the documented quotas.
    #[arg(long = "rate-limit", value_name = "CLOUD.GROUP=QPS")]
    pub rate_limits: Vec<String>,

    /// Lifetime of temporary credentials the emulator issues (STS, ECS metadata), overriding the requested
    /// duration; short values exercise credential refresh.
    #[arg(long, value_name = "SECS")]
    pub sts_duration_secs: Option<u64>,

    /// Refuse ECS metadata requests without a session token (IMDSv2 only).
    #[arg(long)]
    pub imds_token_required: bool,

    /// Alibaba KMS: refuse `ListTagResources` without `ResourceId` (400 MissingParameter), as the real
    /// service may; exercises tagdrift's fallback to id batches.
    #[arg(long)]
    pub refuse_region_wide_tag_listing: bool,

    /// Huawei `resource_instances/action`: answer like the per-resource tag calls (`complete`), or leave out
    /// untagged resources, drop a tag of every resource, or refuse the call; exercises tagdrift's
    /// `batch_tag_read: auto` comparison.
    #[arg(long, value_enum, value_name = "ANSWER", default_value_t = BatchAnswer::Complete)]
    pub huawei_batch_answer: BatchAnswer,

    /// Start the emulator clock at this RFC 3339 instant and move it only through `POST /_emulator/clock`
    /// (for tests replaying signed requests at their timestamps). Without it the system clock is used.
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339)]
    pub manual_clock: Option<DateTime<Utc>>,

    /// Close a connection whose request head has not fully arrived this long after it began.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_ms: u64,

    /// Close a connection that has had no request in flight for this long.
    #[arg(long, value_name = "MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_ms: u64,

    /// Most connections open at once; more wait to be accepted until one closes.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
}

fn parse_rfc3339(value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.to_utc())
        .map_err(|e| format!("expected an RFC 3339 time such as 2025-01-02T03:04:05Z ({e})"))
}

impl EmulateArgs {
    /// Defaults for everything, serving `inventory`: handy for tests.
    pub fn for_inventory(inventory: PathBuf) -> EmulateArgs {
        EmulateArgs {
            inventory: Some(inventory),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            generate: None,
            tags_per_resource: 4,
            drift_ratio: 0.1,
            seed: 1,
            write_inventory: None,
            write_desired_state: None,
            no_serve: false,
            latency_ms: 0,
            latency_jitter_ms: 0,
            fault_5xx: 0.0,
            fault_throttle: 0.0,
            fault_hang: 0.0,
            fault_reset: 0.0,
            fault_malformed: 0.0,
            hang_ms: 60_000,
            no_rate_limits: false,
            rate_limits: Vec::new(),
            sts_duration_secs: None,
            imds_token_required: false,
            refuse_region_wide_tag_listing: false,
            huawei_batch_answer: BatchAnswer::Complete,
            manual_clock: None,
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            max_connections: 1024,
        }
    }

    /// The emulator clock: manual from `--manual-clock`, else the system clock.
    pub fn clock(&self) -> Clock {
        match self.manual_clock {
            Some(at) => Clock::manual(at),
            None => Clock::system(),
        }
    }

    /// The initial fault and limit settings.
    pub fn faults(&self) -> Result<Faults, EmulatorError> {
        let mut faults = Faults {
            latency_ms: self.latency_ms,
            latency_jitter_ms: self.latency_jitter_ms,
            server_error: self.fault_5xx,
            throttle: self.fault_throttle,
            hang: self.fault_hang,
            reset: self.fault_reset,
            malformed: self.fault_malformed,
            hang_ms: self.hang_ms,
            rate_limits_enabled: !self.no_rate_limits,
            ..Faults::default()
        };
        for arg in &self.rate_limits {
            let parsed = arg.split_once('=').and_then(|(group, qps)| {
                let qps: f64 = qps.trim().parse().ok()?;
                parse_group(group.trim())?;
                Some((group.trim().to_owned(), qps))
            });
            let (group, qps) = parsed.ok_or_else(|| EmulatorError::RateLimitArg(arg.clone()))?;
            faults.rate_limits.insert(group, qps);
        }
        faults.validate().map_err(EmulatorError::Faults)?;
        Ok(faults)
    }

    /// The start-up options.
    pub fn options(&self) -> Options {
        Options {
            seed: self.seed,
            temp_credential_lifetime: self.sts_duration_secs.map(Duration::from_secs),
            imds_token_required: self.imds_token_required,
            refuse_region_wide_tag_listing: self.refuse_region_wide_tag_listing,
            huawei_batch_answer: self.huawei_batch_answer,
            http: HttpLimits {
                header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
                idle_timeout: Duration::from_millis(self.idle_timeout_ms),
                max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            },
            ..Options::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulateArgs,
    }

    #[test]
    fn flags_become_faults_and_options() {
        let cli = Cli::try_parse_from([
            "emulate",
            "--generate",
            "100",
            "--fault-5xx",
            "0.1",
            "--rate-limit",
            "alibaba.kms_read=5",
            "--sts-duration-secs",
            "60",
        ])
        .unwrap();
        let faults = cli.args.faults().unwrap();
        assert_eq!(faults.server_error, 0.1);
        assert_eq!(faults.rate_limits["alibaba.kms_read"], 5.0);
        assert_eq!(
            cli.args.options().temp_credential_lifetime,
            Some(Duration::from_secs(60))
        );
        assert!(!cli.args.options().refuse_region_wide_tag_listing);
        let cli =
            Cli::try_parse_from(["emulate", "--generate", "1", "--refuse-region-wide-tag-listing"]).unwrap();
        assert!(cli.args.options().refuse_region_wide_tag_listing);
        assert_eq!(cli.args.options().huawei_batch_answer, BatchAnswer::Complete);
        for (flag, want) in [
            ("complete", BatchAnswer::Complete),
            ("omit-untagged", BatchAnswer::OmitUntagged),
            ("drop-tag", BatchAnswer::DropTag),
            ("refuse", BatchAnswer::Refuse),
        ] {
            let cli =
                Cli::try_parse_from(["emulate", "--generate", "1", "--huawei-batch-answer", flag]).unwrap();
            assert_eq!(cli.args.options().huawei_batch_answer, want, "{flag}");
        }
        assert!(
            Cli::try_parse_from(["emulate", "--generate", "1", "--huawei-batch-answer", "half"]).is_err()
        );

        for bad in [
            "alibaba.kms_read",
            "alibaba.nope=3",
            "alibaba.kms_read=x",
            "alibaba.kms_read=-1",
        ] {
            let cli = Cli::try_parse_from(["emulate", "--generate", "1", "--rate-limit", bad]).unwrap();
            assert!(cli.args.faults().is_err(), "{bad}");
        }
        assert!(Cli::try_parse_from(["emulate", "--generate", "1", "--inventory", "x.yaml"]).is_err());
    }

    #[test]
    fn connection_flags_become_http_limits() {
        let defaults = Cli::try_parse_from(["emulate", "--generate", "1"]).unwrap();
        assert_eq!(defaults.args.options().http, HttpLimits::default());
        let cli = Cli::try_parse_from([
            "emulate",
            "--generate",
            "1",
            "--header-read-timeout-ms",
            "250",
            "--idle-timeout-ms",
            "1500",
            "--max-connections",
            "8",
        ])
        .unwrap();
        assert_eq!(
            cli.args.options().http,
            HttpLimits {
                header_read_timeout: Duration::from_millis(250),
                idle_timeout: Duration::from_millis(1500),
                max_connections: 8,
            }
        );
        for flag in [
            "--header-read-timeout-ms",
            "--idle-timeout-ms",
            "--max-connections",
        ] {
            assert!(
                Cli::try_parse_from(["emulate", "--generate", "1", flag, "0"]).is_err(),
                "{flag} 0"
            );
        }
    }

    #[test]
    fn manual_clock_flag_starts_a_manual_clock() {
        let cli = Cli::try_parse_from([
            "emulate",
            "--generate",
            "1",
            "--manual-clock",
            "2025-01-02T11:04:05+08:00",
        ])
        .unwrap();
        let clock = cli.args.clock();
        assert!(clock.is_manual());
        assert_eq!(clock.now().to_rfc3339(), "2025-01-02T03:04:05+00:00");

        let cli = Cli::try_parse_from(["emulate", "--generate", "1"]).unwrap();
        assert!(!cli.args.clock().is_manual());
        for bad in ["2025-01-02", "2025-01-02T03:04:05", "yesterday"] {
            let err = Cli::try_parse_from(["emulate", "--generate", "1", "--manual-clock", bad])
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(err.to_string().contains("RFC 3339"), "{bad}: {err}");
        }
    }
}
