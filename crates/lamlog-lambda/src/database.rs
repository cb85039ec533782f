//! The PostgreSQL store as the function configures it, from
//! [`Config`]: one connection, TLS verified against `LAMLOG_DB_CA_FILE`, and
//! the credentials from the Secrets Manager secret `LAMLOG_DB_SECRET_ARN`
//! rather than from the URL.
//!
//! Building it makes no network call: the secret is read when the store
//! first connects (the first batch), and again after an authentication
//! failure, so a rotated password is picked up without a new cold start.

use std::sync::Arc;

use aws_config::SdkConfig;
use lamlog::secrets::SecretsManagerCredentials;
use lamlog::store::postgres::{PostgresConfig, SharedCredentialSource};

use crate::config::Config;

/// The store's configuration; its Secrets Manager client, when a secret is
/// named, is made from `shared`, the function's one SDK configuration.
pub fn postgres_config(config: &Config, shared: &SdkConfig) -> PostgresConfig {
    let mut postgres = PostgresConfig::new(config.database_url.clone());
    // One connection: Lambda hands an environment one event at a time, and
    // every idle connection counts against the database's limit times the
    // function's concurrency.
    postgres.pool_size = 1;
    postgres.ca_file.clone_from(&config.db_ca_file);
    if let Some(secret_arn) = &config.db_secret_arn {
        let mut secrets = aws_sdk_secretsmanager::config::Builder::from(shared);
        if let Some(endpoint_url) = &config.secrets_endpoint_url {
            secrets = secrets.endpoint_url(endpoint_url);
        }
        let client = aws_sdk_secretsmanager::Client::from_conf(secrets.build());
        let source = SecretsManagerCredentials::new(client, secret_arn);
        postgres.credentials = Some(SharedCredentialSource(Arc::new(source)));
    }
    postgres
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        Config::from_lookup(|name| map.get(name).map(|value| (*value).to_owned())).unwrap()
    }

    #[tokio::test]
    async fn the_ca_file_and_the_secret_reach_the_store_configuration() {
        let config = config(&[
            (
                "DATABASE_URL",
                "postgres://lamlog@db/lamlog?sslmode=verify-full",
            ),
            ("LAMLOG_METADATA_TABLE", "meta"),
            ("LAMLOG_DB_CA_FILE", "/var/task/global-bundle.pem"),
            (
                "LAMLOG_DB_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:1:secret:db",
            ),
            ("AWS_REGION", "eu-west-1"),
        ]);
        let shared = crate::state::aws_config(&config).await;
        let postgres = postgres_config(&config, &shared);
        assert_eq!(postgres.pool_size, 1);
        assert_eq!(
            postgres.ca_file.as_deref(),
            Some(Path::new("/var/task/global-bundle.pem"))
        );
        assert_eq!(postgres.tls_warning(), None);
        let source = postgres.credentials.expect("a credential source");
        assert_eq!(
            source.0.name(),
            "secret arn:aws:secretsmanager:eu-west-1:1:secret:db"
        );
    }

    #[tokio::test]
    async fn without_a_secret_the_url_holds_the_credentials() {
        let config = config(&[
            (
                "DATABASE_URL",
                "postgres://lamlog:pw@db/lamlog?sslmode=require",
            ),
            ("LAMLOG_METADATA_TABLE", "meta"),
            ("AWS_REGION", "eu-west-1"),
        ]);
        let shared = crate::state::aws_config(&config).await;
        let postgres = postgres_config(&config, &shared);
        assert!(postgres.credentials.is_none());
        assert!(postgres.tls_warning().is_some());
    }
}
