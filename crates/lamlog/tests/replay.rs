//! `lamlog replay` against a moto Kinesis stream and SQS queue: the records
//! of exactly the range an on-failure message names are stored, once; the
//! message is deleted only after they are committed; what is not an
//! on-failure record stays in the queue; expired records are reported.
//!
//! Needs `moto_server`; fails, never skips, when it is missing.

use crate::support::moto;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aws_sdk_sqs::types::QueueAttributeName;
use lamlog::store::sqlite::SqliteStore;
use moto::Moto;

const STREAM: &str = "lamlog-logs";

/// A stream with records in it, and an empty on-failure queue.
struct Fixture {
    moto: Moto,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    stream_arn: String,
    shard_id: String,
    /// In put order: (sequence number, the request id its payload holds,
    /// or `None` for a record that is not a payload).
    records: Vec<(String, Option<String>)>,
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// What a CloudWatch Logs subscription filter puts into the stream for one
/// invocation of `orders`: a gzip'd DATA_MESSAGE with its START, END and
/// REPORT lines.
fn subscription_record(request_id: &str, index: usize) -> Vec<u8> {
    let time_ms = 1_793_491_200_000_i64 + index as i64 * 1000;
    let duration_ms = 10 + index * 7;
    let messages = [
        format!("START RequestId: {request_id} Version: $LATEST\n"),
        format!("END RequestId: {request_id}\n"),
        format!("REPORT RequestId: {request_id}\tDuration: {duration_ms}.00 ms\tBilled Duration: {duration_ms} ms\tMemory Size: 256 MB\tMax Memory Used: 80 MB\t\n"),
    ];
    let events: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(offset, message)| {
            serde_json::json!({
                "id": format!("{:056}", index * 10 + offset),
                "timestamp": time_ms + offset as i64,
                "message": message,
            })
        })
        .collect();
    let payload = serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/lambda/orders",
        "logStream": "2026/11/01/[$LATEST]0123456789abcdef", "subscriptionFilters": ["lamlog"],
        "logEvents": events,
    });
    gzip(payload.to_string().as_bytes())
}

/// Puts `count` records, one invocation each, except at `not_a_payload`.
async fn fixture(count: usize, not_a_payload: Option<usize>) -> Fixture {
    let moto = Moto::start();
    let shared = moto.sdk_config().await;
    let kinesis = aws_sdk_kinesis::Client::new(&shared);
    let sqs = aws_sdk_sqs::Client::new(&shared);
    kinesis
        .create_stream()
        .stream_name(STREAM)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let stream_arn = kinesis
        .describe_stream_summary()
        .stream_name(STREAM)
        .send()
        .await
        .unwrap()
        .stream_description_summary
        .unwrap()
        .stream_arn;
    let queue_url = sqs
        .create_queue()
        .queue_name("lamlog-failed-batches")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let mut records = Vec::new();
    let mut shard_id = String::new();
    for index in 0..count {
        let (data, request_id) = if Some(index) == not_a_payload {
            (b"{this is not a subscription payload".to_vec(), None)
        } else {
            let request_id = format!("req-{index:02}");
            (subscription_record(&request_id, index), Some(request_id))
        };
        let put = kinesis
            .put_record()
            .stream_name(STREAM)
            .partition_key("2026/11/01/[$LATEST]0123456789abcdef")
            .data(aws_sdk_kinesis::primitives::Blob::new(data))
            .send()
            .await
            .unwrap();
        shard_id = put.shard_id;
        records.push((put.sequence_number, request_id));
    }
    Fixture {
        moto,
        sqs,
        queue_url,
        stream_arn,
        shard_id,
        records,
    }
}

impl Fixture {
    /// The on-failure record Lambda sends for the batch `start..=end`, in
    /// the documented shape.
    fn failure_record(&self, start: &str, end: &str, batch_size: usize) -> String {
        serde_json::json!({
            "requestContext": {"requestId": "c9b8fa9f-5a7f-xmpl-af9c-0c604cde93a5",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:lamlog",
                "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0", "timestamp": "2026-11-01T00:10:00.000Z",
            "KinesisBatchInfo": {"shardId": self.shard_id, "startSequenceNumber": start,
                "endSequenceNumber": end, "approximateArrivalOfFirstRecord": "2026-11-01T00:00:00.000Z",
                "approximateArrivalOfLastRecord": "2026-11-01T00:00:01.000Z",
                "batchSize": batch_size, "streamArn": self.stream_arn},
        })
        .to_string()
    }

    async fn send(&self, body: &str) {
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    /// Messages in the queue, visible or not.
    async fn queued(&self) -> u64 {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .map(|name| attributes[name].parse::<u64>().unwrap())
        .sum()
    }

    /// The bodies of the visible messages, sorted (they stay received).
    async fn visible_bodies(&self) -> Vec<String> {
        let mut bodies = Vec::new();
        loop {
            let messages = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            bodies.extend(messages.into_iter().filter_map(|message| message.body));
        }
        bodies.sort();
        bodies
    }

    /// Runs `lamlog replay` against this moto, with `store` flags.
    fn replay(&self, store: &[&str]) -> Output {
        let output = Command::new(env!("CARGO_BIN_EXE_lamlog"))
            .args(["replay", "--queue-url", &self.queue_url])
            .args([
                "--endpoint-url",
                &self.moto.endpoint,
                "--region",
                "us-east-1",
            ])
            .args(["--wait-seconds", "1", "--json"])
            .args(store)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        eprintln!(
            "lamlog replay {store:?}: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// The request ids of records `range`, sorted.
    fn request_ids(&self, range: std::ops::Range<usize>) -> Vec<String> {
        let mut ids: Vec<String> = self.records[range]
            .iter()
            .filter_map(|(_, request_id)| request_id.clone())
            .collect();
        ids.sort();
        ids
    }

    fn sequence_number(&self, index: usize) -> &str {
        &self.records[index].0
    }
}

fn workdir(name: &str) -> PathBuf {
    let directory =
        std::env::temp_dir().join(format!("lamlog-replay-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

fn summary(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "no JSON summary ({error}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn stored_request_ids(db: &Path) -> Vec<String> {
    let connection = rusqlite::Connection::open(db).unwrap();
    let mut statement = connection
        .prepare("SELECT request_id FROM invocations ORDER BY request_id")
        .unwrap();
    let rows = statement.query_map([], |row| row.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

fn dead_letter_sequence_numbers(db: &Path) -> Vec<Option<String>> {
    let connection = rusqlite::Connection::open(db).unwrap();
    let mut statement = connection
        .prepare("SELECT sequence_number FROM dead_letters ORDER BY sequence_number")
        .unwrap();
    let rows = statement.query_map([], |row| row.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

fn dump(db: &Path) -> Vec<u8> {
    let output = Command::new(env!("CARGO_BIN_EXE_lamlog"))
        .args(["db", "dump", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    output.stdout
}

#[tokio::test]
async fn replays_exactly_the_named_range_once_and_leaves_what_is_not_a_record() {
    // Thirteen records; the batch is the 8th to the 11th (moto numbers them
    // 1, 2, …, so the range crosses from one digit to two, where string
    // order would be wrong), and its 10th is not a payload.
    let fixture = fixture(13, Some(9)).await;
    let record = fixture.failure_record(fixture.sequence_number(7), fixture.sequence_number(10), 4);
    fixture.send(&record).await;
    let directory = workdir("range");
    let db = directory.join("lamlog.db");
    let db_flag = ["--db", db.to_str().unwrap()];

    // A dry run reads and counts, and neither stores nor deletes.
    let dry = fixture.replay(&[&db_flag[..], &["--dry-run"]].concat());
    assert!(dry.status.success());
    assert_eq!(summary(&dry)["records"], 4);
    assert!(!db.exists(), "a dry run opens no store");
    assert_eq!(fixture.queued().await, 1);

    let first = fixture.replay(&db_flag);
    assert!(first.status.success());
    let totals = summary(&first);
    assert_eq!(
        (
            &totals["messages_replayed"],
            &totals["records"],
            &totals["dead_letters"]
        ),
        (&1.into(), &4.into(), &1.into())
    );
    assert_eq!(stored_request_ids(&db), fixture.request_ids(7..11));
    assert_eq!(
        dead_letter_sequence_numbers(&db),
        [Some(fixture.sequence_number(9).to_owned())],
        "the undecodable record is a dead letter at its own sequence number"
    );
    assert_eq!(fixture.queued().await, 0, "the message is deleted");

    // The same batch again, and two messages that are not on-failure records.
    let before = dump(&db);
    fixture.send(&record).await;
    let not_records = [
        "not json at all",
        r#"{"DDBStreamBatchInfo":{"shardId":"x"}}"#,
    ];
    for body in not_records {
        fixture.send(body).await;
    }
    let second = fixture.replay(&db_flag);
    assert_eq!(
        second.status.code(),
        Some(1),
        "left messages make exit code 1"
    );
    let totals = summary(&second);
    assert_eq!(
        (
            &totals["messages_read"],
            &totals["messages_replayed"],
            &totals["messages_left"]
        ),
        (&3.into(), &1.into(), &2.into())
    );
    assert!(String::from_utf8_lossy(&second.stderr).contains("not a kinesis on-failure record"));
    assert_eq!(
        dump(&db),
        before,
        "replaying a stored range changes nothing"
    );
    let mut expected = not_records.map(str::to_owned).to_vec();
    expected.sort();
    assert_eq!(fixture.visible_bodies().await, expected);
}

#[tokio::test]
async fn a_failing_store_keeps_the_message_in_the_queue() {
    let fixture = fixture(3, None).await;
    let last = fixture.sequence_number(2).to_owned();
    fixture
        .send(&fixture.failure_record(fixture.sequence_number(0), &last, 3))
        .await;
    let directory = workdir("store-fails");
    let db = directory.join("lamlog.db");
    drop(SqliteStore::open(&db).unwrap());

    // Another writer holds the database: the store answers "busy".
    let lock = rusqlite::Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let busy = fixture.replay(&["--db", db.to_str().unwrap()]);
    assert!(!busy.status.success());
    assert!(String::from_utf8_lossy(&busy.stderr).contains("stays in the queue"));
    lock.execute_batch("ROLLBACK").unwrap();
    assert_eq!(fixture.queued().await, 1, "the message is not deleted");
    assert!(stored_request_ids(&db).is_empty());

    // A PostgreSQL that is not there.
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres@127.0.0.1:{closed_port}/lamlog");
    let down = fixture.replay(&["--database-url", &url]);
    assert!(!down.status.success());
    assert_eq!(fixture.queued().await, 1, "the message is not deleted");

    // Once the store is back, the same message replays.
    let again = fixture.replay(&["--db", db.to_str().unwrap()]);
    assert!(again.status.success());
    assert_eq!(stored_request_ids(&db), fixture.request_ids(0..3));
    assert_eq!(fixture.queued().await, 0);
}

#[tokio::test]
async fn records_expired_from_the_stream_are_reported_as_lost() {
    // A batch of three whose first record is older than anything the shard
    // still holds (moto's first sequence number is 1: 0 stands for a
    // trimmed one).
    let fixture = fixture(3, None).await;
    let first_kept = fixture.sequence_number(0).to_owned();
    assert_eq!(first_kept, "1", "moto numbers records from 1");
    fixture
        .send(&fixture.failure_record("0", fixture.sequence_number(1), 3))
        .await;
    let directory = workdir("expired");
    let db = directory.join("lamlog.db");
    let output = fixture.replay(&["--db", db.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "lost records make exit code 1"
    );
    let totals = summary(&output);
    let readable = 2;
    assert_eq!(totals["records"], readable);
    assert_eq!(totals["records_lost"], 3 - readable);
    let problem = &totals["problems"][0];
    assert_eq!(problem["left_in_queue"], false);
    assert!(
        problem["reason"].as_str().unwrap().contains("expired"),
        "{problem}"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("expired from the stream"));
    // What is still readable is stored, and the message is done with.
    assert_eq!(stored_request_ids(&db), fixture.request_ids(0..2));
    assert_eq!(fixture.queued().await, 0);
}
