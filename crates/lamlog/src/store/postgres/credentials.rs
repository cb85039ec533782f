//! Database credentials read at run time from a secret store (AWS Secrets
//! Manager in the Lambda function), instead of a password written into the
//! connection URL.
//!
//! A [`CredentialSource`] is asked once, when the store first connects; the
//! answer is kept and applied to every new connection through
//! tokio-postgres' `Config` setters, so the password is never put into a
//! string that could be printed. When a connection is refused for its
//! password (SQLSTATE 28P01 or 28000), the source is asked once more and the
//! connection tried again: the secret may have been rotated since it was
//! read. The source is a trait so that the store knows nothing of AWS (the
//! Secrets Manager source is [`crate::secrets`], behind the `secrets`
//! feature).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

/// A user name and its password. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DbCredentials {
    /// The role to log in as.
    pub username: String,
    /// Its password.
    pub password: String,
}

impl std::fmt::Debug for DbCredentials {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("DbCredentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// Why credentials could not be read. No variant ever holds the secret's
/// content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// The source did not answer, or refused (network, permissions, a
    /// missing secret): asking again later may work.
    #[error("reading {source_name}: {reason}")]
    Unavailable {
        /// The source, such as the secret's ARN.
        source_name: String,
        /// What went wrong.
        reason: String,
    },
    /// The source answered with something that is not credentials: the
    /// secret must be fixed.
    #[error("{source_name}: {reason}")]
    Malformed {
        /// The source, such as the secret's ARN.
        source_name: String,
        /// What is wrong with it (never its content).
        reason: String,
    },
}

/// The future a [`CredentialSource`] answers with.
pub type CredentialsFuture<'a> =
    Pin<Box<dyn Future<Output = Result<DbCredentials, CredentialsError>> + Send + 'a>>;

/// Where the database credentials come from. Each call of
/// [`CredentialSource::fetch`] asks the source again; the store keeps the
/// answer and asks again only after an authentication failure.
pub trait CredentialSource: Send + Sync + 'static {
    /// Reads the current credentials.
    fn fetch(&self) -> CredentialsFuture<'_>;

    /// How to name the source in messages (the secret's ARN, never its
    /// content).
    fn name(&self) -> String;
}

/// A [`CredentialSource`] to put into a [`super::PostgresConfig`]: cheap to
/// clone, compared by identity, named in `Debug`.
#[derive(Clone)]
pub struct SharedCredentialSource(pub Arc<dyn CredentialSource>);

impl std::fmt::Debug for SharedCredentialSource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "CredentialSource({})", self.0.name())
    }
}

impl PartialEq for SharedCredentialSource {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&other.0))
    }
}

impl Eq for SharedCredentialSource {}

/// The credentials last read from a source, shared by the store and the
/// connections it opens.
pub(super) struct CredentialCache {
    source: Arc<dyn CredentialSource>,
    current: RwLock<Option<DbCredentials>>,
}

impl CredentialCache {
    pub(super) fn new(source: Arc<dyn CredentialSource>) -> CredentialCache {
        CredentialCache {
            source,
            current: RwLock::new(None),
        }
    }

    /// The source's name, for messages.
    pub(super) fn source_name(&self) -> String {
        self.source.name()
    }

    /// Reads the credentials when none are known yet, or always when
    /// `again` (after an authentication failure).
    pub(super) async fn load(&self, again: bool) -> Result<(), CredentialsError> {
        if !again && self.read().is_some() {
            return Ok(());
        }
        let credentials = self.source.fetch().await?;
        match self.current.write() {
            Ok(mut current) => *current = Some(credentials),
            Err(poisoned) => *poisoned.into_inner() = Some(credentials),
        }
        Ok(())
    }

    /// Sets the known user name and password on `pg_config`.
    pub(super) fn apply(&self, pg_config: &mut tokio_postgres::Config) {
        if let Some(credentials) = self.read() {
            pg_config
                .user(&credentials.username)
                .password(credentials.password.as_bytes());
        }
    }

    fn read(&self) -> Option<DbCredentials> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let credentials = DbCredentials {
            username: "lamlog".to_owned(),
            password: "hunter2".to_owned(),
        };
        let shown = format!("{credentials:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("lamlog"), "{shown}");
    }
}
