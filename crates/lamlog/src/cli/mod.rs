//! The subcommands of `lamlog`, one file each.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cost;
mod db;
mod generate;
mod ingest;
mod input;
mod parse;
mod replay;
mod report;
mod report_figures;
mod report_group;
mod report_growth;
mod report_html;
mod report_model;
mod store;
mod tune;

/// Turn AWS Lambda logs into per-invocation facts, cost, rollups and alerts.
///
/// lamlog reads CloudWatch Logs as Lambda writes them (text or JSON log
/// format), in any wrapping: Kinesis events, CloudWatch subscription payloads
/// (gzip or JSON), `{"awslogs":…}` events, NDJSON events or plain lines.
///
/// Alerts are raised once per kind, function and window, and kept in an
/// outbox until sent; among them `cost_spike`, an hour of a function that
/// costs over 3× its own baseline and at least $0.50 (`lamlog ingest --help`
/// says how the baseline is chosen and how to tune it per function), and
/// `memory_growth`, an execution environment whose max memory used keeps
/// rising towards its memory size (`lamlog report` lists those streams).
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
    Tune(tune::TuneArgs),
    Db(db::DbArgs),
    Replay(replay::ReplayArgs),
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
        Command::Tune(args) => tune::run(args),
        Command::Db(args) => db::run(args),
        Command::Replay(args) => replay::run(args),
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

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let io_kind = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| cause.downcast_ref::<serde_json::Error>()?.io_error_kind());
        io_kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}
