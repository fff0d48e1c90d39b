//! Reading one Huawei scope (account, region/project, KMS keys or CSMS secrets) and reporting every resource
//! into the check's [`Sink`]. The plans and their call counts (documented in docs/reading.md):
//!
//! * **secrets**: the tag API wants the secret's UUID, not its name, so the secrets listing
//!   (`GET /v1/{project_id}/secrets`, pages of [`SECRET_PAGE`] by name marker) resolves names first; then one
//!   `GET /v1/{project_id}/csms/{secret_id}/tags` per secret to check (declared ones, or all with discovery).
//! * **keys**: one `GET /v1.0/{project_id}/kms/{key_id}/tags` per key; with discovery the keys come from
//!   `POST /v1.0/{project_id}/kms/list-keys` with `key_spec: ALL` (the default lists only `AES_256` keys).
//! * **batch tag read** (`batch_tag_read: true` on the account): `POST .../resource_instances/action` with
//!   `action: filter` pages through up to [`INSTANCE_PAGE`] resources *with their tags* per call. Whether it
//!   returns resources without tags is not documented, so a resource it does not return is confirmed with the
//!   per-resource tag call (that call also tells not-found); secrets are listed only when discovery asks or a
//!   declared name is not in the batch answer. Off by default because this answer shape was never checked
//!   against the live service (see the reference §5), whereas the per-resource calls are the SDK's own.
//!
//! A permission refused for one resource's tags (`KMS.0306`, or a 403 with a `KMS.`/`CSMS.` code) leaves that
//! resource `unknown` with `permission_denied` and the others are read; a refused listing fails the scope.
//!
//! **Resources that cannot carry tags** (issue 12): keys and secrets pending deletion, and default master
//! keys (created by cloud services, alias ending `/default`). The listings say which: `key_state` "4" and
//! `default_key_flag` "1" in `list-keys`, `state` `PENDING_DELETE` in the secrets listing (and the same fields in
//! the batch answer's `resource_detail`). Discovery leaves those out without a tag call and counts them
//! ([`Sink::leave_out`]); a declared one is [`Outcome::Untaggable`]. A tag call that answers `KMS.0210` (key
//! pending deletion), `KMS.0211` (default master key), `CSMS.0103` or `CSMS.0107` (secret pending deletion)
//! means the same, so declared keys read without a listing still get the right reason.
//!
//! Not found is `CSMS.0005` / `KMS.0205` / `KMS.0207` (`400` in the error tables), or a `404` carrying a
//! `KMS.`/`CSMS.` code (the reference documents both statuses). Any other 404 (the gateway's `APIGW.0101`
//! "the API does not exist", or a 404 with no DEW code at all) means the endpoint, region or path is wrong:
//! the resource is `unknown` with a reason that says so, never `missing`.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::stream::{self, StreamExt};
use serde_json::json;

use super::wire;
use crate::scope::{ApiError, Scope, Sink, listing_failed, resource_failed};
use crate::signing::percent_encode;
use crate::wire::decode;
use crate::{ErrorCode, Outcome, PlanReason, ReadError, ResourceType, Tags, Untaggable};
use tagdrift_core::config::BatchTagRead;

mod auto;

pub use auto::{Learned, REVERIFY_AFTER, SAMPLE_TAGGED, SAMPLE_UNTAGGED};

/// `limit` of the secrets listing (the documented default; no maximum is documented).
pub const SECRET_PAGE: usize = 50;
/// `limit` of `list-keys` (the documented example's value).
pub const KEY_PAGE: usize = 100;
/// `limit` of `resource_instances/action` (the documented maximum).
pub const INSTANCE_PAGE: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One DEW REST call as the reader asks for it. The transport adds the host, `X-Project-Id` and signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestCall {
    /// The metric `operation`: `ListSecrets`, `ListSecretTags`, `ListKeys`, `ShowKmsTags`,
    /// `ListSecretResourceInstances`, `ListKmsResourceInstances`.
    pub operation: &'static str,
    /// The rate-limit group (`config::API_GROUPS`).
    pub group: &'static str,
    pub region: String,
    pub project_id: String,
    pub method: Method,
    /// Absolute path with every segment already percent-encoded.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// A JSON body (POST only).
    pub body: Option<serde_json::Value>,
}

/// What the reader needs from the transport: send one call and return the successful answer's body.
pub trait Dew: Sync {
    fn call(&self, call: RestCall) -> impl Future<Output = Result<Vec<u8>, ApiError>> + Send;
}

/// The not-found codes of the DEW services: `KMS.0207` "the key does not exist" is in older error tables,
/// `KMS.0205` "Invalid key ID" in the current ones; a live service may answer either.
pub const NOT_FOUND_CODES: &[&str] = &["CSMS.0005", "KMS.0205", "KMS.0207"];

/// The answers of a tag call on a resource that cannot carry tags, from the KMS and CSMS error tables:
/// `KMS.0210` "the key is in Scheduled deletion state", `KMS.0211` "cannot perform this operation on Default
/// Master Keys", `CSMS.0103` / `CSMS.0107` "the secret is in Pending deletion state".
fn untaggable_answer(e: &ApiError) -> Option<Untaggable> {
    match e.cloud_code.as_deref()? {
        "KMS.0210" | "CSMS.0103" | "CSMS.0107" => Some(Untaggable::PendingDeletion),
        "KMS.0211" => Some(Untaggable::DefaultKey),
        _ => None,
    }
}

/// A code written by the DEW services themselves rather than the gateway or IAM in front of them.
fn is_dew_code(code: &str) -> bool {
    code.starts_with("KMS.") || code.starts_with("CSMS.")
}

/// Only the services' own answers say a resource is missing: a not-found code, or a 404 with a DEW code.
fn is_not_found(e: &ApiError) -> bool {
    let code = e.cloud_code.as_deref();
    code.is_some_and(|c| NOT_FOUND_CODES.contains(&c))
        || (e.status == Some(404) && code.is_some_and(is_dew_code))
}

/// A 404 the DEW services did not write: the gateway's `APIGW.0101` (no such API: the host is not DEW, or the
/// region or path is wrong) or a bare 404 from whatever else answers there. It says nothing about the
/// resource, only about where the request went.
fn is_endpoint_error(e: &ApiError) -> bool {
    let code = e.cloud_code.as_deref();
    code.and_then(crate::huawei::gateway_code) == Some("0101")
        || (e.status == Some(404) && !code.is_some_and(is_dew_code))
}

/// The error a resource gets for a failed call; an endpoint error says where to look, since the cloud's own
/// message ("the API does not exist") does not.
fn read_error(e: ApiError) -> ReadError {
    if !is_endpoint_error(&e) {
        return e.error;
    }
    ReadError::new(
        e.error.code,
        format!(
            "{}: no DEW API answers at this address; check the account's endpoint and the region",
            e.error.message
        ),
    )
}

/// Reads `scope` and reports into `sink`. `mode` is the account's `batch_tag_read`; `learned` keeps the `auto`
/// verdicts of the account across checks. `concurrency` bounds the calls this scope has in flight.
pub async fn scan<D: Dew>(
    dew: &D,
    scope: &Scope,
    mode: BatchTagRead,
    learned: &Learned,
    sink: &Sink,
    concurrency: usize,
) {
    let concurrency = concurrency.max(1);
    let Some(project) = scope.project_id.clone() else {
        let e = ReadError::new(
            ErrorCode::Other,
            format!("region {} has no project_id", scope.region),
        );
        if scope.discover {
            sink.fail_listing(scope, e.clone());
        }
        for id in &scope.declared {
            sink.observe(scope, id, None, None, Outcome::Failed(e.clone()));
        }
        return;
    };
    let ctx = Ctx {
        dew,
        scope,
        sink,
        project,
        concurrency,
    };
    match mode {
        BatchTagRead::Never => {
            sink.read_plan(scope, false, PlanReason::Configured);
            ctx.per_resource(BTreeMap::new(), None).await;
        }
        BatchTagRead::Always => match ctx.instances(scope.resource_type).await {
            Ok(found) => {
                sink.read_plan(scope, true, PlanReason::Configured);
                ctx.per_resource(found, None).await;
            }
            // A policy refusing the project-wide read (it would carry a denied resource's tags): the
            // per-resource reads leave only the denied resources unknown.
            Err(e) if e.code() == ErrorCode::PermissionDenied => {
                sink.read_plan(scope, false, PlanReason::Refused);
                ctx.per_resource(BTreeMap::new(), None).await;
            }
            Err(e) => ctx.listing_failure(read_error(e)),
        },
        BatchTagRead::Auto => ctx.auto(learned).await,
    }
}

/// A resource the batch read returned: its native id, alias and tags, or why it cannot carry tags.
struct Batched {
    id: String,
    alias: Option<String>,
    tags: Tags,
    untaggable: Option<(Untaggable, String)>,
}

/// A listed secret: its UUID, and why it cannot carry tags when its state says so.
type ListedSecret = (String, Option<(Untaggable, String)>);

/// Every secret of a project by name.
type SecretListing = BTreeMap<String, ListedSecret>;

/// A scope's listing, read once and handed on.
enum Listing {
    Secrets(SecretListing),
    Keys(Vec<wire::ListedKey>),
}

/// A resource to read: its id in the desired state, native id, alias, and why it cannot carry tags when its
/// listing said so.
struct Target {
    id: String,
    native: String,
    alias: Option<String>,
    untaggable: Option<(Untaggable, String)>,
}

impl Target {
    fn new(id: &str, native: &str) -> Self {
        Target {
            id: id.to_owned(),
            native: native.to_owned(),
            alias: None,
            untaggable: None,
        }
    }
}

struct Ctx<'a, D> {
    dew: &'a D,
    scope: &'a Scope,
    sink: &'a Sink,
    project: String,
    concurrency: usize,
}

impl<D: Dew> Ctx<'_, D> {
    fn call(&self, operation: &'static str, group: &'static str, method: Method, path: String) -> RestCall {
        RestCall {
            operation,
            group,
            region: self.scope.region.clone(),
            project_id: self.project.clone(),
            method,
            path,
            query: Vec::new(),
            body: None,
        }
    }

    fn listing_failure(&self, error: ReadError) {
        let declared_error = listing_failed(self.scope, &error);
        for id in &self.scope.declared {
            self.sink.observe(
                self.scope,
                id,
                None,
                None,
                Outcome::Failed(declared_error.clone()),
            );
        }
        if self.scope.discover {
            self.sink.fail_listing(self.scope, error);
        }
    }

    /// Every secret of the project as name → (UUID, why it cannot carry tags), following the name marker.
    async fn list_secrets(&self) -> Result<SecretListing, ApiError> {
        let path = format!("/v1/{}/secrets", percent_encode(&self.project));
        let mut out = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let mut call = self.call("ListSecrets", "list_secrets", Method::Get, path.clone());
            call.query.push(("limit".to_owned(), SECRET_PAGE.to_string()));
            if let Some(m) = &marker {
                call.query.push(("marker".to_owned(), m.clone()));
            }
            let body = self.dew.call(call).await?;
            let page: wire::SecretPage = decode("ListSecrets", &body).map_err(ApiError::from)?;
            let next = page.next_marker().map(str::to_owned);
            let short = page.secrets.len() < SECRET_PAGE;
            for s in page.secrets {
                let untaggable = wire::secret_untaggable(s.state.as_deref());
                out.insert(s.name, (s.id, untaggable));
            }
            match next {
                _ if short => return Ok(out),
                None => return Ok(out),
                Some(n) if marker.as_deref() == Some(n.as_str()) => {
                    return Err(ApiError::from(ReadError::new(
                        ErrorCode::InvalidResponse,
                        format!("invalid ListSecrets response: next_marker {n:?} repeats"),
                    )));
                }
                Some(n) => marker = Some(n),
            }
        }
    }

    /// Every key of the project (all specs) with its alias and state, following the marker while `truncated`.
    async fn list_keys(&self) -> Result<Vec<wire::ListedKey>, ApiError> {
        let path = format!("/v1.0/{}/kms/list-keys", percent_encode(&self.project));
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut call = self.call("ListKeys", "list_keys", Method::Post, path.clone());
            let mut body = json!({"limit": KEY_PAGE.to_string(), "key_spec": "ALL"});
            // The first page has no marker at all, as the SDK (which drops unset fields) and Terraform send it;
            // an empty string is a value the service need not accept.
            if let Some(m) = &marker {
                body["marker"] = json!(m);
            }
            call.body = Some(body);
            let body = self.dew.call(call).await?;
            let page: wire::KeyPage = decode("ListKeys", &body).map_err(ApiError::from)?;
            out.extend(page.keys());
            match page.next().map_err(ApiError::from)? {
                None => return Ok(out),
                Some(n) if marker.as_deref() == Some(n) => {
                    return Err(ApiError::from(ReadError::new(
                        ErrorCode::InvalidResponse,
                        format!("invalid ListKeys response: next_marker {n:?} repeats"),
                    )));
                }
                Some(n) => marker = Some(n.to_owned()),
            }
        }
    }

    /// The batch read: every resource the `resource_instances` filter returns, by secret name or key id.
    async fn instances(&self, rt: ResourceType) -> Result<BTreeMap<String, Batched>, ApiError> {
        let (operation, path) = match rt {
            ResourceType::Secret => (
                "ListSecretResourceInstances",
                format!(
                    "/v1/{}/csms/resource_instances/action",
                    percent_encode(&self.project)
                ),
            ),
            ResourceType::Key => (
                "ListKmsResourceInstances",
                format!(
                    "/v1.0/{}/kms/resource_instances/action",
                    percent_encode(&self.project)
                ),
            ),
        };
        let mut out = BTreeMap::new();
        let mut offset = 0usize;
        loop {
            let mut call = self.call(operation, "resource_instances", Method::Post, path.clone());
            call.body = Some(json!({
                "action": "filter",
                "limit": INSTANCE_PAGE.to_string(),
                "offset": offset.to_string(),
            }));
            let body = self.dew.call(call).await?;
            let page: wire::InstancePage = decode(operation, &body).map_err(ApiError::from)?;
            let n = page.resources.len();
            for r in page.resources {
                let (name, alias) = match rt {
                    ResourceType::Secret => match r.secret_name() {
                        Some(name) => (name, None),
                        None => {
                            return Err(ApiError::from(ReadError::new(
                                ErrorCode::InvalidResponse,
                                format!(
                                    "invalid {operation} response: secret {} has no resource_name",
                                    r.resource_id
                                ),
                            )));
                        }
                    },
                    ResourceType::Key => (r.resource_id.clone(), r.key_alias()),
                };
                let untaggable = r.untaggable();
                out.insert(
                    name,
                    Batched {
                        id: r.resource_id,
                        alias,
                        tags: wire::merge(r.tags, r.sys_tags),
                        untaggable,
                    },
                );
            }
            offset += n;
            // `total_count` ends the walk only when the rows read reach it exactly: a total below the rows
            // already read is wrong (corrupted, or resources deleted meanwhile), and trusting it would stop
            // after a full page.
            let done = n == 0 || page.total_count.is_some_and(|t| offset as u64 == t) || n < INSTANCE_PAGE;
            if done {
                return Ok(out);
            }
        }
    }

    /// The tags of one resource by its native id.
    async fn tags(&self, native_id: &str) -> Outcome {
        let call = match self.scope.resource_type {
            ResourceType::Secret => self.call(
                "ListSecretTags",
                "secret_tags",
                Method::Get,
                format!(
                    "/v1/{}/csms/{}/tags",
                    percent_encode(&self.project),
                    percent_encode(native_id)
                ),
            ),
            ResourceType::Key => self.call(
                "ShowKmsTags",
                "key_tags",
                Method::Get,
                format!(
                    "/v1.0/{}/kms/{}/tags",
                    percent_encode(&self.project),
                    percent_encode(native_id)
                ),
            ),
        };
        let operation = call.operation;
        match self.dew.call(call).await {
            Ok(body) => match decode::<wire::TagsAnswer>(operation, &body) {
                Ok(t) => Outcome::Found(t.into_tags()),
                Err(e) => Outcome::Failed(e),
            },
            Err(e) if is_not_found(&e) => Outcome::NotFound,
            Err(e) => match untaggable_answer(&e) {
                Some(reason) => Outcome::Untaggable {
                    reason,
                    detail: e.error.message,
                },
                // A policy refusing this one resource (`KMS.0306`, a 403 with a DEW code) leaves only it unknown.
                None => Outcome::Failed(resource_failed(self.scope, read_error(e))),
            },
        }
    }

    /// Reports one resource: one that cannot carry tags is left out of discovery (counted) unless declared.
    fn report(&self, id: &str, native: Option<String>, alias: Option<String>, outcome: Outcome) {
        let declared = self
            .scope
            .declared
            .binary_search_by(|d| d.as_str().cmp(id))
            .is_ok();
        match outcome {
            Outcome::Untaggable { reason, .. } if !declared => self.sink.leave_out(self.scope, reason),
            outcome => self.sink.observe(self.scope, id, native, alias, outcome),
        }
    }

    /// Reads the tags of `targets`: none for those a listing says cannot carry tags, from the batch answer
    /// when it has them, else one call each.
    async fn read_targets(&self, targets: Vec<Target>, batched: &mut BTreeMap<String, Batched>) {
        let mut to_call = Vec::new();
        for t in targets {
            let b = batched.remove(&t.id);
            let untaggable = t
                .untaggable
                .clone()
                .or_else(|| b.as_ref().and_then(|b| b.untaggable.clone()));
            if let Some((reason, detail)) = untaggable {
                let native = (t.native != t.id).then_some(t.native);
                let alias = t.alias.or(b.and_then(|b| b.alias));
                self.report(&t.id, native, alias, Outcome::Untaggable { reason, detail });
                continue;
            }
            match b {
                Some(b) => {
                    let alias = t.alias.or(b.alias);
                    let native = (b.id != t.id).then_some(b.id);
                    self.report(&t.id, native, alias, Outcome::Found(b.tags));
                }
                None => to_call.push(t),
            }
        }
        stream::iter(to_call)
            .map(|t| async move {
                let outcome = self.tags(&t.native).await;
                let native = (t.native != t.id).then_some(t.native);
                self.report(&t.id, native, t.alias, outcome);
            })
            .buffer_unordered(self.concurrency)
            .collect::<()>()
            .await;
    }

    /// Reads the scope's resources: those in `batched` from it, the others with one tag call each.
    /// `listing` is the scope's listing when it was already read (by the `auto` comparison).
    async fn per_resource(&self, batched: BTreeMap<String, Batched>, listing: Option<Listing>) {
        match (self.scope.resource_type, listing) {
            (ResourceType::Secret, Some(Listing::Secrets(l))) => self.secrets(batched, Some(l)).await,
            (ResourceType::Key, Some(Listing::Keys(l))) => self.keys(batched, Some(l)).await,
            (ResourceType::Secret, _) => self.secrets(batched, None).await,
            (ResourceType::Key, _) => self.keys(batched, None).await,
        }
    }

    async fn secrets(&self, mut batched: BTreeMap<String, Batched>, listed: Option<SecretListing>) {
        let scope = self.scope;
        let declared: BTreeSet<&String> = scope.declared.iter().collect();
        let all_batched = declared.iter().all(|d| batched.contains_key(*d));
        let listing = if let Some(listed) = listed {
            Some(listed)
        } else if scope.discover || !all_batched {
            match self.list_secrets().await {
                Ok(l) => Some(l),
                Err(e) => {
                    // Declared secrets the batch answer had are still known.
                    let known: Vec<_> = scope
                        .declared
                        .iter()
                        .filter_map(|d| batched.get(d).map(|b| Target::new(d, &b.id)))
                        .collect();
                    self.read_targets(known, &mut batched).await;
                    return self.listing_failure(read_error(e));
                }
            }
        } else {
            None
        };
        let listed_target = |name: &String, (id, untaggable): &ListedSecret| Target {
            untaggable: untaggable.clone(),
            ..Target::new(name, id)
        };
        let targets: Vec<Target> = match &listing {
            Some(listed) if scope.discover => listed.iter().map(|(n, l)| listed_target(n, l)).collect(),
            Some(listed) => scope
                .declared
                .iter()
                .filter_map(|d| listed.get(d).map(|l| listed_target(d, l)))
                .collect(),
            None => scope
                .declared
                .iter()
                .filter_map(|d| batched.get(d).map(|b| Target::new(d, &b.id)))
                .collect(),
        };
        self.read_targets(targets, &mut batched).await;
        for id in &scope.declared {
            self.sink.observe(scope, id, None, None, Outcome::NotFound);
        }
        if scope.discover {
            self.sink.listed(scope);
        }
    }

    async fn keys(&self, batched: BTreeMap<String, Batched>, listed: Option<Vec<wire::ListedKey>>) {
        let scope = self.scope;
        // `list-keys` carries every key's alias: read when discovering, and when aliases are needed (a key
        // declared by alias, or a name glob that may match keys), unless the `auto` comparison read it already.
        let listed = match listed {
            Some(keys) => Some(keys),
            None if scope.discover || scope.wants_aliases() => match self.list_keys().await {
                Ok(keys) => Some(keys),
                Err(e) => return self.listing_failure(read_error(e)),
            },
            None => None,
        };
        match &listed {
            Some(keys) if scope.wants_aliases() => {
                let listing = keys
                    .iter()
                    .filter_map(|k| k.alias.clone().map(|a| (a, k.id.clone())))
                    .collect();
                let (resolved, unresolved) = scope.resolve(listing);
                for alias in unresolved {
                    self.sink
                        .observe(scope, &alias, None, Some(alias.clone()), Outcome::NotFound);
                }
                let ctx = Ctx {
                    dew: self.dew,
                    scope: &resolved,
                    sink: self.sink,
                    project: self.project.clone(),
                    concurrency: self.concurrency,
                };
                ctx.read_keys(listed, batched).await;
            }
            _ => self.read_keys(listed, batched).await,
        }
    }

    /// Reads the keys of the scope: every listed one when discovering, else the declared ones (with what the
    /// listing says of them, when there is one).
    async fn read_keys(&self, listed: Option<Vec<wire::ListedKey>>, mut batched: BTreeMap<String, Batched>) {
        let scope = self.scope;
        let to_target = |k: wire::ListedKey| Target {
            native: k.id.clone(),
            id: k.id,
            alias: k.alias,
            untaggable: k.untaggable,
        };
        let targets: Vec<Target> = match listed {
            Some(keys) if scope.discover => keys.into_iter().map(to_target).collect(),
            Some(keys) => {
                let mut by_id: BTreeMap<String, wire::ListedKey> =
                    keys.into_iter().map(|k| (k.id.clone(), k)).collect();
                scope
                    .declared
                    .iter()
                    .map(|id| by_id.remove(id).map_or_else(|| Target::new(id, id), to_target))
                    .collect()
            }
            None => scope.declared.iter().map(|id| Target::new(id, id)).collect(),
        };
        self.read_targets(targets, &mut batched).await;
        // Declared keys a complete listing did not return.
        for id in &scope.declared {
            self.sink.observe(scope, id, None, None, Outcome::NotFound);
        }
        if scope.discover {
            self.sink.listed(scope);
        }
    }
}

#[cfg(test)]
mod tests;
