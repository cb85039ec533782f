//! Alerts to an SNS topic with `PublishBatch`.
//!
//! Each alert is one message: its JSON as the body, and message attributes —
//! `severity`, `kind`, `account`, `function` and `dedup_key` — so that
//! subscribers can filter (an SNS subscription filter policy such as
//! `{"severity": ["critical"]}`) and drop repeats without parsing the body.
//! Delivery is at least once (the `alerts` table is an outbox, see
//! [`crate::deliver`]), so the dedup key is what makes a repeat recognisable.
//!
//! A FIFO topic (its ARN ends with `.fifo`) also gets:
//! - `MessageDeduplicationId` = the alert's dedup key, so that SNS itself
//!   drops a repeat within its 5-minute window (a key longer than SNS's 128
//!   characters, or with characters it refuses, is replaced by a readable
//!   prefix and a hash, see [`fifo_id`]);
//! - `MessageGroupId` = `account#function`, which keeps one function's
//!   alerts in order.
//!
//! **Chunks are independent.** Alerts go in chunks of at most ten entries and
//! at most [`MAX_BATCH_BYTES`]. A chunk that fails does not stop the next one,
//! except when the service could not be reached at all (every later chunk
//! would wait out the same timeouts). Within a chunk, the entries SNS refuses
//! for a reason of its own (not the sender's fault: throttling, an internal
//! error) are sent again, alone, up to [`ENTRY_RETRIES`] times; entries that
//! succeeded are never sent again. What is still refused is reported as
//! undelivered and stays in the outbox.

use std::future::Future;
use std::time::Duration;

use aws_sdk_sns::error::SdkError;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use lamlog_core::judge::Alert;
use lamlog_core::meta::meta_key;

use super::{Notifier, NotifyError, Undelivered};
use crate::store::fnv1a_64;

/// PublishBatch's limit on entries per call.
pub const MAX_ENTRIES_PER_CALL: usize = 10;

/// PublishBatch's limit on the total size of a call's messages, attributes
/// included (256 KiB).
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// The most a message body may take: an alert's `message` is cut (at a
/// character boundary) so that its JSON stays under this, leaving room for
/// the attributes within one SNS message's 256 KiB.
pub const MAX_BODY_BYTES: usize = 200 * 1024;

/// How many more times an entry SNS refused (not by the sender's fault) is
/// sent within one `notify` call.
pub const ENTRY_RETRIES: u32 = 2;

/// SNS's limit on a deduplication or group id.
pub const MAX_FIFO_ID_CHARS: usize = 128;

/// Sends alerts to one SNS topic.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    fifo: bool,
    retry_delay: Duration,
    published: u64,
}

/// One entry SNS refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFailure {
    /// The entry's id in the call.
    pub id: String,
    /// SNS's code and message.
    pub reason: String,
    /// Whether SNS blames the request (then sending it again cannot help).
    pub sender_fault: bool,
}

/// How one `PublishBatch` call ended.
#[derive(Debug)]
pub enum CallError {
    /// The service was not reached, or did not answer: later calls would fare
    /// no better.
    Unreachable(String),
    /// The service answered with an error for the whole call.
    Refused(String),
}

impl SnsNotifier {
    /// A notifier publishing to `topic_arn` (FIFO when it ends with `.fifo`).
    pub fn new(client: aws_sdk_sns::Client, topic_arn: &str) -> SnsNotifier {
        SnsNotifier {
            client,
            topic_arn: topic_arn.to_owned(),
            fifo: topic_arn.ends_with(".fifo"),
            retry_delay: Duration::from_millis(100),
            published: 0,
        }
    }

    /// Messages published so far.
    pub fn published(&self) -> u64 {
        self.published
    }

    fn entry(&self, id: usize, alert: &Alert) -> Result<PublishBatchRequestEntry, NotifyError> {
        let body = message_body(alert)?;
        let mut entry = PublishBatchRequestEntry::builder()
            .id(format!("alert-{id}"))
            .message(body)
            .message_attributes("severity", string_attribute(alert.severity.as_str())?)
            .message_attributes("kind", string_attribute(alert.kind.as_str())?)
            .message_attributes("account", string_attribute(&alert.account)?)
            .message_attributes("function", string_attribute(&alert.function)?)
            .message_attributes("dedup_key", string_attribute(&alert.dedup_key)?);
        if self.fifo {
            entry = entry
                .message_deduplication_id(fifo_id(&alert.dedup_key))
                .message_group_id(fifo_id(&meta_key(&alert.account, &alert.function)));
        }
        entry
            .build()
            .map_err(|error| NotifyError::Unavailable(format!("building the sns entry: {error}")))
    }

    async fn publish(
        &self,
        entries: Vec<PublishBatchRequestEntry>,
    ) -> Result<Vec<EntryFailure>, CallError> {
        let output = self
            .client
            .publish_batch()
            .topic_arn(&self.topic_arn)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await
            .map_err(|error| {
                let text = format!(
                    "sns PublishBatch: {}",
                    aws_sdk_sns::error::DisplayErrorContext(&error)
                );
                match error {
                    SdkError::ServiceError(_) => CallError::Refused(text),
                    _ => CallError::Unreachable(text),
                }
            })?;
        Ok(output
            .failed()
            .iter()
            .map(|failure| EntryFailure {
                id: failure.id().to_owned(),
                reason: format!("{} {}", failure.code(), failure.message().unwrap_or("")),
                sender_fault: failure.sender_fault(),
            })
            .collect())
    }
}

/// The alert's JSON, its `message` cut to keep the body under
/// [`MAX_BODY_BYTES`].
fn message_body(alert: &Alert) -> Result<String, NotifyError> {
    let serialize = |alert: &Alert| {
        serde_json::to_string(alert)
            .map_err(|error| NotifyError::Unavailable(format!("serializing alert: {error}")))
    };
    let body = serialize(alert)?;
    if body.len() <= MAX_BODY_BYTES {
        return Ok(body);
    }
    let mut cut = alert.clone();
    let excess = body.len() - MAX_BODY_BYTES;
    let keep = cut.message.len().saturating_sub(excess + 3);
    cut.message = format!("{}...", truncate_at_char(&cut.message, keep));
    cut.function = truncate_at_char(&cut.function, 1024).to_owned();
    cut.account = truncate_at_char(&cut.account, 1024).to_owned();
    serialize(&cut)
}

/// The longest prefix of `text` of at most `max_bytes` that ends on a
/// character boundary.
pub fn truncate_at_char(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, NotifyError> {
    // SNS refuses an empty string attribute.
    let value = if value.is_empty() { "-" } else { value };
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(truncate_at_char(value, 1024))
        .build()
        .map_err(|error| NotifyError::Unavailable(format!("building a message attribute: {error}")))
}

/// The size SNS counts for an entry: body, attribute names, types and values.
fn entry_bytes(entry: &PublishBatchRequestEntry) -> usize {
    let attributes: usize = entry
        .message_attributes()
        .map(|attributes| {
            attributes
                .iter()
                .map(|(name, value)| {
                    name.len() + value.data_type().len() + value.string_value().unwrap_or("").len()
                })
                .sum()
        })
        .unwrap_or(0);
    entry.message().len() + attributes
}

/// Splits entries (with their alert indexes) into chunks of at most
/// [`MAX_ENTRIES_PER_CALL`] entries and [`MAX_BATCH_BYTES`] bytes, in order.
pub fn chunks(
    entries: Vec<(usize, PublishBatchRequestEntry)>,
) -> Vec<Vec<(usize, PublishBatchRequestEntry)>> {
    let mut chunks: Vec<Vec<(usize, PublishBatchRequestEntry)>> = Vec::new();
    let mut bytes = 0;
    for (index, entry) in entries {
        let size = entry_bytes(&entry);
        let fits = chunks.last().is_some_and(|chunk| {
            chunk.len() < MAX_ENTRIES_PER_CALL && bytes + size <= MAX_BATCH_BYTES
        });
        if !fits {
            chunks.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(chunk) = chunks.last_mut() {
            chunk.push((index, entry));
        }
    }
    chunks
}

/// Sends one chunk with `send`, then sends again what SNS refused by no fault
/// of the sender, up to `retries` times, waiting `delay` (doubling) between
/// rounds. Returns the alert indexes not delivered with the last reason, and
/// whether the service was unreachable.
pub async fn send_chunk<F, Fut>(
    chunk: Vec<(usize, PublishBatchRequestEntry)>,
    retries: u32,
    delay: Duration,
    mut send: F,
) -> (Vec<usize>, Option<String>, bool)
where
    F: FnMut(Vec<PublishBatchRequestEntry>) -> Fut,
    Fut: Future<Output = Result<Vec<EntryFailure>, CallError>>,
{
    let mut pending = chunk;
    let mut attempt = 0;
    loop {
        let entries: Vec<PublishBatchRequestEntry> =
            pending.iter().map(|(_, entry)| entry.clone()).collect();
        let failures = match send(entries).await {
            Ok(failures) => failures,
            Err(CallError::Unreachable(reason)) => {
                let indexes = pending.iter().map(|(index, _)| *index).collect();
                return (indexes, Some(reason), true);
            }
            Err(CallError::Refused(reason)) => {
                let indexes = pending.iter().map(|(index, _)| *index).collect();
                return (indexes, Some(reason), false);
            }
        };
        if failures.is_empty() {
            return (Vec::new(), None, false);
        }
        let retryable = failures.iter().all(|failure| !failure.sender_fault);
        let reason = failures
            .iter()
            .map(|failure| {
                let fault = if failure.sender_fault {
                    " (sender fault)"
                } else {
                    ""
                };
                format!("{}: {}{fault}", failure.id, failure.reason)
            })
            .collect::<Vec<_>>()
            .join("; ");
        pending.retain(|(_, entry)| {
            failures
                .iter()
                .any(|failure| entry.id() == failure.id.as_str())
        });
        if !retryable || attempt >= retries {
            let indexes = pending.iter().map(|(index, _)| *index).collect();
            return (indexes, Some(format!("sns refused {reason}")), false);
        }
        tokio::time::sleep(delay.saturating_mul(1 << attempt.min(16))).await;
        attempt += 1;
    }
}

/// A FIFO deduplication or group id for `key`: the key itself when SNS
/// accepts it (≤ 128 characters, ASCII letters, digits and punctuation),
/// otherwise its first 100 acceptable characters, `~`, and the 16 hex digits
/// of its FNV-1a hash. Two keys share an id only if they share that prefix
/// and collide on 64 bits.
pub fn fifo_id(key: &str) -> String {
    let acceptable = |character: char| character.is_ascii_graphic();
    if key.len() <= MAX_FIFO_ID_CHARS && key.chars().all(acceptable) {
        return key.to_owned();
    }
    let prefix: String = key.chars().filter(|c| acceptable(*c)).take(100).collect();
    format!("{prefix}~{:016x}", fnv1a_64(key.as_bytes()))
}

impl Notifier for SnsNotifier {
    async fn notify(&mut self, alerts: &[Alert]) -> Result<(), Undelivered> {
        let mut undelivered = Vec::new();
        let mut last_error = None;
        let mut entries = Vec::with_capacity(alerts.len());
        for (index, alert) in alerts.iter().enumerate() {
            match self.entry(index, alert) {
                Ok(entry) => entries.push((index, entry)),
                Err(error) => {
                    undelivered.push(index);
                    last_error = Some(error);
                }
            }
        }
        let mut unreachable = false;
        for chunk in chunks(entries) {
            if unreachable {
                undelivered.extend(chunk.iter().map(|(index, _)| *index));
                continue;
            }
            let sent = chunk.len();
            let (failed, reason, cannot_reach) =
                send_chunk(chunk, ENTRY_RETRIES, self.retry_delay, |entries| {
                    self.publish(entries)
                })
                .await;
            self.published += (sent - failed.len()) as u64;
            unreachable = cannot_reach;
            undelivered.extend(failed);
            if let Some(reason) = reason {
                last_error = Some(NotifyError::Unavailable(reason));
            }
        }
        match last_error {
            None => Ok(()),
            Some(error) => {
                undelivered.sort_unstable();
                Err(Undelivered { undelivered, error })
            }
        }
    }
}

#[cfg(test)]
mod tests;
