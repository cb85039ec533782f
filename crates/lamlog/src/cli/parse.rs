//! `lamlog parse`: decode and parse, print one JSON object per log line.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use lamlog_core::decode::{decode, DecodeLimits, Record};
use lamlog_core::parse::{parse, LogLine};
use serde::Serialize;

use super::input::{paths_or_stdin, read_input, FormatArg};

/// Print every log line as NDJSON with its kind and fields.
///
/// Each output object has `kind` (start, end, report, init_start, init_report,
/// timeout, crash, app_error, extension, telemetry, platform_json, app, other)
/// and the fields of that kind, named as in the data model (duration_ms,
/// billed_duration_ms, memory_size_mb, …), plus `account`, `log_group`,
/// `log_stream` and `timestamp` when the input carries them. Absent fields
/// are omitted.
///
/// A record that cannot be decoded is reported on stderr with its position
/// and the run goes on.
///
/// Examples:
///   lamlog parse examples/kinesis-000001.json
///   aws logs tail /aws/lambda/my-fn --format short | lamlog parse --format lines
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ParseArgs {
    /// How the input is wrapped.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// Exit with status 1 when any record could not be decoded.
    #[arg(long)]
    strict: bool,
    /// Files to read; stdin when none is given, or for `-`.
    files: Vec<PathBuf>,
}

#[derive(Serialize)]
struct ParsedLine<'a> {
    #[serde(flatten)]
    line: LogLine<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_group: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_stream: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<i64>,
}

pub fn run(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let limits = DecodeLimits::default();
    let mut bad_records = 0u64;
    for path in paths_or_stdin(args.files) {
        let bytes = read_input(&path)?;
        let decoded = decode(&bytes, args.format.into(), &limits);
        for record in decoded.records {
            let envelope = match record {
                Ok(Record::Data(envelope)) => envelope,
                Ok(Record::Control(_)) => continue,
                Err(error) => {
                    bad_records += 1;
                    out.flush().context("writing stdout")?;
                    eprintln!("lamlog: {}: {error}", path.display());
                    continue;
                }
            };
            for event in &envelope.events {
                let parsed = ParsedLine {
                    line: parse(&event.message),
                    account: envelope.owner.as_deref(),
                    log_group: envelope.log_group.as_deref(),
                    log_stream: envelope.log_stream.as_deref(),
                    timestamp: event.timestamp_ms,
                };
                serde_json::to_writer(&mut out, &parsed).context("writing stdout")?;
                out.write_all(b"\n").context("writing stdout")?;
            }
        }
    }
    out.flush().context("writing stdout")?;
    if bad_records > 0 {
        eprintln!("lamlog: {bad_records} record(s) could not be decoded");
        if args.strict {
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}
