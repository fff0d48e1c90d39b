//! The credential as the transport signs with it: the access key ([`Credential`]), why one could not be had
//! ([`CredentialError`]), and what the transport asks of whoever holds it ([`CredentialSource`]). Kept apart
//! from [`credentials`](crate::credentials), which fetches credentials *through* the transport (STS, IAM,
//! instance metadata), so that the transport depends on this small module and never on the providers.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

use crate::{Cloud, ErrorCode};

/// An access key (Alibaba AccessKeyId/Secret, Huawei AK/SK), with the security token of temporary
/// credentials. `Debug` shows only the key id.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub secret: String,
    pub security_token: Option<String>,
    /// When temporary credentials stop working; `None` for permanent keys.
    pub expiration: Option<DateTime<Utc>>,
}

impl Credential {
    pub fn new(
        access_key_id: impl Into<String>,
        secret: impl Into<String>,
        security_token: Option<String>,
    ) -> Credential {
        Credential {
            access_key_id: access_key_id.into(),
            secret: secret.into(),
            security_token,
            expiration: None,
        }
    }

    /// As Alibaba's signer takes it.
    pub fn alibaba(&self) -> crate::alibaba::sign::Credential {
        crate::alibaba::sign::Credential {
            access_key_id: self.access_key_id.clone(),
            access_key_secret: self.secret.clone(),
            security_token: self.security_token.clone(),
        }
    }

    /// As Huawei's signer takes it.
    pub fn huawei(&self) -> crate::huawei::sign::Credential {
        crate::huawei::sign::Credential {
            ak: self.access_key_id.clone(),
            sk: self.secret.clone(),
            security_token: self.security_token.clone(),
        }
    }

    /// The values that must never appear in a log line or message.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.secret.as_str()).chain(self.security_token.as_deref())
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// Why no credential could be had. Messages name variables, files and endpoints, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("environment variable {name} is not set")]
    MissingEnv { name: String },
    #[error("cannot read credential file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("credential file {path} is empty")]
    EmptyFile { path: String },
    #[error("{provider}: {reason}")]
    Incomplete { provider: &'static str, reason: String },
    #[error("{provider}: {message}")]
    Fetch {
        provider: &'static str,
        code: ErrorCode,
        message: String,
    },
    #[error("{provider}: invalid answer: {reason}")]
    Invalid { provider: &'static str, reason: String },
    #[error("no credentials found for {cloud}: {}", tried.join("; "))]
    NoneFound { cloud: Cloud, tried: Vec<String> },
}

impl CredentialError {
    /// A short fixed code for logs and metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            CredentialError::MissingEnv { .. } => "missing_env",
            CredentialError::File { .. } => "file",
            CredentialError::EmptyFile { .. } => "empty_file",
            CredentialError::Incomplete { .. } => "incomplete",
            CredentialError::Fetch { .. } => "fetch",
            CredentialError::Invalid { .. } => "invalid_answer",
            CredentialError::NoneFound { .. } => "none_found",
        }
    }

    /// How a cloud read that could not get a credential is classified: a credential service that timed out
    /// or answered 5xx keeps that code, everything else is `auth`.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            CredentialError::Fetch { code, .. } => *code,
            CredentialError::Invalid { .. } => ErrorCode::InvalidResponse,
            _ => ErrorCode::Auth,
        }
    }
}

/// What the transport needs from a credential provider ([`Provider`](crate::credentials::Provider) is the
/// one the crate has). A trait so the transport can sign with a provider whose own fetches go through that
/// same transport; the futures are boxed because the transport holds it as `&dyn`.
pub trait CredentialSource: Send + Sync {
    /// The credential to sign the next attempt with.
    fn credential(&self) -> Pin<Box<dyn Future<Output = Result<Credential, CredentialError>> + Send + '_>>;

    /// The cloud refused `credential` itself (unknown key, bad signature, invalid token), so a fresh one may
    /// be due.
    fn refused<'a>(&'a self, credential: &'a Credential) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}
