//! Every wait of a PostgreSQL write is bounded by the caller's deadline, and
//! a database that is down at start-up fails writes, not construction.
//!
//! Another connection holds a lock the batch needs (as a `LOCK TABLE` or a
//! `db prune` in progress would): with a deadline set, the batch gives up
//! before the deadline with a transient error, which the Lambda handler
//! reports for retry; it never waits until the lock is released.

use crate::support::postgres_schema;

use std::time::Duration;

use lamlog::batch::{BatchSummary, Pipeline, Settings};
use lamlog::enrich::file::FileSource;
use lamlog::enrich::{Enricher, MetaCache};
use lamlog::notify::TableOnly;
use lamlog::store::postgres::{PostgresConfig, PostgresStore};
use lamlog::store::{Store, StoreError};
use lamlog_core::assemble::{Invocation, InvocationKey};
use postgres_schema::{raw_client, TestStore};
use tokio::time::Instant;

const NOW_MS: i64 = 1_793_491_200_000;

fn invocations(first: usize, count: usize) -> Vec<Invocation> {
    (first..first + count)
        .map(|index| {
            let key = InvocationKey {
                account: "123456789012".to_owned(),
                function: "fn-locked".to_owned(),
                request_id: format!("r-{index}"),
            };
            let mut invocation = Invocation::new(key, "/aws/lambda/fn-locked");
            invocation.start_time_ms = Some(NOW_MS + index as i64);
            invocation.duration_ms = Some(10.0);
            invocation.billed_duration_ms = Some(10);
            invocation.memory_size_mb = Some(128);
            invocation.max_memory_used_mb = Some(64);
            invocation
        })
        .collect()
}

fn pipeline(store: TestStore) -> Pipeline<FileSource, TestStore, TableOnly> {
    Pipeline {
        enricher: Enricher::new(FileSource::default(), MetaCache::default()),
        store,
        notifier: TableOnly,
        settings: Settings::default(),
    }
}

/// Holds `lock` (SQL run in an open transaction) on another connection for
/// `hold`, then commits.
async fn hold_lock(schema: &str, lock: &str, hold: Duration) -> tokio::task::JoinHandle<()> {
    let client = raw_client(schema).await;
    client.batch_execute("BEGIN").await.unwrap();
    client.batch_execute(lock).await.unwrap();
    tokio::spawn(async move {
        tokio::time::sleep(hold).await;
        client.batch_execute("COMMIT").await.unwrap();
    })
}

async fn a_held_lock_ends_the_batch_before_the_deadline(lock: &str) {
    let store = TestStore::fresh().await;
    let schema = store.schema.clone();
    let mut pipeline = pipeline(store);
    // Tables and today's partitions exist before the lock is taken.
    pipeline
        .store_invocations("s", invocations(0, 2), &[], BatchSummary::default(), NOW_MS)
        .await
        .unwrap();
    let holder = hold_lock(&schema, lock, Duration::from_secs(8)).await;

    let deadline = Instant::now() + Duration::from_millis(1_500);
    pipeline.set_deadline(Some(deadline));
    let outcome = pipeline
        .store_invocations("s", invocations(2, 3), &[], BatchSummary::default(), NOW_MS)
        .await;
    let returned = Instant::now();
    let error = outcome.expect_err("the lock outlasts the deadline: the batch must give up");
    assert!(error.is_transient(), "reported for retry: {error}");
    assert!(
        returned < deadline + Duration::from_millis(500),
        "gave up {:?} after the deadline",
        returned - deadline
    );
    // Nothing of the batch was committed; once the lock is gone it goes in.
    holder.await.unwrap();
    pipeline.set_deadline(None);
    let retried = pipeline
        .store_invocations("s", invocations(2, 3), &[], BatchSummary::default(), NOW_MS)
        .await
        .unwrap();
    assert_eq!(retried.outcome.inserted, 3);
}

#[tokio::test]
async fn a_locked_rollup_table_ends_the_batch_before_the_deadline() {
    a_held_lock_ends_the_batch_before_the_deadline(
        "LOCK TABLE function_minute IN ACCESS EXCLUSIVE MODE",
    )
    .await;
}

#[tokio::test]
async fn a_held_function_lock_ends_the_batch_before_the_deadline() {
    // Every lock of the invocation table, as a prune dropping a partition takes.
    a_held_lock_ends_the_batch_before_the_deadline(
        "LOCK TABLE invocations IN ACCESS EXCLUSIVE MODE",
    )
    .await;
}

#[tokio::test]
async fn a_deadline_already_passed_starts_no_write() {
    let mut store = TestStore::fresh().await;
    store.set_deadline(Some(Instant::now()));
    let mut pipeline = pipeline(store);
    let error = pipeline
        .store_invocations("s", invocations(0, 1), &[], BatchSummary::default(), NOW_MS)
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(error.to_string().contains("before the deadline"), "{error}");
}

#[tokio::test]
async fn a_database_down_at_start_fails_writes_not_construction() {
    // Nothing listens on port 1.
    let config = PostgresConfig::new("postgres://postgres@127.0.0.1:1/test");
    let mut store = PostgresStore::connect_lazily(&config)
        .expect("no connection is made before the first write");
    let mut pipeline = Pipeline {
        enricher: Enricher::new(FileSource::default(), MetaCache::default()),
        store: store.clone(),
        notifier: TableOnly,
        settings: Settings::default(),
    };
    let error = pipeline
        .store_invocations("s", invocations(0, 1), &[], BatchSummary::default(), NOW_MS)
        .await
        .unwrap_err();
    assert!(error.is_transient(), "retried later: {error}");
    let Err(StoreError::Connection(_)) = store.dump().await else {
        panic!("a read fails as a connection error too");
    };
}

#[tokio::test]
async fn a_lazy_store_migrates_on_first_use() {
    let schema = postgres_schema::schema_name();
    let mut store = PostgresStore::connect_lazily(&postgres_schema::config(&schema, 1)).unwrap();
    let mut pipeline = Pipeline {
        enricher: Enricher::new(FileSource::default(), MetaCache::default()),
        store: store.clone(),
        notifier: TableOnly,
        settings: Settings::default(),
    };
    let summary = pipeline
        .store_invocations("s", invocations(0, 2), &[], BatchSummary::default(), NOW_MS)
        .await
        .unwrap();
    assert_eq!(summary.outcome.inserted, 2);
    assert!(store.dump().await.unwrap().contains("fn-locked"));
    raw_client(&schema)
        .await
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
