//! Watermarks and error-rate windows, one function at a time.
//!
//! The rules are [`lamlog_core::window`]'s, the PostgreSQL store's too: the
//! batch's changed rows of a function give a [`BatchActivity`]; with the
//! stored watermark and the batch's received time it makes a [`plan`]: the
//! watermark's move (bounded by the received time plus
//! [`WATERMARK_SKEW_MS`](lamlog_core::window::WATERMARK_SKEW_MS), so that a
//! line from year 9999 closes nothing), the windows that move closes, the
//! already-closed windows the batch's rows fall in (judged again on their
//! current counts, so late errors raise their alert late rather than never),
//! and how many rows came late. Each judged window over the threshold has its
//! error-rate alert inserted if its dedup key is absent: raised once, however
//! often the window is judged.
//!
//! Hours are windows too: a second [`plan`] with the rules of
//! [`hour_rules`] (the same watermark, written once) names the hours to judge
//! for cost spikes; their costs, with the history the baseline needs
//! ([`minutes_to_read`]), and the function's first stored minute are read
//! here, and [`cost_spike_alerts`] judges them.

use lamlog_core::judge::cost_spike::{cost_spike_alerts, hour_rules, minutes_to_read, MinuteCosts};
use lamlog_core::judge::{window_alert, Alert};
use lamlog_core::meta::{meta_key, FunctionMeta};
use lamlog_core::window::{plan, BatchActivity, WindowSpan, WindowTally};
use rusqlite::{OptionalExtension, Transaction};

use super::{alerts, failed};
use crate::store::{StoreBatch, StoreError, WriteOutcome};

const SELECT_WATERMARK: &str = "
    SELECT watermark_ms FROM function_watermark WHERE account = ?1 AND function = ?2";

const UPSERT_WATERMARK: &str = "
    INSERT INTO function_watermark (account, function, watermark_ms) VALUES (?1, ?2, ?3)
    ON CONFLICT (account, function) DO UPDATE SET
        watermark_ms = MAX(watermark_ms, excluded.watermark_ms)";

const SELECT_WINDOW_MINUTES: &str = "
    SELECT minute_ms, invocations, errors + crashes + ooms + timeouts
      FROM function_minute
     WHERE account = ?1 AND function = ?2 AND minute_ms > ?3 AND minute_ms < ?4";

const SELECT_MINUTE_COSTS: &str = "
    SELECT minute_ms, cost_pico_usd
      FROM function_minute
     WHERE account = ?1 AND function = ?2 AND minute_ms > ?3 AND minute_ms < ?4";

const SELECT_FIRST_MINUTE: &str = "
    SELECT MIN(minute_ms) FROM function_minute WHERE account = ?1 AND function = ?2";

/// Moves the function's watermark as the batch's `activity` allows, judges
/// the windows the plan names, and counts its late rows; new alerts go to
/// `outcome`.
pub(super) fn advance_and_judge(
    transaction: &Transaction<'_>,
    batch: &StoreBatch<'_>,
    (account, function): (&str, &str),
    activity: &BatchActivity,
    outcome: &mut WriteOutcome,
) -> Result<(), StoreError> {
    let stored_watermark_ms: Option<i64> = transaction
        .prepare_cached(SELECT_WATERMARK)
        .and_then(|mut statement| {
            statement
                .query_row((account, function), |row| row.get(0))
                .optional()
        })
        .map_err(failed("reading function_watermark"))?;
    let rules = batch.rules;
    // The hours are windows of the same watermark, which `plan` moves.
    let hour_plan = plan(
        &hour_rules(rules),
        stored_watermark_ms,
        activity,
        batch.received_at_ms,
    );
    let plan = plan(rules, stored_watermark_ms, activity, batch.received_at_ms);
    outcome.late_invocations += plan.late_invocations;
    if let Some(new_watermark_ms) = plan.new_watermark_ms {
        transaction
            .prepare_cached(UPSERT_WATERMARK)
            .and_then(|mut statement| statement.execute((account, function, new_watermark_ms)))
            .map_err(failed("updating function_watermark"))?;
    }
    let mut tally = WindowTally::default();
    for span in &plan.spans {
        let (after_ms, before_ms) = span.minutes_ms(rules);
        let mut statement = transaction
            .prepare_cached(SELECT_WINDOW_MINUTES)
            .map_err(failed("preparing the window query"))?;
        let mut rows = statement
            .query((account, function, after_ms, before_ms))
            .map_err(failed("reading function_minute"))?;
        while let Some(row) = rows.next().map_err(failed("reading function_minute"))? {
            let reading = failed("reading function_minute");
            tally.add(
                rules,
                span,
                row.get(0).map_err(&reading)?,
                row.get(1).map_err(&reading)?,
                row.get(2).map_err(&reading)?,
            );
        }
    }
    let meta = batch.metadata.get(&meta_key(account, function));
    let mut found: Vec<Alert> = tally
        .counts(account, function)
        .iter()
        .filter_map(|counts| window_alert(counts, meta, rules))
        .collect();
    found.extend(judge_hours(
        transaction,
        (account, function),
        &hour_plan.spans,
        meta,
    )?);
    for alert in found {
        if alerts::insert_alert(transaction, batch, &alert)? {
            outcome.new_alerts.push(alert);
        }
    }
    Ok(())
}

/// The cost-spike alerts of the hours in `spans`, on their current costs.
fn judge_hours(
    transaction: &Transaction<'_>,
    (account, function): (&str, &str),
    spans: &[WindowSpan],
    meta: Option<&FunctionMeta>,
) -> Result<Vec<Alert>, StoreError> {
    let ranges: Vec<(i64, i64)> = spans.iter().flat_map(minutes_to_read).collect();
    if ranges.is_empty() {
        return Ok(Vec::new());
    }
    let first_minute_ms: Option<i64> = transaction
        .prepare_cached(SELECT_FIRST_MINUTE)
        .and_then(|mut statement| statement.query_row((account, function), |row| row.get(0)))
        .map_err(failed("reading the first minute of function_minute"))?;
    let Some(first_minute_ms) = first_minute_ms else {
        return Ok(Vec::new());
    };
    let mut costs = MinuteCosts::default();
    let mut statement = transaction
        .prepare_cached(SELECT_MINUTE_COSTS)
        .map_err(failed("preparing the hour cost query"))?;
    for (after_ms, before_ms) in ranges {
        // Nothing before the first minute exists.
        let after_ms = after_ms.max(first_minute_ms.saturating_sub(1));
        let mut rows = statement
            .query((account, function, after_ms, before_ms))
            .map_err(failed("reading function_minute costs"))?;
        while let Some(row) = rows
            .next()
            .map_err(failed("reading function_minute costs"))?
        {
            let reading = failed("reading function_minute costs");
            costs.add(row.get(0).map_err(&reading)?, row.get(1).map_err(&reading)?);
        }
    }
    Ok(cost_spike_alerts(
        (account, function),
        spans,
        &costs,
        Some(first_minute_ms),
        meta,
    ))
}
