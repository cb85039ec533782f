//! What only the PostgreSQL store has to prove: replays across its two
//! invocation tables, concurrent writers, a connection killed mid-batch, text
//! PostgreSQL cannot hold, concurrent migrations, TLS modes and secrets kept
//! out of errors. Day partitions and pruning are in `postgres_partitions.rs`;
//! the contract shared with SQLite is checked by `store_conformance.rs`.
//!
//! Needs PostgreSQL at `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); without it every test fails.
//! Each test works in a schema of its own, so they run in parallel.
#![cfg(feature = "postgres")]

#[allow(dead_code)]
use crate::support::evidence;
#[allow(dead_code)]
use crate::support::postgres_schema as schema;
#[path = "postgres/split.rs"]
mod split;

use std::collections::BTreeSet;
use std::time::Duration;

use lamlog::store::postgres::{PostgresConfig, PostgresStore, SCHEMA_VERSION};
use lamlog::store::{Store, StoreBatch, StoreError, StoredInvocation, WriteOutcome};
use lamlog_core::parse::ReportStatus;

use evidence::{
    app_error, dead_letter, dump, report, start, table_lines, text_field, timeout, Evidence,
    Figures, Setup, ACCOUNT,
};
use schema::{raw_client, TestStore};

/// 2025-06-15T00:00:00Z.
const DAY_MS: i64 = 1_749_945_600_000;

async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client
        .query_one(sql, &[])
        .await
        .and_then(|row| row.try_get(0))
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

#[tokio::test]
async fn replay_changes_nothing_and_a_late_report_moves_a_pending_row() {
    let mut store = TestStore::fresh().await;
    let setup = Setup::plain();
    let on = |time_ms, line| Evidence::new(ACCOUNT, "worker", time_ms, line);
    let first_batch = setup.invocations(&[
        on(DAY_MS + 1_000, start("r-1")),
        on(
            DAY_MS + 1_100,
            report("r-1", Figures::new(100.0, 128, 50), None, None),
        ),
        on(DAY_MS + 2_000, timeout("r-2", 3.0)),
    ]);
    let dead_letters = [dead_letter(
        3,
        b"\x1f\x8b broken".to_vec(),
        "gzip: bad header",
    )];
    let first = setup.write(&mut store, &first_batch, &dead_letters).await;
    assert_eq!(
        (first.inserted, first.updated, first.dead_letters),
        (2, 0, 1)
    );
    let client = raw_client(&store.schema).await;
    assert_eq!(
        count(&client, "SELECT count(*) FROM pending_invocations").await,
        1
    );
    let after_first = dump(&mut store).await;
    assert_eq!(
        table_lines(&after_first, "invocations").len(),
        2,
        "{after_first}"
    );

    let replay = setup.write(&mut store, &first_batch, &dead_letters).await;
    assert_eq!(
        replay,
        WriteOutcome {
            unchanged: 2,
            ..WriteOutcome::default()
        }
    );
    assert_eq!(dump(&mut store).await, after_first);

    let late_report = setup.invocations(&[on(
        DAY_MS + 3_001,
        report(
            "r-2",
            Figures::new(3_000.0, 128, 64),
            Some(ReportStatus::Timeout),
            None,
        ),
    )]);
    let moved = setup.write(&mut store, &late_report, &[]).await;
    assert_eq!((moved.inserted, moved.updated), (0, 1));
    assert_eq!(
        count(&client, "SELECT count(*) FROM pending_invocations").await,
        0
    );
    let partition: String = client
        .query_one(
            "SELECT tableoid::regclass::text FROM invocations WHERE request_id = 'r-2'",
            &[],
        )
        .await
        .and_then(|row| row.try_get(0))
        .unwrap();
    assert_eq!(partition, "invocations_p20250615");
    let summaries = store.function_summaries(None).await.unwrap();
    assert_eq!((summaries[0].invocations, summaries[0].timeouts), (2, 1));
    let again = setup.write(&mut store, &late_report, &[]).await;
    assert_eq!(again.unchanged, 1);
}

#[test]
fn split_and_replay_across_midnight_gives_the_same_state() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = proptest::test_runner::Config {
        cases: 8,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let result = runner.run(&split::case(), |case| {
        runtime.block_on(async {
            split::check(TestStore::fresh().await, TestStore::fresh().await, &case).await
        })
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// Two batches sharing 20 keys (one brings their REPORTs, the other their
/// failures) over 40 minutes of one function, so that they also share
/// minutes, histogram buckets, a watermark and alert windows.
fn overlapping_batches(setup: &Setup) -> (Vec<StoredInvocation>, Vec<StoredInvocation>) {
    let on = |time_ms, line| Evidence::new(ACCOUNT, "busy", time_ms, line);
    let time_of = |index: i64| DAY_MS + 600_000 + index * 30_000;
    let mut first = Vec::new();
    let mut second = Vec::new();
    for index in 0..80_i64 {
        let request_id = format!("r-{index:03}");
        let figures = Figures::new(50.0 + index as f64, 256, 100);
        let reported = on(time_of(index), report(&request_id, figures, None, None));
        if index < 50 {
            first.push(reported);
        } else {
            second.push(reported);
        }
        if (30..50).contains(&index) {
            let failure = if index % 2 == 0 {
                timeout(&request_id, 3.0)
            } else {
                app_error(&request_id, "ValueError")
            };
            second.push(on(time_of(index) - 1, failure));
        }
    }
    (setup.invocations(&first), setup.invocations(&second))
}

#[tokio::test]
async fn concurrent_writers_with_overlapping_batches_store_each_invocation_once() {
    let setup = Setup {
        rules: lamlog_core::judge::AlertRules {
            window_ms: 180_000,
            grace_ms: 60_000,
            error_rate: 0.3,
            error_rate_min_invocations: 2,
            ..lamlog_core::judge::AlertRules::default()
        },
        ..Setup::plain()
    };
    let (first, second) = overlapping_batches(&setup);
    let mut reference_dumps = Vec::new();
    for order in [[&first, &second], [&second, &first]] {
        let mut reference = TestStore::fresh().await;
        for batch in order {
            setup.write(&mut reference, batch, &[]).await;
        }
        reference_dumps.push(dump(&mut reference).await);
    }
    for _ in 0..3 {
        let mut store = TestStore::with_pool(2).await;
        let mut writer_a = store.store.clone();
        let mut writer_b = store.store.clone();
        let batch = |invocations| StoreBatch {
            invocations,
            dead_letters: &[],
            metadata: &setup.metadata,
            rules: &setup.rules,
            received_at_ms: setup.received_at_ms,
            unsent_alert_delay_ms: lamlog::store::UNSENT_ALERT_DELAY_MS,
        };
        let (batch_a, batch_b) = (batch(&first), batch(&second));
        let (outcome_a, outcome_b) = tokio::join!(
            writer_a.write_batch(&batch_a),
            writer_b.write_batch(&batch_b)
        );
        let (outcome_a, outcome_b) = (outcome_a.unwrap(), outcome_b.unwrap());
        assert_eq!(outcome_a.inserted + outcome_b.inserted, 80);
        assert_eq!(outcome_a.updated + outcome_b.updated, 20);
        let text = dump(&mut store).await;
        assert_eq!(table_lines(&text, "invocations").len(), 80);
        assert!(reference_dumps.contains(&text), "{text}");
        // Each stored alert was announced as new by exactly one writer.
        let keys = |outcome: &WriteOutcome| -> BTreeSet<String> {
            outcome
                .new_alerts
                .iter()
                .map(|alert| alert.dedup_key.clone())
                .collect()
        };
        let (keys_a, keys_b) = (keys(&outcome_a), keys(&outcome_b));
        assert_eq!(
            keys_a.intersection(&keys_b).count(),
            0,
            "announced by both writers: {keys_a:?} {keys_b:?}"
        );
        let stored: BTreeSet<String> = table_lines(&text, "alerts")
            .iter()
            .filter_map(|line| {
                let (_, rest) = line.split_once(" dedup_key=\"")?;
                Some(rest.split_once('"')?.0.to_owned())
            })
            .collect();
        assert!(!stored.is_empty(), "the batches raise alerts");
        assert_eq!(
            keys_a.union(&keys_b).cloned().collect::<BTreeSet<_>>(),
            stored,
            "every stored alert was announced once"
        );
    }
}

#[tokio::test]
async fn a_connection_killed_mid_batch_commits_nothing_and_the_retry_succeeds() {
    let setup = Setup::plain();
    let on = |time_ms, line| Evidence::new(ACCOUNT, "victim", time_ms, line);
    let invocations = setup.invocations(&[
        on(
            DAY_MS,
            report("r-1", Figures::new(10.0, 128, 20), None, None),
        ),
        on(DAY_MS + 5, timeout("r-2", 3.0)),
        on(
            DAY_MS + 9,
            report("r-2", Figures::new(3_000.0, 128, 20), None, None),
        ),
    ]);
    let dead_letters = [dead_letter(1, vec![0xff, 0x00], "invalid")];
    let mut reference = TestStore::fresh().await;
    setup
        .write(&mut reference, &invocations, &dead_letters)
        .await;

    let mut store = TestStore::with_pool(1).await;
    let blocker = raw_client(&store.schema).await;
    // The batch writes its invocations, then waits for this lock at its
    // first rollup, in the middle of its transaction.
    blocker
        .batch_execute("BEGIN; LOCK TABLE function_minute IN EXCLUSIVE MODE")
        .await
        .unwrap();
    let batch = StoreBatch {
        invocations: &invocations,
        dead_letters: &dead_letters,
        metadata: &setup.metadata,
        rules: &setup.rules,
        received_at_ms: setup.received_at_ms,
        unsent_alert_delay_ms: lamlog::store::UNSENT_ALERT_DELAY_MS,
    };
    let killer = async {
        let waiting =
            "SELECT pid FROM pg_locks WHERE NOT granted AND relation = 'function_minute'::regclass";
        let pid: i32 = loop {
            if let Some(row) = blocker.query_opt(waiting, &[]).await.unwrap() {
                break row.get(0);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let pending: i64 = blocker
            .query_one("SELECT count(*) FROM pending_invocations", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(pending, 0, "uncommitted rows are not visible");
        blocker
            .execute("SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .unwrap();
        blocker.batch_execute("COMMIT").await.unwrap();
    };
    let mut writer = store.store.clone();
    let (failed, ()) = tokio::join!(writer.write_batch(&batch), killer);
    let error = failed.expect_err("the batch's connection was killed");
    assert!(error.is_transient(), "{error}");
    assert!(matches!(error, StoreError::Connection(_)), "{error:?}");
    assert_eq!(dump(&mut store).await, "", "nothing was committed");
    let retried = store.write_batch(&batch).await.unwrap();
    assert_eq!((retried.inserted, retried.dead_letters), (2, 1));
    assert_eq!(dump(&mut store).await, dump(&mut reference).await);
}

#[tokio::test]
async fn nul_and_hostile_text_are_stored_as_data() {
    let mut store = TestStore::fresh().await;
    let setup = Setup::plain();
    let function = "fn\0'); DROP TABLE invocations; --";
    let on = |time_ms, line| Evidence::new(ACCOUNT, function, time_ms, line);
    let evidence = [
        on(
            DAY_MS,
            report("r\0\\'\"1", Figures::new(5.0, 128, 10), None, None),
        ),
        on(
            DAY_MS,
            app_error("r\0\\'\"1", "Err\0or'; DELETE FROM alerts; --"),
        ),
    ];
    let raw = vec![0x00, 0xff, 0xfe, 0xc3, 0x28, b'\'', b'\\', 0x00];
    let dead_letters = [dead_letter(0, raw.clone(), "nul \0 in reason")];
    let first = setup
        .write(&mut store, &setup.invocations(&evidence), &dead_letters)
        .await;
    assert_eq!((first.inserted, first.dead_letters), (1, 1));
    let text = dump(&mut store).await;
    let row = table_lines(&text, "invocations")[0];
    assert!(
        row.contains(&text_field(
            "function",
            "fn\u{fffd}'); DROP TABLE invocations; --"
        )),
        "{row}"
    );
    assert!(
        row.contains(&text_field("request_id", "r\u{fffd}\\'\"1")),
        "{row}"
    );
    assert!(
        row.contains(&text_field(
            "error_type",
            "Err\u{fffd}or'; DELETE FROM alerts; --"
        )),
        "{row}"
    );
    let letter = table_lines(&text, "dead_letters")[0];
    assert!(letter.contains(" raw=x'00fffec328275c00'"), "{letter}");
    assert!(
        letter.contains(&text_field("reason", "nul \u{fffd} in reason")),
        "{letter}"
    );
    let replay = setup
        .write(&mut store, &setup.invocations(&evidence), &dead_letters)
        .await;
    assert_eq!(
        (replay.unchanged, replay.updated, replay.dead_letters),
        (1, 0, 0)
    );
    assert_eq!(dump(&mut store).await, text);
}

/// Two request ids that differ only by a NUL against U+FFFD are one key once
/// cleaned: their evidence joins into one row, in either order.
#[tokio::test]
async fn keys_that_clean_alike_join_into_one_row() {
    let setup = Setup::plain();
    let on = |line| Evidence::new(ACCOUNT, "orders", DAY_MS, line);
    let reported = on(report("r\0x", Figures::new(5.0, 128, 10), None, None));
    let failed = on(app_error("r\u{fffd}x", "Boom"));
    let mut dumps = Vec::new();
    for evidence in [[reported.clone(), failed.clone()], [failed, reported]] {
        let mut store = TestStore::fresh().await;
        let invocations = setup.invocations(&evidence);
        assert_eq!(invocations.len(), 2, "two keys before cleaning");
        let outcome = setup.write(&mut store, &invocations, &[]).await;
        assert_eq!(outcome.inserted, 1);
        let text = dump(&mut store).await;
        let rows = table_lines(&text, "invocations");
        assert_eq!(rows.len(), 1, "{text}");
        assert!(
            rows[0].contains(&text_field("error_type", "Boom")),
            "{text}"
        );
        assert!(rows[0].contains(" duration_ms=5"), "{text}");
        dumps.push(text);
    }
    assert_eq!(dumps[0], dumps[1]);
}

#[tokio::test]
async fn concurrent_migrations_apply_once_and_a_newer_schema_is_refused() {
    let schema = schema::schema_name();
    let config = schema::config(&schema, 1);
    let (first, second) = tokio::join!(
        PostgresStore::connect(&config),
        PostgresStore::connect(&config)
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    let owner = TestStore {
        store: first,
        schema: schema.clone(),
    };
    drop(second);
    let client = raw_client(&schema).await;
    assert_eq!(
        count(&client, "SELECT count(*) FROM schema_migrations").await,
        SCHEMA_VERSION
    );
    client
        .execute("INSERT INTO schema_migrations (version) VALUES (999)", &[])
        .await
        .unwrap();
    let refused = PostgresStore::connect(&config)
        .await
        .expect_err("a newer schema");
    assert!(matches!(refused, StoreError::Migration(_)), "{refused:?}");
    assert!(refused.to_string().contains("999"), "{refused}");
    drop(owner);
}

/// Every form a password can take in a URL or a `key=value` string, each
/// with a password that holds `ter2`, in a connection that fails (nothing
/// listens on port 1, or the string itself is refused).
#[tokio::test]
async fn a_password_never_appears_in_an_error() {
    for url in [
        "postgres://postgres:hunter2@127.0.0.1:1/test",
        "postgres://postgres:hunter2@127.0.0.1:1/test?sslmode=verify-full",
        "postgres://postgres@127.0.0.1:1/test?password=hunter2",
        "postgres://postgres@127.0.0.1:1/test?pass%77ord=hunter2",
        "postgres://postgres:hunter2@127.0.0.1:1/test?sslmode=bogus",
        "postgres://postgres:hunter2@127.0.0.1:1/test?sslmode=allow",
        "postgres://postgres:hun/ter2@127.0.0.1:1/test",
        "host=127.0.0.1 port=1 user=postgres password=hunter2 dbname=test",
        "host=127.0.0.1 port=1 user=postgres password = 'hun ter2' dbname=test",
        "host=127.0.0.1 port=1 user=postgres password=hun\\ ter2 sslmode=require",
        "host=127.0.0.1 port=1 user=postgres PASSWORD=hunter2",
    ] {
        let error = PostgresStore::connect(&PostgresConfig::new(url))
            .await
            .expect_err("nothing listens on port 1");
        let text = format!("{error} {error:?}");
        assert!(!text.contains("ter2"), "{url}: {text}");
        assert!(text.contains("***"), "{url}: {text}");
        assert!(matches!(error, StoreError::Connection(_)), "{error:?}");
    }
}

#[tokio::test]
async fn tls_modes_follow_the_server() {
    let client = raw_client("public").await;
    let ssl_on: String = client.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    let schema = schema::schema_name();
    let with_mode = |mode: &str| {
        let url = schema::database_url();
        let separator = if url.contains('?') { '&' } else { '?' };
        PostgresConfig {
            schema: Some(schema.clone()),
            ..PostgresConfig::new(format!("{url}{separator}sslmode={mode}"))
        }
    };
    let required = PostgresStore::connect(&with_mode("require")).await;
    assert_eq!(
        required.is_ok(),
        ssl_on == "on",
        "{:?}",
        required.as_ref().err()
    );
    let _owner = required.map(|store| TestStore {
        store,
        schema: schema.clone(),
    });
    // The local server's certificate is self-signed: no trusted root signs it.
    let verified = PostgresStore::connect(&with_mode("verify-full")).await;
    assert!(
        matches!(verified, Err(StoreError::Connection(_))),
        "{verified:?}"
    );
}
