//! The side files: the ground truth, and the metadata lamlog enriches from.
//!
//! The truth is an oracle for the whole pipeline: everything in it comes from
//! the generator's parameters and draws, never from reading back the logs it
//! wrote, so a test that compares what lamlog stored with it catches a bug
//! that two lamlog runs would share.
//!
//! - `truth.json`: per function, what the generator put in (identity,
//!   configuration, the duration model, the counts of each outcome); the
//!   alerts the default rules must raise ([`alerts`]); the spikes asked
//!   for, if any; and the name of the per-invocation file. The
//!   `memory_growth` alerts of leaking environments are restated in
//!   [`growth`].
//! - `truth-invocations.ndjson`: per invocation, the figures lamlog must
//!   store, cost included ([`invocations`]).
//!
//! `metadata.toml` is what a team would keep for lamlog's local enricher: one
//! table per function keyed `"<account>#<function>"`. About one function in
//! ten is left out on purpose, so that un-enriched functions exist (lamlog
//! prices them as x86_64 and cannot know their timeout); the function with a
//! custom log group is always in, since its `log_group` key is the only way
//! to map that group back to a function.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::Serialize;

use super::functions::{DurationModel, FunctionSpec};
use super::rates::Spike;
use super::workload::Tally;
use super::GenerateError;

mod alert;
mod alerts;
mod cost_spikes;
mod growth;
mod invocations;

pub(crate) use alert::AlertTruth;
pub(crate) use alerts::ExpectedAlerts;
pub(crate) use growth::ExpectedGrowth;
pub(crate) use invocations::{InvocationLog, InvocationTruth, INVOCATIONS_FILE};

#[derive(Serialize)]
struct Truth<'a> {
    seed: u64,
    start_ms: i64,
    /// The formula the coefficients belong to, for a reader of the file.
    duration_model: &'static str,
    functions: Vec<FunctionTruth<'a>>,
    /// The file with one line per invocation.
    invocations_file: &'static str,
    /// The spikes asked for (absent when none, as before spikes existed).
    #[serde(skip_serializing_if = "<[Spike]>::is_empty")]
    spikes: &'a [Spike],
    /// The alerts the default rules must raise, sorted.
    alerts: &'a [AlertTruth],
}

#[derive(Serialize)]
struct FunctionTruth<'a> {
    account: &'a str,
    function: &'a str,
    log_group: &'a str,
    architecture: &'static str,
    runtime: &'static str,
    log_format: &'static str,
    version: &'a str,
    memory_sizes_mb: &'a [u32],
    timeout_seconds: u32,
    snap_start: bool,
    xray: bool,
    has_metadata: bool,
    duration_model: DurationModel,
    noise_sigma: f64,
    invocations: u64,
    statuses: Statuses,
    cold_starts: u64,
}

#[derive(Serialize)]
struct Statuses {
    success: u64,
    error: u64,
    timeout: u64,
    oom: u64,
    crash: u64,
}

/// Writes `truth.json`.
pub(crate) fn write_truth(
    path: &Path,
    seed: u64,
    start_ms: i64,
    functions: &[FunctionSpec],
    tallies: &[Tally],
    spikes: &[Spike],
    alerts: &[AlertTruth],
) -> Result<(), GenerateError> {
    let truth = Truth {
        seed,
        start_ms,
        duration_model: "median duration_ms of a successful invocation = a_ms + b_ms_mb / min(memory_mb, 1769) + c_ms_mb / min(memory_mb, 10240); each invocation multiplies it by exp(noise_sigma * N(0,1))",
        functions: functions
            .iter()
            .zip(tallies)
            .map(|(function, tally)| FunctionTruth {
                account: &function.account,
                function: &function.name,
                log_group: &function.log_group,
                architecture: function.architecture.as_str(),
                runtime: function.runtime.identifier(),
                log_format: function.log_format.as_str(),
                version: &function.version,
                memory_sizes_mb: &function.memory_sizes_mb,
                timeout_seconds: function.timeout_seconds,
                snap_start: function.snap_start,
                xray: function.xray.is_some(),
                has_metadata: function.has_metadata,
                duration_model: function.model,
                noise_sigma: function.noise_sigma,
                invocations: tally.invocations,
                statuses: Statuses {
                    success: tally.success,
                    error: tally.error,
                    timeout: tally.timeout,
                    oom: tally.oom,
                    crash: tally.crash,
                },
                cold_starts: tally.cold_starts,
            })
            .collect(),
        invocations_file: INVOCATIONS_FILE,
        spikes,
        alerts,
    };
    let file = std::fs::File::create(path).map_err(|source| GenerateError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    let mut writer = BufWriter::new(file);
    serde_json::to_writer_pretty(&mut writer, &truth).map_err(|source| GenerateError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    writer
        .write_all(b"\n")
        .and_then(|()| writer.flush())
        .map_err(|source| GenerateError::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// Writes `metadata.toml`.
pub(crate) fn write_metadata(path: &Path, functions: &[FunctionSpec]) -> Result<(), GenerateError> {
    let mut toml = String::from(
        "# Function metadata for lamlog's local enricher, keyed \"<account>#<function>\".\n\
         # Written by `lamlog generate`; some functions are left out on purpose.\n",
    );
    for function in functions.iter().filter(|function| function.has_metadata) {
        toml.push('\n');
        toml.push('[');
        push_toml_str(
            &mut toml,
            &format!("{}#{}", function.account, function.name),
        );
        toml.push_str("]\n");
        let _ = writeln!(
            toml,
            "architecture = \"{}\"",
            function.architecture.as_str()
        );
        let _ = writeln!(toml, "region = \"{}\"", function.region);
        let _ = writeln!(toml, "runtime = \"{}\"", function.runtime.identifier());
        let _ = writeln!(toml, "timeout_seconds = {}", function.timeout_seconds);
        toml.push_str("tenant = ");
        push_toml_str(&mut toml, function.tenant);
        toml.push('\n');
        if function.custom_log_group {
            toml.push_str("log_group = ");
            push_toml_str(&mut toml, &function.log_group);
            toml.push('\n');
        }
        toml.push_str("tags = { team = ");
        push_toml_str(&mut toml, function.team);
        toml.push_str(" }\n");
    }
    std::fs::write(path, toml).map_err(|source| GenerateError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Appends a TOML basic string.
fn push_toml_str(out: &mut String, text: &str) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            control if control.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}
