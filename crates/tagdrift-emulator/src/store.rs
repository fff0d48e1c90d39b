//! The emulated clouds' resources in memory: accounts, credentials, and per region (Alibaba) or project
//! (Huawei) one sorted table of keys and one of secrets, each resource with its tags. Built once from a
//! validated [`Inventory`]; afterwards only tags change (through the clouds' tag write APIs), never the set of
//! resources, so tables are plain sorted vectors: binary search by id, slices for pages, a position is an index.
//!
//! Compact on purpose (boxed strings, tags as a sorted vector of pairs): a 100,000-resource inventory has to
//! fit in well under 256 MiB. It knows nothing about HTTP or the wire formats.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, TimeZone, Utc};
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::inventory::{
    Access, AlibabaAccountSpec, HuaweiAccountSpec, Inventory, InventoryError, KeySpec, Secret, SecretSpec,
    derived_digits, derived_hex, derived_uuid,
};
use tagdrift_core::vocab::{Cloud, ResourceType, Tags};

/// One resource's tags, sorted by key, one value per key. Reads and writes as a YAML/JSON map of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagList(Vec<(Box<str>, Box<str>)>);

impl Serialize for TagList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for TagList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagsVisitor;
        impl<'de> Visitor<'de> for TagsVisitor {
            type Value = TagList;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of tag keys to string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<TagList, A::Error> {
                let mut pairs: Vec<(Box<str>, Box<str>)> =
                    Vec::with_capacity(access.size_hint().unwrap_or(4));
                while let Some((k, v)) = access.next_entry::<String, String>()? {
                    pairs.push((k.into_boxed_str(), v.into_boxed_str()));
                }
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
                    return Err(serde::de::Error::custom(format!(
                        "duplicate tag key '{}'",
                        w[0].0
                    )));
                }
                pairs.shrink_to_fit();
                Ok(TagList(pairs))
            }
        }
        deserializer.deserialize_map(TagsVisitor)
    }
}

impl From<Tags> for TagList {
    fn from(tags: Tags) -> TagList {
        TagList(
            tags.into_iter()
                .map(|(k, v)| (k.into_boxed_str(), v.into_boxed_str()))
                .collect(),
        )
    }
}

impl TagList {
    pub fn from_tags(tags: &Tags) -> TagList {
        TagList(
            tags.iter()
                .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
                .collect(),
        )
    }

    pub fn to_tags(&self) -> Tags {
        self.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pair at `index` (in key order).
    pub fn at(&self, index: usize) -> Option<(&str, &str)> {
        self.0.get(index).map(|(k, v)| (&**k, &**v))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.search(key).ok().map(|i| &*self.0[i].1)
    }

    /// Sets `key` to `value`, replacing an existing value.
    pub fn set(&mut self, key: &str, value: &str) {
        match self.search(key) {
            Ok(i) => self.0[i].1 = value.into(),
            Err(i) => self.0.insert(i, (key.into(), value.into())),
        }
    }

    /// Removes `key`; false when it was not there.
    pub fn remove(&mut self, key: &str) -> bool {
        match self.search(key) {
            Ok(i) => {
                self.0.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// Keeps only the pairs for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.0.retain(|(k, v)| keep(k, v));
    }

    /// Index of the first pair whose key is `>= key` (a pagination position inside one resource).
    pub fn position_of(&self, key: &str) -> usize {
        self.0.partition_point(|(k, _)| &**k < key)
    }

    fn search(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| (**k).cmp(key))
    }

    fn heap_bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<(Box<str>, Box<str>)>()
            + self.0.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
    }
}

/// A key or a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Key id, or secret name.
    pub id: Box<str>,
    /// Key alias (Alibaba `alias/...`, Huawei `key_alias`).
    pub alias: Option<Box<str>>,
    /// Huawei secret UUID (the tag APIs address secrets by it).
    pub native_id: Option<Box<str>>,
    /// Huawei key `key_spec` when not the default `AES_256`.
    pub key_spec: Option<Box<str>>,
    /// Creation time, seconds since the epoch (deterministic, derived from the id).
    pub created: i64,
    /// Scheduled for deletion: listed with that state, refuses tag calls (see docs/emulator.md).
    pub pending_deletion: bool,
    /// A Huawei default master key: listed with `default_key_flag: "1"`, refuses tag calls.
    pub default_key: bool,
    pub tags: TagList,
    /// What a policy refuses the account's credentials on this resource.
    pub deny: Deny,
}

/// The per-resource policy refusals of the inventory's `deny` list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deny {
    pub read: bool,
    pub write: bool,
}

impl Deny {
    fn of(accesses: &[Access]) -> Deny {
        Deny {
            read: accesses.contains(&Access::Read),
            write: accesses.contains(&Access::Write),
        }
    }
}

impl Resource {
    pub fn created_at(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.created, 0)
            .single()
            .unwrap_or(DateTime::UNIX_EPOCH)
    }

    fn heap_bytes(&self) -> usize {
        self.id.len()
            + self.alias.as_ref().map_or(0, |a| a.len())
            + self.native_id.as_ref().map_or(0, |a| a.len())
            + self.key_spec.as_ref().map_or(0, |a| a.len())
            + self.tags.heap_bytes()
    }
}

/// The keys or the secrets of one region/project, sorted by id.
#[derive(Debug, Clone, Default)]
pub struct Table {
    rows: Vec<Resource>,
    by_alias: HashMap<Box<str>, u32>,
    by_native: HashMap<Box<str>, u32>,
}

impl Table {
    fn build(mut rows: Vec<Resource>, field: &str) -> Result<Table, InventoryError> {
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        if let Some(w) = rows.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(InventoryError::invalid(
                field,
                format!("duplicate id '{}'", w[0].id),
            ));
        }
        let mut by_alias = HashMap::new();
        let mut by_native = HashMap::new();
        for (i, row) in rows.iter().enumerate() {
            let index =
                u32::try_from(i).map_err(|_| InventoryError::invalid(field, "more than 2^32 resources"))?;
            if let Some(alias) = &row.alias
                && by_alias.insert(alias.clone(), index).is_some()
            {
                return Err(InventoryError::invalid(
                    field,
                    format!("duplicate alias '{alias}'"),
                ));
            }
            if let Some(native) = &row.native_id
                && by_native.insert(native.clone(), index).is_some()
            {
                return Err(InventoryError::invalid(field, format!("duplicate id '{native}'")));
            }
        }
        by_alias.shrink_to_fit();
        by_native.shrink_to_fit();
        Ok(Table {
            rows,
            by_alias,
            by_native,
        })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// All resources, sorted by id.
    pub fn rows(&self) -> &[Resource] {
        &self.rows
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.rows.binary_search_by(|r| (*r.id).cmp(id)).ok()
    }

    pub fn get(&self, id: &str) -> Option<&Resource> {
        self.index_of(id).map(|i| &self.rows[i])
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Resource> {
        self.index_of(id).map(|i| &mut self.rows[i])
    }

    pub fn at_mut(&mut self, index: usize) -> Option<&mut Resource> {
        self.rows.get_mut(index)
    }

    /// Index of the first resource whose id is `>= id` (a pagination position).
    pub fn position_of(&self, id: &str) -> usize {
        self.rows.partition_point(|r| &*r.id < id)
    }

    pub fn index_by_alias(&self, alias: &str) -> Option<usize> {
        self.by_alias.get(alias).map(|&i| i as usize)
    }

    pub fn index_by_native_id(&self, native_id: &str) -> Option<usize> {
        self.by_native.get(native_id).map(|&i| i as usize)
    }

    fn heap_bytes(&self) -> usize {
        let rows = self.rows.capacity() * std::mem::size_of::<Resource>()
            + self.rows.iter().map(Resource::heap_bytes).sum::<usize>();
        let maps = (self.by_alias.capacity() + self.by_native.capacity())
            * (std::mem::size_of::<(Box<str>, u32)>() + 1)
            + self.by_alias.keys().map(|k| k.len()).sum::<usize>()
            + self.by_native.keys().map(|k| k.len()).sum::<usize>();
        rows + maps
    }
}

/// Keys and secrets of one place (Alibaba region, Huawei project).
#[derive(Debug, Clone, Default)]
pub struct Tables {
    pub keys: Table,
    pub secrets: Table,
}

impl Tables {
    pub fn table(&self, resource_type: ResourceType) -> &Table {
        match resource_type {
            ResourceType::Key => &self.keys,
            ResourceType::Secret => &self.secrets,
        }
    }

    pub fn table_mut(&mut self, resource_type: ResourceType) -> &mut Table {
        match resource_type {
            ResourceType::Key => &mut self.keys,
            ResourceType::Secret => &mut self.secrets,
        }
    }
}

/// Temporary credentials written in the inventory (not issued at run time).
#[derive(Debug, Clone)]
pub struct StaticTempCredential {
    pub access_key_id: String,
    pub secret: Secret,
    pub security_token: Secret,
    pub expiration: Option<DateTime<Utc>>,
}

/// A RAM role assumable with an OIDC token.
#[derive(Debug, Clone)]
pub struct AlibabaRole {
    pub arn: String,
    pub oidc_provider_arn: String,
    pub max_session_duration: u64,
}

#[derive(Debug, Clone)]
pub struct AlibabaAccount {
    pub name: String,
    pub access_key_id: String,
    pub access_key_secret: Secret,
    /// 16-digit UID used in ARNs.
    pub account_id: String,
    pub sts: Vec<StaticTempCredential>,
    pub roles: Vec<AlibabaRole>,
    pub ecs_role: Option<String>,
    pub regions: BTreeMap<String, Tables>,
}

#[derive(Debug, Clone)]
pub struct HuaweiProject {
    pub region: String,
    pub project_id: String,
    pub tables: Tables,
}

#[derive(Debug, Clone)]
pub struct HuaweiAccount {
    pub name: String,
    pub ak: String,
    pub sk: Secret,
    pub domain_id: String,
    pub security_tokens: Vec<StaticTempCredential>,
    /// Identity provider ids whose id tokens IAM accepts for this account.
    pub idps: Vec<String>,
    /// The ECS agency the metadata service hands out credentials for.
    pub ecs_agency: Option<String>,
    pub projects: Vec<HuaweiProject>,
}

impl HuaweiAccount {
    pub fn project(&self, project_id: &str) -> Option<&HuaweiProject> {
        self.projects.iter().find(|p| p.project_id == project_id)
    }

    pub fn project_mut(&mut self, project_id: &str) -> Option<&mut HuaweiProject> {
        self.projects.iter_mut().find(|p| p.project_id == project_id)
    }
}

/// Who owns an access key id the store knows (the permanent key or a static temporary one).
#[derive(Debug, Clone)]
pub struct KeyOwner {
    pub cloud: Cloud,
    /// Index into `Store::alibaba` or `Store::huawei`.
    pub account: usize,
    pub secret: Secret,
    /// Present for temporary credentials: requests must carry exactly this token.
    pub security_token: Option<Secret>,
    pub expiration: Option<DateTime<Utc>>,
}

/// Everything the emulated clouds hold.
#[derive(Debug, Clone, Default)]
pub struct Store {
    pub alibaba: Vec<AlibabaAccount>,
    pub huawei: Vec<HuaweiAccount>,
    /// (cloud, access key id) -> (account index, index into its static temporary credentials, if one).
    access_keys: HashMap<(Cloud, String), (usize, Option<usize>)>,
}

/// Default creation time of generated/unspecified resources: 2024-01-01T00:00:00Z plus a per-id offset.
const CREATED_BASE: i64 = 1_704_067_200;

fn created_for(parts: &[&str]) -> i64 {
    let digits = derived_digits(parts, 8);
    CREATED_BASE + digits.parse::<i64>().unwrap_or(0) % (365 * 86_400)
}

fn non_empty(field: &str, value: &str) -> Result<(), InventoryError> {
    if value.trim().is_empty() {
        Err(InventoryError::invalid(field, "must not be empty"))
    } else {
        Ok(())
    }
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The Huawei KMS key specs an inventory key may have.
pub(crate) const HUAWEI_KEY_SPECS: [&str; 13] = [
    "AES_256",
    "SM4",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "EC_P256",
    "EC_P384",
    "SECP256K1",
    "SM2",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "HMAC_SM3",
];

fn key_rows(
    keys: Vec<KeySpec>,
    field: &str,
    scope: &str,
    alias_prefix: Option<&str>,
    huawei: bool,
) -> Result<Vec<Resource>, InventoryError> {
    keys.into_iter()
        .enumerate()
        .map(|(i, k)| {
            let f = format!("{field}.keys[{i}]");
            non_empty(&format!("{f}.id"), &k.id)?;
            let key_spec = match (&k.key_spec, huawei) {
                (None, _) => None,
                (Some(spec), true) if HUAWEI_KEY_SPECS.contains(&spec.as_str()) => {
                    (spec != "AES_256").then(|| spec.as_str().into())
                }
                (Some(spec), true) => {
                    return Err(InventoryError::invalid(
                        format!("{f}.key_spec"),
                        format!(
                            "unknown key spec '{spec}' (expected one of {})",
                            HUAWEI_KEY_SPECS.join(", ")
                        ),
                    ));
                }
                (Some(_), false) => {
                    return Err(InventoryError::invalid(
                        format!("{f}.key_spec"),
                        "key_spec is only used for Huawei keys",
                    ));
                }
            };
            if k.default && !huawei {
                return Err(InventoryError::invalid(
                    format!("{f}.default"),
                    "default master keys are Huawei keys only",
                ));
            }
            let alias = match (&k.alias, alias_prefix) {
                (Some(a), Some(prefix)) if !a.starts_with(prefix) => Some(format!("{prefix}{a}")),
                (Some(a), _) => Some(a.clone()),
                (None, _) => None,
            };
            Ok(Resource {
                id: k.id.as_str().into(),
                alias: alias.map(Into::into),
                native_id: None,
                key_spec,
                created: created_for(&[scope, &k.id]),
                pending_deletion: k.pending_deletion,
                default_key: k.default,
                tags: k.tags,
                deny: Deny::of(&k.deny),
            })
        })
        .collect()
}

fn secret_rows(
    secrets: Vec<SecretSpec>,
    field: &str,
    scope: &str,
    with_native_id: bool,
) -> Result<Vec<Resource>, InventoryError> {
    secrets
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let f = format!("{field}.secrets[{i}]");
            if s.pending_deletion && !with_native_id {
                // Alibaba secrets scheduled for deletion are read as usual (nothing documents a refusal).
                return Err(InventoryError::invalid(
                    format!("{f}.pending_deletion"),
                    "pending deletion secrets are Huawei secrets only",
                ));
            }
            non_empty(&format!("{f}.name"), &s.name)?;
            let native_id = match (&s.id, with_native_id) {
                (Some(id), _) => {
                    non_empty(&format!("{f}.id"), id)?;
                    Some(id.clone())
                }
                (None, true) => Some(derived_uuid(&[scope, &s.name])),
                (None, false) => None,
            };
            Ok(Resource {
                id: s.name.as_str().into(),
                alias: None,
                native_id: native_id.map(Into::into),
                key_spec: None,
                created: created_for(&[scope, &s.name]),
                pending_deletion: s.pending_deletion,
                default_key: false,
                tags: s.tags,
                deny: Deny::of(&s.deny),
            })
        })
        .collect()
}

impl Store {
    /// Validates an inventory and builds the store from it (tags are moved, not copied, so a large inventory
    /// is never held twice). Errors name the offending field.
    pub fn from_inventory(inventory: Inventory) -> Result<Store, InventoryError> {
        let mut store = Store::default();
        let mut names = HashSet::new();
        let mut ecs_role_owner: Option<String> = None;
        for (i, spec) in inventory.alibaba.into_iter().enumerate() {
            let account = build_alibaba(spec, i)?;
            if !names.insert((Cloud::Alibaba, account.name.clone())) {
                return Err(InventoryError::invalid(
                    format!("alibaba[{i}].name"),
                    format!("duplicate account name '{}'", account.name),
                ));
            }
            if account.ecs_role.is_some() {
                if let Some(first) = &ecs_role_owner {
                    return Err(InventoryError::invalid(
                        format!("alibaba[{i}].ecs_role"),
                        format!("only one account can have an ecs_role (account '{first}' already has one)"),
                    ));
                }
                ecs_role_owner = Some(account.name.clone());
            }
            store.register_key(
                Cloud::Alibaba,
                &account.access_key_id,
                i,
                None,
                &format!("alibaba[{i}]"),
            )?;
            for (j, sts) in account.sts.iter().enumerate() {
                store.register_key(
                    Cloud::Alibaba,
                    &sts.access_key_id,
                    i,
                    Some(j),
                    &format!("alibaba[{i}].sts[{j}]"),
                )?;
            }
            store.alibaba.push(account);
        }
        for (i, spec) in inventory.huawei.into_iter().enumerate() {
            let account = build_huawei(spec, i)?;
            if !names.insert((Cloud::Huawei, account.name.clone())) {
                return Err(InventoryError::invalid(
                    format!("huawei[{i}].name"),
                    format!("duplicate account name '{}'", account.name),
                ));
            }
            store.register_key(Cloud::Huawei, &account.ak, i, None, &format!("huawei[{i}]"))?;
            for (j, t) in account.security_tokens.iter().enumerate() {
                store.register_key(
                    Cloud::Huawei,
                    &t.access_key_id,
                    i,
                    Some(j),
                    &format!("huawei[{i}].security_tokens[{j}]"),
                )?;
            }
            store.huawei.push(account);
        }
        let mut idps = HashSet::new();
        let mut agency_owner: Option<String> = None;
        for (i, account) in store.huawei.iter().enumerate() {
            for (j, idp) in account.idps.iter().enumerate() {
                if !idps.insert(idp.clone()) {
                    return Err(InventoryError::invalid(
                        format!("huawei[{i}].idps[{j}].id"),
                        format!("identity provider '{idp}' appears more than once"),
                    ));
                }
            }
            if account.ecs_agency.is_some() {
                if let Some(first) = &agency_owner {
                    return Err(InventoryError::invalid(
                        format!("huawei[{i}].ecs_agency"),
                        format!(
                            "only one account can have an ecs_agency (account '{first}' already has one)"
                        ),
                    ));
                }
                agency_owner = Some(account.name.clone());
            }
        }
        let mut project_ids = HashSet::new();
        for (i, account) in store.huawei.iter().enumerate() {
            for (j, p) in account.projects.iter().enumerate() {
                if !project_ids.insert(p.project_id.clone()) {
                    return Err(InventoryError::invalid(
                        format!("huawei[{i}].projects[{j}].project_id"),
                        format!("project id '{}' appears more than once", p.project_id),
                    ));
                }
            }
        }
        store.access_keys.shrink_to_fit();
        Ok(store)
    }

    fn register_key(
        &mut self,
        cloud: Cloud,
        access_key_id: &str,
        account: usize,
        temp: Option<usize>,
        field: &str,
    ) -> Result<(), InventoryError> {
        non_empty(field, access_key_id)?;
        if self
            .access_keys
            .insert((cloud, access_key_id.to_owned()), (account, temp))
            .is_some()
        {
            return Err(InventoryError::invalid(
                field,
                format!("access key id '{access_key_id}' appears more than once"),
            ));
        }
        Ok(())
    }

    /// The account owning `access_key_id` in `cloud`, with the secret to check signatures against.
    /// Temporary credentials issued at run time are not here (see `State::credential`).
    pub fn access_key(&self, cloud: Cloud, access_key_id: &str) -> Option<KeyOwner> {
        let &(account, temp) = self.access_keys.get(&(cloud, access_key_id.to_owned()))?;
        let (permanent, temps) = match cloud {
            Cloud::Alibaba => {
                let a = self.alibaba.get(account)?;
                (&a.access_key_secret, &a.sts)
            }
            Cloud::Huawei => {
                let a = self.huawei.get(account)?;
                (&a.sk, &a.security_tokens)
            }
        };
        Some(match temp {
            None => KeyOwner {
                cloud,
                account,
                secret: permanent.clone(),
                security_token: None,
                expiration: None,
            },
            Some(j) => {
                let t = temps.get(j)?;
                KeyOwner {
                    cloud,
                    account,
                    secret: t.secret.clone(),
                    security_token: Some(t.security_token.clone()),
                    expiration: t.expiration,
                }
            }
        })
    }

    /// Number of keys and secrets in the store.
    pub fn resource_count(&self) -> usize {
        let ali: usize = self
            .alibaba
            .iter()
            .flat_map(|a| a.regions.values())
            .map(|t| t.keys.len() + t.secrets.len())
            .sum();
        let hw: usize = self
            .huawei
            .iter()
            .flat_map(|a| a.projects.iter())
            .map(|p| p.tables.keys.len() + p.tables.secrets.len())
            .sum();
        ali + hw
    }

    /// An estimate of the heap bytes the resource tables use (strings, vectors, indexes); the process's
    /// resident size is the authoritative figure, this one is for quick reporting.
    pub fn approx_heap_bytes(&self) -> usize {
        let ali: usize = self
            .alibaba
            .iter()
            .flat_map(|a| a.regions.values())
            .map(|t| t.keys.heap_bytes() + t.secrets.heap_bytes())
            .sum();
        let hw: usize = self
            .huawei
            .iter()
            .flat_map(|a| a.projects.iter())
            .map(|p| p.tables.keys.heap_bytes() + p.tables.secrets.heap_bytes())
            .sum();
        ali + hw
    }

    /// Resource and tag-row counts per (cloud, account, region, type), in store order: what a benchmark needs
    /// to compute the fewest calls an inventory allows without parsing the inventory itself.
    pub fn summary(&self) -> Vec<ScopeSummary> {
        let mut out = Vec::new();
        for account in &self.alibaba {
            for (region, tables) in &account.regions {
                for t in [ResourceType::Key, ResourceType::Secret] {
                    out.push(ScopeSummary::of(
                        Cloud::Alibaba,
                        &account.name,
                        region,
                        None,
                        t,
                        tables.table(t),
                    ));
                }
            }
        }
        for account in &self.huawei {
            for p in &account.projects {
                for t in [ResourceType::Key, ResourceType::Secret] {
                    let id = Some(p.project_id.as_str());
                    out.push(ScopeSummary::of(
                        Cloud::Huawei,
                        &account.name,
                        &p.region,
                        id,
                        t,
                        p.tables.table(t),
                    ));
                }
            }
        }
        out
    }
}

/// The counts of one table (`GET /_emulator/inventory`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeSummary {
    pub cloud: &'static str,
    pub account: String,
    pub region: String,
    /// Huawei project id; absent for Alibaba.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(rename = "type")]
    pub resource_type: &'static str,
    pub resources: usize,
    /// Resources with at least one tag.
    pub tagged: usize,
    /// (resource, tag) pairs: the rows `ListTagResources` pages through.
    pub tag_rows: usize,
    /// Number of resources per tag count (`{"4": 2400, "5": 13}`).
    pub by_tag_count: BTreeMap<usize, usize>,
}

impl ScopeSummary {
    fn of(
        cloud: Cloud,
        account: &str,
        region: &str,
        project_id: Option<&str>,
        resource_type: ResourceType,
        table: &Table,
    ) -> ScopeSummary {
        let mut by_tag_count = BTreeMap::new();
        for row in table.rows() {
            *by_tag_count.entry(row.tags.len()).or_default() += 1;
        }
        ScopeSummary {
            cloud: cloud.as_str(),
            account: account.to_owned(),
            region: region.to_owned(),
            project_id: project_id.map(str::to_owned),
            resource_type: resource_type.as_str(),
            resources: table.len(),
            tagged: table.rows().iter().filter(|r| !r.tags.is_empty()).count(),
            tag_rows: table.rows().iter().map(|r| r.tags.len()).sum(),
            by_tag_count,
        }
    }
}

fn build_alibaba(spec: AlibabaAccountSpec, i: usize) -> Result<AlibabaAccount, InventoryError> {
    let field = format!("alibaba[{i}]");
    let name = spec.display_name(i);
    non_empty(&format!("{field}.name"), &name)?;
    non_empty(
        &format!("{field}.access_key_secret"),
        spec.access_key_secret.expose(),
    )?;
    let account_id = match &spec.account_id {
        Some(id) if id.len() >= 5 && id.bytes().all(|b| b.is_ascii_digit()) => id.clone(),
        Some(id) => {
            return Err(InventoryError::invalid(
                format!("{field}.account_id"),
                format!("'{id}' is not a numeric account UID (expected digits, e.g. 16 of them)"),
            ));
        }
        None => derived_digits(&["alibaba-uid", &spec.access_key_id], 16),
    };
    let mut roles = Vec::new();
    for (j, r) in spec.roles.iter().enumerate() {
        let f = format!("{field}.roles[{j}]");
        if !r.arn.starts_with("acs:ram::") || !r.arn.contains(":role/") {
            return Err(InventoryError::invalid(
                format!("{f}.arn"),
                format!(
                    "'{}' is not a RAM role ARN (expected acs:ram::<uid>:role/<name>)",
                    r.arn
                ),
            ));
        }
        if !r.oidc_provider_arn.starts_with("acs:ram::") || !r.oidc_provider_arn.contains(":oidc-provider/") {
            return Err(InventoryError::invalid(
                format!("{f}.oidc_provider_arn"),
                format!(
                    "'{}' is not an OIDC provider ARN (expected acs:ram::<uid>:oidc-provider/<name>)",
                    r.oidc_provider_arn
                ),
            ));
        }
        let max = r.max_session_duration.unwrap_or(3600);
        if !(900..=43_200).contains(&max) {
            return Err(InventoryError::invalid(
                format!("{f}.max_session_duration"),
                format!("{max} is out of range (expected 900 to 43200 seconds)"),
            ));
        }
        roles.push(AlibabaRole {
            arn: r.arn.clone(),
            oidc_provider_arn: r.oidc_provider_arn.clone(),
            max_session_duration: max,
        });
    }
    if let Some(role) = &spec.ecs_role {
        non_empty(&format!("{field}.ecs_role"), role)?;
        if role.contains('/') {
            return Err(InventoryError::invalid(
                format!("{field}.ecs_role"),
                format!("'{role}' is not a role name (no '/' allowed)"),
            ));
        }
    }
    let sts = spec
        .sts
        .iter()
        .map(|s| StaticTempCredential {
            access_key_id: s.access_key_id.clone(),
            secret: s.access_key_secret.clone(),
            security_token: s.security_token.clone(),
            expiration: s.expiration,
        })
        .collect();
    let mut regions = BTreeMap::new();
    for (region, r) in spec.regions {
        let f = format!("{field}.regions.{region}");
        non_empty(&f, &region)?;
        let scope = format!("alibaba/{}/{region}", spec.access_key_id);
        let keys = Table::build(
            key_rows(r.keys, &f, &scope, Some("alias/"), false)?,
            &format!("{f}.keys"),
        )?;
        let secrets = Table::build(
            secret_rows(r.secrets, &f, &scope, false)?,
            &format!("{f}.secrets"),
        )?;
        regions.insert(region, Tables { keys, secrets });
    }
    Ok(AlibabaAccount {
        name,
        access_key_id: spec.access_key_id,
        access_key_secret: spec.access_key_secret,
        account_id,
        sts,
        roles,
        ecs_role: spec.ecs_role,
        regions,
    })
}

fn build_huawei(spec: HuaweiAccountSpec, i: usize) -> Result<HuaweiAccount, InventoryError> {
    let field = format!("huawei[{i}]");
    let name = spec.display_name(i);
    non_empty(&format!("{field}.name"), &name)?;
    non_empty(&format!("{field}.sk"), spec.sk.expose())?;
    let domain_id = match &spec.domain_id {
        Some(d) if is_hex32(d) => d.clone(),
        Some(d) => {
            return Err(InventoryError::invalid(
                format!("{field}.domain_id"),
                format!("'{d}' is not 32 hex characters"),
            ));
        }
        None => derived_hex(&["huawei-domain", &spec.ak], 32),
    };
    let mut projects = Vec::new();
    for (j, p) in spec.projects.into_iter().enumerate() {
        let f = format!("{field}.projects[{j}]");
        non_empty(&format!("{f}.region"), &p.region)?;
        if !is_hex32(&p.project_id) {
            return Err(InventoryError::invalid(
                format!("{f}.project_id"),
                format!("'{}' is not 32 hex characters", p.project_id),
            ));
        }
        let scope = p.project_id.as_str();
        let keys = Table::build(key_rows(p.keys, &f, scope, None, true)?, &format!("{f}.keys"))?;
        let secrets = Table::build(secret_rows(p.secrets, &f, scope, true)?, &format!("{f}.secrets"))?;
        projects.push(HuaweiProject {
            region: p.region,
            project_id: p.project_id,
            tables: Tables { keys, secrets },
        });
    }
    let security_tokens = spec
        .security_tokens
        .iter()
        .map(|t| StaticTempCredential {
            access_key_id: t.ak.clone(),
            secret: t.sk.clone(),
            security_token: t.security_token.clone(),
            expiration: t.expires_at,
        })
        .collect();
    for (j, idp) in spec.idps.iter().enumerate() {
        non_empty(&format!("{field}.idps[{j}].id"), &idp.id)?;
    }
    if let Some(agency) = &spec.ecs_agency {
        non_empty(&format!("{field}.ecs_agency"), agency)?;
    }
    Ok(HuaweiAccount {
        name,
        ak: spec.ak,
        sk: spec.sk,
        domain_id,
        security_tokens,
        idps: spec.idps.iter().map(|i| i.id.clone()).collect(),
        ecs_agency: spec.ecs_agency,
        projects,
    })
}
