//! Hostile HTTP against both servers tagdrift runs, the real binaries over raw TCP: `tagdrift emulate` and
//! `tagdrift run`. A 20 MiB body is refused with 413 before it is all sent, malformed JSON gets the
//! documented 400, unknown paths 404, wrong methods 405, an absurdly long URL or header block and a garbage
//! request line a clean 4xx, and each server keeps serving afterwards. Slow and idle clients (never sending,
//! half-sent heads, heads fed a byte at a time, idle keep-alive) are closed by both servers while others are
//! answered, the connection cap holds new connections back until one closes, and an HTTP/2 body without a
//! length is refused with 411.

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

/// Short timeouts, so the slow-client tests take seconds; the cap stays out of their way.
const SHORT: &[&str] = &[
    "--header-read-timeout-ms",
    "1000",
    "--idle-timeout-ms",
    "1000",
    "--max-connections",
    "64",
];

fn short_limits() -> tagdrift::daemon::HttpLimits {
    tagdrift::daemon::HttpLimits {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        max_connections: 64,
    }
}

/// Reads until the server closes `stream` (end of stream or a reset); panics if it is still open after 30 s,
/// far beyond the servers' timeouts in these tests.
fn assert_closed_by_server(what: &str, stream: &mut TcpStream) {
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            // A 408 or the rest of an answer may come first.
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("{what}: still open 30 s later")
            }
            Err(_) => return,
        }
    }
}

/// Reads one whole answer (with a Content-Length) from a keep-alive connection; its status.
fn read_answer(stream: &mut TcpStream) -> u16 {
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).expect("an answer");
        assert!(n > 0, "closed before answering");
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse().ok())
                .expect("a content-length");
            if rest.len() >= length {
                return head.split(' ').nth(1).unwrap().parse().unwrap();
            }
        }
    }
}

/// Holds connections that never send, half-sent request heads, a head fed a byte every 100 ms, and keep-alive
/// connections idle after one answer; `alive` is still answered while they are held, and the server closes
/// every one of them.
fn slow_and_idle_clients_are_closed(addr: &str, alive: &str) {
    let mut held: Vec<(&str, TcpStream)> = Vec::new();
    for _ in 0..5 {
        held.push(("never sent a byte", TcpStream::connect(addr).unwrap()));
    }
    for _ in 0..5 {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(format!("GET {alive} HTTP/1.1\r\nHost: x\r\n").as_bytes())
            .unwrap();
        held.push(("half-sent head", stream));
    }
    for _ in 0..3 {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(format!("GET {alive} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        assert_eq!(read_answer(&mut stream), 200);
        held.push(("idle keep-alive", stream));
    }
    let mut drip = TcpStream::connect(addr).unwrap();
    drip.write_all(format!("GET {alive} HTTP/1.1\r\nHost: x\r\nX-Slow: ").as_bytes())
        .unwrap();
    let mut writer = drip.try_clone().unwrap();
    // Stops when the server closes; 600 bytes (a minute) at most.
    let dripping = std::thread::spawn(move || {
        for _ in 0..600 {
            if writer.write_all(b"a").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    held.push(("head fed a byte at a time", drip));

    let (status, _) = get(addr, alive).expect("an answer while slow clients are held");
    assert_eq!(status, 200);
    for (what, stream) in &mut held {
        assert_closed_by_server(what, stream);
    }
    dripping.join().unwrap();
    let (status, _) = get(addr, alive).expect("an answer after");
    assert_eq!(status, 200);
}

#[test]
fn the_emulator_closes_slow_and_idle_clients_and_keeps_serving() {
    let emu = Emulator::start(
        "alibaba:\n  - {access_key_id: testid, access_key_secret: testsecret}\n",
        SHORT,
    );
    slow_and_idle_clients_are_closed(&emu.addr, "/_emulator/health");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_closes_slow_and_idle_clients_and_keeps_serving() {
    use crate::daemon::harness::{FIXTURE, Scripted, start_with};
    let d = start_with(FIXTURE, Scripted::fixture(), Duration::ZERO, short_limits()).await;
    let addr = d.base.trim_start_matches("http://").to_owned();
    tokio::task::spawn_blocking(move || slow_and_idle_clients_are_closed(&addr, "/healthz"))
        .await
        .unwrap();
    d.stop().await;
}

#[test]
fn the_connection_cap_holds_new_connections_until_one_closes() {
    let emu = Emulator::start(
        "alibaba:\n  - {access_key_id: testid, access_key_secret: testsecret}\n",
        &["--max-connections", "2"],
    );
    let request = b"GET /_emulator/health HTTP/1.1\r\nHost: x\r\n\r\n";
    // Two connections, each answered once, so both hold a place.
    let mut first = TcpStream::connect(&emu.addr).unwrap();
    let mut second = TcpStream::connect(&emu.addr).unwrap();
    for stream in [&mut first, &mut second] {
        stream.write_all(request).unwrap();
        assert_eq!(read_answer(stream), 200);
    }
    // A third connects (the kernel queues it) and asks.
    let mut third = TcpStream::connect(&emu.addr).unwrap();
    third.write_all(request).unwrap();
    // Another round trip on the first: had the third been accepted, its answer would be under way by now.
    first.write_all(request).unwrap();
    assert_eq!(read_answer(&mut first), 200);
    third.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    match third.read(&mut buf) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the third connection was served past the cap of 2: {other:?}"),
    }
    third.set_nonblocking(false).unwrap();
    // The second closes: the third takes its place.
    drop(second);
    assert_eq!(read_answer(&mut third), 200);
}

/// A request body that sends 1 MiB, then never ends, with no length declared.
struct Endless {
    sent: bool,
}

impl hyper::body::Body for Endless {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        if self.sent {
            return std::task::Poll::Pending;
        }
        self.sent = true;
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(vec![b'{'; MIB].into()))))
    }
}

/// POSTs an [`Endless`] body to `path` over HTTP/2 (prior knowledge); the answer's status.
async fn h2_post_without_length(addr: &str, path: &str) -> u16 {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("an HTTP/2 handshake");
    tokio::spawn(connection);
    let request = hyper::Request::post(format!("http://{addr}{path}"))
        .body(Endless { sent: false })
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(30), sender.send_request(request))
        .await
        .expect("an answer within 30 s")
        .expect("an answer");
    response.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_bodies_without_a_length_are_refused_by_both_servers() {
    let emu = Emulator::start(
        "alibaba:\n  - {access_key_id: testid, access_key_secret: testsecret}\n",
        &[],
    );
    for path in [
        "/",
        "/_emulator/faults",
        "/v1/0123456789abcdef0123456789abcdef/secrets",
    ] {
        assert_eq!(
            h2_post_without_length(&emu.addr, path).await,
            411,
            "emulator {path}"
        );
    }

    use crate::daemon::harness::{FIXTURE, Scripted, start};
    let d = start(FIXTURE, Scripted::fixture()).await;
    let addr = d.base.trim_start_matches("http://").to_owned();
    assert_eq!(
        h2_post_without_length(&addr, "/report").await,
        411,
        "daemon /report"
    );
    d.stop().await;
}
