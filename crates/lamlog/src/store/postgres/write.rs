//! `write_batch`: one batch, one transaction, a fixed number of round trips.
//!
//! 1. **Partitions** for the days of the batch's REPORTs (and the day after),
//!    those near the time the batch was received, are made sure of first,
//!    outside the transaction (`partitions.rs`).
//! 2. **Lock every key** (`locks.rs`): `pg_advisory_xact_lock` on the slot
//!    (one of `KEY_LOCK_SLOTS`) that the hash of each (account, function,
//!    request id) falls in, sorted, in one statement. Two writers
//!    with overlapping batches then queue key by key, and since both take
//!    their locks in the same order, neither can hold one the other waits for
//!    while waiting itself: no deadlock. The locks are what make "read, merge,
//!    write" safe, and what keeps a key unique across the day partitions and
//!    `pending_invocations`, which no index can.
//! 3. **Read** the stored rows of those keys (both tables, one statement):
//!    one primary-key probe per key and table, never a scan (see
//!    `read_existing`).
//! 4. **Merge in Rust** with [`rows::join`], the SQLite store's rule. A row
//!    that does not change is a replay; nothing more is done for it.
//! 5. **Write what changed**: binary `COPY` of the merged rows into a session
//!    temporary table, then set-based statements from it, sent together
//!    (tokio-postgres pipelines them): `INSERT … SELECT … ON CONFLICT DO
//!    NOTHING` of new rows (into `invocations`, or `pending_invocations` when
//!    they have no REPORT yet), `UPDATE … FROM` of changed ones, and the move
//!    of pending rows whose REPORT came. Each statement's row count is checked
//!    against what the merge expects; a mismatch means someone wrote without
//!    the key locks, and the batch is rolled back as [`StoreError::Busy`].
//! 6. **Lock the functions** of the changed reported rows (`locks.rs`), then
//!    **rollups** (`rollup.rs`), **watermarks and window alerts**
//!    (`windows.rs`), **memory trails** of the log streams with new warm
//!    samples (`trails.rs`) and **alerts** (`alerts.rs`), from the (old,
//!    merged) pairs of changed rows.
//! 7. **Dead letters**, inserted if absent, in one statement.
//! 8. **Commit.**
//!
//! The temporary table is created once per connection with `ON COMMIT DELETE
//! ROWS` rather than per batch with `ON COMMIT DROP`: the rows go either way,
//! and creating and dropping a table per batch would churn the system
//! catalogs (`pg_class`, `pg_attribute`) thousands of times an hour.
//!
//! Any error drops the transaction, which rolls it back: a batch is stored
//! whole or not at all, so a retry starts from a clean state.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use deadpool_postgres::Transaction;
use lamlog_core::assemble::InvocationKey;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::change::{Action, Change};
use super::locks::{self, key_slot_lock, LOCK_KEYS};
use super::rows::{self, SqlRow};
use super::{alerts, dead_letters, failed, partitions, rollup, trails, windows, PostgresStore};
use crate::store::{StoreBatch, StoreError, StoredInvocation, WriteOutcome};

/// Also, for this transaction only: silences the "already exists, skipping"
/// notice, which tokio-postgres would log on every batch; and plans every
/// statement for its actual arguments. A generic plan, which PostgreSQL
/// caches after five runs of a prepared statement, assumes 10 elements per
/// array and keeps the table sizes it saw when it was made: one made while
/// the day's partition was nearly empty joins 10,000 keys by scanning the
/// whole partition for each (a 10,000-invocation batch then took 30 s
/// instead of 0.2 s). Planning each statement costs well under a
/// millisecond.
const CREATE_BATCH_TABLE: &str = "
    SET LOCAL client_min_messages = warning;
    SET LOCAL plan_cache_mode = force_custom_plan;
    CREATE TEMP TABLE IF NOT EXISTS lamlog_batch (
        LIKE pending_invocations,
        action            SMALLINT NOT NULL,
        old_start_time_ms BIGINT
    ) ON COMMIT DELETE ROWS";

/// Writes `batch` in one transaction; with a `budget`, every statement and
/// lock wait of the transaction is limited to it.
pub(super) async fn write_batch(
    store: &PostgresStore,
    batch: &StoreBatch<'_>,
    budget: Option<Duration>,
) -> Result<WriteOutcome, StoreError> {
    let incoming = clean_batch(batch.invocations)?;
    let days = partitions::days_to_create(
        incoming
            .values()
            .filter_map(|row| row.invocation.start_time_ms),
        batch.received_at_ms,
    );
    store.ensure_days(days).await?;

    let mut client = store.client().await?;
    let written = write_in_transaction(&mut client, batch, &incoming, budget).await;
    super::release(client, &written);
    written
}

async fn write_in_transaction(
    client: &mut deadpool_postgres::Client,
    batch: &StoreBatch<'_>,
    incoming: &BTreeMap<InvocationKey, Cow<'_, StoredInvocation>>,
    budget: Option<Duration>,
) -> Result<WriteOutcome, StoreError> {
    let transaction = client
        .transaction()
        .await
        .map_err(failed("starting the batch transaction"))?;
    if let Some(budget) = budget {
        // Local to this transaction: the pooled connection keeps no limit.
        let milliseconds = budget.as_millis().max(1);
        transaction
            .batch_execute(&format!(
                "SET LOCAL statement_timeout = {milliseconds}; SET LOCAL lock_timeout = {milliseconds}"
            ))
            .await
            .map_err(failed("setting the transaction's timeouts"))?;
    }
    let mut outcome = WriteOutcome::default();
    if !incoming.is_empty() {
        let mut key_locks: Vec<i64> = incoming
            .keys()
            .map(|key| key_slot_lock(&key.account, &key.function, &key.request_id))
            .collect();
        key_locks.sort_unstable();
        key_locks.dedup();
        let lock = transaction
            .prepare_cached(LOCK_KEYS)
            .await
            .map_err(failed("preparing the key locks"))?;
        let (locked, created) = futures_util::future::join(
            transaction.execute(&lock, &[&key_locks]),
            transaction.batch_execute(CREATE_BATCH_TABLE),
        )
        .await;
        locked.map_err(failed("locking the batch's keys"))?;
        created.map_err(failed("creating the batch table"))?;

        let existing = read_existing(&transaction, incoming).await?;
        let changes = merge(incoming, &existing, &mut outcome);
        if !changes.is_empty() {
            write_changes(&transaction, &changes, batch.received_at_ms).await?;
            let rows: Vec<rollup::RowChange<'_>> = changes
                .iter()
                .map(|change| rollup::RowChange {
                    old: change.old,
                    new: &change.merged,
                })
                .collect();
            let reported_functions = rows
                .iter()
                .filter(|row| row.new.invocation.is_reported())
                .map(|row| (row.account(), row.function()));
            locks::lock_functions(&transaction, reported_functions).await?;
            // The trails' read and upsert go beside the rollups and the
            // windows, pipelined: they depend on neither.
            let observations = trails::observations(&changes);
            let (added, stored) = futures_util::future::join(
                rollup::add_rollups(&transaction, &rows),
                trails::read(&transaction, &observations),
            )
            .await;
            added?;
            let (upsert, growth_alerts) = trails::advance_all(batch, observations, stored?);
            let (judged, sent) = futures_util::future::join(
                windows::advance_and_judge(&transaction, batch, &rows),
                upsert.send(&transaction),
            )
            .await;
            sent?;
            let mut judged = judged?;
            outcome.late_invocations = judged.late_invocations;
            judged.alerts.extend(growth_alerts);
            outcome.new_alerts =
                alerts::upsert_alerts(&transaction, batch, &changes, judged.alerts).await?;
        }
    }
    outcome.dead_letters = dead_letters::insert(&transaction, batch.dead_letters).await?;
    transaction
        .commit()
        .await
        .map_err(failed("committing the batch"))?;
    Ok(outcome)
}

/// The batch's invocations by key, cleaned of NUL (two keys that differ only
/// by NUL against U+FFFD become one, joined) and checked to fit the columns.
fn clean_batch(
    invocations: &[StoredInvocation],
) -> Result<BTreeMap<InvocationKey, Cow<'_, StoredInvocation>>, StoreError> {
    let mut incoming: BTreeMap<InvocationKey, Cow<'_, StoredInvocation>> = BTreeMap::new();
    for row in invocations {
        let cleaned = rows::clean_invocation(row);
        SqlRow::new(&cleaned)?;
        match incoming.entry(rows::key_of(&cleaned)) {
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(cleaned);
            }
            std::collections::btree_map::Entry::Occupied(mut slot) => {
                let (joined, _) = rows::join(slot.get(), &cleaned);
                slot.insert(Cow::Owned(joined));
            }
        }
    }
    Ok(incoming)
}

/// A stored row and whether it is in `pending_invocations`.
type Existing = HashMap<InvocationKey, (StoredInvocation, bool)>;

async fn read_existing(
    transaction: &Transaction<'_>,
    incoming: &BTreeMap<InvocationKey, Cow<'_, StoredInvocation>>,
) -> Result<Existing, StoreError> {
    let mut accounts: Vec<&str> = Vec::with_capacity(incoming.len());
    let mut functions: Vec<&str> = Vec::with_capacity(incoming.len());
    let mut request_ids: Vec<&str> = Vec::with_capacity(incoming.len());
    for key in incoming.keys() {
        accounts.push(&key.account);
        functions.push(&key.function);
        request_ids.push(&key.request_id);
    }
    let columns = rows::column_list("stored.");
    // One index probe per key and table (a key has no day yet, so every day
    // partition's primary key is probed, the day of its REPORT may have
    // moved). `LATERAL … LIMIT` keeps the probes: as a plain join, the
    // planner hashes 10,000 keys against a sequential scan of every
    // partition, whose cost grows with the table, not with the batch (a
    // 10,000-invocation batch spent 0.25 s to 0.45 s there against a few
    // hundred thousand stored rows).
    let sql = format!(
        "SELECT found.*
           FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[]) AS k(account, function, request_id)
          CROSS JOIN LATERAL (
                (SELECT false, {columns}
                   FROM invocations stored
                  WHERE stored.account = k.account AND stored.function = k.function
                    AND stored.request_id = k.request_id
                  LIMIT 1)
                UNION ALL
                (SELECT true, {columns}
                   FROM pending_invocations stored
                  WHERE stored.account = k.account AND stored.function = k.function
                    AND stored.request_id = k.request_id
                  LIMIT 1)
          ) AS found"
    );
    let statement = transaction
        .prepare_cached(&sql)
        .await
        .map_err(failed("preparing the invocation lookup"))?;
    let found = transaction
        .query(&statement, &[&accounts, &functions, &request_ids])
        .await
        .map_err(failed("reading invocations"))?;
    let mut existing = Existing::with_capacity(found.len());
    for row in &found {
        let pending: bool = row.try_get(0).map_err(failed("reading invocations"))?;
        let stored = rows::from_row(row, 1)
            .map_err(|message| StoreError::Statement(format!("reading invocations: {message}")))?;
        existing.insert(rows::key_of(&stored), (stored, pending));
    }
    Ok(existing)
}

/// Joins each incoming row into its stored row; returns the rows that change,
/// in key order.
fn merge<'a>(
    incoming: &BTreeMap<InvocationKey, Cow<'_, StoredInvocation>>,
    existing: &'a Existing,
    outcome: &mut WriteOutcome,
) -> Vec<Change<'a>> {
    let mut changes = Vec::new();
    for (key, new) in incoming {
        let Some((old, pending)) = existing.get(key) else {
            outcome.inserted += 1;
            changes.push(Change {
                old: None,
                merged: new.as_ref().clone(),
                action: Action::Insert,
            });
            continue;
        };
        let (merged, changed) = rows::join(old, new);
        if !changed {
            outcome.unchanged += 1;
            continue;
        }
        outcome.updated += 1;
        let action = match (pending, merged.invocation.start_time_ms.is_some()) {
            (false, _) => Action::UpdateReported,
            (true, true) => Action::Move,
            (true, false) => Action::UpdatePending,
        };
        changes.push(Change {
            old: Some(old),
            merged,
            action,
        });
    }
    changes
}

/// `COPY`s the changed rows into `lamlog_batch` and applies them; pending
/// rows take `received_at_ms` as their first-seen time.
async fn write_changes(
    transaction: &Transaction<'_>,
    changes: &[Change<'_>],
    received_at_ms: i64,
) -> Result<(), StoreError> {
    let columns = rows::column_list("");
    let sink = transaction
        .copy_in(&format!(
            "COPY lamlog_batch ({columns}, action, old_start_time_ms, first_seen_ms) \
             FROM STDIN (FORMAT binary)"
        ))
        .await
        .map_err(failed("starting the batch copy"))?;
    let mut types: Vec<Type> = rows::COLUMN_TYPES.to_vec();
    types.extend([Type::INT2, Type::INT8, Type::INT8]);
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
    for change in changes {
        let row = SqlRow::new(&change.merged)?;
        let action = change.action as i16;
        let old_start_time_ms = change.old.and_then(|old| old.invocation.start_time_ms);
        let mut values: Vec<&(dyn ToSql + Sync)> = row.values().to_vec();
        values.push(&action);
        values.push(&old_start_time_ms);
        values.push(&received_at_ms);
        writer
            .as_mut()
            .write(&values)
            .await
            .map_err(failed("copying the batch"))?;
    }
    writer
        .as_mut()
        .finish()
        .await
        .map_err(failed("finishing the batch copy"))?;

    let count = |wanted: &dyn Fn(&Change<'_>) -> bool| {
        changes.iter().filter(|change| wanted(change)).count() as u64
    };
    let reported = |change: &Change<'_>| change.merged.invocation.start_time_ms.is_some();
    let expected = [
        count(&|change| matches!(change.action, Action::Insert | Action::Move) && reported(change)),
        count(&|change| change.action == Action::Insert && !reported(change)),
        count(&|change| change.action == Action::Move),
        count(&|change| change.action == Action::UpdateReported),
        count(&|change| change.action == Action::UpdatePending),
    ];
    let sql = statements();
    let mut prepared = Vec::new();
    for (text, wanted) in sql.iter().zip(expected) {
        if wanted > 0 {
            let statement = transaction
                .prepare_cached(text)
                .await
                .map_err(failed("preparing the invocation writes"))?;
            prepared.push((statement, wanted));
        }
    }
    let results = futures_util::future::join_all(
        prepared
            .iter()
            .map(|(statement, _)| transaction.execute(statement, &[])),
    )
    .await;
    for ((_, wanted), result) in prepared.iter().zip(results) {
        let written = result.map_err(failed("writing invocations"))?;
        if written != *wanted {
            return Err(StoreError::Busy(format!(
                "writing invocations: {written} rows changed where {wanted} were expected; \
                 another writer changed them without the key locks"
            )));
        }
    }
    Ok(())
}

/// The five statements of [`write_changes`], in the order of its counts.
fn statements() -> [String; 5] {
    let columns = rows::column_list("");
    let from_batch = rows::column_list("b.");
    let assignments = rows::COLUMNS[3..].join(", ");
    let new_values = rows::COLUMNS[3..]
        .iter()
        .map(|column| format!("b.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    let same_key =
        "t.account = b.account AND t.function = b.function AND t.request_id = b.request_id";
    [
        format!(
            "INSERT INTO invocations ({columns})
             SELECT {from_batch} FROM lamlog_batch b
              WHERE b.action IN (0, 2) AND b.start_time_ms IS NOT NULL
              ORDER BY b.account, b.function, b.request_id
             ON CONFLICT DO NOTHING"
        ),
        format!(
            "INSERT INTO pending_invocations ({columns}, first_seen_ms)
             SELECT {from_batch}, b.first_seen_ms FROM lamlog_batch b
              WHERE b.action = 0 AND b.start_time_ms IS NULL
              ORDER BY b.account, b.function, b.request_id
             ON CONFLICT DO NOTHING"
        ),
        format!(
            "DELETE FROM pending_invocations t USING lamlog_batch b
              WHERE b.action = 2 AND {same_key}"
        ),
        format!(
            "UPDATE invocations t SET ({assignments}) = ({new_values})
               FROM lamlog_batch b
              WHERE b.action = 1 AND {same_key} AND t.start_time_ms = b.old_start_time_ms"
        ),
        format!(
            "UPDATE pending_invocations t
                SET ({assignments}) = ({new_values}),
                    first_seen_ms = LEAST(t.first_seen_ms, b.first_seen_ms)
               FROM lamlog_batch b
              WHERE b.action = 3 AND {same_key}"
        ),
    ]
}
