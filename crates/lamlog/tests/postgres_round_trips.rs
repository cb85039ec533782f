//! How many times a batch waits for PostgreSQL, counted on the wire by the
//! benchmark's proxy (`lamlog-bench/src/ablation/pg_count.rs`): first, that
//! the proxy counts waits, not statements.
//!
//! Needs PostgreSQL at `DATABASE_URL`, like the other `postgres_*` tests.
#![cfg(feature = "postgres")]

#[allow(dead_code)]
#[path = "../../lamlog-bench/src/ablation/pg_count.rs"]
mod pg_count;
#[allow(dead_code)]
#[path = "postgres/schema.rs"]
mod schema;

use pg_count::CountingProxy;

/// A counting proxy to the test database, holding answers 2 ms (so that
/// what a client pipelines is never split by an answer), and the URL that
/// goes through it.
fn proxy() -> (CountingProxy, String) {
    let upstream = schema::database_url();
    let address = upstream
        .split_once('@')
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or("127.0.0.1:5432")
        .to_owned();
    let proxy =
        match CountingProxy::start_delayed(address.clone(), std::time::Duration::from_millis(2)) {
            Ok(proxy) => proxy,
            Err(error) => panic!("starting the counting proxy: {error}"),
        };
    let proxied = upstream.replacen(&address, &format!("127.0.0.1:{}", proxy.port), 1);
    (proxy, proxied)
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
