//! Bounds: the figures and identifiers Lambda can produce, and the check
//! that turns a line past them into [`LogLine::Other`].
//!
//! Application code prints whatever it likes, including text that looks
//! exactly like a platform line. A fake `REPORT` with a 30-digit duration
//! would overflow the rollup sums, a memory size of four billion MB would make
//! `memory × billed` wrap, and a request id of a few kilobytes is past
//! PostgreSQL's btree limit on the primary key. Each of those makes the store
//! refuse the batch on every retry, and so blocks the Kinesis shard. The
//! parser therefore refuses such a line here, at the edge, with the reason
//! that says why, rather than hoping every later stage copes.
//!
//! Every bound is a named constant below, with the Lambda limit it comes
//! from and the slack it leaves. The slack is generous on purpose: refusing a
//! real line loses data, while accepting a slightly odd one costs nothing, as
//! long as the figures stay far from anything that overflows. At the largest
//! accepted figures, `memory × billed` is about 3 × 10^10 MB·ms per
//! invocation, some 3 × 10^8 times below `i64::MAX`.
//!
//! The check runs once per line, after the reader of its format, so that the
//! text and the JSON formats share one definition. JSON platform records that
//! do not become a [`LogLine::Report`] keep figures and identifiers the
//! `LogLine` does not carry; the JSON reader checks those with the predicates
//! of this module.

use std::borrow::Cow;

use super::{LogLine, OtherReason, Report};

/// The longest duration accepted, in ms: Lambda's 15-minute timeout plus one
/// minute of slack.
///
/// Applies to `Duration`, `Init Duration` and `Restore Duration`. A timed-out
/// invocation reports a duration a little past its timeout; init is capped at
/// 10 s on demand and at the function timeout (at most 15 min) for
/// provisioned concurrency and SnapStart, so one bound covers all three.
pub const MAX_DURATION_MS: f64 = 960_000.0;

/// The longest billed duration accepted, in ms: the same 16 minutes.
///
/// Billed Duration is the duration rounded up (to 1 ms, or 100 ms before
/// December 2020), plus the init phase where that is billed (custom runtimes,
/// container images, and since August 2025 every on-demand function). Init
/// on demand is at most 10 s, so 15 min + 10 s + rounding fits with room.
/// Applies to `Billed Restore Duration` too.
pub const MAX_BILLED_DURATION_MS: u64 = 960_000;

/// The smallest memory size accepted, in MB: half of Lambda's minimum of
/// 128 MB, so that no real line is lost to an odd unit or a future smaller
/// size, while 0 (which would price an invocation as free) is refused.
pub const MIN_MEMORY_SIZE_MB: u32 = 64;

/// The largest memory size accepted, in MB, and the largest max memory used.
///
/// On-demand functions go up to 10,240 MB; functions on Lambda Managed
/// Instances (late 2025) can be configured up to 32,768 MB. The bound is the
/// larger of the two, so that such a function's lines are never dropped.
/// Max memory used is held to the same figure rather than to the line's own
/// memory size: this is a sanity bound that keeps the number small, not a
/// consistency check between two fields.
pub const MAX_MEMORY_SIZE_MB: u32 = 32_768;

/// The longest timeout accepted in `Task timed out after N seconds`: the
/// 15-minute limit plus the same minute of slack as [`MAX_DURATION_MS`].
pub const MAX_TIMEOUT_SECONDS: f64 = MAX_DURATION_MS / 1000.0;

/// The longest identifier accepted, in bytes: request ids, versions, X-Ray
/// trace and segment ids, runtime versions and their ARNs.
///
/// Lambda's longest is the runtime version ARN, about 110 bytes; request ids
/// are 36-byte UUIDs. 256 bytes leaves room for any id format and keeps a key
/// of (account, function, request id) far below PostgreSQL's btree limit of
/// about 2,700 bytes per index entry.
pub const MAX_ID_BYTES: usize = 256;

/// Whether a duration in ms is one Lambda can report: finite, not negative,
/// at most [`MAX_DURATION_MS`]. NaN is refused (it fails every comparison).
pub fn duration_in_range(duration_ms: f64) -> bool {
    (0.0..=MAX_DURATION_MS).contains(&duration_ms)
}

/// Whether a billed duration in ms is at most [`MAX_BILLED_DURATION_MS`].
pub fn billed_in_range(billed_ms: u64) -> bool {
    billed_ms <= MAX_BILLED_DURATION_MS
}

/// Whether a configured memory size is within
/// [`MIN_MEMORY_SIZE_MB`]..=[`MAX_MEMORY_SIZE_MB`].
pub fn memory_size_in_range(memory_mb: u32) -> bool {
    (MIN_MEMORY_SIZE_MB..=MAX_MEMORY_SIZE_MB).contains(&memory_mb)
}

/// Whether a timeout in seconds is finite, not negative and at most
/// [`MAX_TIMEOUT_SECONDS`].
pub fn timeout_in_range(timeout_seconds: f64) -> bool {
    (0.0..=MAX_TIMEOUT_SECONDS).contains(&timeout_seconds)
}

/// Whether an identifier fits in [`MAX_ID_BYTES`].
pub fn id_fits(id: &str) -> bool {
    id.len() <= MAX_ID_BYTES
}

/// Why `line` is past a bound, or `None` when it is within all of them.
///
/// Identifiers are checked before figures, so a line past both is counted as
/// `id_too_long`. `Other` lines, extension and telemetry registrations carry
/// nothing that is stored, so nothing of theirs is checked.
pub fn violation(line: &LogLine<'_>) -> Option<OtherReason> {
    let ids_fit = |ids: &[Option<&Cow<'_, str>>]| ids.iter().flatten().all(|id| id_fits(id));
    let (ids_ok, figures_ok) = match line {
        LogLine::Start {
            request_id,
            version,
        } => (ids_fit(&[Some(request_id), version.as_ref()]), true),
        LogLine::End { request_id } | LogLine::Crash { request_id, .. } => {
            (ids_fit(&[Some(request_id)]), true)
        }
        LogLine::Report(report) => (report_ids_fit(report), report_figures_in_range(report)),
        LogLine::InitStart {
            runtime_version,
            runtime_version_arn,
            ..
        } => (
            ids_fit(&[runtime_version.as_ref(), runtime_version_arn.as_ref()]),
            true,
        ),
        LogLine::InitReport {
            init_duration_ms,
            restore_duration_ms,
            ..
        } => (
            true,
            init_duration_ms
                .iter()
                .chain(restore_duration_ms)
                .all(|duration_ms| duration_in_range(*duration_ms)),
        ),
        LogLine::Timeout {
            request_id,
            timeout_seconds,
        } => (
            ids_fit(&[request_id.as_ref()]),
            timeout_in_range(*timeout_seconds),
        ),
        LogLine::AppError { request_id, .. }
        | LogLine::App { request_id, .. }
        | LogLine::PlatformJson { request_id, .. } => (ids_fit(&[request_id.as_ref()]), true),
        LogLine::Extension { .. } | LogLine::Telemetry { .. } | LogLine::Other { .. } => {
            (true, true)
        }
    };
    if !ids_ok {
        Some(OtherReason::IdTooLong)
    } else if !figures_ok {
        Some(OtherReason::FigureOutOfRange)
    } else {
        None
    }
}

/// `line` itself when it is within every bound, otherwise `Other` with the
/// reason it is not.
pub(super) fn check(line: LogLine<'_>) -> LogLine<'_> {
    match violation(&line) {
        Some(reason) => LogLine::Other { reason },
        None => line,
    }
}

fn report_ids_fit(report: &Report<'_>) -> bool {
    id_fits(&report.request_id)
        && [&report.xray_trace_id, &report.xray_segment_id]
            .into_iter()
            .flatten()
            .all(|id| id_fits(id))
}

fn report_figures_in_range(report: &Report<'_>) -> bool {
    let durations_ok = report
        .duration_ms
        .iter()
        .chain(&report.init_duration_ms)
        .chain(&report.restore_duration_ms)
        .all(|duration_ms| duration_in_range(*duration_ms));
    let billed_ok = report
        .billed_duration_ms
        .iter()
        .chain(&report.billed_restore_duration_ms)
        .all(|billed_ms| billed_in_range(*billed_ms));
    let memory_ok = report.memory_size_mb.is_none_or(memory_size_in_range)
        && report
            .max_memory_used_mb
            .is_none_or(|used_mb| used_mb <= MAX_MEMORY_SIZE_MB);
    durations_ok && billed_ok && memory_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_refuse_nan_infinity_and_negatives() {
        assert!(duration_in_range(0.0));
        assert!(duration_in_range(MAX_DURATION_MS));
        for duration_ms in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.01,
            MAX_DURATION_MS + 0.01,
        ] {
            assert!(!duration_in_range(duration_ms), "{duration_ms}");
        }
        assert!(!timeout_in_range(f64::NAN));
        assert!(timeout_in_range(MAX_TIMEOUT_SECONDS));
    }

    #[test]
    fn identifiers_are_counted_in_bytes() {
        // 64 four-byte characters are 256 bytes; one more byte is too many.
        let at_bound = "😀".repeat(MAX_ID_BYTES / 4);
        assert!(id_fits(&at_bound));
        assert!(!id_fits(&format!("{at_bound}a")));
    }

    #[test]
    fn ids_are_checked_before_figures() {
        let report = Report {
            request_id: Cow::Owned("r".repeat(MAX_ID_BYTES + 1)),
            duration_ms: Some(f64::INFINITY),
            ..Report::default()
        };
        assert_eq!(
            violation(&LogLine::Report(report)),
            Some(OtherReason::IdTooLong)
        );
    }
}
