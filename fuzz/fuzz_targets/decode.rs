//! Two properties of decode:
//! 1. any bytes in any format decode without panicking, and every error keeps
//!    raw bytes that come from the input: the bytes at the error's byte
//!    offset, a slice of the input, the text of a JSON string in it (a
//!    Kinesis or awslogs `data`), or a slice of the gzip member at the error's
//!    offset once inflated (a bad document inside a `cwl` member);
//! 2. messages wrapped as CloudWatch payload → gzip → base64 → Kinesis event
//!    come back out exactly.
//!
//! The round trip gzips every input, which made it the slowest target. The
//! encoders are built once per process and reset for each input (building
//! one allocates its window and hash tables), and their output buffer is
//! reused. Under the fuzzer's compare tracing, deflating costs more than
//! everything else together, so half the inputs (those of even length) are
//! wrapped in stored blocks: the framing, CRC and base64 paths are the same,
//! and the other half still inflates Huffman-coded data.
#![no_main]

use std::cell::RefCell;
use std::io::Read;

use base64::Engine;
use flate2::{Compress, Compression, FlushCompress, Status};
use lamlog_core::decode::{decode, DecodeError, DecodeLimits, Format, Record};
use libfuzzer_sys::fuzz_target;

const FORMATS: [Format; 6] = [Format::Auto, Format::Lines, Format::Events, Format::Cwl, Format::Kinesis, Format::Awslogs];

/// gzip's window bits for `Compress::new_gzip` (a 32 KB window).
const GZIP_WINDOW_BITS: u8 = 15;

/// A fast encoder, a storing one, and the buffer they write into.
struct Gzip {
    fast: Compress,
    stored: Compress,
    out: Vec<u8>,
}

thread_local! {
    static GZIP: RefCell<Gzip> = RefCell::new(Gzip {
        fast: Compress::new_gzip(Compression::fast(), GZIP_WINDOW_BITS),
        stored: Compress::new_gzip(Compression::none(), GZIP_WINDOW_BITS),
        out: Vec::new(),
    });
}

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits { max_inflated_bytes: 1 << 20, max_line_bytes: 1 << 16 };
    for format in FORMATS {
        let decoded = decode(data, format, &limits);
        assert_ne!(decoded.format, Format::Auto);
        for record in &decoded.records {
            match record {
                Ok(Record::Data(envelope)) => {
                    assert!(envelope.events.iter().all(|event| event.message.len() <= data.len().max(limits.max_inflated_bytes)));
                }
                Ok(Record::Control(_)) => {}
                Err(error) => assert_raw_from_input(data, decoded.format, error, &limits),
            }
        }
    }
    round_trip(data);
});

/// Asserts that a decode error's raw bytes come from the input, in the way
/// its format promises (see the table in `lamlog_core::decode`).
fn assert_raw_from_input(input: &[u8], format: Format, error: &DecodeError, limits: &DecodeLimits) {
    let raw = error.raw.as_slice();
    let offset = error.position.byte_offset.map(|offset| usize::try_from(offset).expect("offset fits usize"));
    let at_offset = offset.is_some_and(|offset| input.get(offset..).is_some_and(|rest| rest.starts_with(raw)));
    let holds = match format {
        Format::Lines | Format::Events => at_offset,
        Format::Cwl => at_offset || offset.is_some_and(|offset| contains(&inflate_member(&input[offset..], limits), raw)),
        Format::Kinesis | Format::Awslogs => contains(input, raw) || is_json_string_of(input, raw),
        Format::Auto => unreachable!("decode resolves auto"),
    };
    assert!(
        holds,
        "{format:?} error {error} keeps raw bytes that are not from the input: {:?}",
        String::from_utf8_lossy(raw)
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|window| window == needle)
}

/// Whether `raw` is the text of some JSON string anywhere in `input`.
///
/// serde_json does not check the UTF-8 of strings it skips, so decode accepts
/// an event with invalid UTF-8 in a field it ignores; a `Value` does not. The
/// input is read lossily: only bytes that are not UTF-8 change, and the
/// string `raw` came from was read as UTF-8, so it is intact.
fn is_json_string_of(input: &[u8], raw: &[u8]) -> bool {
    fn any_string(value: &serde_json::Value, raw: &[u8]) -> bool {
        match value {
            serde_json::Value::String(text) => text.as_bytes() == raw,
            serde_json::Value::Array(items) => items.iter().any(|item| any_string(item, raw)),
            serde_json::Value::Object(fields) => fields.values().any(|field| any_string(field, raw)),
            _ => false,
        }
    }
    serde_json::from_str::<serde_json::Value>(&String::from_utf8_lossy(input)).is_ok_and(|value| any_string(&value, raw))
}

/// The inflated bytes of the gzip member at the start of `member`, as far as
/// they inflate (a little past the decoder's cap, so a slice it kept fits).
/// flate2's own decoder, not lamlog's capped one: the check needs an
/// inflater independent of the code it checks, and the cap is applied here.
#[allow(clippy::disallowed_types)]
fn inflate_member(member: &[u8], limits: &DecodeLimits) -> Vec<u8> {
    let mut inflated = Vec::new();
    let mut reader = flate2::read::GzDecoder::new(member).take(limits.max_inflated_bytes as u64 + 1);
    let mut chunk = [0u8; 8192];
    while let Ok(read @ 1..) = reader.read(&mut chunk) {
        inflated.extend_from_slice(&chunk[..read]);
    }
    inflated
}

/// Wraps the input's `\u{1}`-separated messages as a Kinesis event and checks
/// that decode gives them back unchanged.
fn round_trip(data: &[u8]) {
    let messages: Vec<String> = String::from_utf8_lossy(data).split('\u{1}').map(str::to_owned).collect();
    let events: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(index, message)| serde_json::json!({"id": format!("{index:056}"), "timestamp": index as i64, "message": message}))
        .collect();
    let payload = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/lambda/f", "logStream": "s", "subscriptionFilters": [], "logEvents": events});
    let deflate = data.len() % 2 == 1;
    let data = GZIP.with_borrow_mut(|Gzip { fast, stored, out }| {
        gzip(if deflate { fast } else { stored }, payload.to_string().as_bytes(), out);
        base64::engine::general_purpose::STANDARD.encode(out)
    });
    let event = serde_json::json!({"Records": [{"kinesis": {"data": data, "sequenceNumber": "1", "partitionKey": "p"}, "eventID": "shardId-0:1"}]});
    let decoded = decode(event.to_string().as_bytes(), Format::Kinesis, &DecodeLimits::default());
    let Some(Ok(Record::Data(envelope))) = decoded.records.first() else {
        panic!("a well-formed event must decode: {:?}", decoded.records.first());
    };
    let round_trip: Vec<&str> = envelope.events.iter().map(|event| event.message.as_str()).collect();
    assert_eq!(round_trip, messages.iter().map(String::as_str).collect::<Vec<_>>());
}

/// One gzip member of `input` into `out`, with a reset encoder.
fn gzip(encoder: &mut Compress, input: &[u8], out: &mut Vec<u8>) {
    encoder.reset();
    out.clear();
    out.reserve(input.len() + input.len() / 8 + 64);
    loop {
        let consumed = usize::try_from(encoder.total_in()).expect("input fits usize");
        match encoder.compress_vec(&input[consumed..], out, FlushCompress::Finish).expect("gzip to memory") {
            Status::StreamEnd => return,
            Status::Ok | Status::BufError => out.reserve(out.capacity().max(64)),
        }
    }
}
