//! Test-only builders for [`DesiredState`] and [`Observations`], so engine and report tests can state their
//! inputs in a few chained calls without going through the YAML loader.
// Builders for tests, chained from `new()`; a `Default` would only be a second way to start one.
#![allow(clippy::new_without_default)]

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use globset::GlobBuilder;
use regex::RegexBuilder;

use crate::config::{
    Account, Credentials, Daemon, DeclaredResource, Defaults, DesiredState, Discovery, Glob, Ignore, Ignores,
    LogFormat, Pattern, Region, Rule, Schedule, Selector,
};
use crate::vocab::{
    Cloud, ErrorCode, LeftOut, Observations, Observed, Outcome, PlanReason, ReadError, ReadPlan, ResourceRef,
    ResourceType, ScopeFailure, Tags, Untaggable,
};

/// Compiles a glob the way the loader does, keeping its text.
pub fn glob(pattern: &str) -> Glob {
    compile_glob(pattern, false)
}

fn compile_glob(pattern: &str, case_insensitive: bool) -> Glob {
    let matcher = GlobBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .build()
        .unwrap_or_else(|e| panic!("fixture glob {pattern:?}: {e}"))
        .compile_matcher();
    Glob {
        pattern: pattern.to_owned(),
        matcher,
    }
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("fixture date {s:?}: {e}"))
}

pub fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub fn res(cloud: Cloud, account: &str, region: &str, ty: ResourceType, id: &str) -> ResourceRef {
    ResourceRef {
        cloud,
        account: account.to_owned(),
        region: region.to_owned(),
        resource_type: ty,
        id: id.to_owned(),
    }
}

/// A secret in the Alibaba account `ali-prod`, region `cn-hangzhou`.
pub fn ali_secret(id: &str) -> ResourceRef {
    res(
        Cloud::Alibaba,
        "ali-prod",
        "cn-hangzhou",
        ResourceType::Secret,
        id,
    )
}

/// A key in the Alibaba account `ali-prod`, region `cn-hangzhou`.
pub fn ali_key(id: &str) -> ResourceRef {
    res(Cloud::Alibaba, "ali-prod", "cn-hangzhou", ResourceType::Key, id)
}

/// A secret in the Huawei account `hw-prod`, region `cn-north-4`.
pub fn hw_secret(id: &str) -> ResourceRef {
    res(Cloud::Huawei, "hw-prod", "cn-north-4", ResourceType::Secret, id)
}

/// A key in the Huawei account `hw-prod`, region `cn-north-4`.
pub fn hw_key(id: &str) -> ResourceRef {
    res(Cloud::Huawei, "hw-prod", "cn-north-4", ResourceType::Key, id)
}

/// A selector under construction; every unset field matches anything.
#[derive(Default)]
pub struct Sel(pub Selector);

pub fn any() -> Sel {
    Sel::default()
}

impl Sel {
    pub fn cloud(mut self, c: Cloud) -> Self {
        self.0.cloud = Some(c);
        self
    }
    pub fn account(mut self, g: &str) -> Self {
        self.0.account = Some(glob(g));
        self
    }
    pub fn region(mut self, g: &str) -> Self {
        self.0.region = Some(glob(g));
        self
    }
    pub fn ty(mut self, t: ResourceType) -> Self {
        self.0.resource_type = Some(t);
        self
    }
    pub fn name(mut self, g: &str) -> Self {
        self.0.name = Some(glob(g));
        self
    }
}

/// A rule under construction. Globs and regexes are compiled at the end, case-insensitive when asked, as the
/// loader does.
pub struct RuleB {
    name: String,
    selector: Selector,
    required: Vec<String>,
    allowed: BTreeMap<String, Vec<String>>,
    patterns: BTreeMap<String, String>,
    forbidden: Vec<String>,
    case_insensitive: bool,
}

pub fn rule(name: &str) -> RuleB {
    RuleB {
        name: name.to_owned(),
        selector: Selector::default(),
        required: Vec::new(),
        allowed: BTreeMap::new(),
        patterns: BTreeMap::new(),
        forbidden: Vec::new(),
        case_insensitive: false,
    }
}

impl RuleB {
    pub fn select(mut self, sel: Sel) -> Self {
        self.selector = sel.0;
        self
    }
    pub fn required(mut self, keys: &[&str]) -> Self {
        self.required.extend(keys.iter().map(|k| (*k).to_owned()));
        self
    }
    pub fn allowed(mut self, key: &str, values: &[&str]) -> Self {
        self.allowed
            .insert(key.to_owned(), values.iter().map(|v| (*v).to_owned()).collect());
        self
    }
    pub fn pattern(mut self, key: &str, regex: &str) -> Self {
        self.patterns.insert(key.to_owned(), regex.to_owned());
        self
    }
    pub fn forbidden(mut self, globs: &[&str]) -> Self {
        self.forbidden.extend(globs.iter().map(|g| (*g).to_owned()));
        self
    }
    pub fn case_insensitive(mut self) -> Self {
        self.case_insensitive = true;
        self
    }

    fn build(self) -> Rule {
        let ci = self.case_insensitive;
        Rule {
            name: self.name,
            selector: self.selector,
            required: self.required,
            allowed_values: self.allowed,
            patterns: self
                .patterns
                .into_iter()
                .map(|(k, source)| {
                    let regex = RegexBuilder::new(&source)
                        .case_insensitive(ci)
                        .build()
                        .unwrap_or_else(|e| panic!("fixture regex {source:?}: {e}"));
                    (k, Pattern { source, regex })
                })
                .collect(),
            forbidden: self.forbidden.iter().map(|g| compile_glob(g, ci)).collect(),
            case_insensitive: ci,
        }
    }
}

/// A desired state under construction: two accounts (`ali-prod` in cn-hangzhou, `hw-prod` in cn-north-4) and
/// the loader's default system-tag globs.
pub struct Desired(DesiredState);

impl Desired {
    pub fn new() -> Self {
        let account = |name: &str, cloud, region: &str, project_id: Option<&str>| Account {
            name: name.to_owned(),
            cloud,
            regions: vec![Region {
                name: region.to_owned(),
                project_id: project_id.map(str::to_owned),
            }],
            endpoint: None,
            credentials: Credentials::Default,
            rate_limits: BTreeMap::new(),
            batch_tag_read: crate::config::BatchTagRead::Auto,
        };
        let system_tags = BTreeMap::from([
            (Cloud::Alibaba, vec![glob("acs:*"), glob("aliyun*")]),
            (Cloud::Huawei, vec![glob("_sys_*")]),
        ]);
        Desired(DesiredState {
            accounts: vec![
                account("ali-prod", Cloud::Alibaba, "cn-hangzhou", None),
                account(
                    "hw-prod",
                    Cloud::Huawei,
                    "cn-north-4",
                    Some("0123456789abcdef0123456789abcdef"),
                ),
            ],
            resources: Vec::new(),
            defaults: Vec::new(),
            rules: Vec::new(),
            discovery: Vec::new(),
            ignores: Ignores {
                system_tags,
                entries: Vec::new(),
            },
            schedule: Schedule {
                cron: "0 */5 * * * *".to_owned(),
                check_timeout: Duration::from_secs(300),
                request_timeout: Duration::from_secs(10),
                max_attempts: 3,
                concurrency: 4,
            },
            daemon: Daemon {
                listen_address: ([127, 0, 0, 1], 9090).into(),
                log_format: LogFormat::Text,
                max_resource_series: 1000,
            },
            reconcile: crate::config::Reconcile::default(),
        })
    }

    /// Declares `r` with exactly these tags.
    pub fn declare(self, r: &ResourceRef, t: &[(&str, &str)]) -> Self {
        self.declare_with(r, t, false)
    }

    /// Declares `r` with these tags, allowing tags it does not declare.
    pub fn declare_extra(self, r: &ResourceRef, t: &[(&str, &str)]) -> Self {
        self.declare_with(r, t, true)
    }

    fn declare_with(mut self, r: &ResourceRef, t: &[(&str, &str)], allow_extra_tags: bool) -> Self {
        let line = self.0.resources.len() + 1;
        self.0.resources.push(DeclaredResource {
            cloud: r.cloud,
            account: r.account.clone(),
            region: r.region.clone(),
            resource_type: r.resource_type,
            id: r.id.clone(),
            tags: tags(t),
            allow_extra_tags,
            by_alias: false,
            line,
        });
        self
    }

    pub fn defaults(mut self, sel: Sel, t: &[(&str, &str)]) -> Self {
        self.0.defaults.push(Defaults {
            selector: sel.0,
            tags: tags(t),
        });
        self
    }

    pub fn rule(mut self, r: RuleB) -> Self {
        self.0.rules.push(r.build());
        self
    }

    pub fn discover(mut self, sel: Sel, report_unmanaged: bool) -> Self {
        self.0.discovery.push(Discovery {
            selector: sel.0,
            report_unmanaged,
        });
        self
    }

    /// Ignores drift on `keys` (all keys when empty) of the selected resources, until the given day if any.
    pub fn ignore(mut self, sel: Sel, keys: &[&str], reason: &str, until: Option<&str>) -> Self {
        self.0.ignores.entries.push(Ignore {
            selector: sel.0,
            keys: keys.iter().map(|k| glob(k)).collect(),
            reason: reason.to_owned(),
            until: until.map(date),
        });
        self
    }

    /// Replaces the system-tag globs of one cloud.
    pub fn system_tags(mut self, cloud: Cloud, globs: &[&str]) -> Self {
        self.0
            .ignores
            .system_tags
            .insert(cloud, globs.iter().map(|g| glob(g)).collect());
        self
    }

    pub fn build(self) -> DesiredState {
        self.0
    }
}

/// Observations under construction.
#[derive(Default)]
pub struct Obs(Observations);

impl Obs {
    pub fn new() -> Self {
        Obs::default()
    }

    fn push(mut self, r: &ResourceRef, alias: Option<&str>, outcome: Outcome) -> Self {
        self.0.resources.push(Observed {
            resource: r.clone(),
            native_id: None,
            alias: alias.map(str::to_owned),
            outcome,
        });
        self
    }

    pub fn found(self, r: &ResourceRef, t: &[(&str, &str)]) -> Self {
        self.push(r, None, Outcome::Found(tags(t)))
    }

    pub fn found_alias(self, r: &ResourceRef, alias: &str, t: &[(&str, &str)]) -> Self {
        self.push(r, Some(alias), Outcome::Found(tags(t)))
    }

    /// Sets the native id of the last observation.
    pub fn native_id(mut self, id: &str) -> Self {
        if let Some(o) = self.0.resources.last_mut() {
            o.native_id = Some(id.to_owned());
        }
        self
    }

    pub fn not_found(self, r: &ResourceRef) -> Self {
        self.push(r, None, Outcome::NotFound)
    }

    pub fn failed(self, r: &ResourceRef, code: ErrorCode, message: &str) -> Self {
        self.push(r, None, Outcome::Failed(ReadError::new(code, message)))
    }

    pub fn untaggable(self, r: &ResourceRef, reason: Untaggable, detail: &str) -> Self {
        self.push(
            r,
            None,
            Outcome::Untaggable {
                reason,
                detail: detail.to_owned(),
            },
        )
    }

    /// `count` resources of the scope of `r` (its id is not used) that discovery left out for `reason`.
    pub fn left_out(mut self, r: &ResourceRef, reason: Untaggable, count: usize) -> Self {
        self.0.left_out.push(LeftOut {
            cloud: r.cloud,
            account: r.account.clone(),
            region: r.region.clone(),
            resource_type: r.resource_type,
            reason,
            count,
        });
        self
    }

    /// How the scope of `r` (its id is not used) was read.
    pub fn read_plan(mut self, r: &ResourceRef, batch: bool, reason: PlanReason) -> Self {
        self.0.read_plans.push(ReadPlan {
            cloud: r.cloud,
            account: r.account.clone(),
            region: r.region.clone(),
            resource_type: r.resource_type,
            batch,
            reason,
        });
        self
    }

    /// A failed listing of the scope of `r` (its id is not used).
    pub fn scope_failed(mut self, r: &ResourceRef, code: ErrorCode, message: &str) -> Self {
        self.0.scope_failures.push(ScopeFailure {
            cloud: r.cloud,
            account: r.account.clone(),
            region: r.region.clone(),
            resource_type: r.resource_type,
            error: ReadError::new(code, message),
        });
        self
    }

    pub fn build(self) -> Observations {
        self.0
    }
}
