//! What `lamlog report` shows: one row per function, the totals, and the
//! rows grouped by a dimension (`--by`). The text table, `--json` and the
//! HTML page (`report_html.rs`) all print this.

use lamlog::store::{FunctionSummary, GrowingStream};
use serde::Serialize;

use super::report_figures::{Figures, Totals};
use super::report_group::Grouping;

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    pub account: String,
    pub function: String,
    #[serde(flatten)]
    pub figures: Figures,
    pub mean_ms: f64,
    pub max_ms: f64,
    pub memory_size_mb: Option<i64>,
    pub max_memory_used_mb: Option<i64>,
    pub observed_minutes: i64,
}

/// What the costs hold and what they leave out, as every output says it.
pub const COST_NOTE: &str = "costs are per invocation: requests, duration (at the \
provisioned-concurrency price where it applies), ephemeral storage above 512 MB and \
SnapStart restores; not included: the hourly charge for provisioned concurrency, the \
SnapStart snapshot cache and the free tier, which no log line carries";

const MINUTES_PER_MONTH: f64 = 30.0 * 24.0 * 60.0;

impl ReportRow {
    /// The report's figures for one function's totals.
    pub fn from_summary(summary: &FunctionSummary) -> ReportRow {
        let totals = totals_of(summary);
        let invocations = totals.invocations;
        ReportRow {
            account: summary.account.clone(),
            function: summary.function.clone(),
            figures: Figures::of(&totals, &summary.histogram),
            mean_ms: if invocations == 0 {
                0.0
            } else {
                summary.duration_sum_us as f64 / 1000.0 / invocations as f64
            },
            max_ms: summary.duration_max_us as f64 / 1000.0,
            memory_size_mb: summary.memory_size_mb,
            max_memory_used_mb: summary.max_memory_used_mb,
            observed_minutes: observed_minutes(summary),
        }
    }
}

/// Minutes from the first to the last minute with invocations, both in.
fn observed_minutes(summary: &FunctionSummary) -> i64 {
    (summary.last_minute_ms - summary.first_minute_ms) / 60_000 + 1
}

/// A function's totals, its cost projected to 30 days at the rate seen
/// over its observed minutes.
pub fn totals_of(summary: &FunctionSummary) -> Totals {
    let cost_usd = summary.cost_pico_usd as f64 / 1e12;
    let projected_usd = cost_usd * MINUTES_PER_MONTH / observed_minutes(summary).max(1) as f64;
    Totals::of_summary(summary, projected_usd)
}

/// The whole report, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Report {
    pub since_ms: Option<i64>,
    pub functions: Vec<ReportRow>,
    /// The functions grouped by `--by`, when it names more than functions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grouping: Option<Grouping>,
    pub total_invocations: i64,
    /// The sum of the functions' exact costs, in pico-dollars: every
    /// grouping's groups sum to it exactly.
    pub total_cost_pico_usd: i64,
    pub total_cost_usd: f64,
    /// See `total_cost_pico_usd`.
    pub total_projected_monthly_pico_usd: i64,
    pub total_projected_monthly_usd: f64,
    /// What the costs hold and what they leave out ([`COST_NOTE`]).
    pub cost_note: &'static str,
    /// Log streams whose memory is growing, nearest their limit first.
    pub growing_streams: Vec<GrowingStream>,
}

/// Sums that saturate, as every rollup sum does.
pub fn saturating_sum(values: impl Iterator<Item = i64>) -> i64 {
    values.fold(0i64, i64::saturating_add)
}

/// The report of a set of function totals.
pub fn build_report(
    since_ms: Option<i64>,
    summaries: &[FunctionSummary],
    grouping: Option<Grouping>,
    growing_streams: Vec<GrowingStream>,
) -> Report {
    let functions: Vec<ReportRow> = summaries.iter().map(ReportRow::from_summary).collect();
    let total_cost_pico_usd = saturating_sum(functions.iter().map(|row| row.figures.cost_pico_usd));
    let total_projected_monthly_pico_usd = saturating_sum(
        functions
            .iter()
            .map(|row| row.figures.projected_monthly_pico_usd),
    );
    Report {
        since_ms,
        total_invocations: saturating_sum(functions.iter().map(|row| row.figures.invocations)),
        total_cost_pico_usd,
        total_cost_usd: total_cost_pico_usd as f64 / 1e12,
        total_projected_monthly_pico_usd,
        total_projected_monthly_usd: total_projected_monthly_pico_usd as f64 / 1e12,
        grouping,
        functions,
        cost_note: COST_NOTE,
        growing_streams,
    }
}
