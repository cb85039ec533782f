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

use lamlog::aws::{sdk_config, AwsOptions};
use lamlog::batch::{Pipeline, Settings};
use lamlog::enrich::dynamodb::{DynamoDbSource, SdkBatchGet};
use lamlog::enrich::{Enricher, MetaCache};
use lamlog::notify::sns::SnsNotifier;
use lamlog::notify::{Notifier, NotifyError, TableOnly};
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
    async fn notify(&mut self, alerts: &[Alert]) -> Result<(), NotifyError> {
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

impl<S: Store> State<S> {
    /// Builds the AWS clients and the cache around `store`.
    pub async fn build(config: &Config, store: S) -> State<S> {
        let aws = AwsOptions {
            region: config.aws_region.clone(),
            endpoint_url: config.aws_endpoint_url.clone(),
            // The DynamoDB source retries on its own, within its deadline.
            max_attempts: 2,
            attempt_timeout: config.enrich_deadline.min(Duration::from_secs(2)),
            operation_timeout: config.enrich_deadline,
            ..AwsOptions::default()
        };
        let shared = sdk_config(&aws).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&shared);
        let source = DynamoDbSource::new(
            SdkBatchGet::new(dynamodb, &config.metadata_table, &config.metadata_key),
            &config.metadata_key,
            config.enrich_deadline,
        );
        let cache = MetaCache::new(config.cache_ttl, config.cache_capacity);
        let enricher = Enricher::new(source, cache).on_unavailable(config.enrich_policy);
        let notifier = match &config.alert_topic_arn {
            Some(topic_arn) => AlertSink::Sns(SnsNotifier::new(
                aws_sdk_sns::Client::new(&shared),
                topic_arn,
            )),
            None => AlertSink::TableOnly(TableOnly),
        };
        State {
            pipeline: Pipeline {
                enricher,
                store,
                notifier,
                settings: Settings::default(),
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
        let now_ms = epoch_ms();
        let remaining = Duration::from_millis(deadline_epoch_ms.saturating_sub(now_ms as u64));
        let deadline = Instant::now() + remaining;
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
        let line = metrics.emf(&self.function_name, now_ms);
        let mut stdout = std::io::stdout().lock();
        // Metrics are best effort: a closed stdout must not fail the batch.
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
        outcome.map(|outcome| outcome.response)
    }
}

/// Now, in epoch milliseconds.
pub fn epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}
