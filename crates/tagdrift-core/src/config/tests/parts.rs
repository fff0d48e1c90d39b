//! A desired state split over several files: sections concatenated in file order, single sections in one file
//! only, and every problem naming its file (and the other file, when it concerns two places).

use crate::config::{DesiredState, from_parts};
use crate::vocab::Cloud;

const ACCOUNTS: &str = "version: 1\naccounts:\n  - {name: ali-prod, cloud: alibaba, regions: [cn-hangzhou]}\n\
schedule: {cron: '0 0 * * * *'}\nignores:\n  system_tags: {alibaba: ['acs:*']}\n  entries:\n    \
- {reason: one, keys: [a]}\n";
const TEAM_A: &str = "version: 1\nresources:\n  - account: ali-prod\n    region: cn-hangzhou\n    type: secret\n    \
name: a/db\n    tags: {owner: a}\nrules:\n  - {name: owner, required: [owner]}\n";
const TEAM_B: &str = "version: 1\ndefaults:\n  - {match: {name: 'b/*'}, tags: {team: b}}\nresources:\n  - account: ali-prod\n    \
region: cn-hangzhou\n    type: secret\n    name: b/db\nignores:\n  entries:\n    - {reason: two, keys: [b]}\n\
discovery:\n  - {match: {account: ali-prod}}\n";

/// (what the case is, its files, the problems expected: a prefix of each line).
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);

fn parts(files: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    files
        .iter()
        .map(|(name, text)| ((*name).to_string(), text.as_bytes().to_vec()))
        .collect()
}

fn errors(files: &[(&str, &str)]) -> Vec<String> {
    match from_parts(parts(files)) {
        Ok(_) => panic!("expected problems"),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn sections_are_concatenated_in_file_order() {
    let state: DesiredState = from_parts(parts(&[
        ("00-accounts.yaml", ACCOUNTS),
        ("a.yaml", TEAM_A),
        ("b.yaml", TEAM_B),
    ]))
    .expect("valid");
    assert_eq!(state.accounts.len(), 1);
    let names: Vec<&str> = state.resources.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(names, ["a/db", "b/db"]);
    assert_eq!(state.rules.len(), 1);
    assert_eq!(state.defaults.len(), 1);
    assert_eq!(state.discovery.len(), 1);
    assert_eq!(state.schedule.cron, "0 0 * * * *");
    let reasons: Vec<&str> = state.ignores.entries.iter().map(|i| i.reason.as_str()).collect();
    assert_eq!(reasons, ["one", "two"]);
    // The file that set system_tags wins over the defaults the other files' `ignores` imply.
    let alibaba: Vec<&str> = state.ignores.system_tags[&Cloud::Alibaba]
        .iter()
        .map(|g| g.pattern.as_str())
        .collect();
    assert_eq!(alibaba, ["acs:*"]);
    // The same files in another order: the resources follow the files.
    let state = from_parts(parts(&[
        ("b.yaml", TEAM_B),
        ("a.yaml", TEAM_A),
        ("00-accounts.yaml", ACCOUNTS),
    ]))
    .expect("valid");
    let names: Vec<&str> = state.resources.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(names, ["b/db", "a/db"]);
}

#[test]
fn problems_name_their_file_and_the_other_file() {
    let dup_resource =
        "version: 1\nresources:\n  - {account: ali-prod, region: cn-hangzhou, type: secret, name: a/db}\n";
    let table: &[Case<'_>] = &[
        (
            "a resource declared in two files",
            &[
                ("acc.yaml", ACCOUNTS),
                ("a.yaml", TEAM_A),
                ("z.yaml", dup_resource),
            ],
            &[
                "z.yaml:3:5: resources[0]: duplicate resource: secret 'a/db' in account 'ali-prod' region \
               'cn-hangzhou' is already declared at a.yaml:3",
            ],
        ),
        (
            "schedule in two files",
            &[
                ("acc.yaml", ACCOUNTS),
                ("s.yaml", "version: 1\nschedule: {concurrency: 2}\n"),
            ],
            &["s.yaml:2:1: schedule: schedule may be set in one file only; it is already set at acc.yaml:4"],
        ),
        (
            "system_tags in two files",
            &[
                ("acc.yaml", ACCOUNTS),
                (
                    "i.yaml",
                    "version: 1\nignores:\n  system_tags: {huawei: ['_sys_*']}\n",
                ),
            ],
            &[
                "i.yaml:3:3: ignores.system_tags: ignores.system_tags may be set in one file only; it is already \
               set at acc.yaml:6",
            ],
        ),
        (
            "a problem in the second file",
            &[
                ("acc.yaml", ACCOUNTS),
                (
                    "b.yaml",
                    "version: 1\nresources:\n  - {account: nope, region: r, type: key, id: k}\n",
                ),
            ],
            &["b.yaml:3:15: resources[0].account: unknown account 'nope' (known: ali-prod)"],
        ),
        (
            "no accounts anywhere",
            &[("a.yaml", "version: 1\n"), ("b.yaml", "version: 1\nrules: []\n")],
            &[
                "a.yaml:1:1: missing required field 'accounts': no file of the desired state declares any account",
            ],
        ),
        (
            "a file that is not YAML stops before references are checked",
            &[("a.yaml", TEAM_A), ("b.yaml", "version: [1\n")],
            &["b.yaml:2:1: "],
        ),
        (
            "every file needs the version",
            &[("acc.yaml", ACCOUNTS), ("b.yaml", "rules: []\n")],
            &["b.yaml:1:1: missing required field 'version'"],
        ),
    ];
    for (what, files, expected) in table {
        let got = errors(files);
        assert_eq!(got.len(), expected.len(), "{what}: {got:#?}");
        for (g, e) in got.iter().zip(expected.iter()) {
            assert!(g.starts_with(e), "{what}:\n got: {g}\nwant: {e}");
        }
    }
    let got = errors(&[
        ("acc.yaml", ACCOUNTS),
        ("x.yaml", &ACCOUNTS.replace("schedule", "daemon")),
    ]);
    assert!(
        got.iter().any(|g| g.starts_with(
            "x.yaml:3:12: accounts[0].name: duplicate account name 'ali-prod' (first at acc.yaml:3)"
        )),
        "{got:#?}"
    );
}
