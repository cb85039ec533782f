//! Hostile input through the whole pipeline: every bad record becomes a dead
//! letter that keeps its raw bytes, every good record around it is stored,
//! and nothing crashes.

use std::io::Write;

use lamlog::batch::{BatchInput, Pipeline, Settings};
use lamlog::enrich::file::FileSource;
use lamlog::enrich::{Enricher, MetaCache};
use lamlog::notify::TableOnly;
use lamlog::store::sqlite::SqliteStore;
use lamlog_core::decode::Format;

use crate::support::records;
use records::{b64, gzip, kinesis_event};

fn payload(request_id: &str, function: &str) -> Vec<u8> {
    payload_of("123456789012", request_id, function, 50)
}

/// A payload from account `owner` holding one REPORT that used `max_used_mb`
/// of 128 MB.
fn payload_of(owner: &str, request_id: &str, function: &str, max_used_mb: u32) -> Vec<u8> {
    let report = format!(
        "REPORT RequestId: {request_id}\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: {max_used_mb} MB\t\n"
    );
    serde_json::to_vec(&serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": owner, "logGroup": format!("/aws/lambda/{function}"),
        "logStream": "2026/11/01/[$LATEST]abc", "subscriptionFilters": ["lamlog"],
        "logEvents": [{"id": "1".repeat(56), "timestamp": 1_793_491_200_000_i64, "message": report}],
    }))
    .unwrap()
}

fn pipeline(store: SqliteStore) -> Pipeline<FileSource, SqliteStore, TableOnly> {
    Pipeline {
        enricher: Enricher::new(FileSource::default(), MetaCache::default()),
        store,
        notifier: TableOnly,
        settings: Settings::default(),
    }
}

/// (reason, raw) of every dead letter, in position order.
fn dead_letters(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut statement = connection
        .prepare("SELECT reason, raw FROM dead_letters ORDER BY record_index, byte_offset")
        .unwrap();
    let rows = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn request_ids(path: &std::path::Path) -> Vec<String> {
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut statement = connection
        .prepare("SELECT request_id FROM invocations ORDER BY request_id")
        .unwrap();
    let rows = statement.query_map([], |row| row.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

#[tokio::test]
async fn every_bad_kinesis_record_is_dead_lettered_and_its_neighbours_stored() {
    let directory = tempdir();
    let db = directory.join("hostile.db");
    let sql_id = "a'b\";DROP-TABLE-invocations;--\\x";
    let mut truncated = gzip(&payload("truncated", "f"));
    truncated.truncate(truncated.len() / 2);
    let invalid_utf8 = {
        let mut bytes = payload("utf8", "f");
        let at = bytes.len() - 20;
        bytes[at] = 0xff;
        gzip(&bytes)
    };
    let datas = vec![
        b64(&gzip(&payload("good-1", "orders"))),
        "this is !!! not base64 @@".to_owned(),
        b64(&truncated),
        b64(&gzip(b"{ this is not json")),
        b64(&invalid_utf8),
        b64(&gzip(&payload(sql_id, "orders'; DELETE FROM alerts; --"))),
        b64(&gzip(&payload("good-2", "orders"))),
    ];
    let event = kinesis_event(&datas);
    let mut pipeline = pipeline(SqliteStore::open(&db).unwrap());
    let input = BatchInput {
        source: "stream",
        bytes: &event,
        format: Format::Auto,
        received_at_ms: 1,
    };
    let summary = pipeline.run(input).await.unwrap();

    assert_eq!(summary.records, 7);
    assert_eq!(summary.undecodable_records, 4);
    assert_eq!(summary.outcome.dead_letters, 4);
    assert_eq!(
        request_ids(&db),
        vec![sql_id.to_owned(), "good-1".to_owned(), "good-2".to_owned()]
    );
    let letters = dead_letters(&db);
    let raws: Vec<&[u8]> = letters.iter().map(|(_, raw)| raw.as_slice()).collect();
    let expected: Vec<&[u8]> = [1, 2, 3, 4]
        .iter()
        .map(|index| datas[*index].as_bytes())
        .collect();
    assert_eq!(
        raws, expected,
        "each dead letter keeps its record's bytes exactly"
    );
    let reasons: Vec<&str> = letters.iter().map(|(reason, _)| reason.as_str()).collect();
    assert!(reasons[0].contains("base64"), "{reasons:?}");
    assert!(reasons[1].contains("gzip"), "{reasons:?}");
    assert!(reasons[2].contains("JSON"), "{reasons:?}");
    assert!(
        reasons[3].to_lowercase().contains("utf-8") || reasons[3].contains("JSON"),
        "{reasons:?}"
    );

    // Replaying the event changes nothing: no new rows, no new dead letters.
    let again = pipeline.run(input).await.unwrap();
    assert_eq!((again.outcome.inserted, again.outcome.dead_letters), (0, 0));
    assert_eq!(dead_letters(&db).len(), 4);
}

#[tokio::test]
async fn bad_lines_are_dead_lettered_with_their_bytes() {
    let directory = tempdir();
    let db = directory.join("lines.db");
    let long_line = "x".repeat(1024 * 1024 + 10);
    let mut input = Vec::new();
    input.extend_from_slice(b"START RequestId: r1 Version: $LATEST\n");
    input.extend_from_slice(b"REPORT RequestId: bad\xff\xfe\tDuration: 1.00 ms\n");
    input.extend_from_slice(long_line.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(b"REPORT RequestId: r1\tDuration: 5.00 ms\tBilled Duration: 5 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\n");
    let mut pipeline = pipeline(SqliteStore::open(&db).unwrap());
    let batch = BatchInput {
        source: "app.log",
        bytes: &input,
        format: Format::Lines,
        received_at_ms: 1,
    };
    let summary = pipeline.run(batch).await.unwrap();

    assert_eq!(summary.outcome.dead_letters, 2);
    assert_eq!(request_ids(&db), vec!["r1".to_owned()]);
    let letters = dead_letters(&db);
    assert_eq!(
        letters[0].1,
        b"REPORT RequestId: bad\xff\xfe\tDuration: 1.00 ms".to_vec()
    );
    assert!(letters[0].0.contains("UTF-8"), "{}", letters[0].0);
    assert_eq!(letters[1].1.len(), long_line.len());
    assert!(letters[1].0.contains("exceeds"), "{}", letters[1].0);
}

#[tokio::test]
async fn a_gzip_bomb_is_refused_not_allocated() {
    let directory = tempdir();
    let db = directory.join("bomb.db");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    let event = kinesis_event(&[b64(&bomb), b64(&gzip(&payload("after-bomb", "f")))]);
    let mut pipeline = pipeline(SqliteStore::open(&db).unwrap());
    let input = BatchInput {
        source: "stream",
        bytes: &event,
        format: Format::Kinesis,
        received_at_ms: 1,
    };
    let summary = pipeline.run(input).await.unwrap();
    assert_eq!(summary.outcome.dead_letters, 1);
    assert!(dead_letters(&db)[0].0.contains("gzip bomb"));
    assert_eq!(request_ids(&db), vec!["after-bomb".to_owned()]);
}

fn tempdir() -> std::path::PathBuf {
    let directory = std::env::temp_dir().join(format!(
        "lamlog-hostile-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

#[tokio::test]
async fn names_holding_the_key_separators_never_share_an_alert() {
    // Account "1|f" with function "g", and account "1" with function "f|g":
    // joined naively, both alerts would have the dedup key
    // "memory_high|1|f|g|<window>" and the second would be dropped.
    let event = kinesis_event(&[
        b64(&gzip(&payload_of("1|f", "request-a", "g", 128))),
        b64(&gzip(&payload_of("1", "request-b", "f|g", 128))),
        b64(&gzip(&payload_of("1#f", "request-c", "g", 128))),
        b64(&gzip(&payload_of("1", "request-d", "f#g", 128))),
    ]);
    let dir = tempdir();
    let path = dir.join("keys.db");
    let mut pipeline = pipeline(SqliteStore::open(&path).unwrap());
    let summary = pipeline
        .run(BatchInput {
            source: "event",
            bytes: &event,
            format: Format::Kinesis,
            received_at_ms: 1,
        })
        .await
        .unwrap();
    assert_eq!(summary.outcome.inserted, 4);
    let connection = rusqlite::Connection::open(&path).unwrap();
    let mut statement = connection
        .prepare("SELECT account, function, dedup_key FROM alerts ORDER BY account, function")
        .unwrap();
    let alerts: Vec<(String, String, String)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let owners: Vec<(&str, &str)> = alerts
        .iter()
        .map(|(account, function, _)| (account.as_str(), function.as_str()))
        .collect();
    assert_eq!(
        owners,
        [("1", "f#g"), ("1", "f|g"), ("1#f", "g"), ("1|f", "g")],
        "one alert per function: {alerts:?}"
    );
    let mut keys: Vec<&str> = alerts.iter().map(|(_, _, key)| key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 4, "{alerts:?}");
    std::fs::remove_dir_all(dir).unwrap();
}
