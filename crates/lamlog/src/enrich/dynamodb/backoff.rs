//! Exponential backoff with full jitter, for retrying `UnprocessedKeys` and
//! failed calls.
//!
//! The n-th wait (n from 0) is drawn uniformly from `[0, min(cap, base × 2ⁿ)]`
//! ("full jitter", from the AWS Architecture Blog's *Exponential Backoff And
//! Jitter*). Compared with a fixed exponential delay, it spreads the retries
//! of many concurrent Lambda instances that were throttled together over the
//! whole window instead of making them collide again at the same instants;
//! compared with "equal jitter" it finishes sooner on average.

use std::time::Duration;

/// How long to wait between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first wait.
    pub base: Duration,
    /// The largest ceiling any wait may have.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(25),
            cap: Duration::from_secs(1),
        }
    }
}

impl Backoff {
    /// The ceiling of wait number `attempt` (0-based): `min(cap, base × 2^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Wait number `attempt` for a uniform draw `unit` in `[0, 1)`: the
    /// ceiling scaled by `unit`. Pure, so that its bounds can be tested.
    pub fn delay_for(&self, attempt: u32, unit: f64) -> Duration {
        self.ceiling(attempt).mul_f64(unit.clamp(0.0, 1.0))
    }

    /// Wait number `attempt`, drawn at random.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_for(attempt, fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let backoff = Backoff {
            base: Duration::from_millis(25),
            cap: Duration::from_millis(1000),
        };
        let ceilings: Vec<u128> = (0..8).map(|n| backoff.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [25, 50, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn full_jitter_stays_within_zero_and_the_ceiling() {
        let backoff = Backoff::default();
        assert_eq!(backoff.delay_for(3, 0.0), Duration::ZERO);
        assert_eq!(backoff.delay_for(3, 1.0), backoff.ceiling(3));
        assert_eq!(backoff.delay_for(3, 7.0), backoff.ceiling(3));
        for attempt in 0..40 {
            for _ in 0..200 {
                let delay = backoff.delay(attempt);
                assert!(delay <= backoff.ceiling(attempt), "{attempt}: {delay:?}");
            }
        }
    }

    #[test]
    fn full_jitter_spreads_over_the_whole_window() {
        let backoff = Backoff::default();
        let ceiling = backoff.ceiling(5);
        let draws: Vec<Duration> = (0..2000).map(|_| backoff.delay(5)).collect();
        let low = draws.iter().filter(|delay| **delay < ceiling / 4).count();
        let high = draws
            .iter()
            .filter(|delay| **delay > ceiling * 3 / 4)
            .count();
        // Uniform: about 500 each; a fixed or "equal jitter" delay would give 0 low.
        assert!(low > 300 && high > 300, "low {low}, high {high}");
    }
}
