//! Reading the store back: per-function summaries, per-minute rows, tuning
//! samples, and the canonical dump that the split-and-replay property (and a
//! comparison with the SQLite store) reads.
//!
//! Summaries and minute rows read the rollup tables, so a report over months
//! costs one row per function-minute, not one per invocation; the memory
//! figures come from `invocations` by its (account, function, start time)
//! index. Every result is ordered as the SQLite store orders it: text
//! columns are `COLLATE "C"`, so they sort bytewise there as here.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use deadpool_postgres::Client;
use lamlog_core::meta::Architecture;
use lamlog_core::tune::Sample;
use tokio_postgres::types::Type;
use tokio_postgres::Row;

use super::{failed, rows};
use crate::store::{FunctionSummary, MinuteRow, StoreError};

const SELECT_SUMMARIES: &str = "
    SELECT account, function, SUM(invocations)::BIGINT, SUM(errors)::BIGINT,
           SUM(crashes)::BIGINT, SUM(timeouts)::BIGINT, SUM(ooms)::BIGINT,
           SUM(cold_starts)::BIGINT, SUM(duration_sum_us)::BIGINT, MAX(duration_max_us),
           SUM(billed_mb_ms)::BIGINT, SUM(cost_pico_usd)::BIGINT, MIN(minute_ms), MAX(minute_ms)
      FROM function_minute
     WHERE minute_ms >= $1
     GROUP BY account, function
     ORDER BY SUM(cost_pico_usd) DESC, account, function";

const SELECT_HISTOGRAMS: &str = "
    SELECT account, function, bucket, SUM(count)::BIGINT
      FROM function_minute_histogram
     WHERE minute_ms >= $1
     GROUP BY account, function, bucket
     ORDER BY account, function, bucket";

/// The latest memory size of each function and the largest memory used at
/// that size, by two index-bounded lookups per function.
const SELECT_MEMORY: &str = "
    SELECT latest.memory_size_mb, used.max_memory_used_mb
      FROM unnest($1::TEXT[], $2::TEXT[]) WITH ORDINALITY AS k(account, function, position)
      LEFT JOIN LATERAL (
           SELECT memory_size_mb FROM invocations i
            WHERE i.account = k.account AND i.function = k.function AND i.start_time_ms >= $3
              AND i.duration_ms IS NOT NULL AND i.memory_size_mb IS NOT NULL
            ORDER BY i.start_time_ms DESC, i.request_id DESC
            LIMIT 1) latest ON true
      LEFT JOIN LATERAL (
           SELECT MAX(max_memory_used_mb) AS max_memory_used_mb FROM invocations i
            WHERE i.account = k.account AND i.function = k.function AND i.start_time_ms >= $3
              AND i.duration_ms IS NOT NULL
              AND i.memory_size_mb = latest.memory_size_mb) used ON true
     ORDER BY k.position";

const SELECT_MINUTES: &str = "
    SELECT account, function, minute_ms, invocations
      FROM function_minute
     WHERE minute_ms >= $1
     ORDER BY account, function, minute_ms";

const SELECT_MINUTE_HISTOGRAMS: &str = "
    SELECT account, function, minute_ms, bucket, count
      FROM function_minute_histogram
     WHERE minute_ms >= $1
     ORDER BY account, function, minute_ms, bucket";

const SELECT_TUNE_SAMPLES: &str = "
    SELECT account, function, architecture, memory_size_mb, duration_ms, billed_duration_ms,
           max_memory_used_mb, COALESCE(init_duration_ms, restore_duration_ms),
           status = 'success', start_time_ms
      FROM (SELECT *, row_number() OVER (
                       PARTITION BY account, function, architecture, memory_size_mb
                       ORDER BY start_time_ms DESC, request_id DESC) AS recency
              FROM invocations
             WHERE duration_ms IS NOT NULL AND memory_size_mb IS NOT NULL
               AND start_time_ms >= $2 AND ($1::TEXT IS NULL OR function = $1)) ranked
     WHERE recency <= $3
     ORDER BY start_time_ms, account, function, request_id";

/// The tables of the dump, as in the SQLite store: name, the rows' source,
/// columns in their fixed order, and the primary key the rows are sorted by.
/// `invocations` is the union of the day partitions and the pending rows.
fn dump_tables() -> [(&'static str, String, String, &'static str); 8] {
    let invocation_columns = rows::column_list("");
    [
        (
            "invocations",
            format!(
                "(SELECT {invocation_columns} FROM invocations
                  UNION ALL
                  SELECT {invocation_columns} FROM pending_invocations) AS every_invocation"
            ),
            invocation_columns,
            "account, function, request_id",
        ),
        (
            "environments",
            "environments".to_owned(),
            "account, log_group, log_stream, initialization_type".to_owned(),
            "account, log_group, log_stream",
        ),
        (
            "stream_memory",
            "stream_memory".to_owned(),
            "account, log_group, log_stream, function, memory_size_mb, trail, last_ms, slope_mb, \
             invocations_to_limit"
                .to_owned(),
            "account, log_group, log_stream",
        ),
        (
            "function_minute",
            "function_minute".to_owned(),
            "account, function, minute_ms, invocations, successes, errors, crashes, ooms, \
             timeouts, cold_starts, duration_sum_us, duration_max_us, billed_mb_ms, cost_pico_usd"
                .to_owned(),
            "account, function, minute_ms",
        ),
        (
            "function_minute_histogram",
            "function_minute_histogram".to_owned(),
            "account, function, minute_ms, bucket, count".to_owned(),
            "account, function, minute_ms, bucket",
        ),
        (
            "function_watermark",
            "function_watermark".to_owned(),
            "account, function, watermark_ms".to_owned(),
            "account, function",
        ),
        (
            "alerts",
            "alerts".to_owned(),
            "dedup_key, kind, severity, account, function, request_id, window_start_ms, message, \
             occurrences"
                .to_owned(),
            "dedup_key",
        ),
        (
            "dead_letters",
            "dead_letters".to_owned(),
            "dedup_key, source, position, record_index, sequence_number, byte_offset, reason, \
             raw, received_at_ms, raw_len, raw_sha256"
                .to_owned(),
            "dedup_key",
        ),
    ]
}

/// The first start time whose minute is ≥ `since_ms`: the rollups count an
/// invocation in its minute, so the invocation-level figures must agree.
fn first_start_time_ms(since_ms: Option<i64>) -> i64 {
    let Some(since_ms) = since_ms else {
        return i64::MIN;
    };
    let minute_ms = lamlog_core::rollup::minute_of(since_ms);
    if minute_ms < since_ms {
        minute_ms.saturating_add(60_000)
    } else {
        minute_ms
    }
}

/// Per-function totals over minutes ≥ `since_ms`, highest cost first.
pub(super) async fn function_summaries(
    client: &Client,
    since_ms: Option<i64>,
) -> Result<Vec<FunctionSummary>, StoreError> {
    let start_time_ms = first_start_time_ms(since_ms);
    let since_ms = since_ms.unwrap_or(i64::MIN);
    let reading = failed("reading function summaries");
    let statement = client
        .prepare_cached(SELECT_HISTOGRAMS)
        .await
        .map_err(&reading)?;
    let mut histograms: BTreeMap<(String, String), Vec<(i32, i64)>> = BTreeMap::new();
    for row in client
        .query(&statement, &[&since_ms])
        .await
        .map_err(&reading)?
    {
        let key = (
            row.try_get(0).map_err(&reading)?,
            row.try_get(1).map_err(&reading)?,
        );
        let bucket = (
            row.try_get(2).map_err(&reading)?,
            row.try_get(3).map_err(&reading)?,
        );
        histograms.entry(key).or_default().push(bucket);
    }
    let statement = client
        .prepare_cached(SELECT_SUMMARIES)
        .await
        .map_err(&reading)?;
    let mut summaries = Vec::new();
    for row in client
        .query(&statement, &[&since_ms])
        .await
        .map_err(&reading)?
    {
        let account: String = row.try_get(0).map_err(&reading)?;
        let function: String = row.try_get(1).map_err(&reading)?;
        let histogram = histograms
            .remove(&(account.clone(), function.clone()))
            .unwrap_or_default();
        summaries.push(FunctionSummary {
            account,
            function,
            invocations: row.try_get(2).map_err(&reading)?,
            errors: row.try_get(3).map_err(&reading)?,
            crashes: row.try_get(4).map_err(&reading)?,
            timeouts: row.try_get(5).map_err(&reading)?,
            ooms: row.try_get(6).map_err(&reading)?,
            cold_starts: row.try_get(7).map_err(&reading)?,
            duration_sum_us: row.try_get(8).map_err(&reading)?,
            duration_max_us: row.try_get(9).map_err(&reading)?,
            billed_mb_ms: row.try_get(10).map_err(&reading)?,
            cost_pico_usd: row.try_get(11).map_err(&reading)?,
            histogram,
            first_minute_ms: row.try_get(12).map_err(&reading)?,
            last_minute_ms: row.try_get(13).map_err(&reading)?,
            memory_size_mb: None,
            max_memory_used_mb: None,
        });
    }
    if summaries.is_empty() {
        return Ok(summaries);
    }
    let accounts: Vec<&str> = summaries
        .iter()
        .map(|summary| summary.account.as_str())
        .collect();
    let functions: Vec<&str> = summaries
        .iter()
        .map(|summary| summary.function.as_str())
        .collect();
    let reading_memory = failed("reading memory figures");
    let statement = client
        .prepare_cached(SELECT_MEMORY)
        .await
        .map_err(&reading_memory)?;
    let memory_rows = client
        .query(&statement, &[&accounts, &functions, &start_time_ms])
        .await
        .map_err(&reading_memory)?;
    let memory: Vec<(Option<i64>, Option<i64>)> = memory_rows
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(&reading_memory)?;
    for (summary, (memory_size_mb, max_memory_used_mb)) in summaries.iter_mut().zip(memory) {
        summary.memory_size_mb = memory_size_mb;
        summary.max_memory_used_mb = max_memory_used_mb;
    }
    Ok(summaries)
}

/// Per-function, per-minute rows over minutes ≥ `since_ms`, ordered by
/// account, function and minute.
pub(super) async fn minute_rows(
    client: &Client,
    since_ms: Option<i64>,
) -> Result<Vec<MinuteRow>, StoreError> {
    let since_ms = since_ms.unwrap_or(i64::MIN);
    let reading = failed("reading minute rows");
    let statement = client
        .prepare_cached(SELECT_MINUTE_HISTOGRAMS)
        .await
        .map_err(&reading)?;
    let mut histograms: BTreeMap<(String, String, i64), Vec<(i32, i64)>> = BTreeMap::new();
    for row in client
        .query(&statement, &[&since_ms])
        .await
        .map_err(&reading)?
    {
        let key = (
            row.try_get(0).map_err(&reading)?,
            row.try_get(1).map_err(&reading)?,
            row.try_get(2).map_err(&reading)?,
        );
        let bucket = (
            row.try_get(3).map_err(&reading)?,
            row.try_get(4).map_err(&reading)?,
        );
        histograms.entry(key).or_default().push(bucket);
    }
    let statement = client
        .prepare_cached(SELECT_MINUTES)
        .await
        .map_err(&reading)?;
    let mut minute_rows = Vec::new();
    for row in client
        .query(&statement, &[&since_ms])
        .await
        .map_err(&reading)?
    {
        let account: String = row.try_get(0).map_err(&reading)?;
        let function: String = row.try_get(1).map_err(&reading)?;
        let minute_ms: i64 = row.try_get(2).map_err(&reading)?;
        let histogram = histograms
            .remove(&(account.clone(), function.clone(), minute_ms))
            .unwrap_or_default();
        minute_rows.push(MinuteRow {
            account,
            function,
            minute_ms,
            invocations: row.try_get(3).map_err(&reading)?,
            histogram,
        });
    }
    Ok(minute_rows)
}

/// Reported invocations for `lamlog tune`, oldest first (ties by key): of one
/// function (all when `None`) since `since_ms`, at most `limit_per_size` of
/// the most recent per (account, function, architecture, memory size).
pub(super) async fn tune_samples(
    client: &Client,
    function: Option<&str>,
    since_ms: Option<i64>,
    limit_per_size: usize,
) -> Result<Vec<Sample>, StoreError> {
    let reading = failed("reading tuning samples");
    let since_ms = since_ms.unwrap_or(i64::MIN);
    let limit = i64::try_from(limit_per_size).unwrap_or(i64::MAX);
    let statement = client
        .prepare_cached(SELECT_TUNE_SAMPLES)
        .await
        .map_err(&reading)?;
    let found = client
        .query(&statement, &[&function, &since_ms, &limit])
        .await
        .map_err(&reading)?;
    let invalid =
        |message: String| StoreError::Statement(format!("reading tuning samples: {message}"));
    let mut samples = Vec::with_capacity(found.len());
    for row in &found {
        let architecture: String = row.try_get(2).map_err(&reading)?;
        let memory_size_mb: i64 = row.try_get(3).map_err(&reading)?;
        let billed_duration_ms: Option<i64> = row.try_get(5).map_err(&reading)?;
        let max_memory_used_mb: Option<i64> = row.try_get(6).map_err(&reading)?;
        samples.push(Sample {
            account: row.try_get(0).map_err(&reading)?,
            function: row.try_get(1).map_err(&reading)?,
            architecture: architecture.parse::<Architecture>().map_err(invalid)?,
            memory_size_mb: u32::try_from(memory_size_mb)
                .map_err(|_| invalid(format!("memory size {memory_size_mb}")))?,
            duration_ms: row.try_get(4).map_err(&reading)?,
            billed_duration_ms: billed_duration_ms
                .map(u64::try_from)
                .transpose()
                .map_err(|_| invalid("negative billed duration".to_owned()))?,
            max_memory_used_mb: max_memory_used_mb
                .map(u32::try_from)
                .transpose()
                .map_err(|_| invalid("max memory used out of range".to_owned()))?,
            init_duration_ms: row.try_get(7).map_err(&reading)?,
            success: row.try_get(8).map_err(&reading)?,
            start_time_ms: row.try_get(9).map_err(&reading)?,
        });
    }
    Ok(samples)
}

/// Every table but `schema_migrations`, one line per row, in exactly the
/// SQLite store's format: `table column=value …`, text and floats in Rust's
/// `{:?}` form, integers (and booleans, as 0 and 1) in decimal, bytes as
/// `x'…'` hex and NULL as `null`.
pub(super) async fn dump(client: &Client) -> Result<String, StoreError> {
    let reading = failed("dumping the store");
    let mut text = String::new();
    for (table, source, columns, primary_key) in dump_tables() {
        let sql = format!("SELECT {columns} FROM {source} ORDER BY {primary_key}");
        for row in client.query(&sql, &[]).await.map_err(&reading)? {
            text.push_str(table);
            for (index, column) in row.columns().iter().enumerate() {
                text.push(' ');
                text.push_str(column.name());
                text.push('=');
                write_value(&mut text, &row, index, column.type_()).map_err(&reading)?;
            }
            text.push('\n');
        }
    }
    Ok(text)
}

fn write_value(
    text: &mut String,
    row: &Row,
    index: usize,
    column_type: &Type,
) -> Result<(), tokio_postgres::Error> {
    // Writing to a String cannot fail.
    let _ = match *column_type {
        Type::INT8 => write_option(
            text,
            row.try_get::<_, Option<i64>>(index)?,
            |text, value| write!(text, "{value}"),
        ),
        Type::INT4 => write_option(
            text,
            row.try_get::<_, Option<i32>>(index)?,
            |text, value| write!(text, "{value}"),
        ),
        Type::INT2 => write_option(
            text,
            row.try_get::<_, Option<i16>>(index)?,
            |text, value| write!(text, "{value}"),
        ),
        Type::BOOL => write_option(
            text,
            row.try_get::<_, Option<bool>>(index)?,
            |text, value| write!(text, "{}", u8::from(value)),
        ),
        Type::FLOAT8 => write_option(
            text,
            row.try_get::<_, Option<f64>>(index)?,
            |text, value| write!(text, "{value:?}"),
        ),
        Type::BYTEA => write_option(
            text,
            row.try_get::<_, Option<&[u8]>>(index)?,
            |text, bytes| {
                text.push_str("x'");
                for byte in bytes {
                    write!(text, "{byte:02x}")?;
                }
                text.push('\'');
                Ok(())
            },
        ),
        _ => write_option(
            text,
            row.try_get::<_, Option<&str>>(index)?,
            |text, value| write!(text, "{value:?}"),
        ),
    };
    Ok(())
}

fn write_option<T>(
    text: &mut String,
    value: Option<T>,
    write_some: impl FnOnce(&mut String, T) -> std::fmt::Result,
) -> std::fmt::Result {
    match value {
        Some(value) => write_some(text, value),
        None => write!(text, "null"),
    }
}
