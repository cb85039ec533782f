//! lamlog's integration tests, built as one test binary: each file beside
//! this one is a module of it. The dependency graph is then compiled into
//! and linked with one test binary, not one for each file
//! (`autotests = false` in Cargo.toml). The modules run in parallel as the
//! tests of one file always did, so each keeps to its own schema, moto
//! server and temporary files.
//!
//! One file's tests: `cargo test -p lamlog --all-features --test integration dynamodb::`.

mod support;

#[path = "chart_render.rs"]
mod chart_render;
#[path = "cli_cost.rs"]
mod cli_cost;
#[path = "cli_ingest_bounded.rs"]
mod cli_ingest_bounded;
#[path = "cli_ingest_report.rs"]
mod cli_ingest_report;
#[path = "cli_parse.rs"]
mod cli_parse;
#[path = "cli_postgres_sqlite.rs"]
mod cli_postgres_sqlite;
#[path = "cli_report_by.rs"]
mod cli_report_by;
#[path = "cost_spike.rs"]
mod cost_spike;
#[path = "dynamodb.rs"]
mod dynamodb;
#[path = "generate.rs"]
mod generate;
#[path = "grafana_dashboard.rs"]
mod grafana_dashboard;
#[path = "memory_growth.rs"]
mod memory_growth;
#[path = "oracle.rs"]
mod oracle;
#[path = "pipeline_charges.rs"]
mod pipeline_charges;
#[path = "pipeline_hostile.rs"]
mod pipeline_hostile;
#[path = "pipeline_poison.rs"]
mod pipeline_poison;
#[path = "pipeline_split_replay.rs"]
mod pipeline_split_replay;
#[path = "postgres_deadline.rs"]
mod postgres_deadline;
#[path = "postgres_partitions.rs"]
mod postgres_partitions;
#[path = "postgres_pipeline.rs"]
mod postgres_pipeline;
#[path = "postgres_round_trips.rs"]
mod postgres_round_trips;
#[cfg(feature = "secrets")]
#[path = "postgres_secret.rs"]
mod postgres_secret;
#[path = "postgres_store.rs"]
mod postgres_store;
#[path = "postgres_tls.rs"]
mod postgres_tls;
#[path = "prune.rs"]
mod prune;
#[path = "replay.rs"]
mod replay;
#[path = "sns.rs"]
mod sns;
#[path = "store_conformance.rs"]
mod store_conformance;
#[path = "tune_generated.rs"]
mod tune_generated;
