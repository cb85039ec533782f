//! How many times a batch waits for PostgreSQL, counted on the wire by the
//! benchmark's proxy (`lamlog-bench/src/ablation/pg_count.rs`): a batch of
//! 200 invocations (REPORTs, timeouts and errors over several functions and
//! minutes, so that rollups, watermarks, windows and alerts all have work)
//! must cost at most four round trips on a warm connection (one more on a new
//! one), its replay at most two, whatever the number of statements they send
//! (`write.rs` says what each round trip carries).
//!
//! Needs PostgreSQL at `DATABASE_URL`, like the other `postgres_*` tests.
#![cfg(feature = "postgres")]

#[allow(dead_code)]
use crate::support::evidence;
#[allow(dead_code)]
#[path = "../../lamlog-bench/src/ablation/pg_count.rs"]
mod pg_count;
#[allow(dead_code)]
use crate::support::postgres_schema as schema;

use lamlog::store::postgres::{PostgresConfig, PostgresStore};
use lamlog::store::{AlertOutbox, Store, StoredInvocation};
use lamlog_core::assemble::{Environment, EnvironmentKey};
use lamlog_core::parse::InitializationType;

use evidence::{app_error, report, start, timeout, Evidence, Figures, Setup, ACCOUNT, BASE_MS};
use pg_count::CountingProxy;

/// 200 invocations of `prefix`, over 8 functions and 10 minutes: most
/// succeed, every seventh times out, every eleventh fails.
fn batch(setup: &Setup, prefix: &str) -> Vec<StoredInvocation> {
    let mut evidence = Vec::new();
    for index in 0..200_i64 {
        let function = format!("fn-{}", index % 8);
        let request_id = format!("{prefix}-{index}");
        let at = BASE_MS + index * 3_000;
        let on = |offset, line| Evidence::new(ACCOUNT, &function, at + offset, line);
        evidence.push(on(0, start(&request_id)));
        if index % 7 == 0 {
            evidence.push(on(1, timeout(&request_id, 3.0)));
        } else if index % 11 == 0 {
            evidence.push(on(1, app_error(&request_id, "Boom")));
        }
        evidence.push(on(
            2,
            report(&request_id, Figures::new(120.0, 128, 60), None, None),
        ));
    }
    setup.invocations(&evidence)
}

/// A counting proxy to the test database, holding answers 20 ms (so that
/// what a client pipelines is never split by an answer, even while the
/// other tests load both cores: 2 ms once split a cold batch's pipeline
/// into two more waits), and the URL that goes through it.
fn proxy() -> (CountingProxy, String) {
    let upstream = schema::database_url();
    let address = upstream
        .split_once('@')
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or("127.0.0.1:5432")
        .to_owned();
    let proxy =
        match CountingProxy::start_delayed(address.clone(), std::time::Duration::from_millis(20)) {
            Ok(proxy) => proxy,
            Err(error) => panic!("starting the counting proxy: {error}"),
        };
    let proxied = upstream.replacen(&address, &format!("127.0.0.1:{}", proxy.port), 1);
    (proxy, proxied)
}

/// A fresh schema (kept while the test holds it), the proxy, and a store
/// configuration of one connection through it.
async fn counted_config() -> (schema::TestStore, CountingProxy, PostgresConfig) {
    let schema = schema::TestStore::fresh().await;
    let (proxy, proxied) = proxy();
    let config = PostgresConfig {
        pool_size: 1,
        schema: Some(schema.schema.clone()),
        ..PostgresConfig::new(proxied)
    };
    (schema, proxy, config)
}

async fn connect(config: &PostgresConfig) -> PostgresStore {
    match PostgresStore::connect(config).await {
        Ok(store) => store,
        Err(error) => panic!("connecting through the proxy: {error}"),
    }
}

/// The counter itself: statements awaited one after the other are one
/// round trip each, pipelined ones share one, and a `COPY … FROM STDIN`
/// (whose Sync the server ignores) leaves the count right for what follows.
#[tokio::test]
async fn the_proxy_counts_waits_not_statements() {
    let (proxy, proxied) = proxy();
    let (client, connection) = match tokio_postgres::connect(&proxied, tokio_postgres::NoTls).await
    {
        Ok(connected) => connected,
        Err(error) => panic!("connecting through the proxy: {error}"),
    };
    tokio::spawn(connection);
    let select = match client.prepare("SELECT $1::int8").await {
        Ok(statement) => statement,
        Err(error) => panic!("preparing: {error}"),
    };
    let run = |value: i64| {
        let (client, select) = (&client, &select);
        async move {
            match client.query_one(select, &[&value]).await {
                Ok(row) => row.get::<_, i64>(0),
                Err(error) => panic!("selecting: {error}"),
            }
        }
    };

    let before = proxy.counts();
    assert_eq!(run(1).await + run(2).await + run(3).await, 6);
    let sequential = proxy.counts().since(&before);
    assert_eq!((sequential.round_trips, sequential.statements), (3, 3));

    let before = proxy.counts();
    let (one, two, three) = futures_util::future::join3(run(1), run(2), run(3)).await;
    assert_eq!(one + two + three, 6);
    let pipelined = proxy.counts().since(&before);
    assert_eq!((pipelined.round_trips, pipelined.statements), (1, 3));

    if let Err(error) = client
        .batch_execute("CREATE TEMP TABLE copied (value int8)")
        .await
    {
        panic!("creating a table: {error}");
    }
    let sink = match client
        .copy_in::<_, &'static [u8]>("COPY copied FROM STDIN")
        .await
    {
        Ok(sink) => sink,
        Err(error) => panic!("starting a copy: {error}"),
    };
    futures_util::pin_mut!(sink);
    let rows: &'static [u8] = b"1\n2\n";
    if let Err(error) = futures_util::SinkExt::send(&mut sink, rows).await {
        panic!("copying: {error}");
    }
    match sink.finish().await {
        Ok(copied) => assert_eq!(copied, 2),
        Err(error) => panic!("finishing the copy: {error}"),
    }
    let before = proxy.counts();
    assert_eq!(run(1).await + run(2).await, 3);
    let after_copy = proxy.counts().since(&before);
    assert_eq!(after_copy.round_trips, 2, "{after_copy:?}");
}

#[tokio::test]
async fn a_batch_costs_four_round_trips_and_a_replay_two() {
    let (_schema, proxy, config) = counted_config().await;
    let mut store = connect(&config).await;
    let setup = Setup::plain();
    // Warm up: the connection, its prepared statements, the day partitions.
    let warm_up = batch(&setup, "warm");
    setup.write(&mut store, &warm_up, &[]).await;

    let fresh = batch(&setup, "fresh");
    assert_eq!(fresh.len(), 200);
    let before = proxy.counts();
    let outcome = setup.write(&mut store, &fresh, &[]).await;
    let written = proxy.counts().since(&before);
    assert_eq!(outcome.inserted, 200);
    assert!(
        written.round_trips <= 4,
        "a 200-invocation batch waited {} times ({} requests, {} statements)",
        written.round_trips,
        written.requests,
        written.statements
    );
    assert!(written.statements >= 10, "{written:?}");

    let before = proxy.counts();
    let replay = setup.write(&mut store, &fresh, &[]).await;
    let replayed = proxy.counts().since(&before);
    assert_eq!(replay.unchanged, 200);
    assert!(
        replayed.round_trips <= 2,
        "a replay waited {} times",
        replayed.round_trips
    );

    // On a new connection, the batch's statements are all prepared in one
    // round trip before the first pipeline: one more, not one per statement
    // (a statement left out of that list would also be sent out of order).
    let mut cold = connect(&config).await;
    let before = proxy.counts();
    let outcome = setup.write(&mut cold, &batch(&setup, "cold"), &[]).await;
    let cold_written = proxy.counts().since(&before);
    assert_eq!(outcome.inserted, 200);
    assert!(
        cold_written.round_trips <= written.round_trips + 1,
        "on a new connection a batch waited {} times, against {} on a warm one",
        cold_written.round_trips,
        written.round_trips
    );
}

/// Keeping the environments a batch saw start and reading those of its
/// streams is one round trip, and the read finds what was just kept.
#[tokio::test]
async fn keeping_and_reading_environments_is_one_round_trip() {
    let (_schema, proxy, config) = counted_config().await;
    let mut store = connect(&config).await;
    let environment = |stream: &str, initialization_type| Environment {
        key: EnvironmentKey {
            account: ACCOUNT.to_owned(),
            log_group: "/aws/lambda/orders".to_owned(),
            log_stream: stream.to_owned(),
        },
        initialization_type,
    };
    let keep_and_read = |kept: Vec<Environment>, streams: &[&str]| {
        let keys: Vec<EnvironmentKey> = streams
            .iter()
            .map(|stream| environment(stream, InitializationType::OnDemand).key)
            .collect();
        (kept, keys)
    };
    // Warm up: the connection and its prepared statements.
    let (kept, keys) = keep_and_read(
        vec![environment("warm", InitializationType::OnDemand)],
        &["warm"],
    );
    if let Err(error) = store.record_and_read_environments(&kept, 1, &keys).await {
        panic!("keeping environments: {error}");
    }

    let (kept, keys) = keep_and_read(
        vec![environment(
            "new",
            InitializationType::ProvisionedConcurrency,
        )],
        &["warm", "new", "unknown"],
    );
    let before = proxy.counts();
    let found = match store.record_and_read_environments(&kept, 2, &keys).await {
        Ok(found) => found,
        Err(error) => panic!("keeping environments: {error}"),
    };
    let counted = proxy.counts().since(&before);
    let mut found: Vec<(String, InitializationType)> = found
        .into_iter()
        .map(|found| (found.key.log_stream, found.initialization_type))
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        found,
        vec![
            ("new".to_owned(), InitializationType::ProvisionedConcurrency),
            ("warm".to_owned(), InitializationType::OnDemand),
        ]
    );
    assert_eq!(counted.round_trips, 1, "{counted:?}");
    assert_eq!(counted.statements, 2, "{counted:?}");
}

/// The outbox claim after a batch costs no round trip when the batch found,
/// just before its commit, no unsent alert due; an alert that is due is
/// still claimed.
#[tokio::test]
async fn the_claim_after_a_batch_waits_only_when_an_alert_is_due() {
    let (test_store, proxy, config) = counted_config().await;
    let mut store = connect(&config).await;
    let setup = Setup::plain();

    // The batch's own alerts are stored unsent, due later.
    let raised = setup.write(&mut store, &batch(&setup, "first"), &[]).await;
    assert!(!raised.new_alerts.is_empty());
    let (claimed, waited) = claim(&mut store, &proxy, setup.received_at_ms).await;
    assert_eq!((claimed.len(), waited), (0, 0));
    // Used once: a second claim asks.
    let (claimed, waited) = claim(&mut store, &proxy, setup.received_at_ms).await;
    assert_eq!((claimed.len(), waited), (0, 1));

    // One of them is due now (its delivery failed long ago).
    let admin = schema::raw_client(&test_store.schema).await;
    let due = match admin
        .execute(
            "UPDATE alerts SET next_attempt_ms = 0
              WHERE dedup_key = (SELECT MIN(dedup_key) FROM alerts)",
            &[],
        )
        .await
    {
        Ok(updated) => updated,
        Err(error) => panic!("making an alert due: {error}"),
    };
    assert_eq!(due, 1);
    setup.write(&mut store, &batch(&setup, "second"), &[]).await;
    let (claimed, waited) = claim(&mut store, &proxy, setup.received_at_ms).await;
    assert_eq!((claimed.len(), waited), (1, 1));
}

/// Claims the due unsent alerts at `now_ms`; returns them and the round
/// trips the claim took.
async fn claim(
    store: &mut PostgresStore,
    proxy: &CountingProxy,
    now_ms: i64,
) -> (Vec<lamlog_core::judge::Alert>, u64) {
    let before = proxy.counts();
    let claimed = match store
        .claim_unsent_alerts(now_ms, lamlog::store::UNSENT_ALERT_DELAY_MS, 100)
        .await
    {
        Ok(claimed) => claimed,
        Err(error) => panic!("claiming alerts: {error}"),
    };
    (claimed, proxy.counts().since(&before).round_trips)
}
