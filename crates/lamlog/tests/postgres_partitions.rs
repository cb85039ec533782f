//! The day partitions of the PostgreSQL store: made only for days near the
//! time a batch is received (a hostile timestamp never causes DDL), dropped
//! whole by prune, and the default partition that holds every other day:
//! readable, pruned row by row, and emptied into a day's partition when that
//! day comes into the window.
//!
//! Needs PostgreSQL at `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); without it every test fails.
//! Each test works in a schema of its own, so they run in parallel.
#![cfg(feature = "postgres")]

#[allow(dead_code)]
use crate::support::evidence;
#[allow(dead_code)]
use crate::support::postgres_schema as schema;

use lamlog::store::Store;
use lamlog_core::calendar::{civil_from_days, days_from_civil};

use evidence::{dump, report, table_lines, text_field, timeout, Evidence, Figures, Setup, ACCOUNT};
use schema::{raw_client, TestStore};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// The stream retention of deploy/template.yaml: how far back from its
/// receive time a batch may still make a day partition.
const RETENTION_MS: i64 = 48 * HOUR_MS;
/// 2025-06-15T00:00:00Z.
const JUNE_15_MS: i64 = 1_749_945_600_000;

async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client
        .query_one(sql, &[])
        .await
        .and_then(|row| row.try_get(0))
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

/// How many partitions `invocations` has, the default one included.
async fn partition_count(client: &tokio_postgres::Client) -> i64 {
    count(
        client,
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'invocations'::regclass",
    )
    .await
}

/// `invocations_pYYYYMMDD` of the day `time_ms` falls in, made here from the
/// calendar rather than asked of the store.
fn partition_of(time_ms: i64) -> String {
    let (year, month, day) = civil_from_days(time_ms.div_euclid(DAY_MS));
    format!("invocations_p{year:04}{month:02}{day:02}")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A REPORT of `function` at `time_ms`.
fn reported(function: &str, request_id: &str, time_ms: i64) -> Evidence {
    Evidence::new(
        ACCOUNT,
        function,
        time_ms,
        report(request_id, Figures::new(5.0, 128, 10), None, None),
    )
}

/// Writes `evidence` as one batch received at `received_at_ms`.
async fn write_at(store: &mut TestStore, evidence: &[Evidence], received_at_ms: i64) {
    let setup = Setup::plain();
    let invocations = setup.invocations(evidence);
    setup
        .write_received_at(store, &invocations, &[], received_at_ms)
        .await;
}

#[tokio::test]
async fn partitions_are_created_ahead_and_pruned_by_day() {
    let mut store = TestStore::fresh().await;
    let days = [0, 2].map(|day| JUNE_15_MS + day * DAY_MS + HOUR_MS);
    // Received an hour after the last line: its day, the day after, and the
    // first day back within the retention get their partitions.
    let received_at_ms = days[1] + HOUR_MS;
    let evidence = [
        reported("daily", "r-0", days[0]),
        reported("daily", "r-2", days[1]),
        Evidence::new(ACCOUNT, "daily", days[1], timeout("r-pending", 3.0)),
    ];
    write_at(&mut store, &evidence, received_at_ms).await;
    let names = store.store.partition_names().await.unwrap();
    let expected: Vec<String> = (0..4)
        .map(|day| partition_of(JUNE_15_MS + day * DAY_MS))
        .collect();
    assert_eq!(names, expected);
    let client = raw_client(&store.schema).await;
    assert_eq!(
        count(&client, "SELECT count(*) FROM invocations_default").await,
        0
    );
    let third_day = format!("SELECT count(*) FROM {}", expected[2]);
    assert_eq!(count(&client, &third_day).await, 1);

    let nothing = store.store.prune_before(0).await.unwrap();
    assert_eq!(nothing, Default::default());
    let pruned = store
        .store
        .prune_before(JUNE_15_MS + 2 * DAY_MS)
        .await
        .unwrap();
    assert_eq!(pruned.dropped_partitions, expected[..2]);
    assert_eq!(
        (pruned.deleted_invocations, pruned.deleted_pending),
        (0, 0),
        "the pending row was first seen after the cutoff"
    );
    assert_eq!(store.store.partition_names().await.unwrap(), expected[2..]);
    let text = dump(&mut store).await;
    let rows = table_lines(&text, "invocations");
    assert_eq!(rows.len(), 2, "r-2 and the pending row stay: {text}");
    assert!(rows.iter().all(|row| !row.contains("\"r-0\"")));
    assert_eq!(
        table_lines(&text, "function_minute").len(),
        2,
        "rollups are kept"
    );

    // A late line for a dropped day still in the window recreates its
    // partition.
    write_at(
        &mut store,
        &[reported("daily", "r-late", days[0] + 1)],
        received_at_ms,
    )
    .await;
    let first_day = format!("SELECT count(*) FROM {}", expected[0]);
    assert_eq!(count(&client, &first_day).await, 1);
    assert_eq!(
        count(&client, "SELECT count(*) FROM invocations_default").await,
        0
    );
}

#[tokio::test]
async fn hostile_timestamps_make_no_partition_and_stay_readable() {
    let mut store = TestStore::fresh().await;
    let client = raw_client(&store.schema).await;
    let before = partition_count(&client).await;
    let now = now_ms();
    let year_9999_ms = days_from_civil(9999, 12, 31) * DAY_MS + HOUR_MS;
    let year_1970_ms = 1_000;
    write_at(
        &mut store,
        &[
            reported("hostile", "r-9999", year_9999_ms),
            reported("hostile", "r-1970", year_1970_ms),
        ],
        now,
    )
    .await;
    assert_eq!(partition_count(&client).await, before, "no DDL");
    assert_eq!(
        count(&client, "SELECT count(*) FROM invocations_default").await,
        2
    );
    let text = dump(&mut store).await;
    for request_id in ["r-9999", "r-1970"] {
        let field = text_field("request_id", request_id);
        assert!(
            table_lines(&text, "invocations")
                .iter()
                .any(|row| row.contains(&field)),
            "{request_id} is stored: {text}"
        );
    }
    let summaries = store.function_summaries(None).await.unwrap();
    let hostile = summaries
        .iter()
        .find(|summary| summary.function == "hostile")
        .expect("a summary of the hostile function");
    assert_eq!(hostile.invocations, 2);

    // A batch of now makes today's partition (and tomorrow's), as before.
    write_at(&mut store, &[reported("live", "r-now", now)], now).await;
    assert_eq!(partition_count(&client).await, before + 2);
    assert_eq!(
        store.store.partition_names().await.unwrap(),
        [partition_of(now), partition_of(now + DAY_MS)]
    );
    let today = format!("SELECT count(*) FROM {}", partition_of(now));
    assert_eq!(count(&client, &today).await, 1);
}

#[tokio::test]
async fn prune_deletes_old_rows_of_the_default_partition() {
    let mut store = TestStore::fresh().await;
    let client = raw_client(&store.schema).await;
    let now = now_ms();
    // Older than the retention when received: a backfill, held by the
    // default partition.
    let old_ms = now - RETENTION_MS - 2 * DAY_MS;
    write_at(
        &mut store,
        &[
            reported("backfill", "r-old", old_ms),
            reported("backfill", "r-1970", 1_000),
            reported("backfill", "r-9999", days_from_civil(9999, 1, 1) * DAY_MS),
            reported("backfill", "r-now", now),
        ],
        now,
    )
    .await;
    assert!(!store
        .store
        .partition_names()
        .await
        .unwrap()
        .contains(&partition_of(old_ms)));
    assert_eq!(
        count(&client, "SELECT count(*) FROM invocations_default").await,
        3
    );

    let pruned = store.store.prune_before(old_ms + 1).await.unwrap();
    assert_eq!(pruned.deleted_invocations, 2, "{pruned:?}");
    assert!(pruned.dropped_partitions.is_empty(), "{pruned:?}");
    let text = dump(&mut store).await;
    let rows = table_lines(&text, "invocations");
    let kept: Vec<&str> = ["r-old", "r-1970", "r-9999", "r-now"]
        .into_iter()
        .filter(|request_id| {
            let field = text_field("request_id", request_id);
            rows.iter().any(|row| row.contains(&field))
        })
        .collect();
    assert_eq!(kept, ["r-9999", "r-now"], "{text}");
}

#[tokio::test]
async fn a_day_entering_the_window_takes_its_rows_from_the_default_partition() {
    let mut store = TestStore::fresh().await;
    let client = raw_client(&store.schema).await;
    let received_at_ms = JUNE_15_MS + HOUR_MS;
    // Three days ahead of its batch: no partition, the default one holds it.
    let early_ms = received_at_ms + 3 * DAY_MS;
    write_at(
        &mut store,
        &[reported("ahead", "r-early", early_ms)],
        received_at_ms,
    )
    .await;
    assert_eq!(
        count(&client, "SELECT count(*) FROM invocations_default").await,
        1
    );
    assert!(!store
        .store
        .partition_names()
        .await
        .unwrap()
        .contains(&partition_of(early_ms)));

    // That day comes: its partition is made, with the early row in it.
    write_at(
        &mut store,
        &[reported("ahead", "r-on-time", early_ms + 60_000)],
        early_ms,
    )
    .await;
    assert!(store
        .store
        .partition_names()
        .await
        .unwrap()
        .contains(&partition_of(early_ms)));
    let day = format!("SELECT count(*) FROM {}", partition_of(early_ms));
    assert_eq!(count(&client, &day).await, 2);
    assert_eq!(
        count(&client, "SELECT count(*) FROM invocations_default").await,
        0
    );
    let text = dump(&mut store).await;
    assert_eq!(table_lines(&text, "invocations").len(), 2, "{text}");
}
