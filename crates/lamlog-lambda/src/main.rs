//! `bootstrap`: the lamlog Lambda function's entry point.
//!
//! Cold start: read the configuration, set up JSON logs, open the store and
//! build the AWS clients — once. A TLS setting open to interception
//! (`sslmode=require` without a CA file) is warned about here, once. Then serve events one at a time: Lambda
//! never gives an execution environment two events at once, so the state is
//! borrowed mutably by one invocation at a time.

// The SDK clients and the runtime nest async types deeply enough to pass
// the default limit when their layouts are computed.
#![recursion_limit = "256"]

use std::sync::Arc;

use anyhow::Context;
use aws_config::SdkConfig;
use lambda_runtime::{service_fn, LambdaEvent};
use lamlog::store::Store;
use lamlog_lambda::config::Config;
use lamlog_lambda::database::postgres_config;
use lamlog_lambda::handler::HandlerError;
use lamlog_lambda::state::{aws_config, State};
use serde_json::value::RawValue;
use tokio::sync::Mutex;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env().context("reading the configuration")?;
    tracing_subscriber::fmt()
        .json()
        .with_max_level(config.log_level)
        .with_current_span(false)
        .with_span_list(false)
        .without_time()
        .with_writer(std::io::stdout)
        .init();
    tracing::info!(
        database = %config.redacted_database_url(),
        table = %config.metadata_table,
        topic = config.alert_topic_arn.as_deref().unwrap_or("-"),
        slice_records = config.handler.slice_records,
        credentials = config.db_secret_arn.as_deref().unwrap_or("DATABASE_URL"),
        ca_file = ?config.db_ca_file,
        "cold start"
    );
    let shared = aws_config(&config).await;
    let url = config.database_url.clone();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let postgres = postgres_config(&config, &shared);
        if let Some(warning) = postgres.tls_warning() {
            tracing::warn!(database = %config.redacted_database_url(), "{warning}");
        }
        // Lazily: a database that is down fails the first batches, which
        // Kinesis retries, instead of init, which would crash-loop.
        let store = lamlog::store::postgres::PostgresStore::connect_lazily(&postgres)
            .with_context(|| format!("configuring {}", config.redacted_database_url()))?;
        return serve(&config, &shared, store).await;
    }
    #[cfg(feature = "sqlite")]
    if let Some(path) = url.strip_prefix("sqlite://") {
        let store = lamlog::store::sqlite::SqliteStore::open(std::path::Path::new(path))
            .with_context(|| format!("opening sqlite store {path}"))?;
        return serve(&config, &shared, store).await;
    }
    anyhow::bail!(
        "DATABASE_URL {}: no store for this scheme in this build",
        config.redacted_database_url()
    )
}

/// Builds the state around `store` and serves events until the runtime stops.
async fn serve<S: Store + 'static>(
    config: &Config,
    shared: &SdkConfig,
    store: S,
) -> anyhow::Result<()> {
    let state = Arc::new(Mutex::new(State::build_with(config, shared, store)));
    let handler = service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let state = Arc::clone(&state);
        async move {
            let mut state = state.lock().await;
            let deadline_ms = event.context.deadline;
            let response: Result<serde_json::Value, HandlerError> = state
                .invoke(event.payload.get().as_bytes(), deadline_ms)
                .await;
            response
        }
    });
    lambda_runtime::run(handler)
        .await
        .map_err(|error| anyhow::anyhow!("lambda runtime: {error}"))
}
