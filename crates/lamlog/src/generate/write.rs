//! Packing: events → CloudWatch subscription payloads → files.
//!
//! CloudWatch Logs hands a subscription one *payload* per delivery: the
//! events of one log group and one log stream, at most 10,000 of them and
//! about 1 MB of JSON. The packer keeps one pending payload per live stream
//! and ships it when
//!
//! - it would grow past those limits,
//! - its first event is some seconds old (a per-payload delay of 1–15 s of
//!   simulated time, as CloudWatch batches before it delivers), or
//! - at random, between any two events: that is what splits one request's
//!   lines (a REPORT and its timeout line, say) over two records, which the
//!   pipeline must merge by key.
//!
//! Shipped payloads go to one of three sinks, in shipping order: one gzip
//! file each (`cwl`), Kinesis Lambda events of ≤ 10,000 records and ≤ 6 MB
//! (`kinesis`), or plain lines (`lines`). The packing decisions draw from
//! their own random stream and never depend on the sink, so the three formats
//! carry the same events in the same order.
//!
//! Memory stays bounded: a payload lives at most ~15 s of simulated time, so
//! only the streams active in that window hold events.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::rc::Rc;

use serde::{Serialize, Serializer};

use super::escape::json_str_len;
use super::lines::Event;
use super::sink::Sink;
use super::workload::StreamInfo;
use super::{GenerateError, OutputFormat};

/// CloudWatch's limit on one subscription payload, uncompressed.
pub(crate) const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;
/// CloudWatch's limit on events per payload.
pub(crate) const MAX_PAYLOAD_EVENTS: usize = 10_000;
/// Chance of shipping a stream's payload just before any given event.
const SPLIT_PROBABILITY: f64 = 0.03;
/// `{"id":"","timestamp":,"message":}` plus a 56-digit id and a separating comma.
const EVENT_FIXED_BYTES: usize = 33 + 56 + 1;

/// What the packer has shipped so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PackStats {
    pub(crate) files: usize,
    pub(crate) records: u64,
    pub(crate) log_events: u64,
    pub(crate) bytes: u64,
}

/// A CloudWatch event id: 56 decimal digits, increasing in shipping order.
#[derive(Debug, Clone, Copy)]
struct EventId {
    sequence: u64,
    timestamp_ms: i64,
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
    id: EventId,
    pub(crate) timestamp: i64,
    pub(crate) message: &'a str,
}

fn payload_for(stream: &StreamInfo) -> Payload<'_> {
    Payload {
        message_type: "DATA_MESSAGE",
        owner: &stream.owner,
        log_group: &stream.log_group,
        log_stream: &stream.log_stream,
        subscription_filters: ["lamlog"],
        log_events: Vec::new(),
    }
}

struct Pending {
    stream: Rc<StreamInfo>,
    events: Vec<Event>,
    json_bytes: usize,
    ship_at_ms: i64,
}

/// Groups events per stream into payloads and ships them to a sink.
pub(crate) struct Packer {
    rng: fastrand::Rng,
    pending: BTreeMap<u64, Pending>,
    sink: Sink,
    next_event_sequence: u64,
    records: u64,
    log_events: u64,
}

impl Packer {
    /// A packer writing `format` files into `out_dir`.
    pub(crate) fn new(
        format: OutputFormat,
        out_dir: &Path,
        seed: u64,
        arn_account: &str,
    ) -> Packer {
        Packer {
            rng: fastrand::Rng::with_seed(seed ^ 0x7061_636b_6572),
            pending: BTreeMap::new(),
            sink: Sink::new(format, out_dir, seed, arn_account),
            next_event_sequence: 0,
            records: 0,
            log_events: 0,
        }
    }

    /// Adds one event of `stream`; events of a stream must come in time order.
    pub(crate) fn push(
        &mut self,
        stream: &Rc<StreamInfo>,
        event: Event,
    ) -> Result<(), GenerateError> {
        let event_bytes =
            EVENT_FIXED_BYTES + decimal_len(event.timestamp_ms) + json_str_len(&event.message);
        let ship_first = match self.pending.get(&stream.id) {
            Some(pending) => {
                debug_assert!(pending
                    .events
                    .last()
                    .is_none_or(|last| last.timestamp_ms <= event.timestamp_ms));
                pending.events.len() >= MAX_PAYLOAD_EVENTS
                    || pending.json_bytes + event_bytes > MAX_PAYLOAD_BYTES
                    || self.rng.f64() < SPLIT_PROBABILITY
            }
            None => false,
        };
        if ship_first {
            self.ship(stream.id)?;
        }
        let rng = &mut self.rng;
        let pending = self.pending.entry(stream.id).or_insert_with(|| Pending {
            stream: Rc::clone(stream),
            events: Vec::new(),
            json_bytes: empty_payload_len(stream),
            ship_at_ms: event.timestamp_ms + rng.i64(1000..=15_000),
        });
        debug_assert!(
            pending.json_bytes + event_bytes <= MAX_PAYLOAD_BYTES,
            "one event larger than a payload"
        );
        pending.json_bytes += event_bytes;
        pending.events.push(event);
        Ok(())
    }

    /// Ships every payload whose delivery time has come by `now_ms`.
    pub(crate) fn ship_due(&mut self, now_ms: i64) -> Result<(), GenerateError> {
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, pending)| pending.ship_at_ms <= now_ms)
            .map(|(&id, _)| id)
            .collect();
        for id in due {
            self.ship(id)?;
        }
        Ok(())
    }

    /// Ships what is left, oldest first, closes the sink and reports totals.
    pub(crate) fn finish(mut self) -> Result<PackStats, GenerateError> {
        let mut remaining: Vec<(i64, u64)> = self
            .pending
            .values()
            .map(|pending| {
                (
                    pending.events.first().map_or(0, |event| event.timestamp_ms),
                    pending.stream.id,
                )
            })
            .collect();
        remaining.sort_unstable();
        for (_, id) in remaining {
            self.ship(id)?;
        }
        let (files, bytes) = self.sink.finish()?;
        Ok(PackStats {
            files,
            records: self.records,
            log_events: self.log_events,
            bytes,
        })
    }

    fn ship(&mut self, stream_id: u64) -> Result<(), GenerateError> {
        let Some(pending) = self.pending.remove(&stream_id) else {
            return Ok(());
        };
        let mut payload = payload_for(&pending.stream);
        payload.log_events = pending
            .events
            .iter()
            .map(|event| {
                let id = EventId {
                    sequence: self.next_event_sequence,
                    timestamp_ms: event.timestamp_ms,
                };
                self.next_event_sequence += 1;
                PayloadEvent {
                    id,
                    timestamp: event.timestamp_ms,
                    message: &event.message,
                }
            })
            .collect();
        self.records += 1;
        self.log_events += payload.log_events.len() as u64;
        self.sink
            .write(&payload, &pending.stream, pending.json_bytes)
    }
}

fn empty_payload_len(stream: &StreamInfo) -> usize {
    // `{"messageType":"DATA_MESSAGE","owner":…,"logGroup":…,"logStream":…,"subscriptionFilters":["lamlog"],"logEvents":[]}`
    112 + json_str_len(&stream.owner)
        + json_str_len(&stream.log_group)
        + json_str_len(&stream.log_stream)
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
            estimate += EVENT_FIXED_BYTES + decimal_len(timestamp) + json_str_len(message);
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
