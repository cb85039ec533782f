//! Generate: a synthetic, reproducible Lambda workload, written as the files
//! lamlog ingests.
//!
//! `lamlog generate` exists so that every stage can be tested and measured
//! against logs whose truth is known. From a seed it designs a fleet of
//! functions (runtimes, memory sizes, architectures, log formats, a duration
//! model each), runs a simulated clock over their invocations and execution
//! environments, renders the log lines Lambda would write, and packs them into
//! CloudWatch subscription payloads exactly as a subscription filter delivers
//! them:
//!
//! ```text
//! functions.rs ─► workload.rs ─► lines.rs (+ app.rs) ─► write.rs ─► sink.rs
//! fleet design    invocations     log events            payloads    cwl | kinesis | lines files
//!                  (facts)                              (payload.rs: their shape and size)
//!                     └──► truth/: truth.json, truth-invocations.ndjson (from the facts), metadata.toml
//! ```
//!
//! Everything is a pure function of [`GenerateOptions`]: the same options give
//! byte-identical files. Each part draws from its own seeded random stream,
//! so that, for example, the fleet for a seed does not change with the number
//! of invocations, and the three output formats carry the same events.
//!
//! Output is streamed: the workload is never held in memory, only the
//! execution environments and the payloads still waiting to be shipped, so
//! millions of invocations need a few megabytes.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

pub use rates::{BadSpike, Spike};

mod app;
mod escape;
mod functions;
mod lines;
mod payload;
mod rates;
mod report;
mod sink;
mod time;
mod truth;
mod workload;
mod write;

/// 2026-11-01T00:00:00Z, the default time of the first invocation.
pub const DEFAULT_START_MS: i64 = 1_793_491_200_000;

/// How often the packer looks for payloads due for shipping, in simulated time.
const SHIP_CHECK_INTERVAL_MS: i64 = 500;

/// The on-disk shape of the generated logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Lambda Kinesis events (`kinesis-000001.json`), each record's `data`
    /// a base64 gzip'd CloudWatch payload; ≤ 10,000 records and ≤ 6 MB a file.
    Kinesis,
    /// One gzip'd CloudWatch subscription payload per file (`cwl-000001.json.gz`).
    Cwl,
    /// Plain messages, one per line (`lines-000001.log`, cut at ~64 MB).
    /// Internal newlines of multi-line messages become `\r`.
    Lines,
}

/// An output format name that is not one of `kinesis`, `cwl` or `lines`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format `{given}`: expected `kinesis`, `cwl` or `lines`")]
pub struct UnknownFormat {
    /// What was given.
    pub given: String,
}

impl FromStr for OutputFormat {
    type Err = UnknownFormat;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "kinesis" => Ok(OutputFormat::Kinesis),
            "cwl" => Ok(OutputFormat::Cwl),
            "lines" => Ok(OutputFormat::Lines),
            _ => Err(UnknownFormat {
                given: text.to_string(),
            }),
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Number of simulated functions (at least 1).
    pub functions: usize,
    /// Total number of invocations over all functions.
    pub invocations: u64,
    /// Seed of every random choice; the same options give the same bytes.
    pub seed: u64,
    /// The on-disk shape.
    pub format: OutputFormat,
    /// Epoch milliseconds of the first invocation (default 2026-11-01T00:00:00Z).
    pub start_ms: i64,
    /// Number of AWS accounts the functions are spread over (at least 1).
    pub accounts: usize,
    /// A function whose execution environments leak memory.
    pub leak: Option<Leak>,
    /// Spread the invocations over about this many hours, every function's
    /// rate scaled alike (at least 1); `None` keeps the fleet's own rates
    /// (about 30 invocations a second for 20 functions).
    pub hours: Option<u64>,
    /// Functions whose arrival rate is multiplied during one hour.
    pub spikes: Vec<Spike>,
}

/// A memory leak: every invocation of one function leaves memory behind in
/// its execution environment, so each environment's max memory used rises
/// until an invocation is killed for running out of memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leak {
    /// The function's index, in the order of `truth.json` (from 0).
    pub function: usize,
    /// Megabytes left behind per invocation.
    pub mb_per_invocation: u32,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            functions: 20,
            invocations: 10_000,
            seed: 1,
            format: OutputFormat::Kinesis,
            start_ms: DEFAULT_START_MS,
            accounts: 1,
            leak: None,
            hours: None,
            spikes: Vec::new(),
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GenerateSummary {
    /// Log files written (not counting the truth files and `metadata.toml`).
    pub files: usize,
    /// CloudWatch subscription payloads packed. In `kinesis` format one per
    /// Kinesis record, in `cwl` one per file; `lines` packs the same payloads
    /// and then writes only their messages.
    pub records: u64,
    /// CloudWatch log events (lines) written.
    pub log_events: u64,
    /// Invocations simulated.
    pub invocations: u64,
    /// Bytes of the log files.
    pub bytes: u64,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// `functions` was zero.
    #[error("at least one function is needed")]
    NoFunctions,
    /// `accounts` was zero.
    #[error("at least one account is needed")]
    NoAccounts,
    /// The leaking function is not one of the functions.
    #[error("--leak {index}: there are only {functions} functions (numbered from 0)")]
    NoSuchLeakingFunction {
        /// The index given.
        index: usize,
        /// How many functions there are.
        functions: usize,
    },
    /// `hours` was zero.
    #[error("the workload needs at least one hour")]
    NoHours,
    /// A spike names a function the fleet does not have.
    #[error("spike of function {function}: the fleet has functions 0 to {last}")]
    SpikeFunction {
        /// The index given.
        function: usize,
        /// The last index.
        last: usize,
    },
    /// The output directory could not be created.
    #[error("cannot create output directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// A document could not be serialized.
    #[error("cannot serialize {path}: {source}")]
    Json {
        /// The file it was meant for.
        path: PathBuf,
        /// What serde_json said.
        source: serde_json::Error,
    },
}

/// Generates the workload described by `options` into `out_dir` (created if
/// missing): the log files, `truth.json`, `truth-invocations.ndjson` and
/// `metadata.toml`.
///
/// Costly parts are gzip (one stream per payload) and, for `kinesis`, base64;
/// memory stays flat in the number of invocations. Prints nothing.
pub fn generate(
    options: &GenerateOptions,
    out_dir: &Path,
) -> Result<GenerateSummary, GenerateError> {
    if options.functions == 0 {
        return Err(GenerateError::NoFunctions);
    }
    if options.accounts == 0 {
        return Err(GenerateError::NoAccounts);
    }
    if options.hours == Some(0) {
        return Err(GenerateError::NoHours);
    }
    if let Some(spike) = options
        .spikes
        .iter()
        .find(|spike| spike.function >= options.functions)
    {
        return Err(GenerateError::SpikeFunction {
            function: spike.function,
            last: options.functions - 1,
        });
    }
    std::fs::create_dir_all(out_dir).map_err(|source| GenerateError::CreateDir {
        path: out_dir.to_path_buf(),
        source,
    })?;

    let mut fleet = functions::design(options.seed, options.functions, options.accounts);
    if let Some(leak) = options.leak {
        let functions = fleet.len();
        let leaking = fleet
            .get_mut(leak.function)
            .ok_or(GenerateError::NoSuchLeakingFunction {
                index: leak.function,
                functions,
            })?;
        leaking.leak_mb_per_invocation = f64::from(leak.mb_per_invocation);
    }
    let mut simulator = workload::Simulator::new(
        &fleet,
        options.seed,
        options.start_ms,
        options.invocations,
        (options.hours, &options.spikes),
    );
    let mut renderer = lines::Renderer::new(options.seed);
    let arn_account = fleet
        .first()
        .map_or("123456789012", |function| function.account.as_str());
    let mut packer = write::Packer::new(options.format, out_dir, options.seed, arn_account);

    let mut invocation_log = truth::InvocationLog::create(out_dir)?;
    let mut expected_alerts = truth::ExpectedAlerts::default();
    let mut expected_growth = truth::ExpectedGrowth::default();

    let mut events = Vec::with_capacity(32);
    let mut next_ship_check_ms = options.start_ms;
    for _ in 0..options.invocations {
        let invocation = simulator.next_invocation(&fleet);
        if invocation.arrival_ms >= next_ship_check_ms {
            packer.ship_due(invocation.arrival_ms)?;
            next_ship_check_ms = invocation.arrival_ms + SHIP_CHECK_INTERVAL_MS;
        }
        events.clear();
        let function = &fleet[invocation.function_index];
        let report_at_ms = renderer.render(function, &invocation, &mut events);
        for event in events.drain(..) {
            packer.push(&invocation.stream, event)?;
        }
        let invocation_truth = truth::InvocationTruth::new(
            function,
            &invocation,
            report_at_ms,
            invocation_log.prices(),
        );
        expected_alerts.observe(function, &invocation_truth);
        expected_growth.observe(invocation.stream.id, &invocation_truth);
        invocation_log.write(&invocation_truth)?;
    }
    let stats = packer.finish()?;
    invocation_log.finish()?;

    truth::write_truth(
        &out_dir.join("truth.json"),
        options.seed,
        options.start_ms,
        &fleet,
        simulator.tallies(),
        &options.spikes,
        &alerts_of(expected_alerts, expected_growth),
    )?;
    truth::write_metadata(&out_dir.join("metadata.toml"), &fleet)?;
    Ok(GenerateSummary {
        files: stats.files,
        records: stats.records,
        log_events: stats.log_events,
        invocations: options.invocations,
        bytes: stats.bytes,
    })
}

/// Every expected alert, sorted by (kind, account, function, window).
fn alerts_of(
    expected_alerts: truth::ExpectedAlerts,
    expected_growth: truth::ExpectedGrowth,
) -> Vec<truth::AlertTruth> {
    let mut alerts = expected_alerts.finish();
    alerts.extend(expected_growth.finish());
    alerts.sort();
    alerts.dedup();
    alerts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_format_names() {
        assert_eq!("kinesis".parse::<OutputFormat>(), Ok(OutputFormat::Kinesis));
        assert_eq!("CWL".parse::<OutputFormat>(), Ok(OutputFormat::Cwl));
        assert_eq!(" lines".parse::<OutputFormat>(), Ok(OutputFormat::Lines));
        let error = "ndjson".parse::<OutputFormat>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown output format `ndjson`: expected `kinesis`, `cwl` or `lines`"
        );
    }
}
