//! The real `tagdrift emulate` binary as a test fixture. [`Listening`] is the one spawn of it every fixture
//! uses: start the command, learn the address from the JSON "emulator listening" log line, keep reading the log
//! (so the pipe never fills), kill the process on drop and print its log when a test fails. [`EmulatorProcess`]
//! is the emulator suites' fixture on top: 127.0.0.1:0 with `--manual-clock` (or the machine's clock),
//! start-up `Options`/`Faults` turned into command-line flags (and checked against what the running emulator
//! reports), the clock moved through `/_emulator/clock`. `util::cli::Emulator` is the `tagdrift check` suites'.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};
use tagdrift_emulator::{Faults, Options, StatsSnapshot};

use super::table::ClockMove;

/// Longest wait for the "emulator listening" line (a generated 100,000-resource inventory takes seconds in
/// a debug build on a shared machine).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// What the emulator serves.
pub enum Source<'a> {
    /// Inventory YAML, written to a temporary file for `--inventory`.
    Yaml(&'a str),
    /// `--generate N` (with the default tags per resource and drift ratio, seeded by `Options::seed`).
    Generate(usize),
}

/// Command-line flags for `options` and `faults`. Every field is destructured, so a new field fails to compile
/// here until it is mapped; fields without a flag must keep their defaults.
pub fn flags(options: &Options, faults: &Faults) -> Vec<String> {
    let Options {
        seed,
        max_clock_skew,
        temp_credential_lifetime,
        imds_token_required,
        refuse_region_wide_tag_listing,
        huawei_batch_answer,
        max_nonces,
        http,
    } = options.clone();
    let defaults = Options::default();
    assert_eq!(
        max_clock_skew, defaults.max_clock_skew,
        "tagdrift emulate has no flag for max_clock_skew"
    );
    assert_eq!(
        max_nonces, defaults.max_nonces,
        "tagdrift emulate has no flag for max_nonces"
    );
    let mut flags = vec!["--seed".to_owned(), seed.to_string()];
    if let Some(lifetime) = temp_credential_lifetime {
        assert_eq!(
            lifetime.subsec_nanos(),
            0,
            "--sts-duration-secs takes whole seconds"
        );
        flags.extend(["--sts-duration-secs".to_owned(), lifetime.as_secs().to_string()]);
    }
    if imds_token_required {
        flags.push("--imds-token-required".to_owned());
    }
    if refuse_region_wide_tag_listing {
        flags.push("--refuse-region-wide-tag-listing".to_owned());
    }
    let answer = clap::ValueEnum::to_possible_value(&huawei_batch_answer).expect("a named answer");
    flags.extend(["--huawei-batch-answer".to_owned(), answer.get_name().to_owned()]);
    for (flag, value) in [
        ("--header-read-timeout-ms", http.header_read_timeout.as_millis()),
        ("--idle-timeout-ms", http.idle_timeout.as_millis()),
        ("--max-connections", http.max_connections as u128),
    ] {
        flags.extend([flag.to_owned(), value.to_string()]);
    }

    let Faults {
        latency_ms,
        latency_jitter_ms,
        server_error,
        throttle,
        hang,
        reset,
        malformed,
        hang_ms,
        rate_limits_enabled,
        rate_limits,
    } = faults.clone();
    for (flag, value) in [
        ("--latency-ms", latency_ms.to_string()),
        ("--latency-jitter-ms", latency_jitter_ms.to_string()),
        ("--fault-5xx", server_error.to_string()),
        ("--fault-throttle", throttle.to_string()),
        ("--fault-hang", hang.to_string()),
        ("--fault-reset", reset.to_string()),
        ("--fault-malformed", malformed.to_string()),
        ("--hang-ms", hang_ms.to_string()),
    ] {
        flags.extend([flag.to_owned(), value]);
    }
    if !rate_limits_enabled {
        flags.push("--no-rate-limits".to_owned());
    }
    for (group, qps) in rate_limits {
        flags.extend(["--rate-limit".to_owned(), format!("{group}={qps}")]);
    }
    flags
}

/// `tagdrift --log-format json emulate --listen 127.0.0.1:0`, logging at info, run in `dir`; the caller adds
/// what it serves and its flags, then hands it to [`Listening::spawn`].
pub fn emulate_command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tagdrift"));
    cmd.current_dir(dir).env("RUST_LOG", "info").args([
        "--log-format",
        "json",
        "emulate",
        "--listen",
        "127.0.0.1:0",
    ]);
    cmd
}

/// A spawned `tagdrift emulate` that logged "emulator listening"; killed on drop, its log printed then if the
/// thread is panicking.
pub struct Listening {
    pub addr: SocketAddr,
    child: Option<Child>,
    /// Every stderr line so far (read by a thread, so the pipe never fills).
    log: Arc<Mutex<Vec<String>>>,
}

impl Listening {
    /// Spawns `cmd` (see [`emulate_command`]) and blocks until it listens, at most [`START_TIMEOUT`].
    pub fn spawn(mut cmd: Command) -> Listening {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tagdrift emulate");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (listening, addr) = mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || read_log(stderr, &lines, &listening));
        let addr = addr.recv_timeout(START_TIMEOUT);
        let process = Listening {
            addr: *addr.as_ref().unwrap_or(&SocketAddr::from(([127, 0, 0, 1], 0))),
            child: Some(child),
            log,
        };
        // On a panic here the drop kills the process and prints its log.
        match addr {
            Ok(_) => process,
            Err(RecvTimeoutError::Disconnected) => panic!("tagdrift emulate exited before listening"),
            Err(RecvTimeoutError::Timeout) => {
                panic!("tagdrift emulate did not listen within {START_TIMEOUT:?}")
            }
        }
    }

    /// Sends SIGTERM (a graceful shutdown) and hands over the process to wait for.
    pub fn terminate(&mut self) -> Child {
        let child = self.child.take().expect("running");
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("send SIGTERM");
        assert!(killed.success());
        child
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).join("\n")
    }
}

/// Collects the emulator's stderr; sends the address of the "emulator listening" line.
fn read_log(stderr: impl std::io::Read, log: &Mutex<Vec<String>>, listening: &mpsc::Sender<SocketAddr>) {
    let mut sent = false;
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if !sent
            && let Ok(event) = serde_json::from_str::<Value>(&line)
            && event["message"] == "emulator listening"
        {
            let addr = event["addr"].as_str().and_then(|a| a.parse().ok());
            let _ = listening.send(addr.expect("addr field of the listening line"));
            sent = true;
        }
        log.lock().unwrap_or_else(PoisonError::into_inner).push(line);
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- tagdrift emulate log ---\n{}\n---", self.log_text());
        }
    }
}

/// A suite's emulator fixture: an [`EmulatorProcess`] with its clock manual at the suite's start instant,
/// wrapped with what the suite adds (a signing client).
pub trait Fixture: Sized {
    /// The suite's start instant: where the manual clock starts.
    fn t0() -> DateTime<Utc>;

    fn from_process(run: EmulatorProcess) -> Self;

    fn process(&self) -> &EmulatorProcess;

    /// Serves the inventory `yaml` with default options and faults.
    async fn start(yaml: &str) -> Self {
        Self::start_with(yaml, Options::default(), Faults::default()).await
    }

    async fn start_with(yaml: &str, options: Options, faults: Faults) -> Self {
        let run = EmulatorProcess::spawn(Source::Yaml(yaml), Some(Self::t0()), &options, &faults).await;
        Self::from_process(run)
    }

    /// Serves a `--generate total` inventory.
    async fn start_generated(total: usize, options: Options, faults: Faults) -> Self {
        let run = EmulatorProcess::spawn(Source::Generate(total), Some(Self::t0()), &options, &faults).await;
        Self::from_process(run)
    }
}

/// A running `tagdrift emulate` for the emulator suites.
pub struct EmulatorProcess {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    process: Listening,
    /// The emulator's clock as it last reported it when manual (it only moves when this fixture moves it);
    /// `None` when it runs on the machine's clock.
    clock: Mutex<Option<DateTime<Utc>>>,
    _dir: tempfile::TempDir,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl EmulatorProcess {
    /// Spawns `tagdrift emulate` serving `source` with its clock manual at `t0` (`None`: the machine's clock),
    /// the flags for `options` and `faults`, and waits until it listens.
    pub async fn spawn(
        source: Source<'_>,
        t0: Option<DateTime<Utc>>,
        options: &Options,
        faults: &Faults,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = emulate_command(dir.path());
        if let Some(t0) = t0 {
            cmd.args(["--manual-clock", &rfc3339(t0)]);
        }
        match source {
            Source::Yaml(yaml) => {
                let path = dir.path().join("inventory.yaml");
                std::fs::write(&path, yaml).unwrap();
                cmd.arg("--inventory").arg(&path);
            }
            Source::Generate(total) => {
                cmd.args(["--generate", &total.to_string()]);
            }
        }
        cmd.args(flags(options, faults));
        let process = tokio::task::spawn_blocking(move || Listening::spawn(cmd))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let emu = EmulatorProcess {
            addr: process.addr,
            http: reqwest::Client::new(),
            process,
            clock: Mutex::new(t0),
            _dir: dir,
        };

        // The flags took: the emulator reports the same faults and the clock asked for.
        let served: Faults = emu.get_json("/_emulator/faults").await;
        assert_eq!(&served, faults, "faults served differ from the flags' intent");
        let clock: Value = emu.get_json("/_emulator/clock").await;
        match t0 {
            Some(t0) => assert_eq!(clock, json!({"now": rfc3339(t0), "manual": true})),
            None => assert_eq!(clock["manual"], false, "{clock}"),
        }
        emu
    }

    /// `http://<addr>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let r = self
            .http
            .get(format!("{}{path}", self.endpoint()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    /// The emulator clock (as it last answered when manual; only this fixture moves it).
    pub fn clock_now(&self) -> DateTime<Utc> {
        self.clock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .unwrap_or_else(Utc::now)
    }

    async fn post_clock(&self, body: Value) -> DateTime<Utc> {
        let r = self
            .http
            .post(format!("{}/_emulator/clock", self.endpoint()))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let answer: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "POST /_emulator/clock {body}: {answer}");
        let now = DateTime::parse_from_rfc3339(answer["now"].as_str().unwrap())
            .unwrap()
            .to_utc();
        *self.clock.lock().unwrap_or_else(PoisonError::into_inner) = Some(now);
        now
    }

    /// Moves the emulator clock to `at`.
    pub async fn set_clock(&self, at: DateTime<Utc>) {
        let now = self.post_clock(json!({"set": rfc3339(at)})).await;
        assert_eq!(now, at);
    }

    /// Moves the emulator clock by `by` (back when negative; millisecond steps).
    pub async fn advance(&self, by: TimeDelta) {
        let before = self.clock_now();
        let now = self
            .post_clock(json!({"advance_ms": by.num_milliseconds()}))
            .await;
        assert_eq!(now - before, by);
    }

    /// Moves the clock as a table case says, `At` counting from `t0`.
    pub async fn move_clock(&self, t0: DateTime<Utc>, clock: Option<ClockMove>) {
        match clock {
            None => {}
            Some(ClockMove::At(offset)) => self.set_clock(t0 + offset).await,
            Some(ClockMove::Advance(by)) => self.advance(by).await,
        }
    }

    pub async fn stats(&self) -> StatsSnapshot {
        self.get_json("/_emulator/stats").await
    }

    /// `POST /_emulator/faults` with `body`; must be accepted.
    pub async fn set_faults(&self, body: Value) {
        let r = self
            .http
            .post(format!("{}/_emulator/faults", self.endpoint()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }

    /// Stops the emulator with SIGTERM (a graceful shutdown) and returns its exit status.
    pub async fn stop(mut self) -> ExitStatus {
        let mut child = self.process.terminate();
        tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap()
    }
}
