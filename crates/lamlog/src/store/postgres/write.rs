//! `write_batch`: one batch, one transaction, three round trips.
//!
//! **Partitions** for the days of the batch's REPORTs (and the day after),
//! those near the time the batch was received, are made sure of first,
//! outside the transaction (`partitions.rs`); once a day exists this costs
//! nothing. Then the transaction, in three round trips of pipelined
//! statements (`pipeline.rs`): the server runs the statements of a round
//! trip one after the other, in the order sent, so a statement may follow
//! the lock it needs in the same round trip; only a statement whose
//! arguments come from an answer waits for the next one.
//!
//! 1. `BEGIN` with the transaction's settings and the temporary table
//!    (`batch_table.rs`); **lock every key** (`locks.rs`):
//!    `pg_advisory_xact_lock` on the slot that the hash of each (account,
//!    function, request id) falls in, sorted, then on each function of the
//!    batch, sorted (two writers with overlapping batches queue, and since
//!    both take their locks in the same order, no deadlock); **read** the
//!    stored rows of the batch's keys (`merge.rs`: one primary-key probe
//!    per key and table, never a scan) and the stored watermarks of its
//!    functions (`windows.rs`); the **dead letters**, inserted if absent.
//! 2. After the **merge in Rust** ([`merge::merge`], the SQLite store's
//!    rule; a row that does not change is a replay, nothing more is done for
//!    it): the changed rows into `lamlog_batch` and from it into
//!    `invocations` and `pending_invocations` (`batch_table.rs`, whose row
//!    counts are checked before anything more is sent); the **rollups**,
//!    summed per minute and bucket in Rust (`rollup.rs`); the **watermark**
//!    moves and the read of the minutes of the windows to judge
//!    (`windows.rs`); the read of the stored **alerts** the changed rows
//!    raise (`alerts.rs`).
//! 3. The maxima of the minutes a row left (`rollup.rs`), the alert upsert
//!    and the insert of new window alerts (`alerts.rs`), and **`COMMIT`**.
//!
//! A batch that changes nothing commits in its second round trip; a batch
//! of dead letters alone, in its first. Preparing the statements costs one
//! more round trip on a new connection (two: the statements on the
//! temporary table are prepared once it exists), none after.
//!
//! Any error before the commit is sent ends in `ROLLBACK`; an error in the
//! last round trip turns its `COMMIT` into a rollback. A batch is stored
//! whole or not at all, so a retry starts from a clean state. A write
//! abandoned midway (its deadline passed) closes its connection, which ends
//! the transaction on the server, rather than return it to the pool
//! ([`Checkout`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lamlog_core::assemble::InvocationKey;
use tokio_postgres::{Client, Statement};

use super::dead_letters::{self, DeadLetterRows};
use super::locks::{self, LOCK_KEYS};
use super::pipeline::{self, param, Turn};
use super::{alerts, batch_table, merge, partitions, rollup, windows, PostgresStore};
use crate::store::{StoreBatch, StoreError, StoredInvocation, WriteOutcome};

/// Writes `batch` in one transaction; with a `budget`, every statement and
/// lock wait of the transaction is limited to it.
pub(super) async fn write_batch(
    store: &PostgresStore,
    batch: &StoreBatch<'_>,
    budget: Option<Duration>,
) -> Result<WriteOutcome, StoreError> {
    let incoming = merge::clean_batch(batch.invocations)?;
    let dead_letters = DeadLetterRows::new(batch.dead_letters)?;
    let days = partitions::days_to_create(
        incoming
            .values()
            .filter_map(|row| row.invocation.start_time_ms),
        batch.received_at_ms,
    );
    store.ensure_days(days).await?;

    let mut checkout = Checkout(Some(store.client().await?));
    let Some(client) = checkout.0.as_ref() else {
        return Err(StoreError::Statement("no connection".to_owned()));
    };
    let mut in_transaction = false;
    let written = write_in_transaction(
        client,
        batch,
        &incoming,
        &dead_letters,
        budget,
        &mut in_transaction,
    )
    .await;
    let ended = !in_transaction || client.batch_execute("ROLLBACK").await.is_ok();
    if let Some(client) = checkout.0.take() {
        if ended {
            super::release(client, &written);
        } else {
            drop(deadpool_postgres::Object::take(client));
        }
    }
    written
}

/// A pooled connection during a batch. Dropped while still holding it (the
/// write was abandoned at its deadline, possibly mid-transaction), it closes
/// the connection instead of returning it to the pool.
struct Checkout(Option<deadpool_postgres::Client>);

impl Drop for Checkout {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

/// The statements of the batch that exist before its transaction.
struct Prepared {
    lock_keys: Statement,
    read_existing: Statement,
    insert_dead_letters: Statement,
    rollup: rollup::Prepared,
    windows: windows::Prepared,
    alerts: alerts::Prepared,
}

impl Prepared {
    /// Prepares them, in one round trip (none once cached).
    async fn prepare(client: &deadpool_postgres::Client) -> Result<Prepared, StoreError> {
        let read_existing = merge::read_statement();
        let (own, rollup, windows, alerts) = futures_util::future::try_join4(
            pipeline::prepare(client, &[LOCK_KEYS, &read_existing, dead_letters::INSERT]),
            rollup::Prepared::prepare(client),
            windows::Prepared::prepare(client),
            alerts::Prepared::prepare(client),
        )
        .await?;
        let [lock_keys, read_existing, insert_dead_letters] = <[Statement; 3]>::try_from(own)
            .map_err(|_| StoreError::Statement("preparing the batch's statements".to_owned()))?;
        Ok(Prepared {
            lock_keys,
            read_existing,
            insert_dead_letters,
            rollup,
            windows,
            alerts,
        })
    }
}

/// The transaction; `in_transaction` tells the caller whether it must roll
/// back (a transaction was begun and no `COMMIT` sent).
async fn write_in_transaction(
    client: &deadpool_postgres::Client,
    batch: &StoreBatch<'_>,
    incoming: &BTreeMap<InvocationKey, Cow<'_, StoredInvocation>>,
    dead_letters: &DeadLetterRows<'_>,
    budget: Option<Duration>,
    in_transaction: &mut bool,
) -> Result<WriteOutcome, StoreError> {
    let prepared = Prepared::prepare(client).await?;
    let connection: &Client = client;
    let mut outcome = WriteOutcome::default();

    // 1: begin, locks, reads, dead letters.
    let functions: Vec<(&str, &str)> = incoming
        .keys()
        .map(|key| (key.account.as_str(), key.function.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut first = Turn::new(connection);
    first.simple("starting the batch transaction", batch_table::begin(budget));
    let dead_letter_slot = dead_letters.push(&mut first, &prepared.insert_dead_letters);
    let reads = (!incoming.is_empty()).then(|| {
        let keys = incoming.keys().map(|key| {
            (
                key.account.as_str(),
                key.function.as_str(),
                key.request_id.as_str(),
            )
        });
        first.execute(
            "locking the batch's keys",
            &prepared.lock_keys,
            vec![param(locks::key_locks(keys))],
        );
        first.execute(
            "locking the batch's functions",
            &prepared.lock_keys,
            vec![param(locks::function_locks(functions.iter().copied()))],
        );
        (
            merge::push_read(&mut first, &prepared.read_existing, incoming),
            windows::push_read(&mut first, &prepared.windows, &functions),
        )
    });
    if reads.is_none() {
        first.simple("committing the batch", "COMMIT".to_owned());
    }
    *in_transaction = true;
    let answered = first.run().await;
    *in_transaction = reads.is_some();
    let mut replies = answered?;
    if let Some(slot) = dead_letter_slot {
        outcome.dead_letters = replies.count(slot, "inserting dead_letters")?;
    }
    let Some((rows_slot, watermarks_slot)) = reads else {
        return Ok(outcome);
    };
    let existing = merge::existing(&replies.rows(rows_slot, "reading invocations")?)?;
    let stored_watermarks =
        windows::stored(&replies.rows(watermarks_slot, "reading function_watermark")?)?;
    let changes = merge::merge(incoming, &existing, &mut outcome);
    if changes.is_empty() {
        let mut commit = Turn::new(connection);
        commit.simple("committing the batch", "COMMIT".to_owned());
        *in_transaction = false;
        commit.run().await?;
        return Ok(outcome);
    }

    // 2: the rows, rollups, watermarks, and the reads for judging.
    let batch_statements = batch_table::Prepared::prepare(client).await?;
    let sql_rows = batch_table::sql_rows(&changes)?;
    let rows: Vec<rollup::RowChange<'_>> = changes
        .iter()
        .map(|change| rollup::RowChange {
            old: change.old,
            new: &change.merged,
        })
        .collect();
    let rollups = rollup::summed(&rows);
    let plans = windows::plan_all(batch, &rows, &stored_watermarks);
    outcome.late_invocations = plans.late_invocations;
    let raised = alerts::raised(batch, &changes);
    let mut second = Turn::new(connection);
    let writes = batch_table::push_writes(
        &mut second,
        &batch_statements,
        &changes,
        &sql_rows,
        batch.received_at_ms,
    );
    let longest_slot = rollups.push(&mut second, &prepared.rollup);
    let judge_slot = plans.push(&mut second, &prepared.windows, batch);
    let alerts_slot = raised.push_read(&mut second, &prepared.alerts);
    let mut replies = second.run().await?;
    writes.check(&mut replies)?;
    let window_alerts = match judge_slot {
        Some(slot) => plans.judged(batch, &replies.rows(slot, "reading function_minute")?)?,
        None => Vec::new(),
    };
    let stored_alerts = match alerts_slot {
        Some(slot) => replies.rows(slot, "reading alerts")?,
        None => Vec::new(),
    };
    let longest = match longest_slot {
        Some(slot) => replies.rows(slot, "reading the longest invocations")?,
        None => Vec::new(),
    };
    let folded = raised.fold(&stored_alerts, window_alerts)?;

    // 3: maxima, alerts, commit.
    let mut third = Turn::new(connection);
    rollups.push_maxes(&mut third, &prepared.rollup, &longest)?;
    let written = folded.push(&mut third, &prepared.alerts, batch.received_at_ms);
    third.simple("committing the batch", "COMMIT".to_owned());
    *in_transaction = false;
    let mut replies = third.run().await?;
    outcome.new_alerts = folded.new_alerts(written, &mut replies)?;
    Ok(outcome)
}
