//! Cost beyond on-demand through the real pipeline, on SQLite and on
//! PostgreSQL: the provisioned duration price (from a JSON
//! `platform.initStart` in an earlier batch than the invocation, and from the
//! metadata flag), ephemeral storage above 512 MB and a charged SnapStart
//! restore, each stored cost against a hand computation at the list prices.

use lamlog::batch::{BatchInput, Pipeline, Settings};
use lamlog::enrich::file::FileSource;
use lamlog::enrich::{Enricher, MetaCache};
use lamlog::notify::TableOnly;
use lamlog::store::sqlite::SqliteStore;
use lamlog::store::Store;
use lamlog_core::decode::Format;

use crate::support::postgres_schema;

use crate::support::records;
use records::{b64, gzip, kinesis_event};

const ACCOUNT: &str = "111111111111";
const AT_MS: i64 = 1_793_491_200_000;

const METADATA: &str = r#"
["111111111111#warm-pc"]
provisioned_concurrency = true
ephemeral_storage_mb = 10240

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
    b64(&gzip(&payload))
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

/// (request id, cost) of every invocation in a store's dump.
fn costs(dump: &str) -> Vec<(String, f64)> {
    dump.lines()
        .filter(|line| line.starts_with("invocations "))
        .map(|line| {
            let field = |name: &str| {
                line.split(' ')
                    .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
                    .unwrap_or_else(|| panic!("no {name} in {line}"))
                    .to_owned()
            };
            let request_id = field("request_id").trim_matches('"').to_owned();
            let cost = field("cost_usd")
                .parse::<f64>()
                .unwrap_or_else(|error| panic!("cost of {request_id}: {error}"));
            (request_id, cost)
        })
        .collect()
}

fn init_start(function: &str, initialization_type: &str) -> String {
    json_line(
        "platform.initStart",
        serde_json::json!({"initializationType": initialization_type, "phase": "init",
                           "runtimeVersion": "nodejs:22.v40", "functionName": function, "functionVersion": "3"}),
    )
}

fn json_report(request_id: &str) -> String {
    json_line(
        "platform.report",
        serde_json::json!({"requestId": request_id, "status": "success",
                           "metrics": {"durationMs": 1000.0, "billedDurationMs": 1000, "memorySizeMB": 1024, "maxMemoryUsedMB": 60}}),
    )
}

/// Two Kinesis events: the environments start in the first, their
/// invocations report in the second.
fn events() -> [Vec<u8>; 2] {
    let first = vec![
        message(
            "json-env",
            "2026/11/01/[3]bbbb",
            &[init_start("json-env", "provisioned-concurrency")],
        ),
        // A flagged function's spill-over environment, on demand.
        message(
            "warm-pc",
            "2026/11/01/[3]eeee",
            &[init_start("warm-pc", "on-demand")],
        ),
    ];
    let restore = "Restore Duration: 474.16 ms\tBilled Restore Duration: 75 ms\t";
    let second = vec![
        message(
            "warm-pc",
            "2026/11/01/[3]aaaa",
            &[
                report("r1", 1000, 1024, ""),
                report("r2", 1200, 1024, "Init Duration: 200.00 ms\t"),
            ],
        ),
        message("json-env", "2026/11/01/[3]bbbb", &[json_report("r3")]),
        message(
            "snap-py",
            "2026/11/01/[2]cccc",
            &[report("r4", 500, 2048, restore)],
        ),
        message(
            "snap-java",
            "2026/11/01/[2]dddd",
            &[report("r5", 500, 2048, restore)],
        ),
        message("warm-pc", "2026/11/01/[3]eeee", &[json_report("r6")]),
    ];
    [kinesis_event(&first), kinesis_event(&second)]
}

/// Runs both events through a pipeline on `store`, twice (a replay), and
/// checks every stored cost.
async fn prices_as_aws_bills<S: Store>(store: S) -> S {
    let mut pipeline = Pipeline {
        enricher: Enricher::new(
            FileSource::from_text(METADATA, "metadata.toml").unwrap(),
            MetaCache::default(),
        ),
        store,
        notifier: TableOnly,
        settings: Settings::default(),
    };
    for received_at_ms in [1, 2] {
        for event in &events() {
            let input = BatchInput {
                source: "stream",
                bytes: event,
                format: Format::Auto,
                received_at_ms,
            };
            let summary = pipeline.run(input).await.unwrap();
            assert_eq!(summary.undecodable_records, 0);
        }
    }

    // By hand, list prices (x86_64), request $0.000 000 2:
    // r1 warm on provisioned concurrency (metadata flag), 1 GB × 1 s at
    //    $0.000 009 722 2, + (10,240 − 512) / 1,024 = 9.5 GB × 1 s of storage
    //    at $0.000 000 030 9;
    // r2 its Init Duration says on-demand: 1 GB × 1.2 s at $0.000 016 666 7,
    //    + 9.5 GB × 1.2 s of storage;
    // r3 no metadata, but its environment's initStart, a batch earlier, says
    //    provisioned-concurrency;
    // r4 Python restore: 2 GB × 0.5 s on demand + 2 GB × $0.000 139 799 8;
    // r5 Java restore: 2 GB × 0.5 s on demand, the restore free;
    // r6 the flagged function, but its environment's initStart says
    //    on-demand: 1 GB × 1 s at the on-demand price, + 9.5 GB × 1 s of storage.
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
        ("r6", 0.000_016_666_7 + 9.5 * 0.000_000_030_9 + request),
    ];
    let dump = pipeline.store.dump().await.unwrap();
    let mut rows = costs(&dump);
    rows.sort_by(|left, right| left.0.cmp(&right.0));
    assert_eq!(rows.len(), expected.len(), "{rows:?}");
    for ((request_id, cost), (want_id, want_cost)) in rows.iter().zip(expected) {
        assert_eq!(request_id, want_id);
        assert!(
            (cost - want_cost).abs() <= 1e-15,
            "{request_id}: {cost} vs {want_cost}"
        );
    }
    let environments: Vec<&str> = dump
        .lines()
        .filter(|line| line.starts_with("environments "))
        .collect();
    assert_eq!(environments.len(), 2, "{environments:?}");
    pipeline.store
}

#[tokio::test]
async fn sqlite_prices_invocations_as_aws_bills_them() {
    prices_as_aws_bills(SqliteStore::open_in_memory().unwrap()).await;
}

#[tokio::test]
async fn postgres_prices_invocations_as_aws_bills_them() {
    prices_as_aws_bills(postgres_schema::TestStore::fresh().await).await;
}
