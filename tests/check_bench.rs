//! Measurement, not a pass/fail test: `tagdrift check` against `tagdrift emulate --generate 10000` (both the
//! real binary, the emulator's default rate limits), printing the API calls per API beside the fewest the
//! inventory allows, and the wall time. Run alone:
//!
//! ```text
//! cargo test --release --test tests check_bench -- --ignored --nocapture
//! ```

use crate::util::cli as support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Instant;

use serde_json::Value;
use tagdrift_emulator::inventory::Inventory;

const TOTAL: usize = 10_000;

struct Served {
    child: Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &std::path::Path) -> Served {
    let mut child = support::tagdrift()
        .env("RUST_LOG", "info")
        .args([
            "--log-format",
            "json",
            "emulate",
            "--listen",
            "127.0.0.1:0",
            "--generate",
        ])
        .arg(TOTAL.to_string())
        .arg("--write-desired-state")
        .arg(dir.join("desired.yaml"))
        .arg("--write-inventory")
        .arg(dir.join("inventory.yaml"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the emulator");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("emulator exited").unwrap();
        if let Ok(event) = serde_json::from_str::<Value>(&line)
            && event["message"] == "emulator listening"
        {
            break event["addr"].as_str().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Served { child, addr }
}

fn http(addr: &str, method: &str, path: &str) -> Value {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// Fewest calls per (cloud, API) for the inventory when every resource is declared and nothing is discovered,
/// by the plans of docs/reading.md, and the lower bound any plan has from the page sizes.
fn expected(inventory: &Inventory, huawei_batch: bool) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let mut plan: BTreeMap<String, u64> = BTreeMap::new();
    let mut bound: BTreeMap<String, u64> = BTreeMap::new();
    let add = |m: &mut BTreeMap<String, u64>, k: &str, n: u64| *m.entry(k.to_owned()).or_default() += n;
    for account in &inventory.alibaba {
        for region in account.regions.values() {
            let mut keys: Vec<(&str, usize)> = region
                .keys
                .iter()
                .map(|k| (k.id.as_str(), k.tags.len()))
                .collect();
            let mut secrets: Vec<(&str, usize)> = region
                .secrets
                .iter()
                .map(|s| (s.name.as_str(), s.tags.len()))
                .collect();
            for (list, is_secret) in [(&mut keys, false), (&mut secrets, true)] {
                if list.is_empty() {
                    continue;
                }
                list.sort();
                let rows: usize = list.iter().map(|(_, t)| t).sum();
                let by_rows = rows.div_ceil(200).max(1) as u64;
                if is_secret {
                    // Every secret is declared: ListSecrets pages of 100 with their tags.
                    let pages = list.len().div_ceil(100).max(1) as u64;
                    add(&mut plan, "alibaba ListSecrets", pages);
                    add(&mut bound, "alibaba ListSecrets", pages.min(by_rows));
                } else {
                    // The generated desired state declares 4 tags per key: batches of 49 (4 rows to spare), one
                    // page each unless drift adds more than the spare rows.
                    let batches: u64 = list
                        .chunks(49)
                        .map(|b| (b.iter().map(|(_, t)| t).sum::<usize>().div_ceil(200)).max(1) as u64)
                        .sum();
                    add(&mut plan, "alibaba ListTagResources", batches);
                    let untagged = list.iter().filter(|(_, t)| *t == 0).count() as u64;
                    add(&mut plan, "alibaba DescribeKey", untagged);
                    add(&mut bound, "alibaba ListTagResources", by_rows);
                }
            }
        }
    }
    for account in &inventory.huawei {
        for project in &account.projects {
            let s = project.secrets.len();
            let k = project.keys.len();
            let tagged_s = project.secrets.iter().filter(|x| !x.tags.is_empty()).count();
            let tagged_k = project.keys.iter().filter(|x| !x.tags.is_empty()).count();
            if huawei_batch {
                if s > 0 {
                    add(
                        &mut plan,
                        "huawei ListResourceInstances",
                        tagged_s.div_ceil(1000).max(1) as u64,
                    );
                    add(&mut plan, "huawei ListSecretTags", (s - tagged_s) as u64);
                }
                if k > 0 {
                    add(
                        &mut plan,
                        "huawei ListKmsByTags",
                        tagged_k.div_ceil(1000).max(1) as u64,
                    );
                    add(&mut plan, "huawei ShowKmsTags", (k - tagged_k) as u64);
                }
            } else {
                if s > 0 {
                    // The emulator leaves next_marker out on the last page, so no empty page is needed.
                    add(&mut plan, "huawei ListSecrets", s.div_ceil(50) as u64);
                    add(&mut plan, "huawei ListSecretTags", s as u64);
                }
                add(&mut plan, "huawei ShowKmsTags", k as u64);
            }
            // Any plan: the batch read at 1000 resources a call (or one listing page when empty).
            if s > 0 {
                add(
                    &mut bound,
                    "huawei ListResourceInstances",
                    s.div_ceil(1000) as u64,
                );
            }
            if k > 0 {
                add(&mut bound, "huawei ListKmsByTags", k.div_ceil(1000) as u64);
            }
        }
    }
    (plan, bound)
}

fn measure(
    dir: &std::path::Path,
    desired: &std::path::Path,
    inventory: &Inventory,
    addr: &str,
    huawei_batch: bool,
) {
    http(addr, "POST", "/_emulator/reset-stats");
    let mut cmd = support::tagdrift();
    cmd.arg("check")
        .arg("--config")
        .arg(desired)
        .args(["--format", "json", "--output"])
        .arg(dir.join("report.json"));
    for (k, v) in tagdrift_emulator::inventory::credential_env_vars(inventory)
        .into_iter()
        .flat_map(|e| e.vars)
    {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let out = cmd.output().unwrap();
    let wall = started.elapsed();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let stats = http(addr, "GET", "/_emulator/stats");
    let (plan, bound) = expected(inventory, huawei_batch);
    println!(
        "\n== {TOTAL} resources, huawei batch_tag_read: {huawei_batch} — exit {:?}, wall {:.2}s, verdict {}, summary {}",
        out.status.code(),
        wall.as_secs_f64(),
        report["verdict"],
        report["summary"]
    );
    if !out.stderr.is_empty() {
        println!("stderr: {}", String::from_utf8_lossy(&out.stderr));
    }
    println!(
        "{:<34} {:>8} {:>8} {:>10}",
        "cloud API (outcomes)", "calls", "plan", "any plan"
    );
    let mut total = 0;
    let mut names: Vec<String> = plan.keys().chain(bound.keys()).cloned().collect();
    if let Some(clouds) = stats["clouds"].as_object() {
        for (cloud, c) in clouds {
            for api in c["apis"].as_object().into_iter().flatten().map(|(a, _)| a) {
                names.push(format!("{cloud} {api}"));
            }
        }
    }
    names.sort();
    names.dedup();
    for name in names {
        let (cloud, api) = name.split_once(' ').unwrap();
        let s = &stats["clouds"][cloud]["apis"][api];
        let calls = s["total"].as_u64().unwrap_or(0);
        total += calls;
        println!(
            "{:<34} {:>8} {:>8} {:>10}   {}",
            name,
            calls,
            plan.get(&name).copied().unwrap_or(0),
            bound.get(&name).copied().unwrap_or(0),
            s["outcomes"]
        );
    }
    println!(
        "{:<34} {:>8} {:>8} {:>10}",
        "total",
        total,
        plan.values().sum::<u64>(),
        bound.values().sum::<u64>()
    );
    assert!(out.status.code().is_some());
}

#[test]
#[ignore = "measurement: prints call counts and wall time for 10,000 resources"]
fn ten_thousand_resources() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let inventory = Inventory::load(&dir.path().join("inventory.yaml")).expect("inventory");
    let desired = dir.path().join("desired.yaml");
    let text = std::fs::read_to_string(&desired).unwrap();
    // The two plans the predictions describe: one call per resource, and the batch (`auto` compares first;
    // bench/run measures it).
    for (value, batch) in [("false", false), ("true", true)] {
        let mut with_plan = String::new();
        for line in text.lines() {
            with_plan.push_str(line);
            with_plan.push('\n');
            if line.trim_start() == "cloud: huawei" {
                let indent = &line[..line.len() - line.trim_start().len()];
                with_plan.push_str(&format!("{indent}batch_tag_read: {value}\n"));
            }
        }
        assert!(
            with_plan.contains(&format!("batch_tag_read: {value}")),
            "no huawei account in the generated desired state"
        );
        let path = dir.path().join(format!("desired-{value}.yaml"));
        std::fs::write(&path, with_plan).unwrap();
        measure(dir.path(), &path, &inventory, &served.addr, batch);
    }
}
