//! `lamlog parse` through the real binary: NDJSON out with the data-model
//! field names and the envelope's context, bad records on stderr with their
//! position, exit 0 unless `--strict`.

use std::io::Write;
use std::process::{Command, Stdio};

fn run(args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lamlog"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn kinesis_event_with_a_bad_record() -> Vec<u8> {
    use base64::Engine;
    let payload = serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/lambda/orders",
        "logStream": "2026/11/01/[$LATEST]abc", "subscriptionFilters": ["s"],
        "logEvents": [
            {"id": "3".repeat(56), "timestamp": 1_793_491_200_000_i64,
             "message": "REPORT RequestId: r-1\tDuration: 46.84 ms\tBilled Duration: 47 ms \tMemory Size: 192 MB\tMax Memory Used: 72 MB\t\n"},
            {"id": "4".repeat(56), "timestamp": 1_793_491_200_001_i64, "message": "hello from my function\n"},
        ],
    });
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(payload.to_string().as_bytes()).unwrap();
    let data = base64::engine::general_purpose::STANDARD.encode(encoder.finish().unwrap());
    serde_json::to_vec(&serde_json::json!({"Records": [
        {"kinesis": {"data": "%%% not base64 %%%", "sequenceNumber": "49590338271490256608559692538361571095921575989136588898"}, "eventID": "shardId-000000000000:1"},
        {"kinesis": {"data": data, "sequenceNumber": "49590338271490256608559692538361571095921575989136588899"}, "eventID": "shardId-000000000000:2"},
    ]}))
    .unwrap()
}

#[test]
fn parse_prints_fields_and_reports_bad_records_with_their_position() {
    let output = run(&["parse"], &kinesis_event_with_a_bad_record());
    assert!(output.status.success(), "exit 0 without --strict");
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let report = &lines[0];
    assert_eq!(report["kind"], "report");
    assert_eq!(report["request_id"], "r-1");
    assert_eq!(report["duration_ms"], 46.84);
    assert_eq!(report["billed_duration_ms"], 47);
    assert_eq!(report["memory_size_mb"], 192);
    assert_eq!(report["account"], "123456789012");
    assert_eq!(report["log_group"], "/aws/lambda/orders");
    assert_eq!(report["timestamp"], 1_793_491_200_000_i64);
    assert!(
        report.get("init_duration_ms").is_none(),
        "absent fields are omitted"
    );
    assert_eq!(lines[1]["kind"], "other");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("record 0"), "{stderr}");
    assert!(
        stderr.contains("49590338271490256608559692538361571095921575989136588898"),
        "{stderr}"
    );
    assert!(stderr.contains("base64"), "{stderr}");

    let strict = run(&["parse", "--strict"], &kinesis_event_with_a_bad_record());
    assert_eq!(strict.status.code(), Some(1));
}

#[test]
fn parse_reads_plain_lines_from_stdin() {
    let output = run(
        &["parse", "--format", "lines"],
        b"START RequestId: abc Version: $LATEST\n2018-05-17T06:46:28.161Z abc Task timed out after 18.02 seconds\n",
    );
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let kinds: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(kinds[0]["kind"], "start");
    assert_eq!(kinds[0]["version"], "$LATEST");
    assert_eq!(kinds[1]["kind"], "timeout");
    assert_eq!(kinds[1]["timeout_seconds"], 18.02);
}
