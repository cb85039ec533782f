//! Rollup: what one invocation adds to its function's per-minute totals.
//!
//! Stores keep `function_minute` rows (and a duration histogram beside them)
//! by adding deltas: when an invocation row is inserted or changed, the store
//! takes `contribution(old).sums()` out of the old minute and adds
//! `contribution(new).sums()` to the new one (one minute when the time did
//! not move). Every figure here is an
//! integer (microseconds, MB·ms, pico-dollars, counts), so additions commute
//! exactly and the totals are the same for any split or replay of the stream;
//! floating-point sums would differ in their last bits with the order.
//!
//! Arithmetic saturates, on purpose. Every figure here ends up in a BIGINT
//! column, and a batch whose row the store refuses is retried forever and
//! blocks its shard. A figure that wrapped would be a wrong total that looks
//! right; one that panicked (debug builds check overflow) would fail the
//! batch. A saturated figure is still a valid BIGINT, and it is only ever
//! reached from figures no Lambda produces: the parser refuses those
//! ([`crate::parse::bounds`]), but an invocation can also come back from a row
//! stored before those bounds existed. Checked arithmetic would have to turn
//! such a row into an error, which is the blocked shard again. So: exact
//! below `i64::MAX`, `i64::MAX` above it, NaN as 0, and figures that are sums
//! or counts never negative.

use serde::Serialize;

use crate::assemble::{Invocation, Status};

/// The minute an instant falls in (epoch ms, floored). Instants in the last
/// minute before `i64::MIN` has a floor saturate to `i64::MIN`.
pub fn minute_of(time_ms: i64) -> i64 {
    time_ms.div_euclid(60_000).saturating_mul(60_000)
}

/// Rounds to the nearest integer, saturating at the ends of `i64`, with NaN
/// as 0: the one float → integer conversion of the rollups.
pub fn round_saturating(value: f64) -> i64 {
    if value.is_nan() {
        return 0;
    }
    // A float → integer `as` cast saturates at the target's bounds (the
    // language defines it so); NaN, which it would also map to 0, is handled
    // above to say so.
    value.round() as i64
}

/// [`round_saturating`], and never below 0: for sums of durations and costs,
/// where a negative figure can only be a broken input.
fn round_non_negative(value: f64) -> i64 {
    round_saturating(value).max(0)
}

/// Sub-buckets per power of two in the duration histogram: 2^(1/16) ≈ 4.4 %
/// relative width, plenty for p50/p95/p99.
const BUCKETS_PER_OCTAVE: f64 = 16.0;

/// The histogram bucket of a duration. Bucket 0 holds everything ≤ 1 µs.
pub fn duration_bucket(duration_ms: f64) -> i32 {
    let duration_us = duration_ms * 1000.0;
    if duration_us.is_nan() || duration_us <= 1.0 {
        return 0;
    }
    // Saturating cast: an infinite duration lands in the top bucket.
    (duration_us.log2() * BUCKETS_PER_OCTAVE).ceil() as i32
}

/// The upper bound of a bucket, in ms: the value percentiles report.
pub fn bucket_upper_ms(bucket: i32) -> f64 {
    (f64::from(bucket) / BUCKETS_PER_OCTAVE).exp2() / 1000.0
}

/// The `quantile` (0–1) of a histogram given as (bucket, count) pairs in any
/// order; `None` when it is empty.
pub fn percentile_ms(histogram: &[(i32, i64)], quantile: f64) -> Option<f64> {
    let mut sorted: Vec<(i32, i64)> = histogram
        .iter()
        .copied()
        .filter(|(_, count)| *count > 0)
        .collect();
    sorted.sort_unstable();
    // Counts come from stored rows; their sum saturates like every rollup sum.
    let total = sorted
        .iter()
        .fold(0i64, |total, (_, count)| total.saturating_add(*count));
    if total == 0 {
        return None;
    }
    let rank = round_saturating((quantile.clamp(0.0, 1.0) * total as f64).ceil()).max(1);
    let mut seen = 0i64;
    for (bucket, count) in sorted {
        seen = seen.saturating_add(count);
        if seen >= rank {
            return Some(bucket_upper_ms(bucket));
        }
    }
    None
}

/// USD → integer pico-dollars (1e-12 USD). One 1 ms, 128 MB invocation's
/// compute is about 2,083 pico-dollars, so nothing is lost to rounding that
/// matters, and sums of a few million dollars still fit in an `i64`.
/// Saturates at the ends of `i64`; NaN is 0.
pub fn pico_usd(usd: f64) -> i64 {
    round_saturating(usd * 1e12)
}

/// What one reported invocation adds to its minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Contribution {
    /// The minute (epoch ms).
    pub minute_ms: i64,
    /// 1.
    pub invocations: i64,
    /// 1 for the invocation's final status, 0 for the others.
    pub successes: i64,
    /// See `successes`.
    pub errors: i64,
    /// See `successes`.
    pub crashes: i64,
    /// See `successes`.
    pub ooms: i64,
    /// See `successes`.
    pub timeouts: i64,
    /// 1 when cold.
    pub cold_starts: i64,
    /// Duration in µs.
    pub duration_us: i64,
    /// Memory size × billed duration, MB·ms (GB-s = this / 1024 / 1000).
    pub billed_mb_ms: i64,
    /// Cost in pico-dollars.
    pub cost_pico_usd: i64,
    /// Histogram bucket of the duration.
    pub duration_bucket: i32,
}

/// The contribution of an invocation, or `None` when it has no REPORT yet
/// (then it has no time and no figures to add).
///
/// Every figure is at least 0 and saturates at `i64::MAX` (see the module
/// comment); within the parser's bounds none comes near saturating.
pub fn contribution(invocation: &Invocation, cost_usd: Option<f64>) -> Option<Contribution> {
    let start_time_ms = invocation.start_time_ms?;
    let duration_ms = invocation.duration_ms?;
    let status = invocation.status();
    let one_if = |wanted: Status| i64::from(status == wanted);
    let billed_ms = i64::try_from(invocation.billed_duration_ms.unwrap_or(0)).unwrap_or(i64::MAX);
    Some(Contribution {
        minute_ms: minute_of(start_time_ms),
        invocations: 1,
        successes: one_if(Status::Success),
        errors: one_if(Status::Error),
        crashes: one_if(Status::Crash),
        ooms: one_if(Status::Oom),
        timeouts: one_if(Status::Timeout),
        cold_starts: i64::from(invocation.cold_start),
        duration_us: round_non_negative(duration_ms * 1000.0),
        billed_mb_ms: i64::from(invocation.memory_size_mb.unwrap_or(0)).saturating_mul(billed_ms),
        cost_pico_usd: cost_usd.map_or(0, |usd| pico_usd(usd).max(0)),
        duration_bucket: duration_bucket(duration_ms),
    })
}

impl Contribution {
    /// The figures a minute sums, in the order of `function_minute`'s columns
    /// after `minute_ms` less the max: invocations, successes, errors,
    /// crashes, OOMs, timeouts, cold starts, duration (µs), MB·ms, cost
    /// (pico-dollars). What a changed row moves is its old sums out of its
    /// old minute and its new sums into its new one; each store does that
    /// with these, so that neither lists the figures again.
    pub fn sums(&self) -> [i64; 10] {
        [
            self.invocations,
            self.successes,
            self.errors,
            self.crashes,
            self.ooms,
            self.timeouts,
            self.cold_starts,
            self.duration_us,
            self.billed_mb_ms,
            self.cost_pico_usd,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotone_and_tight() {
        let mut previous = duration_bucket(0.001);
        for step in 1..20_000 {
            let duration_ms = f64::from(step) * 0.37;
            let bucket = duration_bucket(duration_ms);
            assert!(bucket >= previous);
            assert!(bucket_upper_ms(bucket) >= duration_ms * 0.999_999);
            assert!(bucket_upper_ms(bucket) <= duration_ms * 1.045);
            previous = bucket;
        }
    }

    #[test]
    fn percentiles_from_histogram() {
        let histogram: Vec<(i32, i64)> = (1..=100)
            .map(|ms| (duration_bucket(f64::from(ms)), 1))
            .collect();
        let p50 = percentile_ms(&histogram, 0.5).unwrap_or_default();
        assert!((50.0..=52.5).contains(&p50), "{p50}");
        let p99 = percentile_ms(&histogram, 0.99).unwrap_or_default();
        assert!((99.0..=103.5).contains(&p99), "{p99}");
        assert_eq!(percentile_ms(&[], 0.5), None);
    }

    #[test]
    fn rounding_saturates_and_maps_nan_to_zero() {
        assert_eq!(round_saturating(f64::NAN), 0);
        assert_eq!(round_saturating(f64::INFINITY), i64::MAX);
        assert_eq!(round_saturating(f64::NEG_INFINITY), i64::MIN);
        assert_eq!(round_saturating(1e300), i64::MAX);
        assert_eq!(round_saturating(2.5), 3);
        assert_eq!(round_saturating(-2.5), -3);
        assert_eq!(round_non_negative(-2.5), 0);
    }
}
