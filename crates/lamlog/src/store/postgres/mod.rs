//! The PostgreSQL store: the production database (RDS), behind the `postgres`
//! feature.
//!
//! It holds the same tables, with the same column names, as the SQLite store
//! (`invocations`, `function_minute`, `function_minute_histogram`,
//! `function_watermark`, `alerts`, `dead_letters`), and honours the same
//! contract (see [`crate::store`]), checked by the same conformance suite. Its
//! [`Store::dump`] prints exactly what SQLite's does, so that two stores fed
//! the same stream can be compared line for line.
//!
//! What differs is what a shared, long-lived server needs:
//!
//! - **A pool, built once.** [`PostgresStore::connect`] builds a deadpool pool
//!   and applies the migrations; the Lambda builds it at cold start and keeps
//!   it. A connection found closed when it is checked out is replaced by a new
//!   one; a connection that breaks during a batch fails that batch with a
//!   transient error ([`StoreError::is_transient`]) and is discarded.
//! - **Many writers.** Several Lambda instances write at once. A batch locks
//!   the keys it writes (transaction-scoped advisory locks, all taken in one
//!   sorted statement, so overlapping batches queue instead of deadlocking),
//!   reads the stored rows, merges in Rust and writes only what changed, all
//!   in one transaction (`write.rs`).
//! - **A handful of round trips per batch, whatever its size.** Invocations
//!   go in by binary `COPY` into a temporary table and set-based `INSERT …
//!   SELECT` / `UPDATE … FROM`; rollups, watermarks, alerts and dead letters go
//!   in by one `unnest`-array upsert each.
//! - **Retention.** `invocations` is range-partitioned by UTC day of its
//!   start time (`partitions.rs`); [`PostgresStore::prune_before`] drops whole
//!   days and deletes the old rows no day holds (`prune.rs`). Rows with no
//!   REPORT yet have no time, so they wait in `pending_invocations` until
//!   their REPORT comes (`migrations/0001_init.sql` explains why two tables),
//!   aged by when they were first seen.
//! - **TLS** with rustls when the URL asks for it (`tls.rs`).
//! - **Secrets stay secret**: every error message names the database by its
//!   URL with the password replaced by `***` (see [`redact_url`]).
//!
//! Text that PostgreSQL cannot hold: a `TEXT` value cannot contain the NUL
//! character, which SQLite and Rust strings can. Every text value written
//! (identifiers, error types, messages, dead letters' source and reason) has
//! U+0000 replaced by U+FFFD, the replacement character, before anything is
//! compared or merged, so a replay of the same evidence is still a no-op.
//! Lambda request ids, function names and error types never contain NUL; a
//! line that does is hostile or broken and keeps everything but that byte.
//! Dead letters' raw bytes are `BYTEA` and are kept exactly, NUL included.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;

use crate::store::{FunctionSummary, MinuteRow, Store, StoreBatch, StoreError, WriteOutcome};

mod alerts;
mod migrate;
mod partitions;
mod prune;
mod read;
mod rollup;
mod rows;
mod tls;
mod write;

pub use migrate::SCHEMA_VERSION;
pub use tls::TlsMode;

/// An `invocations` row as the store writes it: the column list, the column
/// types for binary `COPY`, and a row's values in that order. For baselines
/// that write rows outside the store (`examples/pg_write_paths.rs`); the
/// store itself writes through [`Store::write_batch`](crate::store::Store::write_batch).
pub mod invocation_row {
    pub use super::rows::{column_list, SqlRow, COLUMN_TYPES};
}

/// How long a new connection may take before the attempt fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the store reaches its database. Its `Debug` shows the URL without its
/// password.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// `postgres://user:password@host:port/database?sslmode=…`. `sslmode` may
    /// be `disable`, `prefer` or `allow` (no TLS), `require`, `verify-ca` or
    /// `verify-full` (see [`TlsMode`]).
    pub url: String,
    /// A PEM file of CA certificates to trust, such as the RDS bundle; without
    /// it the Mozilla roots of `webpki-roots` are trusted.
    pub ca_file: Option<PathBuf>,
    /// The most connections the pool opens.
    pub pool_size: usize,
    /// A schema to work in (created if absent, set as `search_path`), so that
    /// tests can share one database; `None` uses the server's default.
    pub schema: Option<String>,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PostgresConfig")
            .field("url", &redact_url(&self.url))
            .field("ca_file", &self.ca_file)
            .field("pool_size", &self.pool_size)
            .field("schema", &self.schema)
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
        }
    }
}

/// A [`Store`] in a PostgreSQL database. Cloning is cheap and shares the pool,
/// so that several tasks can write at once, each with its own connection.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// Day partitions (UTC day numbers) known to exist, so that a batch only
    /// issues DDL for a day it has not seen.
    known_days: Arc<Mutex<BTreeSet<i64>>>,
    /// The URL with its password hidden, for error messages.
    redacted_url: Arc<str>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PostgresStore")
            .field("url", &self.redacted_url)
            .field("pool", &self.pool.status())
            .finish()
    }
}

impl PostgresStore {
    /// Builds the pool, opens a first connection and brings the schema up to
    /// date (see `migrate.rs`). Fails with [`StoreError::Connection`] when the
    /// server cannot be reached and [`StoreError::Migration`] when the schema
    /// is newer than this build.
    pub async fn connect(config: &PostgresConfig) -> Result<PostgresStore, StoreError> {
        let redacted = redact_url(&config.url);
        let (url, tls_mode) = tls::split_ssl_mode(&config.url)
            .map_err(|message| StoreError::Connection(format!("{redacted}: {message}")))?;
        let mut pg_config: tokio_postgres::Config = url.parse().map_err(|error| {
            StoreError::Connection(format!("{redacted}: invalid connection url: {error}"))
        })?;
        if pg_config.get_connect_timeout().is_none() {
            pg_config.connect_timeout(CONNECT_TIMEOUT);
        }
        if let Some(schema) = &config.schema {
            check_schema_name(schema)?;
            pg_config.options(format!("-c search_path={schema}"));
        }
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match tls::connector(tls_mode, config.ca_file.as_deref())
            .map_err(|message| StoreError::Connection(format!("{redacted}: {message}")))?
        {
            Some(connector) => Manager::from_config(pg_config, connector, manager_config),
            None => Manager::from_config(pg_config, tokio_postgres::NoTls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(CONNECT_TIMEOUT.saturating_add(Duration::from_secs(1))))
            .build()
            .map_err(|error| {
                StoreError::Connection(format!("{redacted}: building the pool: {error}"))
            })?;
        let store = PostgresStore {
            pool,
            known_days: Arc::new(Mutex::new(BTreeSet::new())),
            redacted_url: Arc::from(redacted.as_str()),
        };
        let mut client = store.client().await?;
        migrate::migrate(&mut client, config.schema.as_deref()).await?;
        let days = partitions::existing_days(&client).await?;
        store.remember_days(days);
        Ok(store)
    }

    /// The URL this store connects to, with its password hidden.
    pub fn redacted_url(&self) -> &str {
        &self.redacted_url
    }

    /// The names of the day partitions of `invocations`, oldest first.
    pub async fn partition_names(&self) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let days = partitions::existing_days(&client).await;
        release(client, &days);
        Ok(days?.into_iter().map(partitions::partition_name).collect())
    }

    /// A connection from the pool.
    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(|error| {
            let message = format!("{}: getting a connection: {error}", self.redacted_url);
            match error {
                deadpool_postgres::PoolError::Backend(backend) => classify(
                    &format!("{}: getting a connection", self.redacted_url),
                    backend,
                ),
                _ => StoreError::Connection(message),
            }
        })
    }

    /// Creates the day partitions among `days` not known to exist.
    async fn ensure_days(&self, days: BTreeSet<i64>) -> Result<(), StoreError> {
        let missing: Vec<i64> = match self.known_days.lock() {
            Ok(known_days) => days.difference(&known_days).copied().collect(),
            Err(_) => days.into_iter().collect(),
        };
        if missing.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let created = partitions::create(&mut client, &missing).await;
        release(client, &created);
        created?;
        self.remember_days(missing);
        Ok(())
    }

    fn remember_days(&self, days: impl IntoIterator<Item = i64>) {
        if let Ok(mut known_days) = self.known_days.lock() {
            known_days.extend(days);
        }
    }
}

/// Returns a connection to the pool, unless it broke: a connection that
/// failed with [`StoreError::Connection`] is dropped rather than handed to the
/// next caller, who would find it dead (the pool's own check only sees a
/// connection as closed once its background task has noticed).
fn release<T>(client: deadpool_postgres::Client, result: &Result<T, StoreError>) {
    if matches!(result, Err(StoreError::Connection(_))) || client.is_closed() {
        drop(deadpool_postgres::Object::take(client));
    }
}

/// `url` with the password (of the user-info part, a `password=` query
/// parameter, or a `password=` of a `key=value` connection string) replaced
/// by `***`; what every error message shows.
pub fn redact_url(url: &str) -> String {
    if !url.contains("://") {
        return redact_key_values(url);
    }
    let mut redacted = url.to_owned();
    if let Some(scheme_end) = redacted.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = redacted[authority_start..]
            .find(['/', '?'])
            .map_or(redacted.len(), |offset| authority_start + offset);
        if let Some(at) = redacted[authority_start..authority_end].rfind('@') {
            let user_info_end = authority_start + at;
            if let Some(colon) = redacted[authority_start..user_info_end].find(':') {
                redacted.replace_range(authority_start + colon + 1..user_info_end, "***");
            }
        }
    }
    if let Some(query_start) = redacted.find('?') {
        let (base, query) = redacted.split_at(query_start + 1);
        let parameters: Vec<String> = query
            .split('&')
            .map(|parameter| match parameter.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
                _ => parameter.to_owned(),
            })
            .collect();
        redacted = format!("{base}{}", parameters.join("&"));
    }
    redacted
}

/// `host=db password='a b' user=u` → `host=db password=*** user=u`.
fn redact_key_values(text: &str) -> String {
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find("password") {
        let (before, from) = rest.split_at(found);
        redacted.push_str(before);
        let after_name = from["password".len()..].trim_start();
        let Some(value) = after_name.strip_prefix('=') else {
            redacted.push_str("password");
            rest = &from["password".len()..];
            continue;
        };
        let value = value.trim_start();
        let value_end = match value.strip_prefix('\'') {
            // A quoted value ends at the next quote that is not escaped.
            Some(quoted) => {
                let mut escaped = false;
                let close = quoted.char_indices().find(|(_, character)| {
                    let closes = *character == '\'' && !escaped;
                    escaped = *character == '\\' && !escaped;
                    closes
                });
                close.map_or(value.len(), |(index, _)| index + 2)
            }
            None => value.find(char::is_whitespace).unwrap_or(value.len()),
        };
        redacted.push_str("password=***");
        rest = &value[value_end..];
    }
    redacted.push_str(rest);
    redacted
}

/// Schema names are put into SQL text (`CREATE SCHEMA`, `search_path`), so
/// only plain lowercase identifiers are accepted.
fn check_schema_name(schema: &str) -> Result<(), StoreError> {
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

/// Classifies a PostgreSQL error by asking it, never by its text:
/// - a closed connection, an I/O failure, SQLSTATE class 08 (connection
///   exception) or 57P01–57P03 (the server shut the session down) are
///   [`StoreError::Connection`];
/// - 40001 (serialization failure), 40P01 (deadlock detected) and 55P03
///   (lock not available) are [`StoreError::Busy`];
/// - anything else is [`StoreError::Statement`].
///
/// Both of the first two are transient: the batch is retried whole.
fn classify(context: &str, error: tokio_postgres::Error) -> StoreError {
    let message = format!("{context}: {}", describe(&error));
    if error.is_closed() {
        return StoreError::Connection(message);
    }
    match error.code() {
        Some(code)
            if code == &SqlState::T_R_SERIALIZATION_FAILURE
                || code == &SqlState::T_R_DEADLOCK_DETECTED
                || code == &SqlState::LOCK_NOT_AVAILABLE =>
        {
            StoreError::Busy(message)
        }
        Some(code)
            if code.code().starts_with("08")
                || code == &SqlState::ADMIN_SHUTDOWN
                || code == &SqlState::CRASH_SHUTDOWN
                || code == &SqlState::CANNOT_CONNECT_NOW =>
        {
            StoreError::Connection(message)
        }
        Some(_) => StoreError::Statement(message),
        // No SQLSTATE: the failure is below SQL (I/O, TLS, protocol), so
        // the connection is what broke.
        None => StoreError::Connection(message),
    }
}

/// The error with its database detail (tokio-postgres' `Display` shows only
/// "db error" for server errors).
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db_error) => format!("{db_error}"),
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}

/// [`classify`] as a closure for `map_err`.
fn failed(context: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |error| classify(context, error)
}

impl Store for PostgresStore {
    async fn write_batch(&mut self, batch: &StoreBatch<'_>) -> Result<WriteOutcome, StoreError> {
        write::write_batch(self, batch).await
    }

    async fn function_summaries(
        &mut self,
        since_ms: Option<i64>,
    ) -> Result<Vec<FunctionSummary>, StoreError> {
        let client = self.client().await?;
        let summaries = read::function_summaries(&client, since_ms).await;
        release(client, &summaries);
        summaries
    }

    async fn minute_rows(&mut self, since_ms: Option<i64>) -> Result<Vec<MinuteRow>, StoreError> {
        let client = self.client().await?;
        let minute_rows = read::minute_rows(&client, since_ms).await;
        release(client, &minute_rows);
        minute_rows
    }

    async fn dump(&mut self) -> Result<String, StoreError> {
        let client = self.client().await?;
        let text = read::dump(&client).await;
        release(client, &text);
        text
    }

    async fn tune_samples(
        &mut self,
        function: Option<&str>,
        since_ms: Option<i64>,
        limit_per_size: usize,
    ) -> Result<Vec<lamlog_core::tune::Sample>, StoreError> {
        let client = self.client().await?;
        let samples = read::tune_samples(&client, function, since_ms, limit_per_size).await;
        release(client, &samples);
        samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://postgres:hunter2@127.0.0.1:1/test"),
            "postgres://postgres:***@127.0.0.1:1/test"
        );
        assert_eq!(
            redact_url("postgres://u:p%40ss@db/x?sslmode=require&password=hunter2"),
            "postgres://u:***@db/x?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1:5432/test"),
            "postgres://postgres@127.0.0.1:5432/test"
        );
        assert_eq!(redact_url("host=db user=u"), "host=db user=u");
        assert_eq!(
            redact_url("host=db password=hunter2 user=u"),
            "host=db password=*** user=u"
        );
        assert_eq!(
            redact_url("host=db password = 'hun \\' ter2' user=u"),
            "host=db password=*** user=u"
        );
        let config = PostgresConfig::new("postgres://u:hunter2@db/x");
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(check_schema_name("lamlog_test_1a").is_ok());
        assert!(check_schema_name("x; DROP SCHEMA public").is_err());
        assert!(check_schema_name("").is_err());
        assert!(check_schema_name("Upper").is_err());
    }
}
