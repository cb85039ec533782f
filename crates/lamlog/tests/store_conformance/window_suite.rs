//! The conformance tests of rollups and windows under late, moved and future
//! data, written once over any `S: Store`:
//! - a second REPORT that moves an invocation to another minute moves its
//!   whole contribution (counters, histogram, max) with it;
//! - a line stamped in year 9999 does not close its function's windows;
//! - errors that arrive after their window was judged judge it again, so
//!   the alert is raised late rather than never, and once.

use std::borrow::Cow;

use lamlog::store::{Store, WriteOutcome};
use lamlog_core::judge::AlertRules;
use lamlog_core::parse::{LogLine, Report, ReportStatus};

use super::evidence::{crash, dump, only_line, report, table_lines, Evidence, Figures, Setup};
use super::evidence::{ACCOUNT, BASE_MS};

const MINUTE_MS: i64 = 60_000;

/// A REPORT with its billed duration given, so that two REPORTs of one
/// request with different durations cost the same (the cost is set once,
/// from the first REPORT stored, so only then do a store that saw both and
/// a store that saw their join agree on it).
fn billed_report(
    request_id: &str,
    duration_ms: f64,
    billed_duration_ms: u64,
    status: Option<ReportStatus>,
) -> LogLine<'static> {
    LogLine::Report(Report {
        request_id: Cow::Owned(request_id.to_owned()),
        duration_ms: Some(duration_ms),
        billed_duration_ms: Some(billed_duration_ms),
        memory_size_mb: Some(128),
        max_memory_used_mb: Some(60),
        error_type: status.map(|_| Cow::Borrowed("Runtime.HandlerError")),
        status,
        ..Report::default()
    })
}

pub async fn a_moved_report_moves_its_rollups<S: Store>(mut store: S, mut fresh: S) {
    let setup = Setup::plain();
    let on = |time_ms, line| Evidence::new(ACCOUNT, "mover", time_ms, line);
    // Minute A holds the moving request (the minute's longest) and one that
    // stays; minute B one other request; minute C only a request that moves
    // on to minute D.
    let minute_a_ms = BASE_MS;
    let minute_b_ms = BASE_MS + 2 * MINUTE_MS;
    let minute_c_ms = BASE_MS + 3 * MINUTE_MS;
    let minute_d_ms = BASE_MS + 4 * MINUTE_MS;
    let first = [
        on(
            minute_a_ms + 1_000,
            billed_report("r-stay", 100.0, 100, None),
        ),
        on(
            minute_a_ms + 5_000,
            billed_report("r-move", 400.0, 1_000, None),
        ),
        on(minute_b_ms + 1_000, billed_report("r-next", 50.0, 50, None)),
        on(minute_c_ms + 1_000, billed_report("r-lone", 10.0, 10, None)),
    ];
    // The second REPORT of r-move (a re-run's, say) is later, longer and
    // failed: the join puts the request in minute B, in another histogram
    // bucket, with an error. r-lone's leaves minute C empty.
    let second = [
        on(
            minute_b_ms + 30_000,
            billed_report("r-move", 900.0, 1_000, Some(ReportStatus::Error)),
        ),
        on(minute_d_ms + 1_000, billed_report("r-lone", 10.0, 10, None)),
    ];
    setup.write_evidence(&mut store, &first).await;
    let moved = setup.write_evidence(&mut store, &second).await;
    assert_eq!(moved.updated, 2, "{moved:?}");

    let everything: Vec<Evidence> = first.iter().chain(&second).cloned().collect();
    setup.write_evidence(&mut fresh, &everything).await;
    let moved_text = dump(&mut store).await;
    let fresh_text = dump(&mut fresh).await;
    for table in ["function_minute", "function_minute_histogram"] {
        assert_eq!(
            table_lines(&moved_text, table),
            table_lines(&fresh_text, table),
            "{table} after the move differs from a store that saw only the final state"
        );
    }
    assert_eq!(moved_text, fresh_text);
    // And a replay of either batch changes nothing.
    setup.write_evidence(&mut store, &first).await;
    setup.write_evidence(&mut store, &second).await;
    assert_eq!(dump(&mut store).await, fresh_text);
}

/// One-minute windows judged 30 s after their end, over 10 % failed of at
/// least two invocations.
fn minute_windows() -> Setup {
    Setup {
        rules: AlertRules {
            window_ms: MINUTE_MS,
            grace_ms: 30_000,
            error_rate: 0.1,
            error_rate_min_invocations: 2,
            ..AlertRules::default()
        },
        ..Setup::plain()
    }
}

fn ok(request_id: &str) -> LogLine<'static> {
    report(request_id, Figures::new(20.0, 128, 30), None, None)
}

fn failed(request_id: &str) -> LogLine<'static> {
    report(
        request_id,
        Figures::new(20.0, 128, 30),
        Some(ReportStatus::Error),
        Some("Runtime.HandlerError"),
    )
}

fn error_rate_keys(outcome: &WriteOutcome) -> Vec<String> {
    outcome
        .new_alerts
        .iter()
        .filter(|alert| alert.kind.as_str() == "error_rate")
        .map(|alert| alert.dedup_key.clone())
        .collect()
}

pub async fn a_line_from_the_far_future_closes_no_window<S: Store>(mut store: S) {
    let setup = minute_windows();
    // Each batch is received just after its latest real line, as live
    // data is.
    let received_at = |received_at_ms| Setup {
        received_at_ms,
        ..setup.clone()
    };
    let on = |time_ms, line| Evidence::new(ACCOUNT, "w", time_ms, line);
    let year_9999_ms = 253_402_300_799_000;
    let window_ms = BASE_MS;
    let next_window_ms = BASE_MS + MINUTE_MS;

    let future = [on(year_9999_ms, ok("r-future"))];
    received_at(BASE_MS - 5 * MINUTE_MS)
        .write_evidence(&mut store, &future)
        .await;
    // Both windows look bad so far; the second will not once its lines are
    // in, so judging either now would be wrong.
    let early = [
        on(window_ms + 1_000, failed("r-1")),
        on(window_ms + 2_000, failed("r-2")),
        on(window_ms + 3_000, ok("r-3")),
        on(next_window_ms + 1_000, failed("r-4")),
        on(next_window_ms + 2_000, ok("r-5")),
    ];
    let outcome = received_at(next_window_ms + 3_000)
        .write_evidence(&mut store, &early)
        .await;
    assert_eq!(
        error_rate_keys(&outcome),
        Vec::<String>::new(),
        "no window is closed: the real watermark is {}",
        next_window_ms + 2_000
    );
    // The rest of the second window (1 failed of 20), and a line that closes
    // both windows.
    let mut rest: Vec<Evidence> = (0..18)
        .map(|index| {
            on(
                next_window_ms + 3_000 + index,
                ok(&format!("r-6-{index:02}")),
            )
        })
        .collect();
    let closing_ms = next_window_ms + MINUTE_MS + 30_000;
    rest.push(on(closing_ms, ok("r-closing")));
    let outcome = received_at(closing_ms + 1_000)
        .write_evidence(&mut store, &rest)
        .await;
    assert_eq!(
        error_rate_keys(&outcome),
        [format!("error_rate|{ACCOUNT}|w|{window_ms}")],
        "the real watermark closes both windows; only the first is over the threshold"
    );
    assert!(
        outcome.new_alerts[0]
            .message
            .contains("2 of 3 invocations failed"),
        "{:?}",
        outcome.new_alerts
    );
}

pub async fn late_errors_raise_a_closed_window_late<S: Store>(mut store: S) {
    let setup = Setup {
        rules: AlertRules {
            error_rate_min_invocations: 5,
            ..minute_windows().rules
        },
        ..Setup::plain()
    };
    let on = |time_ms, line| Evidence::new(ACCOUNT, "w", time_ms, line);
    let window_ms = BASE_MS;
    // 1 failed of 10: not over 10 %; the last line closes the window.
    let mut on_time: Vec<Evidence> = (0..9)
        .map(|index| on(window_ms + 1_000 * index, ok(&format!("r-ok-{index}"))))
        .collect();
    on_time.push(on(window_ms + 20_000, failed("r-failed")));
    on_time.push(on(window_ms + MINUTE_MS + 30_000, ok("r-closing")));
    let outcome = setup.write_evidence(&mut store, &on_time).await;
    assert_eq!(error_rate_keys(&outcome), Vec::<String>::new());
    assert_eq!(outcome.late_invocations, 0);

    // Three errors later than the grace period: 4 failed of 13.
    let late: Vec<Evidence> = (0..3)
        .map(|index| {
            on(
                window_ms + 40_000 + index,
                failed(&format!("r-late-{index}")),
            )
        })
        .collect();
    let outcome = setup.write_evidence(&mut store, &late).await;
    assert_eq!(
        error_rate_keys(&outcome),
        [format!("error_rate|{ACCOUNT}|w|{window_ms}")],
        "late errors push the closed window over the threshold"
    );
    assert!(
        outcome.new_alerts[0]
            .message
            .contains("4 of 13 invocations failed"),
        "{:?}",
        outcome.new_alerts
    );
    assert_eq!(outcome.late_invocations, 3);

    let replay = setup.write_evidence(&mut store, &late).await;
    assert!(replay.new_alerts.is_empty(), "{:?}", replay.new_alerts);
    assert_eq!(replay.late_invocations, 0, "a replay changes no row");
    // A late crash of a stored success changes the window's counts again,
    // but its alert is already there.
    let crashed = setup
        .write_evidence(&mut store, &[on(window_ms + 1_500, crash("r-ok-1", false))])
        .await;
    assert!(crashed.new_alerts.is_empty(), "{:?}", crashed.new_alerts);
    assert_eq!(crashed.late_invocations, 1);
    let text = dump(&mut store).await;
    let line = only_line(&text, "alerts");
    assert!(
        line.contains(" kind=\"error_rate\"") && line.contains(" occurrences=1"),
        "{line}"
    );
}
