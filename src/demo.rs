//! `tagdrift demo`: tagdrift end to end on one machine, no cloud account needed. Starts the cloud emulator
//! in-process with a generated inventory in which some keys and secrets of both clouds have drifted, writes
//! the desired state that declares their correct tags (pointing at the emulator, checked every 10 seconds) to
//! a temporary directory, and runs the real daemon on it. Prints the first plan and the URLs, and runs until
//! the shutdown future completes. The desired state is a normal file: edit it and the daemon reloads it.

use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::DemoArgs;
use crate::daemon::{self, DaemonError, Options, SourceFactory};
use crate::scheduler::Checker;
use tagdrift_core::config::ConfigErrors;
use tagdrift_core::report::{self, ReportMeta};
use tagdrift_emulator::inventory::{self, GenerateOptions, InventoryError};
use tagdrift_emulator::{Clock, EmulatorError, Faults, Running, State, Store};

/// The seed of the demo inventory: chosen so both clouds have drift (a test checks it).
pub const SEED: u64 = 7;

/// Share of the demo's resources whose tags differ from the desired state.
pub const DRIFT_RATIO: f64 = 0.2;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot generate the demo inventory")]
    Inventory(#[source] InventoryError),
    #[error("cannot start the cloud emulator")]
    Emulator(#[source] EmulatorError),
    #[error("cannot write the demo desired state to {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the generated desired state is invalid:\n{errors}")]
    Config { errors: ConfigErrors },
    #[error("the daemon failed")]
    Daemon(#[source] DaemonError),
}

impl DemoError {
    pub fn code(&self) -> &'static str {
        match self {
            DemoError::Inventory(_) => "demo_inventory",
            DemoError::Emulator(_) => "demo_emulator",
            DemoError::Write { .. } => "demo_write",
            DemoError::Config { .. } => "config_invalid",
            DemoError::Daemon(e) => e.code(),
        }
    }
}

/// The emulated clouds and the files the daemon reads.
pub struct Prepared {
    pub emulator: Running,
    /// The temporary directory holding the desired state; removed by [`run`] on the way out.
    pub dir: PathBuf,
    pub config: PathBuf,
    /// Credential variable names and values the desired state refers to (given to the reader, not exported
    /// to the process environment).
    pub credentials: Vec<(String, String)>,
    /// Resources the inventory serves with drifted tags.
    pub drifted: usize,
}

/// The demo inventory for `resources` keys and secrets.
pub fn inventory(resources: usize) -> Result<inventory::Generated, InventoryError> {
    inventory::generate(&GenerateOptions {
        total: resources,
        tags_per_resource: 3,
        drift_ratio: DRIFT_RATIO,
        seed: SEED,
    })
}

/// The desired state for `generated` served at `endpoint`: every resource with its correct tags, checked on
/// `cron`, the daemon on `listen`.
pub fn desired_state(
    generated: &inventory::Generated,
    endpoint: &str,
    cron: &str,
    listen: SocketAddr,
) -> Result<String, InventoryError> {
    let mut yaml = inventory::desired_state_yaml(&generated.desired(), endpoint)?;
    if !yaml.ends_with('\n') {
        yaml.push('\n');
    }
    yaml.push_str(&format!(
        "schedule:\n  cron: \"{cron}\"\n  check_timeout_seconds: 60\n  request_timeout_seconds: 5\n  max_attempts: 2\n\
         daemon:\n  listen_address: \"{listen}\"\n  max_resource_series: 1000\n"
    ));
    Ok(yaml)
}

/// Starts the emulator and writes the desired state.
pub async fn prepare(args: &DemoArgs) -> Result<Prepared, DemoError> {
    let generated = inventory(args.resources as usize).map_err(DemoError::Inventory)?;
    let credentials = inventory::credential_env_vars(&generated.inventory)
        .into_iter()
        .flat_map(|c| c.vars)
        .collect();
    let store = Store::from_inventory(generated.inventory.clone()).map_err(DemoError::Inventory)?;
    let state = State::new(
        store,
        tagdrift_emulator::Options::default(),
        Faults::default(),
        Clock::system(),
    );
    let running = tagdrift_emulator::start(state, args.emulator_listen)
        .await
        .map_err(DemoError::Emulator)?;
    let yaml = desired_state(&generated, &running.endpoint(), &args.schedule, args.listen)
        .map_err(DemoError::Inventory)?;
    let dir = std::env::temp_dir().join(format!("tagdrift-demo-{}", std::process::id()));
    let config = dir.join("desired.yaml");
    let write = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&config, yaml));
    if let Err(source) = write {
        return Err(DemoError::Write {
            path: config.display().to_string(),
            source,
        });
    }
    Ok(Prepared {
        emulator: running,
        dir,
        config,
        credentials,
        drifted: generated.drifted,
    })
}

/// Runs the demo until `shutdown` completes. `sources` builds the cloud reader from the credential
/// variables of the prepared desired state.
pub async fn run(
    args: &DemoArgs,
    sources: impl FnOnce(Vec<(String, String)>) -> SourceFactory,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DemoError> {
    let started = Instant::now();
    let prepared = prepare(args).await?;
    let result = serve(
        args,
        prepared.config.clone(),
        sources(prepared.credentials.clone()),
        started,
        shutdown,
        &prepared,
    )
    .await;
    let _ = std::fs::remove_dir_all(&prepared.dir);
    if let Err(err) = prepared.emulator.stop().await {
        tracing::warn!(error = %err, "the emulator did not stop cleanly");
    }
    result
}

async fn serve(
    args: &DemoArgs,
    config_path: PathBuf,
    sources: SourceFactory,
    started: Instant,
    shutdown: impl Future<Output = ()>,
    prepared: &Prepared,
) -> Result<(), DemoError> {
    let initial = crate::desired::load(&config_path).map_err(|errors| DemoError::Config { errors })?;
    println!(
        "tagdrift demo: emulated Alibaba Cloud KMS and Huawei Cloud DEW at {} ({} resources, {} with drifted tags)",
        prepared.emulator.endpoint(),
        initial.resources.len(),
        prepared.drifted
    );
    println!(
        "desired state: {} (edit it: the daemon reloads it)",
        config_path.display()
    );
    let options = Options {
        config: config_path,
        initial,
        listen: Some(args.listen),
        sources,
        poll_interval: Duration::from_secs(1),
        on_listen: Some(Box::new(move |addr, checker| {
            tokio::spawn(announce(addr, checker, started));
        })),
        // Nothing routes to the demo; Ctrl-C should end it at once.
        unready_delay: Duration::ZERO,
        http: daemon::HttpLimits::default(),
    };
    daemon::run(options, shutdown).await.map_err(DemoError::Daemon)
}

/// Prints the first plan and the URLs once the first check has completed.
async fn announce(addr: SocketAddr, checker: Arc<Checker>, started: Instant) {
    let snapshot = loop {
        if let Some(s) = checker.last() {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let meta = ReportMeta {
        generated_at: snapshot.finished,
        duration: Some(snapshot.duration),
        source: Some(snapshot.path.clone()),
    };
    let plan = report::text(&snapshot.plan, &meta, false);
    let base = format!("http://{addr}");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "\n{plan}");
    let _ = writeln!(
        out,
        "First check done {:.1}s after start. Checking again on \"{}\"; Ctrl-C stops.\n  page:    {base}/\n  \
         metrics: {base}/metrics\n  report:  {base}/report (also /report.json, /report.md)",
        started.elapsed().as_secs_f64(),
        snapshot.state.schedule.cron
    );
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tagdrift_core::vocab::Cloud;

    #[test]
    fn the_demo_inventory_has_drift_in_both_clouds_and_its_desired_state_loads() {
        let generated = inventory(40).unwrap();
        let desired = generated.desired();
        assert_ne!(generated.inventory.alibaba, desired.alibaba, "no Alibaba drift");
        assert_ne!(generated.inventory.huawei, desired.huawei, "no Huawei drift");
        let yaml = desired_state(
            &generated,
            "http://127.0.0.1:8787",
            "*/10 * * * * *",
            "127.0.0.1:9898".parse().unwrap(),
        )
        .unwrap();
        let state = tagdrift_core::config::parse(&yaml, "demo.yaml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(state.resources.len(), 40);
        assert_eq!(state.schedule.cron, "*/10 * * * * *");
        assert!(state.accounts.iter().any(|a| a.cloud == Cloud::Alibaba));
        assert!(state.accounts.iter().any(|a| a.cloud == Cloud::Huawei));
    }
}
