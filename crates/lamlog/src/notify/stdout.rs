//! Alerts as JSON lines on a writer (stdout for `--alerts-out -`, or a file).

use std::io::Write;

use lamlog_core::judge::Alert;

use super::{Notifier, NotifyError, Undelivered};

/// Writes one JSON object per alert, flushed after each batch.
#[derive(Debug)]
pub struct JsonLinesNotifier<W> {
    writer: W,
}

impl<W: Write> JsonLinesNotifier<W> {
    /// A notifier writing to `writer`.
    pub fn new(writer: W) -> Self {
        JsonLinesNotifier { writer }
    }

    fn write_all(&mut self, alerts: &[Alert]) -> Result<(), NotifyError> {
        for alert in alerts {
            serde_json::to_writer(&mut self.writer, alert).map_err(std::io::Error::from)?;
            self.writer.write_all(b"\n")?;
        }
        self.writer.flush()?;
        Ok(())
    }
}

impl<W: Write> Notifier for JsonLinesNotifier<W> {
    /// A write or flush error leaves every alert of the call undelivered: a
    /// buffered writer cannot say which lines reached the output.
    async fn notify(&mut self, alerts: &[Alert]) -> Result<(), Undelivered> {
        self.write_all(alerts)
            .map_err(|error| Undelivered::all(alerts.len(), error))
    }
}
