//! The `environments` table: how each log stream's execution environment
//! started (see [`lamlog_core::assemble::Environment`]).
//!
//! Keeping is an upsert whose type is the greater of the two (a stream has
//! one type, so they agree; the greater keeps the upsert a join) and whose
//! time is the later. Lookups read one key at a time through the primary key.

use lamlog_core::assemble::{Environment, EnvironmentKey};
use lamlog_core::parse::InitializationType;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::failed;
use crate::store::StoreError;

const UPSERT: &str = "
    INSERT INTO environments (account, log_group, log_stream, initialization_type, seen_ms)
    VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (account, log_group, log_stream) DO UPDATE SET
        initialization_type = MAX(initialization_type, excluded.initialization_type),
        seen_ms = MAX(seen_ms, excluded.seen_ms)";

const SELECT: &str = "
    SELECT initialization_type FROM environments
     WHERE account = ?1 AND log_group = ?2 AND log_stream = ?3";

/// Keeps `environments`, seen at `seen_ms`, in one transaction.
pub(super) fn record(
    connection: &mut Connection,
    environments: &[Environment],
    seen_ms: i64,
) -> Result<(), StoreError> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed("starting the environments transaction"))?;
    {
        let mut statement = transaction
            .prepare_cached(UPSERT)
            .map_err(failed("preparing the environment upsert"))?;
        for environment in environments {
            let key = &environment.key;
            statement
                .execute(rusqlite::params![
                    key.account,
                    key.log_group,
                    key.log_stream,
                    environment.initialization_type.as_str(),
                    seen_ms,
                ])
                .map_err(failed("writing environments"))?;
        }
    }
    transaction
        .commit()
        .map_err(failed("committing environments"))
}

/// The kept environments among `keys`, in their order.
pub(super) fn types(
    connection: &Connection,
    keys: &[EnvironmentKey],
) -> Result<Vec<Environment>, StoreError> {
    let mut statement = connection
        .prepare_cached(SELECT)
        .map_err(failed("preparing the environment lookup"))?;
    let mut found = Vec::new();
    for key in keys {
        let name: Option<String> = statement
            .query_row((&key.account, &key.log_group, &key.log_stream), |row| {
                row.get(0)
            })
            .optional()
            .map_err(failed("reading environments"))?;
        if let Some(name) = name {
            let initialization_type = InitializationType::from_name(&name).ok_or_else(|| {
                StoreError::Statement(format!(
                    "environments: unknown initialization type {name:?}"
                ))
            })?;
            found.push(Environment {
                key: key.clone(),
                initialization_type,
            });
        }
    }
    Ok(found)
}
