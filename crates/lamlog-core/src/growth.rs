//! Growth: memory that keeps rising within one execution environment.
//!
//! Lambda reports each invocation's *Max Memory Used*. Within one execution
//! environment (one log stream), a process that leaks shows it rising from
//! one warm invocation to the next until the environment is killed for
//! running out of memory. This module keeps, per stream, a bounded
//! [`Trail`] of its last [`TRAIL_LEN`] warm samples and judges the trail
//! each time a new sample ends it:
//!
//! - **Slope:** the Theil–Sen estimator, the median of the slopes between
//!   every pair of samples, in MB per invocation. A median of pairwise
//!   slopes ignores up to about 29 % of wild samples, so one large request
//!   does not make a trend, and it is exact on the integer megabytes Lambda
//!   reports, where a least-squares line is pulled by every step.
//! - **Past the warm-up:** a stream's first [`WARM_UP`] warm invocations are
//!   never judged. Max Memory Used is a high-water mark: while a fresh
//!   environment fills its caches and heap, it rises on most invocations,
//!   leak or not, and then ever more rarely (a running maximum of steady
//!   usage sets a new record about ln 2 times between its 20th and 40th
//!   invocations). A trail is judged once it holds no warm-up sample.
//! - **Sustained:** at least [`RISING_SHARE`] of the pairs (earlier, later)
//!   rise. A heap that grows for a few warm-up invocations and then stays
//!   flat has a slope of zero and few rising pairs.
//! - **Near:** the projected number of invocations until Max Memory Used
//!   reaches the memory size, `⌈(size − last) / slope⌉`, is at most the
//!   function's horizon ([`GrowthRules::horizon_invocations`], default
//!   [`DEFAULT_HORIZON_INVOCATIONS`]; metadata's
//!   `alerts.memory_growth_horizon`). A rise that would take longer than an
//!   environment usually lives never kills one.
//!
//! Cold starts are left out: an init's memory is the runtime loading, not
//! the handler's. A store hands each invocation's sample over once, in the
//! batch that brings its REPORT (a replay brings no new REPORT), so the
//! count of samples is exact, and the trail, the [`TRAIL_LEN`] greatest
//! samples by (start time, memory), is the same whatever the batching or
//! order; so is the stored verdict, that of the trail as it stands. An alert
//! is judged at each sample that ends the trail: a stream's lines reach
//! lamlog in order (the Kinesis partition key of a CloudWatch subscription is
//! the log stream), so that too is the same whatever the batching.

use std::fmt::Write as _;

use serde::Serialize;

use crate::assemble::Invocation;
use crate::judge::{Alert, AlertKind, AlertRules, Severity};
use crate::meta::FunctionMeta;
use crate::tune::observe::median_of_sorted;

mod by_stream;

pub use by_stream::SamplesByStream;

/// How many warm samples of a stream the trail keeps and judges.
pub const TRAIL_LEN: usize = 20;

/// How many warm invocations of a stream are its warm-up, never judged.
pub const WARM_UP: u64 = TRAIL_LEN as u64;

/// The share of (earlier, later) sample pairs that must rise.
pub const RISING_SHARE: f64 = 0.75;

/// Default horizon: a stream is reported when its projected limit is at
/// most this many invocations away (about an hour of an environment that
/// serves one request every few seconds).
pub const DEFAULT_HORIZON_INVOCATIONS: u64 = 1000;

/// One warm invocation's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// Its start time (epoch ms); unique within a stream.
    pub start_ms: i64,
    /// Max Memory Used.
    pub used_mb: u32,
}

/// The execution environment an invocation ran in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamKey {
    /// The account.
    pub account: String,
    /// The log group.
    pub log_group: String,
    /// The log stream.
    pub log_stream: String,
}

/// A new sample of a stream, as a store collects it from a changed row.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The function.
    pub function: String,
    /// The invocation that gave it.
    pub request_id: String,
    /// The memory size it ran with.
    pub memory_size_mb: u32,
    /// Its figures.
    pub sample: Sample,
}

/// A stream's (account, log group, log stream), borrowed.
type StreamRef<'a> = (&'a str, &'a str, &'a str);

/// The stream and sample of an invocation whose REPORT is new: `old` is the
/// stored row before the batch. `None` for a cold start, a row without a log
/// stream or memory figures, or one whose REPORT was already stored. The
/// stream is borrowed from `new`: [`SamplesByStream`] groups a batch's
/// samples by stream and copies each stream's names once.
fn stream_observation_of<'a>(
    old: Option<&Invocation>,
    new: &'a Invocation,
) -> Option<(StreamRef<'a>, Observation)> {
    if old.is_some_and(Invocation::is_reported) || !new.is_reported() || new.cold_start {
        return None;
    }
    let sample = Sample {
        start_ms: new.start_time_ms?,
        used_mb: new.max_memory_used_mb?,
    };
    let stream = (
        new.account.as_str(),
        new.log_group.as_str(),
        new.log_stream.as_deref()?,
    );
    Some((
        stream,
        Observation {
            function: new.function.clone(),
            request_id: new.request_id.clone(),
            memory_size_mb: new.memory_size_mb?,
            sample,
        },
    ))
}

/// The thresholds of one function.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GrowthRules {
    /// Report only limits at most this many invocations away.
    pub horizon_invocations: u64,
}

impl GrowthRules {
    /// The defaults with `meta`'s override.
    pub fn for_function(meta: Option<&FunctionMeta>) -> GrowthRules {
        GrowthRules {
            horizon_invocations: meta
                .and_then(|meta| meta.alerts.memory_growth_horizon)
                .unwrap_or(DEFAULT_HORIZON_INVOCATIONS),
        }
    }
}

/// A verdict that a stream is growing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Growth {
    /// Theil–Sen slope, MB per warm invocation.
    pub slope_mb: f64,
    /// The share of sample pairs that rise.
    pub rising_share: f64,
    /// The last sample's Max Memory Used.
    pub last_used_mb: u32,
    /// The memory size.
    pub memory_size_mb: u32,
    /// Projected invocations until Max Memory Used reaches the memory size.
    pub invocations_to_limit: u64,
}

/// The last [`TRAIL_LEN`] warm samples of one stream, oldest first, and how
/// many it has taken in all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trail {
    samples: Vec<Sample>,
    seen: u64,
}

/// A stored trail that does not read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed memory trail {0:?}")]
pub struct MalformedTrail(pub String);

impl Trail {
    /// The samples, oldest first.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// How many warm samples the trail has taken since the stream began.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The latest sample's Max Memory Used.
    pub fn last_used_mb(&self) -> Option<u32> {
        self.samples.last().map(|sample| sample.used_mb)
    }

    /// The latest sample's start time.
    pub fn last_ms(&self) -> Option<i64> {
        self.samples.last().map(|sample| sample.start_ms)
    }

    /// Takes `sample`, a new invocation's: it is counted, and kept if it is
    /// among the [`TRAIL_LEN`] greatest by (start time, memory). Returns
    /// whether it was kept and, when it ends the trail, the trail's verdict
    /// under `rules` for `memory_size_mb`.
    pub fn observe(
        &mut self,
        sample: Sample,
        memory_size_mb: u32,
        rules: &GrowthRules,
    ) -> (bool, Option<Growth>) {
        self.seen = self.seen.saturating_add(1);
        let key = |sample: &Sample| (sample.start_ms, sample.used_mb);
        let position = self
            .samples
            .partition_point(|kept| key(kept) <= key(&sample));
        if position == 0 && self.samples.len() >= TRAIL_LEN {
            return (false, None);
        }
        self.samples.insert(position, sample);
        if self.samples.len() > TRAIL_LEN {
            self.samples.remove(0);
        }
        let verdict = if position + 1 >= self.samples.len() {
            self.verdict(memory_size_mb, rules)
        } else {
            None
        };
        (true, verdict)
    }

    /// The verdict on the trail as it stands: growth, once past the warm-up.
    pub fn verdict(&self, memory_size_mb: u32, rules: &GrowthRules) -> Option<Growth> {
        if self.seen < WARM_UP + TRAIL_LEN as u64 {
            return None;
        }
        judge(&self.samples, memory_size_mb, rules)
    }

    /// The text a store keeps: how many samples the trail has taken, then
    /// its `start_ms:used_mb` pairs, oldest first, separated by spaces.
    pub fn encode(&self) -> String {
        let mut text = String::with_capacity(self.samples.len() * 20 + 4);
        let _ = write!(text, "{}", self.seen);
        for sample in &self.samples {
            let _ = write!(text, " {}:{}", sample.start_ms, sample.used_mb);
        }
        text
    }

    /// Reads [`Trail::encode`]'s text back.
    pub fn decode(text: &str) -> Result<Trail, MalformedTrail> {
        let malformed = || MalformedTrail(text.chars().take(80).collect());
        let mut samples = Vec::with_capacity(TRAIL_LEN);
        let mut words = text.split_ascii_whitespace();
        let seen: u64 = words
            .next()
            .ok_or_else(malformed)?
            .parse()
            .map_err(|_| malformed())?;
        for pair in words {
            let (start, used) = pair.split_once(':').ok_or_else(malformed)?;
            samples.push(Sample {
                start_ms: start.parse().map_err(|_| malformed())?,
                used_mb: used.parse().map_err(|_| malformed())?,
            });
        }
        if samples.len() > TRAIL_LEN
            || (samples.len() as u64) > seen
            || samples.windows(2).any(|pair| {
                (pair[0].start_ms, pair[0].used_mb) > (pair[1].start_ms, pair[1].used_mb)
            })
        {
            return Err(malformed());
        }
        Ok(Trail { samples, seen })
    }
}

/// The median of the slopes of every pair of `samples` (0 for fewer than
/// two): the pairs are sorted, so this is the costly half of the verdict.
fn theil_sen_slope(samples: &[Sample]) -> f64 {
    let mut slopes = Vec::with_capacity(samples.len() * samples.len().saturating_sub(1) / 2);
    for (i, earlier) in samples.iter().enumerate() {
        for (j, later) in samples.iter().enumerate().skip(i + 1) {
            let rise = f64::from(later.used_mb) - f64::from(earlier.used_mb);
            slopes.push(rise / (j - i) as f64);
        }
    }
    if slopes.is_empty() {
        return 0.0;
    }
    slopes.sort_by(f64::total_cmp);
    median_of_sorted(&slopes)
}

/// The share of pairs of `samples` whose later sample used more (0 for
/// fewer than two).
fn rising_share(samples: &[Sample]) -> f64 {
    let mut pairs = 0usize;
    let mut rising = 0usize;
    for (i, earlier) in samples.iter().enumerate() {
        for later in &samples[i + 1..] {
            pairs += 1;
            rising += usize::from(later.used_mb > earlier.used_mb);
        }
    }
    if pairs == 0 {
        0.0
    } else {
        rising as f64 / pairs as f64
    }
}

/// The verdict on a full trail, if it is growing.
fn judge(samples: &[Sample], memory_size_mb: u32, rules: &GrowthRules) -> Option<Growth> {
    if samples.len() < TRAIL_LEN {
        return None;
    }
    // Most trails are flat: their rising share alone says no, and their
    // slopes (190 of them, sorted for the median) are never computed.
    let share = rising_share(samples);
    if share < RISING_SHARE {
        return None;
    }
    let slope_mb = theil_sen_slope(samples);
    if slope_mb <= 0.0 {
        return None;
    }
    let last_used_mb = samples.last()?.used_mb;
    let headroom_mb = f64::from(memory_size_mb.saturating_sub(last_used_mb));
    let invocations_to_limit = (headroom_mb / slope_mb).ceil() as u64;
    (invocations_to_limit <= rules.horizon_invocations).then_some(Growth {
        slope_mb,
        rising_share: share,
        last_used_mb,
        memory_size_mb,
        invocations_to_limit,
    })
}

/// The dedup key of a stream's `memory_growth` alert: once per stream.
pub fn dedup_key(stream: &StreamKey, function: &str) -> String {
    crate::key::join(
        '|',
        &[
            AlertKind::MemoryGrowth.as_str(),
            &stream.account,
            function,
            &stream.log_group,
            &stream.log_stream,
        ],
    )
}

/// The `memory_growth` alert of `growth`, found at `observation`, unless
/// the function's metadata switches the kind off.
pub fn growth_alert(
    stream: &StreamKey,
    observation: &Observation,
    growth: &Growth,
    meta: Option<&FunctionMeta>,
    defaults: &AlertRules,
) -> Option<Alert> {
    if !crate::judge::enabled(meta, AlertKind::MemoryGrowth) {
        return None;
    }
    let window_start_ms = defaults.window_start(observation.sample.start_ms);
    Some(Alert {
        kind: AlertKind::MemoryGrowth,
        severity: Severity::Warning,
        account: stream.account.clone(),
        function: observation.function.clone(),
        request_id: Some(observation.request_id.clone()),
        window_start_ms,
        message: format!(
            "{}: max memory used rises {:.2} MB per invocation over the last {TRAIL_LEN} warm \
             invocations of log stream {} ({} of {} MB); the limit is about {} invocations away",
            observation.function,
            growth.slope_mb,
            stream.log_stream,
            growth.last_used_mb,
            growth.memory_size_mb,
            growth.invocations_to_limit
        ),
        dedup_key: dedup_key(stream, &observation.function),
    })
}

/// What one batch did to one stream's trail. The trail changed (every new
/// sample is counted), so a store writes it back, with `growing`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Advance {
    /// The trail's verdict as it now stands, when it is growing: (slope in
    /// MB per invocation, invocations to the limit). Derived from the trail;
    /// a store keeps it beside the trail only so that a report can select
    /// the growing streams without judging every trail.
    pub growing: Option<(f64, u64)>,
    /// The `memory_growth` alert, if a judged sample of the batch found
    /// growth (inserted if absent: raised once per stream).
    pub alert: Option<Alert>,
}

/// Adds a batch's new samples of `stream` to its `trail`, in start order,
/// judging each that ends the trail; `observations` are sorted here.
pub fn advance(
    trail: &mut Trail,
    stream: &StreamKey,
    observations: &mut [Observation],
    meta: Option<&FunctionMeta>,
    defaults: &AlertRules,
) -> Advance {
    observations
        .sort_by_key(|observation| (observation.sample.start_ms, observation.sample.used_mb));
    let rules = GrowthRules::for_function(meta);
    let mut advance = Advance::default();
    let mut memory_size_mb = 0;
    for observation in observations.iter() {
        memory_size_mb = observation.memory_size_mb;
        let (_, verdict) = trail.observe(observation.sample, memory_size_mb, &rules);
        if let (Some(growth), None) = (verdict, &advance.alert) {
            advance.alert = growth_alert(stream, observation, &growth, meta, defaults);
        }
    }
    advance.growing = trail
        .verdict(memory_size_mb, &rules)
        .map(|growth| (growth.slope_mb, growth.invocations_to_limit));
    advance
}

#[cfg(test)]
mod tests;
