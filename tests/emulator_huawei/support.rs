//! Test harness: the real `tagdrift emulate` binary on 127.0.0.1:0 with a manual clock (see
//! `tests/common/emulator_process.rs`), and a client that signs with `cloud::huawei::sign`
//! (SDK-HMAC-SHA256) and talks real HTTP.

#![allow(dead_code)]

use crate::util::emulator_process as process;

use chrono::{DateTime, TimeDelta, Utc};
pub use process::EmulatorProcess;
use process::Source;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tagdrift_cloud::huawei::sign::{self, Credential};
use tagdrift_emulator::{Faults, Options, StatsSnapshot};

pub const SAMPLE: &str = include_str!("../../config/emulator-inventory.yaml");
/// The reference vectors' project and `X-Sdk-Date`.
pub const PID: &str = "0123456789abcdef0123456789abcdef";
pub const VECTOR_DATE: &str = "20260101T000000Z";
pub const T0: &str = "2026-01-01T00:00:00Z";
pub const VECTOR_HOST: &str = "kms.cn-north-4.myhuaweicloud.com";

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

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    pub json: Value,
}

impl Reply {
    /// The error code of either shape (nested DEW or flat gateway/IAM).
    pub fn code(&self) -> &str {
        self.json["error"]["error_code"]
            .as_str()
            .or_else(|| self.json["error_code"].as_str())
            .unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.json["error"]["error_msg"]
            .as_str()
            .or_else(|| self.json["error_msg"].as_str())
            .unwrap_or("")
    }

    #[track_caller]
    fn assert_common(&self) {
        let rid = self.headers["x-request-id"].to_str().unwrap();
        assert!(
            rid.len() == 32 && rid.bytes().all(|b| b.is_ascii_hexdigit()),
            "x-request-id {rid}"
        );
    }

    /// A DEW error: nested `{"error":{"error_code","error_msg"}}`, nothing else.
    #[track_caller]
    pub fn assert_dew_error(&self, status: u16, code: &str) {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.body);
        self.assert_common();
        assert_eq!(self.headers["content-type"], "application/json;charset=utf-8");
        let obj = self.json.as_object().unwrap();
        assert_eq!(obj.len(), 1, "{}", self.body);
        assert!(self.json["error"]["error_msg"].is_string(), "{}", self.body);
    }

    /// A gateway error: flat `{"error_code","error_msg","request_id"}` with the request id of the header.
    #[track_caller]
    pub fn assert_gateway_error(&self, status: u16, code: &str) {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.body);
        self.assert_common();
        assert!(self.json["error_msg"].is_string(), "{}", self.body);
        assert_eq!(
            self.json["request_id"].as_str().unwrap(),
            self.headers["x-request-id"].to_str().unwrap()
        );
        assert!(self.json.get("error").is_none());
    }

    /// An IAM error: flat `{"error_code","error_msg"}`.
    #[track_caller]
    pub fn assert_iam_error(&self, status: u16, code: &str) {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.body);
        assert_eq!(self.json.as_object().unwrap().len(), 2, "{}", self.body);
    }

    #[track_caller]
    pub fn assert_ok(&self) {
        assert_eq!(self.status, 200, "{}", self.body);
        self.assert_common();
        assert_eq!(self.headers["content-type"], "application/json;charset=utf-8");
    }

    #[track_caller]
    pub fn assert_no_content(&self) {
        assert_eq!(self.status, 204, "{}", self.body);
        self.assert_common();
        assert!(self.body.is_empty());
    }
}

pub struct Emu {
    pub run: EmulatorProcess,
    pub http: reqwest::Client,
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
        }
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

    /// Sends a request with exactly these headers (a `host` among them replaces the URL's).
    pub async fn send_raw(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Reply {
        let url = format!("{}{path_and_query}", self.run.endpoint());
        let mut request = self
            .http
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url)
            .body(body);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        Emu::reply(request.send().await.unwrap()).await
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
        let query = pairs(query);
        let headers = self.signed_headers(method, path, &query, body.as_bytes(), credential, project);
        let qs = sign::canonical_query(&query);
        let target = if qs.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{qs}")
        };
        self.send_raw(method, &target, &headers, body.as_bytes().to_vec())
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
