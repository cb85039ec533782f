//! Rollups (`function_minute`, `function_minute_histogram`), summed per
//! function and minute over a batch, then written.
//!
//! When a row changes from `old` to `new`, its old contribution leaves its
//! old minute and its new contribution joins its new minute: subtracted
//! there, added here, counters and histogram bucket alike. Usually the two
//! minutes are one and only the difference is written; when a second REPORT
//! moves the invocation (a re-run's REPORT with a later time), its whole
//! contribution moves. Every figure is an integer, so the totals are exact
//! in any order.
//!
//! **The max.** `duration_max_us` rises with `MAX` where a row arrives or
//! grows. A max cannot be subtracted, so a minute that a row leaves (or in
//! which a row got shorter, which the join never does) is tidied at once:
//! deleted when no invocation is left in it (a store that never saw the row
//! there has no such minute), otherwise given the max of the rows still
//! stored in it, read from `invocations` (the row itself is already written
//! at its new time) and converted by the same [`contribution`] as every other
//! figure. That costs one indexed read, which only a moved REPORT causes.

use std::collections::{BTreeMap, BTreeSet};

use lamlog_core::rollup::{contribution, Contribution};
use rusqlite::{OptionalExtension, Transaction};

use super::{failed, invocation_row};
use crate::store::StoreError;

const UPSERT_MINUTE: &str = "
    INSERT INTO function_minute (
        account, function, minute_ms, invocations, successes, errors, crashes, ooms, timeouts,
        cold_starts, duration_sum_us, duration_max_us, billed_mb_ms, cost_pico_usd)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
    ON CONFLICT (account, function, minute_ms) DO UPDATE SET
        invocations = invocations + excluded.invocations,
        successes = successes + excluded.successes,
        errors = errors + excluded.errors,
        crashes = crashes + excluded.crashes,
        ooms = ooms + excluded.ooms,
        timeouts = timeouts + excluded.timeouts,
        cold_starts = cold_starts + excluded.cold_starts,
        duration_sum_us = duration_sum_us + excluded.duration_sum_us,
        duration_max_us = MAX(duration_max_us, excluded.duration_max_us),
        billed_mb_ms = billed_mb_ms + excluded.billed_mb_ms,
        cost_pico_usd = cost_pico_usd + excluded.cost_pico_usd";

const UPSERT_HISTOGRAM: &str = "
    INSERT INTO function_minute_histogram (account, function, minute_ms, bucket, count)
    VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (account, function, minute_ms, bucket) DO UPDATE SET
        count = count + excluded.count";

const DELETE_EMPTY_BUCKET: &str = "
    DELETE FROM function_minute_histogram
     WHERE account = ?1 AND function = ?2 AND minute_ms = ?3 AND bucket = ?4 AND count = 0";

const DELETE_EMPTY_MINUTE: &str = "
    DELETE FROM function_minute
     WHERE account = ?1 AND function = ?2 AND minute_ms = ?3 AND invocations = 0";

/// The longest stored invocation of a minute (the conversion to µs is
/// monotone, so it has the largest figure).
const SELECT_LONGEST: &str = "
    SELECT request_id FROM invocations
     WHERE account = ?1 AND function = ?2 AND start_time_ms >= ?3 AND start_time_ms < ?4
       AND duration_ms IS NOT NULL
     ORDER BY duration_ms DESC
     LIMIT 1";

const SET_MAX: &str = "
    UPDATE function_minute SET duration_max_us = ?4
     WHERE account = ?1 AND function = ?2 AND minute_ms = ?3";

/// The width of a rollup minute ([`lamlog_core::rollup::minute_of`]).
const MINUTE_MS: i64 = 60_000;

/// One function's rollup changes in a batch, summed before they are
/// written: one upsert per minute and per histogram bucket the batch
/// touched, not one per row. Every figure is an integer sum and the max only
/// rises, so the sums are the same as row by row; the minutes a row left or
/// shrank in are tidied after every sum is written, from the rows then
/// stored.
#[derive(Debug, Default)]
pub(super) struct Pending {
    /// Per minute: the summed change of its counters and the largest
    /// duration that joined it (0 when none did).
    minutes: BTreeMap<i64, ([i64; 10], i64)>,
    /// Per (minute, bucket): the change of its count.
    buckets: BTreeMap<(i64, i32), i64>,
    /// Minutes a row left or shrank in.
    to_tidy: BTreeSet<i64>,
}

impl Pending {
    /// Records a row's move from `old` to `new`.
    pub(super) fn record(&mut self, old: Option<&Contribution>, new: Option<&Contribution>) {
        if old == new {
            return;
        }
        match (old, new) {
            (Some(old), Some(new)) if old.minute_ms == new.minute_ms => {
                let mut difference = new.sums();
                for (value, old_value) in difference.iter_mut().zip(old.sums()) {
                    *value = value.saturating_sub(old_value);
                }
                self.add(new.minute_ms, difference, new.duration_us);
            }
            _ => {
                if let Some(old) = old {
                    let removed = old.sums().map(|value| value.saturating_neg());
                    // 0: the MAX leaves the stored max as it is until tidied.
                    self.add(old.minute_ms, removed, 0);
                }
                if let Some(new) = new {
                    self.add(new.minute_ms, new.sums(), new.duration_us);
                }
            }
        }
        let bucket_of =
            |contribution: &Contribution| (contribution.minute_ms, contribution.duration_bucket);
        if old.map(bucket_of) != new.map(bucket_of) {
            for (contribution, count) in old
                .map(|old| (old, -1))
                .into_iter()
                .chain(new.map(|new| (new, 1)))
            {
                let bucket = self.buckets.entry(bucket_of(contribution)).or_default();
                *bucket = bucket.saturating_add(count);
            }
        }
        if let Some(old) = old {
            let shrank_or_left = new.is_none_or(|new| {
                new.minute_ms != old.minute_ms || new.duration_us < old.duration_us
            });
            if shrank_or_left {
                self.to_tidy.insert(old.minute_ms);
            }
        }
    }

    fn add(&mut self, minute_ms: i64, counters: [i64; 10], duration_max_us: i64) {
        let (sums, max_us) = self.minutes.entry(minute_ms).or_insert(([0; 10], 0));
        for (sum, value) in sums.iter_mut().zip(counters) {
            *sum = sum.saturating_add(value);
        }
        *max_us = (*max_us).max(duration_max_us);
    }

    /// Writes the summed changes to the rollups of `account`/`function`,
    /// then tidies the minutes rows left; every row is already written.
    pub(super) fn flush(
        &self,
        transaction: &Transaction<'_>,
        account: &str,
        function: &str,
    ) -> Result<(), StoreError> {
        for (&minute_ms, &(counters, duration_max_us)) in &self.minutes {
            // A change that sums to nothing leaves the minute as it is.
            if counters == [0; 10] && duration_max_us == 0 {
                continue;
            }
            MinuteChange {
                account,
                function,
                minute_ms,
                counters,
                duration_max_us,
            }
            .upsert(transaction)?;
        }
        for (&(minute_ms, bucket), &count) in &self.buckets {
            if count != 0 {
                add_to_bucket(transaction, (account, function, minute_ms, bucket), count)?;
            }
        }
        for &minute_ms in &self.to_tidy {
            tidy_minute(transaction, account, function, minute_ms)?;
        }
        Ok(())
    }
}

/// A change to one `function_minute` row.
struct MinuteChange<'a> {
    account: &'a str,
    function: &'a str,
    minute_ms: i64,
    counters: [i64; 10],
    duration_max_us: i64,
}

impl MinuteChange<'_> {
    fn upsert(&self, transaction: &Transaction<'_>) -> Result<(), StoreError> {
        let [invocations, successes, errors, crashes, ooms, timeouts, cold_starts, duration_us, billed_mb_ms, cost_pico_usd] =
            self.counters;
        transaction
            .prepare_cached(UPSERT_MINUTE)
            .and_then(|mut statement| {
                statement.execute(rusqlite::params![
                    self.account,
                    self.function,
                    self.minute_ms,
                    invocations,
                    successes,
                    errors,
                    crashes,
                    ooms,
                    timeouts,
                    cold_starts,
                    duration_us,
                    self.duration_max_us,
                    billed_mb_ms,
                    cost_pico_usd,
                ])
            })
            .map_err(failed("updating function_minute"))?;
        Ok(())
    }
}

fn add_to_bucket(
    transaction: &Transaction<'_>,
    key: (&str, &str, i64, i32),
    count: i64,
) -> Result<(), StoreError> {
    transaction
        .prepare_cached(UPSERT_HISTOGRAM)
        .and_then(|mut statement| statement.execute((key.0, key.1, key.2, key.3, count)))
        .map_err(failed("updating function_minute_histogram"))?;
    if count < 0 {
        transaction
            .prepare_cached(DELETE_EMPTY_BUCKET)
            .and_then(|mut statement| statement.execute(key))
            .map_err(failed("deleting an empty histogram bucket"))?;
    }
    Ok(())
}

/// Deletes a minute a row left if it is empty; otherwise gives it the max of
/// the rows still stored in it.
fn tidy_minute(
    transaction: &Transaction<'_>,
    account: &str,
    function: &str,
    minute_ms: i64,
) -> Result<(), StoreError> {
    transaction
        .prepare_cached(DELETE_EMPTY_MINUTE)
        .and_then(|mut statement| statement.execute((account, function, minute_ms)))
        .map_err(failed("deleting an empty function_minute row"))?;
    let longest: Option<String> = transaction
        .prepare_cached(SELECT_LONGEST)
        .and_then(|mut statement| {
            statement
                .query_row(
                    (
                        account,
                        function,
                        minute_ms,
                        minute_ms.saturating_add(MINUTE_MS),
                    ),
                    |row| row.get(0),
                )
                .optional()
        })
        .map_err(failed("reading the longest invocation"))?;
    let Some(request_id) = longest else {
        return Ok(());
    };
    let Some(longest) = invocation_row::select(transaction, (account, function, &request_id))?
        .and_then(|row| contribution(&row.invocation, row.cost_usd))
    else {
        return Ok(());
    };
    transaction
        .prepare_cached(SET_MAX)
        .and_then(|mut statement| {
            statement.execute((account, function, minute_ms, longest.duration_us))
        })
        .map_err(failed("updating a function_minute max"))?;
    Ok(())
}
