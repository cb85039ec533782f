//! The conformance tests of the alerts outbox, written once over any
//! `S: Store`, through the real batch driver: alerts are marked sent only
//! once a notifier delivered them, and every batch first re-sends what is
//! unsent and due.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use lamlog::batch::{BatchInput, BatchSummary, Pipeline, Settings};
use lamlog::enrich::file::FileSource;
use lamlog::enrich::{Enricher, MetaCache};
use lamlog::notify::{Notifier, NotifyError, Undelivered};
use lamlog::store::{Store, UNSENT_ALERT_DELAY_MS};
use lamlog_core::decode::Format;
use lamlog_core::judge::Alert;

use super::evidence::{ACCOUNT, BASE_MS};

/// What the notifier is to do on its next calls, and what it delivered.
#[derive(Debug, Default)]
pub struct Script {
    /// Fail whole calls while this is above zero (counting down).
    pub fail_calls: u32,
    /// Refuse alerts of these functions.
    pub refuse_functions: BTreeSet<String>,
    /// Every call's alerts, by dedup key, in order.
    pub calls: Vec<Vec<String>>,
    /// Dedup keys delivered, in order.
    pub delivered: Vec<String>,
}

/// A notifier that follows a shared [`Script`].
#[derive(Debug, Clone, Default)]
pub struct ScriptedNotifier(pub Arc<Mutex<Script>>);

impl Notifier for ScriptedNotifier {
    async fn notify(&mut self, alerts: &[Alert]) -> Result<(), Undelivered> {
        let mut script = self.0.lock().unwrap();
        script
            .calls
            .push(alerts.iter().map(|alert| alert.dedup_key.clone()).collect());
        if script.fail_calls > 0 {
            script.fail_calls -= 1;
            return Err(Undelivered::all(
                alerts.len(),
                NotifyError::Unavailable("connection refused".to_owned()),
            ));
        }
        let mut undelivered = Vec::new();
        for (index, alert) in alerts.iter().enumerate() {
            if script.refuse_functions.contains(&alert.function) {
                undelivered.push(index);
            } else {
                script.delivered.push(alert.dedup_key.clone());
            }
        }
        if undelivered.is_empty() {
            Ok(())
        } else {
            Err(Undelivered {
                undelivered,
                error: NotifyError::Unavailable("throttled".to_owned()),
            })
        }
    }
}

/// A CloudWatch Logs subscription document in which `function`'s request
/// `request_id` times out at `time_ms`.
fn timed_out(function: &str, request_id: &str, time_ms: i64) -> String {
    let events = [
        format!("START RequestId: {request_id} Version: $LATEST\n"),
        format!("2026-11-29T00:00:03.003Z {request_id} Task timed out after 3.00 seconds\n"),
        format!("END RequestId: {request_id}\n"),
        format!(
            "REPORT RequestId: {request_id}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\t\
             Memory Size: 128 MB\tMax Memory Used: 64 MB\tStatus: timeout\n"
        ),
    ];
    let log_events: Vec<serde_json::Value> = events
        .iter()
        .enumerate()
        .map(|(index, message)| {
            serde_json::json!({"id": format!("{request_id}-{index}"), "timestamp": time_ms, "message": message})
        })
        .collect();
    serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": format!("/aws/lambda/{function}"),
        "logStream": "2026/11/29/[$LATEST]0123456789abcdef",
        "subscriptionFilters": ["lamlog"],
        "logEvents": log_events,
    })
    .to_string()
}

type TestPipeline<S> = Pipeline<FileSource, S, ScriptedNotifier>;

fn pipeline<S: Store>(store: S, script: &Arc<Mutex<Script>>) -> TestPipeline<S> {
    Pipeline {
        enricher: Enricher::new(FileSource::default(), MetaCache::default()),
        store,
        notifier: ScriptedNotifier(Arc::clone(script)),
        settings: Settings::default(),
    }
}

/// An outbox delay other than the default, for the stores to honour.
pub const SHORT_DELAY_MS: i64 = 5_000;

async fn run<S: Store>(pipeline: &mut TestPipeline<S>, text: &str, now_ms: i64) -> BatchSummary {
    pipeline
        .run(BatchInput {
            source: "outbox-test",
            bytes: text.as_bytes(),
            format: Format::Cwl,
            received_at_ms: now_ms,
        })
        .await
        .expect("a delivery failure never fails a committed batch")
}

fn calls(script: &Arc<Mutex<Script>>) -> usize {
    script.lock().unwrap().calls.len()
}

/// With the pipeline's outbox delay `delay_ms` (more than a second).
pub async fn alerts_wait_in_the_outbox_until_delivered<S: Store>(store: S, delay_ms: i64) {
    let script = Arc::new(Mutex::new(Script {
        fail_calls: 1,
        ..Script::default()
    }));
    let mut pipeline = pipeline(store, &script);
    pipeline.settings.unsent_alert_delay_ms = delay_ms;
    let t0 = BASE_MS;
    let batch = format!(
        "{}\n{}",
        timed_out("fn-a", "r-1", t0),
        timed_out("fn-b", "r-2", t0)
    );

    // The alert service is down: the batch still commits, the alerts wait.
    let first = run(&mut pipeline, &batch, t0).await;
    assert_eq!(first.outcome.inserted, 2);
    assert_eq!(first.outcome.new_alerts.len(), 2);
    assert_eq!(first.delivery.failed, 2, "{:?}", first.delivery);
    assert_eq!(first.delivery.sent, 0);
    assert_eq!(first.delivery.unsent, 2);
    assert!(first.delivery.error.is_some());
    assert!(script.lock().unwrap().delivered.is_empty());
    let keys: Vec<String> = first
        .outcome
        .new_alerts
        .iter()
        .map(|alert| alert.dedup_key.clone())
        .collect();

    // A replay of the batch finds nothing new, and the alerts are not due yet.
    let replay = run(&mut pipeline, &batch, t0 + 1_000).await;
    assert!(replay.outcome.new_alerts.is_empty());
    assert_eq!(replay.outcome.unchanged, 2);
    assert_eq!(calls(&script), 1, "nothing due, nothing sent");

    // Not due a moment before the delay is over.
    let due_ms = t0 + delay_ms;
    let before = run(&mut pipeline, "", due_ms - 1).await;
    assert_eq!(before.delivery.resent, 0);
    assert_eq!(calls(&script), 1, "nothing due, nothing sent");

    // Once due, the next batch (here an empty one) sends them, oldest first;
    // the service now refuses fn-b's alert.
    script
        .lock()
        .unwrap()
        .refuse_functions
        .insert("fn-b".to_owned());
    let second = run(&mut pipeline, "", due_ms).await;
    assert_eq!(second.delivery.resent, 2);
    assert_eq!(second.delivery.sent, 1);
    assert_eq!(second.delivery.failed, 1);
    assert_eq!(second.delivery.unsent, 1);
    assert_eq!(script.lock().unwrap().delivered, [keys[0].clone()]);

    // fn-b's alert was claimed by that pass: not due again at once.
    script.lock().unwrap().refuse_functions.clear();
    let early = run(&mut pipeline, "", due_ms + 1).await;
    assert_eq!(early.delivery.resent, 0);
    assert_eq!(calls(&script), 2);

    // Held for the delay, then due again: only the undelivered one is sent.
    let held = run(&mut pipeline, "", due_ms + delay_ms - 1).await;
    assert_eq!(held.delivery.resent, 0);
    assert_eq!(calls(&script), 2);
    let third = run(&mut pipeline, "", due_ms + delay_ms).await;
    assert_eq!(third.delivery.resent, 1);
    assert_eq!(third.delivery.sent, 1);
    assert_eq!(third.delivery.unsent, 0);
    assert!(third.delivery.error.is_none());
    assert_eq!(
        script.lock().unwrap().delivered,
        [keys[0].clone(), keys[1].clone()]
    );

    // Everything sent: later batches send nothing more.
    let later = run(&mut pipeline, "", due_ms + 10 * delay_ms).await;
    assert_eq!(later.delivery.resent, 0);
    assert_eq!(calls(&script), 3);
    assert_eq!(pipeline.store.unsent_alert_count().await.unwrap(), 0);
}

pub async fn new_alerts_are_sent_by_their_batch_and_marked<S: Store>(store: S) {
    let script = Arc::new(Mutex::new(Script::default()));
    let mut pipeline = pipeline(store, &script);
    let summary = run(&mut pipeline, &timed_out("fn-a", "r-1", BASE_MS), BASE_MS).await;
    assert_eq!(summary.outcome.new_alerts.len(), 1);
    assert_eq!(summary.delivery.sent, 1);
    assert_eq!(summary.delivery.resent, 0);
    assert_eq!(
        script.lock().unwrap().delivered,
        [summary.outcome.new_alerts[0].dedup_key.clone()]
    );
    assert_eq!(pipeline.store.unsent_alert_count().await.unwrap(), 0);
    // Marked sent: never due, however late.
    let claimed = pipeline
        .store
        .claim_unsent_alerts(
            BASE_MS + 100 * UNSENT_ALERT_DELAY_MS,
            UNSENT_ALERT_DELAY_MS,
            10,
        )
        .await
        .unwrap();
    assert!(claimed.is_empty(), "{claimed:?}");
}

pub async fn a_claim_is_oldest_first_and_holds_for_a_while<S: Store>(store: S) {
    let script = Arc::new(Mutex::new(Script {
        fail_calls: 2,
        ..Script::default()
    }));
    let mut pipeline = pipeline(store, &script);
    // Two batches, a minute apart, each leaving one alert unsent.
    run(
        &mut pipeline,
        &timed_out("fn-late", "r-2", BASE_MS),
        BASE_MS + 60_000,
    )
    .await;
    run(
        &mut pipeline,
        &timed_out("fn-early", "r-1", BASE_MS),
        BASE_MS,
    )
    .await;
    let store = &mut pipeline.store;
    assert_eq!(store.unsent_alert_count().await.unwrap(), 2);
    let now_ms = BASE_MS + 60_000 + UNSENT_ALERT_DELAY_MS;
    let claimed = store
        .claim_unsent_alerts(now_ms, UNSENT_ALERT_DELAY_MS, 10)
        .await
        .unwrap();
    let functions: Vec<&str> = claimed
        .iter()
        .map(|alert| alert.function.as_str())
        .collect();
    assert_eq!(functions, ["fn-early", "fn-late"], "oldest first");
    // The stored alert reads back as it was raised.
    assert_eq!(claimed[0].kind.as_str(), "timeout");
    assert_eq!(claimed[0].request_id.as_deref(), Some("r-1"));
    assert_eq!(claimed[0].account, ACCOUNT);
    // A second pass at once finds them claimed; a bounded pass takes one.
    assert!(store
        .claim_unsent_alerts(now_ms, UNSENT_ALERT_DELAY_MS, 10)
        .await
        .unwrap()
        .is_empty());
    let again = now_ms + UNSENT_ALERT_DELAY_MS;
    assert_eq!(
        store
            .claim_unsent_alerts(again, UNSENT_ALERT_DELAY_MS, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    // Marking is idempotent, and only marked alerts stop being unsent.
    let key = claimed[0].dedup_key.as_str();
    store.mark_alerts_sent(&[key], again).await.unwrap();
    store.mark_alerts_sent(&[key], again + 1).await.unwrap();
    assert_eq!(store.unsent_alert_count().await.unwrap(), 1);
}
