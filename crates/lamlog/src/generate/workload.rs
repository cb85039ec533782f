//! The workload over time: arrivals, execution environments and outcomes.
//!
//! Invocations arrive as one merged Poisson process over all functions (each
//! function contributes its own rate), so the simulated clock only moves
//! forward and output comes out roughly in time order. Each function keeps a
//! pool of execution environments, as Lambda does:
//!
//! - an invocation takes the idle environment used most recently, or starts a
//!   new one (a cold start, with its own log stream);
//! - an environment is busy from the request until its REPORT, so the events of
//!   one log stream never overlap;
//! - a leaking function's environment keeps what each invocation leaks, so
//!   its max memory used rises until an invocation is killed for running out
//!   of memory;
//! - environments die after a timeout, an out-of-memory kill or a crash, after
//!   some idle minutes, after a random lifetime, and all at once when the
//!   function's memory size changes.
//!
//! The result of each step is an [`Invocation`]: facts only. Turning the facts
//! into log lines is `lines.rs`'s job.

use std::rc::Rc;

use serde::Serialize;

use super::functions::{push_hex, uniform, FunctionSpec};
use super::rates::{ArrivalRates, Spike};
use super::time::UtcTime;

/// How an invocation ended; the order is assembly's severity order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Success,
    Error,
    Crash,
    Oom,
    Timeout,
}

/// What a cold start cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ColdStart {
    /// An on-demand init (`Init Duration`).
    Init { init_ms: f64 },
    /// A SnapStart restore (`Restore Duration`, `Billed Restore Duration`).
    Restore {
        restore_ms: f64,
        billed_restore_ms: u64,
    },
}

impl ColdStart {
    /// Wall time before START.
    pub(crate) fn wall_ms(&self) -> f64 {
        match *self {
            ColdStart::Init { init_ms } => init_ms,
            ColdStart::Restore { restore_ms, .. } => restore_ms,
        }
    }
}

/// The log group and stream that an execution environment writes to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StreamInfo {
    /// Unique over the run, in creation order.
    pub(crate) id: u64,
    pub(crate) owner: String,
    pub(crate) log_group: String,
    pub(crate) log_stream: String,
    /// The 32 hex digits of the stream name; CloudWatch's Kinesis partition key.
    pub(crate) partition_key: String,
}

/// X-Ray identifiers of a traced invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trace {
    pub(crate) trace_id: String,
    pub(crate) segment_id: String,
    pub(crate) sampled: bool,
}

/// The facts of one invocation.
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    pub(crate) function_index: usize,
    pub(crate) stream: Rc<StreamInfo>,
    pub(crate) request_id: String,
    /// When the request reached Lambda (INIT_START time on a cold start).
    pub(crate) arrival_ms: i64,
    pub(crate) cold_start: Option<ColdStart>,
    pub(crate) duration_ms: f64,
    pub(crate) memory_size_mb: u32,
    pub(crate) max_memory_used_mb: u32,
    pub(crate) status: Status,
    pub(crate) trace: Option<Trace>,
}

/// Per-function counts, as written to `truth.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Tally {
    pub(crate) invocations: u64,
    pub(crate) success: u64,
    pub(crate) error: u64,
    pub(crate) timeout: u64,
    pub(crate) oom: u64,
    pub(crate) crash: u64,
    pub(crate) cold_starts: u64,
}

struct Environment {
    stream: Rc<StreamInfo>,
    memory_size_mb: u32,
    /// The event time of its last REPORT plus one millisecond.
    busy_until_ms: i64,
    retire_after_ms: i64,
    max_memory_used_mb: u32,
    /// What earlier invocations leaked.
    leaked_mb: f64,
}

/// How long an idle environment survives.
const IDLE_LIFETIME_MS: i64 = 8 * 60 * 1000;

/// Drives the clock and the environment pools.
pub(crate) struct Simulator {
    rng: fastrand::Rng,
    clock_ms: f64,
    start_ms: i64,
    expected_span_ms: f64,
    rates: ArrivalRates,
    environments: Vec<Vec<Environment>>,
    tallies: Vec<Tally>,
    next_stream_id: u64,
}

impl Simulator {
    /// A simulator for `functions`, starting at `start_ms`, that expects to
    /// run `invocations` invocations (which sets when memory sizes change),
    /// spread over about `hours` when given (every rate scaled to fit), with
    /// `spikes`.
    pub(crate) fn new(
        functions: &[FunctionSpec],
        seed: u64,
        start_ms: i64,
        invocations: u64,
        (hours, spikes): (Option<u64>, &[Spike]),
    ) -> Simulator {
        let natural_rate_per_ms = ArrivalRates::new(functions, None, start_ms, &[])
            .base_total_rate_per_ms()
            .max(f64::MIN_POSITIVE);
        let scale = hours.map(|hours| {
            let wanted_rate_per_ms = invocations as f64 / (hours.max(1) as f64 * 3_600_000.0);
            wanted_rate_per_ms / natural_rate_per_ms
        });
        let rates = ArrivalRates::new(functions, scale, start_ms, spikes);
        let total_rate_per_ms = rates.base_total_rate_per_ms();
        Simulator {
            rng: fastrand::Rng::with_seed(seed ^ 0x776f_726b_6c6f_6164),
            clock_ms: start_ms as f64,
            start_ms,
            expected_span_ms: invocations as f64 / total_rate_per_ms.max(f64::MIN_POSITIVE),
            rates,
            environments: functions.iter().map(|_| Vec::new()).collect(),
            tallies: vec![Tally::default(); functions.len()],
            next_stream_id: 0,
        }
    }

    /// Counts per function so far.
    pub(crate) fn tallies(&self) -> &[Tally] {
        &self.tallies
    }

    /// Advances the clock to the next arrival and simulates that invocation.
    pub(crate) fn next_invocation(&mut self, functions: &[FunctionSpec]) -> Invocation {
        let rng = &mut self.rng;
        self.clock_ms = self.rates.next_arrival(self.clock_ms, || rng.f64());
        let arrival_ms = self.clock_ms as i64;
        let cumulative_rates = self.rates.cumulative_at(self.clock_ms);
        let pick = self.rng.f64() * cumulative_rates.last().copied().unwrap_or(0.0);
        let function_index = cumulative_rates
            .partition_point(|&cumulative| cumulative <= pick)
            .min(functions.len() - 1);
        let function = &functions[function_index];
        let memory_size_mb = self.memory_at(function, arrival_ms);

        let pool = &mut self.environments[function_index];
        pool.retain(|environment| {
            environment.memory_size_mb == memory_size_mb
                && environment.busy_until_ms + IDLE_LIFETIME_MS > arrival_ms
                && (environment.retire_after_ms > arrival_ms
                    || environment.busy_until_ms > arrival_ms)
        });
        let idle = pool
            .iter()
            .enumerate()
            .filter(|(_, environment)| environment.busy_until_ms <= arrival_ms)
            .max_by_key(|(_, environment)| environment.busy_until_ms)
            .map(|(position, _)| position);
        let (position, cold_start) = match idle {
            Some(position) => (position, None),
            None => {
                let environment = new_environment(
                    &mut self.rng,
                    function,
                    self.next_stream_id,
                    memory_size_mb,
                    arrival_ms,
                );
                self.next_stream_id += 1;
                pool.push(environment);
                (
                    pool.len() - 1,
                    Some(draw_cold_start(&mut self.rng, function)),
                )
            }
        };

        let mut status = draw_status(&mut self.rng, function);
        let median = function.model.median_ms(memory_size_mb);
        let noise = (function.noise_sigma * standard_normal(&mut self.rng)).exp();
        let timeout_ms = f64::from(function.timeout_seconds) * 1000.0;
        let duration_ms = match status {
            Status::Success => median * noise,
            Status::Error => median * noise * uniform(&mut self.rng, 0.2, 1.0),
            Status::Crash | Status::Oom => median * noise * uniform(&mut self.rng, 0.1, 0.9),
            Status::Timeout if self.rng.bool() => timeout_ms,
            Status::Timeout => timeout_ms + uniform(&mut self.rng, 0.0, 3.0),
        };

        let environment = &mut pool[position];
        let used = (f64::from(function.resident_memory_mb) * uniform(&mut self.rng, 0.95, 1.25)
            + environment.leaked_mb) as u32;
        environment.leaked_mb += function.leak_mb_per_invocation;
        if function.leak_mb_per_invocation > 0.0 && used >= memory_size_mb {
            status = Status::Oom;
        }
        environment.max_memory_used_mb =
            environment.max_memory_used_mb.max(used).min(memory_size_mb);
        if status == Status::Oom {
            environment.max_memory_used_mb = memory_size_mb;
        }
        let max_memory_used_mb = environment.max_memory_used_mb;
        let wall_ms = cold_start.map_or(0.0, |cold| cold.wall_ms()) + duration_ms;
        environment.busy_until_ms = arrival_ms + wall_ms.ceil() as i64 + 2;
        let stream = Rc::clone(&environment.stream);
        if matches!(status, Status::Timeout | Status::Oom | Status::Crash) {
            pool.swap_remove(position);
        }

        let trace = function.xray.map(|_| {
            let mut trace_id = format!("1-{:08x}-", arrival_ms / 1000);
            push_hex(&mut self.rng, 24, &mut trace_id);
            let mut segment_id = String::with_capacity(16);
            push_hex(&mut self.rng, 16, &mut segment_id);
            Trace {
                trace_id,
                segment_id,
                sampled: self.rng.u32(0..100) < 90,
            }
        });

        let tally = &mut self.tallies[function_index];
        tally.invocations += 1;
        tally.cold_starts += u64::from(cold_start.is_some());
        match status {
            Status::Success => tally.success += 1,
            Status::Error => tally.error += 1,
            Status::Timeout => tally.timeout += 1,
            Status::Oom => tally.oom += 1,
            Status::Crash => tally.crash += 1,
        }

        Invocation {
            function_index,
            stream,
            request_id: request_id(&mut self.rng),
            arrival_ms,
            cold_start,
            duration_ms,
            memory_size_mb,
            max_memory_used_mb,
            status,
            trace,
        }
    }

    fn memory_at(&self, function: &FunctionSpec, at_ms: i64) -> u32 {
        let change_ms =
            self.start_ms as f64 + function.memory_change_fraction * self.expected_span_ms;
        match function.memory_sizes_mb.as_slice() {
            [first, second] => {
                if at_ms as f64 >= change_ms {
                    *second
                } else {
                    *first
                }
            }
            [] => 128,
            sizes => {
                let elapsed = (at_ms - self.start_ms) as f64 / self.expected_span_ms.max(1.0);
                let index = (elapsed * sizes.len() as f64).floor().max(0.0) as usize;
                sizes[index.min(sizes.len() - 1)]
            }
        }
    }
}

fn new_environment(
    rng: &mut fastrand::Rng,
    function: &FunctionSpec,
    id: u64,
    memory_size_mb: u32,
    at_ms: i64,
) -> Environment {
    let mut log_stream = String::with_capacity(48);
    UtcTime::from_epoch_ms(at_ms).push_stream_date(&mut log_stream);
    log_stream.push('/');
    // In a custom log group, which functions may share, Lambda names the
    // function in the stream: `YYYY/MM/DD/<function>[<version>]<id>`.
    if function.custom_log_group {
        log_stream.push_str(&function.name);
    }
    log_stream.push('[');
    log_stream.push_str(&function.version);
    log_stream.push(']');
    let mut partition_key = String::with_capacity(32);
    push_hex(rng, 32, &mut partition_key);
    log_stream.push_str(&partition_key);
    Environment {
        stream: Rc::new(StreamInfo {
            id,
            owner: function.account.clone(),
            log_group: function.log_group.clone(),
            log_stream,
            partition_key,
        }),
        memory_size_mb,
        busy_until_ms: at_ms,
        retire_after_ms: at_ms + rng.i64(20 * 60 * 1000..120 * 60 * 1000),
        max_memory_used_mb: 0,
        leaked_mb: 0.0,
    }
}

fn draw_cold_start(rng: &mut fastrand::Rng, function: &FunctionSpec) -> ColdStart {
    if function.snap_start {
        let restore_ms = uniform(rng, 120.0, 700.0);
        let billed_restore_ms = (restore_ms * uniform(rng, 0.1, 0.35)).ceil() as u64;
        ColdStart::Restore {
            restore_ms,
            billed_restore_ms,
        }
    } else {
        let (low, high) = function.init_range_ms;
        ColdStart::Init {
            init_ms: uniform(rng, low, high),
        }
    }
}

fn draw_status(rng: &mut fastrand::Rng, function: &FunctionSpec) -> Status {
    let rates = &function.failures;
    let draw = rng.f64();
    let mut threshold = rates.timeout;
    if draw < threshold {
        return Status::Timeout;
    }
    threshold += rates.oom;
    if draw < threshold {
        return Status::Oom;
    }
    threshold += rates.crash;
    if draw < threshold {
        return Status::Crash;
    }
    threshold += rates.error;
    if draw < threshold {
        return Status::Error;
    }
    Status::Success
}

/// A standard normal draw (Box–Muller), so that `exp(sigma * z)` is a
/// log-normal noise factor whose median is exactly 1.
fn standard_normal(rng: &mut fastrand::Rng) -> f64 {
    let radius = (-2.0 * (1.0 - rng.f64()).ln()).sqrt();
    radius * (std::f64::consts::TAU * rng.f64()).cos()
}

/// A random version-4 UUID, as Lambda's request ids are.
fn request_id(rng: &mut fastrand::Rng) -> String {
    let bits = rng.u128(..);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        (bits >> 96) as u32,
        (bits >> 80) as u16,
        (bits >> 68) as u16 & 0xfff,
        8 + ((bits >> 66) as u8 & 0x3),
        (bits >> 48) as u16 & 0xfff,
        bits as u64 & 0xffff_ffff_ffff,
    )
}

#[cfg(test)]
mod tests {
    use super::super::functions::design;
    use super::*;

    #[test]
    fn streams_never_overlap_and_counts_add_up() {
        let functions = design(3, 6, 1);
        let mut simulator = Simulator::new(&functions, 3, 1_793_491_200_000, 5000, (None, &[]));
        let mut last_report_by_stream = std::collections::BTreeMap::new();
        for _ in 0..5000 {
            let invocation = simulator.next_invocation(&functions);
            let end = invocation.arrival_ms
                + (invocation.cold_start.map_or(0.0, |c| c.wall_ms()) + invocation.duration_ms)
                    .ceil() as i64;
            if let Some(previous_end) = last_report_by_stream.insert(invocation.stream.id, end) {
                assert!(
                    previous_end <= invocation.arrival_ms,
                    "overlap in stream {}",
                    invocation.stream.id
                );
                assert!(invocation.cold_start.is_none());
            }
            assert!(invocation.max_memory_used_mb <= invocation.memory_size_mb);
            assert_eq!(invocation.request_id.len(), 36);
            let function = &functions[invocation.function_index];
            let prefix = if function.custom_log_group {
                format!("2026/11/01/{}[", function.name)
            } else {
                "2026/11/01/[".to_owned()
            };
            assert!(invocation.stream.log_stream.starts_with(&prefix));
        }
        let total: u64 = simulator.tallies().iter().map(|t| t.invocations).sum();
        assert_eq!(total, 5000);
        for tally in simulator.tallies() {
            assert_eq!(
                tally.invocations,
                tally.success + tally.error + tally.timeout + tally.oom + tally.crash
            );
        }
    }

    #[test]
    fn request_ids_are_uuid_v4() {
        let mut rng = fastrand::Rng::with_seed(1);
        let id = request_id(&mut rng);
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
    }
}
