//! TLS to PostgreSQL with rustls (the `ring` provider), chosen by the URL's
//! `sslmode`, with libpq's meaning of each mode:
//!
//! | `sslmode` | encrypted | certificate chain checked | host name checked |
//! |---|---|---|---|
//! | `disable`, absent | no | – | – |
//! | `allow` | refused with an error: it would mean no TLS whenever the server allows it | | |
//! | `prefer` | when the server offers TLS | only with a CA file | no |
//! | `require` | yes | only with a CA file | no |
//! | `verify-ca` | yes | yes | no |
//! | `verify-full` | yes | yes | yes |
//!
//! `require` without a CA file protects against someone who listens, not
//! against someone who sits in the middle: like libpq, it accepts any
//! certificate, because RDS certificates chain to Amazon's own CA, which no
//! public root store holds; [`interception_warning`] names that case, for a
//! warning at start-up. With a CA file, `require` checks the chain, as
//! libpq's does when it finds a root certificate. For production, use
//! `verify-full` with [`super::PostgresConfig::ca_file`] set to the RDS CA
//! bundle. Without a CA file the Mozilla roots of `webpki-roots` are trusted.
//! Even when no certificate is checked, handshake signatures are verified,
//! so the session key really is shared with the certificate's owner.
//!
//! tokio-postgres itself understands only `disable`, `prefer` and `require`,
//! so the mode is taken out of the URL here and the rest is handed on.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::redact::is_url;

/// What a connection verifies; see the module comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// No TLS.
    Disable,
    /// Encrypted when the server offers TLS, in the clear otherwise; the
    /// certificate is checked as under [`TlsMode::Require`].
    Prefer,
    /// Encrypted; any certificate is accepted, unless a CA file is given, in
    /// which case the chain must lead to it (as under [`TlsMode::VerifyCa`]).
    Require,
    /// Encrypted; the certificate must chain to a trusted root.
    VerifyCa,
    /// Encrypted; the certificate must chain to a trusted root and name the host.
    VerifyFull,
}

/// Splits the `sslmode` parameter off a URL: the URL without it (with
/// `sslmode=require` when TLS is wanted, so that tokio-postgres insists on
/// it, or `sslmode=prefer`) and the mode.
pub(super) fn split_ssl_mode(url: &str) -> Result<(String, TlsMode), String> {
    if !is_url(url) {
        return split_key_value_ssl_mode(url);
    }
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), TlsMode::Disable));
    };
    let mut mode = TlsMode::Disable;
    let mut kept: Vec<&str> = Vec::new();
    for parameter in query.split('&').filter(|parameter| !parameter.is_empty()) {
        match parameter.split_once('=') {
            Some(("sslmode", value)) => mode = parse_mode(value)?,
            _ => kept.push(parameter),
        }
    }
    kept.push(tokio_postgres_mode(mode));
    Ok((format!("{base}?{}", kept.join("&")), mode))
}

/// The `sslmode` parameter tokio-postgres is given for `mode`.
fn tokio_postgres_mode(mode: TlsMode) -> &'static str {
    match mode {
        TlsMode::Disable => "sslmode=disable",
        TlsMode::Prefer => "sslmode=prefer",
        TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => "sslmode=require",
    }
}

fn parse_mode(value: &str) -> Result<TlsMode, String> {
    match value {
        "disable" => Ok(TlsMode::Disable),
        "allow" => Err(
            "sslmode=allow is refused: it connects without TLS whenever the server \
             allows it; use sslmode=verify-full with a CA file (or disable, to say no TLS)"
                .to_owned(),
        ),
        "prefer" => Ok(TlsMode::Prefer),
        "require" => Ok(TlsMode::Require),
        "verify-ca" => Ok(TlsMode::VerifyCa),
        "verify-full" => Ok(TlsMode::VerifyFull),
        other => Err(format!("unknown sslmode {other:?}")),
    }
}

/// [`split_ssl_mode`] for a `key=value` connection string (whose `sslmode`
/// must then be written `sslmode=value`, without spaces or quotes).
fn split_key_value_ssl_mode(text: &str) -> Result<(String, TlsMode), String> {
    let mut mode = TlsMode::Disable;
    let mut kept: Vec<&str> = Vec::new();
    for token in text.split_whitespace() {
        match token.strip_prefix("sslmode=") {
            Some(value) => mode = parse_mode(value)?,
            None => kept.push(token),
        }
    }
    kept.push(tokio_postgres_mode(mode));
    Ok((kept.join(" "), mode))
}

/// The TLS connector for a mode, `None` for no TLS.
pub(super) fn connector(
    mode: TlsMode,
    ca_file: Option<&Path>,
) -> Result<Option<MakeRustlsConnect>, String> {
    if mode == TlsMode::Disable {
        return Ok(None);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(root_store(ca_file)?);
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("configuring tls: {error}"))?;
    let config = match mode {
        TlsMode::VerifyFull => builder.with_root_certificates(roots).with_no_client_auth(),
        TlsMode::VerifyCa | TlsMode::Require | TlsMode::Prefer => {
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|error| format!("configuring tls: {error}"))?;
            let verifier = RelaxedVerifier {
                webpki,
                provider,
                check_chain: mode == TlsMode::VerifyCa || ca_file.is_some(),
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        }
        TlsMode::Disable => return Ok(None),
    };
    Ok(Some(MakeRustlsConnect::new(config)))
}

/// What to warn about, once at start-up, when `mode` and `ca_file` leave the
/// connection open to interception: TLS that accepts any certificate
/// (`require` or `prefer` without a CA file). `None` when the server's
/// certificate is checked, or when no TLS was asked for at all.
pub fn interception_warning(mode: TlsMode, ca_file: Option<&Path>) -> Option<&'static str> {
    match (mode, ca_file) {
        (TlsMode::Require, None) => Some(
            "sslmode=require without a CA file accepts any server certificate: the connection \
             is encrypted but open to interception; use sslmode=verify-full with a CA file \
             (the RDS bundle)",
        ),
        (TlsMode::Prefer, None) => Some(
            "sslmode=prefer without a CA file accepts any server certificate, and no TLS at all \
             when the server offers none: the connection is open to interception; use \
             sslmode=verify-full with a CA file (the RDS bundle)",
        ),
        _ => None,
    }
}

/// The CA file's certificates, or the Mozilla roots.
fn root_store(ca_file: Option<&Path>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certificates = CertificateDer::pem_file_iter(path)
                .map_err(|error| format!("reading ca file {}: {error}", path.display()))?;
            for certificate in certificates {
                let certificate = certificate
                    .map_err(|error| format!("reading ca file {}: {error}", path.display()))?;
                roots
                    .add(certificate)
                    .map_err(|error| format!("ca file {}: {error}", path.display()))?;
            }
            if roots.is_empty() {
                return Err(format!("ca file {} holds no certificate", path.display()));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(roots)
}

/// `verify-ca` and `require` or `prefer` with a CA file (chain checked, name
/// not), and `require` or `prefer` without one (nothing checked but the
/// handshake signatures).
#[derive(Debug)]
struct RelaxedVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    provider: Arc<CryptoProvider>,
    check_chain: bool,
}

impl ServerCertVerifier for RelaxedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.check_chain {
            return Ok(ServerCertVerified::assertion());
        }
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            certificate,
            signature,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            certificate,
            signature,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_modes_are_read_and_handed_on() {
        let (url, mode) =
            split_ssl_mode("postgres://u@db/x?sslmode=verify-full&application_name=a").unwrap();
        assert_eq!(mode, TlsMode::VerifyFull);
        assert_eq!(url, "postgres://u@db/x?application_name=a&sslmode=require");
        let (url, mode) = split_ssl_mode("postgres://u@db/x").unwrap();
        assert_eq!(
            (url.as_str(), mode),
            ("postgres://u@db/x", TlsMode::Disable)
        );
        assert!(split_ssl_mode("postgres://u@db/x?sslmode=bogus").is_err());
        let (text, mode) = split_ssl_mode("host=db sslmode=verify-ca user=u").unwrap();
        assert_eq!(
            (text.as_str(), mode),
            ("host=db user=u sslmode=require", TlsMode::VerifyCa)
        );
        // A key=value string holding a URL in a value is still key=value.
        let (text, mode) =
            split_ssl_mode("host=db application_name=https://x sslmode=verify-full").unwrap();
        assert_eq!(
            (text.as_str(), mode),
            (
                "host=db application_name=https://x sslmode=require",
                TlsMode::VerifyFull
            )
        );
    }

    #[test]
    fn prefer_asks_for_tls_and_allow_is_refused() {
        let (url, mode) = split_ssl_mode("postgres://u@db/x?sslmode=prefer").unwrap();
        assert_eq!(
            (url.as_str(), mode),
            ("postgres://u@db/x?sslmode=prefer", TlsMode::Prefer)
        );
        let (text, mode) = split_ssl_mode("host=db sslmode=prefer").unwrap();
        assert_eq!(
            (text.as_str(), mode),
            ("host=db sslmode=prefer", TlsMode::Prefer)
        );
        for refused in ["postgres://u@db/x?sslmode=allow", "host=db sslmode=allow"] {
            let message = split_ssl_mode(refused).unwrap_err();
            assert!(message.contains("sslmode=allow is refused"), "{message}");
        }
    }

    #[test]
    fn only_tls_that_checks_no_certificate_is_warned_about() {
        let ca_file = Some(Path::new("/etc/ca.pem"));
        assert!(interception_warning(TlsMode::Require, None)
            .is_some_and(|warning| warning.contains("sslmode=require")));
        assert!(interception_warning(TlsMode::Prefer, None)
            .is_some_and(|warning| warning.contains("sslmode=prefer")));
        for (mode, ca_file) in [
            (TlsMode::Require, ca_file),
            (TlsMode::Prefer, ca_file),
            (TlsMode::VerifyCa, None),
            (TlsMode::VerifyFull, None),
            (TlsMode::VerifyFull, ca_file),
            (TlsMode::Disable, None),
        ] {
            assert_eq!(interception_warning(mode, ca_file), None, "{mode:?}");
        }
    }

    #[test]
    fn connectors_build_for_every_mode() {
        for mode in [
            TlsMode::Prefer,
            TlsMode::Require,
            TlsMode::VerifyCa,
            TlsMode::VerifyFull,
        ] {
            assert!(matches!(connector(mode, None), Ok(Some(_))));
        }
        assert!(matches!(connector(TlsMode::Disable, None), Ok(None)));
        assert!(connector(TlsMode::VerifyFull, Some(Path::new("/nonexistent/ca.pem"))).is_err());
    }
}
