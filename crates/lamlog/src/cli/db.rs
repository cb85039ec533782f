//! `lamlog db`: look after the database.
//!
//! `prune` is the one command that deletes what the pipeline stored, so it is
//! the one that could undo exactly-once: a record Kinesis re-delivers after
//! its row was pruned is counted again. It therefore refuses an age below
//! the stream retention plus the event source mapping's maximum record age
//! (see `lamlog::store::prune`) unless told `--force`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use lamlog::store::prune::{Age, PruneOutcome, Redelivery, DEFAULT_STREAM_RETENTION_MS};
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
    /// seen; how log streams started, and their memory trails, go by when
    /// they were last seen. Per-minute rollups, alerts and dead letters are
    /// kept, so reports over the pruned days still add up.
    ///
    /// Kinesis re-delivers records, and a REPORT re-delivered after its row
    /// was pruned would be counted twice, so an age below the stream
    /// retention plus the event source mapping's maximum record age is
    /// refused (96h with the defaults).
    ///
    /// Example: lamlog db prune --older-than 30d --database-url "$DATABASE_URL"
    Prune {
        /// An age: 30d, 12h, 90m.
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        older_than: Age,
        /// The Kinesis stream's retention period (`RetentionPeriodHours` in
        /// deploy/template.yaml).
        #[arg(long, value_name = "AGE", value_parser = parse_age,
              default_value_t = Age(DEFAULT_STREAM_RETENTION_MS))]
        retention: Age,
        /// The event source mapping's `MaximumRecordAgeInSeconds` [default:
        /// the retention, the most it can usefully be].
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        max_record_age: Option<Age>,
        /// Prune even below the retention plus the maximum record age: a
        /// record re-delivered after its row is gone is then counted again.
        #[arg(long)]
        force: bool,
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

/// Reads an age (`90m`, `48h`, `30d`); a date or a time is refused.
fn parse_age(text: &str) -> Result<Age, String> {
    match parse_since(text)? {
        Since::Ago(age_ms) => Ok(Age(age_ms)),
        Since::At(_) => Err(format!(
            "{text:?} is not an age: use a number and a unit, such as 30d, 48h or 90m"
        )),
    }
}

pub fn run(args: DbArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let mut out = std::io::stdout().lock();
        match args.command {
            DbCommand::Prune {
                older_than,
                retention,
                max_record_age,
                force,
                store,
            } => {
                let redelivery = Redelivery {
                    retention_ms: retention.0,
                    max_record_age_ms: max_record_age.unwrap_or(retention).0,
                };
                if let Err(too_young) = redelivery.check(older_than.0) {
                    if !force {
                        anyhow::bail!(
                            "{too_young}; pass --older-than {} or more (with --retention and \
                             --max-record-age as deployed), or --force to prune anyway",
                            Age(too_young.minimum_age_ms)
                        );
                    }
                    eprintln!("lamlog: warning: {too_young}; pruning anyway (--force)");
                }
                let cutoff_ms = now_ms().saturating_sub(older_than.0);
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
        "deleted {} invocation(s), {} pending invocation(s), {} environment(s) and {} memory \
         trail(s) from {target}",
        outcome.deleted_invocations,
        outcome.deleted_pending,
        outcome.deleted_environments,
        outcome.deleted_memory_trails
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
