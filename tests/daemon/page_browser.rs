//! The HTML page in a real browser: Debian's headless Chromium driven through chromedriver's WebDriver HTTP
//! API (a small client over reqwest). At a desktop width (1400 px) and a phone's (400 px), checks that the
//! page loads, fits the viewport (no sideways scrolling of the document; wide tables scroll inside their
//! card), keeps each filter label with its touch-sized select, shows the drifted resource of the known
//! fixture with its difference, keeps hostile cloud text inert, and that the cloud, status and account
//! filters hide and show the right rows, land in the URL, announce the count and say when nothing matches.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::harness::{FIXTURE, Scripted, start};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

fn find(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| std::path::Path::new(dir).join(program))
        .find(|p| p.is_file())
}

impl Driver {
    async fn start() -> Option<Driver> {
        let chromedriver = find("chromedriver")?;
        find("chromium")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = match driver.http.get(format!("{}/status", driver.base)).send().await {
                Ok(r) => r.json::<Value>().await.is_ok_and(|v| v["value"]["ready"] == true),
                Err(_) => false,
            };
            if ready {
                return Some(driver);
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready in 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A browser whose viewport is `width` CSS pixels wide: a desktop window, or below Chromium's smallest
    /// window (500 px) a phone, through chromedriver's mobile emulation (touch, and the page's viewport meta
    /// in force, as on a real phone).
    async fn session(&self, profile: &std::path::Path, width: u32) -> Session<'_> {
        let mut options = json!({
            "binary": find("chromium").unwrap(),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", format!("--window-size={},900", width.max(500)),
                format!("--user-data-dir={}", profile.display()),
            ]
        });
        if width < 500 {
            options["mobileEmulation"] = json!({"deviceMetrics": {
                "width": width, "height": 900, "pixelRatio": 1, "mobile": true, "touch": true
            }});
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
        }}});
        let v = self.call(reqwest::Method::POST, "/session", Some(caps)).await;
        Session {
            driver: self,
            id: v["sessionId"].as_str().expect("a session id").to_owned(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let v: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {v}");
        v["value"].clone()
    }
}

impl Session<'_> {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.driver
            .call(method, &format!("/session/{}{path}", self.id), body)
            .await
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn elements(&self, css: &str) -> Vec<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_owned())
            .collect()
    }

    async fn one(&self, css: &str) -> String {
        let found = self.elements(css).await;
        assert_eq!(found.len(), 1, "{css}: {} elements", found.len());
        found[0].clone()
    }

    async fn text(&self, element: &str) -> String {
        let v = self
            .call(reqwest::Method::GET, &format!("/element/{element}/text"), None)
            .await;
        v.as_str().unwrap().to_owned()
    }

    async fn displayed(&self, element: &str) -> bool {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{element}/displayed"),
            None,
        )
        .await
        .as_bool()
        .unwrap()
    }

    async fn click(&self, css: &str) {
        let element = self.one(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// The ids (first line of the resource cell) of the resource rows the browser displays.
    async fn visible_resources(&self) -> Vec<String> {
        let mut out = Vec::new();
        for row in self.elements("tr[data-resource]").await {
            if self.displayed(&row).await {
                let cell = self.text(&row).await;
                out.push(cell);
            }
        }
        out
    }

    async fn close(self) {
        self.driver
            .call(reqwest::Method::DELETE, &format!("/session/{}", self.id), None)
            .await;
    }
}

fn ids(rows: &[String]) -> Vec<&str> {
    let mut ids: Vec<&str> = rows
        .iter()
        .map(|r| {
            ["key-drifted", "api-token", "0d0466b0-e727-4d9c-b35d-f84bb474a37f"]
                .into_iter()
                .find(|id| r.contains(id))
                .unwrap_or_else(|| panic!("unexpected row {r:?}"))
        })
        .collect();
    ids.sort_unstable();
    ids
}

/// Facts about the layout, measured by the browser: the document against the viewport, the summary table
/// against its scrolling card, the selects' heights, whether each label's text sits on its select's line,
/// and how resource cells and ids lay out.
const LAYOUT: &str = r##"
const root = document.documentElement;
const card = document.querySelector("#summary").parentElement;
const labels = Array.from(document.querySelectorAll("#filters label")).map(function (label) {
  const range = document.createRange();
  range.selectNodeContents(label.firstChild);
  const text = range.getBoundingClientRect();
  const select = label.querySelector("select").getBoundingClientRect();
  const middle = (text.top + text.bottom) / 2;
  return {height: select.height, together: middle > select.top && middle < select.bottom};
});
return {
  innerWidth: window.innerWidth,
  scrollWidth: root.scrollWidth,
  cardScrolls: card.scrollWidth > card.clientWidth,
  cardOverflow: getComputedStyle(card).overflowX,
  labels: labels,
  resourceCell: getComputedStyle(document.querySelector("#resources td")).display,
  idWrap: getComputedStyle(document.querySelector("code.id")).overflowWrap,
  idBreak: getComputedStyle(document.querySelector("code.id")).wordBreak,
};
"##;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_drift_and_its_filters_work_in_chromium_at_1400_and_400_px() {
    let Some(driver) = Driver::start().await else {
        super::harness::missing_tool(
            "chromium or chromedriver (Debian packages `chromium`, `chromium-driver`)",
        );
        return;
    };
    let d = start(FIXTURE, Scripted::fixture()).await;
    d.first_check().await;
    for width in [1400, 400] {
        let profile = tempfile::tempdir().unwrap();
        let s = driver.session(profile.path(), width).await;
        page_at(&s, &d.base, width).await;
        s.close().await;
    }
    d.stop().await;
}

async fn page_at(s: &Session<'_>, base: &str, width: u32) {
    let narrow = width < 640;
    s.go(&format!("{base}/")).await;
    let title = s.call(reqwest::Method::GET, "/title", None).await;
    assert_eq!(title, "tagdrift", "the hostile tag value ran script");
    assert_eq!(
        s.script("return document.querySelectorAll('img').length").await,
        0
    );

    let layout = s.script(LAYOUT).await;
    let at = format!("at {width} px: {layout}");
    assert_eq!(layout["innerWidth"], width, "the viewport {at}");
    assert!(
        layout["scrollWidth"].as_u64().unwrap() <= layout["innerWidth"].as_u64().unwrap(),
        "the document is wider than the viewport {at}"
    );
    // The measurement itself sees overflow: an element twice the viewport's width makes the document wider.
    // (Compared with the width asked for: a phone zooms out to show it, which widens innerWidth too.)
    let overflowed = s
        .script(
            "const probe = document.createElement('div'); probe.style.width = 2 * innerWidth + 'px'; \
             probe.style.height = '1px'; document.body.appendChild(probe); \
             const width = document.documentElement.scrollWidth; probe.remove(); return width;",
        )
        .await;
    assert!(
        overflowed.as_u64().unwrap() > u64::from(width),
        "scrollWidth does not see overflow {at}: {overflowed}"
    );
    assert_eq!(layout["cardOverflow"], "auto", "{at}");
    // The 10-column summary needs ~760 px: on a phone it scrolls inside its card, on a desktop it fits.
    assert_eq!(layout["cardScrolls"], narrow, "{at}");
    let labels = layout["labels"].as_array().unwrap();
    assert_eq!(labels.len(), 3, "{at}");
    for label in labels {
        assert!(
            label["height"].as_f64().unwrap() >= 44.0,
            "a select under 44 px {at}"
        );
        assert_eq!(label["together"], true, "a label apart from its select {at}");
    }
    // On a phone the resource list stacks; ids wrap anywhere rather than widen the page, and words stay whole.
    let cell = if narrow { "block" } else { "table-cell" };
    assert_eq!(layout["resourceCell"], cell, "{at}");
    assert_eq!(layout["idWrap"], "anywhere", "{at}");
    assert_eq!(layout["idBreak"], "normal", "{at}");

    // The drifted key and its difference, as a person reads it.
    let drifted = s.one("tr[data-resource][data-status=drifted]").await;
    let text = s.text(&drifted).await;
    assert!(text.contains("key-drifted"), "{text}");
    assert!(text.contains("alias/app-key"), "{text}");
    assert!(
        text.contains("env = \"<img src=x onerror=\"document.title='pwned'\">\" → \"prod\""),
        "{text}"
    );
    let verdict = s.text(&s.one("#verdict").await).await;
    assert!(verdict.starts_with("Drift:"), "{verdict}");
    assert_eq!(
        ids(&s.visible_resources().await),
        ["0d0466b0-e727-4d9c-b35d-f84bb474a37f", "api-token", "key-drifted"]
    );
    let summary_rows = s.elements("tr[data-scope]").await;
    assert_eq!(summary_rows.len(), 4);
    let status = s.one("#filter-status").await;
    assert_eq!(
        s.script("return document.getElementById('filter-status').getAttribute('aria-live')")
            .await,
        "polite"
    );
    assert_eq!(s.text(&status).await, "Showing 3 of 3 resources not in sync.");

    // Cloud filter.
    s.click("#f-cloud option[value=huawei]").await;
    assert_eq!(
        ids(&s.visible_resources().await),
        ["0d0466b0-e727-4d9c-b35d-f84bb474a37f", "api-token"]
    );
    assert_eq!(s.text(&s.one("#shown").await).await, "2");
    assert_eq!(
        s.text(&status).await,
        "Showing 2 of 3 resources not in sync (filtered)."
    );
    let mut visible_scopes = 0;
    for row in &summary_rows {
        if s.displayed(row).await {
            visible_scopes += 1;
            assert!(s.text(row).await.starts_with("huawei"));
        }
    }
    assert_eq!(visible_scopes, 2);
    assert!(!s.displayed(&s.one("#no-match").await).await);

    // Status filter on top of it.
    s.click("#f-status option[value=missing]").await;
    assert_eq!(ids(&s.visible_resources().await), ["api-token"]);
    let url = s.call(reqwest::Method::GET, "/url", None).await;
    assert!(
        url.as_str().unwrap().ends_with("/?cloud=huawei&status=missing"),
        "the filter is kept in the URL: {url}"
    );

    // A combination that matches nothing says so instead of showing an empty table.
    s.click("#f-cloud option[value=alibaba]").await;
    assert!(s.visible_resources().await.is_empty());
    let none = s.one("#no-match").await;
    assert!(s.displayed(&none).await, "no empty-state line at {width} px");
    assert!(
        s.text(&none)
            .await
            .starts_with("No resource matches these filters")
    );
    assert!(!s.displayed(&s.one("#resources").await).await);
    assert_eq!(
        s.text(&status).await,
        "Showing 0 of 3 resources not in sync (filtered)."
    );
    let after = s.script(LAYOUT).await;
    assert!(
        after["scrollWidth"].as_u64().unwrap() <= u64::from(width),
        "filtered, the document is wider than the viewport at {width} px: {after}"
    );

    // Account filter alone, reached through a shared link.
    s.go(&format!("{base}/?account=ali-prod")).await;
    assert_eq!(ids(&s.visible_resources().await), ["key-drifted"]);
    s.click("#f-account option[value='']").await;
    assert_eq!(ids(&s.visible_resources().await).len(), 3);
    assert!(!s.displayed(&s.one("#no-match").await).await);
}
