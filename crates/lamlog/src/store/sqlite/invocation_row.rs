//! One `invocations` row ↔ one [`StoredInvocation`].
//!
//! Every field of [`Invocation`] has a column, so a stored row rebuilds the
//! exact value that was merged into it; merging new evidence into the rebuilt
//! value is then the same lattice join whether the evidence came in one batch
//! or in ten. `status` is the only derived column: it is there for queries.

use lamlog_core::assemble::{Invocation, StatusFlags};
use lamlog_core::meta::Architecture;
use rusqlite::types::Type;
use rusqlite::{CachedStatement, OptionalExtension, Row, Statement, Transaction};

use super::failed;
use crate::store::{StoreError, StoredInvocation};

pub(super) const SELECT_INVOCATION: &str = "
    SELECT log_group, version, start_time_ms, duration_ms, billed_duration_ms, memory_size_mb,
           max_memory_used_mb, init_duration_ms, restore_duration_ms, billed_restore_duration_ms,
           xray_trace_id, timeout_seconds, cold_start, status_flags, error_type,
           enriched, tenant, architecture, region, cost_usd, log_stream
      FROM invocations
     WHERE account = ?1 AND function = ?2 AND request_id = ?3";

/// Inserts a row whose key is not stored yet, and does nothing otherwise:
/// a new invocation (the usual case) costs one statement, not a lookup
/// and then a write. Its parameters are every column, in the order
/// [`execute_with`] binds them.
const INSERT_NEW: &str = "
    INSERT INTO invocations (
        account, function, request_id, log_group, version, start_time_ms, duration_ms,
        billed_duration_ms, memory_size_mb, max_memory_used_mb, init_duration_ms,
        restore_duration_ms, billed_restore_duration_ms, xray_trace_id, timeout_seconds,
        cold_start, status, status_flags, error_type, enriched, tenant, architecture, region,
        cost_usd, first_seen_ms, log_stream)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
            ?20, ?21, ?22, ?23, ?24, ?25, ?26)
    ON CONFLICT (account, function, request_id) DO NOTHING";

/// Replaces every column of the stored row with the key ?1–?3, with the
/// parameters of [`INSERT_NEW`]; the first-seen time keeps the earlier of
/// the stored one and ?25.
const UPDATE_INVOCATION: &str = "
    UPDATE invocations SET
        log_group = ?4,
        version = ?5,
        start_time_ms = ?6,
        duration_ms = ?7,
        billed_duration_ms = ?8,
        memory_size_mb = ?9,
        max_memory_used_mb = ?10,
        init_duration_ms = ?11,
        restore_duration_ms = ?12,
        billed_restore_duration_ms = ?13,
        xray_trace_id = ?14,
        timeout_seconds = ?15,
        cold_start = ?16,
        status = ?17,
        status_flags = ?18,
        error_type = ?19,
        enriched = ?20,
        tenant = ?21,
        architecture = ?22,
        region = ?23,
        cost_usd = ?24,
        first_seen_ms = MIN(COALESCE(first_seen_ms, ?25), ?25),
        log_stream = ?26
     WHERE account = ?1 AND function = ?2 AND request_id = ?3";

/// The stored row with `key`, if there is one.
pub(super) fn select(
    transaction: &Transaction<'_>,
    key: KeyRef<'_>,
) -> Result<Option<StoredInvocation>, StoreError> {
    let mut statement = transaction
        .prepare_cached(SELECT_INVOCATION)
        .map_err(failed("preparing the invocation lookup"))?;
    select_with(&mut statement, key)
}

/// The statements every invocation of a batch runs, taken from the
/// connection's cache once per batch: each take hashes the statement's
/// whole text, which cost nearly as much as the lookup itself (about 6 %
/// of `lamlog ingest`'s instructions, BENCHMARKS.md §2).
pub(super) struct RowStatements<'t> {
    insert_new: CachedStatement<'t>,
    select: CachedStatement<'t>,
    update: CachedStatement<'t>,
}

impl<'t> RowStatements<'t> {
    pub(super) fn prepare(transaction: &'t Transaction<'_>) -> Result<Self, StoreError> {
        Ok(RowStatements {
            insert_new: transaction
                .prepare_cached(INSERT_NEW)
                .map_err(failed("preparing the invocation insert"))?,
            select: transaction
                .prepare_cached(SELECT_INVOCATION)
                .map_err(failed("preparing the invocation lookup"))?,
            update: transaction
                .prepare_cached(UPDATE_INVOCATION)
                .map_err(failed("preparing the invocation update"))?,
        })
    }

    /// Inserts `row` if no row has its key, with `received_at_ms` as its
    /// first-seen time; returns whether it did. A stored row is left as it
    /// is, for the caller to [`select`](Self::select) and join.
    pub(super) fn insert_new(
        &mut self,
        row: &StoredInvocation,
        received_at_ms: i64,
    ) -> Result<bool, StoreError> {
        Ok(execute_with(&mut self.insert_new, row, received_at_ms)? > 0)
    }

    /// [`select`], with the batch's statement.
    pub(super) fn select(
        &mut self,
        key: KeyRef<'_>,
    ) -> Result<Option<StoredInvocation>, StoreError> {
        select_with(&mut self.select, key)
    }

    /// Replaces every column of the stored row with `row`'s key; the
    /// first-seen time keeps the earlier of the stored one and
    /// `received_at_ms`. The row must be stored (the batch's transaction
    /// found it): no row to update is an error.
    pub(super) fn update(
        &mut self,
        row: &StoredInvocation,
        received_at_ms: i64,
    ) -> Result<(), StoreError> {
        match execute_with(&mut self.update, row, received_at_ms)? {
            1 => Ok(()),
            changed => Err(StoreError::Statement(format!(
                "updating invocation {} changed {changed} rows, not 1",
                row.invocation.request_id
            ))),
        }
    }
}

fn select_with(
    statement: &mut Statement<'_>,
    key: KeyRef<'_>,
) -> Result<Option<StoredInvocation>, StoreError> {
    statement
        .query_row(key, |row| from_row(key, row))
        .optional()
        .map_err(failed("reading invocations"))
}

/// An invocation's key, borrowed: (account, function, request id).
pub(super) type KeyRef<'a> = (&'a str, &'a str, &'a str);

/// The borrowed key of `invocation`.
pub(super) fn key_of(invocation: &Invocation) -> KeyRef<'_> {
    (
        &invocation.account,
        &invocation.function,
        &invocation.request_id,
    )
}

fn from_row(key: KeyRef<'_>, row: &Row<'_>) -> rusqlite::Result<StoredInvocation> {
    let architecture_text: String = row.get(17)?;
    let architecture = architecture_text
        .parse::<Architecture>()
        .map_err(|message| {
            rusqlite::Error::FromSqlConversionFailure(17, Type::Text, message.into())
        })?;
    let invocation = Invocation {
        account: key.0.to_owned(),
        function: key.1.to_owned(),
        request_id: key.2.to_owned(),
        log_group: row.get(0)?,
        version: row.get(1)?,
        log_stream: row.get(20)?,
        start_time_ms: row.get(2)?,
        duration_ms: row.get(3)?,
        billed_duration_ms: row.get(4)?,
        memory_size_mb: row.get(5)?,
        max_memory_used_mb: row.get(6)?,
        init_duration_ms: row.get(7)?,
        restore_duration_ms: row.get(8)?,
        billed_restore_duration_ms: row.get(9)?,
        xray_trace_id: row.get(10)?,
        timeout_seconds: row.get(11)?,
        cold_start: row.get(12)?,
        status_flags: StatusFlags(row.get(13)?),
        error_type: row.get(14)?,
    };
    Ok(StoredInvocation {
        invocation,
        enriched: row.get(15)?,
        tenant: row.get(16)?,
        architecture,
        region: row.get(18)?,
        cost_usd: row.get(19)?,
    })
}

/// Runs [`INSERT_NEW`] or [`UPDATE_INVOCATION`] with `row`'s columns;
/// returns the number of rows it changed.
fn execute_with(
    statement: &mut Statement<'_>,
    row: &StoredInvocation,
    received_at_ms: i64,
) -> Result<usize, StoreError> {
    let invocation = &row.invocation;
    statement
        .execute(rusqlite::params![
            invocation.account,
            invocation.function,
            invocation.request_id,
            invocation.log_group,
            invocation.version,
            invocation.start_time_ms,
            invocation.duration_ms,
            invocation.billed_duration_ms,
            invocation.memory_size_mb,
            invocation.max_memory_used_mb,
            invocation.init_duration_ms,
            invocation.restore_duration_ms,
            invocation.billed_restore_duration_ms,
            invocation.xray_trace_id,
            invocation.timeout_seconds,
            invocation.cold_start,
            invocation.status().as_str(),
            invocation.status_flags.0,
            invocation.error_type,
            row.enriched,
            row.tenant,
            row.architecture.as_str(),
            row.region,
            row.cost_usd,
            received_at_ms,
            invocation.log_stream,
        ])
        .map_err(failed("writing invocations"))
}

/// The join of a stored row and new evidence for the same key.
///
/// The invocation itself merges as a lattice join. Enrichment is a join too:
/// `enriched` only turns on, and metadata comes from whichever side was
/// enriched (the new side when both were, since metadata is refreshed). The
/// cost is set once, from the REPORT, so a stored cost is kept.
pub(super) fn join(
    existing: &StoredInvocation,
    new: &StoredInvocation,
) -> (StoredInvocation, bool) {
    let mut invocation = existing.invocation.clone();
    let invocation_changed = invocation.merge(&new.invocation);
    let take_new = new.enriched;
    let merged = StoredInvocation {
        invocation,
        enriched: existing.enriched || new.enriched,
        tenant: if take_new {
            new.tenant.clone()
        } else {
            existing.tenant.clone()
        },
        architecture: if take_new {
            new.architecture
        } else {
            existing.architecture
        },
        region: if take_new {
            new.region.clone()
        } else {
            existing.region.clone()
        },
        cost_usd: existing.cost_usd.or(new.cost_usd),
    };
    let changed = invocation_changed || merged != *existing;
    (merged, changed)
}
