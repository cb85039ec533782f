//! The memory section: which events are measured (`memory.rs` measures
//! them), the ingest of the whole workload, and their tables.

use std::path::Path;

use anyhow::Context;

use crate::lambda::{LambdaEnv, Schema};
use crate::limit_events;
use crate::memory::{self, Case, IngestAtScale, Memory};
use crate::results::Results;
use crate::stats::{group, Spread};
use crate::workload::{self, Workload};

/// What the section runs against.
pub struct Setup<'a> {
    /// The generated workload.
    pub work: &'a Workload,
    /// Its invocations.
    pub invocations: u64,
    /// The workload's `account#function` keys.
    pub keys: &'a [String],
    /// The function's environment (moto, its schema).
    pub env: &'a LambdaEnv,
    /// The `bootstrap`.
    pub bootstrap: &'a Path,
    /// The `lamlog` command-line tool.
    pub lamlog_cli: &'a Path,
    /// The workload's metadata file.
    pub metadata: &'a Path,
    /// Scratch space.
    pub scratch: &'a Path,
    /// The PostgreSQL `lamlog ingest` writes in.
    pub database_url: &'a str,
    /// Runs per figure.
    pub runs: usize,
}

/// Writes `event` into the scratch space as `name`; the case for it.
fn case_of(
    setup: &Setup<'_>,
    label: &str,
    name: &str,
    event: &[u8],
    expected_dead_letters: Option<u64>,
) -> anyhow::Result<Case> {
    let file = setup.scratch.join(name);
    std::fs::write(&file, event).with_context(|| format!("writing {}", file.display()))?;
    Ok(Case {
        label: label.to_owned(),
        file,
        batch: workload::shape_of(event),
        expected_dead_letters,
    })
}

/// Measures every event and the ingest at scale into `results`. A path
/// that fails is reported as missing, with why; the others go on.
pub async fn run(setup: &Setup<'_>, results: &mut Results) -> anyhow::Result<()> {
    let paths = memory::Paths {
        bootstrap: setup.bootstrap,
        lamlog_cli: setup.lamlog_cli,
        metadata: setup.metadata,
        scratch: setup.scratch,
    };
    let ingest_schema = Schema::new(setup.database_url, memory::INGEST_SCHEMA);
    let (fullest, fullest_shape) = setup.work.fullest_file()?;
    let megabyte_records = limit_events::megabyte_records_event(setup.keys)?;
    let bombs = limit_events::bomb_event(
        lamlog_core::decode::DecodeLimits::default().max_inflated_bytes + 1,
    )?;
    let bomb_records = workload::shape_of(&bombs).records;
    let cases = [
        Case {
            label: "fullest generated file (6 MB limit)".to_owned(),
            file: fullest,
            batch: fullest_shape,
            expected_dead_letters: Some(0),
        },
        case_of(
            setup,
            "10,000 one-REPORT records (record limit)",
            "report-only-10000.json",
            &workload::report_only_event(setup.keys, 10_000)?,
            Some(0),
        )?,
        case_of(
            setup,
            "6 MB of records inflating to ~1 MB each",
            "megabyte-records.json",
            &megabyte_records,
            Some(0),
        )?,
        case_of(
            setup,
            "6 MB of gzip bombs (each past the 16 MB cap)",
            "bombs.json",
            &bombs,
            Some(bomb_records),
        )?,
    ];
    for case in &cases {
        match memory::measure(case, setup.env, &ingest_schema, &paths, setup.runs).await {
            Ok(measured) => {
                print_memory(&measured);
                results.memory.push(measured);
            }
            Err(error) => results.missing.push(format!("memory: {error:#}")),
        }
    }
    let at_scale = memory::measure_ingest_at_scale(
        setup.work,
        setup.invocations,
        &ingest_schema,
        &paths,
        setup.runs,
    )
    .await;
    match at_scale {
        Ok(measured) => {
            print_ingest_at_scale(&measured);
            results.ingest_at_scale = Some(measured);
        }
        Err(error) => results.missing.push(format!("ingest at scale: {error:#}")),
    }
    Ok(())
}

fn print_memory(measured: &Memory) {
    println!(
        "## memory (peak RSS, one process per run): {}: {} records, {} log events, {:.2} MB",
        measured.label,
        group(measured.batch.records as f64, 0),
        group(measured.batch.log_events as f64, 0),
        measured.batch.bytes as f64 / 1e6
    );
    print_peaks(&[
        (
            "handler: release bootstrap, mock runtime API → PostgreSQL, bounded slices",
            &measured.handler_peak_mb,
        ),
        (
            "lamlog ingest → PostgreSQL, bounded batches",
            &measured.ingest_postgres_peak_mb,
        ),
        (
            "lamlog ingest → SQLite, bounded batches",
            &measured.ingest_sqlite_peak_mb,
        ),
    ]);
    println!(
        "handler: process start → response posted, ms: {}; dead letters stored: {}{}\n",
        measured.handler_wall_ms.display(0),
        measured.handler_dead_letters,
        measured
            .expected_dead_letters
            .map_or_else(String::new, |expected| format!(" (expected {expected})"))
    );
}

fn print_ingest_at_scale(measured: &IngestAtScale) {
    println!(
        "## memory: lamlog ingest of the whole workload: {} invocations, {} files, {:.1} MB",
        group(measured.invocations as f64, 0),
        measured.files,
        measured.bytes as f64 / 1e6
    );
    print_peaks(&[
        ("lamlog ingest → PostgreSQL", &measured.postgres_peak_mb),
        ("lamlog ingest → SQLite", &measured.sqlite_peak_mb),
    ]);
    println!(
        "{} log events; whole process, log events/s: → SQLite {}, → PostgreSQL {}\n",
        group(measured.log_events as f64, 0),
        measured.sqlite_events_per_s.display(0),
        measured.postgres_events_per_s.display(0)
    );
}

/// A table of peak RSS figures, one row per path.
fn print_peaks(rows: &[(&str, &Spread)]) {
    println!("| path | peak RSS MB, median (min–max) |\n|---|---|");
    for (path, peak_mb) in rows {
        println!("| {path} | {} |", peak_mb.display(1));
    }
}
