//! The conformance tests of alerts, written once over any `S: Store`:
//! dedup by key, the least request id as the example, and window alerts
//! judged once when the watermark passes the window's end plus grace.

use lamlog::store::{Store, WriteOutcome};
use lamlog_core::judge::AlertRules;
use lamlog_core::parse::ReportStatus;

use super::evidence::{
    crash, dump, only_line, report, table_lines, text_field, timeout, Evidence, Figures, Setup,
    ACCOUNT, BASE_MS,
};

pub async fn alerts_dedup_by_key<S: Store>(mut store: S) {
    let setup = Setup::plain();
    let timed_out = |function: &str, request_id: &str, time_ms: i64| {
        let figures = Figures::new(3_000.0, 128, 64);
        [
            Evidence::new(
                ACCOUNT,
                function,
                time_ms,
                report(request_id, figures, Some(ReportStatus::Timeout), None),
            ),
            Evidence::new(ACCOUNT, function, time_ms - 1, timeout(request_id, 3.0)),
        ]
    };
    // Across batches, the larger request id first.
    let first = setup
        .write_evidence(&mut store, &timed_out("split", "r-b", BASE_MS + 10_000))
        .await;
    assert_eq!(first.new_alerts.len(), 1);
    assert_eq!(first.new_alerts[0].request_id.as_deref(), Some("r-b"));
    let second = setup
        .write_evidence(&mut store, &timed_out("split", "r-a", BASE_MS + 20_000))
        .await;
    assert!(second.new_alerts.is_empty(), "{:?}", second.new_alerts);
    let replay = setup
        .write_evidence(&mut store, &timed_out("split", "r-b", BASE_MS + 10_000))
        .await;
    assert!(replay.new_alerts.is_empty());
    // In one batch.
    let both: Vec<Evidence> = timed_out("whole", "r-b", BASE_MS + 10_000)
        .into_iter()
        .chain(timed_out("whole", "r-a", BASE_MS + 20_000))
        .collect();
    let together = setup.write_evidence(&mut store, &both).await;
    assert_eq!(together.new_alerts.len(), 1);
    let text = dump(&mut store).await;
    let alerts = table_lines(&text, "alerts");
    assert_eq!(alerts.len(), 2, "{text}");
    for line in alerts {
        assert!(line.contains(" occurrences=2"), "{line}");
        assert!(line.contains(&text_field("request_id", "r-a")), "{line}");
        assert!(
            line.contains("timed out after 3.00 s (request r-a)"),
            "{line}"
        );
    }
}

pub async fn alert_example_follows_its_invocation<S: Store>(mut store: S) {
    let setup = Setup::plain();
    let on = |time_ms, line| Evidence::new(ACCOUNT, "worker", time_ms, line);
    let figures = Figures::new(3_000.0, 128, 64);
    setup
        .write_evidence(
            &mut store,
            &[on(
                BASE_MS,
                report("r-1", figures, Some(ReportStatus::Timeout), None),
            )],
        )
        .await;
    let text = dump(&mut store).await;
    assert!(
        only_line(&text, "alerts").contains("invocation timed out (request r-1)"),
        "{text}"
    );
    setup
        .write_evidence(&mut store, &[on(BASE_MS - 1, timeout("r-1", 3.0))])
        .await;
    let text = dump(&mut store).await;
    let line = only_line(&text, "alerts");
    assert!(
        line.contains("invocation timed out after 3.00 s (request r-1)"),
        "{line}"
    );
    assert!(line.contains(" occurrences=1"), "{line}");
}

pub async fn window_alert_fires_once_after_grace<S: Store>(mut store: S) {
    let rules = AlertRules {
        window_ms: 60_000,
        grace_ms: 30_000,
        error_rate: 0.1,
        error_rate_min_invocations: 2,
        ..AlertRules::default()
    };
    let setup = Setup {
        rules,
        ..Setup::plain()
    };
    let on = |time_ms, line| Evidence::new(ACCOUNT, "w", time_ms, line);
    let ok = |request_id: &str| report(request_id, Figures::new(20.0, 128, 30), None, None);
    let failed = |request_id: &str| {
        report(
            request_id,
            Figures::new(20.0, 128, 30),
            Some(ReportStatus::Error),
            Some("Runtime.ExitError"),
        )
    };
    let error_rate_keys = |outcome: &WriteOutcome| -> Vec<String> {
        outcome
            .new_alerts
            .iter()
            .filter(|alert| alert.kind.as_str() == "error_rate")
            .map(|alert| alert.dedup_key.clone())
            .collect()
    };
    let first_window = [
        on(BASE_MS + 1_000, ok("r-1")),
        on(BASE_MS + 2_000, failed("r-2")),
        on(BASE_MS + 2_000, crash("r-2", false)),
        on(BASE_MS + 50_000, failed("r-3")),
    ];
    let outcome = setup.write_evidence(&mut store, &first_window).await;
    assert!(error_rate_keys(&outcome).is_empty());
    let outcome = setup
        .write_evidence(&mut store, &[on(BASE_MS + 89_999, ok("r-4"))])
        .await;
    assert!(
        error_rate_keys(&outcome).is_empty(),
        "the window is not closed before its end plus grace"
    );
    let closing = [on(BASE_MS + 90_000, ok("r-5"))];
    let outcome = setup.write_evidence(&mut store, &closing).await;
    assert_eq!(
        error_rate_keys(&outcome),
        [format!("error_rate|{ACCOUNT}|w|{BASE_MS}")]
    );
    assert!(
        outcome.new_alerts[0]
            .message
            .contains("2 of 3 invocations failed"),
        "{:?}",
        outcome.new_alerts
    );
    let replay = setup.write_evidence(&mut store, &closing).await;
    assert!(replay.new_alerts.is_empty());
    let too_late = setup
        .write_evidence(&mut store, &[on(BASE_MS + 10_000, failed("r-0"))])
        .await;
    assert!(
        too_late.new_alerts.is_empty(),
        "a window judged again keeps its one alert"
    );
    let much_later = setup
        .write_evidence(&mut store, &[on(BASE_MS + 400_000, ok("r-6"))])
        .await;
    assert!(
        error_rate_keys(&much_later).is_empty(),
        "the second window (2 successes) is fine"
    );
    let text = dump(&mut store).await;
    let line = only_line(&text, "alerts");
    assert!(
        line.contains(" kind=\"error_rate\"") && line.contains(" occurrences=1"),
        "{line}"
    );
}
