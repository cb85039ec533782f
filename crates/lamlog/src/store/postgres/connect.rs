//! How the pool opens a connection and how the store checks one out: TLS
//! (`tls.rs`) and, when the configuration names a credential source, the
//! user name and password read from it (`credentials.rs`), set on each new
//! connection's configuration.
//!
//! A connection refused for its password (SQLSTATE 28P01 invalid password,
//! 28000 invalid authorization) makes [`checkout`] read the credentials
//! again, once, and try once more: that is how a rotated secret is picked
//! up without a restart. A second refusal is returned as it is, so a wrong
//! secret costs one extra read per checkout, not a loop.

use std::sync::Arc;

use deadpool_postgres::{Pool, PoolError};
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::classify::{classify, failed};
use super::credentials::{CredentialCache, CredentialsError};
use crate::store::StoreError;

type ConnectFuture<'a> = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<
                    (tokio_postgres::Client, tokio::task::JoinHandle<()>),
                    tokio_postgres::Error,
                >,
            > + Send
            + 'a,
    >,
>;

/// Opens the pool's connections: with TLS when `tls` is set, as the user
/// the credential cache knows when there is one.
pub(super) struct StoreConnect {
    pub(super) tls: Option<MakeRustlsConnect>,
    pub(super) credentials: Option<Arc<CredentialCache>>,
}

impl deadpool_postgres::Connect for StoreConnect {
    fn connect(&self, pg_config: &tokio_postgres::Config) -> ConnectFuture<'_> {
        let mut pg_config = pg_config.clone();
        if let Some(credentials) = &self.credentials {
            credentials.apply(&mut pg_config);
        }
        let tls = self.tls.clone();
        Box::pin(async move {
            // A connection's own error reaches the statement running on it;
            // the task only has to drive it.
            let connected = match tls {
                Some(tls) => {
                    let (client, connection) = pg_config.connect(tls).await?;
                    (client, tokio::spawn(async move { drop(connection.await) }))
                }
                None => {
                    let (client, connection) = pg_config.connect(tokio_postgres::NoTls).await?;
                    (client, tokio::spawn(async move { drop(connection.await) }))
                }
            };
            Ok(connected)
        })
    }
}

/// A connection from `pool`. With a credential cache, the credentials are
/// read first if they never were, and read again once if the server refuses
/// them. `redacted_url` names the database in errors.
pub(super) async fn checkout(
    pool: &Pool,
    credentials: Option<&CredentialCache>,
    redacted_url: &str,
) -> Result<deadpool_postgres::Client, StoreError> {
    let Some(credentials) = credentials else {
        return pool
            .get()
            .await
            .map_err(|error| pool_failed(redacted_url, error));
    };
    let unreadable = |error| credentials_failed(redacted_url, error);
    credentials.load(false).await.map_err(unreadable)?;
    match pool.get().await {
        Err(PoolError::Backend(error)) if is_authentication_failure(&error) => {
            credentials.load(true).await.map_err(unreadable)?;
            pool.get().await.map_err(|error| {
                let refused = pool_failed(redacted_url, error);
                with_source(refused, &credentials.source_name())
            })
        }
        checked_out => checked_out.map_err(|error| pool_failed(redacted_url, error)),
    }
}

/// Whether the server refused the user name or password.
fn is_authentication_failure(error: &tokio_postgres::Error) -> bool {
    error.code().is_some_and(|code| {
        code == &SqlState::INVALID_PASSWORD
            || code == &SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    })
}

fn pool_failed(redacted_url: &str, error: PoolError) -> StoreError {
    let context = format!("{redacted_url}: getting a connection");
    match error {
        PoolError::Backend(backend) => classify(&context, backend),
        other => StoreError::Connection(format!("{context}: {other}")),
    }
}

/// A credential source that cannot be read or holds no credentials: a
/// connection failure (the batch is retried), or a statement failure for a
/// malformed secret, which no retry fixes.
fn credentials_failed(redacted_url: &str, error: CredentialsError) -> StoreError {
    let message = format!("{redacted_url}: database credentials: {error}");
    match error {
        CredentialsError::Unavailable { .. } => StoreError::Connection(message),
        CredentialsError::Malformed { .. } => StoreError::Statement(message),
    }
}

/// `error` saying that the credentials it was refused were read again from
/// `source_name` just before.
fn with_source(error: StoreError, source_name: &str) -> StoreError {
    let note =
        |message: String| format!("{message} (with the credentials read again from {source_name})");
    match error {
        StoreError::Connection(message) => StoreError::Connection(note(message)),
        StoreError::Statement(message) => StoreError::Statement(note(message)),
        other => other,
    }
}

/// Whether `client`'s session is encrypted, as the server sees it.
pub(super) async fn is_encrypted(client: &deadpool_postgres::Client) -> Result<bool, StoreError> {
    let row = client
        .query_one(
            "SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)",
            &[],
        )
        .await
        .map_err(failed("asking whether the session is encrypted"))?;
    row.try_get(0)
        .map_err(failed("reading whether the session is encrypted"))
}
