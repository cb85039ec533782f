//! The on-failure record of a Kinesis event source mapping.
//!
//! What Lambda sends to the on-failure destination when it gives up on a
//! batch is metadata only (AWS Lambda developer guide, "Retain discarded
//! batch records for a Kinesis Data Streams event source"):
//!
//! ```json
//! {"requestContext": {"requestId": "c9b8…", "functionArn": "arn:aws:lambda:…:function:lamlog",
//!                     "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 1},
//!  "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
//!  "version": "1.0", "timestamp": "2019-11-14T00:38:06.021Z",
//!  "KinesisBatchInfo": {"shardId": "shardId-000000000001",
//!                       "startSequenceNumber": "4960…4722", "endSequenceNumber": "4960…5186",
//!                       "approximateArrivalOfFirstRecord": "2019-11-14T00:38:04.835Z",
//!                       "approximateArrivalOfLastRecord": "2019-11-14T00:38:05.580Z",
//!                       "batchSize": 500, "streamArn": "arn:aws:kinesis:us-east-2:123456789012:stream/mystream"}}
//! ```
//!
//! Only `KinesisBatchInfo` matters for a replay; it is read leniently (AWS
//! adds fields; `endSequenceNumber` has been seen missing on one-record
//! batches, and `responseContext` is absent when the records expired before
//! any invocation) and then checked strictly, so that a message that is not
//! such a record is refused with a reason and never half-replayed.
//!
//! Sequence numbers are decimal strings of up to 129 digits — far beyond
//! `u128` — and string order is wrong for them (`"9" > "10"`), so they compare
//! as big integers: by digit count, then digit by digit.

use std::cmp::Ordering;
use std::fmt;

use serde::Deserialize;

/// A Kinesis sequence number: a non-negative decimal integer of any size,
/// ordered numerically.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceNumber(String);

impl SequenceNumber {
    /// The longest sequence number Kinesis documents (`0|([1-9]\d{0,128})`).
    const MAX_DIGITS: usize = 129;

    /// Parses decimal digits; leading zeros are dropped, so equal numbers are
    /// equal values. Anything else (signs, spaces, an empty string, more than
    /// 129 digits) is refused.
    pub fn parse(text: &str) -> Result<SequenceNumber, SequenceNumberError> {
        if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(SequenceNumberError(text.chars().take(80).collect()));
        }
        let digits = text.trim_start_matches('0');
        let digits = if digits.is_empty() { "0" } else { digits };
        if digits.len() > Self::MAX_DIGITS {
            return Err(SequenceNumberError(text.chars().take(80).collect()));
        }
        Ok(SequenceNumber(digits.to_owned()))
    }

    /// The decimal text, as the Kinesis API takes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Ord for SequenceNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        // Without leading zeros, more digits is a larger number; equal lengths
        // compare digit by digit, which byte order of ASCII digits does.
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.as_bytes().cmp(other.0.as_bytes()))
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// Text that is not a sequence number (shown cut to 80 characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a sequence number: {0:?}")]
pub struct SequenceNumberError(pub String);

/// The stream named by an ARN `arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamArn {
    /// The ARN as given.
    pub arn: String,
    /// For example `us-east-1`.
    pub region: String,
    /// The stream's account.
    pub account: String,
    /// The stream name, what `GetShardIterator` takes.
    pub name: String,
}

impl StreamArn {
    /// Splits a Kinesis stream ARN; anything else is refused.
    pub fn parse(arn: &str) -> Result<StreamArn, FailureRecordError> {
        let invalid = || FailureRecordError::StreamArn(arn.chars().take(200).collect());
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(_partition), Some("kinesis"), Some(region), Some(account)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid());
        };
        let name = parts
            .next()
            .and_then(|resource| resource.strip_prefix("stream/"))
            .filter(|name| !name.is_empty() && !name.contains('/'))
            .ok_or_else(invalid)?;
        if region.is_empty() || account.is_empty() {
            return Err(invalid());
        }
        Ok(StreamArn {
            arn: arn.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            name: name.to_owned(),
        })
    }
}

/// One batch the event source mapping gave up on: where its records are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedBatch {
    /// The stream.
    pub stream: StreamArn,
    /// For example `shardId-000000000001`.
    pub shard_id: String,
    /// The first record of the batch.
    pub start: SequenceNumber,
    /// The last record of the batch; `None` when the record omits it, and
    /// then `batch_size` bounds the range instead.
    pub end: Option<SequenceNumber>,
    /// How many records the batch held.
    pub batch_size: Option<u64>,
    /// Why Lambda gave up (`RetryAttemptsExhausted`, `RecordAgeExceeded`, …).
    pub condition: Option<String>,
    /// When the first record reached the stream (ISO 8601), as reported.
    pub first_arrival: Option<String>,
}

impl FailedBatch {
    /// Reads an on-failure record (the SQS message body).
    pub fn parse(body: &str) -> Result<FailedBatch, FailureRecordError> {
        let record: RawFailureRecord = serde_json::from_str(body)
            .map_err(|error| FailureRecordError::NotJson(error.to_string()))?;
        let Some(info) = record.kinesis_batch_info else {
            return Err(FailureRecordError::NotKinesis);
        };
        let sequence = |field: &'static str, text: &str| {
            SequenceNumber::parse(text).map_err(|error| FailureRecordError::Field {
                field,
                detail: error.to_string(),
            })
        };
        let start = sequence("startSequenceNumber", &info.start_sequence_number)?;
        let end = info
            .end_sequence_number
            .as_deref()
            .map(|text| sequence("endSequenceNumber", text))
            .transpose()?;
        if let Some(end) = &end {
            if *end < start {
                return Err(FailureRecordError::Field {
                    field: "endSequenceNumber",
                    detail: format!("{end} is before startSequenceNumber {start}"),
                });
            }
        }
        if end.is_none() && info.batch_size.unwrap_or(0) == 0 {
            return Err(FailureRecordError::Field {
                field: "endSequenceNumber",
                detail: "missing, and no batchSize bounds the range either".to_owned(),
            });
        }
        if info.shard_id.is_empty() {
            return Err(FailureRecordError::Field {
                field: "shardId",
                detail: "empty".to_owned(),
            });
        }
        Ok(FailedBatch {
            stream: StreamArn::parse(&info.stream_arn)?,
            shard_id: info.shard_id,
            start,
            end,
            batch_size: info.batch_size,
            condition: record.request_context.and_then(|context| context.condition),
            first_arrival: info.approximate_arrival_of_first_record,
        })
    }

    /// `shardId-…:START..END`, for messages.
    pub fn describe(&self) -> String {
        let end = self
            .end
            .as_ref()
            .map_or_else(|| "?".to_owned(), SequenceNumber::to_string);
        format!(
            "{} {}:{}..{}",
            self.stream.name, self.shard_id, self.start, end
        )
    }
}

/// Why a message is not a Kinesis on-failure record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FailureRecordError {
    /// The body is not JSON, or its `KinesisBatchInfo` lacks a field or has
    /// one of the wrong type.
    #[error("not a kinesis on-failure record: {0}")]
    NotJson(String),
    /// JSON, but with no `KinesisBatchInfo` (another source's record, or
    /// something sent to the queue by hand).
    #[error("not a kinesis on-failure record: no `KinesisBatchInfo`")]
    NotKinesis,
    /// A field is there but unusable.
    #[error("bad `KinesisBatchInfo.{field}`: {detail}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// `streamArn` is not a Kinesis stream ARN.
    #[error("bad `KinesisBatchInfo.streamArn`: not a kinesis stream arn: {0:?}")]
    StreamArn(String),
}

#[derive(Deserialize)]
struct RawFailureRecord {
    #[serde(rename = "KinesisBatchInfo", default)]
    kinesis_batch_info: Option<RawBatchInfo>,
    #[serde(rename = "requestContext", default)]
    request_context: Option<RawRequestContext>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBatchInfo {
    shard_id: String,
    start_sequence_number: String,
    #[serde(default)]
    end_sequence_number: Option<String>,
    #[serde(default)]
    batch_size: Option<u64>,
    stream_arn: String,
    #[serde(default)]
    approximate_arrival_of_first_record: Option<String>,
}

#[derive(Deserialize)]
struct RawRequestContext {
    #[serde(default)]
    condition: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example invocation record of the AWS Lambda developer guide.
    const DOCUMENTED: &str = r#"{
        "requestContext": {"requestId": "c9b8fa9f-5a7f-xmpl-af9c-0c604cde93a5",
            "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
            "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 1},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0", "timestamp": "2019-11-14T00:38:06.021Z",
        "KinesisBatchInfo": {"shardId": "shardId-000000000001",
            "startSequenceNumber": "49601189658422359378836298521827638475320189012309704722",
            "endSequenceNumber": "49601189658422359378836298522902373528957594348623495186",
            "approximateArrivalOfFirstRecord": "2019-11-14T00:38:04.835Z",
            "approximateArrivalOfLastRecord": "2019-11-14T00:38:05.580Z",
            "batchSize": 500, "streamArn": "arn:aws:kinesis:us-east-2:123456789012:stream/mystream"}}"#;

    fn seq(text: &str) -> SequenceNumber {
        SequenceNumber::parse(text).unwrap()
    }

    #[test]
    fn the_documented_record_is_read() {
        let batch = FailedBatch::parse(DOCUMENTED).unwrap();
        assert_eq!(batch.stream.name, "mystream");
        assert_eq!(batch.stream.region, "us-east-2");
        assert_eq!(batch.stream.account, "123456789012");
        assert_eq!(batch.shard_id, "shardId-000000000001");
        assert_eq!(
            batch.start.as_str(),
            "49601189658422359378836298521827638475320189012309704722"
        );
        assert!(batch.end.as_ref().is_some_and(|end| *end > batch.start));
        assert_eq!(batch.batch_size, Some(500));
        assert_eq!(batch.condition.as_deref(), Some("RetryAttemptsExhausted"));
    }

    #[test]
    fn sequence_numbers_compare_as_integers_not_strings() {
        assert!(seq("9") < seq("10"));
        assert!(seq("0009") == seq("9"));
        assert!(seq("0") < seq("1"));
        // Past u128 (39 digits) the order still holds.
        let low = "49601189658422359378836298521827638475320189012309704722";
        let high = "49601189658422359378836298522902373528957594348623495186";
        assert!(seq(low) < seq(high));
        assert!(seq(&format!("9{low}")) > seq(high));
        assert!(seq(&"9".repeat(56)) < seq(&format!("1{}", "0".repeat(56))));
    }

    #[test]
    fn what_is_not_a_sequence_number_is_refused() {
        for text in ["", "-1", "12a", " 12", "1.5", &"1".repeat(130)] {
            assert!(SequenceNumber::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn a_record_without_an_end_needs_a_batch_size() {
        let one = DOCUMENTED.replace(
            r#""endSequenceNumber": "49601189658422359378836298522902373528957594348623495186","#,
            "",
        );
        let batch = FailedBatch::parse(&one).unwrap();
        assert_eq!((batch.end, batch.batch_size), (None, Some(500)));
        let neither = one.replace(r#""batchSize": 500, "#, "");
        assert!(matches!(
            FailedBatch::parse(&neither),
            Err(FailureRecordError::Field {
                field: "endSequenceNumber",
                ..
            })
        ));
    }

    #[test]
    fn other_messages_are_refused_with_a_reason() {
        assert!(matches!(
            FailedBatch::parse("hello"),
            Err(FailureRecordError::NotJson(_))
        ));
        assert_eq!(
            FailedBatch::parse(r#"{"DDBStreamBatchInfo": {}}"#),
            Err(FailureRecordError::NotKinesis)
        );
        let reversed = DOCUMENTED.replace(
            "2902373528957594348623495186",
            "0000000000000000000000000000",
        );
        assert!(FailedBatch::parse(&reversed)
            .unwrap_err()
            .to_string()
            .contains("before startSequenceNumber"));
        let not_a_stream = DOCUMENTED.replace(
            "arn:aws:kinesis:us-east-2:123456789012:stream/mystream",
            "arn:aws:sqs:us-east-2:123456789012:queue",
        );
        assert!(matches!(
            FailedBatch::parse(&not_a_stream),
            Err(FailureRecordError::StreamArn(_))
        ));
        let mistyped = DOCUMENTED.replace(r#""batchSize": 500"#, r#""batchSize": "many""#);
        assert!(matches!(
            FailedBatch::parse(&mistyped),
            Err(FailureRecordError::NotJson(_))
        ));
    }

    #[test]
    fn stream_arns_of_every_partition_are_split() {
        let arn =
            StreamArn::parse("arn:aws-cn:kinesis:cn-north-1:123456789012:stream/logs").unwrap();
        assert_eq!(
            (arn.region.as_str(), arn.name.as_str()),
            ("cn-north-1", "logs")
        );
        for bad in [
            "arn:aws:kinesis:us-east-1:123456789012:stream/",
            "arn:aws:kinesis:us-east-1:123456789012:stream/a/consumer/b",
            "arn:aws:kinesis::123456789012:stream/logs",
            "logs",
        ] {
            assert!(StreamArn::parse(bad).is_err(), "{bad}");
        }
    }
}
