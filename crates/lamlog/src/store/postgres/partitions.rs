//! Day partitions of `invocations`: created ahead of the rows, dropped whole.
//!
//! A partition holds the invocations whose `start_time_ms` falls in one UTC
//! day, `[day × 86 400 000, (day + 1) × 86 400 000)`, and is named
//! `invocations_pYYYYMMDD`. Dropping a day is instant and leaves no bloat,
//! where a `DELETE` of millions of rows would take minutes and vacuum after.
//!
//! Creating a partition locks the parent table exclusively, so it never
//! happens inside a batch transaction (a batch holding row locks while it
//! waits for that lock could deadlock with another batch). Before its
//! transaction, a batch asks for the days of its REPORTs and the day after
//! each (so that a busy stream's next day exists before it starts); the store
//! remembers which days exist, so this costs nothing once a day exists. The
//! creation runs in its own short transaction under an advisory lock, since
//! two concurrent `CREATE TABLE IF NOT EXISTS` of one name can still fail.
//!
//! **Only days near the batch's receive time get a partition**
//! ([`days_to_create`]): from the stream retention before it to one day after
//! it. A REPORT's timestamp is text from the log stream, and application code
//! can print a line that looks like one: without the window, a line dated
//! year 9999 or 1970 would make the store run DDL and keep an empty table for
//! that day forever. Kinesis cannot deliver a live record older than its
//! retention, so older days only come from backfills (`lamlog ingest` of old
//! files), which the default partition holds as well as any day.
//!
//! The `DEFAULT` partition catches every row whose day has no partition:
//! times outside the window, and a day pruned while a batch was under way.
//! Reads go through the parent table, so they see those rows like any other;
//! prune deletes the old ones row by row (see `prune.rs`). When a day comes
//! into the window while the default partition already holds rows of it (a
//! line dated a few days ahead), PostgreSQL refuses to create the partition;
//! the day's table is then created on its own, those rows moved into it and
//! the table attached, all in the creating transaction
//! ([`adopt_from_default`]), so that one early line cannot send a whole day
//! to the default partition.

use std::collections::BTreeSet;

use deadpool_postgres::{Client, Transaction};
use lamlog_core::calendar::{civil_from_days, days_from_civil};
use tokio_postgres::error::SqlState;

use super::failed;
use crate::store::prune::DEFAULT_STREAM_RETENTION_MS;
use crate::store::StoreError;

const DAY_MS: i64 = 86_400_000;

/// How long before a batch's receive time a day may still get a partition:
/// the stream retention of `deploy/template.yaml`, the oldest a live record
/// can be. A deployment with a longer retention only sends its older days to
/// the default partition, which costs speed, not correctness.
const WINDOW_BEFORE_MS: i64 = DEFAULT_STREAM_RETENTION_MS;

/// How long after a batch's receive time a day may get a partition: one day,
/// so that tomorrow exists before a busy stream needs it.
const WINDOW_AFTER_MS: i64 = DAY_MS;

/// Serialises partition DDL: "lamlogp" in ASCII.
const PARTITION_LOCK: i64 = 0x006c_616d_6c6f_6770;

/// The UTC day (days since 1970-01-01) of an instant.
pub(super) fn day_of(time_ms: i64) -> i64 {
    time_ms.div_euclid(DAY_MS)
}

/// Whether a day gets its own partition: years 1970 to 9999, whose names
/// have eight digits. Stranger times (a hostile or broken timestamp) land in
/// the default partition.
pub(super) fn has_own_partition(day: i64) -> bool {
    (0..days_from_civil(10_000, 1, 1)).contains(&day)
}

/// The days that need a partition for REPORTs at `start_times_ms`, in a
/// batch received at `received_at_ms`: each REPORT's day and the day after,
/// kept only within `[received − retention, received + 1 day]` (see the
/// module comment). A hostile timestamp therefore never causes DDL.
pub(super) fn days_to_create(
    start_times_ms: impl IntoIterator<Item = i64>,
    received_at_ms: i64,
) -> BTreeSet<i64> {
    let first_day = day_of(received_at_ms.saturating_sub(WINDOW_BEFORE_MS));
    let last_day = day_of(received_at_ms.saturating_add(WINDOW_AFTER_MS));
    start_times_ms
        .into_iter()
        .map(day_of)
        .flat_map(|day| [day, day.saturating_add(1)])
        .filter(|day| (first_day..=last_day).contains(day) && has_own_partition(*day))
        .collect()
}

/// `invocations_pYYYYMMDD` for a day.
pub(super) fn partition_name(day: i64) -> String {
    let (year, month, day_of_month) = civil_from_days(day);
    format!("invocations_p{year:04}{month:02}{day_of_month:02}")
}

/// The day of a partition name, if it is one of ours.
fn day_of_name(name: &str) -> Option<i64> {
    let digits = name.strip_prefix("invocations_p")?;
    if digits.len() != 8 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let year: i64 = digits[0..4].parse().ok()?;
    let month: u32 = digits[4..6].parse().ok()?;
    let day_of_month: u32 = digits[6..8].parse().ok()?;
    let day = days_from_civil(year, month, day_of_month);
    (partition_name(day) == name).then_some(day)
}

/// The days that have a partition, oldest first.
pub(super) async fn existing_days(client: &Client) -> Result<Vec<i64>, StoreError> {
    let rows = client
        .query(
            "SELECT child.relname::TEXT
               FROM pg_inherits
               JOIN pg_class child ON child.oid = pg_inherits.inhrelid
              WHERE pg_inherits.inhparent = 'invocations'::regclass",
            &[],
        )
        .await
        .map_err(failed("listing partitions"))?;
    let mut days = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get(0).map_err(failed("listing partitions"))?;
        days.extend(day_of_name(&name));
    }
    days.sort_unstable();
    Ok(days)
}

/// Creates the partitions of `days` that do not exist, in one transaction.
pub(super) async fn create(client: &mut Client, days: &[i64]) -> Result<(), StoreError> {
    let mut transaction = client
        .transaction()
        .await
        .map_err(failed("starting the partition transaction"))?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK])
        .await
        .map_err(failed("waiting for the partition lock"))?;
    for &day in days.iter().filter(|day| has_own_partition(**day)) {
        let name = partition_name(day);
        let (from_ms, to_ms) = bounds(day);
        // The name and the bounds are made here from integers, never from
        // input text, so formatting them into DDL is safe.
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {name} PARTITION OF invocations \
             FOR VALUES FROM ({from_ms}) TO ({to_ms})"
        );
        // A savepoint per day, so that a day the default partition already
        // holds rows of (see the module comment) does not undo the others.
        let savepoint = transaction
            .savepoint(format!("day_{}", day.unsigned_abs()))
            .await
            .map_err(failed("creating a partition"))?;
        match savepoint.batch_execute(&sql).await {
            Ok(()) => savepoint
                .commit()
                .await
                .map_err(failed("creating a partition"))?,
            Err(error) if error.code() == Some(&SqlState::CHECK_VIOLATION) => {
                savepoint
                    .rollback()
                    .await
                    .map_err(failed("creating a partition"))?;
                adopt_from_default(&mut transaction, day).await?;
            }
            Err(error) => return Err(failed("creating a partition")(error)),
        }
    }
    transaction
        .commit()
        .await
        .map_err(failed("committing new partitions"))
}

/// The first instant of `day` and the first of the day after (epoch ms).
fn bounds(day: i64) -> (i64, i64) {
    (
        day.saturating_mul(DAY_MS),
        day.saturating_add(1).saturating_mul(DAY_MS),
    )
}

/// Creates the partition of `day` when the default partition holds rows of
/// it: a plain table first, the day's rows moved into it out of the default
/// partition, then attached (PostgreSQL checks, under its lock, that the
/// default partition holds no more rows of the day). If a batch committed
/// another row of the day to the default partition in between, the attach
/// fails and is undone: the rows stay in the default partition, where reads
/// and prune still find them.
async fn adopt_from_default(transaction: &mut Transaction<'_>, day: i64) -> Result<(), StoreError> {
    let name = partition_name(day);
    let (from_ms, to_ms) = bounds(day);
    let sql = format!(
        "CREATE TABLE {name} (LIKE invocations INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
         WITH moved AS (
             DELETE FROM invocations_default
              WHERE start_time_ms >= {from_ms} AND start_time_ms < {to_ms}
          RETURNING *)
         INSERT INTO {name} SELECT * FROM moved;
         ALTER TABLE invocations ATTACH PARTITION {name} FOR VALUES FROM ({from_ms}) TO ({to_ms})"
    );
    let savepoint = transaction
        .savepoint(format!("adopt_{}", day.unsigned_abs()))
        .await
        .map_err(failed("adopting a partition"))?;
    match savepoint.batch_execute(&sql).await {
        Ok(()) => savepoint
            .commit()
            .await
            .map_err(failed("adopting a partition")),
        Err(error) if error.code() == Some(&SqlState::CHECK_VIOLATION) => savepoint
            .rollback()
            .await
            .map_err(failed("adopting a partition")),
        Err(error) => Err(failed("adopting a partition")(error)),
    }
}

/// Drops the day partitions that end at or before `cutoff_ms`; returns each
/// dropped day and partition name.
pub(super) async fn prune(
    client: &mut Client,
    cutoff_ms: i64,
) -> Result<Vec<(i64, String)>, StoreError> {
    let transaction = client
        .transaction()
        .await
        .map_err(failed("starting the prune transaction"))?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK])
        .await
        .map_err(failed("waiting for the partition lock"))?;
    let rows = transaction
        .query(
            "SELECT child.relname::TEXT
               FROM pg_inherits
               JOIN pg_class child ON child.oid = pg_inherits.inhrelid
              WHERE pg_inherits.inhparent = 'invocations'::regclass",
            &[],
        )
        .await
        .map_err(failed("listing partitions"))?;
    let mut dropped = Vec::new();
    for row in rows {
        let name: String = row.try_get(0).map_err(failed("listing partitions"))?;
        let Some(day) = day_of_name(&name) else {
            continue;
        };
        if day.saturating_add(1).saturating_mul(DAY_MS) <= cutoff_ms {
            dropped.push((day, name));
        }
    }
    dropped.sort_unstable();
    for (_, name) in &dropped {
        // `name` came back through `day_of_name`, so it is one of our own
        // plain identifiers.
        transaction
            .batch_execute(&format!("DROP TABLE IF EXISTS {name}"))
            .await
            .map_err(failed("dropping a partition"))?;
    }
    transaction
        .commit()
        .await
        .map_err(failed("committing the prune"))?;
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_names_round_trip() {
        assert_eq!(partition_name(0), "invocations_p19700101");
        assert_eq!(
            partition_name(day_of(1_750_000_000_000)),
            "invocations_p20250615"
        );
        assert_eq!(
            partition_name(day_of(951_782_400_000)),
            "invocations_p20000229"
        );
        assert_eq!(partition_name(-1), "invocations_p19691231");
        for day in (-700_000..2_900_000).step_by(997) {
            assert_eq!(day_of_name(&partition_name(day)), Some(day), "{day}");
        }
        assert_eq!(day_of_name("invocations_default"), None);
        assert!(has_own_partition(0) && !has_own_partition(-1));
        assert!(!has_own_partition(day_of(i64::MAX)));
        assert_eq!(day_of_name("invocations_p20250230"), None);
    }
}
