//! Replaying what the Kinesis event source mapping gave up on.
//!
//! When the event source mapping stops retrying a batch (its record age or
//! retry limit, see `deploy/template.yaml`), it sends its on-failure
//! destination — an SQS queue — a small JSON document that names the batch:
//! shard, first and last sequence number, batch size and stream ARN. The
//! records themselves stay in the stream until its retention ends. Replaying
//! them is three steps, one file each:
//!
//! - [`failure`]: read and check that document ([`failure::FailedBatch`]);
//!   sequence numbers compare as the big integers they are.
//! - [`range`]: read exactly that sequence range back from the shard, a page
//!   at a time, and say what could no longer be read (expired records).
//! - [`event`]: wrap the records as the Lambda Kinesis event the pipeline
//!   decodes, so that replayed records are decoded, keyed and dead-lettered
//!   exactly as the Lambda function would have done it.
//!
//! The queue itself and the store belong to the `lamlog replay` command; the
//! store is exactly-once, so replaying a range twice changes nothing.

pub mod event;
pub mod failure;
pub mod range;
