//! The `ignores`, `schedule` and `daemon` sections. All three are optional mappings whose absence means
//! the documented defaults (the `DEFAULT_*` constants in the parent module), so each reads a missing node
//! as "use the default" rather than as an error.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::NaiveDate;
use globset::GlobBuilder;
use regex::Regex;

use super::{
    Bounds, DEFAULT_CHECK_TIMEOUT_SECONDS, DEFAULT_CONCURRENCY, DEFAULT_CRON, DEFAULT_LISTEN_ADDRESS,
    DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_RESOURCE_SERIES, DEFAULT_REQUEST_TIMEOUT_SECONDS, DEFAULT_SYSTEM_TAGS,
    Validator, check_cron,
};
use crate::config::model::{Daemon, Glob, Ignore, Ignores, LogFormat, Schedule};
use crate::vocab::Cloud;
use crate::yaml::{Fields, Node, field, quote};

pub(in crate::config) const LOG_FORMATS: &[(&str, LogFormat)] =
    &[("text", LogFormat::Text), ("json", LogFormat::Json)];

/// The bounds (inclusive) of the numeric settings; the JSON Schema states the same ones.
pub(in crate::config) const CHECK_TIMEOUT_SECONDS: Bounds = (1, 86_400);
pub(in crate::config) const REQUEST_TIMEOUT_SECONDS: Bounds = (1, 3_600);
pub(in crate::config) const MAX_ATTEMPTS: Bounds = (1, 10);
pub(in crate::config) const CONCURRENCY: Bounds = (1, 64);
pub(in crate::config) const MAX_RESOURCE_SERIES: Bounds = (0, 1_000_000);

pub(in crate::config) const IGNORES: &[&str] = &["system_tags", "entries"];
pub(in crate::config) const IGNORE: &[&str] = &["match", "keys", "reason", "until"];
pub(in crate::config) const SCHEDULE: &[&str] = &[
    "cron",
    "check_timeout_seconds",
    "request_timeout_seconds",
    "max_attempts",
    "concurrency",
];
pub(in crate::config) const DAEMON: &[&str] = &["listen_address", "log_format", "max_resource_series"];

/// Also stated by the JSON Schema.
pub(in crate::config) const DATE_PATTERN: &str = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$";
static DATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(DATE_PATTERN).expect("static regex"));

impl Validator<'_> {
    pub(super) fn ignores(&mut self, node: Option<&Node>) -> Option<Ignores> {
        let before = self.c.count();
        let path = "ignores";
        let f = match node {
            None => None,
            Some(n) => Some(self.c.object(n, path, IGNORES)?),
        };
        let mut system_tags = BTreeMap::new();
        let overrides = f.as_ref().and_then(|f| f.get("system_tags")).and_then(|n| {
            let clouds: Vec<&str> = Cloud::ALL.iter().map(|c| c.as_str()).collect();
            self.c.object(n, &field(path, "system_tags"), &clouds)
        });
        for (cloud, defaults) in DEFAULT_SYSTEM_TAGS {
            let globs = match overrides.as_ref().and_then(|o| o.get(cloud.as_str())) {
                Some(n) => self.globs(n, &field(&field(path, "system_tags"), cloud.as_str()), false),
                None => Some(
                    defaults
                        .iter()
                        .filter_map(|p| {
                            GlobBuilder::new(p).build().ok().map(|g| Glob {
                                pattern: (*p).to_string(),
                                matcher: g.compile_matcher(),
                            })
                        })
                        .collect(),
                ),
            };
            if let Some(globs) = globs {
                system_tags.insert(*cloud, globs);
            }
        }
        let entries_node = f.as_ref().and_then(|f| f.get("entries"));
        let entries = self.list(entries_node, &field(path, "entries"), Self::ignore);
        (self.c.count() == before).then_some(Ignores { system_tags, entries })
    }

    fn ignore(&mut self, node: &Node, path: &str) -> Option<Ignore> {
        let before = self.c.count();
        let f = self.c.object(node, path, IGNORE)?;
        let selector = self.selector(&f, path);
        let keys = match f.get("keys") {
            None => Some(Vec::new()),
            Some(n) => self.globs(n, &field(path, "keys"), false),
        };
        let reason = self
            .c
            .required(&f, path, "reason")
            .and_then(|n| self.c.non_empty_string(n, &field(path, "reason")));
        let until = f.get("until").and_then(|n| {
            let p = field(path, "until");
            let text = self.c.string(n, &p)?;
            let date = DATE
                .is_match(&text)
                .then(|| NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok())
                .flatten();
            if date.is_none() {
                self.c.at(
                    n,
                    &p,
                    format!(
                        "invalid date {} (expected YYYY-MM-DD, like 2026-12-31)",
                        quote(&text)
                    ),
                );
            }
            date
        });
        if self.c.count() > before {
            return None;
        }
        Some(Ignore {
            selector: selector?,
            keys: keys?,
            reason: reason?,
            until,
        })
    }

    pub(super) fn schedule(&mut self, node: Option<&Node>) -> Option<Schedule> {
        let before = self.c.count();
        let path = "schedule";
        let f = match node {
            None => None,
            Some(n) => Some(self.c.object(n, path, SCHEDULE)?),
        };
        let cron = match f.as_ref().and_then(|f| f.get("cron")) {
            None => Some(DEFAULT_CRON.to_string()),
            Some(n) => {
                let p = field(path, "cron");
                self.c.string(n, &p).and_then(|expr| match check_cron(&expr) {
                    Ok(()) => Some(expr),
                    Err(why) => {
                        self.c
                            .at(n, &p, format!("invalid cron expression {}: {why}", quote(&expr)));
                        None
                    }
                })
            }
        };
        let check = self.number(
            f.as_ref(),
            path,
            "check_timeout_seconds",
            DEFAULT_CHECK_TIMEOUT_SECONDS,
            CHECK_TIMEOUT_SECONDS,
        );
        let request = self.number(
            f.as_ref(),
            path,
            "request_timeout_seconds",
            DEFAULT_REQUEST_TIMEOUT_SECONDS,
            REQUEST_TIMEOUT_SECONDS,
        );
        if let (Some(check), Some(request), Some(f)) = (check, request, &f)
            && request > check
        {
            let at = f.get("request_timeout_seconds").map_or(f.mark, |n| n.mark);
            self.c.report(
                Some(at),
                &field(path, "request_timeout_seconds"),
                format!(
                    "request_timeout_seconds ({request}) must not exceed check_timeout_seconds ({check})"
                ),
            );
        }
        let attempts = self.number(
            f.as_ref(),
            path,
            "max_attempts",
            DEFAULT_MAX_ATTEMPTS,
            MAX_ATTEMPTS,
        );
        let concurrency = self.number(f.as_ref(), path, "concurrency", DEFAULT_CONCURRENCY, CONCURRENCY);
        if self.c.count() > before {
            return None;
        }
        Some(Schedule {
            cron: cron?,
            check_timeout: Duration::from_secs(check?),
            request_timeout: Duration::from_secs(request?),
            max_attempts: u32::try_from(attempts?).ok()?,
            concurrency: usize::try_from(concurrency?).ok()?,
        })
    }

    /// An optional integer field within `min..=max`, or its default.
    pub(super) fn number(
        &mut self,
        f: Option<&Fields<'_>>,
        path: &str,
        name: &str,
        default: u64,
        (min, max): Bounds,
    ) -> Option<u64> {
        let Some(node) = f.and_then(|f| f.get(name)) else {
            return Some(default);
        };
        let p = field(path, name);
        let n = self.c.typed::<u64>(node, &p)?;
        if !(min..=max).contains(&n) {
            self.c
                .at(node, &p, format!("must be from {min} to {max}, found {n}"));
            return None;
        }
        Some(n)
    }

    pub(super) fn daemon(&mut self, node: Option<&Node>) -> Option<Daemon> {
        let before = self.c.count();
        let path = "daemon";
        let f = match node {
            None => None,
            Some(n) => Some(self.c.object(n, path, DAEMON)?),
        };
        let listen_address = match f.as_ref().and_then(|f| f.get("listen_address")) {
            None => DEFAULT_LISTEN_ADDRESS.parse::<SocketAddr>().ok(),
            Some(n) => {
                let p = field(path, "listen_address");
                self.c.string(n, &p).and_then(|text| match text.parse::<SocketAddr>() {
                    Ok(addr) => Some(addr),
                    Err(_) => {
                        self.c.at(
                            n,
                            &p,
                            format!(
                                "invalid listen address {} (expected IP:PORT, like 0.0.0.0:9898 or [::]:9898)",
                                quote(&text)
                            ),
                        );
                        None
                    }
                })
            }
        };
        let log_format = match f.as_ref().and_then(|f| f.get("log_format")) {
            None => Some(LogFormat::Text),
            Some(n) => self.choice(n, &field(path, "log_format"), "log format", LOG_FORMATS),
        };
        let series = self.number(
            f.as_ref(),
            path,
            "max_resource_series",
            DEFAULT_MAX_RESOURCE_SERIES,
            MAX_RESOURCE_SERIES,
        );
        if self.c.count() > before {
            return None;
        }
        Some(Daemon {
            listen_address: listen_address?,
            log_format: log_format?,
            max_resource_series: usize::try_from(series?).ok()?,
        })
    }
}
