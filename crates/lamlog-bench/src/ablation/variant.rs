//! The five rows of the ablation, each one technique more than the last.
//!
//! | row | metadata | store | clients and connections | cache |
//! |---|---|---|---|---|
//! | 1 naive | GetItem per key | INSERT per row | new per batch | none |
//! | 2 + batching | BatchGetItem per 100 keys | one write per table | new per batch | none |
//! | 3 + TTL cache | as 2 | as 2 | new per batch | TTL 3600 s |
//! | 4 + clients once | as 2 | as 2 | built once, outside the handler | TTL |
//! | 5 lamlog as shipped | as 2 | `PostgresStore`: COPY + insert-select | once | TTL |
//!
//! Every row runs the same batch through the same [`Pipeline`]; only the
//! backends behind `MetaSource` and `Store` differ, and a variant that builds
//! its clients per batch does so inside the timed region, as a handler that
//! builds them in its body would.

use std::collections::BTreeMap;
use std::time::Duration;

use lamlog::batch::{Pipeline, Settings, Slice, SliceBound};
use lamlog::enrich::{EnrichError, Enricher, MetaCache, MetaSource, Resolved};
use lamlog::notify::TableOnly;
use lamlog::store::postgres::{PostgresConfig, PostgresStore};
use lamlog::store::EitherStore;
use lamlog_core::decode::{decode_lazily, Format};

use super::dynamo::{self, BatchGetSource, ClientSlot, PerKeySource, RequestCounter};
use super::naive_store::{NaiveStore, WriteMode};

/// The schema the shipped store writes in during the benchmark.
pub const SHIPPED_SCHEMA: &str = "lamlog_bench_shipped";

/// One row of the ablation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Technique {
    /// Per-key GetItem, per-row INSERT, new clients per batch, no cache.
    Naive,
    /// + BatchGetItem and one write per batch.
    Batching,
    /// + the TTL cache.
    Cache,
    /// + clients and connections created once, outside the handler.
    ClientsOnce,
    /// lamlog as shipped: + COPY and insert-select.
    Shipped,
}

impl Technique {
    /// The rows, in order.
    pub const ALL: [Technique; 5] = [
        Technique::Naive,
        Technique::Batching,
        Technique::Cache,
        Technique::ClientsOnce,
        Technique::Shipped,
    ];

    /// The row's label in the table.
    pub fn label(self) -> &'static str {
        match self {
            Technique::Naive => "1 naive",
            Technique::Batching => "2 + batching",
            Technique::Cache => "3 + TTL cache",
            Technique::ClientsOnce => "4 + clients once",
            Technique::Shipped => "5 lamlog as shipped",
        }
    }

    fn clients_per_batch(self) -> bool {
        matches!(
            self,
            Technique::Naive | Technique::Batching | Technique::Cache
        )
    }

    fn cached(self) -> bool {
        !matches!(self, Technique::Naive | Technique::Batching)
    }
}

/// The metadata sources of the ablation behind one type.
#[derive(Debug)]
pub enum AnySource {
    /// Row 1.
    PerKey(PerKeySource),
    /// Rows 2–5.
    BatchGet(BatchGetSource),
}

impl MetaSource for AnySource {
    async fn fetch(&self, keys: &[String]) -> Result<BTreeMap<String, Resolved>, EnrichError> {
        match self {
            AnySource::PerKey(source) => source.fetch(keys).await,
            AnySource::BatchGet(source) => source.fetch(keys).await,
        }
    }
}

/// The stores of the ablation behind one type: `Left` the naive store of
/// rows 1–4, `Right` the shipped store of row 5.
pub type AnyStore = EitherStore<NaiveStore, PostgresStore>;

/// One row, ready to run batches.
pub struct Variant {
    /// Which row.
    pub technique: Technique,
    pipeline: Pipeline<AnySource, AnyStore, TableOnly>,
    slot: ClientSlot,
    endpoint: String,
    database_url: String,
    counter: RequestCounter,
    slices: Option<SliceBound>,
}

impl Variant {
    /// Builds the row's pipeline against `endpoint` (DynamoDB) and
    /// `database_url` (PostgreSQL), counting DynamoDB requests in `counter`.
    pub async fn build(
        technique: Technique,
        endpoint: &str,
        database_url: &str,
        counter: &RequestCounter,
    ) -> anyhow::Result<Variant> {
        let slot = ClientSlot::new(dynamo::client(endpoint, counter).await);
        let source = match technique {
            Technique::Naive => AnySource::PerKey(PerKeySource(slot.clone())),
            _ => AnySource::BatchGet(BatchGetSource(slot.clone())),
        };
        let ttl = if technique.cached() {
            lamlog::enrich::cache::DEFAULT_TTL
        } else {
            Duration::ZERO
        };
        let store = match technique {
            Technique::Shipped => {
                let mut config = PostgresConfig::new(database_url);
                config.pool_size = 1;
                config.schema = Some(SHIPPED_SCHEMA.to_owned());
                EitherStore::Right(PostgresStore::connect(&config).await?)
            }
            _ => EitherStore::Left(NaiveStore::connect(database_url, write_mode(technique)).await?),
        };
        Ok(Variant {
            technique,
            pipeline: Pipeline {
                enricher: Enricher::new(
                    source,
                    MetaCache::new(ttl, lamlog::enrich::cache::DEFAULT_CAPACITY),
                ),
                store,
                notifier: TableOnly,
                settings: Settings::default(),
            },
            slot,
            endpoint: endpoint.to_owned(),
            database_url: database_url.to_owned(),
            counter: counter.clone(),
            slices: None,
        })
    }

    /// Handles one Kinesis event as the handler would: for the rows that
    /// build clients per batch, a new DynamoDB client and a new PostgreSQL
    /// connection first. Returns the invocations stored.
    pub async fn handle(&mut self, kinesis_event: &[u8]) -> anyhow::Result<u64> {
        if self.technique.clients_per_batch() {
            self.slot
                .replace(dynamo::client(&self.endpoint, &self.counter).await);
            self.pipeline.store = EitherStore::Left(
                NaiveStore::connect(&self.database_url, write_mode(self.technique)).await?,
            );
        }
        let Some(bound) = self.slices else {
            let summary = self
                .pipeline
                .run(lamlog::batch::BatchInput {
                    source: SOURCE,
                    bytes: kinesis_event,
                    format: Format::Kinesis,
                    received_at_ms: lamlog::generate::DEFAULT_START_MS,
                })
                .await?;
            return Ok(summary.invocations);
        };
        // As the Lambda handler does: records decoded one at a time into a
        // slice, each slice committed once full, as its own transaction.
        let mut invocations = 0;
        let mut slice = Slice::new(SOURCE, lamlog::generate::DEFAULT_START_MS);
        for record in decode_lazily(
            kinesis_event,
            Format::Kinesis,
            &self.pipeline.settings.limits,
        ) {
            slice.add(record);
            if slice.is_full(bound) {
                let full = std::mem::replace(
                    &mut slice,
                    Slice::new(SOURCE, lamlog::generate::DEFAULT_START_MS),
                );
                invocations += self.pipeline.commit(full).await?.invocations;
            }
        }
        if !slice.is_empty() {
            invocations += self.pipeline.commit(slice).await?.invocations;
        }
        Ok(invocations)
    }

    /// Commits batches in slices bounded by `bound`, as the Lambda handler
    /// does, instead of in one transaction.
    pub fn slice_by(&mut self, bound: SliceBound) {
        self.slices = Some(bound);
    }
}

/// What dead letters of the benchmark name as their source.
const SOURCE: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/lamlog-bench";

fn write_mode(technique: Technique) -> WriteMode {
    if technique == Technique::Naive {
        WriteMode::PerRow
    } else {
        WriteMode::Batched
    }
}
