//! Retention of the SQLite store: old invocation rows go, everything else
//! stays.
//!
//! Reported invocations are aged by their start time, invocations still
//! waiting for their REPORT (`start_time_ms IS NULL`) by when the store first
//! saw them (`first_seen_ms`, migration 0002), environments by when a
//! batch last saw them, and log streams' memory trails by their last sample. Rollups, watermarks, alerts and dead letters are
//! kept, so reports over the pruned days still add up.
//! Whether the cutoff is old enough is the caller's to check
//! ([`crate::store::prune::Redelivery`]); this only deletes.

use rusqlite::TransactionBehavior;

use super::{failed, SqliteStore};
use crate::store::prune::PruneOutcome;
use crate::store::StoreError;

const DELETE_REPORTED: &str = "DELETE FROM invocations WHERE start_time_ms < ?1";

/// Served by the partial index `invocations_pending_first_seen`.
const DELETE_PENDING: &str =
    "DELETE FROM invocations WHERE start_time_ms IS NULL AND first_seen_ms < ?1";

/// Environments no batch has seen since the cutoff.
const DELETE_ENVIRONMENTS: &str = "DELETE FROM environments WHERE seen_ms < ?1";

/// Memory trails whose last sample started before the cutoff.
const DELETE_MEMORY_TRAILS: &str = "DELETE FROM stream_memory WHERE last_ms < ?1";

impl SqliteStore {
    /// Deletes, in one transaction, the invocations that started before
    /// `cutoff_ms` (epoch ms) and those still waiting for their REPORT that
    /// were first seen before it.
    pub fn prune_before(&mut self, cutoff_ms: i64) -> Result<PruneOutcome, StoreError> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed("starting the prune transaction"))?;
        let deleted_invocations = transaction
            .execute(DELETE_REPORTED, [cutoff_ms])
            .map_err(failed("pruning invocations"))?;
        let deleted_pending = transaction
            .execute(DELETE_PENDING, [cutoff_ms])
            .map_err(failed("pruning pending invocations"))?;
        let deleted_environments = transaction
            .execute(DELETE_ENVIRONMENTS, [cutoff_ms])
            .map_err(failed("pruning environments"))?;
        let deleted_memory_trails = transaction
            .execute(DELETE_MEMORY_TRAILS, [cutoff_ms])
            .map_err(failed("pruning memory trails"))?;
        transaction
            .commit()
            .map_err(failed("committing the prune"))?;
        Ok(PruneOutcome {
            dropped_partitions: Vec::new(),
            deleted_invocations: deleted_invocations as u64,
            deleted_pending: deleted_pending as u64,
            deleted_environments: deleted_environments as u64,
            deleted_memory_trails: deleted_memory_trails as u64,
        })
    }
}
