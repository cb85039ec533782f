//! How the store reaches its database: [`PostgresConfig`], the URL and what
//! the URL cannot say (a CA file, a credential source, the pool's size).

use std::path::PathBuf;

use super::credentials::SharedCredentialSource;
use super::tls::{interception_warning, split_ssl_mode};
use crate::redact::redact_url;
use crate::store::StoreError;

/// How the store reaches its database. Its `Debug` shows the URL without its
/// password.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// `postgres://user:password@host:port/database?sslmode=…` (or a libpq
    /// `key=value` string). `sslmode` may be `disable` (or absent: no TLS),
    /// `prefer`, `require`, `verify-ca` or `verify-full`; `allow` is refused
    /// (see [`TlsMode`](super::TlsMode)). A password here is for local use:
    /// in production it comes from [`PostgresConfig::credentials`].
    pub url: String,
    /// A PEM file of CA certificates to trust, such as the RDS bundle; without
    /// it the Mozilla roots of `webpki-roots` are trusted.
    pub ca_file: Option<PathBuf>,
    /// The most connections the pool opens.
    pub pool_size: usize,
    /// A schema to work in (created if absent, set as `search_path`), so that
    /// tests can share one database; `None` uses the server's default.
    pub schema: Option<String>,
    /// Where the user name and password come from, instead of the URL (which
    /// then must hold no password): read when the store first connects, and
    /// again once when the server refuses them (see `credentials.rs`).
    pub credentials: Option<SharedCredentialSource>,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PostgresConfig")
            .field("url", &redact_url(&self.url))
            .field("ca_file", &self.ca_file)
            .field("pool_size", &self.pool_size)
            .field("schema", &self.schema)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl PostgresConfig {
    /// A configuration for `url` with no CA file, 4 connections and the
    /// default schema.
    pub fn new(url: impl Into<String>) -> PostgresConfig {
        PostgresConfig {
            url: url.into(),
            ca_file: None,
            pool_size: 4,
            schema: None,
            credentials: None,
        }
    }

    /// What to warn about once at start-up: TLS that checks no certificate
    /// (`sslmode=require` or `prefer` without a CA file; see
    /// [`interception_warning`]). `None` also for a URL whose `sslmode`
    /// cannot be read, which connecting then reports.
    pub fn tls_warning(&self) -> Option<&'static str> {
        let (_, mode) = split_ssl_mode(&self.url).ok()?;
        interception_warning(mode, self.ca_file.as_deref())
    }
}

/// Schema names are put into SQL text (`CREATE SCHEMA`, `search_path`), so
/// only plain lowercase identifiers are accepted.
pub(super) fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let plain = !schema.is_empty()
        && schema.len() <= 63
        && schema.starts_with(|first: char| first.is_ascii_lowercase() || first == '_')
        && schema.chars().all(|character| {
            character.is_ascii_lowercase() || character.is_ascii_digit() || character == '_'
        });
    if plain {
        Ok(())
    } else {
        Err(StoreError::Statement(format!(
            "invalid schema name {schema:?}: use lowercase letters, digits and underscores"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(check_schema_name("lamlog_test_1a").is_ok());
        assert!(check_schema_name("x; DROP SCHEMA public").is_err());
        assert!(check_schema_name("").is_err());
        assert!(check_schema_name("Upper").is_err());
    }

    #[test]
    fn require_without_a_ca_file_is_warned_about_and_verify_full_is_not() {
        let mut config = PostgresConfig::new("postgres://u@db/x?sslmode=require");
        assert!(config
            .tls_warning()
            .is_some_and(|warning| warning.contains("open to interception")));
        config.ca_file = Some(PathBuf::from("/var/task/global-bundle.pem"));
        assert_eq!(config.tls_warning(), None);
        for url in [
            "postgres://u@db/x?sslmode=verify-full",
            "host=db sslmode=verify-ca",
            "postgres://u@db/x?sslmode=bogus",
        ] {
            assert_eq!(PostgresConfig::new(url).tls_warning(), None, "{url}");
        }
        assert!(PostgresConfig::new("host=db sslmode=prefer")
            .tls_warning()
            .is_some());
    }
}
