//! Format detection for [`Format::Auto`]: a cheap look at the first bytes.
//!
//! The CLI reads whatever it is given, so `auto` guesses the wrapping from a
//! bounded prefix (never the whole input, which may be large):
//!
//! 1. gzip magic `1f 8b` → `cwl` (Firehose objects, saved subscription payloads);
//! 2. not a `{` after a byte order mark and whitespace → `lines`;
//! 3. the object's first key `"Records"` → `kinesis`, `"awslogs"` → `awslogs`;
//! 4. within the first line, `"logEvents"` or `"messageType"` → `cwl`, then
//!    `"message"` with `"timestamp"` → `events`, then `"owner"` → `cwl`
//!    (`owner` comes last because NDJSON events may carry it too);
//! 5. a pretty-printed payload has a first line of only `{`: then step 4's
//!    CloudWatch keys are looked for in the prefix instead;
//! 6. anything else → `lines`.
//!
//! Keys are matched with their quotes, so a key name inside a message (where
//! its quotes are escaped as `\"`) does not count. A guess can still be wrong
//! for odd input; the explicit formats are there for that.

use memchr::memmem;

use super::inflate::is_gzip;
use super::Format;

/// How much of the input detection may look at.
const SNIFF_PREFIX_BYTES: usize = 64 * 1024;

/// Guesses the format of `input`; never answers [`Format::Auto`].
pub fn detect_format(input: &[u8]) -> Format {
    if is_gzip(input) {
        return Format::Cwl;
    }
    let prefix = &input[..input.len().min(SNIFF_PREFIX_BYTES)];
    let prefix = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    let start = prefix
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(prefix.len());
    let object = &prefix[start..];
    if !object.starts_with(b"{") {
        return Format::Lines;
    }
    match first_key(object) {
        Some(b"Records") => return Format::Kinesis,
        Some(b"awslogs") => return Format::Awslogs,
        _ => {}
    }
    let first_line = match memchr::memchr(b'\n', object) {
        Some(newline) => &object[..newline],
        None => object,
    };
    let has = |haystack: &[u8], key: &[u8]| memmem::find(haystack, key).is_some();
    let is_cloudwatch =
        |haystack: &[u8]| has(haystack, b"\"logEvents\"") || has(haystack, b"\"messageType\"");
    if is_cloudwatch(first_line) {
        return Format::Cwl;
    }
    if has(first_line, b"\"message\"") && has(first_line, b"\"timestamp\"") {
        return Format::Events;
    }
    if has(first_line, b"\"owner\"") {
        return Format::Cwl;
    }
    if first_line.trim_ascii() == b"{" && is_cloudwatch(object) {
        return Format::Cwl;
    }
    Format::Lines
}

/// The first key of the object `object` starts, if it is a plain string.
fn first_key(object: &[u8]) -> Option<&[u8]> {
    let after_brace = object.get(1..)?;
    let quote = after_brace
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())?;
    let key_and_rest = after_brace[quote..].strip_prefix(b"\"")?;
    let key_len = memchr::memchr2(b'"', b'\\', key_and_rest)?;
    (key_and_rest[key_len] == b'"').then(|| &key_and_rest[..key_len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_wrapping() {
        let cases: &[(&[u8], Format)] = &[
            (b"\x1f\x8b\x08\0", Format::Cwl),
            (b"", Format::Lines),
            (b"START RequestId: 1 Version: $LATEST\n", Format::Lines),
            (b"  {\"Records\":[]}", Format::Kinesis),
            (b"{\n  \"Records\": [\n", Format::Kinesis),
            (
                b"\xEF\xBB\xBF{\"awslogs\":{\"data\":\"H4sI\"}}",
                Format::Awslogs,
            ),
            (b"{\"messageType\":\"DATA_MESSAGE\"}", Format::Cwl),
            (b"{\"owner\":\"1\",\"logGroup\":\"g\"}", Format::Cwl),
            (
                b"{\n  \"owner\": \"1\",\n  \"logEvents\": []\n}",
                Format::Cwl,
            ),
            (b"{\"timestamp\":1,\"message\":\"m\"}\n", Format::Events),
            (
                b"{\"message\":\"m\",\"timestamp\":1,\"owner\":\"1\"}",
                Format::Events,
            ),
            (b"{\"level\":\"INFO\",\"msg\":\"x\"}\n", Format::Lines),
            (
                b"{\"message\":\"a \\\"logEvents\\\" b\",\"timestamp\":1}",
                Format::Events,
            ),
            (b"{", Format::Lines),
        ];
        for (input, expected) in cases {
            assert_eq!(
                detect_format(input),
                *expected,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn first_key_reads_plain_keys_only() {
        assert_eq!(first_key(b"{ \"a\":1}"), Some(&b"a"[..]));
        assert_eq!(first_key(b"{\"a\\u0041\":1}"), None);
        assert_eq!(first_key(b"{}"), None);
        assert_eq!(first_key(b"{"), None);
    }
}
