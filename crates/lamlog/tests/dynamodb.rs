//! The DynamoDB metadata source against a real (moto) DynamoDB API.

use crate::support::moto;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PutRequest, ScalarAttributeType,
    WriteRequest,
};
use lamlog::enrich::dynamodb::item::meta_item;
use lamlog::enrich::dynamodb::{BatchGet, BatchGetPage, CallError, DynamoDbSource, SdkBatchGet};
use lamlog::enrich::{EnrichError, Enricher, MetaCache, MetaSource};
use lamlog_core::meta::{Architecture, FunctionMeta};
use moto::Moto;

const TABLE: &str = "lamlog-functions";

fn key(index: usize) -> String {
    format!("123456789012#fn-{index:03}")
}

fn meta(index: usize) -> FunctionMeta {
    FunctionMeta {
        architecture: if index % 2 == 0 {
            Architecture::Arm64
        } else {
            Architecture::X86_64
        },
        region: Some("eu-west-1".to_owned()),
        timeout_seconds: Some(index as f64),
        tenant: Some(format!("tenant-{}", index % 3)),
        ..FunctionMeta::default()
    }
}

/// Creates the table and stores functions 0..stored.
async fn seeded_table(moto: &Moto, stored: usize) -> aws_sdk_dynamodb::Client {
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    client
        .create_table()
        .table_name(TABLE)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let requests: Vec<WriteRequest> = (0..stored)
        .map(|index| {
            let item = meta_item("pk", &key(index), None, &meta(index)).unwrap();
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                .build()
        })
        .collect();
    for chunk in requests.chunks(25) {
        client
            .batch_write_item()
            .request_items(TABLE, chunk.to_vec())
            .send()
            .await
            .unwrap();
    }
    client
}

fn source(client: aws_sdk_dynamodb::Client, deadline: Duration) -> DynamoDbSource {
    DynamoDbSource::new(SdkBatchGet::new(client, TABLE, "pk"), "pk", deadline)
}

#[tokio::test]
async fn two_hundred_fifty_keys_take_three_calls_and_come_back_whole() {
    let moto = Moto::start();
    let client = seeded_table(&moto, 200).await;
    let source = source(client, Duration::from_secs(5));
    let keys: Vec<String> = (0..250).map(key).collect();
    let resolved = source.fetch(&keys).await.unwrap();
    assert_eq!(source.calls(), 3);
    assert_eq!(resolved.len(), 200, "keys 200..250 have no item");
    assert_eq!(resolved[&key(7)].meta, meta(7));
    assert_eq!(resolved[&key(7)].function, "fn-007");
    assert!(!resolved.contains_key(&key(200)));
}

#[tokio::test]
async fn the_same_batch_twice_calls_dynamodb_only_the_first_time() {
    let moto = Moto::start();
    let client = seeded_table(&moto, 120).await;
    let enricher = Enricher::new(source(client, Duration::from_secs(5)), MetaCache::default());
    let keys: BTreeSet<String> = (0..150).map(key).collect();
    let first = enricher.lookup(&keys).await.unwrap();
    assert_eq!(enricher.source().calls(), 2);
    let second = enricher.lookup(&keys).await.unwrap();
    assert_eq!(second, first);
    assert_eq!(enricher.source().calls(), 2, "hits and remembered misses");
    assert_eq!(enricher.stats().hits, 150);
}

/// Passes half of each first request to DynamoDB and returns the other half
/// as unprocessed, as a throttled table would.
struct HalfUnprocessedOnce {
    inner: SdkBatchGet,
    throttled: AtomicBool,
}

impl BatchGet for HalfUnprocessedOnce {
    async fn batch_get(&self, keys: &[String]) -> Result<BatchGetPage, CallError> {
        if self.throttled.swap(false, Ordering::SeqCst) {
            let half = keys.len() / 2;
            let mut page = self.inner.batch_get(&keys[..half]).await?;
            page.unprocessed.extend_from_slice(&keys[half..]);
            return Ok(page);
        }
        self.inner.batch_get(keys).await
    }
}

#[tokio::test]
async fn unprocessed_keys_are_fetched_again() {
    let moto = Moto::start();
    let client = seeded_table(&moto, 60).await;
    let transport = HalfUnprocessedOnce {
        inner: SdkBatchGet::new(client, TABLE, "pk"),
        throttled: AtomicBool::new(true),
    };
    let source = DynamoDbSource::new(transport, "pk", Duration::from_secs(5));
    let keys: Vec<String> = (0..60).map(key).collect();
    let resolved = source.fetch(&keys).await.unwrap();
    assert_eq!(resolved.len(), 60);
    assert_eq!(source.calls(), 2);
}

#[tokio::test]
async fn a_server_that_goes_away_is_unavailable_after_the_deadline() {
    let mut moto = Moto::start();
    let client = seeded_table(&moto, 10).await;
    let deadline = Duration::from_millis(1500);
    let source = source(client, deadline);
    let before: Vec<String> = (0..5).map(key).collect();
    assert_eq!(source.fetch(&before).await.unwrap().len(), 5);

    moto.stop();
    let started = std::time::Instant::now();
    let after: Vec<String> = (5..10).map(key).collect();
    let error = source.fetch(&after).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(error, EnrichError::Unavailable(_)), "{error}");
    assert!(error.is_transient());
    assert!(
        elapsed <= deadline + Duration::from_millis(300),
        "{elapsed:?}"
    );
    assert!(
        source.calls() > 2,
        "retried until the deadline: {}",
        source.calls()
    );
}

#[tokio::test]
async fn a_missing_table_is_rejected_not_retried() {
    let moto = Moto::start();
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    // moto loads its DynamoDB on the first request to it, which on a busy
    // machine can fail or time out, and the source rightly retries that.
    // The other tests' first request creates their table; this one has none,
    // so it asks until moto answers, and the call counted below then meets
    // a server that is ready.
    let mut answered = client.list_tables().send().await;
    for _ in 0..100 {
        if answered.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        answered = client.list_tables().send().await;
    }
    answered.expect("moto answers ListTables");
    let source = DynamoDbSource::new(
        SdkBatchGet::new(client, "no-such-table", "pk"),
        "pk",
        Duration::from_secs(5),
    );
    let error = source.fetch(&[key(1)]).await.unwrap_err();
    assert!(matches!(error, EnrichError::Rejected(_)), "{error}");
    assert_eq!(source.calls(), 1);
}
