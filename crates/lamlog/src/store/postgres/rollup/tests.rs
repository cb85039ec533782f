//! [`RollupChanges::of`], which sums a run of one function's rows under
//! integer keys, against summing each row on its own under full keys.

use proptest::prelude::*;

use super::*;
use crate::store::test_rows::reported;

type Minutes<'a> = BTreeMap<(Function<'a>, i64), MinuteChange>;
type Buckets<'a> = BTreeMap<(Function<'a>, i64, i32), i64>;
type Left<'a> = BTreeSet<(Function<'a>, i64)>;

/// Each row's change on its own, added into maps keyed by function and
/// minute: no runs, no lookups saved.
fn row_by_row<'a>(rows: &[RowChange<'a>]) -> (Minutes<'a>, Buckets<'a>, Left<'a>) {
    let (mut minutes, mut buckets, mut left) = (Minutes::new(), Buckets::new(), Left::new());
    for row in rows {
        let (old, new) = row.contributions();
        if old == new {
            continue;
        }
        let function = (row.account(), row.function());
        let mut one = FunctionChanges::default();
        one.add(old.as_ref(), new.as_ref());
        for (minute_ms, change) in one.minutes {
            let total: &mut MinuteChange = minutes.entry((function, minute_ms)).or_default();
            for (sum, value) in total.sums.iter_mut().zip(change.sums) {
                *sum += value;
            }
            total.duration_max_us = total.duration_max_us.max(change.duration_max_us);
        }
        for ((minute_ms, bucket), count) in one.buckets {
            *buckets.entry((function, minute_ms, bucket)).or_default() += count;
        }
        left.extend(one.left.into_iter().map(|minute_ms| (function, minute_ms)));
    }
    (minutes, buckets, left)
}

/// A row's state before the batch: none, stored without its REPORT, or
/// reported at another time and duration.
#[derive(Debug, Clone)]
enum Before {
    Absent,
    Pending,
    Reported { offset_ms: i64, duration_ms: f64 },
}

fn before() -> impl Strategy<Value = Before> {
    prop_oneof![
        Just(Before::Absent),
        Just(Before::Pending),
        (0..180_000i64, 0.5..3_000.0f64).prop_map(|(offset_ms, duration_ms)| Before::Reported {
            offset_ms,
            duration_ms
        }),
    ]
}

const MINUTE_START_MS: i64 = 1_793_491_200_000;

/// (old, new) rows: functions `f`, `g`, `h`, over three minutes.
fn rows() -> impl Strategy<Value = Vec<(Option<StoredInvocation>, StoredInvocation)>> {
    prop::collection::vec((0..3usize, 0..180_000i64, 0.5..3_000.0f64, before()), 0..60).prop_map(
        |specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(index, (function, offset_ms, duration_ms, before))| {
                    let function = ["f", "g", "h"][function];
                    let request_id = format!("r-{index:03}");
                    let mut new = reported(function, &request_id, MINUTE_START_MS + offset_ms);
                    new.invocation.duration_ms = Some(duration_ms);
                    let old = match before {
                        Before::Absent => None,
                        Before::Pending => {
                            let mut old = new.clone();
                            old.invocation.start_time_ms = None;
                            old.invocation.duration_ms = None;
                            Some(old)
                        }
                        Before::Reported {
                            offset_ms,
                            duration_ms,
                        } => {
                            let mut old =
                                reported(function, &request_id, MINUTE_START_MS + offset_ms);
                            old.invocation.duration_ms = Some(duration_ms);
                            Some(old)
                        }
                    };
                    (old, new)
                })
                .collect()
        },
    )
}

proptest! {
    /// In key order (as the batch gives them) and in any other order, the
    /// runs sum to what each row on its own sums to.
    #[test]
    fn runs_of_one_function_sum_as_rows_one_by_one(pairs in rows()) {
        let mut changes: Vec<RowChange<'_>> = pairs
            .iter()
            .map(|(old, new)| RowChange { old: old.as_ref(), new })
            .collect();
        for order in ["as generated", "in key order"] {
            if order == "in key order" {
                changes.sort_by_key(|row| (row.account(), row.function(), &row.new.invocation.request_id));
            }
            let summed = RollupChanges::of(&changes);
            let (minutes, buckets, left) = row_by_row(&changes);
            prop_assert_eq!(&summed.minutes, &minutes, "{}", order);
            prop_assert_eq!(&summed.buckets, &buckets, "{}", order);
            prop_assert_eq!(&summed.left, &left, "{}", order);
        }
    }
}
