//! `tagdrift schema` and the committed docs/desired-state.schema.json: the committed copy is the program's
//! output, and an independent validator (check-jsonschema, installed by .ci/chart-checks in its venv) accepts
//! the shipped example and the chart's desired states, and refuses the broken fixtures whose problem is one of
//! shape while leaving the ones that need the whole desired state to `tagdrift validate`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::daemon::harness::missing_tool;
use crate::util::cli::tagdrift;

const COMMITTED: &str = "docs/desired-state.schema.json";
const FIXTURES: &str = "crates/tagdrift-core/tests/fixtures/config/bad";

#[test]
fn the_committed_schema_is_the_programs_output() {
    let out = tagdrift().arg("schema").output().expect("run tagdrift schema");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).expect("utf-8");
    let committed = std::fs::read_to_string(root().join(COMMITTED)).expect("read the committed schema");
    assert!(
        printed == committed,
        "{COMMITTED} is not what `tagdrift schema` prints; regenerate it with \
         `cargo run -q -- schema > {COMMITTED}`"
    );
    let schema: Value = serde_json::from_str(&printed).expect("JSON");
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
}

#[test]
fn the_example_and_the_charts_desired_states_pass_an_independent_validator() {
    let Some(tools) = Tools::find() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let charts = tools.chart_desired_states(dir.path());
    // Every ci/ and examples/ values file that sets a desired state; a glob that found none would prove nothing.
    assert!(charts.len() >= 8, "chart desired states: {charts:?}");
    let mut files = vec![root().join("config/example.yaml")];
    files.extend(charts);
    let failed = tools.failing(&files);
    assert!(failed.is_empty(), "refused by the schema: {failed:#?}");
}

#[test]
fn shape_errors_fail_the_schema_and_whole_state_errors_are_left_to_validate() {
    let Some(tools) = Tools::find() else { return };
    // (fixture, refused by the schema): every fixture is listed, so a new one must be classified here.
    let table: &[(&str, bool)] = &[
        ("01-empty", true),
        ("02-only-comments", true),
        ("03-not-yaml", true),
        ("04-top-level-list", true),
        ("05-wrong-field-types", true),
        ("06-unknown-fields", true),
        ("07-missing-version", true),
        ("08-wrong-version", true),
        ("09-unknown-account", false),
        ("10-region-not-in-account", false),
        ("11-duplicate-resources", false),
        ("12-bad-regex", false),
        ("13-bad-glob", false),
        ("14-bad-cron", false),
        ("15-alibaba-reserved-keys", false),
        ("16-huawei-kms-tags", false),
        ("17-bad-project-id", true),
        ("18-inline-secret", true),
        ("19-many-problems", true),
        ("20-huawei-secret-tag-count", false),
        ("21-yaml11-booleans-and-numbers", true),
        ("22-cron-never-fires", false),
        ("23-reconcile-apply-without-match", true),
        ("24-reconcile-apply-empty-match", true),
        ("25-reconcile-unknown-mode", true),
        ("26-reconcile-max-changes-zero", true),
        ("27-reconcile-min-checks-too-large", true),
        ("28-reconcile-match-unknown-account", false),
    ];
    let on_disk: BTreeSet<String> = std::fs::read_dir(root().join(FIXTURES))
        .expect("fixtures")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".yaml").map(str::to_owned)
        })
        .collect();
    let listed: BTreeSet<String> = table.iter().map(|(name, _)| (*name).to_owned()).collect();
    assert_eq!(listed, on_disk, "classify every fixture");
    let files: Vec<PathBuf> = table
        .iter()
        .map(|(name, _)| root().join(FIXTURES).join(format!("{name}.yaml")))
        .collect();
    let failed = tools.failing(&files);
    for ((name, refused), file) in table.iter().zip(&files) {
        assert_eq!(failed.contains(file), *refused, "{name}: refused by the schema?");
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv of .ci/chart-checks: check-jsonschema and PyYAML.
struct Tools {
    venv: PathBuf,
}

impl Tools {
    fn find() -> Option<Tools> {
        let base = std::env::var_os("TAGDRIFT_CI_TOOLS")
            .map_or_else(|| PathBuf::from("/var/cache/tagdrift-ci"), PathBuf::from);
        let venv = base.join("venv/bin");
        if venv.join("check-jsonschema").is_file() && venv.join("python").is_file() {
            Some(Tools { venv })
        } else {
            missing_tool("check-jsonschema (the venv of .ci/chart-checks)");
            None
        }
    }

    /// The files of `files` that fail the committed schema (absolute paths).
    fn failing(&self, files: &[PathBuf]) -> BTreeSet<PathBuf> {
        let out = Command::new(self.venv.join("check-jsonschema"))
            .args(["--output-format", "json", "--schemafile"])
            .arg(root().join(COMMITTED))
            .args(files)
            .output()
            .expect("run check-jsonschema");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "check-jsonschema output is not JSON ({e}): {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let mut failed = BTreeSet::new();
        for key in ["errors", "parse_errors"] {
            for error in report[key].as_array().into_iter().flatten() {
                let name = error["filename"].as_str().expect("filename");
                failed.insert(PathBuf::from(name));
            }
        }
        assert_eq!(
            out.status.success(),
            failed.is_empty(),
            "check-jsonschema's status and report disagree: {report}"
        );
        failed
    }

    /// Writes the `desiredState` and each `desiredStateFiles` part of every chart ci/ and examples/ values file
    /// (a mapping, or YAML text as `--set-file` passes it) to `dir` as JSON, and returns the written files.
    fn chart_desired_states(&self, dir: &Path) -> Vec<PathBuf> {
        const EXTRACT: &str = r#"
import glob, json, os, sys, yaml
out = sys.argv[1]
for path in sorted(glob.glob("charts/tagdrift/ci/*.yaml") + glob.glob("charts/tagdrift/examples/*.yaml")):
    with open(path) as f:
        values = yaml.safe_load(f) or {}
    parts = [("", values.get("desiredState"))] + sorted((values.get("desiredStateFiles") or {}).items())
    for part, state in parts:
        if isinstance(state, str):
            state = yaml.safe_load(state)
        if state:
            name = os.path.basename(os.path.dirname(path)) + "-" + os.path.basename(path) + part + ".json"
            with open(os.path.join(out, name), "w") as f:
                json.dump(state, f)
            print(os.path.join(out, name))
"#;
        let out = Command::new(self.venv.join("python"))
            .current_dir(root())
            .args(["-c", EXTRACT])
            .arg(dir)
            .output()
            .expect("run python");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .lines()
            .map(PathBuf::from)
            .collect()
    }
}
