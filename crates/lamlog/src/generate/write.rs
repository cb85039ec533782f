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
use std::path::Path;
use std::rc::Rc;

use super::lines::Event;
use super::payload::{
    empty_payload_len, event_len, payload_for, EventId, PayloadEvent, MAX_PAYLOAD_BYTES,
    MAX_PAYLOAD_EVENTS,
};
use super::sink::Sink;
use super::workload::StreamInfo;
use super::{GenerateError, OutputFormat};

/// Chance of shipping a stream's payload just before any given event.
const SPLIT_PROBABILITY: f64 = 0.03;

/// What the packer has shipped so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PackStats {
    pub(crate) files: usize,
    pub(crate) records: u64,
    pub(crate) log_events: u64,
    pub(crate) bytes: u64,
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
        let event_bytes = event_len(event.timestamp_ms, &event.message);
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
