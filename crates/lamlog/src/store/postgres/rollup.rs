//! Rollups, watermarks and window judging, set-based.
//!
//! The deltas are those of the SQLite store — `rollup_delta(old, merged)` of
//! each changed row — but summed in Rust per function minute (and per
//! histogram bucket) first, then applied by one `unnest`-array upsert per
//! table. Integer sums commute, and the max only takes first REPORTs, so the
//! result is the one SQLite reaches row by row. Inputs are sorted by key, so
//! two writers updating the same minutes take their row locks in the same
//! order and cannot deadlock.
//!
//! **Watermarks and windows.** A window `[W, W + window_ms)` of a function
//! closes when the function's watermark (latest reported start time) reaches
//! `W + window_ms + grace_ms`; each batch that moves a watermark from `old` to
//! `new` judges exactly the windows with `old < W + window_ms + grace_ms ≤
//! new`, so every window is judged once. Reading the old watermark and
//! writing the new one must not interleave with another writer of the same
//! function, or both would judge the same windows: the batch first takes an
//! advisory lock per function it moves (sorted, one statement), which also
//! makes it the only writer of that function's alerts until it commits.

use std::collections::BTreeMap;

use deadpool_postgres::Transaction;
use lamlog_core::judge::{window_alert, Alert, WindowCounts};
use lamlog_core::meta::meta_key;
use lamlog_core::rollup::{contribution, rollup_delta};

use super::failed;
use super::locks::{lock_key, LOCK_KEYS};
use super::write::Change;
use crate::store::{StoreBatch, StoreError};

const UPSERT_MINUTES: &str = "
    INSERT INTO function_minute (
        account, function, minute_ms, invocations, successes, errors, crashes, ooms, timeouts,
        cold_starts, duration_sum_us, duration_max_us, billed_mb_ms, cost_pico_usd)
    SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[],
                         $6::BIGINT[], $7::BIGINT[], $8::BIGINT[], $9::BIGINT[], $10::BIGINT[],
                         $11::BIGINT[], $12::BIGINT[], $13::BIGINT[], $14::BIGINT[])
    ON CONFLICT (account, function, minute_ms) DO UPDATE SET
        invocations = function_minute.invocations + excluded.invocations,
        successes = function_minute.successes + excluded.successes,
        errors = function_minute.errors + excluded.errors,
        crashes = function_minute.crashes + excluded.crashes,
        ooms = function_minute.ooms + excluded.ooms,
        timeouts = function_minute.timeouts + excluded.timeouts,
        cold_starts = function_minute.cold_starts + excluded.cold_starts,
        duration_sum_us = function_minute.duration_sum_us + excluded.duration_sum_us,
        duration_max_us = GREATEST(function_minute.duration_max_us, excluded.duration_max_us),
        billed_mb_ms = function_minute.billed_mb_ms + excluded.billed_mb_ms,
        cost_pico_usd = function_minute.cost_pico_usd + excluded.cost_pico_usd";

const UPSERT_HISTOGRAM: &str = "
    INSERT INTO function_minute_histogram (account, function, minute_ms, bucket, count)
    SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::INTEGER[], $5::BIGINT[])
    ON CONFLICT (account, function, minute_ms, bucket) DO UPDATE SET
        count = function_minute_histogram.count + excluded.count";

const SELECT_WATERMARKS: &str = "
    SELECT w.account, w.function, w.watermark_ms
      FROM unnest($1::TEXT[], $2::TEXT[]) AS k(account, function)
      JOIN function_watermark w ON w.account = k.account AND w.function = k.function";

const UPSERT_WATERMARKS: &str = "
    INSERT INTO function_watermark (account, function, watermark_ms)
    SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[])
    ON CONFLICT (account, function) DO UPDATE SET
        watermark_ms = GREATEST(function_watermark.watermark_ms, excluded.watermark_ms)";

const SELECT_WINDOW_MINUTES: &str = "
    SELECT k.position, m.minute_ms, m.invocations, m.errors + m.crashes + m.ooms + m.timeouts
      FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[])
           WITH ORDINALITY AS k(account, function, low_ms, high_ms, position)
      JOIN function_minute m
        ON m.account = k.account AND m.function = k.function
       AND m.minute_ms > k.low_ms AND m.minute_ms < k.high_ms";

/// Per-minute counters, in the order of `function_minute`'s columns.
#[derive(Debug, Default, Clone, Copy)]
struct MinuteDelta {
    counters: [i64; 11],
}

type FunctionKey = (String, String);

/// Adds the rollup deltas of the changed rows.
pub(super) async fn add_rollups(
    transaction: &Transaction<'_>,
    changes: &[Change<'_>],
) -> Result<(), StoreError> {
    let mut minutes: BTreeMap<(FunctionKey, i64), MinuteDelta> = BTreeMap::new();
    let mut buckets: BTreeMap<(FunctionKey, i64, i32), i64> = BTreeMap::new();
    for change in changes {
        let old = change
            .old
            .and_then(|old| contribution(&old.invocation, old.cost_usd));
        let new = contribution(&change.merged.invocation, change.merged.cost_usd);
        let Some(delta) = rollup_delta(old.as_ref(), new.as_ref()) else {
            continue;
        };
        let function = (
            change.merged.invocation.account.clone(),
            change.merged.invocation.function.clone(),
        );
        let counters = &delta.counters;
        let entry = minutes
            .entry((function.clone(), counters.minute_ms))
            .or_default();
        let added = [
            counters.invocations,
            counters.successes,
            counters.errors,
            counters.crashes,
            counters.ooms,
            counters.timeouts,
            counters.cold_starts,
            counters.duration_us,
            0,
            counters.billed_mb_ms,
            counters.cost_pico_usd,
        ];
        for (total, value) in entry.counters.iter_mut().zip(added) {
            *total += value;
        }
        // The max only ever rises, and only by a first REPORT (REPORT figures
        // are set once).
        if delta.first_report {
            entry.counters[8] = entry.counters[8].max(counters.duration_us);
            *buckets
                .entry((function, counters.minute_ms, counters.duration_bucket))
                .or_default() += 1;
        }
    }
    if !minutes.is_empty() {
        let accounts: Vec<&str> = minutes
            .keys()
            .map(|((account, _), _)| account.as_str())
            .collect();
        let functions: Vec<&str> = minutes
            .keys()
            .map(|((_, function), _)| function.as_str())
            .collect();
        let minute_ms: Vec<i64> = minutes.keys().map(|(_, minute_ms)| *minute_ms).collect();
        let columns: Vec<Vec<i64>> = (0..11)
            .map(|index| {
                minutes
                    .values()
                    .map(|delta| delta.counters[index])
                    .collect()
            })
            .collect();
        let statement = transaction
            .prepare_cached(UPSERT_MINUTES)
            .await
            .map_err(failed("preparing the function_minute upsert"))?;
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![&accounts, &functions, &minute_ms];
        params.extend(
            columns
                .iter()
                .map(|column| column as &(dyn tokio_postgres::types::ToSql + Sync)),
        );
        transaction
            .execute(&statement, &params)
            .await
            .map_err(failed("updating function_minute"))?;
    }
    if !buckets.is_empty() {
        let accounts: Vec<&str> = buckets
            .keys()
            .map(|((account, _), _, _)| account.as_str())
            .collect();
        let functions: Vec<&str> = buckets
            .keys()
            .map(|((_, function), _, _)| function.as_str())
            .collect();
        let minute_ms: Vec<i64> = buckets.keys().map(|(_, minute_ms, _)| *minute_ms).collect();
        let bucket: Vec<i32> = buckets.keys().map(|(_, _, bucket)| *bucket).collect();
        let counts: Vec<i64> = buckets.values().copied().collect();
        let statement = transaction
            .prepare_cached(UPSERT_HISTOGRAM)
            .await
            .map_err(failed("preparing the histogram upsert"))?;
        transaction
            .execute(
                &statement,
                &[&accounts, &functions, &minute_ms, &bucket, &counts],
            )
            .await
            .map_err(failed("updating function_minute_histogram"))?;
    }
    Ok(())
}

/// Moves the watermarks of the batch's functions and judges the windows the
/// moves close; returns the window alerts (not yet stored).
pub(super) async fn advance_watermarks(
    transaction: &Transaction<'_>,
    batch: &StoreBatch<'_>,
    changes: &[Change<'_>],
) -> Result<Vec<Alert>, StoreError> {
    // The latest reported start time of each function in this batch.
    let mut batch_watermarks: BTreeMap<FunctionKey, i64> = BTreeMap::new();
    for change in changes {
        let invocation = &change.merged.invocation;
        if let Some(start_time_ms) = invocation
            .start_time_ms
            .filter(|_| invocation.is_reported())
        {
            let latest = batch_watermarks
                .entry((invocation.account.clone(), invocation.function.clone()))
                .or_insert(start_time_ms);
            *latest = (*latest).max(start_time_ms);
        }
    }
    if batch_watermarks.is_empty() {
        return Ok(Vec::new());
    }
    let mut function_locks: Vec<i64> = batch_watermarks
        .keys()
        .map(|(account, function)| lock_key(b'f', &[account, function]))
        .collect();
    function_locks.sort_unstable();
    function_locks.dedup();
    let lock = transaction
        .prepare_cached(LOCK_KEYS)
        .await
        .map_err(failed("preparing the function locks"))?;
    transaction
        .execute(&lock, &[&function_locks])
        .await
        .map_err(failed("locking the batch's functions"))?;

    let accounts: Vec<&str> = batch_watermarks
        .keys()
        .map(|(account, _)| account.as_str())
        .collect();
    let functions: Vec<&str> = batch_watermarks
        .keys()
        .map(|(_, function)| function.as_str())
        .collect();
    let statement = transaction
        .prepare_cached(SELECT_WATERMARKS)
        .await
        .map_err(failed("preparing the watermark lookup"))?;
    let stored_rows = transaction
        .query(&statement, &[&accounts, &functions])
        .await
        .map_err(failed("reading function_watermark"))?;
    let mut stored: BTreeMap<FunctionKey, i64> = BTreeMap::new();
    for row in &stored_rows {
        let reading = failed("reading function_watermark");
        stored.insert(
            (
                row.try_get(0).map_err(&reading)?,
                row.try_get(1).map_err(&reading)?,
            ),
            row.try_get(2).map_err(&reading)?,
        );
    }
    // (function, old watermark, new watermark) of each watermark that moves.
    let moved: Vec<(&FunctionKey, Option<i64>, i64)> = batch_watermarks
        .iter()
        .map(|(function, new_ms)| (function, stored.get(function).copied(), *new_ms))
        .filter(|(_, old_ms, new_ms)| old_ms.is_none_or(|old_ms| old_ms < *new_ms))
        .collect();
    if moved.is_empty() {
        return Ok(Vec::new());
    }
    let accounts: Vec<&str> = moved
        .iter()
        .map(|((account, _), _, _)| account.as_str())
        .collect();
    let functions: Vec<&str> = moved
        .iter()
        .map(|((_, function), _, _)| function.as_str())
        .collect();
    let new_watermarks: Vec<i64> = moved.iter().map(|(_, _, new_ms)| *new_ms).collect();
    let statement = transaction
        .prepare_cached(UPSERT_WATERMARKS)
        .await
        .map_err(failed("preparing the watermark upsert"))?;
    transaction
        .execute(&statement, &[&accounts, &functions, &new_watermarks])
        .await
        .map_err(failed("updating function_watermark"))?;
    judge_closed_windows(transaction, batch, &moved).await
}

/// Judges the error rate of each window that a watermark's move closes.
async fn judge_closed_windows(
    transaction: &Transaction<'_>,
    batch: &StoreBatch<'_>,
    moved: &[(&FunctionKey, Option<i64>, i64)],
) -> Result<Vec<Alert>, StoreError> {
    let rules = batch.rules;
    let window_ms = rules.window_ms.max(1);
    let closing_delay_ms = window_ms.saturating_add(rules.grace_ms);
    // Per moved function: windows W with lowest < W <= highest close now.
    let ranges: Vec<(&FunctionKey, i64, i64)> = moved
        .iter()
        .map(|(function, old_ms, new_ms)| {
            let highest_window_ms = new_ms.saturating_sub(closing_delay_ms);
            let lowest_window_ms =
                old_ms.map_or(i64::MIN, |old| old.saturating_sub(closing_delay_ms));
            (*function, lowest_window_ms, highest_window_ms)
        })
        .filter(|(_, lowest, highest)| highest > lowest)
        .collect();
    if ranges.is_empty() {
        return Ok(Vec::new());
    }
    let accounts: Vec<&str> = ranges
        .iter()
        .map(|((account, _), _, _)| account.as_str())
        .collect();
    let functions: Vec<&str> = ranges
        .iter()
        .map(|((_, function), _, _)| function.as_str())
        .collect();
    let lows: Vec<i64> = ranges.iter().map(|(_, lowest, _)| *lowest).collect();
    let highs: Vec<i64> = ranges
        .iter()
        .map(|(_, _, highest)| highest.saturating_add(window_ms))
        .collect();
    let statement = transaction
        .prepare_cached(SELECT_WINDOW_MINUTES)
        .await
        .map_err(failed("preparing the window query"))?;
    let minute_rows = transaction
        .query(&statement, &[&accounts, &functions, &lows, &highs])
        .await
        .map_err(failed("reading function_minute"))?;
    // (range index, window start) → (invocations, failures).
    let mut windows: BTreeMap<(usize, i64), (u64, u64)> = BTreeMap::new();
    for row in &minute_rows {
        let reading = failed("reading function_minute");
        let position: i64 = row.try_get(0).map_err(&reading)?;
        let minute_ms: i64 = row.try_get(1).map_err(&reading)?;
        let invocations: i64 = row.try_get(2).map_err(&reading)?;
        let failures: i64 = row.try_get(3).map_err(&reading)?;
        let index = usize::try_from(position.saturating_sub(1)).unwrap_or(usize::MAX);
        let counts = windows
            .entry((index, rules.window_start(minute_ms)))
            .or_default();
        counts.0 += u64::try_from(invocations).unwrap_or(0);
        counts.1 += u64::try_from(failures).unwrap_or(0);
    }
    let mut alerts = Vec::new();
    for ((index, window_start_ms), (invocations, failures)) in windows {
        let Some(((account, function), lowest, highest)) = ranges.get(index) else {
            continue;
        };
        if !(lowest.saturating_add(1)..=*highest).contains(&window_start_ms) {
            continue;
        }
        let counts = WindowCounts {
            account: account.clone(),
            function: function.clone(),
            window_start_ms,
            invocations,
            failures,
        };
        let meta = batch.metadata.get(&meta_key(account, function));
        alerts.extend(window_alert(&counts, meta, rules));
    }
    Ok(alerts)
}
