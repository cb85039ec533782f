//! The batch's changed rows on their way into `invocations` and
//! `pending_invocations`: sent as one array per column into the session
//! temporary table `lamlog_batch`, then applied by set-based statements from
//! it, all in one round trip (`pipeline.rs`): `INSERT … SELECT … ON CONFLICT
//! DO NOTHING` of new rows (into `invocations`, or `pending_invocations` when
//! they have no REPORT yet), `UPDATE … FROM` of changed ones, and the move of
//! pending rows whose REPORT came. Each statement's row count is checked
//! against what the merge expects ([`Writes::check`]); a mismatch means
//! someone wrote without the key locks, and the batch is rolled back as
//! [`StoreError::Busy`].
//!
//! The rows go in as arrays and `unnest` rather than by `COPY`: a `COPY`
//! waits for the server's go-ahead before its data may follow, a round trip
//! of its own, where an `INSERT` of arrays is one statement among the others.
//!
//! The temporary table is created once per connection with `ON COMMIT DELETE
//! ROWS` rather than per batch with `ON COMMIT DROP`: the rows go either way,
//! and creating and dropping a table per batch would churn the system
//! catalogs (`pg_class`, `pg_attribute`) thousands of times an hour.

use std::time::Duration;

use tokio_postgres::types::Type;
use tokio_postgres::Statement;

use super::array::Column;
use super::change::{Action, Change};
use super::pipeline::{param, Param, Replies, Slot, Turn};
use super::rows::{self, SqlRow};
use crate::store::StoreError;

/// The statements that open a batch's transaction, as one simple query.
///
/// Besides the timeouts (when the write has a deadline), for this
/// transaction only: silences the "already exists, skipping" notice, which
/// tokio-postgres would log on every batch; and plans every statement for
/// its actual arguments. A generic plan, which PostgreSQL caches after five
/// runs of a prepared statement, assumes 10 elements per array and keeps the
/// table sizes it saw when it was made: one made while the day's partition
/// was nearly empty joins 10,000 keys by scanning the whole partition for
/// each (a 10,000-invocation batch then took 30 s instead of 0.2 s).
/// Planning each statement costs well under a millisecond.
pub(super) fn begin(budget: Option<Duration>) -> String {
    let mut sql = String::from("BEGIN;");
    if let Some(budget) = budget {
        // Local to this transaction: the pooled connection keeps no limit.
        let milliseconds = budget.as_millis().max(1);
        sql.push_str(&format!(
            " SET LOCAL statement_timeout = {milliseconds}; \
             SET LOCAL lock_timeout = {milliseconds};"
        ));
    }
    sql.push_str(
        " SET LOCAL client_min_messages = warning;
          SET LOCAL plan_cache_mode = force_custom_plan;
          CREATE TEMP TABLE IF NOT EXISTS lamlog_batch (
              LIKE pending_invocations,
              action            SMALLINT NOT NULL,
              old_start_time_ms BIGINT
          ) ON COMMIT DELETE ROWS",
    );
    sql
}

/// The statements on `lamlog_batch`, which exists once [`begin`] ran.
#[derive(Debug)]
pub(super) struct Prepared {
    insert: Statement,
    writes: Vec<Statement>,
}

impl Prepared {
    /// Prepares them, in one round trip (none once cached).
    pub async fn prepare(client: &deadpool_postgres::Client) -> Result<Prepared, StoreError> {
        let insert = insert_statement();
        let texts = statements();
        let mut all: Vec<&str> = vec![&insert];
        all.extend(texts.iter().map(String::as_str));
        let mut statements = super::pipeline::prepare(client, &all).await?.into_iter();
        let insert = statements
            .next()
            .ok_or_else(|| StoreError::Statement("preparing the batch insert".to_owned()))?;
        Ok(Prepared {
            insert,
            writes: statements.collect(),
        })
    }
}

/// The slots of the writes in a turn and the counts they must answer.
#[derive(Debug)]
pub(super) struct Writes {
    expected: Vec<(Slot, u64)>,
}

impl Writes {
    /// Checks every write's count; [`StoreError::Busy`] on a mismatch.
    pub fn check(&self, replies: &mut Replies) -> Result<(), StoreError> {
        for (slot, wanted) in &self.expected {
            let written = replies.count(*slot, "writing invocations")?;
            if written != *wanted {
                return Err(StoreError::Busy(format!(
                    "writing invocations: {written} rows changed where {wanted} were expected; \
                     another writer changed them without the key locks"
                )));
            }
        }
        Ok(())
    }
}

/// The converted rows of `changes`, which [`push_writes`] sends.
pub(super) fn sql_rows<'c>(changes: &'c [Change<'_>]) -> Result<Vec<SqlRow<'c>>, StoreError> {
    changes
        .iter()
        .map(|change| SqlRow::new(&change.merged))
        .collect()
}

/// Adds to `turn` the insert of the changed rows into `lamlog_batch` and
/// the writes from it; pending rows take `received_at_ms` as their
/// first-seen time. `sql_rows` are [`sql_rows`] of `changes`.
pub(super) fn push_writes<'a>(
    turn: &mut Turn<'a>,
    prepared: &Prepared,
    changes: &[Change<'_>],
    sql_rows: &'a [SqlRow<'a>],
    received_at_ms: i64,
) -> Writes {
    let mut columns: Vec<Column<'a>> = rows::COLUMN_TYPES
        .iter()
        .map(|element| Column::new(element.clone(), sql_rows.len()))
        .collect();
    for row in sql_rows {
        for (column, value) in columns.iter_mut().zip(row.values()) {
            column.push(value);
        }
    }
    let actions: Vec<i16> = changes.iter().map(|change| change.action as i16).collect();
    let old_start_times_ms: Vec<Option<i64>> = changes
        .iter()
        .map(|change| change.old.and_then(|old| old.invocation.start_time_ms))
        .collect();
    let mut params: Vec<Param<'a>> = columns.into_iter().map(param).collect();
    params.push(param(actions));
    params.push(param(old_start_times_ms));
    params.push(param(received_at_ms));
    let mut expected = vec![(
        turn.execute("copying the batch", &prepared.insert, params),
        changes.len() as u64,
    )];

    let count = |wanted: &dyn Fn(&Change<'_>) -> bool| {
        changes.iter().filter(|change| wanted(change)).count() as u64
    };
    let reported = |change: &Change<'_>| change.merged.invocation.start_time_ms.is_some();
    let wanted = [
        count(&|change| matches!(change.action, Action::Insert | Action::Move) && reported(change)),
        count(&|change| change.action == Action::Insert && !reported(change)),
        count(&|change| change.action == Action::Move),
        count(&|change| change.action == Action::UpdateReported),
        count(&|change| change.action == Action::UpdatePending),
    ];
    for (statement, wanted) in prepared.writes.iter().zip(wanted) {
        if wanted > 0 {
            let slot = turn.execute("writing invocations", statement, Vec::new());
            expected.push((slot, wanted));
        }
    }
    Writes { expected }
}

/// `INSERT INTO lamlog_batch … SELECT * FROM unnest(…)`: one array argument
/// per column, then the action, the old start time and the receive time
/// (one value, the first-seen time of every row).
fn insert_statement() -> String {
    let columns = rows::column_list("");
    let arrays: Vec<String> = rows::COLUMN_TYPES
        .iter()
        .enumerate()
        .map(|(index, element)| format!("${}::{}[]", index + 1, element.name()))
        .collect();
    let next = arrays.len() + 1;
    format!(
        "INSERT INTO lamlog_batch ({columns}, action, old_start_time_ms, first_seen_ms)
         SELECT batch.*, ${third}::BIGINT
           FROM unnest({arrays}, ${next}::{int2}[], ${second}::BIGINT[]) AS batch",
        arrays = arrays.join(", "),
        int2 = Type::INT2.name(),
        second = next + 1,
        third = next + 2,
    )
}

/// The five statements of [`push_writes`], in the order of its counts.
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
