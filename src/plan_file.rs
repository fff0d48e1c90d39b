//! The files of saved plans: the desired state read together with its SHA-256 (the plan records it, `apply`
//! compares it), a plan written atomically (a temporary file in the same directory, then a rename, so a reader
//! never sees half a plan) and a plan read back. The format and its checks are `tagdrift_core`'s
//! ([`tagdrift_core::reconcile::saved`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use tagdrift_core::config::{self, ConfigErrors, DesiredState};
use tagdrift_core::reconcile::saved::{self, PlanError, SavedPlan};

use crate::desired;

/// Largest plan file read: a plan of 100,000 resources with ten changes each stays well below it.
pub const MAX_PLAN_BYTES: u64 = 512 * 1024 * 1024;

/// Why a plan file could not be read or written. The caller names the file.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    /// Displays as the read error does (`cannot read file: ...`, `not a regular file ...`).
    #[error("{0}")]
    Read(#[from] desired::ReadError),
    #[error("not UTF-8 text (invalid byte at offset {offset})")]
    NotText { offset: usize },
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("cannot write the plan: {0}")]
    Write(std::io::Error),
}

/// Reads and validates the desired state at `path` (a file or a directory of parts), and returns the lowercase
/// hex SHA-256 of exactly what was validated ([`desired::sha256`]).
pub fn load_desired(path: &Path) -> Result<(DesiredState, String), ConfigErrors> {
    let parts = desired::read_parts(path)?;
    let sha256 = hex(&desired::sha256(path, &parts));
    let state = config::from_parts(parts)?;
    Ok((state, sha256))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads and parses the plan at `path` (its checks against the desired state and the clock are the caller's).
pub fn read(path: &Path) -> Result<SavedPlan, PlanFileError> {
    let bytes = desired::read(path, MAX_PLAN_BYTES)?;
    let text = String::from_utf8(bytes).map_err(|e| PlanFileError::NotText {
        offset: e.utf8_error().valid_up_to(),
    })?;
    Ok(saved::parse(&text)?)
}

/// Writes `plan` to `path` atomically, readable by its owner only (it names every resource it writes).
pub fn write(path: &Path, plan: &SavedPlan) -> Result<(), PlanFileError> {
    let temporary = temporary_path(path);
    let result = write_new(&temporary, plan).and_then(|()| std::fs::rename(&temporary, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.map_err(PlanFileError::Write)
}

/// `dir/.NAME.tmp-PID`: in the target's directory, so the rename never crosses file systems.
fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plan.json".to_owned());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

fn write_new(path: &Path, plan: &SavedPlan) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    let mut out = std::io::BufWriter::new(file);
    serde_json::to_writer_pretty(&mut out, plan)?;
    out.write_all(b"\n")?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    // On disk before the rename makes it visible.
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use tagdrift_core::reconcile::saved::{DesiredFile, PLAN_FORMAT_VERSION};

    use super::*;

    fn plan() -> SavedPlan {
        SavedPlan {
            format_version: PLAN_FORMAT_VERSION.to_owned(),
            created: Utc::now(),
            tagdrift_version: "0.1.0".to_owned(),
            desired_state: DesiredFile {
                path: "d.yaml".to_owned(),
                sha256: "00".to_owned(),
            },
            resources: Vec::new(),
        }
    }

    #[test]
    fn a_plan_is_written_atomically_for_its_owner_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        std::fs::write(&path, "old").unwrap();
        let plan = plan();
        write(&path, &plan).unwrap();
        assert_eq!(read(&path).unwrap(), plan);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["plan.json"], "no temporary file left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn a_write_into_a_missing_directory_fails_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/plan.json");
        let err = write(&path, &plan()).unwrap_err().to_string();
        assert!(err.starts_with("cannot write the plan: "), "{err}");
    }

    #[test]
    fn the_checksum_is_of_the_files_bytes() {
        use sha2::{Digest, Sha256};
        let example = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/example.yaml"));
        let (_, sha) = load_desired(example).unwrap();
        assert_eq!(sha, hex(&Sha256::digest(std::fs::read(example).unwrap())));
        assert_eq!(sha.len(), 64);
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, [b'{', 0xff]).unwrap();
        assert_eq!(
            read(&bad).unwrap_err().to_string(),
            "not UTF-8 text (invalid byte at offset 1)"
        );
    }
}
