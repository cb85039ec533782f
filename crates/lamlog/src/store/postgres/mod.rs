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
//! - **Four round trips per batch, whatever its size.** Invocations go in by
//!   binary `COPY` into a temporary table and set-based `INSERT … SELECT` /
//!   `UPDATE … FROM`; rollups, watermarks, alerts and dead letters go in by
//!   one `unnest`-array upsert each; and the statements that do not need
//!   each other's answers are pipelined (`write.rs`, `pipeline.rs`).
//! - **Retention.** `invocations` is range-partitioned by UTC day of its
//!   start time (`partitions.rs`); [`PostgresStore::prune_before`] drops whole
//!   days and deletes the old rows no day holds (`prune.rs`). Rows with no
//!   REPORT yet have no time, so they wait in `pending_invocations` until
//!   their REPORT comes (`migrations/0001_init.sql` explains why two tables),
//!   aged by when they were first seen.
//! - **TLS** with rustls when the URL asks for it (`tls.rs`), verifying the
//!   server against a CA file such as the RDS bundle.
//! - **Secrets stay secret**: every error message names the database by its
//!   URL with the password replaced by `***` (see [`redact_url`]); in
//!   production the password is not in the URL at all but read from a
//!   [`CredentialSource`] (`credentials.rs`, `connect.rs`), again after an
//!   authentication failure, so that a rotated secret is picked up.
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::time::Instant;

use lamlog_core::assemble::{Environment, EnvironmentKey};

use crate::store::{FunctionSummary, MinuteRow, Store, StoreBatch, StoreError, WriteOutcome};

mod alerts;
mod change;
mod classify;
mod config;
mod connect;
mod credentials;
mod dead_letters;
mod environments;
mod invocation_writes;
mod locks;
mod migrate;
mod outbox;
mod partitions;
mod pipeline;
mod prune;
mod read;
mod rollup;
mod rows;
mod tls;
mod trails;
mod windows;
mod write;

pub use crate::redact::redact_url;
use classify::failed;
use config::check_schema_name;
pub use config::PostgresConfig;
use credentials::CredentialCache;
pub use credentials::{
    CredentialSource, CredentialsError, CredentialsFuture, DbCredentials, SharedCredentialSource,
};
pub use migrate::SCHEMA_VERSION;
pub use tls::{interception_warning, TlsMode};

/// An `invocations` row as the store writes it: the column list, the column
/// types for binary `COPY`, and a row's values in that order. For baselines
/// that write rows outside the store (`lamlog-bench`'s `write_paths.rs`); the
/// store itself writes through [`Store::write_batch`](crate::store::Store::write_batch).
pub mod invocation_row {
    pub use super::rows::{column_list, SqlRow, COLUMN_TYPES};
}

/// How long a new connection may take before the attempt fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// TCP keepalive: probe an idle connection after this long…
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
/// …every this long…
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// …and give the connection up after this many unanswered probes.
const KEEPALIVE_RETRIES: u32 = 3;

/// Below this much time left before the deadline a write is not started.
const MIN_WRITE_TIME: Duration = Duration::from_millis(50);

/// How long after its server-side timeouts a write's client side gives up
/// on an answer (the server then could not even say it cancelled).
const CLIENT_GRACE: Duration = Duration::from_millis(250);

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
    /// The credentials read from the configuration's source, if it has one.
    credentials: Option<Arc<CredentialCache>>,
    /// The schema to migrate, when the configuration names one.
    schema: Option<Arc<str>>,
    /// Whether the schema is known to be up to date: set by the first
    /// connection, which migrates (see [`PostgresStore::connect_lazily`]).
    ready: Arc<AtomicBool>,
    /// No write waits past this (see [`Store::set_deadline`]).
    deadline: Option<Instant>,
    /// The received time of the last batch, when its write found no unsent
    /// alert due then (asked just before its commit, in the same round
    /// trip): the outbox claim that follows it, at that time, has nothing to
    /// claim and skips its round trip (`outbox.rs`). Used once.
    no_backlog_at: Option<i64>,
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
        let store = PostgresStore::connect_lazily(config)?;
        let client = store.client().await?;
        drop(client);
        Ok(store)
    }

    /// Builds the pool without connecting: the first call that needs the
    /// database connects and migrates. This is what the Lambda does at cold
    /// start, so that a database that is down fails the first batch (which
    /// Kinesis then retries) instead of the function's init, and init costs
    /// no round trip (a credential source, too, is first read then). Fails
    /// only on a configuration that can never work (an invalid URL, TLS
    /// settings, schema name, a password in the URL beside a credential
    /// source).
    pub fn connect_lazily(config: &PostgresConfig) -> Result<PostgresStore, StoreError> {
        let redacted = redact_url(&config.url);
        let (url, tls_mode) = tls::split_ssl_mode(&config.url)
            .map_err(|message| StoreError::Connection(format!("{redacted}: {message}")))?;
        let mut pg_config: tokio_postgres::Config = url.parse().map_err(|error| {
            StoreError::Connection(format!("{redacted}: invalid connection url: {error}"))
        })?;
        if pg_config.get_connect_timeout().is_none() {
            pg_config.connect_timeout(CONNECT_TIMEOUT);
        }
        // A peer that vanishes (a failover, a dropped NAT entry) is noticed
        // within about idle + interval × retries, not at the OS default of
        // two hours; deadlines bound the rest.
        pg_config
            .keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_RETRIES);
        if config.credentials.is_some() && pg_config.get_password().is_some() {
            return Err(StoreError::Connection(format!(
                "{redacted}: the url holds a password and a credential source is set: \
                 remove the password from the url"
            )));
        }
        if let Some(schema) = &config.schema {
            check_schema_name(schema)?;
            pg_config.options(format!("-c search_path={schema}"));
        }
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let tls = tls::connector(tls_mode, config.ca_file.as_deref())
            .map_err(|message| StoreError::Connection(format!("{redacted}: {message}")))?;
        let credentials = config
            .credentials
            .as_ref()
            .map(|source| Arc::new(CredentialCache::new(Arc::clone(&source.0))));
        let connect = connect::StoreConnect {
            tls,
            credentials: credentials.clone(),
        };
        let manager = Manager::from_connect(pg_config, connect, manager_config);
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(CONNECT_TIMEOUT.saturating_add(Duration::from_secs(1))))
            .build()
            .map_err(|error| {
                StoreError::Connection(format!("{redacted}: building the pool: {error}"))
            })?;
        Ok(PostgresStore {
            pool,
            known_days: Arc::new(Mutex::new(BTreeSet::new())),
            redacted_url: Arc::from(redacted.as_str()),
            credentials,
            schema: config.schema.as_deref().map(Arc::from),
            ready: Arc::new(AtomicBool::new(false)),
            deadline: None,
            no_backlog_at: None,
        })
    }

    /// Brings the schema up to date and learns the existing day partitions,
    /// once per store (its clones share the answer).
    async fn prepare(&self, client: &mut deadpool_postgres::Client) -> Result<(), StoreError> {
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        migrate::migrate(client, self.schema.as_deref()).await?;
        let days = partitions::existing_days(client).await?;
        self.remember_days(days);
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    /// Runs `work` within `budget` (and [`CLIENT_GRACE`]); one that runs out
    /// of it is a connection error, so its connection is not reused.
    async fn within<T>(
        &self,
        budget: Option<Duration>,
        work: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let Some(budget) = budget else {
            return work.await;
        };
        tokio::time::timeout(budget.saturating_add(CLIENT_GRACE), work)
            .await
            .unwrap_or_else(|_elapsed| {
                Err(StoreError::Connection(format!(
                    "{}: no answer within the {} ms left before the deadline",
                    self.redacted_url,
                    budget.as_millis()
                )))
            })
    }

    /// The time left before the deadline, if one is set; a
    /// [`StoreError::Busy`] when too little is left to start a write.
    fn time_left(&self) -> Result<Option<Duration>, StoreError> {
        let Some(deadline) = self.deadline else {
            return Ok(None);
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left < MIN_WRITE_TIME {
            return Err(StoreError::Busy(format!(
                "{}: {} ms left before the deadline, too little to write",
                self.redacted_url,
                left.as_millis()
            )));
        }
        Ok(Some(left))
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

    /// A connection from the pool, with the schema up to date.
    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        let mut client = self.pooled_client().await?;
        let prepared = self.prepare(&mut client).await;
        release_on_error(client, prepared)
    }

    async fn pooled_client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        connect::checkout(&self.pool, self.credentials.as_deref(), &self.redacted_url).await
    }

    /// Whether a connection of the store is encrypted, as the server sees it
    /// (`pg_stat_ssl`): to check the TLS settings. Does not migrate.
    pub async fn connection_is_encrypted(&self) -> Result<bool, StoreError> {
        let client = self.pooled_client().await?;
        let encrypted = connect::is_encrypted(&client).await;
        release(client, &encrypted);
        encrypted
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

/// `client` when `result` is fine; otherwise the error, the client released
/// (see [`release`]).
fn release_on_error(
    client: deadpool_postgres::Client,
    result: Result<(), StoreError>,
) -> Result<deadpool_postgres::Client, StoreError> {
    match result {
        Ok(()) => Ok(client),
        Err(error) => {
            release_if(client, matches!(error, StoreError::Connection(_)));
            Err(error)
        }
    }
}

/// Returns a connection to the pool, unless it broke: a connection that
/// failed with [`StoreError::Connection`] is dropped rather than handed to the
/// next caller, who would find it dead (the pool's own check only sees a
/// connection as closed once its background task has noticed).
fn release<T>(client: deadpool_postgres::Client, result: &Result<T, StoreError>) {
    release_if(client, matches!(result, Err(StoreError::Connection(_))));
}

fn release_if(client: deadpool_postgres::Client, broken: bool) {
    if broken || client.is_closed() {
        drop(deadpool_postgres::Object::take(client));
    }
}

impl Store for PostgresStore {
    /// With a deadline, the transaction runs with `statement_timeout` and
    /// `lock_timeout` set to the time left (advisory-lock waits included),
    /// and the client gives up [`CLIENT_GRACE`] later, dropping the pool's
    /// connections, should the server not answer at all.
    async fn write_batch(&mut self, batch: &StoreBatch<'_>) -> Result<WriteOutcome, StoreError> {
        self.no_backlog_at = None;
        let budget = self.time_left()?;
        let writing = write::write_batch(self, batch, budget);
        let written = match budget {
            None => writing.await,
            Some(budget) => {
                match tokio::time::timeout(budget.saturating_add(CLIENT_GRACE), writing).await {
                    Ok(written) => written,
                    Err(_elapsed) => {
                        // A connection abandoned mid-statement cannot be reused.
                        self.pool.retain(|_, _| false);
                        return Err(StoreError::Connection(format!(
                            "{}: no answer within the {} ms left before the deadline",
                            self.redacted_url,
                            budget.as_millis()
                        )));
                    }
                }
            }
        };
        let (outcome, backlog_due) = written?;
        if !backlog_due {
            self.no_backlog_at = Some(batch.received_at_ms);
        }
        Ok(outcome)
    }

    fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    async fn record_environments(
        &mut self,
        environments: &[Environment],
        seen_ms: i64,
    ) -> Result<(), StoreError> {
        let budget = self.time_left()?;
        let client = self.client().await?;
        let recorded = self
            .within(budget, environments::record(&client, environments, seen_ms))
            .await;
        release(client, &recorded);
        recorded
    }

    async fn environment_types(
        &mut self,
        keys: &[EnvironmentKey],
    ) -> Result<Vec<Environment>, StoreError> {
        let budget = self.time_left()?;
        let client = self.client().await?;
        let found = self
            .within(budget, environments::types(&client, keys))
            .await;
        release(client, &found);
        found
    }

    async fn record_and_read_environments(
        &mut self,
        environments: &[Environment],
        seen_ms: i64,
        keys: &[EnvironmentKey],
    ) -> Result<Vec<Environment>, StoreError> {
        let budget = self.time_left()?;
        let client = self.client().await?;
        let found = self
            .within(
                budget,
                environments::record_and_read(&client, environments, seen_ms, keys),
            )
            .await;
        release(client, &found);
        found
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

    async fn growing_streams(
        &mut self,
        since_ms: Option<i64>,
    ) -> Result<Vec<crate::store::GrowingStream>, StoreError> {
        let client = self.client().await?;
        let streams = trails::growing_streams(&client, since_ms).await;
        release(client, &streams);
        streams
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
