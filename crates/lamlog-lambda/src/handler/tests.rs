//! The handler's slice, deadline and failure logic, with a fake store, a fake
//! metadata source and a paused clock.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use lamlog::batch::Settings;
use lamlog::enrich::{EnrichError, Enricher, MetaCache, Resolved};
use lamlog::notify::TableOnly;
use lamlog::store::{
    AlertOutbox, FunctionSummary, MinuteRow, StoreBatch, StoreError, WriteOutcome,
};
use lamlog_core::judge::Alert;

use super::*;

/// What the fake store saw.
#[derive(Debug, Default)]
struct Written {
    batches: usize,
    invocations: usize,
    dead_letter_indexes: Vec<usize>,
}

/// A store that keeps counts, takes `latency` per write, and fails the
/// writes whose number (from 1) is in `failures`.
#[derive(Default)]
struct FakeStore {
    written: Arc<Mutex<Written>>,
    latency: Duration,
    failures: BTreeMap<usize, fn() -> StoreError>,
    attempts: usize,
}

impl FakeStore {
    /// A store whose write number `attempt` (from 1) fails with `failure`.
    fn failing_at(attempt: usize, failure: fn() -> StoreError) -> FakeStore {
        FakeStore {
            failures: BTreeMap::from([(attempt, failure)]),
            ..FakeStore::default()
        }
    }
}

/// The fake store raises no alerts, so its outbox is always empty.
impl AlertOutbox for FakeStore {
    async fn claim_unsent_alerts(
        &mut self,
        _: i64,
        _: i64,
        _: usize,
    ) -> Result<Vec<Alert>, StoreError> {
        Ok(Vec::new())
    }

    async fn mark_alerts_sent(&mut self, _: &[&str], _: i64) -> Result<(), StoreError> {
        Ok(())
    }

    async fn unsent_alert_count(&mut self) -> Result<u64, StoreError> {
        Ok(0)
    }
}

impl Store for FakeStore {
    async fn record_environments(
        &mut self,
        _: &[lamlog_core::assemble::Environment],
        _: i64,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    async fn environment_types(
        &mut self,
        _: &[lamlog_core::assemble::EnvironmentKey],
    ) -> Result<Vec<lamlog_core::assemble::Environment>, StoreError> {
        Ok(Vec::new())
    }

    async fn write_batch(&mut self, batch: &StoreBatch<'_>) -> Result<WriteOutcome, StoreError> {
        self.attempts += 1;
        tokio::time::sleep(self.latency).await;
        if let Some(failure) = self.failures.get(&self.attempts) {
            return Err(failure());
        }
        let mut written = self.written.lock().unwrap();
        written.batches += 1;
        written.invocations += batch.invocations.len();
        written.dead_letter_indexes.extend(
            batch
                .dead_letters
                .iter()
                .map(|letter| letter.position.record_index),
        );
        Ok(WriteOutcome {
            inserted: batch.invocations.len() as u64,
            dead_letters: batch.dead_letters.len() as u64,
            ..WriteOutcome::default()
        })
    }

    async fn function_summaries(
        &mut self,
        _: Option<i64>,
    ) -> Result<Vec<FunctionSummary>, StoreError> {
        Ok(Vec::new())
    }

    async fn minute_rows(&mut self, _: Option<i64>) -> Result<Vec<MinuteRow>, StoreError> {
        Ok(Vec::new())
    }

    async fn dump(&mut self) -> Result<String, StoreError> {
        Ok(String::new())
    }

    async fn growing_streams(
        &mut self,
        _since_ms: Option<i64>,
    ) -> Result<Vec<lamlog::store::GrowingStream>, StoreError> {
        Ok(Vec::new())
    }

    async fn tune_samples(
        &mut self,
        _: Option<&str>,
        _: Option<i64>,
        _: usize,
    ) -> Result<Vec<lamlog_core::tune::Sample>, StoreError> {
        Ok(Vec::new())
    }
}

/// A metadata source that knows nothing, or is down.
struct FakeSource {
    down: bool,
}

impl MetaSource for FakeSource {
    async fn fetch(&self, _keys: &[String]) -> Result<BTreeMap<String, Resolved>, EnrichError> {
        if self.down {
            Err(EnrichError::Unavailable(
                "dynamodb: connection refused".to_owned(),
            ))
        } else {
            Ok(BTreeMap::new())
        }
    }
}

fn pipeline(store: FakeStore, source_down: bool) -> Pipeline<FakeSource, FakeStore, TableOnly> {
    Pipeline {
        enricher: Enricher::new(FakeSource { down: source_down }, MetaCache::default()),
        store,
        notifier: TableOnly,
        settings: Settings::default(),
    }
}

/// A subscription payload of `messages`, one log event each.
fn payload_of(messages: &[String]) -> String {
    let log_events: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(index, message)| {
            serde_json::json!({"id": format!("{index}"),
                               "timestamp": 1_793_491_200_000_i64 + index as i64,
                               "message": message})
        })
        .collect();
    serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/lambda/orders",
        "logStream": "2026/11/01/[$LATEST]abc",
        "subscriptionFilters": ["lamlog"],
        "logEvents": log_events,
    })
    .to_string()
}

fn start_line(request_id: &str) -> String {
    format!("START RequestId: {request_id} Version: $LATEST\n")
}

fn report_line(request_id: &str) -> String {
    format!("REPORT RequestId: {request_id}\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t\n")
}

/// One invocation's START and REPORT.
fn payload(index: usize) -> String {
    let request_id = format!("req-{index:05}");
    payload_of(&[start_line(&request_id), report_line(&request_id)])
}

fn sequence_number(index: usize) -> String {
    format!("4956816737{index:046}")
}

/// A Kinesis event of `count` records; the records in `bad` carry data that is not base64.
fn kinesis_event(count: usize, bad: &[usize]) -> Vec<u8> {
    let data: Vec<String> = (0..count)
        .map(|index| {
            if bad.contains(&index) {
                "!!not base64!!".to_owned()
            } else {
                base64::engine::general_purpose::STANDARD.encode(payload(index))
            }
        })
        .collect();
    kinesis_event_of(&data)
}

/// A Kinesis event whose records carry `data`, in order.
fn kinesis_event_of(data: &[String]) -> Vec<u8> {
    let records: Vec<serde_json::Value> = data
        .iter()
        .enumerate()
        .map(|(index, data)| {
            serde_json::json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "p",
                            "sequenceNumber": sequence_number(index), "data": data,
                            "approximateArrivalTimestamp": 1_793_491_200.5},
                "eventSource": "aws:kinesis",
                "eventID": format!("shardId-000000000000:{}", sequence_number(index)),
                "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/logs",
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap()
}

fn options(slice_records: usize) -> HandlerOptions {
    HandlerOptions {
        slice_records,
        slice_held_bytes: 64 << 20,
        deadline_margin: Duration::from_millis(500),
        slice_retries: 2,
        retry_delay: Duration::from_millis(100),
    }
}

fn far_deadline() -> Instant {
    Instant::now() + Duration::from_secs(900)
}

fn failures(outcome: &Outcome) -> Vec<String> {
    let response: BatchResponse = serde_json::from_value(outcome.response.clone()).unwrap();
    response
        .batch_item_failures
        .into_iter()
        .map(|failure| failure.item_identifier)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_batch_that_commits_reports_no_failures() {
    let store = FakeStore::default();
    let written = Arc::clone(&store.written);
    let mut pipeline = pipeline(store, false);
    let event = kinesis_event(25, &[]);
    let outcome = handle(&mut pipeline, &options(10), &event, far_deadline(), 0)
        .await
        .unwrap();
    assert_eq!(
        outcome.response,
        serde_json::json!({"batchItemFailures": []})
    );
    assert_eq!(written.lock().unwrap().batches, 3, "slices of 10, 10 and 5");
    assert_eq!(written.lock().unwrap().invocations, 25);
    let metrics = outcome.metrics;
    assert_eq!(
        (metrics.records, metrics.lines, metrics.slices),
        (25, 50, 3)
    );
    assert_eq!(metrics.invocations_stored, 25);
    assert_eq!(
        metrics.cache_misses, 1,
        "one function, asked once, then cached as absent"
    );
}

#[tokio::test(start_paused = true)]
async fn a_slice_whose_data_is_refused_is_bisected_and_blocks_nothing() {
    // The first write (the whole first slice) is refused for its data; its
    // halves go in, and so does every later slice.
    let store = FakeStore::failing_at(1, || StoreError::Rejected("bigint out of range".to_owned()));
    let written = Arc::clone(&store.written);
    let mut pipeline = pipeline(store, false);
    let event = kinesis_event(25, &[]);
    let outcome = handle(&mut pipeline, &options(10), &event, far_deadline(), 0)
        .await
        .unwrap();
    assert!(failures(&outcome).is_empty(), "{:?}", outcome.response);
    assert_eq!(written.lock().unwrap().invocations, 25);
    assert_eq!(outcome.metrics.failed_slices, 0);
}

#[tokio::test(start_paused = true)]
async fn the_first_failed_slice_is_reported_by_its_first_sequence_number() {
    let store = FakeStore::failing_at(2, || StoreError::Statement("check violated".to_owned()));
    let written = Arc::clone(&store.written);
    let mut pipeline = pipeline(store, false);
    let event = kinesis_event(25, &[]);
    let outcome = handle(&mut pipeline, &options(10), &event, far_deadline(), 0)
        .await
        .unwrap();
    assert_eq!(failures(&outcome), [sequence_number(10)]);
    assert_eq!(
        written.lock().unwrap().batches,
        1,
        "a non-transient error is not retried"
    );
    assert_eq!(outcome.metrics.failed_slices, 1);
    assert_eq!(outcome.metrics.records_not_committed, 15);
}

#[tokio::test(start_paused = true)]
async fn a_transient_failure_is_retried_in_process() {
    let store = FakeStore::failing_at(2, || StoreError::Connection("reset".to_owned()));
    let written = Arc::clone(&store.written);
    let mut pipeline = pipeline(store, false);
    let event = kinesis_event(25, &[]);
    let outcome = handle(&mut pipeline, &options(10), &event, far_deadline(), 0)
        .await
        .unwrap();
    assert!(failures(&outcome).is_empty());
    assert_eq!(written.lock().unwrap().batches, 3);
    assert_eq!(outcome.metrics.slice_retries, 1);
}

#[tokio::test(start_paused = true)]
async fn a_source_that_stays_down_fails_the_slice_after_its_retries() {
    let mut pipeline = pipeline(FakeStore::default(), true);
    let event = kinesis_event(5, &[]);
    let outcome = handle(&mut pipeline, &options(10), &event, far_deadline(), 0)
        .await
        .unwrap();
    assert_eq!(failures(&outcome), [sequence_number(0)]);
    assert_eq!(outcome.metrics.slice_retries, 2);
}

#[tokio::test(start_paused = true)]
async fn near_the_deadline_the_next_slice_is_reported_instead_of_started() {
    let store = FakeStore {
        latency: Duration::from_secs(1),
        ..FakeStore::default()
    };
    let written = Arc::clone(&store.written);
    let mut pipeline = pipeline(store, false);
    let event = kinesis_event(40, &[]);
    // Margin 0.5 s; each slice takes 1 s. Slices 1 and 2 fit in 2.7 s; before
    // slice 3 only 0.7 s are left, less than margin + slowest slice.
    let deadline = Instant::now() + Duration::from_millis(2700);
    let outcome = handle(&mut pipeline, &options(10), &event, deadline, 0)
        .await
        .unwrap();
    assert_eq!(failures(&outcome), [sequence_number(20)]);
    assert_eq!(written.lock().unwrap().batches, 2);
    assert_eq!(outcome.metrics.stopped_at_deadline, 1);
    assert_eq!(outcome.metrics.records_not_committed, 20);
    assert!(Instant::now() < deadline);
}

#[tokio::test(start_paused = true)]
async fn an_undecodable_record_is_a_dead_letter_not_a_failure() {
    let store = FakeStore::default();
    let written = Arc::clone(&store.written);
    let mut pipeline = pipeline(store, false);
    let event = kinesis_event(25, &[3, 17]);
    let outcome = handle(&mut pipeline, &options(10), &event, far_deadline(), 0)
        .await
        .unwrap();
    assert!(failures(&outcome).is_empty());
    let written = written.lock().unwrap();
    assert_eq!(
        written.dead_letter_indexes,
        [3, 17],
        "indexes in the whole batch"
    );
    assert_eq!(written.invocations, 23);
    assert_eq!(outcome.metrics.dead_letters, 2);
}

#[tokio::test(start_paused = true)]
async fn an_awslogs_event_fails_with_an_error_type_saying_whether_to_retry() {
    let data = base64::engine::general_purpose::STANDARD.encode(payload(1));
    let event = serde_json::to_vec(&serde_json::json!({"awslogs": {"data": data}})).unwrap();

    let mut healthy = pipeline(FakeStore::default(), false);
    let outcome = handle(&mut healthy, &options(10), &event, far_deadline(), 0)
        .await
        .unwrap();
    assert_eq!(outcome.response, serde_json::Value::Null);
    assert_eq!(outcome.metrics.invocations_stored, 1);

    let mut source_down = pipeline(FakeStore::default(), true);
    let error = handle(&mut source_down, &options(10), &event, far_deadline(), 0)
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "Retryable");

    let refusing = FakeStore::failing_at(1, || StoreError::Migration("schema too new".to_owned()));
    let mut refusing = pipeline(refusing, false);
    let error = handle(&mut refusing, &options(10), &event, far_deadline(), 0)
        .await
        .unwrap_err();
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "NonRetryable");
    assert!(diagnostic.error_message.contains("schema too new"));
}

#[tokio::test(start_paused = true)]
async fn anything_else_is_refused_as_non_retryable() {
    let mut pipeline = pipeline(FakeStore::default(), false);
    for event in [&b"{\"detail\":{}}"[..], b"not json"] {
        let error = handle(&mut pipeline, &options(10), event, far_deadline(), 0)
            .await
            .unwrap_err();
        assert_eq!(error.error_type(), "NonRetryable", "{error}");
    }
}

mod bounded;
