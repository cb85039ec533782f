//! The handler: one Lambda event in, one response (and its metrics) out.
//!
//! ```text
//! event ─► Kinesis?  ─► records ─► slice 1: decode, fold in, drop, record by record ─► Pipeline::commit (one transaction) ─► ok
//!      │                       └─► slice 2 ─► …                                                                   ─► failed / no time left
//!      │                                                                  └─► {"batchItemFailures":[{"itemIdentifier": <first sequence number of that slice>}]}
//!      └─► awslogs? ─► the one payload ─► Pipeline::run_records ─► ok, or an error Lambda retries
//! ```
//!
//! A Kinesis batch is committed in **slices**, each its own transaction. A
//! slice takes records one at a time: each is decoded (base64, capped
//! gunzip, payload JSON), folded into the slice's invocations, and its
//! events dropped before the next is decoded, so at most one record is ever
//! inflated. A slice ends at `slice_records` records or once what it holds
//! (assembled invocations and dead letters) reaches `slice_held_bytes`,
//! whichever comes first; then it is committed and the next one starts.
//! Memory is so bounded by the event plus one slice, however much the
//! records inflate to; the outer event is read by borrowing each record's
//! JSON text. An invocation whose lines fall in two slices is merged by key
//! in the store, as across Kinesis batches. Slices also make failure
//! precise: when a slice cannot be committed — after
//! in-process retries of transient errors — or when the time left before the
//! Lambda deadline, minus a safety margin, is shorter than the slowest slice so
//! far, the handler stops and reports the first sequence number not committed.
//! Kinesis then checkpoints before it and re-delivers from there; the store's
//! merge-by-key makes re-delivered records no-ops (Guarantee 1).
//!
//! A record that cannot be decoded never fails the batch: it is a dead letter
//! in its slice's transaction.
//!
//! A direct `{"awslogs":…}` event has no partial-batch protocol, so a failure
//! there is an error whose `error_type` (`Retryable` / `NonRetryable`) says
//! whether an async retry may help.
//!
//! The handler is a plain async function over any [`Pipeline`], given its
//! deadline as a value, so that it is tested without the runtime and with a
//! paused clock.

use std::time::Duration;

use lamlog::batch::{BatchError, BatchSummary, Pipeline, Slice, SliceBound};
use lamlog::enrich::MetaSource;
use lamlog::notify::Notifier;
use lamlog::store::Store;
use lamlog_core::decode::{decode, decode_kinesis_record, DecodeLimits, Format};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::time::Instant;

use crate::metrics::InvocationMetrics;

/// How the handler slices and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandlerOptions {
    /// Kinesis records per slice (one transaction each).
    pub slice_records: usize,
    /// What a slice may hold of assembled invocations and dead letters,
    /// bytes, before it is committed early (its last record may take it
    /// past by that record's share).
    pub slice_held_bytes: usize,
    /// Time kept free before the deadline: no slice starts unless this much
    /// plus the slowest slice so far is left.
    pub deadline_margin: Duration,
    /// In-process retries of a slice that failed transiently.
    pub slice_retries: u32,
    /// Wait before the first retry; doubles at each next one.
    pub retry_delay: Duration,
}

impl Default for HandlerOptions {
    fn default() -> Self {
        HandlerOptions {
            slice_records: 500,
            slice_held_bytes: SliceBound::DEFAULT_HELD_BYTES,
            deadline_margin: Duration::from_millis(2000),
            slice_retries: 2,
            retry_delay: Duration::from_millis(200),
        }
    }
}

/// One Kinesis record that Lambda should re-deliver from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemFailure {
    /// The sequence number of the first record not committed.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// The answer to a Kinesis event (`ReportBatchItemFailures`). Empty: all committed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse {
    /// At most one entry: where Kinesis resumes.
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

/// What the handler returns to the runtime, and what it measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The response body (a [`BatchResponse`] for Kinesis, `null` for awslogs).
    pub response: serde_json::Value,
    /// The figures for the EMF line.
    pub metrics: InvocationMetrics,
}

/// Why the handler answers with an error rather than a response.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event is neither a Kinesis event nor a CloudWatch Logs event.
    #[error("unrecognised event: expected a Kinesis event (Records) or a CloudWatch Logs event (awslogs): {0}")]
    UnrecognisedEvent(String),
    /// An awslogs event could not be committed.
    #[error("awslogs event not committed: {0}")]
    Batch(#[source] BatchError),
    /// Too little time was left to start on an awslogs event.
    #[error("awslogs event not started: {remaining_ms} ms left before the deadline")]
    NoTimeLeft {
        /// Time that was left.
        remaining_ms: u128,
    },
}

impl HandlerError {
    /// `Retryable` when trying the same event again may succeed, otherwise
    /// `NonRetryable`: the `error_type` Lambda records.
    pub fn error_type(&self) -> &'static str {
        let transient = match self {
            HandlerError::UnrecognisedEvent(_) => false,
            HandlerError::Batch(error) => error.is_transient(),
            HandlerError::NoTimeLeft { .. } => true,
        };
        if transient {
            "Retryable"
        } else {
            "NonRetryable"
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// The outer shape of the two events: only borrowed JSON text.
#[derive(Deserialize)]
struct EventShape<'a> {
    #[serde(rename = "Records", borrow, default)]
    records: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    awslogs: Option<&'a RawValue>,
}

/// Just what the handler needs of one Kinesis record before decoding it.
#[derive(Deserialize)]
struct RecordHead<'a> {
    #[serde(borrow, default)]
    kinesis: Option<KinesisHead<'a>>,
    #[serde(rename = "eventSourceARN", borrow, default)]
    event_source_arn: Option<&'a str>,
}

#[derive(Deserialize)]
struct KinesisHead<'a> {
    #[serde(rename = "sequenceNumber", borrow, default)]
    sequence_number: Option<&'a str>,
}

/// Handles one event. `deadline` is when Lambda stops the invocation;
/// `received_at_ms` stamps dead letters.
pub async fn handle<M: MetaSource, S: Store, N: Notifier>(
    pipeline: &mut Pipeline<M, S, N>,
    options: &HandlerOptions,
    event: &[u8],
    deadline: Instant,
    received_at_ms: i64,
) -> Result<Outcome, HandlerError> {
    let shape: EventShape<'_> = serde_json::from_slice(event)
        .map_err(|error| HandlerError::UnrecognisedEvent(error.to_string()))?;
    // Every wait inside a slice (metadata retries, database locks and
    // statements, alert delivery) ends by the deadline less the margin, as a
    // transient failure the handler reports, never as a Lambda timeout.
    pipeline.set_deadline(Some(
        deadline
            .checked_sub(options.deadline_margin)
            .unwrap_or_else(Instant::now),
    ));
    match (shape.records, shape.awslogs) {
        (Some(records), _) => {
            let (response, metrics) =
                handle_kinesis(pipeline, options, &records, deadline, received_at_ms).await;
            let response = serde_json::to_value(response)
                .map_err(|error| HandlerError::UnrecognisedEvent(error.to_string()))?;
            Ok(Outcome { response, metrics })
        }
        (None, Some(_)) => {
            let metrics =
                handle_awslogs(pipeline, options, event, deadline, received_at_ms).await?;
            Ok(Outcome {
                response: serde_json::Value::Null,
                metrics,
            })
        }
        (None, None) => Err(HandlerError::UnrecognisedEvent(
            "neither Records nor awslogs".to_owned(),
        )),
    }
}

async fn handle_kinesis<M: MetaSource, S: Store, N: Notifier>(
    pipeline: &mut Pipeline<M, S, N>,
    options: &HandlerOptions,
    records: &[&RawValue],
    deadline: Instant,
    received_at_ms: i64,
) -> (BatchResponse, InvocationMetrics) {
    let mut metrics = InvocationMetrics::default();
    let source = records
        .first()
        .and_then(|record| serde_json::from_str::<RecordHead<'_>>(record.get()).ok())
        .and_then(|head| head.event_source_arn.map(str::to_owned))
        .unwrap_or_else(|| "kinesis".to_owned());
    let bound = SliceBound {
        records: options.slice_records.max(1),
        held_bytes: options.slice_held_bytes.max(1),
    };
    let mut slowest_slice = Duration::ZERO;
    let mut slice_start = 0;
    while slice_start < records.len() {
        if time_left(deadline) < options.deadline_margin + slowest_slice {
            metrics.stopped_at_deadline = 1;
            tracing::warn!(
                committed_records = slice_start,
                total_records = records.len(),
                time_left_ms = time_left(deadline).as_millis() as u64,
                needed_ms = (options.deadline_margin + slowest_slice).as_millis() as u64,
                "stopping before the deadline; the rest is reported for retry"
            );
            return (failure_from(records, slice_start, &mut metrics), metrics);
        }
        let started = Instant::now();
        let slice = SliceRecords {
            records,
            start: slice_start,
            bound,
        };
        let committed = run_slice(
            pipeline,
            options,
            &source,
            &slice,
            deadline,
            slowest_slice,
            received_at_ms,
            &mut metrics,
        )
        .await;
        match committed {
            Ok(slice_end) => slice_start = slice_end,
            Err(error) => {
                metrics.failed_slices += 1;
                tracing::error!(
                    %error,
                    transient = error.is_transient(),
                    first_record = slice_start,
                    "slice not committed; it and the rest are reported for retry"
                );
                return (failure_from(records, slice_start, &mut metrics), metrics);
            }
        }
        slowest_slice = slowest_slice.max(started.elapsed());
    }
    (BatchResponse::default(), metrics)
}

/// The records a slice starts at, and where it must end at the latest.
struct SliceRecords<'a, 'event> {
    records: &'a [&'event RawValue],
    start: usize,
    bound: SliceBound,
}

impl SliceRecords<'_, '_> {
    /// Decodes records from `start` on, one at a time, folding each into a
    /// new slice and dropping its events, until the slice is full or `end`
    /// is reached. Answers the slice and the index after its last record.
    /// The first record always goes in, so a record that holds more than
    /// the bound on its own is still committed, as a slice of its own.
    fn fill(
        &self,
        end: usize,
        source: &str,
        limits: &DecodeLimits,
        received_at_ms: i64,
    ) -> (Slice, usize) {
        let mut slice = Slice::new(source, received_at_ms);
        let mut index = self.start;
        while index < end && (index == self.start || !slice.is_full(self.bound)) {
            slice.add(decode_kinesis_record(index, self.records[index], limits));
            index += 1;
        }
        (slice, index)
    }
}

/// Runs one slice, retrying transient failures while time allows; answers
/// the index of the first record after it.
#[allow(clippy::too_many_arguments)]
async fn run_slice<M: MetaSource, S: Store, N: Notifier>(
    pipeline: &mut Pipeline<M, S, N>,
    options: &HandlerOptions,
    source: &str,
    slice_records: &SliceRecords<'_, '_>,
    deadline: Instant,
    slowest_slice: Duration,
    received_at_ms: i64,
    metrics: &mut InvocationMetrics,
) -> Result<usize, BatchError> {
    let mut attempt: u32 = 0;
    // The first filling finds where the slice ends; a retry refills up to
    // there and no further, so it commits the same records.
    let mut end = slice_records.records.len();
    loop {
        // Decoding again on a retry costs CPU only; keeping a copy of the
        // decoded slice for a rare retry would cost memory every time.
        let (slice, filled_end) =
            slice_records.fill(end, source, &pipeline.settings.limits, received_at_ms);
        end = filled_end;
        match pipeline.commit(slice).await {
            Ok(summary) => {
                metrics.add_slice(&summary);
                log_delivery(&summary);
                return Ok(end);
            }
            Err(error) => {
                let delay = options.retry_delay.saturating_mul(1 << attempt.min(16));
                let affordable =
                    time_left(deadline) > options.deadline_margin + slowest_slice + delay;
                if !error.is_transient() || attempt >= options.slice_retries || !affordable {
                    return Err(error);
                }
                attempt += 1;
                metrics.slice_retries += 1;
                tracing::warn!(%error, attempt, "retrying slice after a transient failure");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// The response that makes Kinesis resume at record `from`: the first
/// readable sequence number from there on. When none is readable, an empty
/// identifier, which Lambda reads as "the whole batch failed": retrying too
/// much is safe, skipping is not.
fn failure_from(
    records: &[&RawValue],
    from: usize,
    metrics: &mut InvocationMetrics,
) -> BatchResponse {
    metrics.records_not_committed = (records.len() - from) as u64;
    let item_identifier = records[from..]
        .iter()
        .find_map(|record| {
            let head: RecordHead<'_> = serde_json::from_str(record.get()).ok()?;
            head.kinesis?.sequence_number.map(str::to_owned)
        })
        .unwrap_or_default();
    BatchResponse {
        batch_item_failures: vec![ItemFailure { item_identifier }],
    }
}

async fn handle_awslogs<M: MetaSource, S: Store, N: Notifier>(
    pipeline: &mut Pipeline<M, S, N>,
    options: &HandlerOptions,
    event: &[u8],
    deadline: Instant,
    received_at_ms: i64,
) -> Result<InvocationMetrics, HandlerError> {
    let mut metrics = InvocationMetrics::default();
    let mut attempt: u32 = 0;
    loop {
        let remaining = time_left(deadline);
        if remaining < options.deadline_margin {
            return Err(HandlerError::NoTimeLeft {
                remaining_ms: remaining.as_millis(),
            });
        }
        let decoded = decode(event, Format::Awslogs, &pipeline.settings.limits).records;
        let error = match pipeline
            .run_records("awslogs", decoded, received_at_ms)
            .await
        {
            Ok(summary) => {
                metrics.add_slice(&summary);
                log_delivery(&summary);
                return Ok(metrics);
            }
            Err(error) => error,
        };
        let delay = options.retry_delay.saturating_mul(1 << attempt.min(16));
        let affordable = time_left(deadline) > options.deadline_margin + delay;
        if !error.is_transient() || attempt >= options.slice_retries || !affordable {
            return Err(HandlerError::Batch(error));
        }
        attempt += 1;
        tokio::time::sleep(delay).await;
    }
}

/// A committed slice whose alerts were not all delivered is not a failure
/// (they wait in the outbox), but it is worth an error line.
fn log_delivery(summary: &BatchSummary) {
    if let Some(error) = &summary.delivery.error {
        tracing::error!(
            %error,
            failed = summary.delivery.failed,
            unsent = summary.delivery.unsent,
            "alerts not all delivered; they stay in the outbox for a later batch"
        );
    }
}

fn time_left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

#[cfg(test)]
mod tests;
