//! The unit of reading: one (cloud, account, region, resource type) with the ids the desired state declares
//! there and whether discovery lists it, plus the [`Sink`] a provider reports into. Planning is pure; the sink
//! is shared by every scope of a check so that a deadline keeps whatever was read before it.
//!
//! This is the contract between [`read`](crate::read) and the per-cloud scanners (`alibaba::scan`,
//! `huawei::scan`): what a scanner reads ([`Scope`]), where it reports ([`Sink`]), how a failed call reaches
//! it ([`ApiError`]) and what a failed listing means for the declared resources ([`listing_failed`]). It sits
//! below both, so the scanners never import the orchestrator that drives them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use crate::{
    Cloud, ErrorCode, LeftOut, Observations, Observed, Outcome, PlanReason, ReadError, ReadPlan, ResourceRef,
    ResourceType, ScopeFailure, Untaggable,
};
use tagdrift_core::config::{DesiredState, Selector};

/// One account, region and resource type to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub cloud: Cloud,
    pub account: String,
    pub region: String,
    /// Huawei: the IAM project of the region (`None` only if the config lacks it, which validation refuses).
    pub project_id: Option<String>,
    pub resource_type: ResourceType,
    /// Ids the desired state declares here (KeyId, or secret name), sorted and without duplicates.
    pub declared: Vec<String>,
    /// A discovery entry covers this scope, so every resource in it is listed and reported.
    pub discover: bool,
    /// How many tags each declared resource should carry (its own plus matching defaults), to size tag-read
    /// batches so their rows fit one page. Absent ids are unknown.
    pub expected_tags: BTreeMap<String, usize>,
    /// The entries of `declared` that are key aliases (`alias:` in the desired state), not KeyIds.
    pub aliases: BTreeSet<String>,
    /// A selector's `name` glob may apply to this key scope, so the keys' aliases must be read to match it.
    pub needs_aliases: bool,
    /// Set by the scanner once aliases are resolved: KeyId → the alias the desired state names that key by.
    /// The key is reported under the alias, with the KeyId as its native id (which writes use).
    pub by_alias: BTreeMap<String, String>,
    /// Set by the scanner from the alias listing: KeyId → its alias (the first in order when it has several).
    pub alias_of: BTreeMap<String, String>,
}

impl Scope {
    /// Whether the key scope must read its keys' aliases: some key is declared by alias or a name glob needs them.
    pub fn wants_aliases(&self) -> bool {
        self.resource_type == ResourceType::Key && (self.needs_aliases || !self.aliases.is_empty())
    }

    /// This scope with the aliases resolved from `listing` (alias, KeyId): the declared aliases replaced in
    /// `declared` by the KeyIds they name, and the aliases no key has returned, to be reported missing.
    pub fn resolve(&self, listing: Vec<(String, String)>) -> (Scope, Vec<String>) {
        let mut resolved = self.clone();
        let mut key_of: BTreeMap<String, String> = BTreeMap::new();
        let mut listing = listing;
        listing.sort();
        for (alias, key) in listing {
            resolved
                .alias_of
                .entry(key.clone())
                .or_insert_with(|| alias.clone());
            key_of.insert(alias, key);
        }
        let mut unresolved = Vec::new();
        for alias in &self.aliases {
            match key_of.get(alias) {
                Some(key) => {
                    resolved.by_alias.insert(key.clone(), alias.clone());
                }
                None => unresolved.push(alias.clone()),
            }
        }
        let mut declared: Vec<String> = self
            .declared
            .iter()
            .filter(|id| !self.aliases.contains(*id))
            .cloned()
            .chain(resolved.by_alias.keys().cloned())
            .collect();
        declared.sort();
        declared.dedup();
        resolved.declared = declared;
        (resolved, unresolved)
    }

    pub fn resource(&self, id: &str) -> ResourceRef {
        ResourceRef {
            cloud: self.cloud,
            account: self.account.clone(),
            region: self.region.clone(),
            resource_type: self.resource_type,
            id: id.to_owned(),
        }
    }

    /// `alibaba/ali-prod/cn-hangzhou/key`, for messages.
    pub fn label(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.cloud, self.account, self.region, self.resource_type
        )
    }
}

/// A failed cloud call as the provider readers see it: the classified error, plus what the cloud answered
/// (so a reader can tell "not found" from other 4xx answers, which only the API knows how to read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status, when the cloud answered.
    pub status: Option<u16>,
    /// The cloud's error code (`InvalidResourceId.NotFound`, `CSMS.0005`), when the body had one.
    pub cloud_code: Option<String>,
    pub error: ReadError,
}

impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> Self {
        ApiError {
            status: None,
            cloud_code: None,
            error,
        }
    }
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        self.error.code
    }
}

/// Whether a discovery selector covers a whole scope. `name` only filters what the listing returns (the
/// engine applies it per resource), so it does not decide whether to list.
fn covers(selector: &Selector, cloud: Cloud, account: &str, region: &str, rt: ResourceType) -> bool {
    selector.cloud.is_none_or(|c| c == cloud)
        && selector.resource_type.is_none_or(|t| t == rt)
        && selector.account.as_ref().is_none_or(|g| g.is_match(account))
        && selector.region.as_ref().is_none_or(|g| g.is_match(region))
}

/// Every selector with a `name` glob: defaults, rules, discovery, ignores and the daemon's reconcile `match`.
fn name_globs(state: &DesiredState) -> impl Iterator<Item = &Selector> {
    let defaults = state.defaults.iter().map(|d| &d.selector);
    let rules = state.rules.iter().map(|r| &r.selector);
    let discovery = state.discovery.iter().map(|d| &d.selector);
    let ignores = state.ignores.entries.iter().map(|i| &i.selector);
    defaults
        .chain(rules)
        .chain(discovery)
        .chain(ignores)
        .chain(state.reconcile.selectors.iter())
        .filter(|s| s.name.is_some())
}

/// Every scope the desired state asks to read, in (account, region, type) file order. A scope with nothing
/// declared and no discovery is not read at all.
pub fn plan(state: &DesiredState) -> Vec<Scope> {
    let mut declared: BTreeMap<(&str, &str, ResourceType), BTreeSet<&str>> = BTreeMap::new();
    let mut aliases: BTreeMap<(&str, &str), BTreeSet<String>> = BTreeMap::new();
    let mut expected: BTreeMap<(&str, &str, ResourceType), BTreeMap<String, usize>> = BTreeMap::new();
    for r in &state.resources {
        let key = (r.account.as_str(), r.region.as_str(), r.resource_type);
        declared.entry(key).or_default().insert(r.id.as_str());
        if r.by_alias {
            aliases
                .entry((r.account.as_str(), r.region.as_str()))
                .or_default()
                .insert(r.id.clone());
        }
        let resource = ResourceRef {
            cloud: r.cloud,
            account: r.account.clone(),
            region: r.region.clone(),
            resource_type: r.resource_type,
            id: r.id.clone(),
        };
        let mut keys: BTreeSet<&str> = r.tags.keys().map(String::as_str).collect();
        for d in state
            .defaults
            .iter()
            .filter(|d| d.selector.matches(&resource, None))
        {
            keys.extend(d.tags.keys().map(String::as_str));
        }
        expected.entry(key).or_default().insert(r.id.clone(), keys.len());
    }
    let mut scopes = Vec::new();
    for account in &state.accounts {
        for region in &account.regions {
            for rt in ResourceType::ALL {
                let ids: Vec<String> = declared
                    .get(&(account.name.as_str(), region.name.as_str(), rt))
                    .map(|s| s.iter().map(|id| (*id).to_owned()).collect())
                    .unwrap_or_default();
                let discover = state
                    .discovery
                    .iter()
                    .any(|d| covers(&d.selector, account.cloud, &account.name, &region.name, rt));
                if ids.is_empty() && !discover {
                    continue;
                }
                scopes.push(Scope {
                    cloud: account.cloud,
                    account: account.name.clone(),
                    region: region.name.clone(),
                    project_id: region.project_id.clone(),
                    resource_type: rt,
                    declared: ids,
                    discover,
                    expected_tags: expected
                        .remove(&(account.name.as_str(), region.name.as_str(), rt))
                        .unwrap_or_default(),
                    aliases: match rt {
                        ResourceType::Key => aliases
                            .remove(&(account.name.as_str(), region.name.as_str()))
                            .unwrap_or_default(),
                        ResourceType::Secret => BTreeSet::new(),
                    },
                    needs_aliases: rt == ResourceType::Key
                        && name_globs(state)
                            .any(|s| covers(s, account.cloud, &account.name, &region.name, rt)),
                    by_alias: BTreeMap::new(),
                    alias_of: BTreeMap::new(),
                });
            }
        }
    }
    scopes
}

/// (cloud, account, region, resource type): one scope, as the collection keys it.
type ScopeKey = (Cloud, String, String, ResourceType);

#[derive(Default)]
struct Collected {
    resources: Vec<Observed>,
    /// Ids reported per scope, so the deadline can tell which declared ones were never read.
    seen: BTreeSet<ResourceRef>,
    scope_failures: Vec<ScopeFailure>,
    /// Resources discovery left out, counted per scope and reason.
    left_out: BTreeMap<(ScopeKey, Untaggable), usize>,
    /// Discovery scopes whose listing finished (successfully or with a recorded failure).
    listed: BTreeSet<ScopeKey>,
    /// How each scope was read, where the reader chose a plan.
    read_plans: BTreeMap<ScopeKey, (bool, PlanReason)>,
}

/// Collects what every scope of one check observed. Cloning shares the collection.
#[derive(Clone, Default)]
pub struct Sink {
    inner: Arc<Mutex<Collected>>,
}

impl Sink {
    fn with<R>(&self, f: impl FnOnce(&mut Collected) -> R) -> R {
        // A panic while holding the lock leaves at worst a partly pushed vector; the data stays usable.
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }

    /// Records one resource of `scope`. The first report of a resource wins.
    pub fn observe(
        &self,
        scope: &Scope,
        id: &str,
        native_id: Option<String>,
        alias: Option<String>,
        outcome: Outcome,
    ) {
        // A key declared by alias is reported under its alias, with the KeyId as the native id.
        let (id, native_id, alias) = match scope.by_alias.get(id) {
            Some(declared) => (declared.as_str(), Some(id.to_owned()), Some(declared.clone())),
            None => (id, native_id, alias.or_else(|| scope.alias_of.get(id).cloned())),
        };
        let resource = scope.resource(id);
        self.with(|c| {
            if c.seen.insert(resource.clone()) {
                c.resources.push(Observed {
                    resource,
                    native_id,
                    alias,
                    outcome,
                });
            }
        });
    }

    /// Records that `scope`'s listing failed. Declared resources are reported separately by the provider.
    pub fn fail_listing(&self, scope: &Scope, error: ReadError) {
        self.with(|c| {
            c.listed.insert(key(scope));
            c.scope_failures.push(ScopeFailure {
                cloud: scope.cloud,
                account: scope.account.clone(),
                region: scope.region.clone(),
                resource_type: scope.resource_type,
                error,
            })
        });
    }

    /// Counts a resource `scope`'s discovery listing returned but leaves out because it cannot carry tags.
    pub fn leave_out(&self, scope: &Scope, reason: Untaggable) {
        self.with(|c| *c.left_out.entry((key(scope), reason)).or_default() += 1);
    }

    /// Records how `scope` was read: the batch or one call per resource, and why. The last record wins.
    pub fn read_plan(&self, scope: &Scope, batch: bool, reason: PlanReason) {
        self.with(|c| {
            c.read_plans.insert(key(scope), (batch, reason));
        });
    }

    /// Records that `scope`'s listing completed.
    pub fn listed(&self, scope: &Scope) {
        self.with(|c| {
            c.listed.insert(key(scope));
        });
    }

    /// Whether `id` of `scope` has been reported.
    pub fn has(&self, scope: &Scope, id: &str) -> bool {
        let id = scope.by_alias.get(id).map_or(id, String::as_str);
        let r = scope.resource(id);
        self.with(|c| c.seen.contains(&r))
    }

    /// Everything collected, with every declared resource not reported ending as `Failed(unread)` and every
    /// discovery listing that did not finish as a scope failure with the same error.
    pub fn finish(&self, scopes: &[Scope], unread: &ReadError) -> Observations {
        let mut c = self.with(std::mem::take);
        for scope in scopes {
            for id in &scope.declared {
                let resource = scope.resource(id);
                if c.seen.insert(resource.clone()) {
                    c.resources.push(Observed {
                        resource,
                        native_id: None,
                        alias: None,
                        outcome: Outcome::Failed(unread.clone()),
                    });
                }
            }
            if scope.discover && !c.listed.contains(&key(scope)) {
                c.scope_failures.push(ScopeFailure {
                    cloud: scope.cloud,
                    account: scope.account.clone(),
                    region: scope.region.clone(),
                    resource_type: scope.resource_type,
                    error: unread.clone(),
                });
            }
        }
        c.resources.sort_by(|a, b| a.resource.cmp(&b.resource));
        let left_out = c
            .left_out
            .into_iter()
            .map(|((scope, reason), count)| LeftOut {
                cloud: scope.0,
                account: scope.1,
                region: scope.2,
                resource_type: scope.3,
                reason,
                count,
            })
            .collect();
        let read_plans = c
            .read_plans
            .into_iter()
            .map(|(scope, (batch, reason))| ReadPlan {
                cloud: scope.0,
                account: scope.1,
                region: scope.2,
                resource_type: scope.3,
                batch,
                reason,
            })
            .collect();
        Observations {
            resources: c.resources,
            scope_failures: c.scope_failures,
            left_out,
            read_plans,
        }
    }
}

fn key(scope: &Scope) -> ScopeKey {
    (
        scope.cloud,
        scope.account.clone(),
        scope.region.clone(),
        scope.resource_type,
    )
}

/// The error a declared resource gets when the listing that would have resolved it failed: the listing's
/// own code when it is about the account (credentials), the check (deadline, shutdown) or a policy refusing the
/// listing (`permission_denied`, which names the listing so the missing permission is plain), else
/// `listing_failed`, with the listing's reason in the message.
pub fn listing_failed(scope: &Scope, listing: &ReadError) -> ReadError {
    match listing.code {
        ErrorCode::PermissionDenied => ReadError::new(
            ErrorCode::PermissionDenied,
            format!(
                "the credentials may not list {}s in {}, so whether this one exists is unknown: {}",
                scope.resource_type, scope.region, listing.message
            ),
        ),
        code => ReadError::new(
            match code {
                ErrorCode::Auth | ErrorCode::Timeout | ErrorCode::Cancelled => code,
                _ => ErrorCode::ListingFailed,
            },
            format!(
                "listing {}s in {} failed: {}: {}",
                scope.resource_type, scope.region, listing.code, listing.message
            ),
        ),
    }
}

/// The error of one resource whose read failed: a policy refusing it says which permission is likely
/// missing (the cloud's message names the API, not what it means for the report); anything else as is.
pub fn resource_failed(scope: &Scope, error: ReadError) -> ReadError {
    if error.code != ErrorCode::PermissionDenied {
        return error;
    }
    ReadError::new(
        ErrorCode::PermissionDenied,
        format!(
            "the credentials may not read this {}'s tags: {}",
            scope.resource_type, error.message
        ),
    )
}
