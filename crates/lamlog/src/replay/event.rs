//! Records read back from a shard, wrapped as the Lambda Kinesis event.
//!
//! The pipeline's Kinesis decoder (`lamlog_core::decode::Format::Kinesis`)
//! takes the event Lambda would have delivered:
//!
//! ```json
//! {"Records":[{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"…","sequenceNumber":"4959…",
//!    "data":"H4sI…","approximateArrivalTimestamp":1545084650.987},
//!   "eventSource":"aws:kinesis","eventID":"shardId-000000000000:4959…",
//!   "eventSourceARN":"arn:aws:kinesis:…:stream/logs"}]}
//! ```
//!
//! Replaying through the same wrapping (rather than a side door into the
//! decoder) keeps every replayed record's sequence number and event id, so
//! a dead letter made by a replay has the same position — and the same dedup
//! key — as the one the Lambda function would have made.
//!
//! [`batches`] cuts a page of records into events of bounded size: at most
//! `max_records` records and about `max_data_bytes` of record data each (a
//! single larger record still goes alone), the bound a Lambda invocation has.

use base64::Engine;
use serde::Serialize;

use super::range::ShardRecord;

/// The Lambda Kinesis event holding `records`, as JSON bytes.
pub fn kinesis_event(stream_arn: &str, shard_id: &str, records: &[ShardRecord]) -> Vec<u8> {
    let records: Vec<EventRecord<'_>> = records
        .iter()
        .map(|record| EventRecord {
            kinesis: EventKinesis {
                kinesis_schema_version: "1.0",
                partition_key: &record.partition_key,
                sequence_number: record.sequence_number.as_str(),
                data: base64::engine::general_purpose::STANDARD.encode(&record.data),
                approximate_arrival_timestamp: record
                    .approximate_arrival_ms
                    .map(|arrival_ms| arrival_ms as f64 / 1000.0),
            },
            event_source: "aws:kinesis",
            event_version: "1.0",
            event_id: format!("{shard_id}:{}", record.sequence_number),
            event_name: "aws:kinesis:record",
            event_source_arn: stream_arn,
        })
        .collect();
    // Serialising plain strings and numbers cannot fail; an empty event is
    // still a valid (empty) batch should it ever happen.
    serde_json::to_vec(&Event { records }).unwrap_or_else(|_| b"{\"Records\":[]}".to_vec())
}

/// Cuts `records` into consecutive runs of at most `max_records` records and
/// about `max_data_bytes` of data each; order is kept and no run is empty.
pub fn batches(
    records: &[ShardRecord],
    max_records: usize,
    max_data_bytes: usize,
) -> Vec<&[ShardRecord]> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (index, record) in records.iter().enumerate() {
        let full = index - start >= max_records.max(1)
            || (index > start && bytes + record.data.len() > max_data_bytes);
        if full {
            runs.push(&records[start..index]);
            start = index;
            bytes = 0;
        }
        bytes += record.data.len();
    }
    if start < records.len() {
        runs.push(&records[start..]);
    }
    runs
}

#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "Records")]
    records: Vec<EventRecord<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventRecord<'a> {
    kinesis: EventKinesis<'a>,
    event_source: &'static str,
    event_version: &'static str,
    #[serde(rename = "eventID")]
    event_id: String,
    event_name: &'static str,
    #[serde(rename = "eventSourceARN")]
    event_source_arn: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventKinesis<'a> {
    kinesis_schema_version: &'static str,
    partition_key: &'a str,
    sequence_number: &'a str,
    data: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    approximate_arrival_timestamp: Option<f64>,
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use lamlog_core::decode::{decode, DecodeLimits, Format, Record};

    use super::*;
    use crate::replay::failure::SequenceNumber;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn record(sequence_number: &str, data: Vec<u8>) -> ShardRecord {
        ShardRecord {
            sequence_number: SequenceNumber::parse(sequence_number).unwrap(),
            partition_key: "p".to_owned(),
            data,
            approximate_arrival_ms: Some(1_793_491_200_123),
        }
    }

    #[test]
    fn the_decoder_reads_the_event_and_keeps_positions() {
        let payload = serde_json::json!({
            "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/lambda/orders",
            "logStream": "s", "subscriptionFilters": ["f"],
            "logEvents": [{"id": "1", "timestamp": 1_793_491_200_000_i64, "message": "START RequestId: r1 Version: $LATEST\n"}],
        });
        let records = [
            record(
                "495900000000000000000000000000000000000000000000000001",
                gzip(payload.to_string().as_bytes()),
            ),
            record(
                "495900000000000000000000000000000000000000000000000002",
                b"not a payload".to_vec(),
            ),
        ];
        let event = kinesis_event(
            "arn:aws:kinesis:us-east-1:123456789012:stream/logs",
            "shardId-000000000000",
            &records,
        );
        let decoded = decode(&event, Format::Auto, &DecodeLimits::default()).records;
        assert_eq!(decoded.len(), 2);
        let Ok(Record::Data(envelope)) = &decoded[0] else {
            panic!("{:?}", decoded[0]);
        };
        assert_eq!(envelope.log_group.as_deref(), Some("/aws/lambda/orders"));
        assert_eq!(
            envelope.position.sequence_number.as_deref(),
            Some(records[0].sequence_number.as_str())
        );
        let Err(error) = &decoded[1] else {
            panic!("{:?}", decoded[1]);
        };
        assert_eq!(
            error.position.sequence_number.as_deref(),
            Some(records[1].sequence_number.as_str())
        );
        assert_eq!(
            error.position.event_id,
            Some(format!(
                "shardId-000000000000:{}",
                records[1].sequence_number
            ))
        );
    }

    #[test]
    fn batches_are_bounded_in_records_and_bytes() {
        let records: Vec<ShardRecord> = (1..=7)
            .map(|index| record(&index.to_string(), vec![b'x'; index * 10]))
            .collect();
        let by_count = batches(&records, 3, usize::MAX);
        assert_eq!(
            by_count.iter().map(|run| run.len()).collect::<Vec<_>>(),
            [3, 3, 1]
        );
        // 10+20+30 = 60 fits 60; 40 starts a run; 40+50 > 60; 60 alone; 70 alone (too big, still sent).
        let by_bytes = batches(&records, 100, 60);
        assert_eq!(
            by_bytes.iter().map(|run| run.len()).collect::<Vec<_>>(),
            [3, 1, 1, 1, 1]
        );
        let all: Vec<&ShardRecord> = by_bytes.iter().flat_map(|run| run.iter()).collect();
        assert_eq!(all.len(), records.len());
        assert!(batches(&[], 3, 60).is_empty());
    }
}
