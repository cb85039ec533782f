//! The figures `lamlog report` shows for a function and for a group of
//! functions alike, and how the text table and the page write them.

use lamlog::store::FunctionSummary;
use lamlog_core::rollup::percentile_ms;
use serde::Serialize;

/// Counts and costs summed over invocations; a group's are the sums of its
/// functions', so every figure of a group is that of all its invocations.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    pub invocations: i64,
    pub errors: i64,
    pub crashes: i64,
    pub timeouts: i64,
    pub ooms: i64,
    pub cold_starts: i64,
    pub billed_mb_ms: i64,
    pub cost_pico_usd: i64,
    /// The projected monthly cost, in pico-dollars.
    pub projected_monthly_pico_usd: i64,
}

impl Totals {
    /// The totals of one function, whose projection is `projected_usd`.
    pub fn of_summary(summary: &FunctionSummary, projected_usd: f64) -> Totals {
        Totals {
            invocations: summary.invocations.max(0),
            errors: summary.errors,
            crashes: summary.crashes,
            timeouts: summary.timeouts,
            ooms: summary.ooms,
            cold_starts: summary.cold_starts,
            billed_mb_ms: summary.billed_mb_ms,
            cost_pico_usd: summary.cost_pico_usd,
            projected_monthly_pico_usd: pico(projected_usd),
        }
    }

    /// Adds `other`, saturating as every rollup sum does.
    pub fn add(&mut self, other: &Totals) {
        let pairs = [
            (&mut self.invocations, other.invocations),
            (&mut self.errors, other.errors),
            (&mut self.crashes, other.crashes),
            (&mut self.timeouts, other.timeouts),
            (&mut self.ooms, other.ooms),
            (&mut self.cold_starts, other.cold_starts),
            (&mut self.billed_mb_ms, other.billed_mb_ms),
            (&mut self.cost_pico_usd, other.cost_pico_usd),
            (
                &mut self.projected_monthly_pico_usd,
                other.projected_monthly_pico_usd,
            ),
        ];
        for (sum, value) in pairs {
            *sum = sum.saturating_add(value);
        }
    }
}

/// USD → pico-dollars, saturating.
fn pico(usd: f64) -> i64 {
    (usd * 1e12).round() as i64
}

/// What a row of the report shows, for a function or a group.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub invocations: i64,
    pub error_rate: f64,
    pub timeout_rate: f64,
    pub oom_rate: f64,
    pub crash_rate: f64,
    pub cold_start_rate: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub billed_gb_s: f64,
    pub cost_pico_usd: i64,
    pub cost_usd: f64,
    /// The projection rounded to pico-dollars, so that sums are exact.
    pub projected_monthly_pico_usd: i64,
    pub projected_monthly_usd: f64,
}

impl Figures {
    /// The figures of `totals` with the duration `histogram`.
    pub fn of(totals: &Totals, histogram: &[(i32, i64)]) -> Figures {
        let rate = |count: i64| {
            if totals.invocations == 0 {
                0.0
            } else {
                count as f64 / totals.invocations as f64
            }
        };
        Figures {
            invocations: totals.invocations,
            error_rate: rate(totals.errors),
            timeout_rate: rate(totals.timeouts),
            oom_rate: rate(totals.ooms),
            crash_rate: rate(totals.crashes),
            cold_start_rate: rate(totals.cold_starts),
            p50_ms: percentile_ms(histogram, 0.50),
            p95_ms: percentile_ms(histogram, 0.95),
            p99_ms: percentile_ms(histogram, 0.99),
            billed_gb_s: totals.billed_mb_ms as f64 / 1024.0 / 1000.0,
            cost_pico_usd: totals.cost_pico_usd,
            cost_usd: totals.cost_pico_usd as f64 / 1e12,
            projected_monthly_pico_usd: totals.projected_monthly_pico_usd,
            projected_monthly_usd: totals.projected_monthly_pico_usd as f64 / 1e12,
        }
    }

    /// Errors (crashes included), timeouts, OOM kills, cold starts, p50,
    /// p95 and p99, as both tables write them.
    pub fn rate_cells(&self) -> [String; 7] {
        let percent = |rate: f64| format!("{:.1}%", rate * 100.0);
        let millis =
            |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1}"));
        [
            percent(self.error_rate + self.crash_rate),
            percent(self.timeout_rate),
            percent(self.oom_rate),
            percent(self.cold_start_rate),
            millis(self.p50_ms),
            millis(self.p95_ms),
            millis(self.p99_ms),
        ]
    }
}
