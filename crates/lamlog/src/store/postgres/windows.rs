//! Watermarks and error-rate windows, set-based.
//!
//! The rules are [`lamlog_core::window`]'s, the SQLite store's too: per
//! function, the batch's changed rows give a [`BatchActivity`]; with the
//! stored watermark and the batch's received time it makes a [`plan`]: the
//! watermark's move (bounded by the received time plus
//! [`WATERMARK_SKEW_MS`](lamlog_core::window::WATERMARK_SKEW_MS)), the
//! windows that move closes, the already-closed windows the batch's rows
//! fall in (judged again), and how many rows came late. Here that is, for
//! all the batch's functions at once: one read of the stored watermarks, one
//! upsert of those that move, one read of the minutes of every window to
//! judge, then [`window_alert`] on each window's counts. The read of the
//! watermarks goes in the batch's first round trip (`write.rs`), the upsert
//! and the read of the minutes in its second, after the rollups.
//!
//! Reading the old watermark and writing the new one must not interleave
//! with another writer of the same function, or both would judge the same
//! windows: the caller holds each function's advisory lock (`locks.rs`).

use std::collections::BTreeMap;

use lamlog_core::judge::{window_alert, Alert};
use lamlog_core::meta::meta_key;
use lamlog_core::window::{plan, BatchActivity, WindowSpan, WindowTally};
use tokio_postgres::{Row, Statement};

use super::failed;
use super::pipeline::{self, param, Slot, Turn};
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

const SELECT_WINDOW_MINUTES: &str = "
    SELECT k.position, m.minute_ms, m.invocations, m.errors + m.crashes + m.ooms + m.timeouts
      FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[])
           WITH ORDINALITY AS k(account, function, after_ms, before_ms, position)
      JOIN function_minute m
        ON m.account = k.account AND m.function = k.function
       AND m.minute_ms > k.after_ms AND m.minute_ms < k.before_ms";

type FunctionKey = (String, String);

/// The watermark and window statements, prepared.
#[derive(Debug)]
pub(super) struct Prepared {
    select_watermarks: Statement,
    upsert_watermarks: Statement,
    select_window_minutes: Statement,
}

impl Prepared {
    /// Prepares them, in one round trip (none once cached).
    pub async fn prepare(client: &deadpool_postgres::Client) -> Result<Prepared, StoreError> {
        let prepared = pipeline::prepare(
            client,
            &[SELECT_WATERMARKS, UPSERT_WATERMARKS, SELECT_WINDOW_MINUTES],
        )
        .await?;
        let [select_watermarks, upsert_watermarks, select_window_minutes] =
            <[Statement; 3]>::try_from(prepared).map_err(|_| {
                StoreError::Statement("preparing the watermark statements".to_owned())
            })?;
        Ok(Prepared {
            select_watermarks,
            upsert_watermarks,
            select_window_minutes,
        })
    }
}

/// Adds to `turn` the read of the stored watermarks of `functions`, each
/// (account, function) once.
pub(super) fn push_read<'a>(
    turn: &mut Turn<'a>,
    prepared: &Prepared,
    functions: &[(&'a str, &'a str)],
) -> Slot {
    turn.query(
        "reading function_watermark",
        &prepared.select_watermarks,
        vec![
            param(functions.iter().map(|(a, _)| *a).collect::<Vec<_>>()),
            param(functions.iter().map(|(_, f)| *f).collect::<Vec<_>>()),
        ],
    )
}

/// The stored watermarks, from the answer of [`push_read`].
pub(super) fn stored(found: &[Row]) -> Result<BTreeMap<FunctionKey, i64>, StoreError> {
    let mut stored = BTreeMap::new();
    for row in found {
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

/// What the batch does to the watermarks and which windows it judges.
#[derive(Debug, Default)]
pub(super) struct Plans {
    /// The functions whose watermark moves, and where to.
    moved: Vec<(FunctionKey, i64)>,
    /// The windows to judge.
    spans: Vec<(FunctionKey, WindowSpan)>,
    /// Changed rows whose window had closed before the batch.
    pub late_invocations: u64,
}

/// Plans the watermark moves of the batch's functions and the windows the
/// moves close or its rows changed, from the `stored` watermarks.
pub(super) fn plan_all(
    batch: &StoreBatch<'_>,
    rows: &[RowChange<'_>],
    stored: &BTreeMap<FunctionKey, i64>,
) -> Plans {
    let mut activities: BTreeMap<FunctionKey, BatchActivity> = BTreeMap::new();
    for row in rows {
        let invocation = &row.new.invocation;
        // A row once reported stays so (the join only adds evidence).
        if !invocation.is_reported() {
            continue;
        }
        let (old, new) = row.contributions();
        activities
            .entry((row.account().to_owned(), row.function().to_owned()))
            .or_default()
            .record(invocation.start_time_ms, old.as_ref(), new.as_ref());
    }
    let mut plans = Plans::default();
    for (function, activity) in activities {
        let stored_watermark_ms = stored.get(&function).copied();
        let plan = plan(
            batch.rules,
            stored_watermark_ms,
            &activity,
            batch.received_at_ms,
        );
        plans.late_invocations += plan.late_invocations;
        if let Some(new_ms) = plan.new_watermark_ms {
            plans.moved.push((function.clone(), new_ms));
        }
        plans
            .spans
            .extend(plan.spans.iter().map(|span| (function.clone(), *span)));
    }
    plans
}

impl Plans {
    /// Adds to `turn` the upsert of the moved watermarks and the read of
    /// the minutes of the windows to judge (after the rollups: the read
    /// must see the batch's rows); that read's slot, if any.
    pub fn push<'a>(
        &'a self,
        turn: &mut Turn<'a>,
        prepared: &Prepared,
        batch: &StoreBatch<'_>,
    ) -> Option<Slot> {
        if !self.moved.is_empty() {
            turn.execute(
                "updating function_watermark",
                &prepared.upsert_watermarks,
                vec![
                    param(
                        self.moved
                            .iter()
                            .map(|((a, _), _)| a.as_str())
                            .collect::<Vec<_>>(),
                    ),
                    param(
                        self.moved
                            .iter()
                            .map(|((_, f), _)| f.as_str())
                            .collect::<Vec<_>>(),
                    ),
                    param(
                        self.moved
                            .iter()
                            .map(|(_, new_ms)| *new_ms)
                            .collect::<Vec<i64>>(),
                    ),
                ],
            );
        }
        if self.spans.is_empty() {
            return None;
        }
        let minutes: Vec<(i64, i64)> = self
            .spans
            .iter()
            .map(|(_, span)| span.minutes_ms(batch.rules))
            .collect();
        Some(turn.query(
            "reading function_minute",
            &prepared.select_window_minutes,
            vec![
                param(self.spans.iter().map(|((a, _), _)| a.as_str()).collect::<Vec<_>>()),
                param(self.spans.iter().map(|((_, f), _)| f.as_str()).collect::<Vec<_>>()),
                param(minutes.iter().map(|(after, _)| *after).collect::<Vec<i64>>()),
                param(minutes.iter().map(|(_, before)| *before).collect::<Vec<i64>>()),
            ],
        ))
    }

    /// The error-rate alerts of the windows judged, on their counts:
    /// `minute_rows`, the answer of the read [`Plans::push`] added.
    pub fn judged(
        &self,
        batch: &StoreBatch<'_>,
        minute_rows: &[Row],
    ) -> Result<Vec<Alert>, StoreError> {
        let rules = batch.rules;
        let mut tallies: BTreeMap<&FunctionKey, WindowTally> = BTreeMap::new();
        for row in minute_rows {
            let reading = failed("reading function_minute");
            let position: i64 = row.try_get(0).map_err(&reading)?;
            let Some((function, span)) = usize::try_from(position.saturating_sub(1))
                .ok()
                .and_then(|index| self.spans.get(index))
            else {
                continue;
            };
            tallies.entry(function).or_default().add(
                rules,
                span,
                row.try_get(1).map_err(&reading)?,
                row.try_get(2).map_err(&reading)?,
                row.try_get(3).map_err(&reading)?,
            );
        }
        let mut alerts = Vec::new();
        for ((account, function), tally) in tallies {
            let meta = batch.metadata.get(&meta_key(account, function));
            for counts in tally.counts(account, function) {
                alerts.extend(window_alert(&counts, meta, rules));
            }
        }
        Ok(alerts)
    }
}
