//! Belief: the duration to expect at a memory size, from the model and from
//! what was measured there.
//!
//! The model is smooth, and at any one size it is off by a few percent (the
//! per-size medians of a real function never lie exactly on
//! `a + b/min(m,1769) + c/min(m,10240)`). A median of many durations measured
//! at that size is not off: it is what that size costs. Comparing sizes by
//! the model alone lets a few percent of model error flip a choice between
//! sizes that were all measured. So:
//!
//! - at an **observed size** with at least [`ENOUGH_SAMPLES`] warm successful
//!   durations, the expected duration is their median, exactly;
//! - with `n` fewer, it is the model moved toward the median by `n /
//!   ENOUGH_SAMPLES` of the way, in log ratio: a median of three durations is
//!   noise as much as signal;
//! - **between** observed sizes it is the model, multiplied by the
//!   median/model ratio interpolated linearly in `ln(memory)` between the two
//!   neighbours, so the curve passes through what was measured without a
//!   step at either end;
//! - **beyond** them it is the model times the ratio of the nearest observed
//!   size: the model's shape, anchored on the nearest measurement.
//!
//! The ratio is multiplicative, so a correction never makes a duration
//! negative, and the bootstrap interval of the model is scaled by the same
//! factor. When the model fits every median exactly, every ratio is 1 and the
//! belief is the model.

use serde::Serialize;

use super::model::Fit;

/// Warm successful durations at a size that make its median believed as is
/// (fewer also raise the `few_samples` warning).
pub const ENOUGH_SAMPLES: u64 = 20;

/// The correction of a model by its measured sizes.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Belief {
    /// (ln memory, credited ln(median / model)), ascending memory.
    anchors: Vec<(f64, f64)>,
}

impl Belief {
    /// The belief of `fit`: one anchor per fitted size with a positive median
    /// and a positive model prediction.
    pub fn of(fit: &Fit) -> Belief {
        let mut anchors: Vec<(f64, f64)> = fit
            .points
            .iter()
            .filter_map(|point| {
                let modelled = fit.model.predict_ms(point.memory_size_mb);
                let measured = point.duration_ms;
                if !(modelled > 0.0
                    && measured > 0.0
                    && modelled.is_finite()
                    && measured.is_finite())
                {
                    return None;
                }
                let credence = (point.weight / ENOUGH_SAMPLES as f64).clamp(0.0, 1.0);
                Some((
                    f64::from(point.memory_size_mb.max(1)).ln(),
                    credence * (measured / modelled).ln(),
                ))
            })
            .collect();
        anchors.sort_by(|left, right| left.0.total_cmp(&right.0));
        Belief { anchors }
    }

    /// What multiplies the model's duration at `memory_size_mb` (1 without
    /// anchors).
    pub fn factor(&self, memory_size_mb: u32) -> f64 {
        let (Some(first), Some(last)) = (self.anchors.first(), self.anchors.last()) else {
            return 1.0;
        };
        let at = f64::from(memory_size_mb.max(1)).ln();
        let log_ratio = if at <= first.0 {
            first.1
        } else if at >= last.0 {
            last.1
        } else {
            let right = self.anchors.partition_point(|anchor| anchor.0 < at);
            let (low, high) = (self.anchors[right - 1], self.anchors[right]);
            if high.0 - low.0 <= 0.0 {
                high.1
            } else {
                low.1 + (high.1 - low.1) * (at - low.0) / (high.0 - low.0)
            }
        };
        log_ratio.exp()
    }

    /// The expected warm duration at `memory_size_mb`, ms.
    pub fn duration_ms(&self, fit: &Fit, memory_size_mb: u32) -> f64 {
        fit.model.predict_ms(memory_size_mb) * self.factor(memory_size_mb)
    }

    /// The 5th and 95th percentiles at `memory_size_mb`: the model's bootstrap
    /// interval, scaled like the duration.
    pub fn interval_ms(&self, fit: &Fit, memory_size_mb: u32) -> (f64, f64) {
        let factor = self.factor(memory_size_mb);
        let (low, high) = fit.interval_ms(memory_size_mb);
        (low * factor, high * factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::model::{DurationModel, ModelKind, SizePoint};

    fn fit_of(points: &[(u32, f64, f64)]) -> Fit {
        Fit {
            kind: ModelKind::SingleThread,
            // 100 ms at 1,024 MB, 200 at 512, 800 at 128.
            model: DurationModel {
                a_ms: 0.0,
                b_ms_mb: 102_400.0,
                c_ms_mb: 0.0,
            },
            points: points
                .iter()
                .map(|&(memory_size_mb, duration_ms, weight)| SizePoint {
                    memory_size_mb,
                    duration_ms,
                    weight,
                })
                .collect(),
            rmse_ms: 0.0,
            mape_pct: 0.0,
            degrees_of_freedom: 0,
            resamples: Vec::new(),
        }
    }

    fn close(left: f64, right: f64) -> bool {
        (left - right).abs() <= 1e-9 * right.abs().max(1.0)
    }

    #[test]
    fn a_well_sampled_size_is_believed_as_measured() {
        let fit = fit_of(&[(512, 180.0, 50.0), (1024, 110.0, 20.0)]);
        let belief = Belief::of(&fit);
        assert!(close(belief.duration_ms(&fit, 512), 180.0));
        assert!(close(belief.duration_ms(&fit, 1024), 110.0));
    }

    #[test]
    fn a_thinly_sampled_size_is_moved_part_of_the_way() {
        // 5 of 20 samples: a quarter of ln(2) toward the median of 200 over
        // a model of 100.
        let fit = fit_of(&[(1024, 200.0, 5.0)]);
        let belief = Belief::of(&fit);
        assert!(close(
            belief.duration_ms(&fit, 1024),
            100.0 * 2_f64.powf(0.25)
        ));
    }

    #[test]
    fn between_sizes_the_ratio_is_interpolated_in_log_memory_and_held_beyond() {
        // Ratio 0.9 at 256 MB (360 over 400), 1.2 at 1,024 MB (120 over 100).
        let fit = fit_of(&[(256, 360.0, 40.0), (1024, 120.0, 40.0)]);
        let belief = Belief::of(&fit);
        // 512 MB is halfway in ln(memory): the geometric mean of the ratios.
        let halfway = (0.9_f64 * 1.2).sqrt();
        assert!(close(belief.duration_ms(&fit, 512), 200.0 * halfway));
        // Below and above: the nearest ratio.
        assert!(close(belief.duration_ms(&fit, 128), 800.0 * 0.9));
        assert!(close(belief.duration_ms(&fit, 1600), 64.0 * 1.2));
    }

    #[test]
    fn no_measurement_leaves_the_model() {
        let fit = fit_of(&[]);
        assert!(close(
            Belief::of(&fit).duration_ms(&fit, 700),
            102_400.0 / 700.0
        ));
        let zero = fit_of(&[(1024, 0.0, 100.0)]);
        assert!(close(Belief::of(&zero).factor(1024), 1.0));
    }
}
