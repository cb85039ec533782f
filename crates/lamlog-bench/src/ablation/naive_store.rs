//! The benchmark-only stores of the ablation's first four rows.
//!
//! They write the facts a first version would write (the invocation row and
//! its function's per-minute count, insert-if-absent so a replay changes
//! nothing) in one transaction per batch, two ways:
//!
//! - [`WriteMode::PerRow`]: one `INSERT … ON CONFLICT DO NOTHING` per
//!   invocation, then one rollup upsert per inserted row — two round trips
//!   per row;
//! - [`WriteMode::Batched`]: one multi-row `INSERT … SELECT FROM unnest(…)
//!   … RETURNING` and one rollup upsert for the whole batch.
//!
//! They do less than the shipped `PostgresStore` (no histograms, alerts,
//! watermarks, key locks or partitions), so the ablation understates what
//! the shipped store's techniques save, never overstates it. They live in
//! their own schema and never ship.

use std::collections::BTreeMap;

use lamlog::store::{
    AlertOutbox, FunctionSummary, MinuteRow, Store, StoreBatch, StoreError, WriteOutcome,
};
use lamlog_core::judge::Alert;
use tokio_postgres::{Client, NoTls};

/// The schema the naive stores write in.
pub const SCHEMA: &str = "lamlog_bench_naive";

/// The tables, created (if absent) by [`create_schema`].
const DDL: &str = "
CREATE SCHEMA IF NOT EXISTS lamlog_bench_naive;
CREATE TABLE IF NOT EXISTS lamlog_bench_naive.invocations (
    account TEXT NOT NULL, function TEXT NOT NULL, request_id TEXT NOT NULL,
    start_time_ms BIGINT, duration_ms DOUBLE PRECISION, billed_duration_ms BIGINT,
    memory_size_mb BIGINT, max_memory_used_mb BIGINT, status TEXT NOT NULL,
    enriched BOOLEAN NOT NULL, tenant TEXT, cost_usd DOUBLE PRECISION,
    PRIMARY KEY (account, function, request_id));
CREATE TABLE IF NOT EXISTS lamlog_bench_naive.function_minute (
    account TEXT NOT NULL, function TEXT NOT NULL, minute_ms BIGINT NOT NULL,
    invocations BIGINT NOT NULL, duration_sum_us BIGINT NOT NULL,
    PRIMARY KEY (account, function, minute_ms));
";

/// How a batch's rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// One statement per row.
    PerRow,
    /// One statement per table per batch.
    Batched,
}

/// A benchmark-only [`Store`] on one connection.
pub struct NaiveStore {
    client: Client,
    mode: WriteMode,
}

impl std::fmt::Debug for NaiveStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("NaiveStore")
            .field("mode", &self.mode)
            .finish()
    }
}

fn connection_failed(error: tokio_postgres::Error) -> StoreError {
    StoreError::Connection(error.to_string())
}

fn statement_failed(error: tokio_postgres::Error) -> StoreError {
    StoreError::Statement(error.to_string())
}

/// Creates the naive stores' schema and tables.
pub async fn create_schema(url: &str) -> Result<(), StoreError> {
    let store = NaiveStore::connect(url, WriteMode::Batched).await?;
    store
        .client
        .batch_execute(DDL)
        .await
        .map_err(statement_failed)
}

impl NaiveStore {
    /// Opens a new connection (what the per-batch variants pay each batch).
    pub async fn connect(url: &str, mode: WriteMode) -> Result<NaiveStore, StoreError> {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .map_err(connection_failed)?;
        tokio::spawn(connection);
        Ok(NaiveStore { client, mode })
    }
}

/// One row's figures for the rollup: (account, function, minute) → (count, µs).
type Rollup = BTreeMap<(String, String, i64), (i64, i64)>;

fn add_to_rollup(rollup: &mut Rollup, account: &str, function: &str, start: i64, duration_ms: f64) {
    let minute_ms = start - start.rem_euclid(60_000);
    let entry = rollup
        .entry((account.to_owned(), function.to_owned(), minute_ms))
        .or_insert((0, 0));
    entry.0 += 1;
    entry.1 += (duration_ms * 1000.0).round() as i64;
}

const INSERT_ONE: &str = "INSERT INTO lamlog_bench_naive.invocations VALUES \
    ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING";
const ROLLUP_ONE: &str =
    "INSERT INTO lamlog_bench_naive.function_minute VALUES ($1, $2, $3, $4, $5) \
    ON CONFLICT (account, function, minute_ms) DO UPDATE SET \
    invocations = function_minute.invocations + EXCLUDED.invocations, \
    duration_sum_us = function_minute.duration_sum_us + EXCLUDED.duration_sum_us";
const INSERT_MANY: &str = "INSERT INTO lamlog_bench_naive.invocations \
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::float8[], \
    $6::bigint[], $7::bigint[], $8::bigint[], $9::text[], $10::bool[], $11::text[], $12::float8[]) \
    ON CONFLICT DO NOTHING RETURNING account, function, start_time_ms, duration_ms";
const ROLLUP_MANY: &str = "INSERT INTO lamlog_bench_naive.function_minute \
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) \
    ON CONFLICT (account, function, minute_ms) DO UPDATE SET \
    invocations = function_minute.invocations + EXCLUDED.invocations, \
    duration_sum_us = function_minute.duration_sum_us + EXCLUDED.duration_sum_us";

/// The naive baselines raise no alerts (the case study's parser has none), so
/// their outbox is always empty.
impl AlertOutbox for NaiveStore {
    async fn claim_unsent_alerts(
        &mut self,
        _: i64,
        _: i64,
        _: usize,
    ) -> Result<Vec<Alert>, StoreError> {
        Ok(Vec::new())
    }

    async fn mark_alerts_sent(&mut self, _: &[&str], _: i64) -> Result<(), StoreError> {
        Ok(())
    }

    async fn unsent_alert_count(&mut self) -> Result<u64, StoreError> {
        Ok(0)
    }
}

impl Store for NaiveStore {
    /// The minimal stores keep no environments: they price by the metadata,
    /// as the case study's parser did.
    async fn record_environments(
        &mut self,
        _: &[lamlog_core::assemble::Environment],
        _: i64,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    async fn environment_types(
        &mut self,
        _: &[lamlog_core::assemble::EnvironmentKey],
    ) -> Result<Vec<lamlog_core::assemble::Environment>, StoreError> {
        Ok(Vec::new())
    }

    async fn write_batch(&mut self, batch: &StoreBatch<'_>) -> Result<WriteOutcome, StoreError> {
        let transaction = self.client.transaction().await.map_err(statement_failed)?;
        let mut outcome = WriteOutcome::default();
        let mut rollup = Rollup::new();
        match self.mode {
            WriteMode::PerRow => {
                for stored in batch.invocations {
                    let row = &stored.invocation;
                    let inserted = transaction
                        .execute(
                            INSERT_ONE,
                            &[
                                &row.account,
                                &row.function,
                                &row.request_id,
                                &row.start_time_ms,
                                &row.duration_ms,
                                &row.billed_duration_ms.map(|ms| ms as i64),
                                &row.memory_size_mb.map(i64::from),
                                &row.max_memory_used_mb.map(i64::from),
                                &row.status().as_str().to_owned(),
                                &stored.enriched,
                                &stored.tenant,
                                &stored.cost_usd,
                            ],
                        )
                        .await
                        .map_err(statement_failed)?;
                    if inserted == 0 {
                        outcome.unchanged += 1;
                        continue;
                    }
                    outcome.inserted += 1;
                    if let (Some(start), Some(duration)) = (row.start_time_ms, row.duration_ms) {
                        let mut one = Rollup::new();
                        add_to_rollup(&mut one, &row.account, &row.function, start, duration);
                        for ((account, function, minute), (count, micros)) in one {
                            transaction
                                .execute(
                                    ROLLUP_ONE,
                                    &[&account, &function, &minute, &count, &micros],
                                )
                                .await
                                .map_err(statement_failed)?;
                        }
                    }
                }
            }
            WriteMode::Batched => {
                let rows = batch.invocations;
                let column = |pick: &dyn Fn(&lamlog::store::StoredInvocation) -> String| {
                    rows.iter().map(pick).collect::<Vec<String>>()
                };
                let accounts = column(&|s| s.invocation.account.clone());
                let functions = column(&|s| s.invocation.function.clone());
                let request_ids = column(&|s| s.invocation.request_id.clone());
                let statuses = column(&|s| s.invocation.status().as_str().to_owned());
                let starts: Vec<Option<i64>> =
                    rows.iter().map(|s| s.invocation.start_time_ms).collect();
                let durations: Vec<Option<f64>> =
                    rows.iter().map(|s| s.invocation.duration_ms).collect();
                let billed: Vec<Option<i64>> = rows
                    .iter()
                    .map(|s| s.invocation.billed_duration_ms.map(|ms| ms as i64))
                    .collect();
                let memory: Vec<Option<i64>> = rows
                    .iter()
                    .map(|s| s.invocation.memory_size_mb.map(i64::from))
                    .collect();
                let used: Vec<Option<i64>> = rows
                    .iter()
                    .map(|s| s.invocation.max_memory_used_mb.map(i64::from))
                    .collect();
                let enriched: Vec<bool> = rows.iter().map(|s| s.enriched).collect();
                let tenants: Vec<Option<String>> = rows.iter().map(|s| s.tenant.clone()).collect();
                let costs: Vec<Option<f64>> = rows.iter().map(|s| s.cost_usd).collect();
                let inserted = transaction
                    .query(
                        INSERT_MANY,
                        &[
                            &accounts,
                            &functions,
                            &request_ids,
                            &starts,
                            &durations,
                            &billed,
                            &memory,
                            &used,
                            &statuses,
                            &enriched,
                            &tenants,
                            &costs,
                        ],
                    )
                    .await
                    .map_err(statement_failed)?;
                outcome.inserted = inserted.len() as u64;
                outcome.unchanged = rows.len() as u64 - outcome.inserted;
                for row in &inserted {
                    let start: Option<i64> = row.get(2);
                    let duration: Option<f64> = row.get(3);
                    if let (Some(start), Some(duration)) = (start, duration) {
                        let account: String = row.get(0);
                        let function: String = row.get(1);
                        add_to_rollup(&mut rollup, &account, &function, start, duration);
                    }
                }
                if !rollup.is_empty() {
                    let mut columns = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
                    for ((account, function, minute), (count, micros)) in rollup {
                        columns.0.push(account);
                        columns.1.push(function);
                        columns.2.push(minute);
                        columns.3.push(count);
                        columns.4.push(micros);
                    }
                    transaction
                        .execute(
                            ROLLUP_MANY,
                            &[&columns.0, &columns.1, &columns.2, &columns.3, &columns.4],
                        )
                        .await
                        .map_err(statement_failed)?;
                }
            }
        }
        transaction.commit().await.map_err(statement_failed)?;
        Ok(outcome)
    }

    async fn function_summaries(
        &mut self,
        _since_ms: Option<i64>,
    ) -> Result<Vec<FunctionSummary>, StoreError> {
        Ok(Vec::new())
    }

    async fn minute_rows(&mut self, _since_ms: Option<i64>) -> Result<Vec<MinuteRow>, StoreError> {
        Ok(Vec::new())
    }

    async fn dump(&mut self) -> Result<String, StoreError> {
        Ok(String::new())
    }

    async fn growing_streams(
        &mut self,
        _since_ms: Option<i64>,
    ) -> Result<Vec<lamlog::store::GrowingStream>, StoreError> {
        Ok(Vec::new())
    }

    async fn tune_samples(
        &mut self,
        _function: Option<&str>,
        _since_ms: Option<i64>,
        _limit_per_size: usize,
    ) -> Result<Vec<lamlog_core::tune::Sample>, StoreError> {
        Ok(Vec::new())
    }
}
