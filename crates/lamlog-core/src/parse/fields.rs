//! The `Key: value` scanner shared by every text platform line.
//!
//! START, END, REPORT, INIT_START, INIT_REPORT, EXTENSION and TELEMETRY lines
//! are all a keyword followed by `Key: value` pairs. AWS separates the pairs
//! with tabs, but copies in the wild use spaces, a mix of both, a tab right
//! after the colon, a stray space before the tab, a `\n` before `XRAY`, and a
//! trailing `\t\n` or `\r\n`. Rather than splitting on one separator, the
//! scanner walks the line once:
//!
//! - the key is the text before the next `:`, classified by its last word or
//!   two ([`Key::classify`]), so that a unit left over from the previous
//!   value (`ms`, `MB`) or stray whitespace in front of a key does not matter;
//! - the value is the one whitespace-free token after the colon, so values
//!   that hold colons themselves (`python:3.13.v14`, runtime ARNs) stay whole.
//!
//! Everything is a borrowed slice of the input and every cut falls on an
//! ASCII byte, hence on a `char` boundary: no allocation, no panic.

use memchr::memchr;

use super::OtherReason;

/// The keys that text platform lines carry. Anything else is [`Key::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    RequestId,
    Version,
    Duration,
    BilledDuration,
    MemorySize,
    MaxMemoryUsed,
    InitDuration,
    RestoreDuration,
    BilledRestoreDuration,
    XrayTraceId,
    SegmentId,
    Sampled,
    Status,
    ErrorType,
    Phase,
    RuntimeVersion,
    RuntimeVersionArn,
    Name,
    State,
    Unknown,
}

impl Key {
    /// Names the key that ends `text`, the stretch between the previous value
    /// and a colon.
    ///
    /// Matching on the last words, not the whole text, is what makes the
    /// scanner indifferent to separators: `ms\t Billed Duration` and
    /// `Billed  Duration` both end in `Billed Duration`.
    pub(super) fn classify(text: &str) -> Key {
        // Split on bytes, not chars: ASCII whitespace never occurs inside a
        // multi-byte UTF-8 sequence, so the words are the same, and no char
        // is decoded on the way.
        let mut words = text
            .as_bytes()
            .rsplit(|byte| byte.is_ascii_whitespace())
            .filter(|word| !word.is_empty());
        let last = words.next().unwrap_or(b"");
        match last {
            b"RequestId" => Key::RequestId,
            b"Duration" => match words.next() {
                Some(b"Billed") => Key::BilledDuration,
                Some(b"Init") => Key::InitDuration,
                Some(b"Restore") => match words.next() {
                    Some(b"Billed") => Key::BilledRestoreDuration,
                    _ => Key::RestoreDuration,
                },
                _ => Key::Duration,
            },
            b"Size" if words.next() == Some(b"Memory") => Key::MemorySize,
            b"Used" if words.next() == Some(b"Memory") && words.next() == Some(b"Max") => {
                Key::MaxMemoryUsed
            }
            b"TraceId" => Key::XrayTraceId,
            b"SegmentId" => Key::SegmentId,
            b"Sampled" => Key::Sampled,
            b"Status" => Key::Status,
            b"Type" if words.next() == Some(b"Error") => Key::ErrorType,
            b"Phase" => Key::Phase,
            b"Version" => match words.next() {
                Some(b"Runtime") => Key::RuntimeVersion,
                _ => Key::Version,
            },
            b"ARN" if words.next() == Some(b"Version") && words.next() == Some(b"Runtime") => {
                Key::RuntimeVersionArn
            }
            b"Name" => Key::Name,
            b"State" => Key::State,
            _ => Key::Unknown,
        }
    }
}

/// True for the separators seen between fields: space, tab, `\n`, `\r`, …
pub(super) fn is_separator(byte: u8) -> bool {
    byte.is_ascii_whitespace()
}

/// Splits `text` into its first whitespace-free token and what follows it.
pub(super) fn split_token(text: &str) -> (&str, &str) {
    let end = text.bytes().position(is_separator).unwrap_or(text.len());
    text.split_at(end)
}

/// Drops leading separators.
pub(super) fn skip_separators(text: &str) -> &str {
    text.trim_start_matches(|c: char| c.is_ascii_whitespace())
}

/// Iterates the `Key: value` pairs of a platform line, after its keyword.
pub(super) struct Fields<'a> {
    rest: &'a str,
}

impl<'a> Fields<'a> {
    /// Starts scanning at `text`, the part of the line after its keyword.
    pub(super) fn new(text: &'a str) -> Self {
        Fields { rest: text }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (Key, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let colon = memchr(b':', self.rest.as_bytes())?;
        let key = Key::classify(&self.rest[..colon]);
        let after_colon = skip_separators(&self.rest[colon + 1..]);
        let (value, rest) = split_token(after_colon);
        self.rest = rest;
        Some((key, value))
    }
}

/// Reads a decimal such as `46.84`, `1.0` or `3000`.
///
/// Only digits with at most one dot are accepted, so `inf`, `NaN`, `1e5` and
/// signs, which `f64::from_str` would take, make the line unreadable instead.
/// A run of digits too long for an `f64` reads as infinity, which
/// [`super::bounds`] then refuses as out of range.
pub(super) fn parse_decimal(text: &str) -> Result<f64, OtherReason> {
    let bytes = text.as_bytes();
    let mut digits = 0usize;
    let mut dots = 0usize;
    for &byte in bytes {
        match byte {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            _ => return Err(OtherReason::UnparsablePlatformLine),
        }
    }
    if digits == 0 || dots > 1 {
        return Err(OtherReason::UnparsablePlatformLine);
    }
    text.parse()
        .map_err(|_| OtherReason::UnparsablePlatformLine)
}

/// Reads a whole number of milliseconds or megabytes.
///
/// Text that is not all digits is unreadable; all digits that do not fit `T`
/// are a well-formed figure out of range (`Memory Size: 99999999999 MB`).
pub(super) fn parse_integer<T: std::str::FromStr>(text: &str) -> Result<T, OtherReason> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(OtherReason::UnparsablePlatformLine);
    }
    // Only overflow can make a run of ASCII digits fail to parse.
    text.parse().map_err(|_| OtherReason::FigureOutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_classified_by_their_last_words() {
        assert_eq!(Key::classify("ms\t Billed Duration"), Key::BilledDuration);
        assert_eq!(
            Key::classify("Billed  Restore\tDuration"),
            Key::BilledRestoreDuration
        );
        assert_eq!(Key::classify(" Restore Duration"), Key::RestoreDuration);
        assert_eq!(Key::classify("MB\t\nXRAY TraceId"), Key::XrayTraceId);
        assert_eq!(Key::classify("Max Memory Used"), Key::MaxMemoryUsed);
        assert_eq!(Key::classify("Memory Used"), Key::Unknown);
        assert_eq!(Key::classify("Runtime Version ARN"), Key::RuntimeVersionArn);
        assert_eq!(Key::classify("python Version"), Key::Version);
        assert_eq!(Key::classify(""), Key::Unknown);
    }

    #[test]
    fn values_keep_their_colons() {
        let fields: Vec<_> = Fields::new(" Runtime Version: python:3.13.v14\tRuntime Version ARN: arn:aws:lambda:eu-south-1::runtime:7b\n").collect();
        assert_eq!(
            fields,
            vec![
                (Key::RuntimeVersion, "python:3.13.v14"),
                (
                    Key::RuntimeVersionArn,
                    "arn:aws:lambda:eu-south-1::runtime:7b"
                ),
            ]
        );
    }

    #[test]
    fn a_tab_right_after_the_colon_is_a_separator() {
        let fields: Vec<_> = Fields::new("Duration:\t46.84 ms").collect();
        assert_eq!(fields, vec![(Key::Duration, "46.84")]);
    }

    #[test]
    fn decimals_are_plain_digits() {
        let unreadable = Err(OtherReason::UnparsablePlatformLine);
        assert_eq!(parse_decimal("46.84"), Ok(46.84));
        assert_eq!(parse_decimal("3000"), Ok(3000.0));
        assert_eq!(parse_decimal("inf"), unreadable);
        assert_eq!(parse_decimal("1e5"), unreadable);
        assert_eq!(parse_decimal("1.2.3"), unreadable);
        assert_eq!(parse_decimal("."), unreadable);
        assert_eq!(parse_decimal(&"9".repeat(400)), Ok(f64::INFINITY));
        assert_eq!(
            parse_integer::<u32>("99999999999"),
            Err(OtherReason::FigureOutOfRange)
        );
        let unreadable_integer = Err(OtherReason::UnparsablePlatformLine);
        assert_eq!(parse_integer::<u64>("-1"), unreadable_integer);
        assert_eq!(parse_integer::<u64>(""), unreadable_integer);
    }
}
