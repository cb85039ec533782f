//! JSON-format platform records and application logs.
//!
//! In: a message that starts with `{`. Out: [`LogLine::Report`] for
//! `platform.report`, [`LogLine::InitStart`] for `platform.initStart` (whose
//! `initializationType` prices the environment's invocations),
//! [`LogLine::PlatformJson`] for every other `platform.*` record, [`LogLine::App`] or [`LogLine::AppError`] for application logs
//! (`{"timestamp","level"|"log_level","message","requestId",…}` and the
//! unhandled-error document `{"errorMessage","errorType","stackTrace"}`), and
//! [`LogLine::Other`] for any other JSON, such as Datadog metric lines.
//!
//! Key order is not stable (`status` comes before or after `metrics`), so the
//! message is deserialised with serde, once, into one struct that names every
//! key any of those shapes uses. Strings are `Cow::Borrowed` from the message
//! unless they hold escapes, and keys we do not name are skipped without
//! being built.
//!
//! Application JSON is whatever a function chose to log, so a key we name
//! can hold any type (`"level": 30` from pino, `"type": {…}`). Each named
//! value is therefore read as a [`Scalar`] or a [`Nested`] object, which
//! accept every JSON value and only say what they got; deciding what is
//! acceptable happens afterwards, per shape. A `platform.report` whose
//! figures have the wrong type is [`LogLine::Other`] (`unparsable_platform_line`),
//! never a half-filled report; one whose figures are numbers Lambda cannot
//! produce (negative, or too large for their type) is `figure_out_of_range`.
//! Other platform records become [`LogLine::PlatformJson`], which keeps only
//! the request id and status, so their remaining identifiers and durations
//! are held to [`super::bounds`] here, where they are still in sight.
//!
//! A message that is no whole JSON document is unrecognised, unless it is an
//! application's error document cut short, whose `errorType` the
//! `error_document` reader recovers.

use std::borrow::Cow;
use std::ops::Range;

use serde::Deserialize;

use super::bounds;
use super::error_document;
use super::json_value::{Nested, Scalar};
use super::levels::is_error_level;
use super::text::parse_status;
use super::{InitializationType, LogLine, OtherReason, Report};

const UNPARSABLE: OtherReason = OtherReason::UnparsablePlatformLine;
const OUT_OF_RANGE: OtherReason = OtherReason::FigureOutOfRange;

/// Reads an optional figure: absent is `Ok(None)`, a wrong type or a number
/// that cannot be one is `Err` with the reason.
type Figure<T> = Result<Option<T>, OtherReason>;

/// A decimal (durations in ms). Any number reads; whether it is one Lambda
/// can report (not negative, not absurd) is for [`bounds`] to say.
fn decimal(value: Option<&Scalar<'_>>) -> Figure<f64> {
    match value {
        None => Ok(None),
        Some(Scalar::Float(number)) => Ok(Some(*number)),
        // JSON writers print `1234` for a float that happens to be whole.
        // Rounding past 2^53 does not matter: such a figure is out of range.
        Some(Scalar::Unsigned(number)) => Ok(Some(*number as f64)),
        Some(Scalar::Signed(number)) => Ok(Some(*number as f64)),
        Some(_) => Err(UNPARSABLE),
    }
}

/// 2^53: below it every whole `f64` is an exact integer.
const EXACT_WHOLE_F64: f64 = 9_007_199_254_740_992.0;

/// A whole number (billed ms, MB); `12.0` is accepted, `12.5` is not. A
/// negative number, or one too large for `T`, is out of range.
fn whole<T: TryFrom<u64>>(value: Option<&Scalar<'_>>) -> Figure<T> {
    let number = match value {
        None => return Ok(None),
        Some(Scalar::Unsigned(number)) => *number,
        Some(Scalar::Signed(_)) => return Err(OUT_OF_RANGE),
        Some(Scalar::Float(number)) if number.fract() != 0.0 || !number.is_finite() => {
            return Err(UNPARSABLE)
        }
        // Below 2^53 every whole f64 is exact, so the cast loses nothing.
        Some(Scalar::Float(number)) if (0.0..EXACT_WHOLE_F64).contains(number) => *number as u64,
        Some(Scalar::Float(_)) => return Err(OUT_OF_RANGE),
        Some(_) => return Err(UNPARSABLE),
    };
    T::try_from(number).map(Some).map_err(|_| OUT_OF_RANGE)
}

/// The top-level keys of every JSON shape we tell apart.
#[derive(Deserialize)]
struct Document<'a> {
    #[serde(rename = "type", default, borrow)]
    record_type: Option<Scalar<'a>>,
    #[serde(default, borrow)]
    record: Option<Nested<Record<'a>>>,
    #[serde(default, borrow)]
    level: Option<Scalar<'a>>,
    #[serde(default, borrow)]
    log_level: Option<Scalar<'a>>,
    #[serde(rename = "requestId", default, borrow)]
    request_id: Option<Scalar<'a>>,
    #[serde(rename = "errorType", default, borrow)]
    error_type: Option<Scalar<'a>>,
}

/// `record` of a platform event.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(rename = "requestId", default, borrow)]
    request_id: Option<Scalar<'a>>,
    #[serde(default, borrow)]
    status: Option<Scalar<'a>>,
    #[serde(rename = "errorType", default, borrow)]
    error_type: Option<Scalar<'a>>,
    #[serde(default, borrow)]
    metrics: Option<Nested<Metrics<'a>>>,
    #[serde(default, borrow)]
    tracing: Option<Nested<Tracing<'a>>>,
    /// `platform.start`: the function version.
    #[serde(default, borrow)]
    version: Option<Scalar<'a>>,
    /// `platform.initStart`: the function version.
    #[serde(rename = "functionVersion", default, borrow)]
    function_version: Option<Scalar<'a>>,
    #[serde(rename = "runtimeVersion", default, borrow)]
    runtime_version: Option<Scalar<'a>>,
    #[serde(rename = "runtimeVersionArn", default, borrow)]
    runtime_version_arn: Option<Scalar<'a>>,
    /// `platform.initStart`: `on-demand`, `provisioned-concurrency`, `snap-start`.
    #[serde(rename = "initializationType", default, borrow)]
    initialization_type: Option<Scalar<'a>>,
}

/// `record.metrics` of `platform.report`.
#[derive(Deserialize)]
struct Metrics<'a> {
    #[serde(rename = "durationMs", default, borrow)]
    duration_ms: Option<Scalar<'a>>,
    #[serde(rename = "billedDurationMs", default, borrow)]
    billed_duration_ms: Option<Scalar<'a>>,
    #[serde(rename = "memorySizeMB", default, borrow)]
    memory_size_mb: Option<Scalar<'a>>,
    #[serde(rename = "maxMemoryUsedMB", default, borrow)]
    max_memory_used_mb: Option<Scalar<'a>>,
    #[serde(rename = "initDurationMs", default, borrow)]
    init_duration_ms: Option<Scalar<'a>>,
    #[serde(rename = "restoreDurationMs", default, borrow)]
    restore_duration_ms: Option<Scalar<'a>>,
    #[serde(rename = "billedRestoreDurationMs", default, borrow)]
    billed_restore_duration_ms: Option<Scalar<'a>>,
}

/// `record.tracing`: `{"type":"X-Amzn-Trace-Id","value":"Root=…;Parent=…;Sampled=1"}`.
#[derive(Deserialize)]
struct Tracing<'a> {
    #[serde(rename = "type", default, borrow)]
    trace_type: Option<Scalar<'a>>,
    #[serde(default, borrow)]
    value: Option<Scalar<'a>>,
}

/// Parses a message whose first byte is `{`.
pub(super) fn parse_json(line: &str) -> LogLine<'_> {
    let Ok(document) = serde_json::from_str::<Document<'_>>(line) else {
        return cut_error_document(line);
    };
    let is_platform = document
        .record_type
        .as_ref()
        .and_then(Scalar::as_str)
        .is_some_and(|record_type| record_type.starts_with("platform."));
    if is_platform {
        platform_line(document)
    } else {
        app_line(document)
    }
}

/// A message that opens with `{` but is no whole JSON document. An
/// application's error document cut short (CloudWatch keeps 256 KB of an
/// event) is still the error it names, when its `errorType` came before the
/// cut; anything else is unrecognised.
fn cut_error_document(line: &str) -> LogLine<'_> {
    let fields = error_document::read(line);
    match fields.error_type {
        Some(error_type) => LogLine::AppError {
            request_id: real_request_id(fields.request_id),
            level: fields.level,
            error_type: Some(error_type),
        },
        None => LogLine::Other {
            reason: OtherReason::Unrecognised,
        },
    }
}

/// Node writes `undefined` where an init-phase line has no request.
fn real_request_id(request_id: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    request_id.filter(|request_id| !request_id.is_empty() && request_id != "undefined")
}

fn platform_line(document: Document<'_>) -> LogLine<'_> {
    let record_type = document
        .record_type
        .and_then(Scalar::into_cow)
        .unwrap_or_default();
    let record = match document.record {
        Some(Nested::Object(record)) => Some(record),
        _ => None,
    };
    if record_type == "platform.report" {
        if let Some(record) = &record {
            match report(record) {
                Ok(Some(report)) => return LogLine::Report(report),
                // Figures of the wrong type, or numbers no figure can be.
                Err(reason) => return LogLine::Other { reason },
                // No request id or no duration: still a platform record.
                Ok(None) => {}
            }
        }
    }
    if let Some(reason) = record.as_ref().and_then(record_violation) {
        return LogLine::Other { reason };
    }
    if record_type == "platform.initStart" {
        if let Some(record) = record {
            return LogLine::InitStart {
                initialization_type: record
                    .initialization_type
                    .as_ref()
                    .and_then(Scalar::as_str)
                    .and_then(InitializationType::from_name),
                runtime_version: record.runtime_version.and_then(Scalar::into_cow),
                runtime_version_arn: record.runtime_version_arn.and_then(Scalar::into_cow),
            };
        }
    }
    let (request_id, status) = match record {
        Some(record) => (
            record.request_id.and_then(Scalar::into_cow),
            record.status.and_then(Scalar::into_cow),
        ),
        None => (None, None),
    };
    LogLine::PlatformJson {
        record_type,
        request_id,
        status,
    }
}

/// Why a platform record that is no report is past a bound: an identifier
/// too long, or a duration Lambda cannot report. Figures of the wrong type
/// are let be, since nothing reads them.
fn record_violation(record: &Record<'_>) -> Option<OtherReason> {
    let ids = [
        &record.request_id,
        &record.version,
        &record.function_version,
        &record.runtime_version,
        &record.runtime_version_arn,
    ];
    let ids_fit = ids
        .into_iter()
        .filter_map(|id| id.as_ref().and_then(Scalar::as_str))
        .all(bounds::id_fits);
    if !ids_fit {
        return Some(OtherReason::IdTooLong);
    }
    let Some(Nested::Object(metrics)) = &record.metrics else {
        return None;
    };
    let durations = [
        &metrics.duration_ms,
        &metrics.init_duration_ms,
        &metrics.restore_duration_ms,
    ];
    let durations_ok = durations.into_iter().all(|duration| {
        decimal(duration.as_ref()).map_or(true, |duration_ms| {
            duration_ms.is_none_or(bounds::duration_in_range)
        })
    });
    (!durations_ok).then_some(OUT_OF_RANGE)
}

/// Reads a `platform.report` record: `Ok(None)` when it lacks its request id
/// or duration, `Err` when a figure has the wrong type or cannot be one.
fn report<'a>(record: &Record<'a>) -> Result<Option<Report<'a>>, OtherReason> {
    let request_id = record
        .request_id
        .clone()
        .and_then(Scalar::into_cow)
        .filter(|request_id| !request_id.is_empty());
    let Some(request_id) = request_id else {
        return Ok(None);
    };
    let Some(Nested::Object(metrics)) = &record.metrics else {
        return Ok(None);
    };
    let Some(duration_ms) = decimal(metrics.duration_ms.as_ref())? else {
        return Ok(None);
    };
    let mut report = Report {
        request_id,
        duration_ms: Some(duration_ms),
        billed_duration_ms: whole(metrics.billed_duration_ms.as_ref())?,
        memory_size_mb: whole(metrics.memory_size_mb.as_ref())?,
        max_memory_used_mb: whole(metrics.max_memory_used_mb.as_ref())?,
        init_duration_ms: decimal(metrics.init_duration_ms.as_ref())?,
        restore_duration_ms: decimal(metrics.restore_duration_ms.as_ref())?,
        billed_restore_duration_ms: whole(metrics.billed_restore_duration_ms.as_ref())?,
        status: record
            .status
            .as_ref()
            .and_then(Scalar::as_str)
            .and_then(parse_status),
        error_type: record.error_type.clone().and_then(Scalar::into_cow),
        ..Report::default()
    };
    if let Some(Nested::Object(tracing)) = &record.tracing {
        let is_xray = tracing
            .trace_type
            .as_ref()
            .and_then(Scalar::as_str)
            .is_none_or(|trace_type| trace_type == "X-Amzn-Trace-Id");
        if let (true, Some(Scalar::Str(value))) = (is_xray, &tracing.value) {
            read_trace_header(value.clone(), &mut report);
        }
    }
    Ok(Some(report))
}

/// Fills the X-Ray fields from `Root=…;Parent=…;Sampled=1`.
fn read_trace_header<'a>(header: Cow<'a, str>, report: &mut Report<'a>) {
    // The parts are found as byte ranges so that they can borrow from the
    // message when the header does, and are owned only when the JSON string
    // had escapes and the header itself had to be owned.
    let part_of = |range: Range<usize>| -> Cow<'a, str> {
        match &header {
            Cow::Borrowed(whole) => Cow::Borrowed(&whole[range]),
            Cow::Owned(whole) => Cow::Owned(whole[range].to_owned()),
        }
    };
    let mut pair_start = 0;
    for pair in header.split(';') {
        let this_pair_start = pair_start;
        pair_start += pair.len() + 1;
        let Some((key, raw_value)) = pair.split_once('=') else {
            continue;
        };
        let value = raw_value.trim();
        let value_start =
            this_pair_start + key.len() + 1 + (raw_value.len() - raw_value.trim_start().len());
        let value_range = value_start..value_start + value.len();
        match key.trim() {
            "Root" if !value.is_empty() => report.xray_trace_id = Some(part_of(value_range)),
            "Parent" if !value.is_empty() => report.xray_segment_id = Some(part_of(value_range)),
            "Sampled" => {
                report.xray_sampled = match value {
                    "1" => Some(true),
                    "0" => Some(false),
                    _ => None,
                };
            }
            _ => {}
        }
    }
}

fn app_line(document: Document<'_>) -> LogLine<'_> {
    let level = document
        .level
        .and_then(Scalar::into_cow)
        .or_else(|| document.log_level.and_then(Scalar::into_cow));
    let request_id = real_request_id(document.request_id.and_then(Scalar::into_cow));
    let error_type = document.error_type.and_then(Scalar::into_cow);
    if error_type.is_some() || level.as_deref().is_some_and(is_error_level) {
        LogLine::AppError {
            request_id,
            level,
            error_type,
        }
    } else if level.is_some() || request_id.is_some() {
        LogLine::App { request_id, level }
    } else {
        LogLine::Other {
            reason: OtherReason::Unrecognised,
        }
    }
}
