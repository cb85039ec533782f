//! The window rules on hand-made activity: closing spans, the watermark's
//! bound, late rows and a tally that counts each minute once.

use super::*;
use crate::rollup::Contribution;

/// 5-minute windows judged 1 minute after their end: a window W closes when
/// the watermark reaches W + 6 minutes.
fn rules() -> AlertRules {
    AlertRules {
        window_ms: 300_000,
        grace_ms: 60_000,
        ..AlertRules::default()
    }
}

const MINUTE_MS: i64 = 60_000;
const WINDOW_MS: i64 = 300_000;
const CLOSING_DELAY_MS: i64 = 360_000;
/// A window start, and the batch's received time well after it.
const W0_MS: i64 = 1_750_000_200_000;
const RECEIVED_AT_MS: i64 = W0_MS + 86_400_000;

fn at(minute_ms: i64) -> Contribution {
    Contribution {
        minute_ms,
        invocations: 1,
        ..Contribution::default()
    }
}

fn reported(start_ms: i64) -> BatchActivity {
    let mut activity = BatchActivity::default();
    activity.record(
        Some(start_ms),
        None,
        Some(&at(start_ms - start_ms % MINUTE_MS)),
    );
    activity
}

#[test]
fn the_first_watermark_closes_every_earlier_window() {
    let latest_ms = W0_MS + CLOSING_DELAY_MS + 5;
    let plan = plan(&rules(), None, &reported(latest_ms), RECEIVED_AT_MS);
    assert_eq!(plan.new_watermark_ms, Some(latest_ms));
    assert_eq!(
        plan.spans,
        [WindowSpan {
            after_ms: i64::MIN,
            until_ms: latest_ms - CLOSING_DELAY_MS
        }]
    );
    assert!(plan.spans[0].judges(W0_MS));
    assert!(!plan.spans[0].judges(W0_MS + WINDOW_MS));
    assert_eq!(plan.late_invocations, 0);
}

#[test]
fn a_move_closes_the_windows_between_the_two_watermarks() {
    let old_ms = W0_MS + CLOSING_DELAY_MS - 1;
    let new_ms = W0_MS + WINDOW_MS + CLOSING_DELAY_MS;
    let plan = plan(&rules(), Some(old_ms), &reported(new_ms), RECEIVED_AT_MS);
    assert_eq!(plan.new_watermark_ms, Some(new_ms));
    let span = plan.spans[0];
    assert_eq!(plan.spans.len(), 1);
    assert!(!span.judges(W0_MS - WINDOW_MS), "closed before");
    assert!(span.judges(W0_MS) && span.judges(W0_MS + WINDOW_MS));
    assert!(!span.judges(W0_MS + 2 * WINDOW_MS), "still open");
    assert_eq!(
        span.minutes_ms(&rules()),
        (old_ms - CLOSING_DELAY_MS, new_ms - MINUTE_MS)
    );
}

#[test]
fn an_earlier_start_neither_moves_nor_closes() {
    let stored_ms = W0_MS + CLOSING_DELAY_MS;
    let plan = plan(
        &rules(),
        Some(stored_ms),
        &reported(stored_ms - 1),
        RECEIVED_AT_MS,
    );
    assert_eq!(plan, WindowPlan::default());
}

#[test]
fn the_watermark_stops_at_the_received_time_plus_skew() {
    let year_9999_ms = 253_402_300_799_000;
    let limit_ms = RECEIVED_AT_MS + WATERMARK_SKEW_MS;
    let plan = plan(&rules(), None, &reported(year_9999_ms), RECEIVED_AT_MS);
    assert_eq!(plan.new_watermark_ms, Some(limit_ms));
    assert_eq!(plan.spans[0].until_ms, limit_ms - CLOSING_DELAY_MS);
    let again = super::plan(
        &rules(),
        Some(limit_ms),
        &reported(year_9999_ms),
        RECEIVED_AT_MS,
    );
    assert_eq!(
        again.new_watermark_ms, None,
        "a capped watermark does not creep"
    );
    assert!(!is_closed(&rules(), year_9999_ms, Some(limit_ms)));
}

#[test]
fn late_rows_rejudge_their_closed_window_and_are_counted() {
    let stored_ms = W0_MS + CLOSING_DELAY_MS;
    let mut activity = BatchActivity::default();
    // Two late rows in the closed window, one in the next, still open one.
    for start_ms in [W0_MS + 10, W0_MS + MINUTE_MS, W0_MS + WINDOW_MS] {
        activity.record(
            Some(start_ms),
            None,
            Some(&at(start_ms - start_ms % MINUTE_MS)),
        );
    }
    let plan = plan(&rules(), Some(stored_ms), &activity, RECEIVED_AT_MS);
    assert_eq!(plan.new_watermark_ms, None);
    assert_eq!(plan.spans, [WindowSpan::single(W0_MS)]);
    assert_eq!(plan.late_invocations, 2);
}

#[test]
fn a_row_moved_out_of_a_closed_window_rejudges_it_without_being_late() {
    let stored_ms = W0_MS + CLOSING_DELAY_MS;
    let moved_to_ms = W0_MS + WINDOW_MS + MINUTE_MS;
    let mut activity = BatchActivity::default();
    activity.record(Some(moved_to_ms), Some(&at(W0_MS)), Some(&at(moved_to_ms)));
    let plan = plan(&rules(), Some(stored_ms), &activity, RECEIVED_AT_MS);
    assert_eq!(plan.spans, [WindowSpan::single(W0_MS)]);
    assert_eq!(plan.late_invocations, 0);
}

#[test]
fn an_unchanged_contribution_touches_nothing() {
    let stored_ms = W0_MS + CLOSING_DELAY_MS;
    let mut activity = BatchActivity::default();
    activity.record(Some(W0_MS), Some(&at(W0_MS)), Some(&at(W0_MS)));
    let plan = plan(&rules(), Some(stored_ms), &activity, RECEIVED_AT_MS);
    assert_eq!(plan, WindowPlan::default());
}

#[test]
fn a_minute_read_for_two_spans_counts_once() {
    let rules = rules();
    let closing = WindowSpan {
        after_ms: W0_MS + 2 * MINUTE_MS,
        until_ms: W0_MS + WINDOW_MS,
    };
    let single = WindowSpan::single(W0_MS);
    let mut tally = WindowTally::default();
    for span in [&closing, &single] {
        let (after_ms, before_ms) = span.minutes_ms(&rules);
        let mut minute_ms = W0_MS;
        while minute_ms < W0_MS + 2 * WINDOW_MS {
            if after_ms < minute_ms && minute_ms < before_ms {
                tally.add(&rules, span, minute_ms, 2, 1);
            }
            minute_ms += MINUTE_MS;
        }
    }
    let counts = tally.counts("a", "f");
    let windows: Vec<(i64, u64, u64)> = counts
        .iter()
        .map(|counts| (counts.window_start_ms, counts.invocations, counts.failures))
        .collect();
    assert_eq!(windows, [(W0_MS, 10, 5), (W0_MS + WINDOW_MS, 10, 5)]);
}
