//! `lamlog cost`: what one invocation costs, and a month of them.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use lamlog_core::meta::Architecture;
use lamlog_core::price::{price_with, Billing, Charges, Cost, PriceTable};
use serde::Serialize;

use super::input::parse_granularity;

/// Price one invocation with the Lambda billing formula.
///
/// cost = request fee + memory_mb / 1024 × billed seconds × price per GB-s.
/// Billed time is --billed-duration-ms when given (what the REPORT says),
/// otherwise the duration rounded up to --granularity-ms (1 ms since December
/// 2020, 100 ms before). Prices come from the dated list-price table
/// (US East, first tier) unless --price-per-gb-s overrides them.
///
/// Beyond on-demand: --provisioned prices the duration at the
/// provisioned-concurrency rate (the hourly charge for keeping environments
/// ready is not per invocation and is not included); --ephemeral-storage-mb
/// adds storage above the free 512 MB per GB-second of the billed time;
/// --snapstart-restore adds one SnapStart restore of a Python or .NET
/// function (per GB of memory; Java's restores are free).
///
/// Examples:
///   lamlog cost --memory-mb 128 --duration-ms 1600
///   lamlog cost --memory-mb 128 --duration-ms 1600 --granularity-ms 100 \
///       --price-per-gb-s 0.00001666 --no-request-fee --invocations-per-day 1000000
///   lamlog cost --memory-mb 1024 --duration-ms 1000 --provisioned --ephemeral-storage-mb 10240
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct CostArgs {
    /// Configured memory, 128–10240 MB.
    #[arg(long, value_parser = clap::value_parser!(u32).range(128..=10_240))]
    memory_mb: u32,
    /// Duration of the invocation in ms (as the REPORT's Duration).
    #[arg(long)]
    duration_ms: f64,
    /// Billed duration from the REPORT; wins over --granularity-ms.
    #[arg(long)]
    billed_duration_ms: Option<u64>,
    /// x86_64 or arm64.
    #[arg(long, default_value = "x86_64")]
    arch: Architecture,
    /// Billing granularity in ms: 1 (today) or 100 (before December 2020).
    #[arg(long, default_value_t = 1, value_parser = parse_granularity)]
    granularity_ms: u64,
    /// A flat USD price per GB-second instead of the list price.
    #[arg(long)]
    price_per_gb_s: Option<f64>,
    /// Leave out the per-request fee ($0.20 per million).
    #[arg(long)]
    no_request_fee: bool,
    /// The invocation ran on provisioned concurrency: the provisioned
    /// duration price.
    #[arg(long)]
    provisioned: bool,
    /// Configured ephemeral storage, 512–10240 MB (above 512 is charged).
    #[arg(long, value_name = "MB", value_parser = clap::value_parser!(u32).range(512..=10_240))]
    ephemeral_storage_mb: Option<u32>,
    /// Add one charged SnapStart restore (Python or .NET).
    #[arg(long)]
    snapstart_restore: bool,
    /// Also print the monthly total (30 days) at this many invocations a day.
    #[arg(long)]
    invocations_per_day: Option<u64>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct CostReport {
    memory_mb: u32,
    duration_ms: f64,
    architecture: Architecture,
    granularity_ms: u64,
    usd_per_gb_s: f64,
    prices_as_of: String,
    #[serde(flatten)]
    cost: Cost,
    #[serde(skip_serializing_if = "Option::is_none")]
    invocations_per_day: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    monthly_usd: Option<f64>,
}

pub fn run(args: CostArgs) -> anyhow::Result<ExitCode> {
    if !(args.duration_ms.is_finite() && args.duration_ms >= 0.0) {
        anyhow::bail!(
            "--duration-ms must be a non-negative number, not {}",
            args.duration_ms
        );
    }
    if let Some(usd) = args.price_per_gb_s {
        if !(usd.is_finite() && usd >= 0.0) {
            anyhow::bail!("--price-per-gb-s must be a non-negative number, not {usd}");
        }
    }
    let mut out = std::io::stdout().lock();
    let table = PriceTable::list();
    let billing = Billing {
        granularity_ms: args.granularity_ms,
        request_fee: !args.no_request_fee,
        usd_per_gb_s: args.price_per_gb_s,
    };
    let prices = &table.default;
    let charges = Charges {
        ephemeral_storage_mb: args.ephemeral_storage_mb,
        provisioned: args.provisioned,
        charged_restore: args.snapstart_restore,
    };
    let cost = price_with(
        args.memory_mb,
        args.duration_ms,
        args.billed_duration_ms,
        args.arch,
        &charges,
        prices,
        &billing,
    );
    let monthly_usd = args
        .invocations_per_day
        .map(|per_day| cost.total_usd * per_day as f64 * 30.0);
    let report = CostReport {
        memory_mb: args.memory_mb,
        duration_ms: args.duration_ms,
        architecture: args.arch,
        granularity_ms: args.granularity_ms,
        usd_per_gb_s: args
            .price_per_gb_s
            .unwrap_or_else(|| prices.duration_usd_per_gb_s(args.arch, args.provisioned)),
        prices_as_of: table.as_of.clone(),
        cost,
        invocations_per_day: args.invocations_per_day,
        monthly_usd,
    };
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "memory            {} MB ({})",
        report.memory_mb, report.architecture
    )?;
    writeln!(out, "duration          {} ms", report.duration_ms)?;
    writeln!(
        out,
        "billed duration   {} ms (granularity {} ms)",
        cost.billed_duration_ms, report.granularity_ms
    )?;
    writeln!(out, "GB-seconds        {}", cost.gb_s)?;
    writeln!(
        out,
        "price per GB-s    ${} (list prices as of {})",
        report.usd_per_gb_s, report.prices_as_of
    )?;
    writeln!(out, "compute           ${:.12}", cost.compute_usd)?;
    writeln!(out, "request           ${:.12}", cost.request_usd)?;
    if cost.ephemeral_usd > 0.0 {
        writeln!(out, "ephemeral storage ${:.12}", cost.ephemeral_usd)?;
    }
    if cost.restore_usd > 0.0 {
        writeln!(out, "SnapStart restore ${:.12}", cost.restore_usd)?;
    }
    writeln!(
        out,
        "total             ${:.12} per invocation",
        cost.total_usd
    )?;
    if let (Some(per_day), Some(monthly)) = (report.invocations_per_day, monthly_usd) {
        writeln!(
            out,
            "monthly (30 d)    ${monthly:.2} at {per_day} invocations a day"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
