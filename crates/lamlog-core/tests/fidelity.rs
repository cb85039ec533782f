//! Shapes whose meaning is easy to get wrong, read the way they are written:
//!
//! - a REPORT or `platform.report` with error type `Runtime.ExitError` says
//!   the runtime process exited, which is a crash, in either format and with
//!   no separate "Runtime exited" line;
//! - the .NET runtime writes its levels in lower case, in its own words
//!   (`trce`, `dbug`, `info`, `warn`, `fail`, `crit`), and `fail` and `crit`
//!   are errors;
//! - functions that share a custom log group are told apart by their stream
//!   names, `YYYY/MM/DD/<function>[<version>]<environment id>`, as AWS
//!   documents them;
//! - an error document cut short (CloudWatch keeps at most 256 KB of an
//!   event, and a stack trace is long) still names its `errorType` when that
//!   field came before the cut.

use lamlog_core::assemble::{Assembler, Invocation, Status};
use lamlog_core::decode::{Envelope, LogEvent, SourcePosition};
use lamlog_core::parse::parse;
use serde_json::{json, Value};

/// Assembles `messages` as one log stream and returns its invocations.
fn assemble(messages: &[String]) -> Vec<Invocation> {
    let mut assembler = Assembler::new();
    for (index, message) in messages.iter().enumerate() {
        let time_ms = 1_700_000_000_000 + index as i64;
        assembler.add_line(
            "123456789012",
            "/aws/lambda/fn",
            Some(time_ms),
            &parse(message),
        );
    }
    assembler.finish().0
}

/// The one invocation of `messages`, with its status and error type.
fn outcome(messages: &[String]) -> (Status, Option<String>) {
    let invocations = assemble(messages);
    assert_eq!(invocations.len(), 1, "{invocations:?}");
    (invocations[0].status(), invocations[0].error_type.clone())
}

fn parsed(message: &str) -> Value {
    serde_json::to_value(parse(message)).expect("a LogLine always serialises")
}

fn text_report(status: &str) -> String {
    format!("REPORT RequestId: r-1\tDuration: 12.00 ms\tBilled Duration: 12 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t{status}\n")
}

fn json_report(status: &str, error_type: Option<&str>) -> String {
    let mut record = json!({
        "requestId": "r-1",
        "status": status,
        "metrics": {"durationMs": 12.0, "billedDurationMs": 12, "memorySizeMB": 128, "maxMemoryUsedMB": 60},
    });
    if let Some(error_type) = error_type {
        record["errorType"] = json!(error_type);
    }
    json!({"time": "2024-05-20T16:29:45.022Z", "type": "platform.report", "record": record})
        .to_string()
}

const EXIT_ERROR: &str = "Runtime.ExitError";

#[test]
fn a_text_report_with_runtime_exit_error_is_a_crash() {
    let report = text_report("Status: error\tError Type: Runtime.ExitError");
    assert_eq!(
        outcome(&[report]),
        (Status::Crash, Some(EXIT_ERROR.to_owned()))
    );
}

#[test]
fn a_json_report_with_runtime_exit_error_is_a_crash() {
    for status in ["error", "failure"] {
        let report = json_report(status, Some(EXIT_ERROR));
        assert_eq!(
            outcome(&[report]),
            (Status::Crash, Some(EXIT_ERROR.to_owned())),
            "{status}"
        );
    }
}

#[test]
fn both_formats_agree_and_other_error_types_keep_their_status() {
    let text = outcome(&[text_report("Status: error\tError Type: Runtime.ExitError")]);
    let json = outcome(&[json_report("error", Some(EXIT_ERROR))]);
    assert_eq!(text, json);
    assert_eq!(
        outcome(&[json_report("error", Some("Runtime.OutOfMemory"))]).0,
        Status::Oom
    );
    assert_eq!(
        outcome(&[json_report("error", Some("Runtime.Unknown"))]).0,
        Status::Error
    );
    assert_eq!(
        outcome(&[text_report("Status: error\tError Type: Runtime.Unknown")]).0,
        Status::Error
    );
    // A crash line that says the process was killed still means out of memory.
    let killed =
        "RequestId: r-1 Error: Runtime exited with error: signal: killed\nRuntime.ExitError\n";
    assert_eq!(
        outcome(&[json_report("error", Some(EXIT_ERROR)), killed.to_owned()]).0,
        Status::Oom
    );
}

/// A .NET line: `<time>\t<request id>\t<level>\t<message>`.
fn dotnet_line(level: &str) -> String {
    format!("2024-05-20T16:29:45.009Z\tr-2\t{level}\tOrderService: something happened\n")
}

#[test]
fn dotnet_levels_are_levels() {
    for level in ["trce", "dbug", "info", "warn"] {
        let line = parsed(&dotnet_line(level));
        assert_eq!(line["kind"], "app", "{level}: {line}");
        assert_eq!(line["level"], level, "{level}: {line}");
        assert_eq!(line["request_id"], "r-2", "{level}: {line}");
    }
}

#[test]
fn dotnet_fail_and_crit_are_errors() {
    for level in ["fail", "crit"] {
        let line = parsed(&dotnet_line(level));
        assert_eq!(line["kind"], "app_error", "{level}: {line}");
        assert_eq!(line["level"], level, "{level}: {line}");
        let report = text_report("");
        let report = report.replace("r-1", "r-2");
        assert_eq!(
            outcome(&[dotnet_line(level), report]).0,
            Status::Error,
            "{level}"
        );
    }
}

/// Node's handler error line, with its JSON document cut after `keep` bytes.
fn node_invoke_error(document: &str, keep: usize) -> String {
    format!(
        "2024-05-20T16:29:45.009Z\tr-3\tERROR\tInvoke Error \t{}",
        &document[..keep]
    )
}

const NODE_ERROR: &str = r#"{"errorType":"TypeError","errorMessage":"x is not a function","stack":["TypeError: x is not a function","    at Runtime.handler (file:///var/task/index.mjs:3:5)","    at Runtime.handleOnceNonStreaming (file:///var/runtime/index.mjs:1173:29)"]}"#;

#[test]
fn a_node_error_cut_in_its_stack_keeps_its_error_type() {
    let cut_in_stack = NODE_ERROR.find("Runtime.handler").expect("a stack frame");
    for keep in [cut_in_stack, NODE_ERROR.len() - 3, NODE_ERROR.len()] {
        let line = parsed(&node_invoke_error(NODE_ERROR, keep));
        assert_eq!(line["kind"], "app_error", "{line}");
        assert_eq!(line["error_type"], "TypeError", "cut at {keep}: {line}");
        assert_eq!(line["request_id"], "r-3", "{line}");
    }
}

#[test]
fn a_node_error_cut_inside_its_error_type_has_none() {
    let cut_in_type = NODE_ERROR.find("TypeError").expect("the type") + 4;
    let line = parsed(&node_invoke_error(NODE_ERROR, cut_in_type));
    assert_eq!(line["kind"], "app_error", "{line}");
    assert_eq!(line.get("error_type"), None, "{line}");
}

#[test]
fn a_json_error_log_cut_short_keeps_its_error_type() {
    let document = r#"{"timestamp":"2024-01-01T00:00:00Z","log_level":"ERROR","errorMessage":"boom","errorType":"KeyError","requestId":"r-4","stackTrace":["  File \"/var/task/app.py\", line 3, in handler\n"#;
    let line = parsed(document);
    assert_eq!(line["kind"], "app_error", "{line}");
    assert_eq!(line["error_type"], "KeyError", "{line}");
    assert_eq!(line["request_id"], "r-4", "{line}");
    assert_eq!(line["level"], "ERROR", "{line}");
    // Cut before the error type: nothing to go by.
    let before_type = &document[..document.find("errorType").expect("the key")];
    assert_eq!(parsed(before_type)["kind"], "other");
}

fn envelope(log_group: &str, log_stream: &str, messages: &[String]) -> Envelope {
    Envelope {
        owner: Some("123456789012".to_owned()),
        log_group: Some(log_group.to_owned()),
        log_stream: Some(log_stream.to_owned()),
        position: SourcePosition::default(),
        events: messages
            .iter()
            .map(|message| LogEvent {
                id: None,
                timestamp_ms: Some(1_700_000_000_000),
                message: message.clone(),
            })
            .collect(),
    }
}

#[test]
fn functions_sharing_a_custom_log_group_are_told_apart_by_stream() {
    let report = |request_id: &str| {
        format!("REPORT RequestId: {request_id}\tDuration: 12.00 ms\tBilled Duration: 12 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t\n")
    };
    let mut assembler = Assembler::new();
    for (stream, request_id) in [
        ("2024/05/20/orders[$LATEST]0a1b2c3d", "r-1"),
        ("2024/05/20/billing[7]ffee0011", "r-2"),
        ("2024/05/20/orders[$LATEST]99887766", "r-3"),
        ("not-a-lambda-stream", "r-4"),
    ] {
        assembler.add_envelope(&envelope("/shared/app-logs", stream, &[report(request_id)]));
    }
    let invocations = assembler.finish().0;
    let seen: Vec<(&str, &str, Option<&str>)> = invocations
        .iter()
        .map(|invocation| {
            (
                invocation.function.as_str(),
                invocation.request_id.as_str(),
                invocation.version.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("/shared/app-logs", "r-4", None),
            ("billing", "r-2", Some("7")),
            ("orders", "r-1", Some("$LATEST")),
            ("orders", "r-3", Some("$LATEST")),
        ]
    );
    assert!(invocations
        .iter()
        .all(|invocation| invocation.log_group == "/shared/app-logs"));
}

#[test]
fn a_functions_own_log_group_still_names_it_whatever_the_stream() {
    let mut assembler = Assembler::new();
    let report = "REPORT RequestId: r-1\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t\n".to_owned();
    assembler.add_envelope(&envelope(
        "/aws/lambda/orders",
        "2024/05/20/[$LATEST]0a1b2c3d",
        &[report],
    ));
    let invocations = assembler.finish().0;
    assert_eq!(invocations[0].function, "orders");
    assert_eq!(
        invocations[0].version, None,
        "START gives the version there"
    );
}
