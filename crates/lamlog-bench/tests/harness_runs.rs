//! The harness runs, whole, in quick mode, and its verdict passes: every
//! section measured, every cold start run, each handler and `lamlog ingest`
//! peak under 64 MB, the dead letters each limit event must give, and a
//! subscription filter pattern that loses nothing the parser reads; and
//! every section, the PostgreSQL write paths included, is in the results.
//!
//! It runs the binaries this test build has made (`--binaries`), so the
//! workspace is not compiled a second time in release: this checks that the
//! harness works, never a figure. The figures in BENCHMARKS.md come from
//! `cargo run --release -p lamlog-bench -- all`. It needs what the harness
//! needs: PostgreSQL at `DATABASE_URL` and `moto_server` on the PATH; either
//! missing fails the test.

use std::path::Path;
use std::process::Command;

#[test]
fn the_quick_harness_runs_and_passes_its_verdict() {
    let harness = Path::new(env!("CARGO_BIN_EXE_lamlog-bench"));
    let dir = harness
        .parent()
        .expect("the harness binary has a directory");
    // `cargo test --workspace` builds both beside the harness (their
    // packages have integration tests); a test of this package alone
    // builds them here.
    for (package, binary) in [("lamlog-lambda", "bootstrap"), ("lamlog", "lamlog")] {
        if !dir.join(binary).is_file() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let status = Command::new(cargo)
                .args(["build", "-p", package, "--bin", binary])
                .status()
                .expect("running cargo build");
            assert!(
                status.success(),
                "cargo build -p {package} --bin {binary} failed"
            );
        }
    }
    let out = tempfile_path("results.json");
    let output = Command::new(harness)
        .args(["all", "--quick", "--binaries"])
        .arg(dir)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("running lamlog-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "lamlog-bench all --quick failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("reading the results"))
            .expect("the results are JSON");
    for section in [
        "throughput",
        "cold_start",
        "ablation",
        "cost",
        "ingest_at_scale",
    ] {
        assert!(
            !results[section].is_null(),
            "section {section} is missing from the results:\n{stdout}"
        );
    }
    assert!(
        results["memory"]
            .as_array()
            .is_some_and(|runs| !runs.is_empty()),
        "no memory case in the results:\n{stdout}"
    );
    let write_paths = results["write_paths"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        write_paths
            .iter()
            .map(|batch| batch["batch_rows"].as_u64())
            .collect::<Vec<_>>(),
        [Some(200), Some(10_000)],
        "the write paths are measured at 200 and 10,000 rows:\n{stdout}"
    );
    assert_eq!(results["missing"], serde_json::json!([]), "{stdout}");
    let _ = std::fs::remove_dir_all(out.parent().expect("the results are in a directory"));
}

/// A fresh path in the system's temporary directory.
fn tempfile_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lamlog-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creating a temporary directory");
    dir.join(name)
}
