//! One link of a credential chain and what it fetched: permanent keys from variables and files (re-read when a
//! file changes on disk, as when Kubernetes rotates a mounted Secret), and the cloud-specific temporary
//! sources, refreshed ahead of their expiry.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, TimeDelta, Utc};

use super::alibaba::{EcsRamRole, Rrsa};
use super::huawei::{EcsMetadata, WorkloadIdentity};
use super::{Credential, CredentialError, EnvLookup};
use crate::transport::Transport;
use tagdrift_core::config::SecretSource;

/// What the sources of one account share.
pub(super) struct Context {
    pub account: String,
    pub env: Arc<dyn EnvLookup>,
    pub transport: Transport,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub(super) enum Source {
    Fixed(Credential),
    AccessKey(AccessKey),
    Rrsa(Rrsa),
    EcsRamRole(EcsRamRole),
    WorkloadIdentity(WorkloadIdentity),
    EcsMetadata(EcsMetadata),
}

/// A credential and when to fetch the next one.
pub(super) struct Fetched {
    pub credential: Credential,
    /// Fetch again from this time on (temporary credentials), `None` for permanent keys.
    pub refresh_at: Option<DateTime<Utc>>,
    /// The files the credential was read from, to notice rotation.
    pub files: Vec<FileStamp>,
    pub fetched_at: DateTime<Utc>,
}

impl Fetched {
    pub(super) fn permanent(credential: Credential, files: Vec<FileStamp>, now: DateTime<Utc>) -> Fetched {
        Fetched {
            credential,
            refresh_at: None,
            files,
            fetched_at: now,
        }
    }

    /// Temporary credentials fetched at `now`, due for refresh `margin` before they expire, or halfway through
    /// their life when that is shorter than twice the margin (so short-lived credentials are not refreshed on
    /// every call).
    pub(super) fn temporary(credential: Credential, now: DateTime<Utc>, margin: TimeDelta) -> Fetched {
        let refresh_at = credential.expiration.map(|expiration| {
            let life = expiration - now;
            let lead = if life < margin * 2 { life / 2 } else { margin };
            expiration - lead
        });
        Fetched {
            credential,
            refresh_at,
            files: Vec::new(),
            fetched_at: now,
        }
    }

    pub(super) fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        self.refresh_at.is_none_or(|at| now < at)
    }

    /// Still accepted by the cloud (not expired), though perhaps due for refresh.
    pub(super) fn usable(&self, now: DateTime<Utc>) -> bool {
        self.credential
            .expiration
            .is_some_and(|expiration| now < expiration)
    }
}

/// Identity of a file's content as far as the file system tells: path, modification time, length and inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileStamp {
    path: String,
    stamp: Option<(Option<SystemTime>, u64, u64)>,
}

impl FileStamp {
    pub(super) fn of(path: &str) -> FileStamp {
        // Follows symlinks, so a Kubernetes atomic update (the `..data` link swapped) shows as a new inode.
        let stamp = std::fs::metadata(path).ok().map(|m| {
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&m);
            #[cfg(not(unix))]
            let inode = 0;
            (m.modified().ok(), m.len(), inode)
        });
        FileStamp {
            path: path.to_owned(),
            stamp,
        }
    }
}

/// Reads a credential file: the content with surrounding whitespace (a trailing newline) removed.
pub(super) fn read_file(path: &str) -> Result<(String, FileStamp), CredentialError> {
    let stamp = FileStamp::of(path);
    let text = std::fs::read_to_string(path).map_err(|e| CredentialError::File {
        path: path.to_owned(),
        reason: e.kind().to_string(),
    })?;
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Err(CredentialError::EmptyFile {
            path: path.to_owned(),
        });
    }
    Ok((text, stamp))
}

/// An access key named by the config: each part from a variable or a file.
pub(super) struct AccessKey {
    pub id: SecretSource,
    pub secret: SecretSource,
    pub security_token: Option<SecretSource>,
    pub env: Arc<dyn EnvLookup>,
}

impl AccessKey {
    fn read(&self, source: &SecretSource, files: &mut Vec<FileStamp>) -> Result<String, CredentialError> {
        match source {
            SecretSource::Env(name) => self
                .env
                .var(name)
                .map(|v| v.trim().to_owned())
                .ok_or_else(|| CredentialError::MissingEnv { name: name.clone() }),
            SecretSource::File(path) => {
                let (text, stamp) = read_file(path)?;
                files.push(stamp);
                Ok(text)
            }
        }
    }

    fn fetch(&self, now: DateTime<Utc>) -> Result<Fetched, CredentialError> {
        let mut files = Vec::new();
        let id = self.read(&self.id, &mut files)?;
        let secret = self.read(&self.secret, &mut files)?;
        let token = match &self.security_token {
            Some(source) => Some(self.read(source, &mut files)?),
            None => None,
        };
        Ok(Fetched::permanent(Credential::new(id, secret, token), files, now))
    }
}

impl Source {
    pub(super) fn name(&self) -> &'static str {
        match self {
            Source::Fixed(_) => "fixed",
            Source::AccessKey(_) => "access_key",
            Source::Rrsa(_) => "rrsa",
            Source::EcsRamRole(_) => "ecs_ram_role",
            Source::WorkloadIdentity(_) => "workload_identity",
            Source::EcsMetadata(_) => "ecs_metadata",
        }
    }

    /// Boxed because the temporary sources call the transport, which asks a provider for credentials: the
    /// future types would otherwise contain themselves.
    pub(super) fn fetch(&self, now: DateTime<Utc>) -> BoxFuture<'_, Result<Fetched, CredentialError>> {
        match self {
            Source::Fixed(credential) => {
                let fetched = Ok(Fetched::permanent(credential.clone(), Vec::new(), now));
                Box::pin(async move { fetched })
            }
            Source::AccessKey(key) => {
                let fetched = key.fetch(now);
                Box::pin(async move { fetched })
            }
            Source::Rrsa(rrsa) => Box::pin(rrsa.fetch(now)),
            Source::EcsRamRole(ecs) => Box::pin(ecs.fetch(now)),
            Source::WorkloadIdentity(wi) => Box::pin(wi.fetch(now)),
            Source::EcsMetadata(ecs) => Box::pin(ecs.fetch(now)),
        }
    }

    /// Whether the files a permanent credential was read from are unchanged.
    pub(super) fn unchanged(&self, fetched: &Fetched) -> bool {
        fetched
            .files
            .iter()
            .all(|stamp| FileStamp::of(&stamp.path) == *stamp)
    }
}

/// Parses the expiry times the services send: RFC 3339 with or without fractions
/// (`2030-01-01T00:00:00Z`, Huawei's `2030-01-01T00:00:00.000000Z`).
pub(super) fn parse_expiration(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
