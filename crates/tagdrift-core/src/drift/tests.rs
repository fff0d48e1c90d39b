//! Table-driven tests of the drift engine. Each case states a desired state, observations and a date, and
//! expects every resource plan as one compact line (see [`line`]), so a failure shows the whole plan at once.

use super::fixtures::*;
use super::*;
use crate::vocab::{Cloud, ErrorCode, ResourceType, Untaggable};

/// `id status [discovered] items...`, items being `+k=v[cause]`, `~k=old->new[cause]`, `-k=old[cause]`,
/// `!rule:key:kind(value)`, `?reason:<item>`, `expired#N(keys)`, `=N` (unchanged), `want{..}`, `err:code:msg`.
fn line(r: &ResourcePlan) -> String {
    let mut out = format!("{} {}", r.resource.id, r.status);
    if !r.managed {
        out.push_str(" discovered");
    }
    for c in &r.changes {
        out.push(' ');
        out.push_str(&change(c));
    }
    for v in &r.violations {
        out.push(' ');
        out.push_str(&violation(v));
    }
    for i in &r.ignored {
        let item = match &i.item {
            Ignored::Change(c) => change(c),
            Ignored::Violation(v) => violation(v),
        };
        out.push_str(&format!(" ?{}:{item}", i.reason));
    }
    for e in &r.expired_ignores {
        out.push_str(&format!(" expired#{}({})", e.position, e.keys.join(",")));
    }
    if r.unchanged > 0 {
        out.push_str(&format!(" ={}", r.unchanged));
    }
    if matches!(r.status, Status::Missing) {
        let want: Vec<String> = r.desired.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!(" want{{{}}}", want.join(",")));
    }
    if let Some(e) = &r.error {
        out.push_str(&format!(" err:{}:{}", e.code, e.message));
    }
    out
}

fn change(c: &TagChange) -> String {
    let cause = match &c.cause {
        Cause::Forbidden { rule } => format!("forbidden:{rule}"),
        other => other.as_str().to_owned(),
    };
    let before = c.before.as_deref().unwrap_or("");
    let after = c.after.as_deref().unwrap_or("");
    match c.action {
        Action::Add => format!("+{}={after}[{cause}]", c.key),
        Action::Change => format!("~{}={before}->{after}[{cause}]", c.key),
        Action::Remove => format!("-{}={before}[{cause}]", c.key),
    }
}

fn violation(v: &Violation) -> String {
    match v.kind.value() {
        Some(value) => format!("!{}:{}:{}({value})", v.rule, v.key, v.kind.as_str()),
        None => format!("!{}:{}:{}", v.rule, v.key, v.kind.as_str()),
    }
}

struct Case {
    name: &'static str,
    desired: Desired,
    observed: Obs,
    today: &'static str,
    expect: &'static [&'static str],
}

const TODAY: &str = "2026-03-15";

fn db() -> crate::vocab::ResourceRef {
    ali_secret("db")
}

fn cases() -> Vec<Case> {
    vec![
        // --- basic diff -----------------------------------------------------------------------------------
        Case {
            name: "in sync",
            desired: Desired::new().declare(&db(), &[("owner", "a"), ("env", "prod")]),
            observed: Obs::new().found(&db(), &[("owner", "a"), ("env", "prod")]),
            today: TODAY,
            expect: &["db in_sync =2"],
        },
        Case {
            name: "missing resource lists its desired tags",
            desired: Desired::new()
                .defaults(any(), &[("team", "core")])
                .declare(&db(), &[("owner", "a")]),
            observed: Obs::new().not_found(&db()),
            today: TODAY,
            expect: &["db missing want{owner=a,team=core}"],
        },
        Case {
            name: "absent tag is added",
            desired: Desired::new().declare(&db(), &[("owner", "a"), ("env", "prod")]),
            observed: Obs::new().found(&db(), &[("env", "prod")]),
            today: TODAY,
            expect: &["db drifted +owner=a[declared] =1"],
        },
        Case {
            name: "changed value",
            desired: Desired::new().declare(&db(), &[("owner", "team-a")]),
            observed: Obs::new().found(&db(), &[("owner", "team-b")]),
            today: TODAY,
            expect: &["db drifted ~owner=team-b->team-a[declared]"],
        },
        Case {
            name: "unexpected extra tag is removed",
            desired: Desired::new().declare(&db(), &[("owner", "a")]),
            observed: Obs::new().found(&db(), &[("owner", "a"), ("temp", "yes")]),
            today: TODAY,
            expect: &["db drifted -temp=yes[undeclared] =1"],
        },
        Case {
            name: "allow_extra_tags keeps extra tags",
            desired: Desired::new().declare_extra(&db(), &[("owner", "a")]),
            observed: Obs::new().found(&db(), &[("owner", "a"), ("temp", "yes")]),
            today: TODAY,
            expect: &["db in_sync =2"],
        },
        Case {
            name: "keys compare case-sensitively",
            desired: Desired::new().declare(&db(), &[("Owner", "a")]),
            observed: Obs::new().found(&db(), &[("owner", "a")]),
            today: TODAY,
            expect: &["db drifted +Owner=a[declared] -owner=a[undeclared]"],
        },
        Case {
            name: "values compare case-sensitively",
            desired: Desired::new().declare(&db(), &[("env", "Prod")]),
            observed: Obs::new().found(&db(), &[("env", "prod")]),
            today: TODAY,
            expect: &["db drifted ~env=prod->Prod[declared]"],
        },
        // --- empty tag sets ---------------------------------------------------------------------------------
        Case {
            name: "empty on both sides",
            desired: Desired::new().declare(&db(), &[]),
            observed: Obs::new().found(&db(), &[]),
            today: TODAY,
            expect: &["db in_sync"],
        },
        Case {
            name: "nothing declared, tags observed",
            desired: Desired::new().declare(&db(), &[]),
            observed: Obs::new().found(&db(), &[("a", "1"), ("b", "2")]),
            today: TODAY,
            expect: &["db drifted -a=1[undeclared] -b=2[undeclared]"],
        },
        Case {
            name: "tags declared, nothing observed",
            desired: Desired::new().declare(&db(), &[("a", "1"), ("b", "2")]),
            observed: Obs::new().found(&db(), &[]),
            today: TODAY,
            expect: &["db drifted +a=1[declared] +b=2[declared]"],
        },
        Case {
            name: "empty value is a value",
            desired: Desired::new().declare(&db(), &[("note", "")]),
            observed: Obs::new().found(&db(), &[("note", "x")]),
            today: TODAY,
            expect: &["db drifted ~note=x->[declared]"],
        },
        // --- defaults ---------------------------------------------------------------------------------------
        Case {
            name: "defaults merge in file order, own tags win",
            desired: Desired::new()
                .defaults(any(), &[("team", "core"), ("tier", "1"), ("cc", "cc-1")])
                .defaults(any().cloud(Cloud::Alibaba), &[("tier", "2")])
                .defaults(any().cloud(Cloud::Huawei), &[("tier", "9")])
                .declare(&db(), &[("cc", "cc-42")]),
            observed: Obs::new().found(&db(), &[("team", "core"), ("tier", "1"), ("cc", "cc-1")]),
            today: TODAY,
            expect: &["db drifted ~cc=cc-1->cc-42[declared] ~tier=1->2[default] =1"],
        },
        Case {
            name: "default by name glob and region",
            desired: Desired::new()
                .defaults(any().region("cn-*").name("prod/*"), &[("env", "prod")])
                .declare(&ali_secret("prod/api"), &[])
                .declare(&ali_secret("dev/api"), &[]),
            observed: Obs::new()
                .found(&ali_secret("prod/api"), &[])
                .found(&ali_secret("dev/api"), &[]),
            today: TODAY,
            expect: &["dev/api in_sync", "prod/api drifted +env=prod[default]"],
        },
        // --- system tags --------------------------------------------------------------------------------------
        Case {
            name: "system tags are never shown",
            desired: Desired::new()
                .declare(&db(), &[("owner", "a")])
                .declare(&hw_key("k1"), &[]),
            observed: Obs::new()
                .found(
                    &db(),
                    &[("owner", "a"), ("acs:rm:rgId", "rg-1"), ("aliyun.managed", "x")],
                )
                .found(&hw_key("k1"), &[("_sys_enterprise_project_id", "0")]),
            today: TODAY,
            expect: &["db in_sync =1", "k1 in_sync"],
        },
        Case {
            name: "system-tag list overrides the defaults",
            desired: Desired::new()
                .system_tags(Cloud::Alibaba, &["acs:*"])
                .system_tags(Cloud::Huawei, &[])
                .declare(&db(), &[])
                .declare(&hw_key("k1"), &[]),
            observed: Obs::new()
                .found(&db(), &[("acs:rm:rgId", "rg-1"), ("aliyun.managed", "x")])
                .found(&hw_key("k1"), &[("_sys_enterprise_project_id", "0")]),
            today: TODAY,
            expect: &[
                "db drifted -aliyun.managed=x[undeclared]",
                "k1 drifted -_sys_enterprise_project_id=0[undeclared]",
            ],
        },
        Case {
            name: "a system key the resource declares is compared",
            desired: Desired::new().declare(&db(), &[("acs:owner", "me")]),
            observed: Obs::new().found(&db(), &[("acs:owner", "you")]),
            today: TODAY,
            expect: &["db drifted ~acs:owner=you->me[declared]"],
        },
        // --- rules --------------------------------------------------------------------------------------------
        Case {
            name: "required key absent",
            desired: Desired::new()
                .rule(rule("base").required(&["owner"]))
                .declare_extra(&db(), &[]),
            observed: Obs::new().found(&db(), &[("env", "prod")]),
            today: TODAY,
            expect: &["db drifted !base:owner:missing_required =1"],
        },
        Case {
            name: "rules judge the state after the changes",
            desired: Desired::new()
                .rule(rule("base").required(&["owner", "temp"]))
                .declare(&db(), &[("owner", "a")]),
            observed: Obs::new().found(&db(), &[("temp", "1")]),
            today: TODAY,
            expect: &["db drifted +owner=a[declared] -temp=1[undeclared] !base:temp:missing_required"],
        },
        Case {
            name: "allowed values",
            desired: Desired::new()
                .rule(rule("env-values").allowed("env", &["prod", "staging"]))
                .declare_extra(&db(), &[])
                .declare_extra(&ali_secret("ok"), &[])
                .declare(&ali_secret("declared-bad"), &[("env", "qa")]),
            observed: Obs::new()
                .found(&db(), &[("env", "test")])
                .found(&ali_secret("ok"), &[("env", "staging")])
                .found(&ali_secret("declared-bad"), &[("env", "prod")]),
            today: TODAY,
            expect: &[
                "db drifted !env-values:env:value_not_allowed(test)",
                "declared-bad drifted ~env=prod->qa[declared] !env-values:env:value_not_allowed(qa)",
                "ok in_sync =1",
            ],
        },
        Case {
            name: "patterns",
            desired: Desired::new()
                .rule(rule("cc").pattern("cost-center", "^cc-[0-9]+$"))
                .declare_extra(&db(), &[])
                .declare_extra(&ali_secret("ok"), &[]),
            observed: Obs::new()
                .found(&db(), &[("cost-center", "CC42")])
                .found(&ali_secret("ok"), &[("cost-center", "cc-42")]),
            today: TODAY,
            expect: &[
                "db drifted !cc:cost-center:pattern_mismatch(CC42)",
                "ok in_sync =1",
            ],
        },
        Case {
            name: "case-insensitive rule",
            desired: Desired::new()
                .rule(
                    rule("ci")
                        .required(&["Owner"])
                        .allowed("ENV", &["Prod"])
                        .pattern("cc", "^cc-[0-9]+$")
                        .case_insensitive(),
                )
                .declare_extra(&db(), &[]),
            observed: Obs::new().found(&db(), &[("owner", "a"), ("env", "PROD"), ("CC", "CC-1")]),
            today: TODAY,
            expect: &["db in_sync =3"],
        },
        Case {
            name: "case-sensitive rule",
            desired: Desired::new()
                .rule(
                    rule("cs")
                        .required(&["Owner"])
                        .allowed("env", &["Prod"])
                        .pattern("CC", "^cc-[0-9]+$"),
                )
                .declare_extra(&db(), &[]),
            observed: Obs::new().found(&db(), &[("owner", "a"), ("env", "PROD"), ("CC", "CC-1")]),
            today: TODAY,
            expect: &[
                "db drifted !cs:CC:pattern_mismatch(CC-1) !cs:Owner:missing_required \
                 !cs:env:value_not_allowed(PROD) =1",
            ],
        },
        Case {
            name: "forbidden key is removed even when extras are allowed",
            desired: Desired::new()
                .rule(rule("no-temp").forbidden(&["temp*"]))
                .declare_extra(&db(), &[])
                .declare(&ali_secret("strict"), &[]),
            observed: Obs::new()
                .found(&db(), &[("temporary", "x"), ("owner", "a")])
                .found(&ali_secret("strict"), &[("temp", "1")]),
            today: TODAY,
            expect: &[
                "db drifted -temporary=x[forbidden:no-temp] =1",
                "strict drifted -temp=1[forbidden:no-temp]",
            ],
        },
        Case {
            name: "forbidden key declared on the resource is a conflict",
            desired: Desired::new()
                .rule(rule("no-temp").forbidden(&["temp"]))
                .declare(&db(), &[("temp", "1")]),
            observed: Obs::new().found(&db(), &[("temp", "1")]),
            today: TODAY,
            expect: &["db drifted !no-temp:temp:forbidden_declared"],
        },
        Case {
            name: "forbidden key from defaults is not wanted",
            desired: Desired::new()
                .defaults(any(), &[("temp", "1"), ("team", "core")])
                .rule(rule("no-temp").forbidden(&["temp"]))
                .declare(&db(), &[])
                .declare(&ali_secret("clean"), &[]),
            observed: Obs::new()
                .found(&db(), &[("temp", "1"), ("team", "core")])
                .found(&ali_secret("clean"), &[("team", "core")]),
            today: TODAY,
            expect: &["clean in_sync =1", "db drifted -temp=1[forbidden:no-temp] =1"],
        },
        Case {
            name: "case-insensitive forbidden glob",
            desired: Desired::new()
                .rule(rule("no-temp").forbidden(&["temp"]).case_insensitive())
                .declare_extra(&db(), &[]),
            observed: Obs::new().found(&db(), &[("TEMP", "1")]),
            today: TODAY,
            expect: &["db drifted -TEMP=1[forbidden:no-temp]"],
        },
        Case {
            name: "rule selector limits the rule",
            desired: Desired::new()
                .rule(
                    rule("hw-only")
                        .select(any().cloud(Cloud::Huawei))
                        .required(&["owner"]),
                )
                .declare(&db(), &[])
                .declare(&hw_secret("s1"), &[]),
            observed: Obs::new().found(&db(), &[]).found(&hw_secret("s1"), &[]),
            today: TODAY,
            expect: &["db in_sync", "s1 drifted !hw-only:owner:missing_required"],
        },
        Case {
            name: "name glob matches the alias",
            desired: Desired::new()
                .rule(
                    rule("aliased")
                        .select(any().name("alias/prod-*"))
                        .required(&["owner"]),
                )
                .declare(&ali_key("key-1"), &[])
                .declare(&ali_key("key-2"), &[]),
            observed: Obs::new()
                .found_alias(&ali_key("key-1"), "alias/prod-db", &[])
                .found_alias(&ali_key("key-2"), "alias/dev-db", &[]),
            today: TODAY,
            expect: &["key-1 drifted !aliased:owner:missing_required", "key-2 in_sync"],
        },
        // --- ignores ------------------------------------------------------------------------------------------
        Case {
            name: "ignore before until hides the key",
            desired: Desired::new()
                .ignore(any(), &["owner"], "migration", Some("2026-03-31"))
                .declare(&db(), &[("owner", "a"), ("env", "prod")]),
            observed: Obs::new().found(&db(), &[("owner", "b"), ("env", "dev")]),
            today: TODAY,
            expect: &["db drifted ~env=dev->prod[declared] ?migration:~owner=b->a[declared]"],
        },
        Case {
            name: "ignore is still active on its until day",
            desired: Desired::new()
                .ignore(any(), &["owner"], "migration", Some("2026-03-15"))
                .declare(&db(), &[("owner", "a")]),
            observed: Obs::new().found(&db(), &[("owner", "b")]),
            today: "2026-03-15",
            expect: &["db in_sync ?migration:~owner=b->a[declared]"],
        },
        Case {
            name: "ignore after until shows the drift again",
            desired: Desired::new()
                .ignore(any(), &["env"], "unrelated", Some("2026-01-01"))
                .ignore(any(), &["owner"], "migration", Some("2026-03-14"))
                .declare(&db(), &[("owner", "a")]),
            observed: Obs::new().found(&db(), &[("owner", "b")]),
            today: "2026-03-15",
            expect: &["db drifted ~owner=b->a[declared] expired#1(owner)"],
        },
        Case {
            name: "ignore without until never expires, and hides violations too",
            desired: Desired::new()
                .rule(rule("base").required(&["owner"]))
                .ignore(any().name("d*"), &["own*"], "forever", None)
                .declare_extra(&db(), &[]),
            observed: Obs::new().found(&db(), &[]),
            today: "2099-01-01",
            expect: &["db in_sync ?forever:!base:owner:missing_required"],
        },
        Case {
            name: "whole-resource ignore hides every key but not missing or unknown",
            desired: Desired::new()
                .ignore(any().cloud(Cloud::Alibaba), &[], "legacy", None)
                .declare(&db(), &[("owner", "a")])
                .declare(&ali_secret("gone"), &[("owner", "a")])
                .declare(&ali_secret("broken"), &[("owner", "a")]),
            observed: Obs::new()
                .found(&db(), &[("x", "1")])
                .not_found(&ali_secret("gone"))
                .failed(&ali_secret("broken"), ErrorCode::Auth, "forbidden"),
            today: TODAY,
            expect: &[
                "broken unknown err:auth:forbidden",
                "db in_sync ?legacy:+owner=a[declared] ?legacy:-x=1[undeclared]",
                "gone missing want{owner=a}",
            ],
        },
        Case {
            name: "ignore selector must match",
            desired: Desired::new()
                .ignore(any().cloud(Cloud::Huawei), &[], "huawei only", None)
                .declare(&db(), &[("owner", "a")]),
            observed: Obs::new().found(&db(), &[]),
            today: TODAY,
            expect: &["db drifted +owner=a[declared]"],
        },
        // --- discovery ----------------------------------------------------------------------------------------
        Case {
            name: "discovered, report_unmanaged on",
            desired: Desired::new().discover(any().cloud(Cloud::Alibaba), true),
            observed: Obs::new().found(&db(), &[("owner", "a")]),
            today: TODAY,
            expect: &["db unmanaged discovered =1"],
        },
        Case {
            name: "discovered, report_unmanaged off",
            desired: Desired::new().discover(any().cloud(Cloud::Alibaba), false),
            observed: Obs::new().found(&db(), &[("owner", "a")]),
            today: TODAY,
            expect: &["db in_sync discovered =1"],
        },
        Case {
            name: "report_unmanaged on any matching entry wins",
            desired: Desired::new()
                .discover(any(), false)
                .discover(any().ty(ResourceType::Secret), true),
            observed: Obs::new().found(&db(), &[]),
            today: TODAY,
            expect: &["db unmanaged discovered"],
        },
        Case {
            name: "discovered with a violation is drifted",
            desired: Desired::new()
                .discover(any(), true)
                .rule(rule("base").required(&["owner"])),
            observed: Obs::new().found(&db(), &[("env", "prod")]),
            today: TODAY,
            expect: &["db drifted discovered !base:owner:missing_required =1"],
        },
        Case {
            name: "discovered gets defaults only; extra tags are no drift",
            desired: Desired::new()
                .discover(any(), true)
                .defaults(any(), &[("team", "core"), ("tier", "1")]),
            observed: Obs::new().found(&db(), &[("tier", "2"), ("extra", "x")]),
            today: TODAY,
            expect: &["db drifted discovered +team=core[default] ~tier=2->1[default] =1"],
        },
        Case {
            name: "discovered: undeclared outside discovery is skipped, not-found skipped, failed unknown",
            desired: Desired::new().discover(any().cloud(Cloud::Huawei), true),
            observed: Obs::new()
                .found(&db(), &[("x", "1")])
                .not_found(&hw_secret("gone"))
                .failed(&hw_secret("s1"), ErrorCode::Throttled, "rate limited"),
            today: TODAY,
            expect: &["s1 unknown discovered err:throttled:rate limited"],
        },
        Case {
            name: "a declared resource is never also discovered",
            desired: Desired::new()
                .discover(any(), true)
                .declare(&db(), &[("owner", "a")]),
            observed: Obs::new().found(&db(), &[("owner", "a")]),
            today: TODAY,
            expect: &["db in_sync =1"],
        },
        // --- unknown --------------------------------------------------------------------------------------------
        Case {
            name: "failed read is unknown with the read error",
            desired: Desired::new().declare(&db(), &[("owner", "a")]),
            observed: Obs::new().failed(&db(), ErrorCode::Timeout, "deadline exceeded"),
            today: TODAY,
            expect: &["db unknown err:timeout:deadline exceeded"],
        },
        Case {
            name: "no observation is unknown, never in sync",
            desired: Desired::new().declare(&db(), &[]),
            observed: Obs::new(),
            today: TODAY,
            expect: &["db unknown err:other:not read"],
        },
        Case {
            name: "no observation under a failed scope takes the scope's error",
            desired: Desired::new().declare(&db(), &[]).declare(&ali_key("k1"), &[]),
            observed: Obs::new().scope_failed(
                &ali_secret(""),
                ErrorCode::ListingFailed,
                "ListSecrets failed",
            ),
            today: TODAY,
            expect: &[
                "k1 unknown err:other:not read",
                "db unknown err:listing_failed:ListSecrets failed",
            ],
        },
        Case {
            name: "first report of a resource wins",
            desired: Desired::new().declare(&db(), &[("owner", "a")]),
            observed: Obs::new()
                .found(&db(), &[("owner", "a")])
                .found(&db(), &[("owner", "b")]),
            today: TODAY,
            expect: &["db in_sync =1"],
        },
    ]
}

#[test]
fn engine_cases() {
    let mut failures = Vec::new();
    for case in cases() {
        let plan = plan(&case.desired.build(), &case.observed.build(), date(case.today));
        let got: Vec<String> = plan.resources.iter().map(line).collect();
        if got != case.expect {
            failures.push(format!(
                "{}:\n  expected {:#?}\n  got      {:#?}",
                case.name, case.expect, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A plan over both clouds with one resource of every status, shared by the count tests.
fn mixed() -> (crate::config::DesiredState, crate::vocab::Observations) {
    let desired = Desired::new()
        .discover(any().cloud(Cloud::Huawei), true)
        .rule(rule("base").required(&["owner"]))
        .ignore(any().name("legacy"), &[], "legacy, retiring", Some("2026-04-30"))
        .ignore(any(), &["temp"], "old cleanup", Some("2026-01-31"))
        .declare(&db(), &[("owner", "a"), ("cc", "1")])
        .declare(&ali_secret("legacy"), &[("owner", "a")])
        .declare(&ali_key("gone"), &[("owner", "a")])
        .declare(&hw_secret("broken"), &[("owner", "a")])
        .declare(&hw_key("ok"), &[("owner", "a")]);
    let observed = Obs::new()
        .found(&db(), &[("owner", "b"), ("temp", "x")])
        .found(&ali_secret("legacy"), &[("owner", "z")])
        .not_found(&ali_key("gone"))
        .failed(&hw_secret("broken"), ErrorCode::Throttled, "throttled")
        .found(&hw_key("ok"), &[("owner", "a")])
        .found(&hw_key("stray"), &[("owner", "x")])
        .found(&hw_key("stray-bad"), &[])
        .scope_failed(&hw_secret(""), ErrorCode::Auth, "forbidden");
    (desired.build(), observed.build())
}

#[test]
fn summary_counts_every_status() {
    let (desired, observed) = mixed();
    let plan = plan(&desired, &observed, date(TODAY));
    let s = &plan.summary;
    assert_eq!(
        (
            s.total,
            s.in_sync,
            s.drifted,
            s.missing,
            s.unmanaged,
            s.unknown,
            s.unknown_scopes
        ),
        (7, 2, 2, 1, 1, 1, 1),
        "{:#?}",
        plan.resources.iter().map(line).collect::<Vec<_>>()
    );
    assert_eq!(
        s.tag_changes,
        ActionCounts {
            add: 1,
            change: 1,
            remove: 1
        }
    );
    assert_eq!((s.violations, s.ignored, s.expired_ignores), (1, 1, 1));
    assert_eq!(s.verdict(), Verdict::Drift);
    assert_eq!(plan.not_in_sync().count(), 5);
}

#[test]
fn expired_ignores_are_listed_with_what_resurfaced() {
    let (desired, observed) = mixed();
    let plan = plan(&desired, &observed, date(TODAY));
    assert_eq!(
        plan.expired_ignores,
        vec![ExpiredIgnore {
            position: 1,
            selector: "all resources".to_owned(),
            keys: vec!["temp".to_owned()],
            reason: "old cleanup".to_owned(),
            until: date("2026-01-31"),
            resurfaced: 1,
        }]
    );
    // Before the date nothing is expired and the ignore hides the removal.
    let earlier = super::plan(&desired, &observed, date("2026-01-31"));
    assert!(earlier.expired_ignores.is_empty());
    assert_eq!(earlier.summary.ignored, 2);
}

#[test]
fn scope_failures_are_listed_sorted_and_deduplicated() {
    let observed = Obs::new()
        .scope_failed(&hw_secret(""), ErrorCode::Auth, "forbidden")
        .scope_failed(&ali_key(""), ErrorCode::Throttled, "slow down")
        .scope_failed(&hw_secret(""), ErrorCode::Auth, "forbidden")
        .build();
    let plan = plan(&Desired::new().build(), &observed, date(TODAY));
    let got: Vec<String> = plan
        .scope_failures
        .iter()
        .map(|f| {
            format!(
                "{}/{}/{}/{} {}",
                f.scope.cloud, f.scope.account, f.scope.region, f.scope.resource_type, f.code
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "alibaba/ali-prod/cn-hangzhou/key throttled",
            "huawei/hw-prod/cn-north-4/secret auth"
        ]
    );
    assert_eq!(plan.summary.unknown_scopes, 2);
    assert_eq!(
        plan.summary.verdict(),
        Verdict::Unknown,
        "a failed listing must never read as no drift"
    );
}

#[test]
fn verdicts() {
    let cases: Vec<(&str, Desired, Obs, Verdict)> = vec![
        ("nothing at all", Desired::new(), Obs::new(), Verdict::NoDrift),
        (
            "in sync",
            Desired::new().declare(&db(), &[]),
            Obs::new().found(&db(), &[]),
            Verdict::NoDrift,
        ),
        (
            "unmanaged only",
            Desired::new().discover(any(), true),
            Obs::new().found(&db(), &[]),
            Verdict::NoDrift,
        ),
        (
            "unknown only",
            Desired::new().declare(&db(), &[]),
            Obs::new(),
            Verdict::Unknown,
        ),
        (
            "missing",
            Desired::new().declare(&db(), &[]),
            Obs::new().not_found(&db()),
            Verdict::Drift,
        ),
        (
            "drift beats unknown",
            Desired::new().declare(&db(), &[]).declare(&ali_key("k"), &[]),
            Obs::new().found(&db(), &[("x", "1")]),
            Verdict::Drift,
        ),
    ];
    for (name, desired, observed, want) in cases {
        let plan = plan(&desired.build(), &observed.build(), date(TODAY));
        assert_eq!(plan.summary.verdict(), want, "{name}");
    }
}

#[test]
fn order_is_by_cloud_account_region_type_id_whatever_the_input_order() {
    let refs = [
        hw_secret("a"),
        ali_secret("b"),
        res(
            Cloud::Alibaba,
            "ali-dev",
            "cn-shanghai",
            ResourceType::Secret,
            "z",
        ),
        ali_key("z"),
        res(
            Cloud::Alibaba,
            "ali-prod",
            "cn-beijing",
            ResourceType::Secret,
            "a",
        ),
        ali_secret("a"),
        hw_key("c"),
    ];
    let build = |order: &[usize]| {
        let mut desired = Desired::new();
        let mut observed = Obs::new();
        for &i in order {
            desired = desired.declare(&refs[i], &[("k", "v")]);
            observed = observed.found(&refs[i], &[("k", "w")]);
        }
        plan(&desired.build(), &observed.build(), date(TODAY))
    };
    let forward = build(&[0, 1, 2, 3, 4, 5, 6]);
    let got: Vec<String> = forward.resources.iter().map(|r| r.resource.address()).collect();
    assert_eq!(
        got,
        [
            r#"alibaba.ali-dev.cn-shanghai.secret["z"]"#,
            r#"alibaba.ali-prod.cn-beijing.secret["a"]"#,
            r#"alibaba.ali-prod.cn-hangzhou.key["z"]"#,
            r#"alibaba.ali-prod.cn-hangzhou.secret["a"]"#,
            r#"alibaba.ali-prod.cn-hangzhou.secret["b"]"#,
            r#"huawei.hw-prod.cn-north-4.key["c"]"#,
            r#"huawei.hw-prod.cn-north-4.secret["a"]"#,
        ]
    );
    assert_eq!(forward, build(&[6, 5, 4, 3, 2, 1, 0]));
    assert_eq!(forward, build(&[3, 0, 6, 2, 5, 1, 4]));
}

#[test]
fn breakdown_counts_per_scope_with_zeros() {
    let (desired, observed) = mixed();
    let breakdown = plan(&desired, &observed, date(TODAY)).breakdown();
    let scope = |r: &crate::vocab::ResourceRef| Scope::of(r);

    let ali_secrets = &breakdown.scopes[&scope(&db())];
    assert_eq!(ali_secrets.resources[&Status::Drifted], 1);
    assert_eq!(
        ali_secrets.resources[&Status::InSync],
        1,
        "legacy is in sync through its ignore"
    );
    assert_eq!(ali_secrets.resources[&Status::Unknown], 0, "zeros are present");
    assert_eq!(ali_secrets.tag_changes[&Action::Change], 1);
    assert_eq!(ali_secrets.tag_changes[&Action::Remove], 1);
    assert_eq!(ali_secrets.tag_changes[&Action::Add], 1);
    assert_eq!(ali_secrets.ignored, 1);
    assert_eq!(ali_secrets.scope_failure, None);

    let hw_keys = &breakdown.scopes[&scope(&hw_key(""))];
    assert_eq!(hw_keys.resources[&Status::Unmanaged], 1);
    assert_eq!(hw_keys.resources[&Status::Drifted], 1);
    assert_eq!(hw_keys.violations.get("base"), Some(&1));

    let hw_secrets = &breakdown.scopes[&scope(&hw_secret(""))];
    assert_eq!(hw_secrets.resources[&Status::Unknown], 1);
    assert_eq!(hw_secrets.scope_failure, Some(ErrorCode::Auth));
    assert_eq!(breakdown.scopes.len(), 4);
}

#[test]
fn selector_matching() {
    let r = ali_key("key-1");
    let cases: Vec<(&str, Sel, Option<&str>, bool)> = vec![
        ("empty selector", any(), None, true),
        ("cloud", any().cloud(Cloud::Alibaba), None, true),
        ("other cloud", any().cloud(Cloud::Huawei), None, false),
        ("type", any().ty(ResourceType::Key), None, true),
        ("other type", any().ty(ResourceType::Secret), None, false),
        ("account glob", any().account("ali-*"), None, true),
        ("other account", any().account("ali-dev"), None, false),
        ("region glob", any().region("cn-h*"), None, true),
        ("other region", any().region("ap-*"), None, false),
        ("name on id", any().name("key-?"), None, true),
        (
            "name on alias",
            any().name("alias/prod-*"),
            Some("alias/prod-db"),
            true,
        ),
        (
            "name on neither",
            any().name("alias/prod-*"),
            Some("alias/dev"),
            false,
        ),
        (
            "all fields",
            any()
                .cloud(Cloud::Alibaba)
                .account("*")
                .region("*")
                .ty(ResourceType::Key)
                .name("*"),
            None,
            true,
        ),
    ];
    for (name, sel, alias, want) in cases {
        assert_eq!(sel.0.matches(&r, alias), want, "{name}");
    }
}

#[test]
fn selector_describe() {
    assert_eq!(any().0.describe(), "all resources");
    assert_eq!(
        any()
            .cloud(Cloud::Huawei)
            .account("hw-*")
            .region("cn-*")
            .ty(ResourceType::Secret)
            .name("prod/*")
            .0
            .describe(),
        "cloud=huawei account=hw-* region=cn-* type=secret name=prod/*"
    );
}

#[test]
fn native_id_and_alias_are_carried() {
    let desired = Desired::new().declare(&hw_secret("db"), &[]).build();
    let observed = Obs::new()
        .found_alias(&hw_secret("db"), "db-alias", &[])
        .native_id("5f2c-uuid")
        .build();
    let plan = plan(&desired, &observed, date(TODAY));
    assert_eq!(plan.resources[0].native_id.as_deref(), Some("5f2c-uuid"));
    assert_eq!(plan.resources[0].alias.as_deref(), Some("db-alias"));
}

#[test]
fn serde_names_match_as_str() {
    for s in Status::ALL {
        assert_eq!(
            serde_json::to_value(s).ok(),
            Some(serde_json::Value::from(s.as_str()))
        );
    }
    for a in Action::ALL {
        assert_eq!(
            serde_json::to_value(a).ok(),
            Some(serde_json::Value::from(a.as_str()))
        );
    }
    for u in crate::vocab::Untaggable::ALL {
        assert_eq!(
            serde_json::to_value(u).ok(),
            Some(serde_json::Value::from(u.as_str()))
        );
    }
    for v in [Verdict::NoDrift, Verdict::Drift, Verdict::Unknown] {
        assert_eq!(
            serde_json::to_value(v).ok(),
            Some(serde_json::Value::from(v.as_str()))
        );
    }
    let change = TagChange {
        key: "temp".into(),
        action: Action::Remove,
        before: Some("1".into()),
        after: None,
        cause: Cause::Forbidden {
            rule: "no-temp".into(),
        },
    };
    assert_eq!(
        serde_json::to_value(&change).ok(),
        Some(
            serde_json::json!({"key":"temp","action":"remove","before":"1","after":null,"cause":"forbidden","rule":"no-temp"})
        )
    );
    let violation = Violation {
        rule: "env".into(),
        key: "env".into(),
        kind: ViolationKind::ValueNotAllowed {
            value: "qa".into(),
            allowed: vec!["prod".into()],
        },
    };
    assert_eq!(
        serde_json::to_value(&violation).ok(),
        Some(
            serde_json::json!({"rule":"env","key":"env","kind":"value_not_allowed","value":"qa","allowed":["prod"]})
        )
    );
}

mod properties {
    use proptest::arbitrary::any as arbitrary;
    use proptest::prelude::{Strategy, prop_assert_eq, proptest};

    use super::*;

    fn tag_map() -> impl Strategy<Value = Vec<(String, String)>> {
        proptest::collection::vec(("[a-d]{1,2}", "[xy]{0,2}"), 0..8)
    }

    proptest! {
        /// Applying the planned changes to the observed tags gives exactly the desired tags (or a superset
        /// with the untouched extras, when extra tags are allowed), and the counts add up.
        #[test]
        fn applying_the_plan_restores_the_desired_state(
            want in tag_map(),
            have in tag_map(),
            allow_extra in arbitrary::<bool>(),
        ) {
            let want_ref: Vec<(&str, &str)> = want.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let have_ref: Vec<(&str, &str)> = have.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let desired = if allow_extra {
                Desired::new().declare_extra(&db(), &want_ref)
            } else {
                Desired::new().declare(&db(), &want_ref)
            };
            let plan = plan(&desired.build(), &Obs::new().found(&db(), &have_ref).build(), date(TODAY));
            let r = &plan.resources[0];
            let observed = tags(&have_ref);
            let mut after = observed.clone();
            for c in &r.changes {
                match &c.after {
                    Some(v) => after.insert(c.key.clone(), v.clone()),
                    None => after.remove(&c.key),
                };
            }
            let desired_tags = tags(&want_ref);
            if allow_extra {
                for (k, v) in &desired_tags {
                    prop_assert_eq!(after.get(k), Some(v));
                }
                for (k, v) in &observed {
                    if !desired_tags.contains_key(k) {
                        prop_assert_eq!(after.get(k), Some(v));
                    }
                }
            } else {
                prop_assert_eq!(&after, &desired_tags);
            }
            let touched = r.changes.iter().filter(|c| observed.contains_key(&c.key)).count();
            prop_assert_eq!(r.unchanged + touched, observed.len());
            prop_assert_eq!(r.status == Status::InSync, r.changes.is_empty());
        }
    }
}

// See: issue 12, point 9.
#[test]
fn untaggable_resources_are_missing_when_declared_and_absent_when_discovered() {
    let doomed = ali_key("key-doomed");
    let default = hw_key("default-1");
    let cases = [
        // (declared?, reason, expected plan entry)
        (
            true,
            Untaggable::PendingDeletion,
            Some((Status::Missing, Some(Untaggable::PendingDeletion))),
        ),
        (
            true,
            Untaggable::DefaultKey,
            Some((Status::Missing, Some(Untaggable::DefaultKey))),
        ),
        (false, Untaggable::PendingDeletion, None),
        (false, Untaggable::DefaultKey, None),
    ];
    for (declared, reason, want) in cases {
        for r in [&doomed, &default] {
            let mut desired = Desired::new().discover(any(), true);
            if declared {
                desired = desired.declare(r, &[("owner", "a")]);
            }
            let observed = Obs::new().untaggable(r, reason, "KMS.0211: cannot perform this operation");
            let plan = plan(&desired.build(), &observed.build(), date(TODAY));
            let got = plan.resources.first().map(|rp| (rp.status, rp.reason));
            assert_eq!(got, want, "{} declared={declared} {reason}", r.address());
            if let Some(rp) = plan.resources.first() {
                assert!(rp.changes.is_empty() && rp.violations.is_empty() && rp.error.is_none());
                assert_eq!(plan.summary.missing, 1);
                assert_eq!(plan.summary.verdict(), Verdict::Drift, "missing counts as drift");
            } else {
                assert_eq!(plan.summary.total, 0);
            }
        }
    }
    // A resource the cloud says does not exist has no reason.
    let desired = Desired::new().declare(&doomed, &[]).build();
    let plan = plan(&desired, &Obs::new().not_found(&doomed).build(), date(TODAY));
    assert_eq!(plan.resources[0].reason, None);
}

#[test]
fn discovery_left_outs_add_up_per_scope_and_reason_in_order() {
    let observed = Obs::new()
        .left_out(&hw_key(""), Untaggable::PendingDeletion, 1)
        .left_out(&ali_key(""), Untaggable::PendingDeletion, 2)
        .left_out(&hw_key(""), Untaggable::DefaultKey, 3)
        .left_out(&hw_key(""), Untaggable::PendingDeletion, 1)
        .left_out(&hw_secret(""), Untaggable::PendingDeletion, 0)
        .build();
    let plan = plan(&Desired::new().build(), &observed, date(TODAY));
    let got: Vec<String> = plan
        .left_out
        .iter()
        .map(|l| {
            format!(
                "{}/{}/{} {} {}",
                l.scope.cloud, l.scope.account, l.scope.resource_type, l.reason, l.count
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "alibaba/ali-prod/key pending_deletion 2",
            "huawei/hw-prod/key pending_deletion 2",
            "huawei/hw-prod/key default_key 3",
        ]
    );
    assert_eq!(
        plan.summary.total, 0,
        "left-out resources are not resources of the plan"
    );
}
