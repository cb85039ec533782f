//! Rollup figures never panic and never wrap, whatever an invocation holds.
//!
//! The parser keeps absurd figures out, but an invocation can also come back
//! from a store row written before those bounds existed, or be built by hand.
//! Every rollup figure lands in a BIGINT column; a figure that wrapped would
//! corrupt a total, and one that panicked would fail the batch on every retry.
//! So: exact below `i64::MAX`, saturated at it, never negative.

use lamlog_core::assemble::{Invocation, InvocationKey, Status};
use lamlog_core::judge::AlertRules;
use lamlog_core::parse::bounds::{MAX_BILLED_DURATION_MS, MAX_DURATION_MS, MAX_MEMORY_SIZE_MB};
use lamlog_core::rollup::{contribution, minute_of, percentile_ms, pico_usd, Contribution};
use proptest::prelude::*;

fn invocation(
    start_time_ms: i64,
    duration_ms: f64,
    billed_duration_ms: Option<u64>,
    memory_size_mb: Option<u32>,
) -> Invocation {
    let mut invocation = Invocation::new(
        InvocationKey {
            account: "123456789012".to_owned(),
            function: "fn".to_owned(),
            request_id: "r-1".to_owned(),
        },
        "/aws/lambda/fn",
    );
    invocation.start_time_ms = Some(start_time_ms);
    invocation.duration_ms = Some(duration_ms);
    invocation.billed_duration_ms = billed_duration_ms;
    invocation.memory_size_mb = memory_size_mb;
    invocation
}

/// What a store adds to a minute when a row goes from `old` to `new` in
/// it: the sums' differences, saturating, as both stores compute them.
fn moved(old: &Contribution, new: &Contribution) -> [i64; 10] {
    let mut difference = new.sums();
    for (value, old_value) in difference.iter_mut().zip(old.sums()) {
        *value = value.saturating_sub(old_value);
    }
    difference
}

/// `memory × billed` in exact arithmetic, saturated at `i64::MAX`.
fn expected_mb_ms(memory_mb: u32, billed_ms: u64) -> i64 {
    let exact = i128::from(memory_mb) * i128::from(billed_ms);
    i64::try_from(exact).unwrap_or(i64::MAX)
}

#[test]
fn figures_at_the_parse_bounds_are_exact() {
    let mut at_bounds = invocation(
        1_700_000_000_000,
        MAX_DURATION_MS,
        Some(MAX_BILLED_DURATION_MS),
        Some(MAX_MEMORY_SIZE_MB),
    );
    at_bounds.raise(Status::Timeout, None);
    at_bounds.cold_start = true;
    let new = contribution(&at_bounds, Some(1.0)).expect("a reported invocation");
    assert_eq!(
        new.billed_mb_ms,
        expected_mb_ms(MAX_MEMORY_SIZE_MB, MAX_BILLED_DURATION_MS)
    );
    assert_eq!(new.duration_us as f64, MAX_DURATION_MS * 1000.0);
    assert_eq!(moved(&Contribution::default(), &new), new.sums());
}

#[test]
fn extreme_figures_saturate_instead_of_wrapping() {
    for (billed_ms, memory_mb) in [
        (u64::MAX, u32::MAX),
        (1 << 62, 4),
        (i64::MAX as u64 + 1, 1),
        (u64::MAX, 1),
    ] {
        let extreme = invocation(0, f64::MAX, Some(billed_ms), Some(memory_mb));
        let new = contribution(&extreme, Some(f64::MAX)).expect("a reported invocation");
        assert_eq!(new.billed_mb_ms, expected_mb_ms(memory_mb, billed_ms));
        assert_eq!(new.duration_us, i64::MAX);
        assert_eq!(new.cost_pico_usd, i64::MAX);
        let old = contribution(&invocation(0, 1.0, Some(1), Some(128)), Some(-1.0))
            .expect("a reported invocation");
        assert!(moved(&old, &new).iter().all(|figure| *figure >= 0));
        let back = moved(&new, &old);
        // Indexes 7 and 8: duration (µs) and MB·ms.
        assert!(back[7] <= 0 && back[8] <= 0, "{back:?}");
    }
}

#[test]
fn nan_infinite_and_negative_floats_are_zero_or_saturated() {
    for (duration_ms, cost_usd, expected_us, expected_pico) in [
        (f64::NAN, Some(f64::NAN), 0, 0),
        (f64::INFINITY, Some(f64::INFINITY), i64::MAX, i64::MAX),
        (f64::NEG_INFINITY, Some(f64::NEG_INFINITY), 0, 0),
        (-5.0, Some(-5.0), 0, 0),
    ] {
        let odd = invocation(0, duration_ms, Some(1), Some(128));
        let new = contribution(&odd, cost_usd).expect("a reported invocation");
        assert_eq!(
            (new.duration_us, new.cost_pico_usd),
            (expected_us, expected_pico),
            "{duration_ms}"
        );
    }
    assert_eq!(pico_usd(f64::NAN), 0);
    assert_eq!(pico_usd(f64::INFINITY), i64::MAX);
    assert_eq!(pico_usd(f64::NEG_INFINITY), i64::MIN);
}

#[test]
fn minutes_and_windows_of_extreme_instants_do_not_overflow() {
    for time_ms in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX] {
        let minute = minute_of(time_ms);
        assert!(minute <= time_ms);
        assert!(time_ms.abs_diff(minute) < 60_000 || minute == i64::MIN);
        let rules = AlertRules::default();
        let window = rules.window_start(time_ms);
        assert!(window <= time_ms);
        let odd = invocation(time_ms, 1.0, Some(1), Some(128));
        let new = contribution(&odd, None).expect("a reported invocation");
        assert_eq!(new.minute_ms, minute);
    }
}

#[test]
fn percentiles_of_huge_counts_do_not_overflow() {
    let histogram = [(10, i64::MAX), (20, i64::MAX), (30, 5)];
    let p50 = percentile_ms(&histogram, 0.5).expect("a non-empty histogram");
    assert!(p50.is_finite());
}

fn any_contribution() -> impl Strategy<Value = Option<Contribution>> {
    (
        any::<i64>(),
        any::<f64>(),
        prop::option::of(any::<u64>()),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<f64>()),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(
            |(start, duration_ms, billed_ms, memory_mb, cost_usd, status, cold)| {
                let mut invocation = invocation(start, duration_ms, billed_ms, memory_mb);
                invocation.raise(Status::ALL[usize::from(status) % Status::ALL.len()], None);
                invocation.cold_start = cold;
                contribution(&invocation, cost_usd)
            },
        )
}

proptest! {
    #[test]
    fn no_rollup_figure_panics_or_wraps_negative(
        old in any_contribution(),
        new in any_contribution(),
    ) {
        for contribution in [&old, &new].into_iter().flatten() {
            prop_assert!(contribution.sums().iter().all(|figure| *figure >= 0), "{:?}", contribution);
        }
        if let Some(new) = new {
            let old = old.unwrap_or_default();
            // Between two non-negative figures the difference is exact.
            for ((moved, new), old) in moved(&old, &new).iter().zip(new.sums()).zip(old.sums()) {
                prop_assert_eq!(i128::from(*moved), i128::from(new) - i128::from(old));
            }
        }
    }
}
