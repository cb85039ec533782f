//! Figures and identifiers that Lambda cannot produce make a line `other`,
//! with the reason that says why, in the text and the JSON formats alike.
//!
//! Application code can print text that looks like a platform line; if such a
//! line became a record with a 30-digit duration or a 4 KB request id, the
//! store would refuse it on every retry and block the shard. These tests read
//! the parse as `lamlog parse` prints it (serialised), so they check the
//! `kind` and `reason` names that the CLI and the metrics show.

use lamlog_core::parse::bounds::{
    MAX_BILLED_DURATION_MS, MAX_DURATION_MS, MAX_ID_BYTES, MAX_MEMORY_SIZE_MB, MAX_TIMEOUT_SECONDS,
    MIN_MEMORY_SIZE_MB,
};
use lamlog_core::parse::parse;
use serde_json::{json, Value};

const THIRTY_DIGITS: &str = "123456789012345678901234567890";

fn parsed(message: &str) -> Value {
    serde_json::to_value(parse(message)).expect("a LogLine always serialises")
}

/// Asserts that `message` parses to `other` for `reason`.
#[track_caller]
fn assert_other(message: &str, reason: &str) {
    let parsed = parsed(message);
    assert_eq!(
        (parsed["kind"].as_str(), parsed["reason"].as_str()),
        (Some("other"), Some(reason)),
        "message: {message:.200}\nparsed:  {parsed:.300}"
    );
}

/// A text REPORT with the fields given, in Lambda's order.
fn text_report(request_id: &str, duration: &str, billed: &str, memory: &str) -> String {
    format!(
        "REPORT RequestId: {request_id}\tDuration: {duration} ms\tBilled Duration: {billed} ms\tMemory Size: {memory} MB\tMax Memory Used: 60 MB\t\n"
    )
}

/// A `platform.report` record with the values given (any JSON).
fn json_report(request_id: Value, metrics: Value) -> String {
    json!({
        "time": "2024-05-20T16:29:45.022Z",
        "type": "platform.report",
        "record": {"requestId": request_id, "status": "success", "metrics": metrics},
    })
    .to_string()
}

fn metrics(duration_ms: Value, billed_ms: Value, memory_mb: Value) -> Value {
    json!({
        "durationMs": duration_ms,
        "billedDurationMs": billed_ms,
        "memorySizeMB": memory_mb,
        "maxMemoryUsedMB": 60,
    })
}

fn long_id() -> String {
    "a".repeat(4096)
}

#[test]
fn text_report_with_a_thirty_digit_duration_is_out_of_range() {
    assert_other(
        &text_report("r-1", THIRTY_DIGITS, "1", "128"),
        "figure_out_of_range",
    );
    assert_other(
        &text_report("r-1", "1.00", THIRTY_DIGITS, "128"),
        "figure_out_of_range",
    );
}

#[test]
fn text_report_with_memory_zero_or_a_hundred_thousand_is_out_of_range() {
    for memory in ["0", "100000", "99999999999"] {
        assert_other(
            &text_report("r-2", "1.00", "1", memory),
            "figure_out_of_range",
        );
    }
    let max_memory_too_large =
        "REPORT RequestId: r-2\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 100000 MB";
    assert_other(max_memory_too_large, "figure_out_of_range");
}

#[test]
fn text_report_with_a_4_kb_request_id_is_too_long() {
    assert_other(&text_report(&long_id(), "1.00", "1", "128"), "id_too_long");
}

#[test]
fn text_report_with_out_of_range_cold_start_figures() {
    for field in [
        "Init Duration: 99999999.00 ms",
        "Restore Duration: 99999999.00 ms",
        "Billed Restore Duration: 99999999 ms",
    ] {
        let line = format!("REPORT RequestId: r-3\tDuration: 1.00 ms\t{field}");
        assert_other(&line, "figure_out_of_range");
    }
    let trace = format!(
        "REPORT RequestId: r-3\tDuration: 1.00 ms\tXRAY TraceId: {}\tSampled: true",
        long_id()
    );
    assert_other(&trace, "id_too_long");
}

#[test]
fn json_report_with_a_thirty_digit_duration_is_out_of_range() {
    let duration: Value = serde_json::from_str(THIRTY_DIGITS).expect("a JSON number");
    assert_other(
        &json_report(
            json!("r-4"),
            metrics(duration.clone(), json!(1), json!(128)),
        ),
        "figure_out_of_range",
    );
    assert_other(
        &json_report(json!("r-4"), metrics(json!(1.5), duration, json!(128))),
        "figure_out_of_range",
    );
}

#[test]
fn json_report_with_memory_zero_or_a_hundred_thousand_is_out_of_range() {
    for memory in [json!(0), json!(100_000), json!(99_999_999_999_u64)] {
        assert_other(
            &json_report(json!("r-5"), metrics(json!(1.5), json!(2), memory)),
            "figure_out_of_range",
        );
    }
}

#[test]
fn json_report_with_negative_figures_is_out_of_range() {
    assert_other(
        &json_report(json!("r-6"), metrics(json!(-1.5), json!(2), json!(128))),
        "figure_out_of_range",
    );
    assert_other(
        &json_report(json!("r-6"), metrics(json!(1.5), json!(-2), json!(128))),
        "figure_out_of_range",
    );
}

#[test]
fn json_report_with_a_4_kb_request_id_is_too_long() {
    assert_other(
        &json_report(json!(long_id()), metrics(json!(1.5), json!(2), json!(128))),
        "id_too_long",
    );
}

#[test]
fn other_json_platform_records_are_bounded_too() {
    let start = json!({
        "type": "platform.start",
        "record": {"requestId": long_id(), "version": "$LATEST"},
    });
    assert_other(&start.to_string(), "id_too_long");
    let init_report = json!({
        "type": "platform.initReport",
        "record": {"phase": "init", "status": "success", "metrics": {"durationMs": 1e12}},
    });
    assert_other(&init_report.to_string(), "figure_out_of_range");
    let init_start = json!({
        "type": "platform.initStart",
        "record": {"runtimeVersion": long_id(), "phase": "init"},
    });
    assert_other(&init_start.to_string(), "id_too_long");
}

#[test]
fn absurd_timeouts_are_out_of_range() {
    assert_other(
        "Task timed out after 99999999.00 seconds",
        "figure_out_of_range",
    );
    assert_other(
        "2024-01-01T00:00:00.000Z r-7 Task timed out after 123456789012345678901234567890 seconds",
        "figure_out_of_range",
    );
    assert_other(
        "2024-01-01T00:00:00.000Z\tr-7\tTask timed out after 99999999.00 seconds\n",
        "figure_out_of_range",
    );
}

#[test]
fn long_ids_on_any_line_are_too_long() {
    let id = long_id();
    for message in [
        format!("START RequestId: {id} Version: $LATEST"),
        format!("START RequestId: r-8 Version: {id}"),
        format!("END RequestId: {id}"),
        format!("INIT_START Runtime Version: {id}\tRuntime Version ARN: arn:x"),
        format!(
            "RequestId: {id} Error: Runtime exited with error: exit status 1 Runtime.ExitError"
        ),
        format!("2024-01-01T00:00:00.000Z\t{id}\tERROR\tboom"),
        format!("[INFO]\t2024-01-01T00:00:00.000Z\t{id}\thello"),
        json!({"level": "ERROR", "requestId": id, "message": "boom"}).to_string(),
    ] {
        assert_other(&message, "id_too_long");
    }
}

#[test]
fn unreadable_and_unknown_lines_keep_their_reasons() {
    assert_other("REPORT invalid report log line", "unparsable_platform_line");
    assert_other(
        "REPORT RequestId: r-9 Duration: fast",
        "unparsable_platform_line",
    );
    assert_other(
        r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":"5"}}}"#,
        "unparsable_platform_line",
    );
    assert_other("hello from my function", "unrecognised");
    assert_other("Success!", "unrecognised");
    assert_other(r#"{"e":1,"m":"metric"}"#, "unrecognised");
}

/// Formats a duration bound the way Lambda prints durations (two decimals).
fn ms(value: f64) -> String {
    format!("{value:.2}")
}

#[test]
fn a_report_exactly_at_the_bounds_is_a_report() {
    let request_id = "r".repeat(MAX_ID_BYTES);
    let trace_id = "t".repeat(MAX_ID_BYTES);
    let line = format!(
        "REPORT RequestId: {request_id}\tDuration: {} ms\tBilled Duration: {MAX_BILLED_DURATION_MS} ms\tMemory Size: {MAX_MEMORY_SIZE_MB} MB\tMax Memory Used: {MAX_MEMORY_SIZE_MB} MB\tInit Duration: {} ms\tRestore Duration: {} ms\tBilled Restore Duration: {MAX_BILLED_DURATION_MS} ms\tXRAY TraceId: {trace_id}\tSegmentId: 0f\tSampled: true",
        ms(MAX_DURATION_MS),
        ms(MAX_DURATION_MS),
        ms(MAX_DURATION_MS),
    );
    let report = parsed(&line);
    assert_eq!(report["kind"], "report", "{report}");
    assert_eq!(report["duration_ms"].as_f64(), Some(MAX_DURATION_MS));
    assert_eq!(report["memory_size_mb"], MAX_MEMORY_SIZE_MB);
    assert_eq!(report["request_id"].as_str(), Some(request_id.as_str()));

    let smallest = text_report("r-10", "0.00", "0", &MIN_MEMORY_SIZE_MB.to_string());
    assert_eq!(parsed(&smallest)["kind"], "report");

    let record = json_report(
        json!(request_id),
        json!({
            "durationMs": MAX_DURATION_MS,
            "billedDurationMs": MAX_BILLED_DURATION_MS,
            "memorySizeMB": MAX_MEMORY_SIZE_MB,
            "maxMemoryUsedMB": MAX_MEMORY_SIZE_MB,
            "initDurationMs": MAX_DURATION_MS,
        }),
    );
    assert_eq!(parsed(&record)["kind"], "report", "{record}");

    let timeout = format!("Task timed out after {MAX_TIMEOUT_SECONDS:.2} seconds");
    assert_eq!(parsed(&timeout)["kind"], "timeout");
}

#[test]
fn a_report_just_past_the_bounds_is_other() {
    let over_id = "r".repeat(MAX_ID_BYTES + 1);
    assert_other(&text_report(&over_id, "1.00", "1", "128"), "id_too_long");
    let over_duration = ms(MAX_DURATION_MS + 0.01);
    assert_other(
        &text_report("r-11", &over_duration, "1", "128"),
        "figure_out_of_range",
    );
    let over_billed = (MAX_BILLED_DURATION_MS + 1).to_string();
    assert_other(
        &text_report("r-11", "1.00", &over_billed, "128"),
        "figure_out_of_range",
    );
    for memory in [MIN_MEMORY_SIZE_MB - 1, MAX_MEMORY_SIZE_MB + 1] {
        assert_other(
            &text_report("r-11", "1.00", "1", &memory.to_string()),
            "figure_out_of_range",
        );
        assert_other(
            &json_report(json!("r-11"), metrics(json!(1.5), json!(2), json!(memory))),
            "figure_out_of_range",
        );
    }
    let timeout = format!(
        "Task timed out after {:.2} seconds",
        MAX_TIMEOUT_SECONDS + 0.01
    );
    assert_other(&timeout, "figure_out_of_range");
}
