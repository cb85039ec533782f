//! The whole pipeline against the generator's truth, not against itself.
//!
//! Small generated workloads (several seeds; text and JSON log formats;
//! functions with and without metadata, one in a custom log group) are
//! delivered as Kinesis events with every payload cut across two records, the
//! records re-cut into uneven batches, one batch replayed, a control message
//! and an undecodable record mixed in (`support/oracle_delivery.rs`). They go
//! through the real [`Pipeline`] into SQLite and into PostgreSQL, and what
//! each store holds is compared with `truth.json` and
//! `truth-invocations.ndjson` (`support/oracle.rs`): every invocation field
//! by field, every per-minute rollup sum, every alert.

use crate::support::oracle;
use crate::support::oracle_workload;
#[allow(dead_code)] // only the store and its schema are used here
use crate::support::postgres_schema as schema;

use std::collections::BTreeSet;

use lamlog::store::sqlite::SqliteStore;
use lamlog::store::Store;

use oracle::{assert_one_dead_letter, assert_store_is_truth};
use oracle_workload::Workload;
use schema::TestStore;

/// (seed, functions, invocations): small, and together they cover both log
/// formats, both architectures, cold starts and the failure kinds.
const WORKLOADS: [(u64, usize, u64); 3] = [(5, 6, 500), (9, 6, 400), (12, 6, 500)];
/// Distinct batches each workload is delivered in (one more is a replay).
const BATCHES: usize = 7;

/// Runs every delivery through the pipeline over `store`; returns its dump.
async fn ingest<S: Store>(workload: &Workload, store: S) -> String {
    let (mut store, control_messages) = workload.ingest_into(store).await;
    assert!(control_messages >= 1, "the control message was not seen");
    store.dump().await.unwrap()
}

#[test]
fn the_workloads_cover_what_the_oracle_must_check() {
    let mut formats = BTreeSet::new();
    let mut statuses = BTreeSet::new();
    let mut architectures = BTreeSet::new();
    let (mut cold, mut restored, mut unenriched, mut alerts) = (0, 0, 0, 0);
    for (seed, functions, invocations) in WORKLOADS {
        let workload = Workload::generate(seed, functions, invocations, BATCHES);
        for invocation in workload.truth.invocations.values() {
            formats.insert(invocation.log_format.clone());
            statuses.insert(invocation.status.clone());
            architectures.insert(invocation.architecture.clone());
            cold += usize::from(invocation.cold_start);
            restored += usize::from(invocation.restore_duration_ms.is_some());
            // The truth's own costs follow AWS's formula.
            let by_hand = oracle::aws_list_cost(
                &invocation.architecture,
                invocation.memory_size_mb,
                invocation.billed_duration_ms,
            );
            assert!((invocation.cost_usd - by_hand).abs() <= by_hand * 1e-12);
        }
        unenriched += workload
            .truth
            .functions
            .values()
            .filter(|function| !function.has_metadata)
            .count();
        alerts += workload.truth.alerts.len();
        // The truth does not model cost spikes, which need a function to
        // have 24 hours of history: these workloads last minutes, so none
        // can be raised, and one stored would be a mismatch with the truth.
        let times = || {
            workload
                .truth
                .invocations
                .values()
                .map(|invocation| invocation.start_time_ms)
        };
        let span_ms = times().max().unwrap() - times().min().unwrap();
        assert!(span_ms < 24 * 3_600_000, "seed {seed} spans {span_ms} ms");
    }
    assert_eq!(formats, BTreeSet::from(["json".into(), "text".into()]));
    assert_eq!(
        architectures,
        BTreeSet::from(["arm64".into(), "x86_64".into()])
    );
    for status in ["success", "error", "crash", "oom", "timeout"] {
        assert!(statuses.contains(status), "no {status} invocation");
    }
    assert!(cold > 0, "no cold start");
    assert!(restored > 0, "no SnapStart restore");
    assert!(unenriched > 0, "every function has metadata");
    assert!(alerts > 0, "no alert expected");
}

#[tokio::test]
async fn the_sqlite_store_holds_exactly_the_truth() {
    for (seed, functions, invocations) in WORKLOADS {
        let workload = Workload::generate(seed, functions, invocations, BATCHES);
        let dump = ingest(&workload, SqliteStore::open_in_memory().unwrap()).await;
        assert_one_dead_letter(&dump);
        assert_store_is_truth(&dump, &workload.truth, &format!("SQLite, seed {seed}"));
    }
}

#[tokio::test]
async fn the_postgres_store_holds_exactly_the_truth() {
    for (seed, functions, invocations) in WORKLOADS {
        let workload = Workload::generate(seed, functions, invocations, BATCHES);
        let dump = ingest(&workload, TestStore::fresh().await).await;
        assert_one_dead_letter(&dump);
        assert_store_is_truth(&dump, &workload.truth, &format!("PostgreSQL, seed {seed}"));
    }
}
