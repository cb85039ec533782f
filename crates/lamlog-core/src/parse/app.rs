//! Text-format application lines: what the managed runtimes prefix to the
//! function's own output.
//!
//! In: a message starting with `[` (Python) or with a digit (Node's ISO
//! timestamp, and the timeout line). Out: [`LogLine::App`],
//! [`LogLine::AppError`], [`LogLine::Timeout`] or [`LogLine::Other`].
//!
//! The shapes, from the runtimes' own format strings:
//!
//! - Python logger: `[LEVEL]\t<ts>\t<request id>\t<message>`.
//! - Python unhandled error: `[ERROR] Name: message\rTraceback…`, with the
//!   traceback lines joined by `\r` and indented with NO-BREAK SPACE. The
//!   exception name is the error type.
//! - Node console: `<ts>\t<request id>\t<LEVEL>\t<message>`. For handler errors
//!   the message is `Invoke Error \t{json}`, `Uncaught Exception \t{json}` or
//!   `Unhandled Promise Rejection \t{json}`, and the error type is the JSON's
//!   `errorType`. Init crashes print the request id as `undefined`.
//! - .NET: the same layout, with the level as a lower-case label (`info`,
//!   `fail`, …; see `levels`).
//! - `<ts> <request id> Task timed out after N seconds`, space separated, and
//!   other space-separated `<ts> <request id> …` lines such as Node's
//!   `FATAL ERROR: … JavaScript heap out of memory`.
//!
//! Only ASCII bytes are searched for, so every slice falls on a `char`
//! boundary even in messages full of U+00A0.

use std::borrow::Cow;

use memchr::memchr;

use super::fields::{skip_separators, split_token};
use super::levels::{is_error_level, is_level_word};
use super::{error_document, text, LogLine, OtherReason};

/// What every application line that does not read becomes.
const UNRECOGNISED: LogLine<'static> = LogLine::Other {
    reason: OtherReason::Unrecognised,
};

/// `INFO something happened`: a line that opens with a log level and nothing
/// else to go by (Rust's `tracing` default format, many plain loggers). Only
/// the common level names count, so `REPORT invalid …` stays `Other`.
pub(super) fn parse_leveled(line: &str) -> LogLine<'_> {
    let (level, rest) = split_token(line);
    let known = matches!(
        level,
        "TRACE" | "DEBUG" | "INFO" | "WARN" | "WARNING" | "ERROR" | "FATAL" | "CRITICAL"
    );
    if known && !rest.is_empty() {
        app_line(span_request_id(rest), Some(Cow::Borrowed(level)), None)
    } else {
        UNRECOGNISED
    }
}

/// The request of a `tracing` line printed inside the Rust runtime's
/// per-request span: `ERROR Lambda runtime invoke{requestId="8f…"}: handler
/// failed …`. Spans come before the first `: `; without this, the error of a
/// Rust function whose REPORT has no `Status` would count as a success.
fn span_request_id(rest: &str) -> Option<Cow<'_, str>> {
    const FIELD: &str = "requestId=\"";
    let spans = &rest[..rest.find(": ").unwrap_or(rest.len())];
    let start = spans.find(FIELD)? + FIELD.len();
    let length = spans[start..].find('"')?;
    request_id_of(&spans[start..start + length])
}

/// Node prints `undefined` where an init-phase line has no request.
fn request_id_of(token: &str) -> Option<Cow<'_, str>> {
    (!token.is_empty() && token != "undefined").then_some(Cow::Borrowed(token))
}

/// Builds `App` or `AppError` from what an application line says.
fn app_line<'a>(
    request_id: Option<Cow<'a, str>>,
    level: Option<Cow<'a, str>>,
    error_type: Option<Cow<'a, str>>,
) -> LogLine<'a> {
    let is_error = error_type.is_some() || level.as_deref().is_some_and(is_error_level);
    if is_error {
        LogLine::AppError {
            request_id,
            level,
            error_type,
        }
    } else {
        LogLine::App { request_id, level }
    }
}

/// Parses a line that starts with `[`.
pub(super) fn parse_python(line: &str) -> LogLine<'_> {
    // The level is short: look for `]` in the first bytes only, not the line.
    let head = &line.as_bytes()[..line.len().min(18)];
    let Some(close) = memchr(b']', head) else {
        return UNRECOGNISED;
    };
    let level = &line[1..close];
    if !is_level_word(level) {
        return UNRECOGNISED;
    }
    let after = &line[close + 1..];
    match after.as_bytes().first() {
        Some(b'\t') => {
            let mut fields = after[1..].splitn(3, '\t');
            let _timestamp = fields.next();
            let (request_id, _) = split_token(fields.next().unwrap_or(""));
            app_line(request_id_of(request_id), Some(Cow::Borrowed(level)), None)
        }
        Some(b' ') => {
            let error_type = if is_error_level(level) {
                exception_name(&after[1..])
            } else {
                None
            };
            app_line(None, Some(Cow::Borrowed(level)), error_type)
        }
        _ => UNRECOGNISED,
    }
}

/// `Runtime.ImportModuleError` out of `Runtime.ImportModuleError: Unable…`.
fn exception_name(text: &str) -> Option<Cow<'_, str>> {
    let end = text
        .bytes()
        .position(|byte| byte == b':' || byte.is_ascii_whitespace())
        .unwrap_or(text.len());
    let name = &text[..end];
    let starts_well = name
        .bytes()
        .next()
        .is_some_and(|byte| byte.is_ascii_alphabetic() || byte == b'_');
    let is_dotted_identifier = name
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'.');
    (starts_well && is_dotted_identifier).then_some(Cow::Borrowed(name))
}

/// `2020-01-31T22:12:58.534Z` and the like: the first 19 bytes are
/// `DDDD-DD-DDTDD:DD:DD`; fractions and zone are not checked.
fn is_iso_timestamp(token: &str) -> bool {
    let bytes = token.as_bytes();
    if bytes.len() < 19 {
        return false;
    }
    bytes[..19]
        .iter()
        .enumerate()
        .all(|(index, &byte)| match index {
            4 | 7 => byte == b'-',
            10 => byte == b'T',
            13 | 16 => byte == b':',
            _ => byte.is_ascii_digit(),
        })
}

/// `2026-11-01`: the date half of a log4j-style `yyyy-MM-dd HH:mm:ss`.
fn is_date(token: &str) -> bool {
    let bytes = token.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(index, &byte)| match index {
            4 | 7 => byte == b'-',
            _ => byte.is_ascii_digit(),
        })
}

/// `00:00:01`, optionally followed by a fraction (`,123` or `.123`).
fn is_clock(token: &str) -> bool {
    let bytes = token.as_bytes();
    bytes.len() >= 8
        && bytes[..8]
            .iter()
            .enumerate()
            .all(|(index, &byte)| match index {
                2 | 5 => byte == b':',
                _ => byte.is_ascii_digit(),
            })
}

/// Parses a line that starts with a digit: Node's `<ISO time>\t<id>\t…`, the
/// timeout line, and Java's log4j `yyyy-MM-dd HH:mm:ss <id> LEVEL …`.
pub(super) fn parse_timestamped(line: &str) -> LogLine<'_> {
    let (timestamp, rest) = split_token(line);
    if is_date(timestamp) {
        let (clock, after_clock) = split_token(skip_separators(rest));
        return if is_clock(clock) && !after_clock.is_empty() {
            parse_spaced(after_clock)
        } else {
            UNRECOGNISED
        };
    }
    if !is_iso_timestamp(timestamp) {
        return UNRECOGNISED;
    }
    match rest.as_bytes().first() {
        Some(b'\t') => parse_node(&rest[1..]),
        Some(_) => parse_spaced(rest),
        None => UNRECOGNISED,
    }
}

/// `<request id>\t<LEVEL>\t<message>`, after the timestamp and its tab.
fn parse_node(rest: &str) -> LogLine<'_> {
    let (request_id, rest) = rest.split_once('\t').unwrap_or((rest, ""));
    let request_id = request_id_of(request_id.trim_matches(|c: char| c.is_ascii_whitespace()));
    if let Some(tail) = rest.strip_prefix("Task ") {
        if let Ok(timeout_seconds) = text::parse_timeout_tail(tail) {
            return LogLine::Timeout {
                request_id,
                timeout_seconds,
            };
        }
    }
    let (level, message) = match rest.split_once('\t') {
        Some((level, message)) if is_level_word(level) => (Some(Cow::Borrowed(level)), message),
        // Node 8 printed no level: the third field is already the message.
        _ => (None, rest),
    };
    let error_type = if level.as_deref().is_some_and(is_error_level) {
        handler_error_type(message)
    } else {
        None
    };
    app_line(request_id, level, error_type)
}

/// `Invoke Error \t{"errorType":…}` → the `errorType`. The label is any text
/// without a newline before a tab that opens a JSON object.
fn handler_error_type(message: &str) -> Option<Cow<'_, str>> {
    let tab = memchr(b'\t', message.as_bytes())?;
    let label = &message[..tab];
    let document = &message[tab + 1..];
    if label.is_empty() || label.contains('\n') || !document.starts_with('{') {
        return None;
    }
    // The document may be cut short; its error type usually comes first.
    error_document::read(document).error_type
}

/// `<request id> Task timed out after …` or `<request id> [LEVEL] …`, space
/// separated.
fn parse_spaced(rest: &str) -> LogLine<'_> {
    let (request_id, rest) = split_token(skip_separators(rest));
    let rest = skip_separators(rest);
    if let Some(tail) = rest.strip_prefix("Task ") {
        if let Ok(timeout_seconds) = text::parse_timeout_tail(tail) {
            return LogLine::Timeout {
                request_id: request_id_of(request_id),
                timeout_seconds,
            };
        }
    }
    // Without tabs to go by, a second token is only taken for a request id
    // when it looks like one (request ids carry digits; `INFO` does not), so
    // that `<ts> INFO started` is not filed under request `INFO`.
    let looks_like_id = request_id.bytes().any(|byte| byte.is_ascii_digit());
    if !looks_like_id || is_level_word(request_id) {
        return UNRECOGNISED;
    }
    let (level, _) = split_token(rest);
    let level = is_level_word(level).then_some(Cow::Borrowed(level));
    app_line(request_id_of(request_id), level, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_logger_lines() {
        let line = "[WARNING]\t2020-01-31T22:12:58.534Z\t1c8d\tslow\n";
        assert_eq!(
            parse_python(line),
            LogLine::App {
                request_id: Some("1c8d".into()),
                level: Some("WARNING".into()),
            }
        );
        let line = "[CRITICAL]\t2020-01-31T22:12:58.534Z\t1c8d\tboom\n";
        assert!(matches!(parse_python(line), LogLine::AppError { .. }));
        assert_eq!(parse_python("[not a level] text"), UNRECOGNISED);
        assert_eq!(parse_python("["), UNRECOGNISED);
    }

    #[test]
    fn python_unhandled_error_with_nbsp_traceback() {
        let line = "[ERROR] KeyError: 'x'\rTraceback (most recent call last):\r\u{a0}\u{a0}File \"/var/task/app.py\", line 3\r";
        assert_eq!(
            parse_python(line),
            LogLine::AppError {
                request_id: None,
                level: Some("ERROR".into()),
                error_type: Some("KeyError".into()),
            }
        );
    }

    #[test]
    fn node_uncaught_exception_during_init() {
        let line = "2025-02-10T07:37:10.463Z\tundefined\tERROR\tUncaught Exception \t{\"errorType\":\"Runtime.UserCodeSyntaxError\",\"errorMessage\":\"SyntaxError: Unexpected token\",\"stack\":[\"a\"]}\n";
        assert_eq!(
            parse_timestamped(line),
            LogLine::AppError {
                request_id: None,
                level: Some("ERROR".into()),
                error_type: Some("Runtime.UserCodeSyntaxError".into()),
            }
        );
    }

    #[test]
    fn node_error_without_json_and_node8_without_level() {
        let line = "2020-10-07T00:12:32.573Z\tabc-1\tERROR\tsomething broke\n";
        assert!(matches!(
            parse_timestamped(line),
            LogLine::AppError {
                error_type: None,
                ..
            }
        ));
        let line = "2020-10-07T00:12:32.573Z\tabc-1\thello";
        assert_eq!(
            parse_timestamped(line),
            LogLine::App {
                request_id: Some("abc-1".into()),
                level: None,
            }
        );
    }

    #[test]
    fn lines_that_open_with_a_level() {
        assert_eq!(
            parse_leveled("INFO search_indexer: indexed 12 documents\n"),
            LogLine::App {
                request_id: None,
                level: Some(Cow::Borrowed("INFO"))
            }
        );
        assert!(matches!(
            parse_leveled("ERROR boom"),
            LogLine::AppError { .. }
        ));
        assert_eq!(
            parse_leveled("REPORT invalid report log line"),
            UNRECOGNISED
        );
        assert_eq!(parse_leveled("INFO"), UNRECOGNISED);
    }

    #[test]
    fn rust_runtime_lines_name_their_request_in_the_invoke_span() {
        let line = "ERROR Lambda runtime invoke{requestId=\"8e3f5a2c-0d1b\" xrayTraceId=\"1-a-b\"}: handler failed error_type=OrderNotFound error=\"order 7 not found\"\n";
        assert_eq!(
            parse_leveled(line),
            LogLine::AppError {
                request_id: Some(Cow::Borrowed("8e3f5a2c-0d1b")),
                level: Some(Cow::Borrowed("ERROR")),
                error_type: None,
            }
        );
        // A requestId after the spans is message text, not the span's field.
        assert!(matches!(
            parse_leveled("ERROR app: got requestId=\"x\" from a client"),
            LogLine::AppError {
                request_id: None,
                ..
            }
        ));
    }

    #[test]
    fn log4j_lines_carry_request_id_and_level() {
        let line = "2026-11-01 00:00:07 24fb89c2-168b-42e4-a6b7-4b2a68e1f001 INFO  OrderHandler - saved order 17\n";
        assert_eq!(
            parse_timestamped(line),
            LogLine::App {
                request_id: Some(Cow::Borrowed("24fb89c2-168b-42e4-a6b7-4b2a68e1f001")),
                level: Some(Cow::Borrowed("INFO")),
            }
        );
        assert_eq!(parse_timestamped("2026-11-01 started"), UNRECOGNISED);
        assert_eq!(parse_timestamped("2026-11-01 00:00:07"), UNRECOGNISED);
    }

    #[test]
    fn spaced_lines_need_an_id_like_token() {
        assert_eq!(
            parse_timestamped("2024-01-01T00:00:00Z INFO service started"),
            UNRECOGNISED
        );
        assert_eq!(parse_timestamped("2024-01-01 00:00:00 hello"), UNRECOGNISED);
        assert_eq!(parse_timestamped("2024"), UNRECOGNISED);
    }
}
