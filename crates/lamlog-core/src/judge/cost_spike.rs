//! Cost spike: a function's cost in one hour against its own baseline.
//!
//! An hour `[H, H + 1h)` of a function is judged like an error-rate window,
//! through [`crate::window`] with the rules of [`hour_rules`]: it closes when
//! the function's watermark reaches `H + 1h + grace`, and a closed hour that
//! late rows touch is judged again. The costs come from the `function_minute`
//! rollups, so the verdict is as exactly-once as they are, and the alert's
//! dedup key `cost_spike|account|function|H` keeps it once per function and
//! hour.
//!
//! **The baseline** is the larger of two medians, both over hours at or after
//! the function's first stored minute (before it, its cost is unknown, not
//! zero; an hour in range without invocations counts as $0):
//!
//! - the median of the function's hourly costs over the previous 24 hours:
//!   a sustained change of level alerts in its first hours only, until it
//!   fills half of the day, not on every hour from then on;
//! - the median of its cost in the same hour of the day over the previous 7
//!   days: a daily peak (business hours, a nightly job) does not alert every
//!   day.
//!
//! A median ignores a spike lasting fewer than half of its hours, so one
//! earlier spike does not raise the bar for the next; a mean would. A
//! function is judged only once it has 24 hours of history before `H`: on its
//! first day there is nothing to compare with.
//!
//! **The rule:** alert when `cost > multiple × baseline` and `cost ≥ floor`,
//! by default 3× and $0.50 an hour, so that a tiny function whose few cents
//! triple stays quiet. Both are per function in the metadata
//! (`cost_spike_multiple`, `cost_spike_min_usd`), and `disabled =
//! ["cost_spike"]` turns the rule off.
//!
//! What it costs: judging one hour reads its minutes, the previous 24 hours'
//! and 6 more hours of the same hour of day: 1,860 minute rows at most;
//! [`minutes_to_read`] merges the ranges of neighbouring hours.

use std::collections::BTreeMap;

use super::{dedup_key, enabled, Alert, AlertKind, AlertRules, Severity};
use crate::meta::FunctionMeta;
use crate::window::WindowSpan;

/// One hour.
pub const HOUR_MS: i64 = 3_600_000;
/// One day.
pub const DAY_MS: i64 = 24 * HOUR_MS;
/// Days of the same-hour-of-day baseline.
pub const HISTORY_DAYS: i64 = 7;
/// Default multiple of the baseline that an hour's cost must exceed.
pub const DEFAULT_MULTIPLE: f64 = 3.0;
/// Default floor: an hour costing less never alerts (USD).
pub const DEFAULT_MIN_USD: f64 = 0.50;

const PICO_PER_USD: f64 = 1e12;
/// A span of more hours than this is read as one range rather than hour by
/// hour (a function's first batch, or one after a long silence).
const MAX_HOURS_READ_ONE_BY_ONE: i64 = HISTORY_DAYS * 24;

/// The window rules of hours: `rules` with one-hour windows and the same
/// grace, for [`crate::window::plan`].
pub fn hour_rules(rules: &AlertRules) -> AlertRules {
    AlertRules {
        window_ms: HOUR_MS,
        ..*rules
    }
}

/// The thresholds of one function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostSpikeRule {
    /// The hour's cost must exceed this multiple of the baseline.
    pub multiple: f64,
    /// … and be at least this (USD).
    pub min_usd: f64,
}

impl CostSpikeRule {
    /// The defaults with a function's overrides applied.
    pub fn for_function(meta: Option<&FunctionMeta>) -> CostSpikeRule {
        let thresholds = meta.map(|meta| &meta.alerts);
        CostSpikeRule {
            multiple: thresholds
                .and_then(|thresholds| thresholds.cost_spike_multiple)
                .unwrap_or(DEFAULT_MULTIPLE),
            min_usd: thresholds
                .and_then(|thresholds| thresholds.cost_spike_min_usd)
                .unwrap_or(DEFAULT_MIN_USD),
        }
    }
}

/// The start of the hour of an instant.
pub fn hour_of(time_ms: i64) -> i64 {
    time_ms.div_euclid(HOUR_MS).saturating_mul(HOUR_MS)
}

/// The minutes to read to judge the hours `span` judges, as ranges with both
/// bounds exclusive (like [`WindowSpan::minutes_ms`]), sorted and disjoint.
pub fn minutes_to_read(span: &WindowSpan) -> Vec<(i64, i64)> {
    let first_hour_ms = hour_of(span.after_ms).saturating_add(HOUR_MS);
    let last_hour_ms = hour_of(span.until_ms);
    if last_hour_ms < first_hour_ms {
        return Vec::new();
    }
    let history_ms = HISTORY_DAYS * DAY_MS;
    if last_hour_ms.saturating_sub(first_hour_ms) / HOUR_MS >= MAX_HOURS_READ_ONE_BY_ONE {
        return vec![(
            span.after_ms.saturating_sub(history_ms),
            last_hour_ms.saturating_add(HOUR_MS),
        )];
    }
    // Half-open [from, to) ranges first, merged, then made exclusive.
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    let mut hour_ms = first_hour_ms;
    while hour_ms <= last_hour_ms {
        ranges.push((
            hour_ms.saturating_sub(DAY_MS),
            hour_ms.saturating_add(HOUR_MS),
        ));
        for days in 2..=HISTORY_DAYS {
            let same_hour_ms = hour_ms.saturating_sub(days * DAY_MS);
            ranges.push((same_hour_ms, same_hour_ms.saturating_add(HOUR_MS)));
        }
        hour_ms = hour_ms.saturating_add(HOUR_MS);
        if hour_ms == i64::MAX {
            break;
        }
    }
    ranges.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
    for (from_ms, to_ms) in ranges {
        match merged.last_mut() {
            Some(last) if from_ms <= last.1 => last.1 = last.1.max(to_ms),
            _ => merged.push((from_ms, to_ms)),
        }
    }
    merged
        .into_iter()
        .map(|(from_ms, to_ms)| (from_ms.saturating_sub(1), to_ms))
        .collect()
}

/// A function's costs per minute as read from the rollups; a minute read
/// twice (for two spans) counts once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MinuteCosts {
    minutes: BTreeMap<i64, i64>,
}

impl MinuteCosts {
    /// Records one `function_minute` row.
    pub fn add(&mut self, minute_ms: i64, cost_pico_usd: i64) {
        self.minutes.insert(minute_ms, cost_pico_usd);
    }

    /// Cost per hour (pico-USD), hours without rows left out.
    pub fn hourly(&self) -> BTreeMap<i64, i64> {
        let mut hours: BTreeMap<i64, i64> = BTreeMap::new();
        for (minute_ms, cost_pico_usd) in &self.minutes {
            let sum = hours.entry(hour_of(*minute_ms)).or_default();
            *sum = sum.saturating_add(*cost_pico_usd);
        }
        hours
    }
}

/// An hour's cost and the baseline it was held to (pico-USD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourCost {
    /// The hour's cost.
    pub cost_pico_usd: i64,
    /// See the module comment.
    pub baseline_pico_usd: i64,
}

fn median(mut values: Vec<i64>) -> i64 {
    values.sort_unstable();
    let middle = values.len() / 2;
    match values.len() {
        0 => 0,
        length if length % 2 == 1 => values[middle],
        _ => ((i128::from(values[middle - 1]) + i128::from(values[middle])) / 2) as i64,
    }
}

/// The cost and baseline of the hour starting at `hour_ms`, from `hourly`
/// costs (an absent hour cost $0), or `None` when the function, first seen
/// at `first_minute_ms`, has less than 24 hours of history before it.
pub fn hour_cost(
    hourly: &BTreeMap<i64, i64>,
    hour_ms: i64,
    first_minute_ms: i64,
) -> Option<HourCost> {
    if first_minute_ms > hour_ms.saturating_sub(DAY_MS) {
        return None;
    }
    let cost_at = |at_ms: i64| hourly.get(&at_ms).copied().unwrap_or(0);
    let first_hour_ms = hour_of(first_minute_ms);
    let previous_day = (1..=24).map(|hours| cost_at(hour_ms.saturating_sub(hours * HOUR_MS)));
    let same_hours = (1..=HISTORY_DAYS)
        .map(|days| hour_ms.saturating_sub(days * DAY_MS))
        .filter(|at_ms| *at_ms >= first_hour_ms)
        .map(cost_at);
    Some(HourCost {
        cost_pico_usd: cost_at(hour_ms),
        baseline_pico_usd: median(previous_day.collect()).max(median(same_hours.collect())),
    })
}

/// Whether `hour` breaks `rule`.
pub fn is_spike(hour: &HourCost, rule: &CostSpikeRule) -> bool {
    let cost_usd = hour.cost_pico_usd as f64 / PICO_PER_USD;
    hour.cost_pico_usd as f64 > rule.multiple * hour.baseline_pico_usd as f64
        && cost_usd >= rule.min_usd
}

/// The cost-spike alerts of the hours the `spans` judge, from the costs a
/// store read for them ([`minutes_to_read`]) and the function's first stored
/// minute.
pub fn cost_spike_alerts(
    (account, function): (&str, &str),
    spans: &[WindowSpan],
    costs: &MinuteCosts,
    first_minute_ms: Option<i64>,
    meta: Option<&FunctionMeta>,
) -> Vec<Alert> {
    let (Some(first_minute_ms), true) = (first_minute_ms, enabled(meta, AlertKind::CostSpike))
    else {
        return Vec::new();
    };
    let rule = CostSpikeRule::for_function(meta);
    let hourly = costs.hourly();
    // An hour without cost cannot be over a non-negative baseline.
    hourly
        .keys()
        .filter(|hour_ms| spans.iter().any(|span| span.judges(**hour_ms)))
        .filter_map(|hour_ms| Some((*hour_ms, hour_cost(&hourly, *hour_ms, first_minute_ms)?)))
        .filter(|(_, hour)| is_spike(hour, &rule))
        .map(|(hour_ms, hour)| Alert {
            kind: AlertKind::CostSpike,
            severity: Severity::Warning,
            account: account.to_owned(),
            function: function.to_owned(),
            request_id: None,
            window_start_ms: hour_ms,
            message: message(function, hour_ms, &hour, &rule),
            dedup_key: dedup_key(AlertKind::CostSpike, account, function, hour_ms),
        })
        .collect()
}

fn message(function: &str, hour_ms: i64, hour: &HourCost, rule: &CostSpikeRule) -> String {
    let (year, month, day) = crate::calendar::civil_from_days(hour_ms.div_euclid(DAY_MS));
    let hour_of_day = hour_ms.rem_euclid(DAY_MS) / HOUR_MS;
    format!(
        "{function}: cost ${:.4} in the hour from {year:04}-{month:02}-{day:02} \
         {hour_of_day:02}:00 UTC, over {}× its baseline ${:.4} (floor ${:.2})",
        hour.cost_pico_usd as f64 / PICO_PER_USD,
        rule.multiple,
        hour.baseline_pico_usd as f64 / PICO_PER_USD,
        rule.min_usd,
    )
}

#[cfg(test)]
mod tests;
