//! Application log lines: what the function's own code prints.
//!
//! Each runtime has its own shape (see LOG_FORMATS.md §3), and the JSON log
//! format replaces the built-in loggers' text with `{"timestamp","level",…}`:
//!
//! | runtime | text format | JSON format |
//! |---|---|---|
//! | Python | `[INFO]\t<ts>\t<request id>\t<message>` | `{"timestamp": …, "level": …}` (Python's spaced separators) |
//! | Node | `<ts>\t<request id>\tINFO\t<message>` | `{"timestamp":…,"level":…,"requestId":…,"message":…}` |
//! | Java | log4j2 `yyyy-MM-dd HH:mm:ss <request id> INFO  Class - message` | as Node |
//! | Rust | tracing's ` INFO target: message` (no request id) | unchanged: custom runtimes print raw stdout |
//!
//! Unhandled errors follow each runtime's real shape: Python's `\r`-joined
//! traceback indented with NO-BREAK SPACEs, Node's `Invoke Error ` JSON, Java's
//! pretty-printed error object (a multi-line event).

use super::escape::push_json_str;
use super::functions::{FunctionSpec, LogFormat, Runtime};
use super::time::UtcTime;

/// An exception the handler raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppError {
    pub(crate) error_type: &'static str,
    pub(crate) message: String,
}

const PYTHON_ERRORS: [(&str, &str); 3] = [
    ("ValueError", "invalid order id #"),
    ("KeyError", "'customer_id'"),
    ("botocore.exceptions.ClientError", "An error occurred (ThrottlingException) when calling the PutItem operation (reached max retries: 4): Rate exceeded"),
];
const NODE_ERRORS: [(&str, &str); 3] = [
    (
        "TypeError",
        "Cannot read properties of undefined (reading 'id')",
    ),
    ("SyntaxError", "Unexpected token / in JSON at position #"),
    ("Error", "upstream returned 502 after # ms"),
];
const JAVA_ERRORS: [(&str, &str); 2] = [
    (
        "java.lang.IllegalStateException",
        "inventory unavailable for sku #",
    ),
    (
        "java.lang.NullPointerException",
        "Cannot invoke \"String.length()\" because \"id\" is null",
    ),
];
const RUST_ERRORS: [(&str, &str); 2] = [
    ("OrderNotFound", "order # not found"),
    ("UpstreamError", "upstream returned 503 after # ms"),
];

/// Replaces each `#` of a template with a random number.
fn fill(rng: &mut fastrand::Rng, template: &str) -> String {
    let mut filled = String::with_capacity(template.len() + 8);
    for (position, part) in template.split('#').enumerate() {
        if position > 0 {
            filled.push_str(&rng.u32(1..100_000).to_string());
        }
        filled.push_str(part);
    }
    filled
}

/// Picks the exception of a failed invocation.
pub(crate) fn draw_error(rng: &mut fastrand::Rng, runtime: Runtime) -> AppError {
    let table: &[(&'static str, &'static str)] = match runtime {
        Runtime::Python => &PYTHON_ERRORS,
        Runtime::Node => &NODE_ERRORS,
        Runtime::Java => &JAVA_ERRORS,
        Runtime::Rust => &RUST_ERRORS,
    };
    let (error_type, template) = table[rng.usize(..table.len())];
    AppError {
        error_type,
        message: fill(rng, template),
    }
}

/// Renders one INFO-level application line (or, now and then, a bare print).
pub(crate) fn info_line(
    rng: &mut fastrand::Rng,
    function: &FunctionSpec,
    request_id: &str,
    at_ms: i64,
) -> String {
    let template = function.messages[rng.usize(..function.messages.len())];
    let message = fill(rng, template);
    let time = UtcTime::from_epoch_ms(at_ms);
    let mut line = String::with_capacity(message.len() + 96);
    if rng.u32(0..100) < 3 && function.runtime != Runtime::Java {
        // print() / console.log of a non-logger: plain text in either format.
        line.push_str(&message);
        line.push('\n');
        return line;
    }
    match (function.runtime, function.log_format) {
        (Runtime::Rust, _) => {
            line.push_str(" INFO ");
            line.push_str(&function.name.replace('-', "_"));
            line.push_str(": ");
            line.push_str(&message);
        }
        (Runtime::Python, LogFormat::Text) => {
            line.push_str("[INFO]\t");
            time.push_iso(&mut line);
            line.push('\t');
            line.push_str(request_id);
            line.push('\t');
            line.push_str(&message);
        }
        (Runtime::Node, LogFormat::Text) => {
            time.push_iso(&mut line);
            line.push('\t');
            line.push_str(request_id);
            line.push_str("\tINFO\t");
            line.push_str(&message);
            if rng.u32(0..100) < 5 {
                line.push_str("\n{\n  \"path\": \"/v1/");
                line.push_str(function.team);
                line.push_str("\",\n  \"httpMethod\": \"POST\"\n}");
            }
        }
        (Runtime::Java, LogFormat::Text) => {
            time.push_log4j(&mut line);
            line.push(' ');
            line.push_str(request_id);
            line.push_str(" INFO  ");
            line.push_str(function.logger);
            line.push_str(" - ");
            line.push_str(&message);
        }
        (Runtime::Python, LogFormat::Json) => {
            line.push_str("{\"timestamp\": \"");
            time.push_iso(&mut line);
            line.push_str("\", \"level\": \"INFO\", \"message\": ");
            push_json_str(&mut line, &message);
            line.push_str(", \"logger\": \"root\", \"requestId\": \"");
            line.push_str(request_id);
            line.push_str("\"}");
        }
        (Runtime::Node | Runtime::Java, LogFormat::Json) => {
            line.push_str("{\"timestamp\":\"");
            time.push_iso(&mut line);
            line.push_str("\",\"level\":\"INFO\",\"requestId\":\"");
            line.push_str(request_id);
            line.push_str("\",\"message\":");
            push_json_str(&mut line, &message);
            line.push('}');
        }
    }
    line.push('\n');
    line
}

/// Whether [`error_line`] names the request. Lambda's own Python and Java
/// runtimes print an unhandled error in the text format without the request
/// id, so when the REPORT does not say `Status: error` either (older
/// REPORTs), nothing in the logs ties that error to its invocation.
pub(crate) fn error_line_names_request(function: &FunctionSpec) -> bool {
    !matches!(
        (function.runtime, function.log_format),
        (Runtime::Python | Runtime::Java, LogFormat::Text)
    )
}

/// Renders the unhandled-error event of a failed invocation.
pub(crate) fn error_line(
    function: &FunctionSpec,
    request_id: &str,
    at_ms: i64,
    error: &AppError,
) -> String {
    let time = UtcTime::from_epoch_ms(at_ms);
    let mut line = String::with_capacity(512);
    let stack = stack_frames(function, error);
    match (function.runtime, function.log_format) {
        (Runtime::Python, LogFormat::Text) => {
            line.push_str("[ERROR] ");
            line.push_str(error.error_type);
            line.push_str(": ");
            line.push_str(&error.message);
            line.push_str("\rTraceback (most recent call last):");
            for frame in &stack {
                line.push('\r');
                let frame = frame.trim_end_matches('\n');
                line.push_str(&frame.replace("  ", "\u{a0}\u{a0}").replace('\n', "\r"));
            }
        }
        (Runtime::Python, LogFormat::Json) => {
            line.push_str("{\"timestamp\": \"");
            time.push_iso(&mut line);
            line.push_str("\", \"log_level\": \"ERROR\", \"errorMessage\": ");
            push_json_str(&mut line, &error.message);
            line.push_str(", \"errorType\": ");
            push_json_str(&mut line, error.error_type);
            line.push_str(", \"requestId\": \"");
            line.push_str(request_id);
            line.push_str("\", \"stackTrace\": ");
            push_json_list(&mut line, &stack);
            line.push('}');
        }
        (Runtime::Node, LogFormat::Text) => {
            time.push_iso(&mut line);
            line.push('\t');
            line.push_str(request_id);
            line.push_str("\tERROR\tInvoke Error \t");
            push_error_object(&mut line, error, "stack", &stack);
        }
        (Runtime::Node | Runtime::Java, LogFormat::Json) => {
            line.push_str("{\"timestamp\":\"");
            time.push_iso(&mut line);
            line.push_str("\",\"level\":\"ERROR\",\"requestId\":\"");
            line.push_str(request_id);
            line.push_str("\",\"message\":");
            push_error_object(&mut line, error, "stackTrace", &stack);
            line.push('}');
        }
        (Runtime::Java, LogFormat::Text) => {
            line.push_str("{\n  \"errorMessage\": ");
            push_json_str(&mut line, &error.message);
            line.push_str(",\n  \"errorType\": ");
            push_json_str(&mut line, error.error_type);
            line.push_str(",\n  \"stackTrace\": [");
            for (position, frame) in stack.iter().enumerate() {
                line.push_str(if position == 0 { "\n    " } else { ",\n    " });
                push_json_str(&mut line, frame);
            }
            line.push_str("\n  ]\n}");
        }
        (Runtime::Rust, _) => {
            line.push_str("ERROR Lambda runtime invoke{requestId=\"");
            line.push_str(request_id);
            line.push_str("\"}: handler failed error_type=");
            line.push_str(error.error_type);
            line.push_str(" error=\"");
            line.push_str(&error.message);
            line.push('"');
        }
    }
    line.push('\n');
    debug_assert_eq!(
        line.contains(request_id),
        error_line_names_request(function)
    );
    line
}

/// The line a runtime prints on its way out of memory, where it prints one.
pub(crate) fn out_of_memory_line(
    function: &FunctionSpec,
    request_id: &str,
    at_ms: i64,
) -> Option<String> {
    match function.runtime {
        Runtime::Node => {
            let mut line = String::with_capacity(160);
            UtcTime::from_epoch_ms(at_ms).push_iso(&mut line);
            line.push(' ');
            line.push_str(request_id);
            line.push_str(" FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n");
            Some(line)
        }
        Runtime::Java => Some(
            "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space\n"
                .to_string(),
        ),
        Runtime::Python | Runtime::Rust => None,
    }
}

fn stack_frames(function: &FunctionSpec, error: &AppError) -> Vec<String> {
    match function.runtime {
        Runtime::Python => vec![
            "  File \"/var/task/app.py\", line 57, in handler\n    result = process(event)\n"
                .to_string(),
            format!(
                "  File \"/var/task/app.py\", line 21, in process\n    raise {}(\"{}\")\n",
                error.error_type,
                error.message.replace('"', "'")
            ),
        ],
        Runtime::Node => vec![
            format!("{}: {}", error.error_type, error.message),
            "    at process (file:///var/task/index.mjs:21:11)".to_string(),
            "    at Runtime.handler (file:///var/task/index.mjs:57:20)".to_string(),
        ],
        Runtime::Java => vec![
            format!(
                "com.example.{}.process({}.java:21)",
                function.logger, function.logger
            ),
            format!(
                "com.example.{}.handleRequest({}.java:57)",
                function.logger, function.logger
            ),
        ],
        Runtime::Rust => Vec::new(),
    }
}

fn push_json_list(line: &mut String, items: &[String]) {
    line.push('[');
    for (position, item) in items.iter().enumerate() {
        if position > 0 {
            line.push(',');
        }
        push_json_str(line, item);
    }
    line.push(']');
}

fn push_error_object(line: &mut String, error: &AppError, stack_key: &str, stack: &[String]) {
    line.push_str("{\"errorType\":");
    push_json_str(line, error.error_type);
    line.push_str(",\"errorMessage\":");
    push_json_str(line, &error.message);
    line.push_str(",\"");
    line.push_str(stack_key);
    line.push_str("\":");
    push_json_list(line, stack);
    line.push('}');
}
