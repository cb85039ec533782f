//! The two events at the edge of what one Lambda invocation can be handed,
//! for the memory section: what a slice inflates to, not how many records it
//! has, is what costs memory.
//!
//! - [`megabyte_records_event`]: as many records as fit in 6 MB, each a
//!   legitimate subscription payload that inflates to about 1 MB, CloudWatch
//!   Logs' largest (about 830 invocations of six lines each, so the
//!   records' assembled state is large too). None may be dead-lettered.
//! - [`bomb_event`]: as many gzip bombs as fit in 6 MB, each a few KB that
//!   inflate past the 16 MB cap on one record. Every one must be
//!   dead-lettered, and freed before the next is inflated.

use crate::workload::{gzip_base64, payload_json, write_record};

/// Lambda's bound on a synchronous event, less room for the runtime's headers.
pub const EVENT_BYTES: usize = 6_000_000;

/// What one legitimate record inflates to, at most: CloudWatch Logs'
/// largest subscription payload.
const PAYLOAD_BYTES: usize = 1_000_000;

/// One subscription payload of `function` that inflates to just under
/// `PAYLOAD_BYTES`: whole invocations (START, three application lines, END,
/// REPORT), request ids numbered from `first_request`. Answers the payload
/// and the invocations in it.
fn megabyte_payload(account: &str, function: &str, first_request: usize) -> (Vec<u8>, usize) {
    let start_ms = lamlog::generate::DEFAULT_START_MS;
    let mut events = Vec::new();
    let mut bytes = 400;
    let mut invocations = 0;
    loop {
        let request = first_request + invocations;
        let request_id = format!("00000000-0000-4000-8000-{request:012}");
        let timestamp = start_ms + request as i64 * 7;
        let duration = 20 + request % 180;
        let messages = [
            format!("START RequestId: {request_id} Version: $LATEST\n"),
            format!("2026-11-27T00:00:00.000Z\t{request_id}\tINFO\tloaded order {} for customer {}\n", request * 7919 % 1_000_003, request % 9973),
            format!("2026-11-27T00:00:00.010Z\t{request_id}\tINFO\tpriced {} items, total {}.{:02} EUR\n", 1 + request % 9, request % 997, request % 100),
            format!("2026-11-27T00:00:00.020Z\t{request_id}\tINFO\tstored order in {} ms\n", request % 31),
            format!("END RequestId: {request_id}\n"),
            format!("REPORT RequestId: {request_id}\tDuration: {duration}.50 ms\tBilled Duration: {} ms\tMemory Size: 256 MB\tMax Memory Used: {} MB\t\n", duration + 1, 60 + request % 90),
        ];
        let new_events: Vec<serde_json::Value> = messages
            .iter()
            .enumerate()
            .map(|(line, message)| {
                serde_json::json!({"id": format!("{:050}{line:06}", request), "timestamp": timestamp, "message": message})
            })
            .collect();
        let added: usize = new_events
            .iter()
            .map(|event| event.to_string().len() + 1)
            .sum();
        if bytes + added > PAYLOAD_BYTES {
            break;
        }
        bytes += added;
        events.extend(new_events);
        invocations += 1;
    }
    let payload = payload_json(account, function, events);
    (payload.to_string().into_bytes(), invocations)
}

/// A Kinesis event of at most [`EVENT_BYTES`] whose records each inflate to
/// about 1 MB of the functions `keys` (`account#function`) in turn.
pub fn megabyte_records_event(keys: &[String]) -> anyhow::Result<Vec<u8>> {
    let functions: Vec<(&str, &str)> = keys
        .iter()
        .filter_map(|key| key.split_once('#'))
        .filter(|(_, function)| !function.contains('/'))
        .collect();
    anyhow::ensure!(
        !functions.is_empty(),
        "no account#function key to make records for"
    );
    let mut records = Vec::new();
    let mut first_request = 0;
    let mut event_bytes = 16;
    loop {
        let (account, function) = functions[records.len() % functions.len()];
        let (payload, invocations) = megabyte_payload(account, function, first_request);
        let mut record = Vec::new();
        write_record(
            &mut record,
            records.len(),
            function,
            &gzip_base64(&payload)?,
            0,
        )?;
        if event_bytes + record.len() + 1 > EVENT_BYTES {
            break;
        }
        event_bytes += record.len() + 1;
        first_request += invocations;
        records.push(record);
    }
    Ok(join_records(&records))
}

/// A Kinesis event of at most [`EVENT_BYTES`] of gzip bombs, each inflating
/// to `inflated_bytes` of zeros.
pub fn bomb_event(inflated_bytes: usize) -> anyhow::Result<Vec<u8>> {
    let data = gzip_base64(&vec![0u8; inflated_bytes])?;
    let mut records = Vec::new();
    let mut event_bytes = 16;
    loop {
        let mut record = Vec::new();
        write_record(&mut record, records.len(), "bomb", &data, 0)?;
        if event_bytes + record.len() + 1 > EVENT_BYTES {
            break;
        }
        event_bytes += record.len() + 1;
        records.push(record);
    }
    Ok(join_records(&records))
}

fn join_records(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"{\"Records\":[".to_vec();
    for (index, record) in records.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(record);
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use lamlog_core::decode::{decode, DecodeErrorKind, DecodeLimits, Format, Record};

    use super::*;

    #[test]
    fn megabyte_records_fill_six_mb_and_each_inflates_to_about_a_megabyte() {
        use base64::Engine;

        let event = megabyte_records_event(&["123456789012#orders".to_owned()]).unwrap();
        assert!(event.len() <= EVENT_BYTES);
        let parsed: serde_json::Value = serde_json::from_slice(&event).unwrap();
        let records = parsed["Records"].as_array().unwrap();
        assert!(records.len() > 10, "{} records", records.len());
        for record in records {
            let gzip = base64::engine::general_purpose::STANDARD
                .decode(record["kinesis"]["data"].as_str().unwrap())
                .unwrap();
            let inflated = lamlog_core::decode::inflate(&gzip, 16 << 20).unwrap();
            assert!(
                inflated.len() > PAYLOAD_BYTES * 9 / 10 && inflated.len() <= PAYLOAD_BYTES,
                "{} bytes",
                inflated.len()
            );
        }
        let decoded = decode(&event, Format::Kinesis, &DecodeLimits::default()).records;
        assert!(decoded
            .iter()
            .all(|record| matches!(record, Ok(Record::Data(_)))));
    }

    #[test]
    fn every_bomb_passes_the_cap() {
        let limits = DecodeLimits::default();
        let event = bomb_event(limits.max_inflated_bytes + 1).unwrap();
        assert!(event.len() <= EVENT_BYTES);
        let records = decode(&event, Format::Kinesis, &limits).records;
        assert!(records.len() > 100, "{} records", records.len());
        for record in records {
            assert!(matches!(
                record,
                Err(error) if matches!(error.kind, DecodeErrorKind::TooLarge { .. })
            ));
        }
    }
}
