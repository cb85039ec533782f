//! The `cost_spike` alerts lamlog's default rules must raise on a generated
//! workload, restated here from the README rather than by calling the judge:
//!
//! an hour `[H, H + 1h)` of a function is judged once the function has an
//! invocation at or after `H + 1h` plus the 5-minute grace, and only when its
//! first invocation is at least 24 hours before `H`. Its baseline is the
//! larger of the median of its hourly costs over the previous 24 hours and
//! the median of its cost in the same hour on the previous 7 days (days from
//! the hour of its first invocation on); an hour without invocations costs
//! $0. It alerts when its cost is over 3 times the baseline and at least
//! $0.50.
//!
//! Only a workload of more than a day (`--hours`) with a large spike
//! (`--spike`) can raise one.

use std::collections::BTreeMap;

use super::alert::AlertTruth;
use super::invocations::InvocationTruth;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
const GRACE_MS: i64 = 5 * 60_000;
const MULTIPLE: f64 = 3.0;
const MIN_USD: f64 = 0.50;

/// One function's costs so far.
#[derive(Debug, Default)]
struct FunctionCosts {
    hourly_usd: BTreeMap<i64, f64>,
    first_ms: i64,
    latest_ms: i64,
}

/// Costs per function and hour, gathered one invocation at a time.
#[derive(Debug, Default)]
pub(crate) struct HourlyCosts {
    functions: BTreeMap<(String, String), FunctionCosts>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => 0.0,
        length if length % 2 == 1 => values[middle],
        _ => (values[middle - 1] + values[middle]) / 2.0,
    }
}

impl HourlyCosts {
    /// Adds one invocation's cost to its hour.
    pub(crate) fn observe(&mut self, truth: &InvocationTruth<'_>) {
        let costs = self
            .functions
            .entry((truth.account.to_owned(), truth.function.to_owned()))
            .or_insert_with(|| FunctionCosts {
                first_ms: truth.start_time_ms,
                latest_ms: truth.start_time_ms,
                ..FunctionCosts::default()
            });
        let hour_ms = truth.start_time_ms.div_euclid(HOUR_MS) * HOUR_MS;
        *costs.hourly_usd.entry(hour_ms).or_default() += truth.cost_usd;
        costs.first_ms = costs.first_ms.min(truth.start_time_ms);
        costs.latest_ms = costs.latest_ms.max(truth.start_time_ms);
    }

    /// The expected cost spikes.
    pub(crate) fn spikes(&self) -> Vec<AlertTruth> {
        let mut spikes = Vec::new();
        for ((account, function), costs) in &self.functions {
            let cost_at = |hour_ms: i64| costs.hourly_usd.get(&hour_ms).copied().unwrap_or(0.0);
            let first_hour_ms = costs.first_ms.div_euclid(HOUR_MS) * HOUR_MS;
            for (hour_ms, cost_usd) in &costs.hourly_usd {
                let closed = costs.latest_ms >= hour_ms + HOUR_MS + GRACE_MS;
                if !closed || costs.first_ms > hour_ms - DAY_MS {
                    continue;
                }
                let previous_day = (1..=24).map(|back| cost_at(hour_ms - back * HOUR_MS));
                let same_hours = (1..=7)
                    .map(|days| hour_ms - days * DAY_MS)
                    .filter(|at_ms| *at_ms >= first_hour_ms)
                    .map(cost_at);
                let baseline_usd = median(previous_day.collect()).max(median(same_hours.collect()));
                if *cost_usd > MULTIPLE * baseline_usd && *cost_usd >= MIN_USD {
                    spikes.push(AlertTruth {
                        kind: "cost_spike",
                        account: account.clone(),
                        function: function.clone(),
                        window_start_ms: *hour_ms,
                    });
                }
            }
        }
        spikes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(at_ms: i64, cost_usd: f64) -> InvocationTruth<'static> {
        InvocationTruth {
            account: "1",
            function: "f",
            request_id: "r",
            log_group: "/aws/lambda/f",
            log_format: "text",
            architecture: "x86_64",
            status: "success",
            logged_status: "success",
            cold_start: false,
            start_time_ms: at_ms,
            duration_ms: 10.0,
            billed_duration_ms: 10,
            memory_size_mb: 128,
            max_memory_used_mb: 10,
            init_duration_ms: None,
            restore_duration_ms: None,
            billed_restore_duration_ms: None,
            cost_usd,
        }
    }

    #[test]
    fn a_closed_hour_over_three_times_and_the_floor_is_a_spike() {
        let mut costs = HourlyCosts::default();
        for hour in 0..31 {
            let cost_usd = match hour {
                3 => 0.7,
                26 => 0.61,
                27 => 0.29,
                28 => 0.49,
                29 => 0.9,
                _ => 0.1,
            };
            costs.observe(&invocation(hour * HOUR_MS, cost_usd));
        }
        // Hour 26 is over 3 × $0.10 and $0.50; hour 27 is under the multiple,
        // hour 28 under the floor, hour 29 is not closed, and hour 3 has less
        // than a day of history.
        let hours: Vec<i64> = costs
            .spikes()
            .iter()
            .map(|alert| alert.window_start_ms / HOUR_MS)
            .collect();
        assert_eq!(hours, [26]);
    }
}
