//! Test support for `tagdrift check` against `tagdrift emulate`, both the real binary: start the emulator on a
//! free port with an inventory, drive its control endpoints, write a desired state pointing at it, run
//! `check` and read its exit code, stdout and stderr.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use super::emulator_process::{Listening, emulate_command};

pub fn tagdrift() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tagdrift"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.env_remove("RUST_LOG");
    cmd
}

/// A running `tagdrift emulate` (a [`Listening`] process: killed on drop, its log printed if the test fails).
pub struct Emulator {
    _process: Listening,
    pub addr: String,
    pub dir: tempfile::TempDir,
}

impl Emulator {
    /// Starts the emulator with `inventory` (YAML) and extra flags.
    pub fn start(inventory: &str, flags: &[&str]) -> Emulator {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("inventory.yaml");
        std::fs::write(&path, inventory).expect("write inventory");
        let mut cmd = emulate_command(Path::new(env!("CARGO_MANIFEST_DIR")));
        cmd.arg("--inventory").arg(&path).args(flags);
        let process = Listening::spawn(cmd);
        Emulator {
            addr: process.addr.to_string(),
            _process: process,
            dir,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A plain HTTP/1.1 request to a control endpoint; returns the status and the JSON body.
    fn control(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect to emulator");
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let body = body.map(Value::to_string).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read answer");
        let (head, rest) = answer.split_once("\r\n\r\n").expect("HTTP answer");
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
        let text = if chunked { dechunk(rest) } else { rest.to_owned() };
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub fn stats(&self) -> Value {
        self.control("GET", "/_emulator/stats", None).1
    }

    pub fn reset_stats(&self) {
        let (status, _) = self.control("POST", "/_emulator/reset-stats", None);
        assert!(status < 300, "reset-stats answered {status}");
    }

    pub fn faults(&self, patch: Value) {
        let (status, body) = self.control("POST", "/_emulator/faults", Some(&patch));
        assert!(status < 300, "faults answered {status}: {body}");
    }

    /// Calls of one API with one outcome (`ok`, `fault_throttle`, an error code), 0 when never seen.
    pub fn count(&self, stats: &Value, cloud: &str, api: &str, outcome: &str) -> u64 {
        stats["clouds"][cloud]["apis"][api]["outcomes"][outcome]
            .as_u64()
            .unwrap_or(0)
    }

    /// All calls of one API.
    pub fn total(&self, stats: &Value, cloud: &str, api: &str) -> u64 {
        stats["clouds"][cloud]["apis"][api]["total"].as_u64().unwrap_or(0)
    }

    /// Writes a desired-state file into the emulator's temp dir; `{endpoint}` is replaced by its address.
    pub fn desired(&self, name: &str, yaml: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, yaml.replace("{endpoint}", &self.endpoint())).expect("write desired state");
        path
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

/// The test credentials of the inventories below, as the desired states reference them.
pub const ENV: &[(&str, &str)] = &[
    ("T_ALI_ID", "testid"),
    ("T_ALI_SECRET", "testsecret"),
    ("T_HW_AK", "testak"),
    ("T_HW_SK", "testsk"),
];

/// The result of one `tagdrift check` run.
pub struct Check {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Check {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "check printed no JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `tagdrift check --config FILE` with the test credentials in the environment and `args` appended.
pub fn check(config: &std::path::Path, args: &[&str]) -> Check {
    check_with_env(config, args, &[])
}

/// Runs `tagdrift apply --config FILE` with the test credentials and `args` appended; standard input is
/// not a terminal.
pub fn apply(config: &std::path::Path, args: &[&str]) -> Check {
    run_with_env("apply", config, args, &[])
}

/// [`check`] with more environment variables.
pub fn check_with_env(config: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Check {
    run_with_env("check", config, args, env)
}

pub fn run_with_env(command: &str, config: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Check {
    let mut cmd = tagdrift();
    cmd.arg(command).arg("--config").arg(config).args(args);
    for (k, v) in ENV.iter().chain(env) {
        cmd.env(k, v);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run tagdrift");
    Check {
        code: status.code().expect("exit code"),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// The JSON report entry of the resource with `id`, from `resources` or `in_sync`.
pub fn entry<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["resources"]
        .as_array()
        .into_iter()
        .chain(report["in_sync"].as_array())
        .flatten()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in report:\n{report:#}"))
}
