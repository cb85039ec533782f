//! `lamlog db prune` on SQLite and on PostgreSQL, through the binary.
//!
//! Pruning must not undo exactly-once: an age below the stream retention
//! plus the event source mapping's maximum record age is refused (a record
//! Kinesis re-delivers after its row is gone would be counted again) unless
//! `--force` is given; and invocations still waiting for their REPORT are
//! pruned too, by the first time the store saw them, which a later batch
//! touching them does not move.
//!
//! The PostgreSQL half needs a server at `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and fails, never skips, without
//! one; each test works in a database of its own.

#[allow(dead_code)]
use crate::support::evidence;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use lamlog::store::postgres::{PostgresConfig, PostgresStore};
use lamlog::store::sqlite::SqliteStore;
use lamlog::store::EitherStore;

use evidence::{
    report, start, table_lines, text_field, timeout, Evidence, Figures, Setup, ACCOUNT,
};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Where a test's data lives, and how the command line names it.
enum Target {
    Sqlite(PathBuf),
    Postgres { database: String, url: String },
}

fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
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

/// A name no other test or run uses at the same time.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl Target {
    fn sqlite() -> Target {
        let path = std::env::temp_dir().join(format!("{}.db", unique("lamlog-prune")));
        let _ = std::fs::remove_file(&path);
        Target::Sqlite(path)
    }

    async fn postgres() -> Target {
        let database = unique("lamlog_prune");
        let client = admin().await;
        client
            .batch_execute(&format!("CREATE DATABASE {database}"))
            .await
            .unwrap();
        let admin = admin_url();
        let (base, query) = admin.split_once('?').unwrap_or((admin.as_str(), ""));
        let root = base.rsplit_once('/').map_or(base, |(root, _)| root);
        let url = if query.is_empty() {
            format!("{root}/{database}")
        } else {
            format!("{root}/{database}?{query}")
        };
        Target::Postgres { database, url }
    }

    /// The store, opened in the test's process to write the fixtures.
    async fn open(&self) -> EitherStore<SqliteStore, PostgresStore> {
        match self {
            Target::Sqlite(path) => EitherStore::Left(SqliteStore::open(path).unwrap()),
            Target::Postgres { url, .. } => EitherStore::Right(
                PostgresStore::connect(&PostgresConfig::new(url.clone()))
                    .await
                    .unwrap(),
            ),
        }
    }

    /// `lamlog db <args> --db PATH` or `… --database-url URL`.
    fn lamlog_db(&self, args: &[&str]) -> Output {
        let (flag, value) = match self {
            Target::Sqlite(path) => ("--db", path.to_str().unwrap().to_owned()),
            Target::Postgres { url, .. } => ("--database-url", url.clone()),
        };
        Command::new(env!("CARGO_BIN_EXE_lamlog"))
            .arg("db")
            .args(args)
            .args([flag, &value])
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    }

    fn dump(&self) -> String {
        let output = self.lamlog_db(&["dump"]);
        assert!(output.status.success(), "{}", stderr(&output));
        String::from_utf8(output.stdout).unwrap()
    }

    async fn remove(self) {
        match self {
            Target::Sqlite(path) => {
                let _ = std::fs::remove_file(path);
            }
            Target::Postgres { database, .. } => {
                admin()
                    .await
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
                    .await
                    .unwrap();
            }
        }
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Two batches: one received ten days ago (an old REPORT, and a START that
/// never got its REPORT), one received now (a timeout line for that old
/// pending invocation, a new pending START and a new REPORT).
async fn fill(target: &Target, now: i64) {
    let mut store = target.open().await;
    let setup = Setup::plain();
    let on = |time_ms, line| Evidence::new(ACCOUNT, "orders", time_ms, line);
    let figures = Figures::new(12.0, 128, 40);
    let ten_days_ago = now - 10 * DAY_MS;
    let old = setup.invocations(&[
        on(ten_days_ago, start("r-old")),
        on(ten_days_ago + 12, report("r-old", figures, None, None)),
        on(ten_days_ago, start("p-old")),
    ]);
    setup
        .write_received_at(&mut store, &old, &[], ten_days_ago)
        .await;
    let new = setup.invocations(&[
        on(now - 60_000, timeout("p-old", 3.0)),
        on(now - 60_000, start("p-new")),
        on(now - 60_000, start("r-new")),
        on(now - 59_000, report("r-new", figures, None, None)),
    ]);
    let outcome = setup.write_received_at(&mut store, &new, &[], now).await;
    assert_eq!(outcome.updated, 1, "the timeout line changes p-old");
}

/// The request ids among `request_ids` that `dump` holds an invocation of.
fn stored<'a>(dump: &str, request_ids: &[&'a str]) -> Vec<&'a str> {
    let rows = table_lines(dump, "invocations");
    request_ids
        .iter()
        .copied()
        .filter(|request_id| {
            let field = text_field("request_id", request_id);
            rows.iter().any(|row| row.contains(&field))
        })
        .collect()
}

const ALL: [&str; 4] = ["r-old", "p-old", "r-new", "p-new"];

async fn refused_below_the_minimum_unless_forced(target: Target) {
    let now = now_ms();
    fill(&target, now).await;
    let before = target.dump();
    assert_eq!(stored(&before, &ALL), ALL);

    // Retention 10 h and record age 5 h: the minimum is their sum.
    let refused = target.lamlog_db(&[
        "prune",
        "--older-than",
        "12h",
        "--retention",
        "10h",
        "--max-record-age",
        "5h",
    ]);
    assert!(!refused.status.success(), "12h < 10h + 5h is refused");
    let minimum = format!("{}h", 10 + 5);
    assert!(
        stderr(&refused).contains(&format!("younger than {minimum}")),
        "the refusal names the minimum: {}",
        stderr(&refused)
    );
    assert!(stderr(&refused).contains("--force"), "{}", stderr(&refused));
    assert_eq!(target.dump(), before, "a refused prune deletes nothing");

    // The defaults: the template's 48 h retention, and a record age limit
    // of at most the retention.
    let refused = target.lamlog_db(&["prune", "--older-than", "1d"]);
    assert!(!refused.status.success(), "one day is refused by default");
    let minimum = format!("{}h", 48 + 48);
    assert!(
        stderr(&refused).contains(&format!("younger than {minimum}")),
        "{}",
        stderr(&refused)
    );
    assert_eq!(target.dump(), before);

    let forced = target.lamlog_db(&["prune", "--older-than", "1d", "--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    let after = target.dump();
    assert_eq!(stored(&after, &ALL), ["r-new", "p-new"], "{after}");
    assert_eq!(
        table_lines(&after, "function_minute"),
        table_lines(&before, "function_minute"),
        "rollups are kept"
    );
    target.remove().await;
}

async fn pending_rows_go_by_when_they_were_first_seen(target: Target) {
    let now = now_ms();
    fill(&target, now).await;
    let before = target.dump();

    let pruned = target.lamlog_db(&["prune", "--older-than", "5d"]);
    assert!(pruned.status.success(), "{}", stderr(&pruned));
    let after = target.dump();
    // p-old was first seen ten days ago; the timeout line received now did
    // not make it younger.
    assert_eq!(stored(&after, &ALL), ["r-new", "p-new"], "{after}");
    assert_eq!(
        table_lines(&after, "function_minute"),
        table_lines(&before, "function_minute"),
        "rollups are kept"
    );
    let report = String::from_utf8(pruned.stdout).unwrap();
    assert!(
        report.contains("1 pending invocation(s)"),
        "the summary counts the pending row: {report}"
    );

    // Nothing else is that old: a second prune removes nothing.
    let again = target.lamlog_db(&["prune", "--older-than", "5d"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(target.dump(), after);
    target.remove().await;
}

#[tokio::test]
async fn sqlite_refuses_below_the_minimum_unless_forced() {
    refused_below_the_minimum_unless_forced(Target::sqlite()).await;
}

#[tokio::test]
async fn postgres_refuses_below_the_minimum_unless_forced() {
    refused_below_the_minimum_unless_forced(Target::postgres().await).await;
}

#[tokio::test]
async fn sqlite_prunes_pending_rows_by_when_they_were_first_seen() {
    pending_rows_go_by_when_they_were_first_seen(Target::sqlite()).await;
}

#[tokio::test]
async fn postgres_prunes_pending_rows_by_when_they_were_first_seen() {
    pending_rows_go_by_when_they_were_first_seen(Target::postgres().await).await;
}
