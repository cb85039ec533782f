//! The function's own metrics, as one CloudWatch Embedded Metric Format line
//! per invocation.
//!
//! EMF is a JSON log line that CloudWatch Logs turns into metrics without a
//! `PutMetricData` call (which would cost a network round trip and an IAM
//! permission per invocation). The line carries the values as top-level
//! fields and, under `_aws.CloudWatchMetrics`, which of them are metrics,
//! their units, the namespace (`lamlog`) and the dimension (`FunctionName`):
//!
//! ```json
//! {"_aws":{"Timestamp":1793491200000,"CloudWatchMetrics":[{"Namespace":"lamlog",
//!   "Dimensions":[["FunctionName"]],"Metrics":[{"Name":"Records","Unit":"Count"},…]}]},
//!  "FunctionName":"lamlog","Records":10000,…}
//! ```
//!
//! It goes to stdout on its own line, apart from the `tracing` JSON logs.

use lamlog::batch::BatchSummary;
use serde_json::{json, Map, Value};

/// What one invocation did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct InvocationMetrics {
    /// Kinesis records (or awslogs payloads) committed.
    pub records: u64,
    /// Log lines in them.
    pub lines: u64,
    /// Distinct invocations assembled.
    pub invocations: u64,
    /// Invocation rows inserted or changed.
    pub invocations_stored: u64,
    /// Invocation rows already stored as they are: re-deliveries.
    pub duplicates_skipped: u64,
    /// Dead letters inserted.
    pub dead_letters: u64,
    /// Enrichment cache hits.
    pub cache_hits: u64,
    /// Enrichment cache misses.
    pub cache_misses: u64,
    /// BatchGetItem calls.
    pub dynamodb_calls: u64,
    /// Time in the store's transactions.
    pub store_ms: f64,
    /// Time from the event's arrival in the handler to its response.
    pub handler_ms: f64,
    /// New alerts.
    pub alerts: u64,
    /// Slices committed.
    pub slices: u64,
    /// The most a committed slice held of assembled invocations and dead
    /// letters, bytes: what bounds the handler's memory beside the event.
    pub slice_held_bytes_max: u64,
    /// Slices that failed after their retries (0 or 1).
    pub failed_slices: u64,
    /// In-process retries of slices.
    pub slice_retries: u64,
    /// Records reported back to Kinesis for re-delivery.
    pub records_not_committed: u64,
    /// 1 when the handler stopped early because the deadline was near.
    pub stopped_at_deadline: u64,
    /// Lines that are no record, by why: figures Lambda cannot produce…
    pub other_figure_out_of_range: u64,
    /// …identifiers past the length bound…
    pub other_id_too_long: u64,
    /// …platform lines whose fields do not read.
    pub other_unparsable_platform_line: u64,
    /// Invocations that changed a window already judged (later than the
    /// grace period): the window was judged again.
    pub late_invocations: u64,
    /// Alerts delivered and marked sent (new and resent).
    pub alerts_sent: u64,
    /// Of those handed to the notifier, alerts of earlier batches (the
    /// outbox's backlog).
    pub alerts_resent: u64,
    /// Alerts the notifier did not deliver: they wait in the outbox.
    pub alerts_failed: u64,
    /// Alerts stored and not sent after the last slice, when something was
    /// left (the outbox's depth; 0 when all was sent).
    pub alerts_unsent: u64,
}

impl InvocationMetrics {
    /// Adds one committed slice.
    pub fn add_slice(&mut self, summary: &BatchSummary) {
        self.slices += 1;
        self.slice_held_bytes_max = self.slice_held_bytes_max.max(summary.held_bytes);
        self.records += summary.records;
        self.lines += summary.lines.lines;
        self.invocations += summary.invocations;
        self.invocations_stored += summary.outcome.inserted + summary.outcome.updated;
        self.duplicates_skipped += summary.outcome.unchanged;
        self.dead_letters += summary.outcome.dead_letters;
        self.cache_hits += summary.cache.hits;
        self.cache_misses += summary.cache.misses;
        self.store_ms += summary.store_ms;
        self.alerts += summary.outcome.new_alerts.len() as u64;
        let other = &summary.lines.other_by_reason;
        self.other_figure_out_of_range += other.figure_out_of_range;
        self.other_id_too_long += other.id_too_long;
        self.other_unparsable_platform_line += other.unparsable_platform_line;
        self.late_invocations += summary.outcome.late_invocations;
        self.alerts_sent += summary.delivery.sent;
        self.alerts_resent += summary.delivery.resent;
        self.alerts_failed += summary.delivery.failed;
        self.alerts_unsent = summary.delivery.unsent;
    }

    /// The EMF document for this invocation of `function_name` at `timestamp_ms`.
    pub fn emf(&self, function_name: &str, timestamp_ms: i64) -> Value {
        let counts: [(&str, u64); 23] = [
            ("Records", self.records),
            ("Lines", self.lines),
            ("Invocations", self.invocations),
            ("InvocationsStored", self.invocations_stored),
            ("DuplicatesSkipped", self.duplicates_skipped),
            ("DeadLetters", self.dead_letters),
            ("CacheHits", self.cache_hits),
            ("CacheMisses", self.cache_misses),
            ("DynamoDbCalls", self.dynamodb_calls),
            ("Alerts", self.alerts),
            ("Slices", self.slices),
            ("FailedSlices", self.failed_slices),
            ("SliceRetries", self.slice_retries),
            ("RecordsNotCommitted", self.records_not_committed),
            ("StoppedAtDeadline", self.stopped_at_deadline),
            ("OtherFigureOutOfRange", self.other_figure_out_of_range),
            ("OtherIdTooLong", self.other_id_too_long),
            (
                "OtherUnparsablePlatformLine",
                self.other_unparsable_platform_line,
            ),
            ("LateInvocations", self.late_invocations),
            ("AlertsSent", self.alerts_sent),
            ("AlertsResent", self.alerts_resent),
            ("AlertsFailed", self.alerts_failed),
            ("AlertsUnsent", self.alerts_unsent),
        ];
        let mut definitions: Vec<Value> = counts
            .iter()
            .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
            .collect();
        definitions.push(json!({"Name": "SliceHeldBytesMax", "Unit": "Bytes"}));
        definitions.push(json!({"Name": "StoreMilliseconds", "Unit": "Milliseconds"}));
        definitions.push(json!({"Name": "HandlerMilliseconds", "Unit": "Milliseconds"}));
        let mut document = Map::new();
        document.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": "lamlog",
                    "Dimensions": [["FunctionName"]],
                    "Metrics": definitions,
                }],
            }),
        );
        document.insert("FunctionName".to_owned(), json!(function_name));
        for (name, value) in counts {
            document.insert(name.to_owned(), json!(value));
        }
        document.insert(
            "SliceHeldBytesMax".to_owned(),
            json!(self.slice_held_bytes_max),
        );
        document.insert("StoreMilliseconds".to_owned(), json!(self.store_ms));
        document.insert("HandlerMilliseconds".to_owned(), json!(self.handler_ms));
        Value::Object(document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_metric_has_a_value_and_the_dimension_is_present() {
        let metrics = InvocationMetrics {
            records: 3,
            dynamodb_calls: 2,
            store_ms: 1.5,
            handler_ms: 2.5,
            ..InvocationMetrics::default()
        };
        let document = metrics.emf("lamlog-fn", 1_793_491_200_000);
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "lamlog");
        assert_eq!(directive["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(document["FunctionName"], "lamlog-fn");
        assert_eq!(document["_aws"]["Timestamp"], 1_793_491_200_000_i64);
        let declared = directive["Metrics"].as_array().unwrap();
        assert_eq!(declared.len(), 26);
        for definition in declared {
            let name = definition["Name"].as_str().unwrap();
            assert!(document[name].is_number(), "{name}");
        }
        assert_eq!(document["Records"], 3);
        assert_eq!(document["DynamoDbCalls"], 2);
        assert_eq!(document["StoreMilliseconds"], 1.5);
        assert_eq!(document["HandlerMilliseconds"], 2.5);
    }
}
