//! Reading the desired-state file from disk. Validation is `tagdrift_core::config`'s; this module only turns a
//! path into bytes, so the core stays free of I/O, and names the file in every problem.

use std::fs::File;
use std::io::Read;
use std::path::Path;

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

/// Reads and validates the desired-state file at `path`. Problems name the file as `path` displays.
pub fn load(path: &Path) -> Result<DesiredState, ConfigErrors> {
    let bytes = read(path, MAX_FILE_BYTES)
        .map_err(|e| ConfigErrors::unreadable(&path.display().to_string(), e.to_string()))?;
    config::from_bytes(bytes, &path.display().to_string())
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
