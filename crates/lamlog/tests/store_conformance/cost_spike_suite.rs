//! The conformance test of cost spikes, written once over any `S: Store`:
//! an hour that costs more than three times the function's baseline raises
//! one `cost_spike` alert for that hour when the watermark closes it (and
//! not before), a function whose jump stays under the floor raises none,
//! and replaying every batch raises nothing more.

use lamlog::store::{Store, WriteOutcome};
use lamlog_core::judge::AlertKind;
use lamlog_core::meta::{AlertThresholds, FunctionMeta};

use super::evidence::{report, Evidence, Figures, Setup};
use super::evidence::{ACCOUNT, BASE_MS};

const HOUR_MS: i64 = 3_600_000;
/// Past the default grace (5 minutes) after an hour's end.
const TEN_MINUTES_MS: i64 = 600_000;

/// One REPORT of `function` lasting `duration_ms` (128 MB) at `time_ms`.
fn invocation(function: &str, request_id: &str, time_ms: i64, duration_ms: f64) -> Evidence {
    Evidence::new(
        ACCOUNT,
        function,
        time_ms,
        report(request_id, Figures::new(duration_ms, 128, 60), None, None),
    )
}

fn cost_spikes(outcome: &WriteOutcome) -> Vec<(String, i64)> {
    outcome
        .new_alerts
        .iter()
        .filter(|alert| alert.kind == AlertKind::CostSpike)
        .map(|alert| (alert.function.clone(), alert.window_start_ms))
        .collect()
}

pub async fn a_cost_spike_is_raised_once_when_its_hour_closes<S: Store>(mut store: S) {
    // `spender` has no floor, `small` the default $0.50: both cost well
    // under a cent an hour, and both are ten times as costly in hour 26.
    let setup = Setup {
        received_at_ms: BASE_MS + 3 * 86_400_000,
        ..Setup::plain()
    }
    .with_meta(
        ACCOUNT,
        "spender",
        FunctionMeta {
            alerts: AlertThresholds {
                cost_spike_min_usd: Some(0.0),
                ..AlertThresholds::default()
            },
            ..FunctionMeta::default()
        },
    );
    let first_hour_ms = BASE_MS - BASE_MS.rem_euclid(HOUR_MS) + HOUR_MS;
    let hour = |index: i64| first_hour_ms + index * HOUR_MS;
    let both = |index: i64, minute_ms: i64, duration_ms: f64| {
        ["spender", "small"].map(|function| {
            invocation(
                function,
                &format!("{function}-{index}-{minute_ms}"),
                hour(index) + minute_ms,
                duration_ms,
            )
        })
    };
    // A day and two hours of 100 ms an hour.
    let history: Vec<Evidence> = (0..26)
        .flat_map(|index| both(index, 60_000, 100.0))
        .collect();
    let quiet = setup.write_evidence(&mut store, &history).await;
    assert_eq!(cost_spikes(&quiet), []);
    // Hour 26: 1,000 ms. Its own batch does not close it.
    let spike = both(26, 60_000, 1_000.0);
    let open = setup.write_evidence(&mut store, &spike).await;
    assert_eq!(cost_spikes(&open), []);
    // A line of hour 27 past the grace closes hour 26.
    let closing = both(27, TEN_MINUTES_MS, 100.0);
    let closed = setup.write_evidence(&mut store, &closing).await;
    assert_eq!(cost_spikes(&closed), [("spender".to_owned(), hour(26))]);
    // Replays raise nothing more.
    for batch in [&history[..], &spike[..], &closing[..]] {
        let again = setup.write_evidence(&mut store, batch).await;
        assert_eq!(cost_spikes(&again), []);
    }
}
