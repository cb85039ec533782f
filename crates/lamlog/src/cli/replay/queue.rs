//! The on-failure queue, as `lamlog replay` uses it.
//!
//! Three calls, each with a reason:
//! - **receive**, long-polling, up to 10 messages, with a visibility timeout
//!   long enough to read and store a full batch ([`VISIBILITY_TIMEOUT_S`]):
//!   while a message is being replayed, no other reader replays it too;
//! - **delete**, only after every record of the message is committed;
//! - **release** (visibility timeout 0) for a message left in the queue, at
//!   the end of the run: it is visible again at once, so the queue alarm
//!   keeps saying that something needs a look, and the next run sees it.
//!   Releasing only at the end keeps one run from receiving it twice.

use anyhow::Context;
use aws_sdk_sqs::error::DisplayErrorContext;

/// How long a received message stays invisible to other readers: a full
/// Kinesis batch (10,000 records) read back and stored takes far less.
pub const VISIBILITY_TIMEOUT_S: i32 = 900;

/// One received message.
#[derive(Debug, Clone)]
pub struct QueueMessage {
    /// The SQS message id (stable across receives).
    pub id: String,
    /// The handle of this receive (needed to delete or release it).
    pub receipt_handle: String,
    /// The body: an on-failure record, normally.
    pub body: String,
}

/// The queue at one URL.
#[derive(Debug)]
pub struct FailureQueue {
    client: aws_sdk_sqs::Client,
    url: String,
    wait_seconds: i32,
}

impl FailureQueue {
    /// The queue at `url`; each receive waits up to `wait_seconds` (0–20).
    pub fn new(client: aws_sdk_sqs::Client, url: &str, wait_seconds: u8) -> FailureQueue {
        FailureQueue {
            client,
            url: url.to_owned(),
            wait_seconds: i32::from(wait_seconds.min(20)),
        }
    }

    /// Receives up to `max` (1–10) messages; an empty answer means the queue
    /// had nothing visible during the wait.
    pub async fn receive(&self, max: u64) -> anyhow::Result<Vec<QueueMessage>> {
        let max = i32::try_from(max.clamp(1, 10)).unwrap_or(10);
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max)
            .wait_time_seconds(self.wait_seconds)
            .visibility_timeout(VISIBILITY_TIMEOUT_S)
            .send()
            .await
            .map_err(|error| anyhow::anyhow!("{}", DisplayErrorContext(&error)))
            .with_context(|| format!("receiving from {}", self.url))?;
        Ok(output
            .messages
            .unwrap_or_default()
            .into_iter()
            // Without an id and a receipt handle a message can be neither
            // told apart nor deleted; SQS always sends both.
            .filter_map(|message| {
                Some(QueueMessage {
                    id: message.message_id?,
                    receipt_handle: message.receipt_handle?,
                    body: message.body.unwrap_or_default(),
                })
            })
            .collect())
    }

    /// Deletes a replayed message.
    pub async fn delete(&self, message: &QueueMessage) -> anyhow::Result<()> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(&message.receipt_handle)
            .send()
            .await
            .map_err(|error| anyhow::anyhow!("{}", DisplayErrorContext(&error)))
            .with_context(|| format!("deleting message {}", message.id))?;
        Ok(())
    }

    /// Makes a message left in the queue visible again now.
    pub async fn release(&self, message: &QueueMessage) -> anyhow::Result<()> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(&message.receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(|error| anyhow::anyhow!("{}", DisplayErrorContext(&error)))
            .with_context(|| format!("releasing message {}", message.id))?;
        Ok(())
    }
}
