//! `lamlog ingest` reads inputs of any size in bounded batches: a valid
//! pretty-printed Kinesis or CloudWatch JSON file over 8 MB is read whole
//! (no dead letters), a dead letter of a large line file names its line and
//! byte in the file, and `--batch-records` bounds the records per commit.

use base64::Engine;
use std::path::{Path, PathBuf};

use crate::support::cli;

fn ingest(input: &Path, db: &Path, extra: &[&str]) -> serde_json::Value {
    let (input, db) = (input.to_str().unwrap(), db.to_str().unwrap());
    let args: Vec<&str> = ["ingest", input, "--db", db, "--json"]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    serde_json::from_slice(&cli::lamlog(&args).stdout).unwrap()
}

fn workdir(name: &str) -> PathBuf {
    let directory =
        std::env::temp_dir().join(format!("lamlog-bounded-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

/// Lines of padding per payload, and their length.
const FILLER_LINES: usize = 700;
const FILLER_BYTES: usize = 1000;

/// A subscription payload: one invocation (`req-{index}`, START and REPORT)
/// and `FILLER_LINES` application lines.
fn payload(index: usize) -> serde_json::Value {
    let request_id = format!("req-{index}");
    let mut messages = vec![format!("START RequestId: {request_id} Version: $LATEST\n")];
    messages.extend((0..FILLER_LINES).map(|_| format!("{}\n", "a".repeat(FILLER_BYTES - 1))));
    messages.push(format!(
        "REPORT RequestId: {request_id}\tDuration: 5.00 ms\tBilled Duration: 5 ms\tMemory Size: 128 MB\tMax Memory Used: 30 MB\t\n"
    ));
    let log_events: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(event, message)| {
            serde_json::json!({"id": format!("{index}{event:06}"),
                               "timestamp": 1_793_491_200_000_i64 + event as i64,
                               "message": message})
        })
        .collect();
    serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012",
        "logGroup": "/aws/lambda/orders", "logStream": "s",
        "subscriptionFilters": ["lamlog"], "logEvents": log_events,
    })
}

/// A Kinesis event of `records` records, `payload(0)`, `payload(1)`…
fn kinesis_event(records: usize) -> serde_json::Value {
    let event_records: Vec<serde_json::Value> = (0..records)
        .map(|index| {
            let data = base64::engine::general_purpose::STANDARD
                .encode(serde_json::to_vec(&payload(index)).unwrap());
            serde_json::json!({"kinesis": {"data": data, "sequenceNumber": format!("{index:056}")},
                               "eventSource": "aws:kinesis"})
        })
        .collect();
    serde_json::json!({ "Records": event_records })
}

/// Ingests `bytes`, a JSON input over 8 MB, into a new database; checks
/// that nothing of it was dead-lettered and answers the summary.
fn ingest_large_json(name: &str, bytes: &[u8]) -> serde_json::Value {
    assert!(bytes.len() > 8 << 20, "{} bytes", bytes.len());
    let directory = workdir(name);
    let file = directory.join("input.json");
    std::fs::write(&file, bytes).unwrap();
    let summary = ingest(&file, &directory.join("lamlog.db"), &[]);
    assert_eq!(summary["dead_letters"], 0, "{summary}");
    assert_eq!(summary["undecodable_records"], 0, "{summary}");
    let _ = std::fs::remove_dir_all(&directory);
    summary
}

#[test]
fn a_pretty_printed_kinesis_event_over_8_mb_is_read_whole() {
    let records = 12;
    let event = serde_json::to_vec_pretty(&kinesis_event(records)).unwrap();
    let summary = ingest_large_json("kinesis", &event);
    assert_eq!(summary["records"], records);
    assert_eq!(summary["inserted"], records);
    assert_eq!(summary["lines"], records * (FILLER_LINES + 2));
}

#[test]
fn a_pretty_printed_cloudwatch_payload_over_8_mb_is_read_whole() {
    // Pretty-printed documents back to back, as a CloudWatch export may be.
    let mut file_bytes = Vec::new();
    let documents = 12;
    for index in 0..documents {
        file_bytes.extend(serde_json::to_vec_pretty(&payload(index)).unwrap());
        file_bytes.push(b'\n');
    }
    let summary = ingest_large_json("cwl", &file_bytes);
    assert_eq!(summary["records"], documents);
    assert_eq!(summary["inserted"], documents);
}

#[test]
fn dead_letters_of_a_large_line_file_name_their_line_and_byte_in_the_file() {
    let directory = workdir("lines");
    let line = format!("{}\n", "b".repeat(FILLER_BYTES - 1));
    let total_lines = 12_000; // 12 MB: several pieces
    let bad_lines = [5, 4_500, 9_000, 11_999];
    let mut file_bytes = Vec::new();
    let mut expected = Vec::new();
    for index in 0..total_lines {
        if bad_lines.contains(&index) {
            expected.push((index as i64, file_bytes.len() as i64));
            file_bytes.extend_from_slice(b"not utf-8: \xff\n");
        } else {
            file_bytes.extend_from_slice(line.as_bytes());
        }
    }
    let file = directory.join("app.log");
    std::fs::write(&file, &file_bytes).unwrap();
    let db = directory.join("lamlog.db");
    let summary = ingest(&file, &db, &[]);
    assert_eq!(summary["dead_letters"], bad_lines.len());
    assert_eq!(summary["lines"], total_lines - bad_lines.len());
    let connection = rusqlite::Connection::open(&db).unwrap();
    let mut statement = connection
        .prepare("SELECT record_index, byte_offset, raw FROM dead_letters ORDER BY record_index")
        .unwrap();
    let stored: Vec<(i64, i64, Vec<u8>)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let positions: Vec<(i64, i64)> = stored
        .iter()
        .map(|(line, byte, _)| (*line, *byte))
        .collect();
    assert_eq!(positions, expected);
    for (_, byte_offset, raw) in &stored {
        let at = *byte_offset as usize;
        assert_eq!(
            &file_bytes[at..at + raw.len()],
            &raw[..],
            "raw bytes at the offset"
        );
    }
    drop(statement);
    drop(connection);
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn batch_records_bounds_the_records_of_a_commit() {
    let directory = workdir("batches");
    let file = directory.join("event.json");
    std::fs::write(&file, serde_json::to_vec(&kinesis_event(5)).unwrap()).unwrap();
    let summary = ingest(
        &file,
        &directory.join("lamlog.db"),
        &["--batch-records", "2"],
    );
    assert_eq!(summary["batches"], 3, "5 records, 2 a batch");
    assert_eq!(summary["inserted"], 5);
    let _ = std::fs::remove_dir_all(&directory);
}
