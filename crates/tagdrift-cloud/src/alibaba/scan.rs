//! Reading one Alibaba scope (account, region, `key` or `secret`) with the fewest KMS calls for what the
//! desired state asks, and reporting every resource into the check's [`Sink`]. The plans and their call
//! counts (documented in docs/reading.md):
//!
//! * **declared keys** (no discovery): `ListTagResources` with up to 50 `ResourceId.N` per call, following
//!   `NextToken` (200 rows a page). A batch answered `InvalidResourceId.NotFound` is split in halves until the
//!   missing ids stand alone (they are `NotFound`); a batch refused by a RAM policy (`permission_denied`:
//!   RAM evaluates `ListTagResources` against every id's ARN) is split the same way, so only the denied ids
//!   end `Failed` and the rest of the batch is read. A declared resource with no tag row at all is confirmed
//!   with `DescribeKey` / `DescribeSecret` (one call each), because whether the service skips unknown ids
//!   instead of failing is not documented, and "no rows" must not turn a deleted resource into "no tags".
//!   When the file declares most of the region's keys, the region-wide `ListTagResources` below is cheaper
//!   than the batches and is used instead ([`region_wide_pays`] holds the formula).
//! * **discovery of keys**: `ListKeys` pages of 100 (page 1, then the rest concurrently) and, at the same
//!   time, `ListTagResources` *without* `ResourceId`, which pages through every (key, tag) row of the region:
//!   `ceil(rows / 200)` calls, never more than the batched form (`Σ ceil(rows_b / 200) ≥ ceil(Σ rows_b / 200)`).
//!   That region-wide form is unproven on the real service (Terraform always passes ids): when it is refused
//!   (`MissingParameter` / `InvalidParameter`), the listed keys' tags are read by id batches as for declared
//!   keys, and the account remembers it ([`Learned`]) so later scopes and checks go straight to the batches.
//!   When a RAM policy refuses it (`permission_denied`), this scope's keys are read by id batches too, which
//!   isolate the denied keys, but nothing is remembered.
//! * **discovery of secrets**: `ListSecrets` pages of 100 with `FetchTags=true` carry every secret's tags, so
//!   no tag call is needed; declared secrets are covered by the same listing. When a RAM policy refuses the
//!   listing with tags, the names are listed without them and the tags read by id batches.
//! * **declared secrets** without discovery: page 1 of `ListSecrets` first (it tells the region's total and
//!   reads 100 secrets), then whichever is cheaper for the rest — the remaining pages, or the batched
//!   `ListTagResources` above (see [`declared_secrets`]).
//!
//! * **aliases** (key scopes with a key declared by `alias`, or a selector whose `name` glob may match keys):
//!   `ListAliases` pages of 100 first, once per region; the declared aliases become KeyIds, and every key is
//!   reported with its alias so name globs match it. A failed listing leaves the whole key scope unknown.
//! * **keys pending deletion** (every key scope, declared or discovered): one more `ListKeys` with
//!   `Filters=[{"Key":"KeyState","Values":["PendingDeletion"]}]` ([`PENDING_FILTER`]), pages of 100 (usually
//!   one call). A key in it counts as gone, as Terraform's provider treats it: declared, it is
//!   [`Outcome::Untaggable`]; undeclared, discovery leaves it out and counts it. Its tag rows are not read, and
//!   its tags (still stored) are not reported as drift. If this listing fails, a discovered scope fails as
//!   for a failed `ListKeys`, and without discovery every declared key fails with its error: reading on
//!   would report a doomed key as drifted. `DescribeKey`, the confirmation of a key
//!   without tag rows, says `KeyState: PendingDeletion` too, for a key scheduled between the two calls; a
//!   batch refused with `Rejected.PendingDeletion` is split like a not-found one.
//!   Secrets scheduled for deletion (`PlannedDeleteTime`) are read as usual: nothing documents that they refuse
//!   tags.
//!
//! A declared resource missing from a complete listing is `NotFound`; when a listing fails the scope is a
//! [`ScopeFailure`](crate::ScopeFailure) and each declared resource there is `Failed`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::stream::{self, StreamExt};

use super::wire;
use crate::scope::{ApiError, Scope, Sink, listing_failed, resource_failed};
use crate::wire::decode;
use crate::{ErrorCode, Outcome, ReadError, ResourceType, Tags, Untaggable};

/// Most `ResourceId.N` in one `ListTagResources` call.
pub const BATCH: usize = 50;
/// Rows in one `ListTagResources` page (documented default; the API has no page-size parameter).
pub const TAG_PAGE_ROWS: usize = 200;
/// Rows a batch leaves free below a page for tags the desired state does not expect (drift), so that a few
/// extra tags do not cost a second page: batches of 49 resources with 4 tags, not 50.
pub const ROW_SLACK: usize = 4;
/// `PageSize` of `ListKeys` and `ListSecrets` (the documented maximum).
pub const PAGE_SIZE: usize = 100;

/// The `ListKeys` filter for keys pending deletion (the `Filters` parameter is a JSON string; `KeyState`
/// values are `Enabled`, `Disabled`, `PendingDeletion`, `PendingImport`).
pub const PENDING_FILTER: &str = r#"[{"Key":"KeyState","Values":["PendingDeletion"]}]"#;

/// The `KeyState` of a key scheduled for deletion.
const PENDING_DELETION: &str = "PendingDeletion";

/// One KMS RPC call as the reader asks for it. The transport adds the common and signing parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcCall {
    /// The API (`Action`), also the metric `operation`.
    pub action: &'static str,
    /// The rate-limit group (`config::API_GROUPS`).
    pub group: &'static str,
    pub region: String,
    /// API parameters (`RegionId`, `ResourceId.1`, ...), in the order given.
    pub params: Vec<(String, String)>,
}

/// What the reader needs from the transport: send one call (signing, retries, throttling, timeouts are the
/// transport's business) and return the body of the successful answer.
pub trait Kms: Sync {
    fn call(&self, call: RpcCall) -> impl Future<Output = Result<Vec<u8>, ApiError>> + Send;
}

/// What the reader learns about one Alibaba account's KMS while reading it, kept for the life of the reader
/// and shared by every scope and check of the account.
#[derive(Debug, Default)]
pub struct Learned {
    /// The service refused a `ListTagResources` without `ResourceId`, so key discovery reads tags by id
    /// batches. Never cleared: a refusal is the service's rule, not a passing fault, and a retry would cost a
    /// refused call per scope and check.
    region_wide_refused: AtomicBool,
}

impl Learned {
    fn region_wide_refused(&self) -> bool {
        self.region_wide_refused.load(Ordering::Acquire)
    }

    /// Remembers the refusal, logging it only the first time for the account (scopes of several regions may
    /// be refused at once; only one of them wins the swap).
    fn refuse_region_wide(&self, scope: &Scope, e: &ApiError) {
        if !self.region_wide_refused.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                account = %tagdrift_core::report::visible(&scope.account),
                region = %tagdrift_core::report::visible(&scope.region),
                code = e.cloud_code.as_deref().unwrap_or_default(),
                error = %tagdrift_core::report::visible(&e.error.message),
                "KMS refused ListTagResources without ResourceId; key discovery for this account reads tags \
                 in batches of {BATCH} listed key ids from now on"
            );
        }
    }
}

/// Whether `e` is the service refusing a `ListTagResources` without `ResourceId` (a 4xx saying a parameter
/// is missing or invalid), as opposed to a failure of the call.
fn refuses_region_wide(e: &ApiError) -> bool {
    let code = e.cloud_code.as_deref().unwrap_or_default();
    let code = code.split_once('.').map_or(code, |(head, _)| head);
    e.status.is_none_or(|s| (400..500).contains(&s))
        && matches!(code, "MissingParameter" | "InvalidParameter")
}

/// The not-found answers of the APIs used here (reference §2–3): 404 with one of these codes.
fn is_not_found(e: &ApiError) -> bool {
    matches!(
        e.cloud_code.as_deref(),
        Some(
            "InvalidResourceId.NotFound"
                | "Forbidden.KeyNotFound"
                | "Forbidden.ResourceNotFound"
                | "Forbidden.AliasNotFound"
        )
    )
}

/// A tag call naming a key pending deletion: `Rejected.PendingDeletion` (409) is the key-state table's answer
/// for APIs that refuse such keys (the tag APIs are not in the table; the emulator answers so). A key
/// scheduled after the pending-key listing can meet it.
fn is_pending_deletion(e: &ApiError) -> bool {
    e.cloud_code.as_deref() == Some("Rejected.PendingDeletion")
}

fn rpc(action: &'static str, scope: &Scope, params: Vec<(String, String)>) -> RpcCall {
    let group = match action {
        "ListSecrets" | "DescribeSecret" => "secrets_read",
        _ => "kms_read",
    };
    RpcCall {
        action,
        group,
        region: scope.region.clone(),
        params,
    }
}

/// Reads `scope` and reports into `sink`. `concurrency` bounds the calls this scope has in flight; `learned`
/// is the account's.
pub async fn scan<K: Kms>(kms: &K, scope: &Scope, sink: &Sink, concurrency: usize, learned: &Learned) {
    let concurrency = concurrency.max(1);
    match (scope.resource_type, scope.discover) {
        (ResourceType::Secret, false) => declared_secrets(kms, scope, sink, concurrency).await,
        (ResourceType::Secret, true) => discover_secrets(kms, scope, sink, concurrency).await,
        (ResourceType::Key, discover) => {
            let resolved;
            let scope = if scope.wants_aliases() {
                match aliases(kms, scope, concurrency).await {
                    Ok(listing) => {
                        let unresolved;
                        (resolved, unresolved) = scope.resolve(listing);
                        for alias in unresolved {
                            sink.observe(scope, &alias, None, Some(alias.clone()), Outcome::NotFound);
                        }
                        &resolved
                    }
                    // Without the aliases neither the keys declared by alias nor the name globs can be matched,
                    // so nothing of the scope is reported as read.
                    Err(e) => return listing_failure(scope, sink, e.error),
                }
            } else {
                scope
            };
            let pending = match pending_keys(kms, scope, concurrency).await {
                Ok(p) => p,
                // Discovery failed as a failed `ListKeys` would. Without discovery the listing resolves no
                // id, so declared keys get its own error (`listing_failed` would hide the cause).
                Err(e) if discover => return listing_failure(scope, sink, e.error),
                Err(e) => {
                    for id in &scope.declared {
                        sink.observe(scope, id, None, None, Outcome::Failed(e.error.clone()));
                    }
                    return;
                }
            };
            for id in &pending {
                if scope.declared.binary_search(id).is_ok() {
                    let detail = "KeyState PendingDeletion (ListKeys)".to_owned();
                    let outcome = Outcome::Untaggable {
                        reason: Untaggable::PendingDeletion,
                        detail,
                    };
                    sink.observe(scope, id, None, None, outcome);
                } else if discover {
                    sink.leave_out(scope, Untaggable::PendingDeletion);
                }
            }
            if discover {
                discover_keys(kms, scope, sink, concurrency, learned, &pending).await
            } else {
                let rest: Vec<String> = scope
                    .declared
                    .iter()
                    .filter(|id| !pending.contains(*id))
                    .cloned()
                    .collect();
                declared_keys(kms, scope, sink, concurrency, learned, &rest).await
            }
        }
    }
}

/// Every (alias, KeyId) of the region: `ListAliases` pages of 100, page 1 first, then the rest concurrently.
async fn aliases<K: Kms>(
    kms: &K,
    scope: &Scope,
    concurrency: usize,
) -> Result<Vec<(String, String)>, ApiError> {
    all_pages(
        |n| async move {
            let body = kms.call(rpc("ListAliases", scope, paging(scope, n))).await?;
            let page: wire::AliasPage = decode("ListAliases", &body).map_err(ApiError::from)?;
            let total = page.total_count;
            Ok((page.entries(), total))
        },
        concurrency,
    )
    .await
}

/// The ids of the region's keys pending deletion: `ListKeys` filtered by `KeyState`.
async fn pending_keys<K: Kms>(
    kms: &K,
    scope: &Scope,
    concurrency: usize,
) -> Result<BTreeSet<String>, ApiError> {
    let keys = all_pages(
        |n| async move {
            let mut params = paging(scope, n);
            params.push(("Filters".to_owned(), PENDING_FILTER.to_owned()));
            let body = kms.call(rpc("ListKeys", scope, params)).await?;
            let page: wire::KeyPage = decode("ListKeys", &body).map_err(ApiError::from)?;
            let total = page.total_count;
            Ok((page.ids(), total))
        },
        concurrency,
    )
    .await?;
    Ok(keys.into_iter().collect())
}

/// Every (resource, tag) row of `ids` (all resources of the type when `ids` is empty), following `NextToken`.
async fn tag_rows<K: Kms>(
    kms: &K,
    scope: &Scope,
    ids: &[String],
) -> Result<BTreeMap<String, Tags>, ApiError> {
    let mut tags: BTreeMap<String, Tags> = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = vec![
            ("RegionId".to_owned(), scope.region.clone()),
            ("ResourceType".to_owned(), scope.resource_type.as_str().to_owned()),
        ];
        for (i, id) in ids.iter().enumerate() {
            params.push((format!("ResourceId.{}", i + 1), id.clone()));
        }
        if let Some(t) = &token {
            params.push(("NextToken".to_owned(), t.clone()));
        }
        let body = kms.call(rpc("ListTagResources", scope, params)).await?;
        let page: wire::TagPage = decode("ListTagResources", &body).map_err(ApiError::from)?;
        let next = page.next().map(str::to_owned);
        for row in page.rows() {
            tags.entry(row.resource_id)
                .or_default()
                .insert(row.tag_key, row.tag_value.unwrap_or_default());
        }
        match next {
            // A token that does not move would page forever.
            Some(n) if token.as_deref() == Some(n.as_str()) => {
                return Err(ApiError::from(ReadError::new(
                    ErrorCode::InvalidResponse,
                    format!("invalid ListTagResources response: NextToken {n:?} repeats"),
                )));
            }
            Some(n) => token = Some(n),
            None => return Ok(tags),
        }
    }
}

/// Declared keys: the region-wide `ListTagResources` when [`region_wide_pays`] says it costs fewer calls than
/// the id batches, else the batches. The region-wide rows of a declared key are all its tags; a declared key
/// without rows is confirmed with `DescribeKey`, as in the batches. A refused region-wide form is learned as in
/// discovery; any other failure of it falls back to the batches, which report failures per key.
async fn declared_keys<K: Kms>(
    kms: &K,
    scope: &Scope,
    sink: &Sink,
    concurrency: usize,
    learned: &Learned,
    ids: &[String],
) {
    if !learned.region_wide_refused() && region_wide_pays(kms, scope, ids).await {
        match tag_rows(kms, scope, &[]).await {
            Ok(mut rows) => {
                let mut untagged = Vec::new();
                for id in ids {
                    match rows.remove(id) {
                        Some(tags) => sink.observe(scope, id, None, None, Outcome::Found(tags)),
                        None => untagged.push(id.clone()),
                    }
                }
                return confirm(kms, scope, sink, concurrency, untagged).await;
            }
            Err(e) if refuses_region_wide(&e) => learned.refuse_region_wide(scope, &e),
            Err(_) => {}
        }
    }
    declared(kms, scope, sink, concurrency, ids).await
}

/// Whether reading the whole region's tag rows saves at least a third of the calls of the id batches of `ids`.
/// The batches cost `b = batches(ids).len()` calls. The region-wide listing costs `w = 1 + ceil(R / 200)`: one
/// `ListKeys` with `PageSize=1` for the region's key count `K` (its `TotalCount`), and the rows `R`, estimated
/// as the declared keys' expected rows `E` scaled to the region, `E * K / n` (undeclared keys assumed to carry
/// as many tags). Its pages follow `NextToken`, one after the other, while batches run side by side under the
/// rate limit; a third fewer calls is where the chain is also no slower at the usual latencies, so it is chosen
/// when `3w <= 2b`. The count is asked only when even a region of just the declared keys would pass
/// (`w` with `R = E`), and never when a declared key's tags are unknown. Keys without rows cost a
/// `DescribeKey` either way.
async fn region_wide_pays<K: Kms>(kms: &K, scope: &Scope, ids: &[String]) -> bool {
    let Some(expected) = ids
        .iter()
        .map(|id| scope.expected_tags.get(id).copied())
        .sum::<Option<usize>>()
    else {
        return false;
    };
    let batches = batches(scope, ids).len();
    let pays = |calls: u128| 3 * calls <= 2 * batches as u128;
    if ids.is_empty() || !pays(1 + expected.div_ceil(TAG_PAGE_ROWS) as u128) {
        return false;
    }
    let params = vec![
        ("RegionId".to_owned(), scope.region.clone()),
        ("PageNumber".to_owned(), "1".to_owned()),
        ("PageSize".to_owned(), "1".to_owned()),
    ];
    let total = match kms.call(rpc("ListKeys", scope, params)).await {
        Ok(body) => match decode::<wire::KeyPage>("ListKeys", &body) {
            Ok(page) => page.total_count,
            Err(_) => return false,
        },
        Err(_) => return false,
    };
    let Some(keys) = total.and_then(|t| usize::try_from(t).ok()) else {
        return false;
    };
    let rows = (expected as u128 * keys.max(ids.len()) as u128).div_ceil(ids.len() as u128);
    pays(1 + rows.div_ceil(TAG_PAGE_ROWS as u128))
}

/// Confirms resources without any tag row with `DescribeKey` / `DescribeSecret`.
async fn confirm<K: Kms>(kms: &K, scope: &Scope, sink: &Sink, concurrency: usize, ids: Vec<String>) {
    stream::iter(ids)
        .map(|id| async move {
            let outcome = describe(kms, scope, &id).await;
            sink.observe(scope, &id, None, None, outcome);
        })
        .buffer_unordered(concurrency)
        .collect::<()>()
        .await;
}

/// Declared resources only: `ListTagResources` in batches of 50, split on not-found, then existence checks
/// for resources without any tag row.
async fn declared<K: Kms>(kms: &K, scope: &Scope, sink: &Sink, concurrency: usize, ids: &[String]) {
    let batches = batches(scope, ids);
    let untagged: Vec<Vec<String>> = stream::iter(batches)
        .map(|batch| read_batch(kms, scope, sink, batch))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    confirm(
        kms,
        scope,
        sink,
        concurrency,
        untagged.into_iter().flatten().collect(),
    )
    .await;
}

/// Splits `ids` into batches of at most [`BATCH`] ids whose expected tag rows (when the desired state tells)
/// fit one page with [`ROW_SLACK`] to spare, so a batch usually costs exactly one call.
fn batches(scope: &Scope, ids: &[String]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut rows = 0;
    for id in ids {
        let expected = scope.expected_tags.get(id).map(|n| (*n).max(1));
        let full = current.len() == BATCH
            || expected.is_some_and(|n| !current.is_empty() && rows + n > TAG_PAGE_ROWS - ROW_SLACK);
        if full {
            out.push(std::mem::take(&mut current));
            rows = 0;
        }
        rows += expected.unwrap_or(0);
        current.push(id.clone());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Whether a failed batch is split to isolate the ids that caused it: an id that does not exist fails the
/// whole call, and so does one a RAM policy denies (RAM checks the action against every id's ARN) or one
/// scheduled for deletion.
fn splits_batch(e: &ApiError) -> bool {
    is_not_found(e) || is_pending_deletion(e) || e.code() == ErrorCode::PermissionDenied
}

/// Reads one batch, reporting every resource with tags, not found or failed; returns the ids that exist but
/// have no tag row (to confirm).
async fn read_batch<K: Kms>(kms: &K, scope: &Scope, sink: &Sink, batch: Vec<String>) -> Vec<String> {
    let mut untagged = Vec::new();
    // Halves still to read; a stack instead of recursion (async recursion needs boxing).
    let mut work = vec![batch];
    while let Some(ids) = work.pop() {
        match tag_rows(kms, scope, &ids).await {
            Ok(mut tags) => {
                for id in ids {
                    match tags.remove(&id) {
                        Some(t) => sink.observe(scope, &id, None, None, Outcome::Found(t)),
                        None => untagged.push(id),
                    }
                }
            }
            Err(e) if is_not_found(&e) && ids.len() == 1 => {
                sink.observe(scope, &ids[0], None, None, Outcome::NotFound);
            }
            Err(e) if e.code() == ErrorCode::PermissionDenied && ids.len() == 1 => {
                let error = resource_failed(scope, e.error);
                sink.observe(scope, &ids[0], None, None, Outcome::Failed(error));
            }
            Err(e) if is_pending_deletion(&e) && ids.len() == 1 => {
                let outcome = Outcome::Untaggable {
                    reason: Untaggable::PendingDeletion,
                    detail: e.error.message,
                };
                sink.observe(scope, &ids[0], None, None, outcome);
            }
            Err(e) if splits_batch(&e) => {
                let mut left = ids;
                let right = left.split_off(left.len() / 2);
                work.push(right);
                work.push(left);
            }
            Err(e) => {
                for id in ids {
                    sink.observe(scope, &id, None, None, Outcome::Failed(e.error.clone()));
                }
            }
        }
    }
    untagged
}

/// Whether a resource without tag rows exists: `DescribeKey`, or `DescribeSecret` with its tags.
async fn describe<K: Kms>(kms: &K, scope: &Scope, id: &str) -> Outcome {
    let region = ("RegionId".to_owned(), scope.region.clone());
    let result = match scope.resource_type {
        ResourceType::Key => {
            let params = vec![region, ("KeyId".to_owned(), id.to_owned())];
            match kms.call(rpc("DescribeKey", scope, params)).await {
                Ok(body) => match decode::<wire::DescribeKey>("DescribeKey", &body) {
                    // Scheduled for deletion since the pending-key listing.
                    Ok(d) if d.key_metadata.key_state.as_deref() == Some(PENDING_DELETION) => {
                        return Outcome::Untaggable {
                            reason: Untaggable::PendingDeletion,
                            detail: "KeyState PendingDeletion (DescribeKey)".to_owned(),
                        };
                    }
                    Ok(_) => Ok(Tags::new()),
                    Err(e) => Err(e),
                },
                Err(e) => return failed_or_missing(scope, e),
            }
        }
        ResourceType::Secret => {
            let params = vec![
                region,
                ("SecretName".to_owned(), id.to_owned()),
                ("FetchTags".to_owned(), "true".to_owned()),
            ];
            match kms.call(rpc("DescribeSecret", scope, params)).await {
                Ok(body) => decode::<wire::DescribeSecret>("DescribeSecret", &body)
                    .map(|d| d.tags.map(wire::TagList::into_tags).unwrap_or_default()),
                Err(e) => return failed_or_missing(scope, e),
            }
        }
    };
    match result {
        Ok(tags) => Outcome::Found(tags),
        Err(e) => Outcome::Failed(e),
    }
}

fn failed_or_missing(scope: &Scope, e: ApiError) -> Outcome {
    if is_not_found(&e) {
        Outcome::NotFound
    } else {
        Outcome::Failed(resource_failed(scope, e.error))
    }
}

/// One page of a `PageNumber`/`PageSize` listing: its items and the total count when the answer has one.
type Page<T> = Result<(Vec<T>, Option<u64>), ApiError>;

/// Pages of a `PageNumber`/`PageSize` listing: page 1 first (it tells the total), then the rest concurrently.
/// `fetch(n)` returns the page's items and the total count when the answer has one.
async fn all_pages<T, F, Fut>(fetch: F, concurrency: usize) -> Result<Vec<T>, ApiError>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Page<T>>,
{
    let (mut items, total) = fetch(1).await?;
    let first_len = items.len();
    match total {
        Some(total) if first_len > 0 => {
            let total = usize::try_from(total).unwrap_or(usize::MAX);
            let pages = total.div_ceil(PAGE_SIZE);
            let mut rest = std::pin::pin!(stream::iter(2..=pages).map(&fetch).buffered(concurrency));
            while let Some(page) = rest.next().await {
                let page = page?.0;
                let short = page.len() < PAGE_SIZE;
                items.extend(page);
                // A short page is the last one whatever the total said: a corrupted or absurd TotalCount must
                // not cost a call per promised page.
                if short {
                    break;
                }
            }
        }
        // No total: read on until a short page.
        None if first_len == PAGE_SIZE => {
            let mut number = 2;
            loop {
                let (page, _) = fetch(number).await?;
                let short = page.len() < PAGE_SIZE;
                items.extend(page);
                if short {
                    break;
                }
                number += 1;
            }
        }
        _ => {}
    }
    Ok(items)
}

fn paging(scope: &Scope, number: usize) -> Vec<(String, String)> {
    vec![
        ("RegionId".to_owned(), scope.region.clone()),
        ("PageNumber".to_owned(), number.to_string()),
        ("PageSize".to_owned(), PAGE_SIZE.to_string()),
    ]
}

/// Reports the failure of a listing: the scope (when discovered), and every declared resource not yet
/// reported.
fn listing_failure(scope: &Scope, sink: &Sink, error: ReadError) {
    let declared_error = listing_failed(scope, &error);
    for id in &scope.declared {
        sink.observe(scope, id, None, None, Outcome::Failed(declared_error.clone()));
    }
    if scope.discover {
        sink.fail_listing(scope, error);
    }
}

/// Key discovery; `pending` (keys pending deletion) are already reported or left out, and are skipped.
async fn discover_keys<K: Kms>(
    kms: &K,
    scope: &Scope,
    sink: &Sink,
    concurrency: usize,
    learned: &Learned,
    pending: &BTreeSet<String>,
) {
    let keys = all_pages(
        |n| async move {
            let body = kms.call(rpc("ListKeys", scope, paging(scope, n))).await?;
            let page: wire::KeyPage = decode("ListKeys", &body).map_err(ApiError::from)?;
            let total = page.total_count;
            Ok((page.ids(), total))
        },
        concurrency,
    );
    if learned.region_wide_refused() {
        return match keys.await {
            Ok(keys) => listed_by_batch(kms, scope, sink, concurrency, keys, pending).await,
            Err(e) => listing_failure(scope, sink, e.error),
        };
    }
    let (keys, tags) = futures_util::join!(keys, tag_rows(kms, scope, &[]));
    let keys = match keys {
        Ok(k) => k,
        Err(e) => return listing_failure(scope, sink, e.error),
    };
    let mut tags = match tags {
        Ok(t) => t,
        Err(e) if refuses_region_wide(&e) => {
            learned.refuse_region_wide(scope, &e);
            return listed_by_batch(kms, scope, sink, concurrency, keys, pending).await;
        }
        // A policy refusing the region-wide form (RAM may evaluate it against every key of the region, and one
        // denied key then refuses it all): the key list is known, so the batches isolate the denied keys and
        // read the rest. Not learned: it is this account's policy of today, not the service's rule.
        Err(e) if e.code() == ErrorCode::PermissionDenied => {
            return listed_by_batch(kms, scope, sink, concurrency, keys, pending).await;
        }
        Err(e) => return listing_failure(scope, sink, e.error),
    };
    let listed: BTreeSet<String> = keys.into_iter().filter(|k| !pending.contains(k)).collect();
    for id in &listed {
        let t = tags.remove(id).unwrap_or_default();
        sink.observe(scope, id, None, None, Outcome::Found(t));
    }
    // Rows of a key created between the two listings: it exists, so report it (a pending one keeps its rows).
    for (id, t) in tags.into_iter().filter(|(k, _)| !pending.contains(k)) {
        sink.observe(scope, &id, None, None, Outcome::Found(t));
    }
    for id in &scope.declared {
        sink.observe(scope, id, None, None, Outcome::NotFound);
    }
    sink.listed(scope);
}

/// Discovery without a listing that carries tags: the tags of the resources the listing returned (`ListKeys`,
/// or `ListSecrets` without `FetchTags`), read in id batches as for declared ones, except those in `skip` (keys
/// pending deletion, already reported or left out). A listed resource without a tag row exists (the listing
/// said so) and has no tags, so it costs no `DescribeKey`; one deleted since the listing is split out as
/// `NotFound`; a batch that fails leaves its resources `Failed`, never untagged.
async fn listed_by_batch<K: Kms>(
    kms: &K,
    scope: &Scope,
    sink: &Sink,
    concurrency: usize,
    listed: Vec<String>,
    skip: &BTreeSet<String>,
) {
    let listed: Vec<String> = listed
        .into_iter()
        .filter(|k| !skip.contains(k))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let untagged: Vec<Vec<String>> = stream::iter(batches(scope, &listed))
        .map(|batch| read_batch(kms, scope, sink, batch))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for id in untagged.into_iter().flatten() {
        sink.observe(scope, &id, None, None, Outcome::Found(Tags::new()));
    }
    // The listing is complete, so a declared key it did not return does not exist (the first report wins,
    // so this leaves the listed ones alone).
    for id in &scope.declared {
        sink.observe(scope, id, None, None, Outcome::NotFound);
    }
    sink.listed(scope);
}

/// One `ListSecrets` page with tags: the secrets and the total count.
async fn secret_page<K: Kms>(kms: &K, scope: &Scope, number: usize) -> Page<wire::SecretEntry> {
    let mut params = paging(scope, number);
    params.push(("FetchTags".to_owned(), "true".to_owned()));
    let body = kms.call(rpc("ListSecrets", scope, params)).await?;
    let page: wire::SecretPage = decode("ListSecrets", &body).map_err(ApiError::from)?;
    let total = page.total_count;
    Ok((page.secrets(), total))
}

/// Reports listed secrets (only the declared ones unless the scope is discovered); returns how many tag rows
/// they had.
fn report_secrets(scope: &Scope, sink: &Sink, secrets: Vec<wire::SecretEntry>) -> usize {
    let mut rows = 0;
    for s in secrets {
        let tags = s.tags.map(wire::TagList::into_tags).unwrap_or_default();
        rows += tags.len();
        if scope.discover || scope.declared.binary_search(&s.secret_name).is_ok() {
            sink.observe(scope, &s.secret_name, None, None, Outcome::Found(tags));
        }
    }
    rows
}

/// Every secret name of the region, from `ListSecrets` without tags.
async fn secret_names<K: Kms>(kms: &K, scope: &Scope, concurrency: usize) -> Result<Vec<String>, ApiError> {
    let secrets = all_pages(
        |n| async move {
            let body = kms.call(rpc("ListSecrets", scope, paging(scope, n))).await?;
            let page: wire::SecretPage = decode("ListSecrets", &body).map_err(ApiError::from)?;
            let total = page.total_count;
            Ok((page.secrets(), total))
        },
        concurrency,
    )
    .await?;
    Ok(secrets.into_iter().map(|s| s.secret_name).collect())
}

async fn discover_secrets<K: Kms>(kms: &K, scope: &Scope, sink: &Sink, concurrency: usize) {
    let secrets = all_pages(|n| secret_page(kms, scope, n), concurrency).await;
    let secrets = match secrets {
        Ok(s) => s,
        // A policy refusing the listing *with tags* (one secret of the region may be denied, and the answer
        // would carry its tags): list the names alone and read the tags by id batches, which isolate the
        // denied secrets. If the names are refused too, the scope fails with that refusal.
        Err(e) if e.code() == ErrorCode::PermissionDenied => {
            return match secret_names(kms, scope, concurrency).await {
                Ok(names) => listed_by_batch(kms, scope, sink, concurrency, names, &BTreeSet::new()).await,
                Err(e) => listing_failure(scope, sink, e.error),
            };
        }
        Err(e) => return listing_failure(scope, sink, e.error),
    };
    report_secrets(scope, sink, secrets);
    for id in &scope.declared {
        sink.observe(scope, id, None, None, Outcome::NotFound);
    }
    sink.listed(scope);
}

/// Declared secrets without discovery: `ListSecrets` carries 100 secrets with their tags per call, twice what
/// a 200-row `ListTagResources` page holds at four tags each, so when the file declares most of a region's
/// secrets, listing is cheaper. Page 1 tells the region's total (and reads up to 100 secrets); the rest is
/// listed when the remaining pages cost no more than batching the declared secrets not yet seen, else
/// those are batched. At worst one call more than batching alone; for a fully declared region half the calls.
async fn declared_secrets<K: Kms>(kms: &K, scope: &Scope, sink: &Sink, concurrency: usize) {
    let (first, total) = match secret_page(kms, scope, 1).await {
        Ok(page) => page,
        // The batched read may still work (or fail with its own reason per resource).
        Err(_) => return declared(kms, scope, sink, concurrency, &scope.declared).await,
    };
    let listed = first.len();
    let rows = report_secrets(scope, sink, first);
    let rest: Vec<String> = scope
        .declared
        .iter()
        .filter(|id| !sink.has(scope, id))
        .cloned()
        .collect();
    if rest.is_empty() {
        return;
    }
    let total = match total {
        Some(t) => usize::try_from(t).unwrap_or(usize::MAX),
        None if listed < PAGE_SIZE => listed,
        // No total and a full page: the size of the region is unknown, so batch the rest.
        None => return declared(kms, scope, sink, concurrency, &rest).await,
    };
    if total <= listed {
        // Page 1 was the whole listing.
        for id in &rest {
            sink.observe(scope, id, None, None, Outcome::NotFound);
        }
        return;
    }
    let pages_left = total.div_ceil(PAGE_SIZE) - 1;
    let tags_per_secret = rows.div_ceil(listed.max(1)).max(1);
    let pages_per_batch = (BATCH * tags_per_secret).div_ceil(TAG_PAGE_ROWS);
    let batch_cost = rest.len().div_ceil(BATCH) * pages_per_batch;
    if pages_left > batch_cost {
        return declared(kms, scope, sink, concurrency, &rest).await;
    }
    let pages: Vec<Page<wire::SecretEntry>> = stream::iter(2..=pages_left + 1)
        .map(|n| secret_page(kms, scope, n))
        .buffered(concurrency)
        .collect()
        .await;
    let mut failed = None;
    for page in pages {
        match page {
            Ok((secrets, _)) => {
                report_secrets(scope, sink, secrets);
            }
            Err(e) => failed = Some(e),
        }
    }
    let unseen: Vec<String> = rest.into_iter().filter(|id| !sink.has(scope, id)).collect();
    match failed {
        // A page failed, so an unseen secret may be on it: read those by batch instead.
        Some(_) => declared(kms, scope, sink, concurrency, &unseen).await,
        None => {
            for id in &unseen {
                sink.observe(scope, id, None, None, Outcome::NotFound);
            }
        }
    }
}

#[cfg(test)]
mod tests;
