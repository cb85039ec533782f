//! The cost section: the projected monthly Lambda bill of lamlog itself at
//! 10 billion lines a day, for the deployment `deploy/template.yaml` ships
//! and for the case study's 200-record batches, side by side (`cost.rs` has
//! the arithmetic), and what the lossless subscription filter pattern
//! (`filter_pattern.rs`) lets through of the workload.

use std::path::Path;

use lamlog::batch::SliceBound;
use serde::Serialize;

use crate::ablation::variant::Technique;
use crate::ablation::{self, Ablation, AblationRow};
use crate::cost::{CostInputs, CostProjection, CASE_STUDY_USD};
use crate::filter_pattern::{self, Filtered, LINES_LAMLOG_READS};
use crate::stats::group;
use crate::template::{Deployment, PAYLOAD_LIMIT_BYTES};
use crate::workload::{self, Workload};

/// The cost section: the shipped deployment (read from
/// `deploy/template.yaml`) and the case study's 200-record batches, side by
/// side, each from the CPU time the shipped store measured on its batch,
/// beside the naive row's and the case study's published figures.
#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    /// What the template deploys.
    pub deployment: Deployment,
    /// The largest batch the shipped mapping hands the function.
    pub shipped_batch: workload::BatchShape,
    /// The shipped store on that batch.
    pub shipped_row: Option<AblationRow>,
    /// What the shipped projection starts from (measured on `shipped_batch`,
    /// committed in slices as the handler does).
    pub inputs: CostInputs,
    /// Shipped, CPU time only.
    pub shipped_cpu_only: CostProjection,
    /// Shipped, CPU time plus the measured I/O wait.
    pub shipped_with_io_wait: CostProjection,
    /// What the case study's projection starts from: the ablation's row 5,
    /// one 200-record batch, at the template's memory and architecture.
    pub case_study_inputs: CostInputs,
    /// BatchSize 200, CPU time only (the formula).
    pub case_study_cpu_only: CostProjection,
    /// BatchSize 200, CPU time plus the measured I/O wait.
    pub case_study_with_io_wait: CostProjection,
    /// The naive row's inputs (the ablation's row 1, 200 records).
    pub naive_inputs: CostInputs,
    /// The naive row, CPU time plus I/O wait, for contrast.
    pub naive_with_io_wait: CostProjection,
    /// The case study's Lambda line, before and after, USD a month.
    pub case_study_usd: (f64, f64),
    /// What the lossless subscription filter pattern lets through of the
    /// whole workload.
    pub filter: Filtered,
}

/// Measures the shipped store on the largest batch the shipped mapping
/// hands the function (committed in the template's slices, as the handler
/// does), and projects both configurations from `ablation` (the 200-record
/// batch) and that measurement.
pub async fn run(
    ablation: &Ablation,
    work: &Workload,
    metadata: &Path,
    database_url: &str,
    rounds: usize,
) -> anyhow::Result<Cost> {
    let deployment = Deployment::load(&Deployment::path())?;
    let batch = work.fullest_batch(deployment.batch_size as usize, PAYLOAD_LIMIT_BYTES)?;
    let shipped = ablation::run_rows(
        &batch,
        metadata,
        database_url,
        rounds,
        &[Technique::Shipped],
        Some(SliceBound::records(deployment.slice_records as usize)),
        // The projection reads the loopback pass only.
        ablation::Network::Loopback,
    )
    .await?;
    let mut events = Vec::new();
    for file in &work.files {
        events.push(workload::read(file)?);
    }
    let filter =
        filter_pattern::measure(LINES_LAMLOG_READS, &events).map_err(anyhow::Error::msg)?;
    let shape = workload::shape_of(&batch);
    Ok(section(ablation, &shipped, deployment, shape, filter))
}

fn section(
    ablation: &Ablation,
    shipped: &Ablation,
    deployment: Deployment,
    shipped_batch: workload::BatchShape,
    filter: Filtered,
) -> Cost {
    let memory_mb = f64::from(deployment.memory_mb);
    let inputs_of = |measured: &Ablation, index: usize| {
        let (cpu, latency) = measured
            .rows
            .get(index)
            .map_or((0.0, 0.0), |row| (row.cpu_ms.median, row.latency_ms.median));
        CostInputs::deployed(
            measured.log_events as f64,
            cpu,
            latency - cpu,
            memory_mb,
            &deployment.architecture,
        )
    };
    let case_study = inputs_of(ablation, 4);
    let inputs = inputs_of(shipped, 0);
    let naive = inputs_of(ablation, 0);
    Cost {
        deployment,
        shipped_batch,
        shipped_row: shipped.rows.first().cloned(),
        inputs,
        shipped_cpu_only: inputs.project(false),
        shipped_with_io_wait: inputs.project(true),
        case_study_inputs: case_study,
        case_study_cpu_only: case_study.project(false),
        case_study_with_io_wait: case_study.project(true),
        naive_inputs: naive,
        naive_with_io_wait: naive.project(true),
        case_study_usd: CASE_STUDY_USD,
        filter,
    }
}

/// Prints the section's tables.
pub fn print(cost: &Cost) {
    let deployment = &cost.deployment;
    println!(
        "## projected cost: 10 billion lines/day, {} MB {}, 30-day month",
        deployment.memory_mb, deployment.architecture
    );
    println!(
        "shipped (deploy/template.yaml): BatchSize {}, window {} s, ParallelizationFactor {}, \
         slices of {} records; its largest batch within 6 MB: {} records, {} lines, {:.2} MB",
        deployment.batch_size,
        deployment.batching_window_s,
        deployment.parallelization_factor,
        deployment.slice_records,
        cost.shipped_batch.records,
        group(cost.shipped_batch.log_events as f64, 0),
        cost.shipped_batch.bytes as f64 / 1e6
    );
    if let Some(row) = &cost.shipped_row {
        println!(
            "the shipped store on that batch, steady state: latency {} ms, CPU {} ms, {} PG round trips, {} invocations",
            row.latency_ms.display(1),
            row.cpu_ms.display(1),
            row.postgres.round_trips,
            row.invocations
        );
    }
    println!("| case | lines/batch | CPU µs/line | invocations/month | billed ms/batch | GB-s/month | compute $ | requests $ | total $/month |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (label, inputs, projection) in [
        (
            "BatchSize 200 (case study), CPU only",
            &cost.case_study_inputs,
            &cost.case_study_cpu_only,
        ),
        (
            "BatchSize 200 (case study), CPU + I/O wait",
            &cost.case_study_inputs,
            &cost.case_study_with_io_wait,
        ),
        ("shipped, CPU only", &cost.inputs, &cost.shipped_cpu_only),
        (
            "shipped, CPU + I/O wait",
            &cost.inputs,
            &cost.shipped_with_io_wait,
        ),
        (
            "naive row, BatchSize 200, CPU + I/O wait",
            &cost.naive_inputs,
            &cost.naive_with_io_wait,
        ),
    ] {
        let cpu_per_line = format!("{:.2}", inputs.cpu_us_per_line());
        println!(
            "| {label} | {} | {cpu_per_line} | {} | {} | {} | {} | {} | {} |",
            group(inputs.lines_per_batch, 0),
            group(projection.invocations_per_month, 0),
            group(projection.billed_ms_per_batch, 0),
            group(projection.gb_s_per_month, 0),
            group(projection.compute_usd, 2),
            group(projection.requests_usd, 2),
            group(projection.total_usd, 2)
        );
    }
    println!(
        "| Epsagon case study, Lambda line | | | | | | | | {} before, {} after |\n",
        group(cost.case_study_usd.0, 0),
        group(cost.case_study_usd.1, 0)
    );
    let filter = &cost.filter;
    let share = |part: u64, whole: u64| 100.0 * part as f64 / whole.max(1) as f64;
    println!(
        "subscription filter pattern (filter_pattern.rs) on the whole workload: keeps {} of {} lines ({:.1} %), \
         {:.1} % of message bytes; the {} invocations assembled from what it keeps are {} those from every line\n",
        group(filter.kept_lines as f64, 0),
        group(filter.lines as f64, 0),
        share(filter.kept_lines, filter.lines),
        share(filter.kept_bytes, filter.bytes),
        group(filter.invocations as f64, 0),
        if filter.lossless { "identical to" } else { "NOT identical to" }
    );
}
