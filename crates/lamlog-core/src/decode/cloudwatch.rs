//! CloudWatch Logs subscription payloads: one JSON document → one [`Record`].
//!
//! A subscription filter delivers each batch of a log stream's events as
//!
//! ```json
//! {"owner":"123456789012","logGroup":"/aws/lambda/f","logStream":"2024/05/20/[$LATEST]0123",
//!  "subscriptionFilters":["f"],"messageType":"DATA_MESSAGE",
//!  "logEvents":[{"id":"3195…","timestamp":1432826855000,"message":"…"}]}
//! ```
//!
//! gzip'd, and inside a Kinesis record, an `awslogs` event or a Firehose
//! object; `payload.rs` turns one such document into a [`Record`].
//!
//! [`decode_cwl`] reads *bare* payloads as Firehose leaves them in S3: one or
//! more gzip members, each inflating to one or more JSON documents written back
//! to back (`}{`, with or without whitespace between). Each member is inflated
//! on its own, within the cap, and dropped once its documents are decoded, so
//! memory holds one member at a time. Each document is one record, numbered
//! across the whole input.
//!
//! A buffer that is one well-formed document, as a CloudWatch gzip member
//! is, is read whole by the fast reader of `payload.rs`. Otherwise documents
//! are read in one typed pass over the buffer while every document is well
//! formed, which is nearly always. The first document that is not
//! sends the rest of the buffer, from that document on, to a careful reader of
//! two steps: a streaming pass that only checks syntax (`IgnoredAny`, which
//! allocates nothing and has no recursion), then a typed parse of each
//! document's bytes. The double read buys isolation: a document of the wrong
//! shape is its own error and the documents after it still decode. Broken
//! syntax cannot be resynchronised, so it ends its member (or the input) with
//! one error that keeps everything left. A document the typed pass accepts is
//! one the careful reader accepts the same way, so both give the same records.

use serde::de::IgnoredAny;

use super::inflate::{is_gzip, next_gzip_header, with_inflated_member};
use super::payload::{parse_payload, read_fast, record_of, Payload};
use super::{json_error_kind, DecodeError, DecodeErrorKind, DecodeLimits, Record, SourcePosition};

/// Decodes bare subscription payloads: gzip members or JSON, each holding one
/// or more back-to-back documents.
///
/// Positions: `record_index` counts documents over the whole input. For JSON
/// input `byte_offset` is where the document starts; for gzip input it is where
/// its gzip member starts (a member's documents share it), since the inflated
/// bytes have no offset in the input. A document's error keeps the document's
/// JSON as `raw` (replayable as `cwl`); a gzip error keeps the input from the
/// broken member to the end, because where that member ends is unknown.
pub(super) fn decode_cwl(input: &[u8], limits: &DecodeLimits) -> Vec<Result<Record, DecodeError>> {
    let mut documents = DocumentDecoder::default();
    if !is_gzip(input) {
        let bom_len = if input.starts_with(UTF8_BOM) {
            UTF8_BOM.len()
        } else {
            0
        };
        documents.decode(&input[bom_len..], Origin::Plain { base: bom_len });
        return documents.records;
    }
    let mut member_offset = 0;
    loop {
        member_offset += leading_whitespace_len(&input[member_offset..]);
        let rest = &input[member_offset..];
        if rest.is_empty() {
            break;
        }
        let origin = Origin::Member {
            offset: member_offset,
        };
        let decoded = if is_gzip(rest) {
            with_inflated_member(rest, limits.max_inflated_bytes, |inflated| {
                documents.decode(inflated, origin)
            })
        } else {
            Err(DecodeErrorKind::Gzip {
                inflated_bytes: 0,
                detail: "bytes after a gzip member are not gzip".to_string(),
            })
        };
        match decoded {
            Ok(((), consumed)) => member_offset += consumed,
            Err(kind) => {
                // Go on at the next gzip header, so that one corrupt member
                // neither hides the good ones after it nor makes a dead
                // letter of the whole rest of the input.
                let broken = next_gzip_header(rest).unwrap_or(rest.len());
                documents.records.push(Err(DecodeError::new(
                    position_at(documents.next_index, member_offset),
                    kind,
                    &rest[..broken],
                )));
                documents.next_index += 1;
                member_offset += broken;
            }
        }
    }
    documents.records
}

/// The UTF-8 byte order mark, which some editors put before JSON.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Where a buffer of documents sits in the input.
#[derive(Clone, Copy)]
enum Origin {
    /// The buffer is the input from `base` on: a document's offset is its own.
    Plain { base: usize },
    /// The buffer is the inflated gzip member that starts at `offset`.
    Member { offset: usize },
}

impl Origin {
    /// The input offset of a document that starts at `start` in the buffer.
    fn offset_of(self, start: usize) -> usize {
        match self {
            Origin::Plain { base } => base + start,
            Origin::Member { offset } => offset,
        }
    }
}

/// Splits buffers into documents and decodes each, numbering them as it goes.
#[derive(Default)]
struct DocumentDecoder {
    next_index: usize,
    records: Vec<Result<Record, DecodeError>>,
}

impl DocumentDecoder {
    /// Decodes the documents of `buffer` in one typed pass, and the rest of
    /// it from the first document that pass cannot read, if any, with
    /// [`DocumentDecoder::decode_carefully`].
    fn decode(&mut self, buffer: &[u8], origin: Origin) {
        if let Some(fields) = read_fast(buffer) {
            let start = leading_whitespace_len(buffer);
            let end = buffer.len() - trailing_whitespace_len(buffer);
            let position = position_at(self.next_index, origin.offset_of(start));
            let record = record_of(fields, position.clone())
                .map_err(|kind| DecodeError::new(position, kind, &buffer[start..end]));
            self.records.push(record);
            self.next_index += 1;
            return;
        }
        let mut stream = serde_json::Deserializer::from_slice(buffer).into_iter::<Payload>();
        let mut end = 0;
        loop {
            let start = end + leading_whitespace_len(&buffer[end..]);
            let payload = match stream.next() {
                None => return,
                Some(Ok(payload)) => payload,
                Some(Err(_)) => {
                    let rest_origin = match origin {
                        Origin::Plain { base } => Origin::Plain { base: base + start },
                        member @ Origin::Member { .. } => member,
                    };
                    return self.decode_carefully(&buffer[start..], rest_origin);
                }
            };
            end = stream.byte_offset();
            let position = position_at(self.next_index, origin.offset_of(start));
            let record = record_of(payload.into_fields(), position.clone())
                .map_err(|kind| DecodeError::new(position, kind, &buffer[start..end]));
            self.records.push(record);
            self.next_index += 1;
        }
    }

    /// Decodes the documents of `buffer` one by one: a syntax pass finds
    /// each, then a typed parse reads it, so that a document of the wrong
    /// shape is its own error and the ones after it still decode.
    fn decode_carefully(&mut self, buffer: &[u8], origin: Origin) {
        let mut stream = serde_json::Deserializer::from_slice(buffer).into_iter::<IgnoredAny>();
        let mut end = 0;
        loop {
            let start = end + leading_whitespace_len(&buffer[end..]);
            let position = position_at(self.next_index, origin.offset_of(start));
            match stream.next() {
                None => break,
                Some(Ok(IgnoredAny)) => {
                    end = stream.byte_offset();
                    let document = &buffer[start..end];
                    let record = parse_payload(document, position.clone())
                        .map_err(|kind| DecodeError::new(position, kind, document));
                    self.records.push(record);
                    self.next_index += 1;
                }
                Some(Err(error)) => {
                    self.records.push(Err(DecodeError::new(
                        position,
                        json_error_kind(&error),
                        &buffer[start..],
                    )));
                    self.next_index += 1;
                    break;
                }
            }
        }
    }
}

fn position_at(record_index: usize, byte_offset: usize) -> SourcePosition {
    SourcePosition {
        record_index,
        byte_offset: Some(byte_offset as u64),
        ..SourcePosition::default()
    }
}

/// Whether `byte` is whitespace JSON allows between documents.
fn is_json_whitespace(byte: &u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// The whitespace before the first document.
fn leading_whitespace_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .take_while(|byte| is_json_whitespace(byte))
        .count()
}

/// The whitespace after the last document.
fn trailing_whitespace_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .rev()
        .take_while(|byte| is_json_whitespace(byte))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::LogEvent;

    const DATA: &str = r#"{"owner":"123456789012","logGroup":"/aws/lambda/f","logStream":"s","subscriptionFilters":["x"],"messageType":"DATA_MESSAGE","logEvents":[{"id":"31953106606966983378809025079804211143289615424298221568","timestamp":1432826855000,"message":"hi\n"}]}"#;
    const CONTROL: &str = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1600110003794,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;

    fn decode(input: &[u8]) -> Vec<Result<Record, DecodeError>> {
        decode_cwl(input, &DecodeLimits::default())
    }

    #[test]
    fn data_message_keeps_every_field() {
        let Ok(Record::Data(envelope)) = parse_payload(DATA.as_bytes(), SourcePosition::default())
        else {
            panic!("not data")
        };
        assert_eq!(envelope.owner.as_deref(), Some("123456789012"));
        assert_eq!(envelope.log_group.as_deref(), Some("/aws/lambda/f"));
        assert_eq!(envelope.log_stream.as_deref(), Some("s"));
        assert_eq!(
            envelope.events,
            vec![LogEvent {
                id: Some("31953106606966983378809025079804211143289615424298221568".into()),
                timestamp_ms: Some(1432826855000),
                message: "hi\n".into(),
            }]
        );
    }

    #[test]
    fn control_message_is_control() {
        let position = position_at(3, 9);
        assert_eq!(
            parse_payload(CONTROL.as_bytes(), position.clone()),
            Ok(Record::Control(position))
        );
    }

    #[test]
    fn wrong_shapes_are_shape_errors() {
        for json in [
            r#"{"messageType":"DATA_MESSAGE"}"#,
            r#"{"messageType":"OTHER","logEvents":[]}"#,
            r#"{"logEvents":[{"id":31953106606966983378809025079804211143289615424298221568,"timestamp":1,"message":"m"}]}"#,
            r#"{"logEvents":[{"id":"1","timestamp":"1","message":"m"}]}"#,
            r#"{"logEvents":[{"id":"1","timestamp":1e300,"message":"m"}]}"#,
            r#"[1,2]"#,
        ] {
            let result = parse_payload(json.as_bytes(), SourcePosition::default());
            assert!(
                matches!(result, Err(DecodeErrorKind::Shape { .. })),
                "{json}: {result:?}"
            );
        }
    }

    #[test]
    fn back_to_back_documents_are_records_with_offsets() {
        let input = format!("{DATA}{CONTROL}\n {DATA}\n");
        let records = decode(input.as_bytes());
        assert_eq!(records.len(), 3);
        let offsets: Vec<_> = records
            .iter()
            .map(|record| match record {
                Ok(Record::Data(envelope)) => envelope.position.byte_offset,
                Ok(Record::Control(position)) => position.byte_offset,
                Err(error) => panic!("{error}"),
            })
            .collect();
        let second = DATA.len() as u64;
        let third = second + CONTROL.len() as u64 + 2;
        assert_eq!(offsets, vec![Some(0), Some(second), Some(third)]);
    }

    #[test]
    fn a_bad_shape_does_not_stop_the_stream_but_bad_syntax_does() {
        let input = format!("{DATA}{{\"logEvents\":3}}{DATA}{{\"owner\":");
        let records = decode(input.as_bytes());
        assert_eq!(records.len(), 4);
        assert!(matches!(
            &records[1],
            Err(DecodeError { kind: DecodeErrorKind::Shape { .. }, raw, .. }) if raw == br#"{"logEvents":3}"#
        ));
        assert!(records[2].is_ok());
        assert!(matches!(
            &records[3],
            Err(DecodeError { kind: DecodeErrorKind::Json { .. }, raw, .. }) if raw == br#"{"owner":"#
        ));
    }

    #[test]
    fn documents_after_a_bad_shape_keep_their_offsets() {
        let bad = r#"{"logEvents":3}"#;
        let input = format!("{DATA} {bad}\n{DATA}{CONTROL}");
        let offsets: Vec<_> = decode(input.as_bytes())
            .iter()
            .map(|record| match record {
                Ok(Record::Data(envelope)) => envelope.position.clone(),
                Ok(Record::Control(position)) => position.clone(),
                Err(error) => error.position.clone(),
            })
            .map(|position| (position.record_index, position.byte_offset))
            .collect();
        let second = DATA.len() + 1;
        let third = second + bad.len() + 1;
        let fourth = third + DATA.len();
        let expected: Vec<_> = [0, second, third, fourth]
            .into_iter()
            .enumerate()
            .map(|(index, offset)| (index, Some(offset as u64)))
            .collect();
        assert_eq!(offsets, expected);
    }

    #[test]
    fn deep_nesting_is_an_error_not_an_overflow() {
        let deep = "[".repeat(200_000);
        let records = decode(deep.as_bytes());
        assert!(matches!(
            &records[..],
            [Err(DecodeError {
                kind: DecodeErrorKind::Json { .. },
                ..
            })]
        ));
        let deep_field = format!("{{\"owner\":{}", "[".repeat(200_000));
        assert!(parse_payload(deep_field.as_bytes(), SourcePosition::default()).is_err());
    }

    #[test]
    fn empty_and_whitespace_input_hold_no_records() {
        assert!(decode(b"").is_empty());
        assert!(decode(b" \n\t").is_empty());
    }
}
