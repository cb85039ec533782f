//! `lamlog ingest`: run the whole pipeline over files into the local store.
//!
//! Memory is bounded whatever the inputs' size: an input is read in pieces
//! (`pieces.rs`), its records are decoded one at a time and folded into a
//! batch, and a batch is committed once it reaches `--batch-records` records
//! or holds [`reader::HELD_BYTES`] of assembled invocations and
//! dead letters, as the Lambda handler commits its slices. Inputs are read
//! and decoded on a thread of their own (`reader.rs`) while the batch before
//! is committed.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use lamlog::batch::{BatchSummary, Finished, Pipeline, Settings, SliceBound};
use lamlog::enrich::{CacheStats, Enricher, MetaCache, MetaSource};
use lamlog::notify::{JsonLinesNotifier, Notifier, Undelivered};
use lamlog::store::Store;
use lamlog_core::assemble::OtherCounts;
use lamlog_core::judge::Alert;
use serde::Serialize;

use super::input::{expand_inputs, FormatArg};
use super::load_metadata;
use super::store::StoreArgs;

mod pieces;
mod reader;

use reader::{Plan, Reading};

/// Ingest Lambda logs into the local store: parse, assemble, enrich, price,
/// judge and store every invocation, exactly once.
///
/// INPUTs are files, directories (read recursively, in name order), globs,
/// or `-` for stdin, in any format `lamlog parse` reads. Ingesting the same
/// input twice changes nothing: invocations are keyed by (account, function,
/// request id) and rollups only move for rows that really changed.
///
/// A record that cannot be decoded (bad base64, truncated gzip, not JSON,
/// invalid UTF-8, a line over 1 MB) is kept in the dead_letters table with its
/// raw bytes, at its position in its file, and counted in the summary; the
/// run goes on.
///
/// Records are committed in batches of at most --batch-records records, and
/// earlier when a batch's assembled invocations reach 4 MB, so memory stays
/// bounded however large the inputs are. The next batch is read and decoded
/// on a second thread while one is committed.
///
/// Alerts (stored once per kind, function and window, and sent through the
/// outbox): timeout, out_of_memory, memory_pressure, near_timeout,
/// slow_cold_start, error_rate over 5-minute windows, and cost_spike: an
/// hour whose cost is over 3× the function's baseline and at least $0.50.
/// The baseline is the larger of two medians, of the previous 24 hours and
/// of the same hour on the previous 7 days (a median ignores one earlier
/// spike; the same-hour term keeps a daily peak quiet); a function is judged
/// after 24 hours of history. And memory_growth, once per execution
/// environment (log stream): past its first 20 warm invocations, max memory
/// used rising over the last 20 (Theil–Sen slope above zero, 75 % of the
/// pairs rising) with the limit projected at most 1000 invocations away.
/// Per function in the metadata:
///   ["123456789012#orders".alerts]
///   cost_spike_multiple = 5.0
///   cost_spike_min_usd = 2.0
///   memory_growth_horizon = 5000
///   disabled = ["slow_cold_start"]
///
/// Examples:
///   lamlog ingest examples/ --metadata examples/metadata.toml
///   lamlog ingest 'logs/**/*.json.gz' --db /tmp/lamlog.db --json
///   zcat payload.gz | lamlog ingest - --format cwl --alerts-out -
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct IngestArgs {
    /// Files, directories, globs, or `-` for stdin.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
    /// Function metadata, TOML or JSON, keyed "account#function".
    #[arg(long)]
    metadata: Option<PathBuf>,
    /// How the inputs are wrapped.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// Also write newly raised alerts as JSON lines to FILE (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    alerts_out: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Commit after this many records (Kinesis records, payloads, runs of
    /// lines), or earlier once a batch holds 4 MB of assembled invocations.
    /// Memory is bounded by the 4 MB; fewer, larger commits rewrite fewer
    /// index pages of the store.
    #[arg(long, value_name = "N", default_value_t = 4000, value_parser = clap::value_parser!(u64).range(1..))]
    batch_records: u64,
}

enum CliNotifier {
    TableOnly,
    JsonLines(JsonLinesNotifier<Box<dyn Write>>),
}

impl Notifier for CliNotifier {
    async fn notify(&mut self, alerts: &[Alert]) -> Result<(), Undelivered> {
        match self {
            CliNotifier::TableOnly => Ok(()),
            CliNotifier::JsonLines(notifier) => notifier.notify(alerts).await,
        }
    }
}

/// The totals printed at the end.
#[derive(Debug, Default, Serialize)]
struct IngestSummary {
    inputs: u64,
    bytes: u64,
    batches: u64,
    records: u64,
    control_messages: u64,
    lines: u64,
    platform_lines: u64,
    app_lines: u64,
    other_lines: u64,
    other_by_reason: OtherCounts,
    invocations: u64,
    late_invocations: u64,
    inserted: u64,
    updated: u64,
    already_present: u64,
    dead_letters: u64,
    undecodable_records: u64,
    new_alerts: u64,
    alerts_sent: u64,
    alerts_unsent: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    alert_delivery_error: Option<String>,
    cache: CacheStats,
    cache_hit_rate: f64,
    elapsed_s: f64,
    lines_per_s: f64,
    mb_per_s: f64,
    db: String,
}

impl IngestSummary {
    fn add(&mut self, batch: &BatchSummary) {
        self.batches += 1;
        self.records += batch.records;
        self.control_messages += batch.control_messages;
        self.lines += batch.lines.lines;
        self.platform_lines += batch.lines.platform;
        self.app_lines += batch.lines.app;
        self.other_lines += batch.lines.other;
        self.other_by_reason
            .add_counts(&batch.lines.other_by_reason);
        self.late_invocations += batch.outcome.late_invocations;
        self.invocations += batch.invocations;
        self.inserted += batch.outcome.inserted;
        self.updated += batch.outcome.updated;
        self.already_present += batch.outcome.unchanged;
        self.dead_letters += batch.outcome.dead_letters;
        self.undecodable_records += batch.undecodable_records;
        self.new_alerts += batch.outcome.new_alerts.len() as u64;
        self.alerts_sent += batch.delivery.sent;
        self.alerts_unsent = batch.delivery.unsent;
        if let Some(error) = &batch.delivery.error {
            self.alert_delivery_error = Some(error.clone());
        }
        self.cache.hits += batch.cache.hits;
        self.cache.misses += batch.cache.misses;
    }
}

pub fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(ingest(args))
}

async fn ingest(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let inputs = expand_inputs(&args.inputs)?;
    let source = load_metadata(args.metadata.as_deref())?;
    let target = args.store.target();
    let store = target.open(false).await?;
    let notifier = match &args.alerts_out {
        None => CliNotifier::TableOnly,
        Some(path) if path == Path::new("-") => {
            CliNotifier::JsonLines(JsonLinesNotifier::new(Box::new(std::io::stdout())))
        }
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            CliNotifier::JsonLines(JsonLinesNotifier::new(Box::new(std::io::BufWriter::new(
                file,
            ))))
        }
    };
    let mut pipeline = Pipeline {
        enricher: Enricher::new(source, MetaCache::default()),
        store,
        notifier,
        settings: Settings::default(),
    };
    let total_bytes: u64 = inputs
        .iter()
        .filter_map(|path| std::fs::metadata(path).ok().map(|meta| meta.len()))
        .sum();
    let progress = progress_bar(total_bytes, args.json);
    let started = Instant::now();
    let mut summary = IngestSummary {
        db: target.describe(),
        ..IngestSummary::default()
    };
    let plan = Plan {
        inputs,
        format: args.format.into(),
        bound: SliceBound {
            records: args.batch_records as usize,
            held_bytes: reader::HELD_BYTES,
        },
        limits: pipeline.settings.limits,
    };
    let mut reading = Reading::start(plan, progress.clone())?;
    while let Some(handoff) = reading.next().await {
        summary.inputs += handoff.inputs;
        summary.bytes += handoff.bytes;
        if let Some(slice) = handoff.slice {
            commit(&mut pipeline, slice, &mut summary, &handoff.source).await?;
            progress.set_message(format!("{} invocations", summary.invocations));
        }
    }
    reading.finish()?;
    progress.finish_and_clear();
    summary.elapsed_s = started.elapsed().as_secs_f64();
    summary.cache_hit_rate = summary.cache.hit_rate();
    if summary.elapsed_s > 0.0 {
        summary.lines_per_s = summary.lines as f64 / summary.elapsed_s;
        summary.mb_per_s = summary.bytes as f64 / 1e6 / summary.elapsed_s;
    }
    print_summary(&summary, args.json)?;
    Ok(ExitCode::SUCCESS)
}

/// Commits one batch and adds it to the totals.
async fn commit<M: MetaSource, S: Store, N: Notifier>(
    pipeline: &mut Pipeline<M, S, N>,
    slice: Finished,
    summary: &mut IngestSummary,
    source: &str,
) -> anyhow::Result<()> {
    let batch = pipeline
        .commit_finished(slice)
        .await
        .with_context(|| format!("ingesting {source}"))?;
    summary.add(&batch);
    Ok(())
}

fn progress_bar(total_bytes: u64, quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total_bytes);
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

fn print_summary(summary: &IngestSummary, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(summary)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "ingested {} input(s), {:.1} MB, into {}",
        summary.inputs,
        summary.bytes as f64 / 1e6,
        summary.db
    )?;
    writeln!(
        out,
        "  records      {:>10}  ({} control messages skipped)",
        summary.records, summary.control_messages
    )?;
    writeln!(
        out,
        "  log lines    {:>10}  ({} platform, {} application, {} other)",
        summary.lines, summary.platform_lines, summary.app_lines, summary.other_lines
    )?;
    let other = &summary.other_by_reason;
    let refused = other.figure_out_of_range + other.id_too_long + other.unparsable_platform_line;
    if refused > 0 {
        writeln!(
            out,
            "  refused      {:>10}  platform-looking lines no Lambda writes ({} figure out of range, {} id too long, {} unreadable)",
            refused, other.figure_out_of_range, other.id_too_long, other.unparsable_platform_line
        )?;
    }
    writeln!(
        out,
        "  invocations  {:>10}  ({} inserted, {} updated, {} already present)",
        summary.invocations, summary.inserted, summary.updated, summary.already_present
    )?;
    writeln!(
        out,
        "  dead letters {:>10}  ({} undecodable records in this run)",
        summary.dead_letters, summary.undecodable_records
    )?;
    writeln!(
        out,
        "  new alerts   {:>10}  ({} sent{})",
        summary.new_alerts,
        summary.alerts_sent,
        if summary.alerts_unsent > 0 {
            format!(", {} waiting in the outbox", summary.alerts_unsent)
        } else {
            String::new()
        }
    )?;
    if let Some(error) = &summary.alert_delivery_error {
        eprintln!("warning: alerts not all delivered (they stay in the outbox and are sent by a later run): {error}");
    }
    writeln!(
        out,
        "  cache        {:>9.1}%  hit rate ({} hits, {} misses)",
        summary.cache_hit_rate * 100.0,
        summary.cache.hits,
        summary.cache.misses
    )?;
    writeln!(
        out,
        "  throughput   {:>10.0}  lines/s, {:.1} MB/s over {:.2} s",
        summary.lines_per_s, summary.mb_per_s, summary.elapsed_s
    )?;
    Ok(())
}
