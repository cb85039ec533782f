//! `write_batch`: one batch, one `BEGIN IMMEDIATE` transaction, exactly once.
//!
//! For each invocation of the batch, in key order:
//! 1. read the stored row with its key (if any) and join the new evidence
//!    into it ([`invocation_row::join`]);
//! 2. a row that does not change is a replay: nothing else happens;
//! 3. otherwise write the row, add `rollup_delta(old, new)` to its minute
//!    (and, on the first REPORT, its histogram bucket and the minute's max),
//!    and upsert the alerts its new state implies that its old state did not.
//!
//! Then each function whose watermark (latest reported start time) moved has
//! the windows it closed judged for error rate, and the dead letters are
//! inserted if absent. Any error drops the transaction, which rolls it back:
//! a batch is stored whole or not at all, so a retry starts from a clean
//! state. `BEGIN IMMEDIATE` takes the write lock up front, so two writers
//! queue on the busy timeout instead of failing halfway through on an
//! upgrade from a read lock.
//!
//! Every statement is prepared once per connection (`prepare_cached`) and
//! reused for every row: the cost per invocation is one indexed lookup plus,
//! for new evidence, a handful of upserts.

use std::collections::BTreeMap;

use lamlog_core::rollup::{contribution, rollup_delta, RollupDelta};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::{alerts, failed, invocation_row};
use crate::store::{DeadLetter, StoreBatch, StoreError, StoredInvocation, WriteOutcome};

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
    VALUES (?1, ?2, ?3, ?4, 1)
    ON CONFLICT (account, function, minute_ms, bucket) DO UPDATE SET count = count + 1";

const SELECT_WATERMARK: &str = "
    SELECT watermark_ms FROM function_watermark WHERE account = ?1 AND function = ?2";

const UPSERT_WATERMARK: &str = "
    INSERT INTO function_watermark (account, function, watermark_ms) VALUES (?1, ?2, ?3)
    ON CONFLICT (account, function) DO UPDATE SET
        watermark_ms = MAX(watermark_ms, excluded.watermark_ms)";

const INSERT_DEAD_LETTER: &str = "
    INSERT INTO dead_letters (
        dedup_key, source, position, record_index, sequence_number, byte_offset, reason, raw,
        received_at_ms)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
    ON CONFLICT (dedup_key) DO NOTHING";

/// Writes `batch` in one transaction; see the module comment.
pub(super) fn write_batch(
    connection: &mut Connection,
    batch: &StoreBatch<'_>,
) -> Result<WriteOutcome, StoreError> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed("starting the batch transaction"))?;
    let mut outcome = WriteOutcome::default();
    // The latest reported start time of each function in this batch.
    let mut batch_watermarks: BTreeMap<(String, String), i64> = BTreeMap::new();
    for new in batch.invocations {
        let merged = write_invocation(&transaction, batch, new, &mut outcome)?;
        if let Some(start_time_ms) = merged.and_then(|row| {
            row.invocation
                .start_time_ms
                .filter(|_| row.invocation.is_reported())
        }) {
            let key = (
                new.invocation.account.clone(),
                new.invocation.function.clone(),
            );
            let latest = batch_watermarks.entry(key).or_insert(start_time_ms);
            *latest = (*latest).max(start_time_ms);
        }
    }
    for ((account, function), start_time_ms) in &batch_watermarks {
        advance_watermark(
            &transaction,
            batch,
            account,
            function,
            *start_time_ms,
            &mut outcome,
        )?;
    }
    for dead_letter in batch.dead_letters {
        outcome.dead_letters += insert_dead_letter(&transaction, dead_letter)?;
    }
    transaction
        .commit()
        .map_err(failed("committing the batch"))?;
    Ok(outcome)
}

/// Joins one invocation into its row. Returns the row as stored when this
/// call inserted or changed it, `None` for a replay.
fn write_invocation(
    transaction: &Transaction<'_>,
    batch: &StoreBatch<'_>,
    new: &StoredInvocation,
    outcome: &mut WriteOutcome,
) -> Result<Option<StoredInvocation>, StoreError> {
    let existing = invocation_row::select(transaction, &new.invocation.key())?;
    let merged = match &existing {
        None => {
            outcome.inserted += 1;
            new.clone()
        }
        Some(existing) => {
            let (merged, changed) = invocation_row::join(existing, new);
            if !changed {
                outcome.unchanged += 1;
                return Ok(None);
            }
            outcome.updated += 1;
            merged
        }
    };
    invocation_row::upsert(transaction, &merged, batch.received_at_ms)?;
    let old_contribution = existing
        .as_ref()
        .and_then(|old| contribution(&old.invocation, old.cost_usd));
    let new_contribution = contribution(&merged.invocation, merged.cost_usd);
    if let Some(delta) = rollup_delta(old_contribution.as_ref(), new_contribution.as_ref()) {
        add_rollup(transaction, &merged, &delta)?;
    }
    alerts::upsert_invocation_alerts(
        transaction,
        batch,
        existing.as_ref().map(|old| &old.invocation),
        &merged.invocation,
        &mut outcome.new_alerts,
    )?;
    Ok(Some(merged))
}

/// Adds one row's change to its minute, and on its first REPORT to the
/// minute's histogram and max duration.
fn add_rollup(
    transaction: &Transaction<'_>,
    row: &StoredInvocation,
    delta: &RollupDelta,
) -> Result<(), StoreError> {
    let counters = &delta.counters;
    let account = &row.invocation.account;
    let function = &row.invocation.function;
    // The max only ever rises, and only by a first REPORT (REPORT figures are
    // set once); a later change contributes 0, which the MAX ignores.
    let duration_max_us = if delta.first_report {
        counters.duration_us
    } else {
        0
    };
    transaction
        .prepare_cached(UPSERT_MINUTE)
        .and_then(|mut statement| {
            statement.execute(rusqlite::params![
                account,
                function,
                counters.minute_ms,
                counters.invocations,
                counters.successes,
                counters.errors,
                counters.crashes,
                counters.ooms,
                counters.timeouts,
                counters.cold_starts,
                counters.duration_us,
                duration_max_us,
                counters.billed_mb_ms,
                counters.cost_pico_usd,
            ])
        })
        .map_err(failed("updating function_minute"))?;
    if delta.first_report {
        transaction
            .prepare_cached(UPSERT_HISTOGRAM)
            .and_then(|mut statement| {
                statement.execute((
                    account,
                    function,
                    counters.minute_ms,
                    counters.duration_bucket,
                ))
            })
            .map_err(failed("updating function_minute_histogram"))?;
    }
    Ok(())
}

/// Moves a function's watermark to `start_time_ms` if that is later, and
/// judges the windows the move closes.
fn advance_watermark(
    transaction: &Transaction<'_>,
    batch: &StoreBatch<'_>,
    account: &str,
    function: &str,
    start_time_ms: i64,
    outcome: &mut WriteOutcome,
) -> Result<(), StoreError> {
    let old_watermark_ms: Option<i64> = transaction
        .prepare_cached(SELECT_WATERMARK)
        .and_then(|mut statement| {
            statement
                .query_row((account, function), |row| row.get(0))
                .optional()
        })
        .map_err(failed("reading function_watermark"))?;
    if old_watermark_ms.is_some_and(|old| old >= start_time_ms) {
        return Ok(());
    }
    transaction
        .prepare_cached(UPSERT_WATERMARK)
        .and_then(|mut statement| statement.execute((account, function, start_time_ms)))
        .map_err(failed("updating function_watermark"))?;
    alerts::judge_closed_windows(
        transaction,
        batch,
        account,
        function,
        old_watermark_ms,
        start_time_ms,
        &mut outcome.new_alerts,
    )
}

/// Inserts a dead letter unless its key is stored; returns 1 if it was new.
fn insert_dead_letter(
    transaction: &Transaction<'_>,
    dead_letter: &DeadLetter,
) -> Result<u64, StoreError> {
    let position = &dead_letter.position;
    let inserted = transaction
        .prepare_cached(INSERT_DEAD_LETTER)
        .and_then(|mut statement| {
            statement.execute(rusqlite::params![
                dead_letter.dedup_key(),
                dead_letter.source,
                dead_letter.position_key(),
                position.record_index,
                position.sequence_number,
                position.byte_offset,
                dead_letter.reason,
                dead_letter.raw,
                dead_letter.received_at_ms,
            ])
        })
        .map_err(failed("inserting dead_letters"))?;
    Ok(u64::from(inserted > 0))
}
