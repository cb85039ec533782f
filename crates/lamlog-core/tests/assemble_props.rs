//! Assembly does not depend on the order of lines or on how they are split
//! into batches: the invocations of a stream are the same however Kinesis
//! cuts and re-delivers it.

use std::collections::BTreeMap;

use lamlog_core::assemble::{Assembler, Invocation, InvocationKey, Status};
use lamlog_core::parse::parse;
use proptest::prelude::*;

/// One log line of the stream: (log group, timestamp, message).
type Line = (String, i64, String);

fn request_lines(index: usize, outcome: u8, cold: bool) -> Vec<Line> {
    let request_id = format!("{index:08x}-1111-4222-8333-444455556666");
    let group = format!("/aws/lambda/fn-{}", index % 3);
    let time = 1_700_000_000_000 + index as i64 * 1_000;
    let mut lines = vec![(
        group.clone(),
        time,
        format!("START RequestId: {request_id} Version: $LATEST\n"),
    )];
    let init = if cold {
        "\tInit Duration: 201.50 ms"
    } else {
        ""
    };
    let (status, extra) = match outcome % 5 {
        0 => ("", None),
        1 => ("\tStatus: error\tError Type: Runtime.ExitError", None),
        2 => (
            "\tStatus: timeout",
            Some(format!("2023-11-14T22:13:20.000Z {request_id} Task timed out after 3.00 seconds\n")),
        ),
        3 => (
            "\tStatus: error\tError Type: Runtime.OutOfMemory",
            Some(format!(
                "RequestId: {request_id} Error: Runtime exited with error: signal: killed\nRuntime.ExitError\n"
            )),
        ),
        _ => ("", Some(format!("[ERROR]\t2023-11-14T22:13:20.000Z\t{request_id}\tboom\n"))),
    };
    if let Some(extra) = extra {
        lines.push((group.clone(), time + 5, extra));
    }
    lines.push((
        group.clone(),
        time + 10,
        format!("END RequestId: {request_id}\n"),
    ));
    lines.push((
        group,
        time + 10,
        format!(
            "REPORT RequestId: {request_id}\tDuration: {}.25 ms\tBilled Duration: {} ms\tMemory Size: 256 MB\tMax Memory Used: 80 MB{init}{status}\t\n",
            100 + index,
            101 + index
        ),
    ));
    lines
}

fn assemble(lines: &[Line]) -> BTreeMap<InvocationKey, Invocation> {
    let mut assembler = Assembler::new();
    for (group, time, message) in lines {
        assembler.add_line("123456789012", group, Some(*time), &parse(message));
    }
    let (invocations, _) = assembler.finish();
    invocations
        .into_iter()
        .map(|invocation| (invocation.key(), invocation))
        .collect()
}

fn merge_all(
    batches: Vec<BTreeMap<InvocationKey, Invocation>>,
) -> BTreeMap<InvocationKey, Invocation> {
    let mut merged: BTreeMap<InvocationKey, Invocation> = BTreeMap::new();
    for batch in batches {
        for (key, invocation) in batch {
            match merged.get_mut(&key) {
                Some(existing) => {
                    existing.merge(&invocation);
                }
                None => {
                    merged.insert(key, invocation);
                }
            }
        }
    }
    merged
}

fn stream() -> impl Strategy<Value = Vec<Line>> {
    prop::collection::vec((any::<u8>(), any::<bool>()), 1..24).prop_map(|requests| {
        requests
            .into_iter()
            .enumerate()
            .flat_map(|(index, (outcome, cold))| request_lines(index, outcome, cold))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn order_and_split_do_not_matter(
        lines in stream(),
        order_seed in any::<u64>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        replay in any::<prop::sample::Index>(),
    ) {
        let whole = assemble(&lines);

        let mut shuffled = lines.clone();
        let mut state = order_seed | 1;
        for index in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(index, (state % (index as u64 + 1)) as usize);
        }
        prop_assert_eq!(&assemble(&shuffled), &whole);

        let mut bounds: Vec<usize> = cuts.iter().map(|cut| cut.index(lines.len() + 1)).collect();
        bounds.extend([0, lines.len()]);
        bounds.sort_unstable();
        let mut batches: Vec<_> = bounds.windows(2).map(|pair| assemble(&lines[pair[0]..pair[1]])).collect();
        let replayed = batches[replay.index(batches.len())].clone();
        batches.push(replayed);
        prop_assert_eq!(&merge_all(batches), &whole);
    }
}

#[test]
fn statuses_rise_and_never_fall() {
    let lines: Vec<Line> = [2u8, 3, 1, 4]
        .iter()
        .enumerate()
        .flat_map(|(index, outcome)| request_lines(index, *outcome, index == 0))
        .collect();
    let invocations = assemble(&lines);
    let mut by_request: Vec<&Invocation> = invocations.values().collect();
    by_request.sort_by(|left, right| left.request_id.cmp(&right.request_id));
    let statuses: Vec<Status> = by_request
        .iter()
        .map(|invocation| invocation.status())
        .collect();
    // Outcome 1's REPORT says `Runtime.ExitError`: the runtime exited, a
    // crash even without the `Runtime exited` line.
    assert_eq!(
        statuses,
        [Status::Timeout, Status::Oom, Status::Crash, Status::Error]
    );
    let first = by_request[0];
    assert!(first.cold_start);
    assert_eq!(first.timeout_seconds, Some(3.0));
    assert_eq!(first.function, "fn-0");
    assert_eq!(first.version.as_deref(), Some("$LATEST"));
    assert_eq!(first.billed_duration_ms, Some(101));
}
