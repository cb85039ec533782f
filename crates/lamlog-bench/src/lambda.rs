//! What the release `bootstrap` needs around it to run locally as it runs
//! in Lambda: DynamoDB (moto, on a free loopback port) holding the
//! workload's metadata in the function's own item format, a PostgreSQL
//! schema of its own, migrated before each run, and the environment Lambda
//! sets. Used by the cold-start and memory sections.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use lamlog::enrich::dynamodb::item::meta_item;
use lamlog::enrich::file::FileSource;
use lamlog::enrich::MetaSource;
use lamlog::store::postgres::{PostgresConfig, PostgresStore};

use crate::ablation::dynamo::{self, Moto, RequestCounter};
use crate::cold_start::{self, Run};

/// The function's metadata table in moto.
const TABLE: &str = "lamlog-function-metadata";

/// Its partition key attribute (the function's default).
const PARTITION_KEY: &str = "pk";

/// Where the binaries the harness runs come from.
#[derive(Debug, Clone)]
pub enum Binaries {
    /// Built here in release, beside this binary: what the figures are of.
    Release,
    /// Taken as they are from a directory (`--binaries`): the test
    /// `tests/harness_runs.rs` passes the debug build it runs in, to check that the harness
    /// runs without compiling the workspace a second time.
    In(PathBuf),
}

impl Binaries {
    /// The path of `binary` of `package`, built if it must be.
    pub fn get(&self, package: &str, binary: &str) -> anyhow::Result<PathBuf> {
        match self {
            Binaries::Release => build_binary(package, binary),
            Binaries::In(dir) => {
                let path = dir.join(binary);
                if !path.is_file() {
                    bail!(
                        "{} not found: --binaries must name a directory holding a build of \
                         `{binary}` (cargo build -p {package} --bin {binary}, or \
                         cargo test --workspace --all-features, makes one in target/debug)",
                        path.display()
                    );
                }
                Ok(path)
            }
        }
    }

    /// How the run's binaries were built, for the printed header.
    pub fn describe(&self) -> String {
        match self {
            Binaries::Release => "release binaries".to_owned(),
            Binaries::In(dir) => format!("binaries of {} (not a release build)", dir.display()),
        }
    }
}

/// Builds a release binary of the workspace (incremental: a no-op when it
/// is up to date) and returns its path, beside this binary.
fn build_binary(package: &str, binary: &str) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.args([
        "build",
        "--release",
        "--quiet",
        "-p",
        package,
        "--bin",
        binary,
    ]);
    // Under `cargo run`, this process has the variables cargo sets for the
    // crate it runs (CARGO_PKG_NAME, CARGO_MANIFEST_DIR…). Passed on, they
    // differ from what the build scripts that watch them (ring's, for one)
    // saw last, and the nested build recompiles half the dependency graph,
    // minutes, on every run.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if is_per_crate_cargo_variable(&name) {
            command.env_remove(&name);
        }
    }
    let status = command
        .status()
        .with_context(|| format!("running cargo build for {binary}"))?;
    if !status.success() {
        bail!("cargo build --release -p {package} --bin {binary} failed");
    }
    let path = std::env::current_exe()?.with_file_name(binary);
    if !path.exists() {
        bail!("{} not found after the build", path.display());
    }
    Ok(path)
}

/// The variables cargo sets for one crate's compilation or run, as opposed
/// to the user's settings (CARGO_TARGET_DIR, CARGO_BUILD_JOBS, CARGO_HOME…).
fn is_per_crate_cargo_variable(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_BIN_")
        || matches!(
            name,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "CARGO_TARGET_TMPDIR"
                | "OUT_DIR"
        )
}

/// `url` with `search_path` set to `schema` (a plain identifier).
pub fn with_search_path(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

/// A PostgreSQL schema that a measured process writes in, emptied and
/// migrated before each run.
pub struct Schema {
    database_url: String,
    name: &'static str,
}

impl Schema {
    /// The schema `name` (a plain identifier) in `database_url`'s database.
    pub fn new(database_url: &str, name: &'static str) -> Schema {
        Schema {
            database_url: database_url.to_owned(),
            name,
        }
    }

    /// Drops the schema and migrates a new one, so that every run inserts
    /// its event afresh into an up-to-date, empty schema (as a deployed
    /// function finds it), outside the measured time.
    pub async fn fresh(&self) -> anyhow::Result<()> {
        let (admin, connection) =
            tokio_postgres::connect(&self.database_url, tokio_postgres::NoTls)
                .await
                .context("connecting to PostgreSQL to reset a schema")?;
        let connection = tokio::spawn(connection);
        admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
            .await
            .with_context(|| format!("dropping schema {}", self.name))?;
        drop(admin);
        let _ = connection.await;
        let mut config = PostgresConfig::new(self.database_url.clone());
        config.pool_size = 1;
        config.schema = Some(self.name.to_owned());
        drop(PostgresStore::connect(&config).await?);
        Ok(())
    }

    /// The URL a process uses to write in the schema.
    pub fn url(&self) -> String {
        with_search_path(&self.database_url, self.name)
    }

    /// The rows of `table` (a plain identifier) in the schema.
    pub async fn count_rows(&self, table: &str) -> anyhow::Result<u64> {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .context("connecting to PostgreSQL to count rows")?;
        let connection = tokio::spawn(connection);
        let count: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .with_context(|| format!("counting {table} in schema {}", self.name))?
            .get(0);
        drop(client);
        let _ = connection.await;
        Ok(count.max(0) as u64)
    }
}

/// moto with the metadata table, and a PostgreSQL schema for the function.
pub struct LambdaEnv {
    moto: Moto,
    /// Where the function writes.
    pub schema: Schema,
    /// Where the function's output of the last run is kept.
    pub log_dir: PathBuf,
}

impl LambdaEnv {
    /// Starts moto and seeds the table with the metadata of `keys` found in
    /// `metadata_file`; the function will write in `schema`.
    pub async fn start(
        metadata_file: &Path,
        keys: &BTreeSet<String>,
        schema: Schema,
        log_dir: &Path,
    ) -> anyhow::Result<LambdaEnv> {
        let moto = Moto::try_start().map_err(anyhow::Error::msg)?;
        let client = dynamo::client(&moto.endpoint, &RequestCounter::default()).await;
        dynamo::create_table(&client, TABLE, PARTITION_KEY).await?;
        let keys: Vec<String> = keys.iter().cloned().collect();
        let metadata = FileSource::load(metadata_file)?.fetch(&keys).await?;
        for (key, resolved) in &metadata {
            let item = meta_item(
                PARTITION_KEY,
                key,
                Some(resolved.function.as_str()),
                &resolved.meta,
            )?;
            client
                .put_item()
                .table_name(TABLE)
                .set_item(Some(item))
                .send()
                .await
                .context("seeding the metadata table")?;
        }
        std::fs::create_dir_all(log_dir)
            .with_context(|| format!("creating {}", log_dir.display()))?;
        Ok(LambdaEnv {
            moto,
            schema,
            log_dir: log_dir.to_path_buf(),
        })
    }

    /// The environment Lambda would give the function (the runtime API
    /// address is added per run), pointed at moto and the schema.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_FUNCTION_NAME", "lamlog-bench".to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "/aws/lambda/lamlog-bench".to_owned(),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/27/[$LATEST]bench".to_owned(),
            ),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_ENDPOINT_URL", self.moto.endpoint.clone()),
            ("DATABASE_URL", self.schema.url()),
            ("LAMLOG_METADATA_TABLE", TABLE.to_owned()),
            ("LAMLOG_LOG_LEVEL", "warn".to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }

    /// One run of `bootstrap` on `event` in a fresh schema.
    pub async fn run(&self, bootstrap: &Path, event: &[u8]) -> anyhow::Result<Run> {
        self.schema.fresh().await?;
        cold_start::run_once(
            bootstrap,
            &self.env(),
            event.to_vec(),
            &self.log_dir,
            Duration::from_secs(300),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_users_cargo_settings() {
        assert!(is_per_crate_cargo_variable("CARGO_PKG_NAME"));
        assert!(is_per_crate_cargo_variable("CARGO_MANIFEST_DIR"));
        assert!(!is_per_crate_cargo_variable("CARGO_TARGET_DIR"));
        assert!(!is_per_crate_cargo_variable("CARGO_BUILD_JOBS"));
        assert!(!is_per_crate_cargo_variable("CARGO"));
    }

    #[test]
    fn sets_the_search_path_in_a_url() {
        assert_eq!(
            with_search_path("postgres://u@h:5432/db", "s"),
            "postgres://u@h:5432/db?options=-c%20search_path%3Ds"
        );
        assert_eq!(
            with_search_path("postgres://u@h/db?sslmode=disable", "s"),
            "postgres://u@h/db?sslmode=disable&options=-c%20search_path%3Ds"
        );
    }
}
