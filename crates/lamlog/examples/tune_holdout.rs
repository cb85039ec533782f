//! Held-out prediction errors of the tuner's duration model on a generated
//! workload, for BENCHMARKS.md.
//!
//! Generates a workload (kinesis files in a temp dir), reads it back through
//! decode and assemble, and compares the model's predictions at sizes it was
//! not fitted on with the generator's truth (`truth.json`).
//!
//! ```text
//! cargo run --release -p lamlog --example tune_holdout [-- FUNCTIONS INVOCATIONS SEED]
//! ```

use lamlog::generate::{generate, GenerateOptions, OutputFormat};

#[path = "../tests/support/tune_workload.rs"]
#[allow(dead_code)]
mod tune_workload;

#[path = "../tests/support/tune_picks.rs"]
mod tune_picks;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let number = |index: usize, default: u64| -> Result<u64, std::num::ParseIntError> {
        arguments
            .get(index)
            .map_or(Ok(default), |text| text.parse())
    };
    let options = GenerateOptions {
        functions: usize::try_from(number(0, 40)?)?,
        invocations: number(1, 200_000)?,
        seed: number(2, 5)?,
        format: OutputFormat::Kinesis,
        ..GenerateOptions::default()
    };
    let dir = std::env::temp_dir().join(format!("lamlog-tune-holdout-{}", std::process::id()));
    generate(&options, &dir)?;
    let loaded = tune_workload::load(&dir);
    let rows = tune_workload::holdout(&loaded);
    std::fs::remove_dir_all(&dir)?;

    println!(
        "workload: {} functions, {} invocations, seed {} → {} samples",
        options.functions,
        options.invocations,
        options.seed,
        loaded.samples.len()
    );
    println!(
        "{:<14} {:<28} {:>16} {:>8} {:>11} {:>11} {:>8}",
        "check", "function", "fitted on (MB)", "at (MB)", "pred (ms)", "truth (ms)", "error"
    );
    for row in &rows {
        let fitted: Vec<String> = row.fitted_on_mb.iter().map(u32::to_string).collect();
        println!(
            "{:<14} {:<28} {:>16} {:>8} {:>11.1} {:>11.1} {:>7.1}%",
            row.check,
            row.function,
            fitted.join(","),
            row.predicted_at_mb,
            row.predicted_ms,
            row.truth_ms,
            row.error_pct
        );
    }
    println!();
    for check in ["leave-one-out", "interpolate", "one-size", "in-sample"] {
        let mut errors: Vec<f64> = rows
            .iter()
            .filter(|row| row.check == check)
            .map(|row| row.error_pct)
            .collect();
        if errors.is_empty() {
            println!("{check:<14} no cases (the generator gives each function at most two sizes)");
            continue;
        }
        errors.sort_by(f64::total_cmp);
        let mean = errors.iter().sum::<f64>() / errors.len() as f64;
        let median = errors[errors.len() / 2];
        let max = errors[errors.len() - 1];
        println!(
            "{check:<14} n={:<4} mean {mean:.2} %  median {median:.2} %  max {max:.2} %",
            errors.len()
        );
    }
    println!("\nthe generated workload as it is:");
    print_picks(&tune_picks::picks(&loaded.samples));
    println!("\neach (function, size) off the model's shape by up to ±15 %:");
    print_picks(&tune_picks::picks(&tune_picks::distorted(
        &loaded.samples,
        0.15,
        7,
    )));
    Ok(())
}

/// The cost strategy's picks among observed sizes, by the model alone and
/// by the tuner, against the size measured cheapest.
fn print_picks(picks: &[tune_picks::Pick]) {
    println!();
    println!(
        "{:<28} {:>22} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "function", "observed (MB)", "cheapest", "model", "regret", "tuner", "regret"
    );
    for pick in picks {
        let sizes: Vec<String> = pick.sizes.iter().map(u32::to_string).collect();
        println!(
            "{:<28} {:>22} {:>9} {:>9} {:>8.3}% {:>9} {:>8.3}%",
            pick.function,
            sizes.join(","),
            pick.cheapest_mb,
            pick.model_mb,
            pick.model_regret_pct,
            pick.tuner_mb,
            pick.tuner_regret_pct
        );
    }
    let missed = |regret: fn(&tune_picks::Pick) -> f64| {
        let wrong: Vec<f64> = picks.iter().map(regret).filter(|&pct| pct > 0.0).collect();
        let max = wrong.iter().copied().fold(0.0, f64::max);
        (wrong.len(), max)
    };
    let (model_wrong, model_max) = missed(|pick| pick.model_regret_pct);
    let (tuner_wrong, tuner_max) = missed(|pick| pick.tuner_regret_pct);
    println!(
        "picks among observed sizes: {} functions; the model alone misses the measured cheapest in {model_wrong} (worst +{model_max:.3} %), the tuner in {tuner_wrong} (worst +{tuner_max:.3} %)",
        picks.len()
    );
}
