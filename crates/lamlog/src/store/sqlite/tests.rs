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
    let metadata = Default::default();
    let rules = Default::default();
    let batch = StoreBatch {
        invocations: &[],
        dead_letters: &[],
        metadata: &metadata,
        rules: &rules,
        received_at_ms: 0,
    };
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
