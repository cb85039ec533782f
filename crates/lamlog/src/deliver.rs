//! Deliver: send what the `alerts` outbox holds, after each committed batch.
//!
//! ```text
//! commit ─► claim due unsent alerts (oldest first, at most BACKLOG_PER_BATCH)
//!        ─► notify(backlog ++ this batch's new alerts)
//!        ─► mark the delivered ones sent
//! ```
//!
//! Alerts are stored before they are sent, in the batch's transaction, and
//! marked sent only after a notifier delivered them. Whatever goes wrong
//! after the commit — the alert service is down or throttles, one
//! `PublishBatch` chunk fails, the COMMIT reply is lost and the retried
//! batch is a no-op, the process runs out of time or memory before it
//! publishes — the alert is still in the table, unsent, and a later batch
//! (of any writer) sends it once it is due (the outbox delay after it was
//! raised: [`UNSENT_ALERT_DELAY_MS`] unless the pipeline's settings say
//! otherwise). So alerts are delivered at least once, and a delivery
//! failure never fails the batch: its invocations are committed, and the
//! alerts wait.
//!
//! The backlog is bounded per batch so that a long outage of the alert
//! service, once over, is worked off over the following batches instead of
//! making one batch slow.
//!
//! [`UNSENT_ALERT_DELAY_MS`]: crate::store::UNSENT_ALERT_DELAY_MS

use std::collections::BTreeSet;

use lamlog_core::judge::Alert;

use crate::notify::Notifier;
use crate::store::AlertOutbox;

/// The most alerts of the backlog (earlier batches' unsent alerts) that one
/// batch sends.
pub const BACKLOG_PER_BATCH: usize = 100;

/// What one delivery pass did.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Delivery {
    /// Alerts delivered and marked sent (backlog and new).
    pub sent: u64,
    /// Of those handed to the notifier, the alerts of earlier batches.
    pub resent: u64,
    /// Alerts handed to the notifier that it did not deliver: they stay in
    /// the outbox.
    pub failed: u64,
    /// Alerts stored and not marked sent after this pass, when known (it is
    /// counted only when something was left, to spare a query per batch).
    pub unsent: u64,
    /// What went wrong, when something did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Sends the outbox's due backlog, then `new_alerts` (just committed), with
/// `notifier`, and marks what it delivered sent at `now_ms`. The backlog it
/// claims is not due again for `delay_ms`, the outbox delay. Never fails:
/// what could not be sent or marked stays in the outbox, and the returned
/// [`Delivery`] says so.
pub async fn deliver<O: AlertOutbox, N: Notifier>(
    outbox: &mut O,
    notifier: &mut N,
    new_alerts: &[Alert],
    now_ms: i64,
    delay_ms: i64,
) -> Delivery {
    let mut delivery = Delivery::default();
    let claimed = outbox.claim_unsent_alerts(now_ms, delay_ms, BACKLOG_PER_BATCH);
    let mut alerts = match claimed.await {
        Ok(backlog) => backlog,
        Err(error) => {
            delivery.error = Some(format!("reading the alerts outbox: {error}"));
            Vec::new()
        }
    };
    let backlog_full = alerts.len() >= BACKLOG_PER_BATCH;
    delivery.resent = alerts.len() as u64;
    let backlog_keys: BTreeSet<String> =
        alerts.iter().map(|alert| alert.dedup_key.clone()).collect();
    // A new alert cannot be due yet; should a clock step make it so, it is
    // sent once, as part of the backlog.
    alerts.extend(
        new_alerts
            .iter()
            .filter(|alert| !backlog_keys.contains(&alert.dedup_key))
            .cloned(),
    );
    if alerts.is_empty() {
        return delivery;
    }
    let undelivered = match notifier.notify(&alerts).await {
        Ok(()) => Vec::new(),
        Err(failure) => {
            delivery.error = Some(failure.error.to_string());
            failure.undelivered
        }
    };
    let delivered: Vec<&str> = alerts
        .iter()
        .enumerate()
        .filter(|(index, _)| undelivered.binary_search(index).is_err())
        .map(|(_, alert)| alert.dedup_key.as_str())
        .collect();
    delivery.failed = (alerts.len() - delivered.len()) as u64;
    match outbox.mark_alerts_sent(&delivered, now_ms).await {
        Ok(()) => delivery.sent = delivered.len() as u64,
        Err(error) => {
            // They were delivered; they will be delivered again. At least once.
            delivery.error = Some(format!("marking alerts sent: {error}"));
        }
    }
    if delivery.sent < alerts.len() as u64 || backlog_full {
        match outbox.unsent_alert_count().await {
            Ok(unsent) => delivery.unsent = unsent,
            Err(error) => delivery.error = Some(format!("counting unsent alerts: {error}")),
        }
    }
    delivery
}
