//! The alerts lamlog's default rules must raise on a generated workload.
//!
//! Computed from each invocation's truth as it is simulated, by rules
//! restated here from the README's list (and the defaults of
//! `lamlog_core::judge::AlertRules`), not by calling the judge, so that a
//! broken judge cannot agree with itself:
//!
//! - `timeout`: the invocation timed out;
//! - `out_of_memory`: it ran out of memory;
//! - `memory_pressure`: max memory used ≥ 90 % of the memory size;
//! - `near_timeout`: duration ≥ 80 % of the configured timeout, when it did
//!   not time out. The timeout is configuration only metadata carries, so
//!   this holds only for functions in `metadata.toml`;
//! - `slow_cold_start`: an init or restore longer than 3 s;
//! - `cost_spike`: see [`super::cost_spikes`];
//! - `error_rate`: over 5 % of a window's invocations did not succeed (as far
//!   as the logs tell: `logged_status`), with
//!   at least 20 invocations in it. A window is judged once it is closed: the
//!   function has an invocation at or after the window's end plus the 5-minute
//!   grace period (a workload's last windows stay open).
//!
//! An alert is keyed (kind, account, function, window start), windows being
//! 5 minutes wide (an hour for `cost_spike`) and placed by the invocation's
//! time (its REPORT's). The set is small: at most seven kinds per function
//! and window, whatever the number of invocations.

use std::collections::{BTreeMap, BTreeSet};

use super::super::functions::FunctionSpec;
use super::alert::AlertTruth;
use super::cost_spikes::HourlyCosts;
use super::invocations::InvocationTruth;

const WINDOW_MS: i64 = 5 * 60_000;
const GRACE_MS: i64 = 5 * 60_000;
const MEMORY_PRESSURE_RATIO: f64 = 0.9;
const NEAR_TIMEOUT_RATIO: f64 = 0.8;
const SLOW_COLD_START_MS: f64 = 3000.0;
const ERROR_RATE: f64 = 0.05;
const ERROR_RATE_MIN_INVOCATIONS: u64 = 20;

/// Invocations and failures of one window of one function.
#[derive(Debug, Clone, Copy, Default)]
struct WindowTally {
    invocations: u64,
    failures: u64,
}

/// The expected alerts, gathered one invocation at a time.
#[derive(Debug, Default)]
pub(crate) struct ExpectedAlerts {
    raised: BTreeSet<AlertTruth>,
    /// By (account, function, window start).
    windows: BTreeMap<(String, String, i64), WindowTally>,
    /// The latest invocation time of each (account, function).
    latest_ms: BTreeMap<(String, String), i64>,
    /// For `cost_spike` ([`super::cost_spikes`]).
    hourly_costs: HourlyCosts,
}

impl ExpectedAlerts {
    /// Adds the alerts `truth`, an invocation of `function`, implies.
    pub(crate) fn observe(&mut self, function: &FunctionSpec, truth: &InvocationTruth<'_>) {
        let window_start_ms = truth.start_time_ms.div_euclid(WINDOW_MS) * WINDOW_MS;
        let mut kinds: Vec<&'static str> = Vec::new();
        if truth.status == "timeout" {
            kinds.push("timeout");
        }
        if truth.status == "oom" {
            kinds.push("out_of_memory");
        }
        if f64::from(truth.max_memory_used_mb)
            >= MEMORY_PRESSURE_RATIO * f64::from(truth.memory_size_mb)
        {
            kinds.push("memory_pressure");
        }
        let timeout_ms = f64::from(function.timeout_seconds) * 1000.0;
        if function.has_metadata
            && truth.status != "timeout"
            && truth.duration_ms >= NEAR_TIMEOUT_RATIO * timeout_ms
        {
            kinds.push("near_timeout");
        }
        let cold_ms = truth
            .init_duration_ms
            .or(truth.restore_duration_ms)
            .unwrap_or(0.0);
        if cold_ms > SLOW_COLD_START_MS {
            kinds.push("slow_cold_start");
        }
        for kind in kinds {
            self.raised.insert(AlertTruth {
                kind,
                account: truth.account.to_owned(),
                function: truth.function.to_owned(),
                window_start_ms,
            });
        }

        let tally = self
            .windows
            .entry((
                truth.account.to_owned(),
                truth.function.to_owned(),
                window_start_ms,
            ))
            .or_default();
        tally.invocations += 1;
        tally.failures += u64::from(truth.logged_status != "success");
        let latest = self
            .latest_ms
            .entry((truth.account.to_owned(), truth.function.to_owned()))
            .or_insert(truth.start_time_ms);
        *latest = (*latest).max(truth.start_time_ms);
        self.hourly_costs.observe(truth);
    }

    /// Every expected alert, sorted by (kind, account, function, window).
    pub(crate) fn finish(self) -> Vec<AlertTruth> {
        let mut raised = self.raised;
        raised.extend(self.hourly_costs.spikes());
        for ((account, function, window_start_ms), tally) in self.windows {
            let latest_ms = self
                .latest_ms
                .get(&(account.clone(), function.clone()))
                .copied()
                .unwrap_or(i64::MIN);
            let closed = latest_ms >= window_start_ms + WINDOW_MS + GRACE_MS;
            let over = tally.invocations >= ERROR_RATE_MIN_INVOCATIONS
                && tally.failures as f64 > ERROR_RATE * tally.invocations as f64;
            if closed && over {
                raised.insert(AlertTruth {
                    kind: "error_rate",
                    account,
                    function,
                    window_start_ms,
                });
            }
        }
        raised.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::functions::design;
    use super::*;

    fn truth<'a>(
        function: &'a FunctionSpec,
        at_ms: i64,
        status: &'static str,
    ) -> InvocationTruth<'a> {
        InvocationTruth {
            account: &function.account,
            function: &function.name,
            request_id: "r",
            log_group: &function.log_group,
            log_format: "text",
            architecture: "x86_64",
            status,
            logged_status: status,
            cold_start: false,
            start_time_ms: at_ms,
            duration_ms: 10.0,
            billed_duration_ms: 10,
            memory_size_mb: 1000,
            max_memory_used_mb: 100,
            init_duration_ms: None,
            restore_duration_ms: None,
            billed_restore_duration_ms: None,
            cost_usd: 0.0,
        }
    }

    #[test]
    fn invocation_rules_at_their_thresholds() {
        let mut function = design(1, 1, 1).remove(0);
        function.timeout_seconds = 10;
        function.has_metadata = true;
        let mut expected = ExpectedAlerts::default();
        let at_ms = 1_793_491_230_000;
        let mut pressed = truth(&function, at_ms, "success");
        pressed.max_memory_used_mb = 900;
        pressed.duration_ms = 8000.0;
        pressed.init_duration_ms = Some(3000.01);
        expected.observe(&function, &pressed);
        let mut relaxed = truth(&function, at_ms + WINDOW_MS, "oom");
        relaxed.max_memory_used_mb = 899;
        relaxed.duration_ms = 7999.99;
        relaxed.init_duration_ms = Some(3000.0);
        expected.observe(&function, &relaxed);
        let kinds: Vec<(&str, i64)> = expected
            .finish()
            .iter()
            .map(|alert| (alert.kind, alert.window_start_ms))
            .collect();
        let window = 1_793_491_200_000;
        assert_eq!(
            kinds,
            [
                ("memory_pressure", window),
                ("near_timeout", window),
                ("out_of_memory", window + WINDOW_MS),
                ("slow_cold_start", window),
            ]
        );
    }

    #[test]
    fn error_rate_only_in_closed_windows_over_the_threshold() {
        let function = design(1, 1, 1).remove(0);
        let mut expected = ExpectedAlerts::default();
        let window = 1_793_491_200_000;
        // Window 0: 2 failures in 20 (10 %); window 1: 1 in 20 (5 %, not
        // over); window 2: 2 in 20 but never closed.
        for (index, failures) in [2, 1, 2].into_iter().enumerate() {
            for call in 0..20 {
                let status = if call < failures { "error" } else { "success" };
                let at_ms = window + index as i64 * WINDOW_MS + call;
                expected.observe(&function, &truth(&function, at_ms, status));
            }
        }
        // Closes windows 0 and 1 only.
        expected.observe(
            &function,
            &truth(&function, window + 3 * WINDOW_MS, "success"),
        );
        let error_rate: Vec<i64> = expected
            .finish()
            .iter()
            .filter(|alert| alert.kind == "error_rate")
            .map(|alert| alert.window_start_ms)
            .collect();
        assert_eq!(error_rate, [window]);
    }
}
