//! Samples for `lamlog tune`: reported invocations, capped per memory size.
//!
//! The tuner bootstraps over invocations, so it wants individual durations,
//! not rollups; a cap per (function, architecture, memory size) keeps a busy
//! function from loading millions of rows, keeping the most recent ones.

use lamlog_core::meta::Architecture;
use lamlog_core::tune::Sample;
use rusqlite::Connection;

use super::failed;
use crate::store::StoreError;

const SELECT_SAMPLES: &str = "
SELECT account, function, architecture, memory_size_mb, duration_ms, billed_duration_ms,
       max_memory_used_mb, COALESCE(init_duration_ms, restore_duration_ms), status, start_time_ms
FROM (
    SELECT *, ROW_NUMBER() OVER (
        PARTITION BY account, function, architecture, memory_size_mb
        ORDER BY start_time_ms DESC, request_id DESC
    ) AS recent_rank
    FROM invocations
    WHERE start_time_ms IS NOT NULL AND duration_ms IS NOT NULL AND memory_size_mb IS NOT NULL
      AND start_time_ms >= ?1 AND (?2 IS NULL OR function = ?2)
)
WHERE recent_rank <= ?3
ORDER BY account, function, start_time_ms, request_id";

/// Reported invocations, oldest first, at most `limit_per_size` of the most
/// recent per (account, function, architecture, memory size).
pub(super) fn tune_samples(
    connection: &Connection,
    function: Option<&str>,
    since_ms: Option<i64>,
    limit_per_size: usize,
) -> Result<Vec<Sample>, StoreError> {
    let reading = failed("reading tuning samples");
    let limit = i64::try_from(limit_per_size).unwrap_or(i64::MAX);
    let mut statement = connection
        .prepare_cached(SELECT_SAMPLES)
        .map_err(&reading)?;
    let mut rows = statement
        .query(rusqlite::params![
            since_ms.unwrap_or(i64::MIN),
            function,
            limit
        ])
        .map_err(&reading)?;
    let mut samples = Vec::new();
    while let Some(row) = rows.next().map_err(&reading)? {
        let architecture: String = row.get(2).map_err(&reading)?;
        let status: String = row.get(8).map_err(&reading)?;
        samples.push(Sample {
            account: row.get(0).map_err(&reading)?,
            function: row.get(1).map_err(&reading)?,
            architecture: architecture.parse().unwrap_or(Architecture::X86_64),
            memory_size_mb: row.get(3).map_err(&reading)?,
            duration_ms: row.get(4).map_err(&reading)?,
            billed_duration_ms: row.get(5).map_err(&reading)?,
            max_memory_used_mb: row.get(6).map_err(&reading)?,
            init_duration_ms: row.get(7).map_err(&reading)?,
            success: status == "success",
            start_time_ms: row.get(9).map_err(&reading)?,
        });
    }
    Ok(samples)
}
