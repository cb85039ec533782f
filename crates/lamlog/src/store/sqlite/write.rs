//! `write_batch`: one batch, one `BEGIN IMMEDIATE` transaction, exactly once.
//!
//! For each invocation of the batch, in key order:
//! 1. insert it if no row has its key (the usual case: one statement);
//! 2. otherwise read the stored row and join the new evidence into it
//!    ([`invocation_row::join`]); a row that does not change is a replay
//!    and nothing else happens; one that does is written back;
//! 3. for a new or changed row, record the move of its contribution to the
//!    rollups from its old state to its new one (`rollup.rs`), and upsert
//!    the alerts its new state implies that its old state did not.
//!
//! Then, for each function whose rows changed, the rollup changes are
//! written, summed per minute, its watermark is moved and its windows are
//! judged (`windows.rs`): those the move closes and the closed ones its
//! changed rows fall in. Then each log stream with new warm samples has its
//! memory trail advanced and judged (`trails.rs`). Last, the dead letters are
//! inserted if absent.
//! Any error drops the transaction, which rolls it back:
//! a batch is stored whole or not at all, so a retry starts from a clean
//! state. `BEGIN IMMEDIATE` takes the write lock up front, so two writers
//! queue on the busy timeout instead of failing halfway through on an
//! upgrade from a read lock.
//!
//! Every statement is prepared once per connection (`prepare_cached`) and
//! reused for every row: a new invocation costs one insert; a stored one a
//! failed insert, a lookup and, for new evidence, an update and a handful of
//! upserts.

use std::collections::BTreeMap;

use lamlog_core::growth::SamplesByStream;
use lamlog_core::rollup::contribution;
use lamlog_core::window::BatchActivity;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::{alerts, failed, invocation_row, rollup, trails, windows};
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
    let mut functions = Functions::new();
    let mut streams = SamplesByStream::default();
    let mut statements = invocation_row::RowStatements::prepare(&transaction)?;
    for new in batch.invocations {
        write_invocation(
            (&transaction, &mut statements),
            batch,
            new,
            &mut outcome,
            (&mut functions, &mut streams),
        )?;
    }
    drop(statements);
    for (&(account, function), changes) in &functions {
        changes.rollups.flush(&transaction, account, function)?;
        windows::advance_and_judge(
            &transaction,
            batch,
            (account, function),
            &changes.activity,
            &mut outcome,
        )?;
    }
    trails::advance_streams(&transaction, batch, streams, &mut outcome)?;
    for dead_letter in batch.dead_letters {
        outcome.dead_letters += insert_dead_letter(&transaction, dead_letter)?;
    }
    transaction
        .commit()
        .map_err(failed("committing the batch"))?;
    Ok(outcome)
}

/// What the batch did to one function: the rows' moves in its rollups, and
/// its activity for the watermark and windows.
#[derive(Default)]
struct FunctionChanges {
    rollups: rollup::Pending,
    activity: BatchActivity,
}

/// Per (account, function), the names borrowed from the batch: a row's
/// function is found in one lookup, without copying its names.
type Functions<'b> = BTreeMap<(&'b str, &'b str), FunctionChanges>;

/// Joins one invocation into its row and, when that changes the row,
/// writes it, upserts its alerts, records its rollup move and activity in
/// its function's changes and, when its REPORT is new, its memory sample in
/// its stream's.
fn write_invocation<'b>(
    (transaction, statements): (&Transaction<'_>, &mut invocation_row::RowStatements<'_>),
    batch: &StoreBatch<'_>,
    new: &'b StoredInvocation,
    outcome: &mut WriteOutcome,
    (functions, streams): (&mut Functions<'b>, &mut SamplesByStream<'b>),
) -> Result<(), StoreError> {
    let existing;
    let joined;
    let merged = if statements.insert_new(new, batch.received_at_ms)? {
        outcome.inserted += 1;
        existing = None;
        new
    } else {
        let Some(stored) = statements.select(invocation_row::key_of(&new.invocation))? else {
            return Err(StoreError::Statement(format!(
                "invocation {} conflicted on insert but was not found",
                new.invocation.request_id
            )));
        };
        let changed;
        (joined, changed) = invocation_row::join(&stored, new);
        existing = Some(stored);
        if !changed {
            outcome.unchanged += 1;
            return Ok(());
        }
        outcome.updated += 1;
        statements.update(&joined, batch.received_at_ms)?;
        &joined
    };
    let invocation = &merged.invocation;
    let old_contribution = existing
        .as_ref()
        .and_then(|old| contribution(&old.invocation, old.cost_usd));
    let new_contribution = contribution(invocation, merged.cost_usd);
    alerts::upsert_invocation_alerts(
        transaction,
        batch,
        existing.as_ref().map(|old| &old.invocation),
        invocation,
        &mut outcome.new_alerts,
    )?;
    match &existing {
        None => streams.observe(None, &new.invocation),
        Some(old) => streams.observe_copied(Some(&old.invocation), invocation),
    }
    // A row once reported stays so (the join only adds evidence); one not
    // reported has no contribution before or after.
    if invocation.is_reported() {
        // The key is the same in the stored row, the new one and their
        // join; the batch's own copy outlives the loop.
        let key = (
            new.invocation.account.as_str(),
            new.invocation.function.as_str(),
        );
        let changes = functions.entry(key).or_default();
        changes
            .rollups
            .record(old_contribution.as_ref(), new_contribution.as_ref());
        changes.activity.record(
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
