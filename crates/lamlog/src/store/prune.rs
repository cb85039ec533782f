//! Pruning: what a prune of old invocation rows removed.
//!
//! Reported invocations are aged by their start time. Rows with no REPORT yet
//! (pending rows) have no time of their own; they are aged by when the store
//! first saw them (`first_seen_ms`, the earliest receive time of the batches
//! that touched them), so that one left behind by a START whose REPORT never
//! came does not stay forever.

/// What a prune removed.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct PruneOutcome {
    /// Day partitions dropped whole (PostgreSQL), oldest first.
    pub dropped_partitions: Vec<String>,
    /// Reported invocations deleted row by row (SQLite).
    pub deleted_invocations: u64,
    /// Invocations still waiting for their REPORT, deleted by the time they
    /// were first seen.
    pub deleted_pending: u64,
}
