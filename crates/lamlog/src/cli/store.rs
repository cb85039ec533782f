//! Which store a subcommand uses: SQLite at `--db`, or PostgreSQL at
//! `--database-url` / `DATABASE_URL`.
//!
//! An explicit `--db` always means SQLite, so a `DATABASE_URL` exported for
//! other tools never redirects a command that names its file; without either,
//! the embedded default `./lamlog.db` is used.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use lamlog::store::postgres::{redact_url, PostgresConfig, PostgresStore};
use lamlog::store::sqlite::SqliteStore;
use lamlog::store::EitherStore;

/// The `--db` and `--database-url` flags shared by ingest, report and tune.
/// Its `Debug` shows the URL without its password.
#[derive(Clone, Args)]
pub struct StoreArgs {
    /// The SQLite database file; it wins over a PostgreSQL URL [default:
    /// lamlog.db, unless a PostgreSQL URL is given].
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// A PostgreSQL URL (postgres://user@host:5432/db?sslmode=verify-full)
    /// to use instead of SQLite. TLS uses rustls when sslmode asks for it;
    /// sslmode=require without --ca-file accepts any certificate (a warning
    /// says so), and sslmode=allow is refused.
    #[arg(long, value_name = "URL", env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// A PEM bundle of CA certificates for PostgreSQL TLS (e.g. the RDS bundle).
    #[arg(long, value_name = "PEM", requires = "database_url")]
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for StoreArgs {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("StoreArgs")
            .field("db", &self.db)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// Where the data lives, resolved from the flags.
#[derive(Debug, Clone)]
pub enum StoreTarget {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(PostgresConfig),
}

impl StoreArgs {
    /// `--db` when given, else the PostgreSQL URL when given, else `lamlog.db`.
    pub fn target(&self) -> StoreTarget {
        match (&self.db, &self.database_url) {
            (Some(path), _) => StoreTarget::Sqlite(path.clone()),
            (None, Some(url)) => {
                let mut config = PostgresConfig::new(url.clone());
                config.ca_file.clone_from(&self.ca_file);
                StoreTarget::Postgres(config)
            }
            (None, None) => StoreTarget::Sqlite(PathBuf::from("lamlog.db")),
        }
    }
}

impl StoreTarget {
    /// How to name it in messages (a URL without its password).
    pub fn describe(&self) -> String {
        match self {
            StoreTarget::Sqlite(path) => path.display().to_string(),
            StoreTarget::Postgres(config) => redact_url(&config.url),
        }
    }

    /// Opens it. `must_exist` refuses a SQLite file that is not there yet
    /// (reading commands), with a hint.
    pub async fn open(&self, must_exist: bool) -> anyhow::Result<CliStore> {
        match self {
            StoreTarget::Sqlite(path) => {
                if must_exist && !path.exists() {
                    anyhow::bail!(
                        "{} does not exist: run `lamlog ingest` first, or pass --db or --database-url",
                        path.display()
                    );
                }
                let store = SqliteStore::open(path)
                    .with_context(|| format!("opening {}", path.display()))?;
                Ok(EitherStore::Left(store))
            }
            StoreTarget::Postgres(config) => {
                if let Some(warning) = config.tls_warning() {
                    eprintln!("warning: {warning}");
                }
                let store = PostgresStore::connect(config)
                    .await
                    .with_context(|| format!("connecting to {}", redact_url(&config.url)))?;
                Ok(EitherStore::Right(store))
            }
        }
    }
}

/// SQLite (the embedded default, `Left`) or PostgreSQL (the production
/// database, `Right`), behind the one trait.
pub type CliStore = EitherStore<SqliteStore, PostgresStore>;
