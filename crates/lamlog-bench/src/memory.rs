//! Peak memory of a full Kinesis batch (10,000 records, ~6 MB, the most
//! Lambda hands one invocation), each path measured in its own process.
//!
//! Peak RSS is a property of a whole process, so each measurement is a
//! fresh child run under `/usr/bin/time -f %M`, which prints the child's
//! `ru_maxrss` (KB) from wait4:
//!
//! - **handler**: this binary's hidden `handle-once` subcommand, which runs
//!   the handler path in-process: the batch driver (`Pipeline::run`) with the
//!   shipped `PostgresStore`, the metadata cache, and the workload's metadata
//!   file as the source, committing the batch in slices of 500 records as the
//!   handler does (see `handle_once` below for what it leaves out);
//! - **ingest**: the release `lamlog ingest` on the same file, into a fresh
//!   SQLite database.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use lamlog::batch::{BatchInput, Pipeline, Settings};
use lamlog::enrich::file::FileSource;
use lamlog::enrich::{Enricher, MetaCache};
use lamlog::notify::TableOnly;
use lamlog::store::postgres::{PostgresConfig, PostgresStore};
use serde::Serialize;

use crate::stats::Spread;
use crate::workload::BatchShape;

/// Records per transaction, as the Lambda handler commits a batch (its
/// `LAMLOG_SLICE_RECORDS` default).
const SLICE_RECORDS: usize = 500;

/// The schema the handler measurement writes in.
const MEMORY_SCHEMA: &str = "lamlog_bench_memory";

/// What the memory section measured.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    /// The batch.
    pub batch: BatchShape,
    /// Peak RSS through the handler path, MB.
    pub handler_peak_mb: Spread,
    /// Peak RSS of `lamlog ingest`, MB.
    pub ingest_peak_mb: Spread,
}

/// Runs `command` under `/usr/bin/time -f %M` and returns its peak RSS in MB.
fn peak_rss_mb(program: &Path, args: &[&str]) -> anyhow::Result<f64> {
    let output = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg(program)
        .args(args)
        .output()
        .context("running /usr/bin/time (apt-get install time)")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("{} {} failed: {stderr}", program.display(), args.join(" "));
    }
    let kilobytes: f64 = stderr
        .lines()
        .last()
        .and_then(|line| line.trim().parse().ok())
        .with_context(|| format!("no peak RSS in the output of /usr/bin/time: {stderr}"))?;
    Ok(kilobytes / 1024.0)
}

/// Builds the release `lamlog` binary (incremental) and returns its path,
/// beside this binary in the same target directory.
pub fn build_lamlog_cli() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "lamlog",
            "--bin",
            "lamlog",
        ])
        .status()
        .context("running cargo build for the lamlog binary")?;
    if !status.success() {
        bail!("cargo build -p lamlog failed");
    }
    let binary = std::env::current_exe()?.with_file_name("lamlog");
    if !binary.exists() {
        bail!("{} not found after the build", binary.display());
    }
    Ok(binary)
}

/// Measures both paths on `batch_file`, `runs` times each, alternating.
pub fn measure(
    batch_file: &Path,
    batch: BatchShape,
    metadata: &Path,
    database_url: &str,
    lamlog_cli: &Path,
    scratch: &Path,
    runs: usize,
) -> anyhow::Result<Memory> {
    let this = std::env::current_exe()?;
    let batch_arg = batch_file.to_string_lossy().into_owned();
    let metadata_arg = metadata.to_string_lossy().into_owned();
    let (mut handler, mut ingest) = (Vec::new(), Vec::new());
    for run in 0..runs {
        handler.push(peak_rss_mb(
            &this,
            &[
                "handle-once",
                &batch_arg,
                "--metadata",
                &metadata_arg,
                "--database-url",
                database_url,
            ],
        )?);
        let db = scratch.join(format!("memory-{run}.db"));
        let _ = std::fs::remove_file(&db);
        let db_arg = db.to_string_lossy().into_owned();
        ingest.push(peak_rss_mb(
            lamlog_cli,
            &[
                "ingest",
                &batch_arg,
                "--metadata",
                &metadata_arg,
                "--db",
                &db_arg,
            ],
        )?);
    }
    Ok(Memory {
        batch,
        handler_peak_mb: Spread::of(&handler).unwrap_or(Spread::NONE),
        ingest_peak_mb: Spread::of(&ingest).unwrap_or(Spread::NONE),
    })
}

/// The `handle-once` child: one Kinesis event through the batch driver into
/// PostgreSQL, as the Lambda handler runs it. Metadata comes from the file
/// rather than DynamoDB, which holds a few dozen small items either way.
pub async fn handle_once(
    batch_file: &Path,
    metadata: &Path,
    database_url: &str,
) -> anyhow::Result<()> {
    // A fresh schema each run, so every run inserts the batch rather than
    // finding the previous run's rows.
    let (admin, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {MEMORY_SCHEMA} CASCADE"))
        .await?;
    drop(admin);
    let mut config = PostgresConfig::new(database_url);
    config.pool_size = 1;
    config.schema = Some(MEMORY_SCHEMA.to_owned());
    let store = PostgresStore::connect(&config).await?;
    let mut pipeline = Pipeline {
        enricher: Enricher::new(
            FileSource::load(metadata)?,
            MetaCache::new(
                lamlog::enrich::cache::DEFAULT_TTL,
                lamlog::enrich::cache::DEFAULT_CAPACITY,
            ),
        ),
        store,
        notifier: TableOnly,
        settings: Settings::default(),
    };
    let bytes = crate::workload::read(batch_file)?;
    let event: serde_json::Value = serde_json::from_slice(&bytes)?;
    drop(bytes);
    let records = event
        .get("Records")
        .and_then(|records| records.as_array())
        .context("the batch has no Records array")?;
    let source = batch_file.to_string_lossy();
    for slice in records.chunks(SLICE_RECORDS) {
        let slice_event = serde_json::to_vec(&serde_json::json!({ "Records": slice }))?;
        pipeline
            .run(BatchInput {
                source: &source,
                bytes: &slice_event,
                format: lamlog_core::decode::Format::Kinesis,
                received_at_ms: lamlog::generate::DEFAULT_START_MS,
            })
            .await?;
    }
    Ok(())
}
