//! The closing lines of an invocation, and the rounding they share.
//!
//! A text REPORT and a JSON `platform.report` carry the same figures in two
//! syntaxes; `platform.runtimeDone` repeats the duration. They are built here
//! from one [`Figures`], so the two formats can never disagree about an
//! invocation. Key order in JSON records follows the function's habit
//! (`status` before or after `metrics`), as real logs do not keep one order.

use std::fmt::Write as _;

use super::app::AppError;
use super::functions::{FunctionSpec, LogFormat, XrayStyle};
use super::time::UtcTime;
use super::workload::{ColdStart, Invocation, Status, Trace};

/// Printed precision: hundredths (text) or thousandths (JSON) of a millisecond.
#[derive(Clone, Copy)]
pub(crate) struct Precision {
    per_ms: u64,
}

impl Precision {
    pub(crate) fn of(format: LogFormat) -> Precision {
        match format {
            LogFormat::Text => Precision { per_ms: 100 },
            LogFormat::Json => Precision { per_ms: 1000 },
        }
    }

    pub(crate) fn units(self, milliseconds: f64) -> u64 {
        (milliseconds * self.per_ms as f64).round() as u64
    }

    pub(crate) fn ceil_ms(self, units: u64) -> u64 {
        units.div_ceil(self.per_ms)
    }

    /// The printed value in milliseconds: `units / per_ms`, which is exactly
    /// the `f64` a parser reads from the printed decimal (both are the
    /// correctly rounded value of the same fraction).
    pub(crate) fn ms(self, units: u64) -> f64 {
        units as f64 / self.per_ms as f64
    }

    /// Text: always two decimals (`46.84`); JSON: up to three, trimmed (`11.642`, `5000.0`).
    pub(crate) fn push(self, out: &mut String, units: u64) {
        let whole = units / self.per_ms;
        let fraction = units % self.per_ms;
        if self.per_ms == 100 {
            let _ = write!(out, "{whole}.{fraction:02}");
        } else if fraction == 0 {
            let _ = write!(out, "{whole}.0");
        } else {
            let digits = format!("{fraction:03}");
            let _ = write!(out, "{whole}.{}", digits.trim_end_matches('0'));
        }
    }
}

/// The rounded figures of a REPORT.
#[derive(Clone, Copy)]
pub(crate) struct Figures {
    pub(crate) duration_units: u64,
    pub(crate) billed_duration_ms: u64,
    pub(crate) precision: Precision,
}

impl Figures {
    /// The figures `invocation`'s REPORT prints. `Billed Duration` is the
    /// ceiling of the printed duration, plus the printed init time on a cold
    /// start of a custom runtime, which Lambda bills; SnapStart restores are
    /// billed separately (`Billed Restore Duration`), not in it.
    pub(crate) fn of(function: &FunctionSpec, invocation: &Invocation) -> Figures {
        let precision = Precision::of(function.log_format);
        let duration_units = precision.units(invocation.duration_ms);
        let billed_init_units = match invocation.cold_start {
            Some(ColdStart::Init { init_ms }) if function.runtime.bills_init() => {
                precision.units(init_ms)
            }
            _ => 0,
        };
        Figures {
            duration_units,
            billed_duration_ms: precision.ceil_ms(duration_units + billed_init_units),
            precision,
        }
    }
}

/// What a failed invocation's report says: status, and error type if any.
#[derive(Clone, Copy)]
pub(crate) struct Failure<'a> {
    status: &'static str,
    error_type: Option<&'a str>,
}

pub(crate) fn failure_of(status: Status, app_error: Option<&AppError>) -> Option<Failure<'_>> {
    match status {
        Status::Success => None,
        Status::Error => Some(Failure {
            status: "error",
            error_type: app_error.map(|error| error.error_type),
        }),
        Status::Timeout => Some(Failure {
            status: "timeout",
            error_type: None,
        }),
        Status::Oom => Some(Failure {
            status: "error",
            error_type: Some("Runtime.OutOfMemory"),
        }),
        Status::Crash => Some(Failure {
            status: "error",
            error_type: Some("Runtime.ExitError"),
        }),
    }
}

/// Whether the REPORT says how an invocation ended: JSON reports always do;
/// text reports print `Status: timeout` and runtime exits, but `Status: error`
/// for a function error only in newer REPORTs (the function's habit).
pub(crate) fn report_prints_status(function: &FunctionSpec, status: Status) -> bool {
    function.log_format == LogFormat::Json
        || status != Status::Error
        || function.report_status_on_error
}

pub(crate) fn platform_json(at_ms: i64, record_type: &str, record: &str) -> String {
    let mut line = String::with_capacity(record.len() + 72);
    line.push_str("{\"time\":\"");
    UtcTime::from_epoch_ms(at_ms).push_iso(&mut line);
    line.push_str("\",\"type\":\"");
    line.push_str(record_type);
    line.push_str("\",\"record\":");
    line.push_str(record);
    line.push_str("}\n");
    line
}

pub(crate) fn push_tracing(record: &mut String, trace: &Trace) {
    let _ = write!(
        record,
        ",\"tracing\":{{\"spanId\":\"{}\",\"type\":\"X-Amzn-Trace-Id\",\"value\":\"Root={};Parent={};Sampled={}\"}}",
        trace.segment_id,
        trace.trace_id,
        trace.segment_id,
        u8::from(trace.sampled)
    );
}

pub(crate) fn runtime_done_record(
    request_id: &str,
    status: Status,
    failure: Option<Failure<'_>>,
    figures: Figures,
    produced_bytes: u32,
) -> String {
    let status_text = match status {
        Status::Success => "success",
        Status::Error => "error",
        Status::Timeout => "timeout",
        Status::Oom | Status::Crash => "failure",
    };
    let mut record = format!("{{\"requestId\":\"{request_id}\",\"status\":\"{status_text}\"");
    if let Some(error_type) = failure.and_then(|failure| failure.error_type) {
        let error_type = if matches!(status, Status::Oom | Status::Crash) {
            "Runtime.ExitError"
        } else {
            error_type
        };
        let _ = write!(record, ",\"errorType\":\"{error_type}\"");
    }
    record.push_str(",\"metrics\":{\"durationMs\":");
    figures.precision.push(&mut record, figures.duration_units);
    let _ = write!(record, ",\"producedBytes\":{produced_bytes}}}}}");
    record
}

pub(crate) fn json_report_record(
    function: &FunctionSpec,
    invocation: &Invocation,
    failure: Option<Failure<'_>>,
    figures: Figures,
) -> String {
    let precision = figures.precision;
    let mut status = String::new();
    match failure {
        None => status.push_str("\"status\":\"success\""),
        Some(failure) => {
            let _ = write!(status, "\"status\":\"{}\"", failure.status);
            if let Some(error_type) = failure.error_type {
                let _ = write!(status, ",\"errorType\":\"{error_type}\"");
            }
        }
    }
    let mut record = format!("{{\"requestId\":\"{}\",", invocation.request_id);
    if function.json_status_first {
        record.push_str(&status);
        record.push(',');
    }
    record.push_str("\"metrics\":{\"durationMs\":");
    precision.push(&mut record, figures.duration_units);
    let _ = write!(
        record,
        ",\"billedDurationMs\":{},\"memorySizeMB\":{},\"maxMemoryUsedMB\":{}",
        figures.billed_duration_ms, invocation.memory_size_mb, invocation.max_memory_used_mb
    );
    match invocation.cold_start {
        Some(ColdStart::Init { init_ms }) => {
            record.push_str(",\"initDurationMs\":");
            precision.push(&mut record, precision.units(init_ms));
        }
        Some(ColdStart::Restore {
            restore_ms,
            billed_restore_ms,
        }) => {
            record.push_str(",\"restoreDurationMs\":");
            precision.push(&mut record, precision.units(restore_ms));
            let _ = write!(record, ",\"billedRestoreDurationMs\":{billed_restore_ms}");
        }
        None => {}
    }
    record.push('}');
    if let Some(trace) = &invocation.trace {
        push_tracing(&mut record, trace);
    }
    if !function.json_status_first {
        record.push(',');
        record.push_str(&status);
    }
    record.push('}');
    record
}

pub(crate) fn text_report(
    function: &FunctionSpec,
    invocation: &Invocation,
    failure: Option<Failure<'_>>,
    figures: Figures,
) -> String {
    let precision = figures.precision;
    let mut report = String::with_capacity(256);
    let _ = write!(
        report,
        "REPORT RequestId: {}\tDuration: ",
        invocation.request_id
    );
    precision.push(&mut report, figures.duration_units);
    let _ = write!(
        report,
        " ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
        figures.billed_duration_ms, invocation.memory_size_mb, invocation.max_memory_used_mb
    );
    match invocation.cold_start {
        Some(ColdStart::Init { init_ms }) => {
            report.push_str("Init Duration: ");
            precision.push(&mut report, precision.units(init_ms));
            report.push_str(" ms\t");
        }
        Some(ColdStart::Restore {
            restore_ms,
            billed_restore_ms,
        }) => {
            report.push_str("Restore Duration: ");
            precision.push(&mut report, precision.units(restore_ms));
            let _ = write!(
                report,
                " ms\tBilled Restore Duration: {billed_restore_ms} ms\t"
            );
        }
        None => {}
    }
    let printed_failure = failure.filter(|_| report_prints_status(function, invocation.status));
    if let Some(failure) = printed_failure {
        let _ = write!(report, "Status: {}", failure.status);
        if let Some(error_type) = failure.error_type {
            let _ = write!(report, "\tError Type: {error_type}");
        }
    }
    if let (Some(style), Some(trace)) = (function.xray, &invocation.trace) {
        let xray = format!(
            "XRAY TraceId: {}\tSegmentId: {}\tSampled: {}",
            trace.trace_id, trace.segment_id, trace.sampled
        );
        match (style, printed_failure.is_some()) {
            (XrayStyle::Inline, true) => {
                report.push('\t');
                report.push_str(&xray);
            }
            (XrayStyle::Inline, false) => report.push_str(&xray),
            (XrayStyle::SecondLine, _) => {
                report.push('\n');
                report.push_str(&xray);
                report.push('\t');
            }
        }
    }
    report.push('\n');
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_prints_like_lambda() {
        let mut text = String::new();
        Precision { per_ms: 100 }.push(&mut text, 4684);
        assert_eq!(text, "46.84");
        let json = Precision { per_ms: 1000 };
        for (units, printed) in [(11_642, "11.642"), (5_000_000, "5000.0"), (1_050, "1.05")] {
            let mut out = String::new();
            json.push(&mut out, units);
            assert_eq!(out, printed);
        }
        assert_eq!(Precision { per_ms: 100 }.ceil_ms(4684), 47);
        assert_eq!(Precision { per_ms: 100 }.ceil_ms(300_000), 3000);
    }
}
