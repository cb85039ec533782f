//! Metadata from a DynamoDB table, fetched with `BatchGetItem`.
//!
//! One call to [`DynamoDbSource::fetch`] gets the metadata of the distinct
//! keys the cache could not answer:
//!
//! - keys longer than [`MAX_KEY_BYTES`] are absent (no item can have them);
//! - the keys are split into chunks of at most [`MAX_KEYS_PER_CALL`] (100,
//!   BatchGetItem's limit), and the chunks are fetched **concurrently**;
//! - keys DynamoDB leaves in `UnprocessedKeys` (throttling, the 16 MB answer
//!   limit, > 1 MB from one partition) are asked again after an exponential
//!   backoff with full jitter ([`Backoff`]), as AWS recommends;
//! - a call that fails transiently (a timeout, a refused connection, a 5xx,
//!   throttling) is retried the same way;
//! - all of it runs within one **deadline** per fetch: past it the answer is
//!   [`EnrichError::Unavailable`], which is transient, so the Lambda reports
//!   the batch for retry (or, with the `store-unenriched` policy of
//!   [`crate::enrich::OnUnavailable`], stores it without metadata).
//!
//! The item shape is in [`item`]. The network part sits behind the small
//! [`BatchGet`] trait, so that the retry loop can be tested with a transport
//! that misbehaves on purpose (moto never throttles).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use tokio::time::Instant;

use super::{EnrichError, MetaSource, Resolved};

mod backoff;
pub mod item;

pub use backoff::Backoff;

/// BatchGetItem's limit on keys per call.
pub const MAX_KEYS_PER_CALL: usize = 100;

/// DynamoDB's limit on a partition key's size. A longer key (a forged or
/// absurd log group name) cannot name an item: it is answered as absent
/// without a call, because asking would make DynamoDB refuse the whole call,
/// and with it every key of the batch.
pub const MAX_KEY_BYTES: usize = 2048;

/// The default partition key attribute.
pub const DEFAULT_PARTITION_KEY: &str = "pk";

/// The default time one fetch may take, retries included.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);

/// What one BatchGetItem call returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchGetPage {
    /// The items found (absent keys simply have none).
    pub items: Vec<HashMap<String, AttributeValue>>,
    /// Keys DynamoDB did not get to; ask again.
    pub unprocessed: Vec<String>,
}

/// Why one BatchGetItem call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// A timeout, a broken connection, throttling, a server error: retry.
    #[error("{0}")]
    Transient(String),
    /// The request itself is wrong (no such table, bad key schema): retrying
    /// the same request cannot help.
    #[error("{0}")]
    Rejected(String),
}

/// One BatchGetItem call for at most [`MAX_KEYS_PER_CALL`] keys of one table.
#[allow(async_fn_in_trait)]
pub trait BatchGet {
    /// Asks for the items of `keys` (distinct, ≤ 100).
    async fn batch_get(&self, keys: &[String]) -> Result<BatchGetPage, CallError>;
}

/// [`BatchGet`] with the AWS SDK.
#[derive(Debug, Clone)]
pub struct SdkBatchGet {
    client: aws_sdk_dynamodb::Client,
    table: String,
    partition_key: String,
}

impl SdkBatchGet {
    /// Calls on `table`, whose partition key attribute is `partition_key`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: &str, partition_key: &str) -> SdkBatchGet {
        SdkBatchGet {
            client,
            table: table.to_owned(),
            partition_key: partition_key.to_owned(),
        }
    }
}

impl BatchGet for SdkBatchGet {
    async fn batch_get(&self, keys: &[String]) -> Result<BatchGetPage, CallError> {
        let mut request = KeysAndAttributes::builder();
        for key in keys {
            let attribute = AttributeValue::S(key.clone());
            request = request.keys(HashMap::from([(self.partition_key.clone(), attribute)]));
        }
        let request = request
            .build()
            .map_err(|error| CallError::Rejected(error.to_string()))?;
        let output = self
            .client
            .batch_get_item()
            .request_items(&self.table, request)
            .send()
            .await
            .map_err(classify)?;
        let items = output
            .responses
            .and_then(|mut responses| responses.remove(&self.table))
            .unwrap_or_default();
        let unprocessed = output
            .unprocessed_keys
            .and_then(|mut unprocessed| unprocessed.remove(&self.table))
            .map(|request| {
                request
                    .keys
                    .iter()
                    .filter_map(|key| match key.get(&self.partition_key) {
                        Some(AttributeValue::S(key)) => Some(key.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(BatchGetPage { items, unprocessed })
    }
}

/// Sorts an SDK error into retry-may-help or not.
fn classify<E, R>(error: SdkError<E, R>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let detail = match &error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("unknown");
            let message = service.err().message().unwrap_or("");
            match code {
                "ResourceNotFoundException" | "ValidationException" => {
                    return CallError::Rejected(format!("{code}: {message}"));
                }
                _ => format!("{code}: {message}"),
            }
        }
        SdkError::ConstructionFailure(_) => {
            return CallError::Rejected(format!("cannot build the request: {error:?}"));
        }
        SdkError::TimeoutError(_) => "timed out".to_owned(),
        other => error_chain(other),
    };
    CallError::Transient(detail)
}

/// The error and its sources on one line (the SDK's `Display` alone says
/// only "dispatch failure").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Metadata from DynamoDB: chunked, concurrent, retried within a deadline.
#[derive(Debug)]
pub struct DynamoDbSource<T = SdkBatchGet> {
    transport: T,
    partition_key: String,
    deadline: Duration,
    /// The caller's deadline (the Lambda's, less a margin), when set: no
    /// fetch waits past it, whatever `deadline` allows.
    caller_deadline: Option<Instant>,
    backoff: Backoff,
    calls: AtomicU64,
    invalid_items: AtomicU64,
}

impl<T: BatchGet> DynamoDbSource<T> {
    /// A source over `transport`, whose items are keyed by the string
    /// attribute `partition_key`; each fetch gives up after `deadline`.
    pub fn new(transport: T, partition_key: &str, deadline: Duration) -> DynamoDbSource<T> {
        DynamoDbSource {
            transport,
            partition_key: partition_key.to_owned(),
            deadline,
            caller_deadline: None,
            backoff: Backoff::default(),
            calls: AtomicU64::new(0),
            invalid_items: AtomicU64::new(0),
        }
    }

    /// The same source with another backoff.
    pub fn with_backoff(mut self, backoff: Backoff) -> DynamoDbSource<T> {
        self.backoff = backoff;
        self
    }

    /// BatchGetItem calls made so far (each attempt counts), for metrics.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Items found but unreadable so far (treated as absent).
    pub fn invalid_items(&self) -> u64 {
        self.invalid_items.load(Ordering::Relaxed)
    }

    /// The transport, for tests that count what it did.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Fetches one chunk, retrying unprocessed keys and transient failures
    /// until `deadline`.
    async fn fetch_chunk(
        &self,
        keys: Vec<String>,
        deadline: Instant,
    ) -> Result<BTreeMap<String, Resolved>, EnrichError> {
        debug_assert!(keys.len() <= MAX_KEYS_PER_CALL);
        let mut pending = keys;
        let mut found = BTreeMap::new();
        let mut attempt: u32 = 0;
        loop {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let answer =
                tokio::time::timeout_at(deadline, self.transport.batch_get(&pending)).await;
            let problem = match answer {
                Err(_elapsed) => {
                    return Err(self.gave_up(attempt + 1, pending.len(), "no answer"));
                }
                Ok(Err(CallError::Rejected(detail))) => {
                    return Err(EnrichError::Rejected(detail));
                }
                Ok(Err(CallError::Transient(detail))) => detail,
                Ok(Ok(page)) => {
                    for item in &page.items {
                        match item::resolve_item(item, &self.partition_key) {
                            Ok((key, resolved)) => {
                                found.insert(key, resolved);
                            }
                            Err(detail) => {
                                self.invalid_items.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(%detail, "unreadable metadata item treated as absent");
                            }
                        }
                    }
                    pending = page.unprocessed;
                    if pending.is_empty() {
                        return Ok(found);
                    }
                    format!("{} keys unprocessed", pending.len())
                }
            };
            let delay = self.backoff.delay(attempt);
            attempt += 1;
            if Instant::now() + delay >= deadline {
                return Err(self.gave_up(attempt, pending.len(), &problem));
            }
            tracing::debug!(attempt, pending = pending.len(), %problem, "retrying BatchGetItem");
            tokio::time::sleep(delay).await;
        }
    }

    fn gave_up(&self, attempts: u32, pending: usize, problem: &str) -> EnrichError {
        EnrichError::Unavailable(format!(
            "dynamodb: {pending} keys still unfetched after {attempts} attempts within {} ms: {problem}",
            self.deadline.as_millis()
        ))
    }
}

/// Splits distinct keys into BatchGetItem-sized chunks, in order, leaving
/// out keys no item can have (longer than [`MAX_KEY_BYTES`]).
pub fn chunk_keys(keys: &[String]) -> Vec<Vec<String>> {
    let distinct: BTreeSet<&String> = keys
        .iter()
        .filter(|key| key.len() <= MAX_KEY_BYTES)
        .collect();
    let distinct: Vec<String> = distinct.into_iter().cloned().collect();
    distinct
        .chunks(MAX_KEYS_PER_CALL)
        .map(<[String]>::to_vec)
        .collect()
}

impl<T: BatchGet> MetaSource for DynamoDbSource<T> {
    async fn fetch(&self, keys: &[String]) -> Result<BTreeMap<String, Resolved>, EnrichError> {
        let own_deadline = Instant::now() + self.deadline;
        let deadline = self
            .caller_deadline
            .map_or(own_deadline, |caller| caller.min(own_deadline));
        let chunks = chunk_keys(keys)
            .into_iter()
            .map(|chunk| self.fetch_chunk(chunk, deadline));
        let mut resolved = BTreeMap::new();
        for answer in futures_util::future::join_all(chunks).await {
            resolved.extend(answer?);
        }
        Ok(resolved)
    }

    fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.caller_deadline = deadline;
    }
}

#[cfg(test)]
mod tests;
