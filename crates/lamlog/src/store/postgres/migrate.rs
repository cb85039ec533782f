//! Versioned schema migrations, applied when the store connects.
//!
//! Each migration is a SQL script compiled into the binary
//! (`migrations/NNNN_*.sql`) and recorded in `schema_migrations(version,
//! applied_at)` once applied. Many Lambda instances cold-start at once after
//! a deploy, so all of it runs in one transaction that first takes a
//! transaction-scoped advisory lock: the first instance applies what is
//! missing, the others wait for it, then find nothing left to do. A database
//! whose schema is newer than this build is refused: an old build writing
//! into a newer schema could silently misread it.

use deadpool_postgres::Client;

use super::failed;
use crate::store::StoreError;

/// One schema change, applied once, in order.
struct Migration {
    /// Recorded in `schema_migrations.version`.
    version: i64,
    /// The statements, run as one script inside the migration transaction.
    sql: &'static str,
}

/// Every migration this build knows, in version order.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("migrations/0002_partial_function_time_index.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("migrations/0003_alert_outbox.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("migrations/0004_pending_first_seen.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("migrations/0005_dead_letter_length_and_hash.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("migrations/0006_environments.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("migrations/0007_stream_memory.sql"),
    },
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 7;

/// The advisory lock that serialises migrations (and the creation of a test
/// schema): "lamlog" in ASCII, so that it is recognisable in `pg_locks`,
/// mixed with the schema's name when there is one, so that stores in
/// different schemas (tests) do not wait for each other.
fn migration_lock(schema: Option<&str>) -> i64 {
    const MIGRATION_LOCK: i64 = 0x6c61_6d6c_6f67;
    match schema {
        None => MIGRATION_LOCK,
        Some(schema) => super::locks::lock_key(b'm', &[schema]),
    }
}

/// Brings the schema up to date; `schema` (already checked to be a plain
/// identifier) is created first when given.
pub(super) async fn migrate(client: &mut Client, schema: Option<&str>) -> Result<(), StoreError> {
    let migration_failed = |context: &'static str| {
        move |error: tokio_postgres::Error| match failed(context)(error) {
            transient if transient.is_transient() => transient,
            other => StoreError::Migration(other.to_string()),
        }
    };
    let transaction = client
        .transaction()
        .await
        .map_err(migration_failed("starting the migration transaction"))?;
    transaction
        .execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[&migration_lock(schema)],
        )
        .await
        .map_err(migration_failed("waiting for the migration lock"))?;
    if let Some(schema) = schema {
        transaction
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .await
            .map_err(migration_failed("creating the schema"))?;
    }
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    BIGINT      NOT NULL PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(migration_failed("creating schema_migrations"))?;
    let current: i64 = transaction
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
            &[],
        )
        .await
        .and_then(|row| row.try_get(0))
        .map_err(migration_failed("reading the schema version"))?;
    if current > SCHEMA_VERSION {
        // Rolled back here rather than on drop, so that the lock is released
        // at once even if the caller's runtime is about to stop.
        transaction
            .rollback()
            .await
            .map_err(migration_failed("ending the migration transaction"))?;
        return Err(StoreError::Migration(format!(
            "the database has schema version {current} but this build knows versions up to {SCHEMA_VERSION}: use a newer lamlog"
        )));
    }
    for migration in MIGRATIONS
        .iter()
        .filter(|migration| migration.version > current)
    {
        transaction
            .batch_execute(migration.sql)
            .await
            .map_err(migration_failed("applying a schema migration"))?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&migration.version],
            )
            .await
            .map_err(migration_failed("recording a schema migration"))?;
    }
    transaction
        .commit()
        .await
        .map_err(migration_failed("committing the migrations"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_in_order_and_end_at_the_schema_version() {
        let versions: Vec<i64> = MIGRATIONS
            .iter()
            .map(|migration| migration.version)
            .collect();
        let expected: Vec<i64> = (1..=SCHEMA_VERSION).collect();
        assert_eq!(versions, expected);
    }
}
