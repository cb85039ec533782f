//! `lamlog report`: functions ranked by cost, with rates and percentiles.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use lamlog::store::{FunctionSummary, Store};
use lamlog_core::rollup::percentile_ms;
use serde::Serialize;

use super::input::{parse_since, Since};
use super::now_ms;
use super::report_html;
use super::store::StoreArgs;

/// Rank functions by cost, with error, timeout, OOM and cold-start rates,
/// p50/p95/p99 duration, memory, and projected monthly cost.
///
/// Figures come from the per-minute rollups, which count each invocation
/// once, by the time of its REPORT. Percentiles come from a histogram with
/// 16 buckets per doubling, so they are within 4.5 % of the exact value. The
/// projected monthly cost scales the cost seen to 30 days at the rate seen
/// between the first and last minute with invocations.
///
/// Examples:
///   lamlog report
///   lamlog report --since 24h --json
///   lamlog report --html report.html
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ReportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Only minutes at or after T: an RFC 3339 time (2026-11-01T00:00:00Z), a
    /// date (2026-11-01) or an age (90m, 24h, 7d).
    #[arg(long, value_name = "T", value_parser = parse_since)]
    since: Option<Since>,
    /// Show at most N functions (all in --json and --html).
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML page with charts to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    pub account: String,
    pub function: String,
    pub invocations: i64,
    pub error_rate: f64,
    pub timeout_rate: f64,
    pub oom_rate: f64,
    pub crash_rate: f64,
    pub cold_start_rate: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub mean_ms: f64,
    pub max_ms: f64,
    pub memory_size_mb: Option<i64>,
    pub max_memory_used_mb: Option<i64>,
    pub billed_gb_s: f64,
    pub cost_usd: f64,
    pub observed_minutes: i64,
    pub projected_monthly_usd: f64,
}

const MINUTES_PER_MONTH: f64 = 30.0 * 24.0 * 60.0;

impl ReportRow {
    /// The report's figures for one function's totals.
    pub fn from_summary(summary: &FunctionSummary) -> ReportRow {
        let invocations = summary.invocations.max(0);
        let rate = |count: i64| {
            if invocations == 0 {
                0.0
            } else {
                count as f64 / invocations as f64
            }
        };
        let observed_minutes = (summary.last_minute_ms - summary.first_minute_ms) / 60_000 + 1;
        let cost_usd = summary.cost_pico_usd as f64 / 1e12;
        ReportRow {
            account: summary.account.clone(),
            function: summary.function.clone(),
            invocations,
            error_rate: rate(summary.errors),
            timeout_rate: rate(summary.timeouts),
            oom_rate: rate(summary.ooms),
            crash_rate: rate(summary.crashes),
            cold_start_rate: rate(summary.cold_starts),
            p50_ms: percentile_ms(&summary.histogram, 0.50),
            p95_ms: percentile_ms(&summary.histogram, 0.95),
            p99_ms: percentile_ms(&summary.histogram, 0.99),
            mean_ms: if invocations == 0 {
                0.0
            } else {
                summary.duration_sum_us as f64 / 1000.0 / invocations as f64
            },
            max_ms: summary.duration_max_us as f64 / 1000.0,
            memory_size_mb: summary.memory_size_mb,
            max_memory_used_mb: summary.max_memory_used_mb,
            billed_gb_s: summary.billed_mb_ms as f64 / 1024.0 / 1000.0,
            cost_usd,
            observed_minutes,
            projected_monthly_usd: cost_usd * MINUTES_PER_MONTH / observed_minutes.max(1) as f64,
        }
    }
}

/// The whole report, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Report {
    pub since_ms: Option<i64>,
    pub functions: Vec<ReportRow>,
    pub total_invocations: i64,
    pub total_cost_usd: f64,
    pub total_projected_monthly_usd: f64,
}

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let since_ms = args.since.map(|since| since.resolve(now_ms()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let mut store = args.store.target().open(true).await?;
        let mut out = std::io::stdout().lock();
        let summaries = store.function_summaries(since_ms).await?;
        let report = build_report(since_ms, &summaries);
        if let Some(path) = &args.html {
            let minutes = store.minute_rows(since_ms).await?;
            // The memory tuner's charts for the costliest functions, with
            // the default strategy (cheapest), as `lamlog tune --chart` draws them.
            let samples = store.tune_samples(None, since_ms, 2_000).await?;
            let tuned =
                lamlog_core::tune::tune(&samples, &lamlog_core::tune::TuneOptions::default());
            let page = report_html::render(&report, &minutes, &tuned.recommendations);
            std::fs::write(path, page).with_context(|| format!("writing {}", path.display()))?;
            if !args.json {
                writeln!(out, "wrote {}", path.display())?;
            }
        }
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        } else {
            print_table(&mut out, &report, args.top)?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The report of a set of function totals.
pub fn build_report(since_ms: Option<i64>, summaries: &[FunctionSummary]) -> Report {
    let functions: Vec<ReportRow> = summaries.iter().map(ReportRow::from_summary).collect();
    Report {
        since_ms,
        total_invocations: functions.iter().map(|row| row.invocations).sum(),
        total_cost_usd: functions.iter().map(|row| row.cost_usd).sum(),
        total_projected_monthly_usd: functions.iter().map(|row| row.projected_monthly_usd).sum(),
        functions,
    }
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

fn millis(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1}"))
}

fn print_table(out: &mut impl Write, report: &Report, top: usize) -> std::io::Result<()> {
    if report.functions.is_empty() {
        writeln!(out, "no invocations stored yet: run `lamlog ingest` first")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<28} {:>9} {:>6} {:>6} {:>6} {:>6} {:>9} {:>9} {:>9} {:>11} {:>12} {:>12}",
        "function",
        "invokes",
        "err",
        "t/o",
        "oom",
        "cold",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "mem MB",
        "cost $",
        "month $"
    )?;
    for row in report.functions.iter().take(top) {
        let memory = match (row.max_memory_used_mb, row.memory_size_mb) {
            (Some(used), Some(size)) => format!("{used}/{size}"),
            (None, Some(size)) => format!("-/{size}"),
            _ => "-".to_owned(),
        };
        let name: String = row.function.chars().take(28).collect();
        writeln!(
            out,
            "{:<28} {:>9} {:>6} {:>6} {:>6} {:>6} {:>9} {:>9} {:>9} {:>11} {:>12.6} {:>12.2}",
            name,
            row.invocations,
            percent(row.error_rate + row.crash_rate),
            percent(row.timeout_rate),
            percent(row.oom_rate),
            percent(row.cold_start_rate),
            millis(row.p50_ms),
            millis(row.p95_ms),
            millis(row.p99_ms),
            memory,
            row.cost_usd,
            row.projected_monthly_usd,
        )?;
    }
    if report.functions.len() > top {
        writeln!(
            out,
            "… and {} more (--top, --json)",
            report.functions.len() - top
        )?;
    }
    writeln!(
        out,
        "total: {} invocations, ${:.6} observed, ${:.2} projected per month",
        report.total_invocations, report.total_cost_usd, report.total_projected_monthly_usd
    )
}
