//! PostgreSQL write paths: rows per second of the shipped store against
//! simpler ways of writing the same invocation rows, on batches of 200 (the
//! case study's batch) and 10,000 (a full slice of a large batch).
//!
//! - **store**: `PostgresStore::write_batch`, the product's path: key locks,
//!   the read of stored rows, binary `COPY` into a temporary table,
//!   `INSERT … SELECT`, rollups, watermarks, trails and alerts, in one
//!   transaction;
//! - **multi-row**: `INSERT … VALUES (…), (…), … ON CONFLICT DO NOTHING`, as
//!   few statements as PostgreSQL's 65,535 parameters a statement allow (a
//!   row has one per column, `COLUMN_TYPES`);
//! - **per-row**: one prepared `INSERT … ON CONFLICT DO NOTHING` per row;
//! - **copy-only**, a reference and not a write path: one binary `COPY`
//!   straight into `invocations`, no conflict handling, no lookup, no
//!   rollups: the least work that stores these rows.
//!
//! The last three write the invocation rows and nothing else, so they do
//! less than the store. All four write into the same `invocations` table
//! (same partition, same indexes), new keys every batch, one transaction per
//! batch. They take turns within each round, the first path rotating, so
//! that load from other processes falls on all of them alike; a warm-up
//! round (statement caches, the day's partition) is not counted. Ratios are
//! of medians from the same run.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Context as _;
use lamlog::store::postgres::invocation_row::{column_list, SqlRow, COLUMN_TYPES};
use lamlog::store::postgres::{PostgresConfig, PostgresStore};
use lamlog::store::{Store, StoreBatch, StoredInvocation};
use lamlog_core::assemble::Invocation;
use lamlog_core::judge::AlertRules;
use lamlog_core::meta::Architecture;
use serde::Serialize;
use tokio_postgres::types::ToSql;

use crate::lambda::Schema;
use crate::stats::Spread;

/// The paths, in the order of a round's first turn.
pub const PATHS: [&str; 4] = ["store", "multi-row", "per-row", "copy-only"];

/// Its own schema, emptied and migrated before the section.
const SCHEMA: &str = "lamlog_bench_write_paths";

/// The most parameters one statement takes (the protocol counts them in 16 bits).
const MAX_PARAMETERS: usize = 65_535;

/// 2025-06-15T10:00:00Z.
const BASE_MS: i64 = 1_749_981_600_000;

/// One batch size's figures.
#[derive(Debug, Clone, Serialize)]
pub struct WritePaths {
    /// Rows per batch.
    pub batch_rows: usize,
    /// Counted rounds.
    pub rounds: usize,
    /// Rows per second of each path ([`PATHS`] order): median (min–max) of
    /// the rounds.
    pub rows_per_s: Vec<(String, Spread)>,
    /// Median rows/s of the store over that of the multi-row INSERT.
    pub store_over_multi_row: f64,
    /// Median rows/s of the store over that of the per-row INSERT.
    pub store_over_per_row: f64,
    /// Median rows/s of the store over that of the bare COPY.
    pub store_over_copy_only: f64,
}

/// Measures every path on batches of 200 and 10,000 rows.
pub async fn run(
    database_url: &str,
    (rounds_small, rounds_large): (usize, usize),
) -> anyhow::Result<Vec<WritePaths>> {
    let schema = Schema::new(database_url, SCHEMA);
    schema.fresh().await?;
    let config = PostgresConfig {
        pool_size: 1,
        schema: Some(SCHEMA.to_owned()),
        ..PostgresConfig::new(database_url.to_owned())
    };
    let mut store = PostgresStore::connect(&config)
        .await
        .context("connecting the store")?;
    let (mut client, connection) = tokio_postgres::connect(&schema.url(), tokio_postgres::NoTls)
        .await
        .context("connecting to PostgreSQL")?;
    let connection = tokio::spawn(connection);
    let mut measured = Vec::new();
    for (size, rounds) in [(200_usize, rounds_small), (10_000, rounds_large)] {
        let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); PATHS.len()];
        // Round 0 warms up.
        for round in 0..=rounds {
            for turn in 0..PATHS.len() {
                let index = (round + turn) % PATHS.len();
                let rows = invocations(PATHS[index], round + size, size);
                let started = Instant::now();
                match index {
                    0 => write_store(&mut store, &rows).await?,
                    1 => multi_row(&mut client, &rows).await?,
                    2 => per_row(&mut client, &rows).await?,
                    _ => copy_only(&mut client, &rows).await?,
                }
                if round > 0 {
                    seconds[index].push(started.elapsed().as_secs_f64());
                }
            }
        }
        let rates: Vec<Spread> = seconds
            .iter()
            .map(|times| {
                let rates: Vec<f64> = times.iter().map(|time| size as f64 / time).collect();
                Spread::of(&rates).unwrap_or(Spread::NONE)
            })
            .collect();
        let over = |other: usize| rates[0].median / rates[other].median;
        measured.push(WritePaths {
            batch_rows: size,
            rounds,
            store_over_multi_row: over(1),
            store_over_per_row: over(2),
            store_over_copy_only: over(3),
            rows_per_s: PATHS
                .iter()
                .map(|path| (*path).to_owned())
                .zip(rates)
                .collect(),
        });
    }
    drop(client);
    let _ = connection.await;
    Ok(measured)
}

/// `size` rows of 10 functions, keys unique to `path` and `round`, in key
/// order (as the pipeline hands them to the store).
fn invocations(path: &str, round: usize, size: usize) -> Vec<StoredInvocation> {
    let mut rows: Vec<StoredInvocation> = (0..size)
        .map(|index| {
            let function = format!("function-{}", index % 10);
            let duration_ms = 5.0 + (index % 977) as f64 * 1.37;
            StoredInvocation {
                invocation: Invocation {
                    account: "123456789012".to_owned(),
                    log_group: format!("/aws/lambda/{function}"),
                    function,
                    request_id: format!("{path}-{round:04}-{index:06}-8f3e2c1a-5b7d-4e9f"),
                    version: Some("$LATEST".to_owned()),
                    start_time_ms: Some(BASE_MS + (round * size + index) as i64 * 7),
                    duration_ms: Some(duration_ms),
                    billed_duration_ms: Some(duration_ms.ceil() as u64),
                    memory_size_mb: Some(256),
                    max_memory_used_mb: Some(80 + (index % 50) as u32),
                    ..Invocation::default()
                },
                enriched: true,
                tenant: Some("acme".to_owned()),
                architecture: Architecture::Arm64,
                region: Some("eu-west-1".to_owned()),
                cost_usd: Some(0.000_000_2 + duration_ms * 1e-9),
            }
        })
        .collect();
    rows.sort_by(|left, right| left.invocation.request_id.cmp(&right.invocation.request_id));
    rows
}

async fn write_store(store: &mut PostgresStore, rows: &[StoredInvocation]) -> anyhow::Result<()> {
    let metadata = BTreeMap::new();
    let rules = AlertRules::default();
    let batch = StoreBatch {
        invocations: rows,
        dead_letters: &[],
        metadata: &metadata,
        rules: &rules,
        // After every row, as a consumer's clock is.
        received_at_ms: BASE_MS + 86_400_000,
        unsent_alert_delay_ms: lamlog::store::UNSENT_ALERT_DELAY_MS,
    };
    store.write_batch(&batch).await?;
    Ok(())
}

/// Each row's values, in [`column_list`] order.
fn sql_rows(rows: &[StoredInvocation]) -> anyhow::Result<Vec<SqlRow<'_>>> {
    Ok(rows.iter().map(SqlRow::new).collect::<Result<_, _>>()?)
}

async fn multi_row(
    client: &mut tokio_postgres::Client,
    rows: &[StoredInvocation],
) -> anyhow::Result<()> {
    let transaction = client.transaction().await?;
    let columns = column_list("");
    for chunk in rows.chunks(MAX_PARAMETERS / COLUMN_TYPES.len()) {
        let sql_rows = sql_rows(chunk)?;
        let params: Vec<&(dyn ToSql + Sync)> = sql_rows.iter().flat_map(SqlRow::values).collect();
        let tuples: Vec<String> = (0..chunk.len())
            .map(|row| {
                let placeholders: Vec<String> = (1..=COLUMN_TYPES.len())
                    .map(|column| format!("${}", row * COLUMN_TYPES.len() + column))
                    .collect();
                format!("({})", placeholders.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO invocations ({columns}) VALUES {} ON CONFLICT DO NOTHING",
            tuples.join(", ")
        );
        transaction.execute(&sql, &params).await?;
    }
    transaction.commit().await?;
    Ok(())
}

async fn per_row(
    client: &mut tokio_postgres::Client,
    rows: &[StoredInvocation],
) -> anyhow::Result<()> {
    let transaction = client.transaction().await?;
    let placeholders: Vec<String> = (1..=COLUMN_TYPES.len())
        .map(|column| format!("${column}"))
        .collect();
    let statement = transaction
        .prepare(&format!(
            "INSERT INTO invocations ({}) VALUES ({}) ON CONFLICT DO NOTHING",
            column_list(""),
            placeholders.join(", ")
        ))
        .await?;
    for row in sql_rows(rows)? {
        transaction.execute(&statement, &row.values()).await?;
    }
    transaction.commit().await?;
    Ok(())
}

/// The reference: one binary `COPY` into `invocations`, no conflict handling.
async fn copy_only(
    client: &mut tokio_postgres::Client,
    rows: &[StoredInvocation],
) -> anyhow::Result<()> {
    let transaction = client.transaction().await?;
    let sink = transaction
        .copy_in(&format!(
            "COPY invocations ({}) FROM STDIN (FORMAT binary)",
            column_list("")
        ))
        .await?;
    let mut writer = std::pin::pin!(tokio_postgres::binary_copy::BinaryCopyInWriter::new(
        sink,
        &COLUMN_TYPES
    ));
    for row in sql_rows(rows)? {
        writer.as_mut().write(&row.values()).await?;
    }
    writer.as_mut().finish().await?;
    transaction.commit().await?;
    Ok(())
}

/// Prints the section's table.
pub fn print(measured: &[WritePaths]) {
    println!("## PostgreSQL write paths: the store against one multi-row INSERT, one INSERT per row and a bare COPY");
    println!("| batch | path | rows/s | ms per batch (median) | rounds |");
    println!("|---:|---|---:|---:|---:|");
    for batch in measured {
        for (path, rate) in &batch.rows_per_s {
            println!(
                "| {} | {path} | {} | {:.1} | {} |",
                batch.batch_rows,
                rate.display(0),
                batch.batch_rows as f64 / rate.median * 1000.0,
                batch.rounds
            );
        }
        println!(
            "| {} | store ÷ multi-row {:.2}×, ÷ per-row {:.2}×, ÷ copy-only {:.2}× (median rows/s) | | | |",
            batch.batch_rows,
            batch.store_over_multi_row,
            batch.store_over_per_row,
            batch.store_over_copy_only
        );
    }
    println!();
}
