//! The tuner on hand-computed tables and on synthetic samples whose truth is
//! known: strategies, NNLS recovery, reduced models, the 100 ms boundary,
//! architectures, warnings and the Power Tuning plan.

use lamlog_core::meta::Architecture;
use lamlog_core::price::{billed_duration_ms, price, Billing};
use lamlog_core::tune::{
    choose, fit, observe, power_tuning_input, tune, ArchitectureChoice, Candidate, DurationModel,
    FitOptions, ModelKind, Sample, Strategy, TuneOptions, Warning,
};

fn table(rows: &[(u32, f64, f64)]) -> Vec<Candidate> {
    rows.iter()
        .map(|&(memory_size_mb, duration_ms, cost_usd)| Candidate {
            architecture: Architecture::X86_64,
            memory_size_mb,
            duration_ms,
            cost_usd,
            duration_noise_ms: 0.0,
        })
        .collect()
}

/// (memory, duration ms, cost): 128 and 256 tie on cost; 2048 and 3008 tie on speed.
fn power_table() -> Vec<Candidate> {
    table(&[
        (128, 1000.0, 2.0),
        (256, 500.0, 2.0),
        (512, 260.0, 2.2),
        (1024, 140.0, 2.4),
        (2048, 100.0, 3.6),
        (3008, 100.0, 4.0),
    ])
}

fn picked(strategy: Strategy) -> u32 {
    let candidates = power_table();
    candidates[choose(strategy, &candidates).unwrap()].memory_size_mb
}

#[test]
fn cost_picks_the_cheapest_and_breaks_ties_by_speed() {
    assert_eq!(picked(Strategy::Cost), 256);
}

#[test]
fn speed_picks_the_fastest_and_breaks_ties_by_cost() {
    assert_eq!(picked(Strategy::Speed), 2048);
}

#[test]
fn speed_takes_the_cheapest_size_within_the_fastest_ones_noise() {
    let mut candidates = power_table();
    // 2,048 MB is the fastest (100 ms); 1,024 MB runs 140 ms for 2/3 the cost.
    candidates[4].duration_noise_ms = 45.0;
    assert_eq!(
        candidates[choose(Strategy::Speed, &candidates).unwrap()].memory_size_mb,
        1024
    );
    candidates[4].duration_noise_ms = 30.0;
    assert_eq!(
        candidates[choose(Strategy::Speed, &candidates).unwrap()].memory_size_mb,
        2048
    );
}

#[test]
fn balanced_minimises_the_normalised_sum() {
    // max cost 4.0, max duration 1000; at W = 0.5:
    // 128: .25 + .5 = .75; 256: .25 + .25 = .5; 512: .275 + .13 = .405;
    // 1024: .3 + .07 = .37; 2048: .45 + .05 = .5; 3008: .5 + .05 = .55.
    assert_eq!(picked(Strategy::Balanced { weight: 0.5 }), 1024);
    // W = 0.9: 256: .45 + .05 = .5; 512: .495 + .026 = .521; 128: .45 + .1 = .55.
    assert_eq!(picked(Strategy::Balanced { weight: 0.9 }), 256);
    // W = 1 is cost, W = 0 is speed, including their tie-breaks.
    assert_eq!(picked(Strategy::Balanced { weight: 1.0 }), 256);
    assert_eq!(picked(Strategy::Balanced { weight: 0.0 }), 2048);
}

#[test]
fn cheapest_within_picks_the_fastest_affordable() {
    // Cheapest 2.0: +10 % allows 2.2 (512), +20 % allows 2.4 (1024), +100 % allows 4.0.
    assert_eq!(picked(Strategy::CheapestWithin { pct: 0.0 }), 256);
    assert_eq!(picked(Strategy::CheapestWithin { pct: 10.0 }), 512);
    assert_eq!(picked(Strategy::CheapestWithin { pct: 20.0 }), 1024);
    assert_eq!(picked(Strategy::CheapestWithin { pct: 100.0 }), 2048);
}

/// A deterministic standard normal stream (SplitMix64 + Box–Muller).
struct Normal(u64);

impl Normal {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1_u64 << 53) as f64
    }

    fn next(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

struct Workload {
    model: DurationModel,
    sigma: f64,
    per_size: usize,
    max_used_mb: u32,
    architecture: Architecture,
}

/// Samples of `model` × exp(σ·N(0,1)) at each size, one a second, in size order.
fn samples(workload: &Workload, sizes: &[u32], seed: u64) -> Vec<Sample> {
    let mut normal = Normal(seed);
    let mut out = Vec::new();
    let mut time_ms = 1_700_000_000_000_i64;
    for &size in sizes {
        for _ in 0..workload.per_size {
            let noise = (workload.sigma * normal.next()).exp();
            let duration_ms = (workload.model.predict_ms(size) * noise * 100.0).round() / 100.0;
            out.push(Sample {
                account: "123456789012".to_owned(),
                function: "f".to_owned(),
                architecture: workload.architecture,
                memory_size_mb: size,
                duration_ms,
                billed_duration_ms: Some(billed_duration_ms(duration_ms, 1)),
                max_memory_used_mb: Some(workload.max_used_mb),
                init_duration_ms: None,
                success: true,
                start_time_ms: time_ms,
            });
            time_ms += 1000;
        }
    }
    out
}

fn within(actual: f64, expected: f64, relative: f64) -> bool {
    (actual - expected).abs() <= relative * expected.abs()
}

#[test]
fn nnls_recovers_known_coefficients_from_noisy_samples() {
    let truth = DurationModel {
        a_ms: 80.0,
        b_ms_mb: 150_000.0,
        c_ms_mb: 400_000.0,
    };
    let workload = Workload {
        model: truth,
        sigma: 0.1,
        per_size: 1500,
        max_used_mb: 100,
        architecture: Architecture::X86_64,
    };
    let sizes = [256, 512, 1024, 2048, 4096, 8192];
    let observations = observe(&samples(&workload, &sizes, 42));
    assert_eq!(observations.len(), 1);
    let fitted = fit(&observations[0], &FitOptions::default()).unwrap();
    assert_eq!(fitted.kind, ModelKind::Full);
    let model = fitted.model;
    println!(
        "truth {truth:?}\nfit   {model:?}\nrmse {} ms, mape {} %",
        fitted.rmse_ms, fitted.mape_pct
    );
    assert!(within(model.a_ms, truth.a_ms, 0.05), "a {model:?}");
    assert!(within(model.b_ms_mb, truth.b_ms_mb, 0.05), "b {model:?}");
    assert!(within(model.c_ms_mb, truth.c_ms_mb, 0.05), "c {model:?}");
    assert_eq!(fitted.degrees_of_freedom, 3);
    for size in [128, 300, 1769, 3000, 10_240] {
        let (low, high) = fitted.interval_ms(size);
        let predicted = model.predict_ms(size);
        assert!(
            low <= predicted && predicted <= high,
            "{size}: {low} {predicted} {high}"
        );
        assert!(within(predicted, truth.predict_ms(size), 0.02), "{size}");
    }
    // Deterministic: the same samples give the same interval.
    let again = fit(&observations[0], &FitOptions::default()).unwrap();
    assert_eq!(again.interval_ms(3000), fitted.interval_ms(3000));
}

#[test]
fn nnls_keeps_coefficients_non_negative() {
    // A pure constant: the unconstrained fit would wander around zero for b and c.
    let workload = Workload {
        model: DurationModel {
            a_ms: 50.0,
            b_ms_mb: 0.0,
            c_ms_mb: 0.0,
        },
        sigma: 0.05,
        per_size: 200,
        max_used_mb: 100,
        architecture: Architecture::X86_64,
    };
    let observations = observe(&samples(&workload, &[512, 1024, 4096], 7));
    let fitted = fit(&observations[0], &FitOptions::default()).unwrap();
    let model = fitted.model;
    assert!(
        model.a_ms >= 0.0 && model.b_ms_mb >= 0.0 && model.c_ms_mb >= 0.0,
        "{model:?}"
    );
    assert!(within(model.predict_ms(2048), 50.0, 0.02), "{model:?}");
    for resample in &fitted.resamples {
        assert!(resample.a_ms >= 0.0 && resample.b_ms_mb >= 0.0 && resample.c_ms_mb >= 0.0);
    }
}

fn cpu_bound(per_size: usize) -> Workload {
    Workload {
        model: DurationModel {
            a_ms: 10.0,
            b_ms_mb: 200_000.0,
            c_ms_mb: 0.0,
        },
        sigma: 0.05,
        per_size,
        max_used_mb: 90,
        architecture: Architecture::X86_64,
    }
}

#[test]
fn one_and_two_sizes_fall_back_to_reduced_models_and_say_so() {
    let tuned = tune(
        &samples(&cpu_bound(100), &[512], 1),
        &TuneOptions::default(),
    );
    let recommendation = &tuned.recommendations[0];
    assert_eq!(recommendation.models[0].fit.kind, ModelKind::OneSize);
    assert!(recommendation.warnings.iter().any(|warning| matches!(
        warning,
        Warning::ReducedModel {
            model: ModelKind::OneSize,
            sizes: 1,
            ..
        }
    )));
    let tuned = tune(
        &samples(&cpu_bound(100), &[512, 1024], 1),
        &TuneOptions::default(),
    );
    let recommendation = &tuned.recommendations[0];
    assert_eq!(recommendation.models[0].fit.kind, ModelKind::SingleThread);
    assert_eq!(recommendation.current.memory_size_mb, 1024);
    let model = recommendation.models[0].fit.model;
    assert!(within(model.b_ms_mb, 200_000.0, 0.05), "{model:?}");
    assert_eq!(model.c_ms_mb, 0.0);
}

#[test]
fn hundred_ms_billing_prefers_a_size_just_under_the_boundary() {
    // Pure single-threaded work: 304 ms at 1,536 MB. Max memory used 1,100 MB
    // puts the floor at 1,320 MB.
    let workload = Workload {
        model: DurationModel {
            a_ms: 0.0,
            b_ms_mb: 304.0 * 1536.0,
            c_ms_mb: 0.0,
        },
        sigma: 0.0,
        per_size: 50,
        max_used_mb: 1100,
        architecture: Architecture::X86_64,
    };
    let options = TuneOptions {
        billing: Billing {
            granularity_ms: 100,
            ..Billing::default()
        },
        ..TuneOptions::default()
    };
    let tuned = tune(&samples(&workload, &[1024, 1536], 3), &options);
    let recommendation = &tuned.recommendations[0];
    let current = recommendation.current;
    let recommended = recommendation.recommended;
    println!("current {current:?}\nrecommended {recommended:?}");
    assert_eq!(current.memory_size_mb, 1536);
    assert!(current.duration_ms > 300.0 && current.duration_ms < 310.0);
    assert_eq!(billed_duration_ms(current.duration_ms, 100), 400);
    assert!(recommended.duration_ms <= 300.0, "{recommended:?}");
    assert!(recommended.cost_per_million_usd < current.cost_per_million_usd);
    assert!(recommended.memory_size_mb >= recommendation.min_memory_mb);
    assert_eq!(recommendation.min_memory_mb, 1320);
    // The saving is the rounding: at 1 ms billing the two sizes cost nearly the same.
    let exact = |memory: u32, duration: f64| {
        price(
            memory,
            duration,
            None,
            Architecture::X86_64,
            &options.prices,
            &Billing::default(),
        )
        .total_usd
    };
    let current_exact = exact(current.memory_size_mb, current.duration_ms);
    let recommended_exact = exact(recommended.memory_size_mb, recommended.duration_ms);
    assert!(within(recommended_exact, current_exact, 0.01));
}

#[test]
fn never_below_max_memory_used_with_headroom_and_warns_on_pressure() {
    let mut workload = cpu_bound(100);
    workload.max_used_mb = 470;
    let tuned = tune(
        &samples(&workload, &[512, 1024, 2048], 5),
        &TuneOptions::default(),
    );
    let recommendation = &tuned.recommendations[0];
    assert!(
        recommendation.recommended.memory_size_mb >= 564,
        "{recommendation:?}"
    );
    assert!(!recommendation
        .warnings
        .iter()
        .any(|warning| matches!(warning, Warning::MemoryPressure { .. })));
    let pressured = tune(
        &samples(&workload, &[2048, 512], 5),
        &TuneOptions::default(),
    );
    assert!(pressured.recommendations[0]
        .warnings
        .contains(&Warning::MemoryPressure {
            memory_size_mb: 512,
            max_memory_used_mb: 470,
        }));
}

#[test]
fn unobserved_architecture_is_modelled_with_the_speed_factor_and_flagged() {
    let options = TuneOptions {
        architectures: ArchitectureChoice::Both,
        arm64_speed_factor: 0.9,
        ..TuneOptions::default()
    };
    let tuned = tune(&samples(&cpu_bound(100), &[512, 1024, 2048], 9), &options);
    let recommendation = &tuned.recommendations[0];
    assert_eq!(recommendation.models.len(), 2);
    assert_eq!(recommendation.recommended.architecture, Architecture::Arm64);
    assert!(recommendation
        .warnings
        .contains(&Warning::AssumedArchitecture {
            architecture: Architecture::Arm64,
            arm64_speed_factor: 0.9,
        }));
    let x86 = &recommendation.models[0].fit.model;
    let arm = &recommendation.models[1].fit.model;
    assert!(within(
        arm.predict_ms(1000),
        0.9 * x86.predict_ms(1000),
        1e-12
    ));
}

#[test]
fn both_observed_architectures_get_their_own_models() {
    let mut samples_both = samples(&cpu_bound(100), &[512, 1024], 11);
    let mut arm = cpu_bound(100);
    arm.architecture = Architecture::Arm64;
    arm.model.b_ms_mb = 300_000.0;
    samples_both.extend(samples(&arm, &[512, 1024], 12));
    let tuned = tune(&samples_both, &TuneOptions::default());
    let recommendation = &tuned.recommendations[0];
    assert_eq!(recommendation.models.len(), 2);
    assert!(recommendation.models.iter().all(|model| !model.assumed));
    // arm64 is 20 % cheaper per GB-s but 50 % slower here: x86_64 wins on cost.
    assert_eq!(
        recommendation.recommended.architecture,
        Architecture::X86_64
    );
}

#[test]
fn observed_only_restricts_candidates() {
    let options = TuneOptions {
        observed_only: true,
        strategy: Strategy::Speed,
        ..TuneOptions::default()
    };
    let tuned = tune(&samples(&cpu_bound(100), &[256, 512, 1024], 13), &options);
    assert_eq!(tuned.recommendations[0].recommended.memory_size_mb, 1024);
}

#[test]
fn plan_asks_power_tuning_to_measure_around_the_recommendation() {
    let options = TuneOptions {
        strategy: Strategy::Balanced { weight: 0.3 },
        ..TuneOptions::default()
    };
    let tuned = tune(&samples(&cpu_bound(100), &[512, 1024, 2048], 17), &options);
    let recommendation = &tuned.recommendations[0];
    let plan = power_tuning_input(
        recommendation,
        "arn:aws:lambda:us-east-1:1:function:f".to_owned(),
        50,
    );
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["lambdaARN"], "arn:aws:lambda:us-east-1:1:function:f");
    assert_eq!(json["strategy"], "balanced");
    assert_eq!(json["balancedWeight"], 0.3);
    assert_eq!(json["num"], 50);
    let values: Vec<u64> = json["powerValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value.as_u64().unwrap())
        .collect();
    assert!(values.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(values.contains(&u64::from(recommendation.recommended.memory_size_mb)));
    assert!(values.contains(&2048));
    assert!(values.iter().all(|&value| (128..=10_240).contains(&value)));
}

#[test]
fn saving_uses_the_observed_rate() {
    // 100 samples a second apart at the current size: 99 / 99 s = 1 per second.
    let tuned = tune(
        &samples(&cpu_bound(100), &[512, 1024], 19),
        &TuneOptions::default(),
    );
    let recommendation = &tuned.recommendations[0];
    let per_month = recommendation.invocations_per_month.unwrap();
    assert!(within(per_month, 30.0 * 86_400.0, 1e-9), "{per_month}");
    let saving = recommendation.monthly_saving_usd.unwrap();
    let expected = (recommendation.current.cost_per_million_usd
        - recommendation.recommended.cost_per_million_usd)
        * per_month
        / 1e6;
    assert!(within(saving, expected, 1e-12));
}
