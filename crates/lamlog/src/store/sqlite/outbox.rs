//! The alerts outbox in SQLite: claim what is due, mark what was delivered.
//!
//! A claim is one `UPDATE … RETURNING` that moves the due rows' next attempt
//! on, so a second pass (another `lamlog ingest` on the same file) does not
//! pick them up while the first is sending them.

use rusqlite::Connection;

use super::failed;
use crate::store::{stored_kind_and_severity, StoreError};
use lamlog_core::judge::Alert;

const CLAIM_DUE: &str = "
    UPDATE alerts SET next_attempt_ms = ?2
     WHERE dedup_key IN (
         SELECT dedup_key FROM alerts
          WHERE sent_at_ms IS NULL AND next_attempt_ms <= ?1
          ORDER BY next_attempt_ms, dedup_key
          LIMIT ?3)
    RETURNING dedup_key, kind, severity, account, function, request_id, window_start_ms,
              message, raised_at_ms";

const MARK_SENT: &str =
    "UPDATE alerts SET sent_at_ms = ?2 WHERE dedup_key = ?1 AND sent_at_ms IS NULL";

const COUNT_UNSENT: &str = "SELECT COUNT(*) FROM alerts WHERE sent_at_ms IS NULL";

/// See [`crate::store::AlertOutbox::claim_unsent_alerts`].
pub(super) fn claim_unsent_alerts(
    connection: &Connection,
    now_ms: i64,
    hold_ms: i64,
    limit: usize,
) -> Result<Vec<Alert>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let reading = failed("claiming unsent alerts");
    let mut statement = connection.prepare_cached(CLAIM_DUE).map_err(&reading)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows = statement
        .query((now_ms, now_ms.saturating_add(hold_ms), limit))
        .map_err(&reading)?;
    let mut claimed: Vec<(i64, Alert)> = Vec::new();
    while let Some(row) = rows.next().map_err(&reading)? {
        let kind: String = row.get(1).map_err(&reading)?;
        let severity: String = row.get(2).map_err(&reading)?;
        let (kind, severity) = stored_kind_and_severity(&kind, &severity)?;
        let alert = Alert {
            kind,
            severity,
            dedup_key: row.get(0).map_err(&reading)?,
            account: row.get(3).map_err(&reading)?,
            function: row.get(4).map_err(&reading)?,
            request_id: row.get(5).map_err(&reading)?,
            window_start_ms: row.get(6).map_err(&reading)?,
            message: row.get(7).map_err(&reading)?,
        };
        claimed.push((row.get(8).map_err(&reading)?, alert));
    }
    claimed.sort_by(|left, right| (left.0, &left.1.dedup_key).cmp(&(right.0, &right.1.dedup_key)));
    Ok(claimed.into_iter().map(|(_, alert)| alert).collect())
}

/// See [`crate::store::AlertOutbox::mark_alerts_sent`].
pub(super) fn mark_alerts_sent(
    connection: &mut Connection,
    dedup_keys: &[&str],
    now_ms: i64,
) -> Result<(), StoreError> {
    if dedup_keys.is_empty() {
        return Ok(());
    }
    let transaction = connection
        .transaction()
        .map_err(failed("starting to mark alerts sent"))?;
    {
        let mut statement = transaction
            .prepare_cached(MARK_SENT)
            .map_err(failed("marking alerts sent"))?;
        for dedup_key in dedup_keys {
            statement
                .execute((dedup_key, now_ms))
                .map_err(failed("marking alerts sent"))?;
        }
    }
    transaction
        .commit()
        .map_err(failed("committing the sent marks"))
}

/// See [`crate::store::AlertOutbox::unsent_alert_count`].
pub(super) fn unsent_alert_count(connection: &Connection) -> Result<u64, StoreError> {
    let count: i64 = connection
        .query_row(COUNT_UNSENT, [], |row| row.get(0))
        .map_err(failed("counting unsent alerts"))?;
    Ok(u64::try_from(count).unwrap_or(0))
}
