//! TLS to PostgreSQL through real handshakes, against the second cluster
//! (`tls_cluster`): its certificate names `localhost` only and is signed by
//! a CA made for the test. Each `sslmode` is checked for what it accepts and
//! what it refuses, and the server is asked (`pg_stat_ssl`) whether the
//! session it got is encrypted.
#![cfg(feature = "postgres")]

use crate::support::tls_cluster;

use lamlog::store::postgres::{PostgresConfig, PostgresStore};
use lamlog::store::StoreError;
use tls_cluster::TlsCluster;

/// The store's answer to "is this session encrypted?" for `config`.
async fn encrypted(config: &PostgresConfig) -> Result<bool, StoreError> {
    PostgresStore::connect_lazily(config)?
        .connection_is_encrypted()
        .await
}

#[tokio::test]
async fn verify_full_connects_with_the_ca_that_signed_the_server() {
    let cluster = TlsCluster::get();
    let config = PostgresConfig {
        ca_file: Some(cluster.ca_file()),
        ..PostgresConfig::new(cluster.admin_url("verify-full"))
    };
    assert_eq!(config.tls_warning(), None);
    assert!(encrypted(&config).await.unwrap());
}

#[tokio::test]
async fn verify_full_refuses_a_server_another_ca_signed() {
    let cluster = TlsCluster::get();
    for sslmode in ["verify-full", "verify-ca", "require"] {
        let config = PostgresConfig {
            ca_file: Some(cluster.other_ca_file()),
            ..PostgresConfig::new(cluster.admin_url(sslmode))
        };
        let refused = encrypted(&config).await.expect_err("an unknown issuer");
        assert!(
            matches!(&refused, StoreError::Connection(message)
                if message.contains("invalid peer certificate: UnknownIssuer")),
            "{sslmode}: {refused:?}"
        );
        assert!(
            !refused.to_string().contains(&cluster.admin_password),
            "{refused}"
        );
    }
}

#[tokio::test]
async fn verify_full_refuses_a_host_name_the_certificate_does_not_name() {
    let cluster = TlsCluster::get();
    let at_address = |sslmode: &str| PostgresConfig {
        ca_file: Some(cluster.ca_file()),
        ..PostgresConfig::new(cluster.url(
            "127.0.0.1",
            "lamlog_tls",
            Some(&cluster.admin_password),
            sslmode,
        ))
    };
    let refused = encrypted(&at_address("verify-full"))
        .await
        .expect_err("the certificate names localhost, not 127.0.0.1");
    assert!(
        matches!(&refused, StoreError::Connection(message)
            if message.contains("certificate not valid for name \"127.0.0.1\"")),
        "{refused:?}"
    );
    // The same chain without the name check is accepted: the name was what failed.
    assert!(encrypted(&at_address("verify-ca")).await.unwrap());
}

#[tokio::test]
async fn prefer_uses_tls_when_the_server_offers_it() {
    let cluster = TlsCluster::get();
    let config = PostgresConfig::new(cluster.admin_url("prefer"));
    assert!(config.tls_warning().is_some());
    assert!(encrypted(&config).await.unwrap());
}

#[tokio::test]
async fn require_encrypts_and_is_warned_about_only_without_a_ca_file() {
    let cluster = TlsCluster::get();
    let mut config = PostgresConfig::new(cluster.admin_url("require"));
    let warning = config.tls_warning().expect("require without a CA file");
    assert!(warning.contains("open to interception"), "{warning}");
    assert!(encrypted(&config).await.unwrap());
    config.ca_file = Some(cluster.ca_file());
    assert_eq!(config.tls_warning(), None);
    assert!(encrypted(&config).await.unwrap());
}

#[tokio::test]
async fn allow_is_refused_before_connecting() {
    let cluster = TlsCluster::get();
    let refused = PostgresStore::connect_lazily(&PostgresConfig::new(cluster.admin_url("allow")))
        .expect_err("sslmode=allow");
    let message = refused.to_string();
    assert!(message.contains("sslmode=allow is refused"), "{message}");
    assert!(!message.contains(&cluster.admin_password), "{message}");
    assert!(message.contains("***"), "{message}");
}

#[tokio::test]
async fn disable_is_turned_away_by_a_tls_only_server() {
    let cluster = TlsCluster::get();
    let refused = encrypted(&PostgresConfig::new(cluster.admin_url("disable")))
        .await
        .expect_err("the cluster accepts TLS connections only");
    assert!(refused.to_string().contains("no encryption"), "{refused}");
}
