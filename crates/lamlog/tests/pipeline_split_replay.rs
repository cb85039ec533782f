//! The exactly-once property end to end: a generated log stream (real
//! CloudWatch payloads through decode, parse, assemble, enrich, price, judge
//! and the SQLite store), cut into batches at random points with random
//! batches replayed, leaves exactly the content of one single batch.

use crate::support::split_stream;

use lamlog::batch::{Pipeline, Settings};
use lamlog::enrich::file::FileSource;
use lamlog::enrich::{Enricher, MetaCache};
use lamlog::generate::{GenerateOptions, OutputFormat, DEFAULT_START_MS};
use lamlog::notify::TableOnly;
use lamlog::store::sqlite::SqliteStore;
use lamlog::store::Store;
use lamlog_core::decode::{DecodeError, Record};
use proptest::prelude::*;
use split_stream::{deliveries, split_stream, Records};

/// The generated stream's records in delivery order, with two undecodable
/// records mixed in, and the generator's metadata.
fn stream() -> &'static (Records, FileSource) {
    static STREAM: std::sync::OnceLock<(Records, FileSource)> = std::sync::OnceLock::new();
    STREAM.get_or_init(|| {
        split_stream(&GenerateOptions {
            functions: 5,
            invocations: 600,
            seed: 11,
            format: OutputFormat::Cwl,
            start_ms: DEFAULT_START_MS,
            accounts: 1,
            ..GenerateOptions::default()
        })
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

        let cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(records.len() + 1)).collect();
        let replays: Vec<(usize, usize)> =
            replays.iter().map(|(after, which)| (after.index(usize::MAX), which.index(usize::MAX))).collect();
        let delivered = deliveries(records, &cuts, &replays);
        let split = runtime.block_on(ingest(&delivered));
        prop_assert!(split == whole, "split into {} batches with replays differs", delivered.len());
    }
}
