//! Strategy: a table of candidate memory sizes, each with a predicted duration
//! and cost, → the one to recommend.
//!
//! The strategies are those of AWS Lambda Power Tuning, plus one:
//! - [`Strategy::Cost`]: the cheapest; ties go to the faster;
//! - [`Strategy::Speed`]: the fastest; ties go to the cheaper, and a size
//!   whose duration is within the fastest's noise (its
//!   [`Candidate::duration_noise_ms`]) ties with it: two sizes that the
//!   measurements cannot tell apart in speed are told apart by cost;
//! - [`Strategy::Balanced`]: the least `W·cost/max_cost + (1−W)·duration/max_duration`
//!   over the table (W = 1 is `cost`, W = 0 is `speed`); ties go to the cheaper;
//! - [`Strategy::CheapestWithin`]: the fastest size whose cost is within P %
//!   of the cheapest: "I will pay up to P % more for speed".
//!
//! Ties are equal up to a relative 1e-9 (two sizes whose costs differ in the
//! fifteenth digit cost the same); a tie that survives both criteria goes to
//! the smaller size.
//!
//! Candidates are priced here too. A candidate's cost per invocation is the
//! expectation over warm and cold invocations at the observed cold-start rate
//! `r`: `(1−r)·price(t) + r·price(t + init)` when init is billed, where each
//! price rounds its duration up to the billing granularity — so with 100 ms
//! billing a size that runs 304 ms pays for 400 and one that runs 299 ms pays
//! for 300, and the table shows it. Its duration is the expected latency
//! `t + r·init`, init included whether billed or not. Init is taken as the
//! observed mean at every size: on-demand init runs with a CPU boost, so its
//! duration depends little on the configured memory.

use serde::Serialize;

use crate::meta::Architecture;
use crate::price::{price, Billing, Prices};

/// How to choose among candidates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "strategy", rename_all = "snake_case")]
pub enum Strategy {
    /// The cheapest; ties → faster.
    Cost,
    /// The fastest; ties → cheaper.
    Speed,
    /// The least `weight·cost/max_cost + (1−weight)·duration/max_duration`.
    Balanced {
        /// Weight of cost, in [0, 1].
        weight: f64,
    },
    /// The fastest whose cost is at most the cheapest's × (1 + pct/100).
    CheapestWithin {
        /// How much more than the cheapest may be paid, in percent (≥ 0).
        pct: f64,
    },
}

impl Strategy {
    /// The strategy's name (`cost`, `speed`, `balanced`, `cheapest_within`).
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Cost => "cost",
            Strategy::Speed => "speed",
            Strategy::Balanced { .. } => "balanced",
            Strategy::CheapestWithin { .. } => "cheapest_within",
        }
    }
}

/// One row of the table: a size on an architecture, with its prediction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Candidate {
    /// The architecture.
    pub architecture: Architecture,
    /// The memory size.
    pub memory_size_mb: u32,
    /// Expected duration per invocation (warm model + cold rate × init), ms.
    pub duration_ms: f64,
    /// Expected cost per invocation, USD.
    pub cost_usd: f64,
    /// How far from `duration_ms` the duration may be by sampling noise alone
    /// (half the width of its 90 % interval), ms; 0 when unknown.
    pub duration_noise_ms: f64,
}

/// What the traffic adds on top of the warm duration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ColdStarts {
    /// Cold starts per invocation.
    pub rate: f64,
    /// Mean init duration, ms.
    pub init_mean_ms: f64,
    /// Whether init time is billed.
    pub init_billed: bool,
}

impl ColdStarts {
    /// No cold starts.
    pub const NONE: ColdStarts = ColdStarts {
        rate: 0.0,
        init_mean_ms: 0.0,
        init_billed: false,
    };
}

/// Prices one size: the expected duration and cost per invocation for a warm
/// duration of `warm_ms` (see the module comment for the cold-start part).
pub fn price_candidate(
    architecture: Architecture,
    memory_size_mb: u32,
    warm_ms: f64,
    cold_starts: &ColdStarts,
    prices: &Prices,
    billing: &Billing,
) -> Candidate {
    let rate = cold_starts.rate.clamp(0.0, 1.0);
    let warm_cost = price(memory_size_mb, warm_ms, None, architecture, prices, billing).total_usd;
    let cold_cost = if cold_starts.init_billed && rate > 0.0 {
        price(
            memory_size_mb,
            warm_ms + cold_starts.init_mean_ms,
            None,
            architecture,
            prices,
            billing,
        )
        .total_usd
    } else {
        warm_cost
    };
    Candidate {
        architecture,
        memory_size_mb,
        duration_ms: warm_ms + rate * cold_starts.init_mean_ms,
        cost_usd: (1.0 - rate) * warm_cost + rate * cold_cost,
        duration_noise_ms: 0.0,
    }
}

/// The index of the candidate `strategy` picks; `None` for an empty table.
pub fn choose(strategy: Strategy, candidates: &[Candidate]) -> Option<usize> {
    let cost = |index: usize| candidates[index].cost_usd;
    let duration = |index: usize| candidates[index].duration_ms;
    let all: Vec<usize> = (0..candidates.len()).collect();
    match strategy {
        Strategy::Cost => best_by(&all, &[&cost, &duration]),
        Strategy::Speed => {
            let fastest = best_by(&all, &[&duration, &cost])?;
            let noise = candidates[fastest].duration_noise_ms;
            let ceiling = duration(fastest)
                + if noise.is_finite() {
                    noise.max(0.0)
                } else {
                    0.0
                };
            let as_fast: Vec<usize> = all
                .into_iter()
                .filter(|&index| {
                    duration(index) <= ceiling || nearly_equal(duration(index), ceiling)
                })
                .collect();
            best_by(&as_fast, &[&cost, &duration]).or(Some(fastest))
        }
        Strategy::Balanced { weight } => {
            let weight = weight.clamp(0.0, 1.0);
            let max_cost = all.iter().map(|&index| cost(index)).fold(0.0, f64::max);
            let max_duration = all.iter().map(|&index| duration(index)).fold(0.0, f64::max);
            let score = |index: usize| {
                weight * ratio(cost(index), max_cost)
                    + (1.0 - weight) * ratio(duration(index), max_duration)
            };
            best_by(&all, &[&score, &cost, &duration])
        }
        Strategy::CheapestWithin { pct } => {
            let cheapest = all
                .iter()
                .map(|&index| cost(index))
                .fold(f64::INFINITY, f64::min);
            let ceiling = cheapest * (1.0 + pct.max(0.0) / 100.0);
            let affordable: Vec<usize> = all
                .into_iter()
                .filter(|&index| cost(index) <= ceiling || nearly_equal(cost(index), ceiling))
                .collect();
            best_by(&affordable, &[&duration, &cost])
        }
    }
}

fn ratio(value: f64, max: f64) -> f64 {
    if max > 0.0 {
        value / max
    } else {
        0.0
    }
}

/// Equal up to a relative 1e-9.
fn nearly_equal(left: f64, right: f64) -> bool {
    (left - right).abs() <= 1e-9 * left.abs().max(right.abs())
}

/// Among `indices`, keeps those with the least first key (up to
/// [`nearly_equal`]), then the least second key among them, and so on; of
/// what is left, the first (the smallest size: tables ascend in size).
fn best_by(indices: &[usize], keys: &[&dyn Fn(usize) -> f64]) -> Option<usize> {
    let mut remaining = indices.to_vec();
    for key in keys {
        let best = remaining
            .iter()
            .map(|&index| key(index))
            .fold(f64::INFINITY, f64::min);
        remaining.retain(|&index| nearly_equal(key(index), best));
    }
    remaining.first().copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::price::PriceTable;

    #[test]
    fn empty_table_has_no_choice() {
        assert_eq!(choose(Strategy::Cost, &[]), None);
    }

    #[test]
    fn cold_starts_add_expected_init_and_its_billing() {
        let prices = PriceTable::list().default;
        let billing = Billing {
            request_fee: false,
            ..Billing::default()
        };
        let cold = ColdStarts {
            rate: 0.25,
            init_mean_ms: 400.0,
            init_billed: true,
        };
        let candidate =
            price_candidate(Architecture::X86_64, 1024, 100.0, &cold, &prices, &billing);
        assert!((candidate.duration_ms - 200.0).abs() < 1e-12);
        // 0.75 × 1 GB × 0.1 s + 0.25 × 1 GB × 0.5 s = 0.2 GB-s.
        let expected = 0.2 * prices.list_usd_per_gb_s(Architecture::X86_64);
        assert!((candidate.cost_usd - expected).abs() < 1e-15);
        let unbilled = ColdStarts {
            init_billed: false,
            ..cold
        };
        let candidate = price_candidate(
            Architecture::X86_64,
            1024,
            100.0,
            &unbilled,
            &prices,
            &billing,
        );
        let expected = 0.1 * prices.list_usd_per_gb_s(Architecture::X86_64);
        assert!((candidate.cost_usd - expected).abs() < 1e-15);
    }
}
