//! Runs the daemon in-process on a free port with a scripted source, for tests that talk to it over HTTP.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tagdrift::check::{BoxFuture, Source};
use tagdrift::daemon::{self, DaemonError, HttpLimits, Options, SourceFactory};
use tagdrift::scheduler::Checker;
use tagdrift_cloud::credentials::MapEnv;
use tagdrift_cloud::write::{WriteError, Written};
use tagdrift_core::config::DesiredState;
use tagdrift_core::reconcile::Batch;
use tagdrift_core::vocab::{
    Cloud, ErrorCode, Observations, Observed, Outcome, ReadError, ResourceRef, ResourceType, Tags,
};
use tokio::sync::{Notify, oneshot};

pub const FIXTURE: &str = include_str!("../fixtures/daemon/desired.yaml");

/// A scripted cloud: answers every declared resource of the desired state from a table, after an optional
/// delay, and can hold reads until released. Records overlapping reads.
pub struct Scripted {
    pub answers: Mutex<BTreeMap<String, Outcome>>,
    pub delay: Mutex<Duration>,
    pub gate: Mutex<Option<Arc<Notify>>>,
    pub reads: AtomicUsize,
    pub active: AtomicUsize,
    pub max_active: AtomicUsize,
    /// Tag writes received (self-healing), in order.
    pub writes: Mutex<Vec<Batch>>,
    /// Holds every write until notified, when set.
    pub write_gate: Mutex<Option<Arc<Notify>>>,
}

struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pub fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl Scripted {
    /// The answers for tests/fixtures/daemon/desired.yaml: one resource of each kind of outcome. The drifted
    /// key carries a tag value made to break HTML that is not escaped.
    pub fn fixture() -> Arc<Scripted> {
        let answers = BTreeMap::from([
            (
                "key-drifted".to_owned(),
                Outcome::Found(tags(&[
                    ("owner", "payments"),
                    ("env", "<img src=x onerror=\"document.title='pwned'\">"),
                ])),
            ),
            (
                "db-password".to_owned(),
                Outcome::Found(tags(&[("owner", "payments")])),
            ),
            ("api-token".to_owned(), Outcome::NotFound),
            (
                "0d0466b0-e727-4d9c-b35d-f84bb474a37f".to_owned(),
                Outcome::Failed(ReadError::new(ErrorCode::Throttled, "throttled after 2 attempts")),
            ),
        ]);
        Arc::new(Scripted {
            answers: Mutex::new(answers),
            delay: Mutex::new(Duration::ZERO),
            gate: Mutex::new(None),
            reads: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            max_active: AtomicUsize::new(0),
            writes: Mutex::new(Vec::new()),
            write_gate: Mutex::new(None),
        })
    }

    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    /// Holds every read until the returned handle is notified.
    pub fn hold(&self) -> Arc<Notify> {
        let gate = Arc::new(Notify::new());
        *self.gate.lock().unwrap() = Some(gate.clone());
        gate
    }

    pub fn release(&self) {
        if let Some(gate) = self.gate.lock().unwrap().take() {
            gate.notify_waiters();
        }
    }
}

impl Source for Scripted {
    /// Records the batch and accepts it, after the write gate if one is set.
    fn write<'a>(
        &'a self,
        _: &'a DesiredState,
        batch: &'a Batch,
    ) -> BoxFuture<'a, Result<Written, WriteError>> {
        Box::pin(async move {
            self.writes.lock().unwrap().push(batch.clone());
            let gate = self.write_gate.lock().unwrap().clone();
            if let Some(gate) = gate {
                gate.notified().await;
            }
            Ok(Written {
                request_id: Some(format!("scripted-{}", self.writes.lock().unwrap().len())),
            })
        })
    }

    fn read<'a>(&'a self, state: &'a DesiredState) -> BoxFuture<'a, Observations> {
        Box::pin(async move {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
            let _leave = Leave(&self.active);
            self.max_active.fetch_max(now, Ordering::SeqCst);
            let gate = self.gate.lock().unwrap().clone();
            if let Some(gate) = gate {
                gate.notified().await;
            }
            let delay = *self.delay.lock().unwrap();
            tokio::time::sleep(delay).await;
            let answers = self.answers.lock().unwrap().clone();
            let resources = state
                .resources
                .iter()
                .map(|d| {
                    let resource = ResourceRef {
                        cloud: d.cloud,
                        account: d.account.clone(),
                        region: d.region.clone(),
                        resource_type: d.resource_type,
                        id: d.id.clone(),
                    };
                    let outcome = answers
                        .get(&d.id)
                        .cloned()
                        .unwrap_or_else(|| Outcome::Found(d.tags.clone()));
                    Observed {
                        resource,
                        native_id: None,
                        alias: (d.resource_type == ResourceType::Key && d.cloud == Cloud::Alibaba)
                            .then(|| "alias/app-key".to_owned()),
                        outcome,
                    }
                })
                .collect();
            Observations {
                resources,
                scope_failures: Vec::new(),
                left_out: Vec::new(),
                read_plans: Vec::new(),
            }
        })
    }
}

pub struct Daemon {
    pub base: String,
    pub checker: Arc<Checker>,
    pub config: PathBuf,
    /// The scripted source, unless the daemon reads a real cloud ([`start_cloud`]).
    pub source: Option<Arc<Scripted>>,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), DaemonError>>,
}

/// Writes `yaml` as the desired state and starts the daemon on 127.0.0.1:0 with `source`.
pub async fn start(yaml: &str, source: Arc<Scripted>) -> Daemon {
    start_with(yaml, source, Duration::ZERO, HttpLimits::default()).await
}

/// Writes `parts` (name, YAML) into a directory and starts the daemon with that directory as its desired state.
pub async fn start_dir(parts: &[(&str, &str)], source: Arc<Scripted>) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("desired.d");
    std::fs::create_dir(&config).unwrap();
    for (name, yaml) in parts {
        std::fs::write(config.join(name), yaml).unwrap();
    }
    let for_factory = source.clone();
    let sources: SourceFactory = Arc::new(move |_, _| Ok(for_factory.clone() as Arc<dyn Source>));
    launch(
        dir,
        config,
        sources,
        Some(source),
        Duration::ZERO,
        HttpLimits::default(),
    )
    .await
}

/// [`start`], keeping HTTP up (with `/readyz` at 503) for `unready_delay` once shutdown begins, with `http`
/// as the server's timeouts and connection cap.
pub async fn start_with(
    yaml: &str,
    source: Arc<Scripted>,
    unready_delay: Duration,
    http: HttpLimits,
) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("desired.yaml");
    std::fs::write(&config, yaml).unwrap();
    let for_factory = source.clone();
    let sources: SourceFactory = Arc::new(move |_, _| Ok(for_factory.clone() as Arc<dyn Source>));
    launch(dir, config, sources, Some(source), unready_delay, http).await
}

/// Starts the daemon with `yaml` reading (and writing) the clouds through the real reader, with the test
/// credentials of tests/util/cli.rs; the desired state points at an emulator.
pub async fn start_cloud(yaml: &str) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("desired.yaml");
    std::fs::write(&config, yaml).unwrap();
    let env = Arc::new(MapEnv::new(crate::util::cli::ENV.iter().copied()));
    let sources = daemon::cloud_sources(env);
    launch(dir, config, sources, None, Duration::ZERO, HttpLimits::default()).await
}

async fn launch(
    dir: tempfile::TempDir,
    config: PathBuf,
    sources: SourceFactory,
    source: Option<Arc<Scripted>>,
    unready_delay: Duration,
    http: HttpLimits,
) -> Daemon {
    let initial = tagdrift::desired::load(&config).unwrap_or_else(|e| panic!("{e}"));
    let (listening, listened) = oneshot::channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let options = Options {
        config: config.clone(),
        initial,
        listen: Some("127.0.0.1:0".parse().unwrap()),
        sources,
        poll_interval: Duration::from_millis(100),
        on_listen: Some(Box::new(move |addr, checker| {
            let _ = listening.send((addr, checker));
        })),
        unready_delay,
        http,
    };
    let task = tokio::spawn(daemon::run(options, async move {
        let _ = stopped.await;
    }));
    let (addr, checker) = tokio::time::timeout(Duration::from_secs(10), listened)
        .await
        .expect("the daemon listens within 10 s")
        .expect("the daemon started");
    Daemon {
        base: format!("http://{addr}"),
        checker,
        config,
        source,
        http: reqwest::Client::new(),
        _dir: dir,
        stop: Some(stop),
        task,
    }
}

impl Daemon {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub async fn text(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    pub async fn metrics(&self) -> String {
        let (status, body) = self.text("/metrics").await;
        assert_eq!(status, 200);
        body
    }

    /// Waits until `/metrics` has `line`, or panics with the last output after `within`.
    pub async fn wait_metric(&self, line: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let body = self.metrics().await;
            if body.lines().any(|l| l == line) {
                return body;
            }
            if Instant::now() > deadline {
                panic!("no {line:?} in /metrics after {within:?}:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The scripted source of a daemon started with [`start`].
    pub fn scripted(&self) -> &Scripted {
        self.source
            .as_deref()
            .expect("the daemon reads a scripted source")
    }

    /// Waits until `/metrics` satisfies `ok`, or panics with the last output after `within`.
    pub async fn wait_metrics(&self, what: &str, within: Duration, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let body = self.metrics().await;
            if ok(&body) {
                return body;
            }
            if Instant::now() > deadline {
                panic!("{what}: not in /metrics after {within:?}:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the first completed check.
    pub async fn first_check(&self) {
        self.wait_metric("tagdrift_checks_total 1", Duration::from_secs(10))
            .await;
    }

    pub fn write_config(&self, yaml: &str) {
        write_atomically(&self.config, yaml);
    }

    /// Begins shutdown as SIGTERM would, without waiting for it.
    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops the daemon as SIGTERM would and returns how long it took.
    pub async fn stop(mut self) -> Duration {
        let began = Instant::now();
        self.begin_stop();
        tokio::time::timeout(Duration::from_secs(15), &mut self.task)
            .await
            .expect("the daemon stops within 15 s")
            .expect("the daemon task did not panic")
            .expect("the daemon stops cleanly");
        began.elapsed()
    }
}

/// Replaces a file the way editors and Kubernetes do: write beside it, then rename over it.
pub fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The exposition lines of exactly `metric` (no HELP/TYPE, no longer names).
pub fn metric_lines(text: &str, metric: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            l.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .map(str::to_owned)
        .collect()
}

/// A test tool is not installed: skip loudly on a developer machine, fail where .ci/run set
/// TAGDRIFT_REQUIRE_TEST_TOOLS (CI installs every tool, so a skip there would hide a broken install).
pub fn missing_tool(what: &str) {
    let message = format!("{what} is not installed (.ci/run installs it)");
    if std::env::var_os("TAGDRIFT_REQUIRE_TEST_TOOLS").is_some() {
        panic!("{message}, and TAGDRIFT_REQUIRE_TEST_TOOLS is set");
    }
    eprintln!("\n!!!!!!!! SKIPPED: {message} !!!!!!!!\n");
}
