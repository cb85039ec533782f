//! ISO-8601 timestamps → epoch milliseconds, for NDJSON events.
//!
//! NDJSON events may carry their time as text, `2024-05-20T10:11:12.345Z`.
//! Only the RFC 3339 shape that logs actually use is read: a date, `T` (or a
//! space), a time, an optional fraction (digits past milliseconds are
//! truncated), then `Z` or a `±HH:MM` offset. Anything else is refused rather
//! than guessed at. It is a few lines of calendar arithmetic, which is cheaper
//! than a date-time dependency for one function.

/// Parses `YYYY-MM-DDTHH:MM:SS(.fff…)(Z|±HH:MM)` into epoch milliseconds, or
/// `None` when the text is not such a timestamp or names an impossible date.
pub fn parse_iso8601_ms(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let (date_time, rest) = bytes.split_at_checked(19)?;
    let year = digits(&date_time[0..4])?;
    let month = digits(&date_time[5..7])?;
    let day = digits(&date_time[8..10])?;
    let hour = digits(&date_time[11..13])?;
    let minute = digits(&date_time[14..16])?;
    let second = digits(&date_time[17..19])?;
    let separators_ok = date_time[4] == b'-'
        && date_time[7] == b'-'
        && matches!(date_time[10], b'T' | b't' | b' ')
        && date_time[13] == b':'
        && date_time[16] == b':';
    let in_range = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !separators_ok || !in_range {
        return None;
    }

    let (millis, zone) = match rest.split_first() {
        Some((b'.', after_dot)) => {
            let fraction_len = after_dot.iter().take_while(|b| b.is_ascii_digit()).count();
            if fraction_len == 0 {
                return None;
            }
            let millis = after_dot[..fraction_len.min(3)]
                .iter()
                .chain(std::iter::repeat(&b'0'))
                .take(3)
                .fold(0, |millis, digit| millis * 10 + i64::from(digit - b'0'));
            (millis, &after_dot[fraction_len..])
        }
        _ => (0, rest),
    };
    let offset_minutes = match zone {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), hours @ .., b':', m1, m2] if hours.len() == 2 => {
            let offset_hours = digits(hours)?;
            let offset_minutes = digits(&[*m1, *m2])?;
            if offset_hours > 23 || offset_minutes > 59 {
                return None;
            }
            let magnitude = offset_hours * 60 + offset_minutes;
            if *sign == b'-' {
                -magnitude
            } else {
                magnitude
            }
        }
        _ => return None,
    };

    let days = crate::calendar::days_from_civil(year, month as u32, day as u32);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

/// Reads ASCII digits as a number; `None` if any byte is not a digit.
fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0, |number, byte| {
        byte.is_ascii_digit()
            .then(|| number * 10 + i64::from(byte - b'0'))
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utc_timestamps() {
        assert_eq!(parse_iso8601_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_iso8601_ms("2015-05-28T15:27:35Z"),
            Some(1_432_826_855_000)
        );
        assert_eq!(
            parse_iso8601_ms("2024-02-29T23:59:59.999Z"),
            Some(1_709_251_199_999)
        );
        assert_eq!(parse_iso8601_ms("1969-12-31T23:59:59.5Z"), Some(-500));
    }

    #[test]
    fn fraction_is_truncated_to_milliseconds() {
        assert_eq!(
            parse_iso8601_ms("1970-01-01T00:00:00.123456789Z"),
            Some(123)
        );
        assert_eq!(parse_iso8601_ms("1970-01-01 00:00:00.1z"), Some(100));
    }

    #[test]
    fn offsets_move_the_instant() {
        assert_eq!(parse_iso8601_ms("1970-01-01T02:30:00+02:30"), Some(0));
        assert_eq!(parse_iso8601_ms("1969-12-31T23:00:00-01:00"), Some(0));
    }

    #[test]
    fn refuses_what_is_not_a_timestamp() {
        for text in [
            "",
            "2024-05-20",
            "2024-05-20T10:11:12",
            "2024-05-20T10:11:12.Z",
            "2024-02-30T10:11:12Z",
            "2023-02-29T10:11:12Z",
            "2024-13-01T10:11:12Z",
            "2024-05-20T24:00:00Z",
            "2024-05-20T10:11:12+2:00",
            "2024-05-20T10:11:12Zjunk",
            "２０２４-05-20T10:11:12Z",
            "+024-05-20T10:11:12Z",
        ] {
            assert_eq!(parse_iso8601_ms(text), None, "{text}");
        }
    }
}
