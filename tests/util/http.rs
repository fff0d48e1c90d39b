//! Plain HTTP against a running emulator, shared by the emulator suites: an answer read in full ([`Reply`]),
//! a request sent exactly as written, unsigned ([`Raw`]), and raw bytes over TCP ([`exchange`]).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde_json::Value;

/// An answer read in full.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    /// The body as JSON; `Null` when it is not JSON.
    pub json: Value,
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            json,
        }
    }

    /// The value of header `name`, `None` when it is absent or not text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `Err` unless header `name` is exactly `value`.
    pub fn check_header(&self, name: &str, value: &str) -> Result<(), String> {
        match self.header(name) {
            Some(v) if v == value => Ok(()),
            other => Err(format!("header {name}: want {value:?}, got {other:?}")),
        }
    }
}

/// A request sent exactly as written, without signing: a `host` among the headers replaces the URL's.
#[derive(Debug, Clone)]
pub struct Raw {
    pub method: String,
    /// Path and query, e.g. `/?Action=ListKeys`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn new(method: &str, target: impl Into<String>) -> Raw {
        Raw {
            method: method.to_owned(),
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(target: impl Into<String>) -> Raw {
        Raw::new("GET", target)
    }

    pub fn header(mut self, name: &str, value: &str) -> Raw {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn headers(mut self, headers: &[(String, String)]) -> Raw {
        self.headers.extend_from_slice(headers);
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Raw {
        self.body = body.into();
        self
    }

    /// Sends the request to `endpoint` (`http://host:port`) and reads the answer.
    pub async fn send(&self, http: &reqwest::Client, endpoint: &str) -> Reply {
        let method = reqwest::Method::from_bytes(self.method.as_bytes()).unwrap();
        let mut request = http
            .request(method, format!("{endpoint}{}", self.target))
            .body(self.body.clone());
        for (k, v) in &self.headers {
            request = request.header(k, v);
        }
        Reply::read(request.send().await.unwrap()).await
    }
}

/// An HTTP/1.1 request without a body as text: the request line, then `headers` one a line.
pub fn request_text(method: &str, target: &str, headers: &[(String, String)]) -> String {
    let mut text = format!("{method} {target} HTTP/1.1\r\n");
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    text
}

/// Asserts that the emulator ends `request` with a TCP reset (RST), not an orderly close.
pub async fn assert_reset(addr: SocketAddr, request: &str) {
    let got = exchange(addr, request).await;
    assert_eq!(
        got.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionReset)
    );
}

/// Asserts that `request`, which the emulator hangs for `hang` (over 100 ms), gets no HTTP answer: none
/// within 100 ms, and what ends it, however late a loaded machine fires that timer, is the connection
/// closing after `hang` with no byte sent.
pub async fn assert_hangs(addr: SocketAddr, request: &str, hang: Duration) {
    let started = Instant::now();
    match tokio::time::timeout(Duration::from_millis(100), exchange(addr, request)).await {
        Err(_elapsed) => {}
        Ok(got) => {
            let answered = match &got {
                Ok(bytes) => !bytes.is_empty(),
                Err(_) => false,
            };
            assert!(!answered, "a hung request got an answer: {got:?}");
            assert!(
                started.elapsed() >= hang,
                "the connection ended before the hang did"
            );
        }
    }
}

/// Sends raw bytes and reads until the peer closes: `Ok(bytes)` on an orderly close, `Err` on a reset.
pub async fn exchange(addr: SocketAddr, request: &str) -> std::io::Result<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await?;
    Ok(out)
}
