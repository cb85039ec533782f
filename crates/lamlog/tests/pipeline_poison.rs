//! A poison record never blocks a shard: an invocation the database refuses
//! for good is found by bisection and dead-lettered with the database's
//! message, and the rest of its batch commits. A transient refusal is not
//! bisected: it fails the batch, for the caller to retry.
//!
//! The PostgreSQL test uses a refusal the real database makes (a request id
//! past the btree limit of the primary key); the SQLite tests wrap the store
//! in one that refuses chosen request ids, to check the mechanism with many
//! poisons at once.

#[cfg(feature = "postgres")]
use crate::support::postgres_schema;

use lamlog::batch::{BatchSummary, Pipeline, Settings};
use lamlog::enrich::file::FileSource;
use lamlog::enrich::{Enricher, MetaCache};
use lamlog::notify::TableOnly;
use lamlog::store::sqlite::SqliteStore;
use lamlog::store::{
    AlertOutbox, FunctionSummary, MinuteRow, Store, StoreBatch, StoreError, WriteOutcome,
};
use lamlog_core::assemble::{Invocation, InvocationKey};
use lamlog_core::judge::Alert;

const ACCOUNT: &str = "123456789012";
const NOW_MS: i64 = 1_793_491_200_000;

/// A reported invocation of `fn-poison` with request id `request_id`.
fn invocation(request_id: &str, index: i64) -> Invocation {
    let key = InvocationKey {
        account: ACCOUNT.to_owned(),
        function: "fn-poison".to_owned(),
        request_id: request_id.to_owned(),
    };
    let mut invocation = Invocation::new(key, "/aws/lambda/fn-poison");
    invocation.start_time_ms = Some(NOW_MS + index * 1_000);
    invocation.duration_ms = Some(100.0 + index as f64);
    invocation.billed_duration_ms = Some(101 + index as u64);
    invocation.memory_size_mb = Some(128);
    invocation.max_memory_used_mb = Some(64);
    invocation
}

/// A store that refuses, for good, any batch holding one of `poisons`, and
/// counts the writes it was asked for.
struct Refusing<S> {
    inner: S,
    poisons: Vec<String>,
    transient: bool,
    writes: usize,
}

impl<S: Store> AlertOutbox for Refusing<S> {
    async fn claim_unsent_alerts(
        &mut self,
        now_ms: i64,
        hold_ms: i64,
        limit: usize,
    ) -> Result<Vec<Alert>, StoreError> {
        self.inner.claim_unsent_alerts(now_ms, hold_ms, limit).await
    }

    async fn mark_alerts_sent(&mut self, keys: &[&str], now_ms: i64) -> Result<(), StoreError> {
        self.inner.mark_alerts_sent(keys, now_ms).await
    }

    async fn unsent_alert_count(&mut self) -> Result<u64, StoreError> {
        self.inner.unsent_alert_count().await
    }
}

impl<S: Store> Store for Refusing<S> {
    async fn record_environments(
        &mut self,
        environments: &[lamlog_core::assemble::Environment],
        seen_ms: i64,
    ) -> Result<(), StoreError> {
        self.inner.record_environments(environments, seen_ms).await
    }

    async fn environment_types(
        &mut self,
        keys: &[lamlog_core::assemble::EnvironmentKey],
    ) -> Result<Vec<lamlog_core::assemble::Environment>, StoreError> {
        self.inner.environment_types(keys).await
    }

    async fn write_batch(&mut self, batch: &StoreBatch<'_>) -> Result<WriteOutcome, StoreError> {
        self.writes += 1;
        let poisoned = batch
            .invocations
            .iter()
            .find(|stored| self.poisons.contains(&stored.invocation.request_id));
        match poisoned {
            Some(stored) if self.transient => Err(StoreError::Busy(format!(
                "lock timeout near {}",
                stored.invocation.request_id
            ))),
            Some(stored) => Err(StoreError::Rejected(format!(
                "value too long for {}",
                stored.invocation.request_id
            ))),
            None => self.inner.write_batch(batch).await,
        }
    }

    async fn function_summaries(
        &mut self,
        since_ms: Option<i64>,
    ) -> Result<Vec<FunctionSummary>, StoreError> {
        self.inner.function_summaries(since_ms).await
    }

    async fn minute_rows(&mut self, since_ms: Option<i64>) -> Result<Vec<MinuteRow>, StoreError> {
        self.inner.minute_rows(since_ms).await
    }

    async fn dump(&mut self) -> Result<String, StoreError> {
        self.inner.dump().await
    }

    async fn growing_streams(
        &mut self,
        since_ms: Option<i64>,
    ) -> Result<Vec<lamlog::store::GrowingStream>, StoreError> {
        self.inner.growing_streams(since_ms).await
    }

    async fn tune_samples(
        &mut self,
        function: Option<&str>,
        since_ms: Option<i64>,
        limit_per_size: usize,
    ) -> Result<Vec<lamlog_core::tune::Sample>, StoreError> {
        self.inner
            .tune_samples(function, since_ms, limit_per_size)
            .await
    }
}

fn pipeline<S: Store>(store: S) -> Pipeline<FileSource, S, TableOnly> {
    Pipeline {
        enricher: Enricher::new(FileSource::default(), MetaCache::default()),
        store,
        notifier: TableOnly,
        settings: Settings::default(),
    }
}

fn table_lines<'a>(dump: &'a str, table: &str) -> Vec<&'a str> {
    let prefix = format!("{table} ");
    dump.lines()
        .filter(|line| line.starts_with(&prefix))
        .collect()
}

fn batch_of(ids: &[String]) -> Vec<Invocation> {
    ids.iter()
        .enumerate()
        .map(|(index, id)| invocation(id, index as i64))
        .collect()
}

#[tokio::test]
async fn every_poison_is_dead_lettered_and_the_rest_commits() {
    let ids: Vec<String> = (0..50).map(|index| format!("r-{index:02}")).collect();
    let poisons = vec!["r-03".to_owned(), "r-04".to_owned(), "r-41".to_owned()];
    let store = Refusing {
        inner: SqliteStore::open_in_memory().unwrap(),
        poisons: poisons.clone(),
        transient: false,
        writes: 0,
    };
    let mut pipeline = pipeline(store);
    let summary = pipeline
        .store_invocations(
            "stream",
            batch_of(&ids),
            &[],
            BatchSummary::default(),
            NOW_MS,
        )
        .await
        .expect("a poison is dead-lettered, not a failed batch");
    assert_eq!(summary.outcome.inserted, 47);
    assert_eq!(summary.outcome.dead_letters, 3);
    // Bisection, not one write per invocation.
    assert!(
        pipeline.store.writes < 30,
        "{} writes",
        pipeline.store.writes
    );

    let dump = pipeline.store.dump().await.unwrap();
    let stored = table_lines(&dump, "invocations");
    assert_eq!(stored.len(), 47, "{dump}");
    for poison in &poisons {
        assert!(!stored
            .iter()
            .any(|line| line.contains(&format!(" request_id=\"{poison}\""))));
    }
    let dead_letters = table_lines(&dump, "dead_letters");
    assert_eq!(dead_letters.len(), 3, "{dump}");
    for poison in &poisons {
        let letter = dead_letters
            .iter()
            .find(|line| line.contains(&format!("value too long for {poison}")))
            .unwrap_or_else(|| panic!("no dead letter names {poison}: {dump}"));
        assert!(letter.contains("fn-poison"), "{letter}");
    }

    // A re-delivery of the same batch stores nothing twice.
    let replay = pipeline
        .store_invocations(
            "stream",
            batch_of(&ids),
            &[],
            BatchSummary::default(),
            NOW_MS,
        )
        .await
        .unwrap();
    assert_eq!(replay.outcome.unchanged, 47);
    assert_eq!(replay.outcome.dead_letters, 0);
    assert_eq!(pipeline.store.dump().await.unwrap(), dump);
}

#[tokio::test]
async fn a_transient_refusal_fails_the_batch_and_stores_nothing() {
    let ids: Vec<String> = (0..8).map(|index| format!("r-{index}")).collect();
    let store = Refusing {
        inner: SqliteStore::open_in_memory().unwrap(),
        poisons: vec!["r-5".to_owned()],
        transient: true,
        writes: 0,
    };
    let mut pipeline = pipeline(store);
    let error = pipeline
        .store_invocations(
            "stream",
            batch_of(&ids),
            &[],
            BatchSummary::default(),
            NOW_MS,
        )
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert_eq!(
        pipeline.store.writes, 1,
        "no bisection of a transient error"
    );
    let dump = pipeline.store.dump().await.unwrap();
    assert!(table_lines(&dump, "invocations").is_empty(), "{dump}");
}

/// PostgreSQL refuses a key too large for its btree index: that invocation
/// is dead-lettered with PostgreSQL's own message; the others are stored.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_refusing_a_huge_key_blocks_nothing() {
    let mut ids: Vec<String> = (0..9).map(|index| format!("r-{index}")).collect();
    ids.insert(4, incompressible(9_000));
    stores_all_but_the_refused_one(batch_of(&ids)).await;
}

/// A function name too large for the rollups' index as well as the
/// invocations': the first statement PostgreSQL refuses is then a rollup
/// upsert, and the statements pipelined after it fail only because the
/// transaction is aborted. The batch is still bisected on the refusal, not
/// failed on what followed it. (Five hundred rows: enough that the rows'
/// copy is still being sent when the statements beside it are queued.)
#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_refusing_a_huge_function_name_blocks_nothing() {
    let huge = incompressible(9_000);
    let ids: Vec<String> = (0..500).map(|index| format!("r-{index}")).collect();
    let mut invocations = batch_of(&ids);
    invocations[250].function.clone_from(&huge);
    invocations[250].log_group = format!("/aws/lambda/{huge}");
    stores_all_but_the_refused_one(invocations).await;
}

/// Stores `invocations`, one of which PostgreSQL refuses, through the
/// pipeline: that one is dead-lettered with PostgreSQL's own message, the
/// others are stored.
#[cfg(feature = "postgres")]
async fn stores_all_but_the_refused_one(invocations: Vec<Invocation>) {
    let stored = invocations.len() as u64 - 1;
    let store = postgres_schema::TestStore::fresh().await;
    let mut pipeline = pipeline(store);
    let summary = pipeline
        .store_invocations("stream", invocations, &[], BatchSummary::default(), NOW_MS)
        .await
        .expect("the refused invocation is dead-lettered, the batch commits");
    assert_eq!(summary.outcome.inserted, stored);
    assert_eq!(summary.outcome.dead_letters, 1);
    let dump = pipeline.store.dump().await.unwrap();
    assert_eq!(table_lines(&dump, "invocations").len() as u64, stored);
    let dead_letters = table_lines(&dump, "dead_letters");
    assert_eq!(dead_letters.len(), 1);
    let shown = &dead_letters[0][..dead_letters[0].len().min(600)];
    assert!(
        dead_letters[0].contains("the database refused invocation"),
        "{shown}"
    );
    assert!(
        dead_letters[0].contains("index row"),
        "PostgreSQL's message is kept: {shown}"
    );
}

/// `length` printable characters that TOAST cannot compress under the btree
/// limit.
#[cfg(feature = "postgres")]
fn incompressible(length: usize) -> String {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'!' + (state % 90) as u8)
        })
        .collect()
}
