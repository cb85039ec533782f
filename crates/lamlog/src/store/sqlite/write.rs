//! `write_batch`: one batch, one `BEGIN IMMEDIATE` transaction, exactly once.
//!
//! For each invocation of the batch, in key order:
//! 1. read the stored row with its key (if any) and join the new evidence
//!    into it ([`invocation_row::join`]);
//! 2. a row that does not change is a replay: nothing else happens;
//! 3. otherwise write the row, move its contribution to the rollups from its
//!    old state to its new one (`rollup.rs`), and upsert the alerts its new
//!    state implies that its old state did not.
//!
//! Then each function whose rows changed has its watermark moved and its
//! windows judged (`windows.rs`): those the move closes and the closed ones
//! its changed rows fall in. Last, the dead letters are inserted if absent.
//! Any error drops the transaction, which rolls it back:
//! a batch is stored whole or not at all, so a retry starts from a clean
//! state. `BEGIN IMMEDIATE` takes the write lock up front, so two writers
//! queue on the busy timeout instead of failing halfway through on an
//! upgrade from a read lock.
//!
//! Every statement is prepared once per connection (`prepare_cached`) and
//! reused for every row: the cost per invocation is one indexed lookup plus,
//! for new evidence, a handful of upserts.

use std::collections::BTreeMap;

use lamlog_core::rollup::contribution;
use lamlog_core::window::BatchActivity;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::{alerts, failed, invocation_row, rollup, windows};
use crate::store::{DeadLetter, StoreBatch, StoreError, StoredInvocation, WriteOutcome};

const INSERT_DEAD_LETTER: &str = "
    INSERT INTO dead_letters (
        dedup_key, source, position, record_index, sequence_number, byte_offset, reason, raw,
        received_at_ms, raw_len, raw_sha256)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
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
    // What the batch did to each function, for its watermark and windows.
    let mut activities: BTreeMap<(String, String), BatchActivity> = BTreeMap::new();
    for new in batch.invocations {
        write_invocation(&transaction, batch, new, &mut outcome, &mut activities)?;
    }
    for ((account, function), activity) in &activities {
        windows::advance_and_judge(
            &transaction,
            batch,
            (account, function),
            activity,
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

/// Joins one invocation into its row and, when that changes the row,
/// writes it, moves its rollups, upserts its alerts and records it in its
/// function's activity.
fn write_invocation(
    transaction: &Transaction<'_>,
    batch: &StoreBatch<'_>,
    new: &StoredInvocation,
    outcome: &mut WriteOutcome,
    activities: &mut BTreeMap<(String, String), BatchActivity>,
) -> Result<(), StoreError> {
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
                return Ok(());
            }
            outcome.updated += 1;
            merged
        }
    };
    invocation_row::upsert(transaction, &merged, batch.received_at_ms)?;
    let invocation = &merged.invocation;
    let old_contribution = existing
        .as_ref()
        .and_then(|old| contribution(&old.invocation, old.cost_usd));
    let new_contribution = contribution(invocation, merged.cost_usd);
    rollup::apply(
        transaction,
        &invocation.account,
        &invocation.function,
        old_contribution.as_ref(),
        new_contribution.as_ref(),
    )?;
    alerts::upsert_invocation_alerts(
        transaction,
        batch,
        existing.as_ref().map(|old| &old.invocation),
        invocation,
        &mut outcome.new_alerts,
    )?;
    // A row once reported stays so (the join only adds evidence).
    if invocation.is_reported() {
        activities
            .entry((invocation.account.clone(), invocation.function.clone()))
            .or_default()
            .record(
                invocation.start_time_ms,
                old_contribution.as_ref(),
                new_contribution.as_ref(),
            );
    }
    Ok(())
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
                i64::try_from(dead_letter.raw_len).unwrap_or(i64::MAX),
                dead_letter.raw_sha256.as_slice(),
            ])
        })
        .map_err(failed("inserting dead_letters"))?;
    Ok(u64::from(inserted > 0))
}
