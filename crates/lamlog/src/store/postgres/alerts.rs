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
//! stored rows of the keys concerned (read in one statement, in the batch's
//! second round trip), exactly as SQLite folds them row by row; then every
//! key that changed is written by one upsert, whose `RETURNING (xmax = 0)`
//! says which keys it inserted: those are the batch's new alerts. A window
//! alert only needs its row to exist, so it is inserted if absent
//! (`ON CONFLICT DO NOTHING RETURNING`, which names the keys it inserted)
//! without being read first; both statements go in the last round trip,
//! with the commit. The read and the upsert cannot interleave with
//! another batch: every alert key belongs to one function, and the batch
//! holds that function's advisory lock (`locks.rs`) until it commits. Text
//! needs no cleaning here: alerts are built from invocations that were
//! cleaned of NUL when the batch came in.

use std::collections::{BTreeMap, HashSet};

use lamlog_core::judge::{invocation_alerts, Alert};
use lamlog_core::meta::meta_key;
use tokio_postgres::{Row, Statement};

use super::change::Change;
use super::failed;
use super::pipeline::{self, param, Replies, Slot, Turn};
use crate::store::{StoreBatch, StoreError, UNSENT_ALERT_DELAY_MS};

const SELECT_ALERTS: &str = "
    SELECT dedup_key, request_id, message, severity, occurrences
      FROM alerts
     WHERE dedup_key = ANY($1::TEXT[])";

const UPSERT_ALERTS: &str = "
    INSERT INTO alerts (
        dedup_key, kind, severity, account, function, request_id, window_start_ms, message,
        occurrences, raised_at_ms, next_attempt_ms)
    SELECT *, $10::BIGINT, $11::BIGINT
      FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[],
                  $6::TEXT[], $7::BIGINT[], $8::TEXT[], $9::BIGINT[])
    ON CONFLICT (dedup_key) DO UPDATE SET
        severity = excluded.severity,
        request_id = excluded.request_id,
        message = excluded.message,
        occurrences = excluded.occurrences
    RETURNING dedup_key, (xmax = 0) AS inserted";

const INSERT_WINDOW_ALERTS: &str = "
    INSERT INTO alerts (
        dedup_key, kind, severity, account, function, request_id, window_start_ms, message,
        occurrences, raised_at_ms, next_attempt_ms)
    SELECT *, 1, $9::BIGINT, $10::BIGINT
      FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[],
                  $6::TEXT[], $7::BIGINT[], $8::TEXT[])
    ON CONFLICT (dedup_key) DO NOTHING
    RETURNING dedup_key";

/// The state of one alert row while the batch is folded.
#[derive(Debug, Clone)]
struct AlertRow {
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

/// The alert statements, prepared.
#[derive(Debug)]
pub(super) struct Prepared {
    select: Statement,
    upsert: Statement,
    insert_windows: Statement,
}

impl Prepared {
    /// Prepares them, in one round trip (none once cached).
    pub async fn prepare(client: &deadpool_postgres::Client) -> Result<Prepared, StoreError> {
        let prepared = pipeline::prepare(
            client,
            &[SELECT_ALERTS, UPSERT_ALERTS, INSERT_WINDOW_ALERTS],
        )
        .await?;
        let [select, upsert, insert_windows] = <[Statement; 3]>::try_from(prepared)
            .map_err(|_| StoreError::Statement("preparing the alert statements".to_owned()))?;
        Ok(Prepared {
            select,
            upsert,
            insert_windows,
        })
    }
}

/// The invocation alerts the batch's changes raise, each with the old
/// state's version of it, if the old state raised it.
#[derive(Debug, Default)]
pub(super) struct Raised(Vec<(Alert, Option<Alert>)>);

/// The invocation alerts of `changes`.
pub(super) fn raised(batch: &StoreBatch<'_>, changes: &[Change<'_>]) -> Raised {
    let mut raised: Vec<(Alert, Option<Alert>)> = Vec::new();
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
    Raised(raised)
}

impl Raised {
    /// Adds to `turn` the read of the stored rows of every key raised.
    pub fn push_read<'a>(&'a self, turn: &mut Turn<'a>, prepared: &Prepared) -> Option<Slot> {
        if self.0.is_empty() {
            return None;
        }
        let mut keys: Vec<&str> = self
            .0
            .iter()
            .map(|(alert, _)| alert.dedup_key.as_str())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        Some(turn.query("reading alerts", &prepared.select, vec![param(keys)]))
    }

    /// Folds the raised alerts over the `stored` rows (the answer of
    /// [`Raised::push_read`]), then the `window_alerts`.
    pub fn fold(self, stored: &[Row], window_alerts: Vec<Alert>) -> Result<Folded, StoreError> {
        let mut rows = read_stored(stored, &self.0)?;
        let mut new_keys: Vec<String> = Vec::new();
        for (alert, before) in self.0 {
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
        let mut windows: BTreeMap<String, Alert> = BTreeMap::new();
        for alert in window_alerts {
            if !rows.contains_key(&alert.dedup_key) && !windows.contains_key(&alert.dedup_key) {
                new_keys.push(alert.dedup_key.clone());
                windows.insert(alert.dedup_key.clone(), alert);
            }
        }
        Ok(Folded {
            rows,
            windows,
            new_keys,
        })
    }
}

/// The batch's alert rows, folded, to be written.
#[derive(Debug)]
pub(super) struct Folded {
    /// Invocation alert rows, by key.
    rows: BTreeMap<String, AlertRow>,
    /// Window alerts whose key no invocation alert has, by key.
    windows: BTreeMap<String, Alert>,
    /// The keys not stored before the batch, in the order raised.
    new_keys: Vec<String>,
}

/// The slots of the upsert and of the window insert in their turn.
#[derive(Debug, Clone, Copy)]
pub(super) struct Written(Option<Slot>, Option<Slot>);

impl Folded {
    /// Adds to `turn` the upsert of the changed rows and the insert of the
    /// window alerts; a new row is stored unsent, raised at
    /// `received_at_ms` (existing rows keep their outbox columns).
    pub fn push<'a>(
        &'a self,
        turn: &mut Turn<'a>,
        prepared: &Prepared,
        received_at_ms: i64,
    ) -> Written {
        let next_attempt_ms = received_at_ms.saturating_add(UNSENT_ALERT_DELAY_MS);
        let dirty: Vec<&AlertRow> = self.rows.values().filter(|row| row.dirty).collect();
        let upsert = (!dirty.is_empty()).then(|| {
            let rows = || dirty.iter();
            turn.query(
                "writing alerts",
                &prepared.upsert,
                vec![
                    param(
                        rows()
                            .map(|row| row.alert.dedup_key.as_str())
                            .collect::<Vec<_>>(),
                    ),
                    param(
                        rows()
                            .map(|row| row.alert.kind.as_str())
                            .collect::<Vec<_>>(),
                    ),
                    param(rows().map(|row| row.severity.as_str()).collect::<Vec<_>>()),
                    param(
                        rows()
                            .map(|row| row.alert.account.as_str())
                            .collect::<Vec<_>>(),
                    ),
                    param(
                        rows()
                            .map(|row| row.alert.function.as_str())
                            .collect::<Vec<_>>(),
                    ),
                    param(
                        rows()
                            .map(|row| row.request_id.as_deref())
                            .collect::<Vec<_>>(),
                    ),
                    param(
                        rows()
                            .map(|row| row.alert.window_start_ms)
                            .collect::<Vec<i64>>(),
                    ),
                    param(rows().map(|row| row.message.as_str()).collect::<Vec<_>>()),
                    param(rows().map(|row| row.occurrences).collect::<Vec<i64>>()),
                    param(received_at_ms),
                    param(next_attempt_ms),
                ],
            )
        });
        let windows = (!self.windows.is_empty()).then(|| {
            let alerts = || self.windows.values();
            turn.query(
                "writing window alerts",
                &prepared.insert_windows,
                vec![
                    param(
                        alerts()
                            .map(|alert| alert.dedup_key.as_str())
                            .collect::<Vec<_>>(),
                    ),
                    param(
                        alerts()
                            .map(|alert| alert.kind.as_str())
                            .collect::<Vec<_>>(),
                    ),
                    param(
                        alerts()
                            .map(|alert| alert.severity.as_str())
                            .collect::<Vec<&str>>(),
                    ),
                    param(
                        alerts()
                            .map(|alert| alert.account.as_str())
                            .collect::<Vec<_>>(),
                    ),
                    param(
                        alerts()
                            .map(|alert| alert.function.as_str())
                            .collect::<Vec<_>>(),
                    ),
                    param(
                        alerts()
                            .map(|alert| alert.request_id.as_deref())
                            .collect::<Vec<_>>(),
                    ),
                    param(
                        alerts()
                            .map(|alert| alert.window_start_ms)
                            .collect::<Vec<i64>>(),
                    ),
                    param(
                        alerts()
                            .map(|alert| alert.message.as_str())
                            .collect::<Vec<_>>(),
                    ),
                    param(received_at_ms),
                    param(next_attempt_ms),
                ],
            )
        });
        Written(upsert, windows)
    }

    /// The alerts whose key is new, in the order they were raised, from
    /// the answers of the statements [`Folded::push`] added.
    pub fn new_alerts(
        mut self,
        written: Written,
        replies: &mut Replies,
    ) -> Result<Vec<Alert>, StoreError> {
        let mut inserted: HashSet<String> = HashSet::new();
        if let Some(slot) = written.0 {
            for row in replies.rows(slot, "writing alerts")? {
                let reading = failed("reading the alert upsert");
                let dedup_key: String = row.try_get(0).map_err(&reading)?;
                if row.try_get::<_, bool>(1).map_err(&reading)? {
                    inserted.insert(dedup_key);
                }
            }
        }
        if let Some(slot) = written.1 {
            for row in replies.rows(slot, "writing window alerts")? {
                let dedup_key: String = row
                    .try_get(0)
                    .map_err(failed("reading the window alert insert"))?;
                inserted.insert(dedup_key);
            }
        }
        let mut alerts = Vec::new();
        for key in self.new_keys {
            if !inserted.contains(&key) {
                continue;
            }
            if let Some(row) = self.rows.remove(&key) {
                alerts.push(row.alert);
            } else if let Some(alert) = self.windows.remove(&key) {
                alerts.push(alert);
            }
        }
        Ok(alerts)
    }
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

/// The stored rows of the raised keys, by key.
fn read_stored(
    found: &[Row],
    raised: &[(Alert, Option<Alert>)],
) -> Result<BTreeMap<String, AlertRow>, StoreError> {
    let alerts_by_key: BTreeMap<&str, &Alert> = raised
        .iter()
        .map(|(alert, _)| (alert.dedup_key.as_str(), alert))
        .collect();
    let mut rows = BTreeMap::new();
    for row in found {
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
