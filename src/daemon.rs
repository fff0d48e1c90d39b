//! `tagdrift run`: the long-running daemon. Wires the desired state, the cloud source, the [`Checker`] and its
//! cron [`Schedule`], the metrics and the HTTP server together, reloads the desired state when its file
//! changes or on SIGHUP, and shuts down in bounded time when the caller's shutdown future completes
//! (SIGTERM/Ctrl-C in the binary).
//!
//! Reload watches the file's content, not inotify events: Kubernetes updates a mounted ConfigMap by swapping
//! the `..data` symlink in the file's directory, which an mtime- or event-based watch on the file itself can
//! miss, while reading the path once a second always sees the new content. A desired state that is a directory
//! is watched as its list of `*.yaml` files and each file's content, so an added, removed or renamed part
//! reloads too.

use std::error::Error as StdError;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::check::{CloudSource, Source};
use crate::desired;
use crate::metrics::Metrics;
use crate::scheduler::{Active, Checker, Schedule, ScheduleError};
use crate::server::{self, AppState};
use tagdrift_cloud::CallObserver;
use tagdrift_cloud::credentials::EnvLookup;
use tagdrift_cloud::read::{Reader, ReaderOptions};
use tagdrift_core::config::{ConfigErrors, DesiredState};

/// Why a source could not be built for a desired state (the reader's setup error, boxed).
pub type SourceError = Box<dyn StdError + Send + Sync>;

/// Builds the [`Source`] for a desired state. Called at startup and on every reload, so credentials and
/// endpoints follow the desired state. The observer counts the source's API calls in the metrics.
pub type SourceFactory =
    Arc<dyn Fn(&DesiredState, Arc<dyn CallObserver>) -> Result<Arc<dyn Source>, SourceError> + Send + Sync>;

/// The clouds, read by [`Reader`], with credential variables looked up in `env`. A new reader is built for every
/// (re)loaded desired state.
pub fn cloud_sources(env: Arc<dyn EnvLookup>) -> SourceFactory {
    Arc::new(move |state, observer| {
        let reader = Reader::new(
            state,
            ReaderOptions {
                env: env.clone(),
                observer,
            },
        )?;
        Ok(Arc::new(CloudSource(reader)) as Arc<dyn Source>)
    })
}

/// Called once the server listens, with the bound address and the checker (the demo prints URLs from it).
pub type OnListen = Box<dyn FnOnce(SocketAddr, Arc<Checker>) + Send>;

/// How long shutdown waits for the check runner and for open HTTP connections, each.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long `tagdrift run` keeps answering, with `/readyz` at 503, once shutdown begins, before it stops
/// accepting connections: probes and load balancers see the pod unready rather than refusing connections.
pub const UNREADY_DELAY: Duration = Duration::from_secs(1);

pub struct Options {
    /// The desired-state file, re-read on change and on SIGHUP.
    pub config: PathBuf,
    /// The desired state already loaded from `config` (the binary loads it first to pick the log format).
    pub initial: DesiredState,
    /// Overrides `daemon.listen_address`.
    pub listen: Option<SocketAddr>,
    pub sources: SourceFactory,
    /// How often the file is checked for changes.
    pub poll_interval: Duration,
    pub on_listen: Option<OnListen>,
    /// How long HTTP keeps answering (`/readyz` 503) after shutdown begins, at least; the check runner's
    /// drain runs meanwhile. [`UNREADY_DELAY`] for `tagdrift run`.
    pub unready_delay: Duration,
    /// Timeouts and the connection cap of the HTTP server ([`HttpLimits::default`] for `tagdrift run`).
    pub http: HttpLimits,
}

pub use tagdrift_serve::Limits as HttpLimits;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot set up reading the clouds for {path}")]
    Source {
        path: String,
        #[source]
        source: SourceError,
    },
    #[error("cannot listen on {address}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot schedule checks")]
    Schedule(#[source] ScheduleError),
}

impl DaemonError {
    pub fn code(&self) -> &'static str {
        match self {
            DaemonError::Source { .. } => "source_setup",
            DaemonError::Bind { .. } => "bind",
            DaemonError::Schedule(e) => e.code(),
        }
    }
}

/// Runs the daemon until `shutdown` completes, then cancels the check in flight, drains HTTP and returns.
pub async fn run(options: Options, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
    let path = options.config.display().to_string();
    let Started {
        checker,
        observer,
        address,
        cron,
    } = start(options.initial, &options.sources, options.listen, &path)?;

    let (cancel, cancelled) = watch::channel(false);
    // HTTP stops on its own signal, after the runner, so `/readyz` answers 503 while the daemon drains.
    let (close_http, http_closed) = watch::channel(false);
    let http = Http::serve(address, &checker, options.http, http_closed).await?;
    tracing::info!(address = %http.local, config = %path, "serving /, /metrics, /healthz, /readyz and /report");
    if let Some(on_listen) = options.on_listen {
        on_listen(http.local, checker.clone());
    }

    let runner = tokio::spawn(checker.clone().run(cancelled.clone()));
    checker.tick();
    let mut schedule = match Schedule::start(&cron, checker.clone()).await {
        Ok(s) => s,
        Err(err) => {
            let _ = cancel.send(true);
            let _ = close_http.send(true);
            return Err(DaemonError::Schedule(err));
        }
    };

    let reloader = Reloader {
        path: &options.config,
        sources: &options.sources,
        observer,
        checker: &checker,
    };
    reloader
        .reload_until(shutdown, &mut schedule, options.poll_interval)
        .await;
    stop(
        Draining {
            http,
            close_http,
            unready_delay: options.unready_delay,
        },
        cancel,
        schedule,
        runner,
    )
    .await
}

/// The HTTP side of shutdown.
struct Draining {
    http: Http,
    close_http: watch::Sender<bool>,
    unready_delay: Duration,
}

/// What startup wires together before anything listens.
struct Started {
    checker: Arc<Checker>,
    /// The metrics, as the observer every source (the first and the reloaded ones) reports its API calls to.
    observer: Arc<dyn CallObserver>,
    address: SocketAddr,
    cron: String,
}

/// Builds the metrics, the source and the checker for the desired state loaded at startup.
fn start(
    initial: DesiredState,
    sources: &SourceFactory,
    listen: Option<SocketAddr>,
    path: &str,
) -> Result<Started, DaemonError> {
    let state = Arc::new(initial);
    let metrics = Arc::new(Metrics::new(state.clone()));
    let observer: Arc<dyn CallObserver> = metrics.clone();
    let source = sources(&state, observer.clone()).map_err(|source| DaemonError::Source {
        path: path.to_owned(),
        source,
    })?;
    let loaded_at = Utc::now();
    metrics.config_loaded(state.clone(), loaded_at, false);
    let address = listen.unwrap_or(state.daemon.listen_address);
    let cron = state.schedule.cron.clone();
    let checker = Checker::new(
        Active {
            state,
            source,
            path: path.to_owned(),
            loaded_at,
        },
        metrics,
    );
    Ok(Started {
        checker,
        observer,
        address,
        cron,
    })
}

/// The HTTP server, running until the cancel channel says `true`.
struct Http {
    local: SocketAddr,
    /// What `/readyz` reports: true from the moment the server runs until shutdown begins.
    ready: Arc<AtomicBool>,
    server: JoinHandle<()>,
}

impl Http {
    async fn serve(
        address: SocketAddr,
        checker: &Arc<Checker>,
        limits: HttpLimits,
        mut cancelled: watch::Receiver<bool>,
    ) -> Result<Http, DaemonError> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| DaemonError::Bind { address, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| DaemonError::Bind { address, source })?;
        let ready = Arc::new(AtomicBool::new(false));
        let app = server::app(AppState {
            checker: checker.clone(),
            ready: ready.clone(),
        });
        let server = tokio::spawn(tagdrift_serve::serve(
            listener,
            app,
            tagdrift_serve::no_connect_info,
            limits,
            async move {
                let _ = cancelled.wait_for(|c| *c).await;
            },
        ));
        ready.store(true, Ordering::Release);
        Ok(Http { local, ready, server })
    }
}

/// Shuts down what [`run`] started: `/readyz` turns 503 and the check in flight is cancelled; HTTP keeps
/// answering until the runner stopped (at most [`DRAIN_TIMEOUT`]) and the unready delay passed, then open
/// connections get [`DRAIN_TIMEOUT`].
async fn stop(
    draining: Draining,
    cancel: watch::Sender<bool>,
    schedule: Schedule,
    runner: JoinHandle<()>,
) -> Result<(), DaemonError> {
    let Draining {
        http,
        close_http,
        unready_delay,
    } = draining;
    tracing::info!("shutting down: cancelling the check in flight and draining HTTP");
    // Cancel first: once `/readyz` answers 503, no new check or tag write can start.
    let _ = cancel.send(true);
    http.ready.store(false, Ordering::Release);
    let unready_until = tokio::time::Instant::now() + unready_delay;
    schedule.shutdown().await;
    if tokio::time::timeout(DRAIN_TIMEOUT, runner).await.is_err() {
        tracing::warn!("the check runner did not stop in time");
    }
    tokio::time::sleep_until(unready_until).await;
    let _ = close_http.send(true);
    let abort = http.server.abort_handle();
    match tokio::time::timeout(DRAIN_TIMEOUT, http.server).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::error!(error = %err, "the HTTP server task failed"),
        Err(_) => {
            tracing::warn!(
                seconds = DRAIN_TIMEOUT.as_secs(),
                "HTTP connections still open after the drain timeout; closing them"
            );
            abort.abort();
        }
    }
    tracing::info!("stopped");
    Ok(())
}

struct Reloader<'a> {
    path: &'a Path,
    sources: &'a SourceFactory,
    observer: Arc<dyn CallObserver>,
    checker: &'a Arc<Checker>,
}

impl Reloader<'_> {
    /// Reloads on SIGHUP and whenever the file's content changes, until `shutdown` completes. Every read of the
    /// file runs on a blocking thread and is raced against `shutdown`, so a file that is slow or endless to read
    /// never holds shutdown up.
    async fn reload_until(
        &self,
        shutdown: impl Future<Output = ()>,
        schedule: &mut Schedule,
        poll_interval: Duration,
    ) {
        tokio::pin!(shutdown);
        let path = self.path.to_owned();
        let watch = tokio::select! {
            biased;
            () = &mut shutdown => return,
            watch = off_runtime(move || FileWatch::new(&path)) => match watch {
                Some(watch) => Arc::new(std::sync::Mutex::new(watch)),
                None => return,
            },
        };
        let mut poll = tokio::time::interval(poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut hangup = Hangup::new();
        loop {
            let event = tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = hangup.recv() => Event::Hangup,
                _ = poll.tick() => Event::Poll,
            };
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = self.handle(event, &watch, schedule) => {}
            }
        }
    }

    async fn handle(&self, event: Event, watch: &Arc<std::sync::Mutex<FileWatch>>, schedule: &mut Schedule) {
        let watch = watch.clone();
        let trigger = match event {
            Event::Hangup => {
                off_runtime(move || lock(&watch).rebase()).await;
                "sighup"
            }
            Event::Poll => {
                if off_runtime(move || lock(&watch).changed()).await != Some(true) {
                    return;
                }
                "file_change"
            }
        };
        self.reload(schedule, trigger).await;
    }

    /// Loads the file again; a valid desired state replaces the one in force, anything else is logged with
    /// every located problem and leaves the last good one in force.
    async fn reload(&self, schedule: &mut Schedule, trigger: &'static str) {
        let metrics = self.checker.metrics();
        let path = self.path.display().to_string();
        let file = self.path.to_owned();
        let Some(loaded) = off_runtime(move || desired::load(&file)).await else {
            metrics.config_rejected();
            return;
        };
        let state = match loaded {
            Ok(state) => Arc::new(state),
            Err(errors) => {
                log_rejected(trigger, &path, &errors);
                metrics.config_rejected();
                return;
            }
        };
        let source = match (self.sources)(&state, self.observer.clone()) {
            Ok(source) => source,
            Err(err) => {
                tracing::error!(trigger, config = %path, error = %err, "reload rejected: cannot set up reading the clouds; the last good desired state stays in force");
                metrics.config_rejected();
                return;
            }
        };
        if let Err(err) = schedule.update(&state.schedule.cron).await {
            tracing::error!(trigger, config = %path, error = %err, "reload rejected: cannot schedule; the last good desired state stays in force");
            metrics.config_rejected();
            return;
        }
        let previous = self.checker.active();
        if previous.state.daemon.listen_address != state.daemon.listen_address {
            tracing::warn!(
                listen_address = %state.daemon.listen_address,
                "daemon.listen_address changed; it takes effect on restart"
            );
        }
        let loaded_at = Utc::now();
        self.checker.set_active(Active {
            state: state.clone(),
            source,
            path: path.clone(),
            loaded_at,
        });
        tracing::info!(
            trigger,
            config = %path,
            accounts = state.accounts.len(),
            resources = state.resources.len(),
            "desired state reloaded; the next check uses it"
        );
        metrics.config_loaded(state, loaded_at, true);
    }
}

/// What woke the reloader.
enum Event {
    Hangup,
    Poll,
}

/// Runs blocking file work on tokio's blocking pool; `None` (logged) if it panicked.
async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => Some(value),
        Err(err) => {
            tracing::error!(error = %err, "reading the desired-state file failed");
            None
        }
    }
}

fn lock(watch: &std::sync::Mutex<FileWatch>) -> std::sync::MutexGuard<'_, FileWatch> {
    // The watch only caches a stamp and a hash; a panic mid-update leaves nothing worse than a stale cache.
    watch.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn log_rejected(trigger: &str, path: &str, errors: &ConfigErrors) {
    for problem in errors.iter() {
        tracing::error!(trigger, problem = %problem, "desired state problem");
    }
    tracing::error!(
        trigger,
        config = %path,
        code = errors.code(),
        problems = errors.len(),
        "reload rejected; the last good desired state stays in force"
    );
}

/// Notices when the content at a path changes (including a symlink swap that replaces the file), or, for a
/// directory, the content of any of its `*.yaml` files or which files there are. The files' metadata (size,
/// modification time, inode, seen through symlinks) is compared every poll; the content is read and hashed
/// only when it moved, so a large desired state costs nothing while it stays put, and a touch that leaves the
/// content as it was does not reload.
struct FileWatch {
    path: PathBuf,
    stamp: Option<Vec<(PathBuf, Option<Stamp>)>>,
    hash: Option<[u8; 32]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64),
}

/// The stamps of every file of the desired state at `path` ([`desired::part_paths`]), or `None` when the
/// files cannot be listed.
fn stamps(path: &Path) -> Option<Vec<(PathBuf, Option<Stamp>)>> {
    let files = desired::part_paths(path).ok()?;
    Some(
        files
            .into_iter()
            .map(|f| {
                let s = stamp(&f);
                (f, s)
            })
            .collect(),
    )
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        len: m.len(),
        modified: m.modified().ok(),
        #[cfg(unix)]
        inode: {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino())
        },
    })
}

/// The hash of the content, read as [`desired::load`] reads it (regular files only, at most
/// [`desired::MAX_FILE_BYTES`] each); `None` when that refuses, so the reload that follows says why.
fn hash(path: &Path) -> Option<[u8; 32]> {
    desired::read_parts(path)
        .ok()
        .map(|parts| desired::sha256(path, &parts))
}

impl FileWatch {
    fn new(path: &Path) -> FileWatch {
        FileWatch {
            path: path.to_owned(),
            stamp: stamps(path),
            hash: hash(path),
        }
    }

    /// Whether the content differs from the last call (a file that became unreadable counts as a change, so
    /// its reload fails visibly).
    fn changed(&mut self) -> bool {
        let now = stamps(&self.path);
        if now.is_some() && now == self.stamp {
            return false;
        }
        // A refused file has no hash; another refused file in its place (a device swapped for a FIFO) is still
        // a change, told by its stamp.
        let moved = now != self.stamp;
        self.stamp = now;
        let hash = hash(&self.path);
        let changed = hash != self.hash || (hash.is_none() && moved);
        self.hash = hash;
        changed
    }

    /// Takes the current content as seen (a reload was just triggered another way).
    fn rebase(&mut self) {
        self.stamp = stamps(&self.path);
        self.hash = hash(&self.path);
    }
}

/// SIGHUP, as a stream of reload requests.
struct Hangup {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangup {
    fn new() -> Hangup {
        #[cfg(unix)]
        {
            let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                .map_err(
                    |err| tracing::warn!(error = %err, "cannot listen for SIGHUP; only file changes reload"),
                )
                .ok();
            Hangup { signal }
        }
        #[cfg(not(unix))]
        Hangup {}
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = &mut self.signal {
            if signal.recv().await.is_some() {
                return;
            }
            self.signal = None;
        }
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watch_sees_rewrites_and_symlink_swaps_but_not_touches() {
        let dir = tempfile::tempdir().unwrap();
        // The Kubernetes layout: desired.yaml -> ..data/desired.yaml, ..data -> ..2026_01 (swapped on update).
        let v1 = dir.path().join("..v1");
        let v2 = dir.path().join("..v2");
        std::fs::create_dir(&v1).unwrap();
        std::fs::create_dir(&v2).unwrap();
        std::fs::write(v1.join("desired.yaml"), "version: 1\n").unwrap();
        std::fs::write(v2.join("desired.yaml"), "version: 1\naccounts: []\n").unwrap();
        let data = dir.path().join("..data");
        std::os::unix::fs::symlink("..v1", &data).unwrap();
        let file = dir.path().join("desired.yaml");
        std::os::unix::fs::symlink("..data/desired.yaml", &file).unwrap();

        let mut watch = FileWatch::new(&file);
        assert!(!watch.changed());
        // Swap ..data atomically, as the kubelet does.
        let tmp = dir.path().join("..data_tmp");
        std::os::unix::fs::symlink("..v2", &tmp).unwrap();
        std::fs::rename(&tmp, &data).unwrap();
        assert!(watch.changed(), "the symlink swap is a change");
        assert!(!watch.changed());

        // Same content written again (new inode, new mtime): not a change.
        let same = std::fs::read(v2.join("desired.yaml")).unwrap();
        std::fs::remove_file(v2.join("desired.yaml")).unwrap();
        std::fs::write(v2.join("desired.yaml"), &same).unwrap();
        assert!(!watch.changed());

        // Gone: a change (the reload fails and says so); back: a change again.
        std::fs::remove_file(v2.join("desired.yaml")).unwrap();
        assert!(watch.changed());
        std::fs::write(v2.join("desired.yaml"), "version: 1\n").unwrap();
        assert!(watch.changed());
    }

    #[test]
    fn the_watch_of_a_directory_sees_every_file_and_files_added_or_removed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("a.yaml"), "version: 1\n").unwrap();
        std::fs::write(p.join("b.yaml"), "version: 1\n").unwrap();
        let mut watch = FileWatch::new(p);
        assert!(!watch.changed());
        // Each step is a change once; a file that is not a part is none.
        let steps: &[(&str, &dyn Fn())] = &[
            ("a part rewritten", &|| {
                std::fs::write(p.join("b.yaml"), "version: 1\nrules: []\n").unwrap()
            }),
            ("a part added", &|| {
                std::fs::write(p.join("c.yaml"), "version: 1\n").unwrap()
            }),
            ("a part removed", &|| {
                std::fs::remove_file(p.join("a.yaml")).unwrap()
            }),
            ("a part renamed", &|| {
                std::fs::rename(p.join("c.yaml"), p.join("d.yaml")).unwrap()
            }),
        ];
        for (what, step) in steps {
            step();
            assert!(watch.changed(), "{what}");
            assert!(!watch.changed(), "{what}, seen twice");
        }
        std::fs::write(p.join("notes.txt"), "x").unwrap();
        std::fs::write(p.join(".hidden.yaml"), "x").unwrap();
        assert!(!watch.changed(), "not parts");
    }
}
