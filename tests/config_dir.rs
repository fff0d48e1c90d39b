//! A desired state split over a directory, through the real binary: `validate` and `check` read every `*.yaml`
//! of it as one desired state (a resource in one team's file names an account of another file), and a resource
//! declared in two files is refused with both files and lines named.

use crate::util::cli::{Emulator, check, run_with_env};

const INVENTORY: &str = r#"
alibaba:
  - name: ali
    access_key_id: testid
    access_key_secret: testsecret
    regions:
      cn-hangzhou:
        keys:
          - {id: key-sync0001, tags: {owner: platform}}
        secrets:
          - {name: db-password, tags: {owner: payments}}
"#;

const ACCOUNTS: &str = r#"version: 1
accounts:
  - name: ali
    cloud: alibaba
    regions: [cn-hangzhou]
    endpoint: "{endpoint}"
    credentials:
      type: access_key
      access_key_id: {env: T_ALI_ID}
      access_key_secret: {env: T_ALI_SECRET}
"#;
const KEYS: &str = "version: 1\nresources:\n  - {account: ali, region: cn-hangzhou, type: key, id: key-sync0001, \
                    tags: {owner: platform}}\n";
const SECRETS: &str = "version: 1\nresources:\n  - {account: ali, region: cn-hangzhou, type: secret, name: \
                       db-password, tags: {owner: payments}}\n";

#[test]
fn validate_and_check_read_a_directory_as_one_desired_state() {
    let emu = Emulator::start(INVENTORY, &[]);
    std::fs::create_dir(emu.dir.path().join("desired.d")).unwrap();
    emu.desired("desired.d/00-accounts.yaml", ACCOUNTS);
    emu.desired("desired.d/keys.yaml", KEYS);
    let secrets = emu.desired("desired.d/secrets.yaml", SECRETS);
    emu.desired("desired.d/README.txt", "not a part");
    let dir = emu.dir.path().join("desired.d");

    let valid = run_with_env("validate", &dir, &[], &[]);
    assert_eq!(valid.code, 0, "{}", valid.stderr);
    assert!(
        valid.stdout.contains(": valid (1 accounts, 2 resources"),
        "{}",
        valid.stdout
    );

    let run = check(&dir, &["--format", "json"]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["summary"]["in_sync"], 2);

    // The secret declared again in another team's file.
    let again = emu.desired("desired.d/zz-other-team.yaml", SECRETS);
    for command in ["validate", "check"] {
        let run = run_with_env(command, &dir, &[], &[]);
        assert_eq!(run.code, 1, "{command}: {}", run.stderr);
        let expected = format!(
            "{}:3:5: resources[0]: duplicate resource: secret 'db-password' in account 'ali' region 'cn-hangzhou' \
             is already declared at {}:3",
            again.display(),
            secrets.display()
        );
        assert!(run.stderr.contains(&expected), "{command}: {}", run.stderr);
    }
}
