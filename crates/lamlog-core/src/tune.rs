//! Tune: observed invocations → a duration model across memory sizes →
//! memory-size recommendations (in progress).

use serde::{Deserialize, Serialize};

use crate::meta::Architecture;

/// One reported invocation, as the tuner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The account.
    pub account: String,
    /// The function.
    pub function: String,
    /// The architecture it ran on (x86_64 when not enriched).
    pub architecture: Architecture,
    /// Configured memory at the time.
    pub memory_size_mb: u32,
    /// REPORT Duration.
    pub duration_ms: f64,
    /// REPORT Billed Duration.
    pub billed_duration_ms: Option<u64>,
    /// REPORT Max Memory Used.
    pub max_memory_used_mb: Option<u32>,
    /// Init or restore duration, when this was a cold start.
    pub init_duration_ms: Option<f64>,
    /// Whether it succeeded (failed invocations' durations say little about speed).
    pub success: bool,
    /// REPORT time (epoch ms).
    pub start_time_ms: i64,
}
