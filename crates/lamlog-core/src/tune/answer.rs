//! Answer: what the tuner says about a function — the recommendation, the
//! current size priced the same way, the models behind them and the points
//! of their charts. Plain data, serialised as `lamlog tune --json` prints it.

use serde::Serialize;

use super::believe::Belief;
use super::model::Fit;
use super::strategy::{ColdStarts, Strategy};
use super::warning::Warning;
use crate::meta::Architecture;

/// A size on an architecture, with its prediction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Choice {
    /// The architecture.
    pub architecture: Architecture,
    /// The memory size.
    pub memory_size_mb: u32,
    /// Expected duration per invocation (warm + cold rate × init), ms.
    pub duration_ms: f64,
    /// 5th percentile of the bootstrap, ms.
    pub duration_low_ms: f64,
    /// 95th percentile of the bootstrap, ms.
    pub duration_high_ms: f64,
    /// Expected cost per million invocations, USD.
    pub cost_per_million_usd: f64,
}

/// The model of one architecture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchitectureModel {
    /// The architecture.
    pub architecture: Architecture,
    /// Borrowed from the other architecture × the speed factor.
    pub assumed: bool,
    /// The fit (of the other architecture, scaled, when assumed).
    pub fit: Fit,
    /// The cold starts applied to its candidates.
    pub cold_starts: ColdStarts,
    /// The fit corrected by its measured sizes.
    #[serde(skip)]
    pub belief: Belief,
}

/// One observed size, for the chart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ObservedPoint {
    /// The architecture.
    pub architecture: Architecture,
    /// The size.
    pub memory_size_mb: u32,
    /// Warm successful durations behind the median.
    pub warm_invocations: u64,
    /// Their median, ms.
    pub warm_median_ms: f64,
    /// The median + cold rate × init: comparable with the curves, ms.
    pub duration_ms: f64,
    /// The cost per million at that duration, USD.
    pub cost_per_million_usd: f64,
}

/// One point of a model curve, for the chart: a size priced as a [`Choice`]
/// is, with its bootstrap interval.
pub type CurvePoint = Choice;

/// What the tuner says about one function.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// The account.
    pub account: String,
    /// The function.
    pub function: String,
    /// The strategy used.
    pub strategy: Strategy,
    /// The billing granularity used.
    pub granularity_ms: u64,
    /// The current (most recent) size, priced by the model.
    pub current: Choice,
    /// What the REPORTs billed at the current size, per million.
    pub observed_cost_per_million_usd: Option<f64>,
    /// The recommended size.
    pub recommended: Choice,
    /// Invocations per 30-day month at the observed rate.
    pub invocations_per_month: Option<f64>,
    /// (current − recommended) cost × invocations per month; negative when
    /// the strategy buys speed.
    pub monthly_saving_usd: Option<f64>,
    /// No candidate below this: max memory used × the headroom.
    pub min_memory_mb: u32,
    /// The model of each architecture considered.
    pub models: Vec<ArchitectureModel>,
    /// The observed sizes.
    pub observed: Vec<ObservedPoint>,
    /// The model curves, per architecture, ascending size.
    pub curves: Vec<CurvePoint>,
    /// Caveats.
    pub warnings: Vec<Warning>,
}

/// A function the tuner could not model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    /// The account.
    pub account: String,
    /// The function.
    pub function: String,
    /// Why.
    pub reason: String,
}

/// The tuner's answer for a set of samples.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Tuned {
    /// One per function with a model, ordered by account and function.
    pub recommendations: Vec<Recommendation>,
    /// Functions without a warm successful invocation.
    pub skipped: Vec<Skipped>,
}
