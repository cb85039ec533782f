//! The scanner held to serde_json, the reference.

use proptest::prelude::*;

use super::super::payload::{record_of, Payload};
use super::super::{json_error_kind, DecodeErrorKind, Record, SourcePosition};
use super::*;

/// What serde_json alone makes of `json`: the reference.
fn by_serde_json(json: &[u8]) -> Result<Record, DecodeErrorKind> {
    let payload: Payload = serde_json::from_slice(json).map_err(|error| json_error_kind(&error))?;
    record_of(payload.into_fields(), SourcePosition::default())
}

/// Whether the scanner took `json`; fails if it took it otherwise than
/// serde_json does.
fn scanner_agrees(json: &[u8]) -> bool {
    let Some(fields) = read_canonical(json) else {
        return false;
    };
    assert_eq!(
        record_of(fields, SourcePosition::default()),
        by_serde_json(json),
        "{:?}",
        String::from_utf8_lossy(json)
    );
    true
}

/// A JSON string of `text`, every character outside ASCII written as a
/// `\u` escape (a surrogate pair above U+FFFF), as some writers do.
fn ascii_json(text: &str) -> String {
    let mut json = String::from("\"");
    for unit in text.encode_utf16() {
        match char::from_u32(u32::from(unit)) {
            Some(c) if c.is_ascii() => {
                let escaped = serde_json::to_string(&c.to_string()).unwrap();
                json.push_str(&escaped[1..escaped.len() - 1]);
            }
            _ => json.push_str(&format!("\\u{unit:04x}")),
        }
    }
    json.push('"');
    json
}

/// A document as CloudWatch writes it, with `messages` as written.
fn canonical(messages: &[String]) -> Vec<u8> {
    let events: Vec<String> = messages
        .iter()
        .enumerate()
        .map(|(index, message)| {
            format!(
                r#"{{"id":"3{index:055}","timestamp":{},"message":{message}}}"#,
                1_700_000_000_000u64 + index as u64
            )
        })
        .collect();
    format!(
        r#"{{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/lambda/f","logStream":"2026/11/01/[$LATEST]0a","subscriptionFilters":["lamlog"],"logEvents":[{}]}}"#,
        events.join(",")
    )
    .into_bytes()
}

#[test]
fn documents_as_cloudwatch_writes_them_are_scanned() {
    let texts = [
        "START RequestId: r Version: $LATEST\n",
        "REPORT RequestId: r\tDuration: 1.5 ms\tBilled Duration: 2 ms\t\n",
        r#"{"level":"INFO","msg":"say \"hi\" to C:\\temp"}"#,
        "caf\u{e9} \u{1F600} \u{1b}[31mred\u{1b}[0m \u{7f}",
        "",
    ];
    let mut messages: Vec<String> = texts
        .iter()
        .map(|text| serde_json::to_string(text).unwrap())
        .collect();
    messages.extend(texts.iter().map(|text| ascii_json(text)));
    let json = canonical(&messages);
    assert!(scanner_agrees(&json));
    let control = br#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1432826855000,"message":"CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]}"#;
    assert!(scanner_agrees(control));
    let spaced = b" {\n \"logEvents\" : [ { \"message\" : \"m\" , \"timestamp\" : 0 , \"id\" : null } ] ,\r\t\"owner\" : null } \n";
    assert!(scanner_agrees(spaced));
}

#[test]
fn what_the_scanner_does_not_know_it_declines() {
    for json in [
        &br#"{"logEvents":[],"extra":1}"#[..],
        br#"{"logEvents":[{"timestamp":1,"message":"m","x":1}]}"#,
        br#"{"owner":"a","owner":"b","logEvents":[]}"#,
        br#"{"logEvents":[{"timestamp":1,"timestamp":2,"message":"m"}]}"#,
        br#"{"logEvents":[{"timestamp":-1,"message":"m"}]}"#,
        br#"{"logEvents":[{"timestamp":1.0,"message":"m"}]}"#,
        br#"{"logEvents":[{"timestamp":01,"message":"m"}]}"#,
        br#"{"logEvents":[{"timestamp":1e3,"message":"m"}]}"#,
        br#"{"logEvents":[{"timestamp":9223372036854775808,"message":"m"}]}"#,
        br#"{"logEvents":[{"message":"m"}]}"#,
        br#"{"logEvents":[{"timestamp":1,"message":"\ud800"}]}"#,
        br#"{"logEvents":[{"timestamp":1,"message":"\udc00"}]}"#,
        br#"{"logEvents":[{"timestamp":1,"message":"\ud800\u0041"}]}"#,
        br#"{"logEvents":[{"timestamp":1,"message":"\x41"}]}"#,
        b"{\"logEvents\":[{\"timestamp\":1,\"message\":\"tab\there\"}]}",
        b"{\"logEvents\":[{\"timestamp\":1,\"message\":\"\xff\"}]}",
        br#"{"log\u0045vents":[]}"#,
        br#"{"logEvents":[],}"#,
        br#"{"logEvents":[1,]}"#,
        br#"{"logEvents":[]} x"#,
        br#"{"logEvents":[]}{}"#,
        br#"{"subscriptionFilters":[1],"logEvents":[]}"#,
        br#"{"logEvents":nul}"#,
        br#"["logEvents"]"#,
        b"",
    ] {
        assert!(
            read_canonical(json).is_none(),
            "{}",
            String::from_utf8_lossy(json)
        );
    }
}

proptest! {
    #[test]
    fn the_scanner_agrees_with_serde_json(
        texts in proptest::collection::vec("[ -~\t\n\r\u{0}-\u{1f}\u{7f}\u{e9}\u{2028}\u{1F600}\"\\\\/]{0,24}", 1..4),
        as_ascii in proptest::bool::ANY,
        damage_at in 0usize..400,
        damage in proptest::sample::select(vec![
            &b""[..], b"\\", b"\"", b"\\u", b"\\ud800", b"\\udc00", b"\\u00e9", b"\0", b"\x1f",
            b"\xff", b"\xc3", b",", b"}", b"]", b"[", b"{", b":", b"1", b"-", b".", b"e", b" ",
            b"\n", b"null", b"\\\"", b"\\n", b"\\/",
        ]),
        cut in 0usize..3,
    ) {
        let messages: Vec<String> = texts
            .iter()
            .map(|text| if as_ascii { ascii_json(text) } else { serde_json::to_string(text).unwrap() })
            .collect();
        let mut json = canonical(&messages);
        prop_assert!(scanner_agrees(&json), "an undamaged document is scanned");
        let at = damage_at % (json.len() + 1);
        json.splice(at..at + cut.min(json.len() - at), damage.iter().copied());
        scanner_agrees(&json);
    }
}
