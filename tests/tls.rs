//! HTTPS through the transport verifies servers against the system's root certificates. A local CA and
//! server certificate are made with the `openssl` command and served by `openssl s_server`; the root store is
//! the platform verifier's, which on Linux honours `SSL_CERT_FILE`, so the trusting half runs in a child
//! process of this test binary with that variable pointing at the local CA (tests never change their own
//! environment).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tagdrift_cloud::NoObserver;
use tagdrift_cloud::transport::{Auth, Call, Operation, Request, Transport, TransportOptions};
use tagdrift_core::vocab::ErrorCode;

const CHILD_URL: &str = "TAGDRIFT_TLS_TEST_URL";

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA, and a certificate for `localhost` and 127.0.0.1 signed by it.
fn make_certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=tagdrift test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "san.ext",
        ],
    );
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path) -> (Server, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("openssl")
        .current_dir(dir)
        .args([
            "s_server",
            "-quiet",
            "-www",
            "-accept",
            &port.to_string(),
            "-cert",
            "server.pem",
            "-key",
            "server.key",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start openssl s_server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "s_server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (Server(child), port)
}

async fn get(url: &str) -> Result<u16, tagdrift_cloud::transport::CallError> {
    let mut options = TransportOptions::new(Arc::new(NoObserver));
    options.max_attempts = 1;
    let transport = Transport::new(options).unwrap();
    let call = Call::new(Operation::AlibabaEcsMetadata, "tls", "");
    transport
        .send(&call, &Request::get(url, "/"), Auth::Anonymous)
        .await
        .map(|response| response.status)
}

#[tokio::test]
async fn https_is_verified_against_the_system_roots() {
    if let Ok(url) = std::env::var(CHILD_URL) {
        // Child: the local CA is a system root here.
        assert_eq!(get(&url).await.unwrap(), 200);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let (_server, port) = serve(dir.path());
    let url = format!("https://localhost:{port}");

    // Not trusted by the real system roots: refused, as a network error.
    let error = get(&url).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::Network, "{}", error.message);

    // Trusted once the CA is in the root store: the same server is accepted.
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tls::https_is_verified_against_the_system_roots",
            "--nocapture",
        ])
        .env(CHILD_URL, &url)
        .env("SSL_CERT_FILE", dir.path().join("ca.pem"))
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
