//! One generated workload for the oracle tests: its directory (removed on
//! drop), its truth, its metadata and its Kinesis deliveries. The including
//! test also includes `support/oracle.rs` as `oracle` and
//! `support/oracle_delivery.rs` as `oracle_delivery`.

use std::path::PathBuf;

use lamlog::batch::{BatchInput, Pipeline, Settings};
use lamlog::enrich::file::FileSource;
use lamlog::enrich::{Enricher, MetaCache};
use lamlog::generate::{generate, GenerateOptions, OutputFormat, DEFAULT_START_MS};
use lamlog::notify::TableOnly;
use lamlog::store::Store;
use lamlog_core::decode::Format;

use super::oracle::Truth;
use super::oracle_delivery::kinesis_deliveries;

/// Source name the deliveries are ingested under.
pub const STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/lamlog-logs";

/// A generated workload, its truth and its deliveries.
pub struct Workload {
    pub directory: PathBuf,
    pub truth: Truth,
    /// Lambda Kinesis events, in delivery order.
    pub deliveries: Vec<Vec<u8>>,
    pub metadata: FileSource,
    /// A minute after the last invocation: when every batch is received, so
    /// that function watermarks follow the invocations' times all the way.
    pub received_at_ms: i64,
}

impl Drop for Workload {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

impl Workload {
    /// Generates `invocations` invocations of `functions` functions over two
    /// accounts from `seed`, delivered in `batches` batches (and a replay).
    pub fn generate(seed: u64, functions: usize, invocations: u64, batches: usize) -> Workload {
        let directory = std::env::temp_dir().join(format!(
            "lamlog-oracle-{}-{seed}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        let options = GenerateOptions {
            functions,
            invocations,
            seed,
            format: OutputFormat::Kinesis,
            start_ms: DEFAULT_START_MS,
            accounts: 2,
            ..GenerateOptions::default()
        };
        generate(&options, &directory).unwrap();
        let truth = Truth::load(&directory);
        assert_eq!(truth.invocations.len() as u64, invocations);
        let last_ms = truth
            .invocations
            .values()
            .map(|invocation| invocation.start_time_ms)
            .max()
            .unwrap();
        Workload {
            deliveries: kinesis_deliveries(&directory, batches),
            metadata: FileSource::load(&directory.join("metadata.toml")).unwrap(),
            truth,
            directory,
            received_at_ms: last_ms + 60_000,
        }
    }

    /// Runs every delivery, in order, through the real [`Pipeline`] into
    /// `store`; answers the store and the control messages the batches saw.
    #[allow(dead_code)] // the handler's oracle test drives the handler instead
    pub async fn ingest_into<S: Store>(&self, store: S) -> (S, u64) {
        let mut pipeline = Pipeline {
            enricher: Enricher::new(self.metadata.clone(), MetaCache::default()),
            store,
            notifier: TableOnly,
            settings: Settings::default(),
        };
        let mut control_messages = 0;
        for event in &self.deliveries {
            let input = BatchInput {
                source: STREAM_ARN,
                bytes: event,
                format: Format::Kinesis,
                received_at_ms: self.received_at_ms,
            };
            control_messages += pipeline.run(input).await.unwrap().control_messages;
        }
        (pipeline.store, control_messages)
    }
}
