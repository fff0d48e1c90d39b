//! Reading the desired state from disk: one file, or a directory whose `*.yaml` files are its parts (each team
//! owns one, in a ConfigMap or a Git repository). Validation is `tagdrift_core::config`'s; this module only turns
//! a path into bytes, so the core stays free of I/O, and names the file in every problem.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tagdrift_core::config::{self, ConfigErrors, DesiredState};

/// Largest desired-state file read. Real files are kilobytes to a few MiB; the cap keeps a path swapped for
/// `/dev/zero` or a runaway generator from growing the process without bound.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// Why the bytes of a desired-state file could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read file: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a regular file but a {0}; only regular files (or symlinks to them) are read")]
    NotRegular(&'static str),
    #[error("file too large: {size} bytes, more than the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("file too large: it grew past the limit of {limit} bytes while being read")]
    Grew { limit: u64 },
}

/// One file of a desired state: its name as problems show it, and its bytes.
pub type Part = (String, Vec<u8>);

/// Reads and validates the desired state at `path` (a file or a directory). Problems name each file as its
/// path displays.
pub fn load(path: &Path) -> Result<DesiredState, ConfigErrors> {
    config::from_parts(read_parts(path)?)
}

/// The files of the desired state at `path`: the file itself or, for a directory, every `*.yaml` directly in
/// it, sorted by name. Hidden names are skipped: Kubernetes keeps a mounted ConfigMap's real files under
/// `..data`, with a symlink per key beside it.
pub fn part_paths(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !std::fs::metadata(path)?.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with('.') && name.ends_with(".yaml") {
            paths.push(entry.path());
        }
    }
    paths.sort();
    Ok(paths)
}

/// The bytes of every file of the desired state at `path` (see [`part_paths`]). Every file that cannot be read
/// is a problem of its own; a directory without a `*.yaml` file is one too.
pub fn read_parts(path: &Path) -> Result<Vec<Part>, ConfigErrors> {
    let shown = path.display().to_string();
    let paths =
        part_paths(path).map_err(|e| ConfigErrors::unreadable(&shown, ReadError::Io(e).to_string()))?;
    if paths.is_empty() {
        return Err(ConfigErrors::unreadable(
            &shown,
            "the directory holds no *.yaml file".to_string(),
        ));
    }
    let mut parts = Vec::with_capacity(paths.len());
    let mut problems = Vec::new();
    for file in paths {
        let name = file.display().to_string();
        match read(&file, MAX_FILE_BYTES) {
            Ok(bytes) => parts.push((name, bytes)),
            Err(e) => problems.extend(ConfigErrors::unreadable(&name, e.to_string()).0),
        }
    }
    if problems.is_empty() {
        Ok(parts)
    } else {
        Err(ConfigErrors(problems))
    }
}

/// The SHA-256 of what was read: of the file's bytes for a single file; for a directory, of every file's name
/// and bytes, so adding, removing or renaming a file changes it too.
pub fn sha256(path: &Path, parts: &[Part]) -> [u8; 32] {
    match parts {
        [(name, bytes)] if *name == path.display().to_string() => Sha256::digest(bytes).into(),
        _ => {
            let mut hasher = Sha256::new();
            for (name, bytes) in parts {
                hasher.update((name.len() as u64).to_be_bytes());
                hasher.update(name.as_bytes());
                hasher.update((bytes.len() as u64).to_be_bytes());
                hasher.update(bytes);
            }
            hasher.finalize().into()
        }
    }
}

/// The bytes of the regular file at `path` (symlinks followed), at most `limit` of them. Devices, FIFOs and
/// sockets are refused without reading (a FIFO without a writer would block forever, `/dev/zero` never ends).
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    // Checked before opening too: opening a FIFO or some devices blocks or has side effects.
    check_regular(&std::fs::metadata(path)?)?;
    let file = open_nonblocking(path)?;
    // Checked again on what was opened, in case the path was swapped in between.
    let metadata = file.metadata()?;
    check_regular(&metadata)?;
    if metadata.len() > limit {
        return Err(ReadError::TooLarge {
            size: metadata.len(),
            limit,
        });
    }
    read_capped(file, metadata.len(), limit)
}

fn check_regular(metadata: &std::fs::Metadata) -> Result<(), ReadError> {
    let kind = metadata.file_type();
    if kind.is_file() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Err(ReadError::NotRegular("FIFO"));
        }
        if kind.is_socket() {
            return Err(ReadError::NotRegular("socket"));
        }
        if kind.is_char_device() || kind.is_block_device() {
            return Err(ReadError::NotRegular("device"));
        }
    }
    if kind.is_dir() {
        return Err(ReadError::NotRegular("directory"));
    }
    Err(ReadError::NotRegular("special file"))
}

fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // A FIFO swapped in after the first check then opens at once instead of waiting for a writer; regular files
    // ignore the flag.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    options.open(path)
}

/// Reads to the end, failing as soon as more than `limit` bytes arrive: the size checked before reading can be
/// outdated by a file still being written.
fn read_capped(reader: impl Read, expected: u64, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::with_capacity(usize::try_from(expected.min(limit)).unwrap_or(0));
    reader.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::Grew { limit });
    }
    Ok(bytes)
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
    fn devices_fifos_sockets_and_directories_are_refused_without_reading() {
        let err = load(Path::new("/dev/zero")).expect_err("a device");
        assert_eq!(err.code(), "config_unreadable");
        assert_eq!(
            err.to_string(),
            "/dev/zero: not a regular file but a device; only regular files (or symlinks to them) are read"
        );

        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo.yaml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("run mkfifo");
        assert!(made.success(), "mkfifo");
        // No writer ever opens it: a read that blocked would hang the test here.
        let err = load(&fifo).expect_err("a FIFO");
        assert!(
            err.to_string().ends_with(
                "not a regular file but a FIFO; only regular files (or symlinks to them) are read"
            ),
            "{err}"
        );

        let socket = dir.path().join("socket.yaml");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
        let err = read(&socket, MAX_FILE_BYTES).expect_err("a socket");
        assert!(matches!(err, ReadError::NotRegular("socket")), "{err}");

        let err = read(dir.path(), MAX_FILE_BYTES).expect_err("a directory");
        assert!(matches!(err, ReadError::NotRegular("directory")), "{err}");

        // A symlink to a device is the device.
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink("/dev/zero", &link).expect("symlink");
        let err = read(&link, MAX_FILE_BYTES).expect_err("a link to a device");
        assert!(matches!(err, ReadError::NotRegular("device")), "{err}");
    }

    #[test]
    fn files_over_the_limit_are_refused_before_and_while_reading() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.yaml");
        std::fs::write(&path, vec![b'#'; 101]).expect("write");
        let err = read(&path, 100).expect_err("over the limit");
        assert_eq!(
            err.to_string(),
            "file too large: 101 bytes, more than the limit of 100 bytes"
        );
        assert_eq!(read(&path, 101).expect("at the limit").len(), 101);

        // A file that grows after its size was checked: an endless reader stands in for it.
        let err = read_capped(std::io::repeat(0), 10, 100).expect_err("endless");
        assert_eq!(
            err.to_string(),
            "file too large: it grew past the limit of 100 bytes while being read"
        );
    }

    #[test]
    fn a_directory_is_its_sorted_yaml_files_and_its_checksum_sees_every_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path();
        let account = "version: 1\naccounts: [{name: a, cloud: alibaba, regions: [cn-hangzhou]}]\n";
        let secret = "version: 1\nresources: [{account: a, region: cn-hangzhou, type: secret, name: s}]\n";
        std::fs::write(p.join("b-team.yaml"), secret).unwrap();
        std::fs::write(p.join("a-accounts.yaml"), account).unwrap();
        // Not parts: other extensions, hidden files, and Kubernetes' `..data` directory of a ConfigMap.
        std::fs::write(p.join("notes.txt"), "not yaml").unwrap();
        std::fs::write(p.join(".hidden.yaml"), "{").unwrap();
        std::fs::create_dir(p.join("..data")).unwrap();
        let names: Vec<String> = part_paths(p)
            .unwrap()
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a-accounts.yaml", "b-team.yaml"]);
        let state = load(p).expect("valid");
        assert_eq!((state.accounts.len(), state.resources.len()), (1, 1));

        let before = sha256(p, &read_parts(p).unwrap());
        std::fs::rename(p.join("b-team.yaml"), p.join("c-team.yaml")).unwrap();
        let renamed = sha256(p, &read_parts(p).unwrap());
        assert_ne!(before, renamed, "a rename is a change");
        std::fs::write(p.join("d-team.yaml"), "version: 1\n").unwrap();
        assert_ne!(
            renamed,
            sha256(p, &read_parts(p).unwrap()),
            "a new file is a change"
        );

        // A broken part is named by its path; an empty directory is a problem.
        std::fs::write(p.join("e-team.yaml"), "version: 1\nrules: {}\n").unwrap();
        let err = load(p).expect_err("a broken part").to_string();
        assert!(
            err.starts_with(&format!(
                "{}:2:8: rules: expected a sequence",
                p.join("e-team.yaml").display()
            )),
            "{err}"
        );
        let empty = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            load(empty.path()).expect_err("no parts").to_string(),
            format!("{}: the directory holds no *.yaml file", empty.path().display())
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
