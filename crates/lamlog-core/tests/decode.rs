//! Decode stage, end to end: every format through the public `decode`, with
//! the fixtures in `tests/data/decode/` (written by `make_fixtures.py` there)
//! and hostile inputs built here.

use std::io::Write;

use base64::Engine;
use flate2::write::GzEncoder;
use flate2::Compression;
use lamlog_core::decode::{
    decode, inflate, DecodeError, DecodeErrorKind, DecodeLimits, Decoded, Envelope, Format,
    LogEvent, Record, SourcePosition,
};
use proptest::prelude::*;
use serde_json::json;

const KINESIS_EVENT: &[u8] = include_bytes!("data/decode/kinesis_event.json");
const AWSLOGS_EVENT: &[u8] = include_bytes!("data/decode/awslogs_event.json");
const FIREHOSE_GZ: &[u8] = include_bytes!("data/decode/firehose.gz");
const EVENTS_NDJSON: &[u8] = include_bytes!("data/decode/events.ndjson");
const LINES_TXT: &[u8] = include_bytes!("data/decode/lines.txt");

const ID_A: &str = "31953106606966983378809025079804211143289615424298221568";
const ID_B: &str = "31953106606966983378809025079804211143289615424298221569";
const STREAM: &str = "2024/05/20/[$LATEST]0123456789abcdef0123456789abcdef";
const START: &str = "START RequestId: 8f5b7e1c-1111-2222-3333-444455556666 Version: $LATEST\n";

const ALL_FORMATS: [Format; 6] = [
    Format::Auto,
    Format::Lines,
    Format::Events,
    Format::Cwl,
    Format::Kinesis,
    Format::Awslogs,
];

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode_default(input: &[u8], format: Format) -> Decoded {
    decode(input, format, &DecodeLimits::default())
}

fn envelope(record: &Result<Record, DecodeError>) -> &Envelope {
    match record {
        Ok(Record::Data(envelope)) => envelope,
        other => panic!("expected data, got {other:?}"),
    }
}

fn error(record: &Result<Record, DecodeError>) -> &DecodeError {
    match record {
        Err(error) => error,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn payload_json(stream: &str, events: &[(&str, i64, &str)]) -> String {
    json!({
        "owner": "123456789012",
        "logGroup": "/aws/lambda/checkout",
        "logStream": stream,
        "subscriptionFilters": ["lamlog"],
        "messageType": "DATA_MESSAGE",
        "logEvents": events.iter().map(|(id, timestamp, message)| json!({
            "id": id, "timestamp": timestamp, "message": message,
        })).collect::<Vec<_>>(),
    })
    .to_string()
}

/// A Kinesis event whose records carry these `data` strings.
fn kinesis_event(datas: &[String]) -> Vec<u8> {
    let records: Vec<_> = datas
        .iter()
        .enumerate()
        .map(|(index, data)| {
            json!({
                "kinesis": {"data": data, "sequenceNumber": format!("49568{index:051}"), "partitionKey": "p"},
                "eventID": format!("shardId-000000000000:49568{index:051}"),
                "eventSource": "aws:kinesis",
            })
        })
        .collect();
    json!({ "Records": records }).to_string().into_bytes()
}

/// 100 MB of zeros, gzip'd by streaming so that the test never holds them.
fn gzip_bomb() -> Vec<u8> {
    let zeros = [0u8; 64 * 1024];
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    for _ in 0..1600 {
        encoder.write_all(&zeros).unwrap();
    }
    encoder.finish().unwrap()
}

#[test]
fn kinesis_bad_middle_record_keeps_its_neighbours() {
    let decoded = decode_default(KINESIS_EVENT, Format::Kinesis);
    assert_eq!(decoded.format, Format::Kinesis);
    assert_eq!(decoded.records.len(), 3);

    let first = envelope(&decoded.records[0]);
    assert_eq!(first.owner.as_deref(), Some("123456789012"));
    assert_eq!(first.log_group.as_deref(), Some("/aws/lambda/checkout"));
    assert_eq!(first.log_stream.as_deref(), Some(STREAM));
    assert_eq!(first.events.len(), 2);
    assert_eq!(
        first.events[0],
        LogEvent {
            id: Some(ID_A.into()),
            timestamp_ms: Some(1716199872345),
            message: START.to_string(),
        }
    );
    assert_eq!(first.events[1].id.as_deref(), Some(ID_B));
    assert_eq!(
        first.position,
        SourcePosition {
            record_index: 0,
            sequence_number: Some(
                "49568167373333333333333333333333333333333333333333333330".into()
            ),
            event_id: Some(
                "shardId-000000000000:49568167373333333333333333333333333333333333333333333330"
                    .into()
            ),
            byte_offset: None,
        }
    );

    let bad = error(&decoded.records[1]);
    assert!(matches!(bad.kind, DecodeErrorKind::Base64 { .. }), "{bad}");
    assert_eq!(bad.raw, b"H4sI!!not*base64");
    assert_eq!(bad.position.record_index, 1);
    assert_eq!(
        bad.position.sequence_number.as_deref(),
        Some("49568167373333333333333333333333333333333333333333333331")
    );

    let third = envelope(&decoded.records[2]);
    assert_eq!(third.position.record_index, 2);
    assert_eq!(third.events[0].message, "hello\tworld\r\n");
}

#[test]
fn kinesis_event_ids_stay_exact_56_digit_strings() {
    let decoded = decode_default(KINESIS_EVENT, Format::Kinesis);
    let ids: Vec<_> = envelope(&decoded.records[0])
        .events
        .iter()
        .map(|event| event.id.clone().unwrap())
        .collect();
    assert_eq!(ids, vec![ID_A, ID_B]);
    assert!(ids.iter().all(|id| id.len() == 56));
}

#[test]
fn kinesis_accepts_uncompressed_json_records() {
    let json = payload_json("s", &[(ID_A, 5, "plain")]);
    let decoded = decode_default(&kinesis_event(&[base64(json.as_bytes())]), Format::Kinesis);
    assert_eq!(envelope(&decoded.records[0]).events[0].message, "plain");
}

#[test]
fn kinesis_truncated_gzip_and_non_json_records_are_their_own_errors() {
    let gz = gzip(payload_json("s", &[(ID_A, 5, "m")]).as_bytes());
    let truncated = base64(&gz[..gz.len() / 2]);
    let not_json = base64(&gzip(b"\0\0not json"));
    let good = base64(&gz);
    let input = kinesis_event(&[truncated.clone(), not_json, good]);
    let decoded = decode_default(&input, Format::Kinesis);
    let truncated_error = error(&decoded.records[0]);
    assert!(matches!(truncated_error.kind, DecodeErrorKind::Gzip { .. }));
    assert_eq!(truncated_error.raw, truncated.as_bytes());
    assert!(matches!(
        error(&decoded.records[1]).kind,
        DecodeErrorKind::Json { line: 1, .. }
    ));
    assert!(decoded.records[2].is_ok());
}

#[test]
fn kinesis_gzip_bomb_is_too_large_and_the_next_record_still_decodes() {
    let bomb = gzip_bomb();
    assert!(bomb.len() < 1024 * 1024, "bomb is {} bytes", bomb.len());
    let good = base64(&gzip(payload_json("s", &[(ID_A, 5, "m")]).as_bytes()));
    let input = kinesis_event(&[base64(&bomb), good]);
    let decoded = decode_default(&input, Format::Kinesis);
    assert_eq!(
        error(&decoded.records[0]).kind,
        DecodeErrorKind::TooLarge {
            limit_bytes: 16 * 1024 * 1024
        }
    );
    assert!(decoded.records[1].is_ok());
    assert_eq!(
        inflate(&bomb, 16 * 1024 * 1024),
        Err(DecodeErrorKind::TooLarge {
            limit_bytes: 16 * 1024 * 1024
        })
    );
}

#[test]
fn kinesis_event_that_is_not_json_is_one_error_with_the_whole_input() {
    let input = b"{\"Records\":[{\"kinesis\":";
    let decoded = decode_default(input, Format::Kinesis);
    let only = error(&decoded.records[0]);
    assert_eq!(decoded.records.len(), 1);
    assert_eq!(only.raw, input);
    assert_eq!(only.position, SourcePosition::default());
    assert!(matches!(only.kind, DecodeErrorKind::Json { .. }));
}

#[test]
fn awslogs_event_is_one_record() {
    let decoded = decode_default(AWSLOGS_EVENT, Format::Awslogs);
    assert_eq!(decoded.records.len(), 1);
    let only = envelope(&decoded.records[0]);
    assert_eq!(only.events.len(), 2);
    assert_eq!(only.position.record_index, 0);

    let bad = decode_default(br#"{"awslogs":{"data":"H4sI"}}"#, Format::Awslogs);
    assert_eq!(error(&bad.records[0]).raw, b"H4sI");
    let no_data = decode_default(br#"{"awslogs":{}}"#, Format::Awslogs);
    assert!(matches!(
        error(&no_data.records[0]).kind,
        DecodeErrorKind::Shape { .. }
    ));
}

#[test]
fn cwl_concatenated_members_and_back_to_back_documents() {
    let decoded = decode_default(FIREHOSE_GZ, Format::Cwl);
    assert_eq!(decoded.records.len(), 4);
    let first = envelope(&decoded.records[0]);
    assert_eq!(first.position.record_index, 0);
    assert_eq!(first.position.byte_offset, Some(0));
    // The control message is acknowledged, not parsed.
    let Ok(Record::Control(control)) = &decoded.records[1] else {
        panic!("expected control, got {:?}", decoded.records[1]);
    };
    assert_eq!(control.record_index, 1);
    let second_member_offset = control.byte_offset.unwrap();
    assert!(second_member_offset > 0);
    let shared = envelope(&decoded.records[2]);
    assert_eq!(shared.position.record_index, 2);
    assert_eq!(shared.position.byte_offset, Some(second_member_offset));
    assert_eq!(shared.events[0].message, "hello\tworld\r\n");
    let last = envelope(&decoded.records[3]);
    assert!(last.position.byte_offset.unwrap() > second_member_offset);
    assert_eq!(last.events, first.events);
}

#[test]
fn cwl_truncated_last_member_keeps_the_earlier_members() {
    let truncated = &FIREHOSE_GZ[..FIREHOSE_GZ.len() - 10];
    let decoded = decode_default(truncated, Format::Cwl);
    assert_eq!(decoded.records.len(), 4);
    assert!(decoded.records[..3].iter().all(Result::is_ok));
    let broken = error(&decoded.records[3]);
    assert!(matches!(broken.kind, DecodeErrorKind::Gzip { .. }));
    let offset = broken.position.byte_offset.unwrap() as usize;
    assert_eq!(broken.raw, &truncated[offset..]);
}

#[test]
fn cwl_gzip_bomb_member_is_too_large() {
    let mut input = gzip(payload_json("s", &[(ID_A, 5, "m")]).as_bytes());
    input.extend(gzip_bomb());
    let limits = DecodeLimits {
        max_inflated_bytes: 1024 * 1024,
        ..DecodeLimits::default()
    };
    let decoded = decode(&input, Format::Cwl, &limits);
    assert!(decoded.records[0].is_ok());
    assert_eq!(
        error(&decoded.records[1]).kind,
        DecodeErrorKind::TooLarge {
            limit_bytes: 1024 * 1024
        }
    );
}

#[test]
fn cwl_plain_json_back_to_back_with_and_without_whitespace() {
    let one = payload_json("a", &[(ID_A, 1, "x")]);
    let two = payload_json("b", &[(ID_B, 2, "y")]);
    let input = format!("{one}{two}\n\n{one}\r\n");
    let decoded = decode_default(input.as_bytes(), Format::Cwl);
    let streams: Vec<_> = decoded
        .records
        .iter()
        .map(|record| envelope(record).log_stream.clone().unwrap())
        .collect();
    assert_eq!(streams, vec!["a", "b", "a"]);
    assert_eq!(
        envelope(&decoded.records[2]).position.byte_offset,
        Some((one.len() + two.len() + 2) as u64)
    );
}

#[test]
fn lines_batch_runs_and_isolate_bad_lines() {
    let decoded = decode_default(LINES_TXT, Format::Lines);
    assert_eq!(decoded.records.len(), 3);
    let run = envelope(&decoded.records[0]);
    assert_eq!(run.position.record_index, 0);
    assert_eq!(run.position.byte_offset, Some(0));
    assert_eq!(run.owner, None);
    let messages: Vec<_> = run.events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "START RequestId: 1 Version: $LATEST\r",
            "END RequestId: 1\r"
        ]
    );
    assert!(run
        .events
        .iter()
        .all(|e| e.id.is_none() && e.timestamp_ms.is_none()));

    let bad = error(&decoded.records[1]);
    assert_eq!(bad.kind, DecodeErrorKind::Utf8 { valid_up_to: 4 });
    assert_eq!(bad.raw, b"bad \xff\xfe utf-8");
    assert_eq!(bad.position.record_index, 3);
    assert_eq!(bad.position.byte_offset, Some(56));

    let after = envelope(&decoded.records[2]);
    assert_eq!(after.position.record_index, 4);
    let messages: Vec<_> = after.events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, vec!["with\0nul", "last line without newline"]);
}

#[test]
fn lines_longer_than_the_limit_are_errors_and_at_the_limit_are_not() {
    let limit = DecodeLimits::default().max_line_bytes;
    let mut input = vec![b'a'; limit];
    input.push(b'\n');
    input.extend(std::iter::repeat_n(b'b', limit + 1));
    input.extend_from_slice(b"\nshort");
    for format in [Format::Lines, Format::Events] {
        let decoded = decode_default(&input, format);
        assert_eq!(decoded.records.len(), 3, "{format:?}");
        let too_long = error(&decoded.records[1]);
        assert_eq!(
            too_long.kind,
            DecodeErrorKind::LineTooLong {
                len_bytes: limit + 1,
                limit_bytes: limit
            }
        );
        assert_eq!(too_long.raw.len(), limit + 1);
        assert_eq!(too_long.position.record_index, 1);
        assert_eq!(too_long.position.byte_offset, Some(limit as u64 + 1));
    }
    let decoded = decode_default(&input, Format::Lines);
    assert_eq!(envelope(&decoded.records[0]).events[0].message.len(), limit);
}

#[test]
fn events_with_both_timestamp_kinds_batched_by_group() {
    let decoded = decode_default(EVENTS_NDJSON, Format::Events);
    assert_eq!(decoded.records.len(), 4);
    let first = envelope(&decoded.records[0]);
    assert_eq!(first.log_group.as_deref(), Some("/aws/lambda/a"));
    let times: Vec<_> = first.events.iter().map(|e| e.timestamp_ms).collect();
    assert_eq!(times, vec![Some(1716199872345), Some(1716199872447)]);
    assert_eq!(first.events[1].message, "END RequestId: 1\n");

    let bad = error(&decoded.records[1]);
    assert!(matches!(bad.kind, DecodeErrorKind::Shape { .. }), "{bad}");
    assert_eq!(bad.raw, br#"{"timestamp":"not a time","message":"x"}"#);
    assert_eq!(bad.position.record_index, 2);

    // A bad line ends the run; the line after starts a new envelope.
    let resumed = envelope(&decoded.records[2]);
    assert_eq!(resumed.position.record_index, 4);
    assert_eq!(resumed.log_group.as_deref(), Some("/aws/lambda/a"));

    let other_group = envelope(&decoded.records[3]);
    assert_eq!(other_group.position.record_index, 5);
    assert_eq!(other_group.log_group.as_deref(), Some("/aws/lambda/b"));
    assert_eq!(other_group.events[0].id.as_deref(), Some(ID_A));
}

#[test]
fn events_bad_json_and_missing_message_are_errors() {
    let input = b"{\"message\":\"ok\",\"timestamp\":1}\nnot json\n \t\r\n{\"timestamp\":1}\n[1]\n";
    let decoded = decode_default(input, Format::Events);
    assert_eq!(decoded.records.len(), 4);
    assert_eq!(error(&decoded.records[2]).position.record_index, 3);
    assert!(matches!(
        error(&decoded.records[1]).kind,
        DecodeErrorKind::Json { .. }
    ));
    assert!(matches!(
        error(&decoded.records[2]).kind,
        DecodeErrorKind::Shape { .. }
    ));
    assert!(matches!(
        error(&decoded.records[3]).kind,
        DecodeErrorKind::Shape { .. }
    ));
}

#[test]
fn auto_detects_every_fixture() {
    let cases: [(&[u8], Format); 5] = [
        (KINESIS_EVENT, Format::Kinesis),
        (AWSLOGS_EVENT, Format::Awslogs),
        (FIREHOSE_GZ, Format::Cwl),
        (EVENTS_NDJSON, Format::Events),
        (LINES_TXT, Format::Lines),
    ];
    for (input, expected) in cases {
        let auto = decode_default(input, Format::Auto);
        assert_eq!(auto.format, expected);
        assert_eq!(auto, decode_default(input, expected));
    }
    let json = payload_json("s", &[(ID_A, 1, "m")]);
    assert_eq!(
        decode_default(json.as_bytes(), Format::Auto).format,
        Format::Cwl
    );
}

#[test]
fn hostile_json_is_an_error_in_every_format() {
    let deep = "[".repeat(100_000);
    let deep_object = format!("{{\"Records\":{deep}");
    let huge_number = format!(r#"{{"timestamp":1{},"message":"m"}}"#, "0".repeat(400));
    for input in [
        deep.as_bytes(),
        deep_object.as_bytes(),
        huge_number.as_bytes(),
    ] {
        for format in ALL_FORMATS {
            let decoded = decode_default(input, format);
            assert_ne!(decoded.format, Format::Auto);
            if decoded.format != Format::Lines {
                assert!(
                    decoded.records.iter().all(|record| record.is_err()),
                    "{format:?}"
                );
            }
        }
    }
}

fn arbitrary_envelope() -> impl Strategy<Value = (String, String, String, Vec<LogEvent>)> {
    let event =
        ("[0-9]{56}", any::<i64>(), any::<String>()).prop_map(|(id, timestamp, message)| {
            LogEvent {
                id: Some(id.into()),
                timestamp_ms: Some(timestamp),
                message,
            }
        });
    (
        "[0-9]{12}",
        "/aws/lambda/[a-zA-Z0-9_-]{1,20}",
        any::<String>(),
        prop::collection::vec(event, 0..6),
    )
}

proptest! {
    #[test]
    fn decode_never_panics_on_arbitrary_bytes(input in prop::collection::vec(any::<u8>(), 0..2048)) {
        for format in ALL_FORMATS {
            let decoded = decode_default(&input, format);
            prop_assert_ne!(decoded.format, Format::Auto);
        }
    }

    #[test]
    fn decode_never_panics_on_mutated_fixtures(
        fixture in 0usize..5,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut input = [KINESIS_EVENT, AWSLOGS_EVENT, FIREHOSE_GZ, EVENTS_NDJSON, LINES_TXT][fixture].to_vec();
        for (at, byte) in flips {
            let at = at.index(input.len());
            input[at] = byte;
        }
        input.truncate(cut.index(input.len() + 1));
        for format in ALL_FORMATS {
            decode_default(&input, format);
        }
    }

    #[test]
    fn kinesis_round_trip(envelopes in prop::collection::vec(arbitrary_envelope(), 0..5)) {
        let datas: Vec<String> = envelopes
            .iter()
            .map(|(owner, group, stream, events)| {
                let json = json!({
                    "owner": owner,
                    "logGroup": group,
                    "logStream": stream,
                    "subscriptionFilters": ["f"],
                    "messageType": "DATA_MESSAGE",
                    "logEvents": events.iter().map(|event| json!({
                        "id": event.id, "timestamp": event.timestamp_ms, "message": event.message,
                    })).collect::<Vec<_>>(),
                });
                base64(&gzip(json.to_string().as_bytes()))
            })
            .collect();
        let decoded = decode_default(&kinesis_event(&datas), Format::Auto);
        prop_assert_eq!(decoded.format, Format::Kinesis);
        let expected: Vec<Record> = envelopes
            .into_iter()
            .enumerate()
            .map(|(index, (owner, group, stream, events))| {
                Record::Data(Envelope {
                    owner: Some(owner),
                    log_group: Some(group),
                    log_stream: Some(stream),
                    position: SourcePosition {
                        record_index: index,
                        sequence_number: Some(format!("49568{index:051}")),
                        event_id: Some(format!("shardId-000000000000:49568{index:051}")),
                        byte_offset: None,
                    },
                    events,
                })
            })
            .collect();
        let records: Result<Vec<Record>, DecodeError> = decoded.records.into_iter().collect();
        prop_assert_eq!(records, Ok(expected));
    }
}
