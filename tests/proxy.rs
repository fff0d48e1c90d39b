//! The emulator behind an HTTP proxy setting: a client keeps the clouds' real endpoint names (plain HTTP) and
//! reaches the emulator as its proxy, as an official SDK or CLI can with its proxy option. The emulator then
//! sees the real host in the request line and `Host`, and the signature covers it, as on the cloud.

use crate::util::cli::{Emulator, check_with_env};

const INVENTORY: &str = r#"
alibaba:
  - name: ali
    access_key_id: testid
    access_key_secret: testsecret
    regions:
      cn-hangzhou:
        keys: [{id: key-proxy001, tags: {owner: platform}}]
        secrets: [{name: proxied, tags: {owner: web}}]
      cn-shanghai:
        keys: [{id: key-proxy002, tags: {owner: data}}]
huawei:
  - name: hw
    ak: testak
    sk: testsk
    projects:
      - region: cn-north-4
        project_id: 0123456789abcdef0123456789abcdef
        keys: [{id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: platform}}]
"#;

const DESIRED: &str = r#"version: 1
accounts:
  - name: ali
    cloud: alibaba
    regions: [cn-hangzhou, cn-shanghai]
    endpoint: "http://kms.{region}.aliyuncs.com"
    credentials:
      type: access_key
      access_key_id: {env: T_ALI_ID}
      access_key_secret: {env: T_ALI_SECRET}
  - name: hw
    cloud: huawei
    regions:
      - {name: cn-north-4, project_id: 0123456789abcdef0123456789abcdef}
    endpoint: "http://kms.{region}.myhuaweicloud.com"
    credentials:
      type: access_key
      ak: {env: T_HW_AK}
      sk: {env: T_HW_SK}
resources:
  - {account: ali, region: cn-hangzhou, type: key, id: key-proxy001, tags: {owner: platform}}
  - {account: ali, region: cn-hangzhou, type: secret, name: proxied, tags: {owner: web}}
  - {account: ali, region: cn-shanghai, type: key, id: key-proxy002, tags: {owner: data}}
  - {account: hw, region: cn-north-4, type: key, id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f, tags: {owner: platform}}
"#;

#[test]
fn real_endpoint_names_reach_the_emulator_through_the_proxy_setting() {
    let emu = Emulator::start(INVENTORY, &[]);
    let desired = emu.desired("desired.yaml", DESIRED);
    let proxy = emu.endpoint();
    let env = [
        ("HTTP_PROXY", proxy.as_str()),
        ("http_proxy", proxy.as_str()),
        ("NO_PROXY", ""),
        ("no_proxy", ""),
    ];
    let run = check_with_env(&desired, &["--format", "json"], &env);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["summary"]["in_sync"], 4, "{report:#}");
    // Every read went through the emulator, both regions of the Alibaba account included.
    let stats = emu.stats();
    assert!(emu.total(&stats, "alibaba", "ListTagResources") >= 2, "{stats:#}");
    assert_eq!(emu.total(&stats, "huawei", "ShowKmsTags"), 1, "{stats:#}");
}
