//! The exactly-once property on PostgreSQL through the real pipeline:
//! generated CloudWatch payloads through decode, parse, assemble, enrich,
//! price, judge and the PostgreSQL store. Each case is a stream of its own
//! (its own seed, number of functions and size) that crosses a UTC midnight,
//! so its rows land in two day partitions and in `pending_invocations`; it is
//! cut into batches at random points, earlier batches are replayed in the
//! middle of the stream, and the result must be exactly what one batch of
//! the whole stream stores.
//!
//! Needs PostgreSQL at `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); without it the test fails.
#![cfg(feature = "postgres")]

#[allow(dead_code)]
use crate::support::postgres_schema as schema;
use crate::support::split_stream;

use lamlog::batch::{Pipeline, Settings};
use lamlog::enrich::file::FileSource;
use lamlog::enrich::{Enricher, MetaCache};
use lamlog::generate::{GenerateOptions, OutputFormat, DEFAULT_START_MS};
use lamlog::notify::TableOnly;
use lamlog::store::Store;
use lamlog_core::decode::{DecodeError, Record};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestCaseError;
use schema::TestStore;
use split_stream::{deliveries, split_stream};

/// `DEFAULT_START_MS` is a UTC midnight (2026-11-01T00:00:00Z).
const MIDNIGHT_MS: i64 = DEFAULT_START_MS;
const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    functions: usize,
    invocations: u64,
    /// How far before midnight the stream starts, as a share of its span.
    lead: f64,
    cuts: Vec<Index>,
    replays: Vec<(Index, Index)>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        1usize..=4,
        20u64..=60,
        0.1f64..0.9,
        prop::collection::vec(any::<Index>(), 1..10),
        prop::collection::vec((any::<Index>(), any::<Index>()), 0..4),
    )
        .prop_map(|(seed, functions, invocations, lead, cuts, replays)| Case {
            seed,
            functions,
            invocations,
            lead,
            cuts,
            replays,
        })
}

fn options(case: &Case, start_ms: i64) -> GenerateOptions {
    GenerateOptions {
        functions: case.functions,
        invocations: case.invocations,
        seed: case.seed,
        format: OutputFormat::Cwl,
        start_ms,
        accounts: 1 + (case.seed % 2) as usize,
        ..GenerateOptions::default()
    }
}

/// The event times of `records`: (first, last).
fn span(records: &[Result<Record, DecodeError>]) -> (i64, i64) {
    let times = records
        .iter()
        .filter_map(|record| match record {
            Ok(Record::Data(envelope)) => Some(envelope.events.iter()),
            _ => None,
        })
        .flatten()
        .filter_map(|event| event.timestamp_ms);
    times.fold((i64::MAX, i64::MIN), |(first, last), time| {
        (first.min(time), last.max(time))
    })
}

async fn ingest(metadata: &FileSource, batches: &[&[Result<Record, DecodeError>]]) -> String {
    let mut pipeline = Pipeline {
        enricher: Enricher::new(metadata.clone(), MetaCache::default()),
        store: TestStore::fresh().await,
        notifier: TableOnly,
        settings: Settings::default(),
    };
    for batch in batches {
        pipeline
            .run_records("stream", batch.to_vec(), MIDNIGHT_MS + DAY_MS)
            .await
            .unwrap_or_else(|error| panic!("a batch failed: {error}"));
    }
    pipeline.store.dump().await.unwrap()
}

async fn check(case: &Case) -> Result<(), TestCaseError> {
    // The generator's clock only shifts with its start, so a first run at
    // midnight gives the span and the first event's offset from the start;
    // the stream is then generated again so that its first event falls
    // `lead` of that span before midnight.
    let (first, last) = span(&split_stream(&options(case, MIDNIGHT_MS)).0);
    let offset = first - MIDNIGHT_MS;
    let start_ms = MIDNIGHT_MS - offset - ((last - first) as f64 * case.lead) as i64 - 1;
    let (records, metadata) = split_stream(&options(case, start_ms));
    let (first, last) = span(&records);
    prop_assert!(
        first < MIDNIGHT_MS && last >= MIDNIGHT_MS,
        "the stream crosses midnight: {first}..{last}"
    );

    let whole = ingest(&metadata, &[records.as_slice()]).await;
    prop_assert!(
        whole.contains("invocations "),
        "the stream stores invocations"
    );
    prop_assert!(whole.contains("dead_letters "), "and its dead letters");
    let cuts: Vec<usize> = case
        .cuts
        .iter()
        .map(|cut| cut.index(records.len() + 1))
        .collect();
    let replays: Vec<(usize, usize)> = case
        .replays
        .iter()
        .map(|(after, which)| (after.index(usize::MAX), which.index(usize::MAX)))
        .collect();
    let delivered = deliveries(&records, &cuts, &replays);
    let split = ingest(&metadata, &delivered).await;
    prop_assert!(
        split == whole,
        "split into {} batches with replays differs",
        delivered.len()
    );
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A stream whose first event comes seconds after its start: placing the
/// start, rather than the first event, before midnight left it wholly after.
#[test]
fn a_stream_that_starts_late_still_crosses_midnight() {
    // Where the stream is cut does not matter here; any cut will do.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let cut = any::<Index>().new_tree(&mut runner).unwrap().current();
    let case = Case {
        seed: 15_512_787_118_116_695_129,
        functions: 1,
        invocations: 20,
        lead: 0.1,
        cuts: vec![cut],
        replays: Vec::new(),
    };
    if let Err(error) = runtime().block_on(check(&case)) {
        panic!("{error}");
    }
}

#[test]
fn any_generated_stream_split_and_replayed_leaves_the_content_of_one_batch() {
    let runtime = runtime();
    let config = proptest::test_runner::Config {
        cases: 256,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    if let Err(error) = runner.run(&case(), |case| runtime.block_on(check(&case))) {
        panic!("{error}");
    }
}
