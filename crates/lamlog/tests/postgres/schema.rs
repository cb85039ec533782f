//! A PostgreSQL store in a schema of its own, dropped when the store is, so
//! that tests run in parallel against one database without seeing each
//! other's rows.
//!
//! The server is `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
//! A test that cannot reach it fails: it never skips.

use lamlog::store::postgres::{PostgresConfig, PostgresStore};
use lamlog::store::{
    AlertOutbox, FunctionSummary, MinuteRow, Store, StoreBatch, StoreError, WriteOutcome,
};
use lamlog_core::judge::Alert;

/// The database the tests use.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh schema name.
pub fn schema_name() -> String {
    format!("lamlog_test_{:016x}", fastrand::u64(..))
}

/// A configuration for `schema` with `pool_size` connections.
pub fn config(schema: &str, pool_size: usize) -> PostgresConfig {
    PostgresConfig {
        pool_size,
        schema: Some(schema.to_owned()),
        ..PostgresConfig::new(database_url())
    }
}

/// A connection of the test's own, outside any store, working in `schema`.
pub async fn raw_client(schema: &str) -> tokio_postgres::Client {
    let mut pg_config: tokio_postgres::Config = database_url()
        .parse()
        .unwrap_or_else(|error| panic!("DATABASE_URL: {error}"));
    pg_config.options(format!("-c search_path={schema}"));
    let (client, connection) = pg_config
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|error| panic!("connecting to {}: {error}", database_url()));
    tokio::spawn(connection);
    client
}

/// A store in its own schema; the schema is dropped with it.
pub struct TestStore {
    pub store: PostgresStore,
    pub schema: String,
}

impl TestStore {
    /// A new, empty store in a new schema, with `pool_size` connections.
    pub async fn with_pool(pool_size: usize) -> TestStore {
        let schema = schema_name();
        let store = match PostgresStore::connect(&config(&schema, pool_size)).await {
            Ok(store) => store,
            Err(error) => panic!("PostgreSQL at {} is required: {error}", database_url()),
        };
        TestStore { store, schema }
    }

    /// A new, empty store with 2 connections.
    pub async fn fresh() -> TestStore {
        TestStore::with_pool(2).await
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        let schema = self.schema.clone();
        // The test's runtime may be the one being dropped, so the schema is
        // dropped from a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test schema");
            runtime.block_on(async {
                let client = raw_client("public").await;
                client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("dropping schema {}: {error}", self.schema);
        }
    }
}

impl AlertOutbox for TestStore {
    async fn claim_unsent_alerts(
        &mut self,
        now_ms: i64,
        hold_ms: i64,
        limit: usize,
    ) -> Result<Vec<Alert>, StoreError> {
        self.store.claim_unsent_alerts(now_ms, hold_ms, limit).await
    }

    async fn mark_alerts_sent(
        &mut self,
        dedup_keys: &[&str],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.store.mark_alerts_sent(dedup_keys, now_ms).await
    }

    async fn unsent_alert_count(&mut self) -> Result<u64, StoreError> {
        self.store.unsent_alert_count().await
    }
}

impl Store for TestStore {
    async fn write_batch(&mut self, batch: &StoreBatch<'_>) -> Result<WriteOutcome, StoreError> {
        self.store.write_batch(batch).await
    }

    fn set_deadline(&mut self, deadline: Option<tokio::time::Instant>) {
        self.store.set_deadline(deadline);
    }

    async fn function_summaries(
        &mut self,
        since_ms: Option<i64>,
    ) -> Result<Vec<FunctionSummary>, StoreError> {
        self.store.function_summaries(since_ms).await
    }

    async fn minute_rows(&mut self, since_ms: Option<i64>) -> Result<Vec<MinuteRow>, StoreError> {
        self.store.minute_rows(since_ms).await
    }

    async fn dump(&mut self) -> Result<String, StoreError> {
        self.store.dump().await
    }

    async fn growing_streams(
        &mut self,
        since_ms: Option<i64>,
    ) -> Result<Vec<lamlog::store::GrowingStream>, StoreError> {
        self.store.growing_streams(since_ms).await
    }

    async fn tune_samples(
        &mut self,
        function: Option<&str>,
        since_ms: Option<i64>,
        limit_per_size: usize,
    ) -> Result<Vec<lamlog_core::tune::Sample>, StoreError> {
        self.store
            .tune_samples(function, since_ms, limit_per_size)
            .await
    }
    async fn record_environments(
        &mut self,
        environments: &[lamlog_core::assemble::Environment],
        seen_ms: i64,
    ) -> Result<(), StoreError> {
        self.store.record_environments(environments, seen_ms).await
    }

    async fn environment_types(
        &mut self,
        keys: &[lamlog_core::assemble::EnvironmentKey],
    ) -> Result<Vec<lamlog_core::assemble::Environment>, StoreError> {
        self.store.environment_types(keys).await
    }
}
