//! `lamlog ingest` then `lamlog report --json` on a small fixture, checked
//! against figures computed by hand.

use std::path::{Path, PathBuf};

use crate::support::cli;

use cli::{lamlog, lamlog_output};

fn workdir(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("lamlog-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

/// Four invocations of `checkout` (1024 MB) at 100, 200, 300 and 400 ms in
/// minutes 0, 1, 2 and 3; the third times out, the first is a cold start.
fn write_fixture(path: &Path) {
    let base = 1_793_491_200_000_i64;
    let mut lines = String::new();
    for (index, duration) in [100, 200, 300, 400].iter().enumerate() {
        let time = base + index as i64 * 60_000;
        let request_id = format!("req-{index}");
        let init = if index == 0 {
            "\tInit Duration: 250.00 ms"
        } else {
            ""
        };
        let status = if index == 2 { "\tStatus: timeout" } else { "" };
        let report = format!(
            "REPORT RequestId: {request_id}\tDuration: {duration}.00 ms\tBilled Duration: {duration} ms\tMemory Size: 1024 MB\tMax Memory Used: 300 MB{init}{status}\n"
        );
        for message in [
            format!("START RequestId: {request_id} Version: $LATEST\n"),
            report,
        ] {
            let event = serde_json::json!({
                "timestamp": time, "message": message, "owner": "123456789012",
                "logGroup": "/aws/lambda/checkout", "logStream": "s",
            });
            lines.push_str(&event.to_string());
            lines.push('\n');
        }
    }
    std::fs::write(path, lines).unwrap();
}

#[test]
fn report_figures_match_hand_computed_values() {
    let directory = workdir("report");
    let fixture = directory.join("events.ndjson");
    write_fixture(&fixture);
    let db = directory.join("lamlog.db");
    let db_arg = db.to_str().unwrap();

    let ingest = lamlog(&[
        "ingest",
        fixture.to_str().unwrap(),
        "--db",
        db_arg,
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_slice(&ingest.stdout).unwrap();
    assert_eq!(summary["inserted"], 4);
    assert_eq!(summary["dead_letters"], 0);

    // Ingesting again changes nothing.
    let again: serde_json::Value = serde_json::from_slice(
        &lamlog(&[
            "ingest",
            fixture.to_str().unwrap(),
            "--db",
            db_arg,
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    assert_eq!(
        (
            again["inserted"].as_u64(),
            again["already_present"].as_u64()
        ),
        (Some(0), Some(4))
    );

    let report: serde_json::Value =
        serde_json::from_slice(&lamlog(&["report", "--db", db_arg, "--json"]).stdout).unwrap();
    let row = &report["functions"][0];
    assert_eq!(row["function"], "checkout");
    assert_eq!(row["invocations"], 4);
    assert_eq!(row["timeout_rate"], 0.25);
    assert_eq!(row["cold_start_rate"], 0.25);
    assert_eq!(row["mean_ms"], 250.0);
    assert_eq!(row["max_ms"], 400.0);
    assert_eq!(row["memory_size_mb"], 1024);
    assert_eq!(row["max_memory_used_mb"], 300);
    // 1 GB × (0.1 + 0.2 + 0.3 + 0.4) s = 1 GB-s at $0.0000166667, plus 4 requests at $0.0000002.
    let cost = row["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - (0.000_016_666_7 + 4.0 * 0.000_000_2)).abs() < 1e-12,
        "{cost}"
    );
    assert_eq!(row["billed_gb_s"], 1.0);
    // Four minutes observed: a month is 43,200 minutes.
    let monthly = row["projected_monthly_usd"].as_f64().unwrap();
    assert!((monthly - cost * 43_200.0 / 4.0).abs() < 1e-9, "{monthly}");
    // The histogram has 16 buckets per doubling: a percentile is within 4.5 % above the true value.
    let p50 = row["p50_ms"].as_f64().unwrap();
    assert!((200.0..=209.0).contains(&p50), "p50 {p50}");
    let p99 = row["p99_ms"].as_f64().unwrap();
    assert!((400.0..=418.0).contains(&p99), "p99 {p99}");

    // --since drops the first two minutes.
    let since = lamlog(&[
        "report",
        "--db",
        db_arg,
        "--json",
        "--since",
        "2026-11-01T00:02:00Z",
    ]);
    let since: serde_json::Value = serde_json::from_slice(&since.stdout).unwrap();
    assert_eq!(since["functions"][0]["invocations"], 2);

    // The HTML page is written, self-contained, with its charts.
    let html = directory.join("report.html");
    lamlog(&["report", "--db", db_arg, "--html", html.to_str().unwrap()]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("checkout") && !page.contains("<script"));
    assert!(
        !page.contains("href=\"http") && !page.contains("src=\"http") && !page.contains("url(http"),
        "the page needs no network"
    );
    assert!(
        page.contains("id=\"recommendation\""),
        "the memory tuner's chart is in the page"
    );
}

#[test]
fn bad_inputs_are_reported_before_anything_is_read() {
    let output = lamlog_output(&[
        "ingest",
        "/definitely/not/here.json",
        "--db",
        "/tmp/never.db",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("does not exist"), "{stderr}");
    let report = lamlog_output(&["report", "--db", "/definitely/not/here.db"]);
    assert!(String::from_utf8_lossy(&report.stderr).contains("run `lamlog ingest` first"));
}

#[test]
fn ingesting_a_generated_directory_reads_its_logs_only() {
    let directory = workdir("generated");
    let out = directory.join("workload");
    let generated = lamlog(&[
        "generate",
        "--format",
        "cwl",
        "--functions",
        "3",
        "--invocations",
        "200",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    let generated: serde_json::Value = serde_json::from_slice(&generated.stdout).unwrap();
    let database = directory.join("lamlog.db");
    let ingested = lamlog(&[
        "ingest",
        out.to_str().unwrap(),
        "--metadata",
        out.join("metadata.toml").to_str().unwrap(),
        "--db",
        database.to_str().unwrap(),
        "--json",
    ]);
    let ingested: serde_json::Value = serde_json::from_slice(&ingested.stdout).unwrap();
    // The truth files and the metadata sit beside the logs; none is a log.
    assert_eq!(ingested["inputs"], generated["files"], "{ingested}");
    assert_eq!(ingested["undecodable_records"], 0);
    let _ = std::fs::remove_dir_all(&directory);
}
