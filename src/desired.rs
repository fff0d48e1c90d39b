//! Reading the desired-state file from disk. Validation is `tagdrift_core::config`'s; this module only turns a
//! path into bytes, so the core stays free of I/O, and names the file in every problem.

use std::path::Path;

use tagdrift_core::config::{self, ConfigErrors, DesiredState};

/// Reads and validates the desired-state file at `path`. Problems name the file as `path` displays.
pub fn load(path: &Path) -> Result<DesiredState, ConfigErrors> {
    let file = path.display().to_string();
    let bytes =
        std::fs::read(path).map_err(|e| ConfigErrors::unreadable(&file, format!("cannot read file: {e}")))?;
    config::from_bytes(bytes, &file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_file_is_named() {
        let err = load(Path::new("/nonexistent/tagdrift.yaml")).expect_err("missing file");
        assert_eq!(err.len(), 1);
        assert_eq!(err.code(), "config_unreadable");
        let text = err.to_string();
        assert!(
            text.starts_with("/nonexistent/tagdrift.yaml: cannot read file: "),
            "{text}"
        );
    }

    #[test]
    fn invalid_utf8_on_disk_is_located() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.yaml");
        std::fs::write(&path, b"version: 1\naccounts: [\xff]\n").expect("write");
        let err = load(&path).expect_err("invalid utf-8");
        assert_eq!(err.code(), "config_invalid");
        assert_eq!(
            err.to_string(),
            format!("{}:2:12: the file is not valid UTF-8", path.display())
        );
    }
}
