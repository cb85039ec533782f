//! DynamoDB for the ablation: the moto emulator, the metadata table, SDK
//! clients that count their HTTP requests, and the two benchmark-only
//! metadata sources (one GetItem per key; one BatchGetItem per 100 keys).
//!
//! Counting happens in an SDK interceptor, just before each HTTP request is
//! sent, so retries count and nothing is inferred: the figure is what
//! DynamoDB would bill and what the network carries.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Credentials, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes,
    ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use lamlog::enrich::{EnrichError, MetaSource, Resolved};
use lamlog_core::meta::FunctionMeta;

/// The metadata table's name.
pub const TABLE: &str = "lamlog-functions";
/// Its partition key attribute (lamlog's default).
pub const PARTITION_KEY: &str = "pk";
/// BatchGetItem's limit on keys per call.
const KEYS_PER_BATCH_GET: usize = 100;

/// A `moto_server` on a free loopback port, killed when dropped: the tests'
/// own start-up, the one place that starts moto.
#[allow(dead_code)] // the tests' outage and SDK helpers are not used here
#[path = "../../../lamlog/tests/moto/mod.rs"]
mod moto;

pub use moto::Moto;

/// Counts the HTTP requests of every client built with it.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<AtomicU64>);

impl RequestCounter {
    /// Requests sent so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// A DynamoDB client for `endpoint` with static test credentials, counting
/// its requests in `counter`. Loading the configuration is part of what a
/// handler that builds its clients per batch pays for.
pub async fn client(endpoint: &str, counter: &RequestCounter) -> Client {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "bench"))
        .load()
        .await;
    let config = aws_sdk_dynamodb::config::Builder::from(&shared)
        .interceptor(counter.clone())
        .build();
    Client::from_conf(config)
}

/// Creates an on-demand table `table` with the string hash key `partition_key`.
pub async fn create_table(client: &Client, table: &str, partition_key: &str) -> anyhow::Result<()> {
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(partition_key)
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(partition_key)
                .key_type(KeyType::Hash)
                .build()?,
        )
        .send()
        .await
        .with_context(|| format!("creating the table {table} in moto"))?;
    Ok(())
}

/// Creates the metadata table and puts one item per entry of `metadata`.
pub async fn seed(client: &Client, metadata: &BTreeMap<String, Resolved>) -> anyhow::Result<()> {
    create_table(client, TABLE, PARTITION_KEY).await?;
    for (key, resolved) in metadata {
        let mut item = HashMap::new();
        item.insert(PARTITION_KEY.to_owned(), AttributeValue::S(key.clone()));
        item.insert(
            "function".to_owned(),
            AttributeValue::S(resolved.function.clone()),
        );
        item.insert(
            "meta".to_owned(),
            AttributeValue::S(serde_json::to_string(&resolved.meta)?),
        );
        client
            .put_item()
            .table_name(TABLE)
            .set_item(Some(item))
            .send()
            .await
            .context("seeding the metadata table")?;
    }
    Ok(())
}

/// Reads an item written by [`seed`].
fn read_item(item: &HashMap<String, AttributeValue>) -> Option<(String, Resolved)> {
    let key = item.get(PARTITION_KEY)?.as_s().ok()?.clone();
    let function = item.get("function")?.as_s().ok()?.clone();
    let meta: FunctionMeta = serde_json::from_str(item.get("meta")?.as_s().ok()?).ok()?;
    Some((key, Resolved { function, meta }))
}

fn unavailable(error: impl std::fmt::Display) -> EnrichError {
    EnrichError::Unavailable(error.to_string())
}

/// A client that can be replaced between batches: the variants that build
/// their clients per batch swap a new one in before each batch.
#[derive(Debug, Clone)]
pub struct ClientSlot(Arc<Mutex<Client>>);

impl ClientSlot {
    /// A slot holding `client`.
    pub fn new(client: Client) -> ClientSlot {
        ClientSlot(Arc::new(Mutex::new(client)))
    }

    /// Puts `client` in the slot.
    pub fn replace(&self, client: Client) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = client;
        }
    }

    fn current(&self) -> Result<Client, EnrichError> {
        self.0
            .lock()
            .map(|client| client.clone())
            .map_err(|_| unavailable("client slot poisoned"))
    }
}

/// Naive: one GetItem per key, one after the other. Benchmark only.
#[derive(Debug, Clone)]
pub struct PerKeySource(pub ClientSlot);

impl MetaSource for PerKeySource {
    async fn fetch(&self, keys: &[String]) -> Result<BTreeMap<String, Resolved>, EnrichError> {
        let client = self.0.current()?;
        let mut found = BTreeMap::new();
        for key in keys {
            let answer = client
                .get_item()
                .table_name(TABLE)
                .key(PARTITION_KEY, AttributeValue::S(key.clone()))
                .send()
                .await
                .map_err(unavailable)?;
            if let Some((key, resolved)) = answer.item().and_then(read_item) {
                found.insert(key, resolved);
            }
        }
        Ok(found)
    }
}

/// Batched: one BatchGetItem per 100 keys, unprocessed keys retried.
/// Benchmark only; the product's is `lamlog::enrich::dynamodb`.
#[derive(Debug, Clone)]
pub struct BatchGetSource(pub ClientSlot);

impl MetaSource for BatchGetSource {
    async fn fetch(&self, keys: &[String]) -> Result<BTreeMap<String, Resolved>, EnrichError> {
        let client = self.0.current()?;
        let mut found = BTreeMap::new();
        for chunk in keys.chunks(KEYS_PER_BATCH_GET) {
            let mut pending: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|key| {
                    HashMap::from([(PARTITION_KEY.to_owned(), AttributeValue::S(key.clone()))])
                })
                .collect();
            for _attempt in 0..8 {
                if pending.is_empty() {
                    break;
                }
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .build()
                    .map_err(unavailable)?;
                let answer = client
                    .batch_get_item()
                    .request_items(TABLE, request)
                    .send()
                    .await
                    .map_err(unavailable)?;
                for item in answer
                    .responses()
                    .and_then(|tables| tables.get(TABLE))
                    .into_iter()
                    .flatten()
                {
                    if let Some((key, resolved)) = read_item(item) {
                        found.insert(key, resolved);
                    }
                }
                if let Some(unprocessed) = answer
                    .unprocessed_keys()
                    .and_then(|tables| tables.get(TABLE))
                {
                    pending = unprocessed.keys().to_vec();
                }
            }
        }
        Ok(found)
    }
}
