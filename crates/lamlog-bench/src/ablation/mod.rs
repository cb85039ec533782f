//! The Epsagon case study's optimisation steps, as an ablation.
//!
//! The case study took a Lambda log pipeline from $1,850 to $350 a month by
//! batching DynamoDB and database calls, caching metadata, and creating
//! clients once. Here each technique is added one at a time (`variant.rs`)
//! and the same 200-record Kinesis batch, the case study's batch size, goes
//! through the real handler path (`Pipeline::run`) against the local
//! PostgreSQL and DynamoDB (the moto emulator, started here on a free
//! loopback port and killed at the end).
//!
//! Measured per row:
//!
//! - batch latency (wall) and the CPU time of this process, over several
//!   rounds; in each round the five rows run one after the other, so that a
//!   noisy moment of the machine touches every row alike;
//! - DynamoDB requests per batch (counted in the SDK, see `dynamo.rs`) and
//!   PostgreSQL round trips, statements and connections per batch (counted
//!   on the wire by a proxy, see `pg_count.rs`), in one separate pass so the
//!   proxy adds nothing to the timings. That proxy holds the server's answers
//!   [`COUNTING_HOLD`], so that what a row pipelines is counted as one round
//!   trip however fast the server answers;
//! - batch latency again, through a proxy that holds every answer
//!   [`NETWORK_DELAY`] (0.5 ms per round trip, about a database in the same
//!   availability zone): what the round trips cost away from loopback.
//!
//! Every row first handles the batch once untimed, so the figures are the
//! steady state of a warm function: caches filled where there is a cache,
//! connections open where they are kept. Before every handled batch the
//! tables are emptied (untimed), so every row inserts the batch's rows afresh
//! instead of finding replays.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use lamlog::batch::SliceBound;
use lamlog::enrich::file::FileSource;
use lamlog::enrich::MetaSource;
use lamlog::redact::redact_url;
use lamlog_core::assemble::Assembler;
use lamlog_core::decode::{decode, DecodeLimits, Format, Record};
use lamlog_core::meta::meta_key;
use serde::Serialize;

use crate::cpu::{cpu_ms_between, process_cpu_time};
use crate::stats::Spread;

pub mod dynamo;
pub mod naive_store;
pub mod pg_count;
pub mod variant;

use pg_count::{CountingProxy, WireCounts};
use variant::{Technique, Variant, SHIPPED_SCHEMA};

/// One row's figures.
#[derive(Debug, Clone, Serialize)]
pub struct AblationRow {
    /// The row's label.
    pub technique: String,
    /// Wall time of one batch, ms.
    pub latency_ms: Spread,
    /// Wall time of one batch through a proxy that holds every PostgreSQL
    /// answer [`NETWORK_DELAY`] (so each round trip costs 0.5 ms more, plus
    /// the proxy's own hop), ms.
    pub latency_delayed_ms: Spread,
    /// CPU time of this process for one batch, ms.
    pub cpu_ms: Spread,
    /// DynamoDB requests for one batch.
    pub dynamodb_requests: u64,
    /// PostgreSQL traffic for one batch.
    pub postgres: WireCounts,
    /// Invocations stored by one batch.
    pub invocations: u64,
}

/// The ablation's result.
#[derive(Debug, Clone, Serialize)]
pub struct Ablation {
    /// Kinesis records in the batch.
    pub records: u64,
    /// Log lines in the batch.
    pub log_events: u64,
    /// Distinct functions (metadata keys) in the batch.
    pub functions: usize,
    /// The rows, in order.
    pub rows: Vec<AblationRow>,
}

/// The metadata keys of a Kinesis event's invocations.
pub fn keys_of(kinesis_event: &[u8]) -> Vec<String> {
    let mut assembler = Assembler::new();
    for record in decode(kinesis_event, Format::Kinesis, &DecodeLimits::default()).records {
        if let Ok(Record::Data(envelope)) = record {
            assembler.add_envelope(&envelope);
        }
    }
    let keys: BTreeSet<String> = assembler
        .finish()
        .0
        .iter()
        .map(|invocation| meta_key(&invocation.account, &invocation.function))
        .collect();
    keys.into_iter().collect()
}

/// Empties the benchmark's tables (not the schema version table).
async fn empty_tables(admin: &tokio_postgres::Client) -> anyhow::Result<()> {
    let rows = admin
        .query(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables \
             WHERE schemaname = ANY($1) AND tablename <> 'schema_migrations'",
            &[&vec![naive_store::SCHEMA, SHIPPED_SCHEMA]],
        )
        .await?;
    let names: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
    if !names.is_empty() {
        admin
            .batch_execute(&format!("TRUNCATE {}", names.join(", ")))
            .await?;
    }
    Ok(())
}

/// Runs the ablation on `batch` (a Kinesis event) for `rounds` rounds, with
/// the workload's `metadata.toml` seeded into DynamoDB.
pub async fn run(
    batch: &[u8],
    metadata_file: &Path,
    database_url: &str,
    rounds: usize,
) -> anyhow::Result<Ablation> {
    run_rows(
        batch,
        metadata_file,
        database_url,
        rounds,
        &Technique::ALL,
        None,
        Network::AlsoDelayed,
    )
    .await
}

/// Which timed passes [`run_rows`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Loopback only; `latency_delayed_ms` is left empty.
    Loopback,
    /// Loopback, then with every answer held [`NETWORK_DELAY`].
    AlsoDelayed,
}

/// Runs only the rows `techniques`, each committing its batches in slices
/// bounded by `slices` when given (as the Lambda handler does), else in one
/// transaction.
pub async fn run_rows(
    batch: &[u8],
    metadata_file: &Path,
    database_url: &str,
    rounds: usize,
    techniques: &[Technique],
    slices: Option<SliceBound>,
    network: Network,
) -> anyhow::Result<Ablation> {
    let moto = dynamo::Moto::try_start().map_err(anyhow::Error::msg)?;
    let counter = dynamo::RequestCounter::default();
    let keys = keys_of(batch);
    let metadata = FileSource::load(metadata_file)?.fetch(&keys).await?;
    dynamo::seed(&dynamo::client(&moto.endpoint, &counter).await, &metadata).await?;

    let (admin, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connecting to {}", redact_url(database_url)))?;
    tokio::spawn(connection);
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {} CASCADE; DROP SCHEMA IF EXISTS {SHIPPED_SCHEMA} CASCADE",
            naive_store::SCHEMA
        ))
        .await?;
    naive_store::create_schema(database_url).await?;

    let upstream = upstream_address(database_url);
    let proxy = CountingProxy::start_delayed(upstream, COUNTING_HOLD)?;
    let proxied_url = proxied(database_url, proxy.port);

    // Counting pass, through the proxy: warm up, then one counted batch.
    let mut counts = Vec::new();
    for &technique in techniques {
        let mut variant = Variant::build(technique, &moto.endpoint, &proxied_url, &counter).await?;
        if let Some(bound) = slices {
            variant.slice_by(bound);
        }
        empty_tables(&admin).await?;
        variant.handle(batch).await?;
        empty_tables(&admin).await?;
        let (dynamodb_before, wire_before) = (counter.get(), proxy.counts());
        let invocations = variant.handle(batch).await?;
        counts.push((
            counter.get() - dynamodb_before,
            proxy.counts().since(&wire_before),
            invocations,
        ));
    }

    // Timed passes: direct, then (when asked) through a proxy that holds the
    // server's answers 0.5 ms (a database in the same availability zone).
    let timing = Timing {
        batch,
        endpoint: &moto.endpoint,
        counter: &counter,
        admin: &admin,
        rounds,
        techniques,
        slices,
    };
    let (latencies, cpu) = timing.run(database_url).await?;
    let delayed = match network {
        Network::Loopback => vec![Vec::new(); techniques.len()],
        Network::AlsoDelayed => {
            let delayed_proxy =
                CountingProxy::start_delayed(upstream_address(database_url), NETWORK_DELAY)?;
            timing
                .run(&proxied(database_url, delayed_proxy.port))
                .await?
                .0
        }
    };
    drop(moto);

    let shape = crate::workload::shape_of(batch);
    let rows = techniques
        .iter()
        .enumerate()
        .map(|(index, technique)| {
            let (dynamodb_requests, postgres, invocations) = counts[index];
            AblationRow {
                technique: technique.label().to_owned(),
                latency_ms: Spread::of(&latencies[index]).unwrap_or(Spread::NONE),
                latency_delayed_ms: Spread::of(&delayed[index]).unwrap_or(Spread::NONE),
                cpu_ms: Spread::of(&cpu[index]).unwrap_or(Spread::NONE),
                dynamodb_requests,
                postgres,
                invocations,
            }
        })
        .collect();
    Ok(Ablation {
        records: shape.records,
        log_events: shape.log_events,
        functions: keys.len(),
        rows,
    })
}

/// What the delayed pass adds to each PostgreSQL round trip.
pub const NETWORK_DELAY: std::time::Duration = std::time::Duration::from_micros(500);

/// How long the counting pass holds each answer: far longer than a client
/// takes to send what it pipelines.
pub const COUNTING_HOLD: std::time::Duration = std::time::Duration::from_millis(2);

type Samples = Vec<Vec<f64>>;

/// What a timed pass runs: every row warmed up, then interleaved rounds.
struct Timing<'a> {
    batch: &'a [u8],
    endpoint: &'a str,
    counter: &'a dynamo::RequestCounter,
    admin: &'a tokio_postgres::Client,
    rounds: usize,
    techniques: &'a [Technique],
    slices: Option<SliceBound>,
}

impl Timing<'_> {
    /// Each row's batch latencies and CPU times on `database_url`, ms.
    async fn run(&self, database_url: &str) -> anyhow::Result<(Samples, Samples)> {
        let mut variants = Vec::new();
        for &technique in self.techniques {
            let mut variant =
                Variant::build(technique, self.endpoint, database_url, self.counter).await?;
            if let Some(bound) = self.slices {
                variant.slice_by(bound);
            }
            empty_tables(self.admin).await?;
            variant.handle(self.batch).await?;
            variants.push(variant);
        }
        let mut latencies = vec![Vec::new(); variants.len()];
        let mut cpu = vec![Vec::new(); variants.len()];
        for _ in 0..self.rounds {
            for (index, variant) in variants.iter_mut().enumerate() {
                empty_tables(self.admin).await?;
                let cpu_before = process_cpu_time();
                let started = Instant::now();
                variant.handle(self.batch).await?;
                latencies[index].push(started.elapsed().as_secs_f64() * 1000.0);
                cpu[index].push(cpu_ms_between(cpu_before, process_cpu_time()));
            }
        }
        Ok((latencies, cpu))
    }
}

/// `host:port` of a `postgres://user@host:port/db` URL (default port 5432).
fn upstream_address(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme
        .split(['/', '?'])
        .next()
        .unwrap_or(after_scheme);
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    }
}

/// The same URL pointed at the proxy on loopback.
fn proxied(url: &str, port: u16) -> String {
    let upstream = upstream_address(url);
    let bare_host = upstream
        .rsplit_once(':')
        .map_or(upstream.as_str(), |(host, _)| host);
    let with_port = url.replacen(&upstream, &format!("127.0.0.1:{port}"), 1);
    if with_port == url {
        url.replacen(bare_host, &format!("127.0.0.1:{port}"), 1)
    } else {
        with_port
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_upstream_of_a_url() {
        assert_eq!(
            upstream_address("postgres://postgres@127.0.0.1:5432/test"),
            "127.0.0.1:5432"
        );
        assert_eq!(
            upstream_address("postgres://u:p@db/test?sslmode=disable"),
            "db:5432"
        );
        assert_eq!(
            proxied("postgres://postgres@127.0.0.1:5432/test", 7000),
            "postgres://postgres@127.0.0.1:7000/test"
        );
        assert_eq!(
            proxied("postgres://u@db/test", 7000),
            "postgres://u@127.0.0.1:7000/test"
        );
    }
}
