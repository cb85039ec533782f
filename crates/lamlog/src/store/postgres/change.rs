//! One row a batch inserts or changes, and what its table needs done: the
//! value the merge step (`write.rs`) hands to the alert step (`alerts.rs`),
//! kept apart so that neither imports the other.

use std::borrow::Cow;

use crate::store::StoredInvocation;

/// What a changed row needs done to its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    /// A new key: into `invocations`, or `pending_invocations` without a REPORT.
    Insert = 0,
    /// A row of `invocations` changes in place (or moves day, if its time moved).
    UpdateReported = 1,
    /// A pending row's REPORT came: out of `pending_invocations`, into `invocations`.
    Move = 2,
    /// A pending row changes and still has no REPORT.
    UpdatePending = 3,
}

/// One row this batch inserts or changes.
#[derive(Debug)]
pub(super) struct Change<'a> {
    /// The stored row before the batch, if there was one.
    pub old: Option<&'a StoredInvocation>,
    /// The row after the batch: the incoming row itself for a new key.
    pub merged: Cow<'a, StoredInvocation>,
    /// How it gets there.
    pub action: Action,
}
