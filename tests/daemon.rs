//! The daemon over real HTTP: every endpoint, the metrics after a known check (exact series, and promtool's
//! linter), checks that never overlap, reload of a good then a bad desired state, and shutdown during a check.
//! The daemon runs in-process with a scripted source (tests/daemon/harness.rs); the binary-level tests are in
//! tests/cli_run.rs and the browser test of the page in tests/daemon/page_browser.rs.

pub(crate) mod harness;
mod heal;
mod page_browser;
mod parts;

use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use sha2::Digest as _;

use harness::{FIXTURE, Scripted, metric_lines, start, start_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_and_reports_before_and_after_the_first_check() {
    let source = Scripted::fixture();
    source.hold();
    let d = start(FIXTURE, source.clone()).await;

    assert_eq!(d.text("/healthz").await, (200, "ok\n".to_owned()));
    assert_eq!(d.text("/readyz").await, (200, "ready\n".to_owned()));
    for path in ["/report", "/report.json", "/report.md"] {
        let response = d.get(path).await;
        assert_eq!(response.status().as_u16(), 503, "{path}");
        assert_eq!(response.headers()["retry-after"], "5");
        let body = response.text().await.unwrap();
        assert!(body.starts_with("no check has completed yet"), "{path}: {body}");
    }
    let (status, page) = d.text("/").await;
    assert_eq!(status, 200);
    assert!(page.contains("No check has completed yet"), "{page}");
    assert!(
        d.metrics().await.lines().any(|l| l == "tagdrift_check_running 1"),
        "the held check shows as running"
    );

    source.release();
    d.first_check().await;

    let (status, text) = d.text("/report").await;
    assert_eq!(status, 200);
    assert!(text.starts_with("Checked at "), "{text}");
    assert!(text.contains("key-drifted"), "{text}");
    assert!(text.contains("in 0"), "the duration is shown: {text}");

    let response = d.get("/report.json").await;
    assert_eq!(response.headers()["content-type"], "application/json");
    let json: serde_json::Value = response.json().await.unwrap();
    assert_eq!(json["verdict"], "drift");
    assert_eq!(json["summary"]["total"], 4);
    assert_eq!(json["summary"]["drifted"], 1);
    assert_eq!(json["summary"]["missing"], 1);
    assert_eq!(json["summary"]["unknown"], 1);
    assert!(json["generated_at"].as_str().unwrap().ends_with('Z'));
    assert!(json["duration_seconds"].is_number());
    assert!(json["source"].as_str().unwrap().ends_with("desired.yaml"));

    let response = d.get("/report.md").await;
    assert_eq!(response.headers()["content-type"], "text/markdown; charset=utf-8");
    let md = response.text().await.unwrap();
    assert!(md.contains("key-drifted"), "{md}");

    let response = d.get("/").await;
    assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    let page = response.text().await.unwrap();
    // The policy names the inline script the page was served with by its hash, and nothing looser.
    let script = page
        .split_once("<script>")
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .expect("the page's inline script")
        .0;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script));
    assert!(
        policy.contains(&format!("script-src 'sha256-{hash}';")),
        "{policy}"
    );
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(page.contains("<link rel=\"icon\" href=\"favicon.svg\""));
    for path in ["/favicon.svg", "/favicon.ico"] {
        let icon = d.get(path).await;
        assert_eq!(icon.status(), 200, "{path}");
        assert_eq!(icon.headers()["content-type"], "image/svg+xml", "{path}");
        assert!(icon.text().await.unwrap().starts_with("<svg "), "{path}");
    }
    assert!(page.contains("key-drifted"));
    assert!(
        page.contains("&lt;img src=x onerror=&quot;document.title=&#39;pwned&#39;&quot;&gt;"),
        "cloud text is escaped"
    );
    assert!(
        !page.contains("<img"),
        "no markup from cloud text reaches the page"
    );
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no external assets"
    );

    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_cleanly() {
    let d = start(FIXTURE, Scripted::fixture()).await;
    let (status, body) = d.text("/no-such-page").await;
    assert_eq!(status, 404);
    assert!(body.starts_with("not found"), "{body}");

    let post = d.http.post(format!("{}/report", d.base)).send().await.unwrap();
    assert_eq!(post.status().as_u16(), 405);
    let delete = d.http.delete(format!("{}/metrics", d.base)).send().await.unwrap();
    assert_eq!(delete.status().as_u16(), 405);

    let big = d
        .http
        .post(format!("{}/report", d.base))
        .body(vec![b'x'; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status().as_u16(), 413);

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = d.base.trim_start_matches("http://").to_owned();
    let mut raw = tokio::net::TcpStream::connect(&address).await.unwrap();
    raw.write_all(b"POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), raw.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 411"), "{answer}");

    // A request line hyper cannot parse gets 400 and the server keeps serving.
    let mut raw = tokio::net::TcpStream::connect(&address).await.unwrap();
    raw.write_all(b"GARBAGE / HTTP/9.9\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), raw.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    assert_eq!(d.text("/healthz").await.0, 200);

    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_after_a_known_check_are_exact() {
    let d = start(FIXTURE, Scripted::fixture()).await;
    d.first_check().await;
    let text = d.metrics().await;

    let mut resources: Vec<String> = metric_lines(&text, "tagdrift_resources")
        .into_iter()
        .filter(|l| !l.ends_with(" 0"))
        .collect();
    resources.sort();
    assert_eq!(
        resources,
        [
            r#"tagdrift_resources{account="ali-prod",cloud="alibaba",region="cn-hangzhou",resource_type="key",status="drifted"} 1"#,
            r#"tagdrift_resources{account="ali-prod",cloud="alibaba",region="cn-hangzhou",resource_type="secret",status="in_sync"} 1"#,
            r#"tagdrift_resources{account="hw-prod",cloud="huawei",region="cn-north-4",resource_type="key",status="unknown"} 1"#,
            r#"tagdrift_resources{account="hw-prod",cloud="huawei",region="cn-north-4",resource_type="secret",status="missing"} 1"#,
        ]
    );
    // Every scope x status exists: 2 scopes per account x 2 accounts x 5 statuses.
    assert_eq!(metric_lines(&text, "tagdrift_resources").len(), 20);
    let mut tags: Vec<String> = metric_lines(&text, "tagdrift_drifted_tags")
        .into_iter()
        .filter(|l| !l.ends_with(" 0"))
        .collect();
    tags.sort();
    assert_eq!(
        tags,
        [
            r#"tagdrift_drifted_tags{account="ali-prod",change="update",cloud="alibaba",region="cn-hangzhou",resource_type="key"} 1"#
        ]
    );
    assert_eq!(metric_lines(&text, "tagdrift_drifted_tags").len(), 16);
    assert_eq!(
        metric_lines(&text, "tagdrift_resource_drift"),
        [
            r#"tagdrift_resource_drift{account="ali-prod",cloud="alibaba",region="cn-hangzhou",resource="key-drifted",resource_type="key",status="drifted"} 1"#,
            r#"tagdrift_resource_drift{account="hw-prod",cloud="huawei",region="cn-north-4",resource="0d0466b0-e727-4d9c-b35d-f84bb474a37f",resource_type="key",status="unknown"} 1"#,
            r#"tagdrift_resource_drift{account="hw-prod",cloud="huawei",region="cn-north-4",resource="api-token",resource_type="secret",status="missing"} 1"#,
        ]
    );
    for line in [
        "tagdrift_resource_series_dropped 0",
        "tagdrift_checks_total 1",
        // One resource could not be read, so the check is not successful.
        "tagdrift_check_failures_total 1",
        "tagdrift_check_last_successful 0",
        "tagdrift_check_last_success_timestamp_seconds 0",
        "tagdrift_check_running 0",
        "tagdrift_check_skipped_ticks_total 0",
        "tagdrift_config_last_reload_successful 1",
        "tagdrift_config_reloads_total 0",
        "tagdrift_config_reload_failures_total 0",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?}:\n{text}");
    }
    assert!(metric_lines(&text, "tagdrift_scope_read_failed").is_empty());
    let last = metric_lines(&text, "tagdrift_check_last_timestamp_seconds");
    let value: f64 = last[0].rsplit(' ').next().unwrap().parse().unwrap();
    let now = chrono::Utc::now().timestamp() as f64;
    assert!((now - value).abs() < 60.0, "{value} is not about now ({now})");
    // "0 0 0 1 1 *" ticks once a year; 2028 is a leap year, so the gap is 365 or 366 days.
    let interval = metric_lines(&text, "tagdrift_check_interval_seconds");
    assert!(
        interval == ["tagdrift_check_interval_seconds 31536000"]
            || interval == ["tagdrift_check_interval_seconds 31622400"],
        "{interval:?}"
    );
    let build = metric_lines(&text, "tagdrift_build_info");
    assert_eq!(build.len(), 1);
    assert!(build[0].starts_with(&format!(
        "tagdrift_build_info{{revision=\"{}\",version=\"{}\"}} 1",
        tagdrift::metrics::REVISION,
        env!("CARGO_PKG_VERSION")
    )));

    // A second check replaces the first: the drifted key is fixed, so its series disappears.
    d.scripted().answers.lock().unwrap().insert(
        "key-drifted".to_owned(),
        tagdrift_core::vocab::Outcome::Found(harness::tags(&[("owner", "payments"), ("env", "prod")])),
    );
    // The second check is the one this tick queues (the cron ticks once a year), and a scrape that counts it
    // sees its drift too: the registry gathers in no fixed order, so this failed about once in eight runs
    // while recording a check and gathering could interleave.
    assert!(
        d.checker.tick(),
        "the first check is over, so the tick queues one"
    );
    let text = d
        .wait_metric("tagdrift_checks_total 2", Duration::from_secs(10))
        .await;
    assert!(!text.contains("key-drifted"), "{text}");
    assert_eq!(metric_lines(&text, "tagdrift_resource_drift").len(), 2, "{text}");

    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_accepts_the_metrics() {
    let Some(promtool) = which("promtool") else {
        harness::missing_tool("promtool (Debian package `prometheus`)");
        return;
    };
    let d = start(FIXTURE, Scripted::fixture()).await;
    d.first_check().await;
    // Give the histogram and error counters something to show.
    use tagdrift_cloud::CallObserver;
    use tagdrift_core::vocab::{Cloud, ErrorCode};
    d.checker.metrics().attempt(
        Cloud::Huawei,
        "ListSecrets",
        false,
        None,
        Duration::from_millis(30),
    );
    d.checker.metrics().attempt(
        Cloud::Huawei,
        "ListSecrets",
        true,
        Some(ErrorCode::Throttled),
        Duration::from_millis(80),
    );
    let text = d.metrics().await;
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{report}\n---\n{text}"
    );
    assert!(report.trim().is_empty(), "promtool lint findings:\n{report}");
    d.stop().await;
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| std::path::Path::new(dir).join(program))
        .find(|p| p.is_file())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_during_a_slow_check_are_skipped_and_checks_never_overlap() {
    let every_second = FIXTURE.replace("\"0 0 0 1 1 *\"", "\"* * * * * *\"");
    let source = Scripted::fixture();
    source.set_delay(Duration::from_millis(2500));
    let d = start(&every_second, source.clone()).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    let text = d.metrics().await;
    assert_eq!(
        source.max_active.load(Ordering::SeqCst),
        1,
        "two checks ran at once"
    );
    let skipped: u64 = metric_lines(&text, "tagdrift_check_skipped_ticks_total")[0]
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        skipped >= 2,
        "{skipped} ticks skipped in 7 s of 2.5 s checks:\n{text}"
    );
    let reads = source.reads.load(Ordering::SeqCst);
    assert!((2..=4).contains(&reads), "{reads} checks in 7 s of 2.5 s checks");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_takes_a_good_file_and_keeps_it_when_the_next_is_bad() {
    let every_second = FIXTURE.replace("\"0 0 0 1 1 *\"", "\"* * * * * *\"");
    let d = start(&every_second, Scripted::fixture()).await;
    d.first_check().await;
    let json: serde_json::Value = d.get("/report.json").await.json().await.unwrap();
    assert_eq!(json["summary"]["total"], 4);

    // Good: one more secret declared.
    let good = every_second.replace(
        "resources:\n",
        "resources:\n  - {account: ali-prod, region: cn-hangzhou, type: secret, name: extra, tags: {owner: ops}}\n",
    );
    d.write_config(&good);
    d.wait_metric("tagdrift_config_reloads_total 1", Duration::from_secs(5))
        .await;
    let text = d.metrics().await;
    assert!(
        text.lines()
            .any(|l| l == "tagdrift_config_last_reload_successful 1"),
        "{text}"
    );
    wait_for_total(&d, 5).await;

    // Bad: an unknown cloud. The located problem is logged, the metric turns 0, the good state stays.
    d.write_config(&good.replace("cloud: huawei", "cloud: azure"));
    let text = d
        .wait_metric("tagdrift_config_reload_failures_total 1", Duration::from_secs(5))
        .await;
    assert!(
        text.lines()
            .any(|l| l == "tagdrift_config_last_reload_successful 0"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l == "tagdrift_config_reloads_total 2"),
        "{text}"
    );
    let checks_before = d.checker.metrics().render();
    let n = metric_lines(&checks_before, "tagdrift_checks_total")[0].clone();
    let n: u64 = n.rsplit(' ').next().unwrap().parse().unwrap();
    d.wait_metric(
        &format!("tagdrift_checks_total {}", n + 1),
        Duration::from_secs(5),
    )
    .await;
    let json: serde_json::Value = d.get("/report.json").await.json().await.unwrap();
    assert_eq!(
        json["summary"]["total"], 5,
        "the last good desired state is still in force"
    );
    assert_eq!(
        d.text("/readyz").await.0,
        200,
        "a rejected reload does not make the pod unready"
    );
    d.stop().await;
}

pub(crate) async fn wait_for_total(d: &harness::Daemon, total: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let json: serde_json::Value = d.get("/report.json").await.json().await.unwrap();
        if json["summary"]["total"] == total {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no check with {total} resources: {json}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_during_a_check_is_prompt() {
    let source = Scripted::fixture();
    source.hold();
    let d = start(FIXTURE, source.clone()).await;
    d.wait_metric("tagdrift_check_running 1", Duration::from_secs(5))
        .await;
    let took = d.stop().await;
    assert!(took < Duration::from_secs(6), "shutdown took {took:?}");
    assert_eq!(
        source.active.load(Ordering::SeqCst),
        0,
        "the read in flight was dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_swapped_for_a_device_or_fifo_is_rejected_and_shutdown_still_works() {
    let d = start(FIXTURE, Scripted::fixture()).await;
    d.first_check().await;
    let dir = d.config.parent().unwrap().to_owned();

    // /dev/zero never ends: read unbounded, it grew the process without limit and kept SIGTERM waiting.
    let link = dir.join("zero.tmp");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    std::fs::rename(&link, &d.config).unwrap();
    d.wait_metric("tagdrift_config_reload_failures_total 1", Duration::from_secs(10))
        .await;

    // A FIFO nobody writes to: opening or reading it would block for ever.
    let fifo = dir.join("fifo.tmp");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo");
    std::fs::rename(&fifo, &d.config).unwrap();
    d.wait_metric("tagdrift_config_reload_failures_total 2", Duration::from_secs(10))
        .await;

    assert_eq!(d.text("/healthz").await.0, 200);
    // Bounded inside: stop panics if the daemon has not stopped within 15 s.
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_nosniff_and_no_referrer() {
    let source = Scripted::fixture();
    source.hold();
    let d = start(FIXTURE, source.clone()).await;
    let url = |path: &str| format!("{}{path}", d.base);
    let requests = [
        ("/ (200)", d.http.get(url("/"))),
        ("/metrics (200)", d.http.get(url("/metrics"))),
        ("/healthz (200)", d.http.get(url("/healthz"))),
        ("/readyz (200)", d.http.get(url("/readyz"))),
        ("/report (503)", d.http.get(url("/report"))),
        ("/report.json (503)", d.http.get(url("/report.json"))),
        ("/report.md (503)", d.http.get(url("/report.md"))),
        ("/favicon.svg (200)", d.http.get(url("/favicon.svg"))),
        ("/favicon.ico (200)", d.http.get(url("/favicon.ico"))),
        ("404", d.http.get(url("/nope"))),
        ("405", d.http.delete(url("/metrics"))),
        ("413", d.http.post(url("/report")).body(vec![b'x'; 4096])),
        ("HEAD", d.http.head(url("/healthz"))),
    ];
    for (what, request) in requests {
        let response = request.send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
    }
    source.release();
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_while_draining() {
    // The delay is far longer than the test: the listener must still be open whenever the 503 is looked for.
    let mut d = start_with(
        FIXTURE,
        Scripted::fixture(),
        Duration::from_secs(120),
        tagdrift::daemon::HttpLimits::default(),
    )
    .await;
    d.first_check().await;
    assert_eq!(d.text("/readyz").await, (200, "ready\n".to_owned()));
    d.begin_stop();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = d.text("/readyz").await;
        if status == 503 {
            assert_eq!(body, "not ready\n");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/readyz still {status} 10 s after shutdown began"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(d.text("/healthz").await.0, 200, "still live while draining");
    // The daemon is left draining; the test's runtime ends it.
}
