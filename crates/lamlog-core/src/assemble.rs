//! Assemble: [`LogLine`]s of a batch → [`Invocation`]s, merged by key.
//!
//! One invocation leaves several lines: START, application lines, END, REPORT,
//! and when it goes wrong a timeout, crash or error line. They can arrive in
//! any order and in different batches (Kinesis re-delivers, and a subscription
//! filter cuts a stream wherever it likes). So an [`Invocation`] is built as a
//! *join* of evidence: every field is set by whichever line knows it, the
//! status only rises in severity, and merging the same evidence twice changes
//! nothing. [`Invocation::merge`] is commutative, associative and idempotent,
//! which is what lets the stores promise the same final state for any split
//! and any replay of a log stream.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::decode::Envelope;
use crate::parse::{parse, LogLine, ReportStatus, OUT_OF_MEMORY};

mod counts;
mod footprint;
mod status;

pub use counts::{LineCounts, OtherCounts};
pub use status::{Status, StatusFlags};

/// The identity of an invocation: (account, function, request id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct InvocationKey {
    /// The account id that owns the log group.
    pub account: String,
    /// The function name.
    pub function: String,
    /// Lambda's request id (any token; not always a UUID).
    pub request_id: String,
}

/// Everything known about one invocation.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Invocation {
    /// The account id (`owner` of the envelope).
    pub account: String,
    /// The function name, from `/aws/lambda/NAME` or the metadata mapping.
    pub function: String,
    /// Lambda's request id.
    pub request_id: String,
    /// The log group the lines came from.
    pub log_group: String,
    /// `$LATEST` or a version number, from START.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Event timestamp of the REPORT: the invocation's time for rollups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time_ms: Option<i64>,
    /// REPORT `Duration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// REPORT `Billed Duration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billed_duration_ms: Option<u64>,
    /// REPORT `Memory Size`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_size_mb: Option<u32>,
    /// REPORT `Max Memory Used`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_memory_used_mb: Option<u32>,
    /// REPORT `Init Duration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_duration_ms: Option<f64>,
    /// REPORT `Restore Duration` (SnapStart).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_duration_ms: Option<f64>,
    /// REPORT `Billed Restore Duration` (SnapStart).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billed_restore_duration_ms: Option<u64>,
    /// X-Ray trace id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xray_trace_id: Option<String>,
    /// The timeout printed by `Task timed out after N seconds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// True when an Init or Restore Duration is present.
    pub cold_start: bool,
    /// Every status claimed by some line.
    pub status_flags: StatusFlags,
    /// The error type that goes with the most severe status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
}

impl Invocation {
    /// A new, empty invocation for a key.
    pub fn new(key: InvocationKey, log_group: &str) -> Invocation {
        Invocation {
            account: key.account,
            function: key.function,
            request_id: key.request_id,
            log_group: log_group.to_owned(),
            ..Invocation::default()
        }
    }

    /// The key of this invocation.
    pub fn key(&self) -> InvocationKey {
        InvocationKey {
            account: self.account.clone(),
            function: self.function.clone(),
            request_id: self.request_id.clone(),
        }
    }

    /// The final status: the most severe one seen.
    pub fn status(&self) -> Status {
        self.status_flags.max()
    }

    /// Whether the REPORT has been seen; only reported invocations have a
    /// time, a cost and a place in the rollups.
    pub fn is_reported(&self) -> bool {
        self.start_time_ms.is_some() && self.duration_ms.is_some()
    }

    /// Records that some line claims `status` with `error_type`.
    pub fn raise(&mut self, status: Status, error_type: Option<&str>) {
        let before = self.status();
        self.status_flags.0 |= status.bit();
        let replace = match status.cmp(&before) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => error_type > self.error_type.as_deref(),
            std::cmp::Ordering::Less => false,
        };
        if replace {
            self.error_type = error_type.map(str::to_owned);
        }
    }

    /// Merges `other` (evidence about the same key) into `self` and says
    /// whether anything changed. The merge is a lattice join: commutative,
    /// associative and idempotent, so the result does not depend on the
    /// order or the batching of the evidence.
    pub fn merge(&mut self, other: &Invocation) -> bool {
        debug_assert_eq!(self.request_id, other.request_id);
        let before = self.clone();
        self.log_group = join(
            Some(std::mem::take(&mut self.log_group)),
            Some(other.log_group.clone()),
        )
        .unwrap_or_default();
        self.version = join(self.version.take(), other.version.clone());
        self.start_time_ms = join(self.start_time_ms, other.start_time_ms);
        self.duration_ms = join_f64(self.duration_ms, other.duration_ms);
        self.billed_duration_ms = join(self.billed_duration_ms, other.billed_duration_ms);
        self.memory_size_mb = join(self.memory_size_mb, other.memory_size_mb);
        self.max_memory_used_mb = join(self.max_memory_used_mb, other.max_memory_used_mb);
        self.init_duration_ms = join_f64(self.init_duration_ms, other.init_duration_ms);
        self.restore_duration_ms = join_f64(self.restore_duration_ms, other.restore_duration_ms);
        self.billed_restore_duration_ms = join(
            self.billed_restore_duration_ms,
            other.billed_restore_duration_ms,
        );
        self.xray_trace_id = join(self.xray_trace_id.take(), other.xray_trace_id.clone());
        self.timeout_seconds = join_f64(self.timeout_seconds, other.timeout_seconds);
        self.cold_start |= other.cold_start;
        // Error type follows the most severe status; ties take the greater
        // string so that the join stays order-independent.
        let (mine, theirs) = (self.status(), other.status());
        self.status_flags.0 |= other.status_flags.0;
        self.error_type = match mine.cmp(&theirs) {
            std::cmp::Ordering::Less => other.error_type.clone(),
            std::cmp::Ordering::Equal => join(self.error_type.take(), other.error_type.clone()),
            std::cmp::Ordering::Greater => self.error_type.take(),
        };
        *self != before
    }
}

/// Join of two optional values: the one that is present, or the greater of two.
fn join<T: Ord>(left: Option<T>, right: Option<T>) -> Option<T> {
    match (left, right) {
        (Some(left), Some(right)) => Some(left.max(right)),
        (left, right) => left.or(right),
    }
}

fn join_f64(left: Option<f64>, right: Option<f64>) -> Option<f64> {
    match (left, right) {
        (Some(left), Some(right)) => Some(if left.total_cmp(&right).is_ge() {
            left
        } else {
            right
        }),
        (left, right) => left.or(right),
    }
}

/// The function a log group belongs to: `NAME` for `/aws/lambda/NAME`, the
/// group itself otherwise (a custom group, mapped later by the metadata).
pub fn function_from_log_group(log_group: &str) -> &str {
    match log_group.strip_prefix("/aws/lambda/") {
        Some(name) if !name.is_empty() => name,
        _ => log_group,
    }
}

/// The account used when an input carries no owner (plain lines, NDJSON).
pub const UNKNOWN_ACCOUNT: &str = "unknown";
/// The log group used when an input carries none.
pub const UNKNOWN_LOG_GROUP: &str = "unknown";

/// The invocations of one function, by request id. foldhash is several times
/// faster than SipHash on short keys and still seeds each map randomly, so
/// request ids crafted to collide cannot slow a batch down.
type Requests = HashMap<String, Invocation, foldhash::fast::RandomState>;

/// Builds the invocations of a batch, one envelope at a time.
///
/// Lines are grouped by (account, function) first and by request id inside.
/// An envelope has one log group, so its group is found once, and the
/// per-line lookup borrows the request id and allocates only for a request
/// not seen before. [`Assembler::finish`] orders invocations by key, so
/// everything downstream (the store, the alerts) sees the same order whatever
/// the input order.
#[derive(Debug, Default)]
pub struct Assembler {
    by_function: BTreeMap<(String, String), Requests>,
    counts: LineCounts,
    held_bytes: usize,
}

impl Assembler {
    /// An empty assembler.
    pub fn new() -> Assembler {
        Assembler::default()
    }

    /// Parses every event of `envelope` and folds it into the invocations.
    pub fn add_envelope(&mut self, envelope: &Envelope) {
        let account = envelope.owner.as_deref().unwrap_or(UNKNOWN_ACCOUNT);
        let log_group = envelope.log_group.as_deref().unwrap_or(UNKNOWN_LOG_GROUP);
        let requests = requests_of(
            &mut self.by_function,
            &mut self.held_bytes,
            account,
            log_group,
        );
        for event in &envelope.events {
            let line = parse(&event.message);
            self.held_bytes += fold(
                requests,
                &mut self.counts,
                account,
                log_group,
                event.timestamp_ms,
                &line,
            );
        }
    }

    /// Folds one parsed line into the invocations.
    pub fn add_line(
        &mut self,
        account: &str,
        log_group: &str,
        timestamp_ms: Option<i64>,
        line: &LogLine<'_>,
    ) {
        let requests = requests_of(
            &mut self.by_function,
            &mut self.held_bytes,
            account,
            log_group,
        );
        self.held_bytes += fold(
            requests,
            &mut self.counts,
            account,
            log_group,
            timestamp_ms,
            line,
        );
    }

    /// The line counts so far.
    pub fn counts(&self) -> LineCounts {
        self.counts
    }

    /// An estimate, on the high side, of the memory the invocations
    /// assembled so far hold (see `footprint.rs`). It only grows; callers
    /// that bound a batch's memory commit the batch when it passes their
    /// bound.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// The invocations, ordered by key.
    pub fn finish(self) -> (Vec<Invocation>, LineCounts) {
        let mut invocations = Vec::new();
        // The groups come out in (account, function) order; sorting each
        // group by request id completes the key order.
        for requests in self.by_function.into_values() {
            let start = invocations.len();
            invocations.extend(requests.into_values());
            invocations[start..]
                .sort_unstable_by(|left, right| left.request_id.cmp(&right.request_id));
        }
        (invocations, self.counts)
    }
}

/// The request map of a log group's function, created on first use.
fn requests_of<'a>(
    by_function: &'a mut BTreeMap<(String, String), Requests>,
    held_bytes: &mut usize,
    account: &str,
    log_group: &str,
) -> &'a mut Requests {
    let function = function_from_log_group(log_group);
    by_function
        .entry((account.to_owned(), function.to_owned()))
        .or_insert_with(|| {
            *held_bytes += footprint::new_group_bytes(account, function);
            Requests::default()
        })
}

/// Counts a line and, when it is evidence about a request, folds it in.
/// Answers the bytes the assembled state grew by.
fn fold(
    requests: &mut Requests,
    counts: &mut LineCounts,
    account: &str,
    log_group: &str,
    timestamp_ms: Option<i64>,
    line: &LogLine<'_>,
) -> usize {
    counts.count(line);
    let Some(request_id) = request_id_of(line) else {
        return 0;
    };
    let mut grown_bytes = 0;
    let invocation = match requests.get_mut(request_id) {
        Some(invocation) => invocation,
        None => requests.entry(request_id.to_owned()).or_insert_with(|| {
            let function = function_from_log_group(log_group);
            grown_bytes = footprint::new_invocation_bytes(account, function, request_id, log_group);
            let key = InvocationKey {
                account: account.to_owned(),
                function: function_from_log_group(log_group).to_owned(),
                request_id: request_id.to_owned(),
            };
            Invocation::new(key, log_group)
        }),
    };
    if invocation.log_group.as_str() < log_group {
        grown_bytes += log_group.len().saturating_sub(invocation.log_group.len());
        log_group.clone_into(&mut invocation.log_group);
    }
    let texts_before = footprint::optional_text_bytes(invocation);
    apply(invocation, timestamp_ms, line);
    grown_bytes + footprint::optional_text_bytes(invocation).saturating_sub(texts_before)
}

/// The request a line is evidence about, if it is evidence at all.
fn request_id_of<'a>(line: &'a LogLine<'_>) -> Option<&'a str> {
    let request_id = match line {
        LogLine::Start { request_id, .. } | LogLine::End { request_id } => Some(request_id),
        LogLine::Report(report) => Some(&report.request_id),
        LogLine::Crash { request_id, .. } => Some(request_id),
        LogLine::Timeout { request_id, .. } | LogLine::AppError { request_id, .. } => {
            request_id.as_ref()
        }
        LogLine::PlatformJson {
            request_id, status, ..
        } if failure_status(status.as_deref()).is_some() => request_id.as_ref(),
        _ => None,
    }?;
    let request_id = request_id.as_ref();
    (!request_id.is_empty() && request_id != "undefined").then_some(request_id)
}

fn failure_status(status: Option<&str>) -> Option<Status> {
    match status? {
        "timeout" => Some(Status::Timeout),
        "error" | "failure" => Some(Status::Error),
        _ => None,
    }
}

const OUT_OF_MEMORY_ERROR_TYPE: &str = "Runtime.OutOfMemory";

/// The error type Lambda gives an invocation whose runtime process exited.
/// A REPORT that carries it is evidence of a crash on its own: the
/// `Runtime exited` line may be in another batch, or absent altogether (the
/// JSON log format has no such line).
const EXIT_ERROR_TYPE: &str = "Runtime.ExitError";

/// Folds one line's evidence into an invocation, in place. Each field moves
/// by the same join as [`Invocation::merge`], so applying lines one by one
/// and merging batches give the same result.
fn apply(invocation: &mut Invocation, timestamp_ms: Option<i64>, line: &LogLine<'_>) {
    match line {
        LogLine::Start {
            version: Some(version),
            ..
        } => {
            let version = version.as_ref();
            if invocation
                .version
                .as_deref()
                .is_none_or(|current| current < version)
            {
                invocation.version = Some(version.to_owned());
            }
        }
        LogLine::Report(report) => {
            invocation.start_time_ms = join(invocation.start_time_ms, timestamp_ms.or(Some(0)));
            invocation.duration_ms = join_f64(invocation.duration_ms, report.duration_ms);
            invocation.billed_duration_ms =
                join(invocation.billed_duration_ms, report.billed_duration_ms);
            invocation.memory_size_mb = join(invocation.memory_size_mb, report.memory_size_mb);
            invocation.max_memory_used_mb =
                join(invocation.max_memory_used_mb, report.max_memory_used_mb);
            invocation.init_duration_ms =
                join_f64(invocation.init_duration_ms, report.init_duration_ms);
            invocation.restore_duration_ms =
                join_f64(invocation.restore_duration_ms, report.restore_duration_ms);
            invocation.billed_restore_duration_ms = join(
                invocation.billed_restore_duration_ms,
                report.billed_restore_duration_ms,
            );
            if let Some(trace_id) = report.xray_trace_id.as_deref() {
                if invocation
                    .xray_trace_id
                    .as_deref()
                    .is_none_or(|current| current < trace_id)
                {
                    invocation.xray_trace_id = Some(trace_id.to_owned());
                }
            }
            invocation.cold_start |=
                report.init_duration_ms.is_some() || report.restore_duration_ms.is_some();
            let error_type = report.error_type.as_deref();
            match report.status {
                Some(ReportStatus::Timeout) => invocation.raise(Status::Timeout, error_type),
                Some(ReportStatus::Error) if error_type == Some(OUT_OF_MEMORY_ERROR_TYPE) => {
                    invocation.raise(Status::Oom, error_type)
                }
                Some(ReportStatus::Error) if error_type == Some(EXIT_ERROR_TYPE) => {
                    invocation.raise(Status::Crash, error_type)
                }
                Some(ReportStatus::Error) => invocation.raise(Status::Error, error_type),
                Some(ReportStatus::Success) | None => {}
            }
        }
        LogLine::Timeout {
            timeout_seconds, ..
        } => {
            invocation.timeout_seconds =
                join_f64(invocation.timeout_seconds, Some(*timeout_seconds));
            invocation.raise(Status::Timeout, Some("Sandbox.Timedout"));
        }
        LogLine::Crash {
            error_type, killed, ..
        } => {
            let status = if *killed { Status::Oom } else { Status::Crash };
            invocation.raise(status, error_type.as_deref());
        }
        LogLine::AppError { error_type, .. } => {
            let status = if error_type.as_deref() == Some(OUT_OF_MEMORY) {
                Status::Oom
            } else {
                Status::Error
            };
            invocation.raise(status, error_type.as_deref());
        }
        LogLine::PlatformJson { status, .. } => {
            if let Some(status) = failure_status(status.as_deref()) {
                invocation.raise(status, None);
            }
        }
        _ => {}
    }
}
