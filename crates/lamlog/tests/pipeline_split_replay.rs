//! The exactly-once property end to end: a generated log stream (real
//! CloudWatch payloads through decode, parse, assemble, enrich, price, judge
//! and the SQLite store), cut into batches at random points with random
//! batches replayed, leaves exactly the content of one single batch.

use std::path::PathBuf;

use lamlog::batch::{Pipeline, Settings};
use lamlog::enrich::file::FileSource;
use lamlog::enrich::{Enricher, MetaCache};
use lamlog::generate::{generate, GenerateOptions, OutputFormat, DEFAULT_START_MS};
use lamlog::notify::TableOnly;
use lamlog::store::sqlite::SqliteStore;
use lamlog::store::Store;
use lamlog_core::decode::{
    decode, DecodeError, DecodeErrorKind, DecodeLimits, Format, Record, SourcePosition,
};
use proptest::prelude::*;

type Records = Vec<Result<Record, DecodeError>>;

/// The generated stream's records in delivery order, with two undecodable
/// records mixed in, and the generator's metadata.
fn stream() -> &'static (Records, FileSource) {
    static STREAM: std::sync::OnceLock<(Records, FileSource)> = std::sync::OnceLock::new();
    STREAM.get_or_init(|| {
        let directory: PathBuf =
            std::env::temp_dir().join(format!("lamlog-split-replay-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        let options = GenerateOptions {
            functions: 5,
            invocations: 600,
            seed: 11,
            format: OutputFormat::Cwl,
            start_ms: DEFAULT_START_MS,
            accounts: 1,
        };
        generate(&options, &directory).unwrap();
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
                records.push(Err(DecodeError {
                    position: SourcePosition {
                        record_index: index,
                        sequence_number: Some(format!("{:056}", 1_000_000 + index)),
                        ..SourcePosition::default()
                    },
                    kind: DecodeErrorKind::Base64 {
                        detail: "invalid byte 33, offset 0".to_owned(),
                    },
                    raw: format!("!!not base64 {index}").into_bytes(),
                }));
            }
        }
        let metadata = FileSource::load(&directory.join("metadata.toml")).unwrap();
        let _ = std::fs::remove_dir_all(&directory);
        (records, metadata)
    })
}

async fn ingest(batches: &[&[Result<Record, DecodeError>]]) -> String {
    let (_, metadata) = stream();
    let mut pipeline = Pipeline {
        enricher: Enricher::new(metadata.clone(), MetaCache::default()),
        store: SqliteStore::open_in_memory().unwrap(),
        notifier: TableOnly,
        settings: Settings::default(),
    };
    for batch in batches {
        pipeline
            .run_records("stream", batch.to_vec(), 1_793_491_200_000)
            .await
            .unwrap();
    }
    pipeline.store.dump().await.unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn any_split_and_replay_leaves_the_same_content(
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 1..12),
        replays in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..4),
    ) {
        let (records, _) = stream();
        let runtime = runtime();
        let whole = runtime.block_on(ingest(&[records.as_slice()]));
        prop_assert!(whole.contains("invocations "), "the stream stores invocations");
        prop_assert!(whole.contains("dead_letters "), "and its dead letters");

        let mut bounds: Vec<usize> = cuts.iter().map(|cut| cut.index(records.len() + 1)).collect();
        bounds.extend([0, records.len()]);
        bounds.sort_unstable();
        bounds.dedup();
        let slices: Vec<&[Result<Record, DecodeError>]> =
            bounds.windows(2).map(|pair| &records[pair[0]..pair[1]]).collect();
        // Kinesis replays a batch after a later one failed: insert replays of
        // earlier batches after the batch that follows them.
        let mut delivered = Vec::new();
        for (index, slice) in slices.iter().enumerate() {
            delivered.push(*slice);
            for (after, which) in &replays {
                if after.index(slices.len()) == index {
                    delivered.push(slices[which.index(index + 1)]);
                }
            }
        }
        let split = runtime.block_on(ingest(&delivered));
        prop_assert!(split == whole, "split into {} batches with replays differs", delivered.len());
    }
}
