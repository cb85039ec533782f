//! Rows per second of three ways to write a batch of invocations into
//! PostgreSQL, on batches of 200 and 10,000:
//!
//! - **store**: `PostgresStore::write_batch`, the product's path: key locks,
//!   one read of the stored rows, binary `COPY` into a temporary table,
//!   `INSERT … SELECT`, then rollups, watermarks and alerts by `unnest`
//!   upserts, all in one transaction;
//! - **multi-row**: `INSERT … VALUES (…), (…), … ON CONFLICT DO NOTHING`, one
//!   statement per batch (split into statements of 2,500 rows, since a
//!   statement takes at most 65,535 parameters and a row has 24);
//! - **per-row**: one prepared `INSERT … ON CONFLICT DO NOTHING` per row.
//!
//! The last two exist only here: they write the invocation rows and nothing
//! else (no rollups, no alerts, no merge with stored rows), so they do less
//! work than the store does. A fourth line, **copy-only**, is a reference,
//! not a write path: one binary `COPY` of the rows straight into
//! `invocations`, with no conflict handling at all. It is what the server
//! needs to store the rows into that table and its indexes, which every path
//! pays, so no path can be faster than it.
//!
//! All four write into the same `invocations` table (same partition, same
//! indexes), new keys every batch, one transaction per batch, committed with
//! the server's durability settings. The paths take turns within each round
//! (the first path of a round rotates), so that load from other processes
//! falls on all of them alike; each line gives the median of the rounds and
//! the slowest and fastest round. A warm-up round (statement caches, the
//! day's partition) is not counted.
//!
//! ```text
//! cargo run --release -p lamlog --example pg_write_paths [ROUNDS_200 ROUNDS_10000]
//! ```
//!
//! It uses `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`)
//! and works in a schema of its own, dropped at the end.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use lamlog::store::postgres::invocation_row::{column_list, SqlRow, COLUMN_TYPES};
use lamlog::store::postgres::{PostgresConfig, PostgresStore};
use lamlog::store::{Store, StoreBatch, StoredInvocation};
use lamlog_core::assemble::Invocation;
use lamlog_core::judge::AlertRules;
use lamlog_core::meta::Architecture;
use tokio_postgres::types::ToSql;

/// 2025-06-15T10:00:00Z.
const BASE_MS: i64 = 1_749_981_600_000;

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
    for chunk in rows.chunks(2_500) {
        let sql_rows = sql_rows(chunk)?;
        let params: Vec<&(dyn ToSql + Sync)> = sql_rows.iter().flat_map(SqlRow::values).collect();
        let tuples: Vec<String> = (0..chunk.len())
            .map(|row| {
                let placeholders: Vec<String> = (1..=24)
                    .map(|column| format!("${}", row * 24 + column))
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
    let placeholders: Vec<String> = (1..=24).map(|column| format!("${column}")).collect();
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

const PATHS: [&str; 4] = ["store", "multi-row", "per-row", "copy-only"];

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

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn median(sorted: &[Duration]) -> Duration {
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let arguments: Vec<usize> = std::env::args()
        .skip(1)
        .map(|argument| argument.parse())
        .collect::<Result<_, _>>()
        .context("usage: pg_write_paths [ROUNDS_200 ROUNDS_10000]")?;
    let rounds_small = arguments.first().copied().unwrap_or(40).max(1);
    let rounds_large = arguments.get(1).copied().unwrap_or(9).max(1);
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = format!("lamlog_bench_{:08x}", fastrand::u32(..));
    let config = PostgresConfig {
        pool_size: 1,
        schema: Some(schema.clone()),
        ..PostgresConfig::new(url.clone())
    };
    let mut store = PostgresStore::connect(&config)
        .await
        .context("connecting the store")?;
    let mut pg_config: tokio_postgres::Config = url.parse()?;
    pg_config.options(format!("-c search_path={schema}"));
    let (mut client, connection) = pg_config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(connection);

    let metadata = std::collections::BTreeMap::new();
    let rules = AlertRules::default();
    println!("load average before: {}", load_average());
    let mut lines = Vec::new();
    for (size, rounds) in [(200_usize, rounds_small), (10_000, rounds_large)] {
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); PATHS.len()];
        // Round 0 warms up (statement caches, the day's partition).
        for round in 0..=rounds {
            for turn in 0..PATHS.len() {
                let index = (round + turn) % PATHS.len();
                let path = PATHS[index];
                let rows = invocations(path, round + size, size);
                let started = Instant::now();
                match path {
                    "store" => {
                        let batch = StoreBatch {
                            invocations: &rows,
                            dead_letters: &[],
                            metadata: &metadata,
                            rules: &rules,
                            // After every row, as a consumer's clock is.
                            received_at_ms: BASE_MS + 86_400_000,
                        };
                        store.write_batch(&batch).await?;
                    }
                    "multi-row" => multi_row(&mut client, &rows).await?,
                    "per-row" => per_row(&mut client, &rows).await?,
                    _ => copy_only(&mut client, &rows).await?,
                }
                if round > 0 {
                    times[index].push(started.elapsed());
                }
            }
        }
        let mut medians = Vec::new();
        for (path, path_times) in PATHS.iter().zip(&mut times) {
            path_times.sort_unstable();
            let rate = |time: Duration| size as f64 / time.as_secs_f64();
            let middle = median(path_times);
            medians.push(middle);
            lines.push(format!(
                "| {size} | {path} | {:.0} | {:.0}–{:.0} | {:.1} | {} |",
                rate(middle),
                rate(path_times[path_times.len() - 1]),
                rate(path_times[0]),
                middle.as_secs_f64() * 1000.0,
                path_times.len(),
            ));
        }
        let ratio = |other: usize| medians[other].as_secs_f64() / medians[0].as_secs_f64();
        lines.push(format!(
            "| {size} | store ÷ multi-row = {:.2}×, store ÷ per-row = {:.2}×, \
             store ÷ copy-only = {:.2}× (median rows/s) | | | | |",
            ratio(1),
            ratio(2),
            ratio(3),
        ));
    }
    println!("load average after: {}", load_average());
    println!(
        "| batch | path | rows/s (median) | rows/s (min–max) | ms per batch (median) | rounds |"
    );
    println!("|---:|---|---:|---:|---:|---:|");
    for line in lines {
        println!("{line}");
    }
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await?;
    Ok(())
}
