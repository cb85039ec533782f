//! Reading one sequence range of one shard back from Kinesis.
//!
//! `GetShardIterator(AT_SEQUENCE_NUMBER = start)`, then `GetRecords` pages
//! until the range is passed. A page at a time is handed to the caller
//! ([`RangeReader::next_page`]), so memory holds one page (at most
//! `page_records` records, and Kinesis caps a page at 10 MB) however long
//! the range is.
//!
//! When the reading stops:
//! - a record at or past the range end (sequence numbers compare as big
//!   integers, [`SequenceNumber`]); without an end, `batch_size` records;
//! - no next iterator (the shard was closed by resharding and is read out);
//! - an empty page with `MillisBehindLatest` 0 (the newest record is read);
//! - and, whatever Kinesis answers, after [`MAX_PAGES`] pages or
//!   [`MAX_EMPTY_PAGES_IN_A_ROW`] empty pages in a row: an error, never a
//!   loop without end.
//!
//! Records past the stream's retention are gone, and the on-failure record
//! still names them. The first record read says so: when it is after the
//! range start, everything between was trimmed. (Kinesis may instead refuse
//! an iterator at a trimmed sequence number; the reader then starts at
//! `TRIM_HORIZON` and applies the same test, and a start that is *not* older
//! than the oldest record is reported as the refusal it is.) What is lost is
//! described in [`RangeOutcome::lost`]; it is never silently skipped.

use std::time::Duration;

use aws_sdk_kinesis::error::DisplayErrorContext;
use aws_sdk_kinesis::types::ShardIteratorType;

use super::failure::{FailedBatch, SequenceNumber};

/// At most this many `GetRecords` calls per range. A full Lambda batch
/// (10,000 records) takes 20 pages of 500.
pub const MAX_PAGES: u32 = 1000;

/// At most this many empty pages in a row before giving up.
pub const MAX_EMPTY_PAGES_IN_A_ROW: u32 = 50;

/// Kinesis allows 5 `GetRecords` calls per second per shard; after an empty
/// page there is no hurry, so the reader waits this long.
const EMPTY_PAGE_PAUSE: Duration = Duration::from_millis(200);

/// One record read from the shard.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardRecord {
    /// Its sequence number.
    pub sequence_number: SequenceNumber,
    /// Its partition key.
    pub partition_key: String,
    /// The record data, as put (a gzip'd CloudWatch Logs payload).
    pub data: Vec<u8>,
    /// When it reached the stream (epoch ms).
    pub approximate_arrival_ms: Option<i64>,
}

/// What of the range could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost {
    /// What happened, in words, with sequence numbers.
    pub reason: String,
    /// How many records: the batch size minus the records read (when the
    /// on-failure record gave a batch size).
    pub records: Option<u64>,
}

/// What a finished read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeOutcome {
    /// Records of the range that were read.
    pub records: u64,
    /// What could not be read, if anything.
    pub lost: Option<Lost>,
}

/// Why a range could not be read (nothing is known to be lost: retrying may
/// succeed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// A Kinesis call failed (throttling, permissions, unknown stream or shard, …).
    #[error("kinesis {operation} on {shard_id} failed: {detail}")]
    Kinesis {
        /// `GetShardIterator` or `GetRecords`.
        operation: &'static str,
        /// The shard.
        shard_id: String,
        /// The SDK's description of the error.
        detail: String,
    },
    /// Kinesis refused the start sequence number although it is not older
    /// than the shard's oldest record: it does not belong to this shard.
    #[error("kinesis refused start sequence number {start} of {shard_id} (the oldest record is {oldest}, so it has not expired): {detail}")]
    StartRefused {
        /// The range start.
        start: SequenceNumber,
        /// The shard.
        shard_id: String,
        /// The oldest readable record of the shard.
        oldest: SequenceNumber,
        /// Kinesis's refusal.
        detail: String,
    },
    /// Kinesis answered a sequence number that is not a number.
    #[error("kinesis returned a record of {shard_id} with a bad sequence number: {detail}")]
    BadSequenceNumber {
        /// The shard.
        shard_id: String,
        /// What was wrong.
        detail: String,
    },
    /// The page bounds were reached before the range end.
    #[error("gave up reading {range} after {pages} pages ({empty_in_a_row} empty in a row)")]
    TooManyPages {
        /// The range.
        range: String,
        /// Pages read.
        pages: u32,
        /// Empty pages at the end.
        empty_in_a_row: u32,
    },
}

/// Reads the records of one [`FailedBatch`], a page at a time.
#[derive(Debug)]
pub struct RangeReader<'a> {
    client: &'a aws_sdk_kinesis::Client,
    stream_name: String,
    batch: &'a FailedBatch,
    page_records: i32,
    /// The next iterator; `None` before the first page.
    iterator: Option<String>,
    /// Kinesis's refusal of the start, when the reader fell back to TRIM_HORIZON.
    start_refused: Option<String>,
    first_read: Option<SequenceNumber>,
    last_in_range: Option<SequenceNumber>,
    records: u64,
    pages: u32,
    empty_in_a_row: u32,
    end_reached: bool,
    done: bool,
}

impl<'a> RangeReader<'a> {
    /// A reader of `batch` from the stream `stream_name` (normally the one
    /// its ARN names), `page_records` records per `GetRecords` call.
    pub fn new(
        client: &'a aws_sdk_kinesis::Client,
        stream_name: &str,
        batch: &'a FailedBatch,
        page_records: usize,
    ) -> RangeReader<'a> {
        RangeReader {
            client,
            stream_name: stream_name.to_owned(),
            batch,
            page_records: i32::try_from(page_records.clamp(1, 10_000)).unwrap_or(10_000),
            iterator: None,
            start_refused: None,
            first_read: None,
            last_in_range: None,
            records: 0,
            pages: 0,
            empty_in_a_row: 0,
            end_reached: false,
            done: false,
        }
    }

    /// The next page of records of the range, in order (possibly empty while
    /// Kinesis skips ahead); `None` once the reading is over.
    pub async fn next_page(&mut self) -> Result<Option<Vec<ShardRecord>>, RangeError> {
        if self.done {
            return Ok(None);
        }
        if self.pages >= MAX_PAGES || self.empty_in_a_row >= MAX_EMPTY_PAGES_IN_A_ROW {
            return Err(RangeError::TooManyPages {
                range: self.batch.describe(),
                pages: self.pages,
                empty_in_a_row: self.empty_in_a_row,
            });
        }
        let iterator = match self.iterator.take() {
            Some(iterator) => iterator,
            None => self.open().await?,
        };
        let output = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(self.page_records)
            .send()
            .await
            .map_err(|error| self.kinesis_error("GetRecords", &DisplayErrorContext(&error)))?;
        self.pages += 1;
        let at_tip = output.records.is_empty() && output.millis_behind_latest == Some(0);
        self.empty_in_a_row = if output.records.is_empty() {
            self.empty_in_a_row + 1
        } else {
            0
        };
        let mut page = Vec::with_capacity(output.records.len());
        for record in output.records {
            let sequence_number =
                SequenceNumber::parse(&record.sequence_number).map_err(|error| {
                    RangeError::BadSequenceNumber {
                        shard_id: self.batch.shard_id.clone(),
                        detail: error.to_string(),
                    }
                })?;
            if self.first_read.is_none() {
                self.check_first(&sequence_number)?;
                self.first_read = Some(sequence_number.clone());
            }
            if sequence_number < self.batch.start {
                continue;
            }
            if self
                .batch
                .end
                .as_ref()
                .is_some_and(|end| sequence_number > *end)
            {
                self.end_reached = true;
                break;
            }
            let is_last = self.batch.end.as_ref() == Some(&sequence_number)
                || (self.batch.end.is_none() && Some(self.records + 1) == self.batch.batch_size);
            self.last_in_range = Some(sequence_number.clone());
            self.records += 1;
            page.push(ShardRecord {
                sequence_number,
                partition_key: record.partition_key.unwrap_or_default(),
                data: record.data.into_inner(),
                approximate_arrival_ms: record
                    .approximate_arrival_timestamp
                    .and_then(|arrival| arrival.to_millis().ok()),
            });
            if is_last {
                self.end_reached = true;
                break;
            }
        }
        match output.next_shard_iterator {
            _ if self.end_reached || at_tip => self.done = true,
            None => self.done = true,
            Some(next) => {
                if page.is_empty() {
                    tokio::time::sleep(EMPTY_PAGE_PAUSE).await;
                }
                self.iterator = Some(next);
            }
        }
        Ok(Some(page))
    }

    /// What the read found; call it once `next_page` answered `None`.
    pub fn outcome(&self) -> RangeOutcome {
        let batch = self.batch;
        let shard = &batch.shard_id;
        let mut reasons = Vec::new();
        match &self.first_read {
            None => reasons.push(format!(
                "no record at or after {} is readable in {shard} any more: the whole range has expired from the stream",
                batch.start
            )),
            Some(first) if batch.end.as_ref().is_some_and(|end| first > end) => reasons.push(format!(
                "the oldest readable record of {shard} is {first}, after the range: every record of it has expired from the stream"
            )),
            Some(first) if *first > batch.start => reasons.push(format!(
                "records from {} up to {first} (excluded) have expired from the stream",
                batch.start
            )),
            Some(_) => {}
        }
        if !self.end_reached && self.first_read.is_some() {
            let end = batch
                .end
                .as_ref()
                .map(ToString::to_string)
                .or_else(|| batch.batch_size.map(|size| format!("({size} records)")))
                .unwrap_or_default();
            let last = self
                .last_in_range
                .as_ref()
                .map_or_else(|| "nothing".to_owned(), ToString::to_string);
            reasons.push(format!(
                "{shard} holds nothing after {last}, short of the range end {end}"
            ));
        }
        let lost = (!reasons.is_empty()).then(|| Lost {
            reason: reasons.join("; "),
            records: batch
                .batch_size
                .map(|batch_size| batch_size.saturating_sub(self.records)),
        });
        RangeOutcome {
            records: self.records,
            lost,
        }
    }

    /// The first iterator: at the range start, or — when Kinesis refuses that
    /// sequence number, as it may for a trimmed one — at the oldest record.
    async fn open(&mut self) -> Result<String, RangeError> {
        let at_start = self
            .client
            .get_shard_iterator()
            .stream_name(&self.stream_name)
            .shard_id(&self.batch.shard_id)
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .starting_sequence_number(self.batch.start.as_str())
            .send()
            .await;
        let output = match at_start {
            Ok(output) => output,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|service| service.is_invalid_argument_exception()) =>
            {
                self.start_refused = Some(DisplayErrorContext(&error).to_string());
                self.client
                    .get_shard_iterator()
                    .stream_name(&self.stream_name)
                    .shard_id(&self.batch.shard_id)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await
                    .map_err(|error| {
                        self.kinesis_error("GetShardIterator", &DisplayErrorContext(&error))
                    })?
            }
            Err(error) => {
                return Err(self.kinesis_error("GetShardIterator", &DisplayErrorContext(&error)))
            }
        };
        output.shard_iterator.ok_or_else(|| {
            self.kinesis_error("GetShardIterator", &"no shard iterator in the answer")
        })
    }

    /// After a refused start, the oldest record decides: older than it, the
    /// start expired (go on, the loss is reported); otherwise the refusal
    /// stands.
    fn check_first(&self, first: &SequenceNumber) -> Result<(), RangeError> {
        match &self.start_refused {
            Some(detail) if *first <= self.batch.start => Err(RangeError::StartRefused {
                start: self.batch.start.clone(),
                shard_id: self.batch.shard_id.clone(),
                oldest: first.clone(),
                detail: detail.clone(),
            }),
            _ => Ok(()),
        }
    }

    fn kinesis_error(&self, operation: &'static str, detail: &dyn std::fmt::Display) -> RangeError {
        RangeError::Kinesis {
            operation,
            shard_id: self.batch.shard_id.clone(),
            detail: detail.to_string(),
        }
    }
}
