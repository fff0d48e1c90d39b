//! The machine report: a versioned JSON document (docs/report-format.md). Field names are part of the
//! contract: an additive change bumps the minor version of [`FORMAT_VERSION`], a breaking one the major.

use serde::Serialize;

use super::{ReportMeta, rfc3339};
use crate::drift::{
    ExpiredIgnore, ExpiredMatch, IgnoredItem, LeftOutScope, Plan, ResourcePlan, Status, Summary, TagChange,
    UnknownScope, Verdict, Violation,
};
use crate::vocab::{Cloud, ReadError, ResourceType, Tags, Untaggable};

/// The version of the JSON document. Readers must ignore keys they do not know.
pub const FORMAT_VERSION: &str = "1.2";

/// The JSON report as a serializable value (for `axum::Json` or `serde_json`).
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    format_version: &'static str,
    generated_at: String,
    duration_seconds: Option<f64>,
    source: Option<&'a str>,
    verdict: Verdict,
    summary: &'a Summary,
    resources: Vec<Resource<'a>>,
    in_sync: Vec<InSync<'a>>,
    unknown_scopes: &'a [UnknownScope],
    discovery_left_out: &'a [LeftOutScope],
    expired_ignores: &'a [ExpiredIgnore],
}

/// A resource that is not in sync, with everything the plan knows about it.
#[derive(Debug, Serialize)]
struct Resource<'a> {
    address: String,
    cloud: Cloud,
    account: &'a str,
    region: &'a str,
    #[serde(rename = "type")]
    resource_type: ResourceType,
    id: &'a str,
    native_id: Option<&'a str>,
    alias: Option<&'a str>,
    status: Status,
    managed: bool,
    changes: &'a [TagChange],
    violations: &'a [Violation],
    ignored: &'a [IgnoredItem],
    expired_ignores: &'a [ExpiredMatch],
    unchanged: usize,
    desired: &'a Tags,
    error: Option<&'a ReadError>,
    reason: Option<Untaggable>,
}

/// A resource in sync: enough to know it was checked (and, through `ignored`, whether drift was acknowledged).
#[derive(Debug, Serialize)]
struct InSync<'a> {
    address: String,
    cloud: Cloud,
    account: &'a str,
    region: &'a str,
    #[serde(rename = "type")]
    resource_type: ResourceType,
    id: &'a str,
    /// Only when known (1.2): a key declared by alias shows the KeyId it resolved to, and its alias.
    #[serde(skip_serializing_if = "Option::is_none")]
    native_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alias: Option<&'a str>,
    managed: bool,
    ignored: &'a [IgnoredItem],
}

impl<'a> Resource<'a> {
    fn of(r: &'a ResourcePlan) -> Self {
        Resource {
            address: r.resource.address(),
            cloud: r.resource.cloud,
            account: &r.resource.account,
            region: &r.resource.region,
            resource_type: r.resource.resource_type,
            id: &r.resource.id,
            native_id: r.native_id.as_deref(),
            alias: r.alias.as_deref(),
            status: r.status,
            managed: r.managed,
            changes: &r.changes,
            violations: &r.violations,
            ignored: &r.ignored,
            expired_ignores: &r.expired_ignores,
            unchanged: r.unchanged,
            desired: &r.desired,
            error: r.error.as_ref(),
            reason: r.reason,
        }
    }
}

impl<'a> InSync<'a> {
    fn of(r: &'a ResourcePlan) -> Self {
        InSync {
            address: r.resource.address(),
            cloud: r.resource.cloud,
            account: &r.resource.account,
            region: &r.resource.region,
            resource_type: r.resource.resource_type,
            id: &r.resource.id,
            native_id: r.native_id.as_deref(),
            alias: r.alias.as_deref(),
            managed: r.managed,
            ignored: &r.ignored,
        }
    }
}

/// Builds the JSON document for `plan`.
pub fn document<'a>(plan: &'a Plan, meta: &'a ReportMeta) -> Document<'a> {
    let (in_sync, rest): (Vec<&ResourcePlan>, Vec<&ResourcePlan>) =
        plan.resources.iter().partition(|r| r.status == Status::InSync);
    Document {
        format_version: FORMAT_VERSION,
        generated_at: rfc3339(meta.generated_at),
        // Milliseconds are plenty for a check and keep the number short.
        duration_seconds: meta.duration.map(|d| d.as_millis() as f64 / 1000.0),
        source: meta.source.as_deref(),
        verdict: plan.summary.verdict(),
        summary: &plan.summary,
        resources: rest.into_iter().map(Resource::of).collect(),
        in_sync: in_sync.into_iter().map(InSync::of).collect(),
        unknown_scopes: &plan.scope_failures,
        discovery_left_out: &plan.left_out,
        expired_ignores: &plan.expired_ignores,
    }
}

/// Renders `plan` as pretty-printed JSON, newline-terminated.
pub fn json(plan: &Plan, meta: &ReportMeta) -> String {
    // Every map in the document has string keys and every Serialize impl is derived, so serialization cannot
    // fail; a failure would be a bug in this module, not bad input.
    let mut out =
        serde_json::to_string_pretty(&document(plan, meta)).expect("report document always serializes");
    out.push('\n');
    out
}

/// Writes the same document as [`json`] to `out` without holding the whole text in memory (a 100,000-resource
/// report is tens of megabytes).
pub fn write_json<W: std::io::Write + ?Sized>(
    plan: &Plan,
    meta: &ReportMeta,
    out: &mut W,
) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &document(plan, meta)).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}
