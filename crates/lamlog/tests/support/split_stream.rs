//! A generated log stream as Kinesis would deliver it: real CloudWatch
//! payloads decoded into records, every payload cut in two (its events
//! reversed first), one sequence number per record, and two undecodable
//! records mixed in. Shared by the split/replay properties on SQLite
//! (`pipeline_split_replay.rs`) and PostgreSQL (`postgres_pipeline.rs`).

use std::path::PathBuf;

use lamlog::enrich::file::FileSource;
use lamlog::generate::{generate, GenerateOptions};
use lamlog_core::decode::{
    decode, DecodeError, DecodeErrorKind, DecodeLimits, Format, Record, SourcePosition,
};

/// Decoded records in delivery order.
pub type Records = Vec<Result<Record, DecodeError>>;

/// The stream `options` generate (their format must be `Cwl`), and the
/// generator's metadata.
pub fn split_stream(options: &GenerateOptions) -> (Records, FileSource) {
    let directory: PathBuf = std::env::temp_dir().join(format!(
        "lamlog-split-stream-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    generate(options, &directory).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".json.gz"))
        .collect();
    files.sort();
    let mut records = Records::new();
    for (index, path) in files.iter().enumerate() {
        let bytes = std::fs::read(path).unwrap();
        for record in decode(&bytes, Format::Cwl, &DecodeLimits::default()).records {
            let Record::Data(mut envelope) = record.unwrap() else {
                continue;
            };
            // Cut every payload in two, as a subscription filter may, so
            // that many requests have their START, REPORT and timeout or
            // crash lines in different records, and so in different
            // batches. Reversing the events first puts much evidence after
            // its REPORT (Lambda prints a timeout or a kill after the
            // REPORT too), which exercises rows changing once reported.
            envelope.events.reverse();
            let tail_events = envelope.events.split_off(envelope.events.len() / 2);
            let mut tail = envelope.clone();
            tail.events = tail_events;
            for (half, mut part) in [envelope, tail].into_iter().enumerate() {
                // Positions as Kinesis would give them: one sequence number per record.
                part.position.sequence_number = Some(format!("{:055}{half}", index));
                records.push(Ok(Record::Data(part)));
            }
        }
        if index == 3 || index == files.len() / 2 {
            records.push(Err(DecodeError::new(
                SourcePosition {
                    record_index: index,
                    sequence_number: Some(format!("{:056}", 1_000_000 + index)),
                    ..SourcePosition::default()
                },
                DecodeErrorKind::Base64 {
                    detail: "invalid byte 33, offset 0".to_owned(),
                },
                format!("!!not base64 {index}").as_bytes(),
            )));
        }
    }
    let metadata = FileSource::load(&directory.join("metadata.toml")).unwrap();
    let _ = std::fs::remove_dir_all(&directory);
    (records, metadata)
}

/// The batches Kinesis would deliver for `records` cut at `cuts` (indexes
/// into `0..=records.len()`), with replays: `(after, which)` delivers again
/// an earlier batch `which` right after batch `after`, as Kinesis does when a
/// later batch failed — in the middle of the stream, not only at its end.
pub fn deliveries<'a, T>(
    records: &'a [T],
    cuts: &[usize],
    replays: &[(usize, usize)],
) -> Vec<&'a [T]> {
    let mut bounds: Vec<usize> = cuts.iter().map(|cut| (*cut).min(records.len())).collect();
    bounds.extend([0, records.len()]);
    bounds.sort_unstable();
    bounds.dedup();
    let slices: Vec<&[T]> = bounds
        .windows(2)
        .map(|pair| &records[pair[0]..pair[1]])
        .collect();
    let mut delivered = Vec::new();
    for (index, slice) in slices.iter().enumerate() {
        delivered.push(*slice);
        for (after, which) in replays {
            if after % slices.len() == index {
                delivered.push(slices[which % (index + 1)]);
            }
        }
    }
    delivered
}
