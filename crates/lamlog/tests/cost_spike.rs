//! Cost spikes end to end: a generated workload of about 32 hours in which
//! one function is five times as busy during one hour, through decode, parse,
//! assemble, enrich, price, judge, the store and the outbox, on SQLite and
//! on PostgreSQL.
//!
//! The fleet (seed 1, four functions, one memory size each):
//! - `SPIKING` is 5× as busy in hour 27, with its floor set to $0 in its
//!   metadata (a generated workload is far cheaper than the default $0.50 an
//!   hour), so only the multiple decides: it must alert for that hour;
//! - `TINY` is 20× as busy in the same hour, under the default floor: a
//!   large relative jump of a few cents stays quiet (and alerts when its
//!   floor is lowered, which shows the floor is what keeps it quiet);
//! - `STEADY` never spikes, with its floor at $0 as well: the baseline must
//!   absorb its Poisson noise, cold starts and errors;
//! - the fourth function keeps the defaults.
//!
//! The alert must be the same whether the stream is ingested in one batch
//! or in many, with earlier batches replayed, and replaying adds none: the
//! notifier sees each dedup key once.
//!
//! PostgreSQL is `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); without it the test fails.
#![cfg(all(feature = "sqlite", feature = "postgres"))]

use crate::support::kept;
#[allow(dead_code)]
use crate::support::postgres_schema as schema;
use crate::support::split_stream;

use std::collections::BTreeMap;

use kept::Kept;
use lamlog::batch::{Pipeline, Settings};
use lamlog::enrich::file::FileSource;
use lamlog::enrich::{Enricher, MetaCache};
use lamlog::generate::{generate, GenerateOptions, OutputFormat, Spike, DEFAULT_START_MS};
use lamlog::store::sqlite::SqliteStore;
use lamlog::store::Store;
use lamlog_core::decode::{DecodeError, Record};
use lamlog_core::judge::AlertKind;
use split_stream::{deliveries, split_stream, Records};

type Batch<'a> = &'a [Result<Record, DecodeError>];

const HOUR_MS: i64 = 3_600_000;
const SPIKE_HOUR: u64 = 27;
/// The spikes end the workload early: 12,000 invocations spread over 36
/// hours at the fleet's rates last about 32 with them.
const HOURS: u64 = 36;
const SPIKING: usize = 2;
const TINY: usize = 3;
const STEADY: usize = 0;

fn options() -> GenerateOptions {
    GenerateOptions {
        functions: 4,
        invocations: 12_000,
        seed: 1,
        format: OutputFormat::Cwl,
        start_ms: DEFAULT_START_MS,
        accounts: 1,
        leak: None,
        hours: Some(HOURS),
        spikes: [(SPIKING, 5), (TINY, 20)]
            .map(|(function, factor)| Spike {
                function,
                hour: SPIKE_HOUR,
                factor,
            })
            .to_vec(),
    }
}

/// Every function's `(account, name)`, in fleet order, from `truth.json`,
/// checking that none changes its memory size (a level shift the test does
/// not mean to make).
fn fleet(test: &str) -> Vec<(String, String)> {
    let directory =
        std::env::temp_dir().join(format!("lamlog-cost-spike-{test}-{}", std::process::id()));
    generate(&options(), &directory).unwrap();
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(directory.join("truth.json")).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&directory);
    assert_eq!(
        truth["spikes"][0]["hour"], SPIKE_HOUR,
        "the spike is recorded"
    );
    truth["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|function| {
            let sizes = function["memory_sizes_mb"].as_array().unwrap();
            assert_eq!(sizes.len(), 1, "{function}");
            (
                function["account"].as_str().unwrap().to_owned(),
                function["function"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Metadata that sets the cost-spike floor of each `(function, floor)`.
fn metadata(fleet: &[(String, String)], floors: &[(usize, f64)]) -> FileSource {
    let mut toml = String::new();
    for (index, floor) in floors {
        let (account, function) = &fleet[*index];
        toml.push_str(&format!(
            "[\"{account}#{function}\".alerts]\ncost_spike_min_usd = {floor:?}\n"
        ));
    }
    FileSource::from_text(&toml, "cost-spike test").unwrap()
}

/// The stream, decoded, as Kinesis delivers it (see `split_stream`).
fn stream() -> &'static Records {
    static STREAM: std::sync::OnceLock<Records> = std::sync::OnceLock::new();
    STREAM.get_or_init(|| split_stream(&options()).0)
}

/// Each batch is received after the whole workload, as in a backfill.
const RECEIVED_AT_MS: i64 = DEFAULT_START_MS + (HOURS as i64 + 1) * HOUR_MS;

/// Runs `batches` through a pipeline on `store`; returns the cost-spike
/// alerts the notifier was given, as (function, hour from the start), and
/// the store's dump.
async fn ingest<S: Store>(
    store: S,
    metadata: FileSource,
    batches: &[Batch<'_>],
) -> (Vec<(String, i64)>, String) {
    let mut pipeline = Pipeline {
        enricher: Enricher::new(metadata, MetaCache::default()),
        store,
        notifier: Kept::default(),
        settings: Settings::default(),
    };
    for batch in batches {
        pipeline
            .run_records("stream", batch.to_vec(), RECEIVED_AT_MS)
            .await
            .unwrap();
    }
    let mut keys: BTreeMap<String, usize> = BTreeMap::new();
    for alert in &pipeline.notifier.0 {
        *keys.entry(alert.dedup_key.clone()).or_default() += 1;
    }
    assert!(
        keys.values().all(|count| *count == 1),
        "an alert was sent twice: {keys:?}"
    );
    let spikes = pipeline
        .notifier
        .0
        .iter()
        .filter(|alert| alert.kind == AlertKind::CostSpike)
        .map(|alert| {
            assert!(alert.message.contains("baseline"), "{}", alert.message);
            (
                alert.function.clone(),
                (alert.window_start_ms - DEFAULT_START_MS) / HOUR_MS,
            )
        })
        .collect();
    (spikes, pipeline.store.dump().await.unwrap())
}

/// Many batches, with earlier ones replayed in the middle of the stream.
fn split_batches(records: &Records) -> Vec<Batch<'_>> {
    let cuts: Vec<usize> = (1..40).map(|cut| cut * records.len() / 40).collect();
    deliveries(records, &cuts, &[(7, 3), (25, 24), (38, 30)])
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn expected(fleet: &[(String, String)], functions: &[usize]) -> Vec<(String, i64)> {
    functions
        .iter()
        .map(|index| (fleet[*index].1.clone(), SPIKE_HOUR as i64))
        .collect()
}

#[test]
fn sqlite_alerts_the_spike_once_and_not_the_controls() {
    let fleet = fleet("sqlite");
    let floors = [(SPIKING, 0.0), (STEADY, 0.0)];
    let records = stream();
    let runtime = runtime();
    let (whole, whole_dump) = runtime.block_on(ingest(
        SqliteStore::open_in_memory().unwrap(),
        metadata(&fleet, &floors),
        &[records.as_slice()],
    ));
    assert_eq!(whole, expected(&fleet, &[SPIKING]));
    let (split, split_dump) = runtime.block_on(ingest(
        SqliteStore::open_in_memory().unwrap(),
        metadata(&fleet, &floors),
        &split_batches(records),
    ));
    assert_eq!(split, whole, "split into batches with replays");
    assert!(split_dump == whole_dump, "split and whole stores differ");
    // The tiny function is quiet because of its floor: without one it alerts.
    let (unfloored, _) = runtime.block_on(ingest(
        SqliteStore::open_in_memory().unwrap(),
        metadata(&fleet, &[(SPIKING, 0.0), (TINY, 0.0), (STEADY, 0.0)]),
        &[records.as_slice()],
    ));
    let mut both = expected(&fleet, &[SPIKING, TINY]);
    both.sort();
    let mut unfloored = unfloored;
    unfloored.sort();
    assert_eq!(unfloored, both);
}

#[test]
fn postgres_alerts_the_spike_once_and_not_the_controls() {
    let fleet = fleet("postgres");
    let floors = [(SPIKING, 0.0), (STEADY, 0.0)];
    let records = stream();
    let runtime = runtime();
    let (whole, _) = runtime.block_on(async {
        ingest(
            schema::TestStore::fresh().await,
            metadata(&fleet, &floors),
            // Replaying the whole stream adds nothing.
            &[records.as_slice(), records.as_slice()],
        )
        .await
    });
    assert_eq!(whole, expected(&fleet, &[SPIKING]));
    let (split, _) = runtime.block_on(async {
        ingest(
            schema::TestStore::fresh().await,
            metadata(&fleet, &floors),
            &split_batches(records),
        )
        .await
    });
    assert_eq!(split, whole, "split into batches with replays");
}
