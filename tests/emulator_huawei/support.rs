//! Test harness: the real `tagdrift emulate` binary on 127.0.0.1:0 with a manual clock (see
//! `tests/util/emulator_process.rs`), a client that signs with `cloud::huawei::sign` (SDK-HMAC-SHA256) and
//! talks real HTTP, and the Huawei side of the case tables (`tests/util/table.rs`): requests, the three error
//! shapes, a table runner.

use crate::util::emulator_process as process;
use crate::util::table;

use chrono::{DateTime, Utc};
use process::Source;
pub use process::{EmulatorProcess, Fixture};
use serde_json::Value;
use tagdrift_cloud::huawei::sign::{self, Credential};
use tagdrift_emulator::{Faults, Options, StatsSnapshot};

pub use crate::util::http::{Raw, Reply, assert_hangs, assert_reset, exchange, request_text};
pub use crate::util::table::{Expectation, Kind, Target, absent, column, contains, eq, has, is, len};

pub const SAMPLE: &str = include_str!("../../config/emulator-inventory.yaml");
/// The reference vectors' project and `X-Sdk-Date`.
pub const PID: &str = "0123456789abcdef0123456789abcdef";
pub const VECTOR_DATE: &str = "20260101T000000Z";
pub const T0: &str = "2026-01-01T00:00:00Z";
pub const VECTOR_HOST: &str = "kms.cn-north-4.myhuaweicloud.com";
pub const JSON_UTF8: &str = "application/json;charset=utf-8";

pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(T0).unwrap().to_utc()
}

pub fn cred(ak: &str, sk: &str) -> Credential {
    Credential {
        ak: ak.into(),
        sk: sk.into(),
        security_token: None,
    }
}

pub fn testak() -> Credential {
    cred("testak", "testsk")
}

pub fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The Huawei reading of an answer: the error code of either shape (nested DEW or flat gateway/IAM) and the
/// checks of each shape.
pub trait HuaweiReply {
    fn code(&self) -> &str;
    /// A DEW error: nested `{"error":{"error_code","error_msg"}}`, nothing else.
    fn check_dew_error(&self, status: u16, code: &str) -> Result<(), String>;
    /// A gateway error: flat `{"error_code","error_msg","request_id"}` with the request id of the header.
    fn check_gateway_error(&self, status: u16, code: &str) -> Result<(), String>;
    /// An IAM error: flat `{"error_code","error_msg"}`.
    fn check_iam_error(&self, status: u16, code: &str) -> Result<(), String>;
    fn check_ok(&self) -> Result<(), String>;
    fn check_no_content(&self) -> Result<(), String>;

    #[track_caller]
    fn assert_dew_error(&self, status: u16, code: &str);
    #[track_caller]
    fn assert_gateway_error(&self, status: u16, code: &str);
    #[track_caller]
    fn assert_ok(&self);
}

/// `Err` unless the answer is `status` with error `code`.
fn check_code(reply: &Reply, status: u16, code: &str) -> Result<(), String> {
    if (reply.status, reply.code()) == (status, code) {
        Ok(())
    } else {
        Err(format!(
            "want {status} {code}, got {} {:?}",
            reply.status,
            reply.code()
        ))
    }
}

/// `Err` unless `x-request-id` is 32 hex digits.
fn check_request_id(reply: &Reply) -> Result<(), String> {
    match reply.header("x-request-id") {
        Some(rid) if rid.len() == 32 && rid.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(()),
        other => Err(format!("x-request-id {other:?}")),
    }
}

fn check_that(holds: bool, what: &str) -> Result<(), String> {
    if holds { Ok(()) } else { Err(what.to_owned()) }
}

#[track_caller]
fn or_panic(reply: &Reply, checked: Result<(), String>) {
    if let Err(e) = checked {
        panic!("{e}: {}", reply.body);
    }
}

impl HuaweiReply for Reply {
    fn code(&self) -> &str {
        self.json["error"]["error_code"]
            .as_str()
            .or_else(|| self.json["error_code"].as_str())
            .unwrap_or("")
    }

    fn check_dew_error(&self, status: u16, code: &str) -> Result<(), String> {
        check_code(self, status, code)?;
        check_request_id(self)?;
        self.check_header("content-type", JSON_UTF8)?;
        check_that(
            self.json.as_object().is_some_and(|o| o.len() == 1),
            "more than the error object",
        )?;
        check_that(self.json["error"]["error_msg"].is_string(), "no error_msg")
    }

    fn check_gateway_error(&self, status: u16, code: &str) -> Result<(), String> {
        check_code(self, status, code)?;
        check_request_id(self)?;
        check_that(self.json["error_msg"].is_string(), "no error_msg")?;
        check_that(
            self.json["request_id"].as_str().is_some()
                && self.json["request_id"].as_str() == self.header("x-request-id"),
            "request_id is not the x-request-id header",
        )?;
        check_that(self.json.get("error").is_none(), "a nested error object")
    }

    fn check_iam_error(&self, status: u16, code: &str) -> Result<(), String> {
        check_code(self, status, code)?;
        check_that(
            self.json.as_object().is_some_and(|o| o.len() == 2),
            "not exactly error_code and error_msg",
        )
    }

    fn check_ok(&self) -> Result<(), String> {
        check_that(self.status == 200, &format!("want 200, got {}", self.status))?;
        check_request_id(self)?;
        self.check_header("content-type", JSON_UTF8)
    }

    fn check_no_content(&self) -> Result<(), String> {
        check_that(self.status == 204, &format!("want 204, got {}", self.status))?;
        check_request_id(self)?;
        check_that(self.body.is_empty(), "a body")
    }

    #[track_caller]
    fn assert_dew_error(&self, status: u16, code: &str) {
        or_panic(self, self.check_dew_error(status, code));
    }

    #[track_caller]
    fn assert_gateway_error(&self, status: u16, code: &str) {
        or_panic(self, self.check_gateway_error(status, code));
    }

    #[track_caller]
    fn assert_ok(&self) {
        or_panic(self, self.check_ok());
    }
}

/// What a case expects of the answer's status and shape.
#[derive(Debug, Clone)]
pub enum Expect {
    /// A JSON success.
    Ok,
    /// 204 and no body.
    NoContent,
    Dew(u16, &'static str),
    Gateway(u16, &'static str),
    Iam(u16, &'static str),
    /// Only this status (answers outside the cloud APIs, such as metadata).
    Status(u16),
}

impl Expectation for Expect {
    fn verify(&self, reply: &Reply) -> Result<(), String> {
        match *self {
            Expect::Ok => reply.check_ok(),
            Expect::NoContent => reply.check_no_content(),
            Expect::Dew(status, code) => reply.check_dew_error(status, code),
            Expect::Gateway(status, code) => reply.check_gateway_error(status, code),
            Expect::Iam(status, code) => reply.check_iam_error(status, code),
            Expect::Status(status) => check_that(
                reply.status == status,
                &format!("want status {status}, got {}", reply.status),
            ),
        }
    }
}

/// What a case sends.
#[derive(Debug, Clone)]
pub enum Request {
    /// Signed by `credential` at the emulator's now, with `X-Project-Id` = `project` when given.
    Signed {
        method: &'static str,
        path: String,
        query: Vec<(String, String)>,
        body: String,
        credential: Credential,
        project: Option<String>,
    },
    /// Sent as written.
    Raw(Raw),
}

pub type Case = table::Case<Request, Expect>;

/// A call signed by `testak` in project [`PID`], expected to succeed.
pub fn call(name: impl Into<String>, method: &'static str, path: impl Into<String>, body: &str) -> Case {
    let request = Request::Signed {
        method,
        path: path.into(),
        query: Vec::new(),
        body: body.to_owned(),
        credential: testak(),
        project: Some(PID.to_owned()),
    };
    Case::new(name, request, Expect::Ok)
}

/// A request sent as written, expected to succeed.
pub fn raw(name: impl Into<String>, raw: Raw) -> Case {
    Case::new(name, Request::Raw(raw), Expect::Ok)
}

impl Case {
    pub fn no_content(self) -> Case {
        self.expect(Expect::NoContent)
    }

    pub fn dew(self, status: u16, code: &'static str) -> Case {
        self.expect(Expect::Dew(status, code))
    }

    pub fn gateway(self, status: u16, code: &'static str) -> Case {
        self.expect(Expect::Gateway(status, code))
    }

    pub fn iam(self, status: u16, code: &'static str) -> Case {
        self.expect(Expect::Iam(status, code))
    }

    pub fn status(self, status: u16) -> Case {
        self.expect(Expect::Status(status))
    }

    /// A [`call`] with one more query parameter.
    pub fn query(mut self, name: &str, value: &str) -> Case {
        if let Request::Signed { query, .. } = &mut self.request {
            query.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// A [`call`] signed by `by` with `X-Project-Id` = `in_project` (none when `None`).
    pub fn signed_by(mut self, by: &Credential, in_project: Option<&str>) -> Case {
        if let Request::Signed {
            credential, project, ..
        } = &mut self.request
        {
            *credential = by.clone();
            *project = in_project.map(str::to_owned);
        }
        self
    }
}

pub struct Emu {
    pub run: EmulatorProcess,
    pub http: reqwest::Client,
}

impl Emu {
    /// Serves a `--generate total` inventory on the machine's clock (no `--manual-clock`).
    pub async fn start_generated_on_machine_clock(total: usize, options: Options) -> Emu {
        let run = EmulatorProcess::spawn(Source::Generate(total), None, &options, &Faults::default()).await;
        Emu::from_process(run)
    }

    pub fn host(&self) -> String {
        self.run.addr.to_string()
    }

    /// The emulator clock as an `X-Sdk-Date`.
    pub fn now(&self) -> String {
        sign::format_sdk_date(self.run.clock_now())
    }

    /// The emulator clock.
    pub fn clock_now(&self) -> DateTime<Utc> {
        self.run.clock_now()
    }

    pub async fn stats(&self) -> StatsSnapshot {
        self.run.stats().await
    }

    /// Sends a request as written.
    pub async fn send_raw(&self, raw: &Raw) -> Reply {
        raw.send(&self.http, &self.run.endpoint()).await
    }

    /// The headers a signed call carries (the caller's, the signer's, and `host`).
    pub fn signed_headers(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: &[u8],
        credential: &Credential,
        project: Option<&str>,
    ) -> Vec<(String, String)> {
        let host = self.host();
        let mut own = pairs(&[("Content-Type", "application/json")]);
        if let Some(p) = project {
            own.push(("X-Project-Id".into(), p.into()));
        }
        let date = self.now();
        let call = sign::Call {
            method,
            host: &host,
            path,
            query,
            headers: &own,
            body,
            sdk_date: &date,
        };
        let mut headers = own.clone();
        headers.extend(sign::sign(&call, credential));
        headers
    }

    /// A signed call at the emulator's now with `X-Project-Id` = `project` (when given).
    pub async fn call_as(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: &str,
        credential: &Credential,
        project: Option<&str>,
    ) -> Reply {
        self.signed(method, path, &pairs(query), body, credential, project)
            .await
    }

    async fn signed(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: &str,
        credential: &Credential,
        project: Option<&str>,
    ) -> Reply {
        let headers = self.signed_headers(method, path, query, body.as_bytes(), credential, project);
        let qs = sign::canonical_query(query);
        let target = if qs.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{qs}")
        };
        self.send_raw(&Raw::new(method, target).headers(&headers).body(body))
            .await
    }

    /// A call signed by `testak` in project [`PID`].
    pub async fn call(&self, method: &str, path: &str, query: &[(&str, &str)], body: &str) -> Reply {
        self.call_as(method, path, query, body, &testak(), Some(PID))
            .await
    }

    pub async fn set_faults(&self, body: Value) {
        self.run.set_faults(body).await;
    }
}

impl Target for Emu {
    type Request = Request;
    type Expect = Expect;

    async fn send(&self, request: &Request) -> Reply {
        match request {
            Request::Signed {
                method,
                path,
                query,
                body,
                credential,
                project,
            } => {
                self.signed(method, path, query, body, credential, project.as_deref())
                    .await
            }
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
        }
    }
}
