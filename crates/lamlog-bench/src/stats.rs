//! Statistics of repeated measurements: every figure the harness reports is
//! the median of several runs, with the smallest and largest beside it.
//!
//! The median, not the mean: on a shared machine a run is sometimes slowed
//! down a lot by someone else's build, never sped up, so the distribution has
//! a long tail on one side. The median ignores the tail; min and max show how
//! long it was.

use serde::Serialize;

/// The median, minimum and maximum of a set of runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// The middle value; for an even count, the mean of the two middle ones.
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// How many runs.
    pub runs: usize,
}

impl Spread {
    /// No runs: every figure zero.
    pub const NONE: Spread = Spread {
        median: 0.0,
        min: 0.0,
        max: 0.0,
        runs: 0,
    };

    /// The spread of `values`; `None` when there are none or one is NaN.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() || values.iter().any(|value| value.is_nan()) {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let middle = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 {
            sorted[middle]
        } else {
            (sorted[middle - 1] + sorted[middle]) / 2.0
        };
        Some(Spread {
            median,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            runs: sorted.len(),
        })
    }

    /// Every figure multiplied by `factor` (a unit change).
    pub fn scaled(&self, factor: f64) -> Spread {
        let (low, high) = if factor >= 0.0 {
            (self.min * factor, self.max * factor)
        } else {
            (self.max * factor, self.min * factor)
        };
        Spread {
            median: self.median * factor,
            min: low,
            max: high,
            runs: self.runs,
        }
    }

    /// `median (min–max)` with `decimals` digits after the point.
    pub fn display(&self, decimals: usize) -> String {
        format!(
            "{} ({}–{})",
            group(self.median, decimals),
            group(self.min, decimals),
            group(self.max, decimals)
        )
    }
}

/// `value` with `decimals` digits after the point and thousands separated by
/// commas, as BENCHMARKS.md writes numbers.
pub fn group(value: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text.as_str(), None),
    };
    let mut grouped = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if value < 0.0 && text.chars().any(|c| c != '0' && c != '.') {
        "-"
    } else {
        ""
    };
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_count_takes_the_middle_value() {
        let spread = Spread::of(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!(spread.median, 3.0);
        assert_eq!((spread.min, spread.max, spread.runs), (1.0, 5.0, 3));
    }

    #[test]
    fn even_count_averages_the_two_middle_values() {
        let spread = Spread::of(&[4.0, 1.0, 3.0, 10.0]).unwrap();
        assert_eq!(spread.median, 3.5);
        assert_eq!((spread.min, spread.max), (1.0, 10.0));
    }

    #[test]
    fn one_run_is_its_own_median_min_and_max() {
        let spread = Spread::of(&[2.5]).unwrap();
        assert_eq!((spread.median, spread.min, spread.max), (2.5, 2.5, 2.5));
    }

    #[test]
    fn nothing_or_nan_has_no_spread() {
        assert_eq!(Spread::of(&[]), None);
        assert_eq!(Spread::of(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn scaling_by_a_negative_factor_keeps_min_below_max() {
        let spread = Spread::of(&[1.0, 2.0, 4.0]).unwrap().scaled(-1.0);
        assert_eq!((spread.min, spread.median, spread.max), (-4.0, -2.0, -1.0));
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(group(1_234_567.891, 1), "1,234,567.9");
        assert_eq!(group(999.0, 0), "999");
        assert_eq!(group(1000.0, 0), "1,000");
        assert_eq!(group(-12_345.0, 2), "-12,345.00");
        assert_eq!(group(0.0004, 2), "0.00");
    }
}
