//! The subcommands of `lamlog`, one file each.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cost;
mod input;
mod parse;

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
}

/// Runs the command line and turns its outcome into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Parse(args) => parse::run(args),
        Command::Cost(args) => cost::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("lamlog: error: {error:#}");
            ExitCode::from(2)
        }
    }
}
