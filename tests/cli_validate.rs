//! `tagdrift validate` through the real binary: the shipped example is valid, and every broken fixture under
//! crates/tagdrift-core/tests/fixtures/config/bad/ fails with exactly the located messages its `.expected` file lists.

use std::fs;
use std::path::Path;
use std::process::Command;

fn tagdrift() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tagdrift"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.env_remove("RUST_LOG");
    cmd
}

#[test]
fn example_config_is_valid() {
    let out = tagdrift()
        .args(["validate", "--config", "config/example.yaml"])
        .output()
        .expect("run tagdrift");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("config/example.yaml: valid ("),
        "stdout: {stdout}"
    );
}

#[test]
fn every_broken_fixture_fails_with_its_located_messages() {
    // The fixtures belong to the core crate, whose unit tests check the same files; their `.expected` files name
    // them relative to that crate, so the binary runs from there.
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/tagdrift-core");
    let dir = core.join("tests/fixtures/config/bad");
    let mut fixtures: Vec<_> = fs::read_dir(&dir)
        .expect("read fixture dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    fixtures.sort();
    assert!(
        fixtures.len() >= 10,
        "expected at least ten broken configs, found {}",
        fixtures.len()
    );

    let mut failures = Vec::new();
    for yaml in &fixtures {
        let rel = yaml.strip_prefix(&core).unwrap().to_str().unwrap();
        let rel = rel.trim_start_matches('/');
        let expected = fs::read_to_string(yaml.with_extension("expected")).expect("expected file");
        let out = tagdrift()
            .current_dir(&core)
            .args(["validate", "--config", rel])
            .output()
            .expect("run tagdrift");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let problems = expected.lines().filter(|l| !l.is_empty()).count();
        let want = format!("{}{rel}: {problems} problem(s) found\n", expected);
        if out.status.code() != Some(1) || stderr != want {
            let diff = similar::TextDiff::from_lines(want.as_str(), stderr.as_ref())
                .unified_diff()
                .header("expected", "actual")
                .to_string();
            failures.push(format!("{rel}: exit {:?}\n{diff}", out.status.code()));
        }
        assert!(
            out.stdout.is_empty(),
            "{rel}: nothing belongs on stdout for an invalid file"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = tagdrift()
        .args(["validate", "--config", "does/not/exist.yaml"])
        .output()
        .expect("run tagdrift");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does/not/exist.yaml"), "stderr: {stderr}");
}
