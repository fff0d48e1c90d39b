//! Soak: `tagdrift run` on a one-second schedule against `tagdrift emulate` while the emulator injects
//! throttling, 5xx answers, hangs, connection resets and malformed bodies. Checks that the daemon stays up,
//! never reports a resource whose read failed as anything but `unknown`, keeps its memory and open files flat,
//! counts the errors in its metrics, and that the first check after the faults stop is complete and correct.
//!
//! Duration: `TAGDRIFT_SOAK_SECONDS` (default 60, what CI runs). For a long run:
//! `TAGDRIFT_SOAK_SECONDS=1800 cargo test --release --test tests soak -- --nocapture`.
//! The figures (checks run, faults answered, RSS and fd samples) are printed at the end.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const RESOURCES: usize = 240;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("pick a free port")
        .port()
}

fn tagdrift(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tagdrift"));
    cmd.current_dir(dir)
        .env("RUST_LOG", "warn")
        .env("TAGDRIFT_EMU_ALI_BENCH_ACCESS_KEY_ID", "testid")
        .env("TAGDRIFT_EMU_ALI_BENCH_ACCESS_KEY_SECRET", "testsecret")
        .env("TAGDRIFT_EMU_HW_BENCH_AK", "testak")
        .env("TAGDRIFT_EMU_HW_BENCH_SK", "testsk");
    cmd
}

/// Kills the child when the test ends, however it ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A resource as the report states it: status plus the changes that would restore it.
fn verdicts(report: &Value) -> BTreeMap<String, (String, Value)> {
    let mut out = BTreeMap::new();
    for r in report["resources"].as_array().expect("resources array") {
        out.insert(
            r["address"].as_str().unwrap().to_owned(),
            (r["status"].as_str().unwrap().to_owned(), r["changes"].clone()),
        );
    }
    for r in report["in_sync"].as_array().expect("in_sync array") {
        out.insert(
            r["address"].as_str().unwrap().to_owned(),
            ("in_sync".to_owned(), json!([])),
        );
    }
    out
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("daemon is alive");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("daemon is alive")
        .count()
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// Sum of a counter family's samples whose labels contain `filter`.
fn metric_sum(metrics: &str, name: &str, filter: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter(|l| l.contains(filter))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn daemon_survives_faults_and_never_reports_a_failed_read_as_known() {
    let seconds: u64 = std::env::var("TAGDRIFT_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir().unwrap();
    let emu_port = free_port();
    let daemon_port = free_port();

    let status = tagdrift(dir.path())
        .args([
            "emulate",
            "--generate",
            &RESOURCES.to_string(),
            "--drift-ratio",
            "0.3",
        ])
        .args([
            "--seed",
            "11",
            "--no-serve",
            "--listen",
            &format!("127.0.0.1:{emu_port}"),
        ])
        .args([
            "--write-inventory",
            "inventory.yaml",
            "--write-desired-state",
            "desired.yaml",
        ])
        .status()
        .unwrap();
    assert!(status.success(), "generating the inventory failed");
    let mut desired = std::fs::read_to_string(dir.path().join("desired.yaml")).unwrap();
    desired.push_str(&format!(
        "schedule:\n  cron: \"* * * * * *\"\n  check_timeout_seconds: 20\n  request_timeout_seconds: 1\n  \
         max_attempts: 3\n  concurrency: 8\ndaemon:\n  listen_address: \"127.0.0.1:{daemon_port}\"\n  \
         log_format: json\n"
    ));
    std::fs::write(dir.path().join("desired.yaml"), desired).unwrap();

    let _emulator = Guard(
        tagdrift(dir.path())
            .args(["emulate", "--inventory", "inventory.yaml", "--no-rate-limits"])
            .args(["--listen", &format!("127.0.0.1:{emu_port}"), "--hang-ms", "3000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let daemon = Guard(
        tagdrift(dir.path())
            .args(["run", "--config", "desired.yaml"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = daemon.0.id();
    let emu = format!("http://127.0.0.1:{emu_port}");
    let api = format!("http://127.0.0.1:{daemon_port}");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let report = |after: Option<String>| {
            let http = http.clone();
            let api = api.clone();
            async move {
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    assert!(Instant::now() < deadline, "no new report within 60 s");
                    if let Ok(resp) = http.get(format!("{api}/report.json")).send().await
                        && resp.status() == 200
                    {
                        let body: Value = resp.json().await.unwrap();
                        let at = body["generated_at"].as_str().unwrap_or_default().to_owned();
                        if after.as_deref().is_none_or(|a| at.as_str() > a) {
                            return body;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };

        // A clean check first: the truth every later report is held to.
        let baseline = report(None).await;
        assert_eq!(baseline["summary"]["unknown"], 0, "clean baseline: {}", baseline["summary"]);
        assert_eq!(baseline["summary"]["total"], RESOURCES, "{}", baseline["summary"]);
        let truth = verdicts(&baseline);
        let drifted = truth.values().filter(|(s, _)| s == "drifted").count();
        assert!(drifted > 0 && drifted < RESOURCES, "the inventory has some drift: {drifted}");

        let faults = json!({"server_error": 0.08, "throttle": 0.08, "hang": 0.01, "reset": 0.04, "malformed": 0.04});
        let set = http.post(format!("{emu}/_emulator/faults")).json(&faults).send().await.unwrap();
        assert_eq!(set.status(), 200, "{}", set.text().await.unwrap_or_default());

        let started = Instant::now();
        let mut last = baseline["generated_at"].as_str().unwrap().to_owned();
        let (mut rss, mut fds) = (Vec::new(), Vec::new());
        let (mut checks, mut unknown_seen) = (0usize, 0u64);
        while started.elapsed() < Duration::from_secs(seconds) {
            let r = report(Some(last.clone())).await;
            last = r["generated_at"].as_str().unwrap().to_owned();
            checks += 1;
            unknown_seen += r["summary"]["unknown"].as_u64().unwrap();
            for (address, (status, changes)) in verdicts(&r) {
                if status == "unknown" {
                    continue;
                }
                let expected = truth.get(&address).unwrap_or_else(|| panic!("unexpected resource {address}"));
                assert_eq!(
                    (&status, &changes),
                    (&expected.0, &expected.1),
                    "{address}: a read under faults must be right or unknown, never a different verdict"
                );
            }
            rss.push(rss_kib(pid));
            fds.push(open_fds(pid) as u64);
        }

        let metrics = http.get(format!("{api}/metrics")).send().await.unwrap().text().await.unwrap();
        let errors = |code: &str| metric_sum(&metrics, "tagdrift_api_request_errors_total", &format!("error=\"{code}\""));
        for code in ["http_5xx", "throttled", "invalid_response"] {
            assert!(errors(code) > 0.0, "no {code} errors counted:\n{metrics}");
        }
        assert!(errors("network") + errors("timeout") > 0.0, "resets and hangs not counted");
        assert!(metric_sum(&metrics, "tagdrift_api_retries_total", "") > 0.0, "no retries counted");

        // Faults off: the next check that starts afterwards must be complete and equal to the truth.
        let off = json!({"server_error": 0, "throttle": 0, "hang": 0, "reset": 0, "malformed": 0});
        http.post(format!("{emu}/_emulator/faults")).json(&off).send().await.unwrap();
        let in_flight = report(Some(last)).await;
        let clean = report(Some(in_flight["generated_at"].as_str().unwrap().to_owned())).await;
        assert_eq!(clean["summary"]["unknown"], 0, "{}", clean["summary"]);
        assert_eq!(verdicts(&clean), truth, "the first clean check after the faults differs from the truth");

        let warm = rss.len().min(5);
        let (rss_start, rss_end) = (median(rss[..warm].to_vec()), median(rss[rss.len() - warm..].to_vec()));
        let (fd_start, fd_end) = (median(fds[..warm].to_vec()), median(fds[fds.len() - warm..].to_vec()));
        println!(
            "soak: {seconds} s, {checks} checks under faults, {unknown_seen} unknown verdicts, errors counted: \
             http_5xx={} throttled={} invalid_response={} network={} timeout={}; RSS {rss_start} -> {rss_end} KiB \
             (max {} KiB); open fds {fd_start} -> {fd_end}",
            errors("http_5xx"),
            errors("throttled"),
            errors("invalid_response"),
            errors("network"),
            errors("timeout"),
            rss.iter().max().unwrap(),
        );
        assert!(checks >= 2, "only {checks} checks completed under faults");
        assert!(rss_end < rss_start + 16 * 1024, "RSS grew from {rss_start} to {rss_end} KiB");
        assert!(fd_end <= fd_start + 8, "open fds grew from {fd_start} to {fd_end}");
    });
}
