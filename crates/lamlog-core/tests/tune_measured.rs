//! The tuner believes what it measured: when every candidate size was
//! observed with enough samples, the cost strategy picks the size whose
//! measured cost is lowest and the speed strategy the measured fastest,
//! whatever the smooth model says between them.

use lamlog_core::meta::Architecture;
use lamlog_core::price::{billed_duration_ms, Billing, PriceTable};
use lamlog_core::tune::{
    price_candidate, tune, ColdStarts, Sample, Strategy, TuneOptions, ENOUGH_SAMPLES,
};
use proptest::prelude::*;

/// Warm successful samples at one size: `count` (odd) durations whose median
/// is exactly `median_ms`, spread symmetrically by up to `spread` of it.
fn around(memory_size_mb: u32, median_ms: f64, count: usize, spread: f64) -> Vec<Sample> {
    let half = count / 2;
    (0..count)
        .map(|index| {
            let step = index as f64 - half as f64;
            let offset = if half == 0 {
                0.0
            } else {
                spread * step / half as f64
            };
            let duration_ms = median_ms * (1.0 + offset);
            Sample {
                account: "123456789012".to_owned(),
                function: "primes".to_owned(),
                architecture: Architecture::X86_64,
                memory_size_mb,
                duration_ms,
                billed_duration_ms: Some(billed_duration_ms(duration_ms, 1)),
                max_memory_used_mb: Some(60),
                init_duration_ms: None,
                success: true,
                start_time_ms: 1_700_000_000_000
                    + i64::from(memory_size_mb) * 1_000_000
                    + index as i64,
            }
        })
        .collect()
}

fn observed_only(strategy: Strategy) -> TuneOptions {
    TuneOptions {
        strategy,
        observed_only: true,
        ..TuneOptions::default()
    }
}

fn picked(samples: &[Sample], strategy: Strategy) -> u32 {
    let tuned = tune(samples, &observed_only(strategy));
    assert_eq!(tuned.recommendations.len(), 1, "{:?}", tuned.skipped);
    tuned.recommendations[0].recommended.memory_size_mb
}

/// AWS's published measurement of a CPU-bound function (prime numbers), the
/// average duration of 1,000 invocations at each of four sizes, from the
/// Lambda operator guide's "Memory and computing power" page:
/// 128 MB 11.722 s, 256 MB 6.678 s, 512 MB 3.194 s, 1,024 MB 1.465 s.
const AWS_PRIMES: [(u32, f64); 4] = [
    (128, 11_722.0),
    (256, 6_678.0),
    (512, 3_194.0),
    (1024, 1_465.0),
];

#[test]
fn the_published_prime_number_measurement_picks_the_size_it_measured_cheapest() {
    let samples: Vec<Sample> = AWS_PRIMES
        .iter()
        .flat_map(|&(size, duration_ms)| around(size, duration_ms, 51, 0.02))
        .collect();
    // By hand, GB-seconds per invocation (memory / 1,024 × seconds):
    //   128 MB: 0.125 × 11.722 = 1.465 25
    //   256 MB: 0.25  ×  6.678 = 1.669 5
    //   512 MB: 0.5   ×  3.194 = 1.597
    //  1024 MB: 1     ×  1.465 = 1.465       ← the least, by 0.017 %
    // and the request fee is the same at every size, so 1,024 MB is the
    // measured cheapest, and also the fastest. The smooth model
    // (a + b/m, fitted: a ≈ 303 ms) puts the cheapest at 128 MB.
    let gb_s = |(size, duration_ms): (u32, f64)| f64::from(size) / 1024.0 * duration_ms / 1000.0;
    let cheapest = AWS_PRIMES
        .iter()
        .copied()
        .min_by(|left, right| gb_s(*left).total_cmp(&gb_s(*right)))
        .unwrap();
    assert_eq!(cheapest.0, 1024);
    assert_eq!(picked(&samples, Strategy::Cost), 1024);
    assert_eq!(picked(&samples, Strategy::Speed), 1024);

    // The priced recommendation is the measurement's: 1.465 GB-s, + the fee.
    let tuned = tune(&samples, &observed_only(Strategy::Cost));
    let recommended = tuned.recommendations[0].recommended;
    let prices = PriceTable::list().default;
    let expected =
        (1.465 * prices.list_usd_per_gb_s(Architecture::X86_64) + prices.request_usd) * 1e6;
    assert!(
        (recommended.cost_per_million_usd - expected).abs() <= 1e-9 * expected,
        "{} vs {expected}",
        recommended.cost_per_million_usd
    );
    assert!((recommended.duration_ms - 1_465.0).abs() < 1e-9);
}

/// Lambda's common sizes, from which a case draws its observed ones.
const SIZES: [u32; 12] = [
    128, 256, 384, 512, 768, 1024, 1536, 1769, 2048, 3008, 4096, 6144,
];

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Durations that follow the model's shape only roughly (each size off by
    /// up to ±15 %, as real functions are), with noise or without, sampled
    /// enough at every size: the cost strategy picks the least measured cost,
    /// and without noise the speed strategy picks the measured fastest.
    #[test]
    fn with_every_size_measured_enough_the_measurement_decides(
        chosen in proptest::sample::subsequence(SIZES.to_vec(), 3..=8),
        io_ms in 0.0_f64..400.0,
        single_ms_mb in 0.0_f64..3.0e6,
        parallel_ms_mb in 0.0_f64..3.0e6,
        distortion in proptest::collection::vec(0.85_f64..1.15, 8),
        noisy in any::<bool>(),
        extra in 0_usize..20,
    ) {
        let count = 2 * (ENOUGH_SAMPLES as usize / 2 + extra) + 1;
        let spread = if noisy { 0.05 } else { 0.0 };
        let mut samples = Vec::new();
        let mut measured = Vec::new();
        for (index, &size) in chosen.iter().enumerate() {
            let memory = f64::from(size);
            let model = io_ms
                + single_ms_mb / memory.min(1769.0)
                + parallel_ms_mb / memory.min(10_240.0);
            let median_ms = ((model * distortion[index]).max(1.0) * 100.0).round() / 100.0;
            let at_size = around(size, median_ms, count, spread);
            let mut durations: Vec<f64> = at_size.iter().map(|sample| sample.duration_ms).collect();
            measured.push((size, median(&mut durations)));
            samples.extend(at_size);
        }
        let prices = PriceTable::list().default;
        let billing = Billing::default();
        let cost = |(size, duration_ms): (u32, f64)| {
            price_candidate(Architecture::X86_64, size, duration_ms, &ColdStarts::NONE, &prices, &billing)
                .cost_usd
        };
        // The least measured cost; ties (to 1e-9) go to the faster.
        let least = measured.iter().map(|&point| cost(point)).fold(f64::INFINITY, f64::min);
        let cheapest = measured
            .iter()
            .copied()
            .filter(|&point| (cost(point) - least).abs() <= 1e-9 * least)
            .min_by(|left, right| left.1.total_cmp(&right.1))
            .unwrap();
        prop_assert_eq!(picked(&samples, Strategy::Cost), cheapest.0, "measured {:?}", measured);
        if !noisy {
            let fastest = measured
                .iter()
                .copied()
                .min_by(|left, right| left.1.total_cmp(&right.1).then(cost(*left).total_cmp(&cost(*right))))
                .unwrap();
            prop_assert_eq!(picked(&samples, Strategy::Speed), fastest.0, "measured {:?}", measured);
        }
    }
}
