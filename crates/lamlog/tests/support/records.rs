//! Kinesis records as the Lambda function receives them, for the tests that
//! feed the pipeline hand-made CloudWatch Logs payloads.

use std::io::Write;

use base64::Engine;

/// `bytes`, gzipped as CloudWatch Logs sends a subscription payload.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// `bytes` in standard base64, as a Kinesis record's `data`.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A Kinesis event (`{"Records": [...]}`) of records whose `data` are
/// `datas`, in order, with increasing sequence numbers of shard 0.
pub fn kinesis_event(datas: &[String]) -> Vec<u8> {
    let records: Vec<serde_json::Value> = datas
        .iter()
        .enumerate()
        .map(|(index, data)| {
            let sequence_number = format!("4959{index:052}");
            serde_json::json!({
                "kinesis": {"data": data, "sequenceNumber": sequence_number, "partitionKey": "p",
                            "kinesisSchemaVersion": "1.0", "approximateArrivalTimestamp": 1.7e9},
                "eventSource": "aws:kinesis", "eventID": format!("shardId-000000000000:{sequence_number}"),
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap()
}
