//! CPU time of this process, to the nanosecond.
//!
//! Wall time on a shared machine includes time other processes had the core;
//! CPU time does not, and it is what Lambda's CPU share scales. Linux keeps
//! each thread's time on CPU in nanoseconds in `/proc/self/task/*/schedstat`
//! (first field); summing over the threads gives the process's, including
//! tokio's and the database driver's helper threads. `/proc/self/stat` would
//! give only 10 ms ticks, too coarse for a batch of a few milliseconds.

use std::time::Duration;

/// CPU time used so far by every thread of this process, or `None` when
/// `/proc` does not say (not Linux, or schedstats disabled).
pub fn process_cpu_time() -> Option<Duration> {
    let mut total_ns: u64 = 0;
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let path = entry.ok()?.path().join("schedstat");
        // A thread may exit between the listing and the read: skip it.
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        total_ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total_ns))
}

/// Milliseconds of CPU time between two readings (0 when either is missing).
pub fn cpu_ms_between(before: Option<Duration>, after: Option<Duration>) -> f64 {
    match (before, after) {
        (Some(before), Some(after)) => after.saturating_sub(before).as_secs_f64() * 1000.0,
        _ => 0.0,
    }
}
