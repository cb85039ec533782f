//! Watermarks and error-rate windows, set-based.
//!
//! The rules are [`lamlog_core::window`]'s, the SQLite store's too: per
//! function, the batch's changed rows give a [`BatchActivity`]; with the
//! stored watermark and the batch's received time it makes a [`plan`]: the
//! watermark's move (bounded by the received time plus
//! [`WATERMARK_SKEW_MS`](lamlog_core::window::WATERMARK_SKEW_MS)), the
//! windows that move closes, the already-closed windows the batch's rows
//! fall in (judged again), and how many rows came late. Here that is, for
//! all the batch's functions at once: one read of the stored watermarks
//! ([`read_watermarks`], sent with the batch's rows), then one upsert of
//! those that move and one read of the minutes of every window to judge,
//! sent together ([`advance_and_judge`]), then [`window_alert`] on each
//! window's counts.
//!
//! Hours are windows too: a second [`plan`] per function with the rules of
//! [`hour_rules`] (the same watermark, written once) names the hours to judge
//! for cost spikes. The same read of minutes also returns their costs with
//! the history the baseline needs ([`minutes_to_read`]) and each such
//! function's first stored minute, so cost spikes add no round trip; then
//! [`cost_spike_alerts`] judges them.
//!
//! Reading the old watermark and writing the new one must not interleave
//! with another writer of the same function, or both would judge the same
//! windows: the caller holds each function's advisory lock (`locks.rs`).

use std::collections::BTreeMap;

use lamlog_core::judge::cost_spike::{cost_spike_alerts, hour_rules, minutes_to_read, MinuteCosts};
use lamlog_core::judge::{window_alert, Alert};
use lamlog_core::meta::meta_key;
use lamlog_core::window::{plan, BatchActivity, WindowSpan, WindowTally};

use super::failed;
use super::pipeline::Tx;
use super::rollup::RowChange;
use crate::store::{StoreBatch, StoreError};

const SELECT_WATERMARKS: &str = "
    SELECT w.account, w.function, w.watermark_ms
      FROM unnest($1::TEXT[], $2::TEXT[]) AS k(account, function)
      JOIN function_watermark w ON w.account = k.account AND w.function = k.function";

const UPSERT_WATERMARKS: &str = "
    INSERT INTO function_watermark (account, function, watermark_ms)
    SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[])
    ON CONFLICT (account, function) DO UPDATE SET
        watermark_ms = GREATEST(function_watermark.watermark_ms, excluded.watermark_ms)";

/// The minutes of every range to read (`position` ≥ 1: the range's index
/// plus one), then the first stored minute of each function whose hours are
/// judged (`position` ≤ -1: minus the function's index plus one; `NULL` when
/// it has none).
const SELECT_WINDOW_MINUTES: &str = "
    SELECT k.position, m.minute_ms, m.invocations, m.errors + m.crashes + m.ooms + m.timeouts,
           m.cost_pico_usd
      FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[])
           WITH ORDINALITY AS k(account, function, after_ms, before_ms, position)
      JOIN function_minute m
        ON m.account = k.account AND m.function = k.function
       AND m.minute_ms > k.after_ms AND m.minute_ms < k.before_ms
    UNION ALL
    SELECT -f.position, first_minute.minute_ms, 0, 0, 0
      FROM unnest($5::TEXT[], $6::TEXT[]) WITH ORDINALITY AS f(account, function, position)
     CROSS JOIN LATERAL (
           SELECT MIN(m.minute_ms) AS minute_ms FROM function_minute m
            WHERE m.account = f.account AND m.function = f.function) AS first_minute";

type FunctionKey = (String, String);

/// The statements the batch pipelines (see `pipeline.rs`).
pub(super) const STATEMENTS: [&str; 3] =
    [SELECT_WATERMARKS, UPSERT_WATERMARKS, SELECT_WINDOW_MINUTES];

/// What judging the batch's windows found.
#[derive(Debug, Default)]
pub(super) struct Judged {
    /// Error-rate alerts of the windows judged (not yet stored).
    pub alerts: Vec<Alert>,
    /// Changed rows whose window had closed before the batch.
    pub late_invocations: u64,
}

/// What the batch's changed rows did to each function's windows.
pub(super) type Activities = BTreeMap<FunctionKey, BatchActivity>;

/// The activity of the reported rows of `rows`, by function.
pub(super) fn activities(rows: &[RowChange<'_>]) -> Activities {
    // Keyed by borrowed names while the rows are summed, so that each
    // function's names are copied once, not once per row; and looked up
    // once per run of one function's rows (they come in key order).
    let mut activities: BTreeMap<(&str, &str), BatchActivity> = BTreeMap::new();
    let mut run: Option<((&str, &str), &mut BatchActivity)> = None;
    for row in rows {
        let invocation = &row.new.invocation;
        // A row once reported stays so (the join only adds evidence).
        if !invocation.is_reported() {
            continue;
        }
        let (old, new) = row.contributions();
        let function = (row.account(), row.function());
        if run.as_ref().is_none_or(|(of, _)| *of != function) {
            run = Some((function, activities.entry(function).or_default()));
        }
        let (_, activity) = run.as_mut().expect("set just above");
        activity.record(invocation.start_time_ms, old.as_ref(), new.as_ref());
    }
    activities
        .into_iter()
        .map(|((account, function), activity)| {
            ((account.to_owned(), function.to_owned()), activity)
        })
        .collect()
}

/// Moves the watermarks of the batch's functions (`stored` is what
/// [`read_watermarks`] found) and judges the windows the moves close and the
/// closed windows its rows changed: the watermark upsert and the read for
/// judging go together, in one round trip.
pub(super) async fn advance_and_judge(
    transaction: &Tx,
    batch: &StoreBatch<'_>,
    activities: &Activities,
    stored: &BTreeMap<FunctionKey, i64>,
) -> Result<Judged, StoreError> {
    if activities.is_empty() {
        return Ok(Judged::default());
    }
    let hour_rules = hour_rules(batch.rules);
    let mut hour_spans: Vec<(&FunctionKey, WindowSpan)> = Vec::new();
    let plans: Vec<(&FunctionKey, _)> = activities
        .iter()
        .map(|(function, activity)| {
            let stored_watermark_ms = stored.get(function).copied();
            // The hours' watermark is the same as the windows': written once.
            let hour_plan = plan(
                &hour_rules,
                stored_watermark_ms,
                activity,
                batch.received_at_ms,
            );
            hour_spans.extend(hour_plan.spans.into_iter().map(|span| (function, span)));
            let plan = plan(
                batch.rules,
                stored_watermark_ms,
                activity,
                batch.received_at_ms,
            );
            (function, plan)
        })
        .collect();
    let moved: Vec<(&FunctionKey, i64)> = plans
        .iter()
        .filter_map(|(function, plan)| plan.new_watermark_ms.map(|new_ms| (*function, new_ms)))
        .collect();
    let spans: Vec<(&FunctionKey, WindowSpan)> = plans
        .iter()
        .flat_map(|(function, plan)| plan.spans.iter().map(|span| (*function, *span)))
        .collect();
    let (upserted, alerts) = futures_util::future::join(
        upsert_watermarks(transaction, &moved),
        judge(transaction, batch, &spans, &hour_spans),
    )
    .await;
    upserted?;
    Ok(Judged {
        alerts: alerts?,
        late_invocations: plans.iter().map(|(_, plan)| plan.late_invocations).sum(),
    })
}

async fn upsert_watermarks(
    transaction: &Tx,
    moved: &[(&FunctionKey, i64)],
) -> Result<(), StoreError> {
    if moved.is_empty() {
        return Ok(());
    }
    let accounts: Vec<&str> = moved.iter().map(|((a, _), _)| a.as_str()).collect();
    let functions: Vec<&str> = moved.iter().map(|((_, f), _)| f.as_str()).collect();
    let watermarks: Vec<i64> = moved.iter().map(|(_, new_ms)| *new_ms).collect();
    let statement = transaction
        .prepare_cached(UPSERT_WATERMARKS)
        .await
        .map_err(failed("preparing the watermark upsert"))?;
    transaction
        .execute(&statement, &[&accounts, &functions, &watermarks])
        .await
        .map_err(failed("updating function_watermark"))?;
    Ok(())
}

/// The stored watermarks of the activities' functions.
pub(super) async fn read_watermarks(
    transaction: &Tx,
    activities: &Activities,
) -> Result<BTreeMap<FunctionKey, i64>, StoreError> {
    if activities.is_empty() {
        return Ok(BTreeMap::new());
    }
    let accounts: Vec<&str> = activities.keys().map(|(a, _)| a.as_str()).collect();
    let functions: Vec<&str> = activities.keys().map(|(_, f)| f.as_str()).collect();
    let statement = transaction
        .prepare_cached(SELECT_WATERMARKS)
        .await
        .map_err(failed("preparing the watermark lookup"))?;
    let stored_rows = transaction
        .query(&statement, &[&accounts, &functions])
        .await
        .map_err(failed("reading function_watermark"))?;
    let mut stored = BTreeMap::new();
    for row in &stored_rows {
        let reading = failed("reading function_watermark");
        stored.insert(
            (
                row.try_get(0).map_err(&reading)?,
                row.try_get(1).map_err(&reading)?,
            ),
            row.try_get(2).map_err(&reading)?,
        );
    }
    Ok(stored)
}

/// The error-rate alerts of the windows in `spans` and the cost-spike
/// alerts of the hours in `hour_spans`, on their current counts and costs,
/// from one read.
async fn judge(
    transaction: &Tx,
    batch: &StoreBatch<'_>,
    spans: &[(&FunctionKey, WindowSpan)],
    hour_spans: &[(&FunctionKey, WindowSpan)],
) -> Result<Vec<Alert>, StoreError> {
    // What each range read is for: a window span, or an hour span's range.
    let hour_ranges: Vec<(&FunctionKey, (i64, i64))> = hour_spans
        .iter()
        .flat_map(|(function, span)| {
            minutes_to_read(span)
                .into_iter()
                .map(move |range| (*function, range))
        })
        .collect();
    if spans.is_empty() && hour_ranges.is_empty() {
        return Ok(Vec::new());
    }
    let rules = batch.rules;
    let ranges: Vec<(&FunctionKey, (i64, i64))> = spans
        .iter()
        .map(|(function, span)| (*function, span.minutes_ms(rules)))
        .chain(hour_ranges.iter().copied())
        .collect();
    let accounts: Vec<&str> = ranges.iter().map(|((a, _), _)| a.as_str()).collect();
    let functions: Vec<&str> = ranges.iter().map(|((_, f), _)| f.as_str()).collect();
    let after: Vec<i64> = ranges.iter().map(|(_, (after_ms, _))| *after_ms).collect();
    let before: Vec<i64> = ranges
        .iter()
        .map(|(_, (_, before_ms))| *before_ms)
        .collect();
    let hour_functions: Vec<&FunctionKey> = {
        let mut keys: Vec<&FunctionKey> =
            hour_ranges.iter().map(|(function, _)| *function).collect();
        keys.dedup();
        keys
    };
    let first_accounts: Vec<&str> = hour_functions.iter().map(|(a, _)| a.as_str()).collect();
    let first_functions: Vec<&str> = hour_functions.iter().map(|(_, f)| f.as_str()).collect();
    let statement = transaction
        .prepare_cached(SELECT_WINDOW_MINUTES)
        .await
        .map_err(failed("preparing the window query"))?;
    let minute_rows = transaction
        .query(
            &statement,
            &[
                &accounts,
                &functions,
                &after,
                &before,
                &first_accounts,
                &first_functions,
            ],
        )
        .await
        .map_err(failed("reading function_minute"))?;
    let mut tallies: BTreeMap<&FunctionKey, WindowTally> = BTreeMap::new();
    let mut costs: BTreeMap<&FunctionKey, MinuteCosts> = BTreeMap::new();
    let mut first_minutes: BTreeMap<&FunctionKey, i64> = BTreeMap::new();
    for row in &minute_rows {
        let reading = failed("reading function_minute");
        let position: i64 = row.try_get(0).map_err(&reading)?;
        let minute_ms: Option<i64> = row.try_get(1).map_err(&reading)?;
        let Some(minute_ms) = minute_ms else {
            continue;
        };
        if position < 0 {
            if let Some(function) = usize::try_from(-position - 1)
                .ok()
                .and_then(|index| hour_functions.get(index))
            {
                first_minutes.insert(*function, minute_ms);
            }
            continue;
        }
        let Ok(index) = usize::try_from(position.saturating_sub(1)) else {
            continue;
        };
        if let Some((function, span)) = spans.get(index) {
            tallies.entry(*function).or_default().add(
                rules,
                span,
                minute_ms,
                row.try_get(2).map_err(&reading)?,
                row.try_get(3).map_err(&reading)?,
            );
        } else if let Some((function, _)) = ranges.get(index) {
            costs
                .entry(*function)
                .or_default()
                .add(minute_ms, row.try_get(4).map_err(&reading)?);
        }
    }
    let mut alerts = Vec::new();
    for ((account, function), tally) in tallies {
        let meta = batch.metadata.get(&meta_key(account, function));
        for counts in tally.counts(account, function) {
            alerts.extend(window_alert(&counts, meta, rules));
        }
    }
    for function_key in hour_functions {
        let (account, function) = function_key;
        let function_spans: Vec<WindowSpan> = hour_spans
            .iter()
            .filter(|(key, _)| *key == function_key)
            .map(|(_, span)| *span)
            .collect();
        alerts.extend(cost_spike_alerts(
            (account, function),
            &function_spans,
            &costs.remove(function_key).unwrap_or_default(),
            first_minutes.get(function_key).copied(),
            batch.metadata.get(&meta_key(account, function)),
        ));
    }
    Ok(alerts)
}
