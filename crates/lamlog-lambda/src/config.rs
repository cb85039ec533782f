//! The function's configuration: read from the environment once, at cold
//! start, and validated before the first event.
//!
//! A bad value stops the cold start with an error naming the variable, so a
//! misconfigured deployment fails at once and visibly (an `Init` error in
//! CloudWatch) rather than on some later batch.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL` | required | where the store lives: `postgres://user@host:5432/db?sslmode=verify-full`, without a password when `LAMLOG_DB_SECRET_ARN` is set (a password here is for local runs only); `sqlite://PATH` in local builds with the `sqlite` feature |
//! | `LAMLOG_DB_SECRET_ARN` | none | Secrets Manager secret holding the database `username` and `password` (the RDS secret JSON), read at the first connection and again after an authentication failure |
//! | `LAMLOG_DB_CA_FILE` | none | PEM file of the CA certificates the database's certificate must chain to (the RDS bundle, `/var/task/global-bundle.pem`); without it the Mozilla roots |
//! | `LAMLOG_METADATA_TABLE` | required | the DynamoDB table of function metadata |
//! | `LAMLOG_METADATA_KEY` | `pk` | its partition key attribute (a string, `account#function`) |
//! | `LAMLOG_ALERT_TOPIC_ARN` | none | SNS topic for new alerts; without it alerts stay in the table |
//! | `LAMLOG_ALERT_RETRY_SECS` | 60 | how long an alert its batch could not send waits in the table before a later batch sends it (and how long that batch's claim on it holds); at least 1 |
//! | `LAMLOG_CACHE_TTL_SECS` | 3600 | metadata cache time to live, hits and misses alike |
//! | `LAMLOG_CACHE_CAPACITY` | 100000 | metadata cache bound, in entries |
//! | `LAMLOG_ENRICH_POLICY` | `fail` | `fail` or `store-unenriched` when DynamoDB stays unavailable |
//! | `LAMLOG_ENRICH_DEADLINE_MS` | 5000 | time one metadata fetch may take, retries included |
//! | `LAMLOG_DEADLINE_MARGIN_MS` | 2000 | time kept free before the Lambda deadline |
//! | `LAMLOG_SLICE_RECORDS` | 500 | Kinesis records per transaction |
//! | `LAMLOG_SLICE_HELD_BYTES` | 8388608 | assembled invocations and dead letters a transaction may hold before it is committed early |
//! | `LAMLOG_SLICE_RETRIES` | 2 | in-process retries of a slice that failed transiently |
//! | `LAMLOG_LOG_LEVEL` | `AWS_LAMBDA_LOG_LEVEL`, else `info` | `error` … `trace` |
//! | `AWS_ENDPOINT_URL` | none | send every AWS call there (moto in tests) |
//! | `AWS_ENDPOINT_URL_SNS` | `AWS_ENDPOINT_URL` | send SNS calls there instead (AWS's service-specific variable) |
//! | `AWS_ENDPOINT_URL_SECRETS_MANAGER` | `AWS_ENDPOINT_URL` | send Secrets Manager calls there instead (AWS's service-specific variable) |
//! | `AWS_REGION` | set by Lambda | |
//! | `AWS_LAMBDA_FUNCTION_NAME` | set by Lambda | the EMF dimension |

use std::path::PathBuf;
use std::time::Duration;

use lamlog::enrich::OnUnavailable;

use crate::handler::HandlerOptions;

/// The validated configuration. Its `Debug` shows the database URL without
/// its password.
#[derive(Clone, PartialEq)]
pub struct Config {
    /// Where the store lives.
    pub database_url: String,
    /// The Secrets Manager secret of the database credentials, if any.
    pub db_secret_arn: Option<String>,
    /// The CA certificates the database's certificate must chain to.
    pub db_ca_file: Option<PathBuf>,
    /// The metadata table.
    pub metadata_table: String,
    /// Its partition key attribute.
    pub metadata_key: String,
    /// SNS topic for new alerts, if any.
    pub alert_topic_arn: Option<String>,
    /// How long an unsent alert waits before a later batch sends it.
    pub alert_retry_after: Duration,
    /// Metadata cache TTL.
    pub cache_ttl: Duration,
    /// Metadata cache bound.
    pub cache_capacity: u64,
    /// What to do when DynamoDB stays unavailable.
    pub enrich_policy: OnUnavailable,
    /// Time one metadata fetch may take.
    pub enrich_deadline: Duration,
    /// Slicing, margin and retries.
    pub handler: HandlerOptions,
    /// Log level.
    pub log_level: tracing::Level,
    /// AWS endpoint override.
    pub aws_endpoint_url: Option<String>,
    /// Where SNS calls go instead, when set.
    pub sns_endpoint_url: Option<String>,
    /// Where Secrets Manager calls go instead, when set.
    pub secrets_endpoint_url: Option<String>,
    /// AWS region, when set.
    pub aws_region: Option<String>,
    /// The function's name, for the EMF dimension.
    pub function_name: String,
}

/// A variable that is missing or unreadable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("{0} is required")]
    Missing(&'static str),
    /// A variable's value is not acceptable.
    #[error("{name}={value:?}: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let number = |name: &'static str, default: u64, minimum: u64| -> Result<u64, ConfigError> {
            let Some(text) = get(name) else {
                return Ok(default);
            };
            let invalid = |reason: String| ConfigError::Invalid {
                name,
                value: text.clone(),
                reason,
            };
            let value: u64 = text
                .trim()
                .parse()
                .map_err(|error: std::num::ParseIntError| invalid(error.to_string()))?;
            if value < minimum {
                return Err(invalid(format!("must be at least {minimum}")));
            }
            Ok(value)
        };
        let enrich_policy = match get("LAMLOG_ENRICH_POLICY") {
            None => OnUnavailable::default(),
            Some(text) => text.trim().parse().map_err(|reason| ConfigError::Invalid {
                name: "LAMLOG_ENRICH_POLICY",
                value: text.clone(),
                reason,
            })?,
        };
        let log_level = match get("LAMLOG_LOG_LEVEL").or_else(|| get("AWS_LAMBDA_LOG_LEVEL")) {
            None => tracing::Level::INFO,
            Some(text) => text.trim().parse().map_err(|_| ConfigError::Invalid {
                name: "LAMLOG_LOG_LEVEL",
                value: text.clone(),
                reason: "expected error, warn, info, debug or trace".to_owned(),
            })?,
        };
        let arn = |name: &'static str| match get(name) {
            Some(arn) if !arn.starts_with("arn:") => Err(ConfigError::Invalid {
                name,
                value: arn,
                reason: "not an ARN".to_owned(),
            }),
            arn => Ok(arn),
        };
        let alert_topic_arn = arn("LAMLOG_ALERT_TOPIC_ARN")?;
        Ok(Config {
            database_url: required("DATABASE_URL")?,
            db_secret_arn: arn("LAMLOG_DB_SECRET_ARN")?,
            db_ca_file: get("LAMLOG_DB_CA_FILE").map(PathBuf::from),
            metadata_table: required("LAMLOG_METADATA_TABLE")?,
            metadata_key: get("LAMLOG_METADATA_KEY").unwrap_or_else(|| "pk".to_owned()),
            alert_topic_arn,
            alert_retry_after: Duration::from_secs(number("LAMLOG_ALERT_RETRY_SECS", 60, 1)?),
            cache_ttl: Duration::from_secs(number("LAMLOG_CACHE_TTL_SECS", 3600, 0)?),
            cache_capacity: number("LAMLOG_CACHE_CAPACITY", 100_000, 1)?,
            enrich_policy,
            enrich_deadline: Duration::from_millis(number("LAMLOG_ENRICH_DEADLINE_MS", 5000, 1)?),
            handler: HandlerOptions {
                slice_records: number("LAMLOG_SLICE_RECORDS", 500, 1)? as usize,
                slice_held_bytes: number(
                    "LAMLOG_SLICE_HELD_BYTES",
                    lamlog::batch::SliceBound::DEFAULT_HELD_BYTES as u64,
                    1,
                )? as usize,
                deadline_margin: Duration::from_millis(number(
                    "LAMLOG_DEADLINE_MARGIN_MS",
                    2000,
                    0,
                )?),
                slice_retries: number("LAMLOG_SLICE_RETRIES", 2, 0)?.min(10) as u32,
                ..HandlerOptions::default()
            },
            log_level,
            aws_endpoint_url: get("AWS_ENDPOINT_URL"),
            sns_endpoint_url: get("AWS_ENDPOINT_URL_SNS"),
            secrets_endpoint_url: get("AWS_ENDPOINT_URL_SECRETS_MANAGER"),
            aws_region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
            function_name: get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "lamlog".to_owned()),
        })
    }

    /// The database URL with any password replaced, for logs (by the one
    /// redaction function every part of lamlog uses).
    pub fn redacted_database_url(&self) -> String {
        lamlog::redact::redact_url(&self.database_url)
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Config")
            .field("database_url", &self.redacted_database_url())
            .field("db_secret_arn", &self.db_secret_arn)
            .field("db_ca_file", &self.db_ca_file)
            .field("metadata_table", &self.metadata_table)
            .field("metadata_key", &self.metadata_key)
            .field("alert_topic_arn", &self.alert_topic_arn)
            .field("alert_retry_after", &self.alert_retry_after)
            .field("cache_ttl", &self.cache_ttl)
            .field("cache_capacity", &self.cache_capacity)
            .field("enrich_policy", &self.enrich_policy)
            .field("enrich_deadline", &self.enrich_deadline)
            .field("handler", &self.handler)
            .field("log_level", &self.log_level)
            .field("aws_endpoint_url", &self.aws_endpoint_url)
            .field("sns_endpoint_url", &self.sns_endpoint_url)
            .field("secrets_endpoint_url", &self.secrets_endpoint_url)
            .field("aws_region", &self.aws_region)
            .field("function_name", &self.function_name)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const REQUIRED: [(&str, &str); 2] = [
        ("DATABASE_URL", "postgres://lamlog:secret@db/lamlog"),
        ("LAMLOG_METADATA_TABLE", "meta"),
    ];

    #[test]
    fn defaults_fill_everything_but_the_required_two() {
        let config = read(&REQUIRED).unwrap();
        assert_eq!(config.metadata_key, "pk");
        assert_eq!(config.cache_ttl, Duration::from_secs(3600));
        assert_eq!(config.enrich_policy, OnUnavailable::Fail);
        assert_eq!(config.handler.slice_records, 500);
        assert_eq!(config.handler.slice_held_bytes, 8 << 20);
        assert_eq!(config.alert_topic_arn, None);
        assert_eq!(config.alert_retry_after, Duration::from_secs(60));
        assert_eq!(config.log_level, tracing::Level::INFO);
        assert_eq!(
            config.redacted_database_url(),
            "postgres://lamlog:***@db/lamlog"
        );
    }

    #[test]
    fn every_value_is_read_and_checked() {
        let mut pairs = REQUIRED.to_vec();
        pairs.extend([
            ("LAMLOG_ENRICH_POLICY", "store-unenriched"),
            ("LAMLOG_SLICE_RECORDS", "200"),
            ("LAMLOG_SLICE_HELD_BYTES", "1048576"),
            ("LAMLOG_DEADLINE_MARGIN_MS", "1500"),
            (
                "LAMLOG_ALERT_TOPIC_ARN",
                "arn:aws:sns:eu-west-1:1:alerts.fifo",
            ),
            ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
            ("LAMLOG_ALERT_RETRY_SECS", "5"),
        ]);
        let config = read(&pairs).unwrap();
        assert_eq!(config.alert_retry_after, Duration::from_secs(5));
        assert_eq!(config.enrich_policy, OnUnavailable::StoreUnenriched);
        assert_eq!(config.handler.slice_records, 200);
        assert_eq!(config.handler.slice_held_bytes, 1 << 20);
        assert_eq!(config.handler.deadline_margin, Duration::from_millis(1500));
        assert_eq!(config.log_level, tracing::Level::DEBUG);

        let mut pairs = REQUIRED.to_vec();
        pairs.extend([
            (
                "LAMLOG_DB_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:1:secret:db",
            ),
            ("LAMLOG_DB_CA_FILE", "/var/task/global-bundle.pem"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:5000"),
        ]);
        let config = read(&pairs).unwrap();
        assert_eq!(
            config.db_secret_arn.as_deref(),
            Some("arn:aws:secretsmanager:eu-west-1:1:secret:db")
        );
        assert_eq!(
            config.db_ca_file,
            Some(PathBuf::from("/var/task/global-bundle.pem"))
        );
        assert_eq!(
            config.secrets_endpoint_url.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert!(config_error(&[("LAMLOG_DB_SECRET_ARN", "db")]).contains("not an ARN"));

        assert_eq!(
            config_error(&[("LAMLOG_SLICE_RECORDS", "0")]),
            "LAMLOG_SLICE_RECORDS=\"0\": must be at least 1"
        );
        assert_eq!(
            config_error(&[("LAMLOG_ALERT_RETRY_SECS", "0")]),
            "LAMLOG_ALERT_RETRY_SECS=\"0\": must be at least 1"
        );
        assert!(config_error(&[("LAMLOG_ENRICH_POLICY", "ignore")]).contains("store-unenriched"));
        assert!(config_error(&[("LAMLOG_ALERT_TOPIC_ARN", "alerts")]).contains("not an ARN"));
        assert!(
            config_error(&[("LAMLOG_CACHE_TTL_SECS", "-1")]).starts_with("LAMLOG_CACHE_TTL_SECS")
        );
        let missing = read(&[("LAMLOG_METADATA_TABLE", "meta")]).unwrap_err();
        assert_eq!(missing.to_string(), "DATABASE_URL is required");
    }

    #[test]
    fn every_form_of_database_password_is_redacted() {
        for url in [
            "postgres://lamlog:hunter2@db/lamlog",
            "postgres://lamlog@db/lamlog?sslmode=verify-full&password=hunter2",
            "postgresql://lamlog@db/lamlog?PASSWORD=hunter2",
            "host=db user=lamlog password=hunter2 dbname=lamlog",
            "host=db password = 'hun ter2' user=lamlog",
        ] {
            let config = read(&[("DATABASE_URL", url), ("LAMLOG_METADATA_TABLE", "meta")]).unwrap();
            let shown = config.redacted_database_url();
            assert!(
                !shown.contains("hunter2") && !shown.contains("ter2"),
                "{url} → {shown}"
            );
            assert!(shown.contains("***"), "{shown}");
            let debug = format!("{config:?}");
            assert!(!debug.contains("ter2"), "{url} → {debug}");
        }
    }

    fn config_error(extra: &[(&str, &str)]) -> String {
        let mut pairs = REQUIRED.to_vec();
        pairs.extend_from_slice(extra);
        read(&pairs).unwrap_err().to_string()
    }
}
