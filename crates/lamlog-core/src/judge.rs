//! Judge: invocations and window counts → [`Alert`]s with dedup keys.
//!
//! Two kinds of rule:
//! - **Invocation rules** look at one invocation: it timed out, ran out of
//!   memory, used ≥ 90 % of its memory, ran ≥ 80 % of its timeout, or had a
//!   slow cold start. [`invocation_alerts`] returns the alerts an invocation's
//!   *state* implies. Every rule is monotone in that state (statuses are a set
//!   that only grows, REPORT figures are set once), so a store that emits
//!   `alerts(new) − alerts(old)` on each change emits, over any split or replay
//!   of the stream, exactly the alerts of the final state.
//! - **Window rules** look at a closed window of rollups: the error rate of a
//!   function over [`AlertRules::window_ms`]. [`window_alert`] is called
//!   when the stream's watermark passes the window's end plus a grace period,
//!   so it sees the counts of every line within the grace period, and again
//!   when later lines change the window (see [`crate::window`]).
//!
//! - **Stream rules** look at one execution environment's history: max
//!   memory used that keeps rising over its warm invocations raises
//!   [`AlertKind::MemoryGrowth`], once per log stream ([`crate::growth`]).
//! - **Hour rules** look at a closed hour of rollups the same way: its cost
//!   against the function's baseline ([`cost_spike`]).
//!
//! An alert's dedup key is (kind, account, function, window start): the same
//! alert in the same window is stored and sent once. A stream rule's key
//! names the stream instead of a window.

use serde::Serialize;

use crate::assemble::{Invocation, Status};
use crate::meta::FunctionMeta;

pub mod cost_spike;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// An invocation ran past its timeout.
    Timeout,
    /// An invocation ran out of memory.
    OutOfMemory,
    /// Max memory used reached the threshold fraction of memory size.
    MemoryPressure,
    /// Duration reached the threshold fraction of the configured timeout.
    NearTimeout,
    /// A window's failed fraction exceeded the threshold.
    ErrorRate,
    /// Init or restore duration exceeded the threshold.
    SlowColdStart,
    /// Max memory used keeps rising within one execution environment
    /// ([`crate::growth`]).
    MemoryGrowth,
    /// An hour's cost exceeded a multiple of the function's baseline
    /// ([`cost_spike`]).
    CostSpike,
}

impl AlertKind {
    /// The snake_case name used in JSON, SQL and dedup keys.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Timeout => "timeout",
            AlertKind::OutOfMemory => "out_of_memory",
            AlertKind::MemoryPressure => "memory_pressure",
            AlertKind::NearTimeout => "near_timeout",
            AlertKind::ErrorRate => "error_rate",
            AlertKind::SlowColdStart => "slow_cold_start",
            AlertKind::MemoryGrowth => "memory_growth",
            AlertKind::CostSpike => "cost_spike",
        }
    }

    /// The kind named `name` (its [`AlertKind::as_str`]), if any: how a
    /// stored alert is read back.
    pub fn from_name(name: &str) -> Option<AlertKind> {
        [
            AlertKind::Timeout,
            AlertKind::OutOfMemory,
            AlertKind::MemoryPressure,
            AlertKind::NearTimeout,
            AlertKind::ErrorRate,
            AlertKind::SlowColdStart,
            AlertKind::MemoryGrowth,
            AlertKind::CostSpike,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Warning,
    /// Something failed.
    Critical,
}

impl Severity {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// The severity named `name` (its [`Severity::as_str`]), if any.
    pub fn from_name(name: &str) -> Option<Severity> {
        [Severity::Warning, Severity::Critical]
            .into_iter()
            .find(|severity| severity.as_str() == name)
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// What it is about.
    pub kind: AlertKind,
    /// How urgent.
    pub severity: Severity,
    /// The account.
    pub account: String,
    /// The function.
    pub function: String,
    /// An invocation that shows it (the least request id, when several do).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Start of the window the alert belongs to (epoch ms).
    pub window_start_ms: i64,
    /// One line for a human.
    pub message: String,
    /// `kind|account|function|window_start_ms`.
    pub dedup_key: String,
}

/// Default thresholds; a function's metadata can override each of them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AlertRules {
    /// Width of an alert window.
    pub window_ms: i64,
    /// How long after a window's end it is judged (late lines still count).
    pub grace_ms: i64,
    /// Memory pressure threshold (fraction of memory size).
    pub memory_used_ratio: f64,
    /// Near-timeout threshold (fraction of the configured timeout).
    pub timeout_ratio: f64,
    /// Error-rate threshold (fraction of invocations that failed).
    pub error_rate: f64,
    /// Minimum invocations in a window before its error rate counts.
    pub error_rate_min_invocations: u64,
    /// Slow cold start threshold.
    pub cold_start_ms: f64,
}

impl Default for AlertRules {
    fn default() -> Self {
        AlertRules {
            window_ms: 300_000,
            grace_ms: 300_000,
            memory_used_ratio: 0.9,
            timeout_ratio: 0.8,
            error_rate: 0.05,
            error_rate_min_invocations: 20,
            cold_start_ms: 3000.0,
        }
    }
}

impl AlertRules {
    /// The window an instant falls in. Saturates at `i64::MIN` for instants
    /// whose window would start before it, rather than overflow.
    pub fn window_start(&self, time_ms: i64) -> i64 {
        let window_ms = self.window_ms.max(1);
        time_ms.div_euclid(window_ms).saturating_mul(window_ms)
    }

    /// These rules with a function's overrides applied.
    pub fn for_function(&self, meta: Option<&FunctionMeta>) -> AlertRules {
        let Some(thresholds) = meta.map(|meta| &meta.alerts) else {
            return *self;
        };
        AlertRules {
            memory_used_ratio: thresholds
                .memory_used_ratio
                .unwrap_or(self.memory_used_ratio),
            timeout_ratio: thresholds.timeout_ratio.unwrap_or(self.timeout_ratio),
            error_rate: thresholds.error_rate.unwrap_or(self.error_rate),
            error_rate_min_invocations: thresholds
                .error_rate_min_invocations
                .unwrap_or(self.error_rate_min_invocations),
            cold_start_ms: thresholds.cold_start_ms.unwrap_or(self.cold_start_ms),
            ..*self
        }
    }
}

/// Whether `meta` leaves alerts of `kind` on.
pub(crate) fn enabled(meta: Option<&FunctionMeta>, kind: AlertKind) -> bool {
    meta.is_none_or(|meta| {
        !meta
            .alerts
            .disabled
            .iter()
            .any(|name| name == kind.as_str())
    })
}

/// The dedup key of an alert: `kind|account|function|window start`, with
/// `%` and `|` in the names escaped ([`crate::key`]), so that a `|` in a name
/// never makes two alerts share a key.
pub fn dedup_key(kind: AlertKind, account: &str, function: &str, window_start_ms: i64) -> String {
    crate::key::join(
        '|',
        &[
            kind.as_str(),
            account,
            function,
            &window_start_ms.to_string(),
        ],
    )
}

/// The alerts an invocation's state implies. Only reported invocations (whose
/// time is known) raise alerts; the result is sorted by kind.
pub fn invocation_alerts(
    invocation: &Invocation,
    meta: Option<&FunctionMeta>,
    defaults: &AlertRules,
) -> Vec<Alert> {
    let Some(start_time_ms) = invocation
        .start_time_ms
        .filter(|_| invocation.is_reported())
    else {
        return Vec::new();
    };
    let rules = defaults.for_function(meta);
    let mut found: Vec<(AlertKind, Severity, String)> = Vec::new();
    let flags = invocation.status_flags;
    if flags.contains(Status::Timeout) {
        let after = invocation
            .timeout_seconds
            .map(|seconds| format!(" after {seconds:.2} s"))
            .unwrap_or_default();
        found.push((
            AlertKind::Timeout,
            Severity::Critical,
            format!("invocation timed out{after}"),
        ));
    }
    if flags.contains(Status::Oom) {
        found.push((
            AlertKind::OutOfMemory,
            Severity::Critical,
            format!(
                "invocation ran out of memory at {} MB",
                invocation.memory_size_mb.unwrap_or(0)
            ),
        ));
    }
    if let (Some(used), Some(size)) = (invocation.max_memory_used_mb, invocation.memory_size_mb) {
        if size > 0 && f64::from(used) >= rules.memory_used_ratio * f64::from(size) {
            found.push((
                AlertKind::MemoryPressure,
                Severity::Warning,
                format!("max memory used {used} MB of {size} MB"),
            ));
        }
    }
    let configured_timeout_s = meta.and_then(|meta| meta.timeout_seconds);
    if let (Some(duration_ms), Some(timeout_s)) = (invocation.duration_ms, configured_timeout_s) {
        if timeout_s > 0.0
            && duration_ms >= rules.timeout_ratio * timeout_s * 1000.0
            && !flags.contains(Status::Timeout)
        {
            found.push((
                AlertKind::NearTimeout,
                Severity::Warning,
                format!(
                    "duration {duration_ms:.2} ms is {:.0} % of the {timeout_s} s timeout",
                    duration_ms / (timeout_s * 10.0)
                ),
            ));
        }
    }
    let cold_ms = invocation
        .init_duration_ms
        .into_iter()
        .chain(invocation.restore_duration_ms)
        .fold(0.0, f64::max);
    if cold_ms > rules.cold_start_ms {
        found.push((
            AlertKind::SlowColdStart,
            Severity::Warning,
            format!("cold start took {cold_ms:.2} ms"),
        ));
    }
    let window_start_ms = rules.window_start(start_time_ms);
    found
        .into_iter()
        .filter(|(kind, _, _)| enabled(meta, *kind))
        .map(|(kind, severity, detail)| Alert {
            kind,
            severity,
            account: invocation.account.clone(),
            function: invocation.function.clone(),
            request_id: Some(invocation.request_id.clone()),
            window_start_ms,
            message: format!(
                "{}: {detail} (request {})",
                invocation.function, invocation.request_id
            ),
            dedup_key: dedup_key(
                kind,
                &invocation.account,
                &invocation.function,
                window_start_ms,
            ),
        })
        .collect()
}

/// The final counts of one closed window of one function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowCounts {
    /// The account.
    pub account: String,
    /// The function.
    pub function: String,
    /// Start of the window (epoch ms).
    pub window_start_ms: i64,
    /// Reported invocations in the window.
    pub invocations: u64,
    /// Of which did not succeed.
    pub failures: u64,
}

/// The error-rate alert of a closed window, if its rate is over the threshold.
pub fn window_alert(
    counts: &WindowCounts,
    meta: Option<&FunctionMeta>,
    defaults: &AlertRules,
) -> Option<Alert> {
    let rules = defaults.for_function(meta);
    if !enabled(meta, AlertKind::ErrorRate)
        || counts.invocations < rules.error_rate_min_invocations.max(1)
    {
        return None;
    }
    let rate = counts.failures as f64 / counts.invocations as f64;
    (rate > rules.error_rate).then(|| Alert {
        kind: AlertKind::ErrorRate,
        severity: Severity::Critical,
        account: counts.account.clone(),
        function: counts.function.clone(),
        request_id: None,
        window_start_ms: counts.window_start_ms,
        message: format!(
            "{}: {} of {} invocations failed ({:.1} %, threshold {:.1} %)",
            counts.function,
            counts.failures,
            counts.invocations,
            rate * 100.0,
            rules.error_rate * 100.0
        ),
        dedup_key: dedup_key(
            AlertKind::ErrorRate,
            &counts.account,
            &counts.function,
            counts.window_start_ms,
        ),
    })
}

#[cfg(test)]
mod tests;
