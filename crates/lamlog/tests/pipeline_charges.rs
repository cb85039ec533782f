//! Cost beyond on-demand through the real pipeline: the provisioned duration
//! price (from the metadata flag, in both log formats), ephemeral storage above 512 MB and a charged SnapStart restore, each
//! stored cost against a hand computation at the list prices.

use std::io::Write;

use base64::Engine;
use lamlog::batch::{BatchInput, Pipeline, Settings};
use lamlog::enrich::file::FileSource;
use lamlog::enrich::{Enricher, MetaCache};
use lamlog::notify::TableOnly;
use lamlog::store::sqlite::SqliteStore;
use lamlog_core::decode::Format;

const ACCOUNT: &str = "111111111111";
const AT_MS: i64 = 1_793_491_200_000;

const METADATA: &str = r#"
["111111111111#warm-pc"]
provisioned_concurrency = true
ephemeral_storage_mb = 10240

["111111111111#json-pc"]
provisioned_concurrency = true

["111111111111#snap-py"]
runtime = "python3.12"

["111111111111#snap-java"]
runtime = "java21"
"#;

/// A CloudWatch Logs subscription message of one stream's `messages`.
fn message(function: &str, stream: &str, messages: &[String]) -> String {
    let events: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(index, message)| {
            serde_json::json!({"id": format!("{index:056}"), "timestamp": AT_MS + index as i64, "message": message})
        })
        .collect();
    let payload = serde_json::to_vec(&serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": ACCOUNT, "logGroup": format!("/aws/lambda/{function}"),
        "logStream": stream, "subscriptionFilters": ["lamlog"], "logEvents": events,
    }))
    .unwrap();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(&payload).unwrap();
    base64::engine::general_purpose::STANDARD.encode(encoder.finish().unwrap())
}

fn kinesis_event(datas: &[String]) -> Vec<u8> {
    let records: Vec<serde_json::Value> = datas
        .iter()
        .enumerate()
        .map(|(index, data)| {
            let sequence_number = format!("4959{index:052}");
            serde_json::json!({
                "kinesis": {"data": data, "sequenceNumber": sequence_number, "partitionKey": "p",
                            "kinesisSchemaVersion": "1.0", "approximateArrivalTimestamp": 1.7e9},
                "eventSource": "aws:kinesis", "eventID": format!("shardId-000000000000:{sequence_number}"),
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap()
}

fn report(request_id: &str, billed_ms: u32, memory_mb: u32, extra: &str) -> String {
    format!(
        "REPORT RequestId: {request_id}\tDuration: {billed_ms}.00 ms\tBilled Duration: {billed_ms} ms\tMemory Size: {memory_mb} MB\tMax Memory Used: 60 MB\t{extra}"
    )
}

fn json_line(record_type: &str, record: serde_json::Value) -> String {
    serde_json::json!({"time": "2026-11-01T00:00:00.000Z", "type": record_type, "record": record})
        .to_string()
}

/// (request id, cost) of every stored invocation.
fn stored(path: &std::path::Path) -> Vec<(String, f64)> {
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut statement = connection
        .prepare("SELECT request_id, cost_usd FROM invocations ORDER BY request_id")
        .unwrap();
    let rows = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

#[tokio::test]
async fn invocations_are_priced_as_aws_bills_them_beyond_on_demand() {
    let directory = std::env::temp_dir().join(format!("lamlog-charges-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let db = directory.join("charges.db");
    let _ = std::fs::remove_file(&db);

    let provisioned_environment = json_line(
        "platform.initStart",
        serde_json::json!({"initializationType": "provisioned-concurrency", "phase": "init",
                           "runtimeVersion": "nodejs:22.v40", "functionName": "json-pc", "functionVersion": "3"}),
    );
    let json_report = json_line(
        "platform.report",
        serde_json::json!({"requestId": "r3", "status": "success",
                           "metrics": {"durationMs": 1000.0, "billedDurationMs": 1000, "memorySizeMB": 1024, "maxMemoryUsedMB": 60}}),
    );
    let datas = vec![
        message(
            "warm-pc",
            "2026/11/01/[3]aaaa",
            &[
                report("r1", 1000, 1024, ""),
                report("r2", 1200, 1024, "Init Duration: 200.00 ms\t"),
            ],
        ),
        message(
            "json-pc",
            "2026/11/01/[3]bbbb",
            &[provisioned_environment, json_report],
        ),
        message(
            "snap-py",
            "2026/11/01/[2]cccc",
            &[report(
                "r4",
                500,
                2048,
                "Restore Duration: 474.16 ms\tBilled Restore Duration: 75 ms\t",
            )],
        ),
        message(
            "snap-java",
            "2026/11/01/[2]dddd",
            &[report(
                "r5",
                500,
                2048,
                "Restore Duration: 474.16 ms\tBilled Restore Duration: 75 ms\t",
            )],
        ),
    ];
    let event = kinesis_event(&datas);
    let mut pipeline = Pipeline {
        enricher: Enricher::new(
            FileSource::from_text(METADATA, "metadata.toml").unwrap(),
            MetaCache::default(),
        ),
        store: SqliteStore::open(&db).unwrap(),
        notifier: TableOnly,
        settings: Settings::default(),
    };
    for received_at_ms in [1, 2] {
        let input = BatchInput {
            source: "stream",
            bytes: &event,
            format: Format::Auto,
            received_at_ms,
        };
        let summary = pipeline.run(input).await.unwrap();
        assert_eq!(summary.undecodable_records, 0);
    }

    // By hand, list prices (x86_64), request $0.000 000 2:
    // r1 warm on provisioned concurrency, 1 GB × 1 s at $0.000 009 722 2,
    //    + (10,240 − 512) / 1,024 = 9.5 GB × 1 s of storage at $0.000 000 030 9;
    // r2 its Init Duration says on-demand: 1 GB × 1.2 s at $0.000 016 666 7,
    //    + 9.5 GB × 1.2 s of storage;
    // r3 the JSON format's report of a flagged function: provisioned;
    // r4 Python restore: 2 GB × 0.5 s on demand + 2 GB × $0.000 139 799 8;
    // r5 Java restore: 2 GB × 0.5 s on demand, the restore free.
    let request = 0.000_000_2;
    let expected = [
        ("r1", 0.000_009_722_2 + 9.5 * 0.000_000_030_9 + request),
        (
            "r2",
            1.2 * 0.000_016_666_7 + 9.5 * 1.2 * 0.000_000_030_9 + request,
        ),
        ("r3", 0.000_009_722_2 + request),
        (
            "r4",
            1.0 * 0.000_016_666_7 + 2.0 * 0.000_139_799_8 + request,
        ),
        ("r5", 1.0 * 0.000_016_666_7 + request),
    ];
    let rows = stored(&db);
    assert_eq!(rows.len(), expected.len(), "{rows:?}");
    for ((request_id, cost), (want_id, want_cost)) in rows.iter().zip(expected) {
        assert_eq!(request_id, want_id);
        assert!(
            (cost - want_cost).abs() <= 1e-15,
            "{request_id}: {cost} vs {want_cost}"
        );
    }
    std::fs::remove_dir_all(&directory).unwrap();
}
