//! Store: the stage that makes a batch durable, exactly once.
//!
//! Kinesis delivers at least once, so a store must turn re-deliveries into
//! no-ops. Every backend implements the same contract, checked by one
//! conformance suite (`tests/store_conformance.rs`):
//!
//! - A batch is written in **one transaction**: all of it or none of it.
//! - Each [`StoredInvocation`] is merged into the row with its key
//!   (account, function, request id) with [`Invocation::merge`], a lattice
//!   join; a row that does not change is not written.
//! - Rollups (`function_minute`, `function_minute_histogram`) move only by
//!   [`lamlog_core::rollup::rollup_delta`] of rows this transaction inserted
//!   or changed. Every rollup figure is an integer, so totals are exact.
//! - Alerts: for each changed row, `invocation_alerts(new) − invocation_alerts(old)`
//!   is upserted by dedup key; a new key counts as a new alert, an existing one
//!   adds an occurrence and keeps the least request id as its example.
//!   Windows whose end plus grace the function's watermark passes in this batch
//!   are judged once with [`lamlog_core::judge::window_alert`].
//! - Dead letters are inserted if absent, keyed by [`DeadLetter::dedup_key`].
//!
//! The result: the stored content is identical for any split of the same
//! stream into batches and any replay of any batch.

use std::collections::BTreeMap;

use lamlog_core::assemble::Invocation;
use lamlog_core::decode::SourcePosition;
use lamlog_core::judge::{Alert, AlertRules};
use lamlog_core::meta::{Architecture, FunctionMeta};

#[cfg(feature = "postgres")]
pub mod postgres;
pub mod prune;
#[cfg(feature = "sqlite")]
pub mod sqlite;

/// An invocation ready to store: assembled, enriched and priced.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredInvocation {
    /// The merged evidence of this batch.
    pub invocation: Invocation,
    /// Whether metadata was found for the function.
    pub enriched: bool,
    /// The tenant from metadata.
    pub tenant: Option<String>,
    /// The architecture used for pricing (x86_64 when not enriched).
    pub architecture: Architecture,
    /// The region from metadata.
    pub region: Option<String>,
    /// Cost in USD, when the REPORT is known.
    pub cost_usd: Option<f64>,
}

/// A record that could not be decoded, kept with its raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The input: a file path, `-`, or the Kinesis stream ARN.
    pub source: String,
    /// Where the record sits in it.
    pub position: SourcePosition,
    /// Why it was refused (the decode error, as text).
    pub reason: String,
    /// The record exactly as received.
    pub raw: Vec<u8>,
    /// When it was received (epoch ms).
    pub received_at_ms: i64,
}

impl DeadLetter {
    /// The position as one string: the Kinesis sequence number when there is
    /// one, otherwise `record:<index>` and `@<byte offset>` when known.
    pub fn position_key(&self) -> String {
        match (&self.position.sequence_number, self.position.byte_offset) {
            (Some(sequence_number), _) => sequence_number.clone(),
            (None, Some(offset)) => format!("record:{}@{offset}", self.position.record_index),
            (None, None) => format!("record:{}", self.position.record_index),
        }
    }

    /// `source|position_key|fnv64(raw)` in hex: the same record re-delivered
    /// has the same key; two different records never share one in practice.
    pub fn dedup_key(&self) -> String {
        format!(
            "{}|{}|{:016x}",
            self.source,
            self.position_key(),
            fnv1a_64(&self.raw)
        )
    }
}

/// FNV-1a, 64 bit: a stable, dependency-free fingerprint for dead-letter keys
/// (not a defence against collisions someone crafts; the source and position
/// are part of the key too).
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One batch for the store.
#[derive(Debug, Clone, Copy)]
pub struct StoreBatch<'a> {
    /// Invocations, ordered by key, at most one per key.
    pub invocations: &'a [StoredInvocation],
    /// Records that could not be decoded.
    pub dead_letters: &'a [DeadLetter],
    /// Metadata of the batch's functions, keyed by `account#function`, for
    /// alert thresholds.
    pub metadata: &'a BTreeMap<String, FunctionMeta>,
    /// Default alert rules.
    pub rules: &'a AlertRules,
    /// When the batch was received (epoch ms): the first-seen time of rows
    /// still waiting for their REPORT, and the "now" that decides which day
    /// partitions PostgreSQL may create.
    pub received_at_ms: i64,
}

/// What a batch write did.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct WriteOutcome {
    /// Invocation rows inserted.
    pub inserted: u64,
    /// Existing rows that this batch changed (status raised, REPORT filled in).
    pub updated: u64,
    /// Rows already stored as they are: replays.
    pub unchanged: u64,
    /// Dead letters inserted (replays of a dead letter are not counted).
    pub dead_letters: u64,
    /// Alerts whose dedup key is new: these are to be notified.
    pub new_alerts: Vec<Alert>,
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or the connection broke.
    #[error("database connection failed: {0}")]
    Connection(String),
    /// A statement failed (constraint, syntax, disk full, …).
    #[error("database statement failed: {0}")]
    Statement(String),
    /// Another writer holds a lock the statement needs; retrying helps.
    #[error("database busy: {0}")]
    Busy(String),
    /// The schema is newer than this build or a migration failed.
    #[error("schema migration failed: {0}")]
    Migration(String),
}

impl StoreError {
    /// Whether retrying the same batch may succeed. This one predicate
    /// decides between retry-then-report-partial-failure and giving up.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Connection(_) | StoreError::Busy(_))
    }
}

/// One function's figures for `lamlog report`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FunctionSummary {
    /// The account.
    pub account: String,
    /// The function.
    pub function: String,
    /// Reported invocations.
    pub invocations: i64,
    /// Final status counts.
    pub errors: i64,
    /// See `errors`.
    pub crashes: i64,
    /// See `errors`.
    pub timeouts: i64,
    /// See `errors`.
    pub ooms: i64,
    /// Cold starts.
    pub cold_starts: i64,
    /// Sum of durations in µs.
    pub duration_sum_us: i64,
    /// Largest duration in µs.
    pub duration_max_us: i64,
    /// Memory size × billed ms.
    pub billed_mb_ms: i64,
    /// Cost in pico-dollars.
    pub cost_pico_usd: i64,
    /// The duration histogram, (bucket, count).
    pub histogram: Vec<(i32, i64)>,
    /// First and last minute with invocations (epoch ms).
    pub first_minute_ms: i64,
    /// See `first_minute_ms`.
    pub last_minute_ms: i64,
    /// The most recent memory size seen.
    pub memory_size_mb: Option<i64>,
    /// The largest max memory used at that size (a function whose memory
    /// changed is judged by its current size only).
    pub max_memory_used_mb: Option<i64>,
}

/// One function's per-minute rollup row, for charts over time.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MinuteRow {
    /// The account.
    pub account: String,
    /// The function.
    pub function: String,
    /// The minute (epoch ms).
    pub minute_ms: i64,
    /// Reported invocations in the minute.
    pub invocations: i64,
    /// The duration histogram of the minute.
    pub histogram: Vec<(i32, i64)>,
}

/// A durable home for invocations, rollups, alerts and dead letters.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Writes one batch in one transaction (see the module comment for the contract).
    async fn write_batch(&mut self, batch: &StoreBatch<'_>) -> Result<WriteOutcome, StoreError>;

    /// Per-function totals over minutes ≥ `since_ms`, ordered by cost, highest first.
    async fn function_summaries(
        &mut self,
        since_ms: Option<i64>,
    ) -> Result<Vec<FunctionSummary>, StoreError>;

    /// Per-minute rows over minutes ≥ `since_ms`, ordered by function then minute.
    async fn minute_rows(&mut self, since_ms: Option<i64>) -> Result<Vec<MinuteRow>, StoreError>;

    /// Every stored row of every table as canonical text (sorted, one row per
    /// line, floats printed exactly), for the split-and-replay property and
    /// for comparing two stores. Dead letters' receive times are included.
    async fn dump(&mut self) -> Result<String, StoreError>;

    /// Reported invocations for `lamlog tune`, oldest first: of one function
    /// (all when `None`) since `since_ms`, at most `limit_per_size` of the most
    /// recent per (account, function, architecture, memory size).
    async fn tune_samples(
        &mut self,
        function: Option<&str>,
        since_ms: Option<i64>,
        limit_per_size: usize,
    ) -> Result<Vec<lamlog_core::tune::Sample>, StoreError>;
}

/// One of two stores chosen at run time, behind the one trait: every call
/// goes to the one that is there. The CLI holds SQLite or PostgreSQL this
/// way, the benchmark its naive or shipped store.
#[derive(Debug)]
pub enum EitherStore<L, R> {
    /// The first kind.
    Left(L),
    /// The second kind.
    Right(R),
}

/// Calls `$call` on whichever store `$either` holds.
macro_rules! either {
    ($either:expr, $store:ident => $call:expr) => {
        match $either {
            EitherStore::Left($store) => $call,
            EitherStore::Right($store) => $call,
        }
    };
}

impl<L: Store, R: Store> Store for EitherStore<L, R> {
    async fn write_batch(&mut self, batch: &StoreBatch<'_>) -> Result<WriteOutcome, StoreError> {
        either!(self, store => store.write_batch(batch).await)
    }

    async fn function_summaries(
        &mut self,
        since_ms: Option<i64>,
    ) -> Result<Vec<FunctionSummary>, StoreError> {
        either!(self, store => store.function_summaries(since_ms).await)
    }

    async fn minute_rows(&mut self, since_ms: Option<i64>) -> Result<Vec<MinuteRow>, StoreError> {
        either!(self, store => store.minute_rows(since_ms).await)
    }

    async fn dump(&mut self) -> Result<String, StoreError> {
        either!(self, store => store.dump().await)
    }

    async fn tune_samples(
        &mut self,
        function: Option<&str>,
        since_ms: Option<i64>,
        limit_per_size: usize,
    ) -> Result<Vec<lamlog_core::tune::Sample>, StoreError> {
        either!(self, store => store.tune_samples(function, since_ms, limit_per_size).await)
    }
}
