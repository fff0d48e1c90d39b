//! No credential, token or signature ever reaches an output: `tagdrift check`, `tagdrift apply` and `tagdrift
//! run` read (and `apply` writes) a real `tagdrift emulate` with distinctive credentials of every kind (Alibaba access key with an STS token, RRSA
//! with an OIDC token file, ECS RAM role and Huawei ECS agency from instance metadata (session tokens), Huawei
//! AK/SK, AK/SK with a security token, workload identity with an id-token file), all logging at trace level, and none of the secrets, the credentials the emulator issues in
//! exchange, nor anything shaped like a computed signature appears in stdout, stderr, the text, JSON and
//! Markdown reports, `/metrics`, `/report*` or the HTML page.

use crate::util::cli as support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use support::tagdrift;

const ALI_SECRET: &str = "AliSecretLEAKCANARY0001";
const ALI_STS_SECRET: &str = "AliStsSecretLEAKCANARY0002";
const ALI_STS_TOKEN: &str = "CAIS.AliStsTokenLEAKCANARY0003";
const HW_SK: &str = "HwSkLEAKCANARY0004";
const HW_TMP_SK: &str = "HwTmpSkLEAKCANARY0005";
const HW_TMP_TOKEN: &str = "HwSecurityTokenLEAKCANARY0006";
/// Marks the payload of both JWTs, whose whole text is secret material too.
const JWT_CANARY: &str = "JwtSubjectLEAKCANARY0007";

const INVENTORY: &str = r#"
alibaba:
  - name: ali
    access_key_id: LTAIleakid
    access_key_secret: AliSecretLEAKCANARY0001
    account_id: "1234567890123456"
    sts:
      - {access_key_id: STS.leakid, access_key_secret: AliStsSecretLEAKCANARY0002, security_token: CAIS.AliStsTokenLEAKCANARY0003, expiration: 2099-01-01T00:00:00Z}
    roles:
      - arn: acs:ram::1234567890123456:role/tagdrift
        oidc_provider_arn: acs:ram::1234567890123456:oidc-provider/ack-rrsa
    ecs_role: tagdrift-ecs
    regions:
      cn-hangzhou:
        keys:
          - {id: key-leak00001, tags: {owner: platform}}
        secrets:
          - {name: db-password, tags: {owner: payments}}
huawei:
  - name: hw
    ak: HWLEAKAK
    sk: HwSkLEAKCANARY0004
    security_tokens:
      - {ak: TMPLEAKAK, sk: HwTmpSkLEAKCANARY0005, security_token: HwSecurityTokenLEAKCANARY0006, expires_at: 2099-01-01T00:00:00Z}
    idps: [{id: cce-oidc}]
    ecs_agency: tagdrift-ecs
    projects:
      - region: cn-north-4
        project_id: 0123456789abcdef0123456789abcdef
        keys:
          - {id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: platform}}
        secrets:
          - {name: db-password, tags: {owner: payments}}
"#;

fn jwt(audience: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k1"}"#);
    let claims = URL_SAFE_NO_PAD.encode(
        json!({"iss": "https://oidc.example", "sub": JWT_CANARY, "aud": [audience], "iat": now, "exp": now + 3600})
            .to_string(),
    );
    format!("{header}.{claims}.c2lnbmF0dXJlTEVBSw")
}

/// The desired state: eight accounts, one per credential kind, each with a drifted, a missing and an in-sync
/// resource, so every report section and every metric family has something to show.
/// `tagdrift emulate` logging at trace level, its log kept: it sees every secret and must not print one.
struct Emulator {
    child: Child,
    addr: String,
    dir: tempfile::TempDir,
    log: Arc<Mutex<Vec<String>>>,
}

impl Emulator {
    fn start(inventory: &str) -> Emulator {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.yaml");
        std::fs::write(&path, inventory).unwrap();
        let mut child = tagdrift()
            .env("RUST_LOG", "trace")
            .args([
                "--log-format",
                "json",
                "emulate",
                "--listen",
                "127.0.0.1:0",
                "--inventory",
            ])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tagdrift emulate");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let event = serde_json::from_str::<Value>(&line).unwrap_or_default();
                if event["message"] == "emulator listening" {
                    let _ = tx.send(event["addr"].as_str().unwrap_or_default().to_owned());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("emulator not listening: {:#?}", log.lock().unwrap()));
        Emulator {
            child,
            addr,
            dir,
            log,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn desired(emu: &Emulator, oidc_file: &str, id_token_file: &str) -> String {
    let ali = |name: &str, credentials: &str| {
        format!(
            r#"  - name: {name}
    cloud: alibaba
    regions: [cn-hangzhou]
    endpoint: "{{endpoint}}"
    credentials:
{credentials}
"#
        )
    };
    let hw = |name: &str, credentials: &str| {
        format!(
            r#"  - name: {name}
    cloud: huawei
    regions:
      - {{name: cn-north-4, project_id: 0123456789abcdef0123456789abcdef}}
    endpoint: "{{endpoint}}"
    credentials:
{credentials}
"#
        )
    };
    let mut yaml = String::from("version: 1\naccounts:\n");
    yaml += &ali(
        "ali-ak",
        "      type: access_key\n      access_key_id: {env: T_ALI_ID}\n      access_key_secret: {env: T_ALI_SECRET}",
    );
    yaml += &ali(
        "ali-sts",
        "      type: access_key\n      access_key_id: {env: T_ALI_STS_ID}\n      access_key_secret: {env: T_ALI_STS_SECRET}\n      security_token: {env: T_ALI_STS_TOKEN}",
    );
    yaml += &ali(
        "ali-rrsa",
        &format!(
            "      type: rrsa\n      role_arn: acs:ram::1234567890123456:role/tagdrift\n      oidc_provider_arn: acs:ram::1234567890123456:oidc-provider/ack-rrsa\n      oidc_token_file: {oidc_file}\n      sts_endpoint: \"{{endpoint}}\""
        ),
    );
    yaml += &ali(
        "ali-ecs",
        "      type: ecs_ram_role\n      metadata_endpoint: \"{endpoint}\"",
    );
    yaml += &hw(
        "hw-ak",
        "      type: access_key\n      ak: {env: T_HW_AK}\n      sk: {env: T_HW_SK}",
    );
    yaml += &hw(
        "hw-tmp",
        "      type: access_key\n      ak: {env: T_HW_TMP_AK}\n      sk: {env: T_HW_TMP_SK}\n      security_token: {env: T_HW_TMP_TOKEN}",
    );
    yaml += &hw(
        "hw-wi",
        &format!(
            "      type: workload_identity\n      idp_id: cce-oidc\n      id_token_file: {id_token_file}\n      iam_endpoint: \"{{endpoint}}\""
        ),
    );
    yaml += &hw(
        "hw-ecs",
        "      type: ecs_metadata\n      metadata_endpoint: \"{endpoint}\"",
    );
    yaml += "resources:\n";
    for account in ["ali-ak", "ali-sts", "ali-rrsa", "ali-ecs"] {
        yaml += &format!(
            "  - {{account: {account}, region: cn-hangzhou, type: key, id: key-leak00001, tags: {{owner: web}}}}\n  \
             - {{account: {account}, region: cn-hangzhou, type: secret, name: db-password, tags: {{owner: payments}}}}\n  \
             - {{account: {account}, region: cn-hangzhou, type: secret, name: gone, tags: {{owner: x}}}}\n"
        );
    }
    for account in ["hw-ak", "hw-tmp", "hw-wi", "hw-ecs"] {
        yaml += &format!(
            "  - {{account: {account}, region: cn-north-4, type: key, id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {{owner: web}}}}\n  \
             - {{account: {account}, region: cn-north-4, type: secret, name: db-password, tags: {{owner: payments}}}}\n  \
             - {{account: {account}, region: cn-north-4, type: secret, name: gone, tags: {{owner: x}}}}\n"
        );
    }
    yaml += "schedule:\n  cron: \"0 0 0 1 1 *\"\n  check_timeout_seconds: 60\ndaemon:\n  listen_address: \"127.0.0.1:0\"\n";
    yaml.replace("{endpoint}", &emu.endpoint())
}

const ENV: &[(&str, &str)] = &[
    ("T_ALI_ID", "LTAIleakid"),
    ("T_ALI_SECRET", ALI_SECRET),
    ("T_ALI_STS_ID", "STS.leakid"),
    ("T_ALI_STS_SECRET", ALI_STS_SECRET),
    ("T_ALI_STS_TOKEN", ALI_STS_TOKEN),
    ("T_HW_AK", "HWLEAKAK"),
    ("T_HW_SK", HW_SK),
    ("T_HW_TMP_AK", "TMPLEAKAK"),
    ("T_HW_TMP_SK", HW_TMP_SK),
    ("T_HW_TMP_TOKEN", HW_TMP_TOKEN),
];

struct Setup {
    emu: Emulator,
    config: std::path::PathBuf,
    /// Every secret string the test knows: the configured ones and the two JWTs.
    secrets: Vec<String>,
}

fn setup() -> Setup {
    let emu = Emulator::start(INVENTORY);
    let oidc = jwt("sts.aliyuncs.com");
    let id_token = jwt("cce-oidc");
    let oidc_file = emu.dir.path().join("oidc-token");
    let id_token_file = emu.dir.path().join("id-token");
    std::fs::write(&oidc_file, &oidc).unwrap();
    std::fs::write(&id_token_file, &id_token).unwrap();
    let yaml = desired(&emu, oidc_file.to_str().unwrap(), id_token_file.to_str().unwrap());
    let config = emu.dir.path().join("desired.yaml");
    std::fs::write(&config, yaml).unwrap();
    let mut secrets: Vec<String> = [
        ALI_SECRET,
        ALI_STS_SECRET,
        ALI_STS_TOKEN,
        HW_SK,
        HW_TMP_SK,
        HW_TMP_TOKEN,
        JWT_CANARY,
    ]
    .map(str::to_owned)
    .into();
    for token in [&oidc, &id_token] {
        secrets.push(token.clone());
        // Each part of the JWT, and its claims' base64 text, which a log could carry on its own.
        secrets.extend(token.split('.').skip(1).map(str::to_owned));
    }
    Setup { emu, config, secrets }
}

/// Everything in `text` that is a known secret or looks like a credential or a computed signature.
fn leaks(text: &str, secrets: &[String]) -> Vec<String> {
    let mut found: Vec<String> = secrets
        .iter()
        .filter(|s| text.contains(s.as_str()))
        .map(|s| format!("secret {s:?}"))
        .collect();
    // "CANARY" finds any piece of the configured secrets, e.g. a truncated one.
    for shape in [
        "LEAKCANARY",
        "Signature=",
        "ACS3-HMAC-SHA256 Credential=",
        "SDK-HMAC-SHA256 Access=",
        "Access=",
        "Credential=",
        "authorization:",
        "\"authorization\"",
        "x-acs-security-token:",
        "x-security-token:",
        "x-auth-token:",
        "x-subject-token:",
        "SecurityToken=",
        "AccessKeySecret",
        "OIDCToken=",
        "\"secret\":\"",
        "securitytoken\":\"",
    ] {
        if text.to_ascii_lowercase().contains(&shape.to_ascii_lowercase()) {
            found.push(format!("shape {shape:?}"));
        }
    }
    // Credentials the emulator issues at run time (STS and IAM exchanges): Alibaba tokens start `CAIS`,
    // Huawei ones `hwst`, secrets and IAM tokens are 40 and 48 random letters and digits.
    let runs = text.split(|c: char| !c.is_ascii_alphanumeric());
    for run in runs {
        let issued_token = (run.starts_with("CAIS") || run.starts_with("hwst")) && run.len() >= 64;
        let random = run.len() >= 32
            && run.bytes().any(|b| b.is_ascii_uppercase())
            && run.bytes().any(|b| b.is_ascii_lowercase())
            && run.bytes().any(|b| b.is_ascii_digit());
        if issued_token || random {
            found.push(format!("credential-shaped {run:?}"));
        }
    }
    found
}

fn assert_clean(what: &str, text: &str, secrets: &[String]) {
    let found = leaks(text, secrets);
    assert!(found.is_empty(), "{what} leaks {found:?}:\n{text}");
}

#[test]
fn the_detector_finds_what_it_looks_for() {
    let secrets = vec!["s3cr3t-value".to_owned()];
    for bad in [
        "error: s3cr3t-value refused",
        "GET /?Action=ListKeys&Signature=abc",
        "authorization: ACS3-HMAC-SHA256 Credential=LTAI,SignedHeaders=host,Signature=0f",
        "Authorization: SDK-HMAC-SHA256 Access=HWAK, SignedHeaders=host, Signature=0f",
        "token CAIS0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "issued aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6 at 12:00",
        "x-security-token: abc",
    ] {
        assert!(!leaks(bad, &secrets).is_empty(), "{bad}");
    }
    for fine in [
        "key-leak00001 drifted: owner web -> platform",
        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "request id 5A2B1C3D-0000-4000-8000-000000000001",
        "access_key_id LTAIleakid",
    ] {
        assert!(
            leaks(fine, &secrets).is_empty(),
            "{fine}: {:?}",
            leaks(fine, &secrets)
        );
    }
}

fn check(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let output = tagdrift()
        .env("RUST_LOG", "trace")
        .envs(ENV.iter().copied())
        .arg("check")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run tagdrift check");
    (
        output.status.code().expect("exit code"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn check_at_trace_level_shows_no_secret_in_logs_or_reports() {
    let s = setup();
    let report_file = s.emu.dir.path().join("report.json");
    let (code, stdout, stderr) = check(
        &s.config,
        &["--format", "json", "--output", report_file.to_str().unwrap()],
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap())
        .unwrap_or_else(|e| panic!("no JSON report ({e}); stderr:\n{stderr}"));
    // Every account read: its credentials were used, so they had every chance to leak.
    assert_eq!(code, 2, "stderr:\n{stderr}");
    assert_eq!(report["summary"]["total"], 24, "{report}");
    assert_eq!(report["summary"]["unknown"], 0, "{report}");
    assert_eq!(report["summary"]["missing"], 8, "{report}");
    assert!(stderr.lines().count() > 20, "trace logging is on:\n{stderr}");
    assert_clean("check stderr (json run)", &stderr, &s.secrets);
    assert_clean("check stdout (json run)", &stdout, &s.secrets);
    assert_clean(
        "JSON report",
        &std::fs::read_to_string(&report_file).unwrap(),
        &s.secrets,
    );

    for format in ["text", "markdown"] {
        let (code, stdout, stderr) = check(&s.config, &["--format", format, "--no-color"]);
        assert_eq!(code, 2, "stderr:\n{stderr}");
        assert!(stdout.contains("key-leak00001"), "{stdout}");
        assert_clean(&format!("{format} report"), &stdout, &s.secrets);
        assert_clean(&format!("check stderr ({format} run)"), &stderr, &s.secrets);
    }

    // A refused credential is logged and reported: the error path must not echo it either.
    let output = tagdrift()
        .env("RUST_LOG", "trace")
        .envs(ENV.iter().copied())
        .env("T_ALI_SECRET", "WrongSecretLEAKCANARY0008")
        .env("T_HW_SK", "WrongSkLEAKCANARY0009")
        .args(["check", "--format", "json", "--config"])
        .arg(&s.config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(stdout.contains("auth"), "{stdout}");
    assert_clean("refused check stdout", &stdout, &s.secrets);
    assert_clean("refused check stderr", &stderr, &s.secrets);
    let emulator_log = s.emu.log();
    assert!(
        emulator_log.contains("emulator request"),
        "the emulator logs requests at trace:\n{emulator_log}"
    );
    assert_clean("emulator log", &emulator_log, &s.secrets);
}

#[test]
fn apply_at_trace_level_shows_no_secret_in_logs_audit_or_results() {
    let s = setup();
    for format in ["json", "text"] {
        let output = tagdrift()
            .env("RUST_LOG", "trace")
            .envs(ENV.iter().copied())
            .args([
                "apply",
                "--auto-approve",
                "--no-color",
                "--format",
                format,
                "--config",
            ])
            .arg(&s.config)
            .output()
            .expect("run tagdrift apply");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        // The first run writes with every kind of credential; the second finds nothing left to write.
        if format == "json" {
            assert!(stdout.contains("\"applied\""), "{stdout}\n{stderr}");
            assert!(stderr.contains("tagdrift::audit"), "{stderr}");
        }
        assert_clean(&format!("apply stdout ({format})"), &stdout, &s.secrets);
        assert_clean(&format!("apply stderr ({format})"), &stderr, &s.secrets);
    }
    assert_clean("emulator log", &s.emu.log(), &s.secrets);
}

/// `tagdrift run` with trace logging, its log collected.
struct Daemon {
    child: Child,
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(config: &std::path::Path) -> Daemon {
    let mut child = tagdrift()
        .env("RUST_LOG", "trace")
        .envs(ENV.iter().copied())
        .args([
            "--log-format",
            "json",
            "run",
            "--listen",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tagdrift run");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let event = serde_json::from_str::<Value>(&line).unwrap_or_default();
            if let Some(address) = event["address"].as_str() {
                let _ = tx.send(address.to_owned());
            }
            lines.lock().unwrap().push(line);
        }
    });
    let stdout = child.stdout.take().unwrap();
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            lines.lock().unwrap().push(line);
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("no listening address logged: {:#?}", log.lock().unwrap()));
    Daemon { child, addr, log }
}

/// A GET over plain HTTP/1.1: status and body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").expect("HTTP answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, body.to_owned())
}

#[test]
fn run_at_trace_level_shows_no_secret_in_logs_metrics_reports_or_page() {
    let s = setup();
    let d = run(&s.config);
    let deadline = Instant::now() + Duration::from_secs(60);
    let report = loop {
        let (status, body) = get(&d.addr, "/report.json");
        if status == 200 {
            break serde_json::from_str::<Value>(&body).unwrap();
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            Instant::now() < deadline,
            "no check within 60 s: {:#?}",
            d.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(report["summary"]["total"], 24, "{report}");
    assert_eq!(report["summary"]["unknown"], 0, "{report}");

    for path in [
        "/metrics",
        "/report",
        "/report.json",
        "/report.md",
        "/",
        "/healthz",
        "/readyz",
    ] {
        let (status, body) = get(&d.addr, path);
        assert_eq!(status, 200, "{path}: {body}");
        assert!(!body.is_empty(), "{path}");
        assert_clean(path, &body, &s.secrets);
    }
    let (_, metrics) = get(&d.addr, "/metrics");
    assert!(metrics.contains("account=\"hw-wi\""), "{metrics}");
    let (_, page) = get(&d.addr, "/");
    assert!(page.contains("key-leak00001"), "{page}");

    let log = d.log.lock().unwrap().join("\n");
    assert!(log.lines().count() > 20, "trace logging is on:\n{log}");
    assert_clean("run log", &log, &s.secrets);
    assert_clean("emulator log", &s.emu.log(), &s.secrets);
}
