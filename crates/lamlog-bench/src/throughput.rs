//! Throughput of the pure path against its floor, on one core, interleaved.
//!
//! - **floor**: `decode` alone on a Kinesis event: JSON of the event, base64,
//!   gunzip and the CloudWatch envelope JSON of every record. Nothing can go
//!   faster than reading the input.
//! - **full**: decode + parse + assemble, everything lamlog does before it
//!   touches the world.
//!
//! On a shared machine two measurements taken one after the other can see
//! different machines, so the two run alternately on the same bytes, round
//! after round, and the ratio is taken per round: noise that slows a round
//! slows both halves. Everything runs on the calling thread, so the figures
//! are per core.
//!
//! The same section also times the pure path on 200-record batches, the
//! case study's batch size.

use std::hint::black_box;
use std::time::Instant;

use lamlog_core::assemble::Assembler;
use lamlog_core::decode::{decode, DecodeLimits, Format, Record};
use serde::Serialize;

use crate::stats::Spread;
use crate::workload::{shape_of, BatchShape};

/// What the throughput section measured.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// The Kinesis event the rounds ran on.
    pub payload: BatchShape,
    /// Floor rate, log events per second.
    pub floor_events_per_s: Spread,
    /// Full rate, log events per second.
    pub full_events_per_s: Spread,
    /// Full rate, MB of Kinesis event per second.
    pub full_mb_per_s: Spread,
    /// Full over floor (floor time ÷ full time), per round.
    pub full_over_floor: Spread,
    /// Log lines in one 200-record batch (mean over the batches timed).
    pub lines_per_batch: f64,
    /// Pure-path time of one 200-record batch, ms.
    pub batch_ms: Spread,
}

/// Decode, parse and assemble one Kinesis event; returns the invocations.
pub fn full_path(bytes: &[u8], limits: &DecodeLimits) -> usize {
    let mut assembler = Assembler::new();
    for record in decode(bytes, Format::Kinesis, limits).records {
        if let Ok(Record::Data(envelope)) = record {
            assembler.add_envelope(&envelope);
        }
    }
    assembler.finish().0.len()
}

/// Runs `rounds` interleaved floor/full rounds on `payload`, then times the
/// pure path on each of `batches` (the 200-record batches) `rounds` times.
pub fn measure(payload: &[u8], batches: &[Vec<u8>], rounds: usize) -> Throughput {
    let limits = DecodeLimits::default();
    let shape = shape_of(payload);
    let events = shape.log_events as f64;
    let megabytes = shape.bytes as f64 / 1e6;
    let (mut floor_rates, mut full_rates, mut full_mb, mut ratios) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let started = Instant::now();
        black_box(decode(black_box(payload), Format::Kinesis, &limits));
        let floor_s = started.elapsed().as_secs_f64();
        let started = Instant::now();
        black_box(full_path(black_box(payload), &limits));
        let full_s = started.elapsed().as_secs_f64();
        floor_rates.push(events / floor_s);
        full_rates.push(events / full_s);
        full_mb.push(megabytes / full_s);
        ratios.push(floor_s / full_s);
    }
    let mut batch_ms = Vec::new();
    let mut lines = 0.0;
    for batch in batches {
        lines += shape_of(batch).log_events as f64;
    }
    for _ in 0..rounds {
        for batch in batches {
            let started = Instant::now();
            black_box(full_path(black_box(batch), &limits));
            batch_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Throughput {
        payload: shape,
        floor_events_per_s: Spread::of(&floor_rates).unwrap_or(Spread::NONE),
        full_events_per_s: Spread::of(&full_rates).unwrap_or(Spread::NONE),
        full_mb_per_s: Spread::of(&full_mb).unwrap_or(Spread::NONE),
        full_over_floor: Spread::of(&ratios).unwrap_or(Spread::NONE),
        lines_per_batch: lines / batches.len().max(1) as f64,
        batch_ms: Spread::of(&batch_ms).unwrap_or(Spread::NONE),
    }
}
