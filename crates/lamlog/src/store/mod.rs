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
//!   rows this transaction inserted or changed: a row's old
//!   [`lamlog_core::rollup::contribution`] leaves its minute and its new one
//!   joins its (possibly other) minute. Every rollup figure is an integer, so
//!   totals are exact.
//! - Alerts: for each changed row, `invocation_alerts(new) − invocation_alerts(old)`
//!   is upserted by dedup key; a new key counts as a new alert, an existing one
//!   adds an occurrence and keeps the least request id as its example.
//!   Windows are judged with [`lamlog_core::judge::window_alert`] when the
//!   function's watermark passes their end plus grace, and again when the
//!   batch changes a closed one ([`lamlog_core::window`]).
//!   A new alert is stored unsent: the table is an outbox ([`AlertOutbox`]),
//!   whose sent marks are not part of the stored content that must match
//!   across splits (they depend on when a notifier answered).
//! - Dead letters are inserted if absent, keyed by [`DeadLetter::dedup_key`].
//!
//! The result: the stored content is identical for any split of the same
//! stream into batches and any replay of any batch.

use std::collections::BTreeMap;

use lamlog_core::assemble::{Environment, EnvironmentKey, Invocation};
use lamlog_core::judge::{Alert, AlertKind, AlertRules, Severity};
use lamlog_core::meta::{Architecture, FunctionMeta};

mod dead_letter;
pub mod poison;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod prune;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(test)]
mod test_rows;

pub use dead_letter::DeadLetter;

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
    /// When the batch was received (epoch ms): the clock that bounds how far
    /// its start times may move a function's watermark (see
    /// [`lamlog_core::window::WATERMARK_SKEW_MS`]) and which day partitions
    /// PostgreSQL may create; the first-seen time of rows still waiting for
    /// their REPORT; alerts it raises are stored as raised then, and wait in
    /// the outbox from then on.
    pub received_at_ms: i64,
    /// How long the alerts it raises wait in the outbox before any writer's
    /// outbox pass may send them (ms; [`UNSENT_ALERT_DELAY_MS`] by default).
    pub unsent_alert_delay_ms: i64,
}

impl StoreBatch<'_> {
    /// When the alerts this batch raises are first due in the outbox: its
    /// outbox delay after it was received.
    pub fn alerts_due_at_ms(&self) -> i64 {
        self.received_at_ms
            .saturating_add(self.unsent_alert_delay_ms)
    }
}

/// How long, by default, a stored alert that is not marked sent waits before
/// any writer's outbox pass may send it: the batch that raised it sends it
/// right after its commit, so only an alert whose sender failed or died is
/// picked up by another. It is also how long an alert claimed by an outbox
/// pass is left to that pass before it is due again. The pipeline's
/// [`crate::batch::Settings::unsent_alert_delay_ms`] sets another.
pub const UNSENT_ALERT_DELAY_MS: i64 = 60_000;

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
    /// Inserted or changed rows whose error-rate window had already been
    /// judged (they came later than the grace period); the window is judged
    /// again with them.
    pub late_invocations: u64,
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or the connection broke.
    #[error("database connection failed: {0}")]
    Connection(String),
    /// A statement failed for a reason of the database's (a missing table,
    /// a permission, disk full, …): the batch is not to blame.
    #[error("database statement failed: {0}")]
    Statement(String),
    /// The database refused the data itself: a value out of range, a key too
    /// large for its index, a violated constraint. The same data will fail
    /// every time, so it is isolated and dead-lettered
    /// ([`poison`](crate::store::poison)) rather than retried.
    #[error("database refused the data: {0}")]
    Rejected(String),
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

    /// Whether the batch's content caused it ([`StoreError::Rejected`]): the
    /// one error a batch is bisected for.
    pub fn is_poison(&self) -> bool {
        matches!(self, StoreError::Rejected(_))
    }
}

/// A stored memory trail that does not read back was not written by this
/// build.
impl From<lamlog_core::growth::MalformedTrail> for StoreError {
    fn from(error: lamlog_core::growth::MalformedTrail) -> StoreError {
        StoreError::Statement(format!("reading stream_memory: {error}"))
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

/// A log stream whose max memory used is rising, for `lamlog report`: the
/// latest verdict of its memory trail ([`lamlog_core::growth`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GrowingStream {
    /// The account.
    pub account: String,
    /// The function.
    pub function: String,
    /// The log group.
    pub log_group: String,
    /// The log stream: one execution environment.
    pub log_stream: String,
    /// Its memory size.
    pub memory_size_mb: i64,
    /// Max memory used of its latest warm invocation.
    pub last_used_mb: i64,
    /// The rise, MB per warm invocation (Theil–Sen).
    pub slope_mb: f64,
    /// Projected invocations until max memory used reaches the memory size.
    pub invocations_to_limit: i64,
    /// Start time of its latest warm invocation (epoch ms).
    pub last_ms: i64,
}

/// A durable home for invocations, rollups, alerts and dead letters.
#[allow(async_fn_in_trait)]
pub trait Store: AlertOutbox {
    /// Writes one batch in one transaction (see the module comment for the contract).
    async fn write_batch(&mut self, batch: &StoreBatch<'_>) -> Result<WriteOutcome, StoreError>;

    /// Bounds every wait of later writes — getting a connection, locks,
    /// statements — by `deadline` (`None`: only the store's own limits). A
    /// write that runs out of time fails with a transient error
    /// ([`StoreError::Busy`]), so that the caller reports it for retry
    /// instead of being stopped mid-transaction. An embedded store whose
    /// waits are short by construction may ignore it.
    fn set_deadline(&mut self, _deadline: Option<tokio::time::Instant>) {}

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

    /// The log streams whose latest memory verdict is growing, of those with
    /// a warm invocation at or after `since_ms`, nearest their limit first.
    async fn growing_streams(
        &mut self,
        since_ms: Option<i64>,
    ) -> Result<Vec<GrowingStream>, StoreError>;

    /// Keeps how `environments` started, seen at `seen_ms`: an upsert, so
    /// keeping one twice changes nothing (and a later sight refreshes its
    /// time, by which `lamlog db prune` ages it out).
    async fn record_environments(
        &mut self,
        environments: &[Environment],
        seen_ms: i64,
    ) -> Result<(), StoreError>;

    /// How the environments with these keys started, of those kept.
    async fn environment_types(
        &mut self,
        keys: &[EnvironmentKey],
    ) -> Result<Vec<Environment>, StoreError>;

    /// Keeps `environments` seen at `seen_ms` (as
    /// [`Store::record_environments`]), then says how the environments with
    /// `keys` started (as [`Store::environment_types`]), those just kept
    /// included. By default one after the other; a store that can send both
    /// at once does.
    async fn record_and_read_environments(
        &mut self,
        environments: &[Environment],
        seen_ms: i64,
        keys: &[EnvironmentKey],
    ) -> Result<Vec<Environment>, StoreError> {
        if !environments.is_empty() {
            self.record_environments(environments, seen_ms).await?;
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.environment_types(keys).await
    }
}

/// The alerts outbox: the `alerts` table's rows not yet marked sent.
///
/// Every alert is stored unsent, due [`StoreBatch::unsent_alert_delay_ms`]
/// after its batch was received. It is marked sent only once a notifier
/// delivered it (see [`crate::deliver`]), so an alert can be sent twice but
/// never lost.
#[allow(async_fn_in_trait)]
pub trait AlertOutbox {
    /// Up to `limit` unsent alerts that are due at `now_ms`, longest due
    /// first, returned oldest first. Each is claimed: it is not due again
    /// before `now_ms + hold_ms`, so that two writers draining the outbox at
    /// once rarely send the same alert.
    async fn claim_unsent_alerts(
        &mut self,
        now_ms: i64,
        hold_ms: i64,
        limit: usize,
    ) -> Result<Vec<Alert>, StoreError>;

    /// Marks the alerts with these dedup keys sent at `now_ms`.
    async fn mark_alerts_sent(
        &mut self,
        dedup_keys: &[&str],
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// How many stored alerts are not marked sent.
    async fn unsent_alert_count(&mut self) -> Result<u64, StoreError>;
}

/// Reads a stored alert's kind and severity back; an unknown name means the
/// row was not written by this build.
pub fn stored_kind_and_severity(
    kind: &str,
    severity: &str,
) -> Result<(AlertKind, Severity), StoreError> {
    let kind_read = AlertKind::from_name(kind)
        .ok_or_else(|| StoreError::Statement(format!("alerts: unknown kind {kind:?}")))?;
    let severity_read = Severity::from_name(severity)
        .ok_or_else(|| StoreError::Statement(format!("alerts: unknown severity {severity:?}")))?;
    Ok((kind_read, severity_read))
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

    async fn record_environments(
        &mut self,
        environments: &[Environment],
        seen_ms: i64,
    ) -> Result<(), StoreError> {
        either!(self, store => store.record_environments(environments, seen_ms).await)
    }

    async fn environment_types(
        &mut self,
        keys: &[EnvironmentKey],
    ) -> Result<Vec<Environment>, StoreError> {
        either!(self, store => store.environment_types(keys).await)
    }

    async fn record_and_read_environments(
        &mut self,
        environments: &[Environment],
        seen_ms: i64,
        keys: &[EnvironmentKey],
    ) -> Result<Vec<Environment>, StoreError> {
        either!(self, store => store.record_and_read_environments(environments, seen_ms, keys).await)
    }

    fn set_deadline(&mut self, deadline: Option<tokio::time::Instant>) {
        either!(self, store => store.set_deadline(deadline))
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

    async fn growing_streams(
        &mut self,
        since_ms: Option<i64>,
    ) -> Result<Vec<GrowingStream>, StoreError> {
        either!(self, store => store.growing_streams(since_ms).await)
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

impl<L: AlertOutbox, R: AlertOutbox> AlertOutbox for EitherStore<L, R> {
    async fn claim_unsent_alerts(
        &mut self,
        now_ms: i64,
        hold_ms: i64,
        limit: usize,
    ) -> Result<Vec<Alert>, StoreError> {
        either!(self, store => store.claim_unsent_alerts(now_ms, hold_ms, limit).await)
    }

    async fn mark_alerts_sent(
        &mut self,
        dedup_keys: &[&str],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        either!(self, store => store.mark_alerts_sent(dedup_keys, now_ms).await)
    }

    async fn unsent_alert_count(&mut self) -> Result<u64, StoreError> {
        either!(self, store => store.unsent_alert_count().await)
    }
}
