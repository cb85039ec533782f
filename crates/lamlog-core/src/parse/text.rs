//! Text-format platform lines: START, END, REPORT, INIT_START, INIT_REPORT,
//! EXTENSION, TELEMETRY, LOGS, crashes and bare timeouts.
//!
//! In: a message that starts with an ASCII capital letter, leading whitespace
//! already dropped. Out: the platform [`LogLine`] it spells, or
//! [`LogLine::Other`].
//!
//! The first token picks the shape with one `match` on a string, so a line
//! costs one token split plus one pass of the field scanner in
//! [`super::fields`]. A line is only a record when its required fields are
//! all there and readable (REPORT needs `RequestId` and `Duration`, START and
//! END a request id, INIT_START a runtime version, INIT_REPORT an init
//! duration, EXTENSION and TELEMETRY a name); otherwise it is
//! [`LogLine::Other`], never a half-filled record. Optional fields with an
//! unreadable number also make the line `Other`, since a number we cannot
//! read means we misread the line. An unknown `Status` or `Phase` word is
//! left out instead: a new word in Lambda's vocabulary should not cost us the
//! billing figures of the line.
//!
//! Each `Other` carries its reason: `unrecognised` for a first word that is
//! no platform keyword, `unparsable_platform_line` for a keyword whose fields
//! do not read, and `figure_out_of_range` for a whole number too large for
//! its type. Figures that read but are past what Lambda produces are left to
//! [`super::bounds`], which checks every format alike.
//!
//! `RESTORE_START` and `RESTORE_REPORT` are SnapStart's twins of
//! `INIT_START` and `INIT_REPORT`: an environment restored from a snapshot
//! instead of initialised. They parse as `init_start` (same runtime-version
//! fields) and `init_report` with `restore_duration_ms`, so platform output is
//! never `other`; the REPORT of the first invoke after a restore carries the
//! figures the pipeline bills.

use std::borrow::Cow;

use super::fields::{parse_decimal, parse_integer, skip_separators, split_token, Fields, Key};
use super::{InitPhase, LogLine, OtherReason, Report, ReportStatus};

/// What a reader makes of a line: the record, or why it is none.
type Read<T> = Result<T, OtherReason>;

const UNPARSABLE: OtherReason = OtherReason::UnparsablePlatformLine;

/// Parses a line whose first byte is an ASCII capital letter.
pub(super) fn parse_platform(line: &str) -> LogLine<'_> {
    let (keyword, rest) = split_token(line);
    let parsed = match keyword {
        "START" => parse_start(rest),
        "END" => parse_end(rest),
        "REPORT" => parse_report(rest).map(LogLine::Report),
        "INIT_START" | "RESTORE_START" => parse_init_start(rest),
        "INIT_REPORT" | "RESTORE_REPORT" => parse_init_report(rest),
        "EXTENSION" => parse_registration(rest).map(|(name, state)| LogLine::Extension {
            name: Some(name),
            state,
        }),
        // The Logs API registration line is the Telemetry API's older twin.
        "TELEMETRY" | "LOGS" => parse_registration(rest).map(|(name, state)| LogLine::Telemetry {
            name: Some(name),
            state,
        }),
        "RequestId:" => parse_crash(rest),
        "Task" => parse_timeout_tail(rest).map(|timeout_seconds| LogLine::Timeout {
            request_id: None,
            timeout_seconds,
        }),
        _ => Err(OtherReason::Unrecognised),
    };
    parsed.unwrap_or_else(|reason| LogLine::Other { reason })
}

/// Maps a `Status:` word; `failure` is what the Telemetry API says for error.
pub(super) fn parse_status(word: &str) -> Option<ReportStatus> {
    match word {
        "success" => Some(ReportStatus::Success),
        "error" | "failure" => Some(ReportStatus::Error),
        "timeout" => Some(ReportStatus::Timeout),
        _ => None,
    }
}

/// `""` is no value: a key followed directly by the end of the line.
fn non_empty(value: &str) -> Option<Cow<'_, str>> {
    (!value.is_empty()).then_some(Cow::Borrowed(value))
}

fn parse_start(rest: &str) -> Read<LogLine<'_>> {
    let mut request_id = None;
    let mut version = None;
    for (key, value) in Fields::new(rest) {
        match key {
            Key::RequestId => request_id = non_empty(value),
            Key::Version => version = non_empty(value),
            _ => {}
        }
    }
    Ok(LogLine::Start {
        request_id: request_id.ok_or(UNPARSABLE)?,
        version,
    })
}

fn parse_end(rest: &str) -> Read<LogLine<'_>> {
    let request_id = Fields::new(rest)
        .find(|(key, _)| *key == Key::RequestId)
        .and_then(|(_, value)| non_empty(value))
        .ok_or(UNPARSABLE)?;
    Ok(LogLine::End { request_id })
}

/// Reads the fields of a REPORT line; an error unless it is a whole report.
pub(super) fn parse_report(rest: &str) -> Read<Report<'_>> {
    let mut report = Report::default();
    let mut request_id = None;
    for (key, value) in Fields::new(rest) {
        match key {
            Key::RequestId => request_id = non_empty(value),
            Key::Duration => report.duration_ms = Some(parse_decimal(value)?),
            Key::BilledDuration => report.billed_duration_ms = Some(parse_integer(value)?),
            Key::MemorySize => report.memory_size_mb = Some(parse_integer(value)?),
            Key::MaxMemoryUsed => report.max_memory_used_mb = Some(parse_integer(value)?),
            Key::InitDuration => report.init_duration_ms = Some(parse_decimal(value)?),
            Key::RestoreDuration => report.restore_duration_ms = Some(parse_decimal(value)?),
            Key::BilledRestoreDuration => {
                report.billed_restore_duration_ms = Some(parse_integer(value)?);
            }
            Key::XrayTraceId => report.xray_trace_id = non_empty(value),
            Key::SegmentId => report.xray_segment_id = non_empty(value),
            Key::Sampled => {
                report.xray_sampled = Some(match value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(UNPARSABLE),
                });
            }
            Key::Status => report.status = parse_status(value),
            Key::ErrorType => report.error_type = non_empty(value),
            _ => {}
        }
    }
    report.request_id = request_id.ok_or(UNPARSABLE)?;
    report.duration_ms.ok_or(UNPARSABLE)?;
    Ok(report)
}

fn parse_init_start(rest: &str) -> Read<LogLine<'_>> {
    let mut runtime_version = None;
    let mut runtime_version_arn = None;
    for (key, value) in Fields::new(rest) {
        match key {
            Key::RuntimeVersion => runtime_version = non_empty(value),
            Key::RuntimeVersionArn => runtime_version_arn = non_empty(value),
            _ => {}
        }
    }
    runtime_version.as_ref().ok_or(UNPARSABLE)?;
    Ok(LogLine::InitStart {
        runtime_version,
        runtime_version_arn,
        // The text format never says; a SnapStart restore shows in REPORT.
        initialization_type: None,
    })
}

fn parse_init_report(rest: &str) -> Read<LogLine<'_>> {
    let mut init_duration_ms = None;
    let mut restore_duration_ms = None;
    let mut phase = None;
    let mut status = None;
    let mut error_type = None;
    for (key, value) in Fields::new(rest) {
        match key {
            Key::InitDuration => init_duration_ms = Some(parse_decimal(value)?),
            Key::RestoreDuration => restore_duration_ms = Some(parse_decimal(value)?),
            Key::Phase => {
                phase = match value {
                    "init" => Some(InitPhase::Init),
                    "invoke" => Some(InitPhase::Invoke),
                    _ => None,
                };
            }
            Key::Status => status = parse_status(value),
            Key::ErrorType => error_type = non_empty(value),
            _ => {}
        }
    }
    if init_duration_ms.is_none() && restore_duration_ms.is_none() {
        return Err(UNPARSABLE);
    }
    Ok(LogLine::InitReport {
        init_duration_ms,
        restore_duration_ms,
        phase,
        status,
        error_type,
    })
}

/// `Name: …\tState: …` of EXTENSION, TELEMETRY and LOGS lines.
fn parse_registration(rest: &str) -> Read<(Cow<'_, str>, Option<Cow<'_, str>>)> {
    let mut name = None;
    let mut state = None;
    for (key, value) in Fields::new(rest) {
        match key {
            Key::Name => name = non_empty(value),
            Key::State => state = non_empty(value),
            _ => {}
        }
    }
    Ok((name.ok_or(UNPARSABLE)?, state))
}

/// `RequestId: <id> Error: Runtime exited … Runtime.ExitError` and
/// `RequestId: <id> Process exited before completing request`.
///
/// Any other line that opens with `RequestId:` is unrecognised rather than
/// an unreadable platform line: application code writes `RequestId: …` too.
fn parse_crash(rest: &str) -> Read<LogLine<'_>> {
    let (request_id, detail) = split_token(skip_separators(rest));
    let request_id = non_empty(request_id).ok_or(OtherReason::Unrecognised)?;
    let detail = skip_separators(detail);
    if let Some(error) = detail.strip_prefix("Error:") {
        let error = error.trim_matches(|c: char| c.is_ascii_whitespace());
        // Lambda appends the error type as the last word, often after a `\n`.
        let last_word = error
            .rsplit(|c: char| c.is_ascii_whitespace())
            .next()
            .unwrap_or("");
        let error_type = last_word
            .starts_with("Runtime.")
            .then_some(Cow::Borrowed(last_word));
        return Ok(LogLine::Crash {
            request_id,
            error_type,
            killed: error.contains("signal: killed"),
        });
    }
    if detail.starts_with("Process exited before completing request") {
        return Ok(LogLine::Crash {
            request_id,
            error_type: None,
            killed: false,
        });
    }
    Err(OtherReason::Unrecognised)
}

/// Reads `timed out after 3.00 seconds`, what follows the word `Task`.
///
/// A line that does not go on with `timed out after` is unrecognised (`Task`
/// is a common word); one that does but has no readable number of seconds
/// is an unreadable platform line.
pub(super) fn parse_timeout_tail(rest: &str) -> Read<f64> {
    let rest = skip_separators(rest)
        .strip_prefix("timed out after")
        .ok_or(OtherReason::Unrecognised)?;
    let (seconds, rest) = split_token(skip_separators(rest));
    let (unit, _) = split_token(skip_separators(rest));
    if unit != "seconds" {
        return Err(UNPARSABLE);
    }
    parse_decimal(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unparsable() -> LogLine<'static> {
        LogLine::Other { reason: UNPARSABLE }
    }

    fn unrecognised() -> LogLine<'static> {
        LogLine::Other {
            reason: OtherReason::Unrecognised,
        }
    }

    #[test]
    fn report_with_segment_id_and_sampled() {
        let line = "REPORT RequestId: abc\tDuration: 1.50 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t\nXRAY TraceId: 1-5e61292c-cc1229a4dfbeae1043928548\tSegmentId: 07a85e713f6302b2\tSampled: false\t\n";
        let LogLine::Report(report) = parse_platform(line) else {
            panic!("not a report")
        };
        assert_eq!(report.request_id, "abc");
        assert_eq!(report.xray_segment_id.as_deref(), Some("07a85e713f6302b2"));
        assert_eq!(report.xray_sampled, Some(false));
        assert_eq!(report.status, None);
    }

    #[test]
    fn report_with_tab_after_colon_and_crlf() {
        let line = "REPORT RequestId:\tabc \t Duration:\t3.00 ms  \tBilled Duration:\t3 ms\tStatus:\ttimeout\r\n";
        let LogLine::Report(report) = parse_platform(line) else {
            panic!("not a report")
        };
        assert_eq!(report.request_id, "abc");
        assert_eq!(report.duration_ms, Some(3.0));
        assert_eq!(report.billed_duration_ms, Some(3));
        assert_eq!(report.status, Some(ReportStatus::Timeout));
    }

    #[test]
    fn half_reports_are_other() {
        for line in [
            "REPORT invalid report log line",
            "REPORT RequestId: abc",
            "REPORT Duration: 1.00 ms",
            "REPORT RequestId: abc Duration: fast",
            "REPORT RequestId: abc Duration: 1.00 ms Memory Size: -1 MB",
            "REPORT RequestId: abc Duration: 1.00 ms Sampled: maybe",
            "REPORT",
            "START Version: $LATEST",
            "END",
        ] {
            assert_eq!(parse_platform(line), unparsable(), "{line:?}");
        }
        assert_eq!(
            parse_platform("REPORT RequestId: abc Duration: 1.00 ms Memory Size: 99999999999 MB"),
            LogLine::Other {
                reason: OtherReason::FigureOutOfRange
            }
        );
        assert_eq!(
            parse_platform("Success!"),
            LogLine::Other {
                reason: OtherReason::Unrecognised
            }
        );
    }

    #[test]
    fn logs_and_telemetry_registrations() {
        let logs =
            parse_platform("LOGS\tName: my-ext\tState: Subscribed\tTypes: [platform, function]\n");
        assert_eq!(
            logs,
            LogLine::Telemetry {
                name: Some("my-ext".into()),
                state: Some("Subscribed".into()),
            }
        );
        let extension =
            parse_platform("EXTENSION\tName: lambda-adapter\tState: Ready\tEvents: []\n");
        assert!(matches!(
            extension,
            LogLine::Extension { name: Some(_), .. }
        ));
        assert_eq!(
            parse_platform("EXTENSION INIT(agent name: x, state: y, error type: z)"),
            unparsable()
        );
    }

    #[test]
    fn crashes() {
        let line =
            "RequestId: 43e5 Error: Runtime exited with error: exit status 1\nRuntime.ExitError\n";
        assert_eq!(
            parse_platform(line),
            LogLine::Crash {
                request_id: "43e5".into(),
                error_type: Some("Runtime.ExitError".into()),
                killed: false,
            }
        );
        let line =
            "RequestId: 43e5 Error: Runtime exited with error: signal: killed Runtime.ExitError";
        assert!(matches!(
            parse_platform(line),
            LogLine::Crash { killed: true, .. }
        ));
        let line = "RequestId: 43e5 Error: Runtime exited without providing a reason";
        assert!(matches!(
            parse_platform(line),
            LogLine::Crash {
                error_type: None,
                ..
            }
        ));
        assert_eq!(parse_platform("RequestId: 43e5 hello"), unrecognised());
    }

    #[test]
    fn init_report_timeout_and_invoke_phase() {
        let line = "INIT_REPORT Init Duration: 9999.79 ms    Phase: invoke    Status: timeout";
        assert_eq!(
            parse_platform(line),
            LogLine::InitReport {
                init_duration_ms: Some(9999.79),
                restore_duration_ms: None,
                phase: Some(InitPhase::Invoke),
                status: Some(ReportStatus::Timeout),
                error_type: None,
            }
        );
    }

    #[test]
    fn restore_lines_are_init_lines() {
        assert_eq!(
            parse_platform(
                "RESTORE_START Runtime Version: java:11.v21\tRuntime Version ARN: arn:x"
            ),
            LogLine::InitStart {
                runtime_version: Some(Cow::Borrowed("java:11.v21")),
                runtime_version_arn: Some(Cow::Borrowed("arn:x")),
                initialization_type: None,
            }
        );
        assert_eq!(
            parse_platform("RESTORE_REPORT Restore Duration: 474.16 ms"),
            LogLine::InitReport {
                init_duration_ms: None,
                restore_duration_ms: Some(474.16),
                phase: None,
                status: None,
                error_type: None,
            }
        );
        assert_eq!(parse_platform("RESTORE_REPORT nothing here"), unparsable());
    }

    #[test]
    fn bare_timeout() {
        assert_eq!(
            parse_platform("Task timed out after 900.00 seconds"),
            LogLine::Timeout {
                request_id: None,
                timeout_seconds: 900.0,
            }
        );
        assert_eq!(parse_platform("Task timed out after lunch"), unparsable());
        assert_eq!(parse_platform("Task done"), unrecognised());
    }
}
