//! Throughput of the full pure path against its floor, measured interleaved.
//!
//! On a shared, noisy machine two benchmarks run one after the other can see
//! different machines. This runs floor (gunzip + envelope JSON) and full
//! (decode + parse + assemble) alternately on the same payload, many rounds,
//! and reports the median of each and the median of the per-round ratios.
//! Single-threaded, so figures are per core.
//!
//! It also reports each one's fastest round. Other processes can only slow a
//! round down, and a long round is more often cut by the scheduler than a short
//! one, so on a loaded machine the medians drift apart while the fastest
//! rounds still show what the code costs.
//!
//! `cargo run --release -p lamlog-core --example throughput [ROUNDS]`

use std::time::Instant;

use lamlog_core::decode::{decode, DecodeLimits, Format};

#[path = "../benches/common/workload.rs"]
mod workload;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|text| text.parse().ok())
        .unwrap_or(60);
    let json = workload::payload(2_000);
    let gz = workload::gzip(&json);
    let limits = DecodeLimits::default();
    let events = match decode(&gz, Format::Cwl, &limits).records.first() {
        Some(Ok(lamlog_core::decode::Record::Data(envelope))) => envelope.events.len() as f64,
        _ => panic!("the workload must decode"),
    };
    let (mut floor_rates, mut full_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let started = Instant::now();
        std::hint::black_box(decode(std::hint::black_box(&gz), Format::Cwl, &limits));
        let floor_s = started.elapsed().as_secs_f64();
        let started = Instant::now();
        std::hint::black_box(workload::full(std::hint::black_box(&gz), &limits));
        let full_s = started.elapsed().as_secs_f64();
        floor_rates.push(events / floor_s);
        full_rates.push(events / full_s);
        ratios.push(floor_s / full_s);
    }
    let mb = json.len() as f64 / 1e6;
    let floor = median(&mut floor_rates);
    let full = median(&mut full_rates);
    println!(
        "payload: {events} log events, {mb:.2} MB JSON, {:.2} MB gzip; {rounds} interleaved rounds",
        gz.len() as f64 / 1e6
    );
    println!(
        "floor (gunzip + envelope JSON):   {floor:>9.0} events/s  {:>6.1} MB/s",
        floor * mb / events
    );
    println!(
        "full (decode + parse + assemble): {full:>9.0} events/s  {:>6.1} MB/s",
        full * mb / events
    );
    println!(
        "full / floor (median of per-round ratios): {:.1} %",
        median(&mut ratios) * 100.0
    );
    let fastest = |rates: &[f64]| rates.iter().copied().fold(0.0, f64::max);
    println!(
        "fastest round: floor {:.0} events/s, full {:.0} events/s",
        fastest(&floor_rates),
        fastest(&full_rates)
    );
}
