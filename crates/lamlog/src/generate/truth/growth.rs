//! The `memory_growth` alerts lamlog's default rules must raise on a
//! generated workload, restated here from the README rather than computed by
//! `lamlog_core::growth`, so that a broken rule cannot agree with itself:
//!
//! - per execution environment (log stream), the last 20 warm invocations'
//!   max memory used, in order (cold starts are left out), once the stream
//!   has had 40: its first 20 are a warm-up;
//! - the median of the slopes between every pair of them (MB per
//!   invocation) is above zero, at least 75 % of the pairs rise, and the
//!   memory size is at most 1000 such slopes above the last sample
//!   (rounded up);
//! - the first such invocation of a stream raises the stream's one alert, in
//!   the 5-minute window of its start time.

use std::collections::{BTreeMap, BTreeSet};

use super::alert::AlertTruth;
use super::invocations::InvocationTruth;

const TRAIL_LEN: usize = 20;
const RISING_SHARE: f64 = 0.75;
const HORIZON_INVOCATIONS: f64 = 1000.0;
const WINDOW_MS: i64 = 5 * 60_000;

/// The expected growth alerts, gathered one invocation at a time.
#[derive(Debug, Default)]
pub(crate) struct ExpectedGrowth {
    /// The last warm samples of each stream (by the generator's stream id)
    /// and how many it has had.
    trails: BTreeMap<u64, (Vec<u32>, u64)>,
    alerted: BTreeSet<u64>,
    raised: Vec<AlertTruth>,
}

impl ExpectedGrowth {
    /// Adds `truth`, an invocation that ran in stream `stream_id`.
    pub(crate) fn observe(&mut self, stream_id: u64, truth: &InvocationTruth<'_>) {
        if truth.cold_start {
            return;
        }
        let (trail, seen) = self.trails.entry(stream_id).or_default();
        trail.push(truth.max_memory_used_mb);
        *seen += 1;
        if trail.len() > TRAIL_LEN {
            trail.remove(0);
        }
        if *seen < 2 * TRAIL_LEN as u64 || self.alerted.contains(&stream_id) {
            return;
        }
        if grows(trail, truth.memory_size_mb) {
            self.alerted.insert(stream_id);
            self.raised.push(AlertTruth {
                kind: "memory_growth",
                account: truth.account.to_owned(),
                function: truth.function.to_owned(),
                window_start_ms: truth.start_time_ms.div_euclid(WINDOW_MS) * WINDOW_MS,
            });
        }
    }

    /// The expected alerts.
    pub(crate) fn finish(self) -> Vec<AlertTruth> {
        self.raised
    }
}

fn grows(trail: &[u32], memory_size_mb: u32) -> bool {
    let mut slopes = Vec::new();
    let mut rising = 0;
    for i in 0..trail.len() {
        for j in i + 1..trail.len() {
            let rise = f64::from(trail[j]) - f64::from(trail[i]);
            if rise > 0.0 {
                rising += 1;
            }
            slopes.push(rise / (j - i) as f64);
        }
    }
    slopes.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    let n = slopes.len();
    let median = if n % 2 == 1 {
        slopes[n / 2]
    } else {
        (slopes[n / 2 - 1] + slopes[n / 2]) / 2.0
    };
    let last = f64::from(*trail.last().expect("full"));
    let headroom = (f64::from(memory_size_mb) - last).max(0.0);
    median > 0.0
        && rising as f64 >= RISING_SHARE * n as f64
        && (headroom / median).ceil() <= HORIZON_INVOCATIONS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_rise_grows_and_a_plateau_does_not() {
        let rising: Vec<u32> = (0..20).map(|i| 100 + 3 * i).collect();
        assert!(grows(&rising, 512));
        // 355 MB of headroom at 3 MB an invocation is 119 invocations away.
        assert!(!grows(&rising, 157 + 3 * 1001));
        let plateau: Vec<u32> = (0..20).map(|i| 100 + 10 * i.min(4)).collect();
        assert!(!grows(&plateau, 512));
    }
}
