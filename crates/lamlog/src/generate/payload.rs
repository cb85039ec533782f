//! The shape of one CloudWatch Logs subscription payload, and its size.
//!
//! CloudWatch hands a subscription the events of one log group and stream at
//! a time, at most 10,000 of them and about 1 MB of JSON. The packer
//! (`write.rs`) must know a payload's serialized size before it serializes it,
//! to cut payloads at that limit, so the size arithmetic lives beside the
//! serde shape it estimates; the sinks (`sink.rs`) serialize the same shape.
//! Both import this module and neither imports the other.

use std::fmt;

use serde::{Serialize, Serializer};

use super::escape::json_str_len;
use super::workload::StreamInfo;

/// CloudWatch's limit on one subscription payload, uncompressed.
pub(crate) const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;
/// CloudWatch's limit on events per payload.
pub(crate) const MAX_PAYLOAD_EVENTS: usize = 10_000;
/// `{"id":"","timestamp":,"message":}` plus a 56-digit id and a separating comma.
const EVENT_FIXED_BYTES: usize = 33 + 56 + 1;

/// A CloudWatch event id: 56 decimal digits, increasing in shipping order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventId {
    pub(crate) sequence: u64,
    pub(crate) timestamp_ms: i64,
}

impl fmt::Display for EventId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "3{:020}{:035}",
            self.sequence,
            self.timestamp_ms.max(0)
        )
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The decoded shape of a CloudWatch Logs subscription payload.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Payload<'a> {
    message_type: &'static str,
    pub(crate) owner: &'a str,
    log_group: &'a str,
    log_stream: &'a str,
    subscription_filters: [&'static str; 1],
    pub(crate) log_events: Vec<PayloadEvent<'a>>,
}

/// One event of a payload.
#[derive(Serialize)]
pub(crate) struct PayloadEvent<'a> {
    pub(crate) id: EventId,
    pub(crate) timestamp: i64,
    pub(crate) message: &'a str,
}

/// An empty payload of `stream`.
pub(crate) fn payload_for(stream: &StreamInfo) -> Payload<'_> {
    Payload {
        message_type: "DATA_MESSAGE",
        owner: &stream.owner,
        log_group: &stream.log_group,
        log_stream: &stream.log_stream,
        subscription_filters: ["lamlog"],
        log_events: Vec::new(),
    }
}

/// The serialized size of [`payload_for`]`(stream)`, with no events.
pub(crate) fn empty_payload_len(stream: &StreamInfo) -> usize {
    // `{"messageType":"DATA_MESSAGE","owner":…,"logGroup":…,"logStream":…,"subscriptionFilters":["lamlog"],"logEvents":[]}`
    112 + json_str_len(&stream.owner)
        + json_str_len(&stream.log_group)
        + json_str_len(&stream.log_stream)
}

/// What one event adds to a payload's serialized size, counting one comma
/// too many for the first (the estimate stays an upper bound).
pub(crate) fn event_len(timestamp_ms: i64, message: &str) -> usize {
    EVENT_FIXED_BYTES + decimal_len(timestamp_ms) + json_str_len(message)
}

fn decimal_len(value: i64) -> usize {
    let sign = usize::from(value < 0);
    sign + value
        .unsigned_abs()
        .checked_ilog10()
        .map_or(1, |digits| digits as usize + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> StreamInfo {
        StreamInfo {
            id: 1,
            owner: "123456789012".into(),
            log_group: "/aws/lambda/orders-api-0".into(),
            log_stream: "2026/11/01/[$LATEST]0123456789abcdef0123456789abcdef".into(),
            partition_key: "0123456789abcdef0123456789abcdef".into(),
        }
    }

    #[test]
    fn size_estimate_matches_serialization() {
        let stream = stream();
        let mut payload = payload_for(&stream);
        assert_eq!(
            serde_json::to_vec(&payload).unwrap().len(),
            empty_payload_len(&stream)
        );
        let messages = [
            "START RequestId: x Version: $LATEST\n",
            "[ERROR] E: m\rTraceback\r\u{a0}\u{a0}File \"a\"\n",
        ];
        let mut estimate = empty_payload_len(&stream);
        for (index, message) in messages.iter().enumerate() {
            let timestamp = 1_793_491_200_000 + index as i64;
            estimate += event_len(timestamp, message);
            let id = EventId {
                sequence: index as u64,
                timestamp_ms: timestamp,
            };
            payload.log_events.push(PayloadEvent {
                id,
                timestamp,
                message,
            });
        }
        let actual = serde_json::to_vec(&payload).unwrap().len();
        assert_eq!(
            estimate,
            actual + 1,
            "the estimate counts one comma too many"
        );
    }

    #[test]
    fn event_ids_have_56_digits_and_increase() {
        let first = EventId {
            sequence: 9,
            timestamp_ms: 1_793_491_200_999,
        }
        .to_string();
        let second = EventId {
            sequence: 10,
            timestamp_ms: 1_793_491_200_000,
        }
        .to_string();
        assert_eq!(first.len(), 56);
        assert!(first.bytes().all(|b| b.is_ascii_digit()));
        assert!(second > first);
        assert_eq!(decimal_len(0), 1);
        assert_eq!(decimal_len(1_793_491_200_000), 13);
        assert_eq!(decimal_len(-5), 2);
    }
}
