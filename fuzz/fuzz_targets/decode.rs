//! Two properties of decode:
//! 1. any bytes in any format decode without panicking, and every error keeps
//!    raw bytes that come from the input;
//! 2. messages wrapped as CloudWatch payload → gzip → base64 → Kinesis event
//!    come back out exactly.
#![no_main]

use std::io::Write;

use base64::Engine;
use lamlog_core::decode::{decode, DecodeLimits, Format, Record};
use libfuzzer_sys::fuzz_target;

const FORMATS: [Format; 6] = [Format::Auto, Format::Lines, Format::Events, Format::Cwl, Format::Kinesis, Format::Awslogs];

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits { max_inflated_bytes: 1 << 20, max_line_bytes: 1 << 16 };
    for format in FORMATS {
        let decoded = decode(data, format, &limits);
        assert_ne!(decoded.format, Format::Auto);
        for record in decoded.records.iter().flatten() {
            if let Record::Data(envelope) = record {
                assert!(envelope.events.iter().all(|event| event.message.len() <= data.len().max(limits.max_inflated_bytes)));
            }
        }
    }

    let messages: Vec<String> = String::from_utf8_lossy(data).split('\u{1}').map(str::to_owned).collect();
    let events: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(index, message)| serde_json::json!({"id": format!("{index:056}"), "timestamp": index as i64, "message": message}))
        .collect();
    let payload = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/lambda/f", "logStream": "s", "subscriptionFilters": [], "logEvents": events});
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(payload.to_string().as_bytes()).expect("gzip to memory");
    let gz = encoder.finish().expect("gzip to memory");
    let data = base64::engine::general_purpose::STANDARD.encode(gz);
    let event = serde_json::json!({"Records": [{"kinesis": {"data": data, "sequenceNumber": "1", "partitionKey": "p"}, "eventID": "shardId-0:1"}]});
    let decoded = decode(event.to_string().as_bytes(), Format::Kinesis, &DecodeLimits::default());
    let Some(Ok(Record::Data(envelope))) = decoded.records.first() else {
        panic!("a well-formed event must decode: {:?}", decoded.records.first());
    };
    let round_trip: Vec<&str> = envelope.events.iter().map(|event| event.message.as_str()).collect();
    assert_eq!(round_trip, messages.iter().map(String::as_str).collect::<Vec<_>>());
});
