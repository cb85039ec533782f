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
//!
//! The assembler also keeps how each log stream's environment started, when
//! a JSON `platform.initStart` says so ([`Assembler::take_environments`]):
//! the store keeps it for the invocations of later batches.

use std::collections::BTreeMap;
use std::hash::BuildHasher;

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

use crate::decode::Envelope;
use crate::parse::{parse, InitializationType, LogLine, ReportStatus, OUT_OF_MEMORY};

mod counts;
mod environment;
mod footprint;
mod invocation;
mod naming;
mod status;

pub use counts::{LineCounts, OtherCounts};
pub use environment::{Environment, EnvironmentKey};
use invocation::{join, join_f64, join_str};
pub use invocation::{Invocation, InvocationKey};
pub use naming::function_of;
pub use status::{Status, StatusFlags};

/// The account used when an input carries no owner (plain lines, NDJSON).
pub const UNKNOWN_ACCOUNT: &str = "unknown";
/// The log group used when an input carries none.
pub const UNKNOWN_LOG_GROUP: &str = "unknown";

/// The invocations of one function, by request id. The table holds the
/// invocations alone, found by their own `request_id`, so a new request's id
/// is allocated once, in its invocation, and not again as a map key.
/// foldhash is several times faster than SipHash on short keys and still
/// seeds each table randomly, so request ids crafted to collide cannot slow a
/// batch down.
#[derive(Debug, Default)]
struct Requests {
    table: HashTable<Invocation>,
    hasher: foldhash::fast::RandomState,
}

impl Requests {
    fn len(&self) -> usize {
        self.table.len()
    }
}

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
    environments: BTreeMap<EnvironmentKey, InitializationType>,
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
        let source = Source::of(account, log_group, envelope.log_stream.as_deref());
        let requests = requests_of(&mut self.by_function, &mut self.held_bytes, &source);
        for event in &envelope.events {
            let line = parse(&event.message);
            if let (
                LogLine::InitStart {
                    initialization_type: Some(started),
                    ..
                },
                Some(log_stream),
            ) = (&line, source.log_stream)
            {
                let key = EnvironmentKey {
                    account: account.to_owned(),
                    log_group: log_group.to_owned(),
                    log_stream: log_stream.to_owned(),
                };
                self.held_bytes += footprint::environment_bytes(&key);
                let entry = self.environments.entry(key).or_insert(*started);
                *entry = (*entry).max(*started);
            }
            self.held_bytes += fold(
                requests,
                &mut self.counts,
                &source,
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
        let source = Source::of(account, log_group, None);
        let requests = requests_of(&mut self.by_function, &mut self.held_bytes, &source);
        self.held_bytes += fold(requests, &mut self.counts, &source, timestamp_ms, line);
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

    /// How the environments of the log streams seen so far started, where a
    /// JSON `platform.initStart` said so; ordered by key, and taken: a
    /// second call answers only what was seen since.
    pub fn take_environments(&mut self) -> Vec<Environment> {
        std::mem::take(&mut self.environments)
            .into_iter()
            .map(|(key, initialization_type)| Environment {
                key,
                initialization_type,
            })
            .collect()
    }

    /// The invocations, ordered by key.
    pub fn finish(self) -> (Vec<Invocation>, LineCounts) {
        // Sized once: grown as it fills, the vector of a full slice is
        // copied over again a dozen times.
        let mut invocations =
            Vec::with_capacity(self.by_function.values().map(Requests::len).sum());
        // The groups come out in (account, function) order; sorting each
        // group by request id completes the key order.
        for requests in self.by_function.into_values() {
            let start = invocations.len();
            invocations.extend(requests.table);
            invocations[start..]
                .sort_unstable_by(|left, right| left.request_id.cmp(&right.request_id));
        }
        (invocations, self.counts)
    }
}

/// Where lines come from: whose, which function, which group, and the
/// version the stream names (a shared custom group's streams do).
struct Source<'a> {
    account: &'a str,
    function: &'a str,
    log_group: &'a str,
    log_stream: Option<&'a str>,
    version: Option<&'a str>,
}

impl<'a> Source<'a> {
    /// Lines of `log_group` (and `log_stream`, when the input names it).
    fn of(account: &'a str, log_group: &'a str, log_stream: Option<&'a str>) -> Source<'a> {
        let (function, version) = function_of(log_group, log_stream);
        Source {
            account,
            function,
            log_group,
            log_stream,
            version,
        }
    }
}

/// The request map of a function, created on first use.
fn requests_of<'a>(
    by_function: &'a mut BTreeMap<(String, String), Requests>,
    held_bytes: &mut usize,
    source: &Source<'_>,
) -> &'a mut Requests {
    let (account, function) = (source.account, source.function);
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
    source: &Source<'_>,
    timestamp_ms: Option<i64>,
    line: &LogLine<'_>,
) -> usize {
    counts.count(line);
    let Some(request_id) = request_id_of(line) else {
        return 0;
    };
    let mut grown_bytes = 0;
    let Requests { table, hasher } = requests;
    let invocation = match table.entry(
        hasher.hash_one(request_id),
        |invocation| invocation.request_id == request_id,
        |invocation| hasher.hash_one(invocation.request_id.as_str()),
    ) {
        Entry::Occupied(found) => found.into_mut(),
        Entry::Vacant(vacant) => {
            grown_bytes = footprint::new_invocation_bytes(
                source.account,
                source.function,
                request_id,
                source.log_group,
            );
            let key = InvocationKey {
                account: source.account.to_owned(),
                function: source.function.to_owned(),
                request_id: request_id.to_owned(),
            };
            vacant
                .insert(Invocation::new(key, source.log_group))
                .into_mut()
        }
    };
    if invocation.log_group.as_str() < source.log_group {
        grown_bytes += source
            .log_group
            .len()
            .saturating_sub(invocation.log_group.len());
        source.log_group.clone_into(&mut invocation.log_group);
    }
    let texts_before = footprint::optional_text_bytes(invocation);
    if let Some(version) = source.version {
        join_str(&mut invocation.version, version);
    }
    if let Some(log_stream) = source.log_stream {
        join_str(&mut invocation.log_stream, log_stream);
    }
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
        } => join_str(&mut invocation.version, version),
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
                join_str(&mut invocation.xray_trace_id, trace_id);
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
