//! `lamlog generate`: a reproducible synthetic Lambda workload on disk.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use lamlog::generate::{generate, GenerateOptions, Leak, OutputFormat, Spike, DEFAULT_START_MS};

/// Write a realistic, reproducible Lambda workload as the files lamlog reads.
///
/// Functions in Python, Node, Java and Rust, text and JSON log formats, 128 to
/// 10,240 MB, x86_64 and arm64, cold starts, SnapStart restores, X-Ray,
/// errors with stack traces, timeouts, OOM kills and crashes, packed into
/// CloudWatch subscription payloads (≤ 1 MB, ≤ 10,000 events) and Kinesis
/// events (≤ 10,000 records, ≤ 6 MB). One request's lines are sometimes split
/// across records, as a subscription filter does. The same seed gives the
/// same bytes. Besides the logs, OUT gets truth.json (what really happened,
/// per function) and metadata.toml (for `lamlog ingest --metadata`).
///
/// A cost spike to alert on: --hours spreads the invocations over more than
/// a day (a function is judged for cost spikes only after 24 hours of
/// history), and --spike multiplies one function's rate during one hour.
/// Generated functions cost far less than the default floor of $0.50 an
/// hour, so lower it for the spiking function in metadata.toml:
///   ["<account>#payment-webhook-2".alerts]
///   cost_spike_min_usd = 0.0
/// then `lamlog ingest OUT --metadata OUT/metadata.toml --alerts-out -`.
///
/// Examples:
///   lamlog generate --functions 20 --invocations 100000 --seed 7 --out /tmp/work
///   lamlog generate --format cwl --invocations 5000 --out /tmp/cwl
///   lamlog generate --functions 4 --invocations 12000 --hours 36 --spike 2:27:5 --out /tmp/spike
///     (function 2, payment-webhook-2 in truth.json, 5 times as busy in hour 27)
///   lamlog generate --functions 3 --leak 0 --leak-mb 4 --out /tmp/leak
///
/// With --leak, the chosen function's execution environments keep what each
/// invocation leaks: max memory used rises from one warm invocation to the
/// next until one is killed for running out of memory, which `lamlog ingest`
/// reports as a memory_growth alert before the kill.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct GenerateArgs {
    /// How many functions.
    #[arg(long, default_value_t = 20)]
    functions: usize,
    /// How many invocations in all.
    #[arg(long, default_value_t = 10_000)]
    invocations: u64,
    /// The random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Over how many AWS accounts the functions are spread.
    #[arg(long, default_value_t = 1)]
    accounts: usize,
    /// kinesis, cwl or lines.
    #[arg(long, default_value = "kinesis")]
    format: OutputFormat,
    /// Spread the invocations over about N hours, every function's rate
    /// scaled alike (without it, 20 functions make ~30 invocations a second).
    #[arg(long, value_name = "N")]
    hours: Option<u64>,
    /// Multiply the arrival rate of function FUNCTION (its index in
    /// truth.json, from 0) by FACTOR during hour HOUR after the start (from
    /// 0); repeatable. The spike is recorded in truth.json.
    #[arg(long = "spike", value_name = "FUNCTION:HOUR:FACTOR")]
    spikes: Vec<Spike>,
    /// Time of the first invocation, RFC 3339 UTC.
    #[arg(long, value_name = "TIME")]
    start: Option<String>,
    /// Make this function leak memory (its index in truth.json, from 0).
    #[arg(long, value_name = "INDEX")]
    leak: Option<usize>,
    /// Megabytes the leaking function leaves behind per invocation.
    #[arg(long, value_name = "MB", default_value_t = 4, requires = "leak",
          value_parser = clap::value_parser!(u32).range(1..))]
    leak_mb: u32,
    /// The directory to write (created if absent).
    #[arg(long)]
    out: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let start_ms = match &args.start {
        Some(text) => lamlog_core::decode::parse_iso8601_ms(text).with_context(|| {
            format!("--start {text:?} is not a UTC time like 2026-11-01T00:00:00Z")
        })?,
        None => DEFAULT_START_MS,
    };
    let options = GenerateOptions {
        functions: args.functions,
        invocations: args.invocations,
        seed: args.seed,
        format: args.format,
        start_ms,
        accounts: args.accounts,
        leak: args.leak.map(|function| Leak {
            function,
            mb_per_invocation: args.leak_mb,
        }),
        hours: args.hours,
        spikes: args.spikes,
    };
    let mut out = std::io::stdout().lock();
    let started = Instant::now();
    let summary = generate(&options, &args.out)
        .with_context(|| format!("generating into {}", args.out.display()))?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?;
    } else {
        writeln!(
            out,
            "wrote {} invocations, {} log events in {} records, {} files, {:.1} MB to {} in {:.1} s",
            summary.invocations,
            summary.log_events,
            summary.records,
            summary.files,
            summary.bytes as f64 / 1e6,
            args.out.display(),
            started.elapsed().as_secs_f64()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
