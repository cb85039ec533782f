//! Notify: tell someone about the alerts a batch raised for the first time.
//!
//! Alerts are always stored (the `alerts` table is the record); a notifier
//! only forwards the ones whose dedup key is new, after the batch committed,
//! so a replayed batch never notifies twice.

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

/// Somewhere alerts go besides the `alerts` table.
#[allow(async_fn_in_trait)]
pub trait Notifier {
    /// Sends the alerts, in order.
    async fn notify(&mut self, alerts: &[Alert]) -> Result<(), NotifyError>;
}

/// Keeps alerts in the table only.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableOnly;

impl Notifier for TableOnly {
    async fn notify(&mut self, _alerts: &[Alert]) -> Result<(), NotifyError> {
        Ok(())
    }
}
