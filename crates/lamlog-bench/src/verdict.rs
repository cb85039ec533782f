//! The verdict: whether a run of the harness passed. A section that could
//! not be measured, a failed cold-start run, or a handler whose peak memory
//! passes the bound the function is sized for fails the run (the process
//! exits non-zero), so that `.ci/run` catches a harness or a handler that has
//! rotted instead of printing it and going on.

use crate::report::Results;

/// The handler's peak RSS bound for a full Kinesis batch (ARCHITECTURE.md,
/// Guarantee 5: 64 MB in a function sized at 128 MB).
pub const HANDLER_PEAK_LIMIT_MB: f64 = 64.0;

/// Every reason `results` fail, empty when they pass.
pub fn failures(results: &Results) -> Vec<String> {
    let mut failures: Vec<String> = results
        .missing
        .iter()
        .map(|missing| format!("not measured: {missing}"))
        .collect();
    if let Some(cold_start) = &results.cold_start {
        failures.extend(
            cold_start
                .failed_runs
                .iter()
                .map(|failure| format!("cold start run failed: {failure}")),
        );
    }
    failures.extend(over_the_bound(
        results
            .memory
            .iter()
            .map(|memory| (memory.label.as_str(), memory.handler_peak_mb.max)),
    ));
    failures
}

/// The events whose handler peak (MB) passes [`HANDLER_PEAK_LIMIT_MB`].
fn over_the_bound<'a>(peaks: impl Iterator<Item = (&'a str, f64)>) -> Vec<String> {
    peaks
        .filter(|(_, peak_mb)| peak_mb.is_nan() || *peak_mb > HANDLER_PEAK_LIMIT_MB)
        .map(|(label, peak_mb)| {
            format!(
                "handler peak RSS {peak_mb:.1} MB for {label}, over the {HANDLER_PEAK_LIMIT_MB} MB bound"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peak_over_the_bound_or_unreadable_fails() {
        let peaks = [
            ("small", 41.3),
            ("at the bound", 64.0),
            ("bomb", 64.1),
            ("nan", f64::NAN),
        ];
        let failed = over_the_bound(peaks.into_iter());
        assert_eq!(failed.len(), 2, "{failed:?}");
        assert!(failed[0].contains("64.1 MB for bomb"), "{}", failed[0]);
        assert!(failed[1].contains("for nan"), "{}", failed[1]);
    }
}
