//! Observe: [`Sample`]s → what was seen of each function, per memory size.
//!
//! The tuner never looks at raw samples again after this step, except for the
//! bootstrap, which resamples the warm durations kept here. Samples are
//! grouped by (account, function, architecture) — an architecture is a
//! different machine, so its durations belong to a different model — and,
//! inside a group, by memory size, since a function that was reconfigured
//! gives several sizes and that is exactly what the duration model needs.
//!
//! Which durations say something about speed:
//! - only **successful** invocations: an error or a crash stops early, a
//!   timeout stops at the limit;
//! - **warm** and **cold** apart: a cold start's first request often runs
//!   slower (lazy loading, JIT), and its init is a separate, memory-independent
//!   cost the tuner adds back through the cold-start rate.
//!
//! Max memory used is taken over successful invocations only: a failed
//! invocation whose max memory used reaches the configured size is counted as
//! a likely out-of-memory kill and reported as memory pressure, but it does
//! not move the floor of the recommendation (it would pin the floor to 1.2 ×
//! the current size and forbid any downsizing because of one bad request).

use std::collections::BTreeMap;

use serde::Serialize;

use super::Sample;
use crate::meta::Architecture;

/// Summary statistics of a set of durations.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct DurationStats {
    /// How many durations.
    pub count: u64,
    /// Their mean (0 when empty).
    pub mean_ms: f64,
    /// Their median (0 when empty).
    pub median_ms: f64,
}

impl DurationStats {
    /// Mean and median of `durations` (sorted or not).
    pub fn of(durations: &[f64]) -> DurationStats {
        if durations.is_empty() {
            return DurationStats::default();
        }
        let mut sorted = durations.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        DurationStats {
            count: sorted.len() as u64,
            mean_ms: sorted.iter().sum::<f64>() / sorted.len() as f64,
            median_ms: median_of_sorted(&sorted),
        }
    }
}

/// The median of an ascending slice (0 when empty).
pub(crate) fn median_of_sorted(sorted: &[f64]) -> f64 {
    let count = sorted.len();
    match count {
        0 => 0.0,
        _ if count % 2 == 1 => sorted[count / 2],
        _ => (sorted[count / 2 - 1] + sorted[count / 2]) / 2.0,
    }
}

/// Everything seen at one memory size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizeObservation {
    /// The configured memory.
    pub memory_size_mb: u32,
    /// All samples at this size, whatever their outcome.
    pub invocations: u64,
    /// Successful warm invocations: what the duration model is fitted on.
    pub warm: DurationStats,
    /// Successful cold invocations (their duration, without the init).
    pub cold: DurationStats,
    /// Cold starts among all samples at this size.
    pub cold_starts: u64,
    /// Mean init (or restore) duration of the cold starts.
    pub init_mean_ms: Option<f64>,
    /// Mean REPORT billed duration, over the samples that carry one.
    pub billed_mean_ms: Option<f64>,
    /// Largest max memory used over successful invocations.
    pub max_memory_used_mb: Option<u32>,
    /// Failed invocations whose max memory used reached the configured size.
    pub likely_out_of_memory: u64,
    /// First and last sample time (epoch ms).
    pub first_ms: i64,
    /// See `first_ms`.
    pub last_ms: i64,
    /// The successful warm durations themselves, ascending, for the bootstrap.
    #[serde(skip)]
    pub warm_durations_ms: Vec<f64>,
}

/// What was seen of one function on one architecture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observations {
    /// The account.
    pub account: String,
    /// The function.
    pub function: String,
    /// The architecture the samples ran on.
    pub architecture: Architecture,
    /// One entry per memory size seen, smallest first.
    pub sizes: Vec<SizeObservation>,
    /// The memory size of the most recent sample.
    pub current_memory_size_mb: u32,
    /// Time of the most recent sample (epoch ms).
    pub last_ms: i64,
    /// Cold starts / invocations over every size: the traffic pattern decides
    /// it, not the memory size, so one rate serves all candidates.
    pub cold_start_rate: f64,
    /// Mean init duration over every cold start, when there was one.
    pub init_mean_ms: Option<f64>,
    /// Whether REPORTs show init billed (billed ≥ duration + init on cold
    /// starts); `None` when no cold start carried a billed duration.
    pub init_billed: Option<bool>,
}

impl Observations {
    /// The observation at the current memory size.
    pub fn current(&self) -> Option<&SizeObservation> {
        self.sizes
            .iter()
            .find(|size| size.memory_size_mb == self.current_memory_size_mb)
    }

    /// Sizes with at least one successful warm duration.
    pub fn fitted_sizes(&self) -> impl Iterator<Item = &SizeObservation> {
        self.sizes.iter().filter(|size| size.warm.count > 0)
    }

    /// The largest max memory used over all sizes (successful invocations).
    pub fn max_memory_used_mb(&self) -> Option<u32> {
        self.sizes
            .iter()
            .filter_map(|size| size.max_memory_used_mb)
            .max()
    }

    /// Invocations per 30-day month, from the current size's samples: `n`
    /// samples spread over `span` give `(n − 1) / span`. The store keeps
    /// only the most recent samples per size, so a rate from the current size
    /// alone stays right when older samples were cut. `None` with fewer than
    /// two samples or a zero span.
    pub fn invocations_per_month(&self) -> Option<f64> {
        let current = self.current()?;
        let span_ms = (current.last_ms - current.first_ms) as f64;
        if current.invocations < 2 || span_ms <= 0.0 {
            return None;
        }
        let per_ms = (current.invocations - 1) as f64 / span_ms;
        Some(per_ms * 30.0 * 24.0 * 3_600_000.0)
    }
}

/// Groups samples by (account, function, architecture) and memory size.
///
/// The answer is ordered by account, function, then architecture (x86_64
/// first). Costs a sort of each size's warm durations.
pub fn observe(samples: &[Sample]) -> Vec<Observations> {
    type GroupKey<'a> = (&'a str, &'a str, Architecture);
    let mut groups: BTreeMap<GroupKey<'_>, BTreeMap<u32, Vec<&Sample>>> = BTreeMap::new();
    for sample in samples {
        let key = (
            sample.account.as_str(),
            sample.function.as_str(),
            sample.architecture,
        );
        groups
            .entry(key)
            .or_default()
            .entry(sample.memory_size_mb)
            .or_default()
            .push(sample);
    }
    groups
        .into_iter()
        .map(|((account, function, architecture), by_size)| {
            observe_group(account, function, architecture, &by_size)
        })
        .collect()
}

fn observe_group(
    account: &str,
    function: &str,
    architecture: Architecture,
    by_size: &BTreeMap<u32, Vec<&Sample>>,
) -> Observations {
    let mut latest: Option<&Sample> = None;
    let mut invocations = 0_u64;
    let mut cold_starts = 0_u64;
    let mut init_durations: Vec<f64> = Vec::new();
    let mut init_billed_votes = (0_u64, 0_u64);
    let sizes = by_size
        .iter()
        .map(|(&memory_size_mb, samples)| {
            for sample in samples {
                if latest.is_none_or(|seen| sample.start_time_ms >= seen.start_time_ms) {
                    latest = Some(sample);
                }
                invocations += 1;
                if let Some(init_ms) = sample.init_duration_ms {
                    cold_starts += 1;
                    init_durations.push(init_ms);
                    if let Some(billed_ms) = sample.billed_duration_ms {
                        // A billed duration that covers the init, less the
                        // rounding of two printed decimals, means init is billed.
                        if billed_ms as f64 + 1.0 >= sample.duration_ms + init_ms {
                            init_billed_votes.0 += 1;
                        } else {
                            init_billed_votes.1 += 1;
                        }
                    }
                }
            }
            observe_size(memory_size_mb, samples)
        })
        .collect();
    let init_billed = match init_billed_votes {
        (0, 0) => None,
        (billed, unbilled) => Some(billed >= unbilled),
    };
    Observations {
        account: account.to_owned(),
        function: function.to_owned(),
        architecture,
        sizes,
        current_memory_size_mb: latest.map_or(0, |sample| sample.memory_size_mb),
        last_ms: latest.map_or(0, |sample| sample.start_time_ms),
        cold_start_rate: if invocations == 0 {
            0.0
        } else {
            cold_starts as f64 / invocations as f64
        },
        init_mean_ms: mean(&init_durations),
        init_billed,
    }
}

fn observe_size(memory_size_mb: u32, samples: &[&Sample]) -> SizeObservation {
    let mut warm = Vec::new();
    let mut cold = Vec::new();
    let mut inits = Vec::new();
    let mut billed = Vec::new();
    let mut max_memory_used_mb: Option<u32> = None;
    let mut likely_out_of_memory = 0;
    for sample in samples {
        if let Some(init_ms) = sample.init_duration_ms {
            inits.push(init_ms);
        }
        if let Some(billed_ms) = sample.billed_duration_ms {
            billed.push(billed_ms as f64);
        }
        if !sample.success {
            if sample
                .max_memory_used_mb
                .is_some_and(|used| used >= memory_size_mb)
            {
                likely_out_of_memory += 1;
            }
            continue;
        }
        if let Some(used) = sample.max_memory_used_mb {
            max_memory_used_mb = Some(max_memory_used_mb.map_or(used, |seen| seen.max(used)));
        }
        if !(sample.duration_ms.is_finite() && sample.duration_ms >= 0.0) {
            continue;
        }
        if sample.init_duration_ms.is_some() {
            cold.push(sample.duration_ms);
        } else {
            warm.push(sample.duration_ms);
        }
    }
    warm.sort_unstable_by(f64::total_cmp);
    SizeObservation {
        memory_size_mb,
        invocations: samples.len() as u64,
        warm: DurationStats::of(&warm),
        cold: DurationStats::of(&cold),
        cold_starts: inits.len() as u64,
        init_mean_ms: mean(&inits),
        billed_mean_ms: mean(&billed),
        max_memory_used_mb,
        likely_out_of_memory,
        first_ms: samples
            .iter()
            .map(|sample| sample.start_time_ms)
            .min()
            .unwrap_or(0),
        last_ms: samples
            .iter()
            .map(|sample| sample.start_time_ms)
            .max()
            .unwrap_or(0),
        warm_durations_ms: warm,
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}
