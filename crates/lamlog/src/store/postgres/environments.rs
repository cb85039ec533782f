//! The `environments` table: how each log stream's execution environment
//! started (see [`lamlog_core::assemble::Environment`]), kept and looked up
//! in one prepared (and cached) statement each; a batch sends both at once
//! ([`record_and_read`]).
//!
//! Keeping is an upsert whose type is the greater of the two (a stream has
//! one type, so they agree; the greater keeps the upsert a join) and whose
//! time is the later, as in the SQLite store.

use deadpool_postgres::Client;
use lamlog_core::assemble::{Environment, EnvironmentKey};
use lamlog_core::parse::InitializationType;

use super::{failed, pipeline};
use crate::store::StoreError;

const UPSERT: &str = "
    INSERT INTO environments (account, log_group, log_stream, initialization_type, seen_ms)
    SELECT account, log_group, log_stream, initialization_type, $5::BIGINT
      FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[])
           AS e(account, log_group, log_stream, initialization_type)
    ON CONFLICT (account, log_group, log_stream) DO UPDATE SET
        initialization_type = GREATEST(environments.initialization_type, excluded.initialization_type),
        seen_ms = GREATEST(environments.seen_ms, excluded.seen_ms)";

const SELECT: &str = "
    SELECT e.account, e.log_group, e.log_stream, e.initialization_type
      FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[]) AS k(account, log_group, log_stream)
      JOIN environments e
        ON e.account = k.account AND e.log_group = k.log_group AND e.log_stream = k.log_stream";

/// Keeps `environments` (distinct keys), seen at `seen_ms`.
pub(super) async fn record(
    client: &Client,
    environments: &[Environment],
    seen_ms: i64,
) -> Result<(), StoreError> {
    let column =
        |pick: fn(&Environment) -> &str| -> Vec<&str> { environments.iter().map(pick).collect() };
    let accounts = column(|environment| &environment.key.account);
    let log_groups = column(|environment| &environment.key.log_group);
    let log_streams = column(|environment| &environment.key.log_stream);
    let types = column(|environment| environment.initialization_type.as_str());
    let statement = client
        .prepare_cached(UPSERT)
        .await
        .map_err(failed("preparing the environment upsert"))?;
    client
        .execute(
            &statement,
            &[&accounts, &log_groups, &log_streams, &types, &seen_ms],
        )
        .await
        .map_err(failed("writing environments"))?;
    Ok(())
}

/// Keeps `environments`, then reads those among `keys`, in one round trip:
/// both statements are prepared first, so that the upsert is sent, and run,
/// before the read (see `pipeline.rs`).
pub(super) async fn record_and_read(
    client: &Client,
    environments: &[Environment],
    seen_ms: i64,
    keys: &[EnvironmentKey],
) -> Result<Vec<Environment>, StoreError> {
    pipeline::prepare_all(client, &[UPSERT, SELECT]).await?;
    let (recorded, found) = futures_util::future::join(
        async {
            if environments.is_empty() {
                return Ok(());
            }
            record(client, environments, seen_ms).await
        },
        async {
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            types(client, keys).await
        },
    )
    .await;
    recorded?;
    found
}

/// The kept environments among `keys`.
pub(super) async fn types(
    client: &Client,
    keys: &[EnvironmentKey],
) -> Result<Vec<Environment>, StoreError> {
    let column =
        |pick: fn(&EnvironmentKey) -> &str| -> Vec<&str> { keys.iter().map(pick).collect() };
    let accounts = column(|key| &key.account);
    let log_groups = column(|key| &key.log_group);
    let log_streams = column(|key| &key.log_stream);
    let statement = client
        .prepare_cached(SELECT)
        .await
        .map_err(failed("preparing the environment lookup"))?;
    let rows = client
        .query(&statement, &[&accounts, &log_groups, &log_streams])
        .await
        .map_err(failed("reading environments"))?;
    rows.iter()
        .map(|row| {
            let name: String = row.get(3);
            let initialization_type = InitializationType::from_name(&name).ok_or_else(|| {
                StoreError::Statement(format!(
                    "environments: unknown initialization type {name:?}"
                ))
            })?;
            Ok(Environment {
                key: EnvironmentKey {
                    account: row.get(0),
                    log_group: row.get(1),
                    log_stream: row.get(2),
                },
                initialization_type,
            })
        })
        .collect()
}
