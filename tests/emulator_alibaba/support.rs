//! Test harness: the real `tagdrift emulate` binary on 127.0.0.1:0 with a manual clock (see
//! `tests/common/emulator_process.rs`), and a client that signs with `cloud::alibaba::sign` and talks real HTTP.

use crate::util::emulator_process as process;

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
pub use process::EmulatorProcess;
use process::Source;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tagdrift_cloud::alibaba::sign::{self, Credential, V3Call};
use tagdrift_emulator::{Faults, Options, StatsSnapshot};

pub const SAMPLE: &str = include_str!("../../config/emulator-inventory.yaml");
pub const T0: &str = "2025-01-02T03:04:05Z";
pub const KMS: &str = "2016-01-20";

pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(T0).unwrap().to_utc()
}

pub fn cred(id: &str, secret: &str) -> Credential {
    Credential {
        access_key_id: id.into(),
        access_key_secret: secret.into(),
        security_token: None,
    }
}

pub fn testid() -> Credential {
    cred("testid", "testsecret")
}

pub fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// RFC 3986 wire encoding of decoded pairs (`%20` for space).
pub fn encode(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", sign::percent_encode(k), sign::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// How a request is signed and where its parameters travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sig {
    /// V1, GET, parameters in the query.
    V1Get,
    /// V1, POST, parameters in the query, empty body (what the SDKs do).
    V1Post,
    /// V1, POST, parameters in an `application/x-www-form-urlencoded` body.
    V1Form,
    /// V3, POST, parameters in the query.
    V3,
    /// V3, POST, parameters in a form body.
    V3Form,
}

pub const ALL_SIGS: [Sig; 5] = [Sig::V1Get, Sig::V1Post, Sig::V1Form, Sig::V3, Sig::V3Form];

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    pub json: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.json["Code"].as_str().unwrap_or("")
    }

    /// Asserts an error answer: status, code, `RequestId`, content type and the shape's fields.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.body);
        assert!(
            self.json["RequestId"].as_str().is_some_and(|r| r.len() == 36),
            "{}",
            self.body
        );
        assert_eq!(self.headers["content-type"], "application/json;charset=utf-8");
        assert!(self.json["Message"].is_string(), "{}", self.body);
        let gateway = self.json.get("HostId").is_some() && self.json.get("Recommend").is_some();
        let kms = self.json["HttpStatus"].as_u64() == Some(u64::from(status));
        assert!(gateway ^ kms, "exactly one error shape expected: {}", self.body);
    }

    #[track_caller]
    pub fn assert_ok(&self) {
        assert_eq!(self.status, 200, "{}", self.body);
        assert!(self.json["RequestId"].is_string(), "{}", self.body);
        assert_eq!(self.headers["content-type"], "application/json;charset=utf-8");
    }
}

pub struct Emu {
    pub run: EmulatorProcess,
    pub http: reqwest::Client,
    nonce: AtomicU64,
}

impl Emu {
    pub async fn start(yaml: &str) -> Emu {
        Emu::start_with(yaml, Options::default(), Faults::default()).await
    }

    pub async fn start_with(yaml: &str, options: Options, faults: Faults) -> Emu {
        Emu::start_source(Source::Yaml(yaml), options, faults).await
    }

    /// Serves a `--generate total` inventory.
    pub async fn start_generated(total: usize, options: Options, faults: Faults) -> Emu {
        Emu::start_source(Source::Generate(total), options, faults).await
    }

    async fn start_source(source: Source<'_>, options: Options, faults: Faults) -> Emu {
        let run = EmulatorProcess::spawn(source, t0(), &options, &faults).await;
        Emu {
            http: run.http.clone(),
            run,
            nonce: AtomicU64::new(1),
        }
    }

    pub fn url(&self) -> String {
        format!("{}/", self.run.endpoint())
    }

    pub fn host(&self) -> String {
        self.run.addr.to_string()
    }

    pub fn next_nonce(&self) -> String {
        format!("nonce-{}", self.nonce.fetch_add(1, Ordering::SeqCst))
    }

    /// The emulator clock as an Alibaba timestamp.
    pub fn now(&self) -> String {
        sign::format_timestamp(self.run.clock_now())
    }

    /// Moves the emulator clock to `at` (`POST /_emulator/clock`).
    pub async fn set_clock(&self, at: DateTime<Utc>) {
        self.run.set_clock(at).await;
    }

    /// Moves the emulator clock by `by` (`POST /_emulator/clock`).
    pub async fn advance(&self, by: TimeDelta) {
        self.run.advance(by).await;
    }

    pub async fn stats(&self) -> StatsSnapshot {
        self.run.stats().await
    }

    pub async fn set_faults(&self, body: Value) {
        self.run.set_faults(body).await;
    }

    pub async fn reply(response: reqwest::Response) -> Reply {
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

    /// Sends already signed V1 parameters.
    pub async fn send_v1(&self, method: &str, signed: &[(String, String)], form: bool) -> Reply {
        let request = match (method, form) {
            ("GET", _) => self.http.get(format!("{}?{}", self.url(), encode(signed))),
            (_, false) => self.http.post(format!("{}?{}", self.url(), encode(signed))),
            (_, true) => self
                .http
                .post(self.url())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(encode(signed)),
        };
        Emu::reply(request.send().await.unwrap()).await
    }

    /// Sends a V3 request with the given extra headers (already containing the signature).
    pub async fn send_v3(
        &self,
        query: &[(String, String)],
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Reply {
        let qs = sign::v3_canonical_query(query);
        let url = if qs.is_empty() {
            self.url()
        } else {
            format!("{}?{qs}", self.url())
        };
        let mut request = self.http.post(url).body(body);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        Emu::reply(request.send().await.unwrap()).await
    }

    /// Calls `action` of `version` with `params`, signed as `sig` with `credential`, at the emulator's now.
    pub async fn call_version(
        &self,
        sig: Sig,
        version: &str,
        action: &str,
        params: &[(&str, &str)],
        credential: &Credential,
    ) -> Reply {
        let params = pairs(params);
        let nonce = self.next_nonce();
        let now = self.now();
        match sig {
            Sig::V1Get | Sig::V1Post | Sig::V1Form => {
                let mut all = pairs(&[("Action", action), ("Version", version), ("Format", "JSON")]);
                all.extend(params);
                let method = if sig == Sig::V1Get { "GET" } else { "POST" };
                let signed = sign::sign_v1(method, &all, credential, &now, &nonce);
                self.send_v1(method, &signed, sig == Sig::V1Form).await
            }
            Sig::V3 | Sig::V3Form => {
                let form = sig == Sig::V3Form;
                let body = if form {
                    encode(&params).into_bytes()
                } else {
                    Vec::new()
                };
                let query = if form { Vec::new() } else { params };
                let extra = if form {
                    pairs(&[("content-type", "application/x-www-form-urlencoded")])
                } else {
                    Vec::new()
                };
                let host = self.host();
                let call = V3Call {
                    method: "POST",
                    host: &host,
                    action,
                    version,
                    query: &query,
                    headers: &extra,
                    body: &body,
                    date: &now,
                    nonce: &nonce,
                };
                let mut headers = sign::sign_v3(&call, credential);
                headers.extend(extra);
                self.send_v3(&query, &headers, body).await
            }
        }
    }

    pub async fn call(
        &self,
        sig: Sig,
        action: &str,
        params: &[(&str, &str)],
        credential: &Credential,
    ) -> Reply {
        self.call_version(sig, KMS, action, params, credential).await
    }

    /// ListTagResources pages until NextToken is empty: every (id, key, value) row in order, and the pages.
    pub async fn all_tag_rows(&self, params: &[(&str, &str)]) -> (Vec<(String, String, String)>, usize) {
        let mut rows = Vec::new();
        let mut pages = 0;
        let mut token = String::new();
        loop {
            let mut p: Vec<(&str, &str)> = params.to_vec();
            if !token.is_empty() {
                p.push(("NextToken", &token));
            }
            let r = self.call(Sig::V3, "ListTagResources", &p, &testid()).await;
            r.assert_ok();
            pages += 1;
            for row in r.json["TagResources"]["TagResource"].as_array().unwrap() {
                rows.push((
                    row["ResourceId"].as_str().unwrap().to_owned(),
                    row["TagKey"].as_str().unwrap().to_owned(),
                    row["TagValue"].as_str().unwrap().to_owned(),
                ));
            }
            token = r.json["NextToken"].as_str().unwrap().to_owned();
            if token.is_empty() {
                return (rows, pages);
            }
            assert!(pages < 10_000);
        }
    }
}
