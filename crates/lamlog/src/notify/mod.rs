//! Notify: tell someone about the alerts the pipeline raised.
//!
//! Alerts are always stored first: the `alerts` table is the record, and it is
//! also the **outbox** (see [`crate::deliver`]). A notifier is handed alerts
//! that are committed but not yet marked sent, and answers which of them it
//! could not deliver; only the others are marked sent. So a notifier never
//! decides whether an alert is lost: an alert it fails to deliver stays in the
//! outbox and is handed to a notifier again by a later batch.
//!
//! Delivery is therefore at least once. Each alert carries its dedup key
//! (`Alert::dedup_key`) so that a subscriber can drop a repeat.

use lamlog_core::judge::Alert;

#[cfg(feature = "aws")]
pub mod sns;
pub mod stdout;

pub use stdout::JsonLinesNotifier;

/// Why a notification failed.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Writing to the output failed.
    #[error("writing alerts: {0}")]
    Io(#[from] std::io::Error),
    /// The service refused or did not answer; retrying may help.
    #[error("alert service unavailable: {0}")]
    Unavailable(String),
}

impl NotifyError {
    /// Whether retrying may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, NotifyError::Unavailable(_))
    }
}

/// The alerts of one [`Notifier::notify`] call that were not delivered, and
/// why. Every alert not listed was delivered.
#[derive(Debug, thiserror::Error)]
#[error("{} alert(s) not delivered: {error}", .undelivered.len())]
pub struct Undelivered {
    /// Indexes, into the slice given to `notify`, of the alerts not delivered.
    pub undelivered: Vec<usize>,
    /// The last error seen.
    #[source]
    pub error: NotifyError,
}

impl Undelivered {
    /// None of `count` alerts was delivered.
    pub fn all(count: usize, error: NotifyError) -> Undelivered {
        Undelivered {
            undelivered: (0..count).collect(),
            error,
        }
    }
}

/// Somewhere alerts go besides the `alerts` table.
#[allow(async_fn_in_trait)]
pub trait Notifier {
    /// Sends the alerts, in order. On failure, names the ones not delivered
    /// (a delivery it cannot be sure of counts as not delivered: sending an
    /// alert twice is allowed, losing it is not).
    async fn notify(&mut self, alerts: &[Alert]) -> Result<(), Undelivered>;
}

/// Keeps alerts in the table only: every alert counts as delivered.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableOnly;

impl Notifier for TableOnly {
    async fn notify(&mut self, _alerts: &[Alert]) -> Result<(), Undelivered> {
        Ok(())
    }
}
