//! The SQLite store: the embedded default of the `lamlog` command line.
//!
//! One file on disk (or one database in memory for tests) holds the same
//! tables as the PostgreSQL store, with the same column names: `invocations`,
//! `function_minute`, `function_minute_histogram`, `function_watermark`,
//! `alerts` and `dead_letters`. The schema is created by versioned migrations
//! (`migrations/*.sql`, compiled into the binary) recorded in
//! `schema_migrations`; a database written by a newer build is refused rather
//! than misread.
//!
//! How a batch is written lives in `write.rs` (one `BEGIN IMMEDIATE`
//! transaction, merge-by-key, alerts), `rollup.rs` (rollups) and
//! `windows.rs` (watermarks, window alerts); how it is read back
//! lives in `read.rs` (summaries, minute rows and the canonical dump); how
//! old rows go lives in `prune.rs`.
//!
//! The connection runs in WAL mode with `synchronous=NORMAL`: a crash can lose
//! the last committed batches but never corrupts the file, and Kinesis or the
//! CLI re-delivers what was lost, which the merge turns into the same state.
//! Calls are synchronous under the `async` signatures of [`Store`]: SQLite
//! answers in microseconds to milliseconds and the CLI drives one batch at a
//! time, so they block the calling task rather than pay for a thread hop.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use lamlog_core::assemble::{Environment, EnvironmentKey};
use lamlog_core::judge::Alert;

use crate::store::{
    AlertOutbox, FunctionSummary, MinuteRow, Store, StoreBatch, StoreError, WriteOutcome,
};

mod alerts;
mod environments;
mod invocation_row;
mod outbox;
mod prune;
mod read;
mod rollup;
#[cfg(test)]
mod tests;
mod trails;
mod tune;
mod windows;
mod write;

/// How long a statement waits for another writer's lock before it fails with
/// [`StoreError::Busy`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Enough for every statement `write_batch` and the readers prepare, so that
/// none is compiled twice.
const STATEMENT_CACHE_CAPACITY: usize = 32;

/// The page size of a new database file: 16 KiB, against SQLite's 4 KiB.
/// Invocations are keyed by a random request id, so each batch touches index
/// pages all over the file; with larger pages the index is shallower and a
/// batch writes fewer, larger pages. `lamlog ingest` of 200,000 invocations
/// took 7 % less wall time, with 2.9 times fewer (if larger) WAL writes, at
/// the same WAL size between checkpoints (BENCHMARKS.md §2). A database that
/// already exists keeps the page size it was made with.
const PAGE_SIZE: i64 = 16_384;

/// The page cache of a connection, in KiB: 16 MiB, against SQLite's 2 MB.
/// A batch's inserts touch pages of the request-id index all over the file;
/// with 2 MB of cache most are read back from the WAL and, once the cache
/// fills with dirty pages, spilled to the WAL before the commit writes them
/// again. `lamlog ingest` of 200,000 invocations read 3.3 times fewer pages
/// and wrote a quarter fewer, and took 4.7 % less wall time, for 15 MB more
/// peak memory (about 50 MB in all; BENCHMARKS.md §2).
const PAGE_CACHE_KIB: i64 = 16_384;

/// WAL bytes after which a commit copies the WAL back into the database:
/// 40 MB of disk, not memory. SQLite's default, 1,000 pages of 4 KiB, made
/// `lamlog ingest` of 200,000 invocations checkpoint (and sync the database)
/// ten times as often and took 12 % more wall time (BENCHMARKS.md §2).
const WAL_AUTOCHECKPOINT_BYTES: i64 = 40_960_000;

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
        sql: include_str!("migrations/0002_alert_outbox.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("migrations/0003_pending_first_seen.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("migrations/0004_dead_letter_length_and_hash.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("migrations/0005_environments.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("migrations/0006_stream_memory.sql"),
    },
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 6;

/// A [`Store`] in one SQLite database.
#[derive(Debug)]
pub struct SqliteStore {
    connection: Connection,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date. A new database file is private to its owner (mode
    /// 0600: it holds raw log bytes), and SQLite gives its WAL and shared
    /// memory files the database file's mode.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        create_private(path)?;
        let connection = Connection::open(path).map_err(|error| {
            StoreError::Connection(format!("opening {}: {error}", path.display()))
        })?;
        SqliteStore::with_connection(connection)
    }

    /// A fresh database in memory, for tests and one-off runs.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let connection = Connection::open_with_flags(
            ":memory:",
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|error| {
            StoreError::Connection(format!("opening an in-memory database: {error}"))
        })?;
        SqliteStore::with_connection(connection)
    }

    /// The schema version recorded in the database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.connection
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |row| row.get(0),
            )
            .map_err(failed("reading the schema version"))
    }

    fn with_connection(mut connection: Connection) -> Result<SqliteStore, StoreError> {
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(failed("setting the busy timeout"))?;
        // Only a database without pages yet takes the size; it must be set
        // before WAL mode, which fixes it.
        connection
            .pragma_update(None, "page_size", PAGE_SIZE)
            .map_err(failed("setting the page size"))?;
        // In memory the journal mode stays `memory`; the pragma answers a row
        // either way, so it is read rather than executed.
        connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| {
                row.get::<_, String>(0)
            })
            .map_err(failed("switching to WAL mode"))?;
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(failed("setting synchronous mode"))?;
        let page_size: i64 = connection
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .map_err(failed("reading the page size"))?;
        connection
            .pragma_update(
                None,
                "wal_autocheckpoint",
                WAL_AUTOCHECKPOINT_BYTES / page_size.max(512),
            )
            .map_err(failed("setting the WAL checkpoint size"))?;
        // Negative: a size in KiB, whatever the page size.
        connection
            .pragma_update(None, "cache_size", -PAGE_CACHE_KIB)
            .map_err(failed("setting the page cache size"))?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        migrate(&mut connection)?;
        Ok(SqliteStore { connection })
    }
}

/// Creates `path` empty with mode 0600 when it does not exist yet; an
/// existing file keeps its mode (its owner chose it).
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(StoreError::Connection(format!(
            "creating {}: {error}",
            path.display()
        ))),
    }
}

/// Applies the migrations the database lacks, all in one transaction.
fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let migration_failed = |context: &'static str| {
        move |error: rusqlite::Error| match classify(context, error) {
            busy @ StoreError::Busy(_) => busy,
            other => StoreError::Migration(other.to_string()),
        }
    };
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(migration_failed("starting the migration transaction"))?;
    transaction
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    INTEGER NOT NULL PRIMARY KEY,
                 applied_at TEXT    NOT NULL
             )",
        )
        .map_err(migration_failed("creating schema_migrations"))?;
    let current: i64 = transaction
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |row| row.get(0),
        )
        .map_err(migration_failed("reading the schema version"))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::Migration(format!(
            "the database has schema version {current} but this build knows versions up to {SCHEMA_VERSION}: use a newer lamlog"
        )));
    }
    for migration in MIGRATIONS
        .iter()
        .filter(|migration| migration.version > current)
    {
        transaction
            .execute_batch(migration.sql)
            .map_err(migration_failed("applying a schema migration"))?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, applied_at)
                 VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                [migration.version],
            )
            .map_err(migration_failed("recording a schema migration"))?;
    }
    transaction
        .commit()
        .map_err(migration_failed("committing the migrations"))
}

/// Classifies a SQLite error: a lock held by another writer is
/// [`StoreError::Busy`] (worth a retry), a file that cannot be opened is
/// [`StoreError::Connection`], data SQLite refuses (too big, a constraint, a
/// type mismatch) is [`StoreError::Rejected`], anything else is
/// [`StoreError::Statement`].
/// `context` says what was being done, in lowercase.
fn classify(context: &str, error: rusqlite::Error) -> StoreError {
    let message = format!("{context}: {error}");
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy(message),
        Some(ErrorCode::CannotOpen | ErrorCode::NotADatabase) => StoreError::Connection(message),
        Some(ErrorCode::TooBig | ErrorCode::ConstraintViolation | ErrorCode::TypeMismatch) => {
            StoreError::Rejected(message)
        }
        _ => StoreError::Statement(message),
    }
}

/// [`classify`] as a closure for `map_err`.
fn failed(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |error| classify(context, error)
}

impl AlertOutbox for SqliteStore {
    async fn claim_unsent_alerts(
        &mut self,
        now_ms: i64,
        hold_ms: i64,
        limit: usize,
    ) -> Result<Vec<Alert>, StoreError> {
        outbox::claim_unsent_alerts(&self.connection, now_ms, hold_ms, limit)
    }

    async fn mark_alerts_sent(
        &mut self,
        dedup_keys: &[&str],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        outbox::mark_alerts_sent(&mut self.connection, dedup_keys, now_ms)
    }

    async fn unsent_alert_count(&mut self) -> Result<u64, StoreError> {
        outbox::unsent_alert_count(&self.connection)
    }
}

impl Store for SqliteStore {
    async fn write_batch(&mut self, batch: &StoreBatch<'_>) -> Result<WriteOutcome, StoreError> {
        write::write_batch(&mut self.connection, batch)
    }

    async fn function_summaries(
        &mut self,
        since_ms: Option<i64>,
    ) -> Result<Vec<FunctionSummary>, StoreError> {
        read::function_summaries(&self.connection, since_ms)
    }

    async fn minute_rows(&mut self, since_ms: Option<i64>) -> Result<Vec<MinuteRow>, StoreError> {
        read::minute_rows(&self.connection, since_ms)
    }

    async fn dump(&mut self) -> Result<String, StoreError> {
        read::dump(&self.connection)
    }

    async fn growing_streams(
        &mut self,
        since_ms: Option<i64>,
    ) -> Result<Vec<crate::store::GrowingStream>, StoreError> {
        trails::growing_streams(&self.connection, since_ms)
    }

    async fn tune_samples(
        &mut self,
        function: Option<&str>,
        since_ms: Option<i64>,
        limit_per_size: usize,
    ) -> Result<Vec<lamlog_core::tune::Sample>, StoreError> {
        tune::tune_samples(&self.connection, function, since_ms, limit_per_size)
    }

    async fn record_environments(
        &mut self,
        environments: &[Environment],
        seen_ms: i64,
    ) -> Result<(), StoreError> {
        environments::record(&mut self.connection, environments, seen_ms)
    }

    async fn environment_types(
        &mut self,
        keys: &[EnvironmentKey],
    ) -> Result<Vec<Environment>, StoreError> {
        environments::types(&self.connection, keys)
    }
}
