//! A generated log stream, cut into batches and partly replayed, for the
//! split-and-replay property: the stored state must not depend on where
//! Kinesis cut the stream or what it re-delivered.
//!
//! The stream is shaped like a real one: several functions (one with SQL
//! metacharacters in its name, one enriched, one not); invocations about
//! 18 s apart over 20–30 minutes; REPORT, START, timeout, crash, OOM and
//! application error lines of one request often in different records (up to
//! two records late); a few undecodable records. Lines are never later than
//! the rules' grace period, which is the one condition under which window
//! alerts are judged on final counts, so the property must hold exactly.

use std::collections::BTreeSet;

use lamlog::store::{DeadLetter, Store};
use lamlog_core::judge::AlertRules;
use lamlog_core::meta::{AlertThresholds, FunctionMeta};
use lamlog_core::parse::ReportStatus;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

use super::evidence::{
    app_error, crash, dead_letter, dump, report, start, table_lines, timeout, Evidence, Figures,
    Setup,
};

/// Account, function.
pub const FUNCTIONS: [(&str, &str); 3] = [
    ("111111111111", "checkout"),
    ("111111111111", "resize'; DROP TABLE alerts; --"),
    ("222222222222", "report \"gen\" \\ 100%"),
];

const STREAM_START_MS: i64 = 1_750_000_000_000;
const STEP_MS: i64 = 18_000;

/// How an invocation ends, and which lines say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// An application error line; the REPORT says nothing.
    AppError,
    /// `Status: timeout` and `Task timed out after 3.00 seconds`.
    Timeout,
    /// `signal: killed` and `Status: error` with `Runtime.OutOfMemory`.
    OutOfMemory,
    /// `Runtime exited` and `Status: error`.
    Crash,
    /// A timeout line whose REPORT never arrives.
    Unreported,
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        11 => Just(Outcome::Success),
        2 => Just(Outcome::AppError),
        2 => Just(Outcome::Timeout),
        1 => Just(Outcome::OutOfMemory),
        1 => Just(Outcome::Crash),
        1 => Just(Outcome::Unreported),
    ]
}

/// One invocation of the stream.
#[derive(Debug, Clone)]
pub struct Plan {
    pub function: usize,
    pub outcome: Outcome,
    pub duration_hundredths_ms: u32,
    pub memory_size_mb: u32,
    pub used_percent: u32,
    pub init_duration_ms: Option<u32>,
    pub request_salt: u32,
    /// Records by which the REPORT, the failure line and START are late.
    pub delays: [usize; 3],
    pub jitter_ms: i64,
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        0..FUNCTIONS.len(),
        outcome(),
        100u32..280_000,
        prop::sample::select(vec![128u32, 256, 1024]),
        20u32..=100,
        prop::option::weighted(0.15, 100u32..5_000),
        any::<u32>(),
        [0usize..=2, 0usize..=2, 0usize..=2],
        0i64..3_000,
    )
        .prop_map(
            |(
                function,
                outcome,
                duration,
                memory_size_mb,
                used_percent,
                init,
                request_salt,
                delays,
                jitter_ms,
            )| Plan {
                function,
                outcome,
                duration_hundredths_ms: duration,
                memory_size_mb,
                used_percent,
                init_duration_ms: init,
                request_salt,
                delays,
                jitter_ms,
            },
        )
}

/// A stream and how it is delivered.
#[derive(Debug, Clone)]
pub struct Case {
    pub plans: Vec<Plan>,
    /// (record, raw bytes) of undecodable records.
    pub dead_letters: Vec<(Index, Vec<u8>)>,
    /// Where batches end.
    pub cuts: Vec<Index>,
    /// (after which batch, which earlier batch) to deliver again.
    pub replays: Vec<(Index, Index)>,
}

pub fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(plan(), 70..100),
        prop::collection::vec(
            (any::<Index>(), prop::collection::vec(any::<u8>(), 0..24)),
            0..6,
        ),
        prop::collection::vec(any::<Index>(), 0..14),
        prop::collection::vec((any::<Index>(), any::<Index>()), 0..8),
    )
        .prop_map(|(plans, dead_letters, cuts, replays)| Case {
            plans,
            dead_letters,
            cuts,
            replays,
        })
}

/// Rules whose windows close often enough to be exercised: 3-minute windows,
/// 1 minute of grace (lines are at most ~40 s late), error rate over 30 %
/// with at least 2 invocations.
pub fn setup() -> Setup {
    let rules = AlertRules {
        window_ms: 180_000,
        grace_ms: 60_000,
        error_rate: 0.3,
        error_rate_min_invocations: 2,
        ..AlertRules::default()
    };
    let quiet = FunctionMeta {
        alerts: AlertThresholds {
            disabled: vec!["memory_pressure".to_owned()],
            ..AlertThresholds::default()
        },
        ..FunctionMeta::default()
    };
    Setup {
        rules,
        ..Setup::plain()
    }
    .with_meta(
        FUNCTIONS[0].0,
        FUNCTIONS[0].1,
        Setup::arm_function_meta(Some(0.2)),
    )
    .with_meta(FUNCTIONS[2].0, FUNCTIONS[2].1, quiet)
}

/// One Kinesis record: its lines and, if it could not be decoded, its dead letter.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub evidence: Vec<Evidence>,
    pub dead_letters: Vec<DeadLetter>,
}

/// The records of a case, in delivery order.
pub fn records(case: &Case) -> Vec<Record> {
    let mut records = vec![Record::default(); case.plans.len() + 3];
    for (index, plan) in case.plans.iter().enumerate() {
        let (account, function) = FUNCTIONS[plan.function];
        let request_id = format!("{:08x}-{index:03}", plan.request_salt);
        let report_time_ms = STREAM_START_MS + index as i64 * STEP_MS + plan.jitter_ms;
        let duration_ms = match plan.outcome {
            Outcome::Timeout => 3_000.0,
            _ => f64::from(plan.duration_hundredths_ms) / 100.0,
        };
        let used_mb = (plan.memory_size_mb * plan.used_percent / 100).max(1);
        let figures = Figures {
            duration_ms,
            memory_size_mb: plan.memory_size_mb,
            max_memory_used_mb: used_mb,
            init_duration_ms: plan.init_duration_ms.map(f64::from),
        };
        let (status, error_type, failure_line) = match plan.outcome {
            Outcome::Success => (None, None, None),
            Outcome::AppError => (None, None, Some(app_error(&request_id, "ValueError"))),
            Outcome::Timeout | Outcome::Unreported => (
                Some(ReportStatus::Timeout),
                None,
                Some(timeout(&request_id, 3.0)),
            ),
            Outcome::OutOfMemory => (
                Some(ReportStatus::Error),
                Some("Runtime.OutOfMemory"),
                Some(crash(&request_id, true)),
            ),
            Outcome::Crash => (
                Some(ReportStatus::Error),
                Some("Runtime.ExitError"),
                Some(crash(&request_id, false)),
            ),
        };
        let [report_delay, failure_delay, start_delay] = plan.delays;
        let at = |time_ms: i64, line| Evidence::new(account, function, time_ms, line);
        if plan.outcome != Outcome::Unreported {
            let line = report(&request_id, figures, status, error_type);
            records[index + report_delay]
                .evidence
                .push(at(report_time_ms, line));
        }
        if let Some(line) = failure_line {
            records[index + failure_delay]
                .evidence
                .push(at(report_time_ms - 1, line));
        }
        let start_time_ms = report_time_ms - duration_ms as i64;
        records[index + start_delay]
            .evidence
            .push(at(start_time_ms, start(&request_id)));
    }
    for (position, raw) in &case.dead_letters {
        let record_index = position.index(records.len());
        let dead_letter = dead_letter(record_index, raw.clone(), "invalid gzip header");
        records[record_index].dead_letters.push(dead_letter);
    }
    records
}

/// The record ranges of the batches a case cuts its records into.
pub fn batches(case: &Case, record_count: usize) -> Vec<std::ops::Range<usize>> {
    let mut ends: Vec<usize> = case
        .cuts
        .iter()
        .map(|cut| 1 + cut.index(record_count))
        .collect();
    ends.push(record_count);
    ends.sort_unstable();
    ends.dedup();
    let mut start = 0;
    ends.into_iter()
        .map(|end| {
            let range = start..end;
            start = end;
            range
        })
        .collect()
}

/// The split-and-replay property for one case: `whole` gets the stream as one
/// batch, `split` gets it in the case's batches with its replays.
pub async fn split_and_replay<S: Store>(
    mut whole: S,
    mut split: S,
    case: &Case,
) -> Result<(), TestCaseError> {
    let setup = setup();
    let records = records(case);
    let all_evidence: Vec<&Evidence> = records.iter().flat_map(|record| &record.evidence).collect();
    let all_dead_letters: Vec<_> = records
        .iter()
        .flat_map(|record| record.dead_letters.clone())
        .collect();
    let whole_outcome = setup
        .write(
            &mut whole,
            &setup.invocations(all_evidence),
            &all_dead_letters,
        )
        .await;
    let whole_alerts: BTreeSet<String> = whole_outcome
        .new_alerts
        .iter()
        .map(|alert| alert.dedup_key.clone())
        .collect();
    prop_assert_eq!(whole_alerts.len(), whole_outcome.new_alerts.len());

    let batches = batches(case, records.len());
    let mut notified: Vec<String> = Vec::new();
    for (batch_index, range) in batches.iter().enumerate() {
        let mut deliveries = vec![range.clone()];
        for (after, which) in &case.replays {
            if after.index(batches.len()) == batch_index {
                deliveries.push(batches[which.index(batch_index + 1)].clone());
            }
        }
        for delivery in deliveries {
            let evidence = records[delivery.clone()]
                .iter()
                .flat_map(|record| &record.evidence);
            let dead_letters: Vec<_> = records[delivery]
                .iter()
                .flat_map(|record| record.dead_letters.clone())
                .collect();
            let outcome = setup
                .write(&mut split, &setup.invocations(evidence), &dead_letters)
                .await;
            notified.extend(outcome.new_alerts.into_iter().map(|alert| alert.dedup_key));
        }
    }
    let whole_dump = dump(&mut whole).await;
    prop_assert!(!table_lines(&whole_dump, "function_minute").is_empty());
    prop_assert_eq!(&dump(&mut split).await, &whole_dump);
    let notified_once: BTreeSet<String> = notified.iter().cloned().collect();
    prop_assert_eq!(
        notified_once.len(),
        notified.len(),
        "an alert was notified twice"
    );
    prop_assert_eq!(notified_once, whole_alerts);
    Ok(())
}
