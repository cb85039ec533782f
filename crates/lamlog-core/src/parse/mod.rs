//! Parse: one CloudWatch Logs event message → one [`LogLine`].
//!
//! Lambda writes two families of lines into a function's log group: platform
//! lines (START, END, REPORT, INIT_START, INIT_REPORT, timeouts, crashes,
//! extension registrations) and whatever the function itself prints. Since the
//! advanced logging controls of 2023 both families can also come as JSON
//! (`{"time","type","record"}` for the platform, `{"timestamp","level",…}` for
//! the application). This module turns every one of those shapes into the same
//! [`LogLine`], so that nothing downstream cares which format a line came in.
//!
//! The parser borrows from the message: text fields are `Cow::Borrowed` slices
//! of the input unless a JSON string held escapes. It never backtracks and never
//! fails: a line that starts like a platform line but does not parse is
//! [`LogLine::Other`], never a half-filled record. So is a line whose figures
//! or identifiers Lambda cannot produce ([`bounds`]): application code can
//! print text that looks like a platform line, and a record with a 30-digit
//! duration or a 4 KB request id would be refused by the store on every retry.
//! Each `Other` says why ([`OtherReason`]), so that such lines are counted.
//!
//! [`parse`] looks at the first byte and hands the line to one reader:
//!
//! - `text`: capitalised platform keywords, over the `Key: value` scanner of
//!   `fields`;
//! - `app`: Python's `[LEVEL]` lines and Node's timestamped lines;
//! - `json`: anything that starts with `{`;
//! - `bounds`: then, for every line, the figures and identifiers against what
//!   Lambda can produce;
//! - `oom`: afterwards, for application and unrecognised lines only, the
//!   runtimes' out-of-memory signatures.

use std::borrow::Cow;

use serde::Serialize;

mod app;
pub mod bounds;
mod error_document;
mod fields;
mod initialization;
mod json;
mod json_value;
mod levels;
mod oom;
#[cfg(test)]
mod tests;
mod text;

pub use initialization::InitializationType;

/// The outcome of an invocation or of an init phase, as Lambda reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// The function returned (JSON `platform.report` says so; text REPORT omits it).
    Success,
    /// The function raised, crashed or ran out of memory (`Status: error`).
    Error,
    /// The function ran past its timeout (`Status: timeout`).
    Timeout,
}

/// Which phase an `INIT_REPORT` describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InitPhase {
    /// The cold init of a new execution environment (10 s limit).
    Init,
    /// Init re-run inside the first invoke after a failed or suppressed init.
    Invoke,
}

/// Why a line is [`LogLine::Other`]. Such lines are counted by reason, never
/// stored; the names are those the CLI summary and the Lambda's metrics print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OtherReason {
    /// A shape lamlog does not read: free text without a level or request
    /// id, JSON that does not parse, or JSON that is neither a platform
    /// record nor an application log.
    Unrecognised,
    /// Opens like a platform line (a platform keyword, a `platform.report`
    /// record) but a required field is missing or a figure is unreadable, as
    /// in `REPORT invalid report log line`.
    UnparsablePlatformLine,
    /// A duration, memory size or timeout that Lambda cannot produce; see
    /// [`bounds`].
    FigureOutOfRange,
    /// A request id or other identifier longer than [`bounds::MAX_ID_BYTES`].
    IdTooLong,
}

impl OtherReason {
    /// Every reason, in declaration order.
    pub const ALL: [OtherReason; 4] = [
        OtherReason::Unrecognised,
        OtherReason::UnparsablePlatformLine,
        OtherReason::FigureOutOfRange,
        OtherReason::IdTooLong,
    ];

    /// The snake_case name used in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            OtherReason::Unrecognised => "unrecognised",
            OtherReason::UnparsablePlatformLine => "unparsable_platform_line",
            OtherReason::FigureOutOfRange => "figure_out_of_range",
            OtherReason::IdTooLong => "id_too_long",
        }
    }
}

/// The figures of one REPORT line (text) or `platform.report` record (JSON).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Report<'a> {
    /// The request the report closes.
    pub request_id: Cow<'a, str>,
    /// Wall time of the invoke phase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// What Lambda billed, already rounded to the granularity in force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billed_duration_ms: Option<u64>,
    /// Configured memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_size_mb: Option<u32>,
    /// Peak memory of the execution environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_memory_used_mb: Option<u32>,
    /// Present on the first invoke of an on-demand environment (a cold start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_duration_ms: Option<f64>,
    /// SnapStart restore time (a cold start too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_duration_ms: Option<f64>,
    /// SnapStart billed restore time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billed_restore_duration_ms: Option<u64>,
    /// X-Ray trace id (`1-…-…`), from `XRAY TraceId:` or `tracing.value` `Root=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xray_trace_id: Option<Cow<'a, str>>,
    /// X-Ray segment id (text) or `Parent=` (JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xray_segment_id: Option<Cow<'a, str>>,
    /// X-Ray sampling decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xray_sampled: Option<bool>,
    /// Absent in text on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ReportStatus>,
    /// For example `Runtime.OutOfMemory`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<Cow<'a, str>>,
}

/// One parsed log event. The variant is the `kind` of `lamlog parse` output;
/// field names are those of the data model in ARCHITECTURE.md.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogLine<'a> {
    /// `START RequestId: … Version: …`
    Start {
        /// The request that starts.
        request_id: Cow<'a, str>,
        /// `$LATEST` or a published version number.
        #[serde(skip_serializing_if = "Option::is_none")]
        version: Option<Cow<'a, str>>,
    },
    /// `END RequestId: …`
    End {
        /// The request that ends.
        request_id: Cow<'a, str>,
    },
    /// A text REPORT or a JSON `platform.report`.
    Report(Report<'a>),
    /// `INIT_START Runtime Version: … Runtime Version ARN: …`, or SnapStart's
    /// `RESTORE_START` with the same fields.
    InitStart {
        /// For example `python:3.13.v14`.
        #[serde(skip_serializing_if = "Option::is_none")]
        runtime_version: Option<Cow<'a, str>>,
        /// `arn:aws:lambda:<region>::runtime:<hash>`.
        #[serde(skip_serializing_if = "Option::is_none")]
        runtime_version_arn: Option<Cow<'a, str>>,
        /// How the environment starts: JSON `platform.initStart` says it
        /// (`initializationType`); the text format does not.
        #[serde(skip_serializing_if = "Option::is_none")]
        initialization_type: Option<InitializationType>,
    },
    /// `INIT_REPORT Init Duration: … Phase: … Status: … Error Type: …`, or
    /// SnapStart's `RESTORE_REPORT Restore Duration: …`.
    InitReport {
        /// Time spent in init.
        #[serde(skip_serializing_if = "Option::is_none")]
        init_duration_ms: Option<f64>,
        /// Time spent restoring a SnapStart snapshot.
        #[serde(skip_serializing_if = "Option::is_none")]
        restore_duration_ms: Option<f64>,
        /// Which init this was.
        #[serde(skip_serializing_if = "Option::is_none")]
        phase: Option<InitPhase>,
        /// Absent on success.
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<ReportStatus>,
        /// For example `Runtime.ImportModuleError`.
        #[serde(skip_serializing_if = "Option::is_none")]
        error_type: Option<Cow<'a, str>>,
    },
    /// `<timestamp> <request id> Task timed out after N seconds`
    Timeout {
        /// The request that timed out.
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<Cow<'a, str>>,
        /// The configured timeout as Lambda prints it.
        timeout_seconds: f64,
    },
    /// `RequestId: … Error: Runtime exited …` or `Process exited before completing request`.
    Crash {
        /// The request the runtime died in.
        request_id: Cow<'a, str>,
        /// Usually `Runtime.ExitError`; absent for the legacy wording.
        #[serde(skip_serializing_if = "Option::is_none")]
        error_type: Option<Cow<'a, str>>,
        /// True for `signal: killed`, which is how Lambda ends a process over its memory.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        killed: bool,
    },
    /// An application line that reports an error: Python `[ERROR]`, Node
    /// `\tERROR\t`, unhandled-error JSON, or a runtime's out-of-memory signature
    /// (then `error_type` is `OutOfMemory`).
    AppError {
        /// The request, when the line carries one.
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<Cow<'a, str>>,
        /// The level the line was logged at, when it says.
        #[serde(skip_serializing_if = "Option::is_none")]
        level: Option<Cow<'a, str>>,
        /// `errorType`, the Python exception name, or `OutOfMemory`.
        #[serde(skip_serializing_if = "Option::is_none")]
        error_type: Option<Cow<'a, str>>,
    },
    /// `EXTENSION\tName: …\tState: …\tEvents: […]`
    Extension {
        /// The extension's name.
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<Cow<'a, str>>,
        /// For example `Ready`.
        #[serde(skip_serializing_if = "Option::is_none")]
        state: Option<Cow<'a, str>>,
    },
    /// `TELEMETRY\tName: …\tState: …\tTypes: […]` (and the `LOGS` analogue).
    Telemetry {
        /// The subscriber's name.
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<Cow<'a, str>>,
        /// For example `Subscribed`.
        #[serde(skip_serializing_if = "Option::is_none")]
        state: Option<Cow<'a, str>>,
    },
    /// Any JSON platform record other than `platform.report`, and a
    /// `platform.report` without a request id or a duration (a platform
    /// record still, but no report).
    PlatformJson {
        /// The record type, for example `platform.runtimeDone`.
        #[serde(rename = "type")]
        record_type: Cow<'a, str>,
        /// `record.requestId`, when present.
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<Cow<'a, str>>,
        /// `record.status`, when present.
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<Cow<'a, str>>,
    },
    /// An application line that is not an error.
    App {
        /// The request, when the line carries one.
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<Cow<'a, str>>,
        /// INFO, WARN, DEBUG, …
        #[serde(skip_serializing_if = "Option::is_none")]
        level: Option<Cow<'a, str>>,
    },
    /// Anything else. Counted by reason, never stored.
    Other {
        /// Why the line is no record.
        reason: OtherReason,
    },
}

/// Parses one CloudWatch Logs event message.
///
/// Never fails and never panics: what it cannot read, and what carries a
/// figure or an identifier past [`bounds`], is [`LogLine::Other`].
///
/// Cost: text lines are read in one forward pass over borrowed slices with no
/// allocation; only a message that starts with `{` is handed to serde_json.
/// Application and unrecognised lines get one more SIMD pass looking for an
/// out-of-memory signature; platform lines do not.
pub fn parse(message: &str) -> LogLine<'_> {
    let line = message.trim_start_matches(|c: char| c.is_ascii_whitespace());
    // The first byte is enough to tell the families apart: platform keywords
    // are capitalised, Python prefixes `[LEVEL]`, Node and the timeout line a
    // timestamp, JSON an object.
    let parsed = match line.as_bytes().first() {
        Some(b'A'..=b'Z') => match text::parse_platform(line) {
            // `INFO started` is no platform line but an application one; a
            // line that is neither keeps the platform reader's reason.
            LogLine::Other { reason } => match app::parse_leveled(line) {
                LogLine::Other { .. } => LogLine::Other { reason },
                app => app,
            },
            platform => platform,
        },
        Some(b'[') => app::parse_python(line),
        Some(b'0'..=b'9') => app::parse_timestamped(line),
        Some(b'{') => json::parse_json(line),
        _ => LogLine::Other {
            reason: OtherReason::Unrecognised,
        },
    };
    match bounds::check(parsed) {
        parsed @ (LogLine::App { .. } | LogLine::AppError { .. } | LogLine::Other { .. }) => {
            mark_out_of_memory(line, parsed)
        }
        platform => platform,
    }
}

/// Turns an application or unrecognised line that carries an out-of-memory
/// signature into an `AppError` of type `OutOfMemory`, keeping its request
/// id and level. Assembly raises that request's status to `oom`.
fn mark_out_of_memory<'a>(line: &'a str, parsed: LogLine<'a>) -> LogLine<'a> {
    if !oom::has_signature(line) {
        return parsed;
    }
    let (request_id, level) = match parsed {
        LogLine::App { request_id, level }
        | LogLine::AppError {
            request_id, level, ..
        } => (request_id, level),
        _ => (None, None),
    };
    LogLine::AppError {
        request_id,
        level,
        error_type: Some(Cow::Borrowed(OUT_OF_MEMORY)),
    }
}

/// The `error_type` of a line that carries an out-of-memory signature.
pub const OUT_OF_MEMORY: &str = "OutOfMemory";
