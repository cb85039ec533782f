use super::*;
use crate::meta::AlertThresholds;

const SIZE_MB: u32 = 512;

fn rules() -> GrowthRules {
    GrowthRules::for_function(None)
}

/// A trail past its warm-up: 20 warm samples at a flat 100 MB.
fn warmed() -> Trail {
    let mut trail = Trail::default();
    let verdicts = feed(&mut trail, &[100; WARM_UP as usize], &rules());
    assert!(verdicts.iter().all(Option::is_none));
    trail
}

/// Feeds `used` as consecutive warm samples one second apart; returns every
/// verdict, in order.
fn feed(trail: &mut Trail, used: &[u32], rules: &GrowthRules) -> Vec<Option<Growth>> {
    let first_ms = trail.last_ms().map_or(1_000, |last| last + 1_000);
    used.iter()
        .enumerate()
        .map(|(index, used_mb)| {
            let sample = Sample {
                start_ms: first_ms + index as i64 * 1_000,
                used_mb: *used_mb,
            };
            trail.observe(sample, SIZE_MB, rules).1
        })
        .collect()
}

#[test]
fn a_steady_leak_is_found_with_its_distance_to_the_limit_worked_by_hand() {
    // 100, 103, …, 157 MB: every pairwise slope is 3 MB, every pair rises;
    // (512 − 157) / 3 = 118.33, so the limit is 119 invocations away.
    let used: Vec<u32> = (0..20).map(|i| 100 + 3 * i).collect();
    let mut trail = warmed();
    let verdicts = feed(&mut trail, &used, &rules());
    assert!(verdicts[..19].iter().all(Option::is_none), "{verdicts:?}");
    let growth = verdicts[19].expect("a full rising trail grows");
    assert_eq!(growth.slope_mb, 3.0);
    assert_eq!(growth.rising_share, 1.0);
    assert_eq!(growth.last_used_mb, 157);
    assert_eq!(growth.invocations_to_limit, 119);
}

#[test]
fn a_warm_up_that_levels_off_is_not_growth() {
    // A runtime that loads for five invocations, then stays flat.
    let used = [90, 110, 130, 140, 150, 150, 150, 150, 150, 150];
    let mut trail = Trail::default();
    let mut all = feed(&mut trail, &used, &rules());
    all.extend(feed(&mut trail, &[150; 20], &rules()));
    assert!(all.iter().all(Option::is_none), "{all:?}");
}

#[test]
fn the_first_full_trail_of_a_warm_up_is_judged_on_its_rising_share() {
    // Five rising samples then fifteen flat: the median slope is 0.
    let mut used = vec![90, 110, 130, 140, 150];
    used.extend([150; 15]);
    let samples: Vec<Sample> = used
        .iter()
        .enumerate()
        .map(|(i, used_mb)| Sample {
            start_ms: i as i64,
            used_mb: *used_mb,
        })
        .collect();
    let (slope, share) = (theil_sen_slope(&samples), rising_share(&samples));
    assert_eq!(slope, 0.0);
    // 10 pairs within the rise + 4 × 15 from its first four samples to the
    // plateau, of 190.
    assert_eq!(share, 70.0 / 190.0);
    let mut trail = warmed();
    assert!(feed(&mut trail, &used, &rules())
        .iter()
        .all(Option::is_none));
}

#[test]
fn one_wild_sample_neither_makes_nor_hides_a_trend() {
    let mut flat = vec![200; 20];
    flat[12] = 480;
    let mut trail = warmed();
    assert!(feed(&mut trail, &flat, &rules())
        .iter()
        .all(Option::is_none));

    let mut leak: Vec<u32> = (0..20).map(|i| 100 + 4 * i).collect();
    leak[7] = 60;
    let mut trail = warmed();
    let growth = feed(&mut trail, &leak, &rules())[19].expect("still growing");
    assert_eq!(growth.slope_mb, 4.0);
}

#[test]
fn a_leak_from_the_first_invocation_is_judged_once_past_the_warm_up() {
    let used: Vec<u32> = (0..40).map(|i| 100 + 5 * i).collect();
    let mut trail = Trail::default();
    let verdicts = feed(&mut trail, &used, &rules());
    assert!(verdicts[..39].iter().all(Option::is_none), "{verdicts:?}");
    assert_eq!(verdicts[39].map(|growth| growth.slope_mb), Some(5.0));
}

#[test]
fn fewer_samples_than_a_trail_are_not_judged() {
    let used: Vec<u32> = (0..19).map(|i| 100 + 10 * i).collect();
    let mut trail = warmed();
    assert!(feed(&mut trail, &used, &rules())
        .iter()
        .all(Option::is_none));
}

#[test]
fn a_limit_beyond_the_horizon_is_quiet_unless_the_metadata_widens_it() {
    // 1 MB per invocation from 100 MB: the last sample is 119 MB, so the limit
    // is 393 invocations away.
    let used: Vec<u32> = (0..20).map(|i| 100 + i).collect();
    let narrow = GrowthRules {
        horizon_invocations: 392,
    };
    let mut trail = warmed();
    assert!(feed(&mut trail, &used, &narrow)[19].is_none());
    let meta = FunctionMeta {
        alerts: AlertThresholds {
            memory_growth_horizon: Some(393),
            ..AlertThresholds::default()
        },
        ..FunctionMeta::default()
    };
    let wide = GrowthRules::for_function(Some(&meta));
    let mut trail = warmed();
    let growth = feed(&mut trail, &used, &wide)[19].expect("within 393");
    assert_eq!(growth.invocations_to_limit, 393);
}

#[test]
fn a_sample_older_than_the_whole_trail_is_counted_but_not_kept() {
    let used: Vec<u32> = (0..20).map(|i| 100 + 3 * i).collect();
    let mut trail = warmed();
    feed(&mut trail, &used, &rules());
    let before = trail.clone();
    let too_late = Sample {
        start_ms: before.samples()[0].start_ms - 1,
        used_mb: 1,
    };
    assert_eq!(trail.observe(too_late, SIZE_MB, &rules()), (false, None));
    assert_eq!(trail.samples(), before.samples());
    assert_eq!(trail.seen(), before.seen() + 1);
}

#[test]
fn the_state_is_the_same_whatever_the_order_and_batching() {
    // A leak past its warm-up, with two samples sharing a start time.
    let mut observations: Vec<Observation> = (0..45)
        .map(|i| Observation {
            function: "f".into(),
            request_id: format!("r{i}"),
            memory_size_mb: SIZE_MB,
            sample: Sample {
                start_ms: 1_000 + i64::from(i) * 1_000 - i64::from(i == 30) * 1_000,
                used_mb: 100 + 4 * i,
            },
        })
        .collect();
    let stream = StreamKey {
        account: "1".into(),
        log_group: "g".into(),
        log_stream: "s".into(),
    };
    let defaults = AlertRules::default();
    // The trail and the last verdict after `batches`, in order.
    let through = |batches: &[Vec<Observation>]| {
        let mut trail = Trail::default();
        let mut last = Advance::default();
        let mut alerts = 0;
        for batch in batches {
            last = advance(&mut trail, &stream, &mut batch.clone(), None, &defaults);
            alerts += usize::from(last.alert.is_some());
        }
        (trail, last.growing, alerts)
    };
    let whole = through(&[observations.clone()]);
    assert_eq!(whole.2, 1, "the leak was not found");
    assert!(whole.1.is_some());
    let state = |(trail, growing, _): (Trail, Option<(f64, u64)>, usize)| (trail, growing);
    let whole = state(whole);
    for cut in [1, 7, 20, 39, 44] {
        let (first, second) = observations.split_at(cut);
        let split = through(&[first.to_vec(), second.to_vec()]);
        let reversed = through(&[second.to_vec(), first.to_vec()]);
        assert_eq!(state(split), whole, "cut at {cut}");
        assert_eq!(state(reversed), whole, "reversed, cut at {cut}");
    }
    observations.reverse();
    let one_by_one: Vec<Vec<Observation>> = observations
        .iter()
        .map(|observation| vec![observation.clone()])
        .collect();
    assert_eq!(state(through(&one_by_one)), whole);
}

#[test]
fn a_sample_inside_the_trail_is_kept_in_order_but_not_judged() {
    let used: Vec<u32> = (0..20).map(|i| 100 + 3 * i).collect();
    let mut trail = warmed();
    feed(&mut trail, &used, &rules());
    let between = Sample {
        start_ms: trail.samples()[5].start_ms + 500,
        used_mb: 116,
    };
    assert_eq!(trail.observe(between, SIZE_MB, &rules()), (true, None));
    assert_eq!(trail.samples().len(), TRAIL_LEN);
    assert!(trail
        .samples()
        .windows(2)
        .all(|pair| pair[0].start_ms < pair[1].start_ms));
}

#[test]
fn the_trail_is_bounded_and_reads_back_as_written() {
    let used: Vec<u32> = (0..50).map(|i| 100 + i % 7).collect();
    let mut trail = Trail::default();
    feed(&mut trail, &used, &rules());
    assert_eq!(trail.samples().len(), TRAIL_LEN);
    assert_eq!(trail.seen(), 50);
    assert_eq!(Trail::decode(&trail.encode()), Ok(trail.clone()));
    assert_eq!(Trail::decode("0"), Ok(Trail::default()));
    for bad in [
        "",
        "x",
        "2 1:2 x",
        "2 1:3 1:2",
        "2 2:1 1:1",
        "1 1:-5",
        "1 9223372036854775808:1",
        "1 1:1 2:2",
    ] {
        assert!(Trail::decode(bad).is_err(), "{bad:?}");
    }
    let too_long: Vec<String> = (0..21).map(|i| format!("{i}:1")).collect();
    assert!(Trail::decode(&format!("99 {}", too_long.join(" "))).is_err());
}

#[test]
fn the_alert_is_keyed_by_stream_and_can_be_switched_off() {
    let stream = StreamKey {
        account: "1".into(),
        log_group: "/aws/lambda/f".into(),
        log_stream: "2026/11/01/[$LATEST]ab|c".into(),
    };
    let observation = Observation {
        function: "f".into(),
        request_id: "r".into(),
        memory_size_mb: SIZE_MB,
        sample: Sample {
            start_ms: 600_001,
            used_mb: 300,
        },
    };
    let growth = Growth {
        slope_mb: 2.0,
        rising_share: 1.0,
        last_used_mb: 300,
        memory_size_mb: SIZE_MB,
        invocations_to_limit: 106,
    };
    let defaults = AlertRules::default();
    let alert = growth_alert(&stream, &observation, &growth, None, &defaults).unwrap();
    assert_eq!(alert.kind, AlertKind::MemoryGrowth);
    assert_eq!(alert.window_start_ms, 600_000);
    assert!(
        alert.message.contains("106 invocations away"),
        "{}",
        alert.message
    );
    let other = StreamKey {
        log_stream: "2026/11/01/[$LATEST]abd".into(),
        ..stream.clone()
    };
    assert_ne!(alert.dedup_key, dedup_key(&other, "f"));
    let off = FunctionMeta {
        alerts: AlertThresholds {
            disabled: vec!["memory_growth".into()],
            ..AlertThresholds::default()
        },
        ..FunctionMeta::default()
    };
    assert!(growth_alert(&stream, &observation, &growth, Some(&off), &defaults).is_none());
}

proptest::proptest! {
    /// The rising share `judge` checks before the slopes is the share of
    /// the pairs' slopes above zero, computed here from the slopes.
    #[test]
    fn the_rising_share_is_the_share_of_rising_slopes(
        used in proptest::collection::vec(0u32..4, 0..=TRAIL_LEN)
    ) {
        let samples: Vec<Sample> = used
            .iter()
            .enumerate()
            .map(|(i, used_mb)| Sample { start_ms: i as i64, used_mb: *used_mb })
            .collect();
        let mut slopes = Vec::new();
        for i in 0..used.len() {
            for j in i + 1..used.len() {
                slopes.push((f64::from(used[j]) - f64::from(used[i])) / (j - i) as f64);
            }
        }
        let want = if slopes.is_empty() {
            0.0
        } else {
            slopes.iter().filter(|slope| **slope > 0.0).count() as f64 / slopes.len() as f64
        };
        proptest::prop_assert_eq!(rising_share(&samples), want);
    }
}
