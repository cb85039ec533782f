//! The batch driver: one batch through every stage, in order.
//!
//! ```text
//! decode → parse + assemble → enrich → price → store (+ judge, in its transaction) → deliver
//! ```
//!
//! This is the one place where the order of the stages lives. `lamlog ingest`
//! and the Lambda function call the same [`Pipeline::run`]; they differ only in
//! the backends they hand it. A record that cannot be decoded becomes a dead
//! letter in the same transaction as the rest of the batch, so nothing is lost
//! and nothing stops the batch; an invocation the database refuses is found
//! by bisection and dead-lettered too ([`crate::store::poison`]). Alerts are
//! stored unsent and delivered after the commit ([`crate::deliver`]): a
//! delivery failure never fails a committed batch.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use foldhash::fast::RandomState;
use lamlog_core::assemble::{Environment, EnvironmentKey, Invocation, LineCounts};
use lamlog_core::charges::charges_of;
use lamlog_core::decode::{decode_lazily, DecodeError, DecodeLimits, Format, Record};
use lamlog_core::judge::AlertRules;
use lamlog_core::meta::FunctionMeta;
use lamlog_core::parse::InitializationType;
use lamlog_core::price::{price_with, Billing, PriceTable};

use crate::deliver::{deliver, Delivery};
use crate::enrich::{CacheStats, EnrichError, Enricher, MetaSource};
use crate::notify::Notifier;
use crate::store::poison::write_isolating_poison;
use crate::store::{
    DeadLetter, Store, StoreBatch, StoreError, StoredInvocation, WriteOutcome,
    UNSENT_ALERT_DELAY_MS,
};

mod metadata;
mod slice;

pub use slice::{Finished, Slice, SliceBound};

/// The pure settings of a pipeline: prices, billing, alert rules, limits.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Prices by region.
    pub prices: PriceTable,
    /// Billing granularity and what-if overrides.
    pub billing: Billing,
    /// Default alert thresholds.
    pub rules: AlertRules,
    /// Decode limits.
    pub limits: DecodeLimits,
    /// When set (by [`Pipeline::set_deadline`]), no stage waits past it.
    pub deadline: Option<tokio::time::Instant>,
    /// How long an alert that its batch did not deliver waits in the outbox
    /// before a later batch sends it, and how long a later batch's claim on
    /// it holds (ms).
    pub unsent_alert_delay_ms: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            prices: PriceTable::list(),
            billing: Billing::default(),
            rules: AlertRules::default(),
            limits: DecodeLimits::default(),
            deadline: None,
            unsent_alert_delay_ms: UNSENT_ALERT_DELAY_MS,
        }
    }
}

/// One batch of input.
#[derive(Debug, Clone, Copy)]
pub struct BatchInput<'a> {
    /// What it is: a file path, `-`, or a Kinesis stream ARN (dead letters name it).
    pub source: &'a str,
    /// The bytes, in `format`.
    pub bytes: &'a [u8],
    /// The wrapping, or `Auto`.
    pub format: Format,
    /// When it was received (epoch ms), stamped on dead letters.
    pub received_at_ms: i64,
}

/// What a batch did.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct BatchSummary {
    /// Records in the input (decoded, control or bad).
    pub records: u64,
    /// `CONTROL_MESSAGE` records, skipped.
    pub control_messages: u64,
    /// Log lines by kind.
    pub lines: LineCounts,
    /// Distinct invocations in the batch.
    pub invocations: u64,
    /// What the batch's assembled invocations and dead letters held at
    /// their largest, bytes ([`Slice::held_bytes`]).
    pub held_bytes: u64,
    /// What the store did.
    pub outcome: WriteOutcome,
    /// Records that could not be decoded.
    pub undecodable_records: u64,
    /// Enrichment cache counters for this batch.
    pub cache: CacheStats,
    /// Time spent in the store's transaction.
    pub store_ms: f64,
    /// What the alert delivery after the commit did.
    pub delivery: Delivery,
}

/// Why a batch failed. Nothing of it was committed.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Metadata could not be fetched.
    #[error(transparent)]
    Enrich(#[from] EnrichError),
    /// The store refused the batch.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BatchError {
    /// Whether retrying the batch may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            BatchError::Enrich(error) => error.is_transient(),
            BatchError::Store(error) => error.is_transient(),
        }
    }
}

/// The stages that touch the world, and the settings of those that do not.
#[derive(Debug)]
pub struct Pipeline<M, S, N> {
    /// Metadata, behind its cache.
    pub enricher: Enricher<M>,
    /// The store.
    pub store: S,
    /// Where new alerts go besides the table.
    pub notifier: N,
    /// Prices, billing, rules, limits.
    pub settings: Settings,
}

impl<M: MetaSource, S: Store, N: Notifier> Pipeline<M, S, N> {
    /// Bounds every wait of later batches — metadata fetches and their
    /// retries, the store's connection, locks and statements — by
    /// `deadline`. The Lambda handler sets it to its deadline less a margin
    /// before each slice, so that a slice runs out of time as a transient
    /// error it can report, never as a Lambda timeout.
    pub fn set_deadline(&mut self, deadline: Option<tokio::time::Instant>) {
        self.settings.deadline = deadline;
        self.enricher.set_deadline(deadline);
        self.store.set_deadline(deadline);
    }

    /// Runs one batch through every stage, as one transaction.
    ///
    /// Records are decoded one at a time and folded in, so the batch holds
    /// its input's bytes and its invocations, never all its decoded events.
    pub async fn run(&mut self, input: BatchInput<'_>) -> Result<BatchSummary, BatchError> {
        let mut slice = Slice::new(input.source, input.received_at_ms);
        for record in decode_lazily(input.bytes, input.format, &self.settings.limits) {
            slice.add(record);
        }
        self.commit(slice).await
    }

    /// Runs already-decoded records through the rest of the stages, as one
    /// transaction.
    pub async fn run_records(
        &mut self,
        source: &str,
        records: Vec<Result<Record, DecodeError>>,
        received_at_ms: i64,
    ) -> Result<BatchSummary, BatchError> {
        let mut slice = Slice::new(source, received_at_ms);
        for record in records {
            slice.add(record);
        }
        self.commit(slice).await
    }

    /// Runs a slice, its records already folded in, through the rest of the
    /// stages, as one transaction. The Lambda handler and `lamlog ingest`
    /// fill slices one record at a time and commit each when it is full, so
    /// that what a batch holds stays bounded however much its records
    /// inflate to.
    pub async fn commit(&mut self, slice: Slice) -> Result<BatchSummary, BatchError> {
        self.commit_finished(slice.finish()).await
    }

    /// [`Pipeline::commit`] of a slice already [finished](Slice::finish).
    pub async fn commit_finished(
        &mut self,
        finished: Finished,
    ) -> Result<BatchSummary, BatchError> {
        self.store_kept(
            &finished.source,
            (finished.invocations, &finished.environments),
            &finished.dead_letters,
            finished.summary,
            finished.received_at_ms,
        )
        .await
    }

    /// Enriches, prices and stores assembled invocations, then delivers the
    /// alerts outbox. `source` names the input in dead letters.
    pub async fn store_invocations(
        &mut self,
        source: &str,
        invocations: Vec<Invocation>,
        dead_letters: &[DeadLetter],
        summary: BatchSummary,
        received_at_ms: i64,
    ) -> Result<BatchSummary, BatchError> {
        self.store_kept(
            source,
            (invocations, &[]),
            dead_letters,
            summary,
            received_at_ms,
        )
        .await
    }

    /// [`Pipeline::store_invocations`], keeping the environments the batch
    /// saw start first: in the round trip of the lookup of the batch's
    /// streams, which then finds them, as later batches' will (a retry keeps
    /// them again).
    async fn store_kept(
        &mut self,
        source: &str,
        (invocations, environments): (Vec<Invocation>, &[Environment]),
        dead_letters: &[DeadLetter],
        mut summary: BatchSummary,
        received_at_ms: i64,
    ) -> Result<BatchSummary, BatchError> {
        let keys = metadata::meta_keys(&invocations);
        let cache_before = self.enricher.stats();
        let resolved = self.enricher.lookup(&keys).await?;
        let cache_after = self.enricher.stats();
        summary.cache = CacheStats {
            hits: cache_after.hits - cache_before.hits,
            misses: cache_after.misses - cache_before.misses,
        };
        let (invocations, metadata) = metadata::apply_metadata(invocations, &resolved);
        summary.invocations = invocations.len() as u64;
        let started = self
            .environments_of(&invocations, environments, received_at_ms)
            .await?;
        let metas = metadata::meta_of(&invocations, &metadata);
        let stored: Vec<StoredInvocation> = invocations
            .into_iter()
            .zip(metas)
            .zip(started)
            .map(|((invocation, meta), started)| self.price(invocation, meta, started))
            .collect();
        let batch = StoreBatch {
            invocations: &stored,
            dead_letters,
            metadata: &metadata,
            rules: &self.settings.rules,
            received_at_ms,
            unsent_alert_delay_ms: self.settings.unsent_alert_delay_ms,
        };
        let started = Instant::now();
        summary.outcome = write_isolating_poison(&mut self.store, &batch, source).await?;
        summary.store_ms = started.elapsed().as_secs_f64() * 1000.0;
        let delivering = deliver(
            &mut self.store,
            &mut self.notifier,
            &summary.outcome.new_alerts,
            received_at_ms,
            self.settings.unsent_alert_delay_ms,
        );
        summary.delivery = match self.settings.deadline {
            None => delivering.await,
            // What is not sent by then waits in the outbox.
            Some(deadline) => tokio::time::timeout_at(deadline, delivering)
                .await
                .unwrap_or_else(|_| Delivery {
                    error: Some(
                        "out of time before the deadline; alerts wait in the outbox".to_owned(),
                    ),
                    ..Delivery::default()
                }),
        };
        Ok(summary)
    }

    /// How each invocation's environment started, where the store keeps it
    /// (`None` for one not reported, or whose stream it does not know): one
    /// lookup per batch, of each log stream once, after `kept` (seen at
    /// `seen_ms`) is kept.
    async fn environments_of(
        &mut self,
        invocations: &[Invocation],
        kept: &[Environment],
        seen_ms: i64,
    ) -> Result<Vec<Option<InitializationType>>, StoreError> {
        // Hashed, not ordered: each invocation looks its stream up, and
        // hashing the names (foldhash, seeded per map) costs less than
        // comparing them down a tree.
        let streams: HashSet<(&str, &str, &str), RandomState> =
            invocations.iter().filter_map(stream_of).collect();
        if streams.is_empty() && kept.is_empty() {
            return Ok(vec![None; invocations.len()]);
        }
        let mut keys: Vec<EnvironmentKey> = streams
            .into_iter()
            .map(|(account, log_group, log_stream)| EnvironmentKey {
                account: account.to_owned(),
                log_group: log_group.to_owned(),
                log_stream: log_stream.to_owned(),
            })
            .collect();
        // The store reads them in key order, as it always has.
        keys.sort_unstable();
        let found = self
            .store
            .record_and_read_environments(kept, seen_ms, &keys)
            .await?;
        let by_stream: HashMap<(&str, &str, &str), InitializationType, RandomState> = found
            .iter()
            .map(|environment| {
                let key = &environment.key;
                (
                    (
                        key.account.as_str(),
                        key.log_group.as_str(),
                        key.log_stream.as_str(),
                    ),
                    environment.initialization_type,
                )
            })
            .collect();
        Ok(invocations
            .iter()
            .map(|invocation| {
                stream_of(invocation).and_then(|stream| by_stream.get(&stream).copied())
            })
            .collect())
    }

    fn price(
        &self,
        invocation: Invocation,
        meta: Option<&FunctionMeta>,
        started: Option<InitializationType>,
    ) -> StoredInvocation {
        let architecture = meta.map(|meta| meta.architecture).unwrap_or_default();
        let region = meta.and_then(|meta| meta.region.clone());
        let cost_usd = match (
            invocation.memory_size_mb,
            invocation.duration_ms,
            invocation.is_reported(),
        ) {
            (Some(memory_size_mb), Some(duration_ms), true) => {
                let prices = self.settings.prices.for_region(region.as_deref());
                let cost = price_with(
                    memory_size_mb,
                    duration_ms,
                    invocation.billed_duration_ms,
                    architecture,
                    &charges_of(&invocation, meta, started),
                    prices,
                    &self.settings.billing,
                );
                Some(cost.total_usd)
            }
            _ => None,
        };
        StoredInvocation {
            enriched: meta.is_some(),
            tenant: meta.and_then(|meta| meta.tenant.clone()),
            architecture,
            region,
            cost_usd,
            invocation,
        }
    }
}

/// The (account, log group, log stream) of a reported invocation whose
/// stream is known: the environment that decides its price.
fn stream_of(invocation: &Invocation) -> Option<(&str, &str, &str)> {
    let log_stream = invocation.log_stream.as_deref()?;
    invocation.is_reported().then_some((
        invocation.account.as_str(),
        invocation.log_group.as_str(),
        log_stream,
    ))
}
