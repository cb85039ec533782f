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

/// The picks of every function of `samples` measured at two or more sizes
/// at or above its memory floor, each with enough samples (others are left
/// out: the rule is about them).
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
    // Only sizes the tuner may pick: at or above the memory floor.
    let observed: Vec<_> = recommendation
        .observed
        .iter()
        .filter(|point| {
            point.architecture == model.architecture
                && point.memory_size_mb >= recommendation.min_memory_mb
        })
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
    // The least measured cost; a tie (to 1e-9) goes to the faster, as the
    // cost strategy breaks it.
    let least = observed
        .iter()
        .map(|point| point.cost_per_million_usd)
        .fold(f64::INFINITY, f64::min);
    let cheapest = observed
        .iter()
        .filter(|point| point.cost_per_million_usd - least <= 1e-9 * least)
        .min_by(|left, right| left.duration_ms.total_cmp(&right.duration_ms))?;
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

/// `samples` with every (function, size)'s durations multiplied by a factor
/// drawn uniformly from [1 − `spread`, 1 + `spread`] (seeded): a workload
/// whose sizes follow the model's shape only roughly, as real functions do.
pub fn distorted(samples: &[Sample], spread: f64, seed: u64) -> Vec<Sample> {
    samples
        .iter()
        .map(|sample| {
            let mut hash =
                seed ^ u64::from(sample.memory_size_mb).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            for byte in sample.function.bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3);
            }
            // SplitMix64's finaliser, to a uniform in [0, 1).
            hash = (hash ^ (hash >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            hash = (hash ^ (hash >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let uniform = ((hash ^ (hash >> 31)) >> 11) as f64 / (1_u64 << 53) as f64;
            let factor = 1.0 - spread + 2.0 * spread * uniform;
            let duration_ms = (sample.duration_ms * factor * 100.0).round() / 100.0;
            Sample {
                duration_ms,
                billed_duration_ms: Some(lamlog_core::price::billed_duration_ms(duration_ms, 1)),
                ..sample.clone()
            }
        })
        .collect()
}
