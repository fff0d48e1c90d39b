//! `tagdrift run` as a process: against the in-process cloud emulator (generated inventory with drift in both
//! clouds), it serves the plan over HTTP, reloads on SIGHUP and on file change, and exits 0 promptly on
//! SIGTERM in the middle of a check. An invalid desired state stops it at start with located problems.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tagdrift::demo;
use tagdrift_emulator::inventory;
use tagdrift_emulator::{Clock, Faults, FaultsPatch, Running, State, Store};

const BIN: &str = env!("CARGO_BIN_EXE_tagdrift");

struct Daemon {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
    http: reqwest::Client,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The emulator with the demo inventory and a desired state for it checked every second.
async fn emulated(dir: &std::path::Path) -> (Running, std::path::PathBuf, Vec<(String, String)>, String) {
    let generated = demo::inventory(40).unwrap();
    let credentials: Vec<(String, String)> = inventory::credential_env_vars(&generated.inventory)
        .into_iter()
        .flat_map(|c| c.vars)
        .collect();
    let store = Store::from_inventory(generated.inventory.clone()).unwrap();
    let state = State::new(
        store,
        tagdrift_emulator::Options::default(),
        Faults::default(),
        Clock::system(),
    );
    let running = tagdrift_emulator::start(state, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let yaml = demo::desired_state(
        &generated,
        &running.endpoint(),
        "* * * * * *",
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let config = dir.join("desired.yaml");
    std::fs::write(&config, &yaml).unwrap();
    (running, config, credentials, yaml)
}

fn spawn(config: &std::path::Path, credentials: &[(String, String)]) -> Daemon {
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--config",
        ])
        .arg(config)
        .envs(credentials.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (address_tx, address_rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let event = serde_json::from_str::<serde_json::Value>(&line).unwrap_or_default();
            if let Some(address) = event["address"].as_str() {
                let _ = address_tx.send(address.to_owned());
            }
            lines.lock().unwrap().push(line);
        }
    });
    let address = address_rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("no listening address logged: {:#?}", log.lock().unwrap()));
    Daemon {
        child,
        base: format!("http://{address}"),
        log,
        http: reqwest::Client::new(),
    }
}

impl Daemon {
    async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn wait_metric(&self, line: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let text = self.metrics().await;
            if text.lines().any(|l| l == line) {
                return;
            }
            assert!(Instant::now() < deadline, "no {line:?} after {within:?}:\n{text}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn logged(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_checks_the_clouds_reloads_and_stops_on_sigterm_during_a_check() {
    let dir = tempfile::tempdir().unwrap();
    let (running, config, credentials, yaml) = emulated(dir.path()).await;
    let mut d = spawn(&config, &credentials);

    // The first check finds the generated drift.
    let deadline = Instant::now() + Duration::from_secs(30);
    let report = loop {
        let response = d
            .http
            .get(format!("{}/report.json", d.base))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            break response.json::<serde_json::Value>().await.unwrap();
        }
        assert_eq!(response.status(), 503);
        assert!(Instant::now() < deadline, "no check after 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(report["verdict"], "drift", "{report}");
    assert_eq!(report["summary"]["total"], 40);
    assert!(report["summary"]["drifted"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(
        d.http
            .get(format!("{}/readyz", d.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let text = d.metrics().await;
    assert!(
        text.contains("tagdrift_api_requests_total{cloud=\"alibaba\""),
        "{text}"
    );
    assert!(d.logged("\"message\":\"check finished\""));

    // SIGHUP reloads even an unchanged file.
    d.signal("HUP");
    d.wait_metric("tagdrift_config_reloads_total 1", Duration::from_secs(10))
        .await;
    d.wait_metric("tagdrift_config_last_reload_successful 1", Duration::from_secs(1))
        .await;

    // A bad file is rejected with its location logged.
    std::fs::write(&config, yaml.replace("version: 1", "version: 9")).unwrap();
    d.wait_metric(
        "tagdrift_config_last_reload_successful 0",
        Duration::from_secs(10),
    )
    .await;
    assert!(d.logged("desired.yaml:"), "{:#?}", d.log.lock().unwrap());

    // Slow the clouds down so a check is in flight, then SIGTERM.
    running
        .state
        .update_faults(FaultsPatch {
            latency_ms: Some(20_000),
            ..FaultsPatch::default()
        })
        .unwrap();
    d.wait_metric("tagdrift_check_running 1", Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let began = Instant::now();
    d.signal("TERM");
    let status = loop {
        if let Some(status) = d.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            began.elapsed() < Duration::from_secs(15),
            "still running 15 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "{:#?}", d.log.lock().unwrap());
    assert!(
        d.logged("check cancelled by shutdown"),
        "{:#?}",
        d.log.lock().unwrap()
    );
    eprintln!("exited {:?} after SIGTERM during a check", began.elapsed());
    running.stop().await.unwrap();
}

#[test]
fn run_with_an_invalid_desired_state_exits_1_with_located_problems() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("desired.yaml");
    std::fs::write(&config, "version: 1\naccounts:\n  - name: a\n    cloud: azure\n").unwrap();
    let out = Command::new(BIN)
        .args(["run", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:4:12: accounts[0].cloud", config.display())),
        "{stderr}"
    );
}
