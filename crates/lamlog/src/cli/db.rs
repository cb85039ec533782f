//! `lamlog db`: look after the database.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use lamlog::store::prune::PruneOutcome;
use lamlog::store::{EitherStore, Store};

use super::input::{parse_since, Since};
use super::now_ms;
use super::store::StoreArgs;

/// Look after the database: drop old invocations, or print its content.
#[derive(Debug, Args)]
pub struct DbArgs {
    #[command(subcommand)]
    command: DbCommand,
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Drop invocations older than an age. On PostgreSQL whole day partitions
    /// are dropped (instant, no vacuum); on SQLite the rows are deleted.
    /// Invocations still waiting for their REPORT go by when they were first
    /// seen. Per-minute rollups, alerts and dead letters are kept, so reports
    /// over the pruned days still add up.
    ///
    /// Example: lamlog db prune --older-than 30d --database-url "$DATABASE_URL"
    Prune {
        /// An age: 30d, 12h, 90m.
        #[arg(long, value_name = "AGE", value_parser = parse_since)]
        older_than: Since,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print every table as canonical text, one row per line (what the
    /// exactly-once tests compare).
    Dump {
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(args: DbArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let mut out = std::io::stdout().lock();
        match args.command {
            DbCommand::Prune { older_than, store } => {
                let Since::Ago(age_ms) = older_than else {
                    anyhow::bail!("--older-than takes an age such as 30d, 12h or 90m");
                };
                let cutoff_ms = now_ms().saturating_sub(age_ms);
                let target = store.target();
                let outcome = match target.open(true).await? {
                    EitherStore::Right(store) => store.prune_before(cutoff_ms).await?,
                    EitherStore::Left(mut store) => store.prune_before(cutoff_ms)?,
                };
                print_outcome(&mut out, &outcome, &target.describe())?;
            }
            DbCommand::Dump { store } => {
                let mut store = store.target().open(true).await?;
                out.write_all(store.dump().await?.as_bytes())?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn print_outcome(
    out: &mut impl Write,
    outcome: &PruneOutcome,
    target: &str,
) -> std::io::Result<()> {
    writeln!(
        out,
        "deleted {} invocation(s) and {} pending invocation(s) from {target}",
        outcome.deleted_invocations, outcome.deleted_pending
    )?;
    if !outcome.dropped_partitions.is_empty() {
        writeln!(
            out,
            "dropped {} day partition(s):",
            outcome.dropped_partitions.len()
        )?;
        for name in &outcome.dropped_partitions {
            writeln!(out, "  {name}")?;
        }
    }
    Ok(())
}
