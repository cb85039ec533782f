//! The fast reader of one Kinesis record of the usual shape: a scanner that
//! finds `kinesis.data`, `kinesis.sequenceNumber` and `eventID`, and steps
//! over everything else.
//!
//! Nearly all of a record is its `data`, the base64 of a gzip'd payload, so
//! what reading a record costs is what the reader pays a byte of string.
//! serde_json's scan pays several instructions a byte; this one finds the
//! closing quote with `memchr2`, which tests 32 bytes at a time where the
//! machine has AVX2. It need not look for control characters, as a reader
//! of unchecked JSON must: the text is known to be valid.
//!
//! The record's text has already been read once, as a whole JSON value, by
//! serde_json (the event's `Records` array holds it as a `RawValue`), so it
//! is valid JSON: this scanner never judges syntax, it only finds its way.
//! It takes a record only when
//! - it is an object whose `kinesis` is an object, each of the keys it names
//!   at most once, and no key written with an escape;
//! - `kinesis.data` is a string without escapes (borrowed, not copied);
//! - `kinesis.sequenceNumber` and `eventID` are each absent, `null` or a
//!   string without escapes.
//!
//! Those records the field-by-field read of `kinesis.rs` takes too, with the
//! same `data` and identifiers. Any other record, rare in practice, is
//! declined (`None`), never judged: the field-by-field read then gives its
//! answer or its error.

use memchr::memchr2;

/// What a usual record holds, borrowed from its text.
pub(super) struct UsualRecord<'a> {
    pub(super) data: &'a str,
    pub(super) sequence_number: Option<&'a str>,
    pub(super) event_id: Option<&'a str>,
}

/// The record, when it has the usual shape; `None` says only "read it field
/// by field", never that it is bad. `record_json` must be one valid JSON
/// value.
pub(super) fn read_usual(record_json: &str) -> Option<UsualRecord<'_>> {
    let mut scanner = Scanner {
        text: record_json,
        at: 0,
    };
    let (mut kinesis, mut event_id) = (None, None);
    scanner.members(|scanner, key| match key {
        "kinesis" => once(&mut kinesis, scanner.kinesis()?),
        "eventID" => once(&mut event_id, scanner.identifier()?),
        _ => scanner.skip_value(),
    })?;
    let (data, sequence_number) = kinesis?;
    Some(UsualRecord {
        data,
        sequence_number,
        event_id: event_id.flatten(),
    })
}

/// Sets a field once; a second value declines the record.
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

/// A position in valid JSON text. Every position it stops at is next to an
/// ASCII byte, hence on a `char` boundary.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
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

    /// Skips whitespace; true (and taken) if the next byte is `byte`.
    fn take(&mut self, byte: u8) -> bool {
        self.skip_whitespace();
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    /// An object's members: calls `member` with each key, which reads the
    /// value. Ends after `}`.
    fn members(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        if !self.take(b'{') {
            return None;
        }
        if self.take(b'}') {
            return Some(());
        }
        loop {
            self.skip_whitespace();
            let key = self.plain_string()?;
            if !self.take(b':') {
                return None;
            }
            self.skip_whitespace();
            member(self, key)?;
            if self.take(b',') {
                continue;
            }
            return self.take(b'}').then_some(());
        }
    }

    /// The `kinesis` object: its `data` and sequence number.
    fn kinesis(&mut self) -> Option<(&'a str, Option<&'a str>)> {
        let (mut data, mut sequence_number) = (None, None);
        self.members(|scanner, key| match key {
            "data" => once(&mut data, scanner.plain_string()?),
            "sequenceNumber" => once(&mut sequence_number, scanner.identifier()?),
            _ => scanner.skip_value(),
        })?;
        Some((data?, sequence_number.flatten()))
    }

    /// `null`, or a string without escapes.
    fn identifier(&mut self) -> Option<Option<&'a str>> {
        if self.text[self.at..].starts_with("null") {
            self.at += 4;
            return Some(None);
        }
        self.plain_string().map(Some)
    }

    /// A string without escapes, at its opening quote, borrowed.
    fn plain_string(&mut self) -> Option<&'a str> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let start = self.at + 1;
        let stop = start + memchr2(b'"', b'\\', self.text.as_bytes().get(start..)?)?;
        if self.text.as_bytes()[stop] != b'"' {
            return None;
        }
        self.at = stop + 1;
        Some(&self.text[start..stop])
    }

    /// Steps over one value, whatever it is, at its first byte: strings
    /// whole (brackets inside them do not count), containers by their
    /// depth, a scalar up to the `,`, `}` or `]` after it.
    fn skip_value(&mut self) -> Option<()> {
        let bytes = self.text.as_bytes();
        let mut depth = 0usize;
        loop {
            match *bytes.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    self.at += string_end(bytes.get(self.at..)?)? + 1;
                    if depth == 0 {
                        return Some(());
                    }
                }
                b'{' | b'[' => {
                    depth += 1;
                    self.at += 1;
                }
                b'}' | b']' => {
                    if depth == 0 {
                        return Some(());
                    }
                    depth -= 1;
                    self.at += 1;
                    if depth == 0 {
                        return Some(());
                    }
                }
                b',' if depth == 0 => return Some(()),
                _ => self.at += 1,
            }
        }
    }
}

/// The offset of the closing quote of a string, in `bytes` that start inside
/// it. The text is valid JSON, so a quote or a backslash is all a string can
/// stop at, and a backslash's next byte is part of its escape.
fn string_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        at += memchr2(b'"', b'\\', bytes.get(at..)?)?;
        if bytes[at] == b'"' {
            return Some(at);
        }
        at += 2;
    }
}
