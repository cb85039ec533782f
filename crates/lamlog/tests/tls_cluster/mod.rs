//! The second PostgreSQL cluster that the TLS and credential tests talk to:
//! `ssl=on` with a certificate for `localhost` signed by a CA made for the
//! test, and password (scram-sha-256) authentication over TLS only.
//!
//! `tests/tls/start-cluster.sh` makes the CAs and the certificate, starts
//! the cluster and writes what the tests read into `LAMLOG_TLS_TEST_DIR`
//! (default `/tmp/lamlog-tls`); `.ci/run` runs it before the tests. When the
//! cluster is not there, the tests fail, saying how to start it: they never
//! skip.

use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// The running TLS cluster, as the start script describes it.
pub struct TlsCluster {
    dir: PathBuf,
    /// Its port on localhost.
    pub port: u16,
    /// The password of `lamlog_tls`, its superuser role.
    pub admin_password: String,
}

impl TlsCluster {
    /// The cluster; panics, saying how to start it, when it is not running.
    pub fn get() -> TlsCluster {
        let dir = PathBuf::from(
            std::env::var("LAMLOG_TLS_TEST_DIR").unwrap_or_else(|_| "/tmp/lamlog-tls".to_owned()),
        );
        let how = format!(
            "the TLS test cluster is required: start it with `tests/tls/start-cluster.sh` \
             (as root; LAMLOG_TLS_TEST_DIR={})",
            dir.display()
        );
        let read = |name: &str| match std::fs::read_to_string(dir.join(name)) {
            Ok(text) => text.trim().to_owned(),
            Err(error) => panic!("{how}: reading {}: {error}", dir.join(name).display()),
        };
        let port: u16 = read("port")
            .parse()
            .unwrap_or_else(|error| panic!("{how}: port: {error}"));
        let admin_password = read("password");
        if let Err(error) = TcpStream::connect(("127.0.0.1", port)) {
            panic!("{how}: nothing listens on 127.0.0.1:{port}: {error}");
        }
        TlsCluster {
            dir,
            port,
            admin_password,
        }
    }

    /// The CA that signed the server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A CA that signed nothing the server holds.
    pub fn other_ca_file(&self) -> PathBuf {
        self.dir.join("other-ca.pem")
    }

    /// `postgres://user[:password]@host:port/lamlog_tls?sslmode=…`.
    pub fn url(&self, host: &str, user: &str, password: Option<&str>, sslmode: &str) -> String {
        let password = password
            .map(|password| format!(":{password}"))
            .unwrap_or_default();
        format!(
            "postgres://{user}{password}@{host}:{}/lamlog_tls?sslmode={sslmode}",
            self.port
        )
    }

    /// The superuser's URL, `sslmode` as given, on `localhost`.
    pub fn admin_url(&self, sslmode: &str) -> String {
        self.url(
            "localhost",
            "lamlog_tls",
            Some(&self.admin_password),
            sslmode,
        )
    }

    /// A connection of the test's own as the superuser, outside any store,
    /// verified against the test CA. Only the Secrets Manager tests use it.
    #[cfg_attr(not(feature = "secrets"), allow(dead_code))]
    pub async fn admin(&self) -> tokio_postgres::Client {
        let mut roots = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_file_iter(self.ca_file()).unwrap() {
            roots.add(certificate.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let url = self.admin_url("require");
        let (client, connection) =
            tokio_postgres::connect(&url, tokio_postgres_rustls::MakeRustlsConnect::new(config))
                .await
                .unwrap_or_else(|error| panic!("connecting to the TLS test cluster: {error}"));
        tokio::spawn(connection);
        client
    }
}
