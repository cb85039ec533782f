//! Lambda events that carry subscription payloads as base64: the Kinesis event
//! and the direct `awslogs` event.
//!
//! ```json
//! {"Records":[{"kinesis":{"data":"H4sI…","sequenceNumber":"4956…","partitionKey":"p",
//!    "approximateArrivalTimestamp":1480641523.477},
//!   "eventID":"shardId-000000000000:4956…","eventSource":"aws:kinesis"}]}
//! {"awslogs":{"data":"H4sI…"}}
//! ```
//!
//! Each `data` is base64 of gzip of one CloudWatch subscription payload (see
//! [`super::cloudwatch`]); some producers skip the gzip, so bytes without the
//! gzip magic are read as the payload JSON itself.
//!
//! A Kinesis batch holds up to 10,000 records, and one bad record must not cost
//! the other 9,999. So the event is read in two levels: the outer parse only
//! borrows each record's JSON text (`RawValue`, no copy), then each record is
//! read on its own, field by field, so that a record with a missing, mistyped
//! or undecodable `data` is that record's [`DecodeError`] — with its sequence
//! number and event id whenever those are readable — and the others go on.
//! Only an event that is not JSON at all, or has no `Records` array, is one
//! error for the whole input. A record of the usual shape is first read by
//! a scanner (`kinesis_scan.rs`), which finds its fields in one pass; one it
//! declines is read field by field, which is the reference.
//!
//! Memory: one record's compressed and inflated bytes are alive at a time,
//! while its JSON is parsed. The inflated bytes of a usual record (one
//! member, up to 4 MB inflated) go into a buffer the thread keeps for the
//! next record (see `one_shot.rs`), so that buffer outlives the record.

use std::borrow::Cow;

use base64::Engine;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::inflate::{is_gzip, with_inflated};
use super::kinesis_scan::read_usual;
use super::payload::parse_payload;
use super::{json_error_kind, DecodeError, DecodeErrorKind, DecodeLimits, Record, SourcePosition};

/// The outer Kinesis event: records kept as borrowed JSON text.
#[derive(Deserialize)]
struct KinesisEvent<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

/// One Kinesis record; every field stays raw until it is needed, so that a
/// mistyped field costs only itself.
#[derive(Deserialize)]
struct KinesisRecord<'a> {
    #[serde(borrow, default)]
    kinesis: Option<&'a RawValue>,
    #[serde(rename = "eventID", borrow, default)]
    event_id: Option<&'a RawValue>,
}

/// The `kinesis` object of a record.
#[derive(Deserialize)]
struct KinesisData<'a> {
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(rename = "sequenceNumber", borrow, default)]
    sequence_number: Option<&'a RawValue>,
}

/// The direct subscription event.
#[derive(Deserialize)]
struct AwslogsEvent<'a> {
    #[serde(borrow)]
    awslogs: AwslogsData<'a>,
}

#[derive(Deserialize)]
struct AwslogsData<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
}

/// Decodes a Lambda Kinesis event, one result per record, in record order.
// `Result<Record, DecodeError>` is the public record type; its `Ok` side is as
// large as its `Err` side, so boxing the error would only add an allocation.
#[allow(clippy::result_large_err)]
pub(super) fn decode_kinesis(
    input: &[u8],
    limits: &DecodeLimits,
) -> Vec<Result<Record, DecodeError>> {
    match kinesis_records(input) {
        Ok(records) => records
            .iter()
            .enumerate()
            .map(|(record_index, record)| decode_kinesis_record(record_index, record, limits))
            .collect(),
        Err(error) => vec![Err(error)],
    }
}

/// The records of a Kinesis event as borrowed JSON text, not yet decoded;
/// or the one error of an input that is not a Kinesis event at all.
#[allow(clippy::result_large_err)] // see `decode_kinesis`
pub(super) fn kinesis_records(input: &[u8]) -> Result<Vec<&RawValue>, DecodeError> {
    serde_json::from_slice::<KinesisEvent>(input)
        .map(|event| event.records)
        .map_err(|error| whole_input_error(input, &error))
}

/// Decodes one record of a Kinesis event, given its JSON text and its index
/// in the event: base64, the capped gunzip and the payload JSON. The only
/// memory it keeps is its answer and the thread's inflate buffer (at most
/// 4 MB); the decoded bytes, and inflated bytes past that buffer's bound, are
/// dropped before it returns, so a caller that folds each answer in and
/// drops it holds one record's bytes at a time.
#[allow(clippy::result_large_err)] // see `decode_kinesis`
pub fn decode_kinesis_record(
    record_index: usize,
    record_json: &RawValue,
    limits: &DecodeLimits,
) -> Result<Record, DecodeError> {
    // The record's text is scanned once here, by `memchr2`; field by
    // field, `data` would be scanned three more times (as part of
    // `kinesis`, as a raw value, as a string) by serde_json.
    if let Some(record) = read_usual(record_json.get()) {
        let position = || SourcePosition {
            record_index,
            event_id: record.event_id.map(str::to_owned),
            sequence_number: record.sequence_number.map(str::to_owned),
            ..SourcePosition::default()
        };
        return decode_data(record.data, position, limits);
    }
    decode_record_field_by_field(record_index, record_json, limits)
}

/// [`decode_kinesis_record`] for a record of any shape: each field is read on
/// its own, so a missing or mistyped one is named in the record's error, with
/// the sequence number and event id whenever those are readable.
#[allow(clippy::result_large_err)] // see `decode_kinesis`
fn decode_record_field_by_field(
    record_index: usize,
    record_json: &RawValue,
    limits: &DecodeLimits,
) -> Result<Record, DecodeError> {
    let mut position = SourcePosition {
        record_index,
        ..SourcePosition::default()
    };
    let shape_error = |position: SourcePosition, detail: String| {
        DecodeError::new(
            position,
            DecodeErrorKind::Shape { detail },
            record_json.get().as_bytes(),
        )
    };
    let record: KinesisRecord = match serde_json::from_str(record_json.get()) {
        Ok(record) => record,
        Err(error) => return Err(shape_error(position, format!("kinesis record: {error}"))),
    };
    position.event_id = record.event_id.and_then(identifier_text);
    let kinesis: KinesisData = match record.kinesis.map(|raw| serde_json::from_str(raw.get())) {
        Some(Ok(kinesis)) => kinesis,
        Some(Err(error)) => return Err(shape_error(position, format!("`kinesis`: {error}"))),
        None => return Err(shape_error(position, "missing field `kinesis`".to_string())),
    };
    position.sequence_number = kinesis.sequence_number.and_then(identifier_text);
    let Some(data) = kinesis.data.and_then(string_text) else {
        let detail = "`kinesis.data` is missing or not a string".to_string();
        return Err(shape_error(position, detail));
    };
    decode_data(&data, || position.clone(), limits)
}

/// Decodes a direct `{"awslogs":{"data":…}}` subscription event: one record.
pub(super) fn decode_awslogs(
    input: &[u8],
    limits: &DecodeLimits,
) -> Vec<Result<Record, DecodeError>> {
    let event: AwslogsEvent = match serde_json::from_slice(input) {
        Ok(event) => event,
        Err(error) => return vec![Err(whole_input_error(input, &error))],
    };
    vec![decode_data(
        &event.awslogs.data,
        SourcePosition::default,
        limits,
    )]
}

/// A record's `data` decoded ([`decode_base64_payload`]), or its error with
/// `data` as the raw bytes. `position` is made once, and again only for an
/// error, so a record that decodes does not copy its identifiers.
#[allow(clippy::result_large_err)] // see `decode_kinesis`
fn decode_data(
    data: &str,
    position: impl Fn() -> SourcePosition,
    limits: &DecodeLimits,
) -> Result<Record, DecodeError> {
    decode_base64_payload(data, position(), limits)
        .map_err(|kind| DecodeError::new(position(), kind, data.as_bytes()))
}

/// base64 → (gunzip, capped, when the gzip magic is there) → payload JSON.
fn decode_base64_payload(
    data: &str,
    position: SourcePosition,
    limits: &DecodeLimits,
) -> Result<Record, DecodeErrorKind> {
    let decoded = decode_base64(data)?;
    if is_gzip(&decoded) {
        with_inflated(&decoded, limits.max_inflated_bytes, |json| {
            parse_payload(json, position)
        })?
    } else {
        parse_payload(&decoded, position)
    }
}

/// Standard, padded base64 → bytes. The SIMD decoder reads what it can,
/// several times faster than the scalar one; what it refuses is read again by
/// the `base64` crate, the reference, whose error (with its offset) is the
/// one reported.
fn decode_base64(data: &str) -> Result<Vec<u8>, DecodeErrorKind> {
    if let Ok(decoded) = base64_simd::STANDARD.decode_to_vec(data) {
        return Ok(decoded);
    }
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|error| DecodeErrorKind::Base64 {
            detail: error.to_string(),
        })
}

/// The error for an event that is not the expected JSON at all: record 0,
/// with the whole input as `raw`.
fn whole_input_error(input: &[u8], error: &serde_json::Error) -> DecodeError {
    DecodeError::new(SourcePosition::default(), json_error_kind(error), input)
}

/// A JSON string's text, borrowed unless it held escapes.
fn string_text(raw: &RawValue) -> Option<Cow<'_, str>> {
    if let Ok(text) = serde_json::from_str::<&str>(raw.get()) {
        return Some(Cow::Borrowed(text));
    }
    serde_json::from_str::<String>(raw.get())
        .ok()
        .map(Cow::Owned)
}

/// A sequence number or event id: a string as is, or a number's digits as
/// written (never through an integer type, which could not hold 56 digits).
fn identifier_text(raw: &RawValue) -> Option<String> {
    if let Some(text) = string_text(raw) {
        return Some(text.into_owned());
    }
    let text = raw.get();
    let is_integer = !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    is_integer.then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_string()).unwrap()
    }

    #[test]
    fn identifiers_stay_exact() {
        let digits = "49568167373333333333333333333333333333333333333333333333";
        assert_eq!(
            identifier_text(&raw(&format!("\"{digits}\""))).as_deref(),
            Some(digits)
        );
        assert_eq!(identifier_text(&raw(digits)).as_deref(), Some(digits));
        assert_eq!(identifier_text(&raw("1.5")), None);
        assert_eq!(identifier_text(&raw("{}")), None);
    }

    #[test]
    fn escaped_strings_are_unescaped() {
        assert_eq!(
            string_text(&raw(r#""a\/b""#)),
            Some(Cow::Owned("a/b".to_string()))
        );
        assert!(matches!(
            string_text(&raw(r#""ab""#)),
            Some(Cow::Borrowed("ab"))
        ));
    }

    #[test]
    fn mistyped_fields_cost_only_their_record() {
        let input = br#"{"Records":[
            7,
            {"eventID":"e1"},
            {"eventID":"e2","kinesis":[]},
            {"eventID":"e3","kinesis":{"sequenceNumber":"3","data":5}},
            {"eventID":"e4","kinesis":{"sequenceNumber":"4","data":"!!"}}
        ]}"#;
        let records = decode_kinesis(input, &DecodeLimits::default());
        assert_eq!(records.len(), 5);
        let errors: Vec<_> = records.into_iter().map(|r| r.unwrap_err()).collect();
        assert_eq!(errors[0].raw, b"7");
        assert_eq!(errors[1].position.event_id.as_deref(), Some("e1"));
        assert_eq!(errors[3].position.sequence_number.as_deref(), Some("3"));
        assert!(matches!(errors[3].kind, DecodeErrorKind::Shape { .. }));
        assert!(matches!(errors[4].kind, DecodeErrorKind::Base64 { .. }));
        assert_eq!(errors[4].raw, b"!!");
        assert_eq!(errors[4].position.record_index, 4);
        assert_eq!(errors[4].position.event_id.as_deref(), Some("e4"));
        assert_eq!(errors[4].position.sequence_number.as_deref(), Some("4"));
    }

    proptest::proptest! {
        #[test]
        fn simd_base64_reads_what_the_reference_reads(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            damage_at in 0usize..300,
            damage in proptest::sample::select(vec![
                "", "=", "==", "A", "AA", "AAA", "/", "+", "-", "_", " ", "\n", "!", "\u{e9}", "Q=", "QQ==",
            ]),
            cut in 0usize..3,
        ) {
            let mut text = base64::engine::general_purpose::STANDARD.encode(&bytes);
            let at = damage_at % (text.len() + 1);
            let end = (at + cut).min(text.len());
            text.replace_range(at..end, damage);
            let reference = base64::engine::general_purpose::STANDARD
                .decode(&text)
                .map_err(|error| DecodeErrorKind::Base64 { detail: error.to_string() });
            proptest::prop_assert_eq!(decode_base64(&text), reference);
        }
    }

    #[test]
    fn simd_base64_declines_what_the_reference_refuses() {
        // Non-zero bits after the last byte, missing padding, padding inside.
        for text in ["QR==", "QUF", "QUE=QUE=", "QUJD\n", "Q===", "===="] {
            let reference = base64::engine::general_purpose::STANDARD.decode(text);
            assert!(reference.is_err(), "{text}");
            assert!(
                matches!(decode_base64(text), Err(DecodeErrorKind::Base64 { .. })),
                "{text}"
            );
        }
    }

    /// A record's `data`, as one of the shapes producers send or break.
    fn data_value(which: usize) -> String {
        let payload = br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/aws/lambda/f","logStream":"s","subscriptionFilters":[],"logEvents":[{"id":"1","timestamp":1,"message":"START RequestId: r Version: $LATEST"}]}"#;
        let engine = base64::engine::general_purpose::STANDARD;
        let gzipped = engine.encode(super::super::inflate::tests::gzip(payload));
        match which {
            0 => format!("\"{gzipped}\""),
            1 => format!("\"{}\"", engine.encode(payload)),
            // Its first character (the `H` of `H4sI`) written as an escape:
            // the same text, but not borrowable.
            2 => format!("\"\\u0048{}\"", &gzipped[1..]),
            3 => "\"!!\"".to_string(),
            4 => "\"\"".to_string(),
            5 => "5".to_string(),
            6 => "null".to_string(),
            _ => format!("\"{}\"", &gzipped[..gzipped.len() / 2]),
        }
    }

    proptest::proptest! {
        // The shapes combine into some 90,000 records; a few thousand cases
        // meet each pair of them, and take a fraction of a second.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// The one-pass read of a usual record is only a shortcut: on every
        /// shape, usual or not, the answer is the field-by-field one.
        #[test]
        fn one_pass_and_field_by_field_agree(
            data in 0usize..9,
            sequence in proptest::sample::select(vec![
                None, Some("\"49\""), Some("49568167373333333333333333333333333333333333333333333333"),
                Some("null"), Some("1.5"), Some("{}"), Some("\"4\\u0039\""),
            ]),
            event_id in proptest::sample::select(vec![
                None, Some("\"shardId-0:49\""), Some("7"), Some("null"), Some("[]"),
            ]),
            kinesis_shape in 0usize..4,
            extra in proptest::sample::select(vec![
                "", r#","partitionKey":"p""#, r#","data":"QQ==""#,
                r#","approximateArrivalTimestamp":1.5e9"#, r#", "x" : [ "]", {"data":"}"} ] "#,
                r#","sequenceNumber":"dup""#,
            ]),
            data_first in proptest::bool::ANY,
            record_extra in proptest::sample::select(vec![
                "",
                r#""eventSource":"aws:kinesis""#,
                r#""deep":[[{"a":[1,-2.5e3,true,null,"\u00e9\ud83d\ude00 ] } \" {"]}],{}]"#,
                r#""eventID":"dup""#,
                r#""kinesis":{}"#,
                r#""event\u0049D":"escaped-key""#,
                r#""n" : 1e999 "#,
                r#""t":true,"f":false,"z":null"#,
            ]),
            escaped_kinesis_key in proptest::bool::ANY,
            record_extra_first in proptest::bool::ANY,
        ) {
            let mut fields = vec![format!("\"data\":{}", data_value(data))];
            if let Some(sequence) = sequence {
                fields.push(format!("\"sequenceNumber\":{sequence}"));
            }
            if !data_first {
                fields.reverse();
            }
            let kinesis = match kinesis_shape {
                0 => format!("{{{}{extra}}}", fields.join(",")),
                1 => "null".to_string(),
                2 => "[]".to_string(),
                _ => String::new(),
            };
            let mut record = Vec::new();
            if !kinesis.is_empty() {
                let key = if escaped_kinesis_key { "kinesi\\u0073" } else { "kinesis" };
                record.push(format!("\"{key}\" : {kinesis}"));
            }
            if let Some(event_id) = event_id {
                record.push(format!("\"eventID\":{event_id}"));
            }
            if !record_extra.is_empty() {
                record.push(record_extra.to_string());
            }
            if record_extra_first {
                record.reverse();
            }
            let json = raw(&format!("{{{}}}", record.join(",")));
            let limits = DecodeLimits::default();
            proptest::prop_assert_eq!(
                decode_kinesis_record(3, &json, &limits),
                decode_record_field_by_field(3, &json, &limits),
                "{}", json.get()
            );
        }
    }

    #[test]
    fn a_usual_record_is_read_in_one_pass() {
        let json = raw(&format!(
            r#"{{"kinesis":{{"data":{},"sequenceNumber":"49"}},"eventID":"shardId-0:49"}}"#,
            data_value(0)
        ));
        assert!(read_usual(json.get()).is_some());
        let Ok(Record::Data(envelope)) = decode_kinesis_record(0, &json, &DecodeLimits::default())
        else {
            panic!("a usual record decodes");
        };
        assert_eq!(envelope.events.len(), 1);
        // With an escape in `data`, the one-pass read declines and the
        // field-by-field one reads the same record.
        let escaped = raw(&format!(
            r#"{{"kinesis":{{"data":{},"sequenceNumber":"49"}},"eventID":"shardId-0:49"}}"#,
            data_value(2)
        ));
        assert!(read_usual(escaped.get()).is_none());
        assert_eq!(
            decode_kinesis_record(0, &escaped, &DecodeLimits::default()),
            Ok(Record::Data(envelope))
        );
    }

    #[test]
    fn event_without_records_is_one_error() {
        for input in [&b"{}"[..], b"not json", b"{\"Records\":{}}"] {
            let records = decode_kinesis(input, &DecodeLimits::default());
            assert!(
                matches!(&records[..], [Err(DecodeError { raw, position, .. })] if raw == input && position.record_index == 0),
                "{records:?}"
            );
        }
    }
}
