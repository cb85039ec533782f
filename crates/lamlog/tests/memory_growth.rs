//! `memory_growth` end to end: a generated function that leaks memory
//! (`lamlog generate --leak`) beside steady ones, through the real pipeline
//! into SQLite and PostgreSQL, cut into uneven batches with one replayed.
//!
//! - Every stored invocation, rollup and alert equals the generator's truth
//!   (`support/oracle.rs`), whose `memory_growth` alerts are restated from
//!   the README's rule in the generator, not computed by lamlog's.
//! - The leak raises alerts, the steady functions none.
//! - An execution environment that the leak ended in an out-of-memory kill
//!   was alerted on before the kill, with a projection that the kill bears
//!   out.
//! - The report's growing streams are the leaking function's, and every
//!   stream's kept state is bounded.

use crate::support::cli;
use crate::support::kept;
#[allow(dead_code)] // the oracle's helpers for other tests
use crate::support::oracle;
#[allow(dead_code)] // `Workload::generate` serves other tests
use crate::support::oracle_workload;
#[allow(dead_code)] // only the store and its schema are used here
use crate::support::postgres_schema as schema;

use std::collections::BTreeMap;

use lamlog::batch::{BatchInput, Pipeline, Settings};
use lamlog::enrich::{Enricher, MetaCache};
use lamlog::generate::{GenerateOptions, Leak};
use lamlog::store::sqlite::SqliteStore;
use lamlog::store::{AlertOutbox, GrowingStream, Store};
use lamlog_core::decode::Format;
use lamlog_core::judge::AlertKind;

use kept::Kept;
use oracle::{assert_store_is_truth, dump_rows};
use oracle_workload::Workload;
use schema::TestStore;

/// The leaking function's index.
const LEAKING: usize = 1;

fn workload() -> Workload {
    Workload::generate_with(
        &GenerateOptions {
            functions: 4,
            invocations: 2400,
            seed: 21,
            accounts: 1,
            leak: Some(Leak {
                function: LEAKING,
                mb_per_invocation: 40,
            }),
            ..GenerateOptions::default()
        },
        7,
    )
}

/// The leaking function's name, from `truth.json`'s function order.
fn leaking_function(workload: &Workload) -> String {
    let text = std::fs::read_to_string(workload.directory.join("truth.json")).unwrap();
    let truth: serde_json::Value = serde_json::from_str(&text).unwrap();
    truth["functions"][LEAKING]["function"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_truth_has_a_leak_that_kills_and_steady_controls() {
    let workload = workload();
    let leaking = leaking_function(&workload);
    let growth: Vec<_> = workload
        .truth
        .alerts
        .iter()
        .filter(|alert| alert.kind == "memory_growth")
        .collect();
    assert!(!growth.is_empty(), "the leak raised no alert in the truth");
    assert!(
        growth.iter().all(|alert| alert.function == leaking),
        "a steady function grows: {growth:?}"
    );
    let killed = workload
        .truth
        .invocations
        .values()
        .filter(|invocation| invocation.function == leaking && invocation.status == "oom")
        .count();
    assert!(killed >= 2, "the leak killed {killed} environments");
}

/// Checks what `dump` and `growing` say of the streams against the leak.
fn check_streams(dump: &str, growing: &[GrowingStream], leaking: &str) {
    let invocations = dump_rows(dump, "invocations");
    let by_request: BTreeMap<&str, &oracle::Row> = invocations
        .iter()
        .map(|row| (row["request_id"].text(), row))
        .collect();
    // Per stream: the start time of each OOM kill.
    let mut kills: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for row in &invocations {
        if row["status"].text() == "oom" {
            kills
                .entry(row["log_stream"].text())
                .or_default()
                .push(row["start_time_ms"].integer().unwrap());
        }
    }
    let alerts: Vec<_> = dump_rows(dump, "alerts")
        .into_iter()
        .filter(|row| row["kind"].text() == "memory_growth")
        .collect();
    assert!(!alerts.is_empty());
    let mut warned_before_a_kill = 0;
    for alert in &alerts {
        assert_eq!(alert["function"].text(), leaking);
        let example = by_request[alert["request_id"].text()];
        let stream = example["log_stream"].text();
        let at_ms = example["start_time_ms"].integer().unwrap();
        let message = alert["message"].text();
        let projected: i64 = message
            .split("about ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|number| number.parse().ok())
            .unwrap_or_else(|| panic!("no projection in {message:?}"));
        if let Some(kill_ms) = kills
            .get(stream)
            .and_then(|times| times.iter().find(|kill| **kill > at_ms))
        {
            // The warm invocations between the alert and the kill.
            let between = invocations
                .iter()
                .filter(|row| {
                    row["log_stream"].text() == stream && {
                        let start = row["start_time_ms"].integer().unwrap();
                        start > at_ms && start <= *kill_ms
                    }
                })
                .count() as i64;
            assert!(
                between <= projected + 2,
                "{stream}: killed {between} invocations after the alert, projected {projected}"
            );
            warned_before_a_kill += 1;
        }
    }
    if warned_before_a_kill == 0 {
        for alert in &alerts {
            let example = by_request[alert["request_id"].text()];
            eprintln!(
                "alert {} at {:?} msg {}",
                example["log_stream"].text(),
                example["start_time_ms"],
                alert["message"].text()
            );
        }
        eprintln!("kills {kills:?}");
    }
    assert!(
        warned_before_a_kill >= 1,
        "no alerted stream ended in an out-of-memory kill"
    );
    assert!(!growing.is_empty());
    for stream in growing {
        assert_eq!(stream.function, leaking, "{stream:?}");
        assert!(stream.slope_mb > 0.0 && stream.invocations_to_limit >= 0);
        assert!(stream.last_used_mb <= stream.memory_size_mb);
    }
    for row in dump_rows(dump, "stream_memory") {
        // How many it has seen, then at most 20 samples.
        let samples = row["trail"].text().split(' ').count() - 1;
        assert!(samples <= 20, "{row:?}");
    }
}

#[tokio::test]
async fn sqlite_raises_the_leaks_alerts_and_no_other() {
    let workload = workload();
    let (mut store, _) = workload
        .ingest_into(SqliteStore::open_in_memory().unwrap())
        .await;
    let dump = store.dump().await.unwrap();
    assert_store_is_truth(&dump, &workload.truth, "SQLite");
    let growing = store.growing_streams(None).await.unwrap();
    check_streams(&dump, &growing, &leaking_function(&workload));

    // Pruning ages the trails out by their last sample, and only those.
    let trails = dump_rows(&dump, "stream_memory");
    let last_ms = |row: &oracle::Row| row["last_ms"].integer().unwrap();
    let newest_ms = trails.iter().map(last_ms).max().unwrap();
    let older = trails.iter().filter(|row| last_ms(row) < newest_ms).count() as u64;
    assert!(older > 0);
    let pruned = store.prune_before(newest_ms).unwrap();
    assert_eq!(pruned.deleted_memory_trails, older);
    let left = dump_rows(&store.dump().await.unwrap(), "stream_memory");
    assert_eq!(left.len() as u64, trails.len() as u64 - older);
}

#[tokio::test]
async fn the_growth_alerts_are_sent_through_the_outbox_once_each() {
    let workload = workload();
    let mut pipeline = Pipeline {
        enricher: Enricher::new(workload.metadata.clone(), MetaCache::default()),
        store: SqliteStore::open_in_memory().unwrap(),
        notifier: Kept::default(),
        settings: Settings::default(),
    };
    for event in &workload.deliveries {
        let input = BatchInput {
            source: oracle_workload::STREAM_ARN,
            bytes: event,
            format: Format::Kinesis,
            received_at_ms: workload.received_at_ms,
        };
        pipeline.run(input).await.unwrap();
    }
    let mut sent: Vec<&str> = pipeline
        .notifier
        .0
        .iter()
        .filter(|alert| alert.kind == AlertKind::MemoryGrowth)
        .map(|alert| alert.dedup_key.as_str())
        .collect();
    sent.sort_unstable();
    let dump = pipeline.store.dump().await.unwrap();
    let stored: Vec<String> = dump_rows(&dump, "alerts")
        .into_iter()
        .filter(|row| row["kind"].text() == "memory_growth")
        .map(|row| row["dedup_key"].text().to_owned())
        .collect();
    assert!(!stored.is_empty());
    assert_eq!(sent, stored, "sent once each, as stored");
    assert_eq!(pipeline.store.unsent_alert_count().await.unwrap(), 0);
}

#[tokio::test]
async fn postgres_raises_the_leaks_alerts_and_no_other() {
    let workload = workload();
    let (mut store, _) = workload.ingest_into(TestStore::fresh().await).await;
    let dump = store.dump().await.unwrap();
    assert_store_is_truth(&dump, &workload.truth, "PostgreSQL");
    let growing = store.growing_streams(None).await.unwrap();
    check_streams(&dump, &growing, &leaking_function(&workload));
}

/// What `lamlog ARGS` printed.
fn lamlog(args: &[&str]) -> String {
    String::from_utf8(cli::lamlog(args).stdout).unwrap()
}

#[test]
fn the_cli_generates_a_leak_and_the_report_shows_its_streams() {
    let directory =
        std::env::temp_dir().join(format!("lamlog-memory-growth-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    let out = directory.join("work");
    let db = directory.join("lamlog.db");
    let html = directory.join("report.html");
    let (out, db, html) = (
        out.to_str().unwrap(),
        db.to_str().unwrap(),
        html.to_str().unwrap(),
    );
    lamlog(&[
        "generate",
        "--functions",
        "4",
        "--invocations",
        "2400",
        "--seed",
        "21",
        "--leak",
        "1",
        "--leak-mb",
        "40",
        "--out",
        out,
    ]);
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{out}/truth.json")).unwrap())
            .unwrap();
    let leaking = truth["functions"][1]["function"]
        .as_str()
        .unwrap()
        .to_owned();
    let metadata = format!("{out}/metadata.toml");
    lamlog(&["ingest", out, "--db", db, "--metadata", &metadata]);

    let text = lamlog(&["report", "--db", db, "--html", html]);
    let section = text
        .split("memory growing in ")
        .nth(1)
        .unwrap_or_else(|| panic!("no growing streams in the report:\n{text}"));
    assert!(section.contains(&leaking), "{section}");
    let page = std::fs::read_to_string(html).unwrap();
    assert!(page.contains("<h2>Memory growing</h2>"));

    let json: serde_json::Value =
        serde_json::from_str(&lamlog(&["report", "--db", db, "--json"])).unwrap();
    let streams = json["growing_streams"].as_array().unwrap();
    assert!(!streams.is_empty());
    assert!(streams
        .iter()
        .all(|stream| stream["function"] == leaking.as_str()));

    // A function index past the last is refused with a reason.
    let refused =
        cli::lamlog_output(&["generate", "--functions", "2", "--leak", "2", "--out", out]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("only 2 functions"));
    let _ = std::fs::remove_dir_all(&directory);
}
