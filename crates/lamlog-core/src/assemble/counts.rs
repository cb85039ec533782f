//! Line counts: how many lines of a batch were of each family, and why the
//! `other` ones were not records.
//!
//! Lines that parse to `other` are never stored, so these counts are all
//! that is left of them. Their reasons tell "the function prints free text"
//! (harmless, `unrecognised`) apart from "something printed fake platform
//! lines" (`figure_out_of_range`, `id_too_long`) and from "Lambda changed a
//! format we read" (`unparsable_platform_line`). The CLI prints them in its
//! summary and the Lambda function emits them in its metrics.
//!
//! Counts only ever add up, so every addition saturates: a count cannot
//! realistically reach `u64::MAX`, and if it did it should stop there rather
//! than panic or start again from zero.

use serde::Serialize;

use crate::parse::{LogLine, OtherReason};

/// Counts of `other` lines, one field per [`OtherReason`], serialised under
/// the reasons' snake_case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct OtherCounts {
    /// Free text, or JSON that is no log shape lamlog reads.
    pub unrecognised: u64,
    /// Platform lines whose fields do not read.
    pub unparsable_platform_line: u64,
    /// Lines with a figure Lambda cannot produce.
    pub figure_out_of_range: u64,
    /// Lines with an identifier past the length bound.
    pub id_too_long: u64,
}

impl OtherCounts {
    /// The count of one reason.
    pub fn get(&self, reason: OtherReason) -> u64 {
        match reason {
            OtherReason::Unrecognised => self.unrecognised,
            OtherReason::UnparsablePlatformLine => self.unparsable_platform_line,
            OtherReason::FigureOutOfRange => self.figure_out_of_range,
            OtherReason::IdTooLong => self.id_too_long,
        }
    }

    /// Counts one more line for `reason`.
    pub fn add(&mut self, reason: OtherReason) {
        let count = match reason {
            OtherReason::Unrecognised => &mut self.unrecognised,
            OtherReason::UnparsablePlatformLine => &mut self.unparsable_platform_line,
            OtherReason::FigureOutOfRange => &mut self.figure_out_of_range,
            OtherReason::IdTooLong => &mut self.id_too_long,
        };
        *count = count.saturating_add(1);
    }

    /// The sum over every reason.
    pub fn total(&self) -> u64 {
        OtherReason::ALL
            .into_iter()
            .fold(0u64, |total, reason| total.saturating_add(self.get(reason)))
    }

    /// Adds the counts of another batch, reason by reason.
    pub fn add_counts(&mut self, other: &OtherCounts) {
        self.unrecognised = self.unrecognised.saturating_add(other.unrecognised);
        self.unparsable_platform_line = self
            .unparsable_platform_line
            .saturating_add(other.unparsable_platform_line);
        self.figure_out_of_range = self
            .figure_out_of_range
            .saturating_add(other.figure_out_of_range);
        self.id_too_long = self.id_too_long.saturating_add(other.id_too_long);
    }
}

/// Counts of the lines of a batch by kind, and of `other` lines by reason.
/// `other` always equals `other_by_reason.total()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LineCounts {
    /// Every log event seen.
    pub lines: u64,
    /// Platform lines (START, END, REPORT, INIT_*, timeouts, crashes, extensions, platform JSON).
    pub platform: u64,
    /// Application lines, errors included.
    pub app: u64,
    /// Application error lines.
    pub app_errors: u64,
    /// Lines that are neither (counted, never stored).
    pub other: u64,
    /// The `other` lines by why they are not records.
    pub other_by_reason: OtherCounts,
}

impl LineCounts {
    /// Counts one parsed line.
    pub fn count(&mut self, line: &LogLine<'_>) {
        let one_more = |count: &mut u64| *count = count.saturating_add(1);
        one_more(&mut self.lines);
        match line {
            LogLine::App { .. } => one_more(&mut self.app),
            LogLine::AppError { .. } => {
                one_more(&mut self.app);
                one_more(&mut self.app_errors);
            }
            LogLine::Other { reason } => {
                one_more(&mut self.other);
                self.other_by_reason.add(*reason);
            }
            _ => one_more(&mut self.platform),
        }
        debug_assert_eq!(self.other, self.other_by_reason.total());
    }

    /// Adds the counts of another batch.
    pub fn add_counts(&mut self, other: &LineCounts) {
        self.lines = self.lines.saturating_add(other.lines);
        self.platform = self.platform.saturating_add(other.platform);
        self.app = self.app.saturating_add(other.app);
        self.app_errors = self.app_errors.saturating_add(other.app_errors);
        self.other = self.other.saturating_add(other.other);
        self.other_by_reason.add_counts(&other.other_by_reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_count_and_the_total_is_their_sum() {
        let mut counts = LineCounts::default();
        for (times, reason) in OtherReason::ALL.into_iter().enumerate() {
            for _ in 0..=times {
                counts.count(&LogLine::Other { reason });
            }
        }
        for (times, reason) in OtherReason::ALL.into_iter().enumerate() {
            assert_eq!(counts.other_by_reason.get(reason), times as u64 + 1);
        }
        assert_eq!(counts.other, counts.other_by_reason.total());
        let json = serde_json::to_value(counts.other_by_reason).expect("counts serialise");
        for reason in OtherReason::ALL {
            assert_eq!(json[reason.as_str()], counts.other_by_reason.get(reason));
        }
        let mut sum = counts;
        sum.add_counts(&counts);
        assert_eq!(sum.other, 2 * counts.other);
        assert_eq!(sum.other, sum.other_by_reason.total());
    }
}
