//! Line-oriented input: plain log lines and NDJSON events.
//!
//! Locally, logs are often a file with one message per line (`lines`), or one
//! JSON event per line (`events`):
//!
//! ```json
//! {"timestamp":1716199872345,"message":"START RequestId: …","logGroup":"/aws/lambda/f"}
//! {"timestamp":"2024-05-20T10:11:12.345Z","message":"…"}
//! ```
//!
//! Both decode to the same [`Envelope`]s as CloudWatch payloads do.
//!
//! **Batching.** Downstream stages work per envelope, so one envelope per line
//! would cost a record's overhead per line. Instead each maximal run of
//! consecutive valid lines that share owner, log group and log stream becomes
//! one envelope (for plain lines, which have none, that is every run of valid
//! lines). The envelope's position is its first line: `record_index` is that
//! line's 0-based index in the input and `byte_offset` its offset. Each invalid
//! line is its own [`DecodeError`] at its own line index and offset, with the
//! line's bytes as `raw`, and it ends the run before it, so envelopes and
//! errors come out in input order. Blank lines (empty, or only ASCII
//! whitespace such as a lone `\r`) carry nothing to parse: they are skipped and
//! do not end a run.
//!
//! **What a line is.** Lines end at `\n`; the `\n` is not part of the message
//! and everything else is kept exactly, including a `\r` before it (the parse
//! stage tolerates it). A UTF-8 byte order mark at the start of the input is
//! dropped. A line longer than [`DecodeLimits::max_line_bytes`] is refused
//! before it is looked at, then invalid UTF-8 (plain lines), or JSON that is
//! not an event (NDJSON).

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::timestamp::parse_iso8601_ms;
use super::{
    json_error_kind, DecodeError, DecodeErrorKind, DecodeLimits, Envelope, EventId, LogEvent,
    Record, SourcePosition,
};

/// Decodes plain lines: every valid line is one event without id or time.
pub(super) fn decode_lines(
    input: &[u8],
    limits: &DecodeLimits,
) -> Vec<Result<Record, DecodeError>> {
    decode_each_line(input, limits, |line| {
        let message = std::str::from_utf8(line).map_err(|error| DecodeErrorKind::Utf8 {
            valid_up_to: error.valid_up_to(),
        })?;
        Ok(Stamped {
            source: EnvelopeSource::default(),
            event: LogEvent {
                id: None,
                timestamp_ms: None,
                message: message.to_string(),
            },
        })
    })
}

/// Decodes NDJSON events: `timestamp` (epoch ms or ISO-8601 text) and
/// `message`, with optional `id`, `owner`, `logGroup` and `logStream`.
pub(super) fn decode_events(
    input: &[u8],
    limits: &DecodeLimits,
) -> Vec<Result<Record, DecodeError>> {
    decode_each_line(input, limits, |line| {
        let event: EventLine =
            serde_json::from_slice(line).map_err(|error| json_error_kind(&error))?;
        Ok(Stamped {
            source: EnvelopeSource {
                owner: event.owner,
                log_group: event.log_group,
                log_stream: event.log_stream,
            },
            event: LogEvent {
                id: event.id,
                timestamp_ms: event.timestamp_ms,
                message: event.message,
            },
        })
    })
}

/// One NDJSON line. Unknown fields are skipped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventLine {
    #[serde(rename = "timestamp", default, deserialize_with = "timestamp_ms")]
    timestamp_ms: Option<i64>,
    message: String,
    id: Option<EventId>,
    owner: Option<String>,
    log_group: Option<String>,
    log_stream: Option<String>,
}

/// What decides which envelope an event goes into.
#[derive(Default, PartialEq, Eq)]
struct EnvelopeSource {
    owner: Option<String>,
    log_group: Option<String>,
    log_stream: Option<String>,
}

/// One decoded line: its event and where it belongs.
struct Stamped {
    source: EnvelopeSource,
    event: LogEvent,
}

/// Splits `input` into lines, decodes each with `decode_line`, and batches the
/// results as the module comment says.
fn decode_each_line(
    input: &[u8],
    limits: &DecodeLimits,
    decode_line: impl Fn(&[u8]) -> Result<Stamped, DecodeErrorKind>,
) -> Vec<Result<Record, DecodeError>> {
    let mut batcher = Batcher::default();
    for line in Lines::new(input) {
        if line.bytes.trim_ascii().is_empty() {
            continue;
        }
        let position = SourcePosition {
            record_index: line.index,
            byte_offset: Some(line.offset as u64),
            ..SourcePosition::default()
        };
        let decoded = if line.bytes.len() > limits.max_line_bytes {
            Err(DecodeErrorKind::LineTooLong {
                len_bytes: line.bytes.len(),
                limit_bytes: limits.max_line_bytes,
            })
        } else {
            decode_line(line.bytes)
        };
        match decoded {
            Ok(stamped) => batcher.push_event(stamped, position),
            Err(kind) => batcher.push_error(DecodeError::new(position, kind, line.bytes)),
        }
    }
    batcher.finish()
}

/// Gathers consecutive events of one source into one envelope.
#[derive(Default)]
struct Batcher {
    open: Option<(EnvelopeSource, Envelope)>,
    records: Vec<Result<Record, DecodeError>>,
}

impl Batcher {
    fn push_event(&mut self, stamped: Stamped, position: SourcePosition) {
        if let Some((source, envelope)) = &mut self.open {
            if *source == stamped.source {
                envelope.events.push(stamped.event);
                return;
            }
        }
        self.close();
        let envelope = Envelope {
            owner: stamped.source.owner.clone(),
            log_group: stamped.source.log_group.clone(),
            log_stream: stamped.source.log_stream.clone(),
            position,
            events: vec![stamped.event],
        };
        self.open = Some((stamped.source, envelope));
    }

    fn push_error(&mut self, error: DecodeError) {
        self.close();
        self.records.push(Err(error));
    }

    fn close(&mut self) {
        if let Some((_, envelope)) = self.open.take() {
            self.records.push(Ok(Record::Data(envelope)));
        }
    }

    fn finish(mut self) -> Vec<Result<Record, DecodeError>> {
        self.close();
        self.records
    }
}

/// One line of the input, without its `\n`.
struct Line<'a> {
    /// 0-based line number.
    index: usize,
    /// Byte offset of the line's first byte in the input.
    offset: usize,
    bytes: &'a [u8],
}

/// Iterates the lines of an input with `memchr`.
struct Lines<'a> {
    input: &'a [u8],
    offset: usize,
    index: usize,
}

impl<'a> Lines<'a> {
    fn new(input: &'a [u8]) -> Self {
        let offset = if input.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        Lines {
            input,
            offset,
            index: 0,
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        let rest = self
            .input
            .get(self.offset..)
            .filter(|rest| !rest.is_empty())?;
        let (bytes, consumed) = match memchr::memchr(b'\n', rest) {
            Some(newline) => (&rest[..newline], newline + 1),
            None => (rest, rest.len()),
        };
        let line = Line {
            index: self.index,
            offset: self.offset,
            bytes,
        };
        self.offset += consumed;
        self.index += 1;
        Some(line)
    }
}

/// Reads `timestamp` as epoch milliseconds (an integer) or ISO-8601 text.
fn timestamp_ms<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    deserializer.deserialize_any(TimestampVisitor)
}

struct TimestampVisitor;

impl Visitor<'_> for TimestampVisitor {
    type Value = Option<i64>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("epoch milliseconds or an ISO-8601 timestamp")
    }

    fn visit_i64<E: de::Error>(self, millis: i64) -> Result<Self::Value, E> {
        Ok(Some(millis))
    }

    fn visit_u64<E: de::Error>(self, millis: u64) -> Result<Self::Value, E> {
        i64::try_from(millis)
            .map(Some)
            .map_err(|_| E::custom("timestamp out of range"))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        parse_iso8601_ms(text)
            .map(Some)
            .ok_or_else(|| E::custom("timestamp is not ISO-8601 (YYYY-MM-DDTHH:MM:SS.fffZ)"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(input: &[u8]) -> Vec<(usize, usize, &[u8])> {
        Lines::new(input)
            .map(|line| (line.index, line.offset, line.bytes))
            .collect()
    }

    #[test]
    fn splits_on_newline_only() {
        assert_eq!(
            lines_of(b"a\r\n\nb\tc\nlast"),
            vec![
                (0, 0, &b"a\r"[..]),
                (1, 3, &b""[..]),
                (2, 4, &b"b\tc"[..]),
                (3, 8, &b"last"[..])
            ]
        );
        assert!(lines_of(b"").is_empty());
        assert_eq!(lines_of(b"x\n"), vec![(0, 0, &b"x"[..])]);
        assert_eq!(lines_of(b"\xEF\xBB\xBFx"), vec![(0, 3, &b"x"[..])]);
    }

    #[test]
    fn timestamps_of_both_kinds() {
        let line: EventLine =
            serde_json::from_str(r#"{"timestamp":"1970-01-01T00:00:01Z","message":"m"}"#).unwrap();
        assert_eq!(line.timestamp_ms, Some(1000));
        let line: EventLine = serde_json::from_str(r#"{"timestamp":-5,"message":"m"}"#).unwrap();
        assert_eq!(line.timestamp_ms, Some(-5));
        let line: EventLine = serde_json::from_str(r#"{"message":"m"}"#).unwrap();
        assert_eq!(line.timestamp_ms, None);
        for bad in [
            r#"{"timestamp":1.5,"message":"m"}"#,
            r#"{"timestamp":18446744073709551615,"message":"m"}"#,
            r#"{"timestamp":"yesterday","message":"m"}"#,
            r#"{"timestamp":[],"message":"m"}"#,
        ] {
            assert!(serde_json::from_str::<EventLine>(bad).is_err(), "{bad}");
        }
    }
}
