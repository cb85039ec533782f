//! The subcommands of `lamlog`, one file each.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cost;
mod generate;
mod ingest;
mod input;
mod parse;
mod report;
mod report_html;

/// Turn AWS Lambda logs into per-invocation facts, cost, rollups and alerts.
///
/// lamlog reads CloudWatch Logs as Lambda writes them (text or JSON log
/// format), in any wrapping: Kinesis events, CloudWatch subscription payloads
/// (gzip or JSON), `{"awslogs":…}` events, NDJSON events or plain lines.
#[derive(Debug, Parser)]
#[command(
    name = "lamlog",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Parse(parse::ParseArgs),
    Cost(cost::CostArgs),
    Ingest(ingest::IngestArgs),
    Report(report::ReportArgs),
    Generate(generate::GenerateArgs),
}

/// Runs the command line and turns its outcome into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Parse(args) => parse::run(args),
        Command::Cost(args) => cost::run(args),
        Command::Ingest(args) => ingest::run(args),
        Command::Report(args) => report::run(args),
        Command::Generate(args) => generate::run(args),
    };
    match outcome {
        Ok(code) => code,
        // A reader that stopped reading (`lamlog parse … | head`) is not an error.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("lamlog: error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// The metadata source: the file when given, otherwise none (every function
/// is stored with `enriched = false`).
fn load_metadata(
    path: Option<&std::path::Path>,
) -> anyhow::Result<lamlog::enrich::file::FileSource> {
    match path {
        Some(path) => Ok(lamlog::enrich::file::FileSource::load(path)?),
        None => Ok(lamlog::enrich::file::FileSource::default()),
    }
}

/// Wall-clock time in epoch milliseconds.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// Reads `--since`: an age (`90m`, `24h`, `7d`) before `now_ms`, a date
/// (`2026-11-01`, midnight UTC) or an RFC 3339 UTC time.
fn parse_since(text: &str, now_ms: i64) -> anyhow::Result<i64> {
    let text = text.trim();
    let unit_ms = match text.chars().last() {
        Some('m') => Some(60_000),
        Some('h') => Some(3_600_000),
        Some('d') => Some(86_400_000),
        _ => None,
    };
    if let Some(unit_ms) = unit_ms {
        if let Ok(count) = text[..text.len() - 1].parse::<i64>() {
            return Ok(now_ms - count.saturating_mul(unit_ms));
        }
    }
    let time = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    lamlog_core::decode::parse_iso8601_ms(&time).ok_or_else(|| {
        anyhow::anyhow!("--since {text:?} is not an age (90m, 24h, 7d), a date (2026-11-01) or a UTC time (2026-11-01T12:00:00Z)")
    })
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let io_kind = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| cause.downcast_ref::<serde_json::Error>()?.io_error_kind());
        io_kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}
