//! What a slice holds stays bounded however much its records inflate to: a
//! slice is committed early when its assembled state reaches the bound, the
//! response still names the first record not committed, and records that
//! inflate to CloudWatch's ~1 MB are never dead-lettered for their size.

use std::io::Write;

use lamlog::batch::Slice;
use lamlog_core::decode::{decode_kinesis_record, DecodeLimits};

use super::*;

/// Records in the event of the bound tests.
const RECORDS: usize = 20;
/// Invocations in each of its records.
const INVOCATIONS_PER_RECORD: usize = 200;

/// Record `record`'s payload: `INVOCATIONS_PER_RECORD` invocations of its
/// own, each a START and a REPORT, request ids all of one length.
fn many_invocations(record: usize) -> String {
    let mut messages = Vec::new();
    for invocation in 0..INVOCATIONS_PER_RECORD {
        let request_id = format!("req-{record:04}-{invocation:04}");
        messages.push(start_line(&request_id));
        messages.push(report_line(&request_id));
    }
    payload_of(&messages)
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn many_invocations_event() -> Vec<u8> {
    let data: Vec<String> = (0..RECORDS)
        .map(|record| base64(&gzip(many_invocations(record).as_bytes())))
        .collect();
    kinesis_event_of(&data)
}

/// What one record of the event holds once folded into a slice on its own.
fn one_record_held_bytes() -> usize {
    let event = many_invocations_event();
    let shape: EventShape<'_> = serde_json::from_slice(&event).unwrap();
    let first = shape.records.unwrap()[0];
    let mut slice = Slice::new("test", 0);
    slice.add(decode_kinesis_record(0, first, &DecodeLimits::default()));
    slice.held_bytes()
}

/// Options whose held-bytes bound is reached by the fourth record of a
/// slice: the records are alike, so every slice but the last holds four.
fn four_records_a_slice() -> HandlerOptions {
    HandlerOptions {
        slice_held_bytes: one_record_held_bytes() * 7 / 2,
        ..options(500)
    }
}

/// The many-invocations event through the handler into `store`, in slices
/// of four records; the outcome and what the store saw.
async fn in_slices_of_four(store: FakeStore) -> (Outcome, Arc<Mutex<Written>>) {
    let written = Arc::clone(&store.written);
    let mut pipeline = pipeline(store, false);
    let outcome = handle(
        &mut pipeline,
        &four_records_a_slice(),
        &many_invocations_event(),
        far_deadline(),
        0,
    )
    .await
    .unwrap();
    (outcome, written)
}

#[tokio::test(start_paused = true)]
async fn a_slice_is_committed_early_when_what_it_holds_reaches_the_bound() {
    let options = four_records_a_slice();
    let (outcome, written) = in_slices_of_four(FakeStore::default()).await;
    assert!(failures(&outcome).is_empty(), "{:?}", outcome.response);
    let metrics = outcome.metrics;
    assert_eq!(
        metrics.slices,
        RECORDS.div_ceil(4) as u64,
        "20 records, far under the 500-record bound, in slices of 4"
    );
    assert_eq!(written.lock().unwrap().batches, RECORDS.div_ceil(4));
    assert_eq!(
        written.lock().unwrap().invocations,
        RECORDS * INVOCATIONS_PER_RECORD
    );
    assert_eq!(metrics.dead_letters, 0);
    assert!(
        metrics.slice_held_bytes_max as usize <= options.slice_held_bytes + one_record_held_bytes(),
        "a slice holds at most the bound and one record: {} > {} + {}",
        metrics.slice_held_bytes_max,
        options.slice_held_bytes,
        one_record_held_bytes()
    );
}

#[tokio::test(start_paused = true)]
async fn a_failure_after_an_early_commit_names_the_first_record_not_committed() {
    let store = FakeStore::failing_at(2, || StoreError::Statement("check violated".to_owned()));
    let (outcome, written) = in_slices_of_four(store).await;
    assert_eq!(failures(&outcome), [sequence_number(4)]);
    assert_eq!(written.lock().unwrap().batches, 1);
    assert_eq!(outcome.metrics.records_not_committed, (RECORDS - 4) as u64);
}

#[tokio::test(start_paused = true)]
async fn a_retried_early_slice_commits_the_same_records() {
    let store = FakeStore::failing_at(2, || StoreError::Connection("reset".to_owned()));
    let (outcome, written) = in_slices_of_four(store).await;
    assert!(failures(&outcome).is_empty());
    assert_eq!(outcome.metrics.slice_retries, 1);
    assert_eq!(outcome.metrics.records, RECORDS as u64, "each record once");
    assert_eq!(written.lock().unwrap().batches, RECORDS.div_ceil(4));
    assert_eq!(
        written.lock().unwrap().invocations,
        RECORDS * INVOCATIONS_PER_RECORD
    );
}

/// A payload of `lines` application lines of `line_bytes` bytes each.
fn app_lines(lines: usize, line_bytes: usize) -> String {
    let line = format!("{}\n", "x".repeat(line_bytes - 1));
    payload_of(&vec![line; lines])
}

#[tokio::test(start_paused = true)]
async fn records_inflating_to_a_megabyte_are_stored_and_only_a_bomb_is_a_dead_letter() {
    // CloudWatch sends payloads of up to about 1 MB; the cap on one record
    // is far above that (here 4 MB, 16 MB by default).
    let megabyte_record = base64(&gzip(app_lines(1000, 1000).as_bytes()));
    let bomb = base64(&gzip(&vec![b' '; 5 << 20]));
    let data = [
        megabyte_record.clone(),
        megabyte_record.clone(),
        bomb,
        megabyte_record,
    ];
    let store = FakeStore::default();
    let written = Arc::clone(&store.written);
    let mut pipeline = pipeline(store, false);
    pipeline.settings.limits.max_inflated_bytes = 4 << 20;
    let options = HandlerOptions {
        slice_held_bytes: 1 << 20,
        ..options(500)
    };
    let outcome = handle(
        &mut pipeline,
        &options,
        &kinesis_event_of(&data),
        far_deadline(),
        0,
    )
    .await
    .unwrap();
    assert!(failures(&outcome).is_empty());
    assert_eq!(outcome.metrics.lines, 3 * 1000);
    assert_eq!(written.lock().unwrap().dead_letter_indexes, [2]);
}

/// The split test's event: record `k` holds the STARTs of its own requests
/// and the REPORTs of record `k - 1`'s, so every request has its lines in
/// two records, on both sides of any slice boundary between them.
fn requests_across_records() -> Vec<u8> {
    let request_id = |record: usize, invocation: usize| format!("req-{record:04}-{invocation:04}");
    let data: Vec<String> = (0..=RECORDS)
        .map(|record| {
            let mut messages = Vec::new();
            for invocation in 0..INVOCATIONS_PER_RECORD {
                if record < RECORDS {
                    messages.push(start_line(&request_id(record, invocation)));
                }
                if record > 0 {
                    messages.push(report_line(&request_id(record - 1, invocation)));
                }
            }
            base64(payload_of(&messages).as_bytes())
        })
        .collect();
    kinesis_event_of(&data)
}

/// The event through the handler into a new PostgreSQL schema; the schema's
/// dump and the number of slices committed.
async fn stored_in_slices(slice_held_bytes: usize) -> (String, u64) {
    let store = schema::TestStore::fresh().await;
    let mut pipeline = Pipeline {
        enricher: Enricher::new(FakeSource { down: false }, MetaCache::default()),
        store,
        notifier: TableOnly,
        settings: Settings::default(),
    };
    let options = HandlerOptions {
        slice_held_bytes,
        ..options(500)
    };
    let event = requests_across_records();
    let outcome = handle(&mut pipeline, &options, &event, far_deadline(), 7)
        .await
        .unwrap();
    assert!(failures(&outcome).is_empty(), "{:?}", outcome.response);
    (pipeline.store.dump().await.unwrap(), outcome.metrics.slices)
}

#[tokio::test]
async fn requests_split_by_early_commits_are_stored_as_by_one_commit() {
    let (whole, whole_slices) = stored_in_slices(64 << 20).await;
    // A bound of one byte ends every slice after its first record.
    let (split, split_slices) = stored_in_slices(1).await;
    assert_eq!(whole_slices, 1);
    assert_eq!(split_slices, RECORDS as u64 + 1);
    assert!(
        whole.contains("req-0000-0000"),
        "the dump lists invocations"
    );
    assert_eq!(split, whole);
}

#[path = "../../../../lamlog/tests/postgres/schema.rs"]
mod schema;
