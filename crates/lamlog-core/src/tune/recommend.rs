//! Recommend: one function's samples → a [`Recommendation`].
//!
//! The steps, each in its own module:
//!
//! ```text
//! samples ─observe─► per-size observations ─fit─► duration model (+ bootstrap)
//!   ─price_candidate─► table of sizes × architectures ─choose─► recommendation
//! ```
//!
//! Candidates are every size from 128 to 10,240 MB in 1 MB steps (or only the
//! observed ones), never below the **floor** `max memory used × 1.2` (20 %
//! headroom, as a memory size below what the function needs is a crash, not a
//! saving). Architectures: one with its own observations gets its own model;
//! one asked for but not observed borrows the other's model × the arm64 speed
//! factor (arm64 duration / x86_64 duration, 1.0 by default: Graviton is
//! often about as fast, sometimes faster, sometimes slower, and only a
//! measurement says which), flagged as an assumption.
//!
//! A candidate's duration is the model corrected by what was measured
//! ([`super::believe`]): at a size observed with enough samples it is the
//! measured median, so sizes that were all measured are compared by what
//! they measured, not by the model's error.
//!
//! The current size and the recommendation are priced with the same belief and
//! billing, so the saving compares like with like; the cost that the REPORTs
//! actually billed at the current size is given beside it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::answer::{
    ArchitectureModel, Choice, CurvePoint, ObservedPoint, Recommendation, Skipped, Tuned,
};
use super::believe::{Belief, ENOUGH_SAMPLES};
use super::model::{fit, Fit, FitOptions, ModelKind, MAX_MEMORY_MB, MIN_MEMORY_MB};
use super::observe::{observe, Observations};
use super::strategy::{choose, price_candidate, Candidate, ColdStarts, Strategy};
use super::warning::Warning;
use super::Sample;
use crate::meta::Architecture;
use crate::price::{price, Billing, PriceTable, Prices};

/// Which architectures to consider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchitectureChoice {
    /// The ones observed.
    #[default]
    Observed,
    /// Only this one (modelled from the other when not observed).
    Only(Architecture),
    /// Both, modelling an unobserved one from the other.
    Both,
}

/// Everything the tuner needs besides the samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TuneOptions {
    /// How to choose.
    pub strategy: Strategy,
    /// Billing granularity, request fee, price override.
    pub billing: Billing,
    /// Prices (the list prices by default).
    pub prices: Prices,
    /// Consider only the observed sizes instead of 128..=10,240 MB.
    pub observed_only: bool,
    /// Which architectures to consider.
    pub architectures: ArchitectureChoice,
    /// arm64 duration / x86_64 duration for an unobserved architecture.
    pub arm64_speed_factor: f64,
    /// Candidates stay at or above max memory used × this.
    pub memory_headroom: f64,
    /// Bootstrap settings.
    pub fit: FitOptions,
    /// Points of each chart curve, log-spaced over 128..=10,240 MB.
    pub curve_points: usize,
}

impl Default for TuneOptions {
    fn default() -> Self {
        TuneOptions {
            strategy: Strategy::Cost,
            billing: Billing::default(),
            prices: PriceTable::list().default,
            observed_only: false,
            architectures: ArchitectureChoice::Observed,
            arm64_speed_factor: 1.0,
            memory_headroom: 1.2,
            fit: FitOptions::default(),
            curve_points: 160,
        }
    }
}

/// Tunes every function in `samples`. Costly part: the bootstrap
/// (resamples × samples) and pricing 10,113 sizes per architecture.
pub fn tune(samples: &[Sample], options: &TuneOptions) -> Tuned {
    let mut by_function: BTreeMap<(String, String), Vec<Observations>> = BTreeMap::new();
    for observations in observe(samples) {
        by_function
            .entry((observations.account.clone(), observations.function.clone()))
            .or_default()
            .push(observations);
    }
    let mut tuned = Tuned::default();
    for ((account, function), observations) in by_function {
        match recommend(&observations, options) {
            Some(recommendation) => tuned.recommendations.push(recommendation),
            None => tuned.skipped.push(Skipped {
                account,
                function,
                reason: "no successful warm invocation to fit a model on".to_owned(),
            }),
        }
    }
    tuned
}

/// Recommends for one function, given its observations on one or both
/// architectures. `None` when no architecture has a warm successful invocation.
pub fn recommend(observations: &[Observations], options: &TuneOptions) -> Option<Recommendation> {
    let latest = observations
        .iter()
        .max_by_key(|observed| observed.last_ms)?;
    let mut warnings = Vec::new();
    let fitted: Vec<(&Observations, Fit)> = observations
        .iter()
        .filter_map(|observed| fit(observed, &options.fit).map(|fitted| (observed, fitted)))
        .collect();
    if fitted.is_empty() {
        return None;
    }
    let models = architecture_models(&fitted, options, &mut warnings);
    for (observed, fitted) in &fitted {
        if fitted.kind != ModelKind::Full {
            warnings.push(Warning::ReducedModel {
                architecture: observed.architecture,
                model: fitted.kind,
                sizes: fitted.points.len(),
            });
        }
        for size in observed
            .fitted_sizes()
            .filter(|size| size.warm.count < ENOUGH_SAMPLES)
        {
            warnings.push(Warning::FewSamples {
                architecture: observed.architecture,
                memory_size_mb: size.memory_size_mb,
                warm_invocations: size.warm.count,
            });
        }
    }
    memory_warnings(latest, &mut warnings);
    if fitted
        .iter()
        .any(|(observed, _)| observed.init_billed.is_none() && observed.cold_start_rate > 0.0)
    {
        warnings.push(Warning::AssumedInitBilled);
    }

    let max_used = observations
        .iter()
        .filter_map(Observations::max_memory_used_mb)
        .max()
        .unwrap_or(0);
    let min_memory_mb = ((f64::from(max_used) * options.memory_headroom).ceil() as u32)
        .clamp(MIN_MEMORY_MB, MAX_MEMORY_MB);

    let mut candidates = Vec::new();
    for model in &models {
        let observed_sizes: Vec<u32> = model
            .fit
            .points
            .iter()
            .map(|point| point.memory_size_mb)
            .collect();
        let sizes: Vec<u32> = if options.observed_only {
            observed_sizes
                .into_iter()
                .filter(|&size| size >= min_memory_mb)
                .collect()
        } else {
            (min_memory_mb..=MAX_MEMORY_MB).collect()
        };
        let sizes = if sizes.is_empty() {
            warnings.push(Warning::ObservedSizesBelowFloor { min_memory_mb });
            (min_memory_mb..=MAX_MEMORY_MB).collect()
        } else {
            sizes
        };
        candidates.extend(
            sizes
                .into_iter()
                .map(|size| candidate(model, size, options)),
        );
    }
    let fastest = match options.strategy {
        Strategy::Speed => choose(Strategy::Speed, &candidates),
        _ => None,
    };
    if let Some(fastest) = fastest {
        // Only the fastest's noise decides a speed tie (see `strategy`), and
        // an interval costs a sort of the bootstrap: one, not 10,113.
        let candidate = candidates[fastest];
        let model = models
            .iter()
            .find(|model| model.architecture == candidate.architecture)?;
        let (low_ms, high_ms) = model
            .belief
            .interval_ms(&model.fit, candidate.memory_size_mb);
        candidates[fastest].duration_noise_ms = (high_ms - low_ms) / 2.0;
    }
    let picked = candidates[choose(options.strategy, &candidates)?];
    let recommended_model = models
        .iter()
        .find(|model| model.architecture == picked.architecture)?;
    let recommended = describe(recommended_model, picked);

    let current_model = models
        .iter()
        .find(|model| model.architecture == latest.architecture)
        .or_else(|| models.first())?;
    let current_size = latest.current_memory_size_mb;
    let current = describe(
        current_model,
        candidate(current_model, current_size, options),
    );
    let observed_cost_per_million_usd =
        latest
            .current()
            .and_then(|size| size.billed_mean_ms)
            .map(|billed_ms| {
                let cost = price(
                    current_size,
                    billed_ms,
                    Some(billed_ms.round() as u64),
                    latest.architecture,
                    &options.prices,
                    &options.billing,
                );
                cost.total_usd * 1e6
            });
    let invocations_per_month = latest.invocations_per_month();
    let monthly_saving_usd = invocations_per_month.map(|per_month| {
        (current.cost_per_million_usd - recommended.cost_per_million_usd) * per_month / 1e6
    });
    Some(Recommendation {
        account: latest.account.clone(),
        function: latest.function.clone(),
        strategy: options.strategy,
        granularity_ms: options.billing.granularity_ms.max(1),
        current,
        observed_cost_per_million_usd,
        recommended,
        invocations_per_month,
        monthly_saving_usd,
        min_memory_mb,
        observed: observed_points(&fitted, options),
        curves: curves(
            &models,
            options,
            &[current_size, recommended.memory_size_mb],
        ),
        models,
        warnings,
    })
}

/// The model of each architecture to consider, borrowing an unobserved one.
fn architecture_models(
    fitted: &[(&Observations, Fit)],
    options: &TuneOptions,
    warnings: &mut Vec<Warning>,
) -> Vec<ArchitectureModel> {
    let wanted: Vec<Architecture> = match options.architectures {
        ArchitectureChoice::Observed => fitted
            .iter()
            .map(|(observed, _)| observed.architecture)
            .collect(),
        ArchitectureChoice::Only(architecture) => vec![architecture],
        ArchitectureChoice::Both => vec![Architecture::X86_64, Architecture::Arm64],
    };
    let factor = if options.arm64_speed_factor.is_finite() && options.arm64_speed_factor > 0.0 {
        options.arm64_speed_factor
    } else {
        1.0
    };
    wanted
        .into_iter()
        .filter_map(|architecture| {
            if let Some((observed, own)) = fitted
                .iter()
                .find(|(observed, _)| observed.architecture == architecture)
            {
                return Some(ArchitectureModel {
                    architecture,
                    assumed: false,
                    belief: Belief::of(own),
                    fit: own.clone(),
                    cold_starts: cold_starts(observed),
                });
            }
            let (observed, other) = fitted.first()?;
            let scale = match architecture {
                Architecture::Arm64 => factor,
                Architecture::X86_64 => 1.0 / factor,
            };
            warnings.push(Warning::AssumedArchitecture {
                architecture,
                arm64_speed_factor: factor,
            });
            let fit = other.scaled(scale);
            Some(ArchitectureModel {
                architecture,
                assumed: true,
                belief: Belief::of(&fit),
                fit,
                cold_starts: cold_starts(observed),
            })
        })
        .collect()
}

fn cold_starts(observed: &Observations) -> ColdStarts {
    ColdStarts {
        rate: observed.cold_start_rate,
        init_mean_ms: observed.init_mean_ms.unwrap_or(0.0),
        init_billed: observed.init_billed.unwrap_or(true),
    }
}

fn memory_warnings(latest: &Observations, warnings: &mut Vec<Warning>) {
    let Some(current) = latest.current() else {
        return;
    };
    if let Some(used) = current.max_memory_used_mb {
        if f64::from(used) >= 0.9 * f64::from(current.memory_size_mb) {
            warnings.push(Warning::MemoryPressure {
                memory_size_mb: current.memory_size_mb,
                max_memory_used_mb: used,
            });
        }
    }
    if current.likely_out_of_memory > 0 {
        warnings.push(Warning::LikelyOutOfMemory {
            memory_size_mb: current.memory_size_mb,
            invocations: current.likely_out_of_memory,
        });
    }
}

fn candidate(model: &ArchitectureModel, memory_size_mb: u32, options: &TuneOptions) -> Candidate {
    price_candidate(
        model.architecture,
        memory_size_mb,
        model.belief.duration_ms(&model.fit, memory_size_mb),
        &model.cold_starts,
        &options.prices,
        &options.billing,
    )
}

fn describe(model: &ArchitectureModel, candidate: Candidate) -> Choice {
    let (low_ms, high_ms) = model
        .belief
        .interval_ms(&model.fit, candidate.memory_size_mb);
    let cold_ms = model.cold_starts.rate * model.cold_starts.init_mean_ms;
    Choice {
        architecture: candidate.architecture,
        memory_size_mb: candidate.memory_size_mb,
        duration_ms: candidate.duration_ms,
        duration_low_ms: low_ms + cold_ms,
        duration_high_ms: high_ms + cold_ms,
        cost_per_million_usd: candidate.cost_usd * 1e6,
    }
}

fn observed_points(fitted: &[(&Observations, Fit)], options: &TuneOptions) -> Vec<ObservedPoint> {
    let mut points = Vec::new();
    for (observed, _) in fitted {
        let cold = cold_starts(observed);
        for size in observed.fitted_sizes() {
            let priced = price_candidate(
                observed.architecture,
                size.memory_size_mb,
                size.warm.median_ms,
                &cold,
                &options.prices,
                &options.billing,
            );
            points.push(ObservedPoint {
                architecture: observed.architecture,
                memory_size_mb: size.memory_size_mb,
                warm_invocations: size.warm.count,
                warm_median_ms: size.warm.median_ms,
                duration_ms: priced.duration_ms,
                cost_per_million_usd: priced.cost_usd * 1e6,
            });
        }
    }
    points
}

/// Log-spaced sizes over 128..=10,240 MB plus `extra` and the observed
/// sizes, each architecture's curve in ascending size.
fn curves(models: &[ArchitectureModel], options: &TuneOptions, extra: &[u32]) -> Vec<CurvePoint> {
    let steps = options.curve_points.max(2);
    let low = f64::from(MIN_MEMORY_MB).ln();
    let high = f64::from(MAX_MEMORY_MB).ln();
    let mut sizes: Vec<u32> = (0..steps)
        .map(|step| {
            (low + (high - low) * step as f64 / (steps - 1) as f64)
                .exp()
                .round() as u32
        })
        .chain(extra.iter().copied())
        .chain([1769])
        .collect();
    for model in models {
        sizes.extend(model.fit.points.iter().map(|point| point.memory_size_mb));
    }
    sizes.sort_unstable();
    sizes.dedup();
    let mut points = Vec::with_capacity(sizes.len() * models.len());
    for model in models {
        for &size in &sizes {
            points.push(describe(model, candidate(model, size, options)));
        }
    }
    points
}
