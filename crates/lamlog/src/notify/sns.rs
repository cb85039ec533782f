//! Alerts to an SNS topic, ten at a time with `PublishBatch`.
//!
//! Each alert is one message: its JSON as the body, and three message
//! attributes — `severity`, `kind`, `function` — so that subscribers can
//! filter (an SNS subscription filter policy such as
//! `{"severity": ["critical"]}`) without parsing the body.
//!
//! A FIFO topic (its ARN ends with `.fifo`) also gets:
//! - `MessageDeduplicationId` = the alert's dedup key, so that SNS itself
//!   drops a repeat within its 5-minute window (a key longer than SNS's 128
//!   characters, or with characters it refuses, is replaced by a readable
//!   prefix and a hash, see [`fifo_id`]);
//! - `MessageGroupId` = `account#function`, which keeps one function's
//!   alerts in order.
//!
//! An entry SNS refuses fails the call with [`NotifyError::Unavailable`],
//! naming each failed entry's alert and SNS's reason.

use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use lamlog_core::judge::Alert;
use lamlog_core::meta::meta_key;

use super::{Notifier, NotifyError};
use crate::store::fnv1a_64;

/// PublishBatch's limit on entries per call.
pub const MAX_ENTRIES_PER_CALL: usize = 10;

/// SNS's limit on a deduplication or group id.
pub const MAX_FIFO_ID_CHARS: usize = 128;

/// Sends alerts to one SNS topic.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    fifo: bool,
    published: u64,
}

impl SnsNotifier {
    /// A notifier publishing to `topic_arn` (FIFO when it ends with `.fifo`).
    pub fn new(client: aws_sdk_sns::Client, topic_arn: &str) -> SnsNotifier {
        SnsNotifier {
            client,
            topic_arn: topic_arn.to_owned(),
            fifo: topic_arn.ends_with(".fifo"),
            published: 0,
        }
    }

    /// Messages published so far.
    pub fn published(&self) -> u64 {
        self.published
    }

    fn entry(&self, index: usize, alert: &Alert) -> Result<PublishBatchRequestEntry, NotifyError> {
        let body = serde_json::to_string(alert)
            .map_err(|error| NotifyError::Unavailable(format!("serializing alert: {error}")))?;
        let mut entry = PublishBatchRequestEntry::builder()
            .id(format!("alert-{index}"))
            .message(body)
            .message_attributes("severity", string_attribute(alert.severity.as_str())?)
            .message_attributes("kind", string_attribute(alert.kind.as_str())?)
            .message_attributes("function", string_attribute(&alert.function)?);
        if self.fifo {
            entry = entry
                .message_deduplication_id(fifo_id(&alert.dedup_key))
                .message_group_id(fifo_id(&meta_key(&alert.account, &alert.function)));
        }
        entry
            .build()
            .map_err(|error| NotifyError::Unavailable(format!("building the sns entry: {error}")))
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, NotifyError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|error| NotifyError::Unavailable(format!("building a message attribute: {error}")))
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
    async fn notify(&mut self, alerts: &[Alert]) -> Result<(), NotifyError> {
        for group in alerts.chunks(MAX_ENTRIES_PER_CALL) {
            let entries = group
                .iter()
                .enumerate()
                .map(|(index, alert)| self.entry(index, alert))
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .publish_batch()
                .topic_arn(&self.topic_arn)
                .set_publish_batch_request_entries(Some(entries))
                .send()
                .await
                .map_err(|error| {
                    NotifyError::Unavailable(format!(
                        "sns PublishBatch: {}",
                        aws_sdk_sns::error::DisplayErrorContext(&error)
                    ))
                })?;
            self.published += output.successful().len() as u64;
            if !output.failed().is_empty() {
                let details: Vec<String> = output
                    .failed()
                    .iter()
                    .map(|failure| {
                        let alert = failure
                            .id()
                            .strip_prefix("alert-")
                            .and_then(|index| index.parse::<usize>().ok())
                            .and_then(|index| group.get(index))
                            .map_or("?", |alert| alert.dedup_key.as_str());
                        format!(
                            "{alert}: {} {}{}",
                            failure.code(),
                            failure.message().unwrap_or(""),
                            if failure.sender_fault() {
                                " (sender fault)"
                            } else {
                                ""
                            }
                        )
                    })
                    .collect();
                return Err(NotifyError::Unavailable(format!(
                    "sns refused {} of {} alerts: {}",
                    details.len(),
                    group.len(),
                    details.join("; ")
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_their_own_fifo_id() {
        let key = "timeout|123456789012|orders-api|1793491200000";
        assert_eq!(fifo_id(key), key);
        let limit = "k".repeat(MAX_FIFO_ID_CHARS);
        assert_eq!(fifo_id(&limit), limit);
    }

    #[test]
    fn long_or_odd_keys_are_hashed_to_a_stable_valid_id() {
        let long = format!("timeout|1|{}|0", "f".repeat(200));
        let id = fifo_id(&long);
        assert!(id.len() <= MAX_FIFO_ID_CHARS, "{}", id.len());
        assert!(id.chars().all(|c| c.is_ascii_graphic()));
        assert_eq!(id, fifo_id(&long), "stable");
        let other = format!("timeout|1|{}|1", "f".repeat(200));
        assert_ne!(
            fifo_id(&other),
            id,
            "the hash tells keys with one prefix apart"
        );
        let spaced = fifo_id("timeout|1|my function é|0");
        assert!(spaced.chars().all(|c| c.is_ascii_graphic()), "{spaced}");
        assert!(spaced.starts_with("timeout|1|myfunction|0~"), "{spaced}");
    }
}
