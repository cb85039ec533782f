//! A generated Kinesis workload delivered as Kinesis would, harshly: every
//! CloudWatch payload cut in two records (its events reversed first, so that
//! much evidence comes after its REPORT), the records re-cut into batches of
//! uneven sizes, one batch delivered twice, a `CONTROL_MESSAGE` record and an
//! undecodable record mixed in. Each batch is a Lambda Kinesis event, as bytes.
//! Shared by the oracle tests of the pipeline (`tests/oracle.rs`) and of the
//! Lambda handler (`lamlog-lambda/tests/oracle_handler.rs`).

use std::io::{Read, Write};
use std::path::Path;

use base64::Engine as _;
use serde_json::{json, Value};

/// The Kinesis events to deliver, in order, with `batches` distinct batches
/// (plus one replay), from the `kinesis-*.json` files of `dir`.
pub fn kinesis_deliveries(dir: &Path, batches: usize) -> Vec<Vec<u8>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("kinesis-"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no kinesis files in {}", dir.display());
    let mut records: Vec<Value> = Vec::new();
    for name in names {
        let event: Value = serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap();
        for record in event["Records"].as_array().unwrap() {
            records.extend(cut_in_two(record));
        }
    }
    let template = records[0].clone();
    records.insert(records.len() / 3, control_record(&template));
    records.insert(records.len() / 2, poison_record(&template));
    for (index, record) in records.iter_mut().enumerate() {
        let sequence_number = format!("{:056}", index + 1);
        record["eventID"] = json!(format!("shardId-000000000000:{sequence_number}"));
        record["kinesis"]["sequenceNumber"] = json!(sequence_number);
    }

    // Uneven batches: batch `k` is proportional to k + 1.
    let weights: usize = (1..=batches).sum();
    let mut bounds = vec![0];
    let mut weight_so_far = 0;
    for batch in 1..=batches {
        weight_so_far += batch;
        bounds.push(records.len() * weight_so_far / weights);
    }
    let slices: Vec<&[Value]> = bounds
        .windows(2)
        .map(|pair| &records[pair[0]..pair[1]])
        .filter(|slice| !slice.is_empty())
        .collect();
    let mut delivered = Vec::new();
    for (index, slice) in slices.iter().enumerate() {
        delivered.push(event_bytes(slice));
        // Kinesis delivers a batch again after a later one failed.
        if index == slices.len() / 2 {
            delivered.push(event_bytes(slices[index.saturating_sub(1)]));
        }
    }
    delivered
}

fn event_bytes(records: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "Records": records })).unwrap()
}

#[allow(clippy::disallowed_types)]
fn payload_of(record: &Value) -> Value {
    let data = base64::engine::general_purpose::STANDARD
        .decode(record["kinesis"]["data"].as_str().unwrap())
        .unwrap();
    let mut json = Vec::new();
    flate2::read::MultiGzDecoder::new(data.as_slice())
        .read_to_end(&mut json)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

fn with_payload(template: &Value, payload: &Value) -> Value {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(&serde_json::to_vec(payload).unwrap())
        .unwrap();
    let gzip = encoder.finish().unwrap();
    let mut record = template.clone();
    record["kinesis"]["data"] = json!(base64::engine::general_purpose::STANDARD.encode(gzip));
    record
}

/// The record as two records, each with half of its events (reversed).
fn cut_in_two(record: &Value) -> Vec<Value> {
    let mut payload = payload_of(record);
    let mut events = payload["logEvents"].as_array().unwrap().clone();
    if events.len() < 2 {
        return vec![record.clone()];
    }
    events.reverse();
    let tail = events.split_off(events.len() / 2);
    payload["logEvents"] = Value::Array(events);
    let head_record = with_payload(record, &payload);
    payload["logEvents"] = Value::Array(tail);
    vec![head_record, with_payload(record, &payload)]
}

/// The message CloudWatch sends when a subscription is created.
fn control_record(template: &Value) -> Value {
    let payload = json!({
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{
            "id": "",
            "timestamp": 1_793_491_200_000_i64,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."
        }]
    });
    with_payload(template, &payload)
}

/// A record whose data is not base64: a dead letter, never a failed batch.
fn poison_record(template: &Value) -> Value {
    let mut record = template.clone();
    record["kinesis"]["data"] = json!("!!not base64!!");
    record
}
