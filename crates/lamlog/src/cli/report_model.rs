//! What `lamlog report` shows: one row per function, the totals, and the
//! rows grouped by a dimension (`--by`). The text table, `--json` and the
//! HTML page (`report_html.rs`) all print this.

use lamlog::store::FunctionSummary;
use lamlog_core::rollup::percentile_ms;
use serde::Serialize;

use super::report_group::Grouping;

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    pub account: String,
    pub function: String,
    pub invocations: i64,
    pub error_rate: f64,
    pub timeout_rate: f64,
    pub oom_rate: f64,
    pub crash_rate: f64,
    pub cold_start_rate: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub mean_ms: f64,
    pub max_ms: f64,
    pub memory_size_mb: Option<i64>,
    pub max_memory_used_mb: Option<i64>,
    pub billed_gb_s: f64,
    pub cost_pico_usd: i64,
    pub cost_usd: f64,
    pub observed_minutes: i64,
    /// The projection rounded to pico-dollars, so that sums are exact.
    pub projected_monthly_pico_usd: i64,
    pub projected_monthly_usd: f64,
}

const MINUTES_PER_MONTH: f64 = 30.0 * 24.0 * 60.0;

impl ReportRow {
    /// The report's figures for one function's totals.
    pub fn from_summary(summary: &FunctionSummary) -> ReportRow {
        let invocations = summary.invocations.max(0);
        let rate = |count: i64| {
            if invocations == 0 {
                0.0
            } else {
                count as f64 / invocations as f64
            }
        };
        let observed_minutes = (summary.last_minute_ms - summary.first_minute_ms) / 60_000 + 1;
        let cost_usd = summary.cost_pico_usd as f64 / 1e12;
        let projected_monthly_usd = cost_usd * MINUTES_PER_MONTH / observed_minutes.max(1) as f64;
        let projected_monthly_pico_usd = pico(projected_monthly_usd);
        ReportRow {
            account: summary.account.clone(),
            function: summary.function.clone(),
            invocations,
            error_rate: rate(summary.errors),
            timeout_rate: rate(summary.timeouts),
            oom_rate: rate(summary.ooms),
            crash_rate: rate(summary.crashes),
            cold_start_rate: rate(summary.cold_starts),
            p50_ms: percentile_ms(&summary.histogram, 0.50),
            p95_ms: percentile_ms(&summary.histogram, 0.95),
            p99_ms: percentile_ms(&summary.histogram, 0.99),
            mean_ms: if invocations == 0 {
                0.0
            } else {
                summary.duration_sum_us as f64 / 1000.0 / invocations as f64
            },
            max_ms: summary.duration_max_us as f64 / 1000.0,
            memory_size_mb: summary.memory_size_mb,
            max_memory_used_mb: summary.max_memory_used_mb,
            billed_gb_s: summary.billed_mb_ms as f64 / 1024.0 / 1000.0,
            cost_pico_usd: summary.cost_pico_usd,
            cost_usd,
            observed_minutes,
            projected_monthly_pico_usd,
            projected_monthly_usd: projected_monthly_pico_usd as f64 / 1e12,
        }
    }
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
}

/// USD → pico-dollars, saturating.
fn pico(usd: f64) -> i64 {
    (usd * 1e12).round() as i64
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
) -> Report {
    let functions: Vec<ReportRow> = summaries.iter().map(ReportRow::from_summary).collect();
    let total_cost_pico_usd = saturating_sum(functions.iter().map(|row| row.cost_pico_usd));
    let total_projected_monthly_pico_usd =
        saturating_sum(functions.iter().map(|row| row.projected_monthly_pico_usd));
    Report {
        since_ms,
        total_invocations: saturating_sum(functions.iter().map(|row| row.invocations)),
        total_cost_pico_usd,
        total_cost_usd: total_cost_pico_usd as f64 / 1e12,
        total_projected_monthly_pico_usd,
        total_projected_monthly_usd: total_projected_monthly_pico_usd as f64 / 1e12,
        grouping,
        functions,
    }
}
