//! Warning: what a reader of a recommendation must know before acting on it.
//!
//! A recommendation extrapolates from what was observed, so every assumption
//! the tuner had to make is a typed [`Warning`] that travels with it: in JSON
//! as `{"kind": …}` objects a script can filter on, and as one line of text
//! for people.

use std::fmt;

use serde::Serialize;

use super::model::ModelKind;
use crate::meta::Architecture;

/// One caveat of a recommendation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    /// The model had to be reduced: too few sizes, or none on one side of 1,769 MB.
    ReducedModel {
        /// The architecture whose model it is.
        architecture: Architecture,
        /// The form used.
        model: ModelKind,
        /// The memory sizes with warm successful durations.
        sizes: usize,
    },
    /// Max memory used is at least 90 % of the configured size.
    MemoryPressure {
        /// The configured size.
        memory_size_mb: u32,
        /// The largest max memory used of a successful invocation.
        max_memory_used_mb: u32,
    },
    /// Failed invocations whose max memory used reached the configured size.
    LikelyOutOfMemory {
        /// The configured size.
        memory_size_mb: u32,
        /// How many.
        invocations: u64,
    },
    /// An architecture was not observed: its durations are the observed
    /// architecture's, multiplied by the configured arm64 speed factor.
    AssumedArchitecture {
        /// The architecture that was not observed.
        architecture: Architecture,
        /// arm64 duration / x86_64 duration that was assumed.
        arm64_speed_factor: f64,
    },
    /// No cold start carried a billed duration to tell; init was taken as
    /// billed (the rule for every on-demand function since 2025-08-01).
    AssumedInitBilled,
    /// Few warm successful durations at a size: its median is noisy.
    FewSamples {
        /// The architecture.
        architecture: Architecture,
        /// The size.
        memory_size_mb: u32,
        /// Warm successful durations.
        warm_invocations: u64,
    },
    /// No observed size cleared the memory floor, so every size was considered.
    ObservedSizesBelowFloor {
        /// The floor: max memory used × the headroom.
        min_memory_mb: u32,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::ReducedModel {
                architecture,
                model,
                sizes,
            } => {
                let what = match model {
                    ModelKind::Full => "the full model",
                    ModelKind::SingleThread => {
                        "a + b/min(m,1769): no speed-up is predicted beyond 1,769 MB (one vCPU)"
                    }
                    ModelKind::MultiThread => {
                        "a + c/m: no size below 1,769 MB was seen, single-thread work is not separated"
                    }
                    ModelKind::OneSize => {
                        "b/min(m,1769): assumed CPU-bound and single-threaded; measure other sizes (lamlog tune --plan) before trusting it"
                    }
                };
                write!(
                    formatter,
                    "{}: {sizes} memory size(s) observed, reduced model {what}",
                    architecture.as_str()
                )
            }
            Warning::MemoryPressure {
                memory_size_mb,
                max_memory_used_mb,
            } => write!(
                formatter,
                "memory pressure: max memory used {max_memory_used_mb} MB is ≥ 90 % of {memory_size_mb} MB"
            ),
            Warning::LikelyOutOfMemory {
                memory_size_mb,
                invocations,
            } => write!(
                formatter,
                "{invocations} failed invocation(s) at {memory_size_mb} MB used all their memory (likely out of memory)"
            ),
            Warning::AssumedArchitecture {
                architecture,
                arm64_speed_factor,
            } => write!(
                formatter,
                "{} not observed: assumed arm64 runs {arm64_speed_factor}× the x86_64 duration",
                architecture.as_str()
            ),
            Warning::AssumedInitBilled => write!(
                formatter,
                "no billed cold start seen: init assumed billed (on-demand rule since 2025-08-01)"
            ),
            Warning::FewSamples {
                architecture,
                memory_size_mb,
                warm_invocations,
            } => write!(
                formatter,
                "{} at {memory_size_mb} MB: only {warm_invocations} warm successful invocation(s)",
                architecture.as_str()
            ),
            Warning::ObservedSizesBelowFloor { min_memory_mb } => write!(
                formatter,
                "no observed size is at least {min_memory_mb} MB (max used × headroom): all sizes considered"
            ),
        }
    }
}
