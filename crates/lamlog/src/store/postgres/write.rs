//! `write_batch`: one batch, one transaction, four round trips.
//!
//! **Partitions** for the days of the batch's REPORTs (and the day after),
//! those near the time the batch was received, are made sure of first,
//! outside the transaction (`partitions.rs`): no round trip once they exist.
//! Then the transaction goes in four pipelines, each one round trip: every
//! statement of a pipeline is sent before the first answer is awaited, and
//! the server runs them in the order sent (`pipeline.rs`).
//!
//! 1. `BEGIN`, the transaction's settings and the batch table; **lock every
//!    key** (`locks.rs`): `pg_advisory_xact_lock` on the slot (one of
//!    `KEY_LOCK_SLOTS`) that the hash of each (account, function, request id)
//!    falls in, sorted, in one statement; **read** the stored rows of those
//!    keys (both tables, one statement, one primary-key probe per key and
//!    table); and start the `COPY` into the batch table. Two writers with
//!    overlapping batches queue key by key, and since both take their locks
//!    in the same order, neither can hold one the other waits for while
//!    waiting itself: no deadlock. The locks are what make "read, merge,
//!    write" safe, and what keeps a key unique across the day partitions and
//!    `pending_invocations`, which no index can.
//!
//!    Then the rows are **merged in Rust** with [`rows::join`], the SQLite
//!    store's rule. A row that does not change is a replay; nothing more is
//!    done for it.
//! 2. **Write what changed** (`invocation_writes.rs`): binary `COPY` of the
//!    merged rows into the session's temporary table, then set-based
//!    statements from it: `INSERT … SELECT … ON CONFLICT DO NOTHING` of new
//!    rows (into `invocations`, or `pending_invocations` when they have no
//!    REPORT yet), `UPDATE … FROM` of changed ones, and the move of pending
//!    rows whose REPORT came. Each statement's row count is checked against
//!    what the merge expects; a mismatch means someone wrote without the key
//!    locks, and the batch is rolled back as [`StoreError::Busy`]. Queued
//!    ahead of those statements, so that the server runs them right after
//!    the copy: **lock the functions** of the changed reported rows
//!    (`locks.rs`) ahead of their **rollups** (`rollup.rs`); read the
//!    **watermarks** of those functions (`windows.rs`), the **memory
//!    trails** of the log streams with new warm samples (`trails.rs`) and
//!    the stored **alerts** the changed rows raise (`alerts.rs`); insert the
//!    **dead letters**. A batch that changes nothing commits here.
//! 3. **Move the watermarks and judge** the windows and hours they close,
//!    from the rollups just written, and write the memory trails.
//! 4. **Alerts**: the invocation alerts folded over their stored rows are
//!    upserted, the judged alerts inserted if absent; whether an unsent alert
//!    of the outbox is due (if none is, the claim after the batch is skipped,
//!    `outbox.rs`); and **commit**.
//!
//! The temporary table is created once per connection with `ON COMMIT DELETE
//! ROWS` rather than per batch with `ON COMMIT DROP`: the rows go either way,
//! and creating and dropping a table per batch would churn the system
//! catalogs (`pg_class`, `pg_attribute`) thousands of times an hour.
//!
//! Any error rolls the transaction back (`pipeline::end_failed`); a
//! connection that cannot even do that is not reused. A batch is stored whole
//! or not at all, so a retry starts from a clean state.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::{join, join3, join4};
use lamlog_core::assemble::InvocationKey;

use super::change::{Action, Change};
use super::invocation_writes::{self, Existing};
use super::locks::{self, LOCK_KEYS};
use super::pipeline::{self, Tx};
use super::rows::{self, SqlRow};
use super::{
    alerts, dead_letters, failed, outbox, partitions, rollup, trails, windows, PostgresStore,
};
use crate::store::{StoreBatch, StoreError, StoredInvocation, WriteOutcome};

/// Begins the batch's transaction. Also, for this transaction only:
/// silences the "already exists, skipping" notice, which tokio-postgres
/// would log on every batch; and plans every statement for its actual
/// arguments. A generic plan, which PostgreSQL caches after five runs of a
/// prepared statement, assumes 10 elements per array and keeps the table
/// sizes it saw when it was made: one made while the day's partition was
/// nearly empty joins 10,000 keys by scanning the whole partition for each
/// (a 10,000-invocation batch then took 30 s instead of 0.2 s). Planning
/// each statement costs well under a millisecond.
const BEGIN: &str = "
    BEGIN;
    SET LOCAL client_min_messages = warning;
    SET LOCAL plan_cache_mode = force_custom_plan;
    CREATE TEMP TABLE IF NOT EXISTS lamlog_batch (
        LIKE pending_invocations,
        action            SMALLINT NOT NULL,
        old_start_time_ms BIGINT
    ) ON COMMIT DELETE ROWS";

/// Every statement the batch pipelines, prepared before the first pipeline
/// needs them (`pipeline.rs`).
fn statements() -> Vec<&'static str> {
    // The outbox's claim and mark, which follow the batch on the same
    // connection, are prepared with them.
    let mut texts = vec![
        LOCK_KEYS,
        dead_letters::INSERT_DEAD_LETTERS,
        outbox::BACKLOG_DUE,
        outbox::CLAIM_DUE,
        outbox::MARK_SENT,
    ];
    texts.extend(invocation_writes::statements());
    texts.extend(rollup::STATEMENTS);
    texts.extend(windows::STATEMENTS);
    texts.extend(trails::STATEMENTS);
    texts.extend(alerts::STATEMENTS);
    texts
}

/// Writes `batch` in one transaction; with a `budget`, every statement and
/// lock wait of the transaction is limited to it. Also says whether an
/// unsent alert was due at the batch's received time, just before the
/// commit (`outbox.rs`).
pub(super) async fn write_batch(
    store: &PostgresStore,
    batch: &StoreBatch<'_>,
    budget: Option<Duration>,
) -> Result<(WriteOutcome, bool), StoreError> {
    let incoming = clean_batch(batch.invocations)?;
    let days = partitions::days_to_create(
        incoming
            .values()
            .filter_map(|row| row.invocation.start_time_ms),
        batch.received_at_ms,
    );
    store.ensure_days(days).await?;

    let client = store.client().await?;
    let written = write_in_transaction(&client, batch, &incoming, budget).await;
    if written.is_err() && !pipeline::end_failed(&client).await {
        super::release_if(client, true);
        return written;
    }
    super::release(client, &written);
    written
}

async fn write_in_transaction(
    client: &Tx,
    batch: &StoreBatch<'_>,
    incoming: &BTreeMap<InvocationKey, Cow<'_, StoredInvocation>>,
    budget: Option<Duration>,
) -> Result<(WriteOutcome, bool), StoreError> {
    let begin = match budget {
        // Local to this transaction: the pooled connection keeps no limit.
        Some(budget) => {
            let milliseconds = budget.as_millis().max(1);
            format!(
                "{BEGIN}; SET LOCAL statement_timeout = {milliseconds}; \
                 SET LOCAL lock_timeout = {milliseconds}"
            )
        }
        None => BEGIN.to_owned(),
    };
    let mut outcome = WriteOutcome::default();
    // Pipeline 1: begin, lock, read, start the copy.
    let (begun, first) = join(client.batch_execute(&begin), async {
        pipeline::prepare_all(client, &statements()).await?;
        if incoming.is_empty() {
            return Ok::<_, StoreError>(None);
        }
        let (locked, existing, writer) = join3(
            locks::lock_keys(client, incoming.keys()),
            invocation_writes::read_existing(client, incoming),
            invocation_writes::start_copy(client),
        )
        .await;
        locked?;
        Ok(Some((existing?, writer?)))
    })
    .await;
    begun.map_err(failed("beginning the batch transaction"))?;
    let Some((existing, writer)) = first? else {
        // Dead letters only.
        let (inserted, committed) = join(
            dead_letters::insert(client, batch.dead_letters),
            commit(client, batch.received_at_ms),
        )
        .await;
        outcome.dead_letters = inserted?;
        return Ok((outcome, committed?));
    };
    let changes = merge(incoming, &existing, &mut outcome);
    if changes.is_empty() {
        // A replay: end the copy empty, and commit with the dead letters.
        let (copied, inserted, committed) = join3(
            invocation_writes::write_changes(client, writer, &[], batch.received_at_ms),
            dead_letters::insert(client, batch.dead_letters),
            commit(client, batch.received_at_ms),
        )
        .await;
        copied.copied?;
        outcome.dead_letters = inserted?;
        return Ok((outcome, committed?));
    }

    // Pipeline 2: the function locks, the rollups, the reads for judging
    // and the dead letters, queued first; then the rows, whose statements go
    // last. The server runs them in that order, and the results are checked
    // in it: the first error is the cause, those after it only say that the
    // transaction was aborted.
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
    let observations = trails::observations(&changes);
    let activities = windows::activities(&rows);
    let raised = alerts::raised(batch, &changes);
    let ((locked, added, trails_read, watermarks), (stored_alerts, inserted, written)) = join(
        join4(
            locks::lock_functions(client, reported_functions),
            rollup::add_rollups(client, &rows),
            trails::read(client, &observations),
            windows::read_watermarks(client, &activities),
        ),
        join3(
            alerts::read_stored(client, &raised),
            dead_letters::insert(client, batch.dead_letters),
            invocation_writes::write_changes(client, writer, &changes, batch.received_at_ms),
        ),
    )
    .await;
    written.copied?;
    locked?;
    let left = added?;
    let (trails_read, watermarks, stored_alerts) = (trails_read?, watermarks?, stored_alerts?);
    outcome.dead_letters = inserted?;
    written.applied?;
    // Rare (a REPORT moved its row to another minute): its own round trip.
    rollup::tidy_left_minutes(client, &left).await?;

    // Pipeline 3: watermarks, judging, memory trails.
    let (upsert, growth_alerts) = trails::advance_all(batch, observations, trails_read);
    let (judged, sent) = join(
        windows::advance_and_judge(client, batch, &activities, &watermarks),
        upsert.send(client),
    )
    .await;
    let mut judged = judged?;
    sent?;
    outcome.late_invocations = judged.late_invocations;
    judged.alerts.extend(growth_alerts);

    // Pipeline 4: alerts, and commit.
    let (new_alerts, committed) = join(
        alerts::write(client, batch, raised, stored_alerts, judged.alerts),
        commit(client, batch.received_at_ms),
    )
    .await;
    outcome.new_alerts = new_alerts?;
    Ok((outcome, committed?))
}

/// Asks whether an unsent alert is due at `received_at_ms`, then commits,
/// in one pipeline; returns the answer.
async fn commit(client: &Tx, received_at_ms: i64) -> Result<bool, StoreError> {
    let statement = client
        .prepare_cached(outbox::BACKLOG_DUE)
        .await
        .map_err(failed("preparing the outbox check"))?;
    let (due, committed) = join(
        client.query_one(&statement, &[&received_at_ms]),
        client.batch_execute("COMMIT"),
    )
    .await;
    let due = due
        .and_then(|row| row.try_get::<_, bool>(0))
        .map_err(failed("reading the alerts outbox"));
    committed.map_err(failed("committing the batch"))?;
    due
}

/// The batch's invocations by key, cleaned of NUL (two keys that differ only
/// by NUL against U+FFFD become one, joined) and checked to fit the columns.
fn clean_batch(
    invocations: &[StoredInvocation],
) -> Result<BTreeMap<InvocationKey, Cow<'_, StoredInvocation>>, StoreError> {
    let mut incoming: Vec<(InvocationKey, Cow<'_, StoredInvocation>)> =
        Vec::with_capacity(invocations.len());
    for row in invocations {
        let cleaned = rows::clean_invocation(row);
        SqlRow::new(&cleaned)?;
        incoming.push((rows::key_of(&cleaned), cleaned));
    }
    // The pipeline hands rows over in key order, so sorting only checks
    // it; stable, so that rows sharing a key join in the order they came.
    // The map is then built in one pass, without a search per row.
    incoming.sort_by(|left, right| left.0.cmp(&right.0));
    incoming.dedup_by(|later, first| {
        let same = later.0 == first.0;
        if same {
            let (joined, _) = rows::join(&first.1, &later.1);
            first.1 = Cow::Owned(joined);
        }
        same
    });
    Ok(incoming.into_iter().collect())
}

/// Joins each incoming row into its stored row; returns the rows that change,
/// in key order.
fn merge<'a>(
    incoming: &'a BTreeMap<InvocationKey, Cow<'_, StoredInvocation>>,
    existing: &'a Existing,
    outcome: &mut WriteOutcome,
) -> Vec<Change<'a>> {
    let mut changes = Vec::new();
    for (key, new) in incoming {
        let Some((old, pending)) = existing.get(key) else {
            outcome.inserted += 1;
            changes.push(Change {
                old: None,
                merged: Cow::Borrowed(new.as_ref()),
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
            merged: Cow::Owned(merged),
            action,
        });
    }
    changes
}
