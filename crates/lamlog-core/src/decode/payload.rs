//! One CloudWatch Logs subscription payload document → one [`Record`].
//!
//! ```json
//! {"owner":"123456789012","logGroup":"/aws/lambda/f","logStream":"2024/05/20/[$LATEST]0123",
//!  "subscriptionFilters":["f"],"messageType":"DATA_MESSAGE",
//!  "logEvents":[{"id":"3195…","timestamp":1432826855000,"message":"…"}]}
//! ```
//!
//! A `DATA_MESSAGE` becomes an [`Envelope`], a `CONTROL_MESSAGE` (the health
//! check CloudWatch sends when a subscription is created) becomes
//! [`Record::Control`] so that it is acknowledged and never parsed as a log.
//! Event ids are 56-digit decimals: they stay strings, never numbers.
//!
//! Reading this JSON is most of what decoding costs, so a document is read
//! first by sonic-rs, whose SIMD string scanning reads the escaped messages
//! about a third faster than serde_json. serde_json stays the reference: a
//! document sonic-rs does not read, for whatever reason, is read again by
//! serde_json, whose error is the one reported (its kind, line and column).
//! So the fast reader can only change how fast a document is read, never what
//! it gives, as long as whatever sonic-rs accepts serde_json accepts the same
//! way; the tests below hold it to that on the inputs where JSON readers
//! usually differ (surrogates, control characters, invalid UTF-8, number
//! forms, deep nesting, duplicate keys).

use serde::Deserialize;

pub(super) use super::payload_simd::{read_fast, PayloadFields};
use super::{
    json_error_kind, DecodeErrorKind, Envelope, EventId, LogEvent, Record, SourcePosition,
};

/// A subscription payload as CloudWatch writes it. Unknown fields (such as
/// `subscriptionFilters`) are skipped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Payload {
    owner: Option<String>,
    log_group: Option<String>,
    log_stream: Option<String>,
    message_type: Option<String>,
    log_events: Option<Vec<PayloadEvent>>,
}

/// One entry of `logEvents`.
#[derive(Deserialize)]
struct PayloadEvent {
    id: Option<EventId>,
    timestamp: i64,
    message: String,
}

impl Payload {
    /// The fields, with the events as [`LogEvent`]s.
    pub(super) fn into_fields(self) -> PayloadFields {
        let log_events = self.log_events.map(|events| {
            events
                .into_iter()
                .map(|event| LogEvent {
                    id: event.id,
                    timestamp_ms: Some(event.timestamp),
                    message: event.message,
                })
                .collect()
        });
        PayloadFields {
            owner: self.owner,
            log_group: self.log_group,
            log_stream: self.log_stream,
            message_type: self.message_type,
            log_events,
        }
    }
}

/// Parses one subscription payload document.
///
/// A missing `messageType` is read as `DATA_MESSAGE`, so hand-written payloads
/// work; any other value than the two CloudWatch sends is a shape error, as is
/// a data message without `logEvents`.
pub(super) fn parse_payload(
    json: &[u8],
    position: SourcePosition,
) -> Result<Record, DecodeErrorKind> {
    let fields = match read_fast(json) {
        Some(fields) => fields,
        None => serde_json::from_slice::<Payload>(json)
            .map_err(|error| json_error_kind(&error))?
            .into_fields(),
    };
    record_of(fields, position)
}

/// The record a parsed payload is, or the shape error it holds.
pub(super) fn record_of(
    fields: PayloadFields,
    position: SourcePosition,
) -> Result<Record, DecodeErrorKind> {
    match fields.message_type.as_deref() {
        Some("CONTROL_MESSAGE") => return Ok(Record::Control(position)),
        Some("DATA_MESSAGE") | None => {}
        Some(_) => {
            return Err(DecodeErrorKind::Shape {
                detail: "messageType is neither DATA_MESSAGE nor CONTROL_MESSAGE".to_string(),
            })
        }
    }
    let Some(events) = fields.log_events else {
        return Err(DecodeErrorKind::Shape {
            detail: "missing field `logEvents`".to_string(),
        });
    };
    Ok(Record::Data(Envelope {
        owner: fields.owner,
        log_group: fields.log_group,
        log_stream: fields.log_stream,
        position,
        events,
    }))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What serde_json alone makes of `json`: the reference.
    fn by_serde_json(json: &[u8]) -> Result<Record, DecodeErrorKind> {
        let payload: Payload =
            serde_json::from_slice(json).map_err(|error| json_error_kind(&error))?;
        record_of(payload.into_fields(), SourcePosition::default())
    }

    /// Fails when the fast reader accepts `json` other than serde_json does.
    fn assert_fast_agrees(json: &[u8]) {
        if let Some(fields) = read_fast(json) {
            assert_eq!(
                record_of(fields, SourcePosition::default()),
                by_serde_json(json),
                "{:?}",
                String::from_utf8_lossy(json)
            );
        }
        assert_eq!(
            parse_payload(json, SourcePosition::default()),
            by_serde_json(json)
        );
    }

    fn document(owner: &str, timestamp: &str, message: &str) -> Vec<u8> {
        format!(
            r#"{{"owner":{owner},"logGroup":"/aws/lambda/f","logStream":"s","logEvents":[{{"id":"1","timestamp":{timestamp},"message":{message}}}]}}"#
        )
        .into_bytes()
    }

    #[test]
    fn the_fast_reader_reads_a_plain_payload() {
        let json = document(r#""1""#, "5", r#""hi\n""#);
        assert!(read_fast(&json).is_some());
        assert_fast_agrees(&json);
    }

    #[test]
    fn where_readers_differ_the_fast_reader_agrees_or_declines() {
        let mut cases = Vec::new();
        for message in [
            r#""\ud800""#,
            r#""\udc00\ud800""#,
            r#""\ud83d\ude00""#,
            "\"tab\there\"",
            "\"nul\u{0}here\"",
            r#""\u0000""#,
            r#""\x41""#,
            r#""\/\b\f\n\r\t\"\\""#,
            "\"\u{7f}\"",
            "null",
            "5",
        ] {
            cases.push(document(r#""1""#, "5", message));
        }
        for timestamp in [
            "01",
            "-0",
            "1.0",
            "1e3",
            "-9223372036854775808",
            "9223372036854775808",
            "+1",
            "0x10",
        ] {
            cases.push(document(r#""1""#, timestamp, r#""m""#));
        }
        let deep = format!(
            "{{\"x\":{}1{},\"logEvents\":[]}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        cases.push(deep.into_bytes());
        cases.push(br#"{"owner":"a","owner":"b","logEvents":[]}"#.to_vec());
        cases.push(br#"{"logEvents":[],}"#.to_vec());
        cases.push(br#"{"logEvents":[]} x"#.to_vec());
        cases.push(br#" {"logEvents":[]} "#.to_vec());
        cases.push(br#"{"logEvents":[]}{"logEvents":[]}"#.to_vec());
        cases.push(br#"{"x":1e400,"logEvents":[]}"#.to_vec());
        cases.push(br#"{"x":-,"logEvents":[]}"#.to_vec());
        let mut invalid_utf8 = document(r#""1""#, "5", r#""ab""#);
        let at = invalid_utf8.len() - 6;
        invalid_utf8[at] = 0xff;
        cases.push(invalid_utf8);
        for case in cases {
            assert_fast_agrees(&case);
        }
    }

    #[test]
    fn deep_nesting_anywhere_is_declined_not_an_overflow() {
        let deep = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let objects = |depth: usize| format!("{}{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        for value in [deep(200_000), objects(200_000), "[".repeat(200_000)] {
            for json in [
                format!(r#"{{"subscriptionFilters":{value},"logEvents":[]}}"#),
                format!(r#"{{"owner":{value},"logEvents":[]}}"#),
                format!(r#"{{"logEvents":{value}}}"#),
                format!(r#"{{"logEvents":[{value}]}}"#),
                format!(r#"{{"logEvents":[{{"timestamp":1,"message":"m","x":{value}}}]}}"#),
                format!(r#"{{"logEvents":[{{"timestamp":{value},"message":"m"}}]}}"#),
                value.clone(),
            ] {
                assert!(read_fast(json.as_bytes()).is_none());
            }
        }
        assert_fast_agrees(format!(r#"{{"x":{},"logEvents":[]}}"#, deep(250)).as_bytes());
    }

    proptest! {
        #[test]
        fn the_fast_reader_agrees_on_damaged_documents(
            message in "[ -~\t\u{e9}\u{1F600}]{0,12}",
            damage_at in 0usize..200,
            damage in proptest::sample::select(vec![
                &b"\\"[..], b"\"", b"\\u", b"\\ud800", b"\0", b"\xff", b"\xc3", b",", b"}", b"]",
                b"[", b"{", b"1", b"-", b".", b"e", b" ", b"\n", b"null", b"\\\"",
            ]),
            cut in 0usize..3,
        ) {
            let escaped = serde_json::to_string(&message).unwrap();
            let mut json = document(r#""123""#, "1432826855000", &escaped);
            let at = damage_at % (json.len() + 1);
            json.splice(at..at + cut.min(json.len() - at), damage.iter().copied());
            assert_fast_agrees(&json);
        }
    }
}
