//! Everything one run of the harness measured, as `bench/results.json`
//! holds it: the machine, the workload, each section's figures and what
//! could not be measured.

use serde::Serialize;

use crate::ablation::Ablation;
use crate::cost_section::Cost;
use crate::memory::{IngestAtScale, Memory};
use crate::stats::Spread;
use crate::throughput::Throughput;
use crate::workload;
use crate::write_paths::WritePaths;

/// The machine the figures come from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cores: usize,
    /// `model name` from /proc/cpuinfo.
    pub cpu_model: String,
}

/// The cold-start section.
#[derive(Debug, Clone, Serialize)]
pub struct ColdStart {
    /// The event handled first.
    pub event: workload::BatchShape,
    /// Process start → first `/next`, ms (successful runs only).
    pub init_ms: Spread,
    /// Process start → response posted, ms (successful runs only).
    pub first_event_ms: Spread,
    /// Peak RSS once the first event was handled, MB.
    pub peak_rss_mb: Spread,
    /// Runs that failed (not counted above), with why.
    pub failed_runs: Vec<String>,
    /// `target/release/bootstrap` as built (the release profile strips it).
    pub bootstrap_bytes: u64,
    /// The same after `strip` (equal when it was already stripped).
    pub bootstrap_stripped_bytes: Option<u64>,
}

/// Everything measured.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// UTC date of the run.
    pub date: String,
    /// The machine.
    pub machine: Machine,
    /// Whether `--quick` was given (figures then only show the harness runs).
    pub quick: bool,
    /// The generated workload: seed, functions, invocations.
    pub workload: serde_json::Value,
    /// Section results.
    pub throughput: Option<Throughput>,
    /// See `throughput`.
    pub memory: Vec<Memory>,
    /// `lamlog ingest` of the whole workload (memory section).
    pub ingest_at_scale: Option<IngestAtScale>,
    /// `lamlog ingest` into SQLite over the pure path, log events per second
    /// (medians of the same run), when both sections ran.
    pub ingest_over_pure: Option<f64>,
    /// See `throughput`.
    pub cold_start: Option<ColdStart>,
    /// See `throughput`.
    pub ablation: Option<Ablation>,
    /// See `throughput`.
    pub cost: Option<Cost>,
    /// The PostgreSQL write paths, at 200 and 10,000 rows a batch.
    pub write_paths: Vec<WritePaths>,
    /// What could not be measured, and why.
    pub missing: Vec<String>,
}

/// The machine this runs on.
pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or_else(|| "unknown".to_owned(), |(_, name)| name.trim().to_owned());
    Machine {
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        cpu_model,
    }
}
