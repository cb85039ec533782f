//! Retention of the PostgreSQL store: old invocation rows go, everything
//! else stays.
//!
//! Three kinds of rows are old at a cutoff:
//!
//! - the day partitions that end at or before it, dropped whole
//!   (`partitions.rs`): the bulk of the data, gone at once and without bloat;
//! - rows of the default partition (times that had no day partition: a
//!   backfill of old files, a hostile timestamp, a day pruned while a batch
//!   was under way) that started before it, deleted row by row;
//! - rows of `pending_invocations` (no REPORT yet, so no time of their own)
//!   first seen before it (`first_seen_ms`, migration 0003).
//!
//! Rollups, watermarks, alerts and dead letters are kept, so reports over the
//! pruned days still add up. Whether the cutoff is old enough is the caller's
//! to check ([`crate::store::prune::Redelivery`]); this only removes.
//!
//! The deletes take row locks only. A batch writing one of those rows at the
//! same moment (which a cutoff past the redelivery window makes all but
//! impossible) finds fewer rows than it expects and is retried as
//! [`StoreError::Busy`], as with any writer that bypasses its key locks.

use deadpool_postgres::Client;

use super::{failed, partitions, release, PostgresStore};
use crate::store::prune::PruneOutcome;
use crate::store::StoreError;

/// The default partition's rows have no index on the start time alone; it
/// holds few rows (see `partitions.rs`), so a scan is fine.
const DELETE_DEFAULT: &str = "DELETE FROM invocations_default WHERE start_time_ms < $1";

/// Served by `pending_invocations_first_seen`.
const DELETE_PENDING: &str = "DELETE FROM pending_invocations WHERE first_seen_ms < $1";

/// Environments no batch has seen since the cutoff: their streams are long
/// gone (Lambda recycles an environment within hours).
const DELETE_ENVIRONMENTS: &str = "DELETE FROM environments WHERE seen_ms < $1";

/// Memory trails whose last sample started before the cutoff.
const DELETE_MEMORY_TRAILS: &str = "DELETE FROM stream_memory WHERE last_ms < $1";

impl PostgresStore {
    /// Removes the invocations that started before `cutoff_ms` (epoch ms) and
    /// those still waiting for their REPORT that were first seen before it;
    /// see the module comment.
    pub async fn prune_before(&self, cutoff_ms: i64) -> Result<PruneOutcome, StoreError> {
        let mut client = self.client().await?;
        let pruned = self.prune_with(&mut client, cutoff_ms).await;
        release(client, &pruned);
        pruned
    }

    async fn prune_with(
        &self,
        client: &mut Client,
        cutoff_ms: i64,
    ) -> Result<PruneOutcome, StoreError> {
        let dropped = partitions::prune(client, cutoff_ms).await?;
        // Forgotten at once, whatever follows: a batch must not take a
        // dropped day for one that exists.
        if let Ok(mut known_days) = self.known_days.lock() {
            for (day, _) in &dropped {
                known_days.remove(day);
            }
        }
        let [deleted_invocations, deleted_pending, deleted_environments, deleted_memory_trails] =
            delete_rows(client, cutoff_ms).await?;
        Ok(PruneOutcome {
            dropped_partitions: dropped.into_iter().map(|(_, name)| name).collect(),
            deleted_invocations,
            deleted_pending,
            deleted_environments,
            deleted_memory_trails,
        })
    }
}

/// Deletes the old rows of the default partition and of
/// `pending_invocations`, in one transaction of its own (the partitions'
/// transaction holds the parent table's exclusive lock, which these scans
/// need not), the old environments and the old memory trails. Returns how
/// many of each went.
async fn delete_rows(client: &mut Client, cutoff_ms: i64) -> Result<[u64; 4], StoreError> {
    let transaction = client
        .transaction()
        .await
        .map_err(failed("starting the prune transaction"))?;
    let deleted_invocations = transaction
        .execute(DELETE_DEFAULT, &[&cutoff_ms])
        .await
        .map_err(failed("pruning the default partition"))?;
    let deleted_pending = transaction
        .execute(DELETE_PENDING, &[&cutoff_ms])
        .await
        .map_err(failed("pruning pending invocations"))?;
    let deleted_environments = transaction
        .execute(DELETE_ENVIRONMENTS, &[&cutoff_ms])
        .await
        .map_err(failed("pruning environments"))?;
    let deleted_memory_trails = transaction
        .execute(DELETE_MEMORY_TRAILS, &[&cutoff_ms])
        .await
        .map_err(failed("pruning memory trails"))?;
    transaction
        .commit()
        .await
        .map_err(failed("committing the prune"))?;
    Ok([
        deleted_invocations,
        deleted_pending,
        deleted_environments,
        deleted_memory_trails,
    ])
}
