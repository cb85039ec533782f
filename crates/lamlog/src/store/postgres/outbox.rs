//! The alerts outbox in PostgreSQL: claim what is due, mark what was
//! delivered.
//!
//! Many Lambda instances drain the same outbox. A claim is one statement:
//! it picks the due unsent rows with `FOR UPDATE SKIP LOCKED` (rows another
//! instance is claiming, or a batch is upserting, are skipped rather than
//! waited for) and moves their next attempt on, so that no other instance
//! picks them up while this one sends them. A claim that is never followed
//! by a sent mark (the instance died) simply expires.

use lamlog_core::judge::Alert;

use super::{failed, release, PostgresStore};
use crate::store::{stored_kind_and_severity, AlertOutbox, StoreError};

pub(super) const CLAIM_DUE: &str = "
    UPDATE alerts a SET next_attempt_ms = $2
      FROM (SELECT dedup_key FROM alerts
             WHERE sent_at_ms IS NULL AND next_attempt_ms <= $1
             ORDER BY next_attempt_ms, dedup_key
             LIMIT $3
             FOR UPDATE SKIP LOCKED) due
     WHERE a.dedup_key = due.dedup_key
    RETURNING a.dedup_key, a.kind, a.severity, a.account, a.function, a.request_id,
              a.window_start_ms, a.message, a.raised_at_ms";

/// Whether [`CLAIM_DUE`] would find a row at `$1`; asked by each batch
/// before its commit (`write.rs`), so that its claim can be skipped.
pub(super) const BACKLOG_DUE: &str = "
    SELECT EXISTS (SELECT 1 FROM alerts WHERE sent_at_ms IS NULL AND next_attempt_ms <= $1)";

pub(super) const MARK_SENT: &str = "
    UPDATE alerts SET sent_at_ms = $2
     WHERE dedup_key = ANY($1::TEXT[]) AND sent_at_ms IS NULL";

const COUNT_UNSENT: &str = "SELECT COUNT(*) FROM alerts WHERE sent_at_ms IS NULL";

async fn claim(
    client: &deadpool_postgres::Client,
    now_ms: i64,
    hold_ms: i64,
    limit: i64,
) -> Result<Vec<Alert>, StoreError> {
    let reading = failed("claiming unsent alerts");
    let statement = client.prepare_cached(CLAIM_DUE).await.map_err(&reading)?;
    let rows = client
        .query(
            &statement,
            &[&now_ms, &now_ms.saturating_add(hold_ms), &limit],
        )
        .await
        .map_err(&reading)?;
    let mut claimed: Vec<(i64, Alert)> = Vec::with_capacity(rows.len());
    for row in &rows {
        let kind: String = row.try_get(1).map_err(&reading)?;
        let severity: String = row.try_get(2).map_err(&reading)?;
        let (kind, severity) = stored_kind_and_severity(&kind, &severity)?;
        let alert = Alert {
            kind,
            severity,
            dedup_key: row.try_get(0).map_err(&reading)?,
            account: row.try_get(3).map_err(&reading)?,
            function: row.try_get(4).map_err(&reading)?,
            request_id: row.try_get(5).map_err(&reading)?,
            window_start_ms: row.try_get(6).map_err(&reading)?,
            message: row.try_get(7).map_err(&reading)?,
        };
        claimed.push((row.try_get(8).map_err(&reading)?, alert));
    }
    claimed.sort_by(|left, right| (left.0, &left.1.dedup_key).cmp(&(right.0, &right.1.dedup_key)));
    Ok(claimed.into_iter().map(|(_, alert)| alert).collect())
}

impl AlertOutbox for PostgresStore {
    async fn claim_unsent_alerts(
        &mut self,
        now_ms: i64,
        hold_ms: i64,
        limit: usize,
    ) -> Result<Vec<Alert>, StoreError> {
        // Nothing was due when the last batch committed: nothing to claim as
        // of then (the batch's own alerts are not due yet).
        let nothing_due = self
            .no_backlog_at
            .take()
            .is_some_and(|checked_ms| now_ms <= checked_ms);
        if limit == 0 || nothing_due {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let claimed = claim(&client, now_ms, hold_ms, limit).await;
        release(client, &claimed);
        claimed
    }

    async fn mark_alerts_sent(
        &mut self,
        dedup_keys: &[&str],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        if dedup_keys.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        let marked = match client.prepare_cached(MARK_SENT).await {
            Ok(statement) => client
                .execute(&statement, &[&dedup_keys, &now_ms])
                .await
                .map(|_| ())
                .map_err(failed("marking alerts sent")),
            Err(error) => Err(failed("preparing the sent marks")(error)),
        };
        release(client, &marked);
        marked
    }

    async fn unsent_alert_count(&mut self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let counted = client
            .query_one(COUNT_UNSENT, &[])
            .await
            .and_then(|row| row.try_get::<_, i64>(0))
            .map(|count| u64::try_from(count).unwrap_or(0))
            .map_err(failed("counting unsent alerts"));
        release(client, &counted);
        counted
    }
}
