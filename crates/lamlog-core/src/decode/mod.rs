//! Decode: raw input bytes → [`Envelope`]s of CloudWatch Logs events.
//!
//! lamlog is handed bytes in several wrappings: a Lambda Kinesis event whose
//! records hold gzip'd CloudWatch Logs subscription payloads, a direct
//! `{"awslogs":{"data":…}}` subscription event, bare CloudWatch payloads (JSON or
//! gzip, possibly concatenated as Firehose writes them), NDJSON events and plain
//! lines. Each of them decodes to the same [`Envelope`]: who owns the log group,
//! which group and stream, and the events with their timestamps.
//!
//! Decoding is per record: one bad record is a [`DecodeError`] that keeps the
//! record's raw bytes and its position, and the records around it go on.
//! Every decompression goes through [`inflate`], which refuses to inflate past
//! a limit, so a gzip bomb is an error and never an allocation.
//!
//! What a record is, per format, and where each lives:
//!
//! | format | record | position | `raw` of a bad record | file |
//! |---|---|---|---|---|
//! | `kinesis` | one `Records[]` entry | index, sequence number, event id | its `data` text (or its JSON, when `data` is unreadable) | `kinesis.rs` |
//! | `awslogs` | the one payload | index 0 | its `data` text | `kinesis.rs` |
//! | `cwl` | one JSON document, in one gzip member or in plain JSON | document index, offset of the document (JSON) or of its member (gzip) | the document; a broken member up to the next gzip header, where decoding goes on; the input from a JSON syntax error on | `cloudwatch.rs`, `payload.rs` |
//! | `lines`, `events` | a run of good lines of one source; each bad line | index and offset of the (first) line | the line | `lines.rs` |
//!
//! An input that is not even the outer JSON of `kinesis` or `awslogs` is one
//! error at record 0 that keeps the whole input. Whatever the case, `raw`
//! keeps at most [`MAX_RAW_BYTES`], with the record's full length and SHA-256. `auto` is resolved by
//! [`detect_format`] (`detect.rs`) from a bounded prefix; gzip lives in
//! `inflate.rs` and ISO-8601 timestamps in `timestamp.rs`.

use serde::Serialize;

mod cloudwatch;
mod detect;
mod event_id;
mod inflate;
mod kinesis;
mod kinesis_scan;
mod lazy;
mod lines;
mod one_shot;
mod payload;
mod payload_simd;
mod timestamp;

pub use detect::detect_format;
pub use event_id::EventId;
pub use inflate::inflate;
pub use kinesis::decode_kinesis_record;
pub use lazy::{decode_lazily, LazyRecords};
pub use timestamp::parse_iso8601_ms;

/// The input wrappings lamlog reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Detect from the first bytes.
    Auto,
    /// One log message per line.
    Lines,
    /// NDJSON, one `{"timestamp":…,"message":…}` per line.
    Events,
    /// Bare CloudWatch Logs subscription payloads, JSON or gzip.
    Cwl,
    /// A Lambda Kinesis event (`{"Records":[{"kinesis":{"data":…}}]}`).
    Kinesis,
    /// A direct CloudWatch Logs subscription event (`{"awslogs":{"data":…}}`).
    Awslogs,
}

/// Limits that keep hostile input from costing memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// A record that inflates past this is refused as a gzip bomb.
    pub max_inflated_bytes: usize,
    /// A plain line or NDJSON line longer than this is dead-lettered.
    pub max_line_bytes: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_inflated_bytes: 16 * 1024 * 1024,
            max_line_bytes: 1024 * 1024,
        }
    }
}

/// Where a record sits in its input, so that an error or a dead letter can be
/// traced back and a Kinesis retry can start from the right record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SourcePosition {
    /// Index of the record in its input: the Kinesis record, the gzip member,
    /// the JSON document or the line (0-based).
    pub record_index: usize,
    /// The Kinesis sequence number, kept as the decimal string it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    /// The Kinesis `eventID` (`shardId-…:sequence`), when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Byte offset of the record in the input, where the input is a byte stream
    /// (lines, NDJSON, bare payloads). For a document inside a gzip member it
    /// is the member's offset, since inflated bytes have no offset of their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byte_offset: Option<u64>,
}

/// One CloudWatch Logs event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// CloudWatch's event id, a 56-digit decimal string; absent for plain lines.
    pub id: Option<EventId>,
    /// Event time in epoch milliseconds; absent for plain lines.
    pub timestamp_ms: Option<i64>,
    /// The message, exactly (tabs, `\r`, trailing newline and all).
    pub message: String,
}

/// One decoded record: a batch of events from one log group and stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The account id (`owner`), when the wrapping carries it.
    pub owner: Option<String>,
    /// For example `/aws/lambda/my-function`.
    pub log_group: Option<String>,
    /// For example `2024/05/20/[$LATEST]0123…`.
    pub log_stream: Option<String>,
    /// Where the record came from.
    pub position: SourcePosition,
    /// The events, in the order the record holds them.
    pub events: Vec<LogEvent>,
}

/// One record of the input, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A `DATA_MESSAGE` (or lines and NDJSON events, which have no other kind).
    Data(Envelope),
    /// A `CONTROL_MESSAGE` health check: acknowledged and skipped.
    Control(SourcePosition),
}

/// What was wrong with a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    /// The base64 text is not base64.
    #[error("invalid base64: {detail}")]
    Base64 {
        /// What the decoder said, with the offending offset.
        detail: String,
    },
    /// The gzip stream is truncated or corrupt.
    #[error("corrupt or truncated gzip after {inflated_bytes} inflated bytes: {detail}")]
    Gzip {
        /// How far inflation got before it failed.
        inflated_bytes: usize,
        /// What the inflater said.
        detail: String,
    },
    /// The record inflates past the configured cap.
    #[error("gzip bomb: inflates past the {limit_bytes}-byte limit")]
    TooLarge {
        /// The configured cap.
        limit_bytes: usize,
    },
    /// The record is not the JSON it should be.
    #[error("invalid JSON at line {line} column {column}: {detail}")]
    Json {
        /// 1-based line in the (inflated) record.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the JSON parser said.
        detail: String,
    },
    /// A text record is not UTF-8.
    #[error("invalid UTF-8 at byte {valid_up_to}")]
    Utf8 {
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// A line is longer than the configured limit.
    #[error("line of {len_bytes} bytes exceeds the {limit_bytes}-byte limit")]
    LineTooLong {
        /// The line's length.
        len_bytes: usize,
        /// The configured cap.
        limit_bytes: usize,
    },
    /// Valid JSON, but not the shape the format requires.
    #[error("unexpected shape: {detail}")]
    Shape {
        /// What was missing or of the wrong type.
        detail: String,
    },
}

/// A record that could not be decoded. It keeps the raw bytes, so that the
/// dead letter it becomes can be replayed once the cause is fixed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {} ({}): {kind}", position.record_index, position.sequence_number.as_deref().unwrap_or("-"))]
pub struct DecodeError {
    /// Where the record is.
    pub position: SourcePosition,
    /// What was wrong.
    pub kind: DecodeErrorKind,
    /// The record's bytes as they were handed to lamlog (base64 text stays
    /// base64), the first [`MAX_RAW_BYTES`] of them. A bad JSON document that
    /// was inside a gzip member keeps its inflated JSON, which replays as
    /// `cwl` on its own.
    pub raw: Vec<u8>,
    /// The record's full length: more than `raw.len()` when it was cut.
    pub raw_len: u64,
    /// The SHA-256 of the record's full bytes, so that a cut record can still
    /// be matched with its source.
    pub raw_sha256: [u8; 32],
}

/// The most bytes of a bad record a [`DecodeError`] keeps. A corrupt record
/// in the middle of a huge input is kept up to here, with its full length and
/// hash, never as a copy of the whole input.
pub const MAX_RAW_BYTES: usize = 4 * 1024 * 1024;

/// What is kept of a bad record's bytes: the first [`MAX_RAW_BYTES`], the full
/// length and the SHA-256 of all of them.
pub fn keep_raw(raw: &[u8]) -> (Vec<u8>, u64, [u8; 32]) {
    use sha2::Digest;
    (
        raw[..raw.len().min(MAX_RAW_BYTES)].to_vec(),
        raw.len() as u64,
        sha2::Sha256::digest(raw).into(),
    )
}

impl DecodeError {
    /// The error for the record `raw`, keeping at most [`MAX_RAW_BYTES`] of it.
    pub fn new(position: SourcePosition, kind: DecodeErrorKind, raw: &[u8]) -> DecodeError {
        let (raw, raw_len, raw_sha256) = keep_raw(raw);
        DecodeError {
            position,
            kind,
            raw,
            raw_len,
            raw_sha256,
        }
    }

    /// Whether `raw` holds the whole record.
    pub fn raw_is_whole(&self) -> bool {
        self.raw.len() as u64 == self.raw_len
    }
}

/// The records of one input, in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The format that was used (never `Auto`).
    pub format: Format,
    /// One entry per record; a bad record does not stop the others.
    pub records: Vec<Result<Record, DecodeError>>,
}

/// Decodes one input (a file, stdin, or a Lambda event payload).
///
/// `Format::Auto` is resolved with [`detect_format`] first; the answer's
/// `format` says which format was used. Never fails as a whole: whatever
/// cannot be decoded is a [`DecodeError`] among the records, at its position.
pub fn decode(input: &[u8], format: Format, limits: &DecodeLimits) -> Decoded {
    let format = match format {
        Format::Auto => detect_format(input),
        explicit => explicit,
    };
    let records = match format {
        Format::Kinesis => kinesis::decode_kinesis(input, limits),
        Format::Awslogs => kinesis::decode_awslogs(input, limits),
        Format::Cwl => cloudwatch::decode_cwl(input, limits),
        Format::Events => lines::decode_events(input, limits),
        // `detect_format` never answers `Auto`; the arm is only for the match.
        Format::Lines | Format::Auto => lines::decode_lines(input, limits),
    };
    Decoded { format, records }
}

/// Classifies a serde_json error: valid JSON of the wrong shape (a missing
/// field, a wrong type, a number out of range) is [`DecodeErrorKind::Shape`];
/// anything else (syntax, truncation, invalid UTF-8, nesting past serde_json's
/// recursion limit) is [`DecodeErrorKind::Json`].
fn json_error_kind(error: &serde_json::Error) -> DecodeErrorKind {
    if error.is_data() {
        DecodeErrorKind::Shape {
            detail: error.to_string(),
        }
    } else {
        let (line, column) = (error.line(), error.column());
        // serde_json's message ends with the position, which the kind holds.
        let message = error.to_string();
        let suffix = format!(" at line {line} column {column}");
        let detail = message
            .strip_suffix(&suffix)
            .unwrap_or(&message)
            .to_string();
        DecodeErrorKind::Json {
            line,
            column,
            detail,
        }
    }
}
