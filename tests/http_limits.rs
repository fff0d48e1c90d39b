//! Hostile HTTP against both servers tagdrift runs, the real binaries over raw TCP: `tagdrift emulate` and
//! `tagdrift run`. A 20 MiB body is refused with 413 before it is all sent, malformed JSON gets the
//! documented 400, unknown paths 404, wrong methods 405, an absurdly long URL or header block and a garbage
//! request line a clean 4xx, and each server keeps serving afterwards.

use crate::util::cli as support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{Emulator, tagdrift};

const MIB: usize = 1 << 20;

/// One exchange over a fresh connection: writes `head`, then up to `body` bytes (stopping quietly when the
/// server stops reading or closes), and reads the answer's status line and body. `None` when nothing came
/// back within ten seconds.
fn exchange(addr: &str, head: &[u8], body: usize) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    if stream.write_all(head).is_ok() {
        let chunk = vec![b'{'; 64 * 1024];
        let mut sent = 0;
        while sent < body {
            let n = chunk.len().min(body - sent);
            if stream.write_all(&chunk[..n]).is_err() {
                break;
            }
            sent += n;
        }
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    let started = Instant::now();
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok());
            if length.is_some_and(|n| rest.len() >= n) {
                break;
            }
        }
        if started.elapsed() > Duration::from_secs(10) {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, rest.to_owned()))
}

fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        0,
    )
}

/// The hostile requests both servers must refuse with a 4xx, and still answer `alive` afterwards.
fn hostile_requests_are_refused(addr: &str, alive: &str, post_path: &str) {
    // A huge declared body: refused once past the limit, long before 20 MiB arrive. Only 3 MiB are sent and
    // the connection stays open, so an answer proves the server did not wait for the rest.
    let head = format!(
        "POST {post_path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        20 * MIB
    );
    let (status, _) = exchange(addr, head.as_bytes(), 3 * MIB).expect("an answer to a 20 MiB body");
    assert_eq!(status, 413, "20 MiB body to {post_path}");

    // The same streamed without a length.
    let head = format!(
        "POST {post_path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        20 * MIB
    );
    let (status, _) = exchange(addr, head.as_bytes(), 3 * MIB).expect("an answer to a chunked body");
    assert!(
        status == 413 || status == 411,
        "chunked 20 MiB to {post_path}: {status}"
    );

    // A 1 MiB URL, a 1 MiB header, 10,000 headers, a garbage request line, a bad Content-Length.
    let long_url = format!(
        "GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(MIB)
    );
    let long_header = format!(
        "GET {alive} HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(MIB)
    );
    let many_headers = format!(
        "GET {alive} HTTP/1.1\r\nHost: x\r\n{}Connection: close\r\n\r\n",
        (0..10_000).map(|i| format!("X-H{i}: v\r\n")).collect::<String>()
    );
    let cases: [(&str, Vec<u8>); 5] = [
        ("1 MiB URL", long_url.into_bytes()),
        ("1 MiB header", long_header.into_bytes()),
        ("10,000 headers", many_headers.into_bytes()),
        (
            "garbage request line",
            b"GARBAGE\x00\xff / HTTP/9.9\r\n\r\n".to_vec(),
        ),
        (
            "bad content-length",
            format!("POST {post_path} HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n").into_bytes(),
        ),
    ];
    for (what, request) in cases {
        let (status, _) = exchange(addr, &request, 0).unwrap_or_else(|| panic!("no answer to {what}"));
        assert!((400..500).contains(&status), "{what}: {status}");
        let (status, _) = get(addr, alive).unwrap_or_else(|| panic!("no answer after {what}"));
        assert_eq!(status, 200, "{alive} after {what}");
    }

    // Unknown paths and wrong methods.
    let (status, _) = get(addr, "/no/such/path").expect("404 answer");
    assert_eq!(status, 404);
    let delete = format!("DELETE {alive} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let (status, _) = exchange(addr, delete.as_bytes(), 0).expect("405 answer");
    assert_eq!(status, 405, "DELETE {alive}");
}

#[test]
fn the_emulator_refuses_hostile_requests_and_keeps_serving() {
    let emu = Emulator::start(
        "alibaba:\n  - {access_key_id: testid, access_key_secret: testsecret}\n",
        &[],
    );
    let addr = emu.addr.clone();
    hostile_requests_are_refused(&addr, "/_emulator/health", "/_emulator/faults");
    // The Alibaba RPC and Huawei DEW bodies too.
    for path in ["/", "/v1/0123456789abcdef0123456789abcdef/secrets"] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            20 * MIB
        );
        let (status, _) = exchange(&addr, head.as_bytes(), 3 * MIB).expect("an answer");
        assert_eq!(status, 413, "{path}");
    }

    // Malformed JSON to the control endpoint: the documented 400 {"code","error"}, nothing changed.
    for body in [
        "{",
        "[1,2]",
        "\"x\"",
        "{\"server_error\": \"lots\"}",
        "{\"server_error\": 1e999}",
    ] {
        let request = format!(
            "POST /_emulator/faults HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let (status, answer) = exchange(&addr, request.as_bytes(), 0).expect("an answer");
        assert_eq!(status, 400, "{body}: {answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).expect("a JSON error");
        assert!(
            answer["code"].is_string() && answer["error"].is_string(),
            "{answer}"
        );
    }
    let (status, faults) = get(&addr, "/_emulator/faults").unwrap();
    assert_eq!(status, 200);
    let faults: serde_json::Value = serde_json::from_str(&faults).unwrap();
    assert_eq!(faults["server_error"], 0.0, "{faults}");
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_daemon_refuses_hostile_requests_and_keeps_serving() {
    let emu = Emulator::start(
        "alibaba:\n  - {access_key_id: testid, access_key_secret: testsecret}\n",
        &[],
    );
    let config = emu.desired(
        "desired.yaml",
        r#"version: 1
accounts:
  - name: ali
    cloud: alibaba
    regions: [cn-hangzhou]
    endpoint: "{endpoint}"
    credentials:
      type: access_key
      access_key_id: {env: T_ALI_ID}
      access_key_secret: {env: T_ALI_SECRET}
resources: []
schedule:
  cron: "0 0 0 1 1 *"
"#,
    );
    let mut child = tagdrift()
        .env("RUST_LOG", "info")
        .envs(support::ENV.iter().copied())
        .args([
            "--log-format",
            "json",
            "run",
            "--listen",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tagdrift run");
    let stderr = child.stderr.take().unwrap();
    let daemon = Daemon(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let event = serde_json::from_str::<serde_json::Value>(&line).unwrap_or_default();
            if let Some(address) = event["address"].as_str() {
                let _ = tx.send(address.to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("listening address");
    hostile_requests_are_refused(&addr, "/healthz", "/report");
    let (status, metrics) = get(&addr, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(metrics.contains("tagdrift_"), "{metrics}");
    drop(daemon);
}
