//! The three on-disk shapes of shipped payloads.
//!
//! - `cwl`: `cwl-000001.json.gz`, one gzip'd payload per file: what a
//!   Firehose or S3 export would hand over, and the easiest to inspect with
//!   `zcat`.
//! - `kinesis`: `kinesis-000001.json`, a Lambda Kinesis event as the event
//!   source mapping delivers it: each record's `data` is base64(gzip(payload)),
//!   at most 10,000 records and 6 MB per file, which are Lambda's own limits for
//!   one invoke, so each file is a valid test event for the function.
//! - `lines`: `lines-000001.log`, one message per line, split at about 64 MB.
//!   A line-oriented file cannot hold a multi-line message, so internal `\n`
//!   become `\r` (Python's own trick for tracebacks) and the trailing newline is
//!   the line end. Timestamps, groups and streams are not kept.
//!
//! Gzip output is deterministic: flate2 writes a zero mtime, so equal payloads
//! give equal bytes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::Serialize;

use super::payload::{Payload, MAX_PAYLOAD_BYTES};
use super::workload::StreamInfo;
use super::{GenerateError, OutputFormat};

/// Lambda's limit on a synchronous invoke payload (one Kinesis event file).
pub(crate) const MAX_EVENT_FILE_BYTES: usize = 6 * 1024 * 1024;
/// Lambda's limit on records per Kinesis batch.
pub(crate) const MAX_EVENT_FILE_RECORDS: usize = 10_000;
/// Where a lines file is cut.
const LINES_FILE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KinesisData<'a> {
    kinesis_schema_version: &'static str,
    partition_key: &'a str,
    sequence_number: &'a str,
    data: String,
    approximate_arrival_timestamp: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KinesisRecord<'a> {
    kinesis: KinesisData<'a>,
    event_source: &'static str,
    event_version: &'static str,
    #[serde(rename = "eventID")]
    event_id: String,
    event_name: &'static str,
    invoke_identity_arn: &'a str,
    aws_region: &'static str,
    #[serde(rename = "eventSourceARN")]
    event_source_arn: &'a str,
}

/// An open output file and what has gone into it.
struct OpenFile {
    path: PathBuf,
    writer: BufWriter<File>,
    bytes: u64,
    records: usize,
}

/// Where shipped payloads go.
pub(crate) struct Sink {
    format: OutputFormat,
    out_dir: PathBuf,
    rng: fastrand::Rng,
    current: Option<OpenFile>,
    files: usize,
    closed_bytes: u64,
    sequence: u64,
    last_arrival_ms: i64,
    invoke_identity_arn: String,
    event_source_arn: String,
}

impl Sink {
    /// A sink that has written nothing yet.
    pub(crate) fn new(format: OutputFormat, out_dir: &Path, seed: u64, arn_account: &str) -> Sink {
        Sink {
            format,
            out_dir: out_dir.to_path_buf(),
            rng: fastrand::Rng::with_seed(seed ^ 0x006b_696e_6573_6973),
            current: None,
            files: 0,
            closed_bytes: 0,
            sequence: 0,
            last_arrival_ms: i64::MIN,
            invoke_identity_arn: format!("arn:aws:iam::{arn_account}:role/lamlog"),
            event_source_arn: format!("arn:aws:kinesis:us-east-1:{arn_account}:stream/lamlog-logs"),
        }
    }

    /// Writes one payload; `json_bytes` is the packer's size estimate.
    pub(crate) fn write(
        &mut self,
        payload: &Payload<'_>,
        stream: &StreamInfo,
        json_bytes: usize,
    ) -> Result<(), GenerateError> {
        match self.format {
            OutputFormat::Cwl => {
                self.files += 1;
                let path = self.out_dir.join(format!("cwl-{:06}.json.gz", self.files));
                let gzip = gzip_payload(payload, &path, json_bytes)?;
                std::fs::write(&path, &gzip)
                    .map_err(|source| GenerateError::Write { path, source })?;
                self.closed_bytes += gzip.len() as u64;
                Ok(())
            }
            OutputFormat::Kinesis => self.write_kinesis(payload, stream, json_bytes),
            OutputFormat::Lines => self.write_lines(payload),
        }
    }

    fn write_kinesis(
        &mut self,
        payload: &Payload<'_>,
        stream: &StreamInfo,
        json_bytes: usize,
    ) -> Result<(), GenerateError> {
        let next_path = self
            .out_dir
            .join(format!("kinesis-{:06}.json", self.files + 1));
        let gzip = gzip_payload(payload, &next_path, json_bytes)?;
        self.sequence += 1;
        let sequence_number = format!("4959{:052}", self.sequence);
        let last_event_ms = payload.log_events.last().map_or(0, |event| event.timestamp);
        let arrival_ms = (last_event_ms + self.rng.i64(200..2000)).max(self.last_arrival_ms);
        self.last_arrival_ms = arrival_ms;
        let record = KinesisRecord {
            kinesis: KinesisData {
                kinesis_schema_version: "1.0",
                partition_key: &stream.partition_key,
                sequence_number: &sequence_number,
                data: base64::engine::general_purpose::STANDARD.encode(&gzip),
                approximate_arrival_timestamp: arrival_ms as f64 / 1000.0,
            },
            event_source: "aws:kinesis",
            event_version: "1.0",
            event_id: format!("shardId-000000000000:{sequence_number}"),
            event_name: "aws:kinesis:record",
            invoke_identity_arn: &self.invoke_identity_arn,
            aws_region: "us-east-1",
            event_source_arn: &self.event_source_arn,
        };
        let bytes = serde_json::to_vec(&record).map_err(|source| GenerateError::Json {
            path: next_path.clone(),
            source,
        })?;
        const HEADER: &[u8] = b"{\"Records\":[";
        const FOOTER: &[u8] = b"]}";
        let fits = self.current.as_ref().is_some_and(|file| {
            file.records < MAX_EVENT_FILE_RECORDS
                && file.bytes as usize + 1 + bytes.len() + FOOTER.len() <= MAX_EVENT_FILE_BYTES
        });
        if !fits {
            self.close(FOOTER)?;
            self.open("kinesis", "json", HEADER)?;
        }
        if let Some(file) = self.current.as_mut() {
            let separator: &[u8] = if file.records == 0 { b"" } else { b"," };
            write_all(file, separator)?;
            write_all(file, &bytes)?;
            file.records += 1;
        }
        Ok(())
    }

    fn write_lines(&mut self, payload: &Payload<'_>) -> Result<(), GenerateError> {
        if self
            .current
            .as_ref()
            .is_none_or(|file| file.bytes >= LINES_FILE_BYTES)
        {
            self.close(b"")?;
            self.open("lines", "log", b"")?;
        }
        let Some(file) = self.current.as_mut() else {
            return Ok(());
        };
        let mut line = String::new();
        for event in &payload.log_events {
            line.clear();
            let body = event.message.strip_suffix('\n').unwrap_or(event.message);
            line.extend(
                body.chars()
                    .map(|character| if character == '\n' { '\r' } else { character }),
            );
            line.push('\n');
            write_all(file, line.as_bytes())?;
        }
        Ok(())
    }

    fn open(&mut self, prefix: &str, extension: &str, header: &[u8]) -> Result<(), GenerateError> {
        self.files += 1;
        let path = self
            .out_dir
            .join(format!("{prefix}-{:06}.{extension}", self.files));
        let handle = File::create(&path).map_err(|source| GenerateError::Write {
            path: path.clone(),
            source,
        })?;
        let mut file = OpenFile {
            path,
            writer: BufWriter::with_capacity(256 * 1024, handle),
            bytes: 0,
            records: 0,
        };
        write_all(&mut file, header)?;
        self.current = Some(file);
        Ok(())
    }

    fn close(&mut self, footer: &[u8]) -> Result<(), GenerateError> {
        if let Some(mut file) = self.current.take() {
            write_all(&mut file, footer)?;
            file.writer.flush().map_err(|source| GenerateError::Write {
                path: file.path.clone(),
                source,
            })?;
            self.closed_bytes += file.bytes;
        }
        Ok(())
    }

    /// Closes the open file; returns (files written, bytes written).
    pub(crate) fn finish(mut self) -> Result<(usize, u64), GenerateError> {
        let footer: &[u8] = if self.format == OutputFormat::Kinesis {
            b"]}"
        } else {
            b""
        };
        self.close(footer)?;
        Ok((self.files, self.closed_bytes))
    }
}

fn write_all(file: &mut OpenFile, bytes: &[u8]) -> Result<(), GenerateError> {
    file.writer
        .write_all(bytes)
        .map_err(|source| GenerateError::Write {
            path: file.path.clone(),
            source,
        })?;
    file.bytes += bytes.len() as u64;
    Ok(())
}

/// Serializes and gzips one payload (the `path` is only for error messages).
fn gzip_payload(
    payload: &Payload<'_>,
    path: &Path,
    json_bytes: usize,
) -> Result<Vec<u8>, GenerateError> {
    let json = serde_json::to_vec(payload).map_err(|source| GenerateError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    debug_assert!(json.len() <= json_bytes && json.len() <= MAX_PAYLOAD_BYTES);
    let mut encoder = GzEncoder::new(Vec::with_capacity(json.len() / 4 + 64), Compression::fast());
    let written = encoder.write_all(&json).and_then(|()| encoder.finish());
    written.map_err(|source| GenerateError::Write {
        path: path.to_path_buf(),
        source,
    })
}
