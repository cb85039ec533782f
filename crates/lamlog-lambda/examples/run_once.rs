//! Runs the handler once on one event file, against the services the
//! environment names (the same variables as the function), then prints the
//! response and the process's peak resident memory (`VmHWM`).
//!
//! ```sh
//! DATABASE_URL=sqlite:///tmp/lamlog.db LAMLOG_METADATA_TABLE=meta \
//! AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_REGION=us-east-1 \
//! AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
//! /usr/bin/time -v target/release/examples/run_once kinesis-000001.json
//! ```
//!
//! It measures what Guarantee 4 promises: a full Kinesis batch (10,000
//! records, 6 MB) within a 128 MB function.

// The SDK clients and the runtime nest async types deeply enough to pass
// the default limit when their layouts are computed.
#![recursion_limit = "256"]

use anyhow::Context;
use lamlog::store::Store;
use lamlog_lambda::config::Config;
use lamlog_lambda::state::{epoch_ms, State};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .context("usage: run_once EVENT.json")?;
    let config = Config::from_env()?;
    let url = config.database_url.clone();
    if let Some(path_of_db) = url.strip_prefix("sqlite://") {
        let store = lamlog::store::sqlite::SqliteStore::open(std::path::Path::new(path_of_db))?;
        return run(&config, store, &path).await;
    }
    anyhow::bail!("DATABASE_URL: no store for this scheme in this build")
}

async fn run<S: Store>(config: &Config, store: S, path: &str) -> anyhow::Result<()> {
    let mut state = State::build(config, store).await;
    let event = std::fs::read(path).with_context(|| format!("reading {path}"))?;
    let deadline_ms = (epoch_ms() + 900_000) as u64;
    let response = state.invoke(&event, deadline_ms).await;
    drop(event);
    eprintln!("response: {response:?}");
    let status = std::fs::read_to_string("/proc/self/status")?;
    for line in status
        .lines()
        .filter(|line| line.starts_with("VmHWM") || line.starts_with("VmRSS"))
    {
        eprintln!("{line}");
    }
    Ok(())
}
