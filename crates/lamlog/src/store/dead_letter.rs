//! A record that could not be stored as facts, kept as evidence: its bytes
//! up to [`MAX_RAW_BYTES`](lamlog_core::decode::MAX_RAW_BYTES), their full length and their SHA-256.

use lamlog_core::decode::{keep_raw, DecodeError, SourcePosition};

use super::fnv1a_64;

/// A record that could not be decoded (or that the database refused), kept
/// with its raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The input: a file path, `-`, or the Kinesis stream ARN.
    pub source: String,
    /// Where the record sits in it.
    pub position: SourcePosition,
    /// Why it was refused (the decode error, as text).
    pub reason: String,
    /// The record as received: all of it, or its first [`MAX_RAW_BYTES`](lamlog_core::decode::MAX_RAW_BYTES)
    /// when it is longer (then `raw_len` says how long it was).
    pub raw: Vec<u8>,
    /// The record's full length in bytes.
    pub raw_len: u64,
    /// The SHA-256 of the record's full bytes.
    pub raw_sha256: [u8; 32],
    /// When it was received (epoch ms).
    pub received_at_ms: i64,
}

impl DeadLetter {
    /// The dead letter of `raw`, keeping at most [`MAX_RAW_BYTES`](lamlog_core::decode::MAX_RAW_BYTES) of it.
    pub fn new(
        source: &str,
        position: SourcePosition,
        reason: String,
        raw: &[u8],
        received_at_ms: i64,
    ) -> DeadLetter {
        let (raw, raw_len, raw_sha256) = keep_raw(raw);
        DeadLetter {
            source: source.to_owned(),
            position,
            reason,
            raw,
            raw_len,
            raw_sha256,
            received_at_ms,
        }
    }

    /// The dead letter of a record decode refused (which kept its bytes
    /// already).
    pub fn of_decode_error(source: &str, error: DecodeError, received_at_ms: i64) -> DeadLetter {
        DeadLetter {
            source: source.to_owned(),
            reason: error.kind.to_string(),
            position: error.position,
            raw: error.raw,
            raw_len: error.raw_len,
            raw_sha256: error.raw_sha256,
            received_at_ms,
        }
    }

    /// Whether `raw` holds the whole record.
    pub fn raw_is_whole(&self) -> bool {
        self.raw.len() as u64 == self.raw_len
    }

    /// The position as one string: the Kinesis sequence number when there is
    /// one, otherwise `record:<index>` and `@<byte offset>` when known.
    pub fn position_key(&self) -> String {
        match (&self.position.sequence_number, self.position.byte_offset) {
            (Some(sequence_number), _) => sequence_number.clone(),
            (None, Some(offset)) => format!("record:{}@{offset}", self.position.record_index),
            (None, None) => format!("record:{}", self.position.record_index),
        }
    }

    /// `source|position_key|fingerprint` in hex: the same record re-delivered
    /// has the same key; two different records never share one in practice.
    /// The fingerprint is the FNV-1a of the bytes for a whole record (as it
    /// always was), and the start of the SHA-256 for a cut one.
    pub fn dedup_key(&self) -> String {
        let fingerprint = if self.raw_is_whole() {
            fnv1a_64(&self.raw)
        } else {
            let mut first = [0; 8];
            first.copy_from_slice(&self.raw_sha256[..8]);
            u64::from_be_bytes(first)
        };
        format!("{}|{}|{fingerprint:016x}", self.source, self.position_key())
    }
}
