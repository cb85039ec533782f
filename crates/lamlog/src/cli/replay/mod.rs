//! `lamlog replay`: the Kinesis batches the Lambda function gave up on, read
//! back from the stream and run through the same pipeline into the store.
//!
//! For each message of the on-failure queue ([`queue`]): read the batch it
//! names (`lamlog::replay::failure`), read that sequence range from the shard
//! a page at a time (`lamlog::replay::range`), wrap each page as the Lambda
//! Kinesis event and run it through [`Pipeline::run`] in bounded batches,
//! and delete the message only once every batch is committed. The order of
//! those last two steps is the whole guarantee: a failure anywhere leaves
//! the message in the queue, and replaying it again is harmless because the
//! store is exactly-once.
//!
//! The store is opened when the first batch needs it, so a dry run or an
//! empty queue touches no database.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use lamlog::aws::{sdk_config, AwsOptions};
use lamlog::batch::{BatchInput, Pipeline, Settings};
use lamlog::enrich::file::FileSource;
use lamlog::enrich::{Enricher, MetaCache};
use lamlog::notify::TableOnly;
use lamlog::replay::event::{batches, kinesis_event};
use lamlog::replay::failure::{FailedBatch, FailureRecordError, StreamArn};
use lamlog::replay::range::{RangeError, RangeReader};
use lamlog_core::decode::Format;

use super::store::{CliStore, StoreArgs, StoreTarget};
use super::{load_metadata, now_ms};

mod queue;
mod summary;

use queue::{FailureQueue, QueueMessage};
use summary::{Problem, ReplaySummary};

/// Records per `GetRecords` call, and at most per pipeline batch.
const PAGE_RECORDS: usize = 500;

/// Record data per pipeline batch: Lambda's 6 MB invocation payload, so a
/// replayed batch is never larger than one the function handles.
const MAX_BATCH_DATA_BYTES: usize = 6 * 1024 * 1024;

/// Replay the Kinesis batches the Lambda function gave up on, from its
/// on-failure queue, through the same pipeline into the store.
///
/// What the queue holds: when the event source mapping stops retrying a
/// batch (its record age limit; see deploy/README.md), Lambda sends its
/// on-failure destination, the SQS queue FailedBatches, a message naming the
/// batch: stream, shard, first and last sequence number, batch size. Not the
/// records: they stay in the stream until its retention ends (48 hours in
/// deploy/template.yaml), and this command reads them back from there.
///
/// When to run it: when the FailedBatches alarm fires, once its cause is
/// fixed (the database is back, a bad deploy is rolled back), and before the
/// stream's retention passes. Records that expired are reported as lost.
///
/// Replaying twice is harmless: the store is exactly-once (invocations are
/// keyed by account, function and request id, dead letters by stream and
/// sequence number), so a range already stored changes nothing. A message is
/// deleted only after all of its records are committed. A message that is
/// not an on-failure record, or whose records cannot be read, is reported
/// and left in the queue; a store failure stops the run and leaves the
/// message too.
///
/// Exit status: 0 when every message was replayed; 1 when a message was left
/// in the queue or records had expired; 2 when the store failed, or on any
/// other error.
///
/// Examples:
///   lamlog replay --queue-url "$FAILED_BATCHES_QUEUE_URL" --database-url "$DATABASE_URL"
///   lamlog replay --queue-url "$FAILED_BATCHES_QUEUE_URL" --dry-run --json
///   lamlog replay --queue-url http://127.0.0.1:5000/123456789012/failed --db lamlog.db \
///       --endpoint-url http://127.0.0.1:5000 --region us-east-1
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ReplayArgs {
    /// The on-failure queue (the stack's FailedBatchesQueueUrl output).
    #[arg(long, value_name = "URL")]
    queue_url: String,
    /// Read the records from this stream (name or ARN) instead of the one
    /// each message names, e.g. a stream restored under another name.
    #[arg(long, value_name = "NAME|ARN")]
    stream: Option<String>,
    /// Stop after this many messages [default: until the queue is empty].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_messages: Option<u64>,
    /// How long one receive waits for messages (long polling, 0 to 20); the
    /// run ends at the first receive that brings no new message.
    #[arg(long, value_name = "S", default_value_t = 5, value_parser = clap::value_parser!(u8).range(0..=20))]
    wait_seconds: u8,
    /// Read the messages and the records and count them; store nothing and
    /// delete nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    store: StoreArgs,
    /// Function metadata, TOML or JSON, keyed "account#function".
    #[arg(long)]
    metadata: Option<PathBuf>,
    /// Send the SQS and Kinesis requests here (moto, LocalStack) instead of AWS.
    #[arg(long, value_name = "URL", env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    /// The region of the queue and the stream [default: AWS_REGION, or the profile's].
    #[arg(long)]
    region: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(replay(args))
}

/// Why one message could not be replayed.
#[derive(Debug, thiserror::Error)]
enum MessageError {
    /// Not an on-failure record: left in the queue, the run goes on.
    #[error(transparent)]
    Malformed(#[from] FailureRecordError),
    /// The stream is in another region than the clients.
    #[error("the stream is in {stream_region} but requests go to {client_region}: pass --region {stream_region}")]
    Region {
        stream_region: String,
        client_region: String,
    },
    /// The records could not be read: left in the queue, the run goes on.
    #[error(transparent)]
    Range(#[from] RangeError),
    /// The store (or enrichment) failed: left in the queue, the run stops.
    #[error("the pipeline failed, nothing more of this message is stored: {0:#}")]
    Pipeline(anyhow::Error),
}

type CliPipeline = Pipeline<FileSource, CliStore, TableOnly>;

/// The state of one run: clients, the pipeline once opened, the totals.
struct Replayer {
    kinesis: aws_sdk_kinesis::Client,
    client_region: String,
    stream_override: Option<String>,
    dry_run: bool,
    target: StoreTarget,
    metadata: FileSource,
    pipeline: Option<CliPipeline>,
    summary: ReplaySummary,
}

async fn replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let metadata = load_metadata(args.metadata.as_deref())?;
    let wait = Duration::from_secs(u64::from(args.wait_seconds));
    let aws = sdk_config(&AwsOptions {
        region: args.region.clone(),
        endpoint_url: args.endpoint_url.clone(),
        static_credentials: None,
        connect_timeout: Duration::from_secs(3),
        // A receive may wait `wait` for messages before it answers.
        attempt_timeout: wait + Duration::from_secs(10),
        operation_timeout: 3 * (wait + Duration::from_secs(10)),
        max_attempts: 3,
    })
    .await;
    let Some(client_region) = aws.region().map(ToString::to_string) else {
        anyhow::bail!("no AWS region: pass --region or set AWS_REGION");
    };
    let queue = FailureQueue::new(
        aws_sdk_sqs::Client::new(&aws),
        &args.queue_url,
        args.wait_seconds,
    );
    let target = args.store.target();
    let mut replayer = Replayer {
        kinesis: aws_sdk_kinesis::Client::new(&aws),
        client_region,
        stream_override: args.stream.clone(),
        dry_run: args.dry_run,
        summary: ReplaySummary {
            dry_run: args.dry_run,
            queue_url: args.queue_url.clone(),
            db: if args.dry_run {
                String::new()
            } else {
                target.describe()
            },
            ..ReplaySummary::default()
        },
        target,
        metadata,
        pipeline: None,
    };
    let mut seen = HashSet::new();
    // Messages to make visible again at the end, by id (the latest receipt
    // handle wins: a message received again has a new one).
    let mut to_release: BTreeMap<String, QueueMessage> = BTreeMap::new();
    let mut failure = None;
    'receiving: loop {
        let remaining = args
            .max_messages
            .map_or(10, |max| max.saturating_sub(replayer.summary.messages_read));
        if remaining == 0 {
            break;
        }
        let received = match queue.receive(remaining.min(10)).await {
            Ok(received) => received,
            Err(error) => {
                failure = Some(error);
                break;
            }
        };
        let mut fresh = Vec::new();
        for message in received {
            if seen.insert(message.id.clone()) {
                fresh.push(message);
            } else if let Some(left) = to_release.get_mut(&message.id) {
                left.receipt_handle = message.receipt_handle;
            }
        }
        // Only messages already handled came back (or none at all): the
        // queue holds nothing new.
        if fresh.is_empty() {
            break;
        }
        for message in fresh {
            replayer.summary.messages_read += 1;
            match replayer.replay_message(&message).await {
                Ok(_) if replayer.dry_run => {
                    replayer.summary.messages_replayed += 1;
                    to_release.insert(message.id.clone(), message);
                }
                Ok(batch) => match queue.delete(&message).await {
                    Ok(()) => replayer.summary.messages_replayed += 1,
                    Err(error) => {
                        // Committed, so a later replay of it changes nothing.
                        replayer.summary.report(Problem {
                            message_id: message.id.clone(),
                            batch: Some(batch.describe()),
                            reason: format!("stored, but not deleted: {error:#}"),
                            left_in_queue: true,
                            records_lost: None,
                        });
                        to_release.insert(message.id.clone(), message);
                    }
                },
                Err((batch, error)) => {
                    let stops = matches!(error, MessageError::Pipeline(_));
                    replayer.summary.report(Problem {
                        message_id: message.id.clone(),
                        batch: batch.as_ref().map(FailedBatch::describe),
                        reason: error.to_string(),
                        left_in_queue: true,
                        records_lost: None,
                    });
                    to_release.insert(message.id.clone(), message.clone());
                    if stops {
                        failure = Some(anyhow::Error::new(error).context(format!(
                            "replaying message {}; it stays in the queue",
                            message.id
                        )));
                        break 'receiving;
                    }
                }
            }
        }
    }
    for message in to_release.values() {
        if let Err(error) = queue.release(message).await {
            // It becomes visible anyway when its visibility timeout ends.
            eprintln!("lamlog replay: warning: {error:#}");
        }
    }
    // The totals so far are printed even when the run stops on an error:
    // what was committed before it stays committed.
    replayer.summary.print(args.json)?;
    if let Some(error) = failure {
        return Err(error);
    }
    Ok(if replayer.summary.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

impl Replayer {
    /// Replays one message's records; on success, the batch it named (the
    /// message may then be deleted). Lost records are reported here.
    async fn replay_message(
        &mut self,
        message: &QueueMessage,
    ) -> Result<FailedBatch, (Option<FailedBatch>, MessageError)> {
        let batch = FailedBatch::parse(&message.body).map_err(|error| (None, error.into()))?;
        match self.read_and_store(&batch).await {
            Ok(lost) => {
                if let Some(lost) = lost {
                    self.summary.report(Problem {
                        message_id: message.id.clone(),
                        batch: Some(batch.describe()),
                        reason: lost.reason,
                        left_in_queue: false,
                        records_lost: lost.records,
                    });
                }
                Ok(batch)
            }
            Err(error) => Err((Some(batch), error)),
        }
    }

    /// Reads the batch's range page by page and stores each page before
    /// reading the next; answers what could not be read.
    async fn read_and_store(
        &mut self,
        batch: &FailedBatch,
    ) -> Result<Option<lamlog::replay::range::Lost>, MessageError> {
        let stream_name = match &self.stream_override {
            Some(stream) => {
                StreamArn::parse(stream).map_or_else(|_| stream.clone(), |arn| arn.name)
            }
            None if batch.stream.region != self.client_region => {
                return Err(MessageError::Region {
                    stream_region: batch.stream.region.clone(),
                    client_region: self.client_region.clone(),
                })
            }
            None => batch.stream.name.clone(),
        };
        let kinesis = self.kinesis.clone();
        let mut reader = RangeReader::new(&kinesis, &stream_name, batch, PAGE_RECORDS);
        while let Some(page) = reader.next_page().await? {
            self.summary.records += page.len() as u64;
            if self.dry_run {
                continue;
            }
            for records in batches(&page, PAGE_RECORDS, MAX_BATCH_DATA_BYTES) {
                let event = kinesis_event(&batch.stream.arn, &batch.shard_id, records);
                let input = BatchInput {
                    // The stream ARN, as the Lambda function names its
                    // source: a dead letter replayed keeps its dedup key.
                    source: &batch.stream.arn,
                    bytes: &event,
                    format: Format::Kinesis,
                    received_at_ms: now_ms(),
                };
                let pipeline = self.pipeline().await.map_err(MessageError::Pipeline)?;
                let stored = pipeline
                    .run(input)
                    .await
                    .map_err(|error| MessageError::Pipeline(error.into()))?;
                self.summary.add_batch(&stored);
            }
        }
        Ok(reader.outcome().lost)
    }

    /// The pipeline, opening the store on first use.
    async fn pipeline(&mut self) -> anyhow::Result<&mut CliPipeline> {
        let pipeline = match self.pipeline.take() {
            Some(pipeline) => pipeline,
            None => {
                let store = self.target.open(false).await?;
                Pipeline {
                    enricher: Enricher::new(
                        std::mem::take(&mut self.metadata),
                        MetaCache::default(),
                    ),
                    store,
                    notifier: TableOnly,
                    settings: Settings::default(),
                }
            }
        };
        Ok(self.pipeline.insert(pipeline))
    }
}
