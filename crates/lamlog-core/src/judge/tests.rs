//! Each alert rule at, just below and just above its threshold.
//!
//! Every test names the alert it expects by kind, severity and dedup key, and
//! works those out from its own inputs: the window start by plain remainder
//! arithmetic, the key from the kind's documented name, and whether a
//! threshold is crossed by integer arithmetic where the rule's inputs are
//! integers. Nothing expected is copied from what the code produced.

use super::*;
use crate::assemble::{InvocationKey, Status};
use crate::meta::AlertThresholds;

const ACCOUNT: &str = "123456789012";
const FUNCTION: &str = "orders";
/// An instant well inside a window of the default rules (five minutes).
const TIME_MS: i64 = 1_700_000_123_456;

/// What a test expects of one alert.
#[derive(Debug, PartialEq)]
struct Expected {
    kind: AlertKind,
    name: &'static str,
    severity: Severity,
    dedup_key: String,
}

/// The window start of `time_ms` for windows of `window_ms`, by remainder.
fn window_of(time_ms: i64, window_ms: i64) -> i64 {
    time_ms - time_ms.rem_euclid(window_ms)
}

fn expected(
    kind: AlertKind,
    name: &'static str,
    severity: Severity,
    window_start_ms: i64,
) -> Expected {
    Expected {
        kind,
        name,
        severity,
        dedup_key: format!("{name}|{ACCOUNT}|{FUNCTION}|{window_start_ms}"),
    }
}

/// What the alerts say, in the shape of [`Expected`]; the name is the
/// kind's serialised name, the one stores and subscribers see.
fn seen(alerts: &[Alert]) -> Vec<Expected> {
    alerts
        .iter()
        .map(|alert| {
            let serialised = serde_json::to_value(alert.kind).expect("a kind serialises");
            assert_eq!(serialised, alert.kind.as_str());
            Expected {
                kind: alert.kind,
                name: alert.kind.as_str(),
                severity: alert.severity,
                dedup_key: alert.dedup_key.clone(),
            }
        })
        .collect()
}

/// A reported invocation at `time_ms` with quiet figures: 100 ms of a
/// 10 s timeout, 10 of 1,000 MB, warm, successful.
fn reported(time_ms: i64) -> Invocation {
    let mut invocation = Invocation::new(
        InvocationKey {
            account: ACCOUNT.to_owned(),
            function: FUNCTION.to_owned(),
            request_id: "r-1".to_owned(),
        },
        "/aws/lambda/orders",
    );
    invocation.start_time_ms = Some(time_ms);
    invocation.duration_ms = Some(100.0);
    invocation.billed_duration_ms = Some(100);
    invocation.memory_size_mb = Some(1000);
    invocation.max_memory_used_mb = Some(10);
    invocation
}

fn meta_with_timeout(timeout_seconds: f64) -> FunctionMeta {
    FunctionMeta {
        timeout_seconds: Some(timeout_seconds),
        ..FunctionMeta::default()
    }
}

fn judge(invocation: &Invocation, meta: Option<&FunctionMeta>) -> Vec<Expected> {
    seen(&invocation_alerts(invocation, meta, &AlertRules::default()))
}

fn window() -> i64 {
    window_of(TIME_MS, AlertRules::default().window_ms)
}

#[test]
fn quiet_invocations_raise_nothing() {
    assert_eq!(judge(&reported(TIME_MS), None), []);
    assert_eq!(
        judge(&reported(TIME_MS), Some(&meta_with_timeout(10.0))),
        []
    );
}

#[test]
fn timeout_is_critical_whether_or_not_the_timeout_is_known() {
    let mut timed_out = reported(TIME_MS);
    timed_out.raise(Status::Timeout, Some("Sandbox.Timedout"));
    timed_out.timeout_seconds = Some(3.0);
    let want = vec![expected(
        AlertKind::Timeout,
        "timeout",
        Severity::Critical,
        window(),
    )];
    assert_eq!(judge(&timed_out, None), want);
    // A timed-out invocation ran its whole timeout: not also "near" it.
    timed_out.duration_ms = Some(10_000.0);
    assert_eq!(judge(&timed_out, Some(&meta_with_timeout(10.0))), want);
    // Just below: every status short of timeout raises no timeout alert.
    for status in [Status::Success, Status::Error, Status::Crash] {
        let mut other = reported(TIME_MS);
        other.raise(status, None);
        assert_eq!(judge(&other, None), [], "{status:?}");
    }
}

#[test]
fn out_of_memory_is_critical() {
    let mut out_of_memory = reported(TIME_MS);
    out_of_memory.raise(Status::Oom, Some("Runtime.OutOfMemory"));
    assert_eq!(
        judge(&out_of_memory, None),
        [expected(
            AlertKind::OutOfMemory,
            "out_of_memory",
            Severity::Critical,
            window()
        )]
    );
    // Oom sits between crash and timeout: a timeout on top keeps both.
    out_of_memory.raise(Status::Timeout, None);
    assert_eq!(
        judge(&out_of_memory, None),
        [
            expected(AlertKind::Timeout, "timeout", Severity::Critical, window()),
            expected(
                AlertKind::OutOfMemory,
                "out_of_memory",
                Severity::Critical,
                window()
            ),
        ]
    );
}

#[test]
fn memory_pressure_at_below_and_above_ninety_percent() {
    let size_mb = 1000u32;
    // The rule's default threshold is 90 %: used × 10 ≥ size × 9.
    let at_mb = size_mb * 9 / 10;
    for (used_mb, label) in [(at_mb - 1, "below"), (at_mb, "at"), (at_mb + 1, "above")] {
        let mut invocation = reported(TIME_MS);
        invocation.memory_size_mb = Some(size_mb);
        invocation.max_memory_used_mb = Some(used_mb);
        let crosses = u64::from(used_mb) * 10 >= u64::from(size_mb) * 9;
        let want: Vec<Expected> = crosses
            .then(|| {
                expected(
                    AlertKind::MemoryPressure,
                    "memory_pressure",
                    Severity::Warning,
                    window(),
                )
            })
            .into_iter()
            .collect();
        assert_eq!(judge(&invocation, None), want, "{label}");
    }
}

#[test]
fn memory_pressure_follows_a_function_override() {
    let meta = FunctionMeta {
        alerts: AlertThresholds {
            memory_used_ratio: Some(0.5),
            ..AlertThresholds::default()
        },
        ..FunctionMeta::default()
    };
    let mut invocation = reported(TIME_MS);
    invocation.max_memory_used_mb = Some(499);
    assert_eq!(judge(&invocation, Some(&meta)), []);
    invocation.max_memory_used_mb = Some(500);
    assert_eq!(
        judge(&invocation, Some(&meta)),
        [expected(
            AlertKind::MemoryPressure,
            "memory_pressure",
            Severity::Warning,
            window()
        )]
    );
}

#[test]
fn near_timeout_at_below_and_above_eighty_percent() {
    let timeout_seconds = 10.0;
    // 80 % of a 10 s timeout is 8,000 ms.
    let at_ms = 8_000.0;
    for (duration_ms, crosses, label) in [
        (at_ms - 0.01, false, "below"),
        (at_ms, true, "at"),
        (at_ms + 0.01, true, "above"),
    ] {
        let mut invocation = reported(TIME_MS);
        invocation.duration_ms = Some(duration_ms);
        let want: Vec<Expected> = crosses
            .then(|| {
                expected(
                    AlertKind::NearTimeout,
                    "near_timeout",
                    Severity::Warning,
                    window(),
                )
            })
            .into_iter()
            .collect();
        let meta = meta_with_timeout(timeout_seconds);
        assert_eq!(judge(&invocation, Some(&meta)), want, "{label}");
        // Without a configured timeout there is nothing to be near.
        assert_eq!(judge(&invocation, None), [], "{label} without metadata");
    }
}

#[test]
fn slow_cold_start_at_below_and_above_the_threshold() {
    let threshold_ms = AlertRules::default().cold_start_ms;
    for (cold_ms, crosses, label) in [
        (threshold_ms - 0.01, false, "below"),
        // The rule is "exceeds": exactly at the threshold is not slow.
        (threshold_ms, false, "at"),
        (threshold_ms + 0.01, true, "above"),
    ] {
        let want: Vec<Expected> = crosses
            .then(|| {
                expected(
                    AlertKind::SlowColdStart,
                    "slow_cold_start",
                    Severity::Warning,
                    window(),
                )
            })
            .into_iter()
            .collect();
        let mut init = reported(TIME_MS);
        init.cold_start = true;
        init.init_duration_ms = Some(cold_ms);
        assert_eq!(judge(&init, None), want, "init {label}");
        let mut restore = reported(TIME_MS);
        restore.cold_start = true;
        restore.restore_duration_ms = Some(cold_ms);
        assert_eq!(judge(&restore, None), want, "restore {label}");
    }
}

#[test]
fn invocation_alerts_belong_to_the_window_of_their_start() {
    let window_ms = AlertRules::default().window_ms;
    let start = window_of(TIME_MS, window_ms);
    for time_ms in [start, start + 1, start + window_ms - 1, start + window_ms] {
        let mut timed_out = reported(time_ms);
        timed_out.raise(Status::Timeout, None);
        let alerts = invocation_alerts(&timed_out, None, &AlertRules::default());
        let window_start_ms = window_of(time_ms, window_ms);
        assert_eq!(
            seen(&alerts),
            [expected(
                AlertKind::Timeout,
                "timeout",
                Severity::Critical,
                window_start_ms
            )],
            "{time_ms}"
        );
        assert_eq!(alerts[0].window_start_ms, window_start_ms);
        assert_eq!(alerts[0].request_id.as_deref(), Some("r-1"));
    }
}

#[test]
fn unreported_and_disabled_raise_nothing() {
    let mut pending = reported(TIME_MS);
    pending.start_time_ms = None;
    pending.raise(Status::Timeout, None);
    assert_eq!(judge(&pending, None), []);
    let meta = FunctionMeta {
        alerts: AlertThresholds {
            disabled: vec!["timeout".to_owned()],
            ..AlertThresholds::default()
        },
        ..FunctionMeta::default()
    };
    let mut timed_out = reported(TIME_MS);
    timed_out.raise(Status::Timeout, None);
    assert_eq!(judge(&timed_out, Some(&meta)), []);
}

fn window_counts(window_start_ms: i64, invocations: u64, failures: u64) -> WindowCounts {
    WindowCounts {
        account: ACCOUNT.to_owned(),
        function: FUNCTION.to_owned(),
        window_start_ms,
        invocations,
        failures,
    }
}

fn judge_window(counts: &WindowCounts, meta: Option<&FunctionMeta>) -> Vec<Expected> {
    let alert = window_alert(counts, meta, &AlertRules::default());
    if let Some(alert) = &alert {
        assert_eq!(alert.request_id, None);
        assert_eq!(alert.window_start_ms, counts.window_start_ms);
    }
    seen(&alert.into_iter().collect::<Vec<_>>())
}

#[test]
fn error_rate_at_below_and_above_the_threshold() {
    let rules = AlertRules::default();
    let invocations = 100u64;
    // The default threshold is 5 %, and the rule is "exceeds": failures ×
    // 100 > invocations × 5.
    for (failures, label) in [(4, "below"), (5, "at"), (6, "above")] {
        let counts = window_counts(window(), invocations, failures);
        let crosses = failures * 100 > invocations * 5;
        let want: Vec<Expected> = crosses
            .then(|| {
                expected(
                    AlertKind::ErrorRate,
                    "error_rate",
                    Severity::Critical,
                    window(),
                )
            })
            .into_iter()
            .collect();
        assert_eq!(judge_window(&counts, None), want, "{label}");
    }
    assert_eq!(rules.error_rate_min_invocations, 20);
}

#[test]
fn error_rate_needs_the_minimum_number_of_invocations() {
    let minimum = AlertRules::default().error_rate_min_invocations;
    let all_failed_below = window_counts(window(), minimum - 1, minimum - 1);
    assert_eq!(judge_window(&all_failed_below, None), []);
    let all_failed_at = window_counts(window(), minimum, minimum);
    assert_eq!(
        judge_window(&all_failed_at, None),
        [expected(
            AlertKind::ErrorRate,
            "error_rate",
            Severity::Critical,
            window()
        )]
    );
    assert_eq!(judge_window(&window_counts(window(), 0, 0), None), []);
}

#[test]
fn error_rate_keys_by_the_window_it_is_given() {
    let window_ms = AlertRules::default().window_ms;
    let first = window();
    // Two adjacent windows, and the first one of the epoch and one before it.
    for window_start_ms in [first, first + window_ms, 0, -window_ms] {
        let counts = window_counts(window_start_ms, 20, 20);
        assert_eq!(
            judge_window(&counts, None),
            [expected(
                AlertKind::ErrorRate,
                "error_rate",
                Severity::Critical,
                window_start_ms
            )],
            "{window_start_ms}"
        );
    }
}

#[test]
fn error_rate_follows_overrides_and_can_be_disabled() {
    let meta = FunctionMeta {
        alerts: AlertThresholds {
            error_rate: Some(0.5),
            error_rate_min_invocations: Some(2),
            ..AlertThresholds::default()
        },
        ..FunctionMeta::default()
    };
    assert_eq!(
        judge_window(&window_counts(window(), 2, 1), Some(&meta)),
        []
    );
    assert_eq!(
        judge_window(&window_counts(window(), 3, 2), Some(&meta)),
        [expected(
            AlertKind::ErrorRate,
            "error_rate",
            Severity::Critical,
            window()
        )]
    );
    let disabled = FunctionMeta {
        alerts: AlertThresholds {
            disabled: vec!["error_rate".to_owned()],
            ..AlertThresholds::default()
        },
        ..FunctionMeta::default()
    };
    assert_eq!(
        judge_window(&window_counts(window(), 100, 100), Some(&disabled)),
        []
    );
}
