//! The `alerts` table: one row per dedup key, whatever the batching.
//!
//! The rules are the SQLite store's (its `alerts.rs` explains them): for each
//! changed row, the alerts `invocation_alerts(new)` implies that
//! `invocation_alerts(old)` did not are counted once per key; a new key is
//! inserted and notified; the example (`request_id`, `message`, `severity`) is
//! the least request id's, refreshed when that invocation's own alert text
//! changes. Closed windows' error-rate alerts are inserted if absent.
//!
//! Here the batch's candidates are folded in Rust, in key order, over the
//! stored rows of the keys concerned (read in one statement), exactly as
//! SQLite folds them row by row; then every key that changed is written by
//! one upsert, whose `RETURNING (xmax = 0)` says which keys it inserted: those
//! are the batch's new alerts. Window alerts are not read first: one insert
//! that does nothing on a stored key, sent with the upsert, returns the keys
//! that were new. The read and the upsert cannot interleave with
//! another batch: every alert key belongs to one function, and the batch
//! holds that function's advisory lock (`locks.rs`) until it commits. Text
//! needs no cleaning here: alerts are built from invocations that were
//! cleaned of NUL when the batch came in.

use std::collections::{BTreeMap, HashSet};

use lamlog_core::judge::{invocation_alerts, Alert};
use lamlog_core::meta::meta_key;

use super::change::Change;
use super::failed;
use super::pipeline::Tx;
use crate::store::{StoreBatch, StoreError};

const SELECT_ALERTS: &str = "
    SELECT dedup_key, request_id, message, severity, occurrences
      FROM alerts
     WHERE dedup_key = ANY($1::TEXT[])";

/// The rows of [`write_rows`]'s arrays, as `alerts` rows: the head of both
/// statements that write them, which differ only in what a stored key does.
macro_rules! insert_alert_rows {
    () => {
        "
    INSERT INTO alerts (
        dedup_key, kind, severity, account, function, request_id, window_start_ms, message,
        occurrences, raised_at_ms, next_attempt_ms)
    SELECT *, $10::BIGINT, $11::BIGINT
      FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[],
                  $6::TEXT[], $7::BIGINT[], $8::TEXT[], $9::BIGINT[])"
    };
}

/// Invocation alerts: a stored key takes the folded example and count.
const UPSERT_ALERTS: &str = concat!(
    insert_alert_rows!(),
    "
    ON CONFLICT (dedup_key) DO UPDATE SET
        severity = excluded.severity,
        request_id = excluded.request_id,
        message = excluded.message,
        occurrences = excluded.occurrences
    RETURNING dedup_key, (xmax = 0) AS inserted"
);

/// Window alerts are only ever inserted: a key once stored keeps its row.
const INSERT_WINDOW_ALERTS: &str = concat!(
    insert_alert_rows!(),
    "
    ON CONFLICT (dedup_key) DO NOTHING
    RETURNING dedup_key, true AS inserted"
);

/// The statements the batch pipelines (see `pipeline.rs`).
pub(super) const STATEMENTS: [&str; 3] = [SELECT_ALERTS, UPSERT_ALERTS, INSERT_WINDOW_ALERTS];

/// The state of one alert row while the batch is folded.
#[derive(Debug, Clone)]
pub(super) struct AlertRow {
    /// The alert as first raised (kind, account, function, window).
    alert: Alert,
    /// The stored or new example's request id, message and severity.
    request_id: Option<String>,
    message: String,
    severity: String,
    occurrences: i64,
    /// Whether the batch changed it.
    dirty: bool,
}

/// An alert a changed row raises, and the old state's version of it, if the
/// old state raised it too.
pub(super) type Raised = Vec<(Alert, Option<Alert>)>;

/// The invocation alerts of `changes`.
pub(super) fn raised(batch: &StoreBatch<'_>, changes: &[Change<'_>]) -> Raised {
    let mut raised: Raised = Vec::new();
    for change in changes {
        let new = &change.merged.invocation;
        let meta = batch.metadata.get(&meta_key(&new.account, &new.function));
        let new_state_alerts = invocation_alerts(new, meta, batch.rules);
        if new_state_alerts.is_empty() {
            continue;
        }
        let old_state_alerts = change
            .old
            .map(|old| invocation_alerts(&old.invocation, meta, batch.rules))
            .unwrap_or_default();
        for alert in new_state_alerts {
            let before = old_state_alerts
                .iter()
                .find(|before| before.dedup_key == alert.dedup_key)
                .cloned();
            raised.push((alert, before));
        }
    }
    raised
}

/// Folds `raised` over `stored` (what [`read_stored`] found of their keys),
/// upserts the rows that changed and inserts `window_alerts` whose key is
/// absent, together; returns the alerts whose key is new, in the order they
/// were raised. New rows are raised at the batch's received time and due
/// its outbox delay later.
pub(super) async fn write(
    transaction: &Tx,
    batch: &StoreBatch<'_>,
    raised: Raised,
    mut rows: BTreeMap<String, AlertRow>,
    window_alerts: Vec<Alert>,
) -> Result<Vec<Alert>, StoreError> {
    let mut new_keys: Vec<String> = Vec::new();
    for (alert, before) in raised {
        match (before, rows.get_mut(&alert.dedup_key)) {
            (_, None) => {
                new_keys.push(alert.dedup_key.clone());
                rows.insert(alert.dedup_key.clone(), new_row(alert));
            }
            (None, Some(row)) => {
                row.occurrences += 1;
                row.dirty = true;
                if alert.request_id < row.request_id {
                    set_example(row, &alert);
                }
            }
            (Some(before), Some(row)) => {
                if before != alert && alert.request_id == row.request_id {
                    set_example(row, &alert);
                }
            }
        }
    }
    // A window alert is stored once: inserted if its key is absent, never
    // updated. Its key was not read; the insert itself says whether it was new.
    let mut windows: BTreeMap<String, AlertRow> = BTreeMap::new();
    for alert in window_alerts {
        if !rows.contains_key(&alert.dedup_key) && !windows.contains_key(&alert.dedup_key) {
            new_keys.push(alert.dedup_key.clone());
            windows.insert(alert.dedup_key.clone(), new_row(alert));
        }
    }
    let (upserted, inserted) = futures_util::future::join(
        write_rows(transaction, UPSERT_ALERTS, &rows, batch),
        write_rows(transaction, INSERT_WINDOW_ALERTS, &windows, batch),
    )
    .await;
    let (upserted, inserted) = (upserted?, inserted?);
    Ok(new_keys
        .into_iter()
        .filter(|key| upserted.contains(key) || inserted.contains(key))
        .filter_map(|key| rows.remove(&key).or_else(|| windows.remove(&key)))
        .map(|row| row.alert)
        .collect())
}

fn new_row(alert: Alert) -> AlertRow {
    AlertRow {
        request_id: alert.request_id.clone(),
        message: alert.message.clone(),
        severity: alert.severity.as_str().to_owned(),
        occurrences: 1,
        dirty: true,
        alert,
    }
}

fn set_example(row: &mut AlertRow, alert: &Alert) {
    row.request_id.clone_from(&alert.request_id);
    row.message.clone_from(&alert.message);
    row.severity = alert.severity.as_str().to_owned();
    row.alert.request_id.clone_from(&alert.request_id);
    row.alert.message.clone_from(&alert.message);
    row.alert.severity = alert.severity;
    row.dirty = true;
}

/// The stored rows of every key `raised` has, by key.
pub(super) async fn read_stored(
    transaction: &Tx,
    raised: &Raised,
) -> Result<BTreeMap<String, AlertRow>, StoreError> {
    if raised.is_empty() {
        return Ok(BTreeMap::new());
    }
    let alerts_by_key: BTreeMap<&str, &Alert> = raised
        .iter()
        .map(|(alert, _)| (alert.dedup_key.as_str(), alert))
        .collect();
    let keys: Vec<&str> = alerts_by_key.keys().copied().collect();
    let statement = transaction
        .prepare_cached(SELECT_ALERTS)
        .await
        .map_err(failed("preparing the alert lookup"))?;
    let found = transaction
        .query(&statement, &[&keys])
        .await
        .map_err(failed("reading alerts"))?;
    let mut rows = BTreeMap::new();
    for row in &found {
        let reading = failed("reading alerts");
        let dedup_key: String = row.try_get(0).map_err(&reading)?;
        let Some(alert) = alerts_by_key.get(dedup_key.as_str()) else {
            continue;
        };
        rows.insert(
            dedup_key,
            AlertRow {
                alert: (*alert).clone(),
                request_id: row.try_get(1).map_err(&reading)?,
                message: row.try_get(2).map_err(&reading)?,
                severity: row.try_get(3).map_err(&reading)?,
                occurrences: row.try_get(4).map_err(&reading)?,
                dirty: false,
            },
        );
    }
    Ok(rows)
}

/// Writes the dirty rows with `statement` ([`UPSERT_ALERTS`] or
/// [`INSERT_WINDOW_ALERTS`]); returns the keys it inserted. A new row is
/// stored unsent, raised when `batch` was received and due its outbox delay
/// later (existing rows keep their outbox columns).
async fn write_rows(
    transaction: &Tx,
    statement: &str,
    rows: &BTreeMap<String, AlertRow>,
    batch: &StoreBatch<'_>,
) -> Result<HashSet<String>, StoreError> {
    let dirty: Vec<&AlertRow> = rows.values().filter(|row| row.dirty).collect();
    if dirty.is_empty() {
        return Ok(HashSet::new());
    }
    let keys: Vec<&str> = dirty
        .iter()
        .map(|row| row.alert.dedup_key.as_str())
        .collect();
    let kinds: Vec<&str> = dirty.iter().map(|row| row.alert.kind.as_str()).collect();
    let severities: Vec<&str> = dirty.iter().map(|row| row.severity.as_str()).collect();
    let accounts: Vec<&str> = dirty.iter().map(|row| row.alert.account.as_str()).collect();
    let functions: Vec<&str> = dirty
        .iter()
        .map(|row| row.alert.function.as_str())
        .collect();
    let request_ids: Vec<Option<&str>> =
        dirty.iter().map(|row| row.request_id.as_deref()).collect();
    let windows: Vec<i64> = dirty.iter().map(|row| row.alert.window_start_ms).collect();
    let messages: Vec<&str> = dirty.iter().map(|row| row.message.as_str()).collect();
    let occurrences: Vec<i64> = dirty.iter().map(|row| row.occurrences).collect();
    let statement = transaction
        .prepare_cached(statement)
        .await
        .map_err(failed("preparing the alert upsert"))?;
    let returned = transaction
        .query(
            &statement,
            &[
                &keys,
                &kinds,
                &severities,
                &accounts,
                &functions,
                &request_ids,
                &windows,
                &messages,
                &occurrences,
                &batch.received_at_ms,
                &batch.alerts_due_at_ms(),
            ],
        )
        .await
        .map_err(failed("writing alerts"))?;
    let mut inserted = HashSet::new();
    for row in &returned {
        let reading = failed("reading the alert upsert");
        let dedup_key: String = row.try_get(0).map_err(&reading)?;
        if row.try_get::<_, bool>(1).map_err(&reading)? {
            inserted.insert(dedup_key);
        }
    }
    Ok(inserted)
}
