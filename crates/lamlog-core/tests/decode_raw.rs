//! What a bad record keeps: its own bytes, at most `MAX_RAW_BYTES` of them,
//! with its full length and SHA-256; never the rest of the input.

use std::io::Write;

use lamlog_core::decode::{decode, DecodeError, DecodeLimits, Format, Record, MAX_RAW_BYTES};
use sha2::Digest;

fn payload(group: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": group,
        "logStream": "s", "subscriptionFilters": ["x"],
        "logEvents": [{"id": "1", "timestamp": 1, "message": "hi\n"}],
    }))
    .unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn groups(records: &[Result<Record, DecodeError>]) -> Vec<Result<String, Vec<u8>>> {
    records
        .iter()
        .map(|record| match record {
            Ok(Record::Data(envelope)) => Ok(envelope.log_group.clone().unwrap_or_default()),
            Ok(Record::Control(_)) => Ok("control".to_owned()),
            Err(error) => Err(error.raw.clone()),
        })
        .collect()
}

/// Decodes member a, then `middle`, then member c, as `cwl`: the middle must
/// be one dead letter of exactly its own bytes, at its own offset, between
/// the two good members.
fn check_between_good_members(middle: &[u8]) {
    let first = gzip(&payload("/aws/lambda/a"));
    let input = [
        first.clone(),
        middle.to_vec(),
        gzip(&payload("/aws/lambda/c")),
    ]
    .concat();
    let decoded = decode(&input, Format::Cwl, &DecodeLimits::default());
    assert_eq!(
        groups(&decoded.records),
        [
            Ok("/aws/lambda/a".to_owned()),
            Err(middle.to_vec()),
            Ok("/aws/lambda/c".to_owned())
        ]
    );
    let Err(error) = &decoded.records[1] else {
        unreachable!()
    };
    assert_eq!(error.position.byte_offset, Some(first.len() as u64));
}

#[test]
fn a_corrupt_member_is_its_own_dead_letter_and_the_members_after_it_decode() {
    let mut corrupt = gzip(&payload("/aws/lambda/b"));
    let crc = corrupt.len() - 8;
    corrupt[crc] ^= 0xff;
    check_between_good_members(&corrupt);
}

#[test]
fn garbage_between_members_is_a_dead_letter_of_its_own() {
    check_between_good_members(b"not gzip at all");
}

#[test]
fn a_huge_bad_record_keeps_a_bounded_prefix_its_length_and_its_hash() {
    let input: Vec<u8> = (0..MAX_RAW_BYTES * 2 + 12_345)
        .map(|index| b"{[x"[index % 3])
        .collect();
    let decoded = decode(&input, Format::Kinesis, &DecodeLimits::default());
    let [Err(error)] = &decoded.records[..] else {
        panic!("one error expected, got {} records", decoded.records.len())
    };
    assert_eq!(error.raw.len(), MAX_RAW_BYTES);
    assert_eq!(error.raw, input[..MAX_RAW_BYTES]);
    assert_eq!(error.raw_len, input.len() as u64);
    let expected: [u8; 32] = sha2::Sha256::digest(&input).into();
    assert_eq!(error.raw_sha256, expected);
    assert!(!error.raw_is_whole());
}

#[test]
fn a_small_bad_record_is_kept_whole() {
    let input = b"{\"Records\": [1, 2".to_vec();
    let decoded = decode(&input, Format::Kinesis, &DecodeLimits::default());
    let [Err(error)] = &decoded.records[..] else {
        panic!("one error expected")
    };
    assert!(error.raw_is_whole());
    assert_eq!(error.raw, input);
    let expected: [u8; 32] = sha2::Sha256::digest(&input).into();
    assert_eq!(error.raw_sha256, expected);
}
