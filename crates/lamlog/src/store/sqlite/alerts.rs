//! The `alerts` table: one row per dedup key, whatever the batching.
//!
//! **Invocation alerts.** When a row changes from `old` to `new`, the alerts
//! `invocation_alerts(new)` implies that `invocation_alerts(old)` did not are
//! upserted: a new key is inserted (and notified), a known key gains one
//! occurrence. Over any split or replay each invocation therefore counts once
//! per key its final state implies. The stored example (`request_id`,
//! `message`, `severity`) is the least request id's: it is replaced when a
//! smaller id raises the key, and refreshed when the example invocation's own
//! alert text changes (a timeout line can add "after 3.00 s" to a timeout its
//! REPORT raised earlier). Comparing ids in Rust rather than in SQL keeps the
//! order bytewise whatever the database's collation.
//!
//! **Window alerts** are judged in `windows.rs` and stored here by
//! [`insert_alert`]: inserted if their key is absent, so a window judged again
//! (late lines) never raises its alert twice.

use lamlog_core::assemble::Invocation;
use lamlog_core::judge::{invocation_alerts, Alert};
use lamlog_core::meta::meta_key;
use rusqlite::{OptionalExtension, Transaction};

use super::failed;
use crate::store::{StoreBatch, StoreError};

const SELECT_ALERT_EXAMPLE: &str = "SELECT request_id FROM alerts WHERE dedup_key = ?1";

const INSERT_ALERT: &str = "
    INSERT INTO alerts (
        dedup_key, kind, severity, account, function, request_id, window_start_ms, message,
        occurrences, raised_at_ms, next_attempt_ms)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?10)
    ON CONFLICT (dedup_key) DO NOTHING";

const ADD_OCCURRENCE: &str = "UPDATE alerts SET occurrences = occurrences + 1 WHERE dedup_key = ?1";

const SET_EXAMPLE: &str = "
    UPDATE alerts SET request_id = ?2, message = ?3, severity = ?4 WHERE dedup_key = ?1";

/// Upserts the alerts that a row's change from `old` (absent when the row
/// was inserted) to `new` raises; newly stored keys are pushed to `new_alerts`.
pub(super) fn upsert_invocation_alerts(
    transaction: &Transaction<'_>,
    batch: &StoreBatch<'_>,
    old: Option<&Invocation>,
    new: &Invocation,
    new_alerts: &mut Vec<Alert>,
) -> Result<(), StoreError> {
    let meta = batch.metadata.get(&meta_key(&new.account, &new.function));
    let new_state_alerts = invocation_alerts(new, meta, batch.rules);
    if new_state_alerts.is_empty() {
        return Ok(());
    }
    let old_state_alerts = old
        .map(|old| invocation_alerts(old, meta, batch.rules))
        .unwrap_or_default();
    for alert in new_state_alerts {
        let raised_before = old_state_alerts
            .iter()
            .find(|before| before.dedup_key == alert.dedup_key);
        let stored_example: Option<Option<String>> = transaction
            .prepare_cached(SELECT_ALERT_EXAMPLE)
            .and_then(|mut statement| {
                statement
                    .query_row([&alert.dedup_key], |row| row.get(0))
                    .optional()
            })
            .map_err(failed("reading alerts"))?;
        match (raised_before, stored_example) {
            (_, None) => {
                insert_alert(transaction, batch, &alert)?;
                new_alerts.push(alert);
            }
            (None, Some(example_request_id)) => {
                transaction
                    .prepare_cached(ADD_OCCURRENCE)
                    .and_then(|mut statement| statement.execute([&alert.dedup_key]))
                    .map_err(failed("counting an alert occurrence"))?;
                if alert.request_id < example_request_id {
                    set_example(transaction, &alert)?;
                }
            }
            (Some(before), Some(example_request_id)) => {
                if *before != alert && alert.request_id == example_request_id {
                    set_example(transaction, &alert)?;
                }
            }
        }
    }
    Ok(())
}

/// Inserts `alert` unsent, raised when the batch was received; false when
/// its key is already stored.
pub(super) fn insert_alert(
    transaction: &Transaction<'_>,
    batch: &StoreBatch<'_>,
    alert: &Alert,
) -> Result<bool, StoreError> {
    let inserted = transaction
        .prepare_cached(INSERT_ALERT)
        .and_then(|mut statement| {
            statement.execute(rusqlite::params![
                alert.dedup_key,
                alert.kind.as_str(),
                alert.severity.as_str(),
                alert.account,
                alert.function,
                alert.request_id,
                alert.window_start_ms,
                alert.message,
                batch.received_at_ms,
                batch.alerts_due_at_ms(),
            ])
        })
        .map_err(failed("inserting alerts"))?;
    Ok(inserted > 0)
}

fn set_example(transaction: &Transaction<'_>, alert: &Alert) -> Result<(), StoreError> {
    transaction
        .prepare_cached(SET_EXAMPLE)
        .and_then(|mut statement| {
            statement.execute((
                &alert.dedup_key,
                &alert.request_id,
                &alert.message,
                alert.severity.as_str(),
            ))
        })
        .map_err(failed("updating an alert's example"))?;
    Ok(())
}
