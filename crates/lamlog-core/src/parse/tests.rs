//! Cases of [`parse`] that the shared corpus does not hold: each one is a
//! shape we expect from the formats' documentation or the runtimes' code.

use std::borrow::Cow;

use super::*;

fn app_error(request_id: Option<&str>, level: Option<&str>, error_type: &str) -> LogLine<'static> {
    LogLine::AppError {
        request_id: request_id.map(|id| Cow::Owned(id.to_owned())),
        level: level.map(|level| Cow::Owned(level.to_owned())),
        error_type: Some(Cow::Owned(error_type.to_owned())),
    }
}

#[test]
fn json_unhandled_error_with_log_level() {
    let message = r#"{"timestamp":"2024-01-01T00:00:00Z","log_level":"ERROR","errorMessage":"boom","errorType":"KeyError","requestId":"r-1","stackTrace":["a"]}"#;
    assert_eq!(
        parse(message),
        app_error(Some("r-1"), Some("ERROR"), "KeyError")
    );
}

#[test]
fn json_error_document_without_level() {
    let message = r#"{"errorMessage":"something went wrong!","errorType":"errorString"}"#;
    assert_eq!(parse(message), app_error(None, None, "errorString"));
}

#[test]
fn json_app_log_levels() {
    let info = parse(r#"{"level":"info","message":"hi","requestId":"r-2"}"#);
    assert_eq!(
        info,
        LogLine::App {
            request_id: Some("r-2".into()),
            level: Some("info".into()),
        }
    );
    let fatal = parse(r#"{"level":"fatal","message":"bye"}"#);
    assert!(matches!(
        fatal,
        LogLine::AppError {
            error_type: None,
            ..
        }
    ));
    // pino writes numeric levels; the line is still the function's.
    let pino = parse(r#"{"level":30,"requestId":"r-3","msg":"x","type":{"a":1}}"#);
    assert!(matches!(pino, LogLine::App { level: None, .. }));
}

#[test]
fn json_report_with_full_tracing_and_error() {
    let message = r#"{"type":"platform.report","time":"t","record":{"status":"error","errorType":"Runtime.ExitError","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-abc-def;Parent=0123456789abcdef;Sampled=0"},"metrics":{"durationMs":5,"billedDurationMs":5.0,"memorySizeMB":128,"maxMemoryUsedMB":20,"restoreDurationMs":1.5,"billedRestoreDurationMs":2},"requestId":"r-4"}}"#;
    let LogLine::Report(report) = parse(message) else {
        panic!("not a report")
    };
    assert_eq!(report.request_id, "r-4");
    assert_eq!(report.duration_ms, Some(5.0));
    assert_eq!(report.billed_duration_ms, Some(5));
    assert_eq!(report.restore_duration_ms, Some(1.5));
    assert_eq!(report.billed_restore_duration_ms, Some(2));
    assert_eq!(report.status, Some(ReportStatus::Error));
    assert_eq!(report.error_type.as_deref(), Some("Runtime.ExitError"));
    assert_eq!(report.xray_trace_id.as_deref(), Some("1-abc-def"));
    assert_eq!(report.xray_segment_id.as_deref(), Some("0123456789abcdef"));
    assert_eq!(report.xray_sampled, Some(false));
    assert!(matches!(report.request_id, Cow::Borrowed(_)));
}

fn other(reason: OtherReason) -> LogLine<'static> {
    LogLine::Other { reason }
}

#[test]
fn json_report_with_bad_figures_is_other() {
    let message = r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":5,"billedDurationMs":5.5}}}"#;
    assert_eq!(parse(message), other(OtherReason::UnparsablePlatformLine));
    let message =
        r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":"5"}}}"#;
    assert_eq!(parse(message), other(OtherReason::UnparsablePlatformLine));
    let message = r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":5,"memorySizeMB":1e20}}}"#;
    assert_eq!(parse(message), other(OtherReason::FigureOutOfRange));
}

#[test]
fn json_report_without_figures_is_platform_json() {
    let message = r#"{"type":"platform.report","record":{"requestId":"r","status":"success"}}"#;
    assert_eq!(
        parse(message),
        LogLine::PlatformJson {
            record_type: "platform.report".into(),
            request_id: Some("r".into()),
            status: Some("success".into()),
        }
    );
}

#[test]
fn json_report_with_empty_request_id_is_platform_json() {
    let message =
        r#"{"type":"platform.report","record":{"requestId":"","metrics":{"durationMs":1}}}"#;
    assert!(matches!(parse(message), LogLine::PlatformJson { .. }));
}

#[test]
fn json_init_start_says_how_the_environment_starts() {
    use super::InitializationType;
    let line = |kind: &str| {
        format!(
            r#"{{"time":"t","type":"platform.initStart","record":{{"initializationType":"{kind}","phase":"init","runtimeVersion":"python:3.13.v14","runtimeVersionArn":"arn:x","functionName":"f","functionVersion":"$LATEST"}}}}"#
        )
    };
    for (kind, expected) in [
        ("on-demand", Some(InitializationType::OnDemand)),
        (
            "provisioned-concurrency",
            Some(InitializationType::ProvisionedConcurrency),
        ),
        ("snap-start", Some(InitializationType::SnapStart)),
        ("someday", None),
    ] {
        assert_eq!(
            parse(&line(kind)),
            LogLine::InitStart {
                runtime_version: Some("python:3.13.v14".into()),
                runtime_version_arn: Some("arn:x".into()),
                initialization_type: expected,
            },
            "{kind}"
        );
    }
}

#[test]
fn json_restore_records_are_platform_json() {
    let message = r#"{"time":"t","type":"platform.restoreReport","record":{"status":"success","metrics":{"durationMs":474.16}}}"#;
    assert!(matches!(parse(message), LogLine::PlatformJson { .. }));
}

#[test]
fn broken_json_is_other() {
    for message in [
        "{",
        "{\"type\":",
        "{}",
        "{\"a\":1} trailing",
        "{\"type\":\"platform.start\",\"type\":\"x\"}",
    ] {
        assert_eq!(
            parse(message),
            other(OtherReason::Unrecognised),
            "{message:?}"
        );
    }
}

#[test]
fn escaped_json_strings_are_owned() {
    let message = r#"{"level":"INFO","requestId":"r\u002d5"}"#;
    let LogLine::App { request_id, .. } = parse(message) else {
        panic!("not an app line")
    };
    assert_eq!(request_id.as_deref(), Some("r-5"));
}

#[test]
fn out_of_memory_signatures() {
    assert_eq!(
        parse("[ERROR] MemoryError\rTraceback (most recent call last):\r"),
        app_error(None, Some("ERROR"), OUT_OF_MEMORY)
    );
    assert_eq!(
        parse("[ERROR]\t2024-01-01T00:00:00.000Z\tr-6\tcaught MemoryError\n"),
        app_error(Some("r-6"), Some("ERROR"), OUT_OF_MEMORY)
    );
    assert_eq!(
        parse("/var/task/app.rb:3: failed to allocate memory (NoMemoryError)"),
        app_error(None, None, OUT_OF_MEMORY)
    );
    assert_eq!(
        parse("fatal error: runtime: out of memory\n\ngoroutine 1 [running]:"),
        app_error(None, None, OUT_OF_MEMORY)
    );
    assert_eq!(
        parse("2024-01-01T00:00:00.000Z\tr-7\tINFO\t<--- JS stacktrace --->\nFATAL ERROR: JavaScript heap out of memory"),
        app_error(Some("r-7"), Some("INFO"), OUT_OF_MEMORY)
    );
    assert_eq!(
        parse(r#"{"errorType":"MemoryError","errorMessage":"","requestId":"r-8"}"#),
        app_error(Some("r-8"), None, OUT_OF_MEMORY)
    );
}

#[test]
fn platform_lines_are_not_scanned_for_out_of_memory() {
    let message =
        "REPORT RequestId: r\tDuration: 1.00 ms\tStatus: error\tError Type: Runtime.OutOfMemory";
    assert!(matches!(parse(message), LogLine::Report(_)));
}

#[test]
fn timeout_lines_with_tabs_and_crlf() {
    assert_eq!(
        parse("2024-01-01T00:00:00.000Z\tr-9\tTask timed out after 3.05 seconds\r\n"),
        LogLine::Timeout {
            request_id: Some("r-9".into()),
            timeout_seconds: 3.05,
        }
    );
}

#[test]
fn report_with_crlf_endings() {
    let message = "REPORT RequestId: r\r\nDuration: 2.00 ms\r\nBilled Duration: 2 ms\r\n";
    let LogLine::Report(report) = parse(message) else {
        panic!("not a report")
    };
    assert_eq!(report.request_id, "r");
    assert_eq!(report.billed_duration_ms, Some(2));
}

#[test]
fn text_lines_borrow() {
    let message = "START RequestId: r-10 Version: 7\n";
    let LogLine::Start {
        request_id,
        version,
    } = parse(message)
    else {
        panic!("not a start line")
    };
    assert!(matches!(request_id, Cow::Borrowed("r-10")));
    assert!(matches!(version, Some(Cow::Borrowed("7"))));
}

#[test]
fn leading_whitespace_and_empty_messages() {
    let unrecognised = other(OtherReason::Unrecognised);
    assert_eq!(parse(""), unrecognised);
    assert_eq!(parse(" \n\t"), unrecognised);
    assert!(matches!(parse("\nEND RequestId: r"), LogLine::End { .. }));
    assert_eq!(parse("\u{a0}END RequestId: r"), unrecognised);
}

#[test]
fn deep_json_nesting_is_refused_not_overflowed() {
    let depth = 100_000;
    for key in ["level", "unknown", "record"] {
        let message = format!("{{\"{key}\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(parse(&message), other(OtherReason::Unrecognised), "{key}");
    }
}

#[test]
fn oom_kill_after_a_newline_is_killed() {
    let message =
        "RequestId: r-11 Error: Runtime exited with error: signal: killed\nRuntime.ExitError\n";
    assert_eq!(
        parse(message),
        LogLine::Crash {
            request_id: "r-11".into(),
            error_type: Some("Runtime.ExitError".into()),
            killed: true,
        }
    );
}
