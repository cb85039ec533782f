//! The batch's transaction, begun and ended by SQL text, and its statements
//! prepared before they are pipelined.
//!
//! tokio-postgres sends a request as soon as its future is first polled and
//! keeps the order in which requests were sent; the server answers them in
//! that order. Statements whose futures are polled together (`join`) are
//! therefore sent together and cost one round trip, and their order on the
//! server is the order of the `join`: a lock taken by the first is held when
//! the second runs.
//!
//! Two things would break that order:
//!
//! - **A statement not yet prepared.** `prepare_cached` then waits for the
//!   server before the statement is sent, and a later future of the `join`
//!   would go first. So every statement of the batch is prepared up front
//!   ([`prepare_all`], one round trip on a new connection, none after), and
//!   a future of a `join` only ever finds its statement in the cache.
//! - **`BEGIN` as its own wait.** A `Transaction` guard sends `BEGIN` and
//!   waits for it. Here `BEGIN` is the first statement of the first
//!   pipeline instead, and the transaction ends with `COMMIT` sent behind the
//!   batch's last statements, or with [`end_failed`].
//!
//! When a statement of a pipeline fails, every statement after it in the
//! same transaction fails too, saying only that the transaction is aborted.
//! The results of a pipeline are therefore checked in the order the server
//! ran them, so that the error returned is the cause: a value the database
//! refuses must come back as [`StoreError::Rejected`], which isolates the
//! refused data, not as the aborted transaction that followed it, which
//! would fail the whole batch on every retry.

use deadpool_postgres::ClientWrapper;

use super::failed;
use crate::store::StoreError;

/// The connection a batch's transaction runs on.
pub(super) type Tx = ClientWrapper;

/// Puts `texts` in the connection's statement cache (those not there yet,
/// all in one round trip), so that the `prepare_cached` of each finds them
/// without waiting.
pub(super) async fn prepare_all(client: &Tx, texts: &[&str]) -> Result<(), StoreError> {
    let prepared =
        futures_util::future::join_all(texts.iter().map(|text| client.prepare_cached(text))).await;
    for statement in prepared {
        statement.map_err(failed("preparing the batch's statements"))?;
    }
    Ok(())
}

/// Ends a transaction that failed: `ROLLBACK`, or, when even that fails,
/// `false` (the connection must not be reused: it may still be inside the
/// transaction, and a later `BEGIN` would join it).
pub(super) async fn end_failed(client: &Tx) -> bool {
    !client.is_closed() && client.batch_execute("ROLLBACK").await.is_ok()
}
