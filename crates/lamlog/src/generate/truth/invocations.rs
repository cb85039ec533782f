//! The truth of each invocation: `truth-invocations.ndjson`.
//!
//! One JSON object a line, in simulation order, keyed by (account, function,
//! request id): what the pipeline must store for that invocation. Every
//! figure comes from the generator's own variables as it simulates and renders
//! the invocation, never from the lines it wrote:
//!
//! - `status` and `cold_start` are the simulator's draws; `logged_status` is
//!   what the logs give evidence of, which differs in one case: a function
//!   error of a text-format Python or Java function whose REPORT does not
//!   print `Status: error` leaves no line naming its request (see
//!   [`error_line_names_request`]), so lamlog can only see a success;
//! - `duration_ms`, `init_duration_ms` and `restore_duration_ms` are the
//!   simulated times rounded as the function's log format prints them (two
//!   decimals in text, three in JSON), which is all a reader of the logs can
//!   know; `billed_duration_ms` is computed from them as Lambda does
//!   ([`Figures::of`], the one place the REPORT takes its figures from);
//! - `start_time_ms` is the time of the REPORT event, which lamlog gives the
//!   invocation;
//! - `cost_usd` is the AWS formula on those figures: request fee + memory in
//!   GB × billed seconds × the list price per GB-second of the function's real
//!   architecture ([`lamlog_core::price`] with [`PriceTable::list`]; a unit
//!   test checks it against hand-written arithmetic). SnapStart's restore
//!   charges are not in it, as lamlog's pricing leaves them out.
//!
//! Written as it goes, so a run of millions of invocations holds none of them
//! in memory; the file costs about 450 bytes an invocation.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use lamlog_core::meta::Architecture as PricedArchitecture;
use lamlog_core::price::{price, Billing, PriceTable, Prices};
use serde::Serialize;

use super::super::app::error_line_names_request;
use super::super::functions::{Architecture, FunctionSpec};
use super::super::report::{report_prints_status, Figures};
use super::super::workload::{ColdStart, Invocation, Status};
use super::super::GenerateError;

/// The file name, next to `truth.json`.
pub(crate) const INVOCATIONS_FILE: &str = "truth-invocations.ndjson";

/// What the pipeline must store for one invocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct InvocationTruth<'a> {
    pub(crate) account: &'a str,
    pub(crate) function: &'a str,
    pub(crate) request_id: &'a str,
    pub(crate) log_group: &'a str,
    pub(crate) log_format: &'static str,
    pub(crate) architecture: &'static str,
    pub(crate) status: &'static str,
    pub(crate) logged_status: &'static str,
    pub(crate) cold_start: bool,
    pub(crate) start_time_ms: i64,
    pub(crate) duration_ms: f64,
    pub(crate) billed_duration_ms: u64,
    pub(crate) memory_size_mb: u32,
    pub(crate) max_memory_used_mb: u32,
    pub(crate) init_duration_ms: Option<f64>,
    pub(crate) restore_duration_ms: Option<f64>,
    pub(crate) billed_restore_duration_ms: Option<u64>,
    pub(crate) cost_usd: f64,
}

impl<'a> InvocationTruth<'a> {
    /// The truth of `invocation` of `function`, whose REPORT was rendered at
    /// `report_at_ms`, priced with `prices`.
    pub(crate) fn new(
        function: &'a FunctionSpec,
        invocation: &'a Invocation,
        report_at_ms: i64,
        prices: &Prices,
    ) -> InvocationTruth<'a> {
        let figures = Figures::of(function, invocation);
        let precision = figures.precision;
        let printed = |milliseconds: f64| precision.ms(precision.units(milliseconds));
        let (init_duration_ms, restore_duration_ms, billed_restore_duration_ms) =
            match invocation.cold_start {
                Some(ColdStart::Init { init_ms }) => (Some(printed(init_ms)), None, None),
                Some(ColdStart::Restore {
                    restore_ms,
                    billed_restore_ms,
                }) => (None, Some(printed(restore_ms)), Some(billed_restore_ms)),
                None => (None, None, None),
            };
        let duration_ms = precision.ms(figures.duration_units);
        let priced_architecture = match function.architecture {
            Architecture::X86_64 => PricedArchitecture::X86_64,
            Architecture::Arm64 => PricedArchitecture::Arm64,
        };
        let cost = price(
            invocation.memory_size_mb,
            duration_ms,
            Some(figures.billed_duration_ms),
            priced_architecture,
            prices,
            &Billing::default(),
        );
        InvocationTruth {
            account: &function.account,
            function: &function.name,
            request_id: &invocation.request_id,
            log_group: &function.log_group,
            log_format: function.log_format.as_str(),
            architecture: function.architecture.as_str(),
            status: status_name(invocation.status),
            logged_status: status_name(logged_status(function, invocation.status)),
            cold_start: invocation.cold_start.is_some(),
            start_time_ms: report_at_ms,
            duration_ms,
            billed_duration_ms: figures.billed_duration_ms,
            memory_size_mb: invocation.memory_size_mb,
            max_memory_used_mb: invocation.max_memory_used_mb,
            init_duration_ms,
            restore_duration_ms,
            billed_restore_duration_ms,
            cost_usd: cost.total_usd,
        }
    }
}

/// The status the logs of an invocation that ended in `status` show.
fn logged_status(function: &FunctionSpec, status: Status) -> Status {
    let shown = status != Status::Error
        || report_prints_status(function, status)
        || error_line_names_request(function);
    if shown {
        status
    } else {
        Status::Success
    }
}

/// The status names of lamlog's data model, in the truth's own words.
fn status_name(status: Status) -> &'static str {
    match status {
        Status::Success => "success",
        Status::Error => "error",
        Status::Crash => "crash",
        Status::Oom => "oom",
        Status::Timeout => "timeout",
    }
}

/// The open `truth-invocations.ndjson`, and the prices its costs use.
pub(crate) struct InvocationLog {
    path: PathBuf,
    writer: BufWriter<File>,
    prices: Prices,
}

impl InvocationLog {
    /// Creates (truncates) the file in `out_dir`.
    pub(crate) fn create(out_dir: &Path) -> Result<InvocationLog, GenerateError> {
        let path = out_dir.join(INVOCATIONS_FILE);
        let file = File::create(&path).map_err(|source| GenerateError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(InvocationLog {
            path,
            writer: BufWriter::with_capacity(256 * 1024, file),
            prices: PriceTable::list().default,
        })
    }

    /// The prices the costs are computed with: AWS list prices, US East.
    pub(crate) fn prices(&self) -> &Prices {
        &self.prices
    }

    /// Appends one line.
    pub(crate) fn write(&mut self, truth: &InvocationTruth<'_>) -> Result<(), GenerateError> {
        serde_json::to_writer(&mut self.writer, truth).map_err(|source| GenerateError::Json {
            path: self.path.clone(),
            source,
        })?;
        self.writer
            .write_all(b"\n")
            .map_err(|source| GenerateError::Write {
                path: self.path.clone(),
                source,
            })
    }

    /// Flushes the file.
    pub(crate) fn finish(mut self) -> Result<(), GenerateError> {
        self.writer.flush().map_err(|source| GenerateError::Write {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::super::super::functions::{design, LogFormat, Runtime};
    use super::super::super::workload::StreamInfo;
    use super::*;

    /// AWS's published list prices (aws.amazon.com/lambda/pricing, US East,
    /// first tier), typed here again rather than read from the price table.
    /// $0.20 per million requests.
    const REQUEST_USD: f64 = 0.000_000_2;
    const X86_USD_PER_GB_S: f64 = 0.000_016_666_7;
    const ARM_USD_PER_GB_S: f64 = 0.000_013_333_4;

    fn invocation(
        memory_size_mb: u32,
        duration_ms: f64,
        cold_start: Option<ColdStart>,
    ) -> Invocation {
        Invocation {
            function_index: 0,
            stream: Rc::new(StreamInfo {
                id: 0,
                owner: "123456789012".into(),
                log_group: "/aws/lambda/f".into(),
                log_stream: "2026/11/01/[$LATEST]0123456789abcdef0123456789abcdef".into(),
                partition_key: "0123456789abcdef0123456789abcdef".into(),
            }),
            request_id: "8e3f5a2c-0d1b-4c6e-9f7a-1b2c3d4e5f60".into(),
            arrival_ms: 1_793_491_200_000,
            cold_start,
            duration_ms,
            memory_size_mb,
            max_memory_used_mb: 60,
            status: Status::Success,
            trace: None,
        }
    }

    fn function(runtime: Runtime, architecture: Architecture, format: LogFormat) -> FunctionSpec {
        let mut function = design(1, 1, 1).remove(0);
        function.runtime = runtime;
        function.architecture = architecture;
        function.log_format = format;
        function
    }

    fn truth_of(function: &FunctionSpec, invocation: &Invocation) -> (f64, u64, f64) {
        let prices = PriceTable::list().default;
        let truth = InvocationTruth::new(function, invocation, 1_793_491_200_500, &prices);
        (truth.duration_ms, truth.billed_duration_ms, truth.cost_usd)
    }

    fn assert_close(found: f64, expected: f64) {
        assert!(
            (found - expected).abs() <= expected * 1e-12,
            "{found} vs {expected}"
        );
    }

    #[test]
    fn cost_is_request_fee_plus_gb_seconds_at_the_list_price() {
        // 128 MB, x86_64, text: 1599.996 ms prints as 1600.00 and bills 1600 ms.
        let x86 = function(Runtime::Python, Architecture::X86_64, LogFormat::Text);
        let (duration_ms, billed_ms, cost_usd) = truth_of(&x86, &invocation(128, 1599.996, None));
        assert_eq!(duration_ms, 1600.0);
        assert_eq!(billed_ms, 1600);
        assert_close(cost_usd, REQUEST_USD + 0.125 * 1.6 * X86_USD_PER_GB_S);

        // 1024 MB, arm64, JSON: 99.0004 ms prints as 99.0 and bills 99 ms.
        let arm = function(Runtime::Node, Architecture::Arm64, LogFormat::Json);
        let (duration_ms, billed_ms, cost_usd) = truth_of(&arm, &invocation(1024, 99.0004, None));
        assert_eq!(duration_ms, 99.0);
        assert_eq!(billed_ms, 99);
        assert_close(cost_usd, REQUEST_USD + 1.0 * 0.099 * ARM_USD_PER_GB_S);
    }

    #[test]
    fn custom_runtime_cold_start_bills_its_printed_init() {
        // 256 MB, arm64, JSON: 50.004 ms + an init of 20.25 ms = 70.254 ms,
        // billed 71 ms; a managed runtime's init is not billed.
        let rust = function(Runtime::Rust, Architecture::Arm64, LogFormat::Json);
        let cold = Some(ColdStart::Init { init_ms: 20.25 });
        let prices = PriceTable::list().default;
        let call = invocation(256, 50.004, cold);
        let truth = InvocationTruth::new(&rust, &call, 1_793_491_200_500, &prices);
        assert_eq!(truth.billed_duration_ms, 71);
        assert_eq!(truth.init_duration_ms, Some(20.25));
        assert!(truth.cold_start);
        assert_close(
            truth.cost_usd,
            REQUEST_USD + 0.25 * 0.071 * ARM_USD_PER_GB_S,
        );

        let python = function(Runtime::Python, Architecture::X86_64, LogFormat::Text);
        let (_, billed_ms, cost_usd) = truth_of(&python, &call);
        assert_eq!(billed_ms, 50, "50.004 ms prints as 50.00 in text");
        assert_close(cost_usd, REQUEST_USD + 0.25 * 0.050 * X86_USD_PER_GB_S);
    }
}
