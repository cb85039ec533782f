//! `lamlog-bench`: the one entry point of lamlog's benchmarks.
//!
//! ```sh
//! cargo run --release -p lamlog-bench -- all            # every section, ~10 min
//! cargo run --release -p lamlog-bench -- all --quick    # small workload, < 2 min (CI runs it on the debug build: tests/harness_runs.rs)
//! cargo run --release -p lamlog-bench -- throughput     # one section
//! ```
//!
//! It generates its own workload with lamlog's generator at a fixed seed
//! (`workload.rs`), needs PostgreSQL (`DATABASE_URL`) and `moto_server` on
//! the PATH (it starts moto itself on a free loopback port and stops it),
//! prints one table per section and writes every figure, with its spread, to
//! `bench/results.json`. Every figure is the median of several runs with
//! their min and max (`stats.rs`); ratios are taken within a run, the things
//! compared alternating, because the machine is shared and noisy.
//!
//! Sections: `throughput` (pure path against its floor), `memory` (peak RSS
//! of a full batch), `cold-start`, `ablation` (the Epsagon case study's
//! steps), `cost` (projected monthly cost of the deployment
//! `deploy/template.yaml` ships and of 200-record batches, from the CPU time
//! the shipped store measures on each, and what the subscription filter
//! pattern keeps of the workload), `write-paths` (the PostgreSQL store
//! against one multi-row INSERT, one INSERT per row and a bare COPY).
//! Tests never time anything; only this binary does.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

mod ablation;
mod cold_start;
mod cost;
mod cost_section;
mod cpu;
mod filter_pattern;
mod lambda;
mod limit_events;
mod memory;
mod memory_section;
mod report;
mod results;
mod stats;
mod template;
mod throughput;
mod verdict;
mod workload;
mod write_paths;

/// lamlog's benchmark harness: prints tables, writes bench/results.json.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Section,
    /// Small workload and few repetitions (under 2 minutes); checks that the
    /// harness runs, not how fast anything is.
    #[arg(long, global = true)]
    quick: bool,
    /// PostgreSQL to benchmark against.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    database_url: String,
    /// Where to write the results.
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    /// Run the `bootstrap` and `lamlog` binaries found in DIR as they are,
    /// instead of building release ones. For checking that the harness runs
    /// (`tests/harness_runs.rs` passes the test build's); figures of such a run are
    /// not the shipped build's.
    #[arg(long, global = true, value_name = "DIR")]
    binaries: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Section {
    /// Every section.
    All,
    /// Decode + parse + assemble against gunzip + envelope JSON, one core.
    Throughput,
    /// Peak RSS of a full Kinesis batch, through the handler and `lamlog ingest`.
    Memory,
    /// Process start to first handled event, and the bootstrap's size.
    ColdStart,
    /// The Epsagon case study's optimisation steps, one at a time.
    Ablation,
    /// Projected monthly cost at 10 billion lines a day (runs the ablation).
    Cost,
    /// The PostgreSQL store against one multi-row INSERT, one INSERT per row
    /// and a bare COPY, at 200 and 10,000 rows a batch.
    WritePaths,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    let out = cli.out.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/results.json")
    });
    let sections = match cli.command {
        Section::All => report::Sections::all(),
        Section::Throughput => report::Sections::only("throughput"),
        Section::Memory => report::Sections::only("memory"),
        Section::ColdStart => report::Sections::only("cold-start"),
        Section::Ablation => report::Sections::only("ablation"),
        Section::Cost => report::Sections::only("cost"),
        Section::WritePaths => report::Sections::only("write-paths"),
    };
    let binaries = match &cli.binaries {
        Some(dir) => lambda::Binaries::In(dir.clone()),
        None => lambda::Binaries::Release,
    };
    let results = runtime.block_on(report::run(
        &sections,
        cli.quick,
        &cli.database_url,
        &binaries,
    ))?;
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&results)? + "\n")
        .with_context(|| format!("writing {}", out.display()))?;
    println!("\nwrote {}", out.display());
    let failures = verdict::failures(&results);
    for failure in &failures {
        eprintln!("lamlog-bench: {failure}");
    }
    anyhow::ensure!(
        failures.is_empty(),
        "{} check(s) failed; the figures above are not to be trusted",
        failures.len()
    );
    Ok(())
}
