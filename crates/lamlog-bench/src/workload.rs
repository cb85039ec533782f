//! The workload: Kinesis events made by lamlog's own generator at a fixed
//! seed, so that every run of the harness, on any machine, measures the same
//! bytes.
//!
//! The generator writes Lambda Kinesis events of at most 10,000 records and
//! 6 MB each, every record a base64 gzip'd CloudWatch Logs subscription
//! payload, exactly what the production function receives. The harness reads
//! them back, and cuts batches of the size it needs out of them: 200
//! records (the case study's batch size) for the handler path, and the
//! largest batch the shipped mapping delivers (6 MB) for the cost.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use lamlog::generate::{generate, GenerateOptions, GenerateSummary, OutputFormat};
use lamlog_core::decode::{decode, DecodeLimits, Format, Record};
use serde::Serialize;

/// The seed of every generated workload.
pub const SEED: u64 = 20261127;

/// A generated workload on disk.
#[derive(Debug)]
pub struct Workload {
    /// Where its files are.
    pub dir: PathBuf,
    /// The Kinesis event files, in name order.
    pub files: Vec<PathBuf>,
    /// What the generator said it wrote.
    pub summary: GenerateSummary,
}

/// Counts of one Kinesis event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BatchShape {
    /// Kinesis records.
    pub records: u64,
    /// CloudWatch log events (log lines) in them.
    pub log_events: u64,
    /// Size of the event JSON, bytes.
    pub bytes: u64,
}

impl Workload {
    /// Generates `invocations` invocations of `functions` functions into
    /// `dir` (emptied first) as Kinesis events.
    pub fn generate(dir: &Path, functions: usize, invocations: u64) -> anyhow::Result<Workload> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("removing old workload {}", dir.display()))?;
        }
        let options = GenerateOptions {
            functions,
            invocations,
            seed: SEED,
            format: OutputFormat::Kinesis,
            ..GenerateOptions::default()
        };
        let summary = generate(&options, dir)
            .with_context(|| format!("generating the workload into {}", dir.display()))?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| {
                path.file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.starts_with("kinesis-") && name.ends_with(".json"))
            })
            .collect();
        files.sort();
        if files.is_empty() {
            bail!(
                "the generator wrote no Kinesis files into {}",
                dir.display()
            );
        }
        Ok(Workload {
            dir: dir.to_path_buf(),
            files,
            summary,
        })
    }

    /// The file with the most records (the fullest batch).
    pub fn fullest_file(&self) -> anyhow::Result<(PathBuf, BatchShape)> {
        let mut best: Option<(PathBuf, BatchShape)> = None;
        for file in &self.files {
            let bytes = read(file)?;
            let shape = shape_of(&bytes);
            if best
                .as_ref()
                .is_none_or(|(_, best_shape)| shape.records > best_shape.records)
            {
                best = Some((file.clone(), shape));
            }
        }
        best.context("the workload has no files")
    }

    /// The largest batch the event source mapping can hand the function at
    /// `batch_size`: the first records of the fullest file, as many as fit
    /// in both `batch_size` and `payload_bytes` of event JSON (Lambda's 6 MB
    /// invocation payload limit bounds a batch whatever its `BatchSize`).
    pub fn fullest_batch(&self, batch_size: usize, payload_bytes: u64) -> anyhow::Result<Vec<u8>> {
        let (fullest, _) = self.fullest_file()?;
        let bytes = read(&fullest)?;
        let event: serde_json::Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not JSON", fullest.display()))?;
        let Some(all) = event.get("Records").and_then(|value| value.as_array()) else {
            bail!("{} has no Records array", fullest.display());
        };
        // `{"Records":[` + the records, comma separated + `]}`.
        let mut size = r#"{"Records":[]}"#.len() as u64;
        let mut taken = 0;
        for record in all.iter().take(batch_size) {
            let record_bytes = serde_json::to_vec(record)?.len() as u64 + u64::from(taken > 0);
            if size + record_bytes > payload_bytes {
                break;
            }
            size += record_bytes;
            taken += 1;
        }
        if taken == 0 {
            bail!(
                "no record of {} fits in {payload_bytes} bytes",
                fullest.display()
            );
        }
        let batch = serde_json::to_vec(&serde_json::json!({ "Records": &all[..taken] }))?;
        debug_assert_eq!(batch.len() as u64, size);
        Ok(batch)
    }

    /// Consecutive batches of `records` records each, cut from the files in
    /// order (a file's tail shorter than `records` is skipped), at most `limit`.
    pub fn batches(&self, records: usize, limit: usize) -> anyhow::Result<Vec<Vec<u8>>> {
        let mut batches = Vec::new();
        for file in &self.files {
            let bytes = read(file)?;
            let event: serde_json::Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let Some(all) = event.get("Records").and_then(|value| value.as_array()) else {
                bail!("{} has no Records array", file.display());
            };
            for chunk in all.chunks_exact(records.max(1)) {
                if batches.len() == limit {
                    return Ok(batches);
                }
                let batch = serde_json::json!({ "Records": chunk });
                batches.push(serde_json::to_vec(&batch)?);
            }
        }
        Ok(batches)
    }
}

/// Reads a whole file, naming it in the error.
pub fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Records, log events and bytes of one Kinesis event.
pub fn shape_of(kinesis_event: &[u8]) -> BatchShape {
    let decoded = decode(kinesis_event, Format::Kinesis, &DecodeLimits::default());
    let log_events = decoded
        .records
        .iter()
        .map(|record| match record {
            Ok(Record::Data(envelope)) => envelope.events.len() as u64,
            _ => 0,
        })
        .sum();
    BatchShape {
        records: decoded.records.len() as u64,
        log_events,
        bytes: kinesis_event.len() as u64,
    }
}

/// A Kinesis event of `records` records, each the smallest realistic one: a
/// gzip'd CloudWatch Logs payload holding one invocation's REPORT line, for
/// the functions `keys` (`account#function`) in turn, every field Lambda
/// sends present. It is the other extreme of Lambda's limits from the
/// generator's files, which reach 6 MB at a few thousand records: the most
/// records (10,000) an event can hold.
pub fn report_only_event(keys: &[String], records: usize) -> anyhow::Result<Vec<u8>> {
    let functions: Vec<(&str, &str)> = keys
        .iter()
        .filter_map(|key| key.split_once('#'))
        .filter(|(_, function)| !function.contains('/'))
        .collect();
    if functions.is_empty() {
        bail!("no account#function key to make records for");
    }
    let start_ms = lamlog::generate::DEFAULT_START_MS;
    let mut out = Vec::with_capacity(records * 800);
    out.extend_from_slice(b"{\"Records\":[");
    for index in 0..records {
        let (account, function) = functions[index % functions.len()];
        let timestamp = start_ms + index as i64 * 10;
        let duration = 3 + index % 97;
        let report = serde_json::json!({
            "id": format!("{:056}", index),
            "timestamp": timestamp,
            "message": format!(
                "REPORT RequestId: 00000000-0000-4000-8000-{index:012}\tDuration: {duration}.25 ms\t\
                 Billed Duration: {} ms\tMemory Size: 128 MB\tMax Memory Used: {} MB\t\n",
                duration + 1,
                40 + index % 80
            ),
        });
        let payload = payload_json(account, function, vec![report]);
        let data = gzip_base64(&serde_json::to_vec(&payload)?)?;
        if index > 0 {
            out.push(b',');
        }
        write_record(&mut out, index, function, &data, timestamp)?;
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

/// A subscription payload of `function`'s log group holding `log_events`,
/// every field CloudWatch Logs sends present.
pub fn payload_json(
    account: &str,
    function: &str,
    log_events: Vec<serde_json::Value>,
) -> serde_json::Value {
    serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "owner": account,
        "logGroup": format!("/aws/lambda/{function}"),
        "logStream": "2026/11/27/[$LATEST]0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "subscriptionFilters": ["lamlog"],
        "logEvents": log_events,
    })
}

/// base64 of gzip of `bytes`, as a Kinesis record's `data` carries a
/// subscription payload.
pub fn gzip_base64(bytes: &[u8]) -> anyhow::Result<String> {
    use base64::Engine;
    use std::io::Write;

    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(bytes)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(gzip.finish()?))
}

/// Appends Kinesis record `index` of an event, carrying `data`, with every
/// field Lambda sends.
pub fn write_record(
    out: &mut Vec<u8>,
    index: usize,
    partition_key: &str,
    data: &str,
    timestamp_ms: i64,
) -> anyhow::Result<()> {
    let sequence = format!("4959{index:052}");
    let record = serde_json::json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence,
            "data": data,
            "approximateArrivalTimestamp": timestamp_ms as f64 / 1000.0,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("shardId-000000000000:{sequence}"),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/lamlog",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/lamlog-logs",
    });
    serde_json::to_writer(out, &record)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_only_event_decodes_to_one_invocation_a_record() {
        let keys = vec!["123456789012#orders".to_owned(), "1#/custom/x".to_owned()];
        let event = report_only_event(&keys, 25).unwrap();
        let shape = shape_of(&event);
        assert_eq!(shape.records, 25);
        assert_eq!(shape.log_events, 25);
        assert!(report_only_event(&["nohash".to_owned()], 1).is_err());
    }
}
