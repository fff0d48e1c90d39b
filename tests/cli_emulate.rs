//! `tagdrift emulate` through the real binary: it serves the sample inventory on a port it picks, answers
//! both control and cloud paths over HTTP (its clock is the system clock unless `--manual-clock`), stops
//! cleanly on SIGTERM, and writes a generated desired state that `tagdrift validate` accepts.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tagdrift() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tagdrift"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.env("RUST_LOG", "info");
    cmd
}

#[test]
fn serves_the_sample_inventory_and_stops_on_sigterm() {
    let mut child = tagdrift()
        .args([
            "--log-format",
            "json",
            "emulate",
            "--inventory",
            "config/emulator-inventory.yaml",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tagdrift emulate");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("emulator exited before listening")
            .expect("read log line");
        let event: serde_json::Value = serde_json::from_str(&line).expect("json log line");
        if event["message"] == "emulator listening" {
            break event["addr"].as_str().expect("addr field").to_owned();
        }
    };

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let health = http
            .get(format!("http://{addr}/_emulator/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);

        // An unsigned Alibaba call is refused with the gateway's JSON error shape, not a generic 404 (JSON
        // because it asks for it, as the SDK does; the default is XML).
        let refused = http
            .post(format!(
                "http://{addr}/?Action=ListKeys&Version=2016-01-20&RegionId=cn-hangzhou"
            ))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert!(refused.status().is_client_error(), "status {}", refused.status());
        let body: serde_json::Value = refused.json().await.unwrap();
        assert!(
            body["Code"].as_str().is_some_and(|c| !c.is_empty()),
            "body {body}"
        );
        assert!(body["RequestId"].as_str().is_some(), "body {body}");

        let stats: serde_json::Value = http
            .get(format!("http://{addr}/_emulator/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(stats.is_object(), "stats {stats}");

        // Without --manual-clock the emulator runs on the system clock, which the control endpoint refuses
        // to move.
        let clock: serde_json::Value = http
            .get(format!("http://{addr}/_emulator/clock"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(clock["manual"], false, "clock {clock}");
        let refused = http
            .post(format!("http://{addr}/_emulator/clock"))
            .body(r#"{"advance_ms": 60000}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 409);
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["code"], "system_clock", "body {body}");
    });

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("send SIGTERM");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "emulator did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit {exit:?}");
}

#[test]
fn generated_desired_state_validates() {
    let dir = tempfile::tempdir().unwrap();
    let desired = dir.path().join("desired.yaml");
    let inventory = dir.path().join("inventory.yaml");
    let out = tagdrift()
        .args([
            "emulate",
            "--generate",
            "400",
            "--drift-ratio",
            "0.1",
            "--seed",
            "3",
            "--no-serve",
        ])
        .arg("--write-desired-state")
        .arg(&desired)
        .arg("--write-inventory")
        .arg(&inventory)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = tagdrift()
        .arg("validate")
        .arg("--config")
        .arg(&desired)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("400 resources"));

    // The written inventory serves again as it was written.
    let out = tagdrift()
        .args(["emulate", "--no-serve", "--inventory"])
        .arg(&inventory)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
