//! The Lambda handler against the generator's truth: a generated workload,
//! delivered as Kinesis events (payloads cut across records, uneven batches,
//! a replay, a control message, a poison record), goes through
//! [`handle`] in small slices into PostgreSQL, and the store must hold
//! exactly what `truth.json` and `truth-invocations.ndjson` say. The truth,
//! the deliveries and the comparison are the pipeline oracle's
//! (`lamlog/tests/oracle.rs`), shared through `lamlog/tests/support/`.

#[allow(dead_code)] // shared with the pipeline oracle, which uses all of it
#[path = "../../lamlog/tests/support/oracle.rs"]
mod oracle;
#[path = "../../lamlog/tests/support/oracle_delivery.rs"]
mod oracle_delivery;
#[allow(dead_code)] // shared with the pipeline oracle, which uses all of it
#[path = "../../lamlog/tests/support/oracle_workload.rs"]
mod oracle_workload;
#[allow(dead_code)] // only the store and its schema are used here
#[path = "../../lamlog/tests/postgres/schema.rs"]
mod schema;

use std::time::Duration;

use lamlog::batch::{Pipeline, Settings};
use lamlog::enrich::{Enricher, MetaCache};
use lamlog::generate::{GenerateOptions, Leak};
use lamlog::notify::TableOnly;
use lamlog::store::Store;
use lamlog_lambda::handler::{handle, BatchResponse, HandlerOptions};
use tokio::time::Instant;

use oracle::{assert_one_dead_letter, assert_store_is_truth};
use oracle_workload::Workload;
use schema::TestStore;

#[tokio::test]
async fn the_handler_stores_exactly_the_truth() {
    // A subset of the pipeline oracle's workloads: one seed, fewer invocations.
    let workload = Workload::generate(8, 5, 300, 4);
    let dump = through_the_handler(&workload).await;
    assert_one_dead_letter(&dump);
    assert_store_is_truth(&dump, &workload.truth, "Lambda handler, PostgreSQL");
}

#[tokio::test]
async fn the_handler_raises_a_leaks_memory_growth_as_the_truth_says() {
    // Function 1 leaks 40 MB per invocation in every execution environment:
    // the truth expects `memory_growth` alerts, which the trails kept across
    // the handler's slices must raise, and no other.
    let workload = Workload::generate_with(
        &GenerateOptions {
            functions: 4,
            invocations: 2400,
            seed: 21,
            leak: Some(Leak {
                function: 1,
                mb_per_invocation: 40,
            }),
            ..GenerateOptions::default()
        },
        4,
    );
    assert!(workload
        .truth
        .alerts
        .iter()
        .any(|alert| alert.kind == "memory_growth"));
    let dump = through_the_handler(&workload).await;
    assert_store_is_truth(&dump, &workload.truth, "Lambda handler, leak");
}

/// Every delivery of `workload` through [`handle`] in slices of 25 records
/// into a fresh PostgreSQL schema; returns the schema's dump.
async fn through_the_handler(workload: &Workload) -> String {
    let mut pipeline = Pipeline {
        enricher: Enricher::new(workload.metadata.clone(), MetaCache::default()),
        store: TestStore::fresh().await,
        notifier: TableOnly,
        settings: Settings::default(),
    };
    // Small slices, so that an event is committed in several transactions.
    let options = HandlerOptions {
        slice_records: 25,
        ..HandlerOptions::default()
    };
    let all_committed = serde_json::to_value(BatchResponse::default()).unwrap();
    for event in &workload.deliveries {
        let deadline = Instant::now() + Duration::from_secs(120);
        let outcome = handle(
            &mut pipeline,
            &options,
            event,
            deadline,
            workload.received_at_ms,
        )
        .await
        .unwrap();
        assert_eq!(outcome.response, all_committed);
    }
    pipeline.store.dump().await.unwrap()
}
