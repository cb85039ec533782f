//! `lamlog report`: functions ranked by cost, with rates and percentiles,
//! grouped by account, tenant or tag (`--by`), and the log streams whose
//! memory is growing.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use lamlog::enrich::MetaSource;
use lamlog::store::{FunctionSummary, Store};
use lamlog_core::meta::meta_key;

use super::input::{parse_since, Since};
use super::report_figures::Figures;
use super::report_group::{self, parse_dimension, Dimension, Grouping};
use super::report_growth::print_growing;
use super::report_html;
use super::report_model::{build_report, totals_of, Report};
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
/// Costs are what each invocation is billed: requests and duration, at the
/// provisioned-concurrency duration price for invocations that ran on it
/// (the JSON `platform.initStart` of their log stream says so, or the
/// metadata's `provisioned_concurrency = true`, but for on-demand spill-over,
/// whose REPORT has an `Init Duration`), plus ephemeral storage above 512 MB
/// (`ephemeral_storage_mb`) and SnapStart restores of Python and .NET
/// functions (`runtime`). The hourly charge for provisioned concurrency and
/// the SnapStart snapshot cache are billed apart from any invocation and are
/// not included; neither is the free tier.
///
/// --by groups the functions by account, by the tenant of their metadata or
/// by one of its tags, to answer who pays for what. Tenants and tags come
/// from the metadata file `lamlog ingest --metadata` read; functions it does
/// not name form the group "(no metadata)". The groups' counts and costs
/// sum to the totals exactly.
///
/// Last come the execution environments (log streams) whose memory is
/// growing: max memory used rising over their last 20 warm invocations
/// (the Theil–Sen slope, the median of the slopes between every pair, with
/// at least 75 % of the pairs rising), with the projected number of
/// invocations until it reaches the memory size. A leak shows here, and as a
/// memory_growth alert, before the environment is killed for running out of
/// memory. Metadata's `alerts.memory_growth_horizon` (default 1000) sets how
/// near the limit must be.
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
        let growing = store.growing_streams(since_ms).await?;
        let report = build_report(since_ms, &summaries, grouping, growing);
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
    let totals: Vec<_> = summaries.iter().map(totals_of).collect();
    Ok(Some(report_group::group(
        &args.by, summaries, &labels, &totals,
    )))
}

/// The headings of the columns every table has: `Figures::rate_cells`.
const RATE_HEADINGS: [&str; 7] = ["err", "t/o", "oom", "cold", "p50 ms", "p95 ms", "p99 ms"];

/// A row: `label`, the `middle` columns, the figures' rate cells, the
/// `after` columns, then cost and monthly projection.
fn write_row(
    out: &mut impl Write,
    label: &str,
    middle: &[String],
    rates: &[String; 7],
    after: &[String],
    costs: [String; 2],
) -> std::io::Result<()> {
    let name: String = label.chars().take(28).collect();
    write!(out, "{name:<28}")?;
    for cell in middle {
        write!(out, " {cell:>9}")?;
    }
    for (index, cell) in rates.iter().enumerate() {
        let width = if index < 4 { 6 } else { 9 };
        write!(out, " {cell:>width$}")?;
    }
    for cell in after {
        write!(out, " {cell:>11}")?;
    }
    writeln!(out, " {:>12} {:>12}", costs[0], costs[1])
}

/// Says how many rows past `top` of `rows` were not shown.
fn write_more(out: &mut impl Write, rows: usize, top: usize) -> std::io::Result<()> {
    if rows > top {
        writeln!(out, "… and {} more (--top, --json)", rows - top)?;
    }
    Ok(())
}

fn cost_cells(figures: &Figures) -> [String; 2] {
    [
        format!("{:.6}", figures.cost_usd),
        format!("{:.2}", figures.projected_monthly_usd),
    ]
}

fn print_table(out: &mut impl Write, report: &Report, top: usize) -> std::io::Result<()> {
    if report.functions.is_empty() {
        writeln!(out, "no invocations stored yet: run `lamlog ingest` first")?;
        return Ok(());
    }
    if let Some(grouping) = &report.grouping {
        print_groups(out, grouping, top)?;
        print_total(out, report)?;
        return print_growing(out, &report.growing_streams, top);
    }
    write_row(
        out,
        "function",
        &["invokes".to_owned()],
        &RATE_HEADINGS.map(str::to_owned),
        &["mem MB".to_owned()],
        ["cost $".to_owned(), "month $".to_owned()],
    )?;
    for row in report.functions.iter().take(top) {
        let memory = match (row.max_memory_used_mb, row.memory_size_mb) {
            (Some(used), Some(size)) => format!("{used}/{size}"),
            (None, Some(size)) => format!("-/{size}"),
            _ => "-".to_owned(),
        };
        write_row(
            out,
            &row.function,
            &[row.figures.invocations.to_string()],
            &row.figures.rate_cells(),
            &[memory],
            cost_cells(&row.figures),
        )?;
    }
    write_more(out, report.functions.len(), top)?;
    print_total(out, report)?;
    print_growing(out, &report.growing_streams, top)
}

fn print_total(out: &mut impl Write, report: &Report) -> std::io::Result<()> {
    writeln!(
        out,
        "total: {} invocations, ${:.6} observed, ${:.2} projected per month",
        report.total_invocations, report.total_cost_usd, report.total_projected_monthly_usd
    )?;
    writeln!(out, "({})", report.cost_note)
}

fn print_groups(out: &mut impl Write, grouping: &Grouping, top: usize) -> std::io::Result<()> {
    write_row(
        out,
        &grouping.by,
        &["functions".to_owned(), "invokes".to_owned()],
        &RATE_HEADINGS.map(str::to_owned),
        &[],
        ["cost $".to_owned(), "month $".to_owned()],
    )?;
    for row in grouping.groups.iter().take(top) {
        write_row(
            out,
            &row.group,
            &[
                row.functions.to_string(),
                row.figures.invocations.to_string(),
            ],
            &row.figures.rate_cells(),
            &[],
            cost_cells(&row.figures),
        )?;
    }
    write_more(out, grouping.groups.len(), top)?;
    Ok(())
}
