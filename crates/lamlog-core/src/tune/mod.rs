//! Tune: observed invocations → a duration model across memory sizes →
//! memory-size recommendations, in the manner of AWS Lambda Power Tuning but
//! from production logs instead of test invocations.
//!
//! ```text
//! Sample ─observe─► Observations ─model::fit─► Fit ─strategy─► Recommendation ─plan─► Power Tuning input
//! ```
//!
//! - [`observe`]: samples grouped by function, architecture and memory size;
//!   warm and cold, successful and failed apart.
//! - [`model`]: `t(m) = a + b/min(m,1769) + c/min(m,10240)` fitted by
//!   weighted non-negative least squares, with a bootstrap interval.
//! - [`believe`]: the model corrected by the measured medians, which are
//!   believed as they are at a size with enough samples.
//! - [`strategy`]: price every candidate size (billing granularity, request
//!   fee, cold starts) and pick one: cost, speed, balanced, cheapest-within.
//! - [`recommend`]: the whole chain for one function, with its warnings,
//!   answered as an [`answer::Recommendation`].
//! - [`plan`]: the input that makes Lambda Power Tuning measure the answer.
//!
//! Everything here is pure: no I/O, no clock. Deterministic too, since the
//! bootstrap has a fixed seed: the same samples give the same answer.

use serde::{Deserialize, Serialize};

use crate::assemble::{Invocation, Status};
use crate::meta::Architecture;

pub mod answer;
pub mod believe;
pub mod model;
pub mod observe;
pub mod plan;
pub mod recommend;
pub mod strategy;
pub mod warning;

pub use answer::{
    ArchitectureModel, Choice, CurvePoint, ObservedPoint, Recommendation, Skipped, Tuned,
};
pub use believe::{Belief, ENOUGH_SAMPLES};
pub use model::{fit, fit_points, DurationModel, Fit, FitOptions, ModelKind, SizePoint};
pub use observe::{observe, DurationStats, Observations, SizeObservation};
pub use plan::{function_arn, power_tuning_input, PowerTuningInput};
pub use recommend::{recommend, tune, ArchitectureChoice, TuneOptions};
pub use strategy::{choose, price_candidate, Candidate, ColdStarts, Strategy};
pub use warning::Warning;

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

impl Sample {
    /// The sample of a reported invocation (one with a REPORT time, duration
    /// and memory size) on `architecture`; `None` otherwise. A SnapStart
    /// restore counts as the cold start's init.
    pub fn from_invocation(invocation: &Invocation, architecture: Architecture) -> Option<Sample> {
        Some(Sample {
            account: invocation.account.clone(),
            function: invocation.function.clone(),
            architecture,
            memory_size_mb: invocation.memory_size_mb?,
            duration_ms: invocation.duration_ms?,
            billed_duration_ms: invocation.billed_duration_ms,
            max_memory_used_mb: invocation.max_memory_used_mb,
            init_duration_ms: invocation
                .init_duration_ms
                .or(invocation.restore_duration_ms),
            success: invocation.status() == Status::Success,
            start_time_ms: invocation.start_time_ms?,
        })
    }
}
