//! Rollups (`function_minute`, `function_minute_histogram`), set-based.
//!
//! When a row changes, its old contribution leaves its old minute and its new
//! contribution joins its new minute: subtracted there, added here, counters
//! and histogram bucket alike. Usually the two minutes are one and only the
//! difference shows; when a second REPORT moves the invocation (a re-run's
//! REPORT with a later time), its whole contribution moves. The changes are
//! summed in Rust per function minute and per histogram bucket, then applied
//! by one `unnest`-array upsert per table. Integer sums commute, so the
//! result is the one SQLite reaches row by row. Inputs are sorted by key, so
//! two writers updating the same minutes take their row locks in the same
//! order and cannot deadlock.
//!
//! **The max.** `duration_max_us` rises with `GREATEST` where a row arrives
//! or grows. A max cannot be subtracted, so a minute that a row leaves (or in
//! which a row got shorter, which the join never does) is tidied after the
//! upserts: deleted when no invocation is left in it (a store that never saw
//! the row there has no such minute), otherwise given the max of the rows
//! still stored in it, read from `invocations` and converted by the same
//! [`contribution`] as every other figure. Reading the stored rows is exact
//! because the batch holds its functions' advisory locks (`locks.rs`): no
//! other writer can add to the minute in between. It costs one indexed read
//! per minute left, which only a moved REPORT causes.

use std::collections::{BTreeMap, BTreeSet};

use lamlog_core::rollup::{contribution, Contribution};
use tokio_postgres::types::ToSql;

use super::pipeline::Tx;
use super::{failed, rows};
use crate::store::{StoreError, StoredInvocation};

const UPSERT_MINUTES: &str = "
    INSERT INTO function_minute (
        account, function, minute_ms, invocations, successes, errors, crashes, ooms, timeouts,
        cold_starts, duration_sum_us, billed_mb_ms, cost_pico_usd, duration_max_us)
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

const DELETE_EMPTY_BUCKETS: &str = "
    DELETE FROM function_minute_histogram h
     USING unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::INTEGER[])
           AS k(account, function, minute_ms, bucket)
     WHERE h.account = k.account AND h.function = k.function
       AND h.minute_ms = k.minute_ms AND h.bucket = k.bucket AND h.count = 0";

const DELETE_EMPTY_MINUTES: &str = "
    DELETE FROM function_minute m
     USING unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[]) AS k(account, function, minute_ms)
     WHERE m.account = k.account AND m.function = k.function
       AND m.minute_ms = k.minute_ms AND m.invocations = 0";

const SET_MAXES: &str = "
    UPDATE function_minute m SET duration_max_us = k.duration_max_us
      FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[])
           AS k(account, function, minute_ms, duration_max_us)
     WHERE m.account = k.account AND m.function = k.function AND m.minute_ms = k.minute_ms";

/// The width of a rollup minute ([`lamlog_core::rollup::minute_of`]).
const MINUTE_MS: i64 = 60_000;

/// The statements the batch pipelines (see `pipeline.rs`); the tidying of
/// left minutes, rare, runs after them.
pub(super) const STATEMENTS: [&str; 3] = [UPSERT_MINUTES, UPSERT_HISTOGRAM, DELETE_EMPTY_BUCKETS];

/// One row this batch inserted or changed: its state before (if stored)
/// and after.
#[derive(Debug, Clone, Copy)]
pub(super) struct RowChange<'a> {
    /// The stored row before the batch, if there was one.
    pub old: Option<&'a StoredInvocation>,
    /// The row after the batch.
    pub new: &'a StoredInvocation,
}

impl<'a> RowChange<'a> {
    /// The row's account.
    pub fn account(&self) -> &'a str {
        &self.new.invocation.account
    }

    /// The row's function.
    pub fn function(&self) -> &'a str {
        &self.new.invocation.function
    }

    /// The row's contributions to the rollups before and after.
    pub fn contributions(&self) -> (Option<Contribution>, Option<Contribution>) {
        let old = self
            .old
            .and_then(|old| contribution(&old.invocation, old.cost_usd));
        let new = contribution(&self.new.invocation, self.new.cost_usd);
        (old, new)
    }
}

type FunctionKey = (String, String);

/// A function's (account, name), borrowed from the batch's rows: summing
/// copies no name.
type Function<'a> = (&'a str, &'a str);

/// A function minute's change: the sums ([`Contribution::sums`], in
/// `UPSERT_MINUTES`'s column order) and the max of the rows arriving in it.
#[derive(Debug, Default, PartialEq)]
struct MinuteChange {
    sums: [i64; 10],
    duration_max_us: i64,
}

/// What the batch does to the rollups, summed.
#[derive(Debug, Default)]
struct RollupChanges<'a> {
    /// Per function minute: counter changes, and the max of arriving rows.
    minutes: BTreeMap<(Function<'a>, i64), MinuteChange>,
    /// Per function minute and bucket: the count's change.
    buckets: BTreeMap<(Function<'a>, i64, i32), i64>,
    /// Minutes a row left or shrank in: tidied after the upserts.
    left: BTreeSet<(Function<'a>, i64)>,
}

/// One function's rollup changes, under integer keys: summing a row into
/// them compares no names.
#[derive(Debug, Default)]
struct FunctionChanges {
    minutes: BTreeMap<i64, MinuteChange>,
    buckets: BTreeMap<(i64, i32), i64>,
    left: BTreeSet<i64>,
}

impl FunctionChanges {
    /// Moves a row's contribution from `old` to `new`.
    fn add(&mut self, old: Option<&Contribution>, new: Option<&Contribution>) {
        if let Some(old) = old {
            let minute = self.minutes.entry(old.minute_ms).or_default();
            for (total, value) in minute.sums.iter_mut().zip(old.sums()) {
                *total = total.saturating_sub(value);
            }
            let bucket = self
                .buckets
                .entry((old.minute_ms, old.duration_bucket))
                .or_default();
            *bucket = bucket.saturating_sub(1);
            let shrank_or_left = new.is_none_or(|new| {
                new.minute_ms != old.minute_ms || new.duration_us < old.duration_us
            });
            if shrank_or_left {
                self.left.insert(old.minute_ms);
            }
        }
        if let Some(new) = new {
            let minute = self.minutes.entry(new.minute_ms).or_default();
            for (total, value) in minute.sums.iter_mut().zip(new.sums()) {
                *total = total.saturating_add(value);
            }
            minute.duration_max_us = minute.duration_max_us.max(new.duration_us);
            let bucket = self
                .buckets
                .entry((new.minute_ms, new.duration_bucket))
                .or_default();
            *bucket = bucket.saturating_add(1);
        }
    }
}

impl<'a> RollupChanges<'a> {
    /// The changes of `rows`. The batch's rows come in key order, so each
    /// function's rows are one run: its changes are looked up by name once
    /// per run, not once per row (rows out of order are summed all the same).
    fn of(rows: &[RowChange<'a>]) -> Self {
        let mut functions: BTreeMap<Function<'a>, FunctionChanges> = BTreeMap::new();
        let mut run: Option<(Function<'a>, &mut FunctionChanges)> = None;
        for row in rows {
            let (old, new) = row.contributions();
            if old == new {
                continue;
            }
            let function = (row.account(), row.function());
            if run.as_ref().is_none_or(|(of, _)| *of != function) {
                run = Some((function, functions.entry(function).or_default()));
            }
            let (_, changes) = run.as_mut().expect("set just above");
            changes.add(old.as_ref(), new.as_ref());
        }
        let mut changes = RollupChanges::default();
        for (function, of_function) in functions {
            let FunctionChanges {
                minutes,
                buckets,
                left,
            } = of_function;
            changes.minutes.extend(
                minutes
                    .into_iter()
                    .map(|(minute_ms, change)| ((function, minute_ms), change)),
            );
            changes.buckets.extend(
                buckets
                    .into_iter()
                    .map(|((minute_ms, bucket), count)| ((function, minute_ms, bucket), count)),
            );
            changes
                .left
                .extend(left.into_iter().map(|minute_ms| (function, minute_ms)));
        }
        changes
    }
}

/// Applies the rollup changes of `rows`; the caller holds the locks of
/// their functions. Returns the minutes rows left, for
/// [`tidy_left_minutes`] once the rows are written.
pub(super) async fn add_rollups(
    transaction: &Tx,
    rows: &[RowChange<'_>],
) -> Result<LeftMinutes, StoreError> {
    let mut changes = RollupChanges::of(rows);
    changes.buckets.retain(|_, count| *count != 0);
    // The three statements depend on nothing the others return: one round
    // trip (see `pipeline.rs`).
    let (minutes, buckets, emptied) = futures_util::future::join3(
        upsert_minutes(transaction, &changes.minutes),
        upsert_buckets(transaction, &changes.buckets),
        delete_empty_buckets(transaction, &changes.buckets),
    )
    .await;
    minutes?;
    buckets?;
    emptied?;
    Ok(LeftMinutes(
        changes
            .left
            .into_iter()
            .map(|((account, function), minute_ms)| {
                ((account.to_owned(), function.to_owned()), minute_ms)
            })
            .collect(),
    ))
}

/// The minutes some rows of the batch left (their REPORT moved): once the
/// rows are written, [`tidy_left_minutes`] deletes those left empty and
/// gives the others the max of the rows still in them.
pub(super) struct LeftMinutes(BTreeSet<(FunctionKey, i64)>);

/// Deletes the histogram buckets the batch emptied.
async fn delete_empty_buckets(
    transaction: &Tx,
    buckets: &BTreeMap<(Function<'_>, i64, i32), i64>,
) -> Result<(), StoreError> {
    let emptied: Vec<&(Function<'_>, i64, i32)> = buckets
        .iter()
        .filter(|(_, count)| **count < 0)
        .map(|(key, _)| key)
        .collect();
    if emptied.is_empty() {
        return Ok(());
    }
    let accounts: Vec<&str> = emptied.iter().map(|((a, _), _, _)| *a).collect();
    let functions: Vec<&str> = emptied.iter().map(|((_, f), _, _)| *f).collect();
    let minute_ms: Vec<i64> = emptied.iter().map(|(_, minute, _)| *minute).collect();
    let bucket: Vec<i32> = emptied.iter().map(|(_, _, bucket)| *bucket).collect();
    let statement = transaction
        .prepare_cached(DELETE_EMPTY_BUCKETS)
        .await
        .map_err(failed("preparing the histogram cleanup"))?;
    transaction
        .execute(&statement, &[&accounts, &functions, &minute_ms, &bucket])
        .await
        .map_err(failed("deleting empty histogram buckets"))?;
    Ok(())
}

async fn upsert_minutes(
    transaction: &Tx,
    minutes: &BTreeMap<(Function<'_>, i64), MinuteChange>,
) -> Result<(), StoreError> {
    if minutes.is_empty() {
        return Ok(());
    }
    let accounts: Vec<&str> = minutes.keys().map(|((a, _), _)| *a).collect();
    let functions: Vec<&str> = minutes.keys().map(|((_, f), _)| *f).collect();
    let minute_ms: Vec<i64> = minutes.keys().map(|(_, minute_ms)| *minute_ms).collect();
    let mut columns: Vec<Vec<i64>> = (0..10)
        .map(|index| minutes.values().map(|change| change.sums[index]).collect())
        .collect();
    columns.push(
        minutes
            .values()
            .map(|change| change.duration_max_us)
            .collect(),
    );
    let statement = transaction
        .prepare_cached(UPSERT_MINUTES)
        .await
        .map_err(failed("preparing the function_minute upsert"))?;
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&accounts, &functions, &minute_ms];
    params.extend(columns.iter().map(|column| column as &(dyn ToSql + Sync)));
    transaction
        .execute(&statement, &params)
        .await
        .map_err(failed("updating function_minute"))?;
    Ok(())
}

async fn upsert_buckets(
    transaction: &Tx,
    buckets: &BTreeMap<(Function<'_>, i64, i32), i64>,
) -> Result<(), StoreError> {
    if buckets.is_empty() {
        return Ok(());
    }
    let accounts: Vec<&str> = buckets.keys().map(|((a, _), _, _)| *a).collect();
    let functions: Vec<&str> = buckets.keys().map(|((_, f), _, _)| *f).collect();
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
    Ok(())
}

/// Deletes the minutes rows left empty and gives the others the max of the
/// rows still stored in them. It reads the batch's rows, so it runs after
/// they are written.
pub(super) async fn tidy_left_minutes(
    transaction: &Tx,
    LeftMinutes(left): &LeftMinutes,
) -> Result<(), StoreError> {
    if left.is_empty() {
        return Ok(());
    }
    let accounts: Vec<&str> = left.iter().map(|((a, _), _)| a.as_str()).collect();
    let functions: Vec<&str> = left.iter().map(|((_, f), _)| f.as_str()).collect();
    let minute_ms: Vec<i64> = left.iter().map(|(_, minute_ms)| *minute_ms).collect();
    let statement = transaction
        .prepare_cached(DELETE_EMPTY_MINUTES)
        .await
        .map_err(failed("preparing the function_minute cleanup"))?;
    transaction
        .execute(&statement, &[&accounts, &functions, &minute_ms])
        .await
        .map_err(failed("deleting empty function_minute rows"))?;
    // The longest stored row of each minute (the conversion to µs is
    // monotone, so the longest row has the largest figure).
    let columns = rows::column_list("i.");
    let longest = format!(
        "SELECT DISTINCT ON (k.position) k.position, {columns}
           FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[])
                WITH ORDINALITY AS k(account, function, minute_ms, position)
           JOIN invocations i
             ON i.account = k.account AND i.function = k.function
            AND i.start_time_ms >= k.minute_ms AND i.start_time_ms < k.minute_ms + {MINUTE_MS}
            AND i.duration_ms IS NOT NULL
          ORDER BY k.position, i.duration_ms DESC"
    );
    let statement = transaction
        .prepare_cached(&longest)
        .await
        .map_err(failed("preparing the minute max lookup"))?;
    let found = transaction
        .query(&statement, &[&accounts, &functions, &minute_ms])
        .await
        .map_err(failed("reading the longest invocations"))?;
    let left: Vec<&(FunctionKey, i64)> = left.iter().collect();
    let mut maxes: Vec<(&(FunctionKey, i64), i64)> = Vec::with_capacity(found.len());
    for row in &found {
        let position: i64 = row
            .try_get(0)
            .map_err(failed("reading the longest invocations"))?;
        let Some(minute) = usize::try_from(position.saturating_sub(1))
            .ok()
            .and_then(|index| left.get(index))
        else {
            continue;
        };
        let stored = rows::from_row(row, 1).map_err(|message| {
            StoreError::Statement(format!("reading the longest invocations: {message}"))
        })?;
        if let Some(longest) = contribution(&stored.invocation, stored.cost_usd) {
            maxes.push((minute, longest.duration_us));
        }
    }
    if maxes.is_empty() {
        return Ok(());
    }
    let max_accounts: Vec<&str> = maxes.iter().map(|(((a, _), _), _)| a.as_str()).collect();
    let max_functions: Vec<&str> = maxes.iter().map(|(((_, f), _), _)| f.as_str()).collect();
    let max_minutes: Vec<i64> = maxes.iter().map(|((_, minute_ms), _)| *minute_ms).collect();
    let max_values: Vec<i64> = maxes.iter().map(|(_, max)| *max).collect();
    let statement = transaction
        .prepare_cached(SET_MAXES)
        .await
        .map_err(failed("preparing the function_minute max update"))?;
    transaction
        .execute(
            &statement,
            &[&max_accounts, &max_functions, &max_minutes, &max_values],
        )
        .await
        .map_err(failed("updating function_minute maxima"))?;
    Ok(())
}

#[cfg(test)]
mod tests;
