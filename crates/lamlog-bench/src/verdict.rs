//! The verdict: whether a run of the harness passed. A section that could
//! not be measured, a failed cold-start run, a handler or `lamlog ingest`
//! whose peak memory passes 64 MB, or an event whose dead letters are not
//! what they must be (none for legitimate data, every bomb), or a
//! subscription filter pattern that loses what the parser reads, fails the run
//! (the process exits non-zero), so that `.ci/run` catches a harness or a
//! handler that has rotted instead of printing it and going on.

use crate::results::Results;

/// The peak RSS bound of the handler on a full Kinesis batch (ARCHITECTURE.md,
/// Guarantee 5: 64 MB in a function sized at 128 MB), and of `lamlog ingest`
/// on any input.
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
    let mut peaks: Vec<(String, f64)> = Vec::new();
    for memory in &results.memory {
        peaks.push((
            format!("the handler on {}", memory.label),
            memory.handler_peak_mb.max,
        ));
        peaks.push((
            format!("lamlog ingest → PostgreSQL on {}", memory.label),
            memory.ingest_postgres_peak_mb.max,
        ));
        peaks.push((
            format!("lamlog ingest → SQLite on {}", memory.label),
            memory.ingest_sqlite_peak_mb.max,
        ));
        if let Some(expected) = memory.expected_dead_letters {
            if memory.handler_dead_letters != expected {
                failures.push(format!(
                    "the handler stored {} dead letters for {}, not {expected}",
                    memory.handler_dead_letters, memory.label
                ));
            }
        }
    }
    if let Some(at_scale) = &results.ingest_at_scale {
        peaks.push((
            "lamlog ingest → PostgreSQL of the whole workload".to_owned(),
            at_scale.postgres_peak_mb.max,
        ));
        peaks.push((
            "lamlog ingest → SQLite of the whole workload".to_owned(),
            at_scale.sqlite_peak_mb.max,
        ));
    }
    if let Some(cost) = &results.cost {
        if !cost.filter.lossless {
            failures.push(
                "the subscription filter pattern changes what the parser assembles from the workload"
                    .to_owned(),
            );
        }
    }
    failures.extend(over_the_bound(
        peaks
            .iter()
            .map(|(label, peak_mb)| (label.as_str(), *peak_mb)),
    ));
    failures
}

/// The runs whose peak (MB) passes [`HANDLER_PEAK_LIMIT_MB`].
fn over_the_bound<'a>(peaks: impl Iterator<Item = (&'a str, f64)>) -> Vec<String> {
    peaks
        .filter(|(_, peak_mb)| peak_mb.is_nan() || *peak_mb > HANDLER_PEAK_LIMIT_MB)
        .map(|(label, peak_mb)| {
            format!(
                "peak RSS {peak_mb:.1} MB of {label}, over the {HANDLER_PEAK_LIMIT_MB} MB bound"
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
        assert!(failed[0].contains("64.1 MB of bomb"), "{}", failed[0]);
        assert!(failed[1].contains("of nan"), "{}", failed[1]);
    }
}
