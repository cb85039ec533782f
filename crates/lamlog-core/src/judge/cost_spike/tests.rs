//! The cost-spike rule at, just below and just above its thresholds, and its
//! baseline against the workloads it must stay quiet on.
//!
//! Costs are whole cents (10^10 pico-USD) so that every comparison is exact;
//! expected verdicts are worked out from the series each test builds.

use std::collections::BTreeMap;

use super::*;
use crate::meta::AlertThresholds;

const ACCOUNT: &str = "123456789012";
const FUNCTION: &str = "orders";
/// 2026-11-10T00:00:00Z, a day boundary.
const DAY_ZERO_MS: i64 = 1_794_268_800_000;
const CENT: i64 = 10_000_000_000;

/// The hour judged in most tests: 09:00 on the eighth day.
fn judged_hour() -> i64 {
    DAY_ZERO_MS + 8 * DAY_MS + 9 * HOUR_MS
}

/// A function that has cost `cents` every hour for eight days before the
/// judged hour, and `judged_cents` in it.
fn steady(cents: i64, judged_cents: i64) -> BTreeMap<i64, i64> {
    let mut hourly = BTreeMap::new();
    let mut hour_ms = DAY_ZERO_MS;
    while hour_ms < judged_hour() {
        hourly.insert(hour_ms, cents * CENT);
        hour_ms += HOUR_MS;
    }
    hourly.insert(judged_hour(), judged_cents * CENT);
    hourly
}

/// The alerts `hourly` raises for the judged hour with `meta`, the function
/// first seen at `first_minute_ms`.
fn alerts_for(
    hourly: &BTreeMap<i64, i64>,
    first_minute_ms: i64,
    meta: Option<&FunctionMeta>,
) -> Vec<Alert> {
    let mut costs = MinuteCosts::default();
    for (hour_ms, cost_pico_usd) in hourly {
        // Split each hour over two minutes, to check the sum.
        costs.add(*hour_ms, cost_pico_usd / 2);
        costs.add(hour_ms + 60_000, cost_pico_usd - cost_pico_usd / 2);
    }
    cost_spike_alerts(
        (ACCOUNT, FUNCTION),
        &[WindowSpan::single(judged_hour())],
        &costs,
        Some(first_minute_ms),
        meta,
    )
}

fn raises(hourly: &BTreeMap<i64, i64>, meta: Option<&FunctionMeta>) -> bool {
    !alerts_for(hourly, DAY_ZERO_MS, meta).is_empty()
}

fn meta_with(thresholds: AlertThresholds) -> FunctionMeta {
    FunctionMeta {
        alerts: thresholds,
        ..FunctionMeta::default()
    }
}

#[test]
fn an_hour_over_three_times_its_baseline_and_the_floor_alerts_once_with_its_key() {
    // $1 an hour, then $3.01: over 3 × $1 and over $0.50.
    let alerts = alerts_for(&steady(100, 301), DAY_ZERO_MS, None);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert.kind, AlertKind::CostSpike);
    assert_eq!(
        AlertKind::from_name("cost_spike"),
        Some(AlertKind::CostSpike)
    );
    assert_eq!(alert.severity, Severity::Warning);
    assert_eq!(alert.window_start_ms, judged_hour());
    assert_eq!(alert.request_id, None);
    assert_eq!(
        alert.dedup_key,
        format!("cost_spike|{ACCOUNT}|{FUNCTION}|{}", judged_hour())
    );
    assert_eq!(
        alert.message,
        "orders: cost $3.0100 in the hour from 2026-11-18 09:00 UTC, \
         over 3× its baseline $1.0000 (floor $0.50)"
    );
}

#[test]
fn at_or_below_the_multiple_is_quiet() {
    assert!(!raises(&steady(100, 300), None), "exactly 3× is not over");
    assert!(!raises(&steady(100, 250), None));
    let mut one_pico_over = steady(100, 300);
    *one_pico_over.get_mut(&judged_hour()).unwrap() += 1;
    assert!(raises(&one_pico_over, None));
}

#[test]
fn under_the_floor_is_quiet_however_large_the_jump() {
    // 1 cent an hour, then 49 cents: 49× its baseline, under $0.50.
    assert!(!raises(&steady(1, 49), None));
    // At the floor it alerts.
    assert!(raises(&steady(1, 50), None));
}

#[test]
fn one_earlier_spike_does_not_raise_the_baseline() {
    // $1 an hour with a $100 hour five hours before: a mean of the day would
    // be over $5 and hide the next spike; the median stays $1.
    let mut hourly = steady(100, 400);
    hourly.insert(judged_hour() - 5 * HOUR_MS, 100 * 100 * CENT);
    assert!(raises(&hourly, None));
    // The same earlier spike a day before, at the same hour.
    hourly.insert(judged_hour() - DAY_MS, 100 * 100 * CENT);
    assert!(raises(&hourly, None));
}

#[test]
fn a_daily_peak_does_not_alert_every_day() {
    // $1 an hour, $10 from 09:00 to 10:00 every day.
    let mut hourly = steady(100, 1000);
    for days in 1..=8 {
        hourly.insert(judged_hour() - days * DAY_MS, 1000 * CENT);
    }
    assert!(!raises(&hourly, None));
    // A peak of 31 dollars is over 3 × 10.
    hourly.insert(judged_hour(), 3100 * CENT);
    assert!(raises(&hourly, None));
}

#[test]
fn a_daily_peak_is_known_only_from_days_the_function_existed() {
    // Two days old: $1 an hour, $10 at 09:00 both days, $10 now. The five
    // days before it existed are unknown, not $0: counted as $0, the
    // same-hour median would be $0 and the peak would alert.
    let first_minute_ms = judged_hour() - 2 * DAY_MS - 9 * HOUR_MS;
    let mut hourly: BTreeMap<i64, i64> = steady(100, 1000)
        .into_iter()
        .filter(|(hour_ms, _)| *hour_ms >= first_minute_ms)
        .collect();
    for days in 1..=2 {
        hourly.insert(judged_hour() - days * DAY_MS, 1000 * CENT);
    }
    assert!(alerts_for(&hourly, first_minute_ms, None).is_empty());
    let hour = hour_cost(&hourly, judged_hour(), first_minute_ms).unwrap();
    assert_eq!(hour.baseline_pico_usd, 1000 * CENT);
}

#[test]
fn a_level_shift_stops_alerting_once_it_is_half_the_day() {
    // $1 an hour; from some hour on, $5 an hour.
    let shift_at_ms = judged_hour() - 12 * HOUR_MS;
    let mut hourly = steady(100, 500);
    for (hour_ms, cost) in hourly.iter_mut() {
        if *hour_ms >= shift_at_ms {
            *cost = 500 * CENT;
        }
    }
    // Twelve of the previous 24 hours at $5: median $3, and 5 < 3 × 3.
    assert!(!raises(&hourly, None));
    // Eleven: the median is still $1.
    hourly.insert(shift_at_ms, 100 * CENT);
    assert!(raises(&hourly, None));
}

#[test]
fn a_function_with_less_than_a_day_of_history_is_not_judged() {
    let hourly = steady(100, 1000);
    let one_day_before = judged_hour() - DAY_MS;
    assert!(alerts_for(&hourly, one_day_before + 60_000, None).is_empty());
    assert_eq!(alerts_for(&hourly, one_day_before, None).len(), 1);
    // Without any stored minute, nothing is judged.
    let mut costs = MinuteCosts::default();
    costs.add(judged_hour(), 1000 * CENT);
    let span = [WindowSpan::single(judged_hour())];
    assert!(cost_spike_alerts((ACCOUNT, FUNCTION), &span, &costs, None, None).is_empty());
}

#[test]
fn only_the_hours_the_spans_judge_are_judged() {
    let mut hourly = steady(100, 1000);
    hourly.insert(judged_hour() - HOUR_MS, 1000 * CENT);
    let mut costs = MinuteCosts::default();
    for (hour_ms, cost_pico_usd) in &hourly {
        costs.add(*hour_ms, *cost_pico_usd);
    }
    let previous = WindowSpan::single(judged_hour() - HOUR_MS);
    let alerts = cost_spike_alerts(
        (ACCOUNT, FUNCTION),
        &[previous],
        &costs,
        Some(DAY_ZERO_MS),
        None,
    );
    let hours: Vec<i64> = alerts.iter().map(|alert| alert.window_start_ms).collect();
    assert_eq!(hours, [judged_hour() - HOUR_MS]);
}

#[test]
fn per_function_thresholds_and_disabled_apply() {
    let hourly = steady(100, 400);
    let patient = meta_with(AlertThresholds {
        cost_spike_multiple: Some(4.0),
        ..AlertThresholds::default()
    });
    assert!(!raises(&hourly, Some(&patient)));
    let strict_floor = meta_with(AlertThresholds {
        cost_spike_min_usd: Some(5.0),
        ..AlertThresholds::default()
    });
    assert!(!raises(&hourly, Some(&strict_floor)));
    let low_floor = meta_with(AlertThresholds {
        cost_spike_min_usd: Some(0.04),
        ..AlertThresholds::default()
    });
    assert!(raises(&steady(1, 4), Some(&low_floor)));
    let disabled = meta_with(AlertThresholds {
        disabled: vec!["cost_spike".to_owned()],
        ..AlertThresholds::default()
    });
    assert!(!raises(&hourly, Some(&disabled)));
    // Metadata that says nothing of cost spikes keeps the defaults.
    assert!(raises(&hourly, Some(&FunctionMeta::default())));
}

#[test]
fn the_minutes_read_for_one_hour_are_its_day_and_the_same_hour_before() {
    let hour_ms = judged_hour();
    let mut expected: Vec<(i64, i64)> = (2..=7)
        .rev()
        .map(|days| {
            (
                hour_ms - days * DAY_MS - 1,
                hour_ms - days * DAY_MS + HOUR_MS,
            )
        })
        .collect();
    expected.push((hour_ms - DAY_MS - 1, hour_ms + HOUR_MS));
    assert_eq!(minutes_to_read(&WindowSpan::single(hour_ms)), expected);
    // Two hours: neighbouring ranges merge.
    let two = WindowSpan {
        after_ms: hour_ms - HOUR_MS - 1,
        until_ms: hour_ms + 30_000,
    };
    let ranges = minutes_to_read(&two);
    assert_eq!(ranges.len(), 7);
    assert_eq!(
        ranges[6],
        (hour_ms - HOUR_MS - DAY_MS - 1, hour_ms + HOUR_MS)
    );
    assert_eq!(
        ranges[0],
        (
            hour_ms - HOUR_MS - 7 * DAY_MS - 1,
            hour_ms - 7 * DAY_MS + HOUR_MS
        )
    );
    // A span judging no hour reads nothing.
    let inside = WindowSpan {
        after_ms: hour_ms + 1,
        until_ms: hour_ms + HOUR_MS - 1,
    };
    assert!(minutes_to_read(&inside).is_empty());
    // An unbounded span (a function's first batch) is one range.
    let first = WindowSpan {
        after_ms: i64::MIN,
        until_ms: hour_ms,
    };
    assert_eq!(minutes_to_read(&first), [(i64::MIN, hour_ms + HOUR_MS)]);
}

#[test]
fn a_minute_read_twice_counts_once() {
    let mut costs = MinuteCosts::default();
    costs.add(judged_hour() + 60_000, 7);
    costs.add(judged_hour() + 60_000, 7);
    costs.add(judged_hour() + 120_000, 5);
    assert_eq!(costs.hourly(), BTreeMap::from([(judged_hour(), 12)]));
}
