//! What lives across invocations: built once at cold start, reused by every
//! event the execution environment handles.
//!
//! Building it is the costly part of a cold start — the database connection
//! (TLS handshake included) and the AWS SDK configuration — so none of it is
//! ever built inside the handler. The metadata cache lives here too, so a
//! warm function asks DynamoDB only about functions it has not seen within
//! the TTL.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use lamlog::aws::{sdk_config, AwsOptions};
use lamlog::batch::{Pipeline, Settings};
use lamlog::enrich::dynamodb::{DynamoDbSource, SdkBatchGet};
use lamlog::enrich::{Enricher, MetaCache};
use lamlog::notify::sns::SnsNotifier;
use lamlog::notify::{Notifier, TableOnly, Undelivered};
use lamlog::store::Store;
use lamlog_core::judge::Alert;
use tokio::time::Instant;

use crate::config::Config;
use crate::handler::{handle, HandlerError, HandlerOptions};

/// Metadata from DynamoDB, as deployed.
pub type Source = DynamoDbSource<SdkBatchGet>;

/// Where new alerts go: SNS when a topic is configured, else only the table.
#[derive(Debug)]
pub enum AlertSink {
    /// Publish to SNS.
    Sns(SnsNotifier),
    /// Keep them in the `alerts` table only.
    TableOnly(TableOnly),
}

impl Notifier for AlertSink {
    async fn notify(&mut self, alerts: &[Alert]) -> Result<(), Undelivered> {
        match self {
            AlertSink::Sns(notifier) => notifier.notify(alerts).await,
            AlertSink::TableOnly(notifier) => notifier.notify(alerts).await,
        }
    }
}

/// Everything an invocation needs, built once.
#[derive(Debug)]
pub struct State<S> {
    /// The stages.
    pub pipeline: Pipeline<Source, S, AlertSink>,
    /// Slicing and retries.
    pub options: HandlerOptions,
    /// The EMF dimension.
    pub function_name: String,
}

/// The one AWS SDK configuration every client of the function is made from
/// (DynamoDB, SNS, Secrets Manager). Makes no network call.
pub async fn aws_config(config: &Config) -> SdkConfig {
    let aws = AwsOptions {
        region: config.aws_region.clone(),
        endpoint_url: config.aws_endpoint_url.clone(),
        // The DynamoDB source retries on its own, within its deadline.
        max_attempts: 2,
        attempt_timeout: config.enrich_deadline.min(Duration::from_secs(2)),
        operation_timeout: config.enrich_deadline,
        ..AwsOptions::default()
    };
    sdk_config(&aws).await
}

impl<S: Store> State<S> {
    /// Builds the AWS clients and the cache around `store`.
    pub async fn build(config: &Config, store: S) -> State<S> {
        State::build_with(config, &aws_config(config).await, store)
    }

    /// [`State::build`] with the SDK configuration already made.
    pub fn build_with(config: &Config, shared: &SdkConfig, store: S) -> State<S> {
        let dynamodb = aws_sdk_dynamodb::Client::new(shared);
        let source = DynamoDbSource::new(
            SdkBatchGet::new(dynamodb, &config.metadata_table, &config.metadata_key),
            &config.metadata_key,
            config.enrich_deadline,
        );
        let cache = MetaCache::new(config.cache_ttl, config.cache_capacity);
        let enricher = Enricher::new(source, cache).on_unavailable(config.enrich_policy);
        let notifier = match &config.alert_topic_arn {
            Some(topic_arn) => {
                let mut sns = aws_sdk_sns::config::Builder::from(shared);
                if let Some(endpoint_url) = &config.sns_endpoint_url {
                    sns = sns.endpoint_url(endpoint_url);
                }
                AlertSink::Sns(SnsNotifier::new(
                    aws_sdk_sns::Client::from_conf(sns.build()),
                    topic_arn,
                ))
            }
            None => AlertSink::TableOnly(TableOnly),
        };
        State {
            pipeline: Pipeline {
                enricher,
                store,
                notifier,
                settings: Settings {
                    unsent_alert_delay_ms: i64::try_from(config.alert_retry_after.as_millis())
                        .unwrap_or(i64::MAX),
                    ..Settings::default()
                },
            },
            options: config.handler,
            function_name: config.function_name.clone(),
        }
    }

    /// Handles one event that must be done by `deadline_epoch_ms` (the
    /// runtime's `Lambda-Runtime-Deadline-Ms`), and prints its EMF line.
    pub async fn invoke(
        &mut self,
        event: &[u8],
        deadline_epoch_ms: u64,
    ) -> Result<serde_json::Value, HandlerError> {
        let arrived = Instant::now();
        let now_ms = epoch_ms();
        let remaining = time_to_deadline(deadline_epoch_ms, now_ms);
        let deadline = Instant::now() + remaining;
        tracing::debug!(
            deadline_epoch_ms,
            now_ms,
            remaining_ms = remaining.as_millis() as u64,
            "event received"
        );
        let calls_before = self.pipeline.enricher.source().calls();
        let outcome = handle(&mut self.pipeline, &self.options, event, deadline, now_ms).await;
        let dynamodb_calls = self.pipeline.enricher.source().calls() - calls_before;
        let outcome = outcome.map(|mut outcome| {
            outcome.metrics.dynamodb_calls = dynamodb_calls;
            outcome
        });
        let mut metrics = match &outcome {
            Ok(outcome) => outcome.metrics,
            Err(_) => crate::metrics::InvocationMetrics {
                failed_slices: 1,
                ..Default::default()
            },
        };
        metrics.dynamodb_calls = dynamodb_calls;
        metrics.handler_ms = arrived.elapsed().as_secs_f64() * 1000.0;
        let line = metrics.emf(&self.function_name, now_ms);
        let mut stdout = std::io::stdout().lock();
        // Metrics are best effort: a closed stdout must not fail the batch.
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
        outcome.map(|outcome| outcome.response)
    }
}

/// Deadlines below this (2001-09-09 in epoch milliseconds) are not epoch times.
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// The time left before `deadline_ms`, at `now_ms` (epoch milliseconds).
///
/// Lambda sends the deadline as epoch milliseconds. The `cargo lambda watch`
/// emulator sends the function's timeout instead (600000 for its default of
/// 600 s): read as an epoch time it would be 1970, the handler would see no
/// time left, and no batch would ever be started. A deadline too small to be
/// an epoch time is therefore taken as milliseconds from now.
pub fn time_to_deadline(deadline_ms: u64, now_ms: i64) -> Duration {
    if deadline_ms < EPOCH_MS_FLOOR {
        return Duration::from_millis(deadline_ms);
    }
    Duration::from_millis(deadline_ms.saturating_sub(now_ms.max(0) as u64))
}

/// Now, in epoch milliseconds.
pub fn epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_793_491_200_000;

    #[test]
    fn an_epoch_deadline_leaves_the_difference() {
        let deadline = NOW as u64 + 12_345;
        assert_eq!(
            time_to_deadline(deadline, NOW),
            Duration::from_millis(12_345)
        );
    }

    #[test]
    fn a_deadline_already_passed_leaves_nothing() {
        let deadline = NOW as u64 - 5;
        assert_eq!(time_to_deadline(deadline, NOW), Duration::ZERO);
    }

    #[test]
    fn a_timeout_instead_of_an_epoch_time_is_read_as_time_from_now() {
        assert_eq!(time_to_deadline(600_000, NOW), Duration::from_secs(600));
        assert_eq!(time_to_deadline(0, NOW), Duration::ZERO);
    }
}
