//! Reading the store back: per-function summaries, per-minute rows, and the
//! canonical dump the split-and-replay property compares.
//!
//! Summaries and minute rows read only the rollup tables (plus an indexed
//! look at `invocations` for memory figures), so a report over months costs
//! one row per function-minute, not one per invocation.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::failed;
use crate::store::{FunctionSummary, MinuteRow, StoreError};

const SELECT_SUMMARIES: &str = "
    SELECT account, function, SUM(invocations), SUM(errors), SUM(crashes), SUM(timeouts),
           SUM(ooms), SUM(cold_starts), SUM(duration_sum_us), MAX(duration_max_us),
           SUM(billed_mb_ms), SUM(cost_pico_usd), MIN(minute_ms), MAX(minute_ms)
      FROM function_minute
     WHERE minute_ms >= ?1
     GROUP BY account, function
     ORDER BY SUM(cost_pico_usd) DESC, account, function";

const SELECT_HISTOGRAMS: &str = "
    SELECT account, function, bucket, SUM(count)
      FROM function_minute_histogram
     WHERE minute_ms >= ?1
     GROUP BY account, function, bucket
     ORDER BY account, function, bucket";

const SELECT_LATEST_MEMORY_SIZE: &str = "
    SELECT memory_size_mb
      FROM invocations
     WHERE account = ?1 AND function = ?2 AND start_time_ms >= ?3
       AND duration_ms IS NOT NULL AND memory_size_mb IS NOT NULL
     ORDER BY start_time_ms DESC, request_id DESC
     LIMIT 1";

const SELECT_MAX_MEMORY_USED: &str = "
    SELECT MAX(max_memory_used_mb)
      FROM invocations
     WHERE account = ?1 AND function = ?2 AND start_time_ms >= ?3 AND duration_ms IS NOT NULL
       AND memory_size_mb = ?4";

const SELECT_MINUTES: &str = "
    SELECT account, function, minute_ms, invocations
      FROM function_minute
     WHERE minute_ms >= ?1
     ORDER BY account, function, minute_ms";

const SELECT_MINUTE_HISTOGRAMS: &str = "
    SELECT account, function, minute_ms, bucket, count
      FROM function_minute_histogram
     WHERE minute_ms >= ?1
     ORDER BY account, function, minute_ms, bucket";

/// The tables of the dump: name, columns in their fixed order, and the
/// primary key the rows are sorted by. SQLite compares text bytewise, which
/// is the order a PostgreSQL store gets with `COLLATE "C"`.
const DUMP_TABLES: &[(&str, &str, &str)] = &[
    (
        "invocations",
        "account, function, request_id, log_group, version, start_time_ms, duration_ms, \
         billed_duration_ms, memory_size_mb, max_memory_used_mb, init_duration_ms, \
         restore_duration_ms, billed_restore_duration_ms, xray_trace_id, timeout_seconds, \
         cold_start, status, status_flags, error_type, enriched, tenant, architecture, region, \
         cost_usd, log_stream",
        "account, function, request_id",
    ),
    (
        "environments",
        "account, log_group, log_stream, initialization_type",
        "account, log_group, log_stream",
    ),
    (
        "stream_memory",
        "account, log_group, log_stream, function, memory_size_mb, trail, last_ms, slope_mb, \
         invocations_to_limit",
        "account, log_group, log_stream",
    ),
    (
        "function_minute",
        "account, function, minute_ms, invocations, successes, errors, crashes, ooms, timeouts, \
         cold_starts, duration_sum_us, duration_max_us, billed_mb_ms, cost_pico_usd",
        "account, function, minute_ms",
    ),
    (
        "function_minute_histogram",
        "account, function, minute_ms, bucket, count",
        "account, function, minute_ms, bucket",
    ),
    (
        "function_watermark",
        "account, function, watermark_ms",
        "account, function",
    ),
    (
        "alerts",
        "dedup_key, kind, severity, account, function, request_id, window_start_ms, message, \
         occurrences",
        "dedup_key",
    ),
    (
        "dead_letters",
        "dedup_key, source, position, record_index, sequence_number, byte_offset, reason, raw, \
         received_at_ms, raw_len, raw_sha256",
        "dedup_key",
    ),
];

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
pub(super) fn function_summaries(
    connection: &Connection,
    since_ms: Option<i64>,
) -> Result<Vec<FunctionSummary>, StoreError> {
    let start_time_ms = first_start_time_ms(since_ms);
    let since_ms = since_ms.unwrap_or(i64::MIN);
    let reading = failed("reading function summaries");
    let mut histograms: BTreeMap<(String, String), Vec<(i32, i64)>> = BTreeMap::new();
    {
        let mut statement = connection
            .prepare_cached(SELECT_HISTOGRAMS)
            .map_err(&reading)?;
        let mut rows = statement.query([since_ms]).map_err(&reading)?;
        while let Some(row) = rows.next().map_err(&reading)? {
            let key = (row.get(0).map_err(&reading)?, row.get(1).map_err(&reading)?);
            let bucket = (row.get(2).map_err(&reading)?, row.get(3).map_err(&reading)?);
            histograms.entry(key).or_default().push(bucket);
        }
    }
    let mut summaries = Vec::new();
    {
        let mut statement = connection
            .prepare_cached(SELECT_SUMMARIES)
            .map_err(&reading)?;
        let mut rows = statement.query([since_ms]).map_err(&reading)?;
        while let Some(row) = rows.next().map_err(&reading)? {
            let account: String = row.get(0).map_err(&reading)?;
            let function: String = row.get(1).map_err(&reading)?;
            let histogram = histograms
                .remove(&(account.clone(), function.clone()))
                .unwrap_or_default();
            summaries.push(FunctionSummary {
                account,
                function,
                invocations: row.get(2).map_err(&reading)?,
                errors: row.get(3).map_err(&reading)?,
                crashes: row.get(4).map_err(&reading)?,
                timeouts: row.get(5).map_err(&reading)?,
                ooms: row.get(6).map_err(&reading)?,
                cold_starts: row.get(7).map_err(&reading)?,
                duration_sum_us: row.get(8).map_err(&reading)?,
                duration_max_us: row.get(9).map_err(&reading)?,
                billed_mb_ms: row.get(10).map_err(&reading)?,
                cost_pico_usd: row.get(11).map_err(&reading)?,
                histogram,
                first_minute_ms: row.get(12).map_err(&reading)?,
                last_minute_ms: row.get(13).map_err(&reading)?,
                memory_size_mb: None,
                max_memory_used_mb: None,
            });
        }
    }
    for summary in &mut summaries {
        let key = (&summary.account, &summary.function, start_time_ms);
        summary.memory_size_mb = connection
            .prepare_cached(SELECT_LATEST_MEMORY_SIZE)
            .and_then(|mut statement| {
                let mut rows = statement.query(key)?;
                rows.next()?.map(|row| row.get(0)).transpose()
            })
            .map_err(failed("reading memory sizes"))?;
        let (account, function, since) = key;
        let at_size = (account, function, since, summary.memory_size_mb);
        summary.max_memory_used_mb = connection
            .prepare_cached(SELECT_MAX_MEMORY_USED)
            .and_then(|mut statement| statement.query_row(at_size, |row| row.get(0)))
            .map_err(failed("reading memory used"))?;
    }
    Ok(summaries)
}

/// Per-function, per-minute rows over minutes ≥ `since_ms`, ordered by
/// account, function and minute.
pub(super) fn minute_rows(
    connection: &Connection,
    since_ms: Option<i64>,
) -> Result<Vec<MinuteRow>, StoreError> {
    let since_ms = since_ms.unwrap_or(i64::MIN);
    let reading = failed("reading minute rows");
    let mut histograms: BTreeMap<(String, String, i64), Vec<(i32, i64)>> = BTreeMap::new();
    {
        let mut statement = connection
            .prepare_cached(SELECT_MINUTE_HISTOGRAMS)
            .map_err(&reading)?;
        let mut rows = statement.query([since_ms]).map_err(&reading)?;
        while let Some(row) = rows.next().map_err(&reading)? {
            let key = (
                row.get(0).map_err(&reading)?,
                row.get(1).map_err(&reading)?,
                row.get(2).map_err(&reading)?,
            );
            let bucket = (row.get(3).map_err(&reading)?, row.get(4).map_err(&reading)?);
            histograms.entry(key).or_default().push(bucket);
        }
    }
    let mut minute_rows = Vec::new();
    let mut statement = connection
        .prepare_cached(SELECT_MINUTES)
        .map_err(&reading)?;
    let mut rows = statement.query([since_ms]).map_err(&reading)?;
    while let Some(row) = rows.next().map_err(&reading)? {
        let account: String = row.get(0).map_err(&reading)?;
        let function: String = row.get(1).map_err(&reading)?;
        let minute_ms: i64 = row.get(2).map_err(&reading)?;
        let histogram = histograms
            .remove(&(account.clone(), function.clone(), minute_ms))
            .unwrap_or_default();
        minute_rows.push(MinuteRow {
            account,
            function,
            minute_ms,
            invocations: row.get(3).map_err(&reading)?,
            histogram,
        });
    }
    Ok(minute_rows)
}

/// Every table but `schema_migrations` (which holds times), one line per
/// row: `table column=value …`, with text and floats in Rust's `{:?}` form
/// (quoted and escaped; floats round-trip exactly), integers in decimal,
/// blobs as `x'…'` hex and NULL as `null`.
pub(super) fn dump(connection: &Connection) -> Result<String, StoreError> {
    let reading = failed("dumping the store");
    let mut text = String::new();
    for (table, columns, primary_key) in DUMP_TABLES {
        let sql = format!("SELECT {columns} FROM {table} ORDER BY {primary_key}");
        let mut statement = connection.prepare(&sql).map_err(&reading)?;
        let names: Vec<String> = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut rows = statement.query([]).map_err(&reading)?;
        while let Some(row) = rows.next().map_err(&reading)? {
            text.push_str(table);
            for (index, name) in names.iter().enumerate() {
                text.push(' ');
                text.push_str(name);
                text.push('=');
                write_value(&mut text, row.get_ref(index).map_err(&reading)?);
            }
            text.push('\n');
        }
    }
    Ok(text)
}

fn write_value(text: &mut String, value: ValueRef<'_>) {
    // Writing to a String cannot fail.
    let _ = match value {
        ValueRef::Null => write!(text, "null"),
        ValueRef::Integer(integer) => write!(text, "{integer}"),
        ValueRef::Real(real) => write!(text, "{real:?}"),
        ValueRef::Text(bytes) => write!(text, "{:?}", String::from_utf8_lossy(bytes)),
        ValueRef::Blob(bytes) => {
            text.push_str("x'");
            for byte in bytes {
                let _ = write!(text, "{byte:02x}");
            }
            text.push('\'');
            Ok(())
        }
    };
}
