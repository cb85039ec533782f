//! REPORT lines, text and JSON, generated field by field: every report
//! within the bounds reads back exactly, whatever the separators and the key
//! order, and a report with one figure or its request id pushed past its
//! bound is `other` for that reason.

use std::borrow::Cow;

use lamlog_core::parse::bounds::{
    MAX_BILLED_DURATION_MS, MAX_DURATION_MS, MAX_ID_BYTES, MAX_MEMORY_SIZE_MB, MIN_MEMORY_SIZE_MB,
};
use lamlog_core::parse::{parse, LogLine, OtherReason, Report, ReportStatus};
use proptest::prelude::*;
use proptest::sample::select;

/// A whitespace-free token, as request ids, trace ids and error types are.
fn token() -> impl Strategy<Value = String> {
    prop::collection::vec(
        any::<char>().prop_filter("not a separator", |c| !c.is_ascii_whitespace()),
        1..40,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// A plain `[A-Za-z0-9-]` token, for the parts of an X-Ray header.
fn plain_token() -> impl Strategy<Value = String> {
    prop::collection::vec(
        select(b"abcdefABCDEF0123456789-".as_slice()).prop_map(char::from),
        1..24,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// Separators between fields as they occur in the wild.
fn separator() -> impl Strategy<Value = &'static str> {
    select(&["\t", " ", "  ", " \t", "\t ", "\t\t", "\t  "][..])
}

/// What may follow a colon.
fn after_colon() -> impl Strategy<Value = &'static str> {
    select(&[" ", "\t", " \t", "  "][..])
}

#[derive(Debug, Clone)]
enum TextStatus {
    Error(String),
    Timeout,
}

#[derive(Debug, Clone)]
struct TextReport {
    request_id: String,
    duration_cents: u64,
    billed_ms: u64,
    memory_mb: u32,
    max_memory_mb: u32,
    init_cents: Option<u64>,
    restore: Option<(u64, u64)>,
    xray: Option<(String, String, bool)>,
    status: Option<TextStatus>,
}

/// Durations in hundredths of a ms, up to and including the bound.
fn duration_cents() -> impl Strategy<Value = u64> {
    let max_cents = (MAX_DURATION_MS * 100.0) as u64;
    prop_oneof![0..=max_cents, Just(max_cents)]
}

fn billed() -> impl Strategy<Value = u64> {
    prop_oneof![0..=MAX_BILLED_DURATION_MS, Just(MAX_BILLED_DURATION_MS)]
}

fn memory() -> impl Strategy<Value = u32> {
    prop_oneof![
        MIN_MEMORY_SIZE_MB..=MAX_MEMORY_SIZE_MB,
        Just(MIN_MEMORY_SIZE_MB),
        Just(MAX_MEMORY_SIZE_MB)
    ]
}

fn text_report() -> impl Strategy<Value = TextReport> {
    (
        token(),
        (duration_cents(), billed(), memory(), 0..=MAX_MEMORY_SIZE_MB),
        prop::option::of(duration_cents()),
        prop::option::of((duration_cents(), billed())),
        prop::option::of((token(), token(), any::<bool>())),
        prop::option::of(prop_oneof![
            token().prop_map(TextStatus::Error),
            Just(TextStatus::Timeout)
        ]),
    )
        .prop_map(
            |(
                request_id,
                (duration_cents, billed_ms, memory_mb, max_memory_mb),
                init_cents,
                restore,
                xray,
                status,
            )| {
                TextReport {
                    request_id,
                    duration_cents,
                    billed_ms,
                    memory_mb,
                    max_memory_mb,
                    init_cents,
                    restore,
                    xray,
                    status,
                }
            },
        )
}

fn cents(value: u64) -> String {
    format!("{}.{:02}", value / 100, value % 100)
}

fn cents_ms(value: u64) -> f64 {
    value as f64 / 100.0
}

/// Renders the line in Lambda's field order with the separators given.
fn render(
    fields: &TextReport,
    separators: &[&str],
    colons: &[&str],
    xray_break: &str,
    tail: &str,
) -> String {
    let mut pairs: Vec<(&str, String)> = vec![
        ("RequestId", fields.request_id.clone()),
        ("Duration", format!("{} ms", cents(fields.duration_cents))),
        ("Billed Duration", format!("{} ms", fields.billed_ms)),
        ("Memory Size", format!("{} MB", fields.memory_mb)),
        ("Max Memory Used", format!("{} MB", fields.max_memory_mb)),
    ];
    if let Some(init) = fields.init_cents {
        pairs.push(("Init Duration", format!("{} ms", cents(init))));
    }
    if let Some((restore, billed_restore)) = fields.restore {
        pairs.push(("Restore Duration", format!("{} ms", cents(restore))));
        pairs.push(("Billed Restore Duration", format!("{billed_restore} ms")));
    }
    match &fields.status {
        Some(TextStatus::Error(error_type)) => {
            pairs.push(("Status", "error".to_owned()));
            pairs.push(("Error Type", error_type.clone()));
        }
        Some(TextStatus::Timeout) => pairs.push(("Status", "timeout".to_owned())),
        None => {}
    }
    let mut line = String::from("REPORT ");
    for (index, (key, value)) in pairs.iter().enumerate() {
        if index > 0 {
            line.push_str(separators[index % separators.len()]);
        }
        line.push_str(key);
        line.push(':');
        line.push_str(colons[index % colons.len()]);
        line.push_str(value);
    }
    if let Some((trace_id, segment_id, sampled)) = &fields.xray {
        line.push_str(xray_break);
        line.push_str(&format!(
            "XRAY TraceId: {trace_id}\tSegmentId: {segment_id}\tSampled: {sampled}"
        ));
    }
    line.push_str(tail);
    line
}

fn expected_report(fields: &TextReport) -> Report<'static> {
    let owned = |text: &String| Some(Cow::Owned(text.clone()));
    Report {
        request_id: Cow::Owned(fields.request_id.clone()),
        duration_ms: Some(cents_ms(fields.duration_cents)),
        billed_duration_ms: Some(fields.billed_ms),
        memory_size_mb: Some(fields.memory_mb),
        max_memory_used_mb: Some(fields.max_memory_mb),
        init_duration_ms: fields.init_cents.map(cents_ms),
        restore_duration_ms: fields.restore.map(|(restore, _)| cents_ms(restore)),
        billed_restore_duration_ms: fields.restore.map(|(_, billed)| billed),
        xray_trace_id: fields
            .xray
            .as_ref()
            .and_then(|(trace_id, _, _)| owned(trace_id)),
        xray_segment_id: fields
            .xray
            .as_ref()
            .and_then(|(_, segment_id, _)| owned(segment_id)),
        xray_sampled: fields.xray.as_ref().map(|(_, _, sampled)| *sampled),
        status: match &fields.status {
            Some(TextStatus::Error(_)) => Some(ReportStatus::Error),
            Some(TextStatus::Timeout) => Some(ReportStatus::Timeout),
            None => None,
        },
        error_type: match &fields.status {
            Some(TextStatus::Error(error_type)) => owned(error_type),
            _ => None,
        },
    }
}

proptest! {
    #[test]
    fn text_report_round_trips(
        fields in text_report(),
        separators in prop::collection::vec(separator(), 1..12),
        colons in prop::collection::vec(after_colon(), 1..12),
        xray_break in select(&["\t", "\t\n", "\n", " "][..]),
        tail in select(&["", "\t\n", "\n", "\r\n", "\t", " "][..]),
    ) {
        let line = render(&fields, &separators, &colons, xray_break, tail);
        prop_assert_eq!(parse(&line), LogLine::Report(expected_report(&fields)), "line: {:?}", line);
    }
}

#[derive(Debug, Clone)]
struct JsonReport {
    request_id: String,
    duration_ms: f64,
    billed_ms: u64,
    whole_as_float: bool,
    memory_mb: u32,
    max_memory_mb: u32,
    init_ms: Option<f64>,
    restore: Option<(f64, u64)>,
    tracing: Option<(String, String, bool)>,
    status: Option<&'static str>,
    error_type: Option<String>,
}

fn json_report() -> impl Strategy<Value = JsonReport> {
    (
        any::<String>().prop_filter("a request id within the bound", |text| {
            !text.is_empty() && text.len() <= MAX_ID_BYTES
        }),
        (
            0.0f64..=MAX_DURATION_MS,
            billed(),
            any::<bool>(),
            memory(),
            0..=MAX_MEMORY_SIZE_MB,
        ),
        prop::option::of(0.0f64..=MAX_DURATION_MS),
        prop::option::of((0.0f64..=MAX_DURATION_MS, billed())),
        prop::option::of((plain_token(), plain_token(), any::<bool>())),
        prop::option::of(select(&["success", "error", "failure", "timeout"][..])),
        prop::option::of(any::<String>()),
    )
        .prop_map(
            |(
                request_id,
                (duration_ms, billed_ms, whole_as_float, memory_mb, max_memory_mb),
                init_ms,
                restore,
                tracing,
                status,
                error_type,
            )| {
                JsonReport {
                    request_id,
                    duration_ms,
                    billed_ms,
                    whole_as_float,
                    memory_mb,
                    max_memory_mb,
                    init_ms,
                    restore,
                    tracing,
                    status,
                    error_type,
                }
            },
        )
}

/// Writes `{"k":v,…}` with the entries in the order given.
fn object(entries: &[(&str, String)]) -> String {
    let body: Vec<String> = entries
        .iter()
        .map(|(key, value)| format!("{}:{value}", serde_json::json!(key)))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// Rotates `entries` by `turn`: key order in Lambda's JSON is not stable.
fn rotated<T: Clone>(entries: &[T], turn: usize) -> Vec<T> {
    let mut entries = entries.to_vec();
    if !entries.is_empty() {
        let len = entries.len();
        entries.rotate_left(turn % len);
    }
    entries
}

fn render_json(fields: &JsonReport, turn: usize) -> String {
    let whole = |value: u64| {
        if fields.whole_as_float {
            serde_json::json!(value as f64).to_string()
        } else {
            value.to_string()
        }
    };
    let mut metrics = vec![
        (
            "durationMs",
            serde_json::json!(fields.duration_ms).to_string(),
        ),
        ("billedDurationMs", whole(fields.billed_ms)),
        ("memorySizeMB", fields.memory_mb.to_string()),
        ("maxMemoryUsedMB", fields.max_memory_mb.to_string()),
    ];
    if let Some(init_ms) = fields.init_ms {
        metrics.push(("initDurationMs", serde_json::json!(init_ms).to_string()));
    }
    if let Some((restore_ms, billed_restore_ms)) = fields.restore {
        metrics.push((
            "restoreDurationMs",
            serde_json::json!(restore_ms).to_string(),
        ));
        metrics.push(("billedRestoreDurationMs", whole(billed_restore_ms)));
    }
    let mut record = vec![
        (
            "requestId",
            serde_json::json!(fields.request_id).to_string(),
        ),
        ("metrics", object(&rotated(&metrics, turn))),
    ];
    if let Some((root, parent, sampled)) = &fields.tracing {
        let value = format!("Root={root};Parent={parent};Sampled={}", u8::from(*sampled));
        let tracing = [
            ("spanId", "\"24cd7d670fa455f0\"".to_owned()),
            ("type", "\"X-Amzn-Trace-Id\"".to_owned()),
            ("value", serde_json::json!(value).to_string()),
        ];
        record.push(("tracing", object(&rotated(&tracing, turn / 3))));
    }
    if let Some(status) = fields.status {
        record.push(("status", serde_json::json!(status).to_string()));
    }
    if let Some(error_type) = &fields.error_type {
        record.push(("errorType", serde_json::json!(error_type).to_string()));
    }
    let event = [
        ("time", "\"2024-05-20T16:29:45.022Z\"".to_owned()),
        ("type", "\"platform.report\"".to_owned()),
        ("record", object(&rotated(&record, turn / 7))),
    ];
    format!("{}\n", object(&rotated(&event, turn / 11)))
}

/// serde_json reads floats to within an ulp, not always exactly.
fn close(actual: Option<f64>, expected: Option<f64>) -> bool {
    match (actual, expected) {
        (Some(actual), Some(expected)) => {
            (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0)
        }
        (None, None) => true,
        _ => false,
    }
}

proptest! {
    #[test]
    fn json_report_round_trips(fields in json_report(), turn in 0usize..1000) {
        let message = render_json(&fields, turn);
        let LogLine::Report(report) = parse(&message) else {
            panic!("not a report: {message}");
        };
        prop_assert_eq!(report.request_id.as_ref(), fields.request_id.as_str());
        prop_assert!(close(report.duration_ms, Some(fields.duration_ms)));
        prop_assert_eq!(report.billed_duration_ms, Some(fields.billed_ms));
        prop_assert_eq!(report.memory_size_mb, Some(fields.memory_mb));
        prop_assert_eq!(report.max_memory_used_mb, Some(fields.max_memory_mb));
        prop_assert!(close(report.init_duration_ms, fields.init_ms));
        prop_assert!(close(report.restore_duration_ms, fields.restore.map(|(restore, _)| restore)));
        prop_assert_eq!(report.billed_restore_duration_ms, fields.restore.map(|(_, billed)| billed));
        prop_assert_eq!(report.xray_trace_id.as_deref(), fields.tracing.as_ref().map(|(root, _, _)| root.as_str()));
        prop_assert_eq!(report.xray_segment_id.as_deref(), fields.tracing.as_ref().map(|(_, parent, _)| parent.as_str()));
        prop_assert_eq!(report.xray_sampled, fields.tracing.as_ref().map(|(_, _, sampled)| *sampled));
        let status = fields.status.map(|status| match status {
            "success" => ReportStatus::Success,
            "timeout" => ReportStatus::Timeout,
            _ => ReportStatus::Error,
        });
        prop_assert_eq!(report.status, status);
        prop_assert_eq!(report.error_type.as_deref(), fields.error_type.as_deref());
    }
}

/// Which bound a report is pushed past.
#[derive(Debug, Clone, Copy)]
enum Breach {
    Duration,
    Billed,
    MemoryBelow,
    MemoryAbove,
    MaxMemoryUsed,
    InitDuration,
    RequestId,
}

const BREACHES: [Breach; 7] = [
    Breach::Duration,
    Breach::Billed,
    Breach::MemoryBelow,
    Breach::MemoryAbove,
    Breach::MaxMemoryUsed,
    Breach::InitDuration,
    Breach::RequestId,
];

/// A figure `excess` past `bound`, for the figures held in `u32`.
fn over_u32(bound: u32, excess: u64) -> u32 {
    bound + 1 + (excess % 1_000_000) as u32
}

proptest! {
    #[test]
    fn text_report_past_a_bound_is_other(
        fields in text_report(),
        breach in select(&BREACHES[..]),
        excess in 0u64..1_000_000_000_000,
        separators in prop::collection::vec(separator(), 1..12),
        colons in prop::collection::vec(after_colon(), 1..12),
    ) {
        let mut fields = fields;
        let max_cents = (MAX_DURATION_MS * 100.0) as u64;
        let reason = match breach {
            Breach::Duration => {
                fields.duration_cents = max_cents + 1 + excess;
                OtherReason::FigureOutOfRange
            }
            Breach::Billed => {
                fields.billed_ms = MAX_BILLED_DURATION_MS + 1 + excess;
                OtherReason::FigureOutOfRange
            }
            Breach::MemoryBelow => {
                fields.memory_mb = (excess % u64::from(MIN_MEMORY_SIZE_MB)) as u32;
                OtherReason::FigureOutOfRange
            }
            Breach::MemoryAbove => {
                fields.memory_mb = over_u32(MAX_MEMORY_SIZE_MB, excess);
                OtherReason::FigureOutOfRange
            }
            Breach::MaxMemoryUsed => {
                fields.max_memory_mb = over_u32(MAX_MEMORY_SIZE_MB, excess);
                OtherReason::FigureOutOfRange
            }
            Breach::InitDuration => {
                fields.init_cents = Some(max_cents + 1 + excess);
                OtherReason::FigureOutOfRange
            }
            Breach::RequestId => {
                fields.request_id = "r".repeat(MAX_ID_BYTES + 1 + (excess % 8192) as usize);
                OtherReason::IdTooLong
            }
        };
        let line = render(&fields, &separators, &colons, "\t", "\n");
        prop_assert_eq!(parse(&line), LogLine::Other { reason }, "line: {:.300}", line);
    }

    #[test]
    fn json_report_past_a_bound_is_other(
        fields in json_report(),
        breach in select(&BREACHES[..]),
        excess in 0u64..1_000_000_000_000,
        turn in 0usize..1000,
    ) {
        let mut fields = fields;
        let reason = match breach {
            Breach::Duration => {
                fields.duration_ms = MAX_DURATION_MS + 0.01 + excess as f64;
                OtherReason::FigureOutOfRange
            }
            Breach::Billed => {
                fields.billed_ms = MAX_BILLED_DURATION_MS + 1 + excess;
                OtherReason::FigureOutOfRange
            }
            Breach::MemoryBelow => {
                fields.memory_mb = (excess % u64::from(MIN_MEMORY_SIZE_MB)) as u32;
                OtherReason::FigureOutOfRange
            }
            Breach::MemoryAbove => {
                fields.memory_mb = over_u32(MAX_MEMORY_SIZE_MB, excess);
                OtherReason::FigureOutOfRange
            }
            Breach::MaxMemoryUsed => {
                fields.max_memory_mb = over_u32(MAX_MEMORY_SIZE_MB, excess);
                OtherReason::FigureOutOfRange
            }
            Breach::InitDuration => {
                fields.init_ms = Some(MAX_DURATION_MS + 0.01 + excess as f64);
                OtherReason::FigureOutOfRange
            }
            Breach::RequestId => {
                fields.request_id = "r".repeat(MAX_ID_BYTES + 1 + (excess % 8192) as usize);
                OtherReason::IdTooLong
            }
        };
        let message = render_json(&fields, turn);
        prop_assert_eq!(parse(&message), LogLine::Other { reason }, "message: {:.300}", message);
    }
}
