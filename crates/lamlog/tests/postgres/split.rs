//! Split and replay across a UTC midnight: the batches of a stream land in
//! two day partitions and in `pending_invocations`, rows move between them
//! as their REPORTs come, and still every split and replay stores exactly
//! what one batch of the whole stream stores.

use lamlog::store::Store;
use lamlog_core::parse::ReportStatus;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

use super::evidence::{app_error, dump, report, start, timeout, Evidence, Figures, Setup, ACCOUNT};

/// 2025-06-15T23:50:00Z: the stream runs 20 minutes, over midnight.
const STREAM_START_MS: i64 = 1_750_031_400_000;

/// One invocation: its function, how it ends, and by how many records each
/// of its lines (START, failure, REPORT) is late.
#[derive(Debug, Clone)]
pub struct Plan {
    function: usize,
    outcome: u8,
    duration_ms: u32,
    delays: [usize; 3],
}

#[derive(Debug, Clone)]
pub struct Case {
    plans: Vec<Plan>,
    cuts: Vec<Index>,
    replays: Vec<Index>,
}

pub fn case() -> impl Strategy<Value = Case> {
    let plan = (
        0usize..2,
        0u8..4,
        1u32..5_000,
        [0usize..=3, 0usize..=3, 0usize..=3],
    )
        .prop_map(|(function, outcome, duration_ms, delays)| Plan {
            function,
            outcome,
            duration_ms,
            delays,
        });
    (
        prop::collection::vec(plan, 30..50),
        prop::collection::vec(any::<Index>(), 1..10),
        prop::collection::vec(any::<Index>(), 0..5),
    )
        .prop_map(|(plans, cuts, replays)| Case {
            plans,
            cuts,
            replays,
        })
}

fn records(case: &Case) -> Vec<Vec<Evidence>> {
    let mut records = vec![Vec::new(); case.plans.len() + 4];
    for (index, plan) in case.plans.iter().enumerate() {
        let function = ["alpha", "beta 'quoted'"][plan.function];
        let request_id = format!("req-{index:03}");
        let time_ms = STREAM_START_MS + index as i64 * 25_000;
        let on = |line| Evidence::new(ACCOUNT, function, time_ms, line);
        let figures = Figures::new(f64::from(plan.duration_ms) / 10.0, 256, 200);
        let [start_delay, failure_delay, report_delay] = plan.delays;
        records[index + start_delay].push(on(start(&request_id)));
        match plan.outcome {
            0 => records[index + report_delay].push(on(report(&request_id, figures, None, None))),
            1 => {
                records[index + failure_delay].push(on(app_error(&request_id, "KeyError")));
                records[index + report_delay].push(on(report(&request_id, figures, None, None)));
            }
            2 => {
                records[index + failure_delay].push(on(timeout(&request_id, 3.0)));
                let status = Some(ReportStatus::Timeout);
                records[index + report_delay].push(on(report(&request_id, figures, status, None)));
            }
            // A timeout whose REPORT never comes: it stays pending.
            _ => records[index + failure_delay].push(on(timeout(&request_id, 3.0))),
        }
    }
    records
}

/// `whole` gets the stream as one batch; `split` gets it cut at the case's
/// points, with the case's batches delivered again after the last.
pub async fn check<S: Store>(mut whole: S, mut split: S, case: &Case) -> Result<(), TestCaseError> {
    let setup = Setup::plain();
    let records = records(case);
    let everything: Vec<&Evidence> = records.iter().flatten().collect();
    setup
        .write(&mut whole, &setup.invocations(everything), &[])
        .await;
    let mut ends: Vec<usize> = case
        .cuts
        .iter()
        .map(|cut| 1 + cut.index(records.len()))
        .collect();
    ends.push(records.len());
    ends.sort_unstable();
    ends.dedup();
    let mut batches = Vec::new();
    let mut begin = 0;
    for end in ends {
        batches.push(begin..end);
        begin = end;
    }
    let replays = case
        .replays
        .iter()
        .map(|which| batches[which.index(batches.len())].clone());
    for range in batches.clone().into_iter().chain(replays) {
        let evidence = records[range].iter().flatten();
        setup
            .write(&mut split, &setup.invocations(evidence), &[])
            .await;
    }
    let expected = dump(&mut whole).await;
    prop_assert!(expected
        .lines()
        .any(|line| line.starts_with("invocations ")));
    prop_assert_eq!(dump(&mut split).await, expected);
    Ok(())
}
