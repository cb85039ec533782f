//! Plan: a recommendation → the input of an AWS Lambda Power Tuning run that
//! measures it.
//!
//! The tuner predicts from what production happened to run; Lambda Power
//! Tuning (a Step Functions state machine) measures by invoking the function
//! at each size. The plan asks it to measure the sizes that matter: the
//! recommendation, the current size, and a spread around the recommendation
//! (×0.5, ×0.75, ×1.25, ×1.5, ×2, rounded to 64 MB), none below the memory
//! floor. Its input is the state machine's documented execution input:
//! `{"lambdaARN", "powerValues", "num", "strategy", "balancedWeight"?}`.
//! Power Tuning has no `cheapest_within`; it measures the same table, so the
//! plan asks for `cost` and the rule can be applied to its results.

use serde::Serialize;

use super::answer::Recommendation;
use super::model::{MAX_MEMORY_MB, MIN_MEMORY_MB};
use super::strategy::Strategy;

/// The execution input of the Lambda Power Tuning state machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerTuningInput {
    /// The function to measure (a version or alias ARN works too).
    #[serde(rename = "lambdaARN")]
    pub lambda_arn: String,
    /// Memory sizes to measure, ascending.
    #[serde(rename = "powerValues")]
    pub power_values: Vec<u32>,
    /// Invocations per size.
    pub num: u32,
    /// `cost`, `speed` or `balanced`.
    pub strategy: &'static str,
    /// The weight of cost for `balanced`.
    #[serde(rename = "balancedWeight", skip_serializing_if = "Option::is_none")]
    pub balanced_weight: Option<f64>,
}

/// The function ARN from its parts.
pub fn function_arn(region: &str, account: &str, function: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:{function}")
}

/// The Power Tuning input that checks `recommendation` with `num`
/// invocations per size (Power Tuning's documented default is 50 in
/// examples; more narrows its own noise).
pub fn power_tuning_input(
    recommendation: &Recommendation,
    lambda_arn: String,
    num: u32,
) -> PowerTuningInput {
    let recommended = recommendation.recommended.memory_size_mb;
    let floor = recommendation.min_memory_mb.max(MIN_MEMORY_MB);
    let mut power_values: Vec<u32> = [0.5, 0.75, 1.25, 1.5, 2.0]
        .iter()
        .map(|factor| {
            let size = (f64::from(recommended) * factor / 64.0).round() * 64.0;
            (size as u32).clamp(floor, MAX_MEMORY_MB)
        })
        .chain([recommended, recommendation.current.memory_size_mb])
        .collect();
    power_values.sort_unstable();
    power_values.dedup();
    let (strategy, balanced_weight) = match recommendation.strategy {
        Strategy::Cost | Strategy::CheapestWithin { .. } => ("cost", None),
        Strategy::Speed => ("speed", None),
        Strategy::Balanced { weight } => ("balanced", Some(weight.clamp(0.0, 1.0))),
    };
    PowerTuningInput {
        lambda_arn,
        power_values,
        num,
        strategy,
        balanced_weight,
    }
}
