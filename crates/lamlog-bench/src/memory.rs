//! Peak memory of a full Kinesis batch, each path measured in its own
//! process, each run in a freshly migrated, empty PostgreSQL schema.
//!
//! Lambda hands one invocation at most 10,000 records and at most 6 MB; a
//! batch reaches one limit or the other. Four events, so both are measured
//! and what the records inflate to as well: the fullest generated file
//! (real-sized payloads, 6 MB at a few thousand records), 10,000 of the
//! smallest realistic records (one REPORT line each; even those make about
//! 8 MB, more than Lambda would deliver), 6 MB of records that each inflate
//! to about 1 MB, and 6 MB of gzip bombs (`limit_events.rs`). After each
//! handler run the dead letters it stored are counted: none for legitimate
//! data, one per bomb. Then `lamlog ingest` of the whole generated workload
//! ([`measure_ingest_at_scale`]), which must stay as bounded as one event.
//!
//! - **handler**: the release `bootstrap` itself, started as Lambda starts
//!   it against the mock runtime API (`cold_start.rs`), handling the event
//!   (slices of 500 records, one transaction each; DynamoDB on moto;
//!   PostgreSQL); its `VmHWM` is read once the response is posted;
//! - **ingest, PostgreSQL**: the release `lamlog ingest --database-url` on
//!   the same file: the whole event in one transaction;
//! - **ingest, SQLite**: `lamlog ingest --db` into a new file.
//!
//! The two `lamlog ingest` runs are measured under `/usr/bin/time -f %M`
//! (the child's `ru_maxrss` from wait4).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use serde::Serialize;

use crate::lambda::{LambdaEnv, Schema};
use crate::stats::Spread;
use crate::workload::BatchShape;

/// The schema `lamlog ingest --database-url` writes in.
pub const INGEST_SCHEMA: &str = "lamlog_bench_ingest";

/// One event to measure.
pub struct Case {
    /// What the event is.
    pub label: String,
    /// Where it is.
    pub file: PathBuf,
    /// Its counts.
    pub batch: BatchShape,
    /// The dead letters the handler must store for it: none for legitimate
    /// data, one a record for bombs; `None`: not checked.
    pub expected_dead_letters: Option<u64>,
}

/// One event's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    /// What the event is.
    pub label: String,
    /// The event.
    pub batch: BatchShape,
    /// Dead letters the handler stored for it (each run; the last kept).
    pub handler_dead_letters: u64,
    /// What it had to store (see [`Case`]).
    pub expected_dead_letters: Option<u64>,
    /// Peak RSS of the `bootstrap` handling the event, MB.
    pub handler_peak_mb: Spread,
    /// Process start → response posted for that event, ms.
    pub handler_wall_ms: Spread,
    /// Peak RSS of `lamlog ingest --database-url` (one transaction), MB.
    pub ingest_postgres_peak_mb: Spread,
    /// Peak RSS of `lamlog ingest --db` (SQLite), MB.
    pub ingest_sqlite_peak_mb: Spread,
}

/// What one run of a program under `/usr/bin/time` took.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Peak RSS, MB.
    peak_mb: f64,
    /// Wall time, s.
    wall_s: f64,
}

/// Runs `program args` under `/usr/bin/time -f '%M %e'`; returns its peak
/// RSS and wall time.
fn timed_run(program: &Path, args: &[&str]) -> anyhow::Result<Run> {
    let output = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M %e")
        .arg(program)
        .args(args)
        .output()
        .context("running /usr/bin/time (apt-get install time)")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!(
            "{} {} failed: {}",
            program.display(),
            args.join(" "),
            stderr.trim()
        );
    }
    let figures = stderr
        .lines()
        .last()
        .and_then(|line| line.trim().split_once(' '))
        .and_then(|(kilobytes, seconds)| {
            Some((kilobytes.parse::<f64>().ok()?, seconds.parse::<f64>().ok()?))
        });
    let (kilobytes, wall_s) = figures.with_context(|| {
        format!("no peak RSS and wall time in the output of /usr/bin/time: {stderr}")
    })?;
    Ok(Run {
        peak_mb: kilobytes / 1024.0,
        wall_s,
    })
}

/// Everything the memory section needs around the binaries.
pub struct Paths<'a> {
    /// The release `bootstrap`.
    pub bootstrap: &'a Path,
    /// The release `lamlog`.
    pub lamlog_cli: &'a Path,
    /// The workload's metadata file (for `lamlog ingest`).
    pub metadata: &'a Path,
    /// Scratch space.
    pub scratch: &'a Path,
}

/// Measures the three paths on `case`'s event, `runs` times each, alternating.
pub async fn measure(
    case: &Case,
    lambda: &LambdaEnv,
    ingest_schema: &Schema,
    paths: &Paths<'_>,
    runs: usize,
) -> anyhow::Result<Memory> {
    let label = case.label.as_str();
    let event = crate::workload::read(&case.file)?;
    let (mut handler, mut wall, mut postgres, mut sqlite) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut handler_dead_letters = 0;
    for run in 0..runs {
        let measured = lambda
            .run(paths.bootstrap, &event)
            .await
            .with_context(|| format!("the handler on {label}"))?;
        handler.push(measured.peak_rss_kb as f64 / 1024.0);
        wall.push(measured.first_event_ms);
        handler_dead_letters = lambda.schema.count_rows("dead_letters").await?;

        let (into_postgres, into_sqlite) = ingest_both(&case.file, ingest_schema, paths, run)
            .await
            .with_context(|| format!("lamlog ingest on {label}"))?;
        postgres.push(into_postgres.peak_mb);
        sqlite.push(into_sqlite.peak_mb);
    }
    Ok(Memory {
        label: label.to_owned(),
        batch: case.batch,
        handler_dead_letters,
        expected_dead_letters: case.expected_dead_letters,
        handler_peak_mb: Spread::of(&handler).unwrap_or(Spread::NONE),
        handler_wall_ms: Spread::of(&wall).unwrap_or(Spread::NONE),
        ingest_postgres_peak_mb: Spread::of(&postgres).unwrap_or(Spread::NONE),
        ingest_sqlite_peak_mb: Spread::of(&sqlite).unwrap_or(Spread::NONE),
    })
}

/// `lamlog ingest input` into a fresh PostgreSQL schema, then into a new
/// SQLite file.
async fn ingest_both(
    input: &Path,
    ingest_schema: &Schema,
    paths: &Paths<'_>,
    run: usize,
) -> anyhow::Result<(Run, Run)> {
    let input_arg = input.to_string_lossy().into_owned();
    let metadata_arg = paths.metadata.to_string_lossy().into_owned();
    let ingest_peak = |store_args: &[&str]| {
        let mut args = vec![
            "ingest",
            input_arg.as_str(),
            "--metadata",
            metadata_arg.as_str(),
            "--json",
        ];
        args.extend_from_slice(store_args);
        timed_run(paths.lamlog_cli, &args)
    };
    ingest_schema.fresh().await?;
    let ingest_url = ingest_schema.url();
    let postgres =
        ingest_peak(&["--database-url", ingest_url.as_str()]).context("into PostgreSQL")?;
    let db = paths.scratch.join(format!("memory-{run}.db"));
    let _ = std::fs::remove_file(&db);
    let sqlite = ingest_peak(&["--db", db.to_string_lossy().as_ref()]).context("into SQLite");
    let _ = std::fs::remove_file(&db);
    Ok((postgres, sqlite?))
}

/// `lamlog ingest` of a whole generated workload, many files.
#[derive(Debug, Clone, Serialize)]
pub struct IngestAtScale {
    /// Invocations generated.
    pub invocations: u64,
    /// Kinesis event files.
    pub files: u64,
    /// Their size, bytes.
    pub bytes: u64,
    /// Peak RSS of `lamlog ingest --database-url`, MB.
    pub postgres_peak_mb: Spread,
    /// Peak RSS of `lamlog ingest --db`, MB.
    pub sqlite_peak_mb: Spread,
    /// CloudWatch log events of the workload.
    pub log_events: u64,
    /// `lamlog ingest --db` of the whole workload, log events per second
    /// (wall time of the process: start, read, decode, parse, assemble,
    /// enrich, price, judge, write, exit).
    pub sqlite_events_per_s: Spread,
    /// The same into PostgreSQL.
    pub postgres_events_per_s: Spread,
}

/// Peak RSS of `lamlog ingest` of every file of `workload`, `runs` times
/// into each store.
pub async fn measure_ingest_at_scale(
    workload: &crate::workload::Workload,
    invocations: u64,
    ingest_schema: &Schema,
    paths: &Paths<'_>,
    runs: usize,
) -> anyhow::Result<IngestAtScale> {
    let log_events = workload.summary.log_events;
    let rate = |run: &Run| log_events as f64 / run.wall_s.max(0.01);
    let (mut postgres, mut sqlite) = (Vec::new(), Vec::new());
    let (mut postgres_rate, mut sqlite_rate) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let (into_postgres, into_sqlite) = ingest_both(&workload.dir, ingest_schema, paths, run)
            .await
            .context("lamlog ingest of the whole workload")?;
        postgres.push(into_postgres.peak_mb);
        sqlite.push(into_sqlite.peak_mb);
        postgres_rate.push(rate(&into_postgres));
        sqlite_rate.push(rate(&into_sqlite));
    }
    Ok(IngestAtScale {
        invocations,
        files: workload.files.len() as u64,
        bytes: workload.summary.bytes,
        postgres_peak_mb: Spread::of(&postgres).unwrap_or(Spread::NONE),
        sqlite_peak_mb: Spread::of(&sqlite).unwrap_or(Spread::NONE),
        log_events,
        sqlite_events_per_s: Spread::of(&sqlite_rate).unwrap_or(Spread::NONE),
        postgres_events_per_s: Spread::of(&postgres_rate).unwrap_or(Spread::NONE),
    })
}
