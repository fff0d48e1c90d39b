use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use proptest::prelude::*;

use super::*;
use crate::vocab::{Cloud, ResourceType};

/// A valid file that the table tests extend with one section at a time.
const BASE: &str = "\
version: 1
accounts:
  - name: ali
    cloud: alibaba
    regions: [cn-hangzhou]
  - name: hw
    cloud: huawei
    regions:
      - {name: cn-north-4, project_id: 0123456789abcdef0123456789abcdef}
";

fn ok(text: &str) -> DesiredState {
    match parse(text, "t.yaml") {
        Ok(state) => state,
        Err(e) => panic!("expected a valid file, got:\n{e}\n--- file ---\n{text}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    match parse(text, "t.yaml") {
        Ok(_) => panic!("expected problems, the file is valid:\n{text}"),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Reads and validates a file as the program does (the program's own reader lives in the root crate).
fn load(path: &Path) -> Result<DesiredState, ConfigErrors> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    from_bytes(bytes, &path.display().to_string())
}

#[test]
fn example_file_is_valid_and_complete() {
    let state = match load(&manifest_dir().join("../../config/example.yaml")) {
        Ok(state) => state,
        Err(e) => panic!("config/example.yaml is invalid:\n{e}"),
    };
    assert_eq!(state.accounts.len(), 7);
    let kinds: Vec<&Credentials> = state.accounts.iter().map(|a| &a.credentials).collect();
    assert!(matches!(
        kinds[0],
        Credentials::AccessKey {
            security_token: Some(_),
            ..
        }
    ));
    assert!(matches!(kinds[1], Credentials::AlibabaRrsa { .. }));
    assert!(matches!(kinds[2], Credentials::AlibabaEcsRamRole { .. }));
    assert!(matches!(kinds[3], Credentials::Default));
    assert!(matches!(
        kinds[4],
        Credentials::AccessKey {
            security_token: None,
            ..
        }
    ));
    assert!(matches!(kinds[5], Credentials::HuaweiWorkloadIdentity { .. }));
    assert!(matches!(kinds[6], Credentials::HuaweiEcsMetadata { .. }));
    let hw = state.account("hw-prod").expect("hw-prod");
    assert_eq!(hw.batch_tag_read, BatchTagRead::Auto);
    assert_eq!(hw.rate_limits.get("key_tags"), Some(&50.0));
    assert_eq!(
        hw.region("cn-north-4").and_then(|r| r.project_id.as_deref()),
        Some("0123456789abcdef0123456789abcdef")
    );
    assert_eq!(
        state.account("ali-staging").and_then(|a| a.endpoint.as_deref()),
        Some("https://kms-vpc.cn-beijing.aliyuncs.com")
    );
    assert_eq!(state.resources.len(), 4);
    assert!(state.resources[1].allow_extra_tags);
    assert_eq!(state.resources[3].tags.get("env").map(String::as_str), Some(""));
    assert_eq!(state.defaults.len(), 2);
    assert_eq!(state.rules.len(), 4);
    assert!(state.rules[3].case_insensitive);
    assert!(state.rules[3].forbidden[0].is_match("TMP-x"));
    assert_eq!(state.discovery.len(), 2);
    assert!(!state.discovery[1].report_unmanaged);
    assert_eq!(state.ignores.entries.len(), 2);
    assert_eq!(
        state.ignores.entries[1].until,
        NaiveDate::from_ymd_opt(2026, 12, 31)
    );
    assert!(state.ignores.system_tags[&Cloud::Huawei].is_empty());
    assert_eq!(state.daemon.log_format, LogFormat::Json);
}

#[test]
fn defaults_apply_when_sections_are_absent() {
    let state = ok(BASE);
    assert_eq!(state.schedule.cron, "0 */10 * * * *");
    assert_eq!(state.schedule.check_timeout.as_secs(), 600);
    assert_eq!(state.schedule.request_timeout.as_secs(), 10);
    assert_eq!(state.schedule.max_attempts, 5);
    assert_eq!(state.schedule.concurrency, 8);
    assert_eq!(state.daemon.listen_address.to_string(), "0.0.0.0:9898");
    assert_eq!(state.daemon.log_format, LogFormat::Text);
    assert_eq!(state.daemon.max_resource_series, 1000);
    let patterns = |c: Cloud| -> Vec<String> {
        state.ignores.system_tags[&c]
            .iter()
            .map(|g| g.pattern.clone())
            .collect()
    };
    assert_eq!(patterns(Cloud::Alibaba), ["acs:*", "aliyun*"]);
    assert_eq!(patterns(Cloud::Huawei), ["_sys_*"]);
    assert!(state.ignores.system_tags[&Cloud::Alibaba][0].is_match("acs:kms:x"));
    assert_eq!(state.accounts[0].credentials, Credentials::Default);
    assert!(state.accounts[0].rate_limits.is_empty());
    assert!(state.resources.is_empty() && state.rules.is_empty());
}

#[test]
fn valid_values_are_normalized() {
    let state = ok(&format!(
        "{BASE}  - name: emu\n    cloud: alibaba\n    regions: [cn-hangzhou]\n    endpoint: http://127.0.0.1:8080/\n"
    ));
    assert_eq!(
        state.accounts[2].endpoint.as_deref(),
        Some("http://127.0.0.1:8080")
    );

    // Per-region VPC endpoints: the placeholder stays for the reader to fill in per region.
    let state = ok(&format!(
        "{BASE}  - name: vpc\n    cloud: alibaba\n    regions: [cn-hangzhou, cn-shanghai]\n    endpoint: https://kms-vpc.{{region}}.aliyuncs.com/\n"
    ));
    assert_eq!(
        state.accounts[2].endpoint.as_deref(),
        Some("https://kms-vpc.{region}.aliyuncs.com")
    );

    // batch_tag_read: auto when absent; the three spellings.
    assert_eq!(state.accounts[1].batch_tag_read, BatchTagRead::Auto);
    for (value, want) in [
        ("auto", BatchTagRead::Auto),
        ("true", BatchTagRead::Always),
        ("false", BatchTagRead::Never),
    ] {
        let state = ok(&BASE.replace(
            "  - name: hw\n",
            &format!("  - name: hw\n    batch_tag_read: {value}\n"),
        ));
        assert_eq!(state.accounts[1].batch_tag_read, want, "{value}");
    }

    let state = ok(&format!(
        "{BASE}rules:\n  - name: r\n    patterns: {{cc: '^CC-[0-9]+$'}}\n    forbidden: ['Tmp*']\n    case_insensitive: true\n"
    ));
    let rule = &state.rules[0];
    assert!(rule.patterns["cc"].regex.is_match("cc-12"));
    assert_eq!(rule.patterns["cc"].source, "^CC-[0-9]+$");
    assert!(rule.forbidden[0].is_match("tmp-x"));

    let state = ok(&format!(
        "{BASE}rules:\n  - name: r\n    patterns: {{cc: '^CC-[0-9]+$'}}\n    forbidden: ['Tmp*']\n"
    ));
    assert!(!state.rules[0].patterns["cc"].regex.is_match("cc-12"));
    assert!(!state.rules[0].forbidden[0].is_match("tmp-x"));

    let state = ok(&format!(
        "{BASE}resources:\n  - {{account: hw, region: cn-north-4, type: secret, name: db, tags: {{'a b': 'x/y', k: ''}}}}\n"
    ));
    let r = &state.resources[0];
    assert_eq!(
        (r.cloud, r.resource_type, r.id.as_str(), r.line),
        (Cloud::Huawei, ResourceType::Secret, "db", 11)
    );
    assert_eq!(r.tags.get("a b").map(String::as_str), Some("x/y"));
}

/// Each case appends `section` to [`BASE`] and expects exactly these problems (line numbers count from BASE's
/// first line; BASE has 9 lines).
#[test]
fn table_of_problems() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "unknown top-level field",
            "acounts: []\n",
            &[
                "t.yaml:10:1: unknown field 'acounts' (expected one of: version, accounts, resources, defaults, rules, \
               discovery, ignores, schedule, daemon, reconcile)",
            ],
        ),
        (
            "duplicate account",
            "  - {name: ali, cloud: alibaba, regions: [cn-beijing]}\n",
            &["t.yaml:10:12: accounts[2].name: duplicate account name 'ali' (first at line 3)"],
        ),
        (
            "account name and cloud",
            "  - {name: Ali_Prod, cloud: aws, regions: [cn-beijing]}\n",
            &[
                "t.yaml:10:12: accounts[2].name: invalid account name 'Ali_Prod' (expected 1 to 63 lowercase \
                 letters, digits, '-' or '_')",
                "t.yaml:10:29: accounts[2].cloud: unknown cloud 'aws' (expected alibaba or huawei)",
            ],
        ),
        (
            "alibaba region given as mapping, bad region id",
            "  - name: a2\n    cloud: alibaba\n    regions: [{name: x}, 'CN Hangzhou']\n",
            &[
                "t.yaml:12:15: accounts[2].regions[0]: alibaba regions are region ids like cn-hangzhou, found a mapping",
                "t.yaml:12:26: accounts[2].regions[1]: invalid region id 'CN Hangzhou' (expected lowercase letters \
                 and digits separated by '-', like cn-hangzhou)",
            ],
        ),
        (
            "huawei region given as string, duplicate region",
            "  - name: h2\n    cloud: huawei\n    regions:\n      - cn-north-4\n      - {name: cn-east-3, project_id: 0123456789abcdef0123456789abcdef}\n      - {name: cn-east-3, project_id: 0123456789abcdef0123456789abcdef}\n",
            &[
                "t.yaml:13:9: accounts[2].regions[0]: huawei regions need a name and a project_id, like {name: \
                 cn-north-4, project_id: <32 hex characters>}, found string 'cn-north-4'",
                "t.yaml:15:9: accounts[2].regions[2]: duplicate region 'cn-east-3' (first at line 14)",
            ],
        ),
        (
            "endpoint",
            "  - {name: e, cloud: alibaba, regions: [cn-hangzhou], endpoint: 'ftp://x'}\n  - {name: f, cloud: alibaba, regions: [cn-hangzhou], endpoint: 'http://x/kms?a=1'}\n  - {name: g, cloud: alibaba, regions: [cn-hangzhou], endpoint: 'http://x:{region}'}\n  - {name: h, cloud: alibaba, regions: [cn-hangzhou], endpoint: 'http://{region}.x/{region}'}\n",
            &[
                "t.yaml:10:65: accounts[2].endpoint: invalid URL 'ftp://x': the scheme must be http or https, not 'ftp'",
                "t.yaml:11:65: accounts[3].endpoint: invalid URL 'http://x/kms?a=1': no path, query or fragment is \
                 allowed after the host",
                "t.yaml:12:65: accounts[4].endpoint: invalid URL 'http://x:{region}': invalid port '{region}' \
                 (expected 1 to 65535)",
                "t.yaml:13:65: accounts[5].endpoint: invalid URL 'http://{region}.x/{region}': no path, query or \
                 fragment is allowed after the host",
            ],
        ),
        (
            "rate limits",
            "  - name: r\n    cloud: alibaba\n    regions: [cn-hangzhou]\n    rate_limits: {kms_read: 80, key_tags: 5, secrets_read: 0, kms_write: fast}\n",
            &[
                "t.yaml:13:29: accounts[2].rate_limits.kms_read: requests per second must be greater than 0 and at \
                 most 50 (the documented quota), found 80",
                "t.yaml:13:33: accounts[2].rate_limits.key_tags: unknown rate-limit group 'key_tags' for alibaba \
                 accounts (expected one of: kms_read, secrets_read, kms_write)",
                "t.yaml:13:60: accounts[2].rate_limits.secrets_read: requests per second must be greater than 0 and \
                 at most 50 (the documented quota), found 0",
                "t.yaml:13:74: accounts[2].rate_limits.kms_write: invalid type: string \"fast\", expected a number",
            ],
        ),
        (
            "batch_tag_read on alibaba",
            "  - {name: b, cloud: alibaba, regions: [cn-hangzhou], batch_tag_read: true}\n",
            &["t.yaml:10:71: accounts[2].batch_tag_read: batch_tag_read applies only to huawei accounts"],
        ),
        (
            "batch_tag_read neither auto nor a boolean",
            "  - {name: h, cloud: huawei, regions: [{name: cn-north-4, project_id: 0123456789abcdef0123456789abcdef}], \
             batch_tag_read: sometimes}\n",
            &[
                "t.yaml:10:123: accounts[2].batch_tag_read: expected auto, true or false, found string 'sometimes'",
            ],
        ),
    ];
    run_cases(BASE, cases);
}

/// More sections appended to [`BASE`], one problem per located node, every problem of a section reported.
#[test]
fn table_of_section_problems() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "credentials: inline, both sources, unknown fields",
            "  - name: c1\n    cloud: alibaba\n    regions: [cn-hangzhou]\n    credentials:\n      type: access_key\n      access_key_id: LTAI5tSECRETVALUE\n      access_key_secret: {env: A, file: /x}\n      security_token: {value: x}\n      ak: {env: X}\n",
            &[
                "t.yaml:15:22: accounts[2].credentials.access_key_id: inline credentials are not accepted; use {env: VARIABLE} or {file: PATH} so the file holds no secret",
                "t.yaml:16:26: accounts[2].credentials.access_key_secret: give exactly one of env or file, like {env: VARIABLE} or {file: PATH}",
                "t.yaml:17:24: accounts[2].credentials.security_token: unknown field 'value' (expected one of: env, file)",
                "t.yaml:18:7: accounts[2].credentials: unknown field 'ak' (expected one of: type, access_key_id, access_key_secret, security_token)",
            ],
        ),
        (
            "credentials: types per cloud, urls, env names, project id",
            "  - name: c2\n    cloud: huawei\n    regions: [{name: cn-north-4, project_id: 0123456789ABCDEF0123456789abcdef}]\n    credentials: {type: rrsa}\n  - name: c3\n    cloud: huawei\n    regions: [{name: cn-north-4, project_id: 0123456789abcdef0123456789abcdef}]\n    credentials: {type: ecs_metadata, metadata_endpoint: 'http://169.254.169.254/latest'}\n  - name: c4\n    cloud: alibaba\n    regions: [cn-hangzhou]\n    credentials: {role_name: x}\n  - name: c5\n    cloud: alibaba\n    regions: [cn-hangzhou]\n    credentials: {type: access_key, access_key_id: {env: 1BAD}, access_key_secret: {file: ''}}\n",
            &[
                "t.yaml:12:46: accounts[2].regions[0].project_id: invalid project_id '0123456789ABCDEF0123456789abcdef' (expected 32 lowercase hexadecimal characters)",
                "t.yaml:13:25: accounts[2].credentials.type: credentials type 'rrsa' is not available for huawei accounts (expected default, access_key, workload_identity or ecs_metadata)",
                "t.yaml:17:58: accounts[3].credentials.metadata_endpoint: invalid URL 'http://169.254.169.254/latest': no path, query or fragment is allowed after the host",
                "t.yaml:21:18: accounts[4].credentials: missing required field 'type'",
                "t.yaml:25:58: accounts[5].credentials.access_key_id.env: invalid environment variable name '1BAD' (expected letters, digits and '_', not starting with a digit)",
                "t.yaml:25:91: accounts[5].credentials.access_key_secret.file: must not be empty",
            ],
        ),
        (
            "resources: references and identifiers",
            "resources:\n  - {account: nope, region: cn-hangzhou, type: key, id: k1}\n  - {account: ali, region: cn-beijing, type: key, id: k1}\n  - {account: ali, region: cn-hangzhou, type: key, name: k1}\n  - {account: ali, region: cn-hangzhou, type: secret, id: s1}\n  - {account: hw, region: cn-north-4, type: key, id: not-a-uuid}\n  - {account: ali, region: cn-hangzhou, type: disk, id: d}\n",
            &[
                "t.yaml:11:15: resources[0].account: unknown account 'nope' (known: ali, hw)",
                "t.yaml:12:28: resources[1].region: region 'cn-beijing' is not configured for account 'ali' (configured: cn-hangzhou)",
                "t.yaml:13:52: resources[2].name: keys are identified by 'id' (the KeyId) or 'alias', not 'name'",
                "t.yaml:14:55: resources[3].id: secrets are identified by 'name' (the secret name), not 'id'",
                "t.yaml:15:54: resources[4].id: invalid huawei key id 'not-a-uuid' (expected a UUID like 0d0466b0-e727-4d9c-b35d-f84bb474a37f)",
                "t.yaml:16:47: resources[5].type: unknown resource type 'disk' (expected key or secret)",
            ],
        ),
        (
            "resources: keys by alias",
            "resources:\n  - {account: ali, region: cn-hangzhou, type: key, alias: alias/app}\n  - {account: ali, region: cn-hangzhou, type: key, alias: app}\n  - {account: ali, region: cn-hangzhou, type: key, alias: alias/acs/x}\n  - {account: ali, region: cn-hangzhou, type: key, id: k1, alias: alias/b}\n  - {account: ali, region: cn-hangzhou, type: secret, name: s, alias: alias/c}\n  - {account: hw, region: cn-north-4, type: key, alias: 'bad alias!'}\n  - {account: ali, region: cn-hangzhou, type: key, id: alias/app}\n  - {account: hw, region: cn-north-4, type: key, alias: 'app:db/x_1-2'}\n",
            &[
                "t.yaml:12:59: resources[1].alias: invalid alibaba alias 'app' (expected alias/ followed by 1 to 255 letters, digits, '_', '-' or '/', like alias/payments-db)",
                "t.yaml:13:59: resources[2].alias: invalid alibaba alias 'alias/acs/x' (the prefix alias/acs is reserved for cloud services)",
                "t.yaml:14:52: resources[3].id: give either id or alias, not both",
                "t.yaml:15:64: resources[4].alias: secrets are identified by 'name' (the secret name); only keys have aliases",
                "t.yaml:16:57: resources[5].alias: invalid huawei key alias 'bad alias!' (expected 1 to 255 letters, digits, ':', '/', '_' or '-')",
                "t.yaml:17:5: resources[6]: duplicate resource: key 'alias/app' in account 'ali' region 'cn-hangzhou' is already declared at line 11",
                "t.yaml:17:56: resources[6].id: 'alias/app' is an alias; write it as alias: alias/app",
            ],
        ),
        (
            "resources: duplicates and tag value types",
            "resources:\n  - account: ali\n    region: cn-hangzhou\n    type: key\n    id: k1\n  - account: ali\n    region: cn-hangzhou\n    type: key\n    id: k1\n    tags: {acs:x: a, enabled: true, n: 8, e: , on: yes, 'a b': c, x: [1]}\n",
            &[
                "t.yaml:15:5: resources[1]: duplicate resource: key 'k1' in account 'ali' region 'cn-hangzhou' is already declared at line 11",
                "t.yaml:19:12: resources[1].tags[\"acs:x\"]: tag key 'acs:x' starts with 'acs:', which alibaba reserves for system tags",
                "t.yaml:19:31: resources[1].tags.enabled: tag value must be a string, found boolean true; tags are strings, so quote it: \"true\"",
                "t.yaml:19:37: resources[1].tags.n: tag key 'n' is a boolean to YAML 1.1 tools; quote it (\"n\") so every tool reads a string",
                "t.yaml:19:40: resources[1].tags.n: tag value must be a string, found integer 8; tags are strings, so quote it: \"8\"",
                "t.yaml:19:44: resources[1].tags.e: tag value must be a string, found null (write \"\" for an empty string)",
                "t.yaml:19:48: resources[1].tags.on: tag key 'on' is a boolean to YAML 1.1 tools; quote it (\"on\") so every tool reads a string",
                "t.yaml:19:52: resources[1].tags.on: tag value 'yes' is a boolean to YAML 1.1 tools; quote it (\"yes\") so every tool reads a string",
                "t.yaml:19:57: resources[1].tags[\"a b\"]: tag key 'a b' contains ' ', which alibaba tags do not allow (letters, digits and / \\ _ - . + = : @ only)",
                "t.yaml:19:70: resources[1].tags.x: tag value must be a string, found a sequence",
            ],
        ),
        (
            "resources: huawei key tag limits and count with defaults",
            "resources:\n  - account: hw\n    region: cn-north-4\n    type: key\n    id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f\n    tags: {aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: v, k*: v, k: '<x>', t1: a, t2: a, t3: a, t4: a, t5: a, t6: a, t7: a}\ndefaults:\n  - tags: {d1: x}\n  - match: {cloud: huawei, type: key}\n    tags: {d2: x, t1: y}\n",
            &[
                "t.yaml:15:11: resources[0].tags: 10 declared tags and 1 inherited from defaults make 11; huawei keys allow at most 10 tags",
                "t.yaml:15:12: resources[0].tags.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: tag key is 42 characters long; huawei keys allow at most 36",
                "t.yaml:15:59: resources[0].tags[\"k*\"]: tag key 'k*' contains '*', which huawei keys do not allow (no control characters, *, <, >, \\ or =)",
                "t.yaml:15:69: resources[0].tags.k: tag value '<x>' contains '<', which huawei keys do not allow (no control characters, *, <, >, \\ or =)",
                "t.yaml:19:23: defaults[1].tags.t1: tag value 'y' is a boolean to YAML 1.1 tools; quote it (\"y\") so every tool reads a string",
            ],
        ),
        (
            "defaults: tag rules per matched cloud, selectors",
            "defaults:\n  - match: {account: 'hw*'}\n    tags: {'_sys_x': v, 'acs:y': v}\n  - match: {cloud: alibaba}\n    tags: {}\n  - tags: {'k=v': x}\n  - match: {account: ali, cloud: huawei, region: '[', name: 'a{b'}\n    tags: {a: b}\n",
            &[
                "t.yaml:12:12: defaults[0].tags._sys_x: tag key '_sys_x' starts with '_sys_', which huawei reserves for system tags",
                "t.yaml:14:11: defaults[1].tags: defaults must declare at least one tag",
                "t.yaml:15:12: defaults[2].tags[\"k=v\"]: tag key 'k=v' contains '=', which huawei keys do not allow (no control characters, *, <, >, \\ or =)",
                "t.yaml:16:22: defaults[3].match.account: account 'ali' is on alibaba, so this selector (cloud: huawei) matches nothing",
                "t.yaml:16:50: defaults[3].match.region: invalid glob '[': unclosed character class; missing ']'",
                "t.yaml:16:61: defaults[3].match.name: invalid glob 'a{b': unclosed alternate group; missing '}' (maybe escape '{' with '[{]'?)",
            ],
        ),
        (
            "rules",
            "rules:\n  - name: r1\n  - name: r1\n    required: [owner, owner, 'acs:x']\n  - name: r3\n    patterns: {cc: '^cc-[0-9{4}$'}\n    forbidden: ['tmp[']\n    allowed_values: {env: [], tier: [gold, true]}\n  - match: {account: nope}\n    required: [x]\n",
            &[
                "t.yaml:11:5: rules[0]: rule has no checks (give at least one of required, allowed_values, patterns, forbidden)",
                "t.yaml:12:11: rules[1].name: duplicate rule name 'r1' (first at line 11)",
                "t.yaml:13:23: rules[1].required[1]: tag key 'owner' is listed twice",
                "t.yaml:13:30: rules[1].required[2]: tag key 'acs:x' starts with 'acs:', which alibaba reserves for system tags",
                "t.yaml:15:20: rules[2].patterns.cc: invalid regex '^cc-[0-9{4}$': unclosed character class",
                "t.yaml:16:17: rules[2].forbidden[0]: invalid glob 'tmp[': unclosed character class; missing ']'",
                "t.yaml:17:27: rules[2].allowed_values.env: list at least one allowed value",
                "t.yaml:17:44: rules[2].allowed_values.tier[1]: tag value must be a string, found boolean true; tags are strings, so quote it: \"true\"",
                "t.yaml:18:5: rules[3]: missing required field 'name'",
                "t.yaml:18:22: rules[3].match.account: unknown account 'nope' (known: ali, hw)",
            ],
        ),
        (
            "discovery and ignores",
            "discovery:\n  - match: {type: keys}\n    report_unmanaged: maybe\n  - {}\nignores:\n  system_tags: {alibaba: 'acs:*', aws: []}\n  entries:\n    - keys: ['ack.*']\n    - reason: ''\n      until: 2026-02-30\n    - reason: ok\n      until: 2026-1-1\n",
            &[
                "t.yaml:11:19: discovery[0].match.type: unknown resource type 'keys' (expected key or secret)",
                "t.yaml:12:23: discovery[0].report_unmanaged: invalid type: string \"maybe\", expected a boolean",
                "t.yaml:15:26: ignores.system_tags.alibaba: expected a sequence, found string 'acs:*'",
                "t.yaml:15:35: ignores.system_tags: unknown field 'aws' (expected one of: alibaba, huawei)",
                "t.yaml:17:7: ignores.entries[0]: missing required field 'reason'",
                "t.yaml:18:15: ignores.entries[1].reason: must not be empty",
                "t.yaml:19:14: ignores.entries[1].until: invalid date '2026-02-30' (expected YYYY-MM-DD, like 2026-12-31)",
                "t.yaml:21:14: ignores.entries[2].until: invalid date '2026-1-1' (expected YYYY-MM-DD, like 2026-12-31)",
            ],
        ),
        (
            "schedule and daemon",
            "schedule:\n  cron: '*/5 * * * *'\n  check_timeout_seconds: 0\n  request_timeout_seconds: 700\n  max_attempts: 11\n  concurrency: -1\n  jitter: 1\ndaemon:\n  listen_address: ':9898'\n  log_format: xml\n  max_resource_series: 1.5\n",
            &[
                "t.yaml:11:9: schedule.cron: invalid cron expression '*/5 * * * *': Invalid pattern: Pattern must have 6 or 7 fields when seconds are required and years are optional",
                "t.yaml:12:26: schedule.check_timeout_seconds: must be from 1 to 86400, found 0",
                "t.yaml:14:17: schedule.max_attempts: must be from 1 to 10, found 11",
                "t.yaml:15:16: schedule.concurrency: invalid value: integer `-1`, expected a non-negative integer",
                "t.yaml:16:3: schedule: unknown field 'jitter' (expected one of: cron, check_timeout_seconds, request_timeout_seconds, max_attempts, concurrency)",
                "t.yaml:18:19: daemon.listen_address: invalid listen address ':9898' (expected IP:PORT, like 0.0.0.0:9898 or [::]:9898)",
                "t.yaml:19:15: daemon.log_format: unknown log format 'xml' (expected text or json)",
                "t.yaml:20:24: daemon.max_resource_series: invalid type: floating point `1.5`, expected a non-negative integer",
            ],
        ),
        (
            "request timeout above check timeout",
            "schedule:\n  check_timeout_seconds: 60\n  request_timeout_seconds: 120\n",
            &[
                "t.yaml:12:28: schedule.request_timeout_seconds: request_timeout_seconds (120) must not exceed check_timeout_seconds (60)",
            ],
        ),
        (
            "duplicate top-level key",
            "version: 2\n",
            &["t.yaml:10:1: duplicate key 'version' (first at line 1)"],
        ),
    ];
    run_cases(BASE, cases);
}

#[test]
fn table_of_document_problems() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "version as a string",
            "version: '1'\naccounts: []\n",
            &[
                "t.yaml:1:10: version: expected the integer 1, found string '1'",
                "t.yaml:2:11: accounts: at least one account is required",
            ],
        ),
        (
            "accounts missing, null document parts",
            "version: 1\nresources:\n",
            &["t.yaml:1:1: missing required field 'accounts'"],
        ),
        (
            "scalar at the top level",
            "just text\n",
            &[
                "t.yaml:1:1: expected a mapping at the top level (with version, accounts, ...), found string 'just text'",
            ],
        ),
        (
            "document marker only",
            "---\n",
            &[
                "t.yaml: the file holds no YAML document (it is empty or only comments); expected a mapping with at \
             least version and accounts",
            ],
        ),
        (
            "unquoted cron starting with *",
            "version: 1\naccounts: [{name: a, cloud: alibaba, regions: [cn-hangzhou]}]\nschedule: {cron: */5 * * * * *}\n",
            &["t.yaml:3:18: invalid YAML: while parsing node, found unknown anchor"],
        ),
    ];
    run_cases("", cases);
}

#[test]
fn endpoints() {
    let cases: &[(&str, Result<&str, &str>)] = &[
        ("http://127.0.0.1:8080", Ok("http://127.0.0.1:8080")),
        (
            "https://kms.cn-hangzhou.aliyuncs.com/",
            Ok("https://kms.cn-hangzhou.aliyuncs.com"),
        ),
        ("http://[::1]:9000/", Ok("http://[::1]:9000")),
        ("http://[::1]", Ok("http://[::1]")),
        (
            "127.0.0.1:8080",
            Err("expected http:// or https:// followed by a host"),
        ),
        ("HTTP://x", Err("the scheme must be http or https, not 'HTTP'")),
        ("http://", Err("the host must be a name or an IP address")),
        ("http://:80", Err("the host must be a name or an IP address")),
        ("http://x:0", Err("invalid port '0' (expected 1 to 65535)")),
        (
            "http://x:65536",
            Err("invalid port '65536' (expected 1 to 65535)"),
        ),
        ("http://x:+80", Err("invalid port '+80' (expected 1 to 65535)")),
        ("http://user:pw@x", Err("credentials in the URL are not allowed")),
        (
            "http://x//",
            Err("no path, query or fragment is allowed after the host"),
        ),
        (
            "http://x#f",
            Err("no path, query or fragment is allowed after the host"),
        ),
        ("http://[zz]:1", Err("'zz' is not an IPv6 address")),
        ("http://[::1]x", Err("expected ':' and a port after ']'")),
        ("http://a b", Err("the host must be a name or an IP address")),
    ];
    for (input, want) in cases {
        assert_eq!(
            endpoint_url(input).as_deref(),
            want.map_err(str::to_string).as_deref(),
            "{input}"
        );
    }
}

#[test]
fn cron_is_checked_like_the_scheduler() {
    for ok in [
        "0 */10 * * * *",
        "0 0 3 * * MON-FRI",
        "*/30 * * * * *",
        "0 0 0 1 1 * 2030",
    ] {
        assert_eq!(check_cron(ok), Ok(()), "{ok}");
    }
    for bad in ["*/10 * * * *", "", "61 * * * * *", "0 0 25 * * *", "not cron"] {
        let err = check_cron(bad).expect_err(bad);
        assert!(
            !err.is_empty() && !err.ends_with('.') && !err.contains('\n'),
            "{bad}: {err}"
        );
    }
}

#[test]
fn cron_that_never_fires_is_refused() {
    // February 29 fires in leap years only, and day 31 only in the months that have one.
    for rare in ["0 0 0 29 2 *", "0 0 0 31 * *", "0 0 12 29 2 MON"] {
        assert_eq!(check_cron(rare), Ok(()), "{rare}");
    }
    for never in ["0 0 0 31 2 *", "0 0 0 30 2 *", "0 0 0 31 4,6,9,11 *"] {
        assert_eq!(
            check_cron(never),
            Err(
                "it never fires: no date matches its day of month, month, day of week and year together"
                    .to_string()
            ),
            "{never}"
        );
    }
}

/// `accounts` entries named `a0` to `a{n-1}`, for the tests of files with many accounts.
fn many_accounts(n: usize) -> String {
    let mut text = String::from("version: 1\naccounts:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - {{name: a{i}, cloud: alibaba, regions: [cn-hangzhou]}}\n"
        ));
    }
    text
}

#[test]
fn accounts_are_found_by_name_among_thousands() {
    let n = 5000;
    let mut text = many_accounts(n);
    text.push_str("  - {name: a4321, cloud: alibaba, regions: [cn-hangzhou]}\n");
    text.push_str("resources:\n");
    text.push_str("  - {account: a4999, region: cn-hangzhou, type: key, id: k1}\n");
    text.push_str("  - {account: a5000, region: cn-hangzhou, type: key, id: k2}\n");
    text.push_str("rules:\n  - {name: r, match: {account: a0, cloud: huawei}, required: [owner]}\n");
    let first = n + 1;
    assert_eq!(
        errors(&text),
        [
            format!(
                "t.yaml:{}:12: accounts[{n}].name: duplicate account name 'a4321' (first at line {})",
                n + 3,
                4321 + 3
            ),
            format!(
                "t.yaml:{}:15: resources[1].account: unknown account 'a5000' (known: {} and {} more)",
                first + 5,
                (0..20).map(|i| format!("a{i}")).collect::<Vec<_>>().join(", "),
                n - 20
            ),
            format!(
                "t.yaml:{}:32: rules[0].match.account: account 'a0' is on alibaba, so this selector (cloud: huawei) matches nothing",
                first + 7
            ),
        ]
    );
}

#[test]
fn selectors_pick_tag_rules_from_configured_accounts() {
    // A default for every resource must fit every cloud that has an account; Huawei keys are the strictest.
    let long_key = "k".repeat(40);
    let text = format!(
        "{BASE}defaults:\n  - tags: {{{long_key}: v}}\n  - match: {{cloud: alibaba}}\n    tags: {{{long_key}: v}}\n  - match: {{account: 'hw*', type: secret}}\n    tags: {{{long_key}: v}}\n"
    );
    assert_eq!(
        errors(&text),
        [format!(
            "t.yaml:11:12: defaults[0].tags.{long_key}: tag key is 40 characters long; huawei keys allow at most 36"
        )]
    );
    // Only Alibaba accounts: Huawei limits do not apply.
    let alibaba_only = "version: 1\naccounts: [{name: a, cloud: alibaba, regions: [cn-hangzhou]}]\n";
    ok(&format!("{alibaba_only}defaults:\n  - tags: {{{long_key}: v}}\n"));
}

/// Parses `prefix` + each case's text and compares every problem, collecting all mismatches.
fn run_cases(prefix: &str, cases: &[(&str, &str, &[&str])]) {
    let mut failures = Vec::new();
    for (name, section, want) in cases {
        let text = format!("{prefix}{section}");
        let got: Vec<String> = match parse(&text, "t.yaml") {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(ToString::to_string).collect(),
        };
        if got != *want {
            failures.push(format!("case {name:?}:\n  want: {want:#?}\n  got:  {got:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs every broken file under tests/fixtures/config/bad and compares the problems with the `.expected`
/// sibling, line for line.
#[test]
fn bad_fixtures() {
    let dir = Path::new("tests/fixtures/config/bad");
    let mut files: Vec<PathBuf> = std::fs::read_dir(manifest_dir().join(dir))
        .expect("fixture directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 14,
        "expected at least 14 bad fixtures, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().expect("file name");
        // Relative to the crate root, as the binary prints them when run from there.
        let relative = dir.join(name);
        let expected_path = file.with_extension("expected");
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let got = match std::panic::catch_unwind(|| load(&manifest_dir().join(&relative))) {
            Ok(Ok(_)) => "(the file is valid)\n".to_string(),
            Ok(Err(errors)) => {
                // `load` names the file as given; show it relative to the crate root.
                let absolute = manifest_dir().join(&relative).display().to_string();
                format!("{errors}\n").replace(&absolute, &relative.display().to_string())
            }
            Err(_) => "(panicked)\n".to_string(),
        };
        if got != expected {
            let diff = similar::TextDiff::from_lines(&expected, &got)
                .unified_diff()
                .header(&expected_path.display().to_string(), "actual")
                .to_string();
            failures.push(diff);
        }
    }
    assert!(
        failures.is_empty(),
        "fixture mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn inline_credentials_are_never_echoed() {
    let text = format!(
        "{BASE}  - name: c\n    cloud: huawei\n    regions: [{{name: cn-north-4, project_id: 0123456789abcdef0123456789abcdef}}]\n    credentials:\n      type: access_key\n      ak: SECRET-AK-1\n      sk: [SECRET-SK-2]\n      security_token: {{value: SECRET-TOKEN-3}}\n"
    );
    let problems = errors(&text);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    for p in &problems {
        assert!(!p.contains("SECRET"), "a credential leaked into: {p}");
    }
}

#[test]
fn invalid_utf8_is_reported_with_its_position() {
    let err = from_bytes(b"version: 1\naccounts: [\xff]\n".to_vec(), "bad.yaml").expect_err("invalid utf-8");
    assert_eq!(err.code(), "config_invalid");
    assert_eq!(err.to_string(), "bad.yaml:2:12: the file is not valid UTF-8");
}

#[test]
fn error_display_forms() {
    let base = ConfigError {
        kind: ErrorKind::Invalid,
        file: "f.yaml".into(),
        line: Some(3),
        column: Some(5),
        path: "accounts[0].name".into(),
        message: "bad".into(),
    };
    assert_eq!(base.to_string(), "f.yaml:3:5: accounts[0].name: bad");
    let no_path = ConfigError {
        path: String::new(),
        ..base.clone()
    };
    assert_eq!(no_path.to_string(), "f.yaml:3:5: bad");
    let no_position = ConfigError {
        line: None,
        column: None,
        ..base.clone()
    };
    assert_eq!(no_position.to_string(), "f.yaml: accounts[0].name: bad");
    let all = ConfigErrors(vec![base, no_path]);
    assert_eq!(
        all.to_string(),
        "f.yaml:3:5: accounts[0].name: bad\nf.yaml:3:5: bad"
    );
    assert_eq!(all.code(), "config_invalid");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check_never_panics(&text)?;
    }

    #[test]
    fn yaml_ish_documents_never_panic(text in yaml_document()) {
        check_never_panics(&text)?;
    }

    /// Small edits of the complete example reach the deep checks that random documents rarely get to.
    #[test]
    fn edited_example_never_panics(edits in prop::collection::vec(edit(), 1..4)) {
        let mut lines: Vec<String> = EXAMPLE.lines().map(str::to_string).collect();
        for (op, at, word) in edits {
            let i = at.index(lines.len());
            match op {
                0 => {
                    lines.remove(i);
                }
                1 => {
                    let line = lines[i].clone();
                    lines.insert(i, line);
                }
                2 => {
                    // Replace the value after the first ": ", keeping the key and indentation.
                    if let Some(colon) = lines[i].find(": ") {
                        lines[i].truncate(colon + 2);
                        lines[i].push_str(word);
                    }
                }
                _ => {
                    let line = &mut lines[i];
                    let mut cut = line.len() / 2;
                    while !line.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    line.insert_str(cut, word);
                }
            }
        }
        check_never_panics(&lines.join("\n"))?;
    }
}

const EXAMPLE: &str = include_str!("../../../../config/example.yaml");

fn edit() -> impl Strategy<Value = (u8, prop::sample::Index, &'static str)> {
    (0u8..4, any::<prop::sample::Index>(), prop::sample::select(WORDS))
}

fn check_never_panics(text: &str) -> Result<(), TestCaseError> {
    if let Err(errors) = parse(text, "p.yaml") {
        prop_assert!(!errors.is_empty());
        for e in errors.iter() {
            prop_assert!(!e.message.trim().is_empty(), "empty message in {e:?}");
            prop_assert!(!e.to_string().contains('\n'), "multi-line problem {e:?}");
        }
    }
    Ok(())
}

/// Words that make generated documents hit the schema: field names, enum values and tricky scalars.
const WORDS: &[&str] = &[
    "version",
    "accounts",
    "resources",
    "defaults",
    "rules",
    "discovery",
    "ignores",
    "schedule",
    "daemon",
    "reconcile",
    "mode",
    "dry_run",
    "apply",
    "max_changes_per_check",
    "min_consecutive_checks",
    "name",
    "cloud",
    "regions",
    "endpoint",
    "credentials",
    "rate_limits",
    "batch_tag_read",
    "project_id",
    "type",
    "access_key",
    "access_key_id",
    "access_key_secret",
    "ak",
    "sk",
    "env",
    "file",
    "rrsa",
    "account",
    "region",
    "id",
    "tags",
    "allow_extra_tags",
    "match",
    "required",
    "allowed_values",
    "patterns",
    "forbidden",
    "case_insensitive",
    "report_unmanaged",
    "system_tags",
    "entries",
    "keys",
    "reason",
    "until",
    "cron",
    "max_attempts",
    "concurrency",
    "listen_address",
    "log_format",
    "kms_read",
    "key_tags",
    "alibaba",
    "huawei",
    "key",
    "secret",
    "ali",
    "hw",
    "cn-hangzhou",
    "cn-north-4",
    "1",
    "0",
    "-1",
    "true",
    "yes",
    "~",
    "''",
    "'*'",
    "'['",
    "'(('",
    "acs:x",
    "_sys_x",
    "2026-02-30",
    "'0 * * * * *'",
    "0123456789abcdef0123456789abcdef",
    "http://127.0.0.1:8080",
    "9999999999999999999999",
    ".nan",
];

fn yaml_value() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(WORDS).prop_map(str::to_string);
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((prop::sample::select(WORDS), inner), 0..6).prop_map(|entries| {
                let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    })
}

fn yaml_document() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(WORDS), yaml_value()), 0..10).prop_map(|entries| {
        entries
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect::<String>()
    })
}

mod parts;
