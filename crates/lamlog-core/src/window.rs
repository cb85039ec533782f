//! Window: which error-rate windows of a function a batch judges, and when.
//!
//! A window `[W, W + window_ms)` of a function **closes** when the function's
//! watermark, the latest start time of its reported invocations, reaches
//! `W + window_ms + grace_ms`. The stores keep one watermark per function and
//! ask this module, once per batch and function, what to do; the judging
//! itself is [`window_alert`](crate::judge::window_alert) on the window's
//! counts from the rollups. Three rules keep the verdicts right under late,
//! moved and future data:
//!
//! - **Closing.** A batch that moves the watermark from `old` to `new` judges
//!   every window with `old < W + window_ms + grace_ms ≤ new`, once, on the
//!   counts it has then. Lines within the grace period are therefore always
//!   counted, whatever the batching.
//! - **Late data.** A batch whose changed rows fall in a window that had
//!   already closed (a line later than the grace period, or a row whose second
//!   REPORT moved it there or out of there) judges that window again, on its
//!   current counts: an alert that late errors push over the threshold is
//!   raised late rather than never, and its dedup key keeps it from being
//!   raised twice. Such rows are counted ([`WindowPlan::late_invocations`]),
//!   since their verdict came after the window was first judged.
//! - **Future data.** The watermark follows start times only up to the
//!   batch's received time plus [`WATERMARK_SKEW_MS`]: one line stamped in
//!   year 9999 would otherwise close every window of its function at once,
//!   and each would be judged on whatever few lines it had so far.
//!
//! An alert once raised is never taken back (it may already have been sent),
//! so a window judged over the threshold stays alerted even if later lines
//! bring its rate down.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use crate::judge::{AlertRules, WindowCounts};
use crate::rollup::Contribution;

/// How far past its batch's received time a start time may move the
/// watermark. Lambda's and the consumer's clocks are both AWS-synchronised to
/// well under a second; a few minutes covers any real skew and the time a
/// record spends between being stamped and being received, while keeping a
/// line from the far future from closing windows that real data has not
/// reached.
pub const WATERMARK_SKEW_MS: i64 = 5 * 60_000;

/// A range of windows of one function to judge: those starting in
/// `(after_ms, until_ms]`, read from the minutes in
/// `(after_ms, until_ms + window_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpan {
    /// Windows start strictly after this instant (epoch ms).
    pub after_ms: i64,
    /// … and at or before this one.
    pub until_ms: i64,
}

impl WindowSpan {
    /// The span of one window.
    pub fn single(window_start_ms: i64) -> WindowSpan {
        WindowSpan {
            after_ms: window_start_ms.saturating_sub(1),
            until_ms: window_start_ms,
        }
    }

    /// Whether the window starting at `window_start_ms` is judged from this span.
    pub fn judges(&self, window_start_ms: i64) -> bool {
        self.after_ms < window_start_ms && window_start_ms <= self.until_ms
    }

    /// The minutes to read, both bounds exclusive: every minute of every
    /// window the span judges, and possibly some of neighbouring windows,
    /// which [`WindowTally::add`] leaves out.
    pub fn minutes_ms(&self, rules: &AlertRules) -> (i64, i64) {
        (
            self.after_ms,
            self.until_ms.saturating_add(rules.window_ms.max(1)),
        )
    }
}

/// What one batch did to one function, as the window rules need it. The
/// store records each row the batch inserted or changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchActivity {
    /// The latest start time of the function's reported rows in the batch.
    pub latest_start_ms: Option<i64>,
    /// The minutes whose counts the batch changed: each changed row's minute
    /// before and after.
    pub touched_minutes_ms: BTreeSet<i64>,
    /// The minute of each changed row whose contribution changed, one entry
    /// per row (a row can be late only once per batch).
    pub changed_rows_minute_ms: Vec<i64>,
}

impl BatchActivity {
    /// Records one row the batch inserted or changed: `reported_start_ms` is
    /// its start time once it is reported, `old` and `new` its contributions
    /// to the rollups before and after (`None` while it has no REPORT).
    pub fn record(
        &mut self,
        reported_start_ms: Option<i64>,
        old: Option<&Contribution>,
        new: Option<&Contribution>,
    ) {
        if let Some(start_ms) = reported_start_ms {
            self.latest_start_ms = Some(
                self.latest_start_ms
                    .map_or(start_ms, |latest_ms| latest_ms.max(start_ms)),
            );
        }
        if old == new {
            return;
        }
        self.touched_minutes_ms.extend(
            old.iter()
                .chain(new.iter())
                .map(|contribution| contribution.minute_ms),
        );
        if let Some(new) = new {
            self.changed_rows_minute_ms.push(new.minute_ms);
        }
    }
}

/// What a store does for one function at the end of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowPlan {
    /// The new watermark, when it moves (store it).
    pub new_watermark_ms: Option<i64>,
    /// The windows to judge on their current counts. No window is in two
    /// spans.
    pub spans: Vec<WindowSpan>,
    /// Changed rows whose window had closed before the batch.
    pub late_invocations: u64,
}

/// The earliest start time a window starting at `window_start_ms` needs the
/// watermark to reach before it closes.
fn closes_at_ms(rules: &AlertRules, window_start_ms: i64) -> i64 {
    window_start_ms
        .saturating_add(rules.window_ms.max(1))
        .saturating_add(rules.grace_ms)
}

/// Whether the window starting at `window_start_ms` is closed under
/// `watermark_ms` (never, when there is none yet).
pub fn is_closed(rules: &AlertRules, window_start_ms: i64, watermark_ms: Option<i64>) -> bool {
    watermark_ms.is_some_and(|watermark_ms| closes_at_ms(rules, window_start_ms) <= watermark_ms)
}

/// The plan for one function: `stored_watermark_ms` is its watermark before
/// the batch, `activity` what the batch did to it, `received_at_ms` when the
/// batch was received (the clock that bounds the watermark).
pub fn plan(
    rules: &AlertRules,
    stored_watermark_ms: Option<i64>,
    activity: &BatchActivity,
    received_at_ms: i64,
) -> WindowPlan {
    let limit_ms = received_at_ms.saturating_add(WATERMARK_SKEW_MS);
    let new_watermark_ms = activity
        .latest_start_ms
        .map(|latest_ms| latest_ms.min(limit_ms))
        .filter(|candidate_ms| stored_watermark_ms.is_none_or(|stored| stored < *candidate_ms));
    let mut spans = Vec::new();
    let closing_delay_ms = closes_at_ms(rules, 0);
    let lowest_ms =
        stored_watermark_ms.map_or(i64::MIN, |old| old.saturating_sub(closing_delay_ms));
    if let Some(new_ms) = new_watermark_ms {
        let highest_ms = new_ms.saturating_sub(closing_delay_ms);
        if highest_ms > lowest_ms {
            spans.push(WindowSpan {
                after_ms: lowest_ms,
                until_ms: highest_ms,
            });
        }
    }
    // Windows closed before this batch cannot be in the closing span, whose
    // windows all start after `lowest_ms`.
    let late_windows: BTreeSet<i64> = activity
        .touched_minutes_ms
        .iter()
        .map(|minute_ms| rules.window_start(*minute_ms))
        .filter(|window_ms| is_closed(rules, *window_ms, stored_watermark_ms))
        .collect();
    debug_assert!(late_windows.iter().all(|window_ms| *window_ms <= lowest_ms));
    spans.extend(late_windows.into_iter().map(WindowSpan::single));
    let late_invocations = activity
        .changed_rows_minute_ms
        .iter()
        .filter(|minute_ms| is_closed(rules, rules.window_start(**minute_ms), stored_watermark_ms))
        .count() as u64;
    WindowPlan {
        new_watermark_ms,
        spans,
        late_invocations,
    }
}

/// Window counts folded from the minutes a store read for a plan's spans.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowTally {
    /// Window start → (invocations, failures).
    windows: BTreeMap<i64, (u64, u64)>,
}

impl WindowTally {
    /// Adds one `function_minute` row read for `span`; a minute of a window
    /// the span does not judge is left out, so a minute read for two spans
    /// counts once.
    pub fn add(
        &mut self,
        rules: &AlertRules,
        span: &WindowSpan,
        minute_ms: i64,
        invocations: i64,
        failures: i64,
    ) {
        let window_start_ms = rules.window_start(minute_ms);
        if !span.judges(window_start_ms) {
            return;
        }
        let counts = self.windows.entry(window_start_ms).or_default();
        counts.0 = counts
            .0
            .saturating_add(u64::try_from(invocations).unwrap_or(0));
        counts.1 = counts
            .1
            .saturating_add(u64::try_from(failures).unwrap_or(0));
    }

    /// The counts of every window with rows, in window order.
    pub fn counts(self, account: &str, function: &str) -> Vec<WindowCounts> {
        self.windows
            .into_iter()
            .map(|(window_start_ms, (invocations, failures))| WindowCounts {
                account: account.to_owned(),
                function: function.to_owned(),
                window_start_ms,
                invocations,
                failures,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
