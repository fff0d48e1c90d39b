//! Synthetic inventories for benchmarks and soak tests, and the tagdrift desired-state file that goes with
//! them. Deterministic: the same options (seed included) always give byte-identical YAML.
//!
//! Layout: one Alibaba account (`ali-bench`, `testid`/`testsecret`, regions cn-hangzhou and cn-shanghai) and
//! one Huawei account (`hw-bench`, `testak`/`testsk`, projects in cn-north-4 and cn-east-3). The total is split
//! evenly over cloud x type, then round-robin over the regions. Every resource gets `tags_per_resource` tags;
//! a `drift_ratio` share of the resources has its tags altered in the inventory (one value changed, one tag
//! removed, or one unexpected tag added) while the desired state keeps the correct set.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::{
    AlibabaAccountSpec, HuaweiAccountSpec, HuaweiProjectSpec, Inventory, InventoryError, KeySpec, RegionSpec,
    Secret, SecretSpec, TagList, derived_hex, derived_uuid,
};
use tagdrift_core::vocab::Cloud;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Total number of keys and secrets across both clouds.
    pub total: usize,
    pub tags_per_resource: usize,
    /// Share (0.0 to 1.0) of resources whose inventory tags differ from the desired state.
    pub drift_ratio: f64,
    pub seed: u64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            total: 1000,
            tags_per_resource: 4,
            drift_ratio: 0.1,
            seed: 1,
        }
    }
}

/// A generated inventory and what it takes to rebuild the correct ("desired") tags of every resource.
#[derive(Debug, Clone)]
pub struct Generated {
    /// What the emulator serves: the drifted share differs from [`Generated::desired`].
    pub inventory: Inventory,
    /// (position in resource order, correct tags) of every drifted resource. Kept instead of a second full
    /// inventory so a large generated inventory is held once.
    originals: Vec<(usize, TagList)>,
    /// How many resources were drifted.
    pub drifted: usize,
}

impl Generated {
    /// The same resources with the tags the desired state declares (a full copy; build it only to write the
    /// desired-state file).
    pub fn desired(&self) -> Inventory {
        let mut desired = self.inventory.clone();
        let mut originals = self.originals.iter().peekable();
        for (position, tags) in all_tags_mut(&mut desired).into_iter().enumerate() {
            if let Some((_, original)) = originals.next_if(|(p, _)| *p == position) {
                *tags = original.clone();
            }
        }
        desired
    }
}

/// Every resource's tags, in a fixed order (Alibaba accounts, regions, keys then secrets; then Huawei).
fn all_tags_mut(inventory: &mut Inventory) -> Vec<&mut TagList> {
    let mut all = Vec::with_capacity(inventory.resource_count());
    for account in &mut inventory.alibaba {
        for region in account.regions.values_mut() {
            all.extend(region.keys.iter_mut().map(|k| &mut k.tags));
            all.extend(region.secrets.iter_mut().map(|s| &mut s.tags));
        }
    }
    for account in &mut inventory.huawei {
        for project in &mut account.projects {
            all.extend(project.keys.iter_mut().map(|k| &mut k.tags));
            all.extend(project.secrets.iter_mut().map(|s| &mut s.tags));
        }
    }
    all
}

const ALIBABA_REGIONS: [(&str, &str); 2] = [("cn-hangzhou", "hzz"), ("cn-shanghai", "shh")];
const HUAWEI_REGIONS: [&str; 2] = ["cn-north-4", "cn-east-3"];
const APPS: [&str; 8] = [
    "payments", "orders", "billing", "search", "identity", "ledger", "catalog", "reports",
];
const SECRET_KINDS: [&str; 4] = ["db-password", "api-token", "tls-key", "signing-key"];
/// Tag keys and the values each may take. All keys and values satisfy both clouds' tag rules.
const VOCABULARY: [(&str, &[&str]); 10] = [
    ("owner", &["payments", "platform", "security", "data", "web"]),
    ("env", &["prod", "staging", "dev"]),
    ("cost-center", &["cc-1001", "cc-1002", "cc-2001", "cc-3005"]),
    ("team", &["blue", "green", "red", "core"]),
    ("app", &APPS),
    (
        "data-class",
        &["public", "internal", "confidential", "restricted"],
    ),
    ("backup", &["daily", "weekly", "none"]),
    ("compliance", &["pci", "sox", "gdpr", "none"]),
    ("tier", &["1", "2", "3"]),
    ("managed-by", &["tagdrift", "terraform"]),
];
const ALNUM: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

fn tags_for(rng: &mut StdRng, count: usize) -> TagList {
    let mut tags = TagList::default();
    for i in 0..count {
        match VOCABULARY.get(i) {
            Some((key, values)) => tags.set(key, values[rng.random_range(0..values.len())]),
            None => tags.set(
                &format!("extra-{i}"),
                &format!("v{}", rng.random_range(0..100u32)),
            ),
        }
    }
    tags
}

/// Alters `tags` so that they differ from the original: change a value, remove a tag, or add one.
fn drift(rng: &mut StdRng, tags: &mut TagList) {
    let choice = if tags.is_empty() {
        2
    } else {
        rng.random_range(0..3u32)
    };
    match choice {
        0 => {
            let index = rng.random_range(0..tags.len());
            let changed = tags
                .at(index)
                .map(|(k, v)| (k.to_owned(), format!("{v}-drifted")));
            if let Some((key, value)) = changed {
                tags.set(&key, &value);
            }
        }
        1 => {
            let index = rng.random_range(0..tags.len());
            if let Some(key) = tags.at(index).map(|(k, _)| k.to_owned()) {
                tags.remove(&key);
            }
        }
        _ => tags.set("unexpected", "yes"),
    }
}

fn random_alnum(rng: &mut StdRng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(ALNUM[rng.random_range(0..ALNUM.len())]))
        .collect()
}

/// Splits `total` into `parts` near-equal shares (the first ones get the remainder).
fn split(total: usize, parts: usize) -> Vec<usize> {
    (0..parts)
        .map(|i| total / parts + usize::from(i < total % parts))
        .collect()
}

/// Generates an inventory of `options.total` resources with `drift_ratio` of them drifted.
pub fn generate(options: &GenerateOptions) -> Result<Generated, InventoryError> {
    if !(0.0..=1.0).contains(&options.drift_ratio) {
        return Err(InventoryError::invalid(
            "drift_ratio",
            format!("{} is out of range (expected 0.0 to 1.0)", options.drift_ratio),
        ));
    }
    // One generator for everything, drawn from in a fixed order: the output depends on the seed alone.
    let mut rng = StdRng::seed_from_u64(options.seed);
    let shares = split(options.total, 4);
    let tags = options.tags_per_resource;
    let ali_regions = alibaba_regions(&mut rng, shares[0], shares[1], tags);
    let projects = huawei_projects(&mut rng, options.seed, shares[2], shares[3], tags);
    let mut inventory = bench_inventory(ali_regions, projects);
    let originals = drift_some(&mut rng, &mut inventory, options);
    Ok(Generated {
        inventory,
        drifted: originals.len(),
        originals,
    })
}

/// `keys` keys then `secrets` secrets, round-robin over the Alibaba regions.
fn alibaba_regions(
    rng: &mut StdRng,
    keys: usize,
    secrets: usize,
    tags_per_resource: usize,
) -> BTreeMap<String, RegionSpec> {
    let mut regions: BTreeMap<String, RegionSpec> = BTreeMap::new();
    for (region, _) in ALIBABA_REGIONS {
        regions.insert(region.to_owned(), RegionSpec::default());
    }
    for i in 0..keys {
        let (region, prefix) = ALIBABA_REGIONS[i % ALIBABA_REGIONS.len()];
        let id = format!("key-{prefix}{}{i:07}", random_alnum(rng, 11));
        let tags = tags_for(rng, tags_per_resource);
        if let Some(r) = regions.get_mut(region) {
            r.keys.push(KeySpec {
                id,
                alias: None,
                key_spec: None,
                pending_deletion: false,
                default: false,
                tags,
                deny: Vec::new(),
            });
        }
    }
    for i in 0..secrets {
        let (region, _) = ALIBABA_REGIONS[i % ALIBABA_REGIONS.len()];
        let name = secret_name(i);
        let tags = tags_for(rng, tags_per_resource);
        if let Some(r) = regions.get_mut(region) {
            r.secrets.push(SecretSpec {
                name,
                id: None,
                pending_deletion: false,
                tags,
                deny: Vec::new(),
            });
        }
    }
    regions
}

/// `keys` keys then `secrets` secrets, round-robin over one Huawei project per region.
fn huawei_projects(
    rng: &mut StdRng,
    seed: u64,
    keys: usize,
    secrets: usize,
    tags_per_resource: usize,
) -> Vec<HuaweiProjectSpec> {
    let seed = seed.to_string();
    let mut projects: Vec<HuaweiProjectSpec> = HUAWEI_REGIONS
        .iter()
        .map(|region| HuaweiProjectSpec {
            region: (*region).to_owned(),
            project_id: derived_hex(&["bench-project", &seed, region], 32),
            keys: Vec::new(),
            secrets: Vec::new(),
        })
        .collect();
    for i in 0..keys {
        let p = i % projects.len();
        let id = derived_uuid(&["bench-key", &seed, &i.to_string()]);
        let tags = tags_for(rng, tags_per_resource);
        projects[p].keys.push(KeySpec {
            id,
            alias: Some(format!("{}-key-{i:06}", APPS[i % APPS.len()])),
            // Some asymmetric keys, which list keys shows only with `key_spec: ALL`.
            key_spec: (i % 8 == 7).then(|| "RSA_2048".to_owned()),
            pending_deletion: false,
            default: false,
            tags,
            deny: Vec::new(),
        });
    }
    for i in 0..secrets {
        let p = i % projects.len();
        let name = secret_name(i);
        let tags = tags_for(rng, tags_per_resource);
        projects[p].secrets.push(SecretSpec {
            name,
            id: None,
            pending_deletion: false,
            tags,
            deny: Vec::new(),
        });
    }
    projects
}

fn secret_name(i: usize) -> String {
    format!(
        "{}-{i:06}-{}",
        APPS[i % APPS.len()],
        SECRET_KINDS[(i / APPS.len()) % SECRET_KINDS.len()]
    )
}

/// The two bench accounts around the generated resources.
fn bench_inventory(ali_regions: BTreeMap<String, RegionSpec>, projects: Vec<HuaweiProjectSpec>) -> Inventory {
    Inventory {
        alibaba: vec![AlibabaAccountSpec {
            name: Some("ali-bench".to_owned()),
            access_key_id: "testid".to_owned(),
            access_key_secret: Secret::new("testsecret"),
            account_id: None,
            sts: Vec::new(),
            roles: Vec::new(),
            ecs_role: None,
            regions: ali_regions,
        }],
        huawei: vec![HuaweiAccountSpec {
            name: Some("hw-bench".to_owned()),
            ak: "testak".to_owned(),
            sk: Secret::new("testsk"),
            domain_id: None,
            security_tokens: Vec::new(),
            idps: Vec::new(),
            ecs_agency: None,
            projects,
        }],
    }
}

/// Drifts `options.drift_ratio` of the resources in place and returns the correct tags of each drifted one.
fn drift_some(
    rng: &mut StdRng,
    inventory: &mut Inventory,
    options: &GenerateOptions,
) -> Vec<(usize, TagList)> {
    // Choose exactly round(total * ratio) resources, spread uniformly over all four groups.
    let drifted = ((options.total as f64) * options.drift_ratio).round() as usize;
    let drifted = drifted.min(options.total);
    let chosen = rand::seq::index::sample(rng, options.total, drifted).into_vec();
    let mut marks = vec![false; options.total];
    for i in chosen {
        marks[i] = true;
    }
    let mut originals = Vec::with_capacity(drifted);
    for (position, tags) in all_tags_mut(inventory).into_iter().enumerate() {
        if marks.get(position).copied().unwrap_or(false) {
            originals.push((position, tags.clone()));
            drift(rng, tags);
        }
    }
    originals
}

/// The environment variables a desired-state file generated by [`desired_state_yaml`] reads credentials from,
/// with the values the emulator expects (so a benchmark can export them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredCredentialEnv {
    pub account: String,
    pub cloud: Cloud,
    /// (variable name, value) pairs: id first, then secret.
    pub vars: Vec<(String, String)>,
}

fn env_prefix(account: &str) -> String {
    let mut out = String::from("TAGDRIFT_EMU_");
    for c in account.chars() {
        out.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        });
    }
    out
}

/// Credential variables for every account of `inventory`: `TAGDRIFT_EMU_<ACCOUNT>_ACCESS_KEY_ID` /
/// `_ACCESS_KEY_SECRET` (Alibaba) and `TAGDRIFT_EMU_<ACCOUNT>_AK` / `_SK` (Huawei), where `<ACCOUNT>` is the
/// account name upper-cased with every non-alphanumeric character replaced by `_`.
pub fn credential_env_vars(inventory: &Inventory) -> Vec<DesiredCredentialEnv> {
    let mut out = Vec::new();
    for (i, a) in inventory.alibaba.iter().enumerate() {
        let name = a.display_name(i);
        let prefix = env_prefix(&name);
        out.push(DesiredCredentialEnv {
            account: name,
            cloud: Cloud::Alibaba,
            vars: vec![
                (format!("{prefix}_ACCESS_KEY_ID"), a.access_key_id.clone()),
                (
                    format!("{prefix}_ACCESS_KEY_SECRET"),
                    a.access_key_secret.expose().to_owned(),
                ),
            ],
        });
    }
    for (i, a) in inventory.huawei.iter().enumerate() {
        let name = a.display_name(i);
        let prefix = env_prefix(&name);
        out.push(DesiredCredentialEnv {
            account: name,
            cloud: Cloud::Huawei,
            vars: vec![
                (format!("{prefix}_AK"), a.ak.clone()),
                (format!("{prefix}_SK"), a.sk.expose().to_owned()),
            ],
        });
    }
    out
}

#[derive(Serialize)]
struct DesiredFile<'a> {
    version: u32,
    accounts: Vec<DesiredAccount>,
    resources: Vec<DesiredResource<'a>>,
}

#[derive(Serialize)]
struct EnvRef {
    env: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum DesiredRegion {
    Name(String),
    Project { name: String, project_id: String },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum DesiredCredentials {
    AccessKey {
        #[serde(skip_serializing_if = "Option::is_none")]
        access_key_id: Option<EnvRef>,
        #[serde(skip_serializing_if = "Option::is_none")]
        access_key_secret: Option<EnvRef>,
        #[serde(skip_serializing_if = "Option::is_none")]
        ak: Option<EnvRef>,
        #[serde(skip_serializing_if = "Option::is_none")]
        sk: Option<EnvRef>,
    },
}

#[derive(Serialize)]
struct DesiredAccount {
    name: String,
    cloud: Cloud,
    regions: Vec<DesiredRegion>,
    endpoint: String,
    credentials: DesiredCredentials,
}

#[derive(Serialize)]
struct DesiredResource<'a> {
    account: &'a str,
    region: &'a str,
    #[serde(rename = "type")]
    resource_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    tags: &'a TagList,
}

/// A tagdrift desired-state file declaring every resource of `desired` with its tags, every account pointing
/// at `endpoint` (e.g. `http://127.0.0.1:8787`) and reading credentials from the variables of
/// [`credential_env_vars`]. Pass [`Generated::desired`]`()` to get the "correct" state for a generated inventory,
/// or any inventory to declare exactly what it holds.
pub fn desired_state_yaml(desired: &Inventory, endpoint: &str) -> Result<String, InventoryError> {
    let endpoint = endpoint.trim_end_matches('/').to_owned();
    let ali_names: Vec<String> = desired
        .alibaba
        .iter()
        .enumerate()
        .map(|(i, a)| a.display_name(i))
        .collect();
    let hw_names: Vec<String> = desired
        .huawei
        .iter()
        .enumerate()
        .map(|(i, a)| a.display_name(i))
        .collect();
    let mut file = DesiredFile {
        version: 1,
        accounts: Vec::new(),
        resources: Vec::with_capacity(desired.resource_count()),
    };
    let envs = credential_env_vars(desired);
    let mut env_iter = envs.iter();
    for (a, name) in desired.alibaba.iter().zip(&ali_names) {
        let vars = env_iter.next().map(|e| e.vars.clone()).unwrap_or_default();
        file.accounts.push(alibaba_account(a, name, &endpoint, &vars));
        for (region, r) in &a.regions {
            push_resources(&mut file.resources, name, region, &r.keys, &r.secrets);
        }
    }
    for (a, name) in desired.huawei.iter().zip(&hw_names) {
        let vars = env_iter.next().map(|e| e.vars.clone()).unwrap_or_default();
        file.accounts.push(huawei_account(a, name, &endpoint, &vars));
        for p in &a.projects {
            push_resources(&mut file.resources, name, &p.region, &p.keys, &p.secrets);
        }
    }
    tagdrift_core::yaml::to_string(&file).map_err(|message| InventoryError::Serialize {
        what: "desired state",
        message,
    })
}

/// The `n`th variable of [`DesiredCredentialEnv::vars`] as an `env:` reference.
fn env_ref(vars: &[(String, String)], n: usize) -> Option<EnvRef> {
    vars.get(n).map(|(k, _)| EnvRef { env: k.clone() })
}

fn alibaba_account(
    a: &AlibabaAccountSpec,
    name: &str,
    endpoint: &str,
    vars: &[(String, String)],
) -> DesiredAccount {
    DesiredAccount {
        name: name.to_owned(),
        cloud: Cloud::Alibaba,
        regions: a.regions.keys().cloned().map(DesiredRegion::Name).collect(),
        endpoint: endpoint.to_owned(),
        credentials: DesiredCredentials::AccessKey {
            access_key_id: env_ref(vars, 0),
            access_key_secret: env_ref(vars, 1),
            ak: None,
            sk: None,
        },
    }
}

fn huawei_account(
    a: &HuaweiAccountSpec,
    name: &str,
    endpoint: &str,
    vars: &[(String, String)],
) -> DesiredAccount {
    DesiredAccount {
        name: name.to_owned(),
        cloud: Cloud::Huawei,
        regions: a
            .projects
            .iter()
            .map(|p| DesiredRegion::Project {
                name: p.region.clone(),
                project_id: p.project_id.clone(),
            })
            .collect(),
        endpoint: endpoint.to_owned(),
        credentials: DesiredCredentials::AccessKey {
            access_key_id: None,
            access_key_secret: None,
            ak: env_ref(vars, 0),
            sk: env_ref(vars, 1),
        },
    }
}

/// Declares the keys, then the secrets, of one region of one account.
fn push_resources<'a>(
    out: &mut Vec<DesiredResource<'a>>,
    account: &'a str,
    region: &'a str,
    keys: &'a [KeySpec],
    secrets: &'a [SecretSpec],
) {
    for k in keys {
        out.push(DesiredResource {
            account,
            region,
            resource_type: "key",
            id: Some(&k.id),
            name: None,
            tags: &k.tags,
        });
    }
    for s in secrets {
        out.push(DesiredResource {
            account,
            region,
            resource_type: "secret",
            id: None,
            name: Some(&s.name),
            tags: &s.tags,
        });
    }
}
