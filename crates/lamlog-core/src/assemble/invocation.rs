//! The invocation: everything known about one request, and the join that
//! merges two pieces of evidence about it (see the module comment of
//! [`crate::assemble`]).

use serde::Serialize;

use super::status::{Status, StatusFlags};

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
    /// The function name: from `/aws/lambda/NAME`, from the stream name of a
    /// shared custom log group, or from the metadata mapping.
    pub function: String,
    /// Lambda's request id.
    pub request_id: String,
    /// The log group the lines came from.
    pub log_group: String,
    /// `$LATEST` or a version number, from START.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The log stream, that is the execution environment, its lines came
    /// from (when the input names it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_stream: Option<String>,
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
        self.log_stream = join(self.log_stream.take(), other.log_stream.clone());
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
pub(super) fn join<T: Ord>(left: Option<T>, right: Option<T>) -> Option<T> {
    match (left, right) {
        (Some(left), Some(right)) => Some(left.max(right)),
        (left, right) => left.or(right),
    }
}

pub(super) fn join_f64(left: Option<f64>, right: Option<f64>) -> Option<f64> {
    match (left, right) {
        (Some(left), Some(right)) => Some(if left.total_cmp(&right).is_ge() {
            left
        } else {
            right
        }),
        (left, right) => left.or(right),
    }
}

/// [`join`] of a stored string and a borrowed one, allocating only when the
/// borrowed one wins.
pub(super) fn join_str(slot: &mut Option<String>, value: &str) {
    if slot.as_deref().is_none_or(|current| current < value) {
        *slot = Some(value.to_owned());
    }
}
