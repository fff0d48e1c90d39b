//! Test harness: the real `tagdrift emulate` binary on 127.0.0.1:0 with a manual clock (see
//! `tests/util/emulator_process.rs`), a client that signs with `cloud::alibaba::sign` and talks real HTTP, and
//! the Alibaba side of the case tables (`tests/util/table.rs`): requests, the two error shapes, a table runner.

use crate::util::emulator_process as process;
use crate::util::table;

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
pub use process::{EmulatorProcess, Fixture};
use serde_json::Value;
use tagdrift_cloud::alibaba::sign::{self, Credential, V3Call};
use tagdrift_emulator::StatsSnapshot;

pub use crate::util::http::{Raw, Reply, assert_hangs, assert_reset, request_text};
pub use crate::util::table::{
    Check, Expectation, Failures, Kind, Target, absent, body_contains, column, contains, eq, header, is, len,
};

pub const SAMPLE: &str = include_str!("../../config/emulator-inventory.yaml");
pub const T0: &str = "2025-01-02T03:04:05Z";
pub const KMS: &str = "2016-01-20";
pub const JSON_UTF8: &str = "application/json;charset=utf-8";

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

/// Decoded (name, value) pairs: query parameters or headers.
pub type Pairs = Vec<(String, String)>;

pub fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Decoded pairs written as `a=1&b=2` (taken literally: no percent-decoding, so no `&` or `=` in a value).
pub fn split_params(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
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

/// A KMS V3 call with no headers of the caller's and an empty body, POST.
pub fn v3_call<'a>(
    host: &'a str,
    action: &'a str,
    query: &'a [(String, String)],
    date: &'a str,
    nonce: &'a str,
) -> V3Call<'a> {
    V3Call {
        method: "POST",
        host,
        action,
        version: KMS,
        query,
        headers: &[],
        body: b"",
        date,
        nonce,
    }
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

/// The Alibaba reading of an answer: the `Code` and the two error shapes (gateway and KMS).
pub trait AlibabaReply {
    fn code(&self) -> &str;
    /// An error answer: status, code, `RequestId`, content type and exactly one shape's fields.
    fn check_error(&self, status: u16, code: &str) -> Result<(), String>;
    /// A JSON success: 200, `RequestId`, content type.
    fn check_ok(&self) -> Result<(), String>;
    #[track_caller]
    fn assert_error(&self, status: u16, code: &str);
    #[track_caller]
    fn assert_ok(&self);
}

impl AlibabaReply for Reply {
    fn code(&self) -> &str {
        self.json["Code"].as_str().unwrap_or("")
    }

    fn check_error(&self, status: u16, code: &str) -> Result<(), String> {
        if (self.status, self.code()) != (status, code) {
            return Err(format!(
                "want {status} {code}, got {} {:?}",
                self.status,
                self.code()
            ));
        }
        if self.json["RequestId"].as_str().is_none_or(|r| r.len() != 36) {
            return Err("no 36-character RequestId".into());
        }
        self.check_header("content-type", JSON_UTF8)?;
        if !self.json["Message"].is_string() {
            return Err("no Message".into());
        }
        let gateway = self.json.get("HostId").is_some() && self.json.get("Recommend").is_some();
        let kms = self.json["HttpStatus"].as_u64() == Some(u64::from(status));
        if gateway == kms {
            return Err("exactly one error shape expected".into());
        }
        Ok(())
    }

    fn check_ok(&self) -> Result<(), String> {
        if self.status != 200 {
            return Err(format!("want 200, got {}", self.status));
        }
        if !self.json["RequestId"].is_string() {
            return Err("no RequestId".into());
        }
        self.check_header("content-type", JSON_UTF8)
    }

    #[track_caller]
    fn assert_error(&self, status: u16, code: &str) {
        if let Err(e) = self.check_error(status, code) {
            panic!("{e}: {}", self.body);
        }
    }

    #[track_caller]
    fn assert_ok(&self) {
        if let Err(e) = self.check_ok() {
            panic!("{e}: {}", self.body);
        }
    }
}

/// What a case expects of the answer's status and shape.
#[derive(Debug, Clone)]
pub enum Expect {
    /// A JSON success (`assert_ok`).
    Ok,
    /// An error of either shape with this status and code (`assert_error`).
    Error(u16, &'static str),
    /// Only this status (answers outside the KMS API, such as metadata).
    Status(u16),
}

impl Expectation for Expect {
    fn verify(&self, reply: &Reply) -> Result<(), String> {
        match self {
            Expect::Ok => reply.check_ok(),
            Expect::Error(status, code) => reply.check_error(*status, code),
            Expect::Status(status) if reply.status == *status => Ok(()),
            Expect::Status(status) => Err(format!("want status {status}, got {}", reply.status)),
        }
    }
}

/// What a case sends.
#[derive(Debug, Clone)]
pub enum Request {
    /// Signed as `sig` with `credential` at the emulator's now and a fresh nonce.
    Call {
        sig: Sig,
        version: &'static str,
        action: &'static str,
        params: Vec<(String, String)>,
        credential: Credential,
    },
    /// Already signed V1 parameters, in the query or (`form`) a form body.
    V1 {
        method: &'static str,
        signed: Vec<(String, String)>,
        form: bool,
    },
    /// A V3 request with these headers (the signature among them).
    V3 {
        query: Vec<(String, String)>,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Sent as written.
    Raw(Raw),
}

pub type Case = table::Case<Request, Expect>;

/// A KMS call (`params` as in [`split_params`]) signed by `testid`, expected to succeed.
pub fn call(name: impl Into<String>, sig: Sig, action: &'static str, params: &str) -> Case {
    let request = Request::Call {
        sig,
        version: KMS,
        action,
        params: split_params(params),
        credential: testid(),
    };
    Case::new(name, request, Expect::Ok)
}

/// Already signed V1 parameters, expected to succeed.
pub fn v1(name: &str, method: &'static str, signed: Vec<(String, String)>, form: bool) -> Case {
    Case::new(name, Request::V1 { method, signed, form }, Expect::Ok)
}

/// A V3 request with its headers, expected to succeed.
pub fn v3(name: &str, query: Vec<(String, String)>, headers: Vec<(String, String)>, body: &[u8]) -> Case {
    let body = body.to_vec();
    Case::new(name, Request::V3 { query, headers, body }, Expect::Ok)
}

/// A request sent as written, expected to succeed.
pub fn raw(name: impl Into<String>, raw: Raw) -> Case {
    Case::new(name, Request::Raw(raw), Expect::Ok)
}

impl Case {
    /// Expects an error of `status` and `code`.
    pub fn fails(self, status: u16, code: &'static str) -> Case {
        self.expect(Expect::Error(status, code))
    }

    /// Expects only `status`.
    pub fn status(self, status: u16) -> Case {
        self.expect(Expect::Status(status))
    }

    /// A [`call`] of another API version.
    pub fn version(mut self, v: &'static str) -> Case {
        if let Request::Call { version, .. } = &mut self.request {
            *version = v;
        }
        self
    }

    /// A [`call`] with more parameters (as in [`split_params`]).
    pub fn params(mut self, text: &str) -> Case {
        if let Request::Call { params, .. } = &mut self.request {
            params.extend(split_params(text));
        }
        self
    }

    /// A [`call`] with one more parameter (any value, `=` and `&` too).
    pub fn param(mut self, name: &str, value: &str) -> Case {
        if let Request::Call { params, .. } = &mut self.request {
            params.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// A [`call`] signed with another credential.
    pub fn signed_by(mut self, c: &Credential) -> Case {
        if let Request::Call { credential, .. } = &mut self.request {
            *credential = c.clone();
        }
        self
    }
}

pub struct Emu {
    pub run: EmulatorProcess,
    pub http: reqwest::Client,
    nonce: AtomicU64,
}

impl Emu {
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

    pub async fn stats(&self) -> StatsSnapshot {
        self.run.stats().await
    }

    pub async fn set_faults(&self, body: Value) {
        self.run.set_faults(body).await;
    }

    /// Sends a request as written.
    pub async fn send_raw(&self, raw: &Raw) -> Reply {
        raw.send(&self.http, &self.run.endpoint()).await
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
        Reply::read(request.send().await.unwrap()).await
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
        // As the SDK does on every call; without it the answer is XML (see `xml_is_the_default_format`).
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("accept")) {
            request = request.header("accept", "application/json");
        }
        for (k, v) in headers {
            request = request.header(k, v);
        }
        Reply::read(request.send().await.unwrap()).await
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
        self.signed_call(sig, version, action, pairs(params), credential)
            .await
    }

    async fn signed_call(
        &self,
        sig: Sig,
        version: &str,
        action: &str,
        params: Vec<(String, String)>,
        credential: &Credential,
    ) -> Reply {
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

impl Target for Emu {
    type Request = Request;
    type Expect = Expect;

    async fn send(&self, request: &Request) -> Reply {
        match request {
            Request::Call {
                sig,
                version,
                action,
                params,
                credential,
            } => {
                self.signed_call(*sig, version, action, params.clone(), credential)
                    .await
            }
            Request::V1 { method, signed, form } => self.send_v1(method, signed, *form).await,
            Request::V3 { query, headers, body } => self.send_v3(query, headers, body.clone()).await,
            Request::Raw(raw) => self.send_raw(raw).await,
        }
    }
}

impl Fixture for Emu {
    fn t0() -> DateTime<Utc> {
        t0()
    }

    fn process(&self) -> &EmulatorProcess {
        &self.run
    }

    fn from_process(run: EmulatorProcess) -> Emu {
        Emu {
            http: run.http.clone(),
            run,
            nonce: AtomicU64::new(1),
        }
    }
}
