//! Arrival rates over time: constant per function, except during spikes.
//!
//! The simulator draws arrivals as one merged Poisson process. A spike makes
//! the rates piecewise constant: each [`Segment`] holds the cumulative rates
//! from its start until the next segment's. An exponential gap that would
//! cross into the next segment is redrawn from the boundary with the new
//! rates, which is exact for a Poisson process (it has no memory). With no
//! spike there is one segment and the simulator draws exactly as it did
//! before spikes existed, so a seed's output does not change.

use serde::Serialize;

use super::functions::FunctionSpec;

/// One function's arrival rate multiplied during one hour of the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spike {
    /// The function's index in the fleet (the order of `truth.json`).
    pub function: usize,
    /// The hour, counted from the start (0 is the first hour).
    pub hour: u64,
    /// The multiple of the function's rate during that hour.
    pub factor: u32,
}

/// A `--spike` value that is not `FUNCTION:HOUR:FACTOR`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad spike `{given}`: expected FUNCTION:HOUR:FACTOR, for example 2:26:8 (function 2, its 27th hour, 8 times its rate)")]
pub struct BadSpike {
    /// What was given.
    pub given: String,
}

impl std::str::FromStr for Spike {
    type Err = BadSpike;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadSpike {
            given: text.to_owned(),
        };
        let mut fields = text.trim().split(':');
        let (Some(function), Some(hour), Some(factor), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(bad());
        };
        Ok(Spike {
            function: function.parse().map_err(|_| bad())?,
            hour: hour.parse().map_err(|_| bad())?,
            factor: factor.parse().map_err(|_| bad())?,
        })
    }
}

const HOUR_MS: f64 = 3_600_000.0;

/// The rates from `start_ms` on.
#[derive(Debug, Clone)]
struct Segment {
    start_ms: f64,
    cumulative_rates: Vec<f64>,
    total_rate_per_ms: f64,
}

/// The arrival rates of a fleet over the simulated time.
#[derive(Debug, Clone)]
pub(crate) struct ArrivalRates {
    /// Sorted by start; the first starts at minus infinity.
    segments: Vec<Segment>,
}

impl ArrivalRates {
    /// Each function's `rate_per_second` times `scale`, and times a spike's
    /// factor during its hour (hours counted from `start_ms`).
    pub(crate) fn new(
        functions: &[FunctionSpec],
        scale: Option<f64>,
        start_ms: i64,
        spikes: &[Spike],
    ) -> ArrivalRates {
        let mut boundaries: Vec<f64> = spikes
            .iter()
            .flat_map(|spike| {
                let from_ms = start_ms as f64 + spike.hour as f64 * HOUR_MS;
                [from_ms, from_ms + HOUR_MS]
            })
            .collect();
        boundaries.sort_by(f64::total_cmp);
        boundaries.dedup();
        let segments = std::iter::once(f64::NEG_INFINITY)
            .chain(boundaries)
            .map(|segment_start_ms| {
                let factor_of = |index: usize| -> f64 {
                    spikes
                        .iter()
                        .filter(|spike| spike.function == index)
                        .filter(|spike| {
                            let from_ms = start_ms as f64 + spike.hour as f64 * HOUR_MS;
                            from_ms <= segment_start_ms && segment_start_ms < from_ms + HOUR_MS
                        })
                        .map(|spike| f64::from(spike.factor))
                        .product()
                };
                segment(functions, scale, segment_start_ms, factor_of)
            })
            .collect();
        ArrivalRates { segments }
    }

    /// The expected number of arrivals per millisecond outside spikes.
    pub(crate) fn base_total_rate_per_ms(&self) -> f64 {
        self.segments[0].total_rate_per_ms
    }

    fn segment_index(&self, at_ms: f64) -> usize {
        self.segments
            .partition_point(|segment| segment.start_ms <= at_ms)
            .saturating_sub(1)
    }

    /// The next arrival after `clock_ms`, drawing each gap with `draw_unit`
    /// (uniform in [0, 1)).
    pub(crate) fn next_arrival(&self, clock_ms: f64, mut draw_unit: impl FnMut() -> f64) -> f64 {
        let mut clock_ms = clock_ms;
        loop {
            let index = self.segment_index(clock_ms);
            let gap = -(1.0 - draw_unit()).ln() / self.segments[index].total_rate_per_ms;
            match self.segments.get(index + 1) {
                Some(next) if clock_ms + gap >= next.start_ms => clock_ms = next.start_ms,
                _ => return clock_ms + gap,
            }
        }
    }

    /// The cumulative rates in force at `at_ms`, to pick the function.
    pub(crate) fn cumulative_at(&self, at_ms: f64) -> &[f64] {
        &self.segments[self.segment_index(at_ms)].cumulative_rates
    }
}

fn segment(
    functions: &[FunctionSpec],
    scale: Option<f64>,
    start_ms: f64,
    factor_of: impl Fn(usize) -> f64,
) -> Segment {
    let mut cumulative_rates = Vec::with_capacity(functions.len());
    let mut total = 0.0;
    for (index, function) in functions.iter().enumerate() {
        // Without scale or spike, the very sums of the unshaped workload.
        let mut rate = function.rate_per_second;
        if let Some(scale) = scale {
            rate *= scale;
        }
        let factor = factor_of(index);
        if factor != 1.0 {
            rate *= factor;
        }
        total += rate;
        cumulative_rates.push(total);
    }
    Segment {
        start_ms,
        cumulative_rates,
        total_rate_per_ms: total / 1000.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spikes() {
        assert_eq!(
            "2:26:8".parse::<Spike>(),
            Ok(Spike {
                function: 2,
                hour: 26,
                factor: 8
            })
        );
        for bad in ["2:26", "2:26:8:1", "a:1:2", "1:-1:2", ""] {
            assert!(bad.parse::<Spike>().is_err(), "{bad}");
        }
    }
}
