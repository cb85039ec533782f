//! The batch's invocations against the stored ones: cleaned and keyed
//! ([`clean_batch`]), the stored rows of their keys read ([`push_read`]),
//! and joined in Rust with [`rows::join`], the SQLite store's rule
//! ([`merge`]). A row that does not change is a replay; nothing more is done
//! for it.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use lamlog_core::assemble::InvocationKey;
use tokio_postgres::{Row, Statement};

use super::change::{Action, Change};
use super::failed;
use super::pipeline::{param, Slot, Turn};
use super::rows::{self, SqlRow};
use crate::store::{StoreError, StoredInvocation, WriteOutcome};

/// The batch's invocations by key, cleaned of NUL (two keys that differ only
/// by NUL against U+FFFD become one, joined) and checked to fit the columns.
pub(super) fn clean_batch(
    invocations: &[StoredInvocation],
) -> Result<BTreeMap<InvocationKey, Cow<'_, StoredInvocation>>, StoreError> {
    let mut incoming: BTreeMap<InvocationKey, Cow<'_, StoredInvocation>> = BTreeMap::new();
    for row in invocations {
        let cleaned = rows::clean_invocation(row);
        SqlRow::new(&cleaned)?;
        match incoming.entry(rows::key_of(&cleaned)) {
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(cleaned);
            }
            std::collections::btree_map::Entry::Occupied(mut slot) => {
                let (joined, _) = rows::join(slot.get(), &cleaned);
                slot.insert(Cow::Owned(joined));
            }
        }
    }
    Ok(incoming)
}

/// A stored row and whether it is in `pending_invocations`.
pub(super) type Existing = HashMap<InvocationKey, (StoredInvocation, bool)>;

/// Reads the stored rows of the batch's keys (both tables, one statement):
/// one index probe per key and table (a key has no day yet, so every day
/// partition's primary key is probed, the day of its REPORT may have
/// moved). `LATERAL … LIMIT` keeps the probes: as a plain join, the planner
/// hashes 10,000 keys against a sequential scan of every partition, whose
/// cost grows with the table, not with the batch (a 10,000-invocation batch
/// spent 0.25 s to 0.45 s there against a few hundred thousand stored rows).
pub(super) fn read_statement() -> String {
    let columns = rows::column_list("stored.");
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
}

/// Adds to `turn` the read of the stored rows of `incoming`'s keys.
pub(super) fn push_read<'a>(
    turn: &mut Turn<'a>,
    read: &Statement,
    incoming: &'a BTreeMap<InvocationKey, Cow<'_, StoredInvocation>>,
) -> Slot {
    let keys = || incoming.keys();
    turn.query(
        "reading invocations",
        read,
        vec![
            param(keys().map(|key| key.account.as_str()).collect::<Vec<_>>()),
            param(keys().map(|key| key.function.as_str()).collect::<Vec<_>>()),
            param(
                keys()
                    .map(|key| key.request_id.as_str())
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

/// The stored rows, from the answer of [`push_read`].
pub(super) fn existing(found: &[Row]) -> Result<Existing, StoreError> {
    let mut existing = Existing::with_capacity(found.len());
    for row in found {
        let pending: bool = row.try_get(0).map_err(failed("reading invocations"))?;
        let stored = rows::from_row(row, 1)
            .map_err(|message| StoreError::Statement(format!("reading invocations: {message}")))?;
        existing.insert(rows::key_of(&stored), (stored, pending));
    }
    Ok(existing)
}

/// Joins each incoming row into its stored row; returns the rows that change,
/// in key order.
pub(super) fn merge<'a>(
    incoming: &BTreeMap<InvocationKey, Cow<'_, StoredInvocation>>,
    existing: &'a Existing,
    outcome: &mut WriteOutcome,
) -> Vec<Change<'a>> {
    let mut changes = Vec::new();
    for (key, new) in incoming {
        let Some((old, pending)) = existing.get(key) else {
            outcome.inserted += 1;
            changes.push(Change {
                old: None,
                merged: new.as_ref().clone(),
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
            merged,
            action,
        });
    }
    changes
}
