//! The shared AWS SDK configuration of lamlog's AWS backends.
//!
//! Built once per process (at Lambda cold start, or once per test) and handed
//! to every client, so that the DynamoDB and SNS clients share one HTTP
//! connection pool and one credentials cache. Choices made here:
//!
//! - **One TLS stack**: rustls with the `ring` provider, through
//!   `aws-smithy-http-client`. No OpenSSL, no aws-lc (which would need a C
//!   toolchain and cmake to cross-compile for arm64).
//! - **Explicit timeouts**: a connect timeout, a per-attempt timeout and an
//!   operation timeout, so that a backend that stops answering costs a bounded
//!   share of the Lambda deadline instead of all of it.
//! - **Explicit endpoint** when given (`AWS_ENDPOINT_URL` in the Lambda, the
//!   moto server in tests): nothing then leaves that endpoint.
//! - Static credentials when given (tests); otherwise the default chain,
//!   which in Lambda reads the environment the runtime sets.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// How to reach AWS (or a stand-in for it).
#[derive(Debug, Clone, PartialEq)]
pub struct AwsOptions {
    /// The region; `None` reads `AWS_REGION` (always set in Lambda).
    pub region: Option<String>,
    /// Send every request here instead of the AWS endpoint (moto, LocalStack).
    pub endpoint_url: Option<String>,
    /// Static credentials `(access key id, secret access key)`; `None` uses
    /// the default provider chain.
    pub static_credentials: Option<(String, String)>,
    /// Time allowed to open a TCP + TLS connection.
    pub connect_timeout: Duration,
    /// Time allowed for one attempt of one call.
    pub attempt_timeout: Duration,
    /// Time allowed for one call, retries included.
    pub operation_timeout: Duration,
    /// Attempts per call made by the SDK itself (1 = no SDK retries; callers
    /// with their own retry loop, like the DynamoDB source, want few).
    pub max_attempts: u32,
}

impl Default for AwsOptions {
    fn default() -> Self {
        AwsOptions {
            region: None,
            endpoint_url: None,
            static_credentials: None,
            connect_timeout: Duration::from_millis(1000),
            attempt_timeout: Duration::from_millis(2000),
            operation_timeout: Duration::from_millis(5000),
            max_attempts: 2,
        }
    }
}

/// Builds the SDK configuration every lamlog AWS client is made from.
/// Reads the environment (region, credentials) only for what `options`
/// leaves unset; makes no network call.
pub async fn sdk_config(options: &AwsOptions) -> SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(options.connect_timeout)
        .operation_attempt_timeout(options.attempt_timeout)
        .operation_timeout(options.operation_timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(options.max_attempts.max(1)));
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint_url) = &options.endpoint_url {
        loader = loader.endpoint_url(endpoint_url.clone());
    }
    if let Some((access_key_id, secret_access_key)) = &options.static_credentials {
        let credentials = aws_sdk_dynamodb::config::Credentials::new(
            access_key_id.clone(),
            secret_access_key.clone(),
            None,
            None,
            "lamlog-static",
        );
        loader = loader.credentials_provider(credentials);
    }
    loader.load().await
}
