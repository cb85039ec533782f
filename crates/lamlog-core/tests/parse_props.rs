//! Properties of `parse` over any input: it never panics, and never yields a
//! half-filled report or a figure past the bounds. (REPORT round trips and
//! reports past a bound are in `report_props.rs`.)
//!
//! Arbitrary strings rarely get past the first byte, so a third generator
//! glues together fragments of platform lines to reach the field scanner,
//! the timestamp and Python paths and the JSON classifier.

use lamlog_core::parse::bounds::{
    MAX_BILLED_DURATION_MS, MAX_DURATION_MS, MAX_ID_BYTES, MAX_MEMORY_SIZE_MB, MAX_TIMEOUT_SECONDS,
    MIN_MEMORY_SIZE_MB,
};
use lamlog_core::parse::{parse, LogLine, Report};
use proptest::prelude::*;
use proptest::sample::select;

/// What every parse must satisfy, whatever the input.
fn check_invariants(message: &str) {
    let parsed = parse(message);
    if let LogLine::Report(report) = &parsed {
        assert!(!report.request_id.is_empty(), "report without request id");
        assert!(report.duration_ms.is_some(), "report without duration");
        assert_report_within_bounds(report);
    }
    if let LogLine::Timeout {
        timeout_seconds, ..
    } = &parsed
    {
        assert!((0.0..=MAX_TIMEOUT_SECONDS).contains(timeout_seconds));
    }
    if let LogLine::Start { request_id, .. } | LogLine::End { request_id } = &parsed {
        assert!(!request_id.is_empty());
    }
    serde_json::to_value(&parsed).expect("a LogLine always serialises");
}

/// Every figure and id of a report is one Lambda could produce.
fn assert_report_within_bounds(report: &Report<'_>) {
    let durations = [
        report.duration_ms,
        report.init_duration_ms,
        report.restore_duration_ms,
    ];
    for duration_ms in durations.into_iter().flatten() {
        assert!((0.0..=MAX_DURATION_MS).contains(&duration_ms), "{report:?}");
    }
    let billed = [report.billed_duration_ms, report.billed_restore_duration_ms];
    for billed_ms in billed.into_iter().flatten() {
        assert!(billed_ms <= MAX_BILLED_DURATION_MS, "{report:?}");
    }
    if let Some(memory_mb) = report.memory_size_mb {
        assert!((MIN_MEMORY_SIZE_MB..=MAX_MEMORY_SIZE_MB).contains(&memory_mb));
    }
    assert!(report.max_memory_used_mb.unwrap_or(0) <= MAX_MEMORY_SIZE_MB);
    let ids = [&report.xray_trace_id, &report.xray_segment_id];
    for id in ids.into_iter().flatten().chain([&report.request_id]) {
        assert!(id.len() <= MAX_ID_BYTES, "{report:?}");
    }
}

/// How lines begin: the first bytes pick the parser, so start with them.
#[rustfmt::skip]
const HEADS: &[&str] = &[
    "", "REPORT ", "REPORT\t", "START ", "END ", "INIT_START ", "INIT_REPORT ", "EXTENSION\t",
    "TELEMETRY\t", "LOGS\t", "RequestId: r1 ", "RequestId: r1 Error: ", "Task ",
    "2024-01-01T00:00:00.000Z\t", "2024-01-01T00:00:00.000Z\tr1\t",
    "2024-01-01T00:00:00.000Z\tr1\tERROR\t", "2024-01-01T00:00:00.000Z ",
    "2024-01-01T00:00:00.000Z r1 ", "[ERROR] ", "[INFO]\t", "[ERROR]\t", "{",
    "{\"type\":\"platform.report\",\"record\":{\"requestId\":\"r\",\"metrics\":{",
    "{\"type\":\"platform.start\",\"record\":", "{\"level\":", "{\"errorType\":",
];

/// Whole `Key: value` pairs, good and bad, so that scans get deep.
#[rustfmt::skip]
const FIELDS: &[&str] = &[
    "RequestId: r1\t", "Duration: 1.00 ms\t", "Duration:\t2 ms ", "Billed Duration: 3 ms \t",
    "Memory Size: 128 MB\t", "Max Memory Used: 64 MB", "Init Duration: 5.5 ms",
    "Restore Duration: 1.00 ms\t", "Billed Restore Duration: 2 ms", "\nXRAY TraceId: 1-a-b\t",
    "SegmentId: 0f\t", "Sampled: true", "Status: error\t", "Status: timeout", "Error Type: X.Y",
    "Phase: init\t", "Runtime Version: python:3.13\t", "Runtime Version ARN: arn:a::b",
    "Version: $LATEST", "Name: ext\t", "State: Ready\t", "Task timed out after 3.00 seconds",
    "\"durationMs\":1.5,", "\"billedDurationMs\":2,", "\"memorySizeMB\":128", "}}", "}",
    "\"status\":\"error\"", "Invoke Error \t{\"errorType\":\"E\"}",
];

/// Pieces of every shape, to be glued in any order.
#[rustfmt::skip]
const FRAGMENTS: &[&str] = &[
    "REPORT", "START", "END", "INIT_START", "INIT_REPORT", "EXTENSION", "TELEMETRY", "LOGS",
    "RESTORE_START", " ", "  ", "\t", "\t\n", "\n", "\r", "\r\n", ":", ".", "RequestId: ",
    "RequestId:", "Duration: ", "\tDuration: ", "Billed Duration: ", "Memory Size: ",
    "Max Memory Used: ", "Init Duration: ", "Restore Duration: ", "Billed Restore Duration: ",
    "XRAY TraceId: ", "SegmentId: ", "Sampled: ", "true", "maybe", "Status: ", "error", "timeout",
    "Error Type: ", "Phase: ", "init", "invoke", "Runtime Version: ", "Runtime Version ARN: ",
    "Version: ", "Name: ", "State: ", "ms", " ms", "MB", " MB", "0", "7", "12", "3.5", "1.2.3",
    "99999999999999999999", "-1", "Error: ", "Runtime.ExitError", "signal: killed",
    "Process exited before completing request", "Task timed out after ", " seconds",
    "2024-01-01T00:00:00.000Z", "2024-01-01", "undefined", "abc-123", "[ERROR]", "[INFO]", "[", "]",
    "ERROR", "INFO", "Invoke Error \t", "Uncaught Exception \t", "{", "}", "[]", "\"", ",",
    "{\"type\":\"platform.report\",\"record\":{", "\"type\":\"platform.start\"", "\"requestId\":\"r\"",
    "\"requestId\":7", "\"metrics\":{\"durationMs\":1.5", "\"billedDurationMs\":2.5",
    "\"memorySizeMB\":-3", "\"status\":\"timeout\"",
    "\"tracing\":{\"value\":\"Root=1;Parent=2;Sampled=1\"}", "\"tracing\":\"x\"", "\"level\":",
    "\"log_level\":\"ERROR\"", "\"errorType\":\"x\"", "\\u00e9", "MemoryError",
    "JavaScript heap out of m", "emory", "runtime: out of memory", "\u{a0}", "é", "日本",
];

proptest! {
    #[test]
    fn never_panics_on_any_string(message in any::<String>()) {
        check_invariants(&message);
    }

    #[test]
    fn never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        check_invariants(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn never_panics_on_platform_fragments(
        head in select(HEADS),
        parts in prop::collection::vec(
            prop_oneof![
                3 => select(FIELDS).prop_map(str::to_owned),
                3 => select(FRAGMENTS).prop_map(str::to_owned),
                1 => any::<String>(),
            ],
            0..30,
        )
    ) {
        check_invariants(&format!("{head}{}", parts.concat()));
    }
}
