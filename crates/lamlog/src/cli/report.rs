//! `lamlog report`: functions ranked by cost, with rates and percentiles,
//! and grouped by account, tenant or tag (`--by`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use lamlog::enrich::MetaSource;
use lamlog::store::{FunctionSummary, Store};
use lamlog_core::meta::meta_key;

use super::input::{parse_since, Since};
use super::report_group::{self, parse_dimension, Dimension, Grouping};
use super::report_html;
use super::report_model::{build_report, Report, ReportRow};
use super::store::StoreArgs;
use super::{load_metadata, now_ms};

/// Rank functions by cost, with error, timeout, OOM and cold-start rates,
/// p50/p95/p99 duration, memory, and projected monthly cost.
///
/// Figures come from the per-minute rollups, which count each invocation
/// once, by the time of its REPORT. Percentiles come from a histogram with
/// 16 buckets per doubling, so they are within 4.5 % of the exact value. The
/// projected monthly cost scales the cost seen to 30 days at the rate seen
/// between the first and last minute with invocations.
///
/// --by groups the functions by account, by the tenant of their metadata or
/// by one of its tags, to answer who pays for what. Tenants and tags come
/// from the metadata file `lamlog ingest --metadata` read; functions it does
/// not name form the group "(no metadata)". The groups' counts and costs
/// sum to the totals exactly.
///
/// Examples:
///   lamlog report
///   lamlog report --since 24h --json
///   lamlog report --html report.html
///   lamlog report --by tenant --metadata metadata.toml
///   lamlog report --by tag:team --metadata metadata.toml --json
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
    /// Group the functions by `function` (the default), `account`, `tenant`
    /// or `tag:KEY` (the value of the tag KEY).
    #[arg(long, value_name = "DIMENSION", value_parser = parse_dimension, default_value = "function")]
    by: Dimension,
    /// Function metadata, TOML or JSON, keyed "account#function": where
    /// `--by tenant` and `--by tag:KEY` find each function's tenant and tags.
    #[arg(long, value_name = "FILE")]
    metadata: Option<PathBuf>,
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
        let grouping = grouping(&args, &summaries).await?;
        let report = build_report(since_ms, &summaries, grouping);
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

/// The functions grouped as `--by` asks; `None` for one row per function.
async fn grouping(
    args: &ReportArgs,
    summaries: &[FunctionSummary],
) -> anyhow::Result<Option<Grouping>> {
    if args.by == Dimension::Function {
        return Ok(None);
    }
    if args.by.needs_metadata() && args.metadata.is_none() {
        anyhow::bail!(
            "--by {} reads each function's {} from its metadata: give --metadata FILE, the file `lamlog ingest --metadata` read",
            args.by.name(),
            if args.by == Dimension::Tenant { "tenant" } else { "tags" }
        );
    }
    let source = load_metadata(args.metadata.as_deref())?;
    let keys: Vec<String> = summaries
        .iter()
        .map(|summary| meta_key(&summary.account, &summary.function))
        .collect();
    let found = source.fetch(&keys).await?;
    let labels: Vec<String> = summaries
        .iter()
        .zip(&keys)
        .map(|(summary, key)| {
            let meta = found.get(key).map(|resolved| &resolved.meta);
            args.by.label(&summary.account, &summary.function, meta)
        })
        .collect();
    let projected: Vec<i64> = summaries
        .iter()
        .map(|summary| ReportRow::from_summary(summary).projected_monthly_pico_usd)
        .collect();
    Ok(Some(report_group::group(
        &args.by, summaries, &labels, &projected,
    )))
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
    if let Some(grouping) = &report.grouping {
        print_groups(out, grouping, top)?;
        return print_total(out, report);
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
    print_total(out, report)
}

fn print_total(out: &mut impl Write, report: &Report) -> std::io::Result<()> {
    writeln!(
        out,
        "total: {} invocations, ${:.6} observed, ${:.2} projected per month",
        report.total_invocations, report.total_cost_usd, report.total_projected_monthly_usd
    )
}

fn print_groups(out: &mut impl Write, grouping: &Grouping, top: usize) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<28} {:>9} {:>9} {:>6} {:>6} {:>6} {:>6} {:>9} {:>9} {:>9} {:>12} {:>12}",
        grouping.by,
        "functions",
        "invokes",
        "err",
        "t/o",
        "oom",
        "cold",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "cost $",
        "month $"
    )?;
    for row in grouping.groups.iter().take(top) {
        let name: String = row.group.chars().take(28).collect();
        writeln!(
            out,
            "{:<28} {:>9} {:>9} {:>6} {:>6} {:>6} {:>6} {:>9} {:>9} {:>9} {:>12.6} {:>12.2}",
            name,
            row.functions,
            row.invocations,
            percent(row.error_rate + row.crash_rate),
            percent(row.timeout_rate),
            percent(row.oom_rate),
            percent(row.cold_start_rate),
            millis(row.p50_ms),
            millis(row.p95_ms),
            millis(row.p99_ms),
            row.cost_usd,
            row.projected_monthly_usd,
        )?;
    }
    if grouping.groups.len() > top {
        writeln!(
            out,
            "… and {} more (--top, --json)",
            grouping.groups.len() - top
        )?;
    }
    Ok(())
}
