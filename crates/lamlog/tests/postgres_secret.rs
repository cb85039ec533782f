//! Database credentials from Secrets Manager (moto), against the TLS
//! cluster (`tls_cluster`), whose password authentication makes a wrong
//! password really fail: the secret is read when the store first connects,
//! read again once when the server refuses it (a rotation), and never shown.

use crate::support::moto;
use crate::support::tls_cluster;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use lamlog::secrets::SecretsManagerCredentials;
use lamlog::store::postgres::{
    CredentialSource, CredentialsFuture, PostgresConfig, PostgresStore, SharedCredentialSource,
};
use lamlog::store::StoreError;
use moto::Moto;
use tls_cluster::TlsCluster;

/// The Secrets Manager source, counting how often it is read.
struct CountedSecret {
    inner: SecretsManagerCredentials,
    reads: AtomicUsize,
}

impl CountedSecret {
    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

impl CredentialSource for CountedSecret {
    fn fetch(&self) -> CredentialsFuture<'_> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.fetch()
    }

    fn name(&self) -> String {
        self.inner.name()
    }
}

/// A role of its own on the TLS cluster, dropped at the end of the test.
struct Role {
    name: String,
    admin: tokio_postgres::Client,
}

impl Role {
    async fn create(cluster: &TlsCluster, password: &str) -> Role {
        let admin = cluster.admin().await;
        let name = format!("lamlog_secret_{:016x}", fastrand::u64(..));
        admin
            .batch_execute(&format!("CREATE ROLE {name} LOGIN PASSWORD '{password}'"))
            .await
            .unwrap();
        Role { name, admin }
    }

    async fn set_password(&self, password: &str) {
        let name = &self.name;
        self.admin
            .batch_execute(&format!("ALTER ROLE {name} PASSWORD '{password}'"))
            .await
            .unwrap();
    }

    /// Ends the role's sessions, waiting (up to 10 s) until they are gone,
    /// so that the store must log in again.
    async fn disconnect(&self) {
        self.admin
            .execute(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE usename = $1",
                &[&self.name],
            )
            .await
            .unwrap();
    }

    async fn drop_role(self) {
        self.disconnect().await;
        let name = &self.name;
        self.admin
            .batch_execute(&format!("DROP ROLE {name}"))
            .await
            .unwrap();
    }
}

fn secret_json(username: &str, password: &str) -> String {
    serde_json::json!({
        "engine": "postgres",
        "host": "localhost",
        "port": 5433,
        "username": username,
        "password": password,
        "dbname": "lamlog_tls",
    })
    .to_string()
}

fn a_password() -> String {
    format!("{:032x}", fastrand::u128(..))
}

/// A secret in moto holding `secret`; the source the store reads it by.
async fn secret(
    moto: &Moto,
    secret: &str,
) -> (aws_sdk_secretsmanager::Client, Arc<CountedSecret>, String) {
    let client = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
    let arn = client
        .create_secret()
        .name(format!("lamlog/db/{:016x}", fastrand::u64(..)))
        .secret_string(secret)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let source = Arc::new(CountedSecret {
        inner: SecretsManagerCredentials::new(client.clone(), &arn),
        reads: AtomicUsize::new(0),
    });
    (client, source, arn)
}

/// The store for `cluster` whose credentials come from `source`: a URL with
/// no user and no password, verified against the test CA.
fn store(cluster: &TlsCluster, source: &Arc<CountedSecret>) -> PostgresStore {
    let url = format!(
        "postgres://localhost:{}/lamlog_tls?sslmode=verify-full",
        cluster.port
    );
    let source: Arc<dyn CredentialSource> = source.clone();
    let config = PostgresConfig {
        ca_file: Some(cluster.ca_file()),
        pool_size: 1,
        credentials: Some(SharedCredentialSource(source)),
        ..PostgresConfig::new(url)
    };
    PostgresStore::connect_lazily(&config).unwrap()
}

/// A role whose password is `role_password`, a secret naming it with
/// `secret_password`, and a store reading that secret.
struct Fixture {
    role: Role,
    client: aws_sdk_secretsmanager::Client,
    source: Arc<CountedSecret>,
    arn: String,
    store: PostgresStore,
    _moto: Moto,
}

async fn fixture(role_password: &str, secret_password: &str) -> Fixture {
    let cluster = TlsCluster::get();
    let moto = Moto::start();
    let role = Role::create(&cluster, role_password).await;
    let (client, source, arn) = secret(&moto, &secret_json(&role.name, secret_password)).await;
    let store = store(&cluster, &source);
    Fixture {
        role,
        client,
        source,
        arn,
        store,
        _moto: moto,
    }
}

#[tokio::test]
async fn a_rotated_password_is_read_again_after_the_server_refuses_the_old_one() {
    let (old_password, new_password) = (a_password(), a_password());
    let fixture = fixture(&old_password, &old_password).await;
    let (role, source, store) = (&fixture.role, &fixture.source, &fixture.store);
    assert_eq!(
        source.reads(),
        0,
        "read at the first connection, not before"
    );

    assert!(store.connection_is_encrypted().await.unwrap());
    assert_eq!(source.reads(), 1);

    // Rotation: the role's password and the secret change; the store still
    // holds the old password, which the next login is refused with.
    role.set_password(&new_password).await;
    fixture
        .client
        .put_secret_value()
        .secret_id(&fixture.arn)
        .secret_string(secret_json(&role.name, &new_password))
        .send()
        .await
        .unwrap();
    role.disconnect().await;
    // The session just ended may be noticed only by the next statement on
    // it (a connection error, which drops it); the login after that must
    // succeed.
    let answer = match store.connection_is_encrypted().await {
        Err(StoreError::Connection(message)) if !message.contains("password") => {
            store.connection_is_encrypted().await
        }
        answer => answer,
    };
    assert!(answer.unwrap(), "a session over TLS with the new password");
    assert_eq!(source.reads(), 2, "read again once, after the refusal");
    fixture.role.drop_role().await;
}

#[tokio::test]
async fn a_wrong_secret_is_read_again_once_and_never_shown() {
    let (right_password, wrong_password) = (a_password(), a_password());
    let fixture = fixture(&right_password, &wrong_password).await;
    let (source, store) = (&fixture.source, &fixture.store);

    let refused = store
        .connection_is_encrypted()
        .await
        .expect_err("the secret's password is wrong");
    let text = format!("{refused} {refused:?}");
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(text.contains(&fixture.arn), "the secret is named: {text}");
    assert!(
        !text.contains(&wrong_password) && !text.contains(&right_password),
        "{text}"
    );
    assert_eq!(source.reads(), 2, "one read, one read again");
    fixture.role.drop_role().await;
}

#[tokio::test]
async fn a_secret_that_is_not_credentials_fails_without_showing_its_content() {
    let cluster = TlsCluster::get();
    let moto = Moto::start();
    let password = a_password();
    let (_client, source, arn) = secret(
        &moto,
        &format!(r#"{{"username":"lamlog","password":{}}}"#, password.len()),
    )
    .await;
    let refused = store(&cluster, &source)
        .connection_is_encrypted()
        .await
        .expect_err("a password that is not a string");
    assert!(matches!(refused, StoreError::Statement(_)), "{refused:?}");
    let message = refused.to_string();
    assert!(
        message.contains(&arn) && message.contains("password that is not a string"),
        "{message}"
    );

    let (client, missing, missing_arn) = secret(&moto, "{}").await;
    client
        .delete_secret()
        .secret_id(&missing_arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let unavailable = store(&cluster, &missing)
        .connection_is_encrypted()
        .await
        .expect_err("a deleted secret");
    assert!(
        matches!(unavailable, StoreError::Connection(_)),
        "{unavailable:?}"
    );
}

#[tokio::test]
async fn a_password_in_the_url_beside_a_secret_is_refused() {
    let moto = Moto::start();
    let (_client, source, _) = secret(&moto, &secret_json("lamlog", "x")).await;
    let source: Arc<dyn CredentialSource> = source;
    let config = PostgresConfig {
        credentials: Some(SharedCredentialSource(source)),
        ..PostgresConfig::new("postgres://lamlog:hunter2@localhost:1/lamlog?sslmode=verify-full")
    };
    let refused = PostgresStore::connect_lazily(&config).expect_err("two passwords");
    let message = refused.to_string();
    assert!(
        message.contains("remove the password from the url"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}
