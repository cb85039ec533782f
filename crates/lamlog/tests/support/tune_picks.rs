//! What the cost strategy picks among the sizes a function was measured at:
//! by the smooth model alone (how the tuner chose before it believed its
//! measurements) and by the tuner, each with its extra cost over the size
//! measured cheapest. For `examples/tune_holdout.rs` (BENCHMARKS §3).

use lamlog_core::tune::{
    price_candidate, tune, Recommendation, Sample, Strategy, TuneOptions, ENOUGH_SAMPLES,
};

/// One function's picks among its observed sizes.
#[derive(Debug, Clone)]
pub struct Pick {
    /// The function.
    pub function: String,
    /// Observed sizes, each with at least `ENOUGH_SAMPLES` warm durations.
    pub sizes: Vec<u32>,
    /// The size whose measured cost per invocation is least.
    pub cheapest_mb: u32,
    /// The model's cheapest observed size.
    pub model_mb: u32,
    /// Its measured cost over the cheapest's, %.
    pub model_regret_pct: f64,
    /// The tuner's pick (`--observed-only`, cost strategy).
    pub tuner_mb: u32,
    /// Its measured cost over the cheapest's, %.
    pub tuner_regret_pct: f64,
}

/// The picks of every function of `samples` measured at two or more sizes,
/// each with enough samples (others are left out: the rule is about them).
pub fn picks(samples: &[Sample]) -> Vec<Pick> {
    let options = TuneOptions {
        strategy: Strategy::Cost,
        observed_only: true,
        ..TuneOptions::default()
    };
    tune(samples, &options)
        .recommendations
        .iter()
        .filter_map(|recommendation| pick(recommendation, &options))
        .collect()
}

fn pick(recommendation: &Recommendation, options: &TuneOptions) -> Option<Pick> {
    let model = recommendation.models.first()?;
    let observed: Vec<_> = recommendation
        .observed
        .iter()
        .filter(|point| point.architecture == model.architecture)
        .collect();
    if observed.len() < 2
        || observed
            .iter()
            .any(|point| point.warm_invocations < ENOUGH_SAMPLES)
        || recommendation.models.len() != 1
    {
        return None;
    }
    let measured = |size: u32| {
        observed
            .iter()
            .find(|point| point.memory_size_mb == size)
            .map(|point| point.cost_per_million_usd)
    };
    let cheapest = observed.iter().min_by(|left, right| {
        left.cost_per_million_usd
            .total_cmp(&right.cost_per_million_usd)
    })?;
    let by_model = observed.iter().min_by(|left, right| {
        let cost = |size: u32| {
            price_candidate(
                model.architecture,
                size,
                model.fit.model.predict_ms(size),
                &model.cold_starts,
                &options.prices,
                &options.billing,
            )
            .cost_usd
        };
        cost(left.memory_size_mb).total_cmp(&cost(right.memory_size_mb))
    })?;
    let regret = |size: u32| {
        100.0 * (measured(size).unwrap_or(f64::NAN) / cheapest.cost_per_million_usd - 1.0)
    };
    let tuner_mb = recommendation.recommended.memory_size_mb;
    Some(Pick {
        function: recommendation.function.clone(),
        sizes: observed.iter().map(|point| point.memory_size_mb).collect(),
        cheapest_mb: cheapest.memory_size_mb,
        model_mb: by_model.memory_size_mb,
        model_regret_pct: regret(by_model.memory_size_mb),
        tuner_mb,
        tuner_regret_pct: regret(tuner_mb),
    })
}
