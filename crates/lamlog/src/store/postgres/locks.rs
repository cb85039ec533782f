//! Advisory locks: how concurrent writers of one database take turns.
//!
//! Two kinds of transaction-scoped `pg_advisory_xact_lock`, each taken for a
//! whole batch in one sorted statement:
//!
//! - **Key slots** (`write.rs`): each (account, function, request id) hashes
//!   into one of [`KEY_LOCK_SLOTS`] slots. They make "read, merge, write" of
//!   an invocation row safe, and keep a key unique across the day partitions
//!   and `pending_invocations`, which no index can.
//! - **Functions** ([`lock_functions`]): one per (account, function) whose
//!   reported rows the batch changes. They make the batch the only writer of
//!   that function's rollups, watermark and alerts until it commits, so that
//!   a minute's max recomputed from the stored rows (`rollup.rs`), the
//!   watermark read and moved (`windows.rs`) and the alerts read and upserted
//!   (`alerts.rs`) cannot interleave with another batch's.
//!
//! Every batch takes its key slots first, then its functions, each set in
//! sorted order: no two batches can each hold a lock the other waits for.

use std::collections::BTreeSet;

use lamlog_core::assemble::InvocationKey;

use super::failed;
use super::pipeline::Tx;
use crate::store::StoreError;

/// Takes transaction-scoped advisory locks on sorted 64-bit keys.
pub(super) const LOCK_KEYS: &str =
    "SELECT pg_advisory_xact_lock(h) FROM unnest($1::BIGINT[]) AS h ORDER BY h";

/// A 64-bit advisory lock key: FNV-1a of a namespace byte and the parts, each
/// followed by 0xff (a byte UTF-8 never contains, so parts cannot run together).
pub(super) fn lock_key(namespace: u8, parts: &[&str]) -> i64 {
    let mut bytes = Vec::with_capacity(1 + parts.iter().map(|part| part.len() + 1).sum::<usize>());
    bytes.push(namespace);
    for part in parts {
        bytes.extend_from_slice(part.as_bytes());
        bytes.push(0xff);
    }
    i64::from_ne_bytes(crate::store::fnv1a_64(&bytes).to_ne_bytes())
}

/// How many advisory locks the keys of a batch are spread over. PostgreSQL
/// keeps every lock a transaction holds in a shared table sized by
/// `max_locks_per_transaction` (64 × connections by default): one lock per
/// key fails with "out of shared memory" on a batch of ten thousand keys.
/// Hashing keys into slots bounds a batch's locks; two keys that share a slot
/// only make two writers that both touch them take turns, which costs
/// nothing in correctness.
pub(super) const KEY_LOCK_SLOTS: u64 = 512;

/// The advisory lock guarding a key: one of [`KEY_LOCK_SLOTS`] slots.
pub(super) fn key_slot_lock(account: &str, function: &str, request_id: &str) -> i64 {
    let hash = crate::store::fnv1a_64(
        lock_key(b'k', &[account, function, request_id])
            .to_ne_bytes()
            .as_slice(),
    );
    lock_key(b's', &[&(hash % KEY_LOCK_SLOTS).to_string()])
}

/// Locks the slot of each (account, function, request id) of `keys`, in
/// sorted order, until the transaction ends.
pub(super) async fn lock_keys<'a>(
    transaction: &Tx,
    keys: impl IntoIterator<Item = &'a InvocationKey>,
) -> Result<(), StoreError> {
    let slots: BTreeSet<i64> = keys
        .into_iter()
        .map(|key| key_slot_lock(&key.account, &key.function, &key.request_id))
        .collect();
    lock_sorted(transaction, slots, "locking the batch's keys").await
}

/// Locks each (account, function) of `functions`, in sorted order, until the
/// transaction ends.
pub(super) async fn lock_functions<'a>(
    transaction: &Tx,
    functions: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), StoreError> {
    let function_locks: BTreeSet<i64> = functions
        .into_iter()
        .map(|(account, function)| lock_key(b'f', &[account, function]))
        .collect();
    lock_sorted(transaction, function_locks, "locking the batch's functions").await
}

/// Takes `locks` in one statement ([`LOCK_KEYS`]).
async fn lock_sorted(
    transaction: &Tx,
    locks: BTreeSet<i64>,
    context: &'static str,
) -> Result<(), StoreError> {
    if locks.is_empty() {
        return Ok(());
    }
    let locks: Vec<i64> = locks.into_iter().collect();
    let statement = transaction
        .prepare_cached(LOCK_KEYS)
        .await
        .map_err(failed("preparing the locks"))?;
    transaction
        .execute(&statement, &[&locks])
        .await
        .map_err(failed(context))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_separate_parts_and_namespaces() {
        assert_ne!(lock_key(b'k', &["ab", "c"]), lock_key(b'k', &["a", "bc"]));
        assert_ne!(lock_key(b'k', &["a", "b"]), lock_key(b'f', &["a", "b"]));
        assert_eq!(lock_key(b'k', &["a", "b"]), lock_key(b'k', &["a", "b"]));
    }

    #[test]
    fn a_big_batch_takes_a_bounded_number_of_locks() {
        let mut slots: Vec<i64> = (0..20_000)
            .map(|index| key_slot_lock("123456789012", "orders", &format!("request-{index}")))
            .collect();
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(
            slots.len() as u64,
            KEY_LOCK_SLOTS,
            "20,000 keys fill every slot and no more"
        );
        assert_eq!(key_slot_lock("1", "f", "r"), key_slot_lock("1", "f", "r"));
    }
}
