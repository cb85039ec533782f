//! Projected production cost: what running lamlog itself would cost a month.
//!
//! The arithmetic, step by step (BENCHMARKS.md repeats it with the figures):
//!
//! 1. invocations a month = log lines a day × 30 ÷ log lines per batch;
//! 2. billed ms per batch = ⌈CPU ms per batch measured on one full core ×
//!    1,769 ÷ memory MB⌉ (+ the batch's I/O wait, in the variant that counts
//!    it): Lambda gives a function CPU in proportion to its memory, one vCPU
//!    at 1,769 MB, so at 128 MB it gets 128/1,769 of a core and CPU-bound work
//!    takes 13.8 times as long as on a full core;
//! 3. GB-s a month = memory GB × billed s per batch × invocations;
//! 4. cost = GB-s × price per GB-s + invocations × price per request.
//!
//! What it leaves out: the free tier (small here), tiered GB-s discounts
//! (they start at 7.5 billion GB-s a month, far above this), and the
//! difference in speed between this machine's core and a Graviton core.

use serde::Serialize;

/// Memory at which a function has one full vCPU.
pub const FULL_VCPU_MB: f64 = 1769.0;
/// arm64 duration price, first tier, USD per GB-s (us-east-1).
pub const ARM64_USD_PER_GB_S: f64 = 0.000_013_333_4;
/// x86_64 duration price, first tier, USD per GB-s (us-east-1).
pub const X86_USD_PER_GB_S: f64 = 0.000_016_666_7;
/// The projection's volume: the 10 billion log lines a day.
pub const LINES_PER_DAY: f64 = 10e9;
/// Request price, USD per request ($0.20 per million).
pub const USD_PER_REQUEST: f64 = 0.20 / 1_000_000.0;
/// Days in the billing month the case study and AWS examples use.
pub const DAYS_PER_MONTH: f64 = 30.0;
/// The Epsagon case study's Lambda line, before and after, USD a month.
pub const CASE_STUDY_USD: (f64, f64) = (1850.0, 350.0);

/// What the projection starts from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CostInputs {
    /// Log lines a day through the pipeline.
    pub lines_per_day: f64,
    /// Log lines in one batch (measured on the generated workload).
    pub lines_per_batch: f64,
    /// CPU time of one batch on one full core, ms (measured).
    pub cpu_ms_per_batch: f64,
    /// Time the batch spent waiting on PostgreSQL and DynamoDB, ms (measured:
    /// wall minus CPU); not scaled by the CPU share.
    pub io_wait_ms_per_batch: f64,
    /// The function's memory, MB.
    pub memory_mb: f64,
    /// USD per GB-s.
    pub usd_per_gb_s: f64,
    /// USD per request.
    pub usd_per_request: f64,
}

/// The monthly projection.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CostProjection {
    /// Invocations (batches) a month.
    pub invocations_per_month: f64,
    /// Billed ms of one batch (rounded up to 1 ms).
    pub billed_ms_per_batch: f64,
    /// GB-s a month.
    pub gb_s_per_month: f64,
    /// Duration cost, USD a month.
    pub compute_usd: f64,
    /// Request cost, USD a month.
    pub requests_usd: f64,
    /// The sum.
    pub total_usd: f64,
}

/// The duration price of an architecture as the template names it
/// (`arm64` or `x86_64`), USD per GB-s.
pub fn usd_per_gb_s(architecture: &str) -> f64 {
    if architecture == "x86_64" {
        X86_USD_PER_GB_S
    } else {
        ARM64_USD_PER_GB_S
    }
}

/// The request fee a month: one request per batch, so `lines_per_day` ÷
/// `lines_per_batch` (lines per record × records per batch) requests a day,
/// × 30 days, × the price of a request ($0.20 per million).
pub fn request_fee_usd(lines_per_day: f64, lines_per_batch: f64, usd_per_request: f64) -> f64 {
    lines_per_day / lines_per_batch * DAYS_PER_MONTH * usd_per_request
}

impl CostInputs {
    /// The figures of the issue: 10 billion lines a day, 128 MB, arm64.
    #[cfg(test)]
    pub fn at_scale(lines_per_batch: f64, cpu_ms_per_batch: f64, io_wait_ms: f64) -> CostInputs {
        CostInputs::deployed(
            lines_per_batch,
            cpu_ms_per_batch,
            io_wait_ms,
            128.0,
            "arm64",
        )
    }

    /// 10 billion lines a day through a function of `memory_mb` on
    /// `architecture` (`arm64` or `x86_64`).
    pub fn deployed(
        lines_per_batch: f64,
        cpu_ms_per_batch: f64,
        io_wait_ms: f64,
        memory_mb: f64,
        architecture: &str,
    ) -> CostInputs {
        CostInputs {
            lines_per_day: LINES_PER_DAY,
            lines_per_batch,
            cpu_ms_per_batch,
            io_wait_ms_per_batch: io_wait_ms,
            memory_mb,
            usd_per_gb_s: usd_per_gb_s(architecture),
            usd_per_request: USD_PER_REQUEST,
        }
    }

    /// CPU time per log line on one full core, µs.
    pub fn cpu_us_per_line(&self) -> f64 {
        self.cpu_ms_per_batch * 1000.0 / self.lines_per_batch
    }

    /// How much longer CPU-bound work takes at this memory size than on a
    /// full core (1 at 1,769 MB and above).
    pub fn cpu_slowdown(&self) -> f64 {
        (FULL_VCPU_MB / self.memory_mb).max(1.0)
    }

    /// The projection counting CPU time only (`with_io_wait = false`), or CPU
    /// time plus the measured I/O wait.
    pub fn project(&self, with_io_wait: bool) -> CostProjection {
        let invocations_per_month = self.lines_per_day * DAYS_PER_MONTH / self.lines_per_batch;
        let io_wait_ms = if with_io_wait {
            self.io_wait_ms_per_batch.max(0.0)
        } else {
            0.0
        };
        let billed_ms_per_batch = (self.cpu_ms_per_batch * self.cpu_slowdown() + io_wait_ms).ceil();
        let gb_s_per_month =
            self.memory_mb / 1024.0 * billed_ms_per_batch / 1000.0 * invocations_per_month;
        let compute_usd = gb_s_per_month * self.usd_per_gb_s;
        let requests_usd = request_fee_usd(
            self.lines_per_day,
            self.lines_per_batch,
            self.usd_per_request,
        );
        CostProjection {
            invocations_per_month,
            billed_ms_per_batch,
            gb_s_per_month,
            compute_usd,
            requests_usd,
            total_usd: compute_usd + requests_usd,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(left: f64, right: f64) -> bool {
        (left - right).abs() <= 1e-9 * right.abs().max(1.0)
    }

    #[test]
    fn at_128_mb_cpu_time_is_scaled_by_1769_over_128() {
        let inputs = CostInputs::at_scale(1000.0, 128.0, 0.0);
        assert!(close(inputs.cpu_slowdown(), 1769.0 / 128.0));
        // 128 ms on a full core → 1,769 ms at 128 MB, exactly.
        assert_eq!(inputs.project(false).billed_ms_per_batch, 1769.0);
    }

    #[test]
    fn worked_example_by_hand() {
        // 10e9 lines/day in batches of 2,000 lines: 150 M invocations a month.
        // 10 ms of CPU → ⌈138.203…⌉ = 139 ms billed at 128 MB.
        // GB-s = 0.125 × 0.139 × 150e6 = 2,606,250 → × $0.0000133334 = $34.75.
        // Requests: 150 × $0.20 = $30.
        let projection = CostInputs::at_scale(2000.0, 10.0, 0.0).project(false);
        assert!(close(projection.invocations_per_month, 150e6));
        assert_eq!(projection.billed_ms_per_batch, 139.0);
        assert!(close(projection.gb_s_per_month, 2_606_250.0));
        assert!(close(projection.compute_usd, 2_606_250.0 * 0.000_013_333_4));
        assert!(close(projection.requests_usd, 30.0));
        assert!(close(
            projection.total_usd,
            projection.compute_usd + projection.requests_usd
        ));
    }

    #[test]
    fn io_wait_is_added_unscaled_only_when_asked() {
        let inputs = CostInputs::at_scale(2000.0, 10.0, 20.0);
        assert_eq!(inputs.project(false).billed_ms_per_batch, 139.0);
        assert_eq!(inputs.project(true).billed_ms_per_batch, 159.0);
    }

    #[test]
    fn request_fee_is_one_request_per_batch() {
        // 10e9 lines/day ÷ (10 lines a record × 1,000 records a batch) = 1 M
        // requests a day; × 30 × $0.20 per million = $6.00.
        assert!(close(
            request_fee_usd(10e9, 10.0 * 1000.0, USD_PER_REQUEST),
            6.0
        ));
        // The case study's batches: 2,874 lines in 200 records → $20.88.
        let fee = request_fee_usd(10e9, 2874.0 / 200.0 * 200.0, USD_PER_REQUEST);
        assert!((fee - 20.876).abs() < 0.001, "{fee}");
        // The projection charges the same fee.
        let projection = CostInputs::at_scale(2874.0, 15.1, 0.0).project(false);
        assert!(close(projection.requests_usd, fee));
    }

    #[test]
    fn the_architecture_sets_the_duration_price() {
        assert_eq!(usd_per_gb_s("arm64"), 0.000_013_333_4);
        assert_eq!(usd_per_gb_s("x86_64"), 0.000_016_666_7);
        let arm = CostInputs::deployed(2000.0, 10.0, 0.0, 128.0, "arm64").project(false);
        let x86 = CostInputs::deployed(2000.0, 10.0, 0.0, 128.0, "x86_64").project(false);
        assert!(close(
            x86.compute_usd / arm.compute_usd,
            0.000_016_666_7 / 0.000_013_333_4
        ));
        assert!(close(
            CostInputs::at_scale(2000.0, 10.0, 0.0).cpu_us_per_line(),
            5.0
        ));
    }

    #[test]
    fn at_or_above_one_vcpu_there_is_no_slowdown() {
        let mut inputs = CostInputs::at_scale(2000.0, 10.0, 0.0);
        inputs.memory_mb = 3008.0;
        assert_eq!(inputs.cpu_slowdown(), 1.0);
    }
}
