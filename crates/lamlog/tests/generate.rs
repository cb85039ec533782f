//! `lamlog generate` end to end: reproducibility, the delivery limits of
//! CloudWatch, Kinesis and Lambda, agreement between the files and
//! `truth.json`, and that every platform line it writes is one lamlog parses.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use lamlog::generate::{generate, GenerateOptions, GenerateSummary, OutputFormat};
use serde_json::Value;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("lamlog-generate-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn options(format: OutputFormat, functions: usize, invocations: u64, seed: u64) -> GenerateOptions {
    GenerateOptions {
        functions,
        invocations,
        seed,
        format,
        accounts: 2,
        ..GenerateOptions::default()
    }
}

fn run(name: &str, options: &GenerateOptions) -> (TempDir, GenerateSummary) {
    let dir = TempDir::new(name);
    let summary = generate(options, &dir.0).unwrap();
    (dir, summary)
}

fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (
                entry.file_name().to_string_lossy().into_owned(),
                std::fs::read(entry.path()).unwrap(),
            )
        })
        .collect()
}

#[allow(clippy::disallowed_types)]
fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut inflated = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut inflated)
        .unwrap();
    inflated
}

/// Every CloudWatch payload of a `kinesis` or `cwl` output, in file order,
/// with the raw (uncompressed) JSON size.
fn payloads(dir: &Path) -> Vec<(Value, usize)> {
    let mut found = Vec::new();
    for (name, bytes) in files_of(dir) {
        if name.starts_with("cwl-") {
            let json = gunzip(&bytes);
            found.push((serde_json::from_slice(&json).unwrap(), json.len()));
        } else if name.starts_with("kinesis-") {
            let event: Value = serde_json::from_slice(&bytes).unwrap();
            for record in event["Records"].as_array().unwrap() {
                let data = record["kinesis"]["data"].as_str().unwrap();
                let json = gunzip(
                    &base64::engine::general_purpose::STANDARD
                        .decode(data)
                        .unwrap(),
                );
                found.push((serde_json::from_slice(&json).unwrap(), json.len()));
            }
        }
    }
    found
}

fn messages(payloads: &[(Value, usize)]) -> Vec<String> {
    payloads
        .iter()
        .flat_map(|(payload, _)| payload["logEvents"].as_array().unwrap().iter())
        .map(|event| event["message"].as_str().unwrap().to_string())
        .collect()
}

fn truth(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap()
}

#[test]
fn same_seed_gives_same_bytes_and_another_seed_does_not() {
    for format in [
        OutputFormat::Kinesis,
        OutputFormat::Cwl,
        OutputFormat::Lines,
    ] {
        let (first, _) = run("same-a", &options(format, 5, 1500, 11));
        let (second, _) = run("same-b", &options(format, 5, 1500, 11));
        let (other, _) = run("same-c", &options(format, 5, 1500, 12));
        let first_files = files_of(&first.0);
        assert_eq!(
            first_files,
            files_of(&second.0),
            "{format:?} differs between two runs"
        );
        assert_ne!(
            first_files,
            files_of(&other.0),
            "{format:?} ignores the seed"
        );
    }
}

#[test]
fn all_formats_carry_the_same_events() {
    let mut summaries = Vec::new();
    for (format, prefix) in [
        (OutputFormat::Kinesis, "kinesis-"),
        (OutputFormat::Cwl, "cwl-"),
        (OutputFormat::Lines, "lines-"),
    ] {
        let (dir, summary) = run("formats", &options(format, 7, 2000, 5));
        let files = files_of(&dir.0);
        let data_files = files.keys().filter(|name| name.starts_with(prefix)).count();
        assert!(
            data_files > 0 && data_files == summary.files,
            "{format:?}: {summary:?}"
        );
        assert!(files.contains_key("truth.json") && files.contains_key("metadata.toml"));
        let data_bytes: u64 = files
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(_, bytes)| bytes.len() as u64)
            .sum();
        assert_eq!(data_bytes, summary.bytes);
        if format == OutputFormat::Lines {
            let lines: usize = files
                .iter()
                .filter(|(name, _)| name.starts_with(prefix))
                .map(|(_, bytes)| bytes.split(|&b| b == b'\n').count() - 1)
                .sum();
            assert_eq!(lines as u64, summary.log_events);
        } else {
            let found = payloads(&dir.0);
            assert_eq!(found.len() as u64, summary.records);
            assert_eq!(messages(&found).len() as u64, summary.log_events);
        }
        summaries.push(summary);
    }
    assert!(
        summaries
            .windows(2)
            .all(|pair| pair[0].log_events == pair[1].log_events
                && pair[0].records == pair[1].records)
    );
    assert_eq!(summaries[0].invocations, 2000);
}

#[test]
fn kinesis_output_stays_within_delivery_limits() {
    let (dir, summary) = run("limits", &options(OutputFormat::Kinesis, 60, 40_000, 3));
    assert!(
        summary.records > 10_000,
        "too few records to cross a file boundary: {summary:?}"
    );
    let mut last_sequence = String::new();
    for (name, bytes) in files_of(&dir.0)
        .into_iter()
        .filter(|(name, _)| name.starts_with("kinesis-"))
    {
        assert!(
            bytes.len() <= 6 * 1024 * 1024,
            "{name} is {} bytes",
            bytes.len()
        );
        let event: Value = serde_json::from_slice(&bytes).unwrap();
        let records = event["Records"].as_array().unwrap();
        assert!(
            !records.is_empty() && records.len() <= 10_000,
            "{name} has {} records",
            records.len()
        );
        for record in records {
            let sequence = record["kinesis"]["sequenceNumber"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(sequence.len() == 56 && sequence.bytes().all(|b| b.is_ascii_digit()));
            assert!(sequence > last_sequence);
            assert_eq!(
                record["eventID"].as_str().unwrap(),
                format!("shardId-000000000000:{sequence}")
            );
            assert_eq!(record["eventSource"], "aws:kinesis");
            assert!(record["kinesis"]["approximateArrivalTimestamp"].is_f64());
            last_sequence = sequence;
        }
    }

    let mut last_id = String::new();
    let mut newest_ms = i64::MIN;
    let mut last_in_stream: BTreeMap<String, i64> = BTreeMap::new();
    for (payload, raw_len) in payloads(&dir.0) {
        assert!(raw_len <= 1024 * 1024);
        assert_eq!(payload["messageType"], "DATA_MESSAGE");
        assert_eq!(
            payload["subscriptionFilters"],
            serde_json::json!(["lamlog"])
        );
        let owner = payload["owner"].as_str().unwrap();
        assert!(owner.len() == 12 && owner.bytes().all(|b| b.is_ascii_digit()));
        let stream = payload["logStream"].as_str().unwrap();
        assert!(
            stream.starts_with("2026/11/") && stream.contains("]") && stream.len() >= 44,
            "{stream}"
        );
        let events = payload["logEvents"].as_array().unwrap();
        assert!(!events.is_empty() && events.len() <= 10_000);
        let key = format!("{}|{stream}", payload["logGroup"].as_str().unwrap());
        for event in events {
            let id = event["id"].as_str().unwrap().to_string();
            assert!(id.len() == 56 && id.bytes().all(|b| b.is_ascii_digit()) && id > last_id);
            last_id = id;
            let timestamp = event["timestamp"].as_i64().unwrap();
            let previous = last_in_stream
                .insert(key.clone(), timestamp)
                .unwrap_or(i64::MIN);
            assert!(timestamp >= previous, "stream {key} goes back in time");
            assert!(
                timestamp >= newest_ms.saturating_sub(60_000),
                "event {timestamp} is over a minute older than {newest_ms}"
            );
            newest_ms = newest_ms.max(timestamp);
        }
    }
}

/// Request ids in REPORT lines (text) and `platform.report` records (JSON).
fn report_request_id(message: &str) -> Option<String> {
    if let Some(rest) = message.strip_prefix("REPORT RequestId: ") {
        return rest.split('\t').next().map(str::to_string);
    }
    let json: Value = serde_json::from_str(message).ok()?;
    (json["type"] == "platform.report").then(|| {
        json["record"]["requestId"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    })
}

#[test]
fn files_agree_with_truth() {
    let (dir, summary) = run("truth", &options(OutputFormat::Cwl, 12, 6000, 9));
    let truth = truth(&dir.0);
    let functions = truth["functions"].as_array().unwrap();
    assert_eq!(functions.len(), 12);
    let mut total = 0;
    let (mut cold_starts, mut timeouts) = (0, 0);
    for function in functions {
        let statuses = &function["statuses"];
        let by_status: u64 = ["success", "error", "timeout", "oom", "crash"]
            .iter()
            .map(|s| statuses[s].as_u64().unwrap())
            .sum();
        assert_eq!(by_status, function["invocations"].as_u64().unwrap());
        total += by_status;
        cold_starts += function["cold_starts"].as_u64().unwrap();
        timeouts += statuses["timeout"].as_u64().unwrap();
        for coefficient in ["a_ms", "b_ms_mb", "c_ms_mb"] {
            assert!(function["duration_model"][coefficient].as_f64().unwrap() >= 0.0);
        }
    }
    assert_eq!(total, summary.invocations);

    let found = payloads(&dir.0);
    let all = messages(&found);
    let reports: BTreeSet<String> = all
        .iter()
        .filter_map(|message| report_request_id(message))
        .collect();
    assert_eq!(
        reports.len() as u64,
        summary.invocations,
        "one REPORT per invocation"
    );
    let cold_reports = all
        .iter()
        .filter(|m| report_request_id(m).is_some())
        .filter(|m| {
            m.contains("Init Duration: ")
                || m.contains("initDurationMs")
                || m.contains("Restore Duration: ")
                || m.contains("restoreDurationMs")
        })
        .count() as u64;
    assert_eq!(cold_reports, cold_starts);
    let timeout_reports = all
        .iter()
        .filter(|m| report_request_id(m).is_some())
        .filter(|m| m.contains("Status: timeout") || m.contains("\"status\":\"timeout\""))
        .count() as u64;
    assert_eq!(timeout_reports, timeouts);

    // Some request has its lines in two different payloads.
    let mut payloads_of_request: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for (index, (payload, _)) in found.iter().enumerate() {
        for event in payload["logEvents"].as_array().unwrap() {
            let message = event["message"].as_str().unwrap();
            let request = message
                .strip_prefix("START RequestId: ")
                .or_else(|| message.strip_prefix("END RequestId: "));
            if let Some(id) = request.and_then(|rest| rest.split_whitespace().next()) {
                payloads_of_request
                    .entry(id.to_string())
                    .or_default()
                    .insert(index);
            }
        }
    }
    assert!(
        payloads_of_request
            .values()
            .any(|indexes| indexes.len() > 1),
        "no request is split over payloads"
    );

    let metadata = std::fs::read_to_string(dir.0.join("metadata.toml")).unwrap();
    assert!(metadata.contains("log_group = \"/custom/orders-api\""));
    let tables = metadata
        .lines()
        .filter(|line| line.starts_with("[\""))
        .count();
    let with_metadata = functions
        .iter()
        .filter(|f| f["has_metadata"] == true)
        .count();
    assert_eq!(tables, with_metadata);
}

fn is_platform_line(message: &str) -> bool {
    [
        "START",
        "END",
        "REPORT",
        "INIT_START",
        "EXTENSION",
        "{\"time\"",
    ]
    .iter()
    .any(|prefix| message.starts_with(prefix))
        || message.contains("Task timed out")
}

#[test]
fn parse_check() {
    let (dir, _) = run("parse", &options(OutputFormat::Kinesis, 16, 3000, 21));
    let mut unparsed = Vec::new();
    let mut platform_lines = 0;
    for message in messages(&payloads(&dir.0)) {
        if is_platform_line(&message) {
            platform_lines += 1;
            if matches!(
                lamlog_core::parse::parse(&message),
                lamlog_core::parse::LogLine::Other { .. }
            ) {
                unparsed.push(message);
            }
        }
    }
    assert!(platform_lines > 3000);
    assert!(
        unparsed.is_empty(),
        "{} of {platform_lines} platform lines parse to Other, e.g. {:?}",
        unparsed.len(),
        &unparsed[..unparsed.len().min(3)]
    );
}

#[test]
fn hours_spread_the_workload_and_a_spike_multiplies_one_rate_for_one_hour() {
    let hour_ms = 3_600_000_i64;
    let spiked = GenerateOptions {
        hours: Some(30),
        spikes: vec![lamlog::generate::Spike {
            function: 1,
            hour: 20,
            factor: 6,
        }],
        ..options(OutputFormat::Cwl, 3, 6_000, 4)
    };
    let (dir, _) = run("spike", &spiked);
    let spiked_truth = truth(&dir.0);
    assert_eq!(
        spiked_truth["spikes"],
        serde_json::json!([{"function": 1, "hour": 20, "factor": 6}])
    );
    let names: Vec<String> = spiked_truth["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|function| function["function"].as_str().unwrap().to_owned())
        .collect();
    // Invocations per (function, hour from the start).
    let mut counts: BTreeMap<(usize, i64), u64> = BTreeMap::new();
    let mut last_hour = 0;
    let text = std::fs::read_to_string(dir.0.join("truth-invocations.ndjson")).unwrap();
    for line in text.lines() {
        let invocation: Value = serde_json::from_str(line).unwrap();
        let function = invocation["function"].as_str().unwrap();
        let index = names.iter().position(|name| name == function).unwrap();
        let hour = (invocation["start_time_ms"].as_i64().unwrap() - spiked.start_ms) / hour_ms;
        *counts.entry((index, hour)).or_default() += 1;
        last_hour = last_hour.max(hour);
    }
    // About 30 hours (the spike's extra invocations end it a little early).
    assert!((27..=30).contains(&last_hour), "last hour {last_hour}");
    let median = |index: usize| {
        let mut hourly: Vec<u64> = (0..last_hour)
            .map(|hour| counts.get(&(index, hour)).copied().unwrap_or(0))
            .collect();
        hourly.sort_unstable();
        hourly[hourly.len() / 2] as f64
    };
    for index in 0..3 {
        let in_spike_hour = counts.get(&(index, 20)).copied().unwrap_or(0) as f64;
        let ratio = in_spike_hour / median(index).max(1.0);
        if index == 1 {
            assert!(
                (4.0..9.0).contains(&ratio),
                "function 1: {ratio}× in hour 20"
            );
        } else {
            assert!(ratio < 2.0, "function {index}: {ratio}× in hour 20");
        }
    }
    // Without the options, no spike is written (the truth is as before).
    let (plain, _) = run("no-spike", &options(OutputFormat::Cwl, 3, 600, 4));
    assert!(truth(&plain.0).get("spikes").is_none());
}
