//! The batch's invocation rows: the stored rows of its keys, read in one
//! statement, and the changed rows, copied into a temporary table and
//! applied from it by set-based statements (`write.rs` says when each runs).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use lamlog_core::assemble::InvocationKey;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::change::{Action, Change};
use super::failed;
use super::pipeline::Tx;
use super::rows::{self, SqlRow};
use crate::store::{StoreError, StoredInvocation};

/// The stored rows of a batch's keys, in both tables.
static READ_EXISTING: LazyLock<String> = LazyLock::new(|| {
    let columns = rows::column_list("stored.");
    // One index probe per key and table (a key has no day yet, so every day
    // partition's primary key is probed, the day of its REPORT may have
    // moved). `LATERAL … LIMIT` keeps the probes: as a plain join, the
    // planner hashes 10,000 keys against a sequential scan of every
    // partition, whose cost grows with the table, not with the batch (a
    // 10,000-invocation batch spent 0.25 s to 0.45 s there against a few
    // hundred thousand stored rows).
    format!(
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
    )
});

/// The copy of the changed rows into the batch table.
static COPY_BATCH: LazyLock<String> = LazyLock::new(|| {
    let columns = rows::column_list("");
    format!(
        "COPY lamlog_batch ({columns}, action, old_start_time_ms, first_seen_ms) \
         FROM STDIN (FORMAT binary)"
    )
});

/// The statements that apply the copied rows, in the order of
/// [`write_changes`]'s counts.
static APPLY: LazyLock<[String; 5]> = LazyLock::new(apply_statements);

/// Every statement of this file, to prepare before the batch pipelines them
/// (see `pipeline.rs`). The copy and the five that apply it need the batch
/// table.
pub(super) fn statements() -> Vec<&'static str> {
    let mut texts = vec![READ_EXISTING.as_str(), COPY_BATCH.as_str()];
    texts.extend(APPLY.iter().map(String::as_str));
    texts
}

/// A stored row and whether it is in `pending_invocations`.
pub(super) type Existing = HashMap<InvocationKey, (StoredInvocation, bool)>;

pub(super) async fn read_existing(
    transaction: &Tx,
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
    let statement = transaction
        .prepare_cached(&READ_EXISTING)
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

/// Starts the copy into `lamlog_batch` (the server answers once the rows
/// before it in the pipeline are read).
pub(super) async fn start_copy(transaction: &Tx) -> Result<BinaryCopyInWriter, StoreError> {
    let statement = transaction
        .prepare_cached(&COPY_BATCH)
        .await
        .map_err(failed("preparing the batch copy"))?;
    let sink = transaction
        .copy_in(&statement)
        .await
        .map_err(failed("starting the batch copy"))?;
    let mut types: Vec<Type> = rows::COLUMN_TYPES.to_vec();
    types.extend([Type::INT2, Type::INT8, Type::INT8]);
    Ok(BinaryCopyInWriter::new(sink, &types))
}

/// What [`write_changes`] found, in the order the server ran it: the copy,
/// then the statements that apply it. They are kept apart because other
/// statements of the batch run between the two (`write.rs`), and the first
/// error in that order is the cause; those after it only say the transaction
/// was aborted.
pub(super) struct Written {
    /// The copy of the rows.
    pub copied: Result<(), StoreError>,
    /// The statements that apply them, with their row counts checked.
    pub applied: Result<(), StoreError>,
}

/// Copies the changed rows into `lamlog_batch` through `writer` (from
/// [`start_copy`]) and applies them; pending rows take `received_at_ms` as
/// their first-seen time. The statements that apply them are sent right
/// behind the copy's end, without waiting for it.
pub(super) async fn write_changes(
    transaction: &Tx,
    writer: BinaryCopyInWriter,
    changes: &[Change<'_>],
    received_at_ms: i64,
) -> Written {
    let mut writer = std::pin::pin!(writer);
    let not_applied = |error| Written {
        copied: Err(error),
        applied: Ok(()),
    };
    for change in changes {
        let row = match SqlRow::new(&change.merged) {
            Ok(row) => row,
            Err(error) => return not_applied(error),
        };
        let action = change.action as i16;
        let old_start_time_ms = change.old.and_then(|old| old.invocation.start_time_ms);
        let mut values: Vec<&(dyn ToSql + Sync)> = row.values().to_vec();
        values.push(&action);
        values.push(&old_start_time_ms);
        values.push(&received_at_ms);
        if let Err(error) = writer.as_mut().write(&values).await {
            return not_applied(failed("copying the batch")(error));
        }
    }
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
    let mut prepared = Vec::new();
    for (text, wanted) in APPLY.iter().zip(expected) {
        if wanted > 0 {
            match transaction.prepare_cached(text).await {
                Ok(statement) => prepared.push((statement, wanted)),
                Err(error) => return not_applied(failed("preparing the invocation writes")(error)),
            }
        }
    }
    let (copied, results) = futures_util::future::join(
        writer.as_mut().finish(),
        futures_util::future::join_all(
            prepared
                .iter()
                .map(|(statement, _)| transaction.execute(statement, &[])),
        ),
    )
    .await;
    Written {
        copied: copied
            .map(|_| ())
            .map_err(failed("finishing the batch copy")),
        applied: check_counts(&prepared, results),
    }
}

/// Each statement's row count against what the merge expects.
fn check_counts(
    prepared: &[(tokio_postgres::Statement, u64)],
    results: Vec<Result<u64, tokio_postgres::Error>>,
) -> Result<(), StoreError> {
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
fn apply_statements() -> [String; 5] {
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
