//! Tests of what only SQLite has: files, migrations and error classes. The
//! behaviour every store shares is in `tests/store_conformance.rs`.

use super::*;

fn scratch_path(name: &str) -> std::path::PathBuf {
    let directory =
        std::env::temp_dir().join(format!("lamlog-sqlite-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    directory.join("lamlog.db")
}

#[test]
fn migrations_are_recorded_once_and_reopening_keeps_them() {
    let path = scratch_path("reopen");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    let applied: i64 = store
        .connection
        .query_row("SELECT COUNT(*) FROM schema_migrations", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(applied, MIGRATIONS.len() as i64);
    let journal_mode: String = store
        .connection
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(journal_mode, "wal");
    assert_eq!(pragma(&store, "page_size"), PAGE_SIZE);
    assert_eq!(
        pragma(&store, "wal_autocheckpoint"),
        WAL_AUTOCHECKPOINT_BYTES / PAGE_SIZE
    );
}

fn pragma(store: &SqliteStore, name: &str) -> i64 {
    store
        .connection
        .query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))
        .unwrap()
}

#[test]
fn an_existing_database_keeps_its_page_size_and_the_wal_its_bytes() {
    let path = scratch_path("page-size");
    let made_before = Connection::open(&path).unwrap();
    made_before
        .execute_batch("PRAGMA page_size = 4096; CREATE TABLE probe (x);")
        .unwrap();
    drop(made_before);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(pragma(&store, "page_size"), 4096);
    assert_eq!(
        pragma(&store, "wal_autocheckpoint"),
        WAL_AUTOCHECKPOINT_BYTES / 4096
    );
    // Negative: KiB, the same 16 MiB whatever the page size.
    assert_eq!(pragma(&store, "cache_size"), -PAGE_CACHE_KIB);
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
}

#[cfg(unix)]
#[test]
fn a_new_database_and_its_wal_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let path = scratch_path("private");
    let store = SqliteStore::open(&path).unwrap();
    store
        .connection
        .execute_batch("CREATE TABLE probe (x); INSERT INTO probe VALUES (1);")
        .unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", file.display());
    }
}

#[test]
fn a_newer_schema_is_refused() {
    let path = scratch_path("newer");
    let store = SqliteStore::open(&path).unwrap();
    store
        .connection
        .execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 'later')",
            [SCHEMA_VERSION + 1],
        )
        .unwrap();
    drop(store);
    let error = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(error, StoreError::Migration(_)), "{error:?}");
    assert!(!error.is_transient());
    assert!(error.to_string().contains("newer lamlog"), "{error}");
}

#[test]
fn a_missing_directory_is_a_connection_error() {
    let path = scratch_path("missing")
        .with_file_name("no-such-directory")
        .join("lamlog.db");
    let error = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(error, StoreError::Connection(_)), "{error:?}");
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let path = scratch_path("garbage");
    std::fs::write(&path, vec![0x5a_u8; 8192]).unwrap();
    let error = SqliteStore::open(&path).unwrap_err();
    assert!(!matches!(error, StoreError::Busy(_)), "{error:?}");
}

#[test]
fn a_held_write_lock_is_busy_and_transient() {
    let path = scratch_path("busy");
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .connection
        .busy_timeout(Duration::from_millis(10))
        .unwrap();
    let holder = Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let context = BatchContext::default();
    let batch = context.batch(&[], 0);
    let error = write::write_batch(&mut store.connection, &batch).unwrap_err();
    assert!(matches!(error, StoreError::Busy(_)), "{error:?}");
    assert!(error.is_transient());
    assert!(
        error
            .to_string()
            .starts_with("database busy: starting the batch transaction"),
        "{error}"
    );
    holder.execute_batch("ROLLBACK").unwrap();
    assert!(write::write_batch(&mut store.connection, &batch).is_ok());
}

/// What a batch refers to besides its rows: no metadata, the default
/// alert rules.
#[derive(Default)]
struct BatchContext {
    metadata: std::collections::BTreeMap<String, lamlog_core::meta::FunctionMeta>,
    rules: lamlog_core::judge::AlertRules,
}

impl BatchContext {
    /// A batch of `invocations`, and no dead letters, received at
    /// `received_at_ms`.
    fn batch<'a>(
        &'a self,
        invocations: &'a [crate::store::StoredInvocation],
        received_at_ms: i64,
    ) -> StoreBatch<'a> {
        StoreBatch {
            invocations,
            dead_letters: &[],
            metadata: &self.metadata,
            rules: &self.rules,
            received_at_ms,
            unsent_alert_delay_ms: crate::store::UNSENT_ALERT_DELAY_MS,
        }
    }
}

use crate::store::test_rows::reported;

/// Reported invocations `r-000`, `r-001`, … of function `f` (one per index
/// of `indexes`), 100 ms apart from the start of one minute; and that
/// minute.
fn reported_in_one_minute(
    indexes: std::ops::Range<i64>,
) -> (i64, Vec<crate::store::StoredInvocation>) {
    let minute_ms = 1_793_491_200_000;
    let invocations = indexes
        .map(|index| reported("f", &format!("r-{index:03}"), minute_ms + index * 100))
        .collect();
    (minute_ms, invocations)
}

/// The rollups of a batch are summed per function and minute before they
/// are written: the rows a batch changes grow with its invocations plus its
/// minutes, not with its invocations times the rollup tables.
#[test]
fn a_batch_writes_each_rollup_minute_once() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let (minute_ms, invocations) = reported_in_one_minute(0..100);
    let context = BatchContext::default();
    let batch = context.batch(&invocations, minute_ms);
    let before = store.connection.total_changes();
    let outcome = write::write_batch(&mut store.connection, &batch).unwrap();
    assert_eq!(outcome.inserted, 100);
    let changes = store.connection.total_changes() - before;
    // 100 rows, one minute, one histogram bucket, the watermark.
    assert!(
        changes <= 100 + 3,
        "{changes} row changes for 100 invocations in one minute"
    );
    let (invocations, minute_rows): (i64, i64) = store
        .connection
        .query_row(
            "SELECT SUM(invocations), COUNT(*) FROM function_minute",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!((invocations, minute_rows), (100, 1));
}

/// How many times the connection's cached lookup of a stored invocation
/// has run.
fn lookups_run(connection: &rusqlite::Connection) -> i32 {
    connection
        .prepare_cached(invocation_row::SELECT_INVOCATION)
        .unwrap()
        .get_status(rusqlite::StatementStatus::Run)
}

/// A new invocation is written by one insert, without a lookup first;
/// only an invocation whose key is stored is read back and joined.
#[test]
fn a_new_invocation_is_inserted_without_a_lookup() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let (minute_ms, invocations) = reported_in_one_minute(0..50);
    let context = BatchContext::default();
    let outcome = write::write_batch(
        &mut store.connection,
        &context.batch(&invocations, minute_ms),
    )
    .unwrap();
    assert_eq!(outcome.inserted, 50);
    assert_eq!(lookups_run(&store.connection), 0);

    // Ten of them again with new evidence, and ten new ones.
    let mut second = invocations[..10].to_vec();
    for invocation in &mut second {
        invocation.invocation.xray_trace_id =
            Some("1-5e1b4151-5ac6c58f5b3d6c1e8ef5b7c3".to_owned());
    }
    second.extend(reported_in_one_minute(50..60).1);
    second.sort_by(|a, b| a.invocation.request_id.cmp(&b.invocation.request_id));
    let outcome =
        write::write_batch(&mut store.connection, &context.batch(&second, minute_ms)).unwrap();
    assert_eq!((outcome.inserted, outcome.updated), (10, 10));
    assert_eq!(lookups_run(&store.connection), 10);
    let traced: i64 = store
        .connection
        .query_row(
            "SELECT COUNT(*) FROM invocations WHERE xray_trace_id IS NOT NULL",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(traced, 10);
}
