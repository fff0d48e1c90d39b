//! `tagdrift apply`: puts the tags back. Reads and plans exactly as `tagdrift check` does (the one pipeline in
//! [`check`]), picks the writes ([`reconcile::select`], [`reconcile::batch`]), sends them through the cloud
//! writers, reads the written resources again (the same pipeline, restricted to them) and judges each one
//! ([`reconcile::verify`]).
//!
//! With a saved plan ([`SavedPlan`]) the writes are the plan's, and [`confirm`] first reads each of its
//! resources again (the same restricted pipeline) so a resource whose tags changed since the plan is skipped
//! as `stale` instead of overwritten.
//!
//! Every write is one audit event (target `tagdrift::audit`) per resource it carries: the address, the keys
//! added, changed and removed with their old and new values, the cloud's request id and the result. Tag
//! values are not secrets; credentials never reach this module.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use tagdrift_cloud::write::WriteError;
use tagdrift_core::config::DesiredState;
use tagdrift_core::drift::{Action, TagChange};
use tagdrift_core::reconcile::saved::SavedPlan;
use tagdrift_core::reconcile::{self, Applied, Batch, Op, Target, WriteFailure, WritePlan};
use tagdrift_core::report;
use tagdrift_core::vocab::ResourceRef;

use crate::check::{self, CloudSource, Source};

/// What the writes returned, by resource.
#[derive(Debug, Default)]
pub struct Sent {
    /// The first failed write of each resource.
    pub failures: BTreeMap<ResourceRef, WriteFailure>,
    /// The request ids of the accepted writes of each resource.
    pub request_ids: BTreeMap<ResourceRef, Vec<String>>,
    /// Calls sent (each batch once; the transport's retries are not counted).
    pub calls: usize,
}

/// Writes `plan`, reads the written resources again and judges them.
pub async fn run(state: &DesiredState, source: &CloudSource, plan: &WritePlan) -> Applied {
    let batches = reconcile::batch(&plan.targets);
    let sent = send(source, state, plan, &batches, &|| false).await;
    let restricted = restrict(state, &plan.targets);
    let read = check::read(&restricted, source).await;
    let reread = check::plan(&restricted, read).plan;
    reconcile::verify(plan, &sent.failures, &sent.request_ids, &reread, sent.calls)
}

/// Reads the targets of `write` (from `saved`) again and keeps those whose tags are still what the plan saw;
/// the others are skipped as stale, unknown or missing. Also returns the accounts whose credentials the cloud
/// refused, with the reason. Cancel-safe, like [`check::read`].
pub async fn confirm(
    state: &DesiredState,
    source: &CloudSource,
    saved: &SavedPlan,
    write: WritePlan,
) -> (WritePlan, Vec<(String, String)>) {
    if write.targets.is_empty() {
        return (write, Vec::new());
    }
    let restricted = restrict(state, &write.targets);
    let read = check::read(&restricted, source).await;
    (
        saved.confirm(state, write, &read.observations),
        read.refused_accounts(),
    )
}

/// Sends `batches`: the scopes (account, region) concurrently, each scope's calls in order, so a resource's
/// removals go before its additions. A failure never stops the other writes; once a write of a resource
/// failed, its later writes are not sent (its verdict is already `failed`). Once `stopped` returns true no
/// further call is started (the daemon's shutdown); the calls in flight complete.
pub async fn send(
    source: &dyn Source,
    state: &DesiredState,
    plan: &WritePlan,
    batches: &[Batch],
    stopped: &(dyn Fn() -> bool + Sync),
) -> Sent {
    let targets: BTreeMap<(&str, &str, &str), &Target> = plan
        .targets
        .iter()
        .map(|t| {
            (
                (
                    t.resource.account.as_str(),
                    t.resource.region.as_str(),
                    t.resource.id.as_str(),
                ),
                t,
            )
        })
        .collect();
    let mut scopes: BTreeMap<(&str, &str), Vec<&Batch>> = BTreeMap::new();
    for b in batches {
        scopes.entry((&b.account, &b.region)).or_default().push(b);
    }
    let results = join_all(scopes.into_values().map(|batches| async {
        let mut sent = Sent::default();
        for batch in batches {
            let members: Vec<&Target> = batch
                .members
                .iter()
                .filter_map(|m| targets.get(&(batch.account.as_str(), batch.region.as_str(), m.id.as_str())))
                .copied()
                .filter(|t| !sent.failures.contains_key(&t.resource))
                .collect();
            if members.is_empty() {
                continue;
            }
            if stopped() {
                break;
            }
            let mut batch = batch.clone();
            batch
                .members
                .retain(|m| members.iter().any(|t| t.resource.id == m.id));
            sent.calls += 1;
            let result = source.write(state, &batch).await;
            for target in members {
                audit(target, &batch.op, &result);
                match &result {
                    Ok(written) => sent
                        .request_ids
                        .entry(target.resource.clone())
                        .or_default()
                        .extend(written.request_id.clone()),
                    Err(e) => {
                        sent.failures.insert(
                            target.resource.clone(),
                            WriteFailure {
                                code: e.code,
                                cloud_code: e.cloud_code.clone(),
                                message: e.message.clone(),
                            },
                        );
                    }
                }
            }
        }
        sent
    }))
    .await;
    let mut all = Sent::default();
    for s in results {
        all.failures.extend(s.failures);
        all.request_ids.extend(s.request_ids);
        all.calls += s.calls;
    }
    all
}

/// The desired state of the second read: only the written resources, and no discovery (nothing is listed).
pub fn restrict(state: &DesiredState, targets: &[Target]) -> DesiredState {
    let mut restricted = state.clone();
    restricted.resources.retain(|d| {
        targets.iter().any(|t| {
            let r = &t.resource;
            r.cloud == d.cloud
                && r.account == d.account
                && r.region == d.region
                && r.resource_type == d.resource_type
                && r.id == d.id
        })
    });
    restricted.discovery.clear();
    restricted
}

/// The `added`, `changed` and `removed` fields of an audit event: `target`'s changes of the keys `keep`
/// accepts, each made visible (tag values are not secrets, but may hold hidden characters).
pub fn audit_fields(target: &Target, keep: impl Fn(&str) -> bool) -> [Vec<String>; 3] {
    let of = |action: Action| -> Vec<&TagChange> {
        target
            .changes
            .iter()
            .filter(|c| c.action == action && keep(&c.key))
            .collect()
    };
    let show = |v: &Option<String>| report::visible(v.as_deref().unwrap_or("")).into_owned();
    let added: Vec<String> = of(Action::Add)
        .iter()
        .map(|c| format!("{}={}", report::visible(&c.key), show(&c.after)))
        .collect();
    let changed: Vec<String> = of(Action::Change)
        .iter()
        .map(|c| {
            format!(
                "{}: {} -> {}",
                report::visible(&c.key),
                show(&c.before),
                show(&c.after)
            )
        })
        .collect();
    let removed: Vec<String> = of(Action::Remove)
        .iter()
        .map(|c| format!("{}={}", report::visible(&c.key), show(&c.before)))
        .collect();
    [added, changed, removed]
}

/// One audit event for `target`'s part of a write.
fn audit(target: &Target, op: &Op, result: &Result<tagdrift_cloud::write::Written, WriteError>) {
    let keys = op.keys();
    let [added, changed, removed] = audit_fields(target, |k| keys.contains(&k));
    let address = target.resource.address();
    let operation = match op {
        Op::Tag(_) => "tag",
        Op::Untag(_) => "untag",
    };
    match result {
        Ok(written) => tracing::info!(
            target: "tagdrift::audit",
            resource = %address,
            operation,
            added = ?added,
            changed = ?changed,
            removed = ?removed,
            request_id = written.request_id.as_deref().unwrap_or(""),
            result = "ok",
            "tags written"
        ),
        Err(e) => tracing::warn!(
            target: "tagdrift::audit",
            resource = %address,
            operation,
            added = ?added,
            changed = ?changed,
            removed = ?removed,
            request_id = e.request_id.as_deref().unwrap_or(""),
            result = "failed",
            code = e.cloud_code.as_deref().unwrap_or(e.code.as_str()),
            error = %report::visible(&e.message),
            "tag write failed"
        ),
    }
}

#[cfg(test)]
mod tests {
    use tagdrift_core::drift::fixtures::{Desired, Obs, ali_key, any, date, hw_secret};
    use tagdrift_core::drift::plan;

    use super::*;

    /// The second read covers the written resources only, and lists nothing.
    #[test]
    fn the_second_read_is_restricted_to_the_written_resources() {
        let written = ali_key("k1");
        let state = Desired::new()
            .declare(&written, &[("owner", "a")])
            .declare(&ali_key("k2"), &[("owner", "a")])
            .declare(&hw_secret("s1"), &[("owner", "a")])
            .discover(any(), true)
            .build();
        let observed = Obs::new()
            .found(&written, &[("owner", "b")])
            .found(&ali_key("k2"), &[("owner", "a")])
            .found(&hw_secret("s1"), &[("owner", "a")])
            .build();
        let write = reconcile::select(&plan(&state, &observed, date("2026-06-01")), &[]);
        let restricted = restrict(&state, &write.targets);
        let ids: Vec<&str> = restricted.resources.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["k1"]);
        assert!(restricted.discovery.is_empty());
        assert_eq!(restricted.accounts.len(), state.accounts.len());
    }
}
