//! The fastest reader of subscription payload documents: a scanner for the
//! one shape CloudWatch writes, and nothing else.
//!
//! ```json
//! {"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/lambda/f",
//!  "logStream":"…","subscriptionFilters":["f"],
//!  "logEvents":[{"id":"3195…","timestamp":1432826855000,"message":"…"}]}
//! ```
//!
//! A general JSON reader pays for generality on every event: a visitor per
//! value, a key compared as a string, a number parsed as any number. This
//! one walks the bytes once. Strings are found with `memchr2` (the closing
//! quote or the next backslash), and copied in runs between escapes.
//!
//! It takes a document only when every part of it is one it knows: an object
//! with `messageType`, `owner`, `logGroup` and `logStream` (each a string or
//! `null`), `subscriptionFilters` (an array of strings) and `logEvents` (an
//! array of events, or `null`), in any order, each at most once; each event
//! an object with `id` (a string or `null`), `timestamp` (an integer, not
//! negative) and `message` (a string), each once; JSON whitespace between
//! tokens; valid UTF-8; no control character inside a string; escapes that
//! JSON allows, surrogates in pairs. Anything else, of any kind, is declined
//! (`None`), never judged: sonic-rs and then serde_json read the document
//! and give the answer or the error (`payload.rs`). What this scanner takes,
//! serde_json takes the same way, so it changes only how fast a document is
//! read.

use std::borrow::Cow;

use super::json_scan::{first_stop, string_end};
use super::payload_simd::PayloadFields;
use super::{EventId, LogEvent};

/// The payload, when `json` is one document of the shape CloudWatch writes;
/// `None` says only "read it with a general reader".
pub(super) fn read_canonical(json: &[u8]) -> Option<PayloadFields> {
    let text = std::str::from_utf8(json).ok()?;
    let mut scanner = Scanner { text, at: 0 };
    let fields = scanner.payload()?;
    scanner.skip_whitespace();
    (scanner.at == text.len()).then_some(fields)
}

/// A position in a document known to be UTF-8. Every position it stops at
/// is next to an ASCII byte, hence on a `char` boundary.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

/// Sets a field once; a second value declines the document.
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Skips whitespace, then takes `byte`.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_whitespace();
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Skips whitespace; true (and taken) if the next byte is `byte`.
    fn take(&mut self, byte: u8) -> bool {
        self.skip_whitespace();
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    /// Takes `literal` (after whitespace) if it comes next.
    fn take_literal(&mut self, literal: &str) -> bool {
        self.skip_whitespace();
        let found = self.text[self.at..].starts_with(literal);
        if found {
            self.at += literal.len();
        }
        found
    }

    /// The members of an object, after its `{`: calls `member` with each key
    /// (a string without escapes), which reads the value. Ends after `}`.
    fn members(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        if self.take(b'}') {
            return Some(());
        }
        loop {
            self.skip_whitespace();
            let Cow::Borrowed(key) = self.string()? else {
                return None;
            };
            self.expect(b':')?;
            member(self, key)?;
            if self.take(b',') {
                continue;
            }
            return self.expect(b'}');
        }
    }

    /// The elements of an array, after its `[`: calls `element` for each,
    /// which reads it. Ends after `]`.
    fn elements(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if self.take(b']') {
            return Some(());
        }
        loop {
            element(self)?;
            if self.take(b',') {
                continue;
            }
            return self.expect(b']');
        }
    }

    fn payload(&mut self) -> Option<PayloadFields> {
        self.expect(b'{')?;
        let (mut owner, mut log_group, mut log_stream, mut message_type) = (None, None, None, None);
        let (mut filters, mut log_events) = (None, None);
        self.members(|scanner, key| match key {
            "owner" => once(&mut owner, scanner.optional_string()?),
            "logGroup" => once(&mut log_group, scanner.optional_string()?),
            "logStream" => once(&mut log_stream, scanner.optional_string()?),
            "messageType" => once(&mut message_type, scanner.optional_string()?),
            "subscriptionFilters" => once(&mut filters, scanner.filters()?),
            "logEvents" => once(&mut log_events, scanner.events()?),
            _ => None,
        })?;
        Some(PayloadFields {
            owner: owner.flatten(),
            log_group: log_group.flatten(),
            log_stream: log_stream.flatten(),
            message_type: message_type.flatten(),
            log_events: log_events.flatten(),
        })
    }

    /// `subscriptionFilters`: an array of strings, read and dropped.
    fn filters(&mut self) -> Option<()> {
        self.expect(b'[')?;
        self.elements(|scanner| {
            scanner.skip_whitespace();
            scanner.string().map(drop)
        })
    }

    /// `logEvents`: an array of events, or `null`.
    fn events(&mut self) -> Option<Option<Vec<LogEvent>>> {
        if self.take_literal("null") {
            return Some(None);
        }
        self.expect(b'[')?;
        let mut events = Vec::new();
        self.elements(|scanner| {
            events.push(scanner.event()?);
            Some(())
        })?;
        Some(Some(events))
    }

    fn event(&mut self) -> Option<LogEvent> {
        self.expect(b'{')?;
        let (mut id, mut timestamp, mut message) = (None, None, None);
        self.members(|scanner, key| match key {
            "id" => once(&mut id, scanner.optional_id()?),
            "timestamp" => once(&mut timestamp, scanner.timestamp()?),
            "message" => {
                scanner.skip_whitespace();
                once(&mut message, scanner.string()?.into_owned())
            }
            _ => None,
        })?;
        Some(LogEvent {
            id: id.flatten(),
            timestamp_ms: Some(timestamp?),
            message: message?,
        })
    }

    fn optional_string(&mut self) -> Option<Option<String>> {
        if self.take_literal("null") {
            return Some(None);
        }
        Some(Some(self.string()?.into_owned()))
    }

    fn optional_id(&mut self) -> Option<Option<EventId>> {
        if self.take_literal("null") {
            return Some(None);
        }
        Some(Some(match self.string()? {
            Cow::Borrowed(text) => EventId::from(text),
            Cow::Owned(text) => EventId::from(text),
        }))
    }

    /// An integer from 0 to `i64::MAX`, as JSON writes it: no sign, no
    /// leading zero, no fraction, no exponent.
    fn timestamp(&mut self) -> Option<i64> {
        self.skip_whitespace();
        let digits = self.text.as_bytes()[self.at..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        let number = &self.text[self.at..self.at + digits];
        if digits == 0 || (digits > 1 && number.starts_with('0')) {
            return None;
        }
        self.at += digits;
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        number.parse().ok()
    }

    /// A string, at its opening quote (after whitespace was skipped):
    /// borrowed when it holds no escape.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let bytes = self.text.as_bytes();
        if bytes.get(self.at) != Some(&b'"') {
            return None;
        }
        let start = self.at + 1;
        let stop = start + first_stop(&bytes[start..])?;
        match bytes[stop] {
            b'"' => {
                self.at = stop + 1;
                Some(Cow::Borrowed(&self.text[start..stop]))
            }
            b'\\' => {
                // Unescaped, a string is never longer than written, so the
                // end of the written string sizes the text exactly once.
                let end = stop + string_end(&bytes[stop..])?;
                let mut text = String::with_capacity(end - start);
                let mut run_start = start;
                loop {
                    let stop = run_start + first_stop(&bytes[run_start..])?;
                    text.push_str(&self.text[run_start..stop]);
                    if stop == end {
                        self.at = end + 1;
                        return Some(Cow::Owned(text));
                    }
                    run_start = unescape(bytes, stop, &mut text)?;
                }
            }
            _ => None,
        }
    }
}

/// Appends the escape at `bytes[at]` (a backslash) to `text`; answers the
/// position after it, or `None` for an escape JSON does not allow and for a
/// surrogate that is not half of a pair.
fn unescape(bytes: &[u8], at: usize, text: &mut String) -> Option<usize> {
    let simple = match *bytes.get(at + 1)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let unit = hex4(bytes.get(at + 2..at + 6)?)?;
            let (code, after) = match unit {
                0xD800..=0xDBFF => {
                    if bytes.get(at + 6..at + 8)? != b"\\u" {
                        return None;
                    }
                    let low = hex4(bytes.get(at + 8..at + 12)?)?;
                    if !(0xDC00..=0xDFFF).contains(&low) {
                        return None;
                    }
                    (0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00), at + 12)
                }
                0xDC00..=0xDFFF => return None,
                _ => (unit, at + 6),
            };
            text.push(char::from_u32(code)?);
            return Some(after);
        }
        _ => return None,
    };
    text.push(simple);
    Some(at + 2)
}

/// Four hex digits, either case.
fn hex4(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |value, &digit| {
        Some(value * 16 + char::from(digit).to_digit(16)?)
    })
}

#[cfg(test)]
mod tests;
