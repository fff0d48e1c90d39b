//! `batch_tag_read: auto`: whether a scope (account, project, type) may be read with the `resource_instances`
//! batch, decided by reading a sample both ways. The batch answer's shape rests on documentation, not on a
//! captured answer (does it list untagged resources? all of a resource's tags?), so it is trusted per scope only
//! once it agreed with the per-resource calls, whose answers the SDK documents.
//!
//! The comparison, on the first check of a scope and again once its verdict is a day old: the batch read (all
//! pages); the resources that must be in it — every listed one that can carry tags when the scope is listed
//! anyway (discovery, or a declared secret the batch did not return), else the declared ones (a declared key
//! the batch did not return is asked, and is a difference unless it does not exist); and the per-resource tag
//! call of up to [`SAMPLE_TAGGED`] of them with tags and [`SAMPLE_UNTAGGED`] without, spread evenly. It agrees
//! when all of them are in the batch answer and every sampled resource has exactly the same tags both ways. A sample catches what the batch does to every resource (leaving out the
//! untagged ones, dropping a kind of tag); the presence check covers every listed resource.
//!
//! * agreed: the scope is read with the batch from then on (`verified`);
//! * differed, or the batch call was refused: one call per resource from then on (`differs`, `refused`), and
//!   the first difference is logged once;
//! * could not tell (a listing or sample call failed, or the scope is empty): one call per resource for this
//!   check only, and the comparison is tried again at the next (`unverified`).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};

use super::{Batched, Ctx, Dew, Listing, read_error};
use crate::scope::ApiError;
use crate::{ErrorCode, Outcome, PlanReason, ResourceType, Tags};
use tagdrift_core::report::visible;

/// Resources with tags whose tags are read both ways.
pub const SAMPLE_TAGGED: usize = 16;
/// Resources without tags in the batch answer whose tags are read both ways.
pub const SAMPLE_UNTAGGED: usize = 8;
/// A verdict is this old when the scope is compared again.
pub const REVERIFY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The `auto` verdicts of one account, per (project region, resource type), kept across checks.
#[derive(Debug, Default)]
pub struct Learned {
    verdicts: Mutex<BTreeMap<(String, ResourceType), Verdict>>,
}

#[derive(Debug, Clone, Copy)]
struct Verdict {
    batch: bool,
    reason: PlanReason,
    at: Instant,
}

impl Learned {
    /// The verdict for a scope, unless there is none or it is [`REVERIFY_AFTER`] old at `now`.
    fn current(&self, region: &str, rt: ResourceType, now: Instant) -> Option<(bool, PlanReason)> {
        let verdicts = self.verdicts.lock().unwrap_or_else(PoisonError::into_inner);
        verdicts
            .get(&(region.to_owned(), rt))
            .filter(|v| now.saturating_duration_since(v.at) < REVERIFY_AFTER)
            .map(|v| (v.batch, v.reason))
    }

    fn record(&self, region: &str, rt: ResourceType, batch: bool, reason: PlanReason, at: Instant) {
        let mut verdicts = self.verdicts.lock().unwrap_or_else(PoisonError::into_inner);
        verdicts.insert((region.to_owned(), rt), Verdict { batch, reason, at });
    }
}

/// What the comparison found.
enum Comparison {
    Agree,
    /// The first difference, in words (cloud text not yet made visible).
    Differs(String),
    /// It could not be finished; why.
    Inconclusive(String),
}

/// A refusal of the batch call itself, as opposed to a failure that may pass (throttling after every retry,
/// 5xx, network, a malformed answer): a policy, an unknown API or a rejected parameter.
fn is_refusal(e: &ApiError) -> bool {
    matches!(e.code(), ErrorCode::PermissionDenied | ErrorCode::Http4xx)
}

/// Up to `n` items spread evenly over `items` (first, last and between), in order.
fn spread<T: Copy>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n {
        return items.to_vec();
    }
    (0..n)
        .map(|i| items[i * (items.len() - 1) / (n - 1).max(1)])
        .collect()
}

/// Huawei's system tags: the batch answer's `sys_tags` carry `_sys_enterprise_project_id`, which a resource's
/// own tag call need not repeat, and the drift engine never compares them.
const SYSTEM_PREFIX: &str = "_sys_";

/// Whether a batched resource carries tags of its own (system tags aside).
fn has_tags(b: &Batched) -> bool {
    b.tags.keys().any(|k| !k.starts_with(SYSTEM_PREFIX))
}

/// The first key whose value differs between the per-resource answer and the batch, in words; system tags
/// aside.
fn tag_difference(own: &Tags, batch: &Tags) -> Option<String> {
    let keys: std::collections::BTreeSet<&String> = own
        .keys()
        .chain(batch.keys())
        .filter(|k| !k.starts_with(SYSTEM_PREFIX))
        .collect();
    keys.into_iter().find_map(|k| match (own.get(k), batch.get(k)) {
        (Some(a), Some(b)) if a == b => None,
        (Some(a), Some(b)) => Some(format!(
            "tag {k:?} is {a:?} by its own tag call but {b:?} in the batch"
        )),
        (Some(_), None) => Some(format!("tag {k:?} is missing from the batch answer")),
        (None, Some(_)) => Some(format!(
            "tag {k:?} is in the batch answer but not in its own tag call"
        )),
        (None, None) => None,
    })
}

impl<D: Dew> Ctx<'_, D> {
    /// Reads the scope with the plan its verdict names, comparing first when there is no current verdict.
    pub(super) async fn auto(&self, learned: &Learned) {
        let (scope, rt) = (self.scope, self.scope.resource_type);
        let now = Instant::now();
        if let Some((batch, reason)) = learned.current(&scope.region, rt, now) {
            if !batch {
                self.sink.read_plan(scope, false, reason);
                return self.per_resource(BTreeMap::new(), None).await;
            }
            return match self.instances(rt).await {
                Ok(found) => {
                    self.sink.read_plan(scope, true, reason);
                    self.per_resource(found, None).await
                }
                Err(e) if is_refusal(&e) => {
                    self.decide(learned, false, PlanReason::Refused, &refusal_words(&e), now);
                    self.per_resource(BTreeMap::new(), None).await
                }
                // Passing trouble: this check reads per resource, the verdict stands.
                Err(_) => {
                    self.sink.read_plan(scope, false, PlanReason::Unverified);
                    self.per_resource(BTreeMap::new(), None).await
                }
            };
        }
        let found = match self.instances(rt).await {
            Ok(found) => found,
            Err(e) if is_refusal(&e) => {
                self.decide(learned, false, PlanReason::Refused, &refusal_words(&e), now);
                return self.per_resource(BTreeMap::new(), None).await;
            }
            Err(_) => {
                self.sink.read_plan(scope, false, PlanReason::Unverified);
                return self.per_resource(BTreeMap::new(), None).await;
            }
        };
        // The listing names every resource, but the batch plan itself needs it only for discovery, for key
        // aliases, or for a declared secret the batch did not return (its UUID): read it then, and otherwise
        // compare against the declared resources.
        let needs_listing = scope.discover
            || (rt == ResourceType::Key && scope.wants_aliases())
            || (rt == ResourceType::Secret && scope.declared.iter().any(|d| !found.contains_key(d)));
        let listing = if needs_listing {
            let listing = match rt {
                ResourceType::Secret => self.list_secrets().await.map(Listing::Secrets),
                ResourceType::Key => self.list_keys().await.map(Listing::Keys),
            };
            match listing {
                Ok(listing) => Some(listing),
                // The per-resource plan lists again and reports the failure as it always does.
                Err(_) => {
                    self.sink.read_plan(scope, false, PlanReason::Unverified);
                    return self.per_resource(BTreeMap::new(), None).await;
                }
            }
        } else {
            None
        };
        match self.compare(&found, listing.as_ref()).await {
            Comparison::Agree => {
                self.decide(learned, true, PlanReason::Verified, "", now);
                self.per_resource(found, listing).await
            }
            Comparison::Differs(first) => {
                self.decide(learned, false, PlanReason::Differs, &first, now);
                self.per_resource(BTreeMap::new(), listing).await
            }
            Comparison::Inconclusive(why) => {
                tracing::debug!(
                    account = %visible(&scope.account),
                    region = %visible(&scope.region),
                    resource_type = rt.as_str(),
                    why = %visible(&why),
                    "batch tag read not compared this check; reading one resource per call"
                );
                self.sink.read_plan(scope, false, PlanReason::Unverified);
                self.per_resource(BTreeMap::new(), listing).await
            }
        }
    }

    /// Records and reports a verdict, and logs it: the only log line per verdict, so once a day per scope.
    fn decide(&self, learned: &Learned, batch: bool, reason: PlanReason, why: &str, now: Instant) {
        let scope = self.scope;
        learned.record(&scope.region, scope.resource_type, batch, reason, now);
        self.sink.read_plan(scope, batch, reason);
        if batch {
            tracing::info!(
                account = %visible(&scope.account),
                region = %visible(&scope.region),
                resource_type = scope.resource_type.as_str(),
                "the batch tag read agreed with the per-resource calls; this scope is read with the batch"
            );
        } else {
            tracing::warn!(
                account = %visible(&scope.account),
                region = %visible(&scope.region),
                resource_type = scope.resource_type.as_str(),
                reason = reason.as_str(),
                difference = %visible(why),
                "the batch tag read cannot be trusted here; this scope is read with one call per resource"
            );
        }
    }

    /// Compares the batch answer with the resources that must be in it and with a sample of per-resource tag
    /// calls. With a listing, every listed resource that can carry tags must be in the answer. Without one (a
    /// declared-only scope whose declared secrets the batch all returned, or declared keys), the declared
    /// resources must: a declared key the batch did not return is asked for its tags, and is a difference
    /// unless it does not exist (or cannot carry tags).
    async fn compare(&self, found: &BTreeMap<String, Batched>, listing: Option<&Listing>) -> Comparison {
        let what = self.scope.resource_type.as_str();
        let reference: Vec<(&str, &str)> = match listing {
            Some(Listing::Secrets(l)) => l
                .iter()
                .filter(|(_, (_, untaggable))| untaggable.is_none())
                .map(|(name, (id, _))| (name.as_str(), id.as_str()))
                .collect(),
            Some(Listing::Keys(l)) => l
                .iter()
                .filter(|k| k.untaggable.is_none())
                .map(|k| (k.id.as_str(), k.id.as_str()))
                .collect(),
            None => {
                let absent: Vec<String> = self
                    .scope
                    .declared
                    .iter()
                    .filter(|d| !found.contains_key(*d))
                    .cloned()
                    .collect();
                for (id, outcome) in self.read_each(absent).await {
                    match outcome {
                        Outcome::NotFound | Outcome::Untaggable { .. } => {}
                        Outcome::Found(_) => {
                            return Comparison::Differs(format!(
                                "{what} {id} exists but is missing from the batch answer"
                            ));
                        }
                        Outcome::Failed(e) => {
                            return Comparison::Inconclusive(format!("{what} {id}: {}", e.message));
                        }
                    }
                }
                self.scope
                    .declared
                    .iter()
                    .filter_map(|d| found.get(d).map(|b| (d.as_str(), b.id.as_str())))
                    .collect()
            }
        };
        if reference.is_empty() {
            return Comparison::Inconclusive("the scope holds no resource to compare".to_owned());
        }
        if let Some((name, _)) = reference.iter().find(|(name, _)| !found.contains_key(*name)) {
            let tags = if found.values().all(has_tags) {
                " (the batch answer holds only tagged resources)"
            } else {
                ""
            };
            return Comparison::Differs(format!(
                "{what} {name} is listed but missing from the batch answer{tags}"
            ));
        }
        let (tagged, untagged): (Vec<_>, Vec<_>) = reference
            .iter()
            .copied()
            .partition(|(name, _)| found.get(*name).is_some_and(has_tags));
        let sample: Vec<(&str, &str)> = spread(&tagged, SAMPLE_TAGGED)
            .into_iter()
            .chain(spread(&untagged, SAMPLE_UNTAGGED))
            .collect();
        let natives: Vec<String> = sample.iter().map(|(_, native)| (*native).to_owned()).collect();
        for (i, (_, outcome)) in self.read_each(natives).await.into_iter().enumerate() {
            let name = sample[i].0;
            let batch = &found[name].tags;
            let difference = match outcome {
                Outcome::Found(own) => tag_difference(&own, batch),
                Outcome::NotFound => Some("not found by its own tag call".to_owned()),
                Outcome::Untaggable { detail, .. } => {
                    Some(format!("its own tag call refuses tags: {detail}"))
                }
                Outcome::Failed(e) => {
                    return Comparison::Inconclusive(format!("{what} {name}: {}", e.message));
                }
            };
            if let Some(d) = difference {
                return Comparison::Differs(format!("{what} {name}: {d}"));
            }
        }
        Comparison::Agree
    }

    /// The tag calls of `natives`, concurrently, answered in the order asked (so the first difference named
    /// does not depend on which answer came first).
    async fn read_each(&self, natives: Vec<String>) -> Vec<(String, Outcome)> {
        // Owned ids: a stream of borrowed ones trips the compiler's proof that the check's future is `Send`.
        let mut outcomes: Vec<(usize, String, Outcome)> = stream::iter(natives.into_iter().enumerate())
            .map(|(i, native)| async move {
                let outcome = self.tags(&native).await;
                (i, native, outcome)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        outcomes.sort_by_key(|(i, _, _)| *i);
        outcomes.into_iter().map(|(_, n, o)| (n, o)).collect()
    }
}

fn refusal_words(e: &ApiError) -> String {
    format!("the batch call was refused: {}", read_error(e.clone()).message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_holds_for_a_day_and_per_scope() {
        let learned = Learned::default();
        let t0 = Instant::now();
        assert_eq!(learned.current("r1", ResourceType::Key, t0), None);
        learned.record("r1", ResourceType::Key, true, PlanReason::Verified, t0);
        let day = REVERIFY_AFTER;
        let cases = [
            ("r1", ResourceType::Key, t0, Some((true, PlanReason::Verified))),
            (
                "r1",
                ResourceType::Key,
                t0 + day - Duration::from_secs(1),
                Some((true, PlanReason::Verified)),
            ),
            ("r1", ResourceType::Key, t0 + day, None),
            ("r1", ResourceType::Secret, t0, None),
            ("r2", ResourceType::Key, t0, None),
        ];
        for (region, rt, at, want) in cases {
            assert_eq!(learned.current(region, rt, at), want, "{region} {rt:?} {at:?}");
        }
    }

    #[test]
    fn the_sample_spreads_over_the_whole_range() {
        let items: Vec<usize> = (0..100).collect();
        assert_eq!(spread(&items, 5), vec![0, 24, 49, 74, 99]);
        assert_eq!(spread(&items[..3], 5), vec![0, 1, 2]);
        assert_eq!(spread(&items[..7], 1), vec![0]);
        assert!(spread(&items, 0).is_empty());
    }

    #[test]
    fn tag_differences_name_the_first_key() {
        let t = |pairs: &[(&str, &str)]| -> Tags {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let cases = [
            (t(&[("a", "1")]), t(&[("a", "1")]), None),
            (
                t(&[("a", "1")]),
                t(&[("a", "2")]),
                Some("tag \"a\" is \"1\" by its own tag call but \"2\" in the batch"),
            ),
            (
                t(&[("a", "1"), ("b", "2")]),
                t(&[("a", "1")]),
                Some("tag \"b\" is missing from the batch answer"),
            ),
            (
                t(&[]),
                t(&[("c", "")]),
                Some("tag \"c\" is in the batch answer but not in its own tag call"),
            ),
            (
                t(&[("a", "1")]),
                t(&[("a", "1"), ("_sys_enterprise_project_id", "0")]),
                None,
            ),
        ];
        for (own, batch, want) in cases {
            assert_eq!(tag_difference(&own, &batch).as_deref(), want, "{own:?} {batch:?}");
        }
    }
}
