//! A notifier that keeps what it is given, for tests of the outbox.

use lamlog::notify::{Notifier, Undelivered};
use lamlog_core::judge::Alert;

/// Every alert it was asked to send, in order.
#[derive(Default)]
pub struct Kept(pub Vec<Alert>);

impl Notifier for Kept {
    async fn notify(&mut self, alerts: &[Alert]) -> Result<(), Undelivered> {
        self.0.extend_from_slice(alerts);
        Ok(())
    }
}
