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

use lamlog_core::judge::window_alert;
use lamlog_core::meta::meta_key;
use lamlog_core::window::{plan, BatchActivity, WindowTally};
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
    for counts in tally.counts(account, function) {
        if let Some(alert) = window_alert(&counts, meta, rules) {
            if alerts::insert_alert(transaction, batch, &alert)? {
                outcome.new_alerts.push(alert);
            }
        }
    }
    Ok(())
}
