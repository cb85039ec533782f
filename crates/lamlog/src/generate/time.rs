//! Calendar text for epoch milliseconds, in UTC.
//!
//! Lambda prints time in three shapes: ISO-8601 with milliseconds in
//! application and JSON platform lines (`2026-11-01T00:00:01.234Z`), the
//! log4j2 default in Java lines (`2026-11-01 00:00:01`), and the date prefix of
//! a log stream name (`2026/11/01`). The generator needs all three for millions
//! of lines, so this is a small exact conversion (Howard Hinnant's
//! days-to-civil algorithm) rather than a date-time dependency.

use std::fmt::Write as _;

use lamlog_core::calendar::civil_from_days;

/// A UTC calendar time with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UtcTime {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    millis: u32,
}

impl UtcTime {
    /// Splits epoch milliseconds into calendar fields.
    pub(crate) fn from_epoch_ms(epoch_ms: i64) -> UtcTime {
        let days = epoch_ms.div_euclid(86_400_000);
        let ms_of_day = epoch_ms.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(days);
        let seconds_of_day = ms_of_day / 1000;
        UtcTime {
            year,
            month,
            day,
            hour: (seconds_of_day / 3600) as u32,
            minute: (seconds_of_day / 60 % 60) as u32,
            second: (seconds_of_day % 60) as u32,
            millis: (ms_of_day % 1000) as u32,
        }
    }

    /// Appends `2026-11-01T00:00:01.234Z`.
    pub(crate) fn push_iso(&self, out: &mut String) {
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millis
        );
    }

    /// Appends `2026-11-01 00:00:01`, the log4j2 `%d{yyyy-MM-dd HH:mm:ss}` shape.
    pub(crate) fn push_log4j(&self, out: &mut String) {
        let _ = write!(
            out,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
    }

    /// Appends `2026/11/01`, the date prefix of a Lambda log stream name.
    pub(crate) fn push_stream_date(&self, out: &mut String) {
        let _ = write!(out, "{:04}/{:02}/{:02}", self.year, self.month, self.day);
    }
}

/// Formats epoch milliseconds as ISO-8601 text.
pub(crate) fn iso(epoch_ms: i64) -> String {
    let mut out = String::with_capacity(24);
    UtcTime::from_epoch_ms(epoch_ms).push_iso(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_793_491_200_000), "2026-11-01T00:00:00.000Z");
        assert_eq!(iso(1_716_222_585_022), "2024-05-20T16:29:45.022Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
        let mut log4j = String::new();
        UtcTime::from_epoch_ms(1_793_534_461_999).push_log4j(&mut log4j);
        assert_eq!(log4j, "2026-11-01 12:01:01");
        let mut date = String::new();
        UtcTime::from_epoch_ms(1_798_761_599_999).push_stream_date(&mut date);
        assert_eq!(date, "2026/12/31");
    }
}
