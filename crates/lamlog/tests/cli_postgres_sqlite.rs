//! The same input through `lamlog ingest` into SQLite and into PostgreSQL
//! gives the same `lamlog report --json` and the same `lamlog db dump`.
//! Needs PostgreSQL at `DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/test);
//! fails, never skips, when it is not there.

use crate::support::cli;

use std::path::Path;

fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The admin URL with its database replaced.
fn url_for(database: &str) -> String {
    let admin = admin_url();
    let (base, query) = admin
        .split_once('?')
        .map_or((admin.as_str(), ""), |(base, query)| (base, query));
    let root = base.rsplit_once('/').map_or(base, |(root, _)| root);
    if query.is_empty() {
        format!("{root}/{database}")
    } else {
        format!("{root}/{database}?{query}")
    }
}

async fn admin() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&admin_url(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|error| {
            panic!(
                "PostgreSQL must be running for this test ({}): {error}",
                admin_url()
            )
        });
    tokio::spawn(connection);
    client
}

/// What `lamlog ARGS` printed.
fn lamlog(args: &[&str]) -> Vec<u8> {
    cli::lamlog(args).stdout
}

#[tokio::test]
async fn sqlite_and_postgres_report_the_same() {
    let database = format!("lamlog_cli_{}", std::process::id());
    let client = admin().await;
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {database}"))
        .await
        .unwrap();
    client
        .batch_execute(&format!("CREATE DATABASE {database}"))
        .await
        .unwrap();
    let url = url_for(&database);

    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let examples = examples.to_str().unwrap();
    let metadata = format!("{examples}/metadata.toml");
    let sqlite = std::env::temp_dir().join(format!("lamlog-cli-pg-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&sqlite);
    let sqlite = sqlite.to_str().unwrap();

    lamlog(&["ingest", examples, "--metadata", &metadata, "--db", sqlite]);
    lamlog(&[
        "ingest",
        examples,
        "--metadata",
        &metadata,
        "--database-url",
        &url,
    ]);
    // A replay into PostgreSQL changes nothing.
    lamlog(&[
        "ingest",
        examples,
        "--metadata",
        &metadata,
        "--database-url",
        &url,
    ]);

    let from_sqlite = lamlog(&["report", "--json", "--db", sqlite]);
    let from_postgres = lamlog(&["report", "--json", "--database-url", &url]);
    let report: serde_json::Value = serde_json::from_slice(&from_sqlite).unwrap();
    assert!(
        report["total_invocations"].as_i64().unwrap() > 1000,
        "the example was ingested"
    );
    assert_eq!(
        String::from_utf8(from_sqlite).unwrap(),
        String::from_utf8(from_postgres).unwrap()
    );

    let dump_sqlite = lamlog(&["db", "dump", "--db", sqlite]);
    let dump_postgres = lamlog(&["db", "dump", "--database-url", &url]);
    assert!(
        dump_sqlite == dump_postgres,
        "the two stores hold the same content"
    );

    drop(client);
    let client = admin().await;
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        .await
        .unwrap();
    let _ = std::fs::remove_file(sqlite);
}
