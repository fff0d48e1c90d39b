//! The verdict on each written resource, once the writes are done and the resources were read again:
//! `applied` (the fresh read shows it in sync with its changes), `failed` (a write was refused, or the fresh
//! read still shows drift or could not be made), or `skipped` (never written, with the reason). Also the
//! summary line and the JSON document of `tagdrift apply` (docs/report-format.md).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::{Skip, SkipReason, WritePlan};
use crate::drift::{Plan, Status, TagChange};
use crate::vocab::{ErrorCode, ResourceRef};

/// The JSON document's `format_version`: readers ignore unknown keys; a breaking change bumps the major.
/// 1.1 added the `stale` skip reason and `summary.stale` (saved plans).
pub const FORMAT_VERSION: &str = "1.1";

/// Why a write to a resource failed, as the cloud said it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteFailure {
    pub code: ErrorCode,
    /// The cloud's own code (`Forbidden.NoPermission`, `KMS.0306`...), when it gave one.
    pub cloud_code: Option<String>,
    pub message: String,
}

/// What happened to one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ApplyStatus {
    /// Written, and the fresh read shows no change left.
    Applied,
    /// A write failed, or the fresh read could not confirm the result.
    Failed {
        code: ErrorCode,
        cloud_code: Option<String>,
        message: String,
    },
}

impl ApplyStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ApplyStatus::Applied => "applied",
            ApplyStatus::Failed { .. } => "failed",
        }
    }
}

/// One written resource and its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceResult {
    pub address: String,
    pub resource: ResourceRef,
    /// The changes that were written.
    pub changes: Vec<TagChange>,
    #[serde(flatten)]
    pub status: ApplyStatus,
    /// The cloud's request ids of the write calls that carried this resource.
    pub request_ids: Vec<String>,
}

/// Counts of the apply summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ApplySummary {
    pub applied: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Of `skipped`: resources of a saved plan whose tags changed since it was saved.
    pub stale: usize,
    /// Tag changes written (each `+ ~ -` once).
    pub changes: usize,
    /// Write calls sent (retries not counted).
    pub write_calls: usize,
}

/// The result of `tagdrift apply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub format_version: &'static str,
    pub summary: ApplySummary,
    pub resources: Vec<ResourceResult>,
    pub skipped: Vec<Skip>,
}

impl Applied {
    /// Nothing failed, nothing in the targets was left unread and nothing was stale: exit 0.
    pub fn success(&self) -> bool {
        self.summary.failed == 0
            && !self
                .skipped
                .iter()
                .any(|s| matches!(s.reason, SkipReason::Unknown { .. } | SkipReason::Stale { .. }))
    }

    /// Terraform's closing line: `Apply complete! Resources: 3 applied, 1 failed, 2 skipped.`
    pub fn summary_line(&self) -> String {
        let s = &self.summary;
        let head = if s.failed == 0 && s.stale == 0 {
            "Apply complete!"
        } else {
            "Apply finished with errors."
        };
        let stale = if s.stale > 0 {
            format!(" ({} stale)", s.stale)
        } else {
            String::new()
        };
        format!(
            "{head} Resources: {} applied, {} failed, {} skipped{stale}.",
            s.applied, s.failed, s.skipped
        )
    }

    /// The text result: one line per written or skipped resource, then the summary line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for r in &self.resources {
            let changes: Vec<String> = r
                .changes
                .iter()
                .map(|c| format!("{} {}", c.action.symbol(), c.key))
                .collect();
            let _ = write!(
                out,
                "{}: {} ({})",
                r.address,
                r.status.as_str(),
                changes.join(", ")
            );
            if let ApplyStatus::Failed {
                code,
                cloud_code,
                message,
            } = &r.status
            {
                let code = cloud_code.as_deref().unwrap_or(code.as_str());
                let _ = write!(out, ": {code}: {}", crate::report::visible(message));
            }
            out.push('\n');
        }
        for s in &self.skipped {
            let _ = writeln!(
                out,
                "{}: skipped: {}",
                s.resource.address(),
                crate::report::visible(&s.reason.describe())
            );
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&self.summary_line());
        out.push('\n');
        out
    }
}

/// Judges each target of `write` by the write failures (by resource) and the plan of the fresh read of the
/// written resources. `request_ids` are the write calls' request ids by resource.
pub fn verify(
    write: &WritePlan,
    failures: &BTreeMap<ResourceRef, WriteFailure>,
    request_ids: &BTreeMap<ResourceRef, Vec<String>>,
    reread: &Plan,
    write_calls: usize,
) -> Applied {
    let fresh: BTreeMap<&ResourceRef, _> = reread.resources.iter().map(|r| (&r.resource, r)).collect();
    let mut resources = Vec::new();
    for t in &write.targets {
        let failed = |code, cloud_code: Option<String>, message: String| ApplyStatus::Failed {
            code,
            cloud_code,
            message,
        };
        let status = if let Some(f) = failures.get(&t.resource) {
            failed(f.code, f.cloud_code.clone(), f.message.clone())
        } else {
            match fresh.get(&t.resource) {
                None => failed(
                    ErrorCode::Other,
                    None,
                    "not read again after the write".to_owned(),
                ),
                Some(r) if r.status == Status::Unknown => {
                    let (code, message) = r
                        .error
                        .as_ref()
                        .map(|e| (e.code, e.message.clone()))
                        .unwrap_or((ErrorCode::Other, "not read".to_owned()));
                    failed(
                        code,
                        None,
                        format!("written, but could not be verified: {message}"),
                    )
                }
                Some(r) if r.status == Status::Missing => failed(
                    ErrorCode::Other,
                    None,
                    "written, but the cloud now says it does not exist".to_owned(),
                ),
                Some(r) if !r.changes.is_empty() => {
                    let left: Vec<String> = r
                        .changes
                        .iter()
                        .map(|c| format!("{} {}", c.action.symbol(), c.key))
                        .collect();
                    failed(
                        ErrorCode::Other,
                        None,
                        format!("written, but the cloud still differs: {}", left.join(", ")),
                    )
                }
                Some(_) => ApplyStatus::Applied,
            }
        };
        resources.push(ResourceResult {
            address: t.resource.address(),
            resource: t.resource.clone(),
            changes: t.changes.clone(),
            status,
            request_ids: request_ids.get(&t.resource).cloned().unwrap_or_default(),
        });
    }
    let applied = resources
        .iter()
        .filter(|r| r.status == ApplyStatus::Applied)
        .count();
    Applied {
        format_version: FORMAT_VERSION,
        summary: ApplySummary {
            applied,
            failed: resources.len() - applied,
            skipped: write.skipped.len(),
            stale: write
                .skipped
                .iter()
                .filter(|s| matches!(s.reason, SkipReason::Stale { .. }))
                .count(),
            changes: write.change_count(),
            write_calls,
        },
        resources,
        skipped: write.skipped.clone(),
    }
}
